/*
 * catalog_cmd.c - `floe catalog ls | stats | import-mtglacier` (floe/catalog_cmd.h): the catalog
 * rows turned into the public entries the CLI prints, and the mt-aws-glacier journal import
 * (mtglacier.h) into the catalog of a vault. ls and stats open the catalog read-only (no run
 * lock: a backup may be running); the import opens it for writing and is one transaction.
 */
#include "floe/catalog_cmd.h"

#include "catalog.h"
#include "catopen.h"
#include "mtglacier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ls {
    const struct floe_catalog_ls_options *o;
    struct floe_catalog *cat;
    struct floe_error *err;
    int status;               /* a failure inside a callback */
    const char *archive_kind; /* --all-versions: the kind of the archive being listed */
};

static int emit(struct ls *l, const struct floe_catalog_file *f, const char *kind)
{
    struct floe_catalog_ls_entry e = {
        .path = f->path,
        .path_len = f->path_len,
        .size = f->size_bytes,
        .has_mtime = f->has_mtime,
        .mtime_ns = f->mtime_ns,
        .archive_id = f->archive_id,
        .kind = kind,
        .compression = floe_catalog_compression_names[f->compression],
        .offset = f->offset_bytes,
        .length = f->length_bytes,
        .uploaded_at = f->uploaded_at,
        .superseded_at = f->superseded_at,
        .removed_at = f->removed_at,
    };
    return l->o->fn(&e, l->o->user);
}

static int ls_current(const struct floe_catalog_file *f, void *user)
{
    struct ls *l = user;
    struct floe_catalog_archive a;
    int rc = floe_catalog_get_archive(l->cat, f->archive_id, &a, l->err);
    if (rc) {
        l->status = rc;
        return 1;
    }
    return emit(l, f, floe_catalog_kind_names[a.kind]);
}

static int ls_version(const struct floe_catalog_file *f, void *user)
{
    struct ls *l = user;
    const char *p = l->o->prefix ? l->o->prefix : "";
    size_t n = strlen(p);
    if (f->path_len < n || memcmp(f->path, p, n) != 0)
        return 0;
    return emit(l, f, l->archive_kind);
}

/* --all-versions: the archives are copied out first (the iteration's statement must be done
 * before each archive's files are read). */
struct ids {
    char (*id)[FLOE_CATALOG_ID_MAX];
    enum floe_catalog_kind *kind;
    size_t n, cap;
};

static int collect_archive(const struct floe_catalog_archive *a, void *user)
{
    struct ids *v = user;
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 64;
        void *id = realloc(v->id, v->cap * sizeof(*v->id));
        void *kind = id ? realloc(v->kind, v->cap * sizeof(*v->kind)) : NULL;
        if (id)
            v->id = id;
        if (!id || !kind)
            return 1;
        v->kind = kind;
    }
    snprintf(v->id[v->n], sizeof(v->id[v->n]), "%s", a->archive_id);
    v->kind[v->n++] = a->kind;
    return 0;
}

static int ls_all(struct ls *l)
{
    struct ids v = {0};
    int rc = floe_catalog_iter_archives(l->cat, true, collect_archive, &v, l->err);
    if (rc == FLOE_E_CANCELLED)
        rc = floe_error_set(l->err, FLOE_E_NOMEM, "out of memory listing the archives");
    for (size_t i = 0; !rc && i < v.n; i++) {
        l->archive_kind = floe_catalog_kind_names[v.kind[i]];
        rc = floe_catalog_iter_archive_files(l->cat, v.id[i], ls_version, l, l->err);
    }
    free(v.id);
    free(v.kind);
    return rc;
}

int floe_catalog_ls(struct floe_client *c, const struct floe_catalog_ls_options *o,
                    struct floe_error *err)
{
    struct ls l = {.o = o, .err = err};
    int rc = floe_catopen(c, o->vault, o->catalog_path, true, true, &l.cat, NULL, 0, err);
    if (rc)
        return rc;
    if (o->all_versions) {
        rc = ls_all(&l);
    } else {
        const char *p = o->prefix ? o->prefix : "";
        rc = floe_catalog_iter_files(l.cat, p, strlen(p), ls_current, &l, err);
    }
    if (l.status)
        rc = l.status;
    floe_catalog_close(l.cat);
    return rc;
}

/* ---- stats ---- */

struct sum {
    struct floe_catalog_summary *out;
    floe_catalog_run_info_fn *run_fn;
    void *user;
    bool runs_stopped;
};

static int count_archive(const struct floe_catalog_archive *a, void *user)
{
    struct sum *s = user;
    if (a->deleted_at) {
        s->out->archives_deleted++;
        return 0;
    }
    if (a->kind == FLOE_CATALOG_KIND_FILE)
        s->out->archives_file++;
    else if (a->kind == FLOE_CATALOG_KIND_PACK)
        s->out->archives_pack++;
    else
        s->out->archives_catalog++;
    return 0;
}

static int each_run(const struct floe_catalog_run *r, void *user)
{
    struct sum *s = user;
    if (!s->run_fn || s->runs_stopped)
        return 0;
    struct floe_catalog_run_info i = {
        .id = r->id,
        .started_at = r->started_at,
        .ended_at = r->ended_at,
        .outcome = floe_catalog_outcome_names[r->outcome],
        .files_new = r->counts.files_new,
        .files_changed = r->counts.files_changed,
        .files_removed = r->counts.files_removed,
        .files_skipped = r->counts.files_skipped,
        .files_failed = r->counts.files_failed,
        .bytes_uploaded = r->counts.bytes_uploaded,
    };
    s->runs_stopped = s->run_fn(&i, s->user) != 0;
    return 0;
}

int floe_catalog_summary(struct floe_client *c, const char *vault, const char *catalog_path,
                         struct floe_catalog_summary *out, floe_catalog_run_info_fn *run_fn,
                         void *user, struct floe_error *err)
{
    struct floe_catalog_summary s;
    memset(&s, 0, sizeof(s));
    struct floe_catalog *cat = NULL;
    int rc = floe_catopen(c, vault, catalog_path, true, true, &cat, s.catalog_path,
                          sizeof(s.catalog_path), err);
    struct floe_catalog_stats st;
    if (!rc)
        rc = floe_catalog_stats(cat, &st, err);
    struct sum x = {&s, run_fn, user, false};
    if (!rc)
        rc = floe_catalog_iter_archives(cat, true, count_archive, &x, err);
    if (!rc)
        rc = floe_catalog_iter_runs(cat, each_run, &x, err);
    floe_catalog_close(cat);
    if (rc)
        return rc;
    s.files_current = st.files_current;
    s.bytes_current = st.bytes_current;
    s.file_versions = st.file_versions;
    s.archives = st.archives;
    s.archive_bytes = st.archive_bytes;
    s.runs = st.runs;
    *out = s;
    return FLOE_OK;
}

/* ---- import ---- */

int floe_catalog_import_journal(struct floe_client *c, const char *journal, const char *vault,
                                const char *catalog_path, const char *path_prefix,
                                struct floe_catalog_import_result *out, struct floe_error *err)
{
    struct floe_catalog_import_result r;
    memset(&r, 0, sizeof(r));
    struct floe_catalog *cat = NULL;
    int rc = floe_catopen(c, vault, catalog_path, false, false, &cat, r.catalog_path,
                          sizeof(r.catalog_path), err);
    struct floe_mtglacier_import_stats st = {0};
    if (!rc)
        rc = floe_catalog_import_mtglacier(cat, journal, path_prefix, &st, err);
    floe_catalog_close(cat);
    if (rc)
        return rc;
    r.lines = st.lines;
    r.archives_added = st.archives_added;
    r.archives_known = st.archives_known;
    r.archives_deleted = st.archives_deleted;
    r.retrieve_jobs = st.retrieve_jobs;
    *out = r;
    return FLOE_OK;
}
