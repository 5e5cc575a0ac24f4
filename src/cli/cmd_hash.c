/*
 * cmd_hash.c - `floe hash FILE...`: tree hash, linear SHA-256, size and name of each file.
 * A file that cannot be read is reported on stderr (naming it) and the others are still
 * hashed; the exit status is then 3 (some hashed) or 1 (none).
 */
#include "cli.h"
#include "common.h"

#include "floe/filehash.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static void hash_usage(FILE *f)
{
    fprintf(f, "usage: floe [--json] hash FILE...   (FILE '-' reads standard input)\n"
               "prints: TREE_HASH  SHA256  SIZE  NAME\n");
}

static void print_json_line(json_t *o)
{
    floe_cli_json_print(stdout, o);
}

int floe_cmd_hash(const struct floe_cli *cli, int argc, char **argv)
{
    int nfiles = 0, failed = 0, done = 0;
    bool dashdash = false;
    for (int i = 1; i < argc; i++) {
        if (!dashdash && strcmp(argv[i], "--") == 0) {
            dashdash = true;
        } else if (!dashdash && (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)) {
            hash_usage(stdout);
            return 0;
        } else if (!dashdash && argv[i][0] == '-' && argv[i][1] != 0) {
            fprintf(stderr, "floe hash: unknown option '%s'\n", argv[i]);
            hash_usage(stderr);
            return 2;
        } else {
            nfiles++;
        }
    }
    if (nfiles == 0) {
        fprintf(stderr, "floe hash: no files given\n");
        hash_usage(stderr);
        return 2;
    }

    struct floe_error err = {0};
    struct floe_hashpool *pool = NULL;
    if (floe_hashpool_new(0, 0, &pool, &err) != FLOE_OK) {
        fprintf(stderr, "floe hash: %s\n", err.message);
        return 1;
    }
    bool json = cli->json; /* one JSON object per line, as every floe command */
    dashdash = false;
    for (int i = 1; i < argc; i++) {
        if (!dashdash && strcmp(argv[i], "--") == 0) {
            dashdash = true;
            continue;
        }
        const char *path = argv[i];
        struct floe_filehash_result r;
        memset(&err, 0, sizeof(err));
        if (floe_filehash(path, pool, &r, &err) != FLOE_OK) {
            fprintf(stderr, "floe hash: %s\n", err.message);
            failed++;
            if (json)
                print_json_line(json_pack("{s:o, s:o}", "file", floe_cli_jstr(path), "error",
                                          floe_cli_jstr(err.message)));
            continue;
        }
        char tree[FLOE_HASH_HEX], lin[FLOE_HASH_HEX];
        floe_treehash_hex(r.tree, tree);
        floe_treehash_hex(r.linear, lin);
        if (json) {
            print_json_line(json_pack("{s:o, s:s, s:s, s:I}", "file", floe_cli_jstr(path),
                                      "tree_hash", tree, "sha256", lin, "size",
                                      (json_int_t)r.size));
        } else {
            printf("%s  %s  %llu  %s\n", tree, lin, (unsigned long long)r.size, path);
            fflush(stdout);
        }
        done++;
    }
    floe_hashpool_destroy(pool);
    return floe_cli_multi_status(done, failed, 0);
}
