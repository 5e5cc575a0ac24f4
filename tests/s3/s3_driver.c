/*
 * s3_driver.c - a test driver for libfloe's S3 client (floe/s3.h, floe/s3part.h): one
 * operation per run, its result as one JSON object per line on stdout, a failure as one JSON
 * object on stderr ({"status", "code", "http", "request_id", "message"}) and exit status 1.
 * tests/integration/test_s3.py drives it against moto's server. Not installed; the floe
 * command has no S3 debugging surface.
 *
 * usage: s3_driver ENDPOINT COMMAND ARGS...   (credentials and region from AWS_ACCESS_KEY_ID,
 *        AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION; FLOE_S3_ADDRESSING=path|virtual)
 *   head-bucket B | create-bucket B | delete-bucket B
 *   put B K FILE [OPTS]            OPTS: --storage-class C --meta N=V --tag K=V --sha256
 *                                        --content-type T
 *   head B K | delete B K
 *   get B K OUT [FIRST LEN]        (LEN 0: to the end)
 *   list B [--prefix P] [--delimiter D] [--max-keys N] [--start-after K] [--max-pages N]
 *   mpu B K FILE PART_SIZE [OPTS] [--stream] [--no-complete]
 *                                  parts submitted together (asynchronously) from memory, or
 *                                  read by callback (--stream), then completed
 *   mpu-create B K [OPTS] | mpu-part B K ID N FILE [--last] | mpu-abort B K ID
 *   mpu-complete B K ID N:ETAG[:SHA256]... | list-parts B K ID [MAX] | list-uploads B [PREFIX]
 * [MAX] part-size OBJECT_BYTES PREFERRED
 */
#include "floe/s3.h"
#include "floe/s3part.h"

#include <jansson.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const struct floe_error *e)
{
    json_t *o = json_pack("{s:i, s:s, s:i, s:s, s:s}", "status", e->status, "code", e->code, "http",
                          e->http_status, "request_id", e->request_id, "message", e->message);
    char *s = json_dumps(o, JSON_COMPACT);
    fprintf(stderr, "%s\n", s);
    free(s);
    json_decref(o);
    return 1;
}

static void emit(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    printf("%s\n", s);
    free(s);
    json_decref(o);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(n > 0 ? (size_t)n : 1);
    if (!p || (n > 0 && fread(p, 1, (size_t)n, f) != (size_t)n)) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    fclose(f);
    *len = (size_t)n;
    return p;
}

/* Put options from argv[i..]; returns the first argument it does not know. */
struct popts {
    struct floe_s3_put_opts o;
    struct floe_s3_meta meta[16];
    struct floe_s3_tag tags[16];
    bool stream, no_complete, last;
};

static char *split_eq(char *s)
{
    char *eq = strchr(s, '=');
    if (!eq) {
        fprintf(stderr, "expected NAME=VALUE: %s\n", s);
        exit(2);
    }
    *eq = 0;
    return eq + 1;
}

static void parse_popts(int argc, char **argv, int i, struct popts *p)
{
    memset(p, 0, sizeof(*p));
    p->o.meta = p->meta;
    p->o.tags = p->tags;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--storage-class") == 0 && i + 1 < argc) {
            p->o.storage_class = argv[++i];
        } else if (strcmp(argv[i], "--content-type") == 0 && i + 1 < argc) {
            p->o.content_type = argv[++i];
        } else if (strcmp(argv[i], "--meta") == 0 && i + 1 < argc && p->o.nmeta < 16) {
            p->meta[p->o.nmeta].name = argv[++i];
            p->meta[p->o.nmeta++].value = split_eq(argv[i]);
        } else if (strcmp(argv[i], "--tag") == 0 && i + 1 < argc && p->o.ntags < 16) {
            p->tags[p->o.ntags].key = argv[++i];
            p->tags[p->o.ntags++].value = split_eq(argv[i]);
        } else if (strcmp(argv[i], "--sha256") == 0) {
            p->o.checksum_sha256 = true;
        } else if (strcmp(argv[i], "--stream") == 0) {
            p->stream = true;
        } else if (strcmp(argv[i], "--no-complete") == 0) {
            p->no_complete = true;
        } else if (strcmp(argv[i], "--last") == 0) {
            p->last = true;
        } else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            exit(2);
        }
    }
}

static json_t *info_json(const struct floe_s3_object_info *in)
{
    json_t *meta = json_object();
    for (size_t i = 0; i < in->nmeta; i++)
        json_object_set_new(meta, in->meta[i].name, json_string(in->meta[i].value));
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:o, s:I, s:I}", "size", (json_int_t)in->size,
                     "etag", in->etag, "storage_class", in->storage_class, "content_type",
                     in->content_type, "checksum_sha256", in->checksum_sha256, "meta", meta,
                     "range_first", (json_int_t)in->range_first, "range_len",
                     (json_int_t)in->range_len);
}

static int write_file(void *user, uint64_t offset, const void *data, size_t n)
{
    FILE *f = user;
    if (fseek(f, (long)offset, SEEK_SET) != 0 || fwrite(data, 1, n, f) != n)
        return 1;
    return 0;
}

static int on_object(const struct floe_s3_object_entry *o, void *user)
{
    (void)user;
    emit(json_pack("{s:s, s:b, s:I, s:s, s:s}", "key", o->key, "prefix", o->is_prefix, "size",
                   (json_int_t)o->size, "etag", o->etag, "storage_class", o->storage_class));
    return 0;
}

static int on_part(const struct floe_s3_part_entry *p, void *user)
{
    (void)user;
    emit(json_pack("{s:i, s:I, s:s, s:s}", "part", (int)p->part_number, "size", (json_int_t)p->size,
                   "etag", p->etag, "checksum_sha256", p->checksum_sha256));
    return 0;
}

static int on_upload(const struct floe_s3_upload_entry *u, void *user)
{
    (void)user;
    emit(json_pack("{s:s, s:s, s:s}", "key", u->key, "upload_id", u->upload_id, "storage_class",
                   u->storage_class));
    return 0;
}

/* ---- mpu: every part submitted at once, completion counted under a lock ---- */

struct mpu {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t left;
    const uint8_t *data;
};

static void part_done(struct floe_s3_part *p)
{
    struct mpu *m = p->user;
    pthread_mutex_lock(&m->mu);
    m->left--;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

/* The streamed body: the part's bytes from the whole file in memory (as a retrieval would feed
 * them from its chunk ring). */
static size_t part_read(void *user, uint64_t offset, uint8_t *dst, size_t n)
{
    const uint8_t *base = user;
    memcpy(dst, base + offset, n);
    return n;
}

/* Uploads FILE in parts of part_size, all in flight together; fills parts[] in order. */
static int mpu_parts(struct floe_s3 *s3, const char *b, const char *k, const char *id,
                     const uint8_t *data, size_t len, uint64_t part_size, bool stream,
                     struct floe_s3_part *parts, size_t n, struct floe_error *err)
{
    struct mpu m = {.left = 0, .data = data};
    pthread_mutex_init(&m.mu, NULL);
    pthread_cond_init(&m.cv, NULL);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        struct floe_s3_part *p = &parts[i];
        uint64_t off = i * part_size;
        p->bucket = b;
        p->key = k;
        p->upload_id = id;
        p->part_number = (uint32_t)(i + 1);
        p->len = off + part_size <= len ? part_size : len - off;
        p->last = i + 1 == n;
        if (stream) {
            p->read = part_read;
            p->read_user = (void *)(data + off);
        } else {
            p->data = data + off;
        }
        SHA256(data + off, (size_t)p->len, p->sha256);
        p->done = part_done;
        p->user = &m;
        pthread_mutex_lock(&m.mu);
        m.left++;
        pthread_mutex_unlock(&m.mu);
        rc = floe_s3_upload_part_submit(s3, p, err);
        if (rc) {
            pthread_mutex_lock(&m.mu);
            m.left--;
            pthread_mutex_unlock(&m.mu);
            break;
        }
    }
    pthread_mutex_lock(&m.mu);
    while (m.left)
        pthread_cond_wait(&m.cv, &m.mu);
    pthread_mutex_unlock(&m.mu);
    for (size_t i = 0; !rc && i < n; i++)
        if (parts[i].status) {
            *err = parts[i].err;
            rc = parts[i].status;
        }
    pthread_cond_destroy(&m.cv);
    pthread_mutex_destroy(&m.mu);
    return rc;
}

static int cmd_mpu(struct floe_s3 *s3, int argc, char **argv, struct floe_error *err)
{
    if (argc < 4)
        return 2;
    const char *b = argv[0], *k = argv[1];
    size_t len;
    uint8_t *data = slurp(argv[2], &len);
    uint64_t part_size = strtoull(argv[3], NULL, 10);
    struct popts po;
    parse_popts(argc, argv, 4, &po);
    size_t n = len ? (len + part_size - 1) / part_size : 1;
    struct floe_s3_part *parts = calloc(n, sizeof(*parts));
    struct floe_s3_completed_part *done = calloc(n, sizeof(*done));
    char id[FLOE_S3_UPLOAD_ID_MAX];
    int rc = floe_s3_create_multipart(s3, b, k, &po.o, id, err);
    if (!rc)
        rc = mpu_parts(s3, b, k, id, data, len, part_size, po.stream, parts, n, err);
    for (size_t i = 0; !rc && i < n; i++) {
        done[i].part_number = parts[i].part_number;
        done[i].etag = parts[i].etag;
        done[i].checksum_sha256 = po.o.checksum_sha256 ? parts[i].checksum_sha256 : NULL;
    }
    struct floe_s3_put_result res = {0};
    if (!rc && !po.no_complete)
        rc = floe_s3_complete_multipart(s3, b, k, id, done, n, &res, err);
    if (!rc)
        emit(json_pack("{s:s, s:I, s:s, s:s}", "upload_id", id, "parts", (json_int_t)n, "etag",
                       res.etag, "checksum_sha256", res.checksum_sha256));
    free(parts);
    free(done);
    free(data);
    return rc ? 1 : 0;
}

static int cmd_put(struct floe_s3 *s3, int argc, char **argv, struct floe_error *err)
{
    if (argc < 3)
        return 2;
    size_t len;
    uint8_t *data = slurp(argv[2], &len);
    struct popts po;
    parse_popts(argc, argv, 3, &po);
    struct floe_s3_put_result res;
    int rc = floe_s3_put_object(s3, argv[0], argv[1], data, len, &po.o, &res, err);
    if (!rc)
        emit(json_pack("{s:s, s:s}", "etag", res.etag, "checksum_sha256", res.checksum_sha256));
    free(data);
    return rc ? 1 : 0;
}

static int cmd_get(struct floe_s3 *s3, int argc, char **argv, struct floe_error *err)
{
    if (argc < 3)
        return 2;
    uint64_t first = argc > 3 ? strtoull(argv[3], NULL, 10) : 0;
    uint64_t len = argc > 4 ? strtoull(argv[4], NULL, 10) : 0;
    FILE *f = fopen(argv[2], "wb");
    if (!f) {
        perror(argv[2]);
        return 2;
    }
    struct floe_s3_object_info info = {0};
    int rc = floe_s3_get_object(s3, argv[0], argv[1], first, len, write_file, f, &info, err);
    fclose(f);
    if (!rc)
        emit(info_json(&info));
    floe_s3_object_info_cleanup(&info);
    return rc ? 1 : 0;
}

static int cmd_list(struct floe_s3 *s3, int argc, char **argv, struct floe_error *err)
{
    if (argc < 1)
        return 2;
    struct floe_s3_list_opts o = {0};
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--prefix") == 0)
            o.prefix = argv[i + 1];
        else if (strcmp(argv[i], "--delimiter") == 0)
            o.delimiter = argv[i + 1];
        else if (strcmp(argv[i], "--start-after") == 0)
            o.start_after = argv[i + 1];
        else if (strcmp(argv[i], "--max-keys") == 0)
            o.max_keys = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--max-pages") == 0)
            o.max_pages = (unsigned)strtoul(argv[i + 1], NULL, 10);
    }
    unsigned pages = 0;
    int rc = floe_s3_list_objects(s3, argv[0], &o, on_object, NULL, &pages, err);
    if (!rc)
        emit(json_pack("{s:i}", "pages", (int)pages));
    return rc ? 1 : 0;
}

static int cmd_mpu_step(struct floe_s3 *s3, const char *cmd, int argc, char **argv,
                        struct floe_error *err)
{
    int rc = 2;
    if (strcmp(cmd, "mpu-create") == 0 && argc >= 2) {
        struct popts po;
        parse_popts(argc, argv, 2, &po);
        char id[FLOE_S3_UPLOAD_ID_MAX];
        rc = floe_s3_create_multipart(s3, argv[0], argv[1], &po.o, id, err);
        if (!rc)
            emit(json_pack("{s:s}", "upload_id", id));
    } else if (strcmp(cmd, "mpu-part") == 0 && argc >= 5) {
        struct popts po;
        parse_popts(argc, argv, 5, &po);
        size_t len;
        uint8_t *data = slurp(argv[4], &len);
        struct floe_s3_part p = {.bucket = argv[0],
                                 .key = argv[1],
                                 .upload_id = argv[2],
                                 .part_number = (uint32_t)strtoul(argv[3], NULL, 10),
                                 .len = len,
                                 .data = data,
                                 .last = po.last};
        SHA256(data, len, p.sha256);
        rc = floe_s3_upload_part(s3, &p, err);
        if (!rc)
            emit(json_pack("{s:s, s:s}", "etag", p.etag, "checksum_sha256", p.checksum_sha256));
        free(data);
    } else if (strcmp(cmd, "mpu-abort") == 0 && argc >= 3) {
        rc = floe_s3_abort_multipart(s3, argv[0], argv[1], argv[2], err);
    } else if (strcmp(cmd, "mpu-complete") == 0 && argc >= 3) {
        size_t n = (size_t)(argc - 3);
        struct floe_s3_completed_part *parts = calloc(n ? n : 1, sizeof(*parts));
        for (size_t i = 0; i < n; i++) {
            char *s = argv[3 + i], *c1 = strchr(s, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
            parts[i].part_number = (uint32_t)strtoul(s, NULL, 10);
            parts[i].etag = c1 ? c1 + 1 : "";
            if (c2) {
                *c2 = 0;
                parts[i].checksum_sha256 = c2 + 1;
            }
        }
        struct floe_s3_put_result res;
        rc = floe_s3_complete_multipart(s3, argv[0], argv[1], argv[2], parts, n, &res, err);
        if (!rc)
            emit(json_pack("{s:s}", "etag", res.etag));
        free(parts);
    } else if (strcmp(cmd, "list-parts") == 0 && argc >= 3) {
        unsigned max = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 0;
        rc = floe_s3_list_parts(s3, argv[0], argv[1], argv[2], max, on_part, NULL, err);
    } else if (strcmp(cmd, "list-uploads") == 0 && argc >= 1) {
        unsigned max = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 0;
        rc = floe_s3_list_multipart_uploads(s3, argv[0], argc > 1 ? argv[1] : NULL, max, on_upload,
                                            NULL, err);
    } else {
        return 2;
    }
    return rc ? 1 : 0;
}

static int run(struct floe_s3 *s3, const char *cmd, int argc, char **argv, struct floe_error *err)
{
    int rc;
    if (strcmp(cmd, "head-bucket") == 0 && argc >= 1)
        rc = floe_s3_head_bucket(s3, argv[0], err);
    else if (strcmp(cmd, "create-bucket") == 0 && argc >= 1)
        rc = floe_s3_create_bucket(s3, argv[0], err);
    else if (strcmp(cmd, "delete-bucket") == 0 && argc >= 1)
        rc = floe_s3_delete_bucket(s3, argv[0], err);
    else if (strcmp(cmd, "delete") == 0 && argc >= 2)
        rc = floe_s3_delete_object(s3, argv[0], argv[1], err);
    else if (strcmp(cmd, "head") == 0 && argc >= 2) {
        struct floe_s3_object_info info = {0};
        rc = floe_s3_head_object(s3, argv[0], argv[1], &info, err);
        if (!rc)
            emit(info_json(&info));
        floe_s3_object_info_cleanup(&info);
    } else if (strcmp(cmd, "put") == 0)
        return cmd_put(s3, argc, argv, err);
    else if (strcmp(cmd, "get") == 0)
        return cmd_get(s3, argc, argv, err);
    else if (strcmp(cmd, "list") == 0)
        return cmd_list(s3, argc, argv, err);
    else if (strcmp(cmd, "mpu") == 0)
        return cmd_mpu(s3, argc, argv, err);
    else
        return cmd_mpu_step(s3, cmd, argc, argv, err);
    if (!rc)
        emit(json_pack("{s:b}", "ok", 1));
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    struct floe_error err = {0};
    if (argc >= 4 && strcmp(argv[1], "-") == 0 && strcmp(argv[2], "part-size") == 0) {
        uint64_t out;
        int rc = floe_s3_part_size_for(strtoull(argv[3], NULL, 10),
                                       argc > 4 ? strtoull(argv[4], NULL, 10) : 0, &out, &err);
        if (rc)
            return fail(&err);
        emit(json_pack("{s:I}", "part_size", (json_int_t)out));
        return 0;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: s3_driver ENDPOINT COMMAND ARGS... (see the source)\n");
        return 2;
    }
    const char *mode = getenv("FLOE_S3_ADDRESSING");
    struct floe_s3_config cfg = {
        .endpoint_url = strcmp(argv[1], "-") == 0 ? NULL : argv[1],
        .region = getenv("AWS_DEFAULT_REGION"),
        .access_key_id = getenv("AWS_ACCESS_KEY_ID"),
        .secret_access_key = getenv("AWS_SECRET_ACCESS_KEY"),
        .addressing = mode && strcmp(mode, "virtual") == 0 ? FLOE_S3_ADDRESSING_VIRTUAL
                      : mode && strcmp(mode, "path") == 0  ? FLOE_S3_ADDRESSING_PATH
                                                           : FLOE_S3_ADDRESSING_AUTO,
        .max_retries =
            getenv("FLOE_S3_RETRIES") ? (int)strtol(getenv("FLOE_S3_RETRIES"), NULL, 10) : 0,
        .retry_for_ms = 30000,
        .retry_base_ms = 20,
    };
    struct floe_s3 *s3 = NULL;
    if (floe_s3_new(&cfg, &s3, &err))
        return fail(&err);
    int rc = run(s3, argv[2], argc - 3, argv + 3, &err);
    floe_s3_destroy(s3);
    if (rc == 2)
        fprintf(stderr, "s3_driver: bad arguments for %s\n", argv[2]);
    else if (rc)
        return fail(&err);
    return rc;
}
