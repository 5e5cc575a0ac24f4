/*
 * bench_run.h - the workloads of `floe bench` and how one measured phase runs: workers doing
 * operations until a duration or a count is reached, after a warm-up that is not recorded.
 *
 *   upload     one archive (--size) at a time through floe_upload_file: a single request when
 *              the size fits in one part, else multipart; concurrency = parts in flight
 *   download   a verified job output download of one prepared archive (or of its first
 *              --range bytes); concurrency = segments in flight
 *   small      UploadArchive of small bodies from `concurrency` workers (requests per second)
 *   mixed      put / get / delete / describe in a ratio (--mix), from `concurrency` workers
 *   jobs       initiate / describe / list jobs in turn, from `concurrency` workers
 *   inventory  parsing a generated inventory of --archives archives, `concurrency` at once
 *
 * Threads: every function here is called from the command's thread; the workers a phase
 * starts are joined before it returns.
 */
#ifndef FLOE_CLI_BENCH_RUN_H
#define FLOE_CLI_BENCH_RUN_H

#include "bench_rec.h"
#include "cli.h"

#include "floe/client.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum floe_bench_workload {
    FLOE_BENCH_W_UPLOAD = 0,
    FLOE_BENCH_W_DOWNLOAD = 1,
    FLOE_BENCH_W_SMALL = 2,
    FLOE_BENCH_W_MIXED = 3,
    FLOE_BENCH_W_JOBS = 4,
    FLOE_BENCH_W_INVENTORY = 5,
    FLOE_BENCH_W_COUNT
};
extern const char *const floe_bench_workload_names[FLOE_BENCH_W_COUNT];

/* What to run; the command fills it from its options. Borrowed strings. */
struct floe_bench_spec {
    const struct floe_cli *cli; /* global options (endpoint_url may be the embedded one) */
    const char *access_key_id;  /* fixed keys (embedded floe-vault); NULL = credential chain */
    const char *secret_access_key;
    enum floe_bench_workload workload;
    const char *vault;  /* NULL = a vault of its own, created and deleted */
    uint64_t size;      /* archive bytes (download; the largest of sizes for the others) */
    uint64_t sizes[16]; /* upload, small, mixed puts: the sizes taken in turn (a uniform
                           distribution over the list); nsizes 0 = just size */
    unsigned nsizes;
    uint64_t part_size;       /* upload (0 = floe's default) */
    uint64_t segment_size;    /* download (0 = floe's default) */
    uint64_t range;           /* download: retrieve the first `range` bytes (0 = whole archive) */
    double duration_s;        /* measured phase length (0 = until count) */
    uint64_t count;           /* operations in the measured phase (0 = until duration) */
    double warmup_s;          /* warm-up before each measured phase (not recorded) */
    unsigned mix[4];          /* mixed: weights of put, get, delete, describe */
    uint64_t archives;        /* inventory: archives in the generated document */
    unsigned max_concurrency; /* the largest concurrency a phase will ask for */
    bool live;                /* a live line on stderr */
    atomic_bool *cancel;      /* set by Ctrl-C: stop starting operations */
};

struct floe_bench_run; /* prepared state: clients, vault, source data, jobs, temp dir */

/*
 * floe_bench_prepare() - everything a workload needs before it can be measured: the vault,
 * the generated source file, the archive and job a download reads, the inventory document.
 * Returns 0 and *out, or the exit status after printing "floe bench: why" (what it created
 * is removed again).
 */
int floe_bench_prepare(const struct floe_bench_spec *spec, struct floe_bench_run **out);

/* Resource use of one measured phase. */
struct floe_bench_usage {
    double seconds;      /* wall time of the measured phase */
    double client_cpu_s; /* this process, user + system */
    double server_cpu_s; /* the local floe-vault's (-1 = not local / unknown) */
};

/*
 * floe_bench_phase() - a warm-up (spec->warmup_s, not recorded) then one measured phase at
 * `concurrency`, recording every operation into log (initialised by the caller).
 * server_pid: the local floe-vault to measure (0 = none). Returns 0, or the exit status after
 * printing why (every operation failing is not an error here: the records say so).
 */
int floe_bench_phase(struct floe_bench_run *r, unsigned concurrency, int server_pid,
                     struct floe_bench_log *log, struct floe_bench_usage *use);

/* The vault in use (the given one or the benchmark's own). Borrowed from r. */
const char *floe_bench_run_vault(const struct floe_bench_run *r);

/* Fills p[0..n) with fast xorshift bytes from seed: benchmark data, not random enough for
 * anything else (hash kernels do not care, and it does not compress). Any thread. */
void floe_bench_fill(uint8_t *p, size_t n, uint64_t seed);

/*
 * floe_bench_finish() - delete what the benchmark created (archives, jobs' downloads, the
 * generated files, its own vault) and free r. Failures to delete are printed (the archive id
 * named) and make the result non-zero. NULL is fine.
 */
int floe_bench_finish(struct floe_bench_run *r);

#endif
