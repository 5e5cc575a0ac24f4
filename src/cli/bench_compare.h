/*
 * bench_compare.h - `floe bench compare A.json B.json`: two results of `floe bench --json`,
 * metric by metric, with the change and whether it is beyond the noise (bench_stats.h).
 * Threads: the command's thread.
 */
#ifndef FLOE_CLI_BENCH_COMPARE_H
#define FLOE_CLI_BENCH_COMPARE_H

#include "cli.h"

/* argv[0] is "compare". Returns the exit status (docs/bench.md, "Comparing two runs"). */
int floe_bench_compare_cmd(const struct floe_cli *cli, int argc, char **argv);

#endif
