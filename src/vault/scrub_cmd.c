/*
 * scrub_cmd.c - `floe-vault scrub` (scrub_cmd.h): opens the database and the blob store of a
 * data directory that must already exist (nothing is created), runs floe_vscrub_all(), reports.
 */
#include "scrub_cmd.h"

#include "scrub.h"
#include "store_blob.h"
#include "store_db.h"
#include "vconfig.h"
#include "vctx.h"
#include "vutil.h"

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct out {
    bool json, quiet, tty;
    int64_t t0, last;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: floe-vault scrub [--data-dir DIR] [--json] [--quiet]\n"
               "Reads every stored archive byte of DIR (default: floe-vault's default data dir)\n"
               "and checks it against its SHA-256 leaf hashes. Exit status: 0 nothing damaged,\n"
               "3 damage found (recorded: the server refuses to serve it and DescribeVault\n"
               "counts it), 1 the directory cannot be read, 2 usage.\n");
}

static void on_damage(const char *vault, const char *archive_id, const char *owner, int64_t idx,
                      uint64_t offset, const char *detail, void *user)
{
    struct out *o = user;
    if (o->json) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "damaged", vault, "archive_id",
                              archive_id, "segment", owner, "part", (json_int_t)idx, "offset",
                              (json_int_t)offset, "detail", detail);
        char *s = json_dumps(j, JSON_COMPACT);
        printf("%s\n", s);
        free(s);
        json_decref(j);
    } else {
        printf("DAMAGED vault %s archive %s (segment %s/%lld) at byte %llu of the segment: %s\n",
               vault[0] ? vault : "?", archive_id[0] ? archive_id : "(upload in progress)", owner,
               (long long)idx, (unsigned long long)offset, detail);
    }
    fflush(stdout);
}

static void on_progress(const struct floe_vscrub_report *r, void *user)
{
    struct out *o = user;
    int64_t now = floe_vutil_now_ms();
    if (o->quiet || now - o->last < (o->tty ? 2000 : 30000))
        return;
    o->last = now;
    double s = (double)(now - o->t0) / 1000.0;
    fprintf(stderr, "floe-vault scrub: %llu segments, %.1f MB checked, %llu damaged, %.0f MB/s\n",
            (unsigned long long)r->segments, (double)r->bytes / 1e6, (unsigned long long)r->damaged,
            s > 0 ? (double)r->bytes / 1e6 / s : 0.0);
}

int floe_vscrub_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data-dir", required_argument, NULL, 'd'},
        {"json", no_argument, NULL, 'j'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct out o = {.tty = isatty(2) == 1};
    char *dir = NULL;
    int c;
    optind = 1;
    const char *inexact = floe_vutil_inexact_option(argc, argv, opts);
    if (inexact) {
        fprintf(stderr, "floe-vault scrub: unknown option \"%s\" (options are spelt out in full)\n",
                inexact);
        usage(stderr);
        return 2;
    }
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            free(dir);
            dir = strdup(optarg);
            break;
        case 'j': o.json = true; break;
        case 'q': o.quiet = true; break;
        case 'h':
            usage(stdout);
            free(dir);
            return 0;
        default:
            usage(stderr);
            free(dir);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "floe-vault scrub: unexpected argument \"%s\"\n", argv[optind]);
        free(dir);
        return 2;
    }
    struct floe_vserver srv = {0};
    floe_vconfig_defaults(&srv.cfg);
    srv.cfg.data_dir = dir ? dir : floe_vconfig_default_data_dir();
    srv.cfg.log_level = o.quiet ? FLOE_VLOG_ERROR - 1 : FLOE_VLOG_WARN;
    struct floe_error err = {0};
    int status = 1;
    char path[4096];
    struct stat st;
    snprintf(path, sizeof(path), "%s/floe-vault.db", srv.cfg.data_dir ? srv.cfg.data_dir : "");
    if (!srv.cfg.data_dir || stat(path, &st) != 0) {
        fprintf(stderr, "floe-vault scrub: no floe-vault data in %s (no floe-vault.db there)\n",
                srv.cfg.data_dir ? srv.cfg.data_dir : "(no data dir: give --data-dir)");
    } else if (floe_vdb_open(path, &srv.db, &err) != FLOE_OK ||
               floe_vblob_open(srv.cfg.data_dir, &srv.blobs, &err) != FLOE_OK) {
        fprintf(stderr, "floe-vault scrub: %s\n", err.message);
    } else {
        struct floe_vscrub_report r;
        o.t0 = o.last = floe_vutil_now_ms();
        floe_vscrub_all(&srv, &r, on_damage, on_progress, &o);
        double s = (double)(floe_vutil_now_ms() - o.t0) / 1000.0;
        if (o.json) {
            json_t *j =
                json_pack("{s:I, s:I, s:I, s:f}", "segments", (json_int_t)r.segments, "bytes",
                          (json_int_t)r.bytes, "damaged", (json_int_t)r.damaged, "seconds", s);
            char *t = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(4));
            printf("%s\n", t);
            free(t);
            json_decref(j);
        } else {
            printf("scrubbed %llu segments, %llu bytes in %.2f s: %llu damaged\n",
                   (unsigned long long)r.segments, (unsigned long long)r.bytes, s,
                   (unsigned long long)r.damaged);
        }
        status = r.damaged ? 3 : 0;
    }
    floe_vblob_close(srv.blobs);
    floe_vdb_close(srv.db);
    floe_vconfig_free(&srv.cfg);
    return status;
}
