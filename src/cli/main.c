/*
 * main.c - floe's entry point: global options (aws-cli style, accepted anywhere on the line)
 * and the command table.
 */
#include "cli.h"

#include "argparse.h"
#include "env.h"
#include "log.h"

#include "floe/bwlimit.h"
#include "floe/client.h"
#include "floe/error.h"

#include <stdio.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#define FLOE_VERSION_STRING "0.1.0"

struct command {
    const char *name;
    floe_cli_cmd_fn *fn;
    const char *summary;
};

static const struct command s_commands[] = {
    {"hash", floe_cmd_hash, "print tree hash, SHA-256 and size of files"},
    {"vault", floe_cmd_vault,
     "create, describe, list or delete vaults; their access policy, lock and tags"},
    {"archive", floe_cmd_archive, "delete an archive"},
    {"multipart", floe_cmd_multipart, "list, inspect or abort unfinished multipart uploads"},
    {"upload", floe_cmd_upload, "upload files as archives (multipart, parallel, resumable)"},
    {"backup", floe_cmd_backup, "back up directories incrementally, with a catalog and packs"},
    {"restore", floe_cmd_restore, "restore backed-up files from a vault, verified, resumable"},
    {"catalog", floe_cmd_catalog, "list, count, import into or rebuild a backup catalog"},
    {"check", floe_cmd_check, "compare local files with the backup catalog"},
    {"prune", floe_cmd_prune, "delete backup archives nothing needs any more"},
    {"migrate", floe_cmd_migrate,
     "move a whole vault out to a directory or S3: planned, paced, verified"},
    {"bench", floe_cmd_bench,
     "benchmark transfers (upload, download, small, mixed, jobs), compare runs, hash speed"},
    {"job", floe_cmd_job, "initiate, describe, list, wait for jobs; download job output"},
    {"retrieve", floe_cmd_retrieve, "retrieve an archive: initiate, wait, verified download"},
    {"inventory", floe_cmd_inventory, "list a vault's archives (inventory retrieval)"},
    {"select", floe_cmd_select, "SQL over a CSV archive: a select job, results in S3 (--fetch)"},
    {"notify", floe_cmd_notify, "set, get or delete a vault's notification configuration"},
    {"policy", floe_cmd_policy, "set or get the account's data retrieval policy"},
    {"capacity", floe_cmd_capacity, "purchase or list provisioned capacity units"},
    {"config", floe_cmd_config, "show the credentials in use (credentials [--check])"},
};

static void usage(FILE *f, const char *prog)
{
    fprintf(f,
            "usage: %s [--endpoint-url URL] [--region R] [--profile P] [--account-id ID]\n"
            "          [--json] [--quiet|-q] [--verbose|-v] [--debug] [--log-file FILE]\n"
            "          [--retry-for DURATION] [--max-retries N] [--bwlimit RATE]\n"
            "          [--ca-bundle FILE] [--no-verify-ssl] COMMAND [ARGS]\n"
            "       %s --version\n"
            "defaults: endpoint %s (a local floe-vault) unless AWS_ENDPOINT_URL[_GLACIER] or\n"
            "          the profile names one; region us-east-1; --retry-for 10m (a request is\n"
            "          retried with backoff while it has failed for less; DURATION is 90s,\n"
            "          10m, 2h, or minutes); --max-retries: no limit within --retry-for;\n"
            "          TLS trusts --ca-bundle, else AWS_CA_BUNDLE, else the profile's ca_bundle,\n"
            "          else the system's certificates (--no-verify-ssl: nothing is checked).\n"
            "          --bwlimit off (RATE: 10M = 10 MiB/s, UP:DOWN, or a timetable\n"
            "          \"08:00,10M 18:00,off\"; one limit shared by all the connections).\n"
            "Exit status: 0 success, 1 failure, 2 usage or validation error, 3 some files\n"
            "failed (upload, hash), 130 interrupted. See docs/cli.md.\n\ncommands:\n",
            prog, prog, FLOE_DEFAULT_ENDPOINT);
    for (size_t i = 0; i < sizeof(s_commands) / sizeof(s_commands[0]); i++)
        fprintf(f, "  %-10s %s\n", s_commands[i].name, s_commands[i].summary);
    fprintf(f, "\n'%s COMMAND --help' describes a command.\n", prog);
}

/* Takes a global option's value from "--opt=value" or the next argument. */
static int take_value(int argc, char **argv, int *i, const char *name, const char **out)
{
    size_t n = strlen(name);
    if (argv[*i][n] == '=') {
        *out = argv[*i] + n + 1;
        return 0;
    }
    if (*i + 1 >= argc) {
        fprintf(stderr, "floe: %s needs a value\n", name);
        return -1;
    }
    *out = argv[++*i];
    return 0;
}

static bool opt_is(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && (arg[n] == 0 || arg[n] == '=');
}

/*
 * Freed blocks of up to 32 MiB stay in the process for the next request instead of going back
 * to the kernel. Every request in flight gets send and receive buffers of a few MiB (curl's
 * upload buffer, response bodies); above glibc's initial 128 KiB threshold each is a fresh
 * mmap whose pages fault in on first touch and are unmapped on free: 33,000 page faults and
 * about 20% of a 1 GiB upload's throughput on loopback (docs/performance.md, "floe bench
 * workloads"). glibc raises its threshold by itself after the first large free, which is why a
 * process that had freed one big block (floe bench) did not pay it; set here, every command
 * starts that way. Part and segment buffers come from their own mappings (bufpool) and are
 * not affected. Process-wide, so here and not in libfloe: the program decides.
 */
static void keep_freed_buffers(void)
{
#ifdef __GLIBC__
    (void)mallopt(M_MMAP_THRESHOLD, 32 << 20);
    (void)mallopt(M_TRIM_THRESHOLD, 64 << 20);
#endif
}

int main(int argc, char **argv)
{
    keep_freed_buffers();
    struct floe_cli cli = {.prog = "floe", .max_retries = -1};
    const char *retry_for = NULL, *max_retries = NULL, *bwlimit = NULL;
    char *rest[argc + 1];
    int nrest = 0;
    bool dashdash = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int rc = 0;
        if (dashdash || a[0] != '-' || strcmp(a, "-") == 0) {
            rest[nrest++] = argv[i];
        } else if (strcmp(a, "--") == 0) {
            dashdash = true;
            rest[nrest++] = argv[i];
        } else if (strcmp(a, "--json") == 0) {
            cli.json = true;
        } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            cli.quiet = true;
        } else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
            cli.verbosity = cli.verbosity > 1 ? cli.verbosity : 1;
        } else if (strcmp(a, "--debug") == 0) {
            cli.verbosity = 2;
        } else if (opt_is(a, "--log-file")) {
            rc = take_value(argc, argv, &i, "--log-file", &cli.log_file);
        } else if (opt_is(a, "--retry-for")) {
            rc = take_value(argc, argv, &i, "--retry-for", &retry_for);
        } else if (opt_is(a, "--max-retries")) {
            rc = take_value(argc, argv, &i, "--max-retries", &max_retries);
        } else if (opt_is(a, "--bwlimit")) {
            rc = take_value(argc, argv, &i, "--bwlimit", &bwlimit);
        } else if (opt_is(a, "--endpoint-url")) {
            rc = take_value(argc, argv, &i, "--endpoint-url", &cli.endpoint_url);
        } else if (opt_is(a, "--region")) {
            rc = take_value(argc, argv, &i, "--region", &cli.region);
        } else if (opt_is(a, "--profile")) {
            rc = take_value(argc, argv, &i, "--profile", &cli.profile);
        } else if (opt_is(a, "--ca-bundle")) {
            rc = take_value(argc, argv, &i, "--ca-bundle", &cli.ca_bundle);
        } else if (strcmp(a, "--no-verify-ssl") == 0) {
            cli.no_verify_ssl = true;
        } else if (opt_is(a, "--account-id")) {
            rc = take_value(argc, argv, &i, "--account-id", &cli.account_id);
        } else if (strcmp(a, "--version") == 0) {
            printf("floe %s\n", FLOE_VERSION_STRING);
            return 0;
        } else if (nrest == 0 && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            usage(stdout, cli.prog);
            return 0;
        } else {
            rest[nrest++] = argv[i]; /* a command's own option */
        }
        if (rc)
            return 2;
    }
    rest[nrest] = NULL;
    if (floe_cli_env_check())
        return 2;
    if (retry_for) {
        if (floe_cli_parse_duration("options", "floe [--retry-for DURATION] COMMAND [ARGS]",
                                    "--retry-for", retry_for, &cli.retry_for_ms))
            return 2;
        cli.retry_for_set = true;
    }
    if (max_retries) {
        uint64_t n = 0;
        if (floe_cli_parse_uint("options", "floe [--max-retries N] COMMAND [ARGS]", "--max-retries",
                                max_retries, 1000000, &n))
            return 2;
        cli.max_retries = (int)n;
    }
    if (bwlimit) {
        struct floe_error err = {0};
        if (floe_bwlimit_set(bwlimit, &err)) {
            fprintf(stderr, "floe: %s\nusage: floe [--bwlimit RATE] COMMAND [ARGS]\n", err.message);
            return 2;
        }
    }
    if (floe_cli_log_open(&cli))
        return 2;
    if (nrest == 0) {
        usage(stderr, cli.prog);
        return 2;
    }
    for (size_t i = 0; i < sizeof(s_commands) / sizeof(s_commands[0]); i++)
        if (strcmp(rest[0], s_commands[i].name) == 0)
            return s_commands[i].fn(&cli, nrest, rest);
    fprintf(stderr, "floe: unknown command '%s'\n", rest[0]);
    usage(stderr, cli.prog);
    return 2;
}
