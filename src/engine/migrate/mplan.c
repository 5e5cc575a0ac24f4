/*
 * mplan.c - see mplan.h.
 */
#include "mplan.h"

#include "alloc.h"
#include "filter.h"
#include "floe/inventory.h"
#include "floe/invrange.h"
#include "floe/jobs.h"
#include "floe/retrieve.h"
#include "mname.h"
#include "ms3.h"

#include <xxhash.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define INVENTORY_MAX_AGE_S (20 * 3600) /* job output lives about 24 h */
#define COMMIT_EVERY 10000

struct planner {
    struct floe_client *client;
    const struct floe_migrate_options *o;
    struct floe_mcat *cat;
    struct floe_migrate_plan *out;
    struct floe_error *err;
    struct floe_filter *filter;
    uint64_t ord, pending;
    struct floe_mcat_row row;
    char inv_path[4200];
    bool ranged; /* the job's output is read in ranges as it is parsed (floe/invrange.h) */
};

static void phase(const struct planner *p, const char *what, const char *detail)
{
    if (p->o->phase)
        p->o->phase(what, detail, p->o->user);
}

char *floe_mplan_fingerprint(const struct floe_migrate_options *o)
{
    size_t n = 64 + (o->names_path ? strlen(o->names_path) : 0);
    for (size_t i = 0; i < o->nfilter_rules; i++)
        n += strlen(o->filter_rules[i]) + 1;
    char *s = floe_xmalloc(n);
    size_t k = (size_t)snprintf(s, n, "names=%s\nshard=%u/%u\n", o->names_path ? o->names_path : "",
                                o->shard_index, o->shard_count);
    for (size_t i = 0; i < o->nfilter_rules; i++)
        k += (size_t)snprintf(s + k, n - k, "%s\n", o->filter_rules[i]);
    return s;
}

/* ---- --names FILE.csv ---- */

/* One CSV field at *s (quoted with "" escapes, or up to the comma); NULL when malformed. */
static char *csv_field(char **s)
{
    char *p = *s, *out = p;
    if (*p == '"') {
        char *w = out;
        for (p++;; p++) {
            if (!*p)
                return NULL;
            if (*p == '"') {
                if (p[1] != '"')
                    break;
                p++;
            }
            *w++ = *p;
        }
        p++;
        *w = '\0';
        if (*p && *p != ',')
            return NULL;
    } else {
        p += strcspn(p, ",");
    }
    if (*p == ',')
        *p++ = '\0';
    *s = p;
    return out;
}

static int load_names(struct planner *p)
{
    FILE *f = fopen(p->o->names_path, "r");
    if (!f)
        return floe_error_set_errno(p->err, FLOE_E_INVALID_ARG, errno, p->o->names_path,
                                    "cannot read the --names file %s", p->o->names_path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    unsigned long lineno = 0;
    int rc = FLOE_OK;
    while (!rc && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0])
            continue;
        char *s = line;
        char *id = csv_field(&s);
        char *name = id && *s ? csv_field(&s) : NULL;
        if (lineno == 1 && id && (strcmp(id, "archive_id") == 0 || strcmp(id, "ArchiveId") == 0))
            continue;
        char clean[FLOE_MNAME_CAP];
        if (name)
            floe_mname_sanitise(name, clean);
        if (!id || !name || *s || !id[0])
            rc = floe_error_set(p->err, FLOE_E_INVALID_ARG,
                                "--names file %s line %lu: expected ARCHIVE_ID,NAME (a field "
                                "with a comma or quote in double quotes, \"\" for a quote)",
                                p->o->names_path, lineno);
        else if (!clean[0])
            rc = floe_error_set(p->err, FLOE_E_INVALID_ARG,
                                "--names file %s line %lu: the name '%s' is empty once "
                                "sanitised (no '.', '..' or empty components)",
                                p->o->names_path, lineno, name);
        else
            rc = floe_mcat_name_put(p->cat, id, clean, p->err);
    }
    free(line);
    fclose(f);
    return rc;
}

/* ---- the inventory ---- */

struct pick {
    int64_t not_before;
    char done_id[FLOE_JOB_ID_MAX], done_date[40];
    char running_id[FLOE_JOB_ID_MAX], running_date[40];
};

int64_t floe_mplan_iso_seconds(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
        return 0;
    return (int64_t)timegm(&tm);
}

static int pick_inventory(const struct floe_job_info *j, void *user)
{
    struct pick *k = user;
    if (strcmp(j->action, "InventoryRetrieval") != 0)
        return 0;
    bool ok = strcmp(j->status_code, "Succeeded") == 0;
    bool running = strcmp(j->status_code, "InProgress") == 0;
    char *id = ok ? k->done_id : running ? k->running_id : NULL;
    char *date = ok ? k->done_date : k->running_date;
    if (!id || (ok && floe_mplan_iso_seconds(j->creation_date) < k->not_before))
        return 0;
    if (!id[0] || strcmp(j->creation_date, date) > 0) {
        snprintf(id, FLOE_JOB_ID_MAX, "%s", j->job_id);
        snprintf(date, 40, "%s", j->creation_date);
    }
    return 0;
}

/* The inventory job: named, the catalog's (an interrupted plan), a recent or running one, or
 * a new one (recorded before it is waited for). */
static int inventory_job(struct planner *p, char id[FLOE_JOB_ID_MAX])
{
    if (p->o->inventory_job_id) {
        snprintf(id, FLOE_JOB_ID_MAX, "%s", p->o->inventory_job_id);
        p->out->inventory_reused = true;
        return FLOE_OK;
    }
    if (floe_mcat_meta_get(p->cat, "inventory_job_id", id, FLOE_JOB_ID_MAX)) {
        p->out->inventory_reused = true;
        return FLOE_OK;
    }
    struct pick k = {.not_before = (int64_t)time(NULL) - INVENTORY_MAX_AGE_S};
    struct floe_job_list_filter f = {.completed = -1};
    int rc = floe_job_list(p->client, p->o->vault, &f, pick_inventory, &k, p->err);
    if (rc)
        return rc;
    const char *use = k.done_id[0] ? k.done_id : k.running_id[0] ? k.running_id : NULL;
    if (use) {
        snprintf(id, FLOE_JOB_ID_MAX, "%s", use);
        p->out->inventory_reused = true;
    } else {
        struct floe_job_inventory_params ip = {.format = "JSON"};
        if ((rc = floe_job_initiate_inventory(p->client, p->o->vault, &ip, id, p->err)))
            return rc;
    }
    return floe_mcat_meta_set(p->cat, "inventory_job_id", id, p->err);
}

/* floe_job_wait_options.progress: each DescribeJob of the inventory job. */
static void inventory_wait(const struct floe_job_info *j, double waited, void *user)
{
    const struct planner *p = user;
    struct floe_migrate_progress pr = {
        .stage = "inventory", .job_id = j->job_id, .job_status = j->status_code, .seconds = waited};
    p->o->progress(&pr, p->o->user);
}

static int fetch_inventory(struct planner *p)
{
    char *id = p->out->inventory_job_id;
    int rc = inventory_job(p, id);
    if (rc)
        return rc;
    phase(p, "inventory", id);
    struct floe_job_wait_options wo = {.cancel = p->o->cancel,
                                       .max_interval_ms = p->o->poll_ms ? p->o->poll_ms : 0,
                                       .progress = p->o->progress ? inventory_wait : NULL,
                                       .progress_user = p};
    struct floe_job_info job;
    if ((rc = floe_job_wait(p->client, p->o->vault, id, &wo, &job, p->err)))
        return rc;
    if (strcmp(job.status_code, "Succeeded") != 0)
        return floe_error_set(p->err, FLOE_E_SERVICE, "inventory job %s of vault %s %s: %s", id,
                              p->o->vault, job.status_code, job.status_message);
    if ((p->ranged = floe_invrange_usable(&job)))
        return FLOE_OK; /* read while it is parsed */
    struct floe_download_options d = {.vault = p->o->vault,
                                      .job_id = id,
                                      .output_path = p->inv_path,
                                      .job = &job,
                                      .cancel = p->o->cancel};
    struct floe_download_result dr;
    unlink(p->inv_path);
    return floe_job_output_download(p->client, &d, &dr, p->err);
}

static int add_archive(const struct floe_inventory_archive *a, void *user)
{
    struct planner *p = user;
    struct floe_mcat_row *r = &p->row;
    bool by_id = false;
    uint64_t ord = p->ord++;
    if (floe_mcat_name_get(p->cat, a->archive_id, r->name))
        p->out->named_by_file++;
    else
        floe_mname_from_description(a->description, a->archive_id, r->name, &by_id);
    if (p->filter && floe_filter_match(p->filter, r->name, false) == FLOE_FILTER_EXCLUDE) {
        p->out->excluded++;
        p->out->excluded_bytes += a->size;
        return 0;
    }
    bool mine = !p->o->shard_count ||
                XXH3_64bits(a->archive_id, strlen(a->archive_id)) % p->o->shard_count ==
                    p->o->shard_index - 1;
    p->out->named_by_id += by_id && mine;
    r->ord = (int64_t)ord;
    snprintf(r->id, sizeof(r->id), "%s", a->archive_id);
    snprintf(r->created, sizeof(r->created), "%s", a->creation_date ? a->creation_date : "");
    r->size = a->size;
    r->tree[0] = '\0';
    if (a->has_tree_hash)
        for (int i = 0; i < FLOE_HASH_BYTES; i++)
            snprintf(r->tree + 2 * i, 3, "%02x", a->tree_hash[i]);
    int rc = floe_mcat_insert(p->cat, r, a->description ? a->description : "", mine, p->err);
    if (!rc && ++p->pending >= COMMIT_EVERY) {
        p->pending = 0;
        if (!(rc = floe_mcat_commit(p->cat, p->err)))
            rc = floe_mcat_begin(p->cat, p->err);
    }
    return rc ? 1 : 0;
}

static void meta_u64(struct floe_mcat *cat, const char *k, uint64_t v, int *rc,
                     struct floe_error *err)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRIu64, v);
    if (!*rc)
        *rc = floe_mcat_meta_set(cat, k, buf, err);
}

static uint64_t meta_get_u64(struct floe_mcat *cat, const char *k)
{
    char buf[32];
    floe_mcat_meta_get(cat, k, buf, sizeof(buf));
    return strtoull(buf, NULL, 10);
}

static int build_filter(struct planner *p)
{
    if (!p->o->nfilter_rules)
        return FLOE_OK;
    p->filter = floe_filter_new();
    for (size_t i = 0; i < p->o->nfilter_rules; i++) {
        int rc = floe_filter_add(p->filter, p->o->filter_rules[i], p->err);
        if (rc)
            return rc;
    }
    return FLOE_OK;
}

/* An inventory file given by the user must be this vault's: a JSON inventory names its vault
 * (VaultARN ends in ":vaults/NAME"); a CSV one does not, and is taken as given. */
static int check_inventory_vault(const struct floe_migrate_options *o,
                                 const struct floe_inventory_summary *sum, struct floe_error *err)
{
    const char *v = strstr(sum->vault_arn, ":vaults/");
    if (!sum->vault_arn[0] || (v && strcmp(v + strlen(":vaults/"), o->vault) == 0))
        return FLOE_OK;
    return floe_error_set(err, FLOE_E_INVALID_ARG,
                          "inventory %s is of %s, not of vault %s: give this vault's inventory",
                          o->inventory_path, sum->vault_arn, o->vault);
}

int floe_mplan_make(struct floe_client *c, const struct floe_migrate_options *o,
                    struct floe_mcat *cat, struct floe_migrate_plan *out, struct floe_error *err)
{
    struct planner *p = floe_xcalloc(1, sizeof(*p));
    *p = (struct planner){.client = c, .o = o, .cat = cat, .out = out, .err = err};
    memset(out, 0, sizeof(*out));
    int rc = build_filter(p);
    bool in_tx = false;
    if (!rc)
        rc = floe_mcat_clear_plan(cat, err); /* what an interrupted plan left */
    if (!rc && o->names_path && !(rc = floe_mcat_begin(cat, err))) {
        rc = load_names(p);
        int crc = floe_mcat_commit(cat, err);
        rc = rc ? rc : crc;
    }
    snprintf(p->inv_path, sizeof(p->inv_path), "%s.inventory", floe_mcat_path(cat));
    if (!rc && !o->inventory_path)
        rc = fetch_inventory(p);
    if (!rc)
        rc = floe_mcat_begin(cat, err);
    in_tx = rc == FLOE_OK;
    struct floe_inventory_summary sum;
    if (!rc) {
        phase(p, "plan", o->vault);
        struct floe_invrange_options ro = {.cancel = o->cancel};
        if (o->inventory_path) {
            rc = floe_invrange_parse_file(o->inventory_path, &ro, add_archive, p, &sum, NULL, err);
            if (!rc)
                rc = check_inventory_vault(o, &sum, err);
        } else
            rc = p->ranged ? floe_invrange_download(c, o->vault, out->inventory_job_id, &ro,
                                                    add_archive, p, &sum, NULL, err)
                           : floe_inventory_parse_file(p->inv_path, FLOE_INVENTORY_AUTO,
                                                       add_archive, p, &sum, err);
    }
    uint64_t renamed = 0;
    if (!rc)
        rc = floe_mcat_plan_loaded(cat, err);
    if (!rc)
        rc = floe_mcat_dedup(cat, &renamed, err);
    if (!rc)
        rc = floe_mcat_drop_others(cat, &out->other_shards, &out->other_shards_bytes, err);
    meta_u64(cat, "other_shards", out->other_shards, &rc, err);
    meta_u64(cat, "other_shards_bytes", out->other_shards_bytes, &rc, err);
    meta_u64(cat, "excluded", out->excluded, &rc, err);
    meta_u64(cat, "excluded_bytes", out->excluded_bytes, &rc, err);
    meta_u64(cat, "named_by_id", out->named_by_id, &rc, err);
    meta_u64(cat, "named_by_file", out->named_by_file, &rc, err);
    meta_u64(cat, "renamed_duplicates", renamed, &rc, err);
    if (!rc)
        rc = floe_mcat_meta_set(cat, "inventory_date", sum.inventory_date, err);
    if (!rc)
        rc = floe_mcat_meta_set(cat, "planned", "1", err);
    if (!rc)
        rc = floe_mcat_commit(cat, err);
    else if (in_tx)
        floe_mcat_rollback(cat);
    if (!rc)
        unlink(p->inv_path);
    floe_filter_free(p->filter);
    free(p);
    return rc;
}

void floe_mplan_summary(struct floe_mcat *cat, const struct floe_migrate_options *o,
                        const struct floe_mprices *prices, struct floe_migrate_plan *out)
{
    uint64_t n[FLOE_MIGRATE_STATE_COUNT], b[FLOE_MIGRATE_STATE_COUNT];
    floe_mcat_counts(cat, n, b);
    out->archives = out->bytes = 0;
    for (int s = 0; s < FLOE_MIGRATE_STATE_COUNT; s++) {
        out->archives += n[s];
        out->bytes += b[s];
    }
    out->excluded = meta_get_u64(cat, "excluded");
    out->excluded_bytes = meta_get_u64(cat, "excluded_bytes");
    out->named_by_id = meta_get_u64(cat, "named_by_id");
    out->named_by_file = meta_get_u64(cat, "named_by_file");
    out->other_shards = meta_get_u64(cat, "other_shards");
    out->other_shards_bytes = meta_get_u64(cat, "other_shards_bytes");
    out->renamed_duplicates = meta_get_u64(cat, "renamed_duplicates");
    floe_mcat_meta_get(cat, "inventory_job_id", out->inventory_job_id,
                       sizeof(out->inventory_job_id));
    floe_mcat_meta_get(cat, "inventory_date", out->inventory_date, sizeof(out->inventory_date));
    out->over_s3_limit = floe_mcat_count_over(cat, FLOE_MIGRATE_S3_OBJECT_MAX);
    out->requests = out->archives;
    snprintf(out->prices_as_of, sizeof(out->prices_as_of), "%s", prices->as_of);
    double gb = (double)out->bytes / 1e9;
    double dest_usd = 0; /* a local directory costs nothing here */
    if (floe_ms3_is_s3(o->destination)) {
        const char *sc = o->storage_class ? o->storage_class : "DEEP_ARCHIVE";
        uint64_t chunk = o->chunk_size ? o->chunk_size : FLOE_MS3_DEFAULT_CHUNK;
        double puts = (double)floe_mcat_s3_requests(cat, chunk);
        for (int k = 0; k < FLOE_MPRICES_CLASSES; k++)
            if (strcmp(prices->s3[k].name, sc) == 0)
                dest_usd = puts / 1000.0 * prices->s3[k].per_1000_puts_usd +
                           gb * prices->s3[k].per_gb_month_usd;
    }
    double days = o->max_per_day_bytes ? (double)out->bytes / (double)o->max_per_day_bytes : 0;
    for (int t = 0; t < FLOE_MPRICES_TIERS; t++) {
        struct floe_migrate_tier_estimate *e = &out->tiers[t];
        e->tier = prices->tier[t].name;
        e->retrieval_usd = gb * prices->tier[t].per_gb_usd;
        e->requests_usd = (double)out->requests / 1000.0 * prices->tier[t].per_1000_requests_usd;
        e->destination_usd = dest_usd;
        e->total_usd = e->retrieval_usd + e->requests_usd + e->destination_usd;
        e->hours = prices->tier[t].hours + (days > 1 ? (days - 1) * 24 : 0);
    }
}
