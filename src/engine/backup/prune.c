/*
 * prune.c - floe_prune() (floe/prune.h), on the calling thread:
 *
 *   plan    every archive not yet deleted, copied out of the catalog (the iteration must end
 *           before the catalog is read again); a file or pack archive goes when none of its
 *           file versions is current and each was superseded or removed before the cut-off
 *           (an archive with no file rows: created before it); catalog snapshots go when
 *           older than the cut-off and not among the newest FLOE_PRUNE_KEEP_SNAPSHOTS
 *   price   early-deletion charge (archives younger than the minimum storage duration are
 *           billed as if stored for it, prorated by 30-day months) and the storage that stops,
 *           both with the per-archive overhead, at the dated table (prices.h)
 *   delete  after the confirmation: DeleteArchive one at a time, each recorded in the catalog
 *           at once (floe_catalog_archive_deleted), so a failure or Ctrl-C leaves catalog and
 *           vault in agreement; a lock denial (AccessDeniedException) stops the run
 */
#include "floe/prune.h"

#include "alloc.h"
#include "catalog.h"
#include "catopen.h"
#include "prices.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DAY_S 86400

struct cand {
    char archive_id[FLOE_CATALOG_ID_MAX];
    char *description;
    enum floe_catalog_kind kind;
    uint64_t size;
    int64_t created_at;
    bool prune;
};

struct pr {
    const struct floe_prune_options *o;
    struct floe_prune_result *out;
    struct floe_catalog *cat;
    struct floe_error *err;
    struct cand *v;
    size_t n, cap;
    int64_t now, cutoff;
};

static int collect(const struct floe_catalog_archive *a, void *user)
{
    struct pr *p = user;
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 64;
        p->v = floe_xrealloc(p->v, p->cap * sizeof(*p->v));
    }
    struct cand *c = &p->v[p->n++];
    memset(c, 0, sizeof(*c));
    snprintf(c->archive_id, sizeof(c->archive_id), "%s", a->archive_id);
    c->description = floe_xstrdup(a->description ? a->description : "");
    c->kind = a->kind;
    c->size = a->size_bytes;
    c->created_at = a->created_at;
    return 0;
}

/* Whether every version in an archive was superseded or removed before the cut-off. */
struct judge {
    int64_t cutoff;
    bool needed;
    size_t rows;
};

static int judge_file(const struct floe_catalog_file *f, void *user)
{
    struct judge *j = user;
    j->rows++;
    int64_t gone = f->superseded_at > f->removed_at ? f->superseded_at : f->removed_at;
    if (!f->superseded_at && !f->removed_at)
        gone = INT64_MAX; /* current */
    if (gone > j->cutoff) {
        j->needed = true;
        return 1;
    }
    return 0;
}

static int by_created_desc(const void *a, const void *b)
{
    const struct cand *x = *(const struct cand *const *)a, *y = *(const struct cand *const *)b;
    return x->created_at < y->created_at ? 1 : x->created_at > y->created_at ? -1 : 0;
}

static int plan(struct pr *p)
{
    int rc = floe_catalog_iter_archives(p->cat, false, collect, p, p->err);
    struct cand **snaps = floe_xcalloc(p->n ? p->n : 1, sizeof(*snaps));
    size_t nsnaps = 0;
    for (size_t i = 0; !rc && i < p->n; i++) {
        struct cand *c = &p->v[i];
        if (c->kind == FLOE_CATALOG_KIND_CATALOG) {
            snaps[nsnaps++] = c;
            continue;
        }
        struct judge j = {p->cutoff, false, 0};
        rc = floe_catalog_iter_archive_files(p->cat, c->archive_id, judge_file, &j, p->err);
        if (rc == FLOE_E_CANCELLED)
            rc = FLOE_OK; /* judge_file stopped at a needed version */
        c->prune = !rc && !j.needed && (j.rows || c->created_at <= p->cutoff);
    }
    qsort(snaps, nsnaps, sizeof(*snaps), by_created_desc);
    for (size_t i = FLOE_PRUNE_KEEP_SNAPSHOTS; i < nsnaps; i++)
        snaps[i]->prune = snaps[i]->created_at <= p->cutoff;
    free(snaps);
    return rc;
}

static void price(const struct pr *p, const struct cand *c, struct floe_prune_entry *e)
{
    const struct floe_prices *t = floe_prices_default();
    double gb = (double)(c->size + t->archive_overhead_bytes) / 1e9;
    e->age_days = (double)(p->now - c->created_at) / DAY_S;
    if (e->age_days < 0)
        e->age_days = 0;
    e->storage_usd_month = gb * t->storage_per_gb_month_usd;
    e->early_deletion_usd = 0;
    if (e->age_days < t->minimum_storage_days)
        e->early_deletion_usd =
            e->storage_usd_month * ((double)t->minimum_storage_days - e->age_days) / 30.0;
}

/* DeleteArchive and its record. FLOE_E_SERVICE: the message says what the service refused. */
static int delete_one(struct floe_client *client, struct pr *p, const struct cand *c)
{
    int rc = floe_client_delete_archive(client, p->o->vault, c->archive_id, p->err);
    if (rc == FLOE_E_SERVICE && strcmp(p->err->code, "AccessDeniedException") == 0) {
        char msg[FLOE_ERROR_MSG_MAX];
        snprintf(msg, sizeof(msg), "%s", p->err->message);
        floe_error_set(p->err, FLOE_E_SERVICE,
                       "vault %s refuses to delete archive %s (AccessDeniedException: %s): its "
                       "vault lock (or access policy) denies deletion; %llu archives were "
                       "deleted before, nothing more is tried",
                       p->o->vault, c->archive_id, msg, (unsigned long long)p->out->archives);
        snprintf(p->err->code, sizeof(p->err->code), "AccessDeniedException");
        return FLOE_E_SERVICE;
    }
    if (rc == FLOE_E_SERVICE && strcmp(p->err->code, "ResourceNotFoundException") == 0)
        rc = FLOE_OK; /* already gone from the vault: record it */
    if (rc)
        return rc;
    return floe_catalog_archive_deleted(p->cat, c->archive_id, 0, p->err);
}

/* Lists (dry run) or deletes every planned archive, in creation order. */
static int act(struct floe_client *client, struct pr *p)
{
    for (size_t i = 0; i < p->n; i++) {
        const struct cand *c = &p->v[i];
        if (!c->prune)
            continue;
        if (p->o->cancel && atomic_load(p->o->cancel))
            return floe_error_set(p->err, FLOE_E_CANCELLED,
                                  "prune interrupted; what was deleted is recorded");
        struct floe_prune_entry e = {.archive_id = c->archive_id,
                                     .kind = floe_catalog_kind_names[c->kind],
                                     .description = c->description,
                                     .size = c->size,
                                     .created_at = c->created_at};
        price(p, c, &e);
        if (!p->o->dry_run) {
            int rc = delete_one(client, p, c);
            if (rc)
                return rc;
            e.deleted = true;
        }
        p->out->archives++;
        p->out->bytes += c->size;
        p->out->early_deletion_usd += e.early_deletion_usd;
        p->out->storage_usd_month += e.storage_usd_month;
        if (p->o->on_archive)
            p->o->on_archive(&e, p->o->user);
    }
    return FLOE_OK;
}

/* Plan, count, ask, then act; out counts what was deleted (dry run: what would be). */
static int run(struct floe_client *client, struct pr *p)
{
    int rc = plan(p);
    uint64_t archives = 0, bytes = 0;
    for (size_t i = 0; !rc && i < p->n; i++) {
        if (!p->v[i].prune) {
            p->out->archives_kept++;
            continue;
        }
        archives++;
        bytes += p->v[i].size;
    }
    if (rc || !archives)
        return rc;
    if (!p->o->dry_run && p->o->confirm &&
        !p->o->confirm(p->o->vault, archives, bytes, p->o->user)) {
        p->out->declined = true;
        p->out->archives = archives;
        p->out->bytes = bytes;
        return FLOE_OK;
    }
    return act(client, p);
}

int floe_prune(struct floe_client *c, const struct floe_prune_options *opts,
               struct floe_prune_result *out, struct floe_error *err)
{
    memset(out, 0, sizeof(*out));
    struct pr p = {.o = opts, .out = out, .err = err, .now = (int64_t)time(NULL)};
    if (opts->older_than_days > (uint64_t)(p.now / DAY_S))
        p.cutoff = 0;
    else
        p.cutoff = p.now - (int64_t)opts->older_than_days * DAY_S;
    int rc =
        floe_catopen(c, opts->vault, opts->catalog_path, true, opts->dry_run, &p.cat, NULL, 0, err);
    if (!rc)
        rc = run(c, &p);
    for (size_t i = 0; i < p.n; i++)
        free(p.v[i].description);
    free(p.v);
    floe_catalog_close(p.cat);
    return rc;
}
