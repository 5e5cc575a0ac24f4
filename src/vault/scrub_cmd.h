/*
 * scrub_cmd.h - `floe-vault scrub [--data-dir DIR] [--json] [--quiet]`: one pass over every
 * stored byte of a data directory against its leaf hashes (scrub.h), with a report.
 */
#ifndef FLOE_VAULT_SCRUB_CMD_H
#define FLOE_VAULT_SCRUB_CMD_H

/*
 * floe_vscrub_main() - the subcommand; argv[0] is "scrub". Prints each damaged archive (a line,
 * or a JSON object with --json) and a summary on stdout, progress on stderr every 2 s when it is
 * a terminal (a line every 30 s otherwise; none with --quiet).
 * Returns the exit status: 0 nothing damaged, 3 damage found (recorded in the database, as the
 * server's scrubber records it), 1 the data directory cannot be read, 2 usage.
 * Threads: the main thread; may run beside a floe-vault serving the same directory.
 */
int floe_vscrub_main(int argc, char **argv);

#endif
