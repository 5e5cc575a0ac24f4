/*
 * bench_report.h - the picture of a `floe bench` result: a self-contained HTML page or SVG
 * file (inline SVG, no scripts, no external fonts or links) with the throughput over time, the
 * latency CDF and the concurrency sweep, readable at a glance.
 * Threads: any thread; no shared state.
 */
#ifndef FLOE_CLI_BENCH_REPORT_H
#define FLOE_CLI_BENCH_REPORT_H

#include <jansson.h>

/*
 * floe_bench_report_write() - writes path (.html: a page with a table and three charts; .svg:
 * the three charts in one image) from doc, the result document `floe bench --json` prints
 * (borrowed). The file is written to path.tmp and renamed into place. Returns 0, or -1 with
 * errno set (nothing left at path.tmp).
 */
int floe_bench_report_write(const char *path, const json_t *doc);

#endif
