/*
 * purge.c - floe_purge() (floe/purge.h). Phases on the calling thread:
 *
 *   state     "<cache>/purge-<hash>.ckpt": the inventory job, a fingerprint of the selection
 *             (filters, age) and the watermark: every selected archive before it is deleted.
 *             Rewritten atomically (temp file, fsync, rename) at most once a second and at the end.
 *   inventory the job in the state, the one named, the newest succeeded one of the last day, or
 *             a new one (its id goes into the state at once, so a re-run keeps waiting for it);
 *             its output is downloaded next to the state (verified, resumable) and parsed as a
 *             stream twice: once to count (the plan, the confirmation; in parallel ranges,
 *             floe/invrange.h), once to delete.
 *   delete    a request type of the transfer core: one DeleteArchive per selected archive, in
 *             inventory order, at most `concurrency` in flight from a fixed set of slots, at most
 *             max_rate per second (FLOE_ORCH_LATER). A completion marks its ordinal in a ring of
 *             WINDOW bits; the watermark advances over the marked prefix, and nothing starts
 *             WINDOW ordinals past it, so memory does not depend on the vault's size.
 *   vault     --delete-vault: DeleteVault once every selected archive is gone. Refused (the
 *             vault was written since its last inventory) and `wait`: the state records the
 *             phase and a new inventory job, the run waits for it and tries again, round after
 *             round, until the vault is deleted or `vault_wait_ms` has passed; a re-run in this
 *             phase goes straight back to waiting.
 */
#include "floe/purge.h"

#include "alloc.h"
#include "dirsync.h"
#include "checkpoint.h"
#include "civil.h"
#include "client_impl.h"
#include "filter.h"
#include "migrated.h"
#include "floe/inventory.h"
#include "floe/jobs.h"
#include "floe/invrange.h"
#include "floe/retrieve.h"
#include "floe/sigv4.h"
#include "orch.h"
#include "prices.h"
#include "request.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define WINDOW 8192u     /* ordinals in flight or done beyond the watermark */
#define SAVE_EVERY_S 1.0 /* state rewrites at most this often */
#define INVENTORY_MAX_AGE_S (24 * 3600)
#define ID_MAX 1025
#define VAULT_WAIT_DEFAULT_S (72.0 * 3600)

enum { S_PLANNED, S_DELETING, S_DONE, S_COUNT };
static const char *const s_names[S_COUNT] = {"PLANNED", "DELETING", "DONE"};
static const bool s_legal[S_COUNT][S_COUNT] = {
    [S_PLANNED] = {[S_DELETING] = true},
    [S_DELETING] = {[S_DONE] = true},
};
static const struct floe_orch_states s_states = {
    .item_name = "archive",
    .count = S_COUNT,
    .names = s_names,
    .legal = &s_legal[0][0],
    .done = S_DONE,
};

struct purge;

struct slot {
    struct floe_orch_item it; /* it.index: the archive's ordinal among the selected */
    struct floe_orch_event ev;
    struct purge *p;
    struct slot *next_free;
    char id[ID_MAX];
    uint64_t size;
    struct floe_xfer *xfer;
};

/* A selected archive waiting to be started (the parser's callback fills a small queue). */
struct queued {
    char *id;
    uint64_t size;
};

struct purge {
    struct floe_client *client;
    const struct floe_purge_options *o;
    struct floe_purge_result *out;
    struct floe_error *err;
    struct floe_filter *filter;
    struct floe_migrated *migrated; /* only_migrated, else NULL */
    uint64_t mismatched, migrated_seen;
    char mismatch[1400]; /* the first mismatch, for the message */
    int64_t now;
    uint64_t fingerprint;
    char state_path[PATH_MAX], inv_path[PATH_MAX];
    char done_path[PATH_MAX + 8]; /* "<state>.done": the inventory job a finished purge used */
    uint64_t watermark;
    bool vault_phase;       /* every archive is deleted; DeleteVault is what is left */
    char vault_job[ID_MAX]; /* the inventory job that phase waits for ("" none yet) */
    /* the stream of selected archives */
    FILE *inv;
    struct floe_inventory_parser *parser;
    struct queued *q;
    size_t qhead, qn, qcap;
    uint64_t ordinal; /* selected archives read so far */
    bool inv_ended;
    /* the deletion */
    struct floe_orch orch;
    struct slot *slots, *free;
    unsigned nslots;
    uint8_t done[WINDOW / 8];
    double tokens, last_refill, last_save, t0;
};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- the state file ---- */

/* Replaces path with text atomically and durably (temp file, fsync, rename, directory sync). */
static int write_file(const char *path, const char *text, struct floe_error *err)
{
    char tmp[PATH_MAX + 16];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return floe_error_set_errno(err, FLOE_E_CHECKPOINT, errno, tmp, "cannot write %s", tmp);
    bool ok = fputs(text, f) >= 0;
    ok = fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return floe_error_set_errno(err, FLOE_E_CHECKPOINT, e, path, "cannot write %s", path);
    }
    return floe_dir_sync_parent(path, err);
}

static int save_state(struct purge *p, struct floe_error *err)
{
    char text[3 * ID_MAX];
    int n = snprintf(text, sizeof(text),
                     "floe-purge 1\njob %s\nselection %016" PRIx64 "\nwatermark %" PRIu64 "\n",
                     p->out->inventory_job_id, p->fingerprint, p->watermark);
    if (p->vault_phase)
        snprintf(text + n, sizeof(text) - (size_t)n, "vault-job %s\n",
                 p->vault_job[0] ? p->vault_job : "-");
    int rc = write_file(p->state_path, text, err);
    if (!rc)
        p->last_save = now_s();
    return rc;
}

/* The job and watermark of an earlier run of the same purge (same selection), if any. */
static void load_state(struct purge *p)
{
    FILE *f = fopen(p->state_path, "r");
    if (!f)
        return;
    char job[ID_MAX] = "", vjob[ID_MAX] = "";
    unsigned long long wm = 0, fp = 0;
    int n = fscanf(f, "floe-purge 1\njob %1024s\nselection %llx\nwatermark %llu", job, &fp, &wm);
    bool vault_phase = n == 3 && fscanf(f, " vault-job %1024s", vjob) == 1;
    fclose(f);
    if (n != 3)
        return;
    snprintf(p->out->inventory_job_id, sizeof(p->out->inventory_job_id), "%s", job);
    if (fp == p->fingerprint) {
        p->watermark = wm;
        p->out->resumed_from = wm;
        /* the deletions were done: only DeleteVault is left (when it is asked for again) */
        p->vault_phase = vault_phase && p->o->delete_vault;
        if (p->vault_phase && strcmp(vjob, "-") != 0)
            snprintf(p->vault_job, sizeof(p->vault_job), "%s", vjob);
    }
}

static void selection_fingerprint(struct purge *p)
{
    XXH3_state_t *s = XXH3_createState();
    XXH3_64bits_reset(s);
    XXH3_64bits_update(s, &p->o->older_than_s, sizeof(p->o->older_than_s));
    for (size_t i = 0; i < p->o->nfilter_rules; i++)
        XXH3_64bits_update(s, p->o->filter_rules[i], strlen(p->o->filter_rules[i]) + 1);
    if (p->o->only_migrated)
        XXH3_64bits_update(s, p->o->only_migrated, strlen(p->o->only_migrated) + 1);
    p->fingerprint = XXH3_64bits_digest(s);
    XXH3_freeState(s);
}

static int paths(struct purge *p)
{
    char key[2048];
    int n = snprintf(key, sizeof(key), "%s\n%s\n%s", p->client->endpoint, p->client->account_id,
                     p->o->vault);
    int rc = floe_checkpoint_default_path("purge", key, (size_t)n, p->inv_path, sizeof(p->inv_path),
                                          p->err);
    if (rc)
        return rc;
    if (p->o->state_path)
        snprintf(p->state_path, sizeof(p->state_path), "%s", p->o->state_path);
    else
        snprintf(p->state_path, sizeof(p->state_path), "%s", p->inv_path);
    snprintf(p->done_path, sizeof(p->done_path), "%s.done", p->state_path);
    size_t len = strlen(p->inv_path);
    if (len > 5 && strcmp(p->inv_path + len - 5, ".ckpt") == 0)
        p->inv_path[len - 5] = '\0';
    strncat(p->inv_path, ".inventory", sizeof(p->inv_path) - strlen(p->inv_path) - 1);
    return FLOE_OK;
}

/* ---- the inventory ---- */

struct newest {
    char id[ID_MAX];
    char date[40];
    int64_t not_before;
    char used[ID_MAX]; /* the job a finished purge already went through ("" none) */
};

static int64_t iso_seconds(const char *s)
{
    int y, mo, d, h, mi, se;
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &se) != 6 ||
        !floe_civil_valid(y, (unsigned)mo, (unsigned)d))
        return -1;
    return floe_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se;
}

static int newest_inventory(const struct floe_job_info *j, void *user)
{
    struct newest *n = user;
    if (strcmp(j->action, "InventoryRetrieval") != 0 || strcmp(j->status_code, "Succeeded"))
        return 0;
    if (iso_seconds(j->creation_date) <= n->not_before || strcmp(j->job_id, n->used) == 0)
        return 0;
    if (!n->id[0] || strcmp(j->creation_date, n->date) > 0) {
        snprintf(n->id, sizeof(n->id), "%s", j->job_id);
        snprintf(n->date, sizeof(n->date), "%s", j->creation_date);
    }
    return 0;
}

/* A finished purge leaves "<state>.done": the inventory job it went through and when it
 * finished. That job is not reused (its archives were deleted), nor one created before the
 * purge finished (it lists them too): the next purge of the vault starts a new inventory. */
static void used_inventory(struct purge *p, struct newest *n)
{
    FILE *f = fopen(p->done_path, "r");
    if (!f)
        return;
    long long finished = 0;
    char job[ID_MAX] = "";
    if (fscanf(f, "floe-purge-done 1\njob %1024s\nfinished %lld", job, &finished) == 2) {
        snprintf(n->used, sizeof(n->used), "%s", job);
        if (finished > n->not_before)
            n->not_before = finished;
    }
    fclose(f);
}

/* Records the inventory job a purge went through to its end (see used_inventory()). Best
 * effort: without it the next purge may go through the same inventory again, which deletes
 * nothing twice (DeleteArchive of a deleted archive succeeds) but misses newer archives. */
static void mark_used(struct purge *p)
{
    char text[2 * ID_MAX];
    snprintf(text, sizeof(text), "floe-purge-done 1\njob %s\nfinished %lld\n",
             p->out->inventory_job_id, (long long)time(NULL));
    struct floe_error ignored = {0};
    write_file(p->done_path, text, &ignored);
}

/* The inventory job: named, from the state, the newest of the last day not already gone
 * through by a finished purge, or a new one. */
static int find_inventory(struct purge *p)
{
    char *id = p->out->inventory_job_id; /* the state's job, when there is a state */
    if (p->o->inventory_job_id && strcmp(p->o->inventory_job_id, id) != 0) {
        snprintf(id, sizeof(p->out->inventory_job_id), "%s", p->o->inventory_job_id);
        p->out->resumed_from = 0; /* another inventory: the watermark means nothing there */
        unlink(p->inv_path);
    }
    if (id[0])
        return FLOE_OK;
    unlink(p->inv_path); /* an inventory file without a state is not known to be this job's */
    struct newest n = {.not_before = p->now - INVENTORY_MAX_AGE_S};
    used_inventory(p, &n);
    struct floe_job_list_filter f = {.status_code = "Succeeded", .completed = 1};
    int rc = floe_job_list(p->client, p->o->vault, &f, newest_inventory, &n, p->err);
    if (rc)
        return rc;
    if (n.id[0]) {
        snprintf(id, sizeof(p->out->inventory_job_id), "%s", n.id);
        return FLOE_OK;
    }
    struct floe_job_inventory_params ip = {.format = "JSON"};
    if ((rc = floe_job_initiate_inventory(p->client, p->o->vault, &ip, id, p->err)))
        return rc;
    return save_state(p, p->err); /* a re-run keeps waiting for this job */
}

static int fetch_inventory(struct purge *p)
{
    struct floe_job_wait_options wo = {
        .cancel = p->o->cancel, .notified = p->o->notified, .notified_user = p->o->notified_user};
    struct floe_job_info job;
    int rc = floe_job_wait(p->client, p->o->vault, p->out->inventory_job_id, &wo, &job, p->err);
    if (rc)
        return rc;
    struct floe_download_options d = {.vault = p->o->vault,
                                      .job_id = p->out->inventory_job_id,
                                      .output_path = p->inv_path,
                                      .job = &job,
                                      .cancel = p->o->cancel};
    struct floe_download_result dr;
    if (access(p->inv_path, F_OK) == 0) /* downloaded by an earlier run */
        return FLOE_OK;
    return floe_job_output_download(p->client, &d, &dr, p->err);
}

/* Whether the filters and the age select archive a. */
static bool selected(const struct purge *p, const struct floe_inventory_archive *a)
{
    if (p->o->older_than_s) {
        int64_t t = iso_seconds(a->creation_date);
        if (t < 0 || p->now - t < (int64_t)p->o->older_than_s)
            return false;
    }
    if (p->filter && *a->description &&
        floe_filter_match(p->filter, a->description, false) == FLOE_FILTER_EXCLUDE)
        return false;
    return true;
}

/* With only_migrated: whether a (selected by the filters) was verified by the migration;
 * counts what was not, and what differs (the run then stops before deleting). */
static bool migrated(struct purge *p, const struct floe_inventory_archive *a, bool counting)
{
    if (!p->migrated)
        return true;
    char why[1400];
    switch (floe_migrated_check(p->migrated, a->archive_id, a->size,
                                a->has_tree_hash ? a->tree_hash : NULL, why, sizeof(why))) {
    case FLOE_MIGRATED_YES: p->migrated_seen += counting; return true;
    case FLOE_MIGRATED_DIFFERS:
        if (counting && !p->mismatched++)
            snprintf(p->mismatch, sizeof(p->mismatch), "%s", why);
        return false;
    case FLOE_MIGRATED_NO: break;
    }
    p->out->plan.archives_unmigrated += counting;
    return false;
}

/* Counting pass: what is selected and what deleting it costs or saves. */
static int count_one(const struct floe_inventory_archive *a, void *user)
{
    struct purge *p = user;
    struct floe_purge_plan *pl = &p->out->plan;
    if (!selected(p, a)) {
        pl->archives_kept++;
        return 0;
    }
    if (!migrated(p, a, true))
        return 0;
    const struct floe_prices *pr = floe_prices_default();
    pl->archives++;
    pl->bytes += a->size;
    double gb = (double)(a->size + pr->archive_overhead_bytes) / 1e9;
    pl->storage_usd_month += gb * pr->storage_per_gb_month_usd;
    int64_t t = iso_seconds(a->creation_date);
    double age_days = t < 0 ? 0 : (double)(p->now - t) / 86400.0;
    if (age_days < pr->minimum_storage_days) {
        pl->archives_young++;
        pl->early_deletion_usd +=
            gb * pr->storage_per_gb_month_usd * (pr->minimum_storage_days - age_days) / 30.0;
    }
    return 0;
}

/* Deleting pass: selected archives into the queue (the parser calls this while fed). */
static int queue_one(const struct floe_inventory_archive *a, void *user)
{
    struct purge *p = user;
    if (!selected(p, a) || !migrated(p, a, false))
        return 0;
    if (p->qn == p->qcap) {
        size_t cap = p->qcap ? 2 * p->qcap : 256;
        struct queued *q = floe_xcalloc(cap, sizeof(*q));
        for (size_t i = 0; i < p->qn; i++)
            q[i] = p->q[(p->qhead + i) % p->qcap];
        free(p->q);
        p->q = q;
        p->qcap = cap;
        p->qhead = 0;
    }
    struct queued *e = &p->q[(p->qhead + p->qn++) % p->qcap];
    e->id = floe_xstrdup(a->archive_id);
    e->size = a->size;
    return 0;
}

static int open_stream(struct purge *p, floe_inventory_fn *fn)
{
    if (p->inv)
        fclose(p->inv);
    floe_inventory_parser_destroy(p->parser);
    p->inv = fopen(p->inv_path, "rb");
    if (!p->inv)
        return floe_error_set_errno(p->err, FLOE_E_IO, errno, p->inv_path, "cannot read %s",
                                    p->inv_path);
    p->parser = floe_inventory_parser_new(FLOE_INVENTORY_AUTO, fn, p);
    p->inv_ended = false;
    return FLOE_OK;
}

/* Feeds the parser until the queue holds an archive or the inventory ends. */
static int refill(struct purge *p)
{
    uint8_t buf[1 << 16];
    while (!p->qn && !p->inv_ended) {
        size_t n = fread(buf, 1, sizeof(buf), p->inv);
        int rc;
        if (n)
            rc = floe_inventory_parser_feed(p->parser, buf, n, p->err);
        else if (ferror(p->inv))
            rc = floe_error_set_errno(p->err, FLOE_E_IO, errno, p->inv_path, "cannot read %s",
                                      p->inv_path);
        else {
            struct floe_inventory_summary s;
            rc = floe_inventory_parser_finish(p->parser, &s, p->err);
            p->inv_ended = true;
        }
        if (rc)
            return rc;
    }
    return FLOE_OK;
}

/* The counting pass parses the file in parallel ranges (floe/invrange.h), in file order. */
static int count_pass(struct purge *p)
{
    struct floe_invrange_options ro = {.cancel = p->o->cancel};
    struct floe_inventory_summary s;
    int rc = floe_invrange_parse_file(p->inv_path, &ro, count_one, p, &s, NULL, p->err);
    if (!rc) {
        snprintf(p->out->plan.inventory_date, sizeof(p->out->plan.inventory_date), "%s",
                 s.inventory_date);
    }
    if (!rc && p->mismatched)
        rc = floe_error_set(p->err, FLOE_E_CORRUPT,
                            "%s does not match vault %s: %" PRIu64 " archives differ (first: "
                            "%s); nothing was deleted",
                            p->o->only_migrated, p->o->vault, p->mismatched, p->mismatch);
    else if (!rc && p->migrated && !p->migrated_seen && p->out->plan.archives_unmigrated)
        rc = floe_error_set(p->err, FLOE_E_CORRUPT,
                            "none of the %" PRIu64 " archives %s lists is in vault %s's "
                            "inventory (a manifest of another vault?); nothing was deleted",
                            floe_migrated_count(p->migrated), p->o->only_migrated, p->o->vault);
    return rc;
}

/* ---- deletion: the core's request type ---- */

static bool is_done(const struct purge *p, uint64_t ord)
{
    return p->done[(ord % WINDOW) / 8] & (1u << (ord % 8));
}

static void mark_done(struct purge *p, uint64_t ord)
{
    p->done[(ord % WINDOW) / 8] |= (uint8_t)(1u << (ord % 8));
    while (is_done(p, p->watermark)) {
        p->done[(p->watermark % WINDOW) / 8] &= (uint8_t) ~(1u << (p->watermark % 8));
        p->watermark++;
    }
}

static void on_deleted(struct floe_xfer *x)
{
    struct slot *sl = x->user;
    sl->ev.status = x->status;
    if (x->status)
        sl->ev.err = x->err;
    floe_orch_post(&sl->p->orch, &sl->ev, 0, sl);
}

/* Rate limit: a token per deletion, refilled at max_rate per second (a burst of a tenth of a
 * second). Returns the milliseconds to wait, or 0 when a token is there. */
static unsigned rate_wait(struct purge *p)
{
    if (p->o->max_rate <= 0)
        return 0;
    double t = now_s(), burst = p->o->max_rate / 10 > 1 ? p->o->max_rate / 10 : 1;
    p->tokens += (t - p->last_refill) * p->o->max_rate;
    p->last_refill = t;
    if (p->tokens > burst)
        p->tokens = burst;
    if (p->tokens >= 1)
        return 0;
    return (unsigned)((1 - p->tokens) / p->o->max_rate * 1000) + 1;
}

static enum floe_orch_start start(void *ctx, uint64_t ord)
{
    struct purge *p = ctx;
    if (!p->free || ord - p->watermark >= WINDOW)
        return FLOE_ORCH_WAIT;
    unsigned wait = rate_wait(p);
    if (wait) {
        floe_orch_later(&p->orch, wait);
        return FLOE_ORCH_LATER;
    }
    int rc = refill(p);
    if (rc) {
        floe_orch_fail(&p->orch, rc, p->err);
        return FLOE_ORCH_END;
    }
    if (!p->qn)
        return FLOE_ORCH_END;
    struct queued e = p->q[p->qhead];
    p->qhead = (p->qhead + 1) % p->qcap;
    p->qn--;
    p->ordinal++;
    if (ord < p->out->resumed_from) { /* an earlier run deleted it */
        free(e.id);
        mark_done(p, ord);
        return FLOE_ORCH_SKIP;
    }
    struct slot *sl = p->free;
    p->free = sl->next_free;
    memset(&sl->it, 0, sizeof(sl->it));
    sl->it.index = ord;
    snprintf(sl->id, sizeof(sl->id), "%s", e.id);
    sl->size = e.size;
    free(e.id);
    struct floe_error ce = {0};
    struct floe_call *k = floe_request_call(
        p->client,
        &(struct floe_request){
            .method = "DELETE", .vault = p->o->vault, .path = "/archives", .id = sl->id},
        &ce);
    floe_orch_set_state(&p->orch, &sl->it, S_DELETING);
    floe_orch_enter(&p->orch);
    if (!k) {
        floe_orch_fail_item(&p->orch, sl, ce.status, &ce);
        return FLOE_ORCH_END;
    }
    sl->xfer = floe_call_xfer(k);
    sl->xfer->done = on_deleted;
    sl->xfer->user = sl;
    p->tokens -= 1;
    floe_transfer_submit(p->client->transfer, sl->xfer);
    return FLOE_ORCH_STARTED;
}

static void release(void *ctx, void *item)
{
    struct purge *p = ctx;
    struct slot *sl = item;
    floe_xfer_destroy(sl->xfer);
    sl->xfer = NULL;
    sl->next_free = p->free;
    p->free = sl;
}

static void handle(void *ctx, struct floe_orch_event *ev)
{
    struct purge *p = ctx;
    struct slot *sl = ev->obj;
    int st = ev->status;
    if (st == FLOE_E_NOT_FOUND) {
        p->out->already_gone++;
    } else if (st && strcmp(ev->err.code, "AccessDeniedException") == 0) {
        p->out->protected ++;
        if (p->o->protected_archive)
            p->o->protected_archive(sl->id, ev->err.message, p->o->user);
    } else if (st) {
        floe_error_append(&ev->err, " (deleting archive %s)", sl->id);
        floe_orch_fail_item(&p->orch, sl, st, &ev->err);
        return;
    } else {
        p->out->deleted++;
    }
    mark_done(p, sl->it.index);
    floe_orch_item_done(&p->orch, &sl->it, 0, sl->size, NULL);
    if (now_s() - p->last_save >= SAVE_EVERY_S) {
        struct floe_error e = {0};
        if (save_state(p, &e))
            floe_orch_fail(&p->orch, e.status, &e);
    }
    if (p->o->progress) {
        struct floe_purge_progress pr = {
            .deleted = p->watermark, .total = p->out->plan.archives, .seconds = now_s() - p->t0};
        p->o->progress(&pr, p->o->user);
    }
}

static const struct floe_orch_ops s_ops = {
    .states = &s_states,
    .start = start,
    .handle = handle,
    .release = release,
};

static int delete_pass(struct purge *p)
{
    int rc = open_stream(p, queue_one);
    if (rc)
        return rc;
    p->nslots = p->o->concurrency ? p->o->concurrency : FLOE_PURGE_DEFAULT_CONCURRENCY;
    p->slots = floe_xcalloc(p->nslots, sizeof(*p->slots));
    for (unsigned i = 0; i < p->nslots; i++) {
        p->slots[i].p = p;
        p->slots[i].next_free = p->free;
        p->free = &p->slots[i];
    }
    p->watermark = 0; /* ordinals below resumed_from are skipped (and marked) as they come */
    p->last_refill = now_s();
    floe_orch_init(&p->orch, &s_ops, p, p->o->cancel);
    rc = floe_orch_run(&p->orch, p->err);
    floe_orch_cleanup(&p->orch);
    struct floe_error e = {0};
    int src = save_state(p, &e); /* how far it got, failure or not */
    if (!rc && src) {
        *p->err = e;
        rc = src;
    }
    return rc;
}

/* ---- the run ---- */

static int setup(struct purge *p)
{
    int rc = floe_sigv4_vault_name_valid(p->o->vault, p->err);
    if (rc)
        return rc;
    if (p->o->max_rate < 0)
        return floe_error_set(p->err, FLOE_E_INVALID_ARG, "--max-rate must be positive");
    if (p->o->nfilter_rules) {
        p->filter = floe_filter_new();
        for (size_t i = 0; i < p->o->nfilter_rules; i++)
            if ((rc = floe_filter_add(p->filter, p->o->filter_rules[i], p->err)))
                return rc;
    }
    selection_fingerprint(p);
    if ((rc = paths(p)))
        return rc;
    if (p->o->only_migrated) {
        char index[PATH_MAX + 16];
        snprintf(index, sizeof(index), "%s.migrated", p->state_path);
        if ((rc = floe_migrated_open(p->o->only_migrated, index, &p->migrated, p->err)))
            return rc;
        if (floe_migrated_count(p->migrated) == 0)
            return floe_error_set(p->err, FLOE_E_INVALID_ARG,
                                  "%s lists no migrated archive: nothing to delete",
                                  p->o->only_migrated);
    }
    load_state(p);
    return FLOE_OK;
}

/* Whether err is the service's refusal of DeleteVault for a vault that is not empty or was
 * written to since its last inventory (400 InvalidParameterValueException). */
static bool vault_refused(const struct floe_error *e)
{
    return strcmp(e->code, "InvalidParameterValueException") == 0 &&
           strstr(e->message, "not empty") != NULL;
}

static void note(struct purge *p, const char *fmt, const char *arg)
{
    if (!p->o->note)
        return;
    char msg[1400];
    snprintf(msg, sizeof(msg), fmt, arg);
    p->o->note(msg, p->o->user);
}

static int gave_up(struct purge *p, double limit)
{
    return floe_error_set(p->err, FLOE_E_TIMEOUT,
                          "vault %s: DeleteVault still refused after waiting %.0f s for "
                          "inventories (the vault is written to, or its inventory still lists "
                          "archives): run the same command again to keep waiting",
                          p->o->vault, limit);
}

/* --wait: DeleteVault was refused. Round after round: a new inventory job (recorded in the state
 * first, so a re-run waits for the same job), wait for it, try again; until deleted, a failure
 * that is not the refusal, cancel, or vault_wait_ms. */
static int wait_and_delete_vault(struct purge *p)
{
    double limit = p->o->vault_wait_ms ? (double)p->o->vault_wait_ms / 1000 : VAULT_WAIT_DEFAULT_S;
    double t0 = now_s();
    for (;;) {
        int rc;
        if (!p->vault_job[0]) {
            struct floe_job_inventory_params ip = {.format = "JSON"};
            if ((rc = floe_job_initiate_inventory(p->client, p->o->vault, &ip, p->vault_job,
                                                  p->err)) ||
                (rc = save_state(p, p->err)))
                return rc;
            note(p, "DeleteVault refused: waiting for inventory job %s, then trying again",
                 p->vault_job);
        }
        double left = limit - (now_s() - t0);
        struct floe_job_wait_options wo = {.cancel = p->o->cancel,
                                           .timeout_ms = left > 1 ? (uint64_t)(left * 1000) : 1000,
                                           .first_interval_ms = p->o->vault_poll_ms,
                                           .max_interval_ms = p->o->vault_poll_ms,
                                           .notified = p->o->notified,
                                           .notified_user = p->o->notified_user};
        struct floe_job_info job;
        rc = floe_job_wait(p->client, p->o->vault, p->vault_job, &wo, &job, p->err);
        if (rc == FLOE_E_NOT_FOUND ||
            (rc == FLOE_E_SERVICE && !strcmp(p->err->code, "JobFailed"))) {
            note(p, "inventory job %s expired or failed: starting another", p->vault_job);
            p->vault_job[0] = '\0';
            continue;
        }
        if (rc == FLOE_E_TIMEOUT)
            return gave_up(p, limit);
        if (rc)
            return rc;
        p->out->vault_inventories++;
        rc = floe_client_delete_vault(p->client, p->o->vault, p->err);
        if (!rc || !vault_refused(p->err))
            return rc;
        p->vault_job[0] = '\0';
        if (now_s() - t0 >= limit)
            return gave_up(p, limit);
    }
}

static int finish(struct purge *p)
{
    if (!p->o->delete_vault)
        return FLOE_OK;
    if (p->out->protected)
        return floe_error_set(p->err, FLOE_E_SERVICE,
                              "%" PRIu64 " archives are protected (vault lock or policy): vault "
                              "%s is not empty and was not deleted",
                              p->out->protected, p->o->vault);
    if (p->out->plan.archives_kept || p->out->plan.archives_unmigrated)
        return floe_error_set(p->err, FLOE_E_SERVICE,
                              "%" PRIu64 " archives were kept (filters, or not migrated): vault "
                              "%s is not empty and was not deleted",
                              p->out->plan.archives_kept + p->out->plan.archives_unmigrated,
                              p->o->vault);
    int rc;
    if (!p->vault_phase) {
        p->vault_phase = true; /* from here a re-run only deletes the vault */
        if ((rc = save_state(p, p->err)))
            return rc;
    }
    rc = floe_client_delete_vault(p->client, p->o->vault, p->err);
    if (rc && vault_refused(p->err) && p->o->wait_vault)
        rc = wait_and_delete_vault(p);
    else if (rc && vault_refused(p->err))
        floe_error_append(p->err,
                          " - the service deletes a vault only when its latest inventory lists no "
                          "archives and nothing was written since: run the purge again with "
                          "--delete-vault --wait to wait for the next inventory (hours on the "
                          "service) and try again");
    if (!rc)
        p->out->vault_deleted = true;
    return rc;
}

int floe_purge(struct floe_client *c, const struct floe_purge_options *opts,
               struct floe_purge_result *out, struct floe_error *err)
{
    memset(out, 0, sizeof(*out));
    struct purge *p = floe_xcalloc(1, sizeof(*p));
    p->client = c;
    p->o = opts;
    p->out = out;
    p->err = err;
    p->now = (int64_t)time(NULL);
    p->t0 = p->last_save = now_s();
    int rc = setup(p);
    if (!rc && opts->wait_vault && !opts->delete_vault)
        rc = floe_error_set(err, FLOE_E_INVALID_ARG, "--wait goes with --delete-vault");
    bool deleted = p->vault_phase && !opts->dry_run; /* an earlier run deleted every archive */
    if (!rc && !deleted)
        rc = find_inventory(p);
    if (!rc && !deleted)
        rc = fetch_inventory(p);
    if (!rc && !deleted)
        rc = count_pass(p);
    if (!rc && !deleted && !opts->dry_run && opts->confirm &&
        !opts->confirm(&out->plan, opts->user))
        rc = floe_error_set(err, FLOE_E_CANCELLED, "not confirmed: nothing was deleted");
    if (!rc && !deleted && !opts->dry_run)
        rc = delete_pass(p);
    if (!rc && !opts->dry_run)
        rc = finish(p);
    if (!rc && !opts->dry_run) { /* done: the next purge starts from a new inventory */
        if (p->out->inventory_job_id[0])
            mark_used(p);
        unlink(p->state_path);
        unlink(p->inv_path);
    }
    out->seconds = now_s() - p->t0;
    for (size_t i = 0; i < p->qn; i++)
        free(p->q[(p->qhead + i) % p->qcap].id);
    free(p->q);
    free(p->slots);
    floe_inventory_parser_destroy(p->parser);
    if (p->inv)
        fclose(p->inv);
    floe_filter_free(p->filter);
    floe_migrated_close(p->migrated);
    free(p);
    return rc;
}
