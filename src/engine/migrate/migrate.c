/*
 * migrate.c - floe_migrate(), floe_migrate_plan(), floe_migrate_status() (floe/migrate.h;
 * behaviour in docs/migrate.md).
 *
 * DESIGN. One loop on the calling thread drives every archive through the catalog's states
 * (mcat.h), and every step is recorded before the next one acts on it:
 *
 *   refresh   ListJobs pages (all jobs of the vault): a REQUESTED row whose job succeeded
 *             becomes STAGED (the completion time kept), one whose job failed goes back to
 *             PLANNED (FAILED after FLOE_MIGRATE_JOB_ATTEMPTS jobs), one whose job is no longer
 *             listed goes back to PLANNED. A whole-archive job of a PLANNED row - one an
 *             interrupted run requested before it could record it, or anyone's - is adopted:
 *             in progress -> REQUESTED, succeeded and unexpired -> STAGED. So a job is never
 *             paid twice while a valid one exists.
 *   request   PLANNED rows in inventory order get a retrieval job while the jobs in flight,
 *             the bytes in flight (requested, staged, copying) and today's bytes stay under
 *             their caps; throttling or a data-retrieval policy refusal pauses requests (60 s,
 *             doubling to 15 min) instead of failing.
 *   copy      the first STAGED row: a job expiring within the margin goes back to PLANNED; an
 *             existing destination file with the archive's tree hash is adopted (a re-run after
 *             kill -9 between rename and record); else COPYING, DescribeJob (the job's tree
 *             hash must equal the inventory's), floe_job_output_download() into
 *             "<path>.floe-part" (resumable journal), renamed only once the whole output's tree
 *             hash matched; then VERIFIED, the file's SHA-256, DONE. To S3 the output streams
 *             into the object instead (ms3.h). Archives up to BATCH_FILE go in batches
 *             (copy_batch, copy_batch_s3): each step's requests for up to BATCH_MAX of them in
 *             flight together, one catalog transaction per batch.
 *   wait      nothing to copy but jobs in flight: sleep (0.25 s, x1.5 per poll, at most poll_ms),
 *             then refresh. With a notification queue (--notify-queue, mnotify.h) the wait is a
 *             long poll of the queue instead: a notification of a REQUESTED row's job moves it
 *             as refresh would, and refresh runs only every poll_ms (15 min) as the fallback
 *             for lost messages; the queue is also read (without waiting) once a second
 *             between copies.
 * A failure of one archive (wrong checksum after re-fetches, a name that cannot be created, a
 * job that failed three times) fails that archive with its reason; the rest go on. A failure
 * of the whole run (disk full, the service gone past the retry budget, the catalog) stops it
 * with the archive back in STAGED, so the same command continues.
 */
#include "floe/migrate.h"

#include "alloc.h"
#include "dirsync.h"
#include "client_impl.h"
#include "floe/filehash.h"
#include "floe/treehash.h"
#include "floe/jobs.h"
#include "floe/retrieve.h"
#include "mcat.h"
#include "mfetch.h"
#include "sha256.h"
#include "mname.h"
#include "mnotify.h"
#include "mplan.h"
#include "mprices.h"
#include "ms3.h"
#include "checkpoint.h"

#include <jansson.h>

#include <pthread.h>
#include <stdatomic.h>

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DAY_S 86400
#define SMALL_FILE ((uint64_t)16 << 20) /* hashed in one read; downloaded without a journal */
/* A big archive's SHA-256 (for the manifest) is taken from the downloaded bytes in archive order,
 * in the pass that hashes their tree-hash leaves (floe_download_options.linear_sha256), instead
 * of reading the file back afterwards. The download holds the chunks that arrive ahead of the
 * first one not yet hashed, so its segments are small (8 MiB: a few chunks ahead per segment in
 * flight). Their number is --concurrency N, else adaptive as for `floe retrieve` but held to what
 * a far link needs: from 4 up to 16, growing only while the fetches spend a fifth of their time
 * or more waiting for their first byte (retrieve.c, "The linear hash"). On loopback they do not
 * (a plain adaptive limit climbed there on noise, and with it the chunks held and the ring, which
 * cost more CPU than the hash saved); 50-200 ms away they do (docs/performance.md). Where the
 * download could not take the SHA-256 (resumed, a fetch repeated, a chunk it could not hold), the
 * file is read back as before (sha_start). FLOE_MIGRATE_LINEAR_SHA256=0 always reads back (tests
 * cover both paths). */
#define LINEAR_SEGMENT ((uint64_t)8 << 20)
#define PAUSE_MIN_S 60
#define PAUSE_MAX_S 900
#define FIRST_POLL_S 0.25 /* first poll after a request (x1.5 per poll) */
/* A job that completes this soon after its creation is an endpoint's instant job (floe-vault
 * --job-delay instant; Glacier's fastest tier takes minutes): the first poll after a request
 * comes after FAST_POLL_S instead of FIRST_POLL_S. */
#define FAST_JOB_S 1
#define FAST_POLL_S 0.02
#define NOTIFY_WAIT_S 5 /* the longest wait for a notification in one ReceiveMessage */
#define PROGRESS_S 2    /* the shortest interval between two progress callbacks while copying */

/* An archive copied to a directory, verified and in place, whose SHA-256 is to be read back. */
struct sha_item {
    struct floe_mcat_row r; /* r.sha256 receives the hex digest */
    char path[4096 + FLOE_MNAME_CAP + 2];
    int rc;
    struct floe_error err;
};

struct mig {
    struct floe_client *client;
    const struct floe_migrate_options *o;
    struct floe_migrate_result *out;
    struct floe_error *err;
    struct floe_mcat *cat;
    struct floe_ms3 *s3; /* the S3 destination, or NULL for a directory */
    char staging[4200];  /* S3: where archives are staged */
    struct floe_mprices prices;
    int tier;
    char dest[4096];
    uint64_t expiry_s, margin_s;
    int64_t started;
    double t0;
    double poll_s, next_poll, pause_s, pause_until;
    double last_report; /* the last progress callback (report) */
    bool refreshed;
    /* refresh's walks (see refresh_some): the last full walk listed the jobs in ascending
     * creation order, and the marker of its (or a later tail walk's) last page */
    bool full_walk, ascending, went_down;
    int64_t prev_created;
    char tail_marker[1024];
    bool fast_jobs;              /* a job of ours completed within FAST_JOB_S of its creation */
    struct floe_mnotify *notify; /* --notify-queue, or NULL (never given, or failed: polling) */
    double next_receive;
    int note_rc; /* a catalog failure inside a notification's callback */
    /* job ids of REQUESTED rows seen in the current listing */
    char **seen;
    size_t nseen, seen_cap;
    struct floe_mcat_row row; /* scratch for the listing callback */
    bool linear_sha256;       /* see LINEAR_SEGMENT */
    /* a batch's transaction is open: its archives' events are held until it is committed
     * (batch_commit; dropped when it is rolled back) */
    bool hold;
    struct held {
        char *id, *name, *message;
        enum floe_migrate_state state;
        uint64_t size;
    } * held;
    size_t nheld;
    unsigned adaptive_next; /* the last such download's floe_download_result.adaptive_next */
    /* the SHA-256 of archives copied to a directory, read back two at a time on a thread
     * while the next ones download (sha_start / sha_join) */
    struct {
        bool active;   /* run[0..nrun) hashed (threaded: on t), not recorded yet */
        bool threaded; /* t is to be joined */
        pthread_t t;
        struct sha_item run[2];
        unsigned nrun;
        bool held; /* wait holds an archive waiting for a partner */
        struct sha_item wait;
    } sha;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A message into a fixed buffer, cut when it does not fit (reasons are for people). */
__attribute__((format(printf, 3, 4))) static void say(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
}

static void note(struct mig *m, const struct floe_mcat_row *r, const char *msg)
{
    if (!m->o->event)
        return;
    if (m->hold && r) {
        m->held = floe_xrealloc(m->held, (m->nheld + 1) * sizeof(*m->held));
        m->held[m->nheld++] = (struct held){floe_xstrdup(r->id), floe_xstrdup(r->name),
                                            floe_xstrdup(msg ? msg : ""), r->state, r->size};
        return;
    }
    struct floe_migrate_event e = {.archive_id = r ? r->id : NULL,
                                   .name = r ? r->name : NULL,
                                   .state = r ? r->state : FLOE_MIGRATE_PLANNED,
                                   .size = r ? r->size : 0,
                                   .message = msg ? msg : ""};
    m->o->event(&e, m->o->user);
}

/* Moves r to state to and reports it. */
static int move(struct mig *m, struct floe_mcat_row *r, enum floe_migrate_state to, const char *why)
{
    if (to == FLOE_MIGRATE_FAILED)
        say(r->reason, sizeof(r->reason), "%s", why ? why : "");
    else
        r->reason[0] = '\0';
    int rc = floe_mcat_set(m->cat, r, to, m->err);
    if (!rc)
        note(m, r, why);
    return rc;
}

/* Back to PLANNED (a new job will be requested) with the job forgotten. */
static int replan(struct mig *m, struct floe_mcat_row *r, const char *why)
{
    r->job_id[0] = '\0';
    r->job_done = 0;
    return move(m, r, FLOE_MIGRATE_PLANNED, why);
}

static bool fresh(const struct mig *m, int64_t job_done)
{
    return job_done + (int64_t)m->expiry_s - (int64_t)m->margin_s > (int64_t)time(NULL);
}

/* ---- refresh: ListJobs ---- */

static bool whole_archive(const struct floe_job_info *j, uint64_t size)
{
    return !j->has_range || (j->range.first == 0 && (size == 0 || j->range.last + 1 == size));
}

/* A REQUESTED row r whose job j is described (listed, or notified): succeeded -> STAGED (or a
 * new job when its output expires too soon), failed -> PLANNED again (FAILED after
 * FLOE_MIGRATE_JOB_ATTEMPTS jobs), in progress -> unchanged. */
static int job_outcome(struct mig *m, struct floe_mcat_row *r, const struct floe_job_info *j)
{
    if (strcmp(j->status_code, "Succeeded") == 0) {
        r->job_done = floe_mplan_iso_seconds(j->completion_date);
        if (r->job_done - floe_mplan_iso_seconds(j->creation_date) <= FAST_JOB_S)
            m->fast_jobs = true;
        return fresh(m, r->job_done) ? move(m, r, FLOE_MIGRATE_STAGED, "")
                                     : replan(m, r, "job output expires soon");
    }
    if (strcmp(j->status_code, "Failed") == 0) {
        char why[600];
        say(why, sizeof(why), "retrieval job %s failed: %s", j->job_id, j->status_message);
        return r->attempts >= FLOE_MIGRATE_JOB_ATTEMPTS ? move(m, r, FLOE_MIGRATE_FAILED, why)
                                                        : replan(m, r, why);
    }
    return FLOE_OK;
}

static int list_job(const struct floe_job_info *j, void *user)
{
    struct mig *m = user;
    struct floe_mcat_row *r = &m->row;
    if (m->full_walk) { /* the listing's order, for the tail walks */
        int64_t c = floe_mplan_iso_seconds(j->creation_date);
        m->went_down |= c < m->prev_created;
        m->prev_created = c;
    }
    if (strcmp(j->action, "ArchiveRetrieval") != 0)
        return 0;
    bool ok = strcmp(j->status_code, "Succeeded") == 0;
    bool failed = strcmp(j->status_code, "Failed") == 0;
    int rc = FLOE_OK;
    if (floe_mcat_by_job(m->cat, j->job_id, FLOE_MIGRATE_REQUESTED, r)) {
        if (m->nseen == m->seen_cap) {
            m->seen_cap = m->seen_cap ? 2 * m->seen_cap : 64;
            m->seen = floe_xrealloc(m->seen, m->seen_cap * sizeof(*m->seen));
        }
        m->seen[m->nseen++] = floe_xstrdup(j->job_id);
        rc = job_outcome(m, r, j);
    } else if (floe_mcat_by_id(m->cat, j->archive_id, FLOE_MIGRATE_PLANNED, r) &&
               whole_archive(j, r->size) && !failed) {
        int64_t done = ok ? floe_mplan_iso_seconds(j->completion_date) : 0;
        if (ok && !fresh(m, done))
            return 0;
        snprintf(r->job_id, sizeof(r->job_id), "%s", j->job_id);
        r->job_done = done;
        m->out->jobs_reused++;
        rc = move(m, r, ok ? FLOE_MIGRATE_STAGED : FLOE_MIGRATE_REQUESTED, "existing job reused");
        if (!rc && !ok) {
            if (m->nseen == m->seen_cap) {
                m->seen_cap = m->seen_cap ? 2 * m->seen_cap : 64;
                m->seen = floe_xrealloc(m->seen, m->seen_cap * sizeof(*m->seen));
            }
            m->seen[m->nseen++] = floe_xstrdup(j->job_id);
        }
    }
    return rc ? 1 : 0;
}

static void seen_clear(struct mig *m)
{
    for (size_t i = 0; i < m->nseen; i++)
        free(m->seen[i]);
    m->nseen = 0;
}

static bool was_seen(const struct mig *m, const char *job_id)
{
    for (size_t i = 0; i < m->nseen; i++)
        if (strcmp(m->seen[i], job_id) == 0)
            return true;
    return false;
}

static int refresh_some(struct mig *m);

/* One ListJobs walk in one catalog transaction. */
static int refresh(struct mig *m)
{
    int rc = floe_mcat_begin(m->cat, m->err);
    if (rc)
        return rc;
    rc = refresh_some(m);
    int crc = floe_mcat_commit(m->cat, rc ? NULL : m->err);
    return rc ? rc : crc;
}

/* One ListJobs walk with filter f through list_job. Returns FLOE_OK; the catalog's failure (a
 * write in the callback: m->err set, *cat_failed true); or the listing's own failure,
 * described in *lerr. */
static int walk(struct mig *m, struct floe_job_list_filter *f, struct floe_error *lerr,
                bool *cat_failed)
{
    memset(lerr, 0, sizeof(*lerr));
    int rc = floe_job_list(m->client, m->o->vault, f, list_job, m, lerr);
    *cat_failed = rc == FLOE_E_CANCELLED && m->err->status;
    return *cat_failed ? m->err->status : rc;
}

/* Has every REQUESTED row's job been seen in this refresh's walks? */
static bool requested_all_seen(struct mig *m)
{
    struct floe_mcat_row r;
    int64_t after = -1;
    while (floe_mcat_next(m->cat, FLOE_MIGRATE_REQUESTED, after, &r)) {
        after = r.ord;
        if (!was_seen(m, r.job_id))
            return false;
    }
    return true;
}

/* After a first full walk, a refresh tries two short walks before a full one: when the last
 * full walk listed the jobs in ascending creation order, the tail (from the marker of the last
 * page seen: the jobs requested since are there), then the jobs still in progress (the older
 * requested ones still running). When every REQUESTED row's job was seen in them, their
 * outcomes are recorded and nothing else is listed; a requested job seen in neither finished
 * (or is gone) before the tail and needs the full walk, as does a refused marker. So a run
 * with thousands of jobs lists a few pages per poll, not every job of the vault each time. */
static int refresh_short(struct mig *m, bool *done)
{
    struct floe_error lerr;
    bool cat_failed;
    char marker[sizeof(m->tail_marker)];
    *done = false;
    if (m->ascending && m->tail_marker[0]) {
        struct floe_job_list_filter f = {.completed = -1,
                                         .start_marker = m->tail_marker,
                                         .last_marker = marker,
                                         .last_marker_cap = sizeof(marker)};
        int rc = walk(m, &f, &lerr, &cat_failed);
        if (rc)
            return cat_failed ? rc : FLOE_OK; /* a refused marker, say: the full walk */
        m->out->job_walks_tail++;
        if (marker[0])
            snprintf(m->tail_marker, sizeof(m->tail_marker), "%s", marker);
        if ((*done = requested_all_seen(m)))
            return FLOE_OK;
    }
    struct floe_job_list_filter f = {.completed = 0};
    int rc = walk(m, &f, &lerr, &cat_failed);
    if (rc)
        return cat_failed ? rc : FLOE_OK;
    m->out->job_walks_running++;
    *done = requested_all_seen(m);
    return FLOE_OK;
}

static int refresh_some(struct mig *m)
{
    seen_clear(m);
    if (m->refreshed) {
        bool done = false;
        int rc = refresh_short(m, &done);
        if (rc || done)
            return rc;
        seen_clear(m);
    }
    char marker[sizeof(m->tail_marker)];
    struct floe_job_list_filter f = {
        .completed = -1, .last_marker = marker, .last_marker_cap = sizeof(marker)};
    struct floe_error lerr;
    bool cat_failed;
    m->full_walk = true;
    m->went_down = false;
    m->prev_created = INT64_MIN;
    int rc = walk(m, &f, &lerr, &cat_failed);
    m->full_walk = false;
    if (rc) {
        if (!cat_failed)
            *m->err = lerr;
        return rc;
    }
    m->out->job_walks_full++;
    /* equal dates count as ascending: a wrong guess only costs the short walks (their jobs
     * are not in the tail, so the full walk follows), never a missed job */
    m->ascending = !m->went_down;
    snprintf(m->tail_marker, sizeof(m->tail_marker), "%s", marker);
    /* requested rows whose job the service no longer lists: expired or unknown */
    struct floe_mcat_row r;
    int64_t after = -1;
    while (floe_mcat_next(m->cat, FLOE_MIGRATE_REQUESTED, after, &r)) {
        after = r.ord;
        if (!was_seen(m, r.job_id) && (rc = replan(m, &r, "retrieval job no longer listed")))
            return rc;
    }
    m->refreshed = true;
    return FLOE_OK;
}

/* ---- notifications: --notify-queue ---- */

/* A notification: a job of this catalog is ours (its message deleted), a REQUESTED row's
 * outcome recorded; any other job is left for whoever it belongs to. */
static int notified_job(const struct floe_job_info *j, void *user)
{
    struct mig *m = user;
    struct floe_mcat_row *r = &m->row;
    if (strcmp(j->status_code, "InProgress") != 0 &&
        floe_mcat_by_job(m->cat, j->job_id, FLOE_MIGRATE_REQUESTED, r)) {
        m->out->jobs_notified++;
        if ((m->note_rc = job_outcome(m, r, j)))
            return -1;
        return 1;
    }
    return floe_mcat_has_job(m->cat, j->job_id) ? 1 : 0;
}

/* The queue read once (waiting up to wait_s), in one catalog transaction, then our messages
 * deleted; batches of 10 are read again at once. A failure of the queue is noted and the run
 * goes on polling ListJobs as without one. */
static int receive(struct mig *m, unsigned wait_s)
{
    size_t got = 10, foreign = 0;
    int qrc = FLOE_OK;
    struct floe_error e = {0};
    for (int round = 0; !qrc && got == 10 && round < 100; round++, wait_s = 0) {
        int rc = floe_mcat_begin(m->cat, m->err);
        if (rc)
            return rc;
        qrc = floe_mnotify_poll(m->notify, wait_s, notified_job, m, &got, &foreign, &e);
        rc = m->note_rc;
        int crc = floe_mcat_commit(m->cat, rc ? NULL : m->err);
        if (rc || crc)
            return rc ? rc : crc;
        if (!qrc)
            qrc = floe_mnotify_ack(m->notify, &e);
    }
    m->next_receive = now_s() + 1;
    if (qrc) {
        char msg[FLOE_ERROR_MSG_MAX + 80];
        snprintf(msg, sizeof(msg), "notification queue: %s; ListJobs polling from now on",
                 e.message);
        note(m, NULL, msg);
        floe_mnotify_close(m->notify);
        m->notify = NULL;
        m->poll_s = FIRST_POLL_S;
        m->next_poll = now_s();
    }
    return FLOE_OK;
}

/* ---- request ---- */

static int s3_adopt(struct mig *m, struct floe_mcat_row *r, int rc, const char *sha,
                    const struct floe_error *e, bool *present);

static bool paused_by(const struct floe_error *e, int rc)
{
    return rc == FLOE_E_THROTTLED || strcmp(e->code, "PolicyEnforcedException") == 0 ||
           strcmp(e->code, "ThrottlingException") == 0;
}

static int request_some(struct mig *m, bool *quota_blocked);

/* Requests in one catalog transaction (one sync for a hundred jobs instead of one each). A
 * job requested but not committed (a kill) is adopted by the next refresh, never paid twice;
 * what was recorded is committed even when the run stops. */
static int request_jobs(struct mig *m, bool *quota_blocked)
{
    *quota_blocked = false;
    if (now_s() < m->pause_until)
        return FLOE_OK;
    int rc = floe_mcat_begin(m->cat, m->err);
    if (rc)
        return rc;
    rc = request_some(m, quota_blocked);
    int crc = floe_mcat_commit(m->cat, rc ? NULL : m->err);
    return rc ? rc : crc;
}

#define REQ_BATCH 32  /* retrieval jobs initiated at once */
#define REQ_THREADS 8 /* threads sending them (each call waits for its answer) */

struct req {
    struct floe_mcat_row r;
    struct floe_job_retrieval_params jp;
    struct floe_error e;
    int rc;
};

struct reqs {
    struct mig *m;
    struct req *q;
    size_t n;
    atomic_size_t next;
};

static void *req_worker(void *arg)
{
    struct reqs *x = arg;
    for (size_t i; (i = atomic_fetch_add(&x->next, 1)) < x->n;) {
        struct req *q = &x->q[i];
        q->rc =
            floe_job_initiate_retrieval(x->m->client, x->m->o->vault, &q->jp, q->r.job_id, &q->e);
    }
    return NULL;
}

/* InitiateJob of n rows, REQ_THREADS at a time. */
static void initiate_all(struct mig *m, struct req *q, size_t n)
{
    struct reqs x = {.m = m, .q = q, .n = n};
    atomic_init(&x.next, 0);
    pthread_t t[REQ_THREADS];
    size_t nt = 0;
    for (; nt < REQ_THREADS && nt + 1 < n; nt++)
        if (pthread_create(&t[nt], NULL, req_worker, &x) != 0)
            break;
    req_worker(&x);
    for (size_t i = 0; i < nt; i++)
        pthread_join(t[i], NULL);
}

/* The answer to one InitiateJob: recorded, or the archive failed, or requests paused
 * (*stop), or the run's failure. */
static int request_done(struct mig *m, struct req *q, bool *stop)
{
    struct floe_mcat_row *r = &q->r;
    int rc = q->rc;
    if (rc == FLOE_OK) {
        r->attempts++;
        r->job_done = 0;
        if ((rc = move(m, r, FLOE_MIGRATE_REQUESTED, "")) ||
            (rc = floe_mcat_add_job(m->cat, q->jp.tier, r->size, m->err)))
            return rc;
        m->out->jobs_requested++;
        m->pause_s = 0;
        if (!m->notify)
            m->poll_s = m->fast_jobs ? FAST_POLL_S : FIRST_POLL_S;
        return FLOE_OK;
    }
    if (paused_by(&q->e, rc)) {
        if (!*stop) {
            m->pause_s = m->pause_s ? m->pause_s * 2 : PAUSE_MIN_S;
            if (m->pause_s > PAUSE_MAX_S)
                m->pause_s = PAUSE_MAX_S;
            m->pause_until = now_s() + m->pause_s;
            char msg[700];
            snprintf(msg, sizeof(msg), "retrieval requests paused for %.0f s: %s", m->pause_s,
                     q->e.message);
            note(m, NULL, msg);
        }
        *stop = true;
        return FLOE_OK;
    }
    if (rc == FLOE_E_NOT_FOUND || rc == FLOE_E_INVALID_ARG || rc == FLOE_E_RANGE) {
        r->job_id[0] = '\0';
        return move(m, r, FLOE_MIGRATE_FAILED, q->e.message);
    }
    *m->err = q->e;
    return rc;
}

/* S3: the HeadObjects of q[0..*k) in flight together; archives already in S3 (s3_adopt) leave
 * q and the counts. rc: a failure met while gathering q (kept; the HeadObjects still run). A
 * failure of the run stops at that archive: it and those after it are not requested. */
static int s3_present_some(struct mig *m, struct req *q, size_t *k, uint64_t *jobs, uint64_t *bytes,
                           uint64_t *today, int rc)
{
    struct floe_ms3_item *it = floe_xcalloc(*k, sizeof(*it));
    for (size_t i = 0; i < *k; i++)
        it[i].r = &q[i].r;
    floe_ms3_present_many(m->s3, it, *k);
    size_t keep = 0;
    for (size_t i = 0; i < *k; i++) {
        bool present = false;
        int arc = s3_adopt(m, &q[i].r, it[i].status, it[i].sha256_hex, &it[i].err, &present);
        if (arc) {
            rc = rc ? rc : arc;
            break;
        }
        if (!present) {
            q[keep++] = q[i];
            continue;
        }
        (*jobs)--;
        *bytes -= q[i].r.size;
        *today -= q[i].r.size;
    }
    for (size_t i = 0; i < keep; i++) /* it moved: point at its own row again */
        q[i].jp.archive_id = q[i].r.id;
    free(it);
    *k = keep;
    return rc;
}

static int request_some(struct mig *m, bool *quota_blocked)
{
    uint64_t n[FLOE_MIGRATE_STATE_COUNT], b[FLOE_MIGRATE_STATE_COUNT];
    floe_mcat_counts(m->cat, n, b);
    uint64_t jobs = n[FLOE_MIGRATE_REQUESTED] + n[FLOE_MIGRATE_STAGED] + n[FLOE_MIGRATE_COPYING];
    uint64_t bytes = b[FLOE_MIGRATE_REQUESTED] + b[FLOE_MIGRATE_STAGED] + b[FLOE_MIGRATE_COPYING];
    uint64_t today = floe_mcat_today_bytes(m->cat);
    unsigned max_jobs = m->o->max_jobs ? m->o->max_jobs : FLOE_MIGRATE_DEFAULT_MAX_JOBS;
    uint64_t max_staged =
        m->o->max_staged_bytes ? m->o->max_staged_bytes : FLOE_MIGRATE_DEFAULT_MAX_STAGED;
    struct req *q = floe_xcalloc(REQ_BATCH, sizeof(*q));
    int64_t after = -1;
    int rc = FLOE_OK;
    bool stop = false;
    while (!rc && !stop) {
        size_t k = 0;
        bool full = false;
        struct floe_mcat_row r;
        while (!rc && k < REQ_BATCH && jobs < max_jobs &&
               floe_mcat_next(m->cat, FLOE_MIGRATE_PLANNED, after, &r)) {
            /* a row that stops the round is not passed: archives found in S3 below may free
             * the budget for it */
            if (jobs && bytes + r.size > max_staged) {
                full = true; /* one archive larger than the cap still goes, alone */
                break;
            }
            if (m->o->max_per_day_bytes && today && today + r.size > m->o->max_per_day_bytes) {
                *quota_blocked = full = true;
                break;
            }
            if (m->o->cancel && atomic_load(m->o->cancel)) {
                rc = floe_error_set(m->err, FLOE_E_CANCELLED, "interrupted");
                break;
            }
            after = r.ord;
            if (m->s3 && r.size > FLOE_MIGRATE_S3_OBJECT_MAX) {
                rc = move(m, &r, FLOE_MIGRATE_FAILED,
                          "larger than S3's 5 TiB object limit: not requested");
                continue;
            }
            q[k] = (struct req){.r = r};
            q[k].jp = (struct floe_job_retrieval_params){.archive_id = q[k].r.id,
                                                         .archive_size = r.size,
                                                         .tier = m->prices.tier[m->tier].name,
                                                         .sns_topic = m->o->notify_topic,
                                                         .description = "floe migrate"};
            k++;
            jobs++;
            bytes += r.size;
            today += r.size;
        }
        size_t gathered = k;
        if (m->s3 && k) /* already in S3 (an earlier migration): no job to pay for */
            rc = s3_present_some(m, q, &k, &jobs, &bytes, &today, rc);
        bool adopted = k < gathered; /* their jobs, bytes and quota are free again */
        if (adopted && full) {
            full = *quota_blocked = false; /* the row that stopped the round is tried again */
        }
        if (k)
            initiate_all(m, q, k);
        for (size_t i = 0; i < k; i++) {
            struct floe_error keep = *m->err;
            int qrc = request_done(m, &q[i], &stop); /* every paid job is recorded */
            if (rc)
                *m->err = keep; /* the first failure is the one reported */
            rc = rc ? rc : qrc;
        }
        if ((gathered < REQ_BATCH && !adopted) || full)
            break;
    }
    free(q);
    return rc;
}

/* ---- copy ---- */

/* mkdir -p of the directories of dest-relative name; 0 or errno. */
static int make_dirs(const char *dest, const char *name)
{
    char p[4096 + FLOE_MNAME_CAP + 2];
    size_t base = (size_t)snprintf(p, sizeof(p), "%s/", dest);
    snprintf(p + base, sizeof(p) - base, "%s", name);
    for (char *s = p + base; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST)
            return errno;
        struct stat st;
        if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
            return ENOTDIR;
        *s = '/';
    }
    return 0;
}

/* Tree hash, SHA-256 and size of a file: small files in one read on this thread (the file
 * hasher's 64 MiB of buffers cost more than hashing them), larger ones on the hash pool. */
static int hash_file(struct mig *m, const char *path, struct floe_filehash_result *h,
                     struct floe_error *err)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || (uint64_t)st.st_size > SMALL_FILE) {
        if (fd >= 0)
            close(fd);
        struct floe_hashpool *pool = NULL;
        floe_client_hashpool(m->client, &pool, err);
        return floe_filehash(path, pool, h, err);
    }
    size_t n = (size_t)st.st_size, got = 0;
    uint8_t *buf = floe_xmalloc(n ? n : 1);
    uint8_t(*leaves)[FLOE_HASH_BYTES] =
        floe_xcalloc(floe_treehash_leaf_count(n) + 1, FLOE_HASH_BYTES);
    int rc = FLOE_OK;
    while (got < n) {
        ssize_t k = read(fd, buf + got, n - got);
        if (k <= 0) {
            rc = floe_error_set_errno(err, FLOE_E_IO, k < 0 ? errno : EIO, path, "cannot read %s",
                                      path);
            break;
        }
        got += (size_t)k;
    }
    if (!rc) {
        floe_treehash_part(buf, n, leaves, h->tree, h->linear);
        h->size = n;
    }
    close(fd);
    free(buf);
    free(leaves);
    return rc;
}

/* Reading a file back for its SHA-256: a reader thread fills one of two buffers while the
 * caller hashes the other, so the disk and the hash overlap. */
#define SHA_READ_BYTES ((size_t)4 << 20)
struct sha_reader {
    int fd;
    uint8_t *buf[2];
    ssize_t len[2]; /* > 0 bytes; 0 end of file; < 0 failed (err[] holds errno) */
    int err[2];
    bool full[2];
    unsigned cur; /* the buffer the caller takes next */
    bool threaded;
    pthread_t t;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

/* One read into buf: EINTR retried; O_DIRECT refused at read time (EINVAL: a file system
 * that opens but cannot read directly) turns the descriptor buffered and reads again. */
static ssize_t sha_read(int fd, uint8_t *buf, int *err)
{
    for (;;) {
        ssize_t k = read(fd, buf, SHA_READ_BYTES);
        if (k >= 0)
            return k;
        int fl;
        if (errno == EINVAL && (fl = fcntl(fd, F_GETFL)) >= 0 && (fl & O_DIRECT) &&
            fcntl(fd, F_SETFL, fl & ~O_DIRECT) == 0)
            continue;
        if (errno != EINTR) {
            *err = errno;
            return k;
        }
    }
}

static void *sha_reader_thread(void *arg)
{
    struct sha_reader *rd = arg;
    for (unsigned i = 0;; i ^= 1) {
        pthread_mutex_lock(&rd->mu);
        while (rd->full[i])
            pthread_cond_wait(&rd->cv, &rd->mu);
        pthread_mutex_unlock(&rd->mu);
        int e = 0;
        ssize_t k = sha_read(rd->fd, rd->buf[i], &e);
        pthread_mutex_lock(&rd->mu);
        rd->len[i] = k;
        rd->err[i] = e;
        rd->full[i] = true;
        pthread_cond_broadcast(&rd->cv);
        pthread_mutex_unlock(&rd->mu);
        if (k <= 0)
            return NULL;
    }
}

/* Open path for reading back. The download wrote it with O_DIRECT, so the page cache does not
 * hold it: it is read with O_DIRECT too (the disk copies straight into the aligned buffers; a
 * buffered read cost a page-cache copy per byte, as much CPU as the hash), buffered where the
 * file system refuses O_DIRECT; with a reader thread where one starts, else read in turn.
 * Returns 0 or an errno (nothing to close then). */
static int sha_open(struct sha_reader *rd, const char *path)
{
    *rd = (struct sha_reader){.fd = open(path, O_RDONLY | O_CLOEXEC | O_DIRECT)};
    if (rd->fd < 0 && errno == EINVAL)
        rd->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (rd->fd < 0)
        return errno;
    rd->buf[0] = aligned_alloc(4096, SHA_READ_BYTES);
    rd->buf[1] = aligned_alloc(4096, SHA_READ_BYTES);
    if (!rd->buf[0] || !rd->buf[1]) {
        free(rd->buf[0]);
        free(rd->buf[1]);
        close(rd->fd);
        return ENOMEM;
    }
    if (pthread_mutex_init(&rd->mu, NULL) == 0) {
        if (pthread_cond_init(&rd->cv, NULL) == 0) {
            rd->threaded = pthread_create(&rd->t, NULL, sha_reader_thread, rd) == 0;
            if (!rd->threaded)
                pthread_cond_destroy(&rd->cv);
        }
        if (!rd->threaded)
            pthread_mutex_destroy(&rd->mu);
    }
    return 0;
}

/* The next piece of the file: > 0 bytes at *p (valid until sha_done()), 0 at the end, < 0 on
 * a read error (*e its errno). After 0 or < 0 call only sha_close(). */
static ssize_t sha_next(struct sha_reader *rd, const uint8_t **p, int *e)
{
    ssize_t k;
    if (rd->threaded) {
        pthread_mutex_lock(&rd->mu);
        while (!rd->full[rd->cur])
            pthread_cond_wait(&rd->cv, &rd->mu);
        k = rd->len[rd->cur];
        *e = rd->err[rd->cur];
        pthread_mutex_unlock(&rd->mu);
    } else {
        k = sha_read(rd->fd, rd->buf[0], e);
    }
    *p = rd->buf[rd->threaded ? rd->cur : 0];
    return k;
}

/* The piece sha_next() gave is hashed: its buffer goes back to the reader. */
static void sha_done(struct sha_reader *rd)
{
    if (!rd->threaded)
        return;
    pthread_mutex_lock(&rd->mu);
    rd->full[rd->cur] = false;
    pthread_cond_broadcast(&rd->cv);
    pthread_mutex_unlock(&rd->mu);
    rd->cur ^= 1;
}

/* After sha_next() returned 0 or < 0 (the reader thread stopped at the same end). */
static void sha_close(struct sha_reader *rd)
{
    if (rd->threaded) {
        pthread_join(rd->t, NULL);
        pthread_cond_destroy(&rd->cv);
        pthread_mutex_destroy(&rd->mu);
    }
    close(rd->fd);
    free(rd->buf[0]);
    free(rd->buf[1]);
}

/*
 * The SHA-256 of n (1 or 2) files just written, into each item's r.sha256 (or its rc and err).
 * Two files are hashed together: while both have bytes left, each 4 MiB piece of one and the
 * piece of the other go through floe_sha256_update2(), which runs the two streams interleaved
 * in one loop (SHA-NI): about the time of one stream, where the hash of every byte copied was
 * the cost that held big-archive migration below `floe retrieve` (docs/performance.md).
 */
static void sha256_files(struct sha_item *it, unsigned n)
{
    struct sha_reader rd[2];
    struct floe_sha256 c[2];
    bool open_[2] = {false, false}, more[2] = {false, false};
    for (unsigned i = 0; i < n; i++) {
        int e = sha_open(&rd[i], it[i].path);
        if (e) {
            it[i].rc = floe_error_set_errno(&it[i].err, e == ENOMEM ? FLOE_E_NOMEM : FLOE_E_IO, e,
                                            it[i].path, "cannot open %s", it[i].path);
            continue;
        }
        open_[i] = more[i] = true;
        floe_sha256_init(&c[i]);
    }
    while (more[0] || more[1]) {
        const uint8_t *p[2] = {NULL, NULL};
        ssize_t k[2] = {0, 0};
        for (unsigned i = 0; i < n; i++) {
            if (!more[i])
                continue;
            int e = 0;
            k[i] = sha_next(&rd[i], &p[i], &e);
            if (k[i] > 0)
                continue;
            more[i] = false;
            if (k[i] < 0)
                it[i].rc = floe_error_set_errno(&it[i].err, FLOE_E_IO, e, it[i].path,
                                                "cannot read %s", it[i].path);
        }
        size_t both = 0;
        if (k[0] > 0 && k[1] > 0) {
            both = (size_t)(k[0] < k[1] ? k[0] : k[1]);
            floe_sha256_update2(&c[0], p[0], &c[1], p[1], both);
        }
        for (unsigned i = 0; i < n; i++) {
            if (k[i] <= 0)
                continue;
            floe_sha256_update(&c[i], p[i] + both, (size_t)k[i] - both);
            sha_done(&rd[i]);
        }
    }
    for (unsigned i = 0; i < n; i++) {
        if (!open_[i])
            continue;
        sha_close(&rd[i]);
        if (it[i].rc)
            continue;
        uint8_t sha[32];
        floe_sha256_final(&c[i], sha);
        floe_treehash_hex(sha, it[i].r.sha256);
    }
}

static void *sha_thread(void *arg)
{
    struct mig *m = arg;
    sha256_files(m->sha.run, m->sha.nrun);
    return NULL;
}

/* The running pair (or single) joined and its archives recorded done, in the order they were
 * copied; FLOE_OK or the first failure (an archive whose SHA-256 failed stays verified: the
 * next run checks the file again). */
static int sha_join_running(struct mig *m)
{
    if (!m->sha.active)
        return FLOE_OK;
    if (m->sha.threaded)
        pthread_join(m->sha.t, NULL);
    m->sha.active = m->sha.threaded = false;
    int rc = FLOE_OK;
    for (unsigned i = 0; i < m->sha.nrun && !rc; i++) {
        if (m->sha.run[i].rc) {
            *m->err = m->sha.run[i].err;
            rc = m->sha.run[i].rc;
        } else {
            rc = move(m, &m->sha.run[i].r, FLOE_MIGRATE_DONE, "");
        }
    }
    return rc;
}

/* Start hashing the n items now in m->sha.run: on a thread (while the next archive
 * downloads), else here. */
static int sha_run(struct mig *m, unsigned n)
{
    m->sha.nrun = n;
    for (unsigned i = 0; i < n; i++) {
        m->sha.run[i].rc = FLOE_OK;
        memset(&m->sha.run[i].err, 0, sizeof(m->sha.run[i].err));
    }
    m->sha.threaded = pthread_create(&m->sha.t, NULL, sha_thread, m) == 0;
    if (!m->sha.threaded)
        sha_thread(m);    /* no thread: here */
    m->sha.active = true; /* recorded by sha_join_running() */
    return FLOE_OK;
}

/* Every SHA-256 pending joined or taken, and its archive recorded done: the running pair,
 * then an archive held for a partner (alone, here). */
static int sha_join(struct mig *m)
{
    int rc = sha_join_running(m);
    if (rc || !m->sha.held)
        return rc;
    m->sha.held = false;
    m->sha.run[0] = m->sha.wait;
    m->sha.nrun = 1;
    m->sha.run[0].rc = FLOE_OK;
    memset(&m->sha.run[0].err, 0, sizeof(m->sha.run[0].err));
    sha256_files(m->sha.run, 1);
    if (m->sha.run[0].rc) {
        *m->err = m->sha.run[0].err;
        return m->sha.run[0].rc;
    }
    return move(m, &m->sha.run[0].r, FLOE_MIGRATE_DONE, "");
}

/* r (verified, in place at path) gets its SHA-256 read back: the first of a pair is held until
 * the next archive is in place, then both are hashed together on a thread while the next ones
 * download (sha256_files); the pair before is joined first. A held archive is hashed alone when
 * nothing else is staged (sha_join). Killed meanwhile, the archive stays verified and the next
 * run checks its file again. */
static int sha_start(struct mig *m, const struct floe_mcat_row *r, const char *path)
{
    struct sha_item *it = m->sha.held ? &m->sha.run[1] : &m->sha.wait;
    if (m->sha.held) {
        int rc = sha_join_running(m);
        if (rc)
            return rc;
    }
    it->r = *r;
    snprintf(it->path, sizeof(it->path), "%s", path);
    if (!m->sha.held) {
        m->sha.held = true;
        return FLOE_OK;
    }
    m->sha.held = false;
    m->sha.run[0] = m->sha.wait;
    return sha_run(m, 2);
}

/* The file at path is in place: its tree hash must be the archive's; records its SHA-256. */
static int finish(struct mig *m, struct floe_mcat_row *r, const char *path, bool adopt)
{
    struct floe_filehash_result h;
    struct floe_error herr = {0};
    int rc = hash_file(m, path, &h, &herr);
    if (rc) {
        *m->err = herr;
        return rc;
    }
    char tree[65];
    floe_treehash_hex(h.tree, tree);
    if ((r->tree[0] && strcmp(tree, r->tree) != 0) || h.size != r->size) {
        char why[700];
        say(why, sizeof(why),
            "%s exists and is not this archive (size %" PRIu64 ", tree hash %s; the "
            "archive: size %" PRIu64 ", tree hash %s): move it away and run again",
            path, h.size, tree, r->size, r->tree);
        return move(m, r, FLOE_MIGRATE_FAILED, why);
    }
    if (r->state != FLOE_MIGRATE_VERIFIED &&
        (rc = move(m, r, FLOE_MIGRATE_VERIFIED, adopt ? "already in place" : "")))
        return rc;
    floe_treehash_hex(h.linear, r->sha256);
    return move(m, r, FLOE_MIGRATE_DONE, "");
}

static void dest_path(const struct mig *m, const struct floe_mcat_row *r, char *out, size_t cap)
{
    if (m->s3)
        floe_ms3_dest(m->s3, r->name, out, cap);
    else
        snprintf(out, cap, "%s/%s", m->dest, r->name);
}

/* A failed archive leaves nothing behind: its part file and its download journal go. */
static void discard(struct mig *m, const struct floe_mcat_row *r, const char *path)
{
    char p[4096 + FLOE_MNAME_CAP + 32];
    snprintf(p, sizeof(p), "%s%s", path, FLOE_RETRIEVE_PART_SUFFIX);
    unlink(p);
    if (floe_retrieve_checkpoint_path(m->client, m->o->vault, r->job_id, path, p, sizeof(p),
                                      NULL) == FLOE_OK)
        unlink(p);
}

#define MOVED (-1) /* fetch(): the archive was failed or planned again; the run goes on */

/* r's job output into path: DescribeJob, the job's tree hash against the inventory's, then the
 * verified parallel download (renamed to path only once whole and matching). Returns FLOE_OK,
 * MOVED, or the run's failure (r back in STAGED). */
/* DescribeJob of r's job: it must have succeeded with the inventory's tree hash. Returns
 * FLOE_OK, MOVED (the archive failed), or the describe's status (derr filled). */
static int check_job(struct mig *m, struct floe_mcat_row *r, struct floe_job_info *job,
                     struct floe_error *derr)
{
    int rc = floe_job_describe(m->client, m->o->vault, r->job_id, job, derr);
    if (rc == FLOE_OK && strcmp(job->status_code, "Succeeded") != 0)
        rc = floe_error_set(derr, FLOE_E_NOT_FOUND, "job %s is %s", r->job_id, job->status_code);
    if (rc == FLOE_OK && r->tree[0]) {
        char jt[65] = "", why[900];
        if (job->has_archive_tree_hash)
            floe_treehash_hex(job->archive_tree_hash, jt);
        else if (job->has_tree_hash)
            floe_treehash_hex(job->tree_hash, jt);
        if (jt[0] && strcmp(jt, r->tree) != 0) {
            say(why, sizeof(why),
                "retrieval job %s reports tree hash %s, the inventory %s: not copied", r->job_id,
                jt, r->tree);
            rc = move(m, r, FLOE_MIGRATE_FAILED, why);
            return rc ? rc : MOVED;
        }
    }
    return rc;
}

/* What a failed copy of r means: the job output gone -> a new job; a checksum that never
 * matched -> the archive fails; anything else stops the run with r back in STAGED. */
static int copy_failed(struct mig *m, struct floe_mcat_row *r, int rc, struct floe_error *derr)
{
    char why[900];
    switch (rc) {
    case FLOE_E_NOT_FOUND:
        m->out->jobs_rerequested++;
        rc = replan(m, r, derr->message);
        return rc ? rc : MOVED;
    case FLOE_E_CHECKSUM:
    case FLOE_E_CORRUPT:
        if (strstr(derr->message, r->id))
            say(why, sizeof(why), "%s", derr->message);
        else
            say(why, sizeof(why), "archive %s: %s", r->id, derr->message);
        rc = move(m, r, FLOE_MIGRATE_FAILED, why);
        return rc ? rc : MOVED;
    default: /* the whole run stops; the same command continues */
        floe_mcat_set(m->cat, r, FLOE_MIGRATE_STAGED, NULL);
        *m->err = *derr;
        return rc;
    }
}

static int fetch(struct mig *m, struct floe_mcat_row *r, const char *path, bool *whole,
                 char sha256[65], unsigned *peak)
{
    *whole = false;
    sha256[0] = 0;
    *peak = 0;
    struct floe_job_info job;
    struct floe_error derr = {0};
    int rc = check_job(m, r, &job, &derr);
    if (rc == MOVED)
        return rc;
    if (rc == FLOE_OK) {
        struct floe_download_options d = {.vault = m->o->vault,
                                          .job_id = r->job_id,
                                          .output_path = path,
                                          .concurrency = m->o->concurrency,
                                          .job = &job,
                                          /* a small archive is cheaper fetched again than
                                             journaled (a journal costs fsyncs per segment) */
                                          .no_checkpoint = r->size <= SMALL_FILE,
                                          .cancel = m->o->cancel};
        if (m->linear_sha256) { /* the SHA-256 in the download's pass (LINEAR_SEGMENT) */
            d.linear_sha256 = true;
            d.segment_size = LINEAR_SEGMENT;
            d.adaptive_start = m->adaptive_next; /* a far link: where the last one got to */
        }
        struct floe_download_result dr;
        rc = floe_job_output_download(m->client, &d, &dr, &derr);
        if (!rc) {
            *peak = dr.peak_in_flight;
            if (dr.segments > 1) /* one segment: nothing measured */
                m->adaptive_next = dr.adaptive_next;
        }
        char tree[65];
        if (!rc && dr.has_tree && dr.verification == FLOE_VERIFY_WHOLE) {
            floe_treehash_hex(dr.tree, tree);
            *whole = dr.size == r->size && strcmp(tree, r->tree) == 0;
            if (*whole && dr.has_sha256)
                floe_treehash_hex(dr.sha256, sha256);
        }
    }
    if (rc == FLOE_E_CHECKSUM || rc == FLOE_E_CORRUPT)
        discard(m, r, path);
    return rc ? copy_failed(m, r, rc, &derr) : FLOE_OK;
}

static int copy_to_dir(struct mig *m, struct floe_mcat_row *r)
{
    char path[4096 + FLOE_MNAME_CAP + 2], why[900];
    dest_path(m, r, path, sizeof(path));
    int e = make_dirs(m->dest, r->name);
    if (e) {
        say(why, sizeof(why), "cannot create the directories of %s: %s", path, strerror(e));
        return e == ENOSPC ? floe_error_set_errno(m->err, FLOE_E_IO, e, path, "%s", why)
                           : move(m, r, FLOE_MIGRATE_FAILED, why);
    }
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISREG(st.st_mode)) {
            say(why, sizeof(why), "%s exists and is not a regular file", path);
            return move(m, r, FLOE_MIGRATE_FAILED, why);
        }
        if (r->state == FLOE_MIGRATE_STAGED &&
            floe_mcat_set(m->cat, r, FLOE_MIGRATE_COPYING, m->err))
            return m->err->status;
        m->out->already_present++;
        return finish(m, r, path, true);
    }
    if (!fresh(m, r->job_done))
        return replan(m, r, "job output expires soon: a new job is requested");
    bool whole = false;
    char sha256[65];
    unsigned peak;
    int rc = move(m, r, FLOE_MIGRATE_COPYING, "");
    if (!rc)
        rc = fetch(m, r, path, &whole, sha256, &peak);
    if (rc)
        return rc == MOVED ? FLOE_OK : rc;
    m->out->copied++;
    m->out->copied_bytes += r->size;
    if ((rc = move(m, r, FLOE_MIGRATE_VERIFIED, "")))
        return rc;
    if (!whole)
        return finish(m, r, path, false);
    if (sha256[0]) { /* taken from the downloaded bytes, in the pass that verified them */
        memcpy(r->sha256, sha256, sizeof(sha256));
        say(why, sizeof(why), "SHA-256 taken while downloading (segments in flight: up to %u)",
            peak);
        return move(m, r, FLOE_MIGRATE_DONE, why);
    }
    /* the download matched the inventory's tree hash as a whole: only the SHA-256 is left,
     * read back while the next archive downloads */
    return sha_start(m, r, path);
}

/* ---- small archives to a directory: many at a time ---- */

#define BATCH_MAX 128                    /* archives fetched at once */
#define BATCH_BYTES ((uint64_t)64 << 20) /* their bytes in memory */
#define BATCH_FILE ((uint64_t)1 << 20)   /* archives up to this size go in batches */

struct batch {
    struct floe_mcat_row rows[BATCH_MAX];
    struct floe_mfetch f[BATCH_MAX];
    char path[BATCH_MAX][4096 + FLOE_MNAME_CAP + 2];
    bool written[BATCH_MAX];
    size_t n;
};

/* Writes fetched item i to "<path>.floe-part" (not yet durable, not yet in place). */
static int batch_write(struct mig *m, struct batch *b, size_t i)
{
    char part[sizeof(b->path[0]) + 16];
    snprintf(part, sizeof(part), "%s%s", b->path[i], FLOE_RETRIEVE_PART_SUFFIX);
    int fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t n = (size_t)b->f[i].len, done = 0;
    while (fd >= 0 && done < n) {
        ssize_t k = write(fd, b->f[i].buf + done, n - done);
        if (k <= 0)
            break;
        done += (size_t)k;
    }
    int e = errno;
    if (fd >= 0 && close(fd) != 0 && done == n)
        done = n + 1, e = errno;
    if (fd >= 0 && done == n)
        return FLOE_OK;
    unlink(part);
    return floe_error_set_errno(m->err, FLOE_E_IO, e ? e : EIO, part, "cannot write %s", part);
}

/* Every written file made durable, then renamed into place, then the renames made durable:
 * two syncfs() calls for the whole batch instead of an fsync per file. */
static int batch_place(struct mig *m, struct batch *b)
{
    int fd = -1, rc = FLOE_OK;
    for (size_t i = 0; i < b->n && fd < 0; i++)
        if (b->written[i])
            fd = open(m->dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return FLOE_OK;
    if (syncfs(fd) != 0)
        rc = floe_error_set_errno(m->err, FLOE_E_IO, errno, m->dest, "cannot sync %s", m->dest);
    for (size_t i = 0; i < b->n; i++) {
        if (!b->written[i])
            continue;
        char part[sizeof(b->path[0]) + 16];
        snprintf(part, sizeof(part), "%s%s", b->path[i], FLOE_RETRIEVE_PART_SUFFIX);
        if (rc || rename(part, b->path[i]) != 0) {
            if (!rc)
                rc = floe_error_set_errno(m->err, FLOE_E_IO, errno, b->path[i],
                                          "cannot rename %s into place", part);
            unlink(part);
            b->written[i] = false;
        }
    }
    if (!rc && syncfs(fd) != 0)
        rc = floe_error_set_errno(m->err, FLOE_E_IO, errno, m->dest, "cannot sync %s", m->dest);
    close(fd);
    return rc;
}

/* The next STAGED archive after *after that goes in a batch (up to BATCH_FILE). */
static bool batch_next(struct mig *m, int64_t *after, struct floe_mcat_row *r)
{
    while (floe_mcat_next(m->cat, FLOE_MIGRATE_STAGED, *after, r)) {
        *after = r->ord;
        if (r->size <= BATCH_FILE)
            return true;
    }
    return false;
}

/* What a batch's transaction made done: counted as copied only once it is committed. */
struct tally {
    uint64_t copied, bytes, rerequested;
};

/* A batch's archive in its destination (r->sha256 set): done, inside the batch's transaction
 * (counted in t, added to the run's counts by batch_commit). */
static int batch_done(struct mig *m, struct floe_mcat_row *r, struct tally *t)
{
    int rc = move(m, r, FLOE_MIGRATE_COPYING, "");
    if (!rc)
        rc = move(m, r, FLOE_MIGRATE_VERIFIED, "");
    if (!rc)
        rc = move(m, r, FLOE_MIGRATE_DONE, "");
    if (!rc) {
        t->copied++;
        t->bytes += r->size;
    }
    return rc;
}

/* Opens a batch's transaction (its events held: note()). */
static int batch_begin(struct mig *m, int rc)
{
    int trc = floe_mcat_begin(m->cat, rc ? NULL : m->err);
    m->hold = !trc;
    return trc;
}

/* Ends a batch's transaction: committed, its done archives count as copied and its events are
 * reported; a write inside it that failed (trc) or a failed commit rolls the whole batch back
 * (nothing counted or reported: what is in place is adopted by the next run). Returns the
 * run's failure rc, else trc, else the commit's. */
static int batch_commit(struct mig *m, int rc, int trc, const struct tally *t)
{
    int crc = trc ? trc : floe_mcat_commit(m->cat, rc ? NULL : m->err);
    if (crc) {
        floe_mcat_rollback(m->cat);
    } else {
        m->out->copied += t->copied;
        m->out->copied_bytes += t->bytes;
        m->out->jobs_rerequested += t->rerequested;
    }
    m->hold = false;
    for (size_t i = 0; i < m->nheld; i++) {
        struct held *h = &m->held[i];
        struct floe_mcat_row r = {.state = h->state, .size = h->size};
        snprintf(r.id, sizeof(r.id), "%s", h->id);
        snprintf(r.name, sizeof(r.name), "%s", h->name);
        if (!crc)
            note(m, &r, h->message);
        free(h->id);
        free(h->name);
        free(h->message);
    }
    free(m->held);
    m->held = NULL;
    m->nheld = 0;
    return rc ? rc : crc;
}

/* A batch's archive whose job output is gone (f's FLOE_E_NOT_FOUND): a new job, inside the
 * batch's transaction (counted in t, added to the run's counts by batch_commit). */
static int batch_gone(struct mig *m, struct floe_mcat_row *r, const struct floe_mfetch *f,
                      struct tally *t)
{
    int rc = replan(m, r, f->err.message);
    if (!rc)
        t->rerequested++;
    return rc;
}

enum { FETCHED_OK, FETCHED_GONE, FETCHED_REDO, FETCHED_FAILED };

/* What a batch's fetch f of r came to: its bytes match the inventory's tree hash (when known)
 * and the service's (when sent): FETCHED_OK; the job output is gone: FETCHED_GONE (planned
 * again when the batch is recorded); a mismatch: FETCHED_REDO (the one-archive path fetches it
 * again, with its message); any other failure is the run's: FETCHED_FAILED (m->err set). */
static int batch_fetched(struct mig *m, const struct floe_mcat_row *r, const struct floe_mfetch *f)
{
    char got[65];
    if (f->status == FLOE_E_NOT_FOUND)
        return FETCHED_GONE;
    if (f->status) {
        *m->err = f->err;
        return FETCHED_FAILED;
    }
    floe_treehash_hex(f->tree, got);
    if ((r->tree[0] && strcmp(got, r->tree) != 0) ||
        (f->service_tree[0] && strcasecmp(f->service_tree, got) != 0))
        return FETCHED_REDO;
    return FETCHED_OK;
}

/* The catalog after a batch, in one transaction: placed archives done, archives whose job
 * output is gone planned again. A failure of the run itself (rc) is kept. */
static int batch_record(struct mig *m, struct batch *b, int rc)
{
    struct tally t = {0};
    int trc = batch_begin(m, rc);
    if (trc)
        return rc ? rc : trc;
    for (size_t i = 0; i < b->n && !trc; i++) {
        struct floe_mcat_row *r = &b->rows[i];
        if (b->written[i]) {
            floe_treehash_hex(b->f[i].sha256, r->sha256);
            trc = batch_done(m, r, &t);
        } else if (b->f[i].status == FLOE_E_NOT_FOUND) {
            trc = batch_gone(m, r, &b->f[i], &t);
        }
    }
    return batch_commit(m, rc, trc, &t);
}

/*
 * Small STAGED archives (up to BATCH_FILE) copied many at a time: their job outputs fetched
 * together into memory (floe_mfetch_run), each checked against the inventory's tree hash (and
 * the service's), written beside its destination, made durable and renamed into place, and
 * recorded in one transaction. An archive that needs more (an existing file, an expiring job,
 * a hash that did not match: the re-fetches and their message) takes the one-archive path.
 * Returns FLOE_OK, or the run's failure (the archives not placed stay STAGED).
 */
static int copy_batch(struct mig *m)
{
    struct batch *b = floe_xcalloc(1, sizeof(*b));
    uint64_t bytes = 0;
    int64_t after = -1;
    struct floe_mcat_row r;
    int rc = FLOE_OK;
    while (b->n < BATCH_MAX && bytes < BATCH_BYTES && batch_next(m, &after, &r)) {
        size_t i = b->n;
        struct stat st;
        dest_path(m, &r, b->path[i], sizeof(b->path[i]));
        if (!fresh(m, r.job_done) || lstat(b->path[i], &st) == 0 ||
            make_dirs(m->dest, r.name) != 0) {
            if ((rc = copy_to_dir(m, &r)))
                break;
            continue;
        }
        b->rows[i] = r;
        b->f[i] = (struct floe_mfetch){.job_id = b->rows[i].job_id,
                                       .len = r.size,
                                       .whole = true,
                                       .buf = floe_xmalloc(r.size ? r.size : 1)};
        b->n++;
        bytes += r.size;
    }
    if (!rc && b->n)
        floe_mfetch_run(m->client, m->o->vault, b->f, b->n);
    size_t redo[BATCH_MAX], nredo = 0;
    for (size_t i = 0; i < b->n && !rc; i++) {
        int what = batch_fetched(m, &b->rows[i], &b->f[i]);
        if (what == FETCHED_FAILED)
            rc = b->f[i].status;
        else if (what == FETCHED_REDO)
            redo[nredo++] = i;
        else if (what == FETCHED_OK && !(rc = batch_write(m, b, i)))
            b->written[i] = true;
    }
    if (!rc)
        rc = batch_place(m, b);
    else
        batch_place(m, b);
    rc = batch_record(m, b, rc);
    for (size_t k = 0; k < nredo && !rc; k++)
        rc = copy_to_dir(m, &b->rows[redo[k]]);
    for (size_t i = 0; i < b->n; i++)
        free(b->f[i].buf);
    free(b);
    return rc;
}

/* S3: what floe_ms3_present()'s answer (rc, sha, e) means for r: the object is there already
 * (same archive id and tree hash): done without a job. Returns FLOE_OK (moved to done,
 * *present set), or FLOE_OK with *present false (not there: go on), or the run's failure; an
 * object in the way fails the archive. */
static int s3_adopt(struct mig *m, struct floe_mcat_row *r, int rc, const char *sha,
                    const struct floe_error *e, bool *present)
{
    *present = false;
    if (rc == FLOE_E_NOT_FOUND)
        return FLOE_OK;
    *present = true;
    if (rc == FLOE_E_SOURCE_CHANGED)
        return move(m, r, FLOE_MIGRATE_FAILED, e->message);
    if (rc) {
        *m->err = *e;
        return rc;
    }
    m->out->already_present++;
    if (r->state == FLOE_MIGRATE_STAGED &&
        (rc = floe_mcat_set(m->cat, r, FLOE_MIGRATE_COPYING, m->err)))
        return rc;
    snprintf(r->sha256, sizeof(r->sha256), "%s", sha);
    if ((rc = move(m, r, FLOE_MIGRATE_VERIFIED, "already in S3")))
        return rc;
    return move(m, r, FLOE_MIGRATE_DONE, "");
}

/* S3: HeadObject of r's key, then s3_adopt(). */
static int s3_present(struct mig *m, struct floe_mcat_row *r, bool *present)
{
    struct floe_error e = {0};
    char sha[65] = "";
    int rc = floe_ms3_present(m->s3, r, sha, &e);
    return s3_adopt(m, r, rc, sha, &e, present);
}

/* S3: the job output streams into the object (floe_ms3_stream); a multipart upload a killed
 * run left is continued from the parts S3 confirms. */
static int copy_to_s3(struct mig *m, struct floe_mcat_row *r)
{
    bool present;
    int rc = s3_present(m, r, &present);
    if (rc || present)
        return rc;
    if (!fresh(m, r->job_done)) {
        floe_ms3_abort_recorded(m->s3, m->cat, r, m->staging);
        return replan(m, r, "job output expires soon: a new job is requested");
    }
    if ((rc = move(m, r, FLOE_MIGRATE_COPYING, "")))
        return rc;
    struct floe_job_info job;
    struct floe_error e = {0};
    rc = check_job(m, r, &job, &e);
    if (rc == MOVED) {
        floe_ms3_abort_recorded(m->s3, m->cat, r, m->staging);
        return FLOE_OK;
    }
    char sha[65], desc[1100];
    struct floe_ms3_stats st = {0};
    if (!rc) {
        floe_mcat_description(m->cat, r->ord, desc, sizeof(desc));
        struct floe_ms3_source src = {.client = m->client,
                                      .vault = m->o->vault,
                                      .job_id = r->job_id,
                                      .journal_dir = m->staging,
                                      .cancel = m->o->cancel};
        rc = floe_ms3_stream(m->s3, m->cat, r, &src, desc, sha, &st, &e);
    }
    if (st.parts_resumed) {
        char msg[200];
        say(msg, sizeof(msg), "resumed the S3 upload: %u parts confirmed by ListParts, %u sent",
            st.parts_resumed, st.parts_sent);
        note(m, r, msg);
    }
    if (rc == FLOE_E_INVALID_ARG || rc == FLOE_E_RANGE)
        return move(m, r, FLOE_MIGRATE_FAILED, e.message);
    if (rc) {
        if (rc == FLOE_E_NOT_FOUND)
            floe_ms3_abort_recorded(m->s3, m->cat, r, m->staging);
        rc = copy_failed(m, r, rc, &e);
        return rc == MOVED ? FLOE_OK : rc;
    }
    m->out->copied++;
    m->out->copied_bytes += r->size;
    snprintf(r->sha256, sizeof(r->sha256), "%s", sha);
    if ((rc = move(m, r, FLOE_MIGRATE_VERIFIED, "")))
        return rc;
    char why[200] = "";
    if (st.refetches)
        say(why, sizeof(why), "ranges in flight: up to %u, %u fetched again (tree hash mismatch)",
            st.peak_in_flight, st.refetches);
    else if (st.peak_in_flight > 1)
        say(why, sizeof(why), "ranges in flight: up to %u", st.peak_in_flight);
    return move(m, r, FLOE_MIGRATE_DONE, why);
}

/* ---- small archives to S3: many at a time ---- */

struct s3batch {
    struct floe_mcat_row rows[BATCH_MAX];
    struct floe_mfetch f[BATCH_MAX];
    struct floe_ms3_item it[BATCH_MAX]; /* HeadObject of rows[i], then the PutObjects */
    size_t put[BATCH_MAX];              /* it[k] sends rows[put[k]] */
    char desc[BATCH_MAX][1100];
    size_t n, nput;
};

/* The catalog after an S3 batch, in one transaction and only for what S3 acknowledged:
 * archives whose PutObject answered 200 with our checksum done (COPYING, VERIFIED, DONE with
 * the SHA-256), archives S3 refused for good failed (as the one-archive path fails them: a key
 * or metadata it cannot take, or a body that arrived corrupted in every one of
 * floe_ms3_put_many's PutObjects), archives whose job output is gone planned again. The rest
 * stay STAGED (a run's failure, rc or the first one here, is returned). The archives done are
 * counted as copied once the transaction is committed (batch_commit). */
static int s3batch_record(struct mig *m, struct s3batch *b, int rc)
{
    struct tally t = {0};
    int trc = batch_begin(m, rc);
    if (trc)
        return rc ? rc : trc;
    for (size_t k = 0; k < b->nput && !trc; k++) {
        struct floe_ms3_item *it = &b->it[k];
        struct floe_mcat_row *r = &b->rows[b->put[k]];
        char why[900];
        switch (it->status) {
        case FLOE_OK:
            snprintf(r->sha256, sizeof(r->sha256), "%s", it->sha256_hex);
            trc = batch_done(m, r, &t);
            break;
        case FLOE_E_CHECKSUM:
        case FLOE_E_INVALID_ARG:
        case FLOE_E_RANGE:
            if (strstr(it->err.message, r->id))
                say(why, sizeof(why), "%s", it->err.message);
            else
                say(why, sizeof(why), "archive %s: %s", r->id, it->err.message);
            trc = move(m, r, FLOE_MIGRATE_FAILED, why);
            break;
        default: /* the run's failure (a missing bucket too, as in the one-archive path) */
            if (!rc) {
                *m->err = it->err;
                rc =
                    it->status == FLOE_E_NOT_FOUND ? (m->err->status = FLOE_E_SERVICE) : it->status;
            }
        }
    }
    for (size_t i = 0; i < b->n && !trc; i++)
        if (b->f[i].status == FLOE_E_NOT_FOUND)
            trc = batch_gone(m, &b->rows[i], &b->f[i], &t);
    return batch_commit(m, rc, trc, &t);
}

/*
 * Small STAGED archives (up to BATCH_FILE) copied to S3 many at a time, each step one batch of
 * requests in flight together: HeadObject of every key (an object already there with the
 * archive id and tree hash is adopted, one in the way fails its archive, as in the one-archive
 * path), the job outputs fetched into memory (floe_mfetch_run), each checked against the
 * inventory's tree hash and the service's, the verified ones sent as PutObject (floe_ms3_put_many:
 * S3's x-amz-checksum-sha256 must echo ours), then the catalog written once (s3batch_record).
 * The rows stay STAGED until then: a kill -9 before the commit leaves complete objects (a
 * PutObject is atomic) that the next run's HeadObject adopts, never a partial one.
 * A job output that is gone plans its archive again; one that failed otherwise (the service
 * past the retry budget, an answer of the wrong size) is the run's failure, as in the
 * one-archive path, but only once the rest of the batch is sent and recorded (its archive
 * stays STAGED; the message names it).
 * No DescribeJob per archive: the one-archive path asks it for two things, that the job
 * succeeded (its output answering in full says so) and that its tree hash is the inventory's
 * (here the output itself is hashed and compared with the inventory's, which is stronger); an
 * archive without an inventory tree hash takes the one-archive path. So does one that needs
 * more: an expiring job, a hash that did not match (re-fetched there, with its message).
 * Memory: the batch's bytes (BATCH_BYTES at most, plus one archive). Returns FLOE_OK, or the
 * run's failure (the archives not recorded stay STAGED).
 */
static int copy_batch_s3(struct mig *m)
{
    struct s3batch *b = floe_xcalloc(1, sizeof(*b));
    uint64_t bytes = 0;
    int64_t after = -1;
    struct floe_mcat_row r;
    int rc = FLOE_OK, frc = FLOE_OK; /* frc: a job output that failed (not gone) */
    while (b->n < BATCH_MAX && bytes < BATCH_BYTES && batch_next(m, &after, &r)) {
        if (!fresh(m, r.job_done) || !r.tree[0]) {
            if ((rc = copy_to_s3(m, &r)))
                break;
            continue;
        }
        b->rows[b->n++] = r;
        bytes += r.size;
    }
    /* HeadObject of the batch: adopted / in the way / not there (kept) */
    if (!rc && b->n) {
        for (size_t i = 0; i < b->n; i++)
            b->it[i] = (struct floe_ms3_item){.r = &b->rows[i]};
        floe_ms3_present_many(m->s3, b->it, b->n);
    }
    size_t keep = 0;
    for (size_t i = 0; i < b->n && !rc; i++) {
        bool present;
        rc =
            s3_adopt(m, &b->rows[i], b->it[i].status, b->it[i].sha256_hex, &b->it[i].err, &present);
        if (!rc && !present)
            b->rows[keep++] = b->rows[i];
    }
    b->n = rc ? 0 : keep;
    memset(b->it, 0, sizeof(b->it));
    for (size_t i = 0; i < b->n; i++)
        b->f[i] = (struct floe_mfetch){.job_id = b->rows[i].job_id,
                                       .len = b->rows[i].size,
                                       .whole = true,
                                       .buf = floe_xmalloc(b->rows[i].size ? b->rows[i].size : 1)};
    if (b->n && m->o->cancel && atomic_load(m->o->cancel))
        rc = floe_error_set(m->err, FLOE_E_CANCELLED, "interrupted");
    if (!rc && b->n)
        floe_mfetch_run(m->client, m->o->vault, b->f, b->n);
    size_t redo[BATCH_MAX], nredo = 0;
    for (size_t i = 0; i < b->n && !rc; i++) {
        struct floe_mfetch *f = &b->f[i];
        int what = batch_fetched(m, &b->rows[i], f);
        if (what == FETCHED_FAILED) { /* the run's failure, once the rest is sent and recorded */
            if (!frc) {
                frc = f->status;
                *m->err = f->err;
                floe_error_set(m->err, frc, "archive %s (%s): %s", b->rows[i].id, b->rows[i].name,
                               f->err.message);
            }
            continue;
        }
        if (what == FETCHED_REDO)
            redo[nredo++] = i;
        if (what != FETCHED_OK)
            continue; /* gone: planned again in s3batch_record */
        size_t k = b->nput++;
        b->put[k] = i;
        floe_mcat_description(m->cat, b->rows[i].ord, b->desc[k], sizeof(b->desc[k]));
        b->it[k] =
            (struct floe_ms3_item){.r = &b->rows[i], .description = b->desc[k], .data = f->buf};
        memcpy(b->it[k].sha256, f->sha256, sizeof(b->it[k].sha256));
    }
    if (rc)
        b->nput = 0;
    if (b->nput)
        floe_ms3_put_many(m->s3, b->it, b->nput);
    rc = s3batch_record(m, b, rc ? rc : frc);
    for (size_t k = 0; k < nredo && !rc; k++)
        rc = copy_to_s3(m, &b->rows[redo[k]]);
    for (size_t i = 0; i < b->n; i++)
        free(b->f[i].buf);
    free(b);
    return rc;
}

static int copy_one(struct mig *m, struct floe_mcat_row *r)
{
    if (m->s3)
        return r->size <= BATCH_FILE ? copy_batch_s3(m) : copy_to_s3(m, r);
    return r->size <= BATCH_FILE ? copy_batch(m) : copy_to_dir(m, r);
}

/* ---- the manifest ---- */

struct manifest {
    struct mig *m;
    FILE *csv, *json;
    bool first;
};

static void csv_quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static int manifest_row(const struct floe_mcat_row *r, void *user)
{
    struct manifest *x = user;
    char path[4096 + FLOE_MNAME_CAP + 2];
    dest_path(x->m, r, path, sizeof(path));
    csv_quoted(x->csv, r->id);
    fputc(',', x->csv);
    csv_quoted(x->csv, r->name);
    fputc(',', x->csv);
    csv_quoted(x->csv, path);
    fprintf(x->csv, ",%" PRIu64 ",%s,%s\n", r->size, r->tree, r->sha256);
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s}", "archive_id", r->id, "name",
                          r->name, "destination", path, "size", (json_int_t)r->size, "tree_hash",
                          r->tree, "sha256", r->sha256, "creation_date", r->created);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (s)
        fprintf(x->json, "%s%s", x->first ? "\n" : ",\n", s);
    x->first = false;
    free(s);
    json_decref(o);
    return 0;
}

static int write_manifest(struct mig *m)
{
    const char *cp = floe_mcat_path(m->cat);
    size_t n = strlen(cp);
    if (n > 3 && strcmp(cp + n - 3, ".db") == 0)
        n -= 3;
    snprintf(m->out->manifest_csv, sizeof(m->out->manifest_csv), "%.*s.manifest.csv", (int)n, cp);
    snprintf(m->out->manifest_json, sizeof(m->out->manifest_json), "%.*s.manifest.json", (int)n,
             cp);
    char tcsv[4300], tjson[4300];
    snprintf(tcsv, sizeof(tcsv), "%s.tmp%ld", m->out->manifest_csv, (long)getpid());
    snprintf(tjson, sizeof(tjson), "%s.tmp%ld", m->out->manifest_json, (long)getpid());
    struct manifest x = {.m = m, .csv = fopen(tcsv, "w"), .json = fopen(tjson, "w"), .first = true};
    int rc = FLOE_OK;
    if (x.csv && x.json) {
        fputs("archive_id,name,destination,size,tree_hash,sha256\n", x.csv);
        fputs("[", x.json);
        rc = floe_mcat_each(m->cat, 1u << FLOE_MIGRATE_DONE, false, manifest_row, &x, m->err);
        fputs("\n]\n", x.json);
    }
    bool ok = x.csv && x.json && !rc;
    if (x.csv && (fflush(x.csv) || fsync(fileno(x.csv))))
        ok = false;
    if (x.json && (fflush(x.json) || fsync(fileno(x.json))))
        ok = false;
    int e = errno;
    if (x.csv)
        fclose(x.csv);
    if (x.json)
        fclose(x.json);
    if (ok && rename(tcsv, m->out->manifest_csv) == 0 && rename(tjson, m->out->manifest_json) == 0)
        return floe_dir_sync_parent(m->out->manifest_json, m->err);
    e = errno ? errno : e;
    unlink(tcsv);
    unlink(tjson);
    return rc ? rc
              : floe_error_set_errno(m->err, FLOE_E_IO, e, m->out->manifest_csv,
                                     "cannot write the manifest %s", m->out->manifest_csv);
}

/* ---- setup ---- */

static int check_options(const struct floe_migrate_options *o, struct floe_error *err)
{
    if (!o->vault || !o->vault[0])
        return floe_error_set(err, FLOE_E_INVALID_ARG, "a vault is required");
    if (!o->destination || !o->destination[0])
        return floe_error_set(err, FLOE_E_INVALID_ARG, "a destination (--to) is required");
    if (!floe_ms3_is_s3(o->destination) &&
        (o->storage_class || o->s3_endpoint_url || o->chunk_size || o->staging_dir))
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "--storage-class, --s3-endpoint-url, --chunk-size and --staging "
                              "are for S3 destinations (--to s3://BUCKET/PREFIX)");
    if (o->shard_count && (o->shard_index < 1 || o->shard_index > o->shard_count))
        return floe_error_set(err, FLOE_E_INVALID_ARG, "--shard %u/%u: I must be 1 to N",
                              o->shard_index, o->shard_count);
    if (o->shard_count && floe_mcat_is_url(o->catalog_path))
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "--shard is for workers with catalogs of their own; workers sharing "
                              "a postgresql:// catalog split the plan by claiming archives");
    if (o->tier && floe_mprices_tier(o->tier) < 0)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "tier '%s' is not Expedited, Standard or Bulk", o->tier);
    if (o->notify_topic && strncmp(o->notify_topic, "arn:", 4) != 0)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "--notify-topic '%s' is not an SNS topic ARN (arn:aws:sns:...)",
                              o->notify_topic);
    uint64_t expiry = o->job_expiry_s ? o->job_expiry_s : DAY_S;
    uint64_t margin =
        o->expiry_margin_s ? o->expiry_margin_s : FLOE_MIGRATE_DEFAULT_EXPIRY_MARGIN_S;
    if (margin >= expiry)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "the expiry margin (%" PRIu64 " s) must be shorter than the job "
                              "output's life (%" PRIu64 " s)",
                              margin, expiry);
    return FLOE_OK;
}

static int default_catalog(const struct floe_migrate_options *o, char *out, size_t cap,
                           bool local_files, struct floe_error *err)
{
    if (o->catalog_path && local_files && floe_mcat_is_url(o->catalog_path)) {
        struct floe_migrate_options lo = *o; /* PostgreSQL: local files where they would be */
        lo.catalog_path = NULL;
        return default_catalog(&lo, out, cap, false, err);
    }
    if (o->catalog_path) {
        snprintf(out, cap, "%s", o->catalog_path);
    } else if (floe_ms3_is_s3(o->destination)) {
        char key[4400];
        int n = snprintf(key, sizeof(key), "%s\n%s\n%u/%u", o->vault, o->destination,
                         o->shard_index, o->shard_count);
        int rc = floe_checkpoint_default_path("migrate", key, (size_t)n, out, cap, err);
        if (rc)
            return rc;
        char *dot = strrchr(out, '.');
        if (dot && (size_t)(dot - out) + 4 <= cap)
            snprintf(dot, 4, ".db");
    } else if (o->shard_count) {
        say(out, cap, "%s/%s/%s.shard-%u-of-%u.db", o->destination, FLOE_MNAME_STATE_DIR, o->vault,
            o->shard_index, o->shard_count);
    } else {
        say(out, cap, "%s/%s/%s.db", o->destination, FLOE_MNAME_STATE_DIR, o->vault);
    }
    return FLOE_OK;
}

static int load_prices(const struct floe_migrate_options *o, struct floe_mprices *p,
                       struct floe_error *err)
{
    if (o->prices_path)
        return floe_mprices_load(o->prices_path, p, err);
    floe_mprices_default(p);
    return FLOE_OK;
}

/* The catalog's settings checked against the options (or recorded on the first run). */
static int check_catalog(struct floe_mcat *cat, const struct floe_migrate_options *o, bool *planned,
                         struct floe_error *err)
{
    char buf[4096];
    char *fp = floe_mplan_fingerprint(o);
    int rc = FLOE_OK;
    *planned = floe_mcat_meta_get(cat, "planned", buf, sizeof(buf));
    if (floe_mcat_meta_get(cat, "vault", buf, sizeof(buf)) && strcmp(buf, o->vault) != 0)
        rc = floe_error_set(err, FLOE_E_INVALID_ARG,
                            "migration catalog %s belongs to vault %s, not %s", floe_mcat_path(cat),
                            buf, o->vault);
    if (!rc && *planned) {
        char *was = floe_xmalloc(1 << 20);
        floe_mcat_meta_get(cat, "fingerprint", was, 1 << 20);
        if (strcmp(was, fp) != 0)
            rc = floe_error_set(err, FLOE_E_INVALID_ARG,
                                "migration catalog %s was planned with other --include/--exclude/"
                                "--filter/--names options; give the same ones (floe migrate "
                                "status shows the plan) or another --catalog",
                                floe_mcat_path(cat));
        free(was);
    }
    if (!rc && !*planned && !(rc = floe_mcat_meta_set(cat, "vault", o->vault, err)) &&
        !(rc = floe_mcat_meta_set(cat, "destination", o->destination, err)))
        rc = floe_mcat_meta_set(cat, "fingerprint", fp, err);
    if (!rc)
        rc = floe_mcat_meta_set(cat, "tier", o->tier ? o->tier : "Bulk", err);
    free(fp);
    return rc;
}

/* A VERIFIED row nobody is finishing (an interrupted run's, or with a shared catalog a dead
 * worker's whose lease expired): in place and checked, so only its SHA-256 and DONE are left.
 * The caller holds no pending SHA-256 of its own (sha_join first), so r is not one of its own
 * in flight. */
static int finish_verified(struct mig *m, struct floe_mcat_row *r)
{
    char path[4096 + FLOE_MNAME_CAP + 2];
    dest_path(m, r, path, sizeof(path));
    m->out->already_present++; /* in place before this worker came to it: not copied again */
    /* S3: verified means completed, with its SHA-256 recorded */
    return m->s3 ? move(m, r, FLOE_MIGRATE_DONE, "") : finish(m, r, path, true);
}

/* Rows an interrupted run left between steps (and failed ones, when asked). */
static int recover(struct mig *m)
{
    struct floe_mcat_row r;
    int rc = FLOE_OK;
    while (!rc && m->o->retry_failed && floe_mcat_next(m->cat, FLOE_MIGRATE_FAILED, -1, &r)) {
        r.attempts = 0;
        rc = replan(m, &r, "failed before: tried again (--retry-failed)");
    }
    while (!rc && floe_mcat_next(m->cat, FLOE_MIGRATE_COPYING, -1, &r))
        rc = floe_mcat_set(m->cat, &r, FLOE_MIGRATE_STAGED, m->err);
    while (!rc && floe_mcat_next(m->cat, FLOE_MIGRATE_VERIFIED, -1, &r))
        rc = finish_verified(m, &r);
    return rc;
}

static void sleep_until(const struct mig *m, double t)
{
    while (now_s() < t && !(m->o->cancel && atomic_load(m->o->cancel))) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* The progress callback with the catalog's counts: always when force, else at most every
 * PROGRESS_S (a count walks the catalog). */
static void report(struct mig *m, bool force)
{
    double t = now_s();
    if (!m->o->progress || (!force && t - m->last_report < PROGRESS_S))
        return;
    m->last_report = t;
    struct floe_migrate_progress p = {
        .stage = "migrate", .copied_bytes = m->out->copied_bytes, .seconds = t - m->t0};
    floe_mcat_counts(m->cat, p.archives, p.bytes);
    m->o->progress(&p, m->o->user);
}

static int run(struct mig *m)
{
    uint32_t poll_ms = m->o->poll_ms ? m->o->poll_ms
                       : m->notify   ? FLOE_MIGRATE_NOTIFY_POLL_MS
                                     : FLOE_MIGRATE_DEFAULT_POLL_MS;
    double poll_max = poll_ms / 1000.0;
    m->poll_s = m->notify ? poll_max : FIRST_POLL_S;
    int rc = recover(m);
    bool quota = false, quota_noted = false;
    while (!rc && !(rc = floe_mcat_check(m->cat, m->err))) {
        if (m->o->cancel && atomic_load(m->o->cancel)) {
            rc = floe_error_set(m->err, FLOE_E_CANCELLED, "interrupted");
            break;
        }
        bool polled = !m->refreshed || now_s() >= m->next_poll;
        if (polled && (rc = refresh(m)))
            break;
        report(m, polled);
        if (m->next_poll <= now_s())
            m->next_poll = now_s() + m->poll_s;
        if (m->notify && now_s() >= m->next_receive && (rc = receive(m, 0)))
            break;
        if ((rc = request_jobs(m, &quota)))
            break;
        if (quota && !quota_noted)
            note(m, NULL,
                 "the daily retrieval quota (--max-per-day) is used up: requests "
                 "continue after midnight UTC");
        quota_noted = quota;
        struct floe_mcat_row r;
        if (floe_mcat_next(m->cat, FLOE_MIGRATE_STAGED, -1, &r)) {
            rc = copy_one(m, &r);
            if (!rc)
                rc = floe_mcat_run_record(m->cat, m->started, now_s() - m->t0, m->out->copied_bytes,
                                          m->err);
            continue;
        }
        if ((rc = sha_join(m)))
            break;
        /* a shared catalog: a dead worker's archive that it verified but did not record done */
        if (floe_mcat_next(m->cat, FLOE_MIGRATE_VERIFIED, -1, &r)) {
            rc = finish_verified(m, &r);
            continue;
        }
        uint64_t n[FLOE_MIGRATE_STATE_COUNT], b[FLOE_MIGRATE_STATE_COUNT];
        floe_mcat_counts(m->cat, n, b);
        if (!n[FLOE_MIGRATE_PLANNED] && !n[FLOE_MIGRATE_REQUESTED] && !n[FLOE_MIGRATE_STAGED] &&
            !n[FLOE_MIGRATE_COPYING] && !n[FLOE_MIGRATE_VERIFIED])
            break;
        if (m->notify) { /* a long poll of the queue, short enough for Ctrl-C to be seen */
            double left = m->next_poll - now_s();
            rc = receive(m, left >= NOTIFY_WAIT_S ? NOTIFY_WAIT_S : left > 1 ? (unsigned)left : 1);
            continue;
        }
        sleep_until(m, m->next_poll);
        m->poll_s = m->poll_s * 1.5 > poll_max ? poll_max : m->poll_s * 1.5;
    }
    struct floe_error keep = *m->err;
    int src = sha_join(m);
    if (rc)
        *m->err = keep;
    rc = rc ? rc : src;
    return rc ? rc : floe_mcat_check(m->cat, m->err); /* no rows because the catalog failed */
}

/* S3: the staging directory (the catalog's path with .staging for .db unless given). */
static int make_staging(struct mig *m, const struct floe_migrate_options *o, const char *catalog)
{
    if (o->staging_dir) {
        snprintf(m->staging, sizeof(m->staging), "%s", o->staging_dir);
    } else {
        size_t n = strlen(catalog);
        if (n > 3 && strcmp(catalog + n - 3, ".db") == 0)
            n -= 3;
        snprintf(m->staging, sizeof(m->staging), "%.*s.staging", (int)n, catalog);
    }
    if (mkdir(m->staging, 0700) != 0 && errno != EEXIST)
        return floe_error_set_errno(m->err, FLOE_E_IO, errno, m->staging,
                                    "cannot create the staging directory %s", m->staging);
    return FLOE_OK;
}

static int run_setup(struct mig *m, const struct floe_migrate_options *o)
{
    int rc = check_options(o, m->err);
    if (!rc)
        rc = load_prices(o, &m->prices, m->err);
    if (rc)
        return rc;
    m->tier = floe_mprices_tier(o->tier ? o->tier : "Bulk");
    m->expiry_s = o->job_expiry_s ? o->job_expiry_s : DAY_S;
    m->margin_s = o->expiry_margin_s ? o->expiry_margin_s : FLOE_MIGRATE_DEFAULT_EXPIRY_MARGIN_S;
    snprintf(m->dest, sizeof(m->dest), "%s", o->destination);
    const char *lin = getenv("FLOE_MIGRATE_LINEAR_SHA256");
    m->linear_sha256 = !(lin && strcmp(lin, "0") == 0);
    size_t n = strlen(m->dest);
    while (n > 1 && m->dest[n - 1] == '/')
        m->dest[--n] = '\0';
    if (o->notify_queue && (rc = floe_mnotify_open(m->client, o->notify_queue, &m->notify, m->err)))
        return rc; /* a missing or denied queue is reported before any job is paid for */
    if (floe_ms3_is_s3(o->destination)) /* the bucket is checked before anything is paid */
        return floe_ms3_open(m->client, o, &m->s3, m->err);
    if (mkdir(m->dest, 0755) != 0 && errno != EEXIST)
        return floe_error_set_errno(m->err, FLOE_E_IO, errno, m->dest,
                                    "cannot create the destination %s", m->dest);
    return FLOE_OK;
}

int floe_migrate(struct floe_client *c, const struct floe_migrate_options *opts,
                 struct floe_migrate_result *out, struct floe_error *err)
{
    if (opts->dry_run) {
        memset(out, 0, sizeof(*out));
        return floe_migrate_plan(c, opts, NULL, NULL, &out->plan, err);
    }
    struct mig *m = floe_xcalloc(1, sizeof(*m));
    struct floe_migrate_result res;
    memset(&res, 0, sizeof(res));
    m->client = c;
    m->o = opts;
    m->out = &res;
    m->err = err;
    m->started = (int64_t)time(NULL);
    m->t0 = now_s();
    int rc = run_setup(m, opts);
    if (!rc)
        rc = default_catalog(opts, res.catalog_path, sizeof(res.catalog_path), false, err);
    char local[4096] = "";
    if (!rc)
        rc = default_catalog(opts, local, sizeof(local), true, err);
    if (!rc && m->s3)
        rc = make_staging(m, opts, local);
    bool planned = false;
    if (!rc)
        rc = floe_mcat_open(res.catalog_path, local, opts->lease_s, true, false, &m->cat, err);
    if (!rc) /* what the result and messages show: no password */
        snprintf(res.catalog_path, sizeof(res.catalog_path), "%s", floe_mcat_name(m->cat));
    if (!rc)
        rc = check_catalog(m->cat, opts, &planned, err);
    if (!rc && !planned) {
        res.planned_now = true;
        rc = floe_mplan_make(c, opts, m->cat, &res.plan, err);
    }
    if (!rc) {
        floe_mplan_summary(m->cat, opts, &m->prices, &res.plan);
        rc = floe_mcat_ready(m->cat, err);
    }
    if (!rc) {
        if (opts->phase)
            opts->phase("migrate", res.catalog_path, opts->user);
        rc = run(m);
    }
    if (m->cat) {
        int mrc = write_manifest(m);
        rc = rc ? rc : mrc;
        uint64_t n[FLOE_MIGRATE_STATE_COUNT], b[FLOE_MIGRATE_STATE_COUNT];
        floe_mcat_counts(m->cat, n, b);
        res.done = n[FLOE_MIGRATE_DONE];
        res.failed = n[FLOE_MIGRATE_FAILED];
        floe_mcat_run_record(m->cat, m->started, now_s() - m->t0, res.copied_bytes, NULL);
    }
    res.seconds = now_s() - m->t0;
    seen_clear(m);
    free(m->seen);
    floe_mcat_close(m->cat);
    floe_ms3_close(m->s3);
    floe_mnotify_close(m->notify);
    free(m);
    if (!rc)
        *out = res;
    return rc;
}

struct lister {
    floe_migrate_archive_fn *fn;
    void *user;
    const char *dest;
};

static int list_row(const struct floe_mcat_row *r, void *user)
{
    struct lister *l = user;
    char path[4096 + FLOE_MNAME_CAP + 2];
    size_t n = strlen(l->dest);
    while (n > 1 && l->dest[n - 1] == '/')
        n--;
    snprintf(path, sizeof(path), "%.*s/%s", (int)n, l->dest, r->name);
    struct floe_migrate_archive a = {.archive_id = r->id,
                                     .name = r->name,
                                     .destination = path,
                                     .creation_date = r->created,
                                     .size = r->size,
                                     .state = r->state,
                                     .reason = r->reason,
                                     .job_id = r->job_id,
                                     .over_s3_limit = r->size > FLOE_MIGRATE_S3_OBJECT_MAX};
    snprintf(a.tree_hash, sizeof(a.tree_hash), "%s", r->tree);
    snprintf(a.sha256, sizeof(a.sha256), "%s", r->sha256);
    return l->fn(&a, l->user);
}

int floe_migrate_plan(struct floe_client *c, const struct floe_migrate_options *opts,
                      floe_migrate_archive_fn *list, void *list_user, struct floe_migrate_plan *out,
                      struct floe_error *err)
{
    struct floe_mprices prices;
    int rc = check_options(opts, err);
    if (!rc)
        rc = load_prices(opts, &prices, err);
    if (rc)
        return rc;
    const char *tmp = getenv("TMPDIR");
    char dir[4096], path[4200];
    snprintf(dir, sizeof(dir), "%s/floe-migrate-plan-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return floe_error_set_errno(err, FLOE_E_IO, errno, dir, "cannot create %s", dir);
    snprintf(path, sizeof(path), "%s/plan.db", dir);
    struct floe_mcat *cat = NULL;
    struct floe_migrate_plan plan;
    memset(&plan, 0, sizeof(plan));
    struct floe_ms3 *s3 = NULL;
    if (floe_ms3_is_s3(opts->destination))
        rc = floe_ms3_open(c, opts, &s3, err); /* a missing bucket is said at once */
    if (!rc)
        rc = floe_mcat_open(path, NULL, 0, true, false, &cat, err);
    if (!rc)
        rc = floe_mplan_make(c, opts, cat, &plan, err);
    if (!rc) {
        bool reused = plan.inventory_reused;
        floe_mplan_summary(cat, opts, &prices, &plan);
        plan.inventory_reused = reused;
    }
    if (!rc && list) {
        struct lister lx = {list, list_user, opts->destination};
        rc = floe_mcat_each(cat, 0, true, list_row, &lx, err);
    }
    floe_mcat_close(cat);
    floe_ms3_close(s3);
    const char *const sfx[] = {"", "-wal", "-shm", ".lock", ".inventory"};
    for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
        char p[4300];
        snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
        unlink(p);
    }
    rmdir(dir);
    if (!rc)
        *out = plan;
    return rc;
}

int floe_migrate_status(const struct floe_migrate_options *opts, unsigned states_mask,
                        floe_migrate_archive_fn *list, void *list_user,
                        struct floe_migrate_status *out, struct floe_error *err)
{
    struct floe_migrate_status st;
    memset(&st, 0, sizeof(st));
    struct floe_mprices prices;
    int rc = load_prices(opts, &prices, err);
    if (rc)
        return rc;
    if (!opts->catalog_path && (!opts->vault || !opts->destination))
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "give VAULT and --to DESTINATION, or --catalog FILE");
    struct floe_mcat *cat = NULL;
    if ((rc = default_catalog(opts, st.catalog_path, sizeof(st.catalog_path), false, err)) ||
        (rc = floe_mcat_open(st.catalog_path, NULL, 0, false, true, &cat, err)))
        return rc;
    snprintf(st.catalog_path, sizeof(st.catalog_path), "%s", floe_mcat_name(cat));
    floe_mcat_counts(cat, st.archives, st.bytes);
    floe_mcat_meta_get(cat, "vault", st.vault, sizeof(st.vault));
    floe_mcat_meta_get(cat, "destination", st.destination, sizeof(st.destination));
    floe_mcat_meta_get(cat, "tier", st.tier, sizeof(st.tier));
    floe_mcat_runs_total(cat, &st.seconds, &st.bytes_copied);
    st.bytes_per_s = st.seconds > 0 ? (double)st.bytes_copied / st.seconds : 0;
    uint64_t left = st.bytes[FLOE_MIGRATE_PLANNED] + st.bytes[FLOE_MIGRATE_REQUESTED] +
                    st.bytes[FLOE_MIGRATE_STAGED] + st.bytes[FLOE_MIGRATE_COPYING];
    st.eta_s = left == 0 ? 0 : st.bytes_per_s > 0 ? (double)left / st.bytes_per_s : -1;
    for (int t = 0; t < FLOE_MPRICES_TIERS; t++) {
        uint64_t jobs, bytes;
        floe_mcat_jobs_total(cat, prices.tier[t].name, &jobs, &bytes);
        st.jobs_requested += jobs;
        st.bytes_requested += bytes;
        st.cost_usd += (double)bytes / 1e9 * prices.tier[t].per_gb_usd +
                       (double)jobs / 1000.0 * prices.tier[t].per_1000_requests_usd;
    }
    if (list) {
        struct lister lx = {list, list_user, st.destination};
        rc = floe_mcat_each(cat, states_mask, false, list_row, &lx, err);
    }
    if (!rc)
        rc = floe_mcat_check(cat, err);
    floe_mcat_close(cat);
    if (!rc)
        *out = st;
    return rc;
}
