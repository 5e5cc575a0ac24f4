/*
 * bench_run.c - the workloads of `floe bench` (bench_run.h): preparation, one phase of
 * workers, and deleting what the benchmark created.
 *
 * DESIGN: every worker has its own client, so the engine's per-request timing callback
 * (floe_client_config.on_request, called on that client's transfer thread) can be charged to
 * the operation the worker is doing: the operation's time to first byte is the earliest first
 * response byte of its requests, its retries the sum of their extra attempts. upload and
 * download run one operation at a time on one client, whose engine concurrency (parts or
 * segments in flight) is the phase's concurrency: that is the knob a user tunes for big
 * archives. The other workloads run `concurrency` workers, one request in flight each.
 *
 * A phase is two rounds of the same workers: the warm-up (connections, page cache, server
 * caches; nothing recorded) and the measured round, each ended by the duration or the
 * count; workers finish the operation they are in, so a round ends within one operation of
 * its bound. The measured round's wall time runs from its start to the last worker's end.
 *
 * Everything an operation creates (archives, in-progress uploads on failure) is deleted:
 * single archives right after the upload workload measured them, small archives at the end
 * (or by the mixed workload's deletes), then the vault itself when the benchmark made it.
 */
#include "bench_run.h"

#include "bench_vault.h"
#include "common.h"
#include "log.h"
#include "need.h"

#include "floe/inventory.h"
#include "floe/jobs.h"
#include "floe/retrieve.h"
#include "floe/upload.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

const char *const floe_bench_workload_names[FLOE_BENCH_W_COUNT] = {
    "upload", "download", "small", "mixed", "jobs", "inventory",
};
static_assert(sizeof(floe_bench_workload_names) / sizeof(floe_bench_workload_names[0]) ==
                  FLOE_BENCH_W_COUNT,
              "a name per workload");

#define BENCH_DESCRIPTION "floe-bench"

struct worker {
    struct floe_bench_run *r;
    struct floe_client *client; /* own client (small, mixed, jobs), or r's only one */
    pthread_t thread;
    unsigned index;
    uint64_t rng;
    int jobs_step;
    unsigned size_turn; /* which of spec.sizes the next upload or put takes */
    char last_job[FLOE_JOB_ID_MAX];
    char out_path[4200]; /* download target in r->tmpdir */
    double paused_s;     /* this round: time spent deleting what it uploaded (not measured) */
    /* filled by on_request (the client's transfer thread), read by the worker */
    pthread_mutex_t mu;
    struct {
        double first_byte_s; /* earliest first byte of the current operation (0 = none) */
        unsigned retries;
    } locked;
};

struct floe_bench_run {
    struct floe_bench_spec spec;
    char vault[256];
    bool own_vault;
    char tmpdir[4096];
    char src_path[16][4200]; /* upload: a source file of each size */
    uint8_t *small_buf;      /* spec.size bytes (small, mixed puts: a prefix of it) */
    char archive_id[1025];
    char job_id[FLOE_JOB_ID_MAX];
    struct floe_job_info job;
    char inv_path[4200];
    uint64_t inv_bytes;
    struct worker *w;
    unsigned nw;
    atomic_uint delete_failures;
    /* archives to delete (small puts, mixed); guarded by mu */
    pthread_mutex_t mu;
    struct {
        char **ids;
        size_t n, cap;
    } locked;
    /* the round in progress; set before workers start, read-only while they run */
    double t0, deadline;
    uint64_t limit;
    atomic_uint_fast64_t started;
    unsigned conc;
    struct floe_bench_log *log; /* NULL in the warm-up */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void floe_bench_fill(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t x = seed | 1;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(p + i, &x, 8);
    }
    for (; i < n; i++)
        p[i] = (uint8_t)(x >> (8 * (i & 7)));
}

static void on_request(void *user, const struct floe_request_timing *t)
{
    struct worker *w = user;
    pthread_mutex_lock(&w->mu);
    if (t->first_byte_s > 0 &&
        (w->locked.first_byte_s == 0 || t->first_byte_s < w->locked.first_byte_s))
        w->locked.first_byte_s = t->first_byte_s;
    if (t->attempts > 1)
        w->locked.retries += t->attempts - 1;
    pthread_mutex_unlock(&w->mu);
}

static int fail(const char *what, const struct floe_error *err)
{
    fprintf(stderr, "floe bench: %s: %s\n", what,
            err->message[0] ? err->message : floe_strerror(err->status));
    return floe_cli_exit_status(err) == 2 ? 2 : 1;
}

static void pool_push(struct floe_bench_run *r, const char *id)
{
    char *copy = floe_cli_strdup(id);
    pthread_mutex_lock(&r->mu);
    if (r->locked.n == r->locked.cap) {
        r->locked.cap = r->locked.cap ? r->locked.cap * 2 : 256;
        r->locked.ids = floe_cli_need(realloc(r->locked.ids, r->locked.cap * sizeof(char *)));
    }
    r->locked.ids[r->locked.n++] = copy;
    pthread_mutex_unlock(&r->mu);
}

static char *pool_pop(struct floe_bench_run *r)
{
    char *id = NULL;
    pthread_mutex_lock(&r->mu);
    if (r->locked.n)
        id = r->locked.ids[--r->locked.n];
    pthread_mutex_unlock(&r->mu);
    return id;
}

static void delete_archive(struct floe_bench_run *r, struct floe_client *c, const char *id)
{
    struct floe_error err = {0};
    if (floe_client_delete_archive(c, r->vault, id, &err) != FLOE_OK) {
        fprintf(stderr, "floe bench: could not delete archive %s of vault %s: %s\n", id, r->vault,
                err.message);
        atomic_fetch_add(&r->delete_failures, 1);
    }
}

/* ---- operations: each returns a floe status, sets *kind and *bytes ---- */

/* The index into spec.sizes of w's next operation: the sizes in turn, each worker starting at
 * its own place so concurrent workers mix them. */
static unsigned next_size(struct worker *w)
{
    unsigned n = w->r->spec.nsizes ? w->r->spec.nsizes : 1;
    return (w->index + w->size_turn++) % n;
}

static uint64_t size_at(const struct floe_bench_run *r, unsigned i)
{
    return r->spec.nsizes ? r->spec.sizes[i] : r->spec.size;
}

static int op_put(struct worker *w, enum floe_bench_kind *kind, uint64_t *bytes)
{
    struct floe_bench_run *r = w->r;
    struct floe_archive_result res;
    struct floe_error err = {0};
    *kind = FLOE_BENCH_PUT;
    uint64_t len = size_at(r, next_size(w));
    int rc = floe_client_upload_archive(w->client, r->vault, r->small_buf, (size_t)len,
                                        BENCH_DESCRIPTION, &res, &err);
    if (rc == FLOE_OK) {
        *bytes = len;
        pool_push(r, res.archive_id);
    }
    return rc;
}

static int download(struct worker *w, unsigned conc, uint64_t *bytes)
{
    struct floe_bench_run *r = w->r;
    unlink(w->out_path);
    struct floe_download_options o = {.vault = r->vault,
                                      .job_id = r->job_id,
                                      .output_path = w->out_path,
                                      .segment_size = r->spec.segment_size,
                                      .concurrency = conc,
                                      .no_checkpoint = true,
                                      .job = &r->job,
                                      .cancel = r->spec.cancel};
    struct floe_download_result res;
    struct floe_error err = {0};
    int rc = floe_job_output_download(w->client, &o, &res, &err);
    if (rc == FLOE_OK)
        *bytes = res.size;
    unlink(w->out_path);
    return rc;
}

static int op_upload(struct worker *w, enum floe_bench_kind *kind, uint64_t *bytes,
                     char archive_id[1025])
{
    struct floe_bench_run *r = w->r;
    struct floe_upload_options o = {.vault = r->vault,
                                    .path = r->src_path[next_size(w)],
                                    .description = BENCH_DESCRIPTION,
                                    .part_size = r->spec.part_size,
                                    .concurrency = r->conc,
                                    .no_checkpoint = true,
                                    .cancel = r->spec.cancel};
    struct floe_upload_result res;
    struct floe_error err = {0};
    *kind = FLOE_BENCH_UPLOAD;
    int rc = floe_upload_file(w->client, &o, &res, &err);
    if (rc == FLOE_OK) {
        *bytes = res.size;
        snprintf(archive_id, 1025, "%s", res.archive_id);
    }
    return rc;
}

static int list_stop(const struct floe_job_info *job, void *user)
{
    (void)job;
    return ++*(unsigned *)user >= 50;
}

static int op_jobs(struct worker *w, enum floe_bench_kind *kind)
{
    struct floe_bench_run *r = w->r;
    struct floe_error err = {0};
    int step = w->jobs_step++ % 3;
    if (step == 0) {
        *kind = FLOE_BENCH_INITIATE;
        struct floe_job_retrieval_params p = {.archive_id = r->archive_id,
                                              .description = BENCH_DESCRIPTION};
        return floe_job_initiate_retrieval(w->client, r->vault, &p, w->last_job, &err);
    }
    if (step == 1) {
        *kind = FLOE_BENCH_DESCRIBE;
        struct floe_job_info info;
        return floe_job_describe(w->client, r->vault, w->last_job[0] ? w->last_job : r->job_id,
                                 &info, &err);
    }
    *kind = FLOE_BENCH_LIST;
    unsigned seen = 0;
    struct floe_job_list_filter f = {.completed = -1, .page_limit = 50};
    return floe_job_list(w->client, r->vault, &f, list_stop, &seen, &err);
}

static int count_archive(const struct floe_inventory_archive *a, void *user)
{
    (void)a;
    ++*(uint64_t *)user;
    return 0;
}

static int op_parse(struct worker *w, enum floe_bench_kind *kind, uint64_t *bytes)
{
    uint64_t n = 0;
    struct floe_inventory_summary sum;
    struct floe_error err = {0};
    *kind = FLOE_BENCH_PARSE;
    int rc = floe_inventory_parse_file(w->r->inv_path, FLOE_INVENTORY_JSON, count_archive, &n, &sum,
                                       &err);
    if (rc == FLOE_OK)
        *bytes = w->r->inv_bytes;
    return rc;
}

static int op_mixed(struct worker *w, enum floe_bench_kind *kind, uint64_t *bytes)
{
    struct floe_bench_run *r = w->r;
    const unsigned *m = r->spec.mix;
    unsigned total = m[0] + m[1] + m[2] + m[3];
    unsigned pick = (unsigned)(next_rand(&w->rng) % total);
    if (pick < m[0])
        return op_put(w, kind, bytes);
    if (pick < m[0] + m[1]) {
        *kind = FLOE_BENCH_GET;
        return download(w, 1, bytes);
    }
    if (pick < m[0] + m[1] + m[2]) {
        char *id = pool_pop(r);
        if (!id) /* nothing to delete yet: a put keeps the ratio of writes */
            return op_put(w, kind, bytes);
        *kind = FLOE_BENCH_DELETE;
        struct floe_error err = {0};
        int rc = floe_client_delete_archive(w->client, r->vault, id, &err);
        if (rc != FLOE_OK)
            pool_push(r, id);
        free(id);
        return rc;
    }
    *kind = FLOE_BENCH_DESCRIBE;
    struct floe_job_info info;
    struct floe_error err = {0};
    return floe_job_describe(w->client, r->vault, r->job_id, &info, &err);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct floe_bench_run *r = w->r;
    for (;;) {
        if (r->spec.cancel && atomic_load(r->spec.cancel))
            break;
        double t0 = now_s();
        if (r->deadline > 0 && t0 >= r->deadline)
            break;
        if (r->limit && atomic_fetch_add(&r->started, 1) >= r->limit)
            break;
        pthread_mutex_lock(&w->mu);
        w->locked.first_byte_s = 0;
        w->locked.retries = 0;
        pthread_mutex_unlock(&w->mu);
        enum floe_bench_kind kind = FLOE_BENCH_PUT;
        uint64_t bytes = 0;
        char created[1025] = "";
        int rc = FLOE_OK;
        switch (r->spec.workload) {
        case FLOE_BENCH_W_UPLOAD: rc = op_upload(w, &kind, &bytes, created); break;
        case FLOE_BENCH_W_DOWNLOAD:
            kind = FLOE_BENCH_DOWNLOAD;
            rc = download(w, r->conc, &bytes);
            break;
        case FLOE_BENCH_W_SMALL: rc = op_put(w, &kind, &bytes); break;
        case FLOE_BENCH_W_MIXED: rc = op_mixed(w, &kind, &bytes); break;
        case FLOE_BENCH_W_JOBS: rc = op_jobs(w, &kind); break;
        case FLOE_BENCH_W_INVENTORY: rc = op_parse(w, &kind, &bytes); break;
        case FLOE_BENCH_W_COUNT: break;
        }
        double t1 = now_s();
        struct floe_bench_op op = {
            .start_s = t0 - r->t0, .total_s = t1 - t0, .bytes = bytes, .status = rc, .kind = kind};
        pthread_mutex_lock(&w->mu);
        if (w->locked.first_byte_s > 0)
            op.ttfb_s = w->locked.first_byte_s - t0;
        op.retries = w->locked.retries;
        pthread_mutex_unlock(&w->mu);
        if (op.ttfb_s < 0)
            op.ttfb_s = 0;
        if (r->log && !(rc == FLOE_E_CANCELLED))
            floe_bench_log_add(r->log, &op);
        if (created[0]) { /* between operations, and not part of the measured time */
            delete_archive(r, w->client, created);
            w->paused_s += now_s() - t1;
        }
    }
    return NULL;
}

/* ---- the live line ---- */

static void live_line(struct floe_bench_run *r, double elapsed, bool tty, bool final)
{
    size_t ops = 0, errors = 0;
    uint64_t bytes = 0;
    floe_bench_log_counts(r->log, &ops, &errors, &bytes);
    double secs = elapsed > 0 ? elapsed : 1e-9;
    char line[256];
    snprintf(line, sizeof(line),
             "bench %s c=%u: %.0f s, %zu ops (%.1f ops/s), %.1f MB/s, %zu errors",
             floe_bench_workload_names[r->spec.workload], r->conc, elapsed, ops, (double)ops / secs,
             (double)bytes / secs / 1e6, errors);
    if (tty) {
        fprintf(stderr, "\r%-100.100s", final ? "" : line);
        if (final)
            fputc('\r', stderr);
        fflush(stderr);
    } else if (!final) {
        floe_cli_logf(FLOE_LOG_WARN, "%s", line);
    }
}

/* One round of the workers: until the deadline or the count. */
static int round_run(struct floe_bench_run *r, unsigned conc, double duration_s, uint64_t count,
                     struct floe_bench_log *log, double *wall)
{
    unsigned nw =
        (r->spec.workload == FLOE_BENCH_W_UPLOAD || r->spec.workload == FLOE_BENCH_W_DOWNLOAD)
            ? 1
            : conc;
    r->conc = conc;
    r->log = log;
    r->limit = count;
    atomic_store(&r->started, 0);
    for (unsigned i = 0; i < nw; i++)
        r->w[i].paused_s = 0;
    r->t0 = now_s();
    r->deadline = duration_s > 0 ? r->t0 + duration_s : 0;
    unsigned started = 0;
    for (; started < nw; started++)
        if (pthread_create(&r->w[started].thread, NULL, worker_main, &r->w[started]) != 0)
            break;
    int rc = 0;
    if (started < nw) {
        fprintf(stderr, "floe bench: cannot start worker thread %u of %u\n", started + 1, nw);
        r->deadline = r->t0; /* the started ones stop after one operation */
        rc = 1;
    }
    bool tty = floe_cli_log_is_tty();
    if (log && r->spec.live) {
        /* the command's thread draws the live line while the workers run: redrawn twice a
         * second on a terminal, a log line every 10 s otherwise */
        double next = r->t0 + (tty ? 0.5 : 10);
        for (;;) {
            struct timespec ts = {0, 100 * 1000000L};
            nanosleep(&ts, NULL);
            size_t ops = 0, errors = 0;
            uint64_t bytes = 0;
            floe_bench_log_counts(log, &ops, &errors, &bytes);
            double t = now_s();
            bool over = (r->deadline > 0 && t >= r->deadline) ||
                        (r->limit && atomic_load(&r->started) >= r->limit) ||
                        (r->spec.cancel && atomic_load(r->spec.cancel));
            if (over)
                break;
            if (t >= next) {
                live_line(r, t - r->t0, tty, false);
                next = t + (tty ? 0.5 : 10);
            }
        }
    }
    for (unsigned i = 0; i < started; i++)
        pthread_join(r->w[i].thread, NULL);
    *wall = now_s() - r->t0;
    /* deleting each archive the upload workload made is not part of its time (one worker: its
     * pauses are the round's) */
    if (nw == 1)
        *wall -= r->w[0].paused_s;
    if (log && r->spec.live && tty)
        live_line(r, *wall, tty, true);
    r->log = NULL;
    return rc;
}

int floe_bench_phase(struct floe_bench_run *r, unsigned concurrency, int server_pid,
                     struct floe_bench_log *log, struct floe_bench_usage *use)
{
    memset(use, 0, sizeof(*use));
    use->server_cpu_s = -1;
    double wall = 0;
    if (r->spec.warmup_s > 0) {
        int rc = round_run(r, concurrency, r->spec.warmup_s, 0, NULL, &wall);
        if (rc)
            return rc;
    }
    double s0 = server_pid > 0 ? floe_bench_proc_cpu_s(server_pid) : -1;
    double c0 = cpu_s();
    int rc = round_run(r, concurrency, r->spec.duration_s, r->spec.count, log, &wall);
    use->client_cpu_s = cpu_s() - c0;
    use->seconds = wall;
    if (s0 >= 0) {
        double s1 = floe_bench_proc_cpu_s(server_pid);
        use->server_cpu_s = s1 >= 0 ? s1 - s0 : -1;
    }
    if (r->spec.cancel && atomic_load(r->spec.cancel))
        return 130;
    return rc;
}

/* ---- preparation ---- */

static int write_file(const char *path, uint64_t size, uint64_t seed)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    size_t step = (size_t)8 << 20;
    uint8_t *buf = floe_cli_need(malloc(step));
    int rc = 0;
    for (uint64_t off = 0; off < size; off += step) {
        size_t n = size - off < step ? (size_t)(size - off) : step;
        floe_bench_fill(buf, n, seed + off);
        if (write(fd, buf, n) != (ssize_t)n) {
            rc = -1;
            break;
        }
    }
    free(buf);
    /* on disk before anything is measured: no writeback of it competes with the benchmark */
    if (rc == 0 && fsync(fd) != 0)
        rc = -1;
    if (close(fd) != 0)
        rc = -1;
    return rc;
}

/* A Glacier JSON inventory of n archives, as the service writes it. */
static int write_inventory(const char *path, uint64_t n, uint64_t *bytes)
{
    FILE *f = fopen(path, "we");
    if (!f)
        return -1;
    uint64_t rng = 7;
    fputs("{\"VaultARN\":\"arn:aws:glacier:us-east-1:123456789012:vaults/bench\","
          "\"InventoryDate\":\"2026-01-01T00:00:00Z\",\"ArchiveList\":[",
          f);
    for (uint64_t i = 0; i < n; i++) {
        char id[139];
        for (int k = 0; k < 138; k++)
            id[k] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[next_rand(&rng) &
                                                                                   63];
        id[138] = 0;
        char tree[65];
        for (int k = 0; k < 64; k++)
            tree[k] = "0123456789abcdef"[next_rand(&rng) & 15];
        tree[64] = 0;
        fprintf(f,
                "%s{\"ArchiveId\":\"%s\",\"ArchiveDescription\":\"bench/file-%llu\","
                "\"CreationDate\":\"2025-06-01T12:00:00Z\",\"Size\":%llu,\"SHA256TreeHash\":"
                "\"%s\"}",
                i ? "," : "", id, (unsigned long long)i,
                (unsigned long long)(next_rand(&rng) % (1ull << 32)), tree);
    }
    fputs("]}", f);
    long end = ftell(f);
    if (fclose(f) != 0 || end < 0)
        return -1;
    *bytes = (uint64_t)end;
    return 0;
}

/* Uploads spec.size bytes as the archive downloads and jobs read; then a job for it. */
static int prepare_job(struct floe_bench_run *r, uint64_t size, uint64_t range)
{
    struct floe_client *c = r->w[0].client;
    struct floe_error err = {0};
    char path[4200];
    snprintf(path, sizeof(path), "%s/job-source", r->tmpdir);
    if (write_file(path, size, 99) != 0) {
        fprintf(stderr, "floe bench: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    struct floe_upload_options o = {.vault = r->vault,
                                    .path = path,
                                    .description = BENCH_DESCRIPTION,
                                    .part_size = r->spec.part_size,
                                    .no_checkpoint = true,
                                    .cancel = r->spec.cancel};
    struct floe_upload_result res;
    int rc = floe_upload_file(c, &o, &res, &err);
    unlink(path);
    if (rc != FLOE_OK)
        return fail("uploading the archive the benchmark reads", &err);
    snprintf(r->archive_id, sizeof(r->archive_id), "%s", res.archive_id);
    struct floe_job_retrieval_params p = {
        .archive_id = r->archive_id, .archive_size = size, .description = BENCH_DESCRIPTION};
    if (range) {
        p.has_range = true;
        p.range.first = 0;
        p.range.last = range - 1;
    }
    if (floe_job_initiate_retrieval(c, r->vault, &p, r->job_id, &err) != FLOE_OK)
        return fail("initiating the retrieval job", &err);
    if (floe_bench_url_is_loopback(floe_client_endpoint(c)) == false && r->spec.live)
        fprintf(stderr,
                "floe bench: waiting for retrieval job %s (hours on Glacier's Standard "
                "tier)\n",
                r->job_id);
    struct floe_job_wait_options wo = {
        .first_interval_ms = 50, .max_interval_ms = 60000, .cancel = r->spec.cancel};
    if (floe_job_wait(c, r->vault, r->job_id, &wo, &r->job, &err) != FLOE_OK)
        return fail("waiting for the retrieval job", &err);
    return 0;
}

static int make_clients(struct floe_bench_run *r)
{
    const struct floe_bench_spec *s = &r->spec;
    bool one = s->workload == FLOE_BENCH_W_UPLOAD || s->workload == FLOE_BENCH_W_DOWNLOAD;
    unsigned nclients = one ? 1 : s->max_concurrency;
    r->nw = s->max_concurrency ? s->max_concurrency : 1;
    r->w = floe_cli_need(calloc(r->nw, sizeof(struct worker)));
    for (unsigned i = 0; i < r->nw; i++) {
        struct worker *w = &r->w[i];
        w->r = r;
        w->index = i;
        w->rng = 0x5EED0000u + i;
        pthread_mutex_init(&w->mu, NULL);
        snprintf(w->out_path, sizeof(w->out_path), "%s/out-%u", r->tmpdir, i);
    }
    if (s->workload == FLOE_BENCH_W_INVENTORY)
        return 0;
    for (unsigned i = 0; i < nclients; i++) {
        unsigned maxc = one ? (s->max_concurrency > 8 ? s->max_concurrency : 8) : 2;
        struct floe_cli_client_opts co = {.max_connections = maxc,
                                          .access_key_id = s->access_key_id,
                                          .secret_access_key = s->secret_access_key,
                                          .on_request = on_request,
                                          .on_request_user = &r->w[i]};
        if (floe_cli_client(s->cli, "bench", &co, &r->w[i].client))
            return floe_cli_client_status();
    }
    return 0;
}

int floe_bench_prepare(const struct floe_bench_spec *spec, struct floe_bench_run **out)
{
    struct floe_bench_run *r = floe_cli_need(calloc(1, sizeof(*r)));
    r->spec = *spec;
    pthread_mutex_init(&r->mu, NULL);
    const char *tmp = getenv("TMPDIR");
    snprintf(r->tmpdir, sizeof(r->tmpdir), "%s/floe-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(r->tmpdir)) {
        fprintf(stderr, "floe bench: cannot create a temporary directory in %s: %s\n",
                tmp && *tmp ? tmp : "/tmp", strerror(errno));
        r->tmpdir[0] = 0;
        floe_bench_finish(r);
        return 1;
    }
    int rc = make_clients(r);
    struct floe_error err = {0};
    if (rc == 0 && spec->workload == FLOE_BENCH_W_INVENTORY) {
        snprintf(r->inv_path, sizeof(r->inv_path), "%s/inventory.json", r->tmpdir);
        if (write_inventory(r->inv_path, spec->archives, &r->inv_bytes) != 0) {
            fprintf(stderr, "floe bench: cannot write %s: %s\n", r->inv_path, strerror(errno));
            rc = 1;
        }
    } else if (rc == 0) {
        struct floe_client *c = r->w[0].client;
        if (spec->vault) {
            snprintf(r->vault, sizeof(r->vault), "%s", spec->vault);
            struct floe_vault_info vi;
            if (floe_client_describe_vault(c, r->vault, &vi, &err) != FLOE_OK)
                rc = fail(r->vault, &err);
        } else {
            snprintf(r->vault, sizeof(r->vault), "floe-bench-%ld-%ld", (long)getpid(),
                     (long)time(NULL));
            if (floe_client_create_vault(c, r->vault, &err) != FLOE_OK)
                rc = fail("creating the benchmark's vault", &err);
            else
                r->own_vault = true;
        }
    }
    if (rc == 0) {
        switch (spec->workload) {
        case FLOE_BENCH_W_UPLOAD:
            for (unsigned i = 0; rc == 0 && i < (spec->nsizes ? spec->nsizes : 1); i++) {
                snprintf(r->src_path[i], sizeof(r->src_path[i]), "%s/source-%u", r->tmpdir, i);
                if (write_file(r->src_path[i], size_at(r, i), 7 + i) != 0) {
                    fprintf(stderr, "floe bench: cannot write %s: %s\n", r->src_path[i],
                            strerror(errno));
                    rc = 1;
                }
            }
            break;
        case FLOE_BENCH_W_DOWNLOAD: rc = prepare_job(r, spec->size, spec->range); break;
        case FLOE_BENCH_W_MIXED:
        case FLOE_BENCH_W_SMALL:
            r->small_buf = floe_cli_need(malloc(spec->size));
            floe_bench_fill(r->small_buf, spec->size, 11);
            if (spec->workload == FLOE_BENCH_W_MIXED)
                rc = prepare_job(r, spec->size, 0);
            break;
        case FLOE_BENCH_W_JOBS: rc = prepare_job(r, (uint64_t)1 << 20, 0); break;
        case FLOE_BENCH_W_INVENTORY:
        case FLOE_BENCH_W_COUNT: break;
        }
    }
    if (rc) {
        int frc = floe_bench_finish(r);
        (void)frc;
        return rc;
    }
    *out = r;
    return 0;
}

const char *floe_bench_run_vault(const struct floe_bench_run *r)
{
    return r->vault;
}

static int abort_ours(const struct floe_upload_info *u, void *user)
{
    struct floe_bench_run *r = user;
    if (strcmp(u->archive_description, BENCH_DESCRIPTION) != 0)
        return 0;
    struct floe_error err = {0};
    if (floe_client_abort_multipart(r->w[0].client, r->vault, u->upload_id, &err) != FLOE_OK) {
        fprintf(stderr, "floe bench: could not abort multipart upload %s: %s\n", u->upload_id,
                err.message);
        atomic_fetch_add(&r->delete_failures, 1);
    }
    return 0;
}

/* A cleanup worker: deletes archives from the pool until it is empty. */
static void *deleter_main(void *arg)
{
    struct worker *w = arg;
    char *id;
    while ((id = pool_pop(w->r))) {
        delete_archive(w->r, w->client, id);
        free(id);
    }
    return NULL;
}

int floe_bench_finish(struct floe_bench_run *r)
{
    if (!r)
        return 0;
    struct floe_client *c = r->w ? r->w[0].client : NULL;
    if (c && r->vault[0]) {
        /* many small archives: deleted by every worker's client at once (the pool's lock
         * hands each id to one of them); the command's thread takes part as worker 0 */
        unsigned nd = 1;
        while (nd < r->nw && nd < 16 && r->w[nd].client &&
               pthread_create(&r->w[nd].thread, NULL, deleter_main, &r->w[nd]) == 0)
            nd++;
        deleter_main(&r->w[0]);
        for (unsigned i = 1; i < nd; i++)
            pthread_join(r->w[i].thread, NULL);
        if (r->archive_id[0])
            delete_archive(r, c, r->archive_id);
        struct floe_error err = {0};
        if (floe_client_list_multipart_uploads(c, r->vault, abort_ours, r, &err) != FLOE_OK) {
            fprintf(stderr, "floe bench: could not list the multipart uploads of %s: %s\n",
                    r->vault, err.message);
            atomic_fetch_add(&r->delete_failures, 1);
        }
        if (r->own_vault && floe_client_delete_vault(c, r->vault, &err) != FLOE_OK) {
            fprintf(stderr, "floe bench: could not delete vault %s: %s\n", r->vault, err.message);
            atomic_fetch_add(&r->delete_failures, 1);
        }
    }
    int rc = atomic_load(&r->delete_failures) ? 1 : 0;
    for (unsigned i = 0; r->w && i < r->nw; i++) {
        floe_client_destroy(r->w[i].client);
        pthread_mutex_destroy(&r->w[i].mu);
    }
    free(r->w);
    floe_bench_rm_tree(r->tmpdir);
    free(r->small_buf);
    free(r->locked.ids);
    pthread_mutex_destroy(&r->mu);
    free(r);
    return rc;
}
