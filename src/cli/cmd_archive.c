/*
 * cmd_archive.c - `floe archive delete` and `floe multipart list|parts|abort`: deleting an
 * archive, and finding and cleaning up multipart uploads that were never completed.
 *
 * Output: text for people; with --json one JSON object per line using the API's keys (one
 * line per upload for `multipart list`; one ListParts-shaped object, all pages merged, for
 * `multipart parts`).
 */
#include "argparse.h"
#include "cli.h"
#include "common.h"

#include "floe/client.h"
#include "floe/treehash.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define ARCHIVE_USAGE                                                                              \
    "floe archive delete VAULT ARCHIVE_ID\n"                                                       \
    "ARCHIVE_ID may start with '-': put it after '--' or write --archive-id=ID."

#define MULTIPART_USAGE                                                                            \
    "floe multipart list VAULT\n"                                                                  \
    "       floe multipart parts VAULT UPLOAD_ID\n"                                                \
    "       floe multipart abort VAULT UPLOAD_ID\n"                                                \
    "UPLOAD_ID may start with '-': put it after '--' or write --upload-id=ID."

static void print_json(json_t *o)
{
    floe_cli_json_print(stdout, o);
}

static json_t *str_or_null(const char *s)
{
    return *s ? json_string(s) : json_null();
}

/* Parses "SUB VAULT [ID]" (id also from --NAME-id); want_id: the subcommand needs the id. */
static int parse_vault_id(const char *cmd, const char *usage, const char *id_opt, int argc,
                          char **argv, bool want_id, const char **vault, const char **id)
{
    const char *opt_id = NULL;
    const struct floe_cli_opt opts[] = {
        {id_opt, NULL, &opt_id, NULL},
        {NULL, NULL, NULL, NULL},
    };
    const char *pos[2];
    int npos = 0;
    int rc = floe_cli_parse(cmd, usage, argc, argv, 2, opts, pos, 2, &npos);
    if (rc)
        return rc < 0 ? -1 : rc;
    if (npos < 1)
        return floe_cli_usage_error(cmd, usage, "%s needs VAULT", argv[1]);
    if (!want_id) {
        if (npos > 1 || opt_id)
            return floe_cli_usage_error(cmd, usage, "%s takes only VAULT", argv[1]);
        *vault = pos[0];
        return 0;
    }
    if (opt_id && npos > 1)
        return floe_cli_usage_error(cmd, usage, "the id is given twice ('%s')", pos[1]);
    if (!opt_id && npos < 2)
        return floe_cli_usage_error(cmd, usage, "%s needs VAULT and %s", argv[1],
                                    strcmp(cmd, "archive") == 0 ? "ARCHIVE_ID" : "UPLOAD_ID");
    *vault = pos[0];
    *id = opt_id ? opt_id : pos[1];
    if (!**id)
        return floe_cli_usage_error(cmd, usage, "the id is empty");
    return 0;
}

int floe_cmd_archive(const struct floe_cli *cli, int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: %s\n", ARCHIVE_USAGE);
        return 0;
    }
    if (argc < 2)
        return floe_cli_usage_error("archive", ARCHIVE_USAGE, "missing subcommand");
    if (strcmp(argv[1], "delete") != 0)
        return floe_cli_usage_error("archive", ARCHIVE_USAGE, "unknown subcommand '%s'", argv[1]);
    const char *vault = NULL, *id = NULL;
    int rc =
        parse_vault_id("archive", ARCHIVE_USAGE, "--archive-id", argc, argv, true, &vault, &id);
    if (rc)
        return rc < 0 ? 0 : rc;
    struct floe_client *c = NULL;
    if (floe_cli_client(cli, "archive", NULL, &c))
        return floe_cli_client_status();
    struct floe_error err = {0};
    rc = floe_client_delete_archive(c, vault, id, &err);
    floe_client_destroy(c);
    if (rc)
        return floe_cli_fail("archive", &err);
    if (cli->json)
        print_json(json_pack("{s:s, s:s}", "VaultName", vault, "ArchiveId", id));
    else if (!cli->quiet)
        printf("deleted archive %s from vault %s\n", id, vault);
    return 0;
}

static json_t *upload_json(const struct floe_upload_info *u)
{
    json_t *o = json_object();
    json_object_set_new(o, "MultipartUploadId", json_string(u->upload_id));
    json_object_set_new(o, "ArchiveDescription", str_or_null(u->archive_description));
    json_object_set_new(o, "CreationDate", json_string(u->creation_date));
    json_object_set_new(o, "PartSizeInBytes", json_integer((json_int_t)u->part_size));
    return o;
}

struct mp_ctx {
    const struct floe_cli *cli;
    unsigned long n;
    uint64_t bytes;
    json_t *parts; /* --json parts: the merged Parts list */
    bool header;   /* the text table's header line is out */
};

static int on_upload(const struct floe_upload_info *u, void *user)
{
    struct mp_ctx *m = user;
    m->n++;
    if (!m->cli->json && !m->header) {
        m->header = true;
        printf("%-92s  %12s  %-24s  %s\n", "UPLOAD_ID", "PART_SIZE", "CREATED", "DESCRIPTION");
    }
    if (m->cli->json)
        print_json(upload_json(u));
    else
        printf("%s  %12" PRIu64 "  %-24s  %s\n", u->upload_id, u->part_size, u->creation_date,
               u->archive_description);
    return 0;
}

static int on_part(const struct floe_part_info *p, void *user)
{
    struct mp_ctx *m = user;
    char range[48], hex[FLOE_HASH_HEX];
    snprintf(range, sizeof(range), "%" PRIu64 "-%" PRIu64, p->first, p->last);
    floe_treehash_hex(p->tree, hex);
    m->n++;
    m->bytes += p->last - p->first + 1;
    if (!m->parts && !m->header) {
        m->header = true;
        printf("%-28s  %s\n", "RANGE", "SHA256_TREE_HASH");
    }
    if (m->parts)
        json_array_append_new(
            m->parts, json_pack("{s:s, s:s}", "RangeInBytes", range, "SHA256TreeHash", hex));
    else
        printf("%-28s  %s\n", range, hex);
    return 0;
}

int floe_cmd_multipart(const struct floe_cli *cli, int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: %s\n", MULTIPART_USAGE);
        return 0;
    }
    if (argc < 2)
        return floe_cli_usage_error("multipart", MULTIPART_USAGE, "missing subcommand");
    const char *sub = argv[1];
    bool list = strcmp(sub, "list") == 0, parts = strcmp(sub, "parts") == 0,
         abort_ = strcmp(sub, "abort") == 0;
    if (!list && !parts && !abort_)
        return floe_cli_usage_error("multipart", MULTIPART_USAGE, "unknown subcommand '%s'", sub);
    const char *vault = NULL, *id = NULL;
    int rc =
        parse_vault_id("multipart", MULTIPART_USAGE, "--upload-id", argc, argv, !list, &vault, &id);
    if (rc)
        return rc < 0 ? 0 : rc;
    struct floe_client *c = NULL;
    if (floe_cli_client(cli, "multipart", NULL, &c))
        return floe_cli_client_status();
    struct floe_error err = {0};
    struct mp_ctx m = {.cli = cli};
    if (list) {
        rc = floe_client_list_multipart_uploads(c, vault, on_upload, &m, &err);
        if (!rc && !cli->json && !cli->quiet)
            printf("%lu upload%s in progress\n", m.n, m.n == 1 ? "" : "s");
    } else if (parts) {
        struct floe_upload_info info = {0};
        m.parts = cli->json ? json_array() : NULL;
        rc = floe_client_list_parts(c, vault, id, on_part, &m, &info, &err);
        if (!rc && cli->json) {
            json_t *o = upload_json(&info);
            json_object_set_new(o, "Parts", m.parts);
            m.parts = NULL;
            print_json(o);
        } else if (!rc && !cli->quiet) {
            printf("%lu part%s, %" PRIu64 " bytes; part size %" PRIu64 "; created %s%s%s\n", m.n,
                   m.n == 1 ? "" : "s", m.bytes, info.part_size, info.creation_date,
                   info.archive_description[0] ? "; description: " : "", info.archive_description);
        }
        json_decref(m.parts);
    } else {
        rc = floe_client_abort_multipart(c, vault, id, &err);
        if (!rc && cli->json)
            print_json(json_pack("{s:s, s:s}", "VaultName", vault, "MultipartUploadId", id));
        else if (!rc && !cli->quiet)
            printf("aborted multipart upload %s in vault %s\n", id, vault);
    }
    floe_client_destroy(c);
    return rc ? floe_cli_fail("multipart", &err) : 0;
}
