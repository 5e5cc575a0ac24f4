/*
 * mcat_pg.c - see mcat_pg.h. Results come in libpq's text format (bytea columns as hex,
 * decoded by PQunescapeBytea); byte strings go up as binary parameters.
 */
#include "mcat_pg.h"

#include "alloc.h"

#include <libpq-fe.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PLAN_LOCK 0x666c6f65 /* pg_advisory_lock key while one worker plans ("floe") */

struct floe_mcatpg {
    PGconn *db;
    char url[4096];  /* for libpq */
    char name[1200]; /* postgresql://user@host:port/db, no password */
    char worker[160];
    char lease[24]; /* seconds, as a parameter */
    unsigned lease_s;
    bool plan_locked;
    struct floe_error failed;
    /* heartbeat */
    pthread_t hb;
    bool hb_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    /* plan rows not yet sent: COPY text format, sent by flush() as one COPY ... FROM STDIN
     * before the next statement (one round trip per batch instead of one per archive) */
    char *rows;
    size_t rows_len, rows_cap;
};

#define COPY_FLUSH_BYTES (1u << 20)

/* arch's indexes but the archive id's: dropped while a plan loads and built once at its end
 * (floe_mcatpg_clear_plan, floe_mcatpg_plan_loaded), as the SQLite catalog does. */
#define PLAN_INDEXES                                                                               \
    "CREATE INDEX IF NOT EXISTS arch_state ON arch(state, ord);"                                   \
    "CREATE INDEX IF NOT EXISTS arch_base ON arch(base);"                                          \
    "CREATE INDEX IF NOT EXISTS arch_name ON arch(name);"                                          \
    "CREATE INDEX IF NOT EXISTS arch_job ON arch(job_id);"                                         \
    "CREATE INDEX IF NOT EXISTS arch_owner ON arch(owner);"

static const char s_schema[] =
    "CREATE TABLE IF NOT EXISTS meta(k text PRIMARY KEY, v bytea);"
    "CREATE TABLE IF NOT EXISTS arch(ord bigint PRIMARY KEY, id text UNIQUE NOT NULL,"
    " base bytea NOT NULL, name bytea NOT NULL, size bigint NOT NULL, tree text NOT NULL,"
    " created text NOT NULL, description bytea, state int NOT NULL, job_id text NOT NULL"
    " DEFAULT '', job_done bigint NOT NULL DEFAULT 0, attempts int NOT NULL DEFAULT 0,"
    " reason bytea NOT NULL DEFAULT '', sha256 text NOT NULL DEFAULT '', updated bigint,"
    " upload_id text NOT NULL DEFAULT '', mine int NOT NULL DEFAULT 1,"
    " owner text NOT NULL DEFAULT '', lease_until timestamptz);" PLAN_INDEXES
    "CREATE TABLE IF NOT EXISTS names(id text PRIMARY KEY, name bytea NOT NULL);"
    "CREATE TABLE IF NOT EXISTS daily(day text, tier text, bytes bigint, jobs bigint,"
    " PRIMARY KEY(day, tier));"
    "CREATE TABLE IF NOT EXISTS runs(started bigint, worker text, seconds float8, bytes bigint,"
    " PRIMARY KEY(started, worker));"
    "INSERT INTO meta VALUES('schema', '1') ON CONFLICT DO NOTHING;";

/* How long this worker's session may sit inside a transaction between two statements (a
 * transaction spans the requests of a batch: InitiateJob, ListJobs pages) before the server
 * ends the session: the bound on a stalled worker's row locks, which SKIP LOCKED makes the
 * others pass over and the lease cannot free (its heartbeat has a connection of its own). */
static unsigned stall_s(const struct floe_mcatpg *p)
{
    return p->lease_s * 10 < 30 ? 30 : p->lease_s * 10;
}

/* Keeps the first failure; returns its status. */
static int fail(struct floe_mcatpg *p, PGconn *db, const char *what, struct floe_error *err)
{
    char msg[700];
    snprintf(msg, sizeof(msg), "%s", db ? PQerrorMessage(db) : "out of memory");
    msg[strcspn(msg, "\n")] = '\0';
    bool gone = !db || PQstatus(db) != CONNECTION_OK;
    char why[300];
    if (strstr(msg, "idle-in-transaction"))
        snprintf(why, sizeof(why),
                 " (this worker stopped for more than %u s inside a catalog transaction, so the "
                 "database ended its session: its rows are no longer this worker's and went back "
                 "to the pool; run it again to continue)",
                 stall_s(p));
    else
        snprintf(why, sizeof(why), "%s",
                 gone ? " (this worker stops; its leases return to the pool when they expire;"
                        " run it again when the database is back)"
                      : "");
    struct floe_error e = {0};
    floe_error_set(&e, FLOE_E_IO, "migration catalog %s %s while %s: %s%s", p->name,
                   gone ? "is unreachable" : "failed", what, msg, why);
    if (!p->failed.status)
        p->failed = e;
    if (err)
        *err = e;
    return e.status;
}

static bool ok(PGresult *r)
{
    ExecStatusType s = PQresultStatus(r);
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

/* Sends the buffered plan rows with COPY (see floe_mcatpg_insert); FLOE_OK or the failure
 * (kept). The buffer is empty afterwards either way. */
static int flush(struct floe_mcatpg *p, struct floe_error *err)
{
    if (!p->rows_len || p->failed.status) {
        p->rows_len = 0;
        return p->failed.status;
    }
    size_t len = p->rows_len;
    p->rows_len = 0;
    PGresult *r = PQexec(p->db, "COPY arch(ord, id, base, name, size, tree, created, description,"
                                " state, updated, mine) FROM STDIN");
    bool in = PQresultStatus(r) == PGRES_COPY_IN;
    PQclear(r);
    if (!in)
        return fail(p, p->db, "recording the plan", err);
    bool sent = true;
    for (size_t off = 0; sent && off < len;) {
        int n = len - off > (1u << 30) ? 1 << 30 : (int)(len - off);
        sent = PQputCopyData(p->db, p->rows + off, n) == 1;
        off += (size_t)n;
    }
    sent = PQputCopyEnd(p->db, sent ? NULL : "floe: sending the plan failed") == 1 && sent;
    int rc = FLOE_OK;
    while ((r = PQgetResult(p->db))) {
        if (!ok(r) && !rc)
            rc = fail(p, p->db, "recording the plan", err);
        PQclear(r);
    }
    if (!sent && !rc)
        rc = fail(p, p->db, "recording the plan", err);
    return rc;
}

/* PQexecParams with text parameters, except those whose bin[i] is set: byte strings
 * (bytea), sent in binary. */
static PGresult *q(struct floe_mcatpg *p, const char *sql, int n, const char *const *vals,
                   const int *bin)
{
    int lens[12] = {0}, fmts[12] = {0};
    flush(p, NULL);
    for (int i = 0; i < n && bin; i++)
        if (bin[i]) {
            fmts[i] = 1;
            lens[i] = (int)strlen(vals[i]);
        }
    return PQexecParams(p->db, sql, n, NULL, vals, lens, fmts, 0);
}

/* Runs a statement; FLOE_OK or the failure (kept). */
static int run(struct floe_mcatpg *p, const char *sql, int n, const char *const *vals,
               const int *bin, const char *what, struct floe_error *err)
{
    if (p->failed.status) {
        if (err)
            *err = p->failed;
        return p->failed.status;
    }
    if (!n && !strcmp(sql, "ROLLBACK"))
        p->rows_len = 0; /* rows of the transaction rolled back */
    if (flush(p, err))
        return p->failed.status;
    PGresult *r = n ? q(p, sql, n, vals, bin) : PQexec(p->db, sql); /* PQexec: many commands */
    int rc = ok(r) ? FLOE_OK : fail(p, p->db, what, err);
    PQclear(r);
    return rc;
}

/* A row's column as bytes (bytea hex decoded when bytea); "" for NULL. */
static void col(PGresult *r, int row, int c, bool bytea, char *out, size_t cap)
{
    out[0] = '\0';
    if (PQgetisnull(r, row, c))
        return;
    const char *v = PQgetvalue(r, row, c);
    if (!bytea) {
        snprintf(out, cap, "%s", v);
        return;
    }
    size_t n = 0;
    unsigned char *b = PQunescapeBytea((const unsigned char *)v, &n);
    if (!b)
        return;
    if (n >= cap)
        n = cap - 1;
    memcpy(out, b, n);
    out[n] = '\0';
    PQfreemem(b);
}

/* Connects with bounds on a dead network (a connect timeout, TCP keepalives) unless the URL
 * sets its own: a worker whose database vanished stops instead of hanging. */
static PGconn *pg_connect(const char *url)
{
    const char *const keys[] = {"connect_timeout",  "keepalives_idle", "keepalives_interval",
                                "keepalives_count", "dbname",          NULL};
    const char *const vals[] = {"10", "30", "10", "3", url, NULL};
    return PQconnectdbParams(keys, vals, 1);
}

/* The server's notices ("relation already exists, skipping") are not for the user. */
static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static void hb_renew(struct floe_mcatpg *p, PGconn *db)
{
    const char *v[] = {p->worker, p->lease};
    PGresult *r = PQexecParams(db,
                               "UPDATE arch SET lease_until = now() + make_interval(secs => $2)"
                               " WHERE owner = $1 AND state NOT IN (5, 6)",
                               2, NULL, v, NULL, NULL, 0);
    if (!ok(r) && PQstatus(db) != CONNECTION_OK)
        PQreset(db); /* tried again at the next beat */
    PQclear(r);
}

static void *heartbeat(void *arg)
{
    struct floe_mcatpg *p = arg;
    PGconn *db = pg_connect(p->url);
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        t.tv_sec += p->lease_s / 3 ? p->lease_s / 3 : 1;
        pthread_cond_timedwait(&p->cv, &p->mu, &t);
        if (p->stop)
            break;
        pthread_mutex_unlock(&p->mu);
        hb_renew(p, db);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    PQfinish(db);
    return NULL;
}

/* postgresql://user@host:port/db from the connection (the password left out). */
static void set_name(struct floe_mcatpg *p, const char *url)
{
    if (p->db && PQstatus(p->db) == CONNECTION_OK)
        snprintf(p->name, sizeof(p->name), "postgresql://%s@%s:%s/%s", PQuser(p->db), PQhost(p->db),
                 PQport(p->db), PQdb(p->db));
    else {
        const char *at = strrchr(url, '@');
        const char *s = strstr(url, "://");
        snprintf(p->name, sizeof(p->name), "%.*s%s", s ? (int)(s - url) + 3 : 0, url,
                 at  ? at + 1
                 : s ? s + 3
                     : url);
    }
}

int floe_mcatpg_open(const char *url, unsigned lease_s, bool create, bool readonly,
                     struct floe_mcatpg **out, struct floe_error *err)
{
    struct floe_mcatpg *p = floe_xcalloc(1, sizeof(*p));
    snprintf(p->url, sizeof(p->url), "%s", url);
    p->lease_s = lease_s ? lease_s : FLOE_MCAT_DEFAULT_LEASE_S;
    snprintf(p->lease, sizeof(p->lease), "%u", p->lease_s);
    char host[100] = "";
    gethostname(host, sizeof(host) - 1);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(p->worker, sizeof(p->worker), "%s:%ld:%lx", host, (long)getpid(),
             (unsigned long)ts.tv_nsec);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->db = pg_connect(url);
    PQsetNoticeProcessor(p->db, quiet, NULL);
    set_name(p, url);
    int rc = FLOE_OK;
    if (PQstatus(p->db) != CONNECTION_OK) {
        rc = fail(p, p->db, "connecting", err);
        goto out;
    }
    char set[96];
    snprintf(set, sizeof(set), "SET idle_in_transaction_session_timeout = %u", stall_s(p) * 1000);
    if ((rc = run(p, set, 0, NULL, NULL, "setting up its session", err)))
        goto out;
    if (readonly) {
        PGresult *r = PQexec(p->db, "SELECT count(*) FROM arch");
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            rc = state && strcmp(state, "42P01") == 0 /* undefined_table */
                     ? floe_error_set(err, FLOE_E_NOT_FOUND,
                                      "no migration catalog in %s: nothing was planned there yet",
                                      p->name)
                     : fail(p, p->db, "reading it", err);
        }
        PQclear(r);
        goto out;
    }
    (void)create; /* the tables are created when missing */
    PGresult *r = PQexec(p->db, "SELECT pg_advisory_lock("
                                "1718382437"
                                ")");
    bool locked = ok(r);
    PQclear(r);
    if (!locked) {
        rc = fail(p, p->db, "waiting for another worker's planning", err);
        goto out;
    }
    p->plan_locked = true;
    if ((rc = run(p, s_schema, 0, NULL, NULL, "creating its tables", err)))
        goto out;
    if (pthread_create(&p->hb, NULL, heartbeat, p) != 0) {
        rc = floe_error_set(err, FLOE_E_IO, "cannot start the lease heartbeat");
        goto out;
    }
    p->hb_started = true;
out:
    if (rc) {
        floe_mcatpg_close(p);
        return rc;
    }
    *out = p;
    return FLOE_OK;
}

void floe_mcatpg_close(struct floe_mcatpg *p)
{
    if (!p)
        return;
    if (p->hb_started) {
        pthread_mutex_lock(&p->mu);
        p->stop = true;
        pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->hb, NULL);
    }
    if (p->hb_started && PQstatus(p->db) == CONNECTION_OK) { /* release: others go on at once */
        const char *v[] = {p->worker};
        PQclear(PQexecParams(p->db,
                             "UPDATE arch SET owner = '', lease_until = NULL WHERE owner = $1", 1,
                             NULL, v, NULL, NULL, 0));
    }
    PQfinish(p->db);
    free(p->rows);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

const char *floe_mcatpg_name(const struct floe_mcatpg *p)
{
    return p->name;
}

int floe_mcatpg_ready(struct floe_mcatpg *p, struct floe_error *err)
{
    if (!p->plan_locked)
        return FLOE_OK;
    p->plan_locked = false;
    return run(p, "SELECT pg_advisory_unlock(1718382437)", 0, NULL, NULL,
               "letting the other workers start", err);
}

int floe_mcatpg_failed(struct floe_mcatpg *p, struct floe_error *err)
{
    if (p->failed.status && err)
        *err = p->failed;
    return p->failed.status;
}

int floe_mcatpg_clear_plan(struct floe_mcatpg *p, struct floe_error *err)
{
    return floe_mcatpg_exec(p,
                            "DELETE FROM arch; DELETE FROM names; DROP INDEX IF EXISTS arch_state;"
                            " DROP INDEX IF EXISTS arch_base; DROP INDEX IF EXISTS arch_name;"
                            " DROP INDEX IF EXISTS arch_job; DROP INDEX IF EXISTS arch_owner",
                            "clearing an unfinished plan", err);
}

int floe_mcatpg_plan_loaded(struct floe_mcatpg *p, struct floe_error *err)
{
    return floe_mcatpg_exec(p, PLAN_INDEXES, "indexing the plan", err);
}

int floe_mcatpg_exec(struct floe_mcatpg *p, const char *sql, const char *what,
                     struct floe_error *err)
{
    return run(p, sql, 0, NULL, NULL, what, err);
}

/* The first column of the first row of a query with text (or binary: bin) parameters. */
static bool first(struct floe_mcatpg *p, const char *sql, int n, const char *const *vals,
                  const int *bin, bool bytea, char *out, size_t cap, const char *what)
{
    out[0] = '\0';
    if (p->failed.status)
        return false;
    PGresult *r = q(p, sql, n, vals, bin);
    bool found = false;
    if (!ok(r))
        fail(p, p->db, what, NULL);
    else if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)) {
        col(r, 0, 0, bytea, out, cap);
        found = true;
    }
    PQclear(r);
    return found;
}

bool floe_mcatpg_meta_get(struct floe_mcatpg *p, const char *key, char *out, size_t cap)
{
    const char *v[] = {key};
    return first(p, "SELECT v FROM meta WHERE k = $1", 1, v, NULL, true, out, cap,
                 "reading its settings");
}

int floe_mcatpg_meta_set(struct floe_mcatpg *p, const char *key, const char *value,
                         struct floe_error *err)
{
    const char *v[] = {key, value};
    const int bin[] = {0, 1};
    return run(p, "INSERT INTO meta VALUES($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v", 2,
               v, bin, "recording its settings", err);
}

int floe_mcatpg_name_put(struct floe_mcatpg *p, const char *id, const char *name,
                         struct floe_error *err)
{
    const char *v[] = {id, name};
    const int bin[] = {0, 1};
    return run(
        p, "INSERT INTO names VALUES($1, $2) ON CONFLICT (id) DO UPDATE SET name = excluded.name",
        2, v, bin, "recording the --names file", err);
}

bool floe_mcatpg_name_get(struct floe_mcatpg *p, const char *id, char out[FLOE_MNAME_CAP])
{
    const char *v[] = {id};
    return first(p, "SELECT name FROM names WHERE id = $1", 1, v, NULL, true, out, FLOE_MNAME_CAP,
                 "reading the --names file");
}

/* A column of the row ord (bytea decoded when bytea). */
static bool of_ord(struct floe_mcatpg *p, const char *sql, int64_t ord, bool bytea, char *out,
                   size_t cap, const char *what)
{
    char o[24];
    snprintf(o, sizeof(o), "%" PRId64, ord);
    const char *v[] = {o};
    return first(p, sql, 1, v, NULL, bytea, out, cap, what);
}

bool floe_mcatpg_get_upload(struct floe_mcatpg *p, int64_t ord, char *out, size_t cap)
{
    return of_ord(p, "SELECT upload_id FROM arch WHERE ord = $1", ord, false, out, cap,
                  "reading an S3 upload id");
}

int floe_mcatpg_set_upload(struct floe_mcatpg *p, int64_t ord, const char *upload_id,
                           struct floe_error *err)
{
    char o[24];
    snprintf(o, sizeof(o), "%" PRId64, ord);
    const char *v[] = {upload_id, o};
    return run(p, "UPDATE arch SET upload_id = $1 WHERE ord = $2", 2, v, NULL,
               "recording an S3 upload id", err);
}

bool floe_mcatpg_description(struct floe_mcatpg *p, int64_t ord, char *out, size_t cap)
{
    return of_ord(p, "SELECT description FROM arch WHERE ord = $1", ord, true, out, cap,
                  "reading a description");
}

/* Appends n bytes to the COPY buffer; false when out of memory. */
static bool put(struct floe_mcatpg *p, const void *b, size_t n)
{
    if (p->rows_len + n > p->rows_cap) {
        size_t cap = p->rows_cap ? p->rows_cap : 1u << 16;
        while (cap < p->rows_len + n)
            cap *= 2;
        char *g = realloc(p->rows, cap);
        if (!g)
            return false;
        p->rows = g;
        p->rows_cap = cap;
    }
    memcpy(p->rows + p->rows_len, b, n);
    p->rows_len += n;
    return true;
}

/* A text field in COPY text format (backslash, tab, newline and CR escaped), then sep. */
static bool put_text(struct floe_mcatpg *p, const char *s, char sep)
{
    bool good = true;
    for (; good && *s; s++) {
        const char *e = *s == '\\'   ? "\\\\"
                        : *s == '\t' ? "\\t"
                        : *s == '\n' ? "\\n"
                        : *s == '\r' ? "\\r"
                                     : NULL;
        good = e ? put(p, e, 2) : put(p, s, 1);
    }
    return good && put(p, &sep, 1);
}

/* A bytea field in COPY text format: \\x and hex (the backslash doubled by COPY), then sep. */
static bool put_bytea(struct floe_mcatpg *p, const char *s, char sep)
{
    static const char hex[] = "0123456789abcdef";
    bool good = put(p, "\\\\x", 3);
    for (const unsigned char *u = (const unsigned char *)s; good && *u; u++) {
        char h[2] = {hex[*u >> 4], hex[*u & 15]};
        good = put(p, h, 2);
    }
    return good && put(p, &sep, 1);
}

int floe_mcatpg_insert(struct floe_mcatpg *p, const struct floe_mcat_row *r,
                       const char *description, bool mine, struct floe_error *err)
{
    if (p->failed.status)
        return floe_mcatpg_failed(p, err);
    char nums[80];
    snprintf(nums, sizeof(nums), "%" PRId64 "\t", r->ord);
    bool good = put(p, nums, strlen(nums)) && put_text(p, r->id, '\t') &&
                put_bytea(p, r->name, '\t') && put_bytea(p, r->name, '\t');
    snprintf(nums, sizeof(nums), "%" PRIu64 "\t", r->size);
    good = good && put(p, nums, strlen(nums)) && put_text(p, r->tree, '\t') &&
           put_text(p, r->created, '\t') && put_bytea(p, description, '\t');
    snprintf(nums, sizeof(nums), "0\t%lld\t%d\n", (long long)time(NULL), mine ? 1 : 0);
    good = good && put(p, nums, strlen(nums));
    if (!good)
        return fail(p, NULL, "recording the plan", err);
    return p->rows_len >= COPY_FLUSH_BYTES ? flush(p, err) : FLOE_OK;
}

/* Numbers of the first row of a query (NULL as 0); false when it failed. */
static bool numbers(struct floe_mcatpg *p, const char *sql, int n, const char *const *vals,
                    double *out, int cols)
{
    for (int i = 0; i < cols; i++)
        out[i] = 0;
    if (p->failed.status)
        return false;
    PGresult *r = q(p, sql, n, vals, NULL);
    bool good = ok(r);
    if (!good)
        fail(p, p->db, "reading totals", NULL);
    for (int i = 0; good && PQntuples(r) > 0 && i < cols && i < PQnfields(r); i++)
        if (!PQgetisnull(r, 0, i))
            out[i] = strtod(PQgetvalue(r, 0, i), NULL);
    PQclear(r);
    return good;
}

int floe_mcatpg_drop_others(struct floe_mcatpg *p, uint64_t *archives, uint64_t *bytes,
                            struct floe_error *err)
{
    double x[2];
    numbers(p, "SELECT count(*), coalesce(sum(size), 0) FROM arch WHERE mine = 0", 0, NULL, x, 2);
    *archives = (uint64_t)x[0];
    *bytes = (uint64_t)x[1];
    return run(p, "DELETE FROM arch WHERE mine = 0", 0, NULL, NULL, "keeping this shard's archives",
               err);
}

/* Renames the rows a query selects (ord, name, created, id) with the suffix by_date picks. */
static int rename_dups(struct floe_mcatpg *p, const char *sql, bool by_date, uint64_t *renamed,
                       struct floe_error *err)
{
    if (flush(p, err))
        return floe_mcatpg_failed(p, err);
    PGresult *res = PQexec(p->db, sql);
    if (!ok(res)) {
        PQclear(res);
        return fail(p, p->db, "finding duplicate names", err);
    }
    int rc = FLOE_OK;
    for (int i = 0; !rc && i < PQntuples(res); i++) {
        char name[FLOE_MNAME_CAP], suffix[FLOE_JOB_ID_MAX], nn[FLOE_MNAME_CAP];
        col(res, i, 1, true, name, sizeof(name));
        if (by_date) {
            char created[40];
            col(res, i, 2, false, created, sizeof(created));
            floe_mname_date_suffix(created, suffix);
        } else {
            col(res, i, 3, false, suffix, 17); /* as the SQLite backend: 96 bits of the id */
        }
        if (!suffix[0])
            continue;
        floe_mname_with_suffix(name, suffix, nn);
        const char *v[] = {nn, PQgetvalue(res, i, 0)};
        const int bin[] = {1, 0};
        rc = run(p, "UPDATE arch SET name = $1 WHERE ord = $2", 2, v, bin, "renaming a duplicate",
                 err);
        if (!rc)
            (*renamed)++;
    }
    PQclear(res);
    return rc;
}

int floe_mcatpg_dedup(struct floe_mcatpg *p, uint64_t *renamed, struct floe_error *err)
{
    *renamed = 0;
    uint64_t again = 0;
    int rc = rename_dups(p,
                         "SELECT ord, name, created, id FROM arch WHERE base IN (SELECT base FROM"
                         " arch GROUP BY base HAVING count(*) > 1) ORDER BY ord",
                         true, renamed, err);
    if (!rc)
        rc = rename_dups(p,
                         "SELECT ord, name, created, id FROM arch WHERE name IN (SELECT name FROM"
                         " arch GROUP BY name HAVING count(*) > 1) ORDER BY ord",
                         false, &again, err);
    char name[FLOE_MNAME_CAP];
    if (!rc && first(p, "SELECT name FROM arch GROUP BY name HAVING count(*) > 1 LIMIT 1", 0, NULL,
                     NULL, true, name, sizeof(name), "finding duplicate names"))
        rc = floe_error_set(err, FLOE_E_INVALID_ARG,
                            "several archives are named '%s' even with their dates and ids; "
                            "name them apart with --names",
                            name);
    return rc ? rc : floe_mcatpg_failed(p, err);
}

/* A row that reaches done or failed is released in the same UPDATE (nobody needs to hold a
 * finished row; one left held by a worker that then died would stay held). */
_Static_assert(FLOE_MIGRATE_DONE == 5 && FLOE_MIGRATE_FAILED == 6,
               "floe_mcatpg_set's SQL releases the rows it moves to states 5 and 6");

int floe_mcatpg_set(struct floe_mcatpg *p, const struct floe_mcat_row *r,
                    enum floe_migrate_state to, struct floe_error *err)
{
    if (p->failed.status)
        return floe_mcatpg_failed(p, err);
    char st[8], done[24], att[16], now[24], ord[24];
    snprintf(st, sizeof(st), "%d", (int)to);
    snprintf(done, sizeof(done), "%" PRId64, r->job_done);
    snprintf(att, sizeof(att), "%d", r->attempts);
    snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
    snprintf(ord, sizeof(ord), "%" PRId64, r->ord);
    const char *v[] = {st, r->job_id, done, att, r->reason, r->sha256, now, ord, p->worker};
    const int bin[] = {0, 0, 0, 0, 1, 0, 0, 0, 0};
    PGresult *res = q(p,
                      "UPDATE arch SET state = $1, job_id = $2, job_done = $3, attempts = $4,"
                      " reason = $5, sha256 = $6, updated = $7,"
                      " owner = CASE WHEN $1::int IN (5, 6) THEN '' ELSE owner END,"
                      " lease_until = CASE WHEN $1::int IN (5, 6) THEN NULL ELSE lease_until END"
                      " WHERE ord = $8 AND owner = $9",
                      9, v, bin);
    int rc = FLOE_OK;
    if (!ok(res))
        rc = fail(p, p->db, "recording an archive's state", err);
    else if (strcmp(PQcmdTuples(res), "1") != 0) {
        struct floe_error e = {0};
        floe_error_set(&e, FLOE_E_IO,
                       "migration catalog %s: archive %s is no longer this worker's (its lease "
                       "expired and another worker took it); this worker stops, the other one "
                       "goes on with it",
                       p->name, r->id);
        if (!p->failed.status)
            p->failed = e;
        if (err)
            *err = e;
        rc = e.status;
    }
    PQclear(res);
    return rc;
}

#define ROW_COLS                                                                                   \
    "ord, id, name, created, size, tree, state, job_id, job_done, attempts, reason, sha256"

static void read_row(PGresult *r, int i, struct floe_mcat_row *o)
{
    char n[32];
    col(r, i, 0, false, n, sizeof(n));
    o->ord = strtoll(n, NULL, 10);
    col(r, i, 1, false, o->id, sizeof(o->id));
    col(r, i, 2, true, o->name, sizeof(o->name));
    col(r, i, 3, false, o->created, sizeof(o->created));
    col(r, i, 4, false, n, sizeof(n));
    o->size = strtoull(n, NULL, 10);
    col(r, i, 5, false, o->tree, sizeof(o->tree));
    col(r, i, 6, false, n, sizeof(n));
    o->state = (enum floe_migrate_state)strtol(n, NULL, 10);
    if ((unsigned)o->state >= FLOE_MIGRATE_STATE_COUNT)
        o->state = FLOE_MIGRATE_FAILED;
    col(r, i, 7, false, o->job_id, sizeof(o->job_id));
    col(r, i, 8, false, n, sizeof(n));
    o->job_done = strtoll(n, NULL, 10);
    col(r, i, 9, false, n, sizeof(n));
    o->attempts = (int)strtol(n, NULL, 10);
    col(r, i, 10, true, o->reason, sizeof(o->reason));
    col(r, i, 11, false, o->sha256, sizeof(o->sha256));
}

/* Claims the first row "where" selects ($1, $2 its parameters; $3 worker, $4 lease). */
static bool claim(struct floe_mcatpg *p, const char *where, const char *a, const char *b,
                  struct floe_mcat_row *out)
{
    if (p->failed.status)
        return false;
    char sql[1024];
    snprintf(sql, sizeof(sql),
             "UPDATE arch SET owner = $3, lease_until = now() + make_interval(secs => $4)"
             " WHERE ord = (SELECT ord FROM arch WHERE %s AND (owner = '' OR owner = $3 OR"
             " lease_until < now()) ORDER BY ord LIMIT 1 FOR UPDATE SKIP LOCKED)"
             " RETURNING " ROW_COLS,
             where);
    const char *v[] = {a, b, p->worker, p->lease};
    PGresult *r = q(p, sql, 4, v, NULL);
    bool found = false;
    if (!ok(r))
        fail(p, p->db, "claiming an archive", NULL);
    else if (PQntuples(r) == 1) {
        read_row(r, 0, out);
        found = true;
    }
    PQclear(r);
    return found;
}

bool floe_mcatpg_next(struct floe_mcatpg *p, enum floe_migrate_state s, int64_t after,
                      struct floe_mcat_row *out)
{
    if (s == FLOE_MIGRATE_STAGED) { /* a dead worker's copies go back to the pool first */
        const char *v[] = {p->worker};
        run(p,
            "UPDATE arch SET state = 2, owner = '', lease_until = NULL WHERE state = 3 AND"
            " owner <> $1 AND lease_until < now()",
            1, v, NULL, "returning expired copies to the pool", NULL);
    }
    char st[8], af[24];
    snprintf(st, sizeof(st), "%d", (int)s);
    snprintf(af, sizeof(af), "%" PRId64, after);
    return claim(p, "state = $1::int AND ord > $2::bigint", st, af, out);
}

bool floe_mcatpg_by(struct floe_mcatpg *p, const char *column, const char *value,
                    enum floe_migrate_state s, struct floe_mcat_row *out)
{
    char where[64], st[8];
    snprintf(where, sizeof(where), "%s = $1 AND state = $2::int", column);
    snprintf(st, sizeof(st), "%d", (int)s);
    return claim(p, where, value, st, out);
}

bool floe_mcatpg_has_job(struct floe_mcatpg *p, const char *job_id)
{
    const char *v[] = {job_id};
    char one[8];
    return first(p, "SELECT 1 FROM arch WHERE job_id = $1 LIMIT 1", 1, v, NULL, false, one,
                 sizeof(one), "looking up a job");
}

/* One number a query with one number parameter returns (0 when it failed). */
static uint64_t number_of(struct floe_mcatpg *p, const char *sql, uint64_t arg)
{
    char l[24];
    snprintf(l, sizeof(l), "%" PRIu64, arg);
    const char *v[] = {l};
    double x;
    numbers(p, sql, 1, v, &x, 1);
    return (uint64_t)x;
}

uint64_t floe_mcatpg_count_over(struct floe_mcatpg *p, uint64_t limit)
{
    return number_of(p, "SELECT count(*) FROM arch WHERE size > $1::bigint", limit);
}

uint64_t floe_mcatpg_s3_requests(struct floe_mcatpg *p, uint64_t chunk)
{
    return number_of(p,
                     "SELECT coalesce(sum(CASE WHEN size <= $1::bigint THEN 1 ELSE"
                     " (size + $1::bigint - 1) / $1::bigint + 2 END), 0) FROM arch",
                     chunk);
}

void floe_mcatpg_counts(struct floe_mcatpg *p, uint64_t archives[FLOE_MIGRATE_STATE_COUNT],
                        uint64_t bytes[FLOE_MIGRATE_STATE_COUNT])
{
    memset(archives, 0, sizeof(uint64_t) * FLOE_MIGRATE_STATE_COUNT);
    memset(bytes, 0, sizeof(uint64_t) * FLOE_MIGRATE_STATE_COUNT);
    if (flush(p, NULL))
        return;
    PGresult *r = PQexec(p->db, "SELECT state, count(*), sum(size) FROM arch GROUP BY state");
    if (!ok(r))
        fail(p, p->db, "counting archives", NULL);
    for (int i = 0; ok(r) && i < PQntuples(r); i++) {
        int s = (int)strtol(PQgetvalue(r, i, 0), NULL, 10);
        if (s < 0 || s >= FLOE_MIGRATE_STATE_COUNT)
            s = FLOE_MIGRATE_FAILED;
        archives[s] += strtoull(PQgetvalue(r, i, 1), NULL, 10);
        bytes[s] += strtoull(PQgetvalue(r, i, 2), NULL, 10);
    }
    PQclear(r);
}

int floe_mcatpg_each(struct floe_mcatpg *p, unsigned states_mask, bool by_name,
                     int (*fn)(const struct floe_mcat_row *r, void *user), void *user,
                     struct floe_error *err)
{
    if (p->failed.status)
        return floe_mcatpg_failed(p, err);
    /* in pages (a cursor would pin a transaction): rows after the last key seen */
    const char *sql = by_name ? "SELECT " ROW_COLS ", name FROM arch WHERE (name, ord) >"
                                " ($1::bytea, $2::bigint) ORDER BY name, ord LIMIT 1000"
                              : "SELECT " ROW_COLS " FROM arch WHERE ord > $2::bigint AND"
                                " $1::bytea IS NOT NULL ORDER BY ord LIMIT 1000";
    struct floe_mcat_row *r = floe_xmalloc(sizeof(*r));
    char last_ord[24] = "-1";
    char *last_name = floe_xcalloc(1, FLOE_MNAME_CAP);
    int rc = FLOE_OK;
    for (;;) {
        const char *v[] = {last_name, last_ord};
        const int bin[] = {1, 0};
        PGresult *res = q(p, sql, 2, v, bin);
        if (!ok(res)) {
            PQclear(res);
            rc = fail(p, p->db, "listing archives", err);
            break;
        }
        int n = PQntuples(res);
        for (int i = 0; !rc && i < n; i++) {
            read_row(res, i, r);
            snprintf(last_ord, sizeof(last_ord), "%" PRId64, r->ord);
            memcpy(last_name, r->name, strlen(r->name) + 1);
            if (states_mask && !(states_mask & (1u << r->state)))
                continue;
            if (fn(r, user))
                rc = FLOE_E_CANCELLED;
        }
        PQclear(res);
        if (rc || n < 1000)
            break;
    }
    free(last_name);
    free(r);
    return rc;
}

uint64_t floe_mcatpg_today_bytes(struct floe_mcatpg *p)
{
    return number_of(p,
                     "SELECT coalesce(sum(bytes), 0) FROM daily WHERE $1::int = 0 AND day ="
                     " to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
                     0);
}

int floe_mcatpg_add_job(struct floe_mcatpg *p, const char *tier, uint64_t bytes,
                        struct floe_error *err)
{
    char b[24];
    snprintf(b, sizeof(b), "%" PRIu64, bytes);
    const char *v[] = {tier, b};
    return run(p,
               "INSERT INTO daily VALUES(to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD'), $1,"
               " $2, 1) ON CONFLICT (day, tier) DO UPDATE SET bytes = daily.bytes +"
               " excluded.bytes, jobs = daily.jobs + 1",
               2, v, NULL, "recording a retrieval job", err);
}

void floe_mcatpg_jobs_total(struct floe_mcatpg *p, const char *tier, uint64_t *jobs,
                            uint64_t *bytes)
{
    const char *v[] = {tier};
    double x[2];
    numbers(p, "SELECT coalesce(sum(jobs), 0), coalesce(sum(bytes), 0) FROM daily WHERE tier = $1",
            1, v, x, 2);
    *jobs = (uint64_t)x[0];
    *bytes = (uint64_t)x[1];
}

int floe_mcatpg_run_record(struct floe_mcatpg *p, int64_t started, double seconds, uint64_t bytes,
                           struct floe_error *err)
{
    char s[24], sec[40], b[24];
    snprintf(s, sizeof(s), "%" PRId64, started);
    snprintf(sec, sizeof(sec), "%.6f", seconds);
    snprintf(b, sizeof(b), "%" PRIu64, bytes);
    const char *v[] = {s, p->worker, sec, b};
    return run(p,
               "INSERT INTO runs VALUES($1, $2, $3, $4) ON CONFLICT (started, worker) DO UPDATE"
               " SET seconds = excluded.seconds, bytes = excluded.bytes",
               4, v, NULL, "recording the run", err);
}

void floe_mcatpg_runs_total(struct floe_mcatpg *p, double *seconds, uint64_t *bytes)
{
    double x[2];
    numbers(p, "SELECT coalesce(sum(seconds), 0), coalesce(sum(bytes), 0) FROM runs", 0, NULL, x,
            2);
    *seconds = x[0];
    *bytes = (uint64_t)x[1];
}
