/*
 * cmd_select.c - `floe select VAULT ARCHIVE_ID --sql SQL --output s3://BUCKET/PREFIX`: initiate
 * a select job (SQL over a CSV archive, docs/select.md) whose results the service writes to S3
 * under PREFIX/JOB_ID/; --wait waits for it; --fetch also reads result_manifest.txt and streams
 * every result object, in the manifest's order, to one output (-o FILE, or standard output)
 * through libfloe's S3 client, or prints the error objects when the job failed. --dry-run
 * prints the InitiateJob request and sends nothing (a select job is billed).
 */
#include "argparse.h"
#include "cli.h"
#include "common.h"
#include "awsconfig.h"
#include "env.h"
#include "jobfmt.h"

#include "floe/jobs.h"
#include "floe/s3.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SELECT_USAGE                                                                               \
    "floe select VAULT ARCHIVE_ID --sql SQL --output s3://BUCKET[/PREFIX]\n"                       \
    "            [--header use|ignore|none] [--field-delimiter C] [--record-delimiter C]\n"        \
    "            [--quote-character C] [--quote-escape-character C] [--comments C]\n"              \
    "            [--quote-fields always|asneeded] [--output-field-delimiter C]\n"                  \
    "            [--output-record-delimiter C] [--storage-class CLASS] [--tier TIER]\n"            \
    "            [--description TEXT] [--sns-topic ARN] [--wait] [--timeout SECONDS]\n"            \
    "            [--poll-interval SECONDS] [--fetch [-o FILE|-] [--overwrite]]\n"                  \
    "            [--s3-endpoint-url URL] [--dry-run]\n"                                            \
    "Starts a select job (SQL over a CSV archive; results written by the service to\n"             \
    "s3://BUCKET/PREFIX/JOB_ID/) and prints its id and output path. --wait waits for it;\n"        \
    "--fetch waits, then writes every result object to -o FILE (default standard output)\n"        \
    "or prints the error objects of a failed job. C is one character (or \\t, \\n, \\r).\n"        \
    "Defaults: --header none, the CSV defaults (, \\n \" \"), --quote-fields asneeded,\n"          \
    "--tier Standard, --s3-endpoint-url from AWS_ENDPOINT_URL_S3 else AWS.\n"                      \
    "--dry-run prints the request without sending it (a select job is billed)."

/* A one-character option: the character itself, or \t, \n, \r. */
static int one_char(const char *name, const char *v, char out[2])
{
    if (!v)
        return 0;
    if (strcmp(v, "\\t") == 0)
        v = "\t";
    else if (strcmp(v, "\\n") == 0)
        v = "\n";
    else if (strcmp(v, "\\r") == 0)
        v = "\r";
    if (strlen(v) != 1 || (v[0] & 0x80))
        return floe_cli_usage_error("select", SELECT_USAGE,
                                    "%s wants one ASCII character (or \\t, \\n, \\r), got \"%s\"",
                                    name, v);
    out[0] = v[0];
    out[1] = 0;
    return 0;
}

struct select_args {
    const char *sql, *output, *header, *fd, *rd, *qc, *qe, *cm, *qf, *ofd, *ord, *sc, *tier, *desc,
        *sns, *out, *timeout, *poll, *s3url;
    bool wait, fetch, overwrite, dry_run;
};

/* SelectParameters and OutputLocation from the flags; 0 or a usage error (2). */
static int build_params(struct select_args *a, json_t **sp_out, json_t **ol_out, char **bucket,
                        char **prefix)
{
    char fd[2] = "", rd[2] = "", qc[2] = "", qe[2] = "", cm[2] = "", ofd[2] = "", ord[2] = "";
    if (one_char("--field-delimiter", a->fd, fd) || one_char("--record-delimiter", a->rd, rd) ||
        one_char("--quote-character", a->qc, qc) ||
        one_char("--quote-escape-character", a->qe, qe) || one_char("--comments", a->cm, cm) ||
        one_char("--output-field-delimiter", a->ofd, ofd) ||
        one_char("--output-record-delimiter", a->ord, ord))
        return 2;
    const char *hdr = "NONE";
    if (a->header) {
        if (strcasecmp(a->header, "use") == 0)
            hdr = "USE";
        else if (strcasecmp(a->header, "ignore") == 0)
            hdr = "IGNORE";
        else if (strcasecmp(a->header, "none") != 0)
            return floe_cli_usage_error("select", SELECT_USAGE,
                                        "--header wants use, ignore or none, got \"%s\"",
                                        a->header);
    }
    const char *qf = "ASNEEDED";
    if (a->qf) {
        if (strcasecmp(a->qf, "always") == 0)
            qf = "ALWAYS";
        else if (strcasecmp(a->qf, "asneeded") != 0)
            return floe_cli_usage_error("select", SELECT_USAGE,
                                        "--quote-fields wants always or asneeded, got \"%s\"",
                                        a->qf);
    }
    if (strncmp(a->output, "s3://", 5) != 0 || !a->output[5] || a->output[5] == '/')
        return floe_cli_usage_error("select", SELECT_USAGE,
                                    "--output wants s3://BUCKET[/PREFIX], got \"%s\"", a->output);
    const char *b = a->output + 5, *slash = strchr(b, '/');
    *bucket = slash ? strndup(b, (size_t)(slash - b)) : strdup(b);
    *prefix = strdup(slash ? slash + 1 : "");
    size_t pl = strlen(*prefix);
    if (pl && (*prefix)[pl - 1] == '/')
        (*prefix)[pl - 1] = 0; /* the service adds "/JOB_ID/" */
    json_t *in = json_pack("{s:s}", "FileHeaderInfo", hdr);
    json_t *out = json_pack("{s:s}", "QuoteFields", qf);
    struct {
        json_t *o;
        const char *k, *v;
    } chars[] = {{in, "FieldDelimiter", fd},
                 {in, "RecordDelimiter", rd},
                 {in, "QuoteCharacter", qc},
                 {in, "QuoteEscapeCharacter", qe},
                 {in, "Comments", cm},
                 {out, "FieldDelimiter", ofd},
                 {out, "RecordDelimiter", ord},
                 {out, "QuoteCharacter", qc},
                 {out, "QuoteEscapeCharacter", qe}};
    for (size_t i = 0; i < sizeof(chars) / sizeof(chars[0]); i++)
        if (chars[i].v[0])
            json_object_set_new(chars[i].o, chars[i].k, json_string(chars[i].v));
    *sp_out = json_pack("{s:s, s:s, s:{s:o}, s:{s:o}}", "Expression", a->sql, "ExpressionType",
                        "SQL", "InputSerialization", "csv", in, "OutputSerialization", "csv", out);
    json_t *s3 = json_pack("{s:s, s:s}", "BucketName", *bucket, "Prefix", *prefix);
    if (a->sc)
        json_object_set_new(s3, "StorageClass", json_string(a->sc));
    *ol_out = json_pack("{s:o}", "S3", s3);
    return 0;
}

static void on_wait(const struct floe_job_info *j, double waited, void *user)
{
    const struct floe_cli *cli = user;
    if (cli->quiet || cli->json || !j->completed)
        return;
    fprintf(stderr, "floe select: job %s %s after %.0f s\n", j->job_id, j->status_code, waited);
}

/* ---- fetching from S3 ---- */

/* Writes an object's body to one FILE in order; a retried GET starts again at offset 0, so
 * the bytes already written are skipped. */
struct sink {
    FILE *f;
    uint64_t written; /* of the current object */
    uint64_t total;
    int error; /* errno of a failed write */
};

static int sink_write(void *user, uint64_t offset, const void *data, size_t n)
{
    struct sink *s = user;
    if (offset + n <= s->written)
        return 0;
    size_t skip = offset < s->written ? (size_t)(s->written - offset) : 0;
    if (fwrite((const char *)data + skip, 1, n - skip, s->f) != n - skip) {
        s->error = errno ? errno : EIO;
        return 1;
    }
    s->written += n - skip;
    s->total += n - skip;
    return 0;
}

/* An object into memory (a manifest, an error object); NUL-terminated, malloc'd. */
struct membuf {
    char *p;
    size_t len, cap;
};

static int mem_write(void *user, uint64_t offset, const void *data, size_t n)
{
    struct membuf *m = user;
    if (offset + n + 1 > m->cap) {
        m->cap = (size_t)(offset + n) * 2 + 1;
        char *p = realloc(m->p, m->cap);
        if (!p)
            return 1;
        m->p = p;
    }
    memcpy(m->p + offset, data, n);
    m->len = (size_t)(offset + n);
    m->p[m->len] = 0;
    return 0;
}

static int get_text(struct floe_s3 *s3, const char *bucket, const char *key, char **out,
                    struct floe_error *err)
{
    struct membuf m = {0};
    int rc = floe_s3_get_object(s3, bucket, key, 0, 0, mem_write, &m, NULL, err);
    if (rc || !m.p) {
        free(m.p);
        m.p = rc ? NULL : strdup("");
    }
    *out = m.p;
    return rc;
}

/* The manifest's keys, one a line, each fed to fn. */
static int each_key(char *manifest, int (*fn)(const char *key, void *user), void *user)
{
    for (char *line = manifest; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        size_t n = strlen(line);
        if (n && line[n - 1] == '\r')
            line[n - 1] = 0;
        int rc = *line ? fn(line, user) : 0;
        if (rc)
            return rc;
        line = nl ? nl + 1 : NULL;
    }
    return 0;
}

struct fetch {
    struct floe_s3 *s3;
    const char *bucket;
    struct sink sink;
    unsigned objects;
    struct floe_error *err;
    const struct floe_cli *cli;
};

static int fetch_result(const char *key, void *user)
{
    struct fetch *f = user;
    f->sink.written = 0;
    int rc = floe_s3_get_object(f->s3, f->bucket, key, 0, 0, sink_write, &f->sink, NULL, f->err);
    if (rc == FLOE_E_CANCELLED && f->sink.error)
        rc = floe_error_set_errno(f->err, FLOE_E_IO, f->sink.error, NULL,
                                  "cannot write the results of s3://%s/%s", f->bucket, key);
    f->objects += !rc;
    return rc;
}

static int print_error_object(const char *key, void *user)
{
    struct fetch *f = user;
    char *text = NULL;
    int rc = get_text(f->s3, f->bucket, key, &text, f->err);
    if (!rc) {
        size_t n = strlen(text);
        while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
            text[--n] = 0;
        if (f->cli->json)
            floe_cli_json_print(stdout,
                                json_pack("{s:s, s:s}", "error_object", key, "message", text));
        else
            fprintf(stderr, "floe select: s3://%s/%s: %s\n", f->bucket, key, text);
    }
    free(text);
    return rc;
}

/* The S3 client of --fetch: its own transfer (so an S3 endpoint that cannot be reached is
 * given up on in seconds, whatever the Glacier endpoint does), the same credentials chain,
 * region, retry and TLS options as the Glacier client. Made before that one starts threads. */
static int s3_client(const struct floe_cli *cli, const char *url, struct floe_s3 **out,
                     struct floe_error *err)
{
    if (!url) {
        const char *env = getenv("AWS_ENDPOINT_URL_S3"); /* as the aws CLI resolves it */
        url = env && env[0] ? env : NULL;
    }
    struct floe_awsconfig ac;
    int rc = floe_awsconfig_resolve(cli, &ac, err);
    if (rc)
        return rc;
    struct floe_credentials *creds = NULL;
    rc = floe_cli_credentials(cli, &ac, true, &creds, err);
    if (!rc) {
        struct floe_s3_config sc = {
            .endpoint_url = url,
            .region = ac.region,
            .credentials = creds, /* taken over */
            .max_retries = cli->max_retries >= 0 ? (cli->max_retries ? cli->max_retries : -1) : 0,
            .retry_for_ms = cli->retry_for_set ? cli->retry_for_ms : 0,
            .wait_for_endpoint = cli->retry_for_set,
            .retry_base_ms = (uint32_t)floe_cli_env_uint("FLOE_RETRY_BASE_MS"),
            .ca_bundle = ac.ca_bundle,
            .no_verify_ssl = cli->no_verify_ssl,
        };
        if (cli->retry_for_set && cli->retry_for_ms == 0)
            sc.max_retries = -1;
        rc = floe_s3_new(&sc, out, err);
    }
    floe_awsconfig_free(&ac);
    return rc;
}

static int fetch(const struct floe_cli *cli, struct floe_s3 *s3, struct select_args *a,
                 const char *bucket, const struct floe_job_info *job, struct floe_error *err)
{
    int rc = 0;
    bool ok = strcmp(job->status_code, "Succeeded") == 0;
    char key[1400];
    snprintf(key, sizeof(key), "%s%s", job->job_output_path,
             ok ? "result_manifest.txt" : "error_manifest.txt");
    char *manifest = NULL;
    struct fetch f = {.s3 = s3, .bucket = bucket, .err = err, .cli = cli};
    rc = get_text(s3, bucket, key, &manifest, err);
    if (!rc && ok) {
        bool to_stdout = !a->out || strcmp(a->out, "-") == 0;
        f.sink.f = to_stdout ? stdout : fopen(a->out, "wb");
        if (!f.sink.f)
            rc = floe_error_set_errno(err, FLOE_E_IO, errno, a->out, "cannot create %s", a->out);
        if (!rc)
            rc = each_key(manifest, fetch_result, &f);
        if (f.sink.f && !to_stdout && fclose(f.sink.f) != 0 && !rc)
            rc = floe_error_set_errno(err, FLOE_E_IO, errno, a->out, "cannot write %s", a->out);
        if (to_stdout && fflush(stdout) != 0 && !rc)
            rc = floe_error_set_errno(err, FLOE_E_IO, errno, NULL, "cannot write standard output");
        if (!rc && !cli->quiet) {
            if (cli->json && !to_stdout)
                floe_cli_json_print(stdout, json_pack("{s:s, s:s, s:i, s:I}", "JobId", job->job_id,
                                                      "output", a->out, "objects", (int)f.objects,
                                                      "bytes", (json_int_t)f.sink.total));
            else if (!cli->json)
                fprintf(stderr, "floe select: %u result object(s), %llu bytes to %s\n", f.objects,
                        (unsigned long long)f.sink.total, to_stdout ? "standard output" : a->out);
        }
    } else if (!rc) {
        rc = each_key(manifest, print_error_object, &f);
    }
    free(manifest);
    return rc;
}

int floe_cmd_select(const struct floe_cli *cli, int argc, char **argv)
{
    struct select_args a = {0};
    const struct floe_cli_opt opts[] = {
        {"--sql", NULL, &a.sql, NULL},
        {"--output", NULL, &a.output, NULL},
        {"--header", NULL, &a.header, NULL},
        {"--field-delimiter", NULL, &a.fd, NULL},
        {"--record-delimiter", NULL, &a.rd, NULL},
        {"--quote-character", NULL, &a.qc, NULL},
        {"--quote-escape-character", NULL, &a.qe, NULL},
        {"--comments", NULL, &a.cm, NULL},
        {"--quote-fields", NULL, &a.qf, NULL},
        {"--output-field-delimiter", NULL, &a.ofd, NULL},
        {"--output-record-delimiter", NULL, &a.ord, NULL},
        {"--storage-class", NULL, &a.sc, NULL},
        {"--tier", NULL, &a.tier, NULL},
        {"--description", NULL, &a.desc, NULL},
        {"--sns-topic", NULL, &a.sns, NULL},
        {"--timeout", NULL, &a.timeout, NULL},
        {"--poll-interval", NULL, &a.poll, NULL},
        {"--s3-endpoint-url", NULL, &a.s3url, NULL},
        {"--output-file", "-o", &a.out, NULL},
        {"--wait", NULL, NULL, &a.wait},
        {"--fetch", NULL, NULL, &a.fetch},
        {"--overwrite", NULL, NULL, &a.overwrite},
        {"--dry-run", NULL, NULL, &a.dry_run},
        {NULL, NULL, NULL, NULL},
    };
    const char *pos[2];
    int npos = 0;
    int rc = floe_cli_parse("select", SELECT_USAGE, argc, argv, 1, opts, pos, 2, &npos);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (npos < 2)
        return floe_cli_usage_error("select", SELECT_USAGE, "missing VAULT or ARCHIVE_ID");
    if (!a.sql || !a.output)
        return floe_cli_usage_error("select", SELECT_USAGE, "--sql and --output are required");
    if (a.out && !a.fetch)
        return floe_cli_usage_error("select", SELECT_USAGE, "-o goes with --fetch");
    if (a.out && floe_cli_check_output(cli, "select", SELECT_USAGE, a.out, a.overwrite, NULL))
        return 2;
    uint64_t t = 0, p = 0;
    if ((a.timeout && floe_cli_parse_seconds("select", SELECT_USAGE, "--timeout", a.timeout, &t)) ||
        (a.poll && floe_cli_parse_seconds("select", SELECT_USAGE, "--poll-interval", a.poll, &p)))
        return 2;
    json_t *sp = NULL, *ol = NULL;
    char *bucket = NULL, *prefix = NULL;
    if ((rc = build_params(&a, &sp, &ol, &bucket, &prefix))) {
        free(bucket);
        free(prefix);
        return rc;
    }
    char *sp_text = json_dumps(sp, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *ol_text = json_dumps(ol, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(sp);
    json_decref(ol);
    struct floe_job_select_params params = {.archive_id = pos[1],
                                            .select_parameters_json = sp_text,
                                            .output_location_json = ol_text,
                                            .tier = a.tier,
                                            .sns_topic = a.sns,
                                            .description = a.desc};
    struct floe_error err = {0};
    struct floe_client *c = NULL;
    struct floe_s3 *s3 = NULL;
    struct floe_job_info *job = calloc(1, sizeof(*job));
    char id[FLOE_JOB_ID_MAX] = "";
    int status = 0;
    if (a.dry_run) {
        char *body = floe_job_select_body(&params, &err);
        if (!body) {
            status = floe_cli_fail("select", &err);
        } else if (cli->json) {
            floe_cli_json_print(stdout, json_pack("{s:b, s:s, s:s, s:o}", "dry_run", 1, "vault",
                                                  pos[0], "operation", "InitiateJob", "body",
                                                  json_loads(body, 0, NULL)));
        } else {
            printf("dry run: InitiateJob on vault %s (nothing sent):\n%s\n", pos[0], body);
        }
        free(body);
        goto out;
    }
    if (a.fetch && (rc = s3_client(cli, a.s3url, &s3, &err))) {
        status = floe_cli_fail("select", &err);
        goto out;
    }
    if (floe_cli_client(cli, "select", NULL, &c)) {
        status = floe_cli_client_status();
        goto out;
    }
    rc = floe_job_initiate_select(c, pos[0], &params, id, &err);
    if (!rc)
        rc = floe_job_describe(c, pos[0], id, job, &err);
    if (rc) {
        status = floe_cli_fail("select", &err);
        goto out;
    }
    if (!a.wait && !a.fetch) {
        if (cli->json)
            floe_cli_json_print(stdout, json_pack("{s:s, s:s, s:s}", "JobId", id, "JobOutputPath",
                                                  job->job_output_path, "Bucket", bucket));
        else
            printf("%s  s3://%s/%s\n", id, bucket, job->job_output_path);
        goto out;
    }
    if (!cli->quiet && !cli->json)
        fprintf(stderr, "floe select: job %s initiated; output s3://%s/%s\n", id, bucket,
                job->job_output_path);
    struct floe_job_wait_options wo = {
        .first_interval_ms = floe_cli_interval_ms(p),
        .max_interval_ms = p ? (uint32_t)(p * 8 > 900000 ? 900000 : p * 8) : 0,
        .timeout_ms = a.timeout && t == 0 ? 1 : t,
        .cancel = floe_cli_cancel_on_sigint(),
        .progress = on_wait,
        .progress_user = (void *)cli,
    };
    rc = floe_job_wait(c, pos[0], id, &wo, job, &err);
    if (rc == FLOE_E_SERVICE && strcmp(err.code, "JobFailed") == 0) {
        struct floe_error err2 = {0}; /* the failed job's description, for its error objects */
        if (floe_job_describe(c, pos[0], id, job, &err2) == FLOE_OK)
            rc = FLOE_OK;
    }
    if (rc == FLOE_E_CANCELLED) {
        char again[1400];
        snprintf(again, sizeof(again), "floe job wait %s %s (the job keeps running)", pos[0], id);
        status = floe_cli_interrupted("select", &err, again);
        goto out;
    }
    if (rc) {
        status = floe_cli_fail("select", &err);
        goto out;
    }
    bool ok = strcmp(job->status_code, "Succeeded") == 0;
    if (!a.fetch || !ok || cli->json)
        if (!(a.fetch && ok && (!a.out || strcmp(a.out, "-") == 0)))
            floe_cli_print_job(cli, job, true);
    if (a.fetch && (rc = fetch(cli, s3, &a, bucket, job, &err))) {
        status = floe_cli_fail("select", &err);
        goto out;
    }
    if (!ok) {
        fprintf(stderr, "floe select: job %s %s: %s\n", id, job->status_code, job->status_message);
        status = 1;
    }
out:
    floe_client_destroy(c);
    floe_s3_destroy(s3);
    free(job);
    free(sp_text);
    free(ol_text);
    free(bucket);
    free(prefix);
    return status;
}
