/*
 * cmd_vault_sub.c - a vault's sub-resources, reached through `floe vault`:
 * `floe vault policy set|get|delete`, `floe vault lock initiate|get|complete|abort` and
 * `floe vault tag add|remove|list`. cmd_vault.c hands every `floe vault policy|lock|tag ...`
 * line to floe_cmd_vault_sub().
 *
 * Inputs (policy JSON, tag rules and counts) are checked with libfloe's rules (floe/admin.h)
 * before a client is made: a bad input exits 2 naming the rule; a service error exits 1 with
 * the Glacier code and message. With --json: one object per line with the API's keys.
 */
#include "argparse.h"
#include "cli.h"
#include "common.h"

#include "floe/admin.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLICY_USAGE                                                                               \
    "floe vault policy set VAULT (--policy JSON | --file PATH)\n"                                  \
    "       floe vault policy get VAULT\n"                                                         \
    "       floe vault policy delete VAULT\n"                                                      \
    "The vault access policy: an IAM policy document (a JSON object, at most 20480 bytes);\n"      \
    "--file - reads it from standard input."

#define LOCK_USAGE                                                                                 \
    "floe vault lock initiate VAULT (--policy JSON | --file PATH)   (prints the lock id)\n"        \
    "       floe vault lock get VAULT\n"                                                           \
    "       floe vault lock complete VAULT LOCK_ID\n"                                              \
    "       floe vault lock abort VAULT"

#define TAG_USAGE                                                                                  \
    "floe vault tag add VAULT KEY=VALUE...   (1 to 10 tags; VALUE may be empty)\n"                 \
    "       floe vault tag remove VAULT KEY...   (1 to 10 keys)\n"                                 \
    "       floe vault tag list VAULT\n"                                                           \
    "Keys: 1-128 characters, values: 0-255, of letters, digits, spaces and _ . / = + - @;\n"       \
    "keys must not start with 'aws:'. A word starting with '-' goes after '--'."

static void print_json(json_t *o)
{
    floe_cli_json_print(stdout, o);
}

/* Reads a policy file ('-' = stdin) into a malloc'd string. 0, 1 (unreadable, message
 * printed) or 2 (too big: usage error). */
static int read_policy_file(const char *cmd, const char *usage, const char *path, char **out)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        int e = errno;
        fprintf(stderr, "floe %s: cannot open policy file %s: %s\n", cmd, path, strerror(e));
        return 1;
    }
    size_t cap = FLOE_ADMIN_POLICY_MAX + 2, n = 0;
    char *buf = malloc(cap);
    int rc = 0;
    if (!buf) {
        fprintf(stderr, "floe %s: out of memory\n", cmd);
        rc = 1;
        goto out;
    }
    n = fread(buf, 1, cap - 1, f);
    if (ferror(f)) {
        int e = errno;
        fprintf(stderr, "floe %s: cannot read policy file %s: %s\n", cmd, path, strerror(e));
        rc = 1;
        goto out;
    }
    buf[n] = 0;
    if (n > FLOE_ADMIN_POLICY_MAX) {
        rc = floe_cli_usage_error(cmd, usage,
                                  "policy file %s is larger than %d bytes, Glacier's limit", path,
                                  FLOE_ADMIN_POLICY_MAX);
        goto out;
    }
    if (strlen(buf) != n) {
        rc = floe_cli_usage_error(cmd, usage, "policy file %s contains a NUL byte", path);
        goto out;
    }
    *out = buf;
    buf = NULL;
out:
    free(buf);
    if (f != stdin)
        fclose(f);
    return rc;
}

/* The policy from --policy or --file (exactly one), checked. 0 with *out malloc'd, 1 or 2. */
static int load_policy(const char *cmd, const char *usage, const char *inline_json,
                       const char *file, char **out)
{
    if (inline_json && file)
        return floe_cli_usage_error(cmd, usage, "give the policy once: --policy or --file");
    if (!inline_json && !file)
        return floe_cli_usage_error(cmd, usage,
                                    "the policy is missing: give --policy JSON or "
                                    "--file PATH");
    char *text = NULL;
    if (file) {
        int rc = read_policy_file(cmd, usage, file, &text);
        if (rc)
            return rc;
    } else {
        text = strdup(inline_json);
        if (!text) {
            fprintf(stderr, "floe %s: out of memory\n", cmd);
            return 1;
        }
    }
    struct floe_error err = {0};
    if (floe_admin_check_policy(text, &err)) {
        free(text);
        return floe_cli_usage_error(cmd, usage, "%s%s%s", file ? file : "", file ? ": " : "",
                                    err.message);
    }
    *out = text;
    return 0;
}

/* The parsed line "floe vault RES ACTION VAULT [ARGS...]". */
struct sub_args {
    const char *cmd; /* "vault policy" etc., for messages */
    const char *usage;
    const char *action;
    const char *vault;
    const char **rest; /* positionals after VAULT (borrowed from argv) */
    int nrest;
    const char *policy, *file;
};

/* 0 parsed, 2 usage error, -1 --help printed. */
static int parse_sub(int argc, char **argv, bool policy_opts, struct sub_args *a, const char **pos)
{
    const struct floe_cli_opt with_policy[] = {
        {"--policy", NULL, &a->policy, NULL},
        {"--file", NULL, &a->file, NULL},
        {NULL, NULL, NULL, NULL},
    };
    const struct floe_cli_opt none[] = {{NULL, NULL, NULL, NULL}};
    int npos = 0;
    int rc = floe_cli_parse(a->cmd, a->usage, argc, argv, 2, policy_opts ? with_policy : none, pos,
                            argc, &npos);
    if (rc)
        return rc;
    if (npos < 1)
        return floe_cli_usage_error(a->cmd, a->usage, "missing subcommand");
    a->action = pos[0];
    if (npos < 2)
        return floe_cli_usage_error(a->cmd, a->usage, "%s needs VAULT", a->action);
    a->vault = pos[1];
    a->rest = pos + 2;
    a->nrest = npos - 2;
    return 0;
}

static int no_more_args(const struct sub_args *a)
{
    if (a->nrest)
        return floe_cli_usage_error(a->cmd, a->usage, "unexpected argument '%s'", a->rest[0]);
    return 0;
}

static int cmd_policy(const struct floe_cli *cli, int argc, char **argv, const char **pos)
{
    struct sub_args a = {.cmd = "vault policy", .usage = POLICY_USAGE};
    int rc = parse_sub(argc, argv, true, &a, pos);
    if (rc)
        return rc < 0 ? 0 : rc;
    bool set = strcmp(a.action, "set") == 0, get = strcmp(a.action, "get") == 0;
    if (!set && !get && strcmp(a.action, "delete") != 0)
        return floe_cli_usage_error(a.cmd, a.usage, "unknown subcommand '%s'", a.action);
    if ((rc = no_more_args(&a)))
        return rc;
    if (!set && (a.policy || a.file))
        return floe_cli_usage_error(a.cmd, a.usage, "%s takes no policy", a.action);
    char *text = NULL;
    if (set && (rc = load_policy(a.cmd, a.usage, a.policy, a.file, &text)))
        return rc;
    struct floe_client *c = NULL;
    if (floe_cli_client(cli, a.cmd, NULL, &c)) {
        free(text);
        return floe_cli_client_status();
    }
    struct floe_error err = {0};
    if (set) {
        rc = floe_admin_set_access_policy(c, a.vault, text, &err);
        if (!rc && cli->json)
            print_json(json_pack("{s:s, s:s}", "VaultName", a.vault, "Policy", text));
        else if (!rc && !cli->quiet)
            printf("set the access policy of vault %s\n", a.vault);
    } else if (get) {
        char *got = NULL;
        rc = floe_admin_get_access_policy(c, a.vault, &got, &err);
        if (!rc && cli->json)
            print_json(json_pack("{s:s}", "Policy", got));
        else if (!rc)
            printf("%s\n", got);
        free(got);
    } else {
        rc = floe_admin_delete_access_policy(c, a.vault, &err);
        if (!rc && cli->json)
            print_json(json_pack("{s:s}", "VaultName", a.vault));
        else if (!rc && !cli->quiet)
            printf("deleted the access policy of vault %s\n", a.vault);
    }
    free(text);
    floe_client_destroy(c);
    return rc ? floe_cli_fail(a.cmd, &err) : 0;
}

static int cmd_lock(const struct floe_cli *cli, int argc, char **argv, const char **pos)
{
    struct sub_args a = {.cmd = "vault lock", .usage = LOCK_USAGE};
    int rc = parse_sub(argc, argv, true, &a, pos);
    if (rc)
        return rc < 0 ? 0 : rc;
    bool init = strcmp(a.action, "initiate") == 0, get = strcmp(a.action, "get") == 0,
         complete = strcmp(a.action, "complete") == 0, abort_ = strcmp(a.action, "abort") == 0;
    if (!init && !get && !complete && !abort_)
        return floe_cli_usage_error(a.cmd, a.usage, "unknown subcommand '%s'", a.action);
    if (!init && (a.policy || a.file))
        return floe_cli_usage_error(a.cmd, a.usage, "%s takes no policy", a.action);
    const char *lock_id = NULL;
    if (complete) {
        if (a.nrest < 1)
            return floe_cli_usage_error(a.cmd, a.usage, "complete needs VAULT and LOCK_ID");
        lock_id = a.rest[0];
        a.rest++;
        a.nrest--;
        if (!*lock_id)
            return floe_cli_usage_error(a.cmd, a.usage, "LOCK_ID is empty");
    }
    if ((rc = no_more_args(&a)))
        return rc;
    char *text = NULL;
    if (init && (rc = load_policy(a.cmd, a.usage, a.policy, a.file, &text)))
        return rc;
    struct floe_client *c = NULL;
    if (floe_cli_client(cli, a.cmd, NULL, &c)) {
        free(text);
        return floe_cli_client_status();
    }
    struct floe_error err = {0};
    if (init) {
        char id[FLOE_ADMIN_ID_MAX];
        rc = floe_admin_initiate_lock(c, a.vault, text, id, &err);
        if (!rc && cli->json)
            print_json(json_pack("{s:s}", "LockId", id));
        else if (!rc)
            printf("%s\n", id);
    } else if (get) {
        struct floe_vault_lock l = {0};
        rc = floe_admin_get_lock(c, a.vault, &l, &err);
        if (!rc && cli->json) {
            json_t *o = json_pack("{s:s, s:s}", "Policy", l.policy, "State", l.state);
            json_object_set_new(o, "ExpirationDate",
                                l.expiration_date[0] ? json_string(l.expiration_date)
                                                     : json_null());
            json_object_set_new(o, "CreationDate", json_string(l.creation_date));
            print_json(o);
        } else if (!rc) {
            printf("State           %s\nCreationDate    %s\nExpirationDate  %s\nPolicy          "
                   "%s\n",
                   l.state, l.creation_date, l.expiration_date[0] ? l.expiration_date : "-",
                   l.policy);
        }
        floe_admin_lock_cleanup(&l);
    } else if (complete) {
        rc = floe_admin_complete_lock(c, a.vault, lock_id, &err);
        if (!rc && cli->json)
            print_json(json_pack("{s:s, s:s}", "VaultName", a.vault, "LockId", lock_id));
        else if (!rc && !cli->quiet)
            printf("vault %s is locked\n", a.vault);
    } else {
        rc = floe_admin_abort_lock(c, a.vault, &err);
        if (!rc && cli->json)
            print_json(json_pack("{s:s}", "VaultName", a.vault));
        else if (!rc && !cli->quiet)
            printf("aborted the vault lock of %s\n", a.vault);
    }
    free(text);
    floe_client_destroy(c);
    return rc ? floe_cli_fail(a.cmd, &err) : 0;
}

struct tag_ctx {
    const struct floe_cli *cli;
    json_t *tags; /* --json: the Tags map */
    unsigned n;
};

static int on_tag(const char *key, const char *value, void *user)
{
    struct tag_ctx *t = user;
    t->n++;
    if (t->tags)
        json_object_set_new(t->tags, key, json_string(value));
    else
        printf("%s\t%s\n", key, value);
    return 0;
}

static int cmd_tag(const struct floe_cli *cli, int argc, char **argv, const char **pos)
{
    struct sub_args a = {.cmd = "vault tag", .usage = TAG_USAGE};
    int rc = parse_sub(argc, argv, false, &a, pos);
    if (rc)
        return rc < 0 ? 0 : rc;
    bool add = strcmp(a.action, "add") == 0, rm = strcmp(a.action, "remove") == 0,
         list = strcmp(a.action, "list") == 0;
    if (!add && !rm && !list)
        return floe_cli_usage_error(a.cmd, a.usage, "unknown subcommand '%s'", a.action);
    if (list && (rc = no_more_args(&a)))
        return rc;
    if (!list && a.nrest == 0)
        return floe_cli_usage_error(a.cmd, a.usage, "%s needs at least one %s", a.action,
                                    add ? "KEY=VALUE" : "KEY");
    if (a.nrest > FLOE_ADMIN_TAGS_PER_CALL)
        return floe_cli_usage_error(a.cmd, a.usage,
                                    "%d tags given; Glacier takes at most %d per call", a.nrest,
                                    FLOE_ADMIN_TAGS_PER_CALL);
    struct floe_tag tags[FLOE_ADMIN_TAGS_PER_CALL];
    char *keys[FLOE_ADMIN_TAGS_PER_CALL] = {0};
    struct floe_error err = {0};
    for (int i = 0; !list && i < a.nrest; i++) {
        const char *eq = strchr(a.rest[i], '=');
        if (add && !eq) {
            rc = floe_cli_usage_error(a.cmd, a.usage, "'%s' is not KEY=VALUE", a.rest[i]);
            goto out;
        }
        keys[i] = add ? strndup(a.rest[i], (size_t)(eq - a.rest[i])) : strdup(a.rest[i]);
        if (!keys[i]) {
            fprintf(stderr, "floe %s: out of memory\n", a.cmd);
            rc = 1;
            goto out;
        }
        tags[i].key = keys[i];
        tags[i].value = add ? eq + 1 : NULL;
        if (floe_admin_check_tag_key(keys[i], &err) ||
            (add && floe_admin_check_tag_value(keys[i], tags[i].value, &err))) {
            rc = floe_cli_usage_error(a.cmd, a.usage, "%s", err.message);
            goto out;
        }
        for (int j = 0; j < i; j++) {
            if (strcmp(keys[i], keys[j]) == 0) {
                rc = floe_cli_usage_error(a.cmd, a.usage, "tag key '%s' is given twice", keys[i]);
                goto out;
            }
        }
    }
    struct floe_client *c = NULL;
    if (floe_cli_client(cli, a.cmd, NULL, &c)) {
        rc = floe_cli_client_status();
        goto out;
    }
    if (add) {
        rc = floe_admin_add_tags(c, a.vault, tags, (size_t)a.nrest, &err);
        if (!rc && cli->json) {
            json_t *m = json_object();
            for (int i = 0; i < a.nrest; i++)
                json_object_set_new(m, tags[i].key, json_string(tags[i].value));
            print_json(json_pack("{s:s, s:o}", "VaultName", a.vault, "Tags", m));
        } else if (!rc && !cli->quiet) {
            printf("added %d tag%s to vault %s\n", a.nrest, a.nrest == 1 ? "" : "s", a.vault);
        }
    } else if (rm) {
        rc = floe_admin_remove_tags(c, a.vault, (const char *const *)keys, (size_t)a.nrest, &err);
        if (!rc && cli->json) {
            json_t *arr = json_array();
            for (int i = 0; i < a.nrest; i++)
                json_array_append_new(arr, json_string(keys[i]));
            print_json(json_pack("{s:s, s:o}", "VaultName", a.vault, "TagKeys", arr));
        } else if (!rc && !cli->quiet) {
            printf("removed %d tag key%s from vault %s\n", a.nrest, a.nrest == 1 ? "" : "s",
                   a.vault);
        }
    } else {
        struct tag_ctx t = {cli, cli->json ? json_object() : NULL, 0};
        rc = floe_admin_list_tags(c, a.vault, on_tag, &t, &err);
        if (!rc && t.tags) {
            print_json(json_pack("{s:o}", "Tags", t.tags));
            t.tags = NULL;
        } else if (!rc && !cli->json && !cli->quiet && t.n == 0) {
            printf("vault %s has no tags\n", a.vault);
        }
        json_decref(t.tags);
    }
    floe_client_destroy(c);
    if (rc)
        rc = floe_cli_fail(a.cmd, &err);
out:
    for (int i = 0; i < FLOE_ADMIN_TAGS_PER_CALL; i++)
        free(keys[i]);
    return rc;
}

int floe_cmd_vault_sub(const struct floe_cli *cli, int argc, char **argv)
{
    const char **pos = calloc((size_t)argc + 1, sizeof(*pos));
    if (!pos) {
        fprintf(stderr, "floe vault: out of memory\n");
        return floe_cli_client_status();
    }
    int rc;
    if (strcmp(argv[1], "policy") == 0)
        rc = cmd_policy(cli, argc, argv, pos);
    else if (strcmp(argv[1], "lock") == 0)
        rc = cmd_lock(cli, argc, argv, pos);
    else
        rc = cmd_tag(cli, argc, argv, pos);
    free(pos);
    return rc;
}
