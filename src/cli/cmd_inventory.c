/*
 * cmd_inventory.c - `floe inventory VAULT`: start an inventory retrieval (or use --job-id),
 * wait, read it in parallel byte ranges parsed as they arrive (floe/invrange.h) and print a
 * table of archives, or keep the raw output with -o FILE --raw (verified parallel segments).
 * With --limit the inventory comes in pages: each completed job's Marker starts the next job
 * until the marker is null.
 *
 * Parsing streams: rows are printed in file order as their range is parsed, so memory is a few
 * ranges (FLOE_INVENTORY_RANGE_SIZE, 8 MiB by default) whatever the number of archives.
 */
#include "argparse.h"
#include "cli.h"
#include "common.h"
#include "jobfmt.h"

#include "floe/inventory.h"
#include "floe/invrange.h"
#include "floe/jobs.h"
#include "floe/retrieve.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define INVENTORY_USAGE                                                                            \
    "floe inventory VAULT [--format JSON|CSV] [-o FILE [--raw]] [--start-date DATE]\n"             \
    "               [--end-date DATE] [--limit N] [--marker MARKER] [--job-id JOB_ID]\n"           \
    "               [--timeout SECONDS] [--poll-interval SECONDS] [--overwrite]\n"                 \
    "Prints ARCHIVE_ID SIZE CREATION_DATE DESCRIPTION per archive (--json: one object each).\n"    \
    "-o FILE --raw keeps the service's output instead (page N > 1 goes to FILE.N);\n"              \
    "-o FILE alone writes the table there; an existing FILE is refused without --overwrite.\n"     \
    "Defaults: --format JSON, every archive (no dates, no --limit), --timeout none,\n"             \
    "--poll-interval 1 s growing to 15 min."

struct table {
    const struct floe_cli *cli;
    FILE *out;
};

static int print_row(const struct floe_inventory_archive *a, void *user)
{
    struct table *t = user;
    if (t->cli->json) {
        char tree[FLOE_HASH_HEX] = "";
        if (a->has_tree_hash)
            floe_treehash_hex(a->tree_hash, tree);
        json_t *o = json_pack("{s:s, s:I, s:s, s:s, s:s}", "ArchiveId", a->archive_id, "Size",
                              (json_int_t)a->size, "CreationDate", a->creation_date,
                              "ArchiveDescription", a->description, "SHA256TreeHash", tree);
        floe_cli_json_print(t->out, o);
    } else {
        fprintf(t->out, "%s  %llu  %s  %s\n", a->archive_id, (unsigned long long)a->size,
                a->creation_date, a->description);
    }
    return 0;
}

static void on_wait(const struct floe_job_info *j, double waited, void *user)
{
    const struct floe_cli *cli = user;
    if (cli->quiet || cli->json || !j->completed)
        return;
    fprintf(stderr, "floe inventory: job %s %s after %.0f s\n", j->job_id, j->status_code, waited);
}

/* One page through the verified download of floe/retrieve.h: to raw_out (page N > 1 to
 * raw_out.N) kept as it is, or (raw_out NULL) to a temporary file parsed into the table. */
static int download_page(struct floe_client *c, const struct floe_cli *cli, const char *vault,
                         const char *id, const struct floe_job_info *job, const char *raw_out,
                         unsigned page, atomic_bool *cancel, struct table *tb, uint64_t *archives,
                         uint64_t *bytes, struct floe_error *err)
{
    char path[4200];
    if (raw_out) {
        if (page == 1)
            snprintf(path, sizeof(path), "%s", raw_out);
        else
            snprintf(path, sizeof(path), "%s.%u", raw_out, page);
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(path, sizeof(path), "%s/floe-inventory-%d-%u", tmp && *tmp ? tmp : "/tmp",
                 (int)getpid(), page);
    }
    struct floe_download_options d = {
        .vault = vault,
        .job_id = id,
        .output_path = path,
        .no_checkpoint = true,
        .job = job,
        .cancel = cancel,
    };
    struct floe_download_result r;
    int rc = floe_job_output_download(c, &d, &r, err);
    if (rc)
        return rc;
    if (!raw_out) {
        struct floe_inventory_summary sum;
        rc = floe_inventory_parse_file(path, FLOE_INVENTORY_AUTO, print_row, tb, &sum, err);
        unlink(path);
        if (rc)
            return rc;
        *archives += sum.archives;
        *bytes += sum.total_size_bytes;
    } else if (!cli->quiet) {
        fprintf(stderr, "floe inventory: wrote %s (%llu bytes)\n", path,
                (unsigned long long)r.size);
    }
    return FLOE_OK;
}

int floe_cmd_inventory(const struct floe_cli *cli, int argc, char **argv)
{
    const char *format = NULL, *out = NULL, *start = NULL, *end = NULL, *limit = NULL,
               *marker = NULL, *job_id = NULL, *timeout = NULL, *poll = NULL;
    bool raw = false, overwrite = false;
    const struct floe_cli_opt opts[] = {
        {"--format", NULL, &format, NULL},       {"--output", "-o", &out, NULL},
        {"--start-date", NULL, &start, NULL},    {"--end-date", NULL, &end, NULL},
        {"--limit", NULL, &limit, NULL},         {"--marker", NULL, &marker, NULL},
        {"--job-id", NULL, &job_id, NULL},       {"--timeout", NULL, &timeout, NULL},
        {"--poll-interval", NULL, &poll, NULL},  {"--raw", NULL, NULL, &raw},
        {"--overwrite", NULL, NULL, &overwrite}, {NULL, NULL, NULL, NULL},
    };
    const char *pos[1];
    int npos = 0;
    int rc = floe_cli_parse("inventory", INVENTORY_USAGE, argc, argv, 1, opts, pos, 1, &npos);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (npos < 1)
        return floe_cli_usage_error("inventory", INVENTORY_USAGE, "missing VAULT");
    if (raw && !out)
        return floe_cli_usage_error("inventory", INVENTORY_USAGE, "--raw needs -o FILE");
    const char *vault = pos[0];
    if (out && floe_cli_check_output(cli, "inventory", INVENTORY_USAGE, out, overwrite, NULL))
        return 2;
    struct floe_job_inventory_params ip = {
        .format = format, .start_date = start, .end_date = end, .marker = marker};
    if (limit &&
        floe_cli_parse_uint("inventory", INVENTORY_USAGE, "--limit", limit, UINT64_MAX, &ip.limit))
        return 2;
    uint64_t t = 0, p = 0;
    if ((timeout &&
         floe_cli_parse_seconds("inventory", INVENTORY_USAGE, "--timeout", timeout, &t)) ||
        (poll && floe_cli_parse_seconds("inventory", INVENTORY_USAGE, "--poll-interval", poll, &p)))
        return 2;
    struct floe_job_wait_options wo = {
        .first_interval_ms = floe_cli_interval_ms(p),
        .max_interval_ms = p ? (uint32_t)(p * 8 > 900000 ? 900000 : p * 8) : 0,
        .timeout_ms = timeout && t == 0 ? 1 : t,
        .cancel = floe_cli_cancel_on_sigint(),
        .progress = on_wait,
        .progress_user = (void *)cli,
    };
    struct floe_client *c = NULL;
    if (floe_cli_client(cli, "inventory", NULL, &c))
        return floe_cli_client_status();
    struct table tb = {cli, stdout};
    if (out && !raw && strcmp(out, "-") != 0) {
        tb.out = fopen(out, "w");
        if (!tb.out) {
            floe_client_destroy(c);
            fprintf(stderr, "floe inventory: cannot create %s\n", out);
            return 1;
        }
    }
    struct floe_error err = {0};
    struct floe_job_info *job = calloc(1, sizeof(*job));
    char *next_marker = marker ? strdup(marker) : NULL;
    char id[FLOE_JOB_ID_MAX] = "";
    uint64_t archives = 0, bytes = 0;
    for (unsigned page = 1;; page++) {
        if (job_id && page == 1) {
            snprintf(id, sizeof(id), "%s", job_id);
        } else {
            ip.marker = next_marker;
            if ((rc = floe_job_initiate_inventory(c, vault, &ip, id, &err)))
                break;
            if (!cli->quiet && !cli->json)
                fprintf(stderr, "floe inventory: job %s initiated\n", id);
        }
        if ((rc = floe_job_wait(c, vault, id, &wo, job, &err)))
            break;
        if (!raw && floe_invrange_usable(job)) {
            /* read in parallel ranges, each parsed as it arrives (floe/invrange.h) */
            struct floe_invrange_options ro = {.cancel = wo.cancel};
            struct floe_inventory_summary sum;
            rc = floe_invrange_download(c, vault, id, &ro, print_row, &tb, &sum, NULL, &err);
            if (rc)
                break;
            archives += sum.archives;
            bytes += sum.total_size_bytes;
        } else if ((rc = download_page(c, cli, vault, id, job, raw ? out : NULL, page, wo.cancel,
                                       &tb, &archives, &bytes, &err))) {
            break;
        }
        free(next_marker);
        next_marker = job->inventory_marker[0] ? strdup(job->inventory_marker) : NULL;
        if (!next_marker)
            break;
        if (!ip.limit && job->inventory_limit[0]) /* a --job-id page: keep its page size */
            ip.limit = strtoull(job->inventory_limit, NULL, 10);
    }
    /* a table that could not be written (disk full) is a failure, not a success */
    int werr = ferror(tb.out) ? EIO : 0;
    bool to_file = tb.out != stdout;
    if (to_file && fclose(tb.out) != 0)
        werr = errno;
    if ((fflush(stdout) != 0 || ferror(stdout)) && !werr)
        werr = errno ? errno : EIO;
    if (werr && !rc)
        rc = floe_error_set_errno(&err, FLOE_E_IO, werr, NULL, "cannot write the inventory to %s",
                                  to_file ? out : "standard output");
    free(next_marker);
    free(job);
    floe_client_destroy(c);
    if (rc == FLOE_E_CANCELLED) {
        char again[1400];
        snprintf(again, sizeof(again),
                 "floe inventory %s --job-id %s (with the same options; the "
                 "job keeps running)",
                 vault, id);
        return floe_cli_interrupted("inventory", &err, again);
    }
    if (rc)
        return floe_cli_fail("inventory", &err);
    if (!raw && !cli->quiet && !cli->json)
        fprintf(stderr, "floe inventory: %llu archives, %llu bytes\n", (unsigned long long)archives,
                (unsigned long long)bytes);
    return 0;
}
