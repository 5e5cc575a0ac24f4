/*
 * vselect.c - select jobs in floe-vault (see vselect.h; docs/select.md 3).
 *
 * DESIGN
 * InitiateJob checks everything a select job can be refused for before it answers: the SQL is
 * parsed, the serialization characters checked, and (with FileHeaderInfo USE) the header read
 * from the archive's first record and the column names bound to it. When the job is due, the
 * scheduler calls floe_vselect_launch(): the job's due time is set to a sentinel (so the
 * scheduler does not launch it twice) and a coordinating thread runs it:
 *   1. open the archive's segment files (the row lock is held only for this), write job.txt;
 *   2. read the header record (USE/IGNORE), then split the rest into up to --select-workers
 *      slices (at least 64 KiB each) at guessed record ends: just past the first record
 *      delimiter after each equal share (guess_split: a few small reads, not a pass over the
 *      archive, which cost a serial read of all but the last slice before the workers began);
 *   3. one worker thread per slice reads it in 1 MiB preads into its own selrun, whose output
 *      goes to the slice's own result object results/NNNN.csv (created at its first byte); a
 *      slice whose end was guessed checks that its reader is at a record start there;
 *   4. when a guess was wrong (a record delimiter inside a quoted field), or a slice after
 *      the first failed (its record numbers count from its own start), every result object is
 *      dropped and the slices run again split exactly: one pass of the boundary scanner
 *      (split), which also counts the records before each slice;
 *   5. success: result_manifest.txt lists the result objects; failure (the first error of the
 *      lowest slice wins; the other workers stop at their next chunk): errors/0001.txt holds
 *      the message and error_manifest.txt lists it, and the job fails with that message.
 * The outcome is recorded by the done function (jobs.c: floe_vjobs_finish). A stop (server
 * shutdown) abandons running jobs: their due time is reset, so the next start runs them again from
 * the beginning (the sentinel is reset at start too, for a crash).
 *
 * Output goes through a sink: with --select-output-dir DIR, objects are files under
 * DIR/<BucketName>/<key>, written whole, fsynced and renamed into place (a reader never sees half
 * an object); the bucket is the directory DIR/<BucketName>, which must exist.
 */
#include "vselect.h"

#include "alloc.h"
#include "selcsv.h"
#include "selrun.h"
#include "selsql.h"
#include "store_blob.h"
#include "store_db.h"
#include "vctx.h"
#include "vlog.h"
#include "vs3out.h"
#include "vutil.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RUNNING_SENTINEL INT64_MAX
#define CHUNK ((size_t)1 << 20)
#define MIN_SLICE ((uint64_t)64 << 10)
#define MAX_SLICES 64
#define GUESS_READ ((size_t)64 << 10)

/* ---- serialization ---- */

struct ser {
    struct floe_selcsv_in in;
    enum floe_selrun_header hdr;
    struct floe_selcsv_out out;
};

/* One character member of obj into *c (absent: left as is). */
static int char_member(json_t *obj, const char *where, const char *name, char *c, bool empty_ok,
                       char *msg, size_t cap)
{
    json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v))
        return 0;
    const char *s = json_string_value(v);
    if (!s || (strlen(s) != 1 && !(empty_ok && !s[0])) || (s[0] & 0x80)) {
        snprintf(msg, cap, "%s.%s must be one ASCII character%s", where, name,
                 empty_ok ? " (or empty)" : "");
        return -1;
    }
    *c = s[0];
    return 0;
}

static int only_members(json_t *obj, const char *where, const char *const *allowed, char *msg,
                        size_t cap)
{
    const char *k;
    json_t *v;
    if (!json_is_object(obj)) {
        snprintf(msg, cap, "%s must be a JSON object", where);
        return -1;
    }
    json_object_foreach(obj, k, v)
    {
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strcmp(k, allowed[i]) == 0;
        if (!ok) {
            snprintf(msg, cap, "%s has an unknown member %s", where, k);
            return -1;
        }
    }
    return 0;
}

static int parse_ser(json_t *sp, struct ser *s, char *msg, size_t cap)
{
    static const char *const in_names[] = {"FileHeaderInfo",
                                           "RecordDelimiter",
                                           "FieldDelimiter",
                                           "QuoteCharacter",
                                           "QuoteEscapeCharacter",
                                           "Comments",
                                           NULL};
    static const char *const out_names[] = {"QuoteFields",          "RecordDelimiter",
                                            "FieldDelimiter",       "QuoteCharacter",
                                            "QuoteEscapeCharacter", NULL};
    static const char *const csv_only[] = {"csv", NULL};
    memset(s, 0, sizeof(*s));
    json_t *is = json_object_get(sp, "InputSerialization");
    json_t *os = json_object_get(sp, "OutputSerialization");
    json_t *ic = json_object_get(is, "csv"), *oc = json_object_get(os, "csv");
    if (!is || !ic) {
        snprintf(msg, cap,
                 "SelectParameters.InputSerialization.csv is required (select reads"
                 " CSV archives only)");
        return -1;
    }
    if (!os || !oc) {
        snprintf(msg, cap, "SelectParameters.OutputSerialization.csv is required");
        return -1;
    }
    const char *wi = "SelectParameters.InputSerialization.csv";
    const char *wo = "SelectParameters.OutputSerialization.csv";
    if (only_members(is, "SelectParameters.InputSerialization", csv_only, msg, cap) ||
        only_members(os, "SelectParameters.OutputSerialization", csv_only, msg, cap) ||
        only_members(ic, wi, in_names, msg, cap) || only_members(oc, wo, out_names, msg, cap))
        return -1;
    if (char_member(ic, wi, "RecordDelimiter", &s->in.record_delim, false, msg, cap) ||
        char_member(ic, wi, "FieldDelimiter", &s->in.field_delim, false, msg, cap) ||
        char_member(ic, wi, "QuoteCharacter", &s->in.quote, false, msg, cap) ||
        char_member(ic, wi, "QuoteEscapeCharacter", &s->in.quote_escape, false, msg, cap) ||
        char_member(ic, wi, "Comments", &s->in.comments, true, msg, cap) ||
        char_member(oc, wo, "RecordDelimiter", &s->out.record_delim, false, msg, cap) ||
        char_member(oc, wo, "FieldDelimiter", &s->out.field_delim, false, msg, cap) ||
        char_member(oc, wo, "QuoteCharacter", &s->out.quote, false, msg, cap) ||
        char_member(oc, wo, "QuoteEscapeCharacter", &s->out.quote_escape, false, msg, cap))
        return -1;
    const char *fh = json_string_value(json_object_get(ic, "FileHeaderInfo"));
    if (json_object_get(ic, "FileHeaderInfo") && !fh)
        fh = "?";
    if (!fh || strcasecmp(fh, "NONE") == 0)
        s->hdr = FLOE_SELRUN_HEADER_NONE;
    else if (strcasecmp(fh, "USE") == 0)
        s->hdr = FLOE_SELRUN_HEADER_USE;
    else if (strcasecmp(fh, "IGNORE") == 0)
        s->hdr = FLOE_SELRUN_HEADER_IGNORE;
    else {
        snprintf(msg, cap, "%s.FileHeaderInfo must be USE, IGNORE or NONE, not %s", wi, fh);
        return -1;
    }
    const char *qf = json_string_value(json_object_get(oc, "QuoteFields"));
    if (json_object_get(oc, "QuoteFields") && !qf)
        qf = "?";
    if (!qf || strcasecmp(qf, "ASNEEDED") == 0)
        s->out.quote_fields = FLOE_SELCSV_ASNEEDED;
    else if (strcasecmp(qf, "ALWAYS") == 0)
        s->out.quote_fields = FLOE_SELCSV_ALWAYS;
    else {
        snprintf(msg, cap, "%s.QuoteFields must be ALWAYS or ASNEEDED, not %s", wo, qf);
        return -1;
    }
    floe_selcsv_in_defaults(&s->in);
    floe_selcsv_out_defaults(&s->out);
    const struct floe_selcsv_in *in = &s->in;
    if (in->field_delim == in->record_delim || in->quote == in->field_delim ||
        in->quote == in->record_delim ||
        (in->comments && (in->comments == in->field_delim || in->comments == in->record_delim ||
                          in->comments == in->quote))) {
        snprintf(msg, cap,
                 "%s: RecordDelimiter, FieldDelimiter, QuoteCharacter and Comments must"
                 " be different characters",
                 wi);
        return -1;
    }
    const struct floe_selcsv_out *out = &s->out;
    if (out->field_delim == out->record_delim || out->quote == out->field_delim ||
        out->quote == out->record_delim) {
        snprintf(msg, cap,
                 "%s: RecordDelimiter, FieldDelimiter and QuoteCharacter must be"
                 " different characters",
                 wo);
        return -1;
    }
    return 0;
}

/* ---- output location ---- */

static int check_location(const struct floe_vserver *srv, json_t *ol, char *msg, size_t cap)
{
    struct floe_vs3out_loc *loc;
    if (floe_vs3out_loc_parse(json_object_get(ol, "S3"), &loc, msg, cap))
        return -1;
    int rc = 0;
    if (!srv->select_out) {
        snprintf(msg, cap,
                 "this floe-vault has no select output: start it with --s3-endpoint URL or"
                 " --select-output-dir DIR");
        rc = -1;
    } else {
        rc = floe_vs3out_check(
            srv->select_out, loc,
            json_string_value(json_object_get(json_object_get(ol, "S3"), "Prefix")), msg, cap);
    }
    floe_vs3out_loc_free(loc);
    return rc;
}

/* SelectParameters.Expression parsed into *q; -1 with msg naming the problem. */
static int parse_expression(json_t *sp, struct floe_selsql_query **q, char *msg, size_t cap)
{
    const char *sql = json_string_value(json_object_get(sp, "Expression"));
    char why[512];
    if (floe_selsql_parse(sql ? sql : "", sql ? strlen(sql) : 0, q, why, sizeof(why))) {
        snprintf(msg, cap, "Invalid SelectParameters.Expression: %s", why);
        return -1;
    }
    return 0;
}

int floe_vselect_check_params(const struct floe_vserver *srv, json_t *sp, json_t *ol, char *msg,
                              size_t cap)
{
    static const char *const sp_names[] = {"Expression", "ExpressionType", "InputSerialization",
                                           "OutputSerialization", NULL};
    struct ser s;
    if (only_members(sp, "SelectParameters", sp_names, msg, cap) || parse_ser(sp, &s, msg, cap))
        return -1;
    struct floe_selsql_query *q;
    char why[512];
    if (parse_expression(sp, &q, msg, cap))
        return -1;
    int rc = 0;
    if (!q->uses_names || s.hdr != FLOE_SELRUN_HEADER_USE)
        rc = floe_selsql_bind(q, NULL, 0, why, sizeof(why)); /* positions only, or names refused */
    floe_selsql_free(q);
    if (rc) {
        snprintf(msg, cap, "Invalid SelectParameters.Expression: %s", why);
        return -1;
    }
    return check_location(srv, ol, msg, cap);
}

/* ---- the archive's bytes ---- */

struct piece {
    int fd;
    uint64_t start, len; /* archive offset of the segment, its length */
    uint64_t file_off;   /* where the segment starts in its file (a log blob holds many) */
};

struct arch {
    struct piece *p;
    size_t n;
    uint64_t size;
};

static void arch_close(struct arch *a)
{
    for (size_t i = 0; i < a->n; i++)
        close(a->p[i].fd);
    free(a->p);
    memset(a, 0, sizeof(*a));
}

/* Open archive_id's segment files (lock held). */
static int arch_open_locked(struct floe_vserver *srv, const char *archive_id, struct arch *a,
                            char *msg, size_t cap)
{
    memset(a, 0, sizeof(*a));
    sqlite3_stmt *st = floe_vdb_stmt(srv->db, "SELECT seg_owner, part_size, size FROM archives"
                                              " WHERE id = ?");
    floe_vdb_bind(st, "t", archive_id);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        snprintf(msg, cap, "The archive was deleted before the job ran: %s", archive_id);
        return -1;
    }
    char *owner = floe_xstrdup(floe_vdb_text(st, 0));
    uint64_t part = (uint64_t)floe_vdb_int(st, 1);
    a->size = (uint64_t)floe_vdb_int(st, 2);
    sqlite3_reset(st);
    st = floe_vdb_stmt(srv->db,
                       "SELECT idx, blob, len, off FROM segments WHERE owner = ? ORDER BY idx");
    floe_vdb_bind(st, "t", owner);
    size_t capn = 0;
    uint64_t covered = 0;
    int rc = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (a->n == capn) {
            capn = capn ? capn * 2 : 8;
            a->p = floe_xrealloc(a->p, capn * sizeof(*a->p));
        }
        int fd = floe_vblob_open_read(srv->blobs, floe_vdb_text(st, 1));
        if (fd < 0) {
            snprintf(msg, cap, "cannot open archive data %s: %s", floe_vdb_text(st, 1),
                     strerror(errno));
            rc = -1;
            break;
        }
        a->p[a->n++] = (struct piece){fd, (uint64_t)floe_vdb_int(st, 0) * part,
                                      (uint64_t)floe_vdb_int(st, 2), (uint64_t)floe_vdb_int(st, 3)};
        covered += (uint64_t)floe_vdb_int(st, 2);
    }
    sqlite3_reset(st);
    free(owner);
    if (!rc && covered != a->size) {
        snprintf(msg, cap, "the archive's data is incomplete");
        rc = -1;
    }
    if (rc)
        arch_close(a);
    return rc;
}

/* Read archive bytes [off, off + len) into buf; returns the bytes read (short at the end). */
static size_t arch_read(const struct arch *a, uint64_t off, char *buf, size_t len)
{
    size_t got = 0;
    for (size_t i = 0; i < a->n && got < len; i++) {
        const struct piece *p = &a->p[i];
        uint64_t at = off + got;
        if (at < p->start || at >= p->start + p->len)
            continue;
        size_t want = len - got;
        if (want > p->start + p->len - at)
            want = (size_t)(p->start + p->len - at);
        ssize_t k = pread(p->fd, buf + got, want, (off_t)(p->file_off + at - p->start));
        if (k <= 0)
            break;
        got += (size_t)k;
        i--; /* the same piece may hold more */
    }
    return got;
}

/* The header record at the start of the archive: its fields and where the data begins. */
static int read_header(const struct arch *a, const struct ser *s, size_t *start,
                       struct floe_selcsv_field **h, size_t *nh, char *msg, size_t cap)
{
    size_t want =
        a->size < FLOE_SELCSV_MAX_RECORD + 4096 ? (size_t)a->size : FLOE_SELCSV_MAX_RECORD + 4096;
    char *buf = floe_xmalloc(want ? want : 1);
    size_t got = arch_read(a, 0, buf, want);
    int rc = floe_selrun_header(&s->in, buf, got, start, h, nh);
    free(buf);
    if (rc) {
        snprintf(msg, cap, "the header record is longer than %zu bytes", FLOE_SELCSV_MAX_RECORD);
        return -1;
    }
    return 0;
}

int floe_vselect_check_archive_locked(struct floe_vserver *srv, json_t *sp, const char *archive_id,
                                      char *msg, size_t cap)
{
    struct ser s;
    if (parse_ser(sp, &s, msg, cap))
        return -1;
    if (s.hdr != FLOE_SELRUN_HEADER_USE)
        return 0; /* names were refused by floe_vselect_check_params */
    struct floe_selsql_query *q;
    char why[512];
    if (parse_expression(sp, &q, msg, cap))
        return -1;
    struct arch a;
    struct floe_selcsv_field *h = NULL;
    size_t nh = 0, start;
    int rc = arch_open_locked(srv, archive_id, &a, msg, cap);
    if (!rc) {
        rc = read_header(&a, &s, &start, &h, &nh, msg, cap);
        arch_close(&a);
    }
    if (!rc && floe_selsql_bind(q, h, nh, why, sizeof(why))) {
        snprintf(msg, cap, "Invalid SelectParameters.Expression: %s", why);
        rc = -1;
    }
    floe_selrun_header_free(h, nh);
    floe_selsql_free(q);
    return rc;
}

/* ---- the runner ---- */

struct floe_vselect {
    struct floe_vserver *srv;
    floe_vselect_done_fn *done;
    int workers;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct {
        int running; /* job threads alive */
        bool stopping;
    } locked; /* guarded by mu */
    atomic_bool stop;
};

struct job;

struct slice {
    struct job *job;
    unsigned index;
    uint64_t first, end; /* archive bytes [first, end) */
    uint64_t records_before;
    struct floe_vs3out_obj *obj; /* the result object, opened at its first byte */
    char key[1400];
    char *error;
    bool check_end; /* end is a guess (guess_split): the reader must be at a record start there */
    bool bad_end;   /* it was not: the split is redone exactly */
    pthread_t thread;
};

struct job {
    struct floe_vselect *sel;
    char id[FLOE_VID_MAX];
    struct floe_vs3out *out;
    struct floe_vs3out_loc *loc;
    const char *bucket;
    char base[1400]; /* <prefix>/<job id>/ */
    struct arch arch;
    struct ser ser;
    struct floe_selsql_query *q;
    int64_t now_us;
    atomic_bool failed; /* some slice failed: the others stop */
};

static int slice_flush(void *ud, const char *data, size_t len)
{
    struct slice *s = ud;
    char msg[1200];
    if (!s->obj) {
        snprintf(s->key, sizeof(s->key), "%.1200sresults/%04u.csv", s->job->base, s->index + 1);
        s->obj = floe_vs3out_open(s->job->out, s->job->loc, s->key);
    }
    if (floe_vs3out_write(s->obj, data, len, msg, sizeof(msg))) {
        s->error = floe_xstrdup(msg);
        return 1;
    }
    return 0;
}

static void *slice_run(void *arg)
{
    struct slice *s = arg;
    struct job *j = s->job;
    struct floe_selrun *r = floe_selrun_new(j->q, &j->ser.in, &j->ser.out, j->now_us,
                                            s->records_before, slice_flush, s);
    char *buf = floe_xmalloc(CHUNK);
    int rc = 0;
    for (uint64_t at = s->first; at < s->end && !rc;) {
        if (atomic_load(&j->failed) || atomic_load(&j->sel->stop)) {
            rc = -1;
            break;
        }
        size_t want = s->end - at < CHUNK ? (size_t)(s->end - at) : CHUNK;
        size_t got = arch_read(&j->arch, at, buf, want);
        if (got != want) {
            s->error = floe_xstrdup("reading the archive failed");
            rc = -1;
            break;
        }
        rc = floe_selrun_feed(r, buf, got);
        at += got;
    }
    if (!rc && s->check_end && !floe_selrun_at_record_start(r)) {
        s->bad_end = true; /* the next slice began inside a record: its output is wrong */
        rc = -1;
    }
    if (!rc)
        rc = floe_selrun_finish(r);
    if (rc && !s->error && floe_selrun_error(r))
        s->error = floe_xstrdup(floe_selrun_error(r));
    if (s->error || s->bad_end)
        atomic_store(&j->failed, true);
    free(buf);
    floe_selrun_destroy(r);
    return NULL;
}

/* How many slices `bytes` of records are cut into for n workers (each at least MIN_SLICE). */
static size_t slice_count(uint64_t bytes, size_t n)
{
    if (n > MAX_SLICES)
        n = MAX_SLICES;
    while (n > 1 && bytes / n < MIN_SLICE)
        n--;
    return n;
}

/* Split [start, size) into up to n slices ending at record ends (one scanner pass). */
static size_t split(struct job *j, uint64_t start, size_t n, struct slice *sl)
{
    uint64_t size = j->arch.size;
    n = slice_count(size - start, n);
    char *buf = floe_xmalloc(CHUNK);
    uint64_t buf_at = start;
    size_t buf_len = 0;
    struct floe_selcsv_scan_state st = {0};
    uint64_t at = start, slice_start = start, records_at_start = 0;
    size_t count = 0;
    while (count + 1 < n) {
        uint64_t target = start + (size - start) * (count + 1) / n;
        /* whole records until one ends at or after target (state 0: at a record's start) */
        while (at < size && (at < target || st.state != 0)) {
            if (at >= buf_at + buf_len) {
                buf_at = at;
                buf_len =
                    arch_read(&j->arch, at, buf, size - at < CHUNK ? (size_t)(size - at) : CHUNK);
                if (!buf_len)
                    break;
            }
            size_t off = (size_t)(at - buf_at);
            at += floe_selcsv_scan(&j->ser.in, &st, buf + off, buf_len - off);
        }
        if (at >= size || st.state != 0)
            break;
        sl[count] = (struct slice){.job = j,
                                   .index = (unsigned)count,
                                   .first = slice_start,
                                   .end = at,
                                   .records_before = records_at_start};
        records_at_start = st.records;
        slice_start = at;
        count++;
    }
    sl[count] = (struct slice){.job = j,
                               .index = (unsigned)count,
                               .first = slice_start,
                               .end = size,
                               .records_before = records_at_start};
    free(buf);
    return count + 1;
}

/*
 * Guess up to n slices of [start, size) without reading the archive through: each boundary is
 * just past the first record delimiter at or after an equal share (a few small reads). A guess
 * can fall inside a quoted field that holds a record delimiter; the slice before it checks, as
 * it ends, that its reader is at a record start there (check_end), and run_slices() is redone
 * with split() when one is not. records_before is known only for the first slice (0 after the
 * header), so a runtime error of a later slice is taken only from the exact split.
 */
static size_t guess_split(struct job *j, uint64_t start, size_t n, struct slice *sl)
{
    const uint64_t size = j->arch.size;
    char *buf = floe_xmalloc(GUESS_READ);
    uint64_t first = start;
    size_t count = 0;
    n = slice_count(size - start, n);
    for (size_t k = 1; k < n; k++) {
        uint64_t at = start + (size - start) * k / n, end = 0;
        if (at < first)
            at = first;
        /* a record is at most FLOE_SELCSV_MAX_RECORD long: look no further than that */
        for (uint64_t limit = at + FLOE_SELCSV_MAX_RECORD + GUESS_READ;
             !end && at < size && at < limit;) {
            size_t got = arch_read(&j->arch, at, buf,
                                   size - at < GUESS_READ ? (size_t)(size - at) : GUESS_READ);
            if (!got)
                break;
            const char *rd = memchr(buf, j->ser.in.record_delim, got);
            if (rd)
                end = at + (uint64_t)(rd - buf) + 1;
            at += got;
        }
        if (!end || end >= size)
            break;
        sl[count] = (struct slice){
            .job = j, .index = (unsigned)count, .first = first, .end = end, .check_end = true};
        first = end;
        count++;
    }
    sl[count] = (struct slice){.job = j, .index = (unsigned)count, .first = first, .end = size};
    free(buf);
    return count + 1;
}

/*
 * Run slices sl[0..n) on their threads, and close their result objects (kept when keep_ok
 * and the run succeeded; added to manifest). Returns 0 when every slice succeeded; 1 when
 * the split must be redone exactly (a guessed boundary was wrong, or a slice after the first
 * of a guessed split failed: its record numbers are unknown), the objects dropped; -1 with
 * msg (the job fails). Frees the slices' errors.
 */
static int run_slices(struct job *j, struct slice *sl, size_t n, bool *abandoned,
                      struct floe_selcsv_buf *manifest, char *msg, size_t cap)
{
    atomic_store(&j->failed, false);
    size_t started = 0;
    for (; started < n; started++)
        if (pthread_create(&sl[started].thread, NULL, slice_run, &sl[started]) != 0)
            break;
    if (started < n) {
        atomic_store(&j->failed, true);
        snprintf(msg, cap, "cannot start a select worker thread");
    }
    for (size_t i = 0; i < started; i++)
        pthread_join(sl[i].thread, NULL);
    *abandoned = atomic_load(&j->sel->stop);
    int redo = 0;
    for (size_t i = 0; i < n && !msg[0] && !redo; i++) {
        if (sl[i].bad_end || (sl[i].error && i > 0 && sl[0].check_end))
            redo = 1;
        else if (sl[i].error)
            snprintf(msg, cap, "%s", sl[i].error);
    }
    bool ok = !msg[0] && !*abandoned && !redo;
    for (size_t i = 0; i < n; i++) {
        char why[1024];
        if (sl[i].obj && floe_vs3out_close(sl[i].obj, ok, why, sizeof(why)) != 0 && ok) {
            snprintf(msg, cap, "%s", why);
            ok = false;
        }
        if (sl[i].obj && ok) {
            floe_selcsv_buf_put(manifest, sl[i].key, strlen(sl[i].key));
            floe_selcsv_buf_put(manifest, "\n", 1);
        }
        sl[i].obj = NULL;
        free(sl[i].error);
        sl[i].error = NULL;
    }
    if (*abandoned)
        return 0;
    return redo && !msg[0] ? 1 : msg[0] ? -1 : 0;
}

/* Run the job; the failure message (malloc'd) or NULL on success. *abandoned when stopped. */
static char *run_job(struct job *j, bool *abandoned)
{
    char msg[1024] = "";
    size_t start = 0, nh = 0;
    struct floe_selcsv_field *h = NULL;
    if (j->ser.hdr != FLOE_SELRUN_HEADER_NONE &&
        read_header(&j->arch, &j->ser, &start, &h, &nh, msg, sizeof(msg)))
        return floe_xstrdup(msg);
    char why[512];
    int rc = floe_selsql_bind(j->q, j->ser.hdr == FLOE_SELRUN_HEADER_USE ? h : NULL,
                              j->ser.hdr == FLOE_SELRUN_HEADER_USE ? nh : 0, why, sizeof(why));
    floe_selrun_header_free(h, nh);
    if (rc) {
        snprintf(msg, sizeof(msg), "Invalid SelectParameters.Expression: %s", why);
        return floe_xstrdup(msg);
    }
    struct slice *sl = floe_xcalloc(MAX_SLICES, sizeof(*sl));
    struct floe_selcsv_buf manifest = {0};
    size_t n = guess_split(j, start, (size_t)j->sel->workers, sl);
    int out = run_slices(j, sl, n, abandoned, &manifest, msg, sizeof(msg));
    if (out == 1) {
        floe_vlog(&j->sel->srv->cfg, FLOE_VLOG_INFO,
                  "select job %s: a guessed slice boundary was not a record end (or a later"
                  " slice failed); the %zu slices are run again, split exactly",
                  j->id, n);
        n = split(j, start, (size_t)j->sel->workers, sl);
        out = run_slices(j, sl, n, abandoned, &manifest, msg, sizeof(msg));
    }
    bool ok = !out && !msg[0];
    free(sl);
    char key[1500];
    if (ok && !*abandoned) {
        snprintf(key, sizeof(key), "%sresult_manifest.txt", j->base);
        floe_vs3out_put(j->out, j->loc, key, manifest.p ? manifest.p : "", manifest.len, msg,
                        sizeof(msg));
    }
    floe_selcsv_buf_free(&manifest);
    if (!msg[0] || *abandoned)
        return NULL;
    char emsg[1024], ekey[1500];
    snprintf(ekey, sizeof(ekey), "%serrors/0001.txt", j->base);
    snprintf(emsg, sizeof(emsg), "%.1000s\n", msg);
    if (floe_vs3out_put(j->out, j->loc, ekey, emsg, strlen(emsg), why, sizeof(why)) == 0) {
        snprintf(key, sizeof(key), "%serror_manifest.txt", j->base);
        snprintf(emsg, sizeof(emsg), "%.1000s\n", ekey);
        floe_vs3out_put(j->out, j->loc, key, emsg, strlen(emsg), why, sizeof(why));
    }
    return floe_xstrdup(msg);
}

/* Load job id: its parameters, the archive's open files. Returns 0; -1 with msg (fail the
 * job); 1 when it is no longer InProgress. */
static int load(struct job *j, json_t **sel_json, char *msg, size_t cap)
{
    struct floe_vserver *srv = j->sel->srv;
    int rc = 0;
    floe_vdb_lock(srv->db);
    sqlite3_stmt *st = floe_vdb_stmt(srv->db, "SELECT select_json, archive_id, output_path FROM"
                                              " jobs WHERE id = ? AND status = 'InProgress'");
    floe_vdb_bind(st, "t", j->id);
    char *archive_id = NULL;
    if (sqlite3_step(st) != SQLITE_ROW || !floe_vdb_text(st, 0)) {
        rc = 1;
    } else {
        *sel_json = json_loads(floe_vdb_text(st, 0), 0, NULL);
        archive_id = floe_xstrdup(floe_vdb_text(st, 1));
        snprintf(j->base, sizeof(j->base), "%s", floe_vdb_text(st, 2));
    }
    sqlite3_reset(st);
    if (!rc)
        rc = arch_open_locked(srv, archive_id, &j->arch, msg, cap);
    floe_vdb_unlock(srv->db);
    free(archive_id);
    if (!rc && !*sel_json) {
        snprintf(msg, cap, "the job's select parameters are unreadable");
        rc = -1;
    }
    return rc;
}

static void *job_thread(void *arg)
{
    struct job *j = arg;
    struct floe_vselect *sel = j->sel;
    struct floe_vserver *srv = sel->srv;
    char msg[1024] = "";
    json_t *sj = NULL;
    char *fail = NULL;
    bool abandoned = false;
    int rc = load(j, &sj, msg, sizeof(msg));
    json_t *sp = json_object_get(sj, "SelectParameters");
    json_t *s3 = json_object_get(json_object_get(sj, "OutputLocation"), "S3");
    j->out = srv->select_out;
    if (!rc && !j->out) {
        snprintf(msg, sizeof(msg), "this floe-vault has no select output");
        rc = -1;
    }
    if (!rc && floe_vs3out_loc_parse(s3, &j->loc, msg, sizeof(msg)))
        rc = -1;
    if (!rc)
        j->bucket = floe_vs3out_loc_bucket(j->loc);
    if (!rc && parse_ser(sp, &j->ser, msg, sizeof(msg)))
        rc = -1;
    if (!rc && parse_expression(sp, &j->q, msg, sizeof(msg)))
        rc = -1;
    if (!rc) {
        /* job.txt: the job's id and parameters, before any result */
        json_t *info = json_pack("{s:s, s:O, s:O}", "JobId", j->id, "SelectParameters", sp,
                                 "OutputLocation", json_object_get(sj, "OutputLocation"));
        char *text = json_dumps(info, JSON_INDENT(2));
        char key[1500];
        snprintf(key, sizeof(key), "%sjob.txt", j->base);
        if (floe_vs3out_put(j->out, j->loc, key, text, strlen(text), msg, sizeof(msg)))
            rc = -1;
        free(text);
        json_decref(info);
    }
    if (!rc)
        fail = run_job(j, &abandoned);
    else if (rc < 0)
        fail = floe_xstrdup(msg);
    if (abandoned) {
        floe_vdb_lock(srv->db);
        floe_vdb_exec(srv->db, NULL, "UPDATE jobs SET due_ms = 0 WHERE id = ?", "t", j->id);
        floe_vdb_unlock(srv->db);
    } else if (rc <= 0) {
        sel->done(srv, j->id, fail);
    }
    free(fail);
    floe_selsql_free(j->q);
    floe_vs3out_loc_free(j->loc);
    arch_close(&j->arch);
    json_decref(sj);
    free(j);
    pthread_mutex_lock(&sel->mu);
    sel->locked.running--;
    pthread_cond_broadcast(&sel->cv);
    pthread_mutex_unlock(&sel->mu);
    return NULL;
}

int floe_vselect_start(struct floe_vserver *srv, floe_vselect_done_fn *done,
                       struct floe_vselect **out, char *msg, size_t cap)
{
    *out = NULL;
    if (floe_vs3out_new(&srv->cfg, &srv->select_out, msg, cap))
        return -1;
    if (srv->select_out)
        floe_vlog(&srv->cfg, FLOE_VLOG_INFO, "select output: %s",
                  floe_vs3out_describe(srv->select_out));
    struct floe_vselect *s = floe_xcalloc(1, sizeof(*s));
    s->srv = srv;
    s->done = done;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    s->workers = srv->cfg.select_workers > 0 ? srv->cfg.select_workers
                 : cpus > 0                  ? (int)(cpus > 16 ? 16 : cpus)
                                             : 2;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    atomic_init(&s->stop, false);
    /* jobs a crash left marked as running run again */
    floe_vdb_lock(srv->db);
    floe_vdb_exec(srv->db, NULL,
                  "UPDATE jobs SET due_ms = 0 WHERE action = 'Select' AND status = 'InProgress'"
                  " AND due_ms = ?",
                  "i", RUNNING_SENTINEL);
    floe_vdb_unlock(srv->db);
    *out = s;
    return 0;
}

void floe_vselect_stop(struct floe_vselect *s)
{
    if (!s)
        return;
    atomic_store(&s->stop, true);
    pthread_mutex_lock(&s->mu);
    s->locked.stopping = true;
    while (s->locked.running > 0)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    floe_vs3out_destroy(s->srv->select_out);
    s->srv->select_out = NULL;
    free(s);
}

void floe_vselect_launch(struct floe_vselect *s, const char *job_id)
{
    struct floe_vserver *srv = s->srv;
    /* claim it: only the call that moves due_ms to the sentinel runs the job */
    floe_vdb_lock(srv->db);
    sqlite3_stmt *st = floe_vdb_stmt(srv->db, "SELECT due_ms FROM jobs WHERE id = ? AND"
                                              " status = 'InProgress'");
    floe_vdb_bind(st, "t", job_id);
    bool claimed = sqlite3_step(st) == SQLITE_ROW && floe_vdb_int(st, 0) != RUNNING_SENTINEL;
    sqlite3_reset(st);
    if (claimed)
        claimed = floe_vdb_exec(srv->db, NULL, "UPDATE jobs SET due_ms = ? WHERE id = ?", "it",
                                RUNNING_SENTINEL, job_id) == FLOE_OK;
    floe_vdb_unlock(srv->db);
    if (!claimed)
        return;
    struct job *j = floe_xcalloc(1, sizeof(*j));
    j->sel = s;
    snprintf(j->id, sizeof(j->id), "%s", job_id);
    j->now_us = floe_vutil_now_ms() * 1000;
    atomic_init(&j->failed, false);
    pthread_mutex_lock(&s->mu);
    bool stopping = s->locked.stopping;
    if (!stopping)
        s->locked.running++;
    pthread_mutex_unlock(&s->mu);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (stopping || pthread_create(&t, &attr, job_thread, j) != 0) {
        floe_vdb_lock(srv->db);
        floe_vdb_exec(srv->db, NULL, "UPDATE jobs SET due_ms = ? WHERE id = ?", "it",
                      floe_vutil_now_ms() + 1000, job_id);
        floe_vdb_unlock(srv->db);
        if (!stopping) {
            pthread_mutex_lock(&s->mu);
            s->locked.running--;
            pthread_mutex_unlock(&s->mu);
        }
        free(j);
    }
    pthread_attr_destroy(&attr);
}
