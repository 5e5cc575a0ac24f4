/*
 * cli.h - what every floe command receives: the global options, parsed once by main.c.
 */
#ifndef FLOE_CLI_H
#define FLOE_CLI_H

#include <stdbool.h>
#include <stdint.h>

struct floe_cli {
    bool json;  /* --json: machine-readable output on stdout */
    bool quiet; /* --quiet: no progress, only results and errors */
    const char *endpoint_url;
    const char *region;
    const char *profile;
    const char *account_id;
    const char *prog;      /* argv[0] for messages */
    int verbosity;         /* 0; 1 with -v/--verbose (retries); 2 with --debug (requests) */
    const char *log_file;  /* --log-file: log and progress lines go there (NULL = stderr) */
    uint64_t retry_for_ms; /* --retry-for (0 = not given: the default) */
    bool retry_for_set;    /* --retry-for was given (also waits for an unreached endpoint) */
    int max_retries;       /* --max-retries N; -1 = not given */
    const char *ca_bundle; /* --ca-bundle FILE (NULL = not given) */
    bool no_verify_ssl;    /* --no-verify-ssl */
};

/* A command: argv[0] is the command name; returns the process exit status. */
typedef int floe_cli_cmd_fn(const struct floe_cli *cli, int argc, char **argv);

int floe_cmd_hash(const struct floe_cli *cli, int argc, char **argv);
int floe_cmd_vault(const struct floe_cli *cli, int argc, char **argv);
int floe_cmd_upload(const struct floe_cli *cli, int argc, char **argv);
int floe_cmd_backup(const struct floe_cli *cli, int argc, char **argv);
int floe_cmd_restore(const struct floe_cli *cli, int argc, char **argv);
int floe_cmd_catalog(const struct floe_cli *cli, int argc, char **argv);
int floe_cmd_check(const struct floe_cli *cli, int argc, char **argv);
int floe_cmd_prune(const struct floe_cli *cli, int argc, char **argv);
int floe_cmd_migrate(const struct floe_cli *cli, int argc, char **argv);
int floe_cmd_bench(const struct floe_cli *cli, int argc, char **argv);
int floe_cmd_job(const struct floe_cli *cli, int argc, char **argv);
int floe_cmd_select(const struct floe_cli *cli, int argc, char **argv);
int floe_cmd_retrieve(const struct floe_cli *cli, int argc, char **argv);
int floe_cmd_inventory(const struct floe_cli *cli, int argc, char **argv);
int floe_cmd_notify(const struct floe_cli *cli, int argc, char **argv);
int floe_cmd_archive(const struct floe_cli *cli, int argc, char **argv);
int floe_cmd_multipart(const struct floe_cli *cli, int argc, char **argv);
int floe_cmd_policy(const struct floe_cli *cli, int argc, char **argv);
int floe_cmd_capacity(const struct floe_cli *cli, int argc, char **argv);
int floe_cmd_config(const struct floe_cli *cli, int argc, char **argv);
/* `floe vault policy|lock|tag ...` (cmd_vault_sub.c); argv[0] is "vault". */
int floe_cmd_vault_sub(const struct floe_cli *cli, int argc, char **argv);
/* `floe vault purge VAULT ...` (cmd_purge.c); argv[0] is "purge". */
int floe_cmd_vault_purge(const struct floe_cli *cli, int argc, char **argv);

#endif
