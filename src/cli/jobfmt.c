/*
 * jobfmt.c - job printing and the download runner shared by `floe job`,
 * `floe retrieve` and `floe inventory` (see jobfmt.h).
 */
#include "jobfmt.h"

#include "common.h"
#include "progress.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static void set_str(json_t *o, const char *k, const char *v)
{
    json_object_set_new(o, k, *v ? json_string(v) : json_null());
}

static void set_hash(json_t *o, const char *k, bool has, const uint8_t h[FLOE_HASH_BYTES])
{
    char hex[FLOE_HASH_HEX];
    if (has)
        floe_treehash_hex(h, hex);
    json_object_set_new(o, k, has ? json_string(hex) : json_null());
}

static json_t *job_json(const struct floe_job_info *j)
{
    json_t *o = json_object();
    set_str(o, "JobId", j->job_id);
    set_str(o, "JobDescription", j->job_description);
    set_str(o, "Action", j->action);
    set_str(o, "ArchiveId", j->archive_id);
    set_str(o, "VaultARN", j->vault_arn);
    set_str(o, "CreationDate", j->creation_date);
    json_object_set_new(o, "Completed", json_boolean(j->completed));
    set_str(o, "StatusCode", j->status_code);
    set_str(o, "StatusMessage", j->status_message);
    json_object_set_new(o, "ArchiveSizeInBytes",
                        j->archive_size_bytes >= 0 ? json_integer(j->archive_size_bytes)
                                                   : json_null());
    json_object_set_new(o, "InventorySizeInBytes",
                        j->inventory_size_bytes >= 0 ? json_integer(j->inventory_size_bytes)
                                                     : json_null());
    set_str(o, "SNSTopic", j->sns_topic);
    set_str(o, "CompletionDate", j->completion_date);
    set_hash(o, "SHA256TreeHash", j->has_tree_hash, j->tree_hash);
    set_hash(o, "ArchiveSHA256TreeHash", j->has_archive_tree_hash, j->archive_tree_hash);
    if (j->has_range) {
        char r[64];
        snprintf(r, sizeof(r), "%llu-%llu", (unsigned long long)j->range.first,
                 (unsigned long long)j->range.last);
        json_object_set_new(o, "RetrievalByteRange", json_string(r));
    } else {
        json_object_set_new(o, "RetrievalByteRange", json_null());
    }
    set_str(o, "Tier", j->tier);
    if (strcmp(j->action, "InventoryRetrieval") == 0) {
        json_t *p = json_object();
        set_str(p, "Format", j->inventory_format);
        set_str(p, "StartDate", j->inventory_start_date);
        set_str(p, "EndDate", j->inventory_end_date);
        set_str(p, "Limit", j->inventory_limit);
        set_str(p, "Marker", j->inventory_marker);
        json_object_set_new(o, "InventoryRetrievalParameters", p);
    }
    return o;
}

void floe_cli_print_job(const struct floe_cli *cli, const struct floe_job_info *j, bool detailed)
{
    if (cli->json) {
        json_t *o = job_json(j);
        json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
        json_decref(o);
        return;
    }
    if (!detailed) {
        printf("%s  %s  %s  %s  %s\n", j->job_id, j->action, j->status_code, j->creation_date,
               j->archive_id[0] ? j->archive_id : "-");
        return;
    }
    json_t *o = job_json(j);
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        if (json_is_null(v))
            continue;
        if (json_is_object(v)) {
            const char *k2;
            json_t *v2;
            json_object_foreach(v, k2, v2)
            {
                if (json_is_string(v2))
                    printf("%s.%s: %s\n", k, k2, json_string_value(v2));
            }
            continue;
        }
        if (json_is_string(v))
            printf("%s: %s\n", k, json_string_value(v));
        else if (json_is_integer(v))
            printf("%s: %lld\n", k, (long long)json_integer_value(v));
        else if (json_is_boolean(v))
            printf("%s: %s\n", k, json_is_true(v) ? "true" : "false");
    }
    json_decref(o);
}

void floe_cli_print_download(const struct floe_cli *cli, const char *cmd, const char *job_id,
                             const char *path, const struct floe_download_result *r)
{
    char tree[FLOE_HASH_HEX] = "";
    if (r->has_tree)
        floe_treehash_hex(r->tree, tree);
    double secs = r->seconds > 0 ? r->seconds : 1e-9;
    double mbps = (double)r->size / secs / 1e6;
    const char *v = floe_verification_name(r->verification);
    if (cli->json) {
        json_t *o = json_pack(
            "{s:o, s:s, s:I, s:s, s:s, s:f, s:f, s:i, s:i, s:i, s:i}", "file", floe_cli_jstr(path),
            "job_id", job_id, "size", (json_int_t)r->size, "tree_hash", tree, "verified", v,
            "seconds", r->seconds, "mb_per_s", mbps, "segments", (int)r->segments,
            "segments_fetched", (int)r->segments_fetched, "segments_resumed",
            (int)r->segments_resumed, "segments_refetched", (int)r->segments_refetched);
        /* with -o - the data is on stdout: the summary must not join it */
        FILE *to = strcmp(path, "-") == 0 ? stderr : stdout;
        json_dumpf(o, to, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fputc('\n', to);
        json_decref(o);
        fflush(to);
    } else if (strcmp(path, "-") != 0) {
        printf("%s  %llu bytes  %.2f s  %.1f MB/s  verified: %s  %s\n", *tree ? tree : "-",
               (unsigned long long)r->size, r->seconds, mbps, v, path);
    }
    if (!cli->quiet && !cli->json) {
        if (r->segments_resumed)
            fprintf(stderr, "floe %s: resumed: %u of %u segments were already downloaded\n", cmd,
                    r->segments_resumed, r->segments);
        if (r->segments_refetched)
            fprintf(stderr, "floe %s: %u segment fetches failed verification and were repeated\n",
                    cmd, r->segments_refetched);
        if (r->verification == FLOE_VERIFY_NONE)
            fprintf(stderr,
                    "floe %s: note: the service sent no tree hash for this output, so it could "
                    "not be verified\n",
                    cmd);
    }
}

void floe_cli_download_progress(const struct floe_download_progress *p, void *user)
{
    floe_progress_update(user, 0, p->bytes_done, p->bytes_total);
}

int floe_cli_download(const struct floe_cli *cli, const char *cmd, struct floe_download_options *o)
{
    struct floe_cli_client_opts copts = {
        .max_connections = o->concurrency ? o->concurrency : FLOE_RETRIEVE_DEFAULT_CONCURRENCY,
    };
    struct floe_client *c = NULL;
    if (floe_cli_client(cli, cmd, &copts, &c))
        return 1;
    struct floe_progress_line *pl = floe_progress_new("download", 1, !cli->quiet && !cli->json);
    o->cancel = floe_cli_cancel_on_sigint();
    o->progress = floe_cli_download_progress;
    o->progress_user = pl;
    struct floe_download_result r;
    struct floe_error err = {0};
    int rc = floe_job_output_download(c, o, &r, &err);
    floe_progress_clear(pl);
    floe_progress_destroy(pl);
    floe_client_destroy(c);
    if (rc == FLOE_E_CANCELLED) {
        fprintf(stderr, "floe %s: %s\n", cmd, err.message);
        return 130;
    }
    if (rc)
        return floe_cli_fail(cmd, &err);
    floe_cli_print_download(cli, cmd, o->job_id, o->output_path, &r);
    return 0;
}
