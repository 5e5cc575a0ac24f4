/*
 * scrub.c - stored bytes against their leaf hashes (scrub.h).
 *
 * A segment row (owner, idx, blob, len, leaves, off) says: file blob holds len bytes from off
 * (0 unless blob is a shared log blob, store_blob.h) whose MiB i hashes to leaves[i]. Checking one
 * reads the file a MiB at a time (never holding the database lock while reading), hashes each MiB,
 * and stops at the first that differs, at a short file, or at a missing one. The background thread
 * takes one segment row at a time under the lock (by rowid, after its cursor), checks it with a
 * byte budget refilled at the configured rate, and sleeps on its condition variable when the budget
 * is spent or a pass is over, so stop is prompt.
 */
#include "scrub.h"

#include "alloc.h"
#include "floe/range.h"
#include "floe/treehash.h"
#include "sha256.h"
#include "store_blob.h"
#include "store_db.h"
#include "vctx.h"
#include "vlog.h"
#include "vutil.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CURSOR_SAVE_MS 30000

struct floe_vscrub {
    struct floe_vserver *srv;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct {
        bool stopping;
    } locked; /* guarded by mu */
};

/* One segment row, copied out of the database. */
struct segment {
    int64_t rowid, idx;
    char owner[FLOE_VID_MAX];
    char blob[64];
    uint64_t len;
    uint64_t off; /* where it starts in its file */
    uint8_t *leaves;
    size_t nleaves;
};

int floe_vscrub_check_mib(int fd, uint64_t seg_off, uint64_t seg_len, uint64_t i,
                          const uint8_t *leaves, uint8_t *buf, uint64_t *bad, char *detail,
                          size_t dn)
{
    uint64_t off = i * FLOE_MIB;
    size_t n = (size_t)(seg_len - off < FLOE_MIB ? seg_len - off : FLOE_MIB);
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, buf + got, n - got, (off_t)(seg_off + off + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            *bad = off + got;
            snprintf(detail, dn, "%s at byte %llu of %llu",
                     k < 0 ? strerror(errno) : "the data file ends",
                     (unsigned long long)(off + got), (unsigned long long)seg_len);
            return 1;
        }
        got += (size_t)k;
    }
    uint8_t h[FLOE_HASH_BYTES];
    floe_sha256(buf, n, h);
    if (memcmp(h, leaves + i * FLOE_HASH_BYTES, FLOE_HASH_BYTES) == 0)
        return 0;
    *bad = off;
    snprintf(detail, dn, "MiB %llu (bytes %llu-%llu) does not match its SHA-256",
             (unsigned long long)i, (unsigned long long)off, (unsigned long long)(off + n - 1));
    return 1;
}

/* The vault and archive id of a segment owner ("" when no live archive has it: an upload). */
static void owner_names_locked(struct floe_vserver *srv, const char *owner, char *vault, size_t vn,
                               char *archive, size_t an)
{
    vault[0] = archive[0] = '\0';
    sqlite3_stmt *st = floe_vdb_stmt(srv->db, "SELECT vault, id FROM archives WHERE seg_owner = ?"
                                              " AND deleted_ms IS NULL UNION ALL SELECT vault, ''"
                                              " FROM uploads WHERE id = ? LIMIT 1");
    floe_vdb_bind(st, "tt", owner, owner);
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(vault, vn, "%s", floe_vdb_text(st, 0));
        snprintf(archive, an, "%s", floe_vdb_text(st, 1));
    }
    sqlite3_reset(st);
}

/* Records the damage; true when it was not known before (then it is logged). A segment that
 * is gone by now (its archive deleted and collected while it was read: its file may be gone
 * too) is not damage. Lock held. */
static bool record_locked(struct floe_vserver *srv, const char *owner, int64_t idx,
                          const char *blob, uint64_t offset, const char *detail)
{
    struct floe_error err = {0};
    sqlite3_stmt *st = floe_vdb_stmt(srv->db, "SELECT 1 FROM segments WHERE owner = ?"
                                              " AND idx = ? AND blob = ?");
    floe_vdb_bind(st, "tit", owner, idx, blob);
    bool live = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    if (!live)
        return false;
    if (floe_vdb_exec(srv->db, &err,
                      "INSERT OR IGNORE INTO damage(owner, idx, blob, offset, found_ms, detail)"
                      " VALUES(?, ?, ?, ?, ?, ?)",
                      "titiit", owner, idx, blob, (int64_t)offset, floe_vutil_now_ms(),
                      detail) != FLOE_OK) {
        floe_vlog(&srv->cfg, FLOE_VLOG_ERROR, "scrub: cannot record damage: %s", err.message);
        return false;
    }
    if (floe_vdb_changes(srv->db) == 0)
        return false;
    char vault[256], archive[FLOE_VID_MAX];
    owner_names_locked(srv, owner, vault, sizeof(vault), archive, sizeof(archive));
    floe_vlog(&srv->cfg, FLOE_VLOG_ERROR,
              "damaged data: vault %s archive %s (segment %s/%lld, blob %s) at byte %llu of the "
              "segment: %s",
              vault[0] ? vault : "?", archive[0] ? archive : "(upload in progress)", owner,
              (long long)idx, blob, (unsigned long long)offset, detail);
    return true;
}

void floe_vscrub_record(struct floe_vserver *srv, const char *owner, int64_t idx, uint64_t offset,
                        const char *detail)
{
    floe_vdb_lock(srv->db);
    sqlite3_stmt *st = floe_vdb_stmt(srv->db, "SELECT blob FROM segments WHERE owner = ?"
                                              " AND idx = ?");
    floe_vdb_bind(st, "ti", owner, idx);
    char blob[64] = "";
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(blob, sizeof(blob), "%s", floe_vdb_text(st, 0));
    sqlite3_reset(st);
    if (blob[0])
        record_locked(srv, owner, idx, blob, offset, detail);
    floe_vdb_unlock(srv->db);
}

/* The first segment row after rowid `after` into seg (false: none). Lock held. */
static bool next_segment_locked(struct floe_vserver *srv, int64_t after, struct segment *seg)
{
    sqlite3_stmt *st =
        floe_vdb_stmt(srv->db, "SELECT rowid, owner, idx, blob, len, leaves, off FROM segments"
                               " WHERE rowid > ? ORDER BY rowid LIMIT 1");
    floe_vdb_bind(st, "i", after);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        seg->rowid = floe_vdb_int(st, 0);
        snprintf(seg->owner, sizeof(seg->owner), "%s", floe_vdb_text(st, 1));
        seg->idx = floe_vdb_int(st, 2);
        snprintf(seg->blob, sizeof(seg->blob), "%s", floe_vdb_text(st, 3));
        seg->len = (uint64_t)floe_vdb_int(st, 4);
        seg->off = (uint64_t)floe_vdb_int(st, 6);
        seg->nleaves = (size_t)sqlite3_column_bytes(st, 5) / FLOE_HASH_BYTES;
        free(seg->leaves);
        seg->leaves = floe_xmalloc(seg->nleaves * FLOE_HASH_BYTES + 1);
        memcpy(seg->leaves, sqlite3_column_blob(st, 5), seg->nleaves * FLOE_HASH_BYTES);
    }
    sqlite3_reset(st);
    return found;
}

/* Pacing of the background thread: before reading n bytes. Returns false when stopping. */
typedef bool pace_fn(void *pacer, size_t n);

/*
 * check_segment() - reads seg's file a MiB at a time and compares each with its leaf.
 * Returns 0 intact, 1 damaged (*offset, detail set), -1 stopped by pace.
 */
static int check_segment(struct floe_vserver *srv, const struct segment *seg, uint8_t *buf,
                         pace_fn *pace, void *pacer, uint64_t *offset, char *detail, size_t dn)
{
    uint64_t want = (seg->len + FLOE_MIB - 1) / FLOE_MIB;
    if (want == 0)
        want = 1; /* an empty segment still has the hash of nothing */
    *offset = 0;
    if (seg->nleaves != want) {
        snprintf(detail, dn, "%zu leaf hashes for %llu bytes (want %llu)", seg->nleaves,
                 (unsigned long long)seg->len, (unsigned long long)want);
        return 1;
    }
    int fd = floe_vblob_open_read(srv->blobs, seg->blob);
    if (fd < 0) {
        snprintf(detail, dn, "the data file is missing (%s)", strerror(errno));
        return 1;
    }
    int rc = 0;
    for (uint64_t i = 0; i < want && !rc; i++) {
        uint64_t off = i * FLOE_MIB;
        if (pace && !pace(pacer, (size_t)(seg->len - off < FLOE_MIB ? seg->len - off : FLOE_MIB)))
            rc = -1;
        else
            rc = floe_vscrub_check_mib(fd, seg->off, seg->len, i, seg->leaves, buf, offset, detail,
                                       dn);
    }
    /* a scrub pass should not evict the cache */
    posix_fadvise(fd, (off_t)seg->off, (off_t)seg->len, POSIX_FADV_DONTNEED);
    close(fd);
    return rc;
}

/* Forgets damage of segments that are gone (deleted archives, replaced rows). Lock held. */
static void forget_gone_locked(struct floe_vserver *srv)
{
    floe_vdb_exec(srv->db, NULL,
                  "DELETE FROM damage WHERE NOT EXISTS (SELECT 1 FROM segments s WHERE"
                  " s.owner = damage.owner AND s.idx = damage.idx AND s.blob = damage.blob)",
                  "");
}

void floe_vscrub_all(struct floe_vserver *srv, struct floe_vscrub_report *report,
                     floe_vscrub_damage_fn *fn, floe_vscrub_progress_fn *progress, void *user)
{
    memset(report, 0, sizeof(*report));
    struct segment seg = {0};
    uint8_t *buf = floe_xmalloc(FLOE_MIB);
    int64_t cursor = 0;
    for (;;) {
        floe_vdb_lock(srv->db);
        bool more = next_segment_locked(srv, cursor, &seg);
        floe_vdb_unlock(srv->db);
        if (!more)
            break;
        cursor = seg.rowid;
        uint64_t off;
        char detail[512];
        report->segments++;
        report->bytes += seg.len;
        int rc = check_segment(srv, &seg, buf, NULL, NULL, &off, detail, sizeof(detail));
        if (progress)
            progress(report, user);
        if (rc != 1)
            continue;
        report->damaged++;
        char vault[256], archive[FLOE_VID_MAX];
        floe_vdb_lock(srv->db);
        record_locked(srv, seg.owner, seg.idx, seg.blob, off, detail);
        owner_names_locked(srv, seg.owner, vault, sizeof(vault), archive, sizeof(archive));
        floe_vdb_unlock(srv->db);
        if (fn)
            fn(vault, archive, seg.owner, seg.idx, off, detail, user);
    }
    floe_vdb_lock(srv->db);
    forget_gone_locked(srv);
    floe_vdb_unlock(srv->db);
    free(seg.leaves);
    free(buf);
}

/* ---- the background thread ---- */

struct pacer {
    struct floe_vscrub *s;
    double budget; /* bytes that may be read now */
    int64_t last_ms;
};

/* Sleeps on the scrubber's condition variable until deadline_ms (wall clock) or stop.
 * Returns false when stopping. */
static bool sleep_until(struct floe_vscrub *s, int64_t deadline_ms)
{
    struct timespec ts = {.tv_sec = (time_t)(deadline_ms / 1000),
                          .tv_nsec = (long)(deadline_ms % 1000) * 1000000};
    pthread_mutex_lock(&s->mu);
    while (!s->locked.stopping && floe_vutil_now_ms() < deadline_ms)
        if (pthread_cond_timedwait(&s->cv, &s->mu, &ts) != 0)
            break;
    bool go = !s->locked.stopping;
    pthread_mutex_unlock(&s->mu);
    return go;
}

static bool pace(void *arg, size_t n)
{
    struct pacer *p = arg;
    double rate = (double)p->s->srv->cfg.scrub_rate;
    for (;;) {
        int64_t now = floe_vutil_now_ms();
        p->budget += (double)(now - p->last_ms) * rate / 1000.0;
        p->last_ms = now;
        if (p->budget > rate) /* at most a second's worth saved up */
            p->budget = rate;
        if (p->budget >= (double)n || p->budget >= rate) {
            p->budget -= (double)n;
            pthread_mutex_lock(&p->s->mu);
            bool go = !p->s->locked.stopping;
            pthread_mutex_unlock(&p->s->mu);
            return go;
        }
        int64_t wait = (int64_t)(((double)n - p->budget) * 1000.0 / rate) + 1;
        if (!sleep_until(p->s, now + wait))
            return false;
    }
}

static void save_cursor(struct floe_vserver *srv, int64_t cursor)
{
    char v[32];
    snprintf(v, sizeof(v), "%lld", (long long)cursor);
    floe_vdb_lock(srv->db);
    floe_vdb_exec(srv->db, NULL,
                  "INSERT OR REPLACE INTO settings(key, value) VALUES('scrub-cursor', ?)", "t", v);
    floe_vdb_unlock(srv->db);
}

static int64_t load_cursor(struct floe_vserver *srv)
{
    int64_t c = 0;
    floe_vdb_lock(srv->db);
    sqlite3_stmt *st =
        floe_vdb_stmt(srv->db, "SELECT value FROM settings WHERE key = 'scrub-cursor'");
    if (sqlite3_step(st) == SQLITE_ROW)
        c = strtoll(floe_vdb_text(st, 0), NULL, 10);
    sqlite3_reset(st);
    floe_vdb_unlock(srv->db);
    return c;
}

static void *run(void *arg)
{
    struct floe_vscrub *s = arg;
    struct floe_vserver *srv = s->srv;
    struct pacer pc = {.s = s, .last_ms = floe_vutil_now_ms()};
    struct segment seg = {0};
    uint8_t *buf = floe_xmalloc(FLOE_MIB);
    int64_t cursor = load_cursor(srv), saved_ms = floe_vutil_now_ms();
    int64_t pass_start = saved_ms;
    uint64_t pass_segments = 0, pass_bytes = 0, pass_damaged = 0;
    for (;;) {
        floe_vdb_lock(srv->db);
        bool more = next_segment_locked(srv, cursor, &seg);
        if (!more)
            forget_gone_locked(srv);
        floe_vdb_unlock(srv->db);
        if (!more) { /* a pass is over: report, wait for the next one */
            if (pass_segments)
                floe_vlog(&srv->cfg, pass_damaged ? FLOE_VLOG_ERROR : FLOE_VLOG_INFO,
                          "scrub pass: %llu segments, %llu bytes checked, %llu damaged",
                          (unsigned long long)pass_segments, (unsigned long long)pass_bytes,
                          (unsigned long long)pass_damaged);
            cursor = 0;
            save_cursor(srv, cursor);
            if (!sleep_until(s, pass_start + srv->cfg.scrub_interval_ms))
                break;
            pass_start = floe_vutil_now_ms();
            pass_segments = pass_bytes = pass_damaged = 0;
            continue;
        }
        uint64_t off;
        char detail[512];
        int rc = check_segment(srv, &seg, buf, pace, &pc, &off, detail, sizeof(detail));
        if (rc < 0)
            break;
        cursor = seg.rowid;
        pass_segments++;
        pass_bytes += seg.len;
        if (rc == 1) {
            pass_damaged++;
            floe_vdb_lock(srv->db);
            record_locked(srv, seg.owner, seg.idx, seg.blob, off, detail);
            floe_vdb_unlock(srv->db);
        }
        if (floe_vutil_now_ms() - saved_ms >= CURSOR_SAVE_MS) {
            save_cursor(srv, cursor);
            saved_ms = floe_vutil_now_ms();
        }
    }
    save_cursor(srv, cursor);
    free(seg.leaves);
    free(buf);
    return NULL;
}

int floe_vscrub_start(struct floe_vserver *srv, struct floe_vscrub **out, struct floe_error *err)
{
    *out = NULL;
    if (srv->cfg.scrub_rate == 0)
        return FLOE_OK;
    struct floe_vscrub *s = floe_xcalloc(1, sizeof(*s));
    s->srv = srv;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL); /* CLOCK_REALTIME: deadlines are wall-clock ms */
    if (pthread_create(&s->thread, NULL, run, s) != 0) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        free(s);
        return floe_error_set(err, FLOE_E_IO, "cannot start the scrubber thread");
    }
    *out = s;
    return FLOE_OK;
}

void floe_vscrub_stop(struct floe_vscrub *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->locked.stopping = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}
