/*
 * cmd_upload.c - `floe upload VAULT FILE... [options]` and `floe upload --resume CHECKPOINT`.
 *
 * Each file is one archive. Several files upload at once (one orchestrating thread each,
 * sharing the client's transfer thread, hash pool and reader; the memory limit is divided
 * between them). Results print as files finish: text, or one JSON object per line with
 * --json. Ctrl-C stops cleanly, keeping checkpoints; a second Ctrl-C kills at once.
 */
#include "argparse.h"
#include "cli.h"
#include "common.h"
#include "progress.h"

#include "floe/checkpoint.h"
#include "floe/range.h"
#include "floe/upload.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define UPLOAD_USAGE                                                                               \
    "floe upload VAULT FILE... [--description TEXT] [--part-size SIZE] [--concurrency N]\n"        \
    "            [--memory-limit SIZE] [--checkpoint PATH] [--keep-checkpoint]\n"                  \
    "            [--no-checkpoint] [--max-retries N] [--retry-for DURATION]\n"                     \
    "       floe upload --resume CHECKPOINT\n"                                                     \
    "FILE '-' reads standard input. Defaults: --part-size 64MiB (raised to fit 10,000\n"           \
    "parts); --concurrency adaptive (parts in flight per file: from 4 up to 32 while the\n"        \
    "throughput rises, halved on retries; N = fixed, 1 to 256); --memory-limit 1GiB,\n"            \
    "shared by the files uploaded at once (up to 4); checkpoint in $XDG_CACHE_HOME/floe;\n"        \
    "--retry-for 10m, --max-retries no limit (global options: floe --help).\n"                     \
    "Exit status 3: some files were uploaded and some failed (each is reported)."

struct job {
    struct floe_client *client;
    struct floe_upload_options opts;
    struct floe_upload_result res;
    struct floe_error err;
    int rc;
    unsigned slot;
    struct floe_progress_line *pl;
    pthread_t thread;
};

static void on_progress(const struct floe_upload_progress *p, void *user)
{
    struct job *j = user;
    floe_progress_update(j->pl, j->slot, p->bytes_done, p->bytes_total);
}

static void *run_job(void *arg)
{
    struct job *j = arg;
    j->rc = floe_upload_file(j->client, &j->opts, &j->res, &j->err);
    return NULL;
}

static pthread_mutex_t s_out_mu = PTHREAD_MUTEX_INITIALIZER;

static void print_result(const struct floe_cli *cli, struct job *j)
{
    pthread_mutex_lock(&s_out_mu);
    floe_progress_clear(j->pl);
    const char *file = j->opts.path;
    if (j->rc) {
        fprintf(stderr, "floe upload: %s: %s\n", file, j->err.message);
        if (cli->json) {
            json_t *o = json_pack("{s:o, s:o}", "file", floe_cli_jstr(file), "error",
                                  floe_cli_jstr(j->err.message));
            floe_cli_json_print(stdout, o);
        }
    } else {
        char tree[FLOE_HASH_HEX];
        floe_treehash_hex(j->res.tree, tree);
        double secs = j->res.seconds > 0 ? j->res.seconds : 1e-9;
        double mbps = (double)j->res.size / secs / 1e6;
        if (cli->json) {
            json_t *o = json_pack(
                "{s:o, s:s, s:s, s:I, s:o, s:o}", "file", floe_cli_jstr(file), "archive_id",
                j->res.archive_id, "tree_hash", tree, "size", (json_int_t)j->res.size, "seconds",
                floe_cli_jreal(j->res.seconds, 3), "mb_per_s", floe_cli_jreal(mbps, 2));
            json_object_set_new(o, "part_size", json_integer((json_int_t)j->res.part_size));
            json_object_set_new(
                o, "parts",
                json_integer(j->res.multipart ? (json_int_t)((j->res.size + j->res.part_size - 1) /
                                                             j->res.part_size)
                                              : 1));
            if (j->res.parts_resumed)
                json_object_set_new(o, "parts_resumed", json_integer(j->res.parts_resumed));
            floe_cli_json_print(stdout, o);
        } else {
            printf("%s  %s  %llu bytes  %.2f s  %.1f MB/s  %s\n", j->res.archive_id, tree,
                   (unsigned long long)j->res.size, j->res.seconds, mbps, file);
            if (j->res.parts_resumed && !cli->quiet)
                fprintf(stderr, "floe upload: %s: resumed, %u parts were already uploaded\n", file,
                        j->res.parts_resumed);
            if (j->res.linear_checksum && !cli->quiet)
                fprintf(stderr,
                        "floe upload: %s: note: the endpoint returned the linear SHA-256 "
                        "instead of the tree hash; it matched the data\n",
                        file);
        }
    }
    fflush(stdout);
    pthread_mutex_unlock(&s_out_mu);
}

int floe_cmd_upload(const struct floe_cli *cli, int argc, char **argv)
{
    struct floe_upload_options base = {0};
    const char *resume = NULL, *part_s = NULL, *mem_s = NULL, *conc_s = NULL;
    const struct floe_cli_opt opts[] = {
        {"--description", NULL, &base.description, NULL},
        {"--part-size", NULL, &part_s, NULL},
        {"--memory-limit", NULL, &mem_s, NULL},
        {"--concurrency", NULL, &conc_s, NULL},
        {"--checkpoint", NULL, &base.checkpoint_path, NULL},
        {"--resume", NULL, &resume, NULL},
        {"--keep-checkpoint", NULL, NULL, &base.keep_checkpoint},
        {"--no-checkpoint", NULL, NULL, &base.no_checkpoint},
        {NULL, NULL, NULL, NULL},
    };
    const char **pos = calloc((size_t)argc, sizeof(char *));
    int npos = 0;
    int rc = floe_cli_parse("upload", UPLOAD_USAGE, argc, argv, 1, opts, pos, argc, &npos);
    uint64_t conc = 0;
    struct floe_error perr = {0};
    if (!rc && part_s)
        rc = floe_cli_parse_size("upload", UPLOAD_USAGE, "--part-size", part_s, &base.part_size);
    if (!rc && part_s && floe_range_check_part_size(base.part_size, &perr) != FLOE_OK)
        rc = floe_cli_usage_error("upload", UPLOAD_USAGE, "--part-size: %s", perr.message);
    if (!rc && mem_s)
        rc = floe_cli_parse_size("upload", UPLOAD_USAGE, "--memory-limit", mem_s,
                                 &base.memory_limit);
    if (conc_s && strcmp(conc_s, "adaptive") == 0) /* the default (conc 0), see --help */
        conc_s = NULL;
    if (!rc && conc_s)
        rc = floe_cli_parse_uint("upload", UPLOAD_USAGE, "--concurrency", conc_s, 256, &conc);
    if (!rc && conc_s && conc == 0)
        rc = floe_cli_usage_error("upload", UPLOAD_USAGE,
                                  "--concurrency must be a whole number from 1 to 256, not \"0\"");
    /* VAULT FILE...; with --resume there are none (checked below) */
    const char *vault = !resume && npos ? pos[0] : NULL;
    const char **files = vault ? pos + 1 : pos;
    int nfiles = vault ? npos - 1 : npos;
    struct floe_ckpt_state *st = NULL;
    if (rc) {
        free(pos);
        return rc < 0 ? 0 : rc;
    }
    if (resume && base.no_checkpoint) {
        free(pos);
        return floe_cli_usage_error("upload", UPLOAD_USAGE,
                                    "--resume continues from its checkpoint: it cannot be used "
                                    "with --no-checkpoint");
    }
    if (resume) {
        if (vault || nfiles) {
            free(pos);
            return floe_cli_usage_error("upload", UPLOAD_USAGE,
                                        "--resume takes the checkpoint only (the vault and file "
                                        "come from it)");
        }
        struct floe_error err = {0};
        if (floe_checkpoint_load(resume, &st, &err) != FLOE_OK) {
            free(pos);
            return floe_cli_fail("upload", &err);
        }
        if (st->header.kind != FLOE_CKPT_UPLOAD) {
            floe_checkpoint_state_free(st);
            free(pos);
            fprintf(stderr, "floe upload: %s is not an upload checkpoint\n", resume);
            return 1;
        }
        vault = st->header.vault;
        files[nfiles++] = st->header.source.path;
        base.checkpoint_path = resume;
        base.resume_only = true;
    }
    if (!vault || nfiles == 0) {
        free(pos);
        return floe_cli_usage_error("upload", UPLOAD_USAGE,
                                    !vault ? "missing VAULT and FILE" : "missing FILE");
    }
    if (base.checkpoint_path && nfiles > 1) {
        free(pos);
        return floe_cli_usage_error("upload", UPLOAD_USAGE,
                                    "--checkpoint names one journal: give one FILE with it");
    }
    int stdin_count = 0;
    for (int i = 0; i < nfiles; i++)
        stdin_count += strcmp(files[i], "-") == 0;
    if (stdin_count > 1) {
        free(pos);
        return floe_cli_usage_error("upload", UPLOAD_USAGE, "standard input ('-') given twice");
    }
    /* one file named twice (a.bin ./a.bin) would be two uploads sharing one checkpoint */
    for (int i = 0; i < nfiles; i++) {
        struct stat si, sj;
        if (strcmp(files[i], "-") == 0 || stat(files[i], &si) != 0 || !S_ISREG(si.st_mode))
            continue;
        for (int j = i + 1; j < nfiles; j++) {
            if (strcmp(files[j], "-") != 0 && stat(files[j], &sj) == 0 && si.st_dev == sj.st_dev &&
                si.st_ino == sj.st_ino) {
                int urc = floe_cli_usage_error("upload", UPLOAD_USAGE,
                                               "%s and %s are the same file: give it once",
                                               files[i], files[j]);
                free(pos);
                return urc;
            }
        }
    }

    struct floe_cli_client_opts copts = {
        .max_connections = (unsigned)(conc ? conc : FLOE_UPLOAD_ADAPTIVE_MAX) *
                           (unsigned)(nfiles < 4 ? nfiles : 4),
    };
    struct floe_cli eff = *cli;
    if (st && !eff.endpoint_url) /* resume where the checkpoint was made */
        eff.endpoint_url = st->header.endpoint;
    if (st && !eff.account_id && st->header.account_id[0])
        eff.account_id = st->header.account_id;
    struct floe_client *client = NULL;
    if (floe_cli_client(&eff, "upload", &copts, &client)) {
        floe_checkpoint_state_free(st);
        free(pos);
        return floe_cli_client_status();
    }
    atomic_bool *cancel = floe_cli_cancel_on_sigint();

    unsigned parallel = nfiles < 4 ? (unsigned)nfiles : 4;
    struct floe_progress_line *pl =
        floe_progress_new("upload", (unsigned)nfiles, !cli->quiet && !cli->json);
    char label[32];
    snprintf(label, sizeof(label), "%d files", nfiles);
    floe_progress_set_name(pl, nfiles == 1 ? files[0] : label);
    struct job *jobs = calloc((size_t)nfiles, sizeof(struct job));
    uint64_t mem = base.memory_limit ? base.memory_limit : FLOE_UPLOAD_DEFAULT_MEMORY_LIMIT;
    int failed = 0, usage_failed = 0, done = 0;
    for (int start = 0; start < nfiles; start += (int)parallel) {
        int end = start + (int)parallel < nfiles ? start + (int)parallel : nfiles;
        for (int i = start; i < end; i++) {
            struct job *j = &jobs[i];
            j->client = client;
            j->opts = base;
            j->opts.vault = vault;
            j->opts.path = files[i];
            j->opts.concurrency = (unsigned)conc;
            j->opts.memory_limit = mem / (uint64_t)(end - start);
            j->opts.cancel = cancel;
            j->opts.progress = on_progress;
            j->opts.progress_user = j;
            j->slot = (unsigned)i;
            j->pl = pl;
            if (pthread_create(&j->thread, NULL, run_job, j) != 0)
                run_job(j), j->thread = 0;
        }
        for (int i = start; i < end; i++) {
            if (jobs[i].thread)
                pthread_join(jobs[i].thread, NULL);
            print_result(cli, &jobs[i]);
            failed += jobs[i].rc != 0;
            usage_failed += jobs[i].rc != 0 && floe_cli_exit_status(&jobs[i].err) == 2;
            done += jobs[i].rc == 0;
        }
        if (atomic_load(cancel))
            break;
    }
    floe_progress_destroy(pl);
    free(jobs);
    floe_client_destroy(client);
    floe_checkpoint_state_free(st);
    free(pos);
    if (atomic_load(cancel))
        return 130;
    return floe_cli_multi_status(done, failed, usage_failed);
}
