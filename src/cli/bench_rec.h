/*
 * bench_rec.h - the per-operation records of a `floe bench` run and what is computed from
 * them: throughput, latency quantiles (time to first byte and total), a per-second timeline,
 * errors and retries; their JSON form and their CSV rows.
 */
#ifndef FLOE_CLI_BENCH_REC_H
#define FLOE_CLI_BENCH_REC_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* What one operation did. */
enum floe_bench_kind {
    FLOE_BENCH_UPLOAD = 0,   /* floe_upload_file of a generated file (single or multipart) */
    FLOE_BENCH_DOWNLOAD = 1, /* a verified job output download */
    FLOE_BENCH_PUT = 2,      /* one UploadArchive of a small body */
    FLOE_BENCH_GET = 3,      /* a small job output download (mixed) */
    FLOE_BENCH_DELETE = 4,   /* DeleteArchive (mixed) */
    FLOE_BENCH_INITIATE = 5, /* InitiateJob */
    FLOE_BENCH_DESCRIBE = 6, /* DescribeJob */
    FLOE_BENCH_LIST = 7,     /* ListJobs */
    FLOE_BENCH_PARSE = 8,    /* parsing an inventory file (no request) */
    FLOE_BENCH_KIND_COUNT
};
extern const char *const floe_bench_kind_names[FLOE_BENCH_KIND_COUNT];

struct floe_bench_op {
    double start_s; /* since the measured phase began */
    double ttfb_s;  /* start to the first response byte (0 = no response, or no request) */
    double total_s; /* start to done */
    uint64_t bytes; /* payload moved (archive bytes, not headers) */
    int status;     /* FLOE_OK or the operation's floe status */
    unsigned retries;
    enum floe_bench_kind kind;
};

/* All operations of one measured phase. Threads: floe_bench_log_add from any thread; the
 * rest only when no thread adds. */
struct floe_bench_log {
    pthread_mutex_t mu;
    struct {
        struct floe_bench_op *ops; /* guarded by mu */
        size_t n, cap;
        uint64_t bytes; /* of successful operations */
        size_t errors;
    } locked;
};

void floe_bench_log_init(struct floe_bench_log *l);
void floe_bench_log_cleanup(struct floe_bench_log *l); /* once, after init */
void floe_bench_log_add(struct floe_bench_log *l, const struct floe_bench_op *op);
/* A consistent snapshot of the running counters (the live line). */
void floe_bench_log_counts(struct floe_bench_log *l, size_t *ops, size_t *errors, uint64_t *bytes);

struct floe_bench_lat {
    double p50, p90, p99, p999, max; /* seconds */
};

struct floe_bench_summary {
    size_t ops, errors;                     /* operations, and those that failed */
    uint64_t retries;                       /* retried requests over all operations */
    uint64_t bytes;                         /* of successful operations */
    double seconds;                         /* the measured phase */
    double mb_per_s;                        /* 10^6 bytes per second */
    double ops_per_s;                       /* successful operations per second */
    struct floe_bench_lat ttfb, total;      /* over successful operations */
    size_t kind_ops[FLOE_BENCH_KIND_COUNT]; /* all operations, by kind */
    struct floe_bench_lat kind_total[FLOE_BENCH_KIND_COUNT]; /* total latency of the
                                                                successful ones, by kind */
    size_t nsec;                                             /* timeline length: ceil(seconds) */
    double *sec_mb;  /* owned: MB moved by operations that ended in each second */
    double *sec_ops; /* owned: operations that ended in each second */
    double *total_sorted, *ttfb_sorted; /* owned: latencies of successful operations */
    size_t nlat;
};

/* Computes s from l (borrowed) over a phase of `seconds`. Free with floe_bench_summary_free. */
void floe_bench_summarize(const struct floe_bench_log *l, double seconds,
                          struct floe_bench_summary *s);
void floe_bench_summary_free(struct floe_bench_summary *s); /* safe twice */

/*
 * floe_bench_summary_json() - the summary as a JSON object (new reference): counters, rates,
 * latency quantiles in ms (also "kind_latency_ms": total latency by kind), "timeline" (per-second
 * MB/s and ops/s), "cdf" (total latency at 101 evenly spaced quantiles) and "samples" (up to 2,000
 * total and TTFB latencies in seconds, evenly strided: what `floe bench compare` tests).
 */
json_t *floe_bench_summary_json(const struct floe_bench_summary *s);

/* CSV of every record: a header line, then one row per operation, tagged with concurrency
 * and run; status is 0 for success, else the floe status number (include/floe/error.h). Returns 0,
 * or -1 when writing failed (errno set). */
int floe_bench_csv_header(FILE *f);
int floe_bench_csv_rows(FILE *f, const struct floe_bench_log *l, unsigned concurrency, int run);

#endif
