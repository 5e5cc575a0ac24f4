/*
 * migrated.c - the set of migrated archives (migrated.h).
 *
 * Formats read (written by src/engine/migrate/migrate.c, described in docs/migrate.md):
 *   CSV   "archive_id,name,destination,size,tree_hash,sha256" then one row per archive, fields
 *         quoted with "" for a quote inside;
 *   JSON  an array of objects with archive_id, size, tree_hash (floe writes one per line; any
 *         other layout is read whole);
 *   catalog  the migration's SQLite file: table arch(id, size, tree, state), state done.
 * A manifest goes into a temporary SQLite index (id primary key), so a lookup is one indexed
 * query either way and memory does not grow with the manifest.
 */
#include "migrated.h"

#include "alloc.h"
#include "floe/migrate.h"
#include "floe/treehash.h"
#include "selcsv.h"

#include <errno.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct floe_migrated {
    sqlite3 *db;
    sqlite3_stmt *q;  /* id -> size, tree */
    char *index_path; /* NULL for a catalog */
    uint64_t count;
};

static int db_error(struct floe_migrated *m, struct floe_error *err, const char *what)
{
    return floe_error_set(err, FLOE_E_IO, "%s: %s", what, m->db ? sqlite3_errmsg(m->db) : "");
}

/* ---- manifests into the index ---- */

struct loader {
    struct floe_migrated *m;
    sqlite3_stmt *ins;
    const char *path;
    unsigned long line;
    struct floe_error *err;
};

static int add(struct loader *l, const char *id, uint64_t size, const char *tree)
{
    if (!*id || strlen(tree) != FLOE_HASH_HEX - 1)
        return floe_error_set(l->err, FLOE_E_CORRUPT,
                              "%s line %lu: an archive needs an id and a 64-digit tree hash",
                              l->path, l->line);
    sqlite3_bind_text(l->ins, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(l->ins, 2, (sqlite3_int64)size);
    sqlite3_bind_text(l->ins, 3, tree, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(l->ins);
    sqlite3_reset(l->ins);
    if (rc != SQLITE_DONE)
        return db_error(l->m, l->err, "cannot index the manifest");
    l->m->count++;
    return FLOE_OK;
}

/* A field into out (NUL-terminated); false when it does not fit. */
static bool field(const struct floe_selcsv_field *f, char *out, size_t cap)
{
    if (f->len >= cap || memchr(f->p, '\0', f->len))
        return false;
    memcpy(out, f->p, f->len);
    out[f->len] = '\0';
    return true;
}

/* One CSV record (floe_selcsv_record_fn): the header first, then archive_id, name,
 * destination, size, tree_hash, sha256. */
static int csv_record(void *ud, const struct floe_selcsv_field *f, size_t n)
{
    struct loader *l = ud;
    static const char *const head[] = {"archive_id", "name", "destination", "size", "tree_hash"};
    char id[1100], size[32], tree[80], name[16];
    l->line++;
    if (l->line == 1) {
        for (size_t k = 0; k < 5; k++)
            if (k >= n || !field(&f[k], name, sizeof(name)) || strcmp(name, head[k]) != 0)
                return floe_error_set(l->err, FLOE_E_CORRUPT,
                                      "%s is not a floe migrate manifest (its first line is not "
                                      "\"archive_id,name,destination,size,tree_hash,sha256\")",
                                      l->path);
        return FLOE_OK;
    }
    if (n == 1 && f[0].len == 0)
        return FLOE_OK; /* an empty line */
    if (n < 5 || !field(&f[0], id, sizeof(id)) || !field(&f[3], size, sizeof(size)) ||
        !field(&f[4], tree, sizeof(tree)))
        return floe_error_set(l->err, FLOE_E_CORRUPT, "%s line %lu: not a manifest row", l->path,
                              l->line);
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(size, &end, 10);
    if (!*size || *end || errno)
        return floe_error_set(l->err, FLOE_E_CORRUPT, "%s line %lu: bad size \"%s\"", l->path,
                              l->line, size);
    return add(l, id, v, tree);
}

/* The CSV manifest through core's streaming CSV reader (RFC 4180 quoting, as floe migrate
 * writes it). */
static int load_csv(struct loader *l, FILE *f)
{
    struct floe_selcsv_in in = {0};
    struct floe_selcsv_reader *r = floe_selcsv_reader_new(&in);
    char buf[1 << 16];
    size_t n;
    int rc = 0;
    while (!rc && (n = fread(buf, 1, sizeof(buf), f)) > 0)
        rc = floe_selcsv_feed(r, buf, n, csv_record, l);
    if (!rc)
        rc = floe_selcsv_finish(r, csv_record, l);
    if (rc == -1)
        rc = floe_error_set(l->err, FLOE_E_CORRUPT, "%s line %llu: a record over 1 MiB", l->path,
                            (unsigned long long)floe_selcsv_record_no(r));
    floe_selcsv_reader_destroy(r);
    return rc;
}

static int json_one(struct loader *l, json_t *o)
{
    json_t *id = json_object_get(o, "archive_id"), *size = json_object_get(o, "size"),
           *tree = json_object_get(o, "tree_hash");
    if (!json_is_string(id) || !json_is_integer(size) || json_integer_value(size) < 0 ||
        !json_is_string(tree))
        return floe_error_set(l->err, FLOE_E_CORRUPT,
                              "%s line %lu: an entry needs archive_id, size and tree_hash", l->path,
                              l->line);
    return add(l, json_string_value(id), (uint64_t)json_integer_value(size),
               json_string_value(tree));
}

/* floe's layout: "[", then one object per line (",{...}"), then "]": read line by line. Any
 * other layout: the whole document. */
static int load_json(struct loader *l, FILE *f)
{
    char *line = NULL;
    size_t cap = 0;
    int rc = FLOE_OK;
    bool per_line = true;
    while (!rc && per_line && getline(&line, &cap, f) > 0) {
        l->line++;
        char *s = line + strspn(line, " \t,[");
        size_t n = strlen(s);
        while (n && strchr(" \t\r\n,]", s[n - 1]))
            s[--n] = '\0';
        if (!n)
            continue;
        json_t *o = json_loads(s, 0, NULL);
        if (!json_is_object(o))
            per_line = false;
        else
            rc = json_one(l, o);
        json_decref(o);
    }
    free(line);
    if (rc || per_line)
        return rc;
    /* not one object per line: start again with the whole document */
    sqlite3_exec(l->m->db, "DELETE FROM m", NULL, NULL, NULL);
    l->m->count = 0;
    l->line = 0;
    rewind(f);
    json_error_t je;
    json_t *doc = json_loadf(f, 0, &je);
    if (!json_is_array(doc)) {
        json_decref(doc);
        return floe_error_set(l->err, FLOE_E_CORRUPT,
                              "%s is not a floe migrate manifest (a JSON array of archives): %s",
                              l->path, je.text[0] ? je.text : "not an array");
    }
    size_t i;
    json_t *o;
    json_array_foreach(doc, i, o)
    {
        l->line = i + 1;
        if ((rc = json_one(l, o)))
            break;
    }
    json_decref(doc);
    return rc;
}

static int open_index(struct floe_migrated *m, const char *index_path, struct floe_error *err)
{
    unlink(index_path);
    m->index_path = floe_xstrdup(index_path);
    if (sqlite3_open(index_path, &m->db) != SQLITE_OK ||
        sqlite3_exec(m->db,
                     "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
                     "CREATE TABLE m(id TEXT PRIMARY KEY, size INTEGER, tree TEXT)",
                     NULL, NULL, NULL) != SQLITE_OK)
        return db_error(m, err, "cannot make the manifest's index");
    return FLOE_OK;
}

static int load_manifest(struct floe_migrated *m, const char *path, FILE *f, bool json,
                         struct floe_error *err)
{
    struct loader l = {.m = m, .path = path, .err = err};
    if (sqlite3_prepare_v2(m->db, "INSERT OR REPLACE INTO m VALUES(?, ?, ?)", -1, &l.ins, NULL) !=
        SQLITE_OK)
        return db_error(m, err, "cannot index the manifest");
    sqlite3_exec(m->db, "BEGIN", NULL, NULL, NULL);
    int rc = json ? load_json(&l, f) : load_csv(&l, f);
    if (!rc && ferror(f))
        rc = floe_error_set_errno(err, FLOE_E_IO, errno, path, "cannot read %s", path);
    sqlite3_exec(m->db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
    sqlite3_finalize(l.ins);
    if (!rc && sqlite3_prepare_v2(m->db, "SELECT size, tree FROM m WHERE id = ?", -1, &m->q,
                                  NULL) != SQLITE_OK)
        rc = db_error(m, err, "cannot query the manifest's index");
    return rc;
}

/* ---- a migrate catalog, read-only ---- */

static int open_catalog(struct floe_migrated *m, const char *path, struct floe_error *err)
{
    if (sqlite3_open_v2(path, &m->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return db_error(m, err, "cannot open the migrate catalog");
    sqlite3_busy_timeout(m->db, 5000);
    char sql[160];
    snprintf(sql, sizeof(sql), "SELECT size, tree FROM arch WHERE id = ? AND state = %d",
             FLOE_MIGRATE_DONE);
    sqlite3_stmt *c = NULL;
    if (sqlite3_prepare_v2(m->db, sql, -1, &m->q, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(m->db, "SELECT COUNT(*) FROM arch WHERE state = ?", -1, &c, NULL) !=
            SQLITE_OK) {
        sqlite3_finalize(c);
        return floe_error_set(err, FLOE_E_CORRUPT,
                              "%s is an SQLite file but not a floe migrate catalog (%s)", path,
                              sqlite3_errmsg(m->db));
    }
    sqlite3_bind_int(c, 1, FLOE_MIGRATE_DONE);
    if (sqlite3_step(c) == SQLITE_ROW)
        m->count = (uint64_t)sqlite3_column_int64(c, 0);
    sqlite3_finalize(c);
    return FLOE_OK;
}

int floe_migrated_open(const char *path, const char *index_path, struct floe_migrated **out,
                       struct floe_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return floe_error_set_errno(err, FLOE_E_IO, errno, path, "cannot read %s", path);
    char head[16] = {0};
    size_t n = fread(head, 1, sizeof(head), f);
    rewind(f);
    struct floe_migrated *m = floe_xcalloc(1, sizeof(*m));
    int rc;
    if (n == 16 && memcmp(head, "SQLite format 3", 16) == 0) {
        rc = open_catalog(m, path, err);
    } else {
        size_t i = 0;
        while (i < n && strchr(" \t\r\n", head[i]))
            i++;
        rc = open_index(m, index_path, err);
        if (!rc)
            rc = load_manifest(m, path, f, i < n && (head[i] == '[' || head[i] == '{'), err);
    }
    fclose(f);
    if (rc) {
        floe_migrated_close(m);
        return rc;
    }
    *out = m;
    return FLOE_OK;
}

enum floe_migrated_match floe_migrated_check(struct floe_migrated *m, const char *id, uint64_t size,
                                             const uint8_t *tree_hash, char *why, size_t why_len)
{
    sqlite3_bind_text(m->q, 1, id, -1, SQLITE_TRANSIENT);
    enum floe_migrated_match r = FLOE_MIGRATED_NO;
    if (sqlite3_step(m->q) == SQLITE_ROW) {
        uint64_t msize = (uint64_t)sqlite3_column_int64(m->q, 0);
        const char *mtree = (const char *)sqlite3_column_text(m->q, 1);
        char hex[FLOE_HASH_HEX] = "";
        if (tree_hash)
            floe_treehash_hex(tree_hash, hex);
        r = FLOE_MIGRATED_YES;
        if (msize != size || !tree_hash || !mtree || strcasecmp(mtree, hex) != 0) {
            r = FLOE_MIGRATED_DIFFERS;
            if (why)
                snprintf(why, why_len,
                         "archive %s: migrated as %llu bytes with tree hash %s, the vault's "
                         "inventory says %llu bytes with tree hash %s",
                         id, (unsigned long long)msize, mtree ? mtree : "?",
                         (unsigned long long)size, hex[0] ? hex : "(none)");
        }
    }
    sqlite3_reset(m->q);
    return r;
}

uint64_t floe_migrated_count(const struct floe_migrated *m)
{
    return m->count;
}

void floe_migrated_close(struct floe_migrated *m)
{
    if (!m)
        return;
    sqlite3_finalize(m->q);
    sqlite3_close(m->db);
    if (m->index_path)
        unlink(m->index_path);
    free(m->index_path);
    free(m);
}
