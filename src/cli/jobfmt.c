/*
 * jobfmt.c - job printing and the download runner shared by `floe job`,
 * `floe retrieve` and `floe inventory` (see jobfmt.h).
 */
#include "jobfmt.h"

#include "common.h"
#include "progress.h"

#include "floe/range.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

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
    if (strcmp(j->action, "Select") == 0) {
        json_t *sel = j->select_json[0] ? json_loads(j->select_json, 0, NULL) : NULL;
        const char *names[] = {"SelectParameters", "OutputLocation"};
        for (int i = 0; i < 2; i++) {
            json_t *v = json_object_get(sel, names[i]);
            json_object_set_new(o, names[i],
                                v                          ? json_incref(v)
                                : j->select_json_truncated ? json_string("(too long to show)")
                                                           : json_null());
        }
        json_decref(sel);
        set_str(o, "JobOutputPath", j->job_output_path);
    }
    return o;
}

/* "Key: value" lines of a description; nested objects as Key.Member.Member. */
static void print_members(const char *prefix, json_t *o)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        char name[300];
        snprintf(name, sizeof(name), "%s%s%s", prefix, prefix[0] ? "." : "", k);
        if (json_is_object(v))
            print_members(name, v);
        else if (json_is_array(v)) {
            char *text = json_dumps(v, JSON_COMPACT);
            printf("%s: %s\n", name, text ? text : "");
            free(text);
        } else if (json_is_string(v))
            printf("%s: %s\n", name, json_string_value(v));
        else if (json_is_integer(v))
            printf("%s: %lld\n", name, (long long)json_integer_value(v));
        else if (json_is_boolean(v))
            printf("%s: %s\n", name, json_is_true(v) ? "true" : "false");
    }
}

void floe_cli_print_job(const struct floe_cli *cli, const struct floe_job_info *j, bool detailed)
{
    if (cli->json) {
        json_t *o = job_json(j);
        floe_cli_json_print(stdout, o);
        return;
    }
    if (!detailed) {
        printf("%s  %s  %s  %s  %s\n", j->job_id, j->action, j->status_code, j->creation_date,
               j->archive_id[0] ? j->archive_id : "-");
        return;
    }
    json_t *o = job_json(j);
    print_members("", o);
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
            "{s:o, s:s, s:I, s:s, s:s, s:o, s:o, s:i, s:i, s:i, s:i, s:i, s:i}", "file",
            floe_cli_jstr(path), "job_id", job_id, "size", (json_int_t)r->size, "tree_hash", tree,
            "verified", v, "seconds", floe_cli_jreal(r->seconds, 3), "mb_per_s",
            floe_cli_jreal(mbps, 2), "segments", (int)r->segments, "segments_fetched",
            (int)r->segments_fetched, "segments_resumed", (int)r->segments_resumed,
            "segments_refetched", (int)r->segments_refetched, "segments_in_flight_max",
            (int)r->peak_in_flight, "concurrency_cuts", (int)r->adaptive_cuts);
        /* with -o - the data is on stdout: the summary must not join it */
        FILE *to = strcmp(path, "-") == 0 ? stderr : stdout;
        floe_cli_json_print(to, o);
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
        .max_connections =
            o->concurrency ? o->concurrency : FLOE_RETRIEVE_ADAPTIVE_MAX, /* 0: adaptive */
    };
    struct floe_client *c = NULL;
    if (floe_cli_client(cli, cmd, &copts, &c))
        return floe_cli_client_status();
    struct floe_progress_line *pl = floe_progress_new("download", 1, !cli->quiet && !cli->json);
    floe_progress_set_name(pl, o->output_path);
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
        char again[8192];
        snprintf(again, sizeof(again), "the same floe %s command again (%s)", cmd,
                 strcmp(o->output_path, "-") == 0 || o->no_checkpoint
                     ? "standard output and --no-checkpoint start over"
                     : "verified segments are kept");
        return floe_cli_interrupted(cmd, &err, again);
    }
    if (rc)
        return floe_cli_fail(cmd, &err);
    floe_cli_print_download(cli, cmd, o->job_id, o->output_path, &r);
    return 0;
}

static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return a && b && stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

int floe_cli_check_output(const struct floe_cli *cli, const char *cmd, const char *usage,
                          const char *path, bool overwrite, const char *checkpoint)
{
    if (strcmp(path, "-") == 0)
        return 0;
    if (same_file(path, checkpoint) || same_file(path, cli->log_file))
        return floe_cli_usage_error(cmd, usage,
                                    "-o %s is a file this command uses itself (%s): choose "
                                    "another output",
                                    path,
                                    same_file(path, checkpoint) ? "the checkpoint" : "--log-file");
    struct stat st;
    if (lstat(path, &st) == 0 && !overwrite)
        return floe_cli_usage_error(cmd, usage,
                                    "-o %s exists: pass --overwrite to replace it, or choose "
                                    "another output",
                                    path);
    if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return floe_cli_usage_error(cmd, usage, "-o %s is a directory", path);
    return 0;
}

struct find_ctx {
    const char *archive_id;
    bool has_range;
    const struct floe_byte_range *range;
    time_t newest;
    char *out;
    bool found;
};

/* An ISO 8601 UTC date ("2026-12-04T08:00:00.000Z") as a time, or 0. */
static time_t iso_time(const char *s)
{
    struct tm tm = {0};
    if (!strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
        return 0;
    return timegm(&tm);
}

static int on_job(const struct floe_job_info *j, void *user)
{
    struct find_ctx *f = user;
    if (strcmp(j->action, "ArchiveRetrieval") != 0 || strcmp(j->archive_id, f->archive_id) != 0 ||
        !j->completed || strcmp(j->status_code, "Succeeded") != 0)
        return 0;
    if (f->has_range) {
        if (!j->has_range || j->range.first != f->range->first || j->range.last != f->range->last)
            return 0;
    } else if (j->has_range && (j->range.first != 0 || j->archive_size_bytes < 0 ||
                                j->range.last != (uint64_t)j->archive_size_bytes - 1)) {
        return 0; /* a part of the archive, not all of it */
    }
    time_t done = iso_time(j->completion_date);
    if (!done || time(NULL) - done > 23 * 3600 || done < f->newest)
        return 0;
    f->newest = done;
    snprintf(f->out, FLOE_JOB_ID_MAX, "%s", j->job_id);
    f->found = true;
    return 0;
}

bool floe_cli_find_job(struct floe_client *c, const char *vault, const char *archive_id,
                       bool has_range, const struct floe_byte_range *range, char *out)
{
    struct floe_job_list_filter f = {.status_code = "Succeeded", .completed = 1};
    struct find_ctx fc = {archive_id, has_range, range, 0, out, false};
    struct floe_error err = {0};
    if (floe_job_list(c, vault, &f, on_job, &fc, &err) != FLOE_OK)
        return false;
    return fc.found;
}

int floe_cli_interrupted(const char *cmd, const struct floe_error *err, const char *run_again)
{
    fprintf(stderr, "floe %s: %s\n", cmd, err->message[0] ? err->message : "interrupted");
    fprintf(stderr, "floe %s: to resume, run: %s\n", cmd, run_again);
    return 130;
}
