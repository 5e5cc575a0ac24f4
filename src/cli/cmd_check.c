/*
 * cmd_check.c - `floe check DIR VAULT [--checksum] [--catalog PATH] [--all]`: local files
 * against the backup catalog (floe/check.h; behaviour in docs/backup.md, "floe check").
 *
 * Output: one line per difference ("changed (size) PATH", "missing PATH", "new PATH"; --all
 * lists the ok files too), then a summary; with --json one object per listed file and the
 * summary last. Exit status: 0 every file ok, 3 differences found, 1 failure, 2 usage, 130
 * interrupted.
 */
#include "argparse.h"
#include "cli.h"
#include "common.h"

#include "floe/check.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK_USAGE                                                                                \
    "floe check DIR VAULT [--checksum] [--catalog PATH] [--all]\n"                                 \
    "Compares the files under DIR with the vault's backup catalog: ok, changed (size or mtime;\n"  \
    "--checksum: content), missing (in the catalog, not on disk), new (not in the catalog).\n"     \
    "Only differences are listed unless --all. The catalog defaults to the one floe backup\n"      \
    "uses. Exit status 3: differences found."

struct ctx {
    const struct floe_cli *cli;
    bool all;
};

static void on_file(const struct floe_check_entry *e, void *user)
{
    struct ctx *x = user;
    if (e->state == FLOE_CHECK_OK && !x->all)
        return;
    const char *state = floe_check_state_name(e->state);
    if (x->cli->json) {
        json_t *j = json_object();
        json_object_set_new(j, "state", json_string(state));
        json_object_set_new(j, "path", floe_cli_jstr(e->path));
        if (e->reason)
            json_object_set_new(j, "reason", json_string(e->reason));
        if (e->state != FLOE_CHECK_NEW)
            json_object_set_new(j, "catalog_size", json_integer((json_int_t)e->catalog_size));
        if (e->state != FLOE_CHECK_MISSING)
            json_object_set_new(j, "size", json_integer((json_int_t)e->disk_size));
        floe_cli_json_print(stdout, j);
        return;
    }
    if (e->reason)
        printf("%s (%s) ", state, e->reason);
    else
        printf("%s ", state);
    fwrite(e->path, 1, e->path_len, stdout);
    fputc('\n', stdout);
}

static void on_warn(const char *path, const char *message, void *user)
{
    struct ctx *x = user;
    floe_cli_warning(x->cli, "check", path, message);
}

static void print_summary(const struct floe_cli *cli, const struct floe_check_result *r)
{
    if (cli->json) {
        json_t *j = json_object();
        json_object_set_new(j, "ok", json_integer((json_int_t)r->ok));
        json_object_set_new(j, "changed", json_integer((json_int_t)r->changed));
        json_object_set_new(j, "missing", json_integer((json_int_t)r->missing));
        json_object_set_new(j, "new", json_integer((json_int_t)r->new_files));
        json_object_set_new(j, "unreadable", json_integer((json_int_t)r->unreadable));
        json_object_set_new(j, "seconds", floe_cli_jreal(r->seconds, 3));
        floe_cli_json_print(stdout, j);
        return;
    }
    printf("%llu ok, %llu changed, %llu missing, %llu new", (unsigned long long)r->ok,
           (unsigned long long)r->changed, (unsigned long long)r->missing,
           (unsigned long long)r->new_files);
    if (r->unreadable)
        printf(", %llu unreadable", (unsigned long long)r->unreadable);
    printf("\n");
}

int floe_cmd_check(const struct floe_cli *cli, int argc, char **argv)
{
    struct floe_check_options o = {0};
    bool all = false;
    const struct floe_cli_opt opts[] = {
        {"--checksum", NULL, NULL, &o.checksum},
        {"--catalog", NULL, &o.catalog_path, NULL},
        {"--all", NULL, NULL, &all},
        {NULL, NULL, NULL, NULL},
    };
    const char *pos[2];
    int npos = 0;
    int rc = floe_cli_parse("check", CHECK_USAGE, argc, argv, 1, opts, pos, 2, &npos);
    if (!rc && npos < 2)
        rc = floe_cli_usage_error("check", CHECK_USAGE, "missing %s", npos ? "VAULT" : "DIR");
    if (rc)
        return rc < 0 ? 0 : rc;
    o.dir = pos[0];
    o.vault = pos[1];
    struct floe_client *client = NULL;
    if (floe_cli_client(cli, "check", NULL, &client))
        return 1;
    struct ctx x = {cli, all};
    o.cancel = floe_cli_cancel_on_sigint();
    o.fn = on_file;
    o.warn = on_warn;
    o.user = &x;
    struct floe_check_result r;
    struct floe_error err = {0};
    rc = floe_check(client, &o, &r, &err);
    floe_client_destroy(client);
    int status = floe_cli_outcome("check", rc, &err, "run the same command again");
    if (status >= 0)
        return status;
    print_summary(cli, &r);
    return r.changed || r.missing || r.new_files ? 3 : 0;
}
