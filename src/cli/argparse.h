/*
 * argparse.h - the option parsing the upload, job, retrieve, inventory and notify commands share:
 * "--name VALUE", "--name=VALUE", flags, "-o FILE", and "--" to end options (an archive id may
 * start with '-': pass it after "--" or as --archive-id=-abc).
 */
#ifndef FLOE_CLI_ARGPARSE_H
#define FLOE_CLI_ARGPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct floe_cli_opt {
    const char *name;   /* "--tier"; a one-letter alias goes in alias ("-o") */
    const char *alias;  /* optional */
    const char **value; /* an option with a value: receives it (borrowed from argv) */
    bool *flag;         /* a flag: set to true. flag AND value: an optional value, given only as
                           "--name=VALUE" ("--compress" or "--compress=9") */
};

/* The values of repeatable options, in command-line order (several names may share one list:
 * --include/--exclude/--filter keep their relative order). Items borrow from argv; the array
 * is the caller's to free(). */
struct floe_cli_list {
    struct floe_cli_list_item {
        const char *name; /* the option's name as listed ("--include") */
        const char *value;
    } * items;
    size_t n;
};

/*
 * floe_cli_take_list() - moves every repeatable option of names (a NULL-terminated list),
 * given as "NAME VALUE" or "NAME=VALUE" before any "--", out of argv[start..argc) into list,
 * in order, and closes the gap. Returns the new argc, or -2 when a NAME lacks its value (the
 * usage error is printed). Run it before floe_cli_parse(), which then never sees them.
 */
int floe_cli_take_list(const char *cmd, const char *usage, int argc, char **argv, int start,
                       const char *const *names, struct floe_cli_list *list);

/*
 * floe_cli_filter_rules() - --include P, --exclude P and --filter RULE items of l, in order, as
 * the rsync rules "+ P", "- P" and RULE (l->n strings, malloc'd; never NULL). Free with
 * floe_cli_filter_rules_free(rules, l->n).
 */
char **floe_cli_filter_rules(const struct floe_cli_list *l);
void floe_cli_filter_rules_free(char **rules, size_t n);

/*
 * floe_cli_parse() - parse argv[start..argc) against opts; other words are positionals.
 * pos      OUT: up to max_pos positionals (borrowed from argv); *npos their count.
 * Returns  0 (parsed), 2 (usage error printed as "floe CMD: ..." with the usage line), or -1
 *          (--help was given: usage printed on stdout; the command should exit 0).
 */
int floe_cli_parse(const char *cmd, const char *usage, int argc, char **argv, int start,
                   const struct floe_cli_opt *opts, const char **pos, int max_pos, int *npos);

/* Parses a size option ("64MiB"); 0 or 2 (usage error printed). */
int floe_cli_parse_size(const char *cmd, const char *usage, const char *name, const char *v,
                        uint64_t *out);

/* A number of seconds (fractions allowed, 0 to 1e9) into *ms; a usage error (2) otherwise. */
int floe_cli_parse_seconds(const char *cmd, const char *usage, const char *name, const char *v,
                           uint64_t *ms);

/*
 * floe_cli_parse_duration() - a duration into *ms: a number with a unit s, m or h ("90s",
 * "10m", "1.5h"), or a bare number of minutes ("10"); 0 to 30 days. A usage error (2)
 * otherwise, printed as "floe CMD: NAME must be ...".
 */
int floe_cli_parse_duration(const char *cmd, const char *usage, const char *name, const char *v,
                            uint64_t *ms);

/* A polling interval in ms as the 32-bit field the wait options hold, at most one hour (a larger
 * value would otherwise wrap around to a short one). */
uint32_t floe_cli_interval_ms(uint64_t ms);

/* Parses a whole number in [0, max]; 0 or 2 (usage error printed). */
int floe_cli_parse_uint(const char *cmd, const char *usage, const char *name, const char *v,
                        uint64_t max, uint64_t *out);

#endif
