/*
 * test_checkpoint.c - journals round-trip; a torn final record (at every byte length, or with
 * only its first bytes lost as a power cut can leave it) is dropped and appends after it work;
 * a damaged record in the middle stops replay with its offset; foreign files and newer
 * versions are refused clearly; source changes are named; random garbage never crashes the
 * parser (run under ASan).
 */
#include "t_util.h"

#include "checkpoint.h"

#include <xxhash.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static struct floe_journal_options s_fast = {.no_sync = true};

static char *tpath(const char *name)
{
    size_t n = strlen(t_temp_dir()) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", t_temp_dir(), name);
    unlink(p);
    return p;
}

static void upload_header(struct floe_ckpt_header *h)
{
    memset(h, 0, sizeof(*h));
    h->kind = FLOE_CKPT_UPLOAD;
    snprintf(h->endpoint, sizeof(h->endpoint), "http://127.0.0.1:9000");
    snprintf(h->vault, sizeof(h->vault), "photos-2024");
    snprintf(h->account_id, sizeof(h->account_id), "-");
    snprintf(h->source.path, sizeof(h->source.path), "/data/big.tar");
    h->source.size_bytes = 5ull << 30;
    h->source.mtime_ns = 1700000000123456789LL;
    h->source.inode = 424242;
    h->source.device = 2049;
    h->part_size_bytes = 64ull << 20;
    h->total_size_bytes = 5ull << 30;
}

static struct floe_ckpt_part make_part(uint64_t index, uint8_t tag)
{
    struct floe_ckpt_part p = {
        .index = index, .offset_bytes = index << 26, .length_bytes = 64ull << 20};
    memset(p.tree_hash, tag, sizeof(p.tree_hash));
    memset(p.xxh128, (uint8_t)(tag ^ 0x5a), sizeof(p.xxh128));
    return p;
}

static off_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

static void test_checkpoint_round_trip(void **state)
{
    (void)state;
    char *path = tpath("rt.ckpt");
    struct floe_ckpt_header h;
    upload_header(&h);
    struct floe_journal *j = NULL;
    struct floe_error err = {0};
    assert_int_equal(floe_journal_create(path, &h, NULL, &j, &err), FLOE_OK); /* synced */
    assert_string_equal(floe_journal_path(j), path);
    assert_int_equal(floe_journal_set_upload_id(j, "UPL-123", &err), FLOE_OK);
    uint64_t order[] = {3, 0, 2, 1, 2}; /* out of order, index 2 twice */
    for (size_t i = 0; i < 5; i++) {
        struct floe_ckpt_part p = make_part(order[i], (uint8_t)(i + 1));
        assert_int_equal(floe_journal_append_part(j, &p, &err), FLOE_OK);
    }
    floe_journal_destroy(j);

    struct floe_ckpt_state *st = NULL;
    assert_int_equal(floe_checkpoint_load(path, &st, &err), FLOE_OK);
    assert_int_equal(st->header.kind, FLOE_CKPT_UPLOAD);
    assert_true(st->header.created_unix_ns > 0);
    assert_string_equal(st->header.endpoint, "http://127.0.0.1:9000");
    assert_string_equal(st->header.vault, "photos-2024");
    assert_string_equal(st->header.account_id, "-");
    assert_string_equal(st->header.upload_id, "UPL-123");
    assert_string_equal(st->header.job_id, "");
    assert_string_equal(st->header.source.path, "/data/big.tar");
    assert_int_equal(st->header.source.size_bytes, 5ull << 30);
    assert_int_equal(st->header.source.mtime_ns, 1700000000123456789LL);
    assert_int_equal(st->header.source.inode, 424242);
    assert_int_equal(st->header.source.device, 2049);
    assert_int_equal(st->header.part_size_bytes, 64ull << 20);
    assert_false(st->header.has_tree_hash);
    assert_false(st->complete);
    assert_false(st->torn_tail);
    assert_int_equal(st->record_count, 7);
    assert_int_equal(st->valid_bytes, file_size(path));
    assert_int_equal(st->part_count, 4);
    for (uint64_t i = 0; i < 4; i++) {
        assert_int_equal(st->parts[i].index, i);
        assert_int_equal(st->parts[i].offset_bytes, i << 26);
    }
    assert_int_equal(st->parts[2].tree_hash[0], 5); /* the later record of index 2 won */
    assert_int_equal(st->parts[0].tree_hash[0], 2);
    assert_ptr_equal(floe_checkpoint_find_part(st, 3), &st->parts[3]);
    assert_null(floe_checkpoint_find_part(st, 4));
    floe_checkpoint_state_free(st);

    /* Resume: open for append, finish, complete. */
    st = NULL;
    assert_int_equal(floe_journal_open(path, NULL, &j, &st, &err), FLOE_OK);
    assert_int_equal(st->part_count, 4);
    floe_checkpoint_state_free(st);
    struct floe_ckpt_part p = make_part(4, 9);
    assert_int_equal(floe_journal_append_part(j, &p, &err), FLOE_OK);
    uint8_t tree[32];
    memset(tree, 0xee, 32);
    assert_int_equal(floe_journal_mark_complete(j, "ARCHIVE-xyz", 5ull << 30, tree, &err), FLOE_OK);
    assert_int_equal(floe_journal_append_part(j, &p, &err), FLOE_E_CHECKPOINT);
    assert_non_null(strstr(err.message, "is complete: no more parts can be recorded"));
    floe_journal_destroy(j);
    assert_int_equal(floe_checkpoint_load(path, &st, &err), FLOE_OK);
    assert_true(st->complete);
    assert_int_equal(st->complete_size_bytes, 5ull << 30);
    assert_string_equal(st->header.archive_id, "ARCHIVE-xyz");
    assert_true(st->header.has_tree_hash);
    assert_memory_equal(st->header.tree_hash, tree, 32);
    assert_int_equal(st->part_count, 5);
    floe_checkpoint_state_free(st);

    assert_int_equal(floe_journal_remove(path, &err), FLOE_OK);
    assert_int_equal(floe_checkpoint_load(path, &st, &err), FLOE_E_NOT_FOUND);
    assert_int_equal(floe_journal_remove(path, &err), FLOE_OK); /* already gone is fine */
    free(path);
}

static void test_checkpoint_download_journal_keeps_job_id(void **state)
{
    (void)state;
    char *path = tpath("dl.ckpt");
    struct floe_ckpt_header h = {.kind = FLOE_CKPT_DOWNLOAD,
                                 .part_size_bytes = 16 << 20,
                                 .total_size_bytes = 100 << 20,
                                 .has_tree_hash = true};
    memset(h.tree_hash, 0x77, 32);
    snprintf(h.vault, sizeof(h.vault), "v");
    snprintf(h.archive_id, sizeof(h.archive_id), "ARCH");
    snprintf(h.output_path, sizeof(h.output_path), "/tmp/out.bin");
    struct floe_journal *j = NULL;
    struct floe_error err = {0};
    assert_int_equal(floe_journal_create(path, &h, &s_fast, &j, &err), FLOE_OK);
    assert_int_equal(floe_journal_set_job_id(j, "JOB-1", &err), FLOE_OK);
    assert_int_equal(floe_journal_set_job_id(j, "JOB-2", &err), FLOE_OK); /* last wins */
    assert_int_equal(floe_journal_set_job_id(j, "", &err), FLOE_E_INVALID_ARG);
    assert_string_equal(err.message, "job id must be 1 to 255 bytes long (got 0 bytes)");
    struct floe_ckpt_part p = make_part(6, 1);
    assert_int_equal(floe_journal_append_part(j, &p, &err), FLOE_OK);
    floe_journal_destroy(j);
    struct floe_ckpt_state *st = NULL;
    assert_int_equal(floe_checkpoint_load(path, &st, &err), FLOE_OK);
    assert_int_equal(st->header.kind, FLOE_CKPT_DOWNLOAD);
    assert_string_equal(st->header.job_id, "JOB-2");
    assert_string_equal(st->header.archive_id, "ARCH");
    assert_string_equal(st->header.output_path, "/tmp/out.bin");
    assert_int_equal(st->header.total_size_bytes, 100 << 20);
    assert_true(st->header.has_tree_hash);
    assert_int_equal(st->header.tree_hash[31], 0x77);
    assert_int_equal(st->part_count, 1);
    assert_non_null(floe_checkpoint_find_part(st, 6));
    floe_checkpoint_state_free(st);
    free(path);
}

static void test_checkpoint_create_refuses_existing(void **state)
{
    (void)state;
    char *path = tpath("exists.ckpt");
    struct floe_ckpt_header h;
    upload_header(&h);
    struct floe_journal *j = NULL, *j2 = NULL;
    struct floe_error err = {0};
    assert_int_equal(floe_journal_create(path, &h, &s_fast, &j, &err), FLOE_OK);
    assert_int_equal(floe_journal_create(path, &h, &s_fast, &j2, &err), FLOE_E_CHECKPOINT);
    assert_non_null(strstr(err.message, "already exists: resume from it, or remove it"));
    assert_null(j2);
    /* A second open of a journal in use is refused (flock). */
    assert_int_equal(floe_journal_open(path, &s_fast, &j2, NULL, &err), FLOE_E_CHECKPOINT);
    assert_non_null(strstr(err.message, "is in use by another floe process"));
    floe_journal_destroy(j);
    struct floe_journal_options ow = {.overwrite = true, .no_sync = true};
    h.kind = FLOE_CKPT_DOWNLOAD;
    assert_int_equal(floe_journal_create(path, &h, &ow, &j, &err), FLOE_OK);
    floe_journal_destroy(j);
    struct floe_ckpt_state *st = NULL;
    assert_int_equal(floe_checkpoint_load(path, &st, &err), FLOE_OK);
    assert_int_equal(st->header.kind, FLOE_CKPT_DOWNLOAD);
    floe_checkpoint_state_free(st);
    /* Bad headers. */
    h.kind = 9;
    assert_int_equal(floe_journal_create(path, &h, &ow, &j, &err), FLOE_E_INVALID_ARG);
    assert_string_equal(err.message, "checkpoint header: unknown kind 9");
    h.kind = FLOE_CKPT_UPLOAD;
    memset(h.vault, 'v', sizeof(h.vault));
    assert_int_equal(floe_journal_create(path, &h, &ow, &j, &err), FLOE_E_INVALID_ARG);
    assert_string_equal(err.message,
                        "checkpoint header: vault is not NUL-terminated within 256 bytes");
    free(path);
}

/* A journal of header + 3 parts; returns the sizes before and after the last record. */
static void write_three(const char *path, off_t *before_last, off_t *after_last)
{
    struct floe_ckpt_header h;
    upload_header(&h);
    struct floe_journal *j = NULL;
    struct floe_error err = {0};
    unlink(path);
    assert_int_equal(floe_journal_create(path, &h, &s_fast, &j, &err), FLOE_OK);
    for (uint64_t i = 0; i < 3; i++) {
        if (i == 2)
            *before_last = file_size(path);
        struct floe_ckpt_part p = make_part(i, (uint8_t)(i + 1));
        assert_int_equal(floe_journal_append_part(j, &p, &err), FLOE_OK);
    }
    *after_last = file_size(path);
    floe_journal_destroy(j);
}

static void test_checkpoint_torn_tail_at_every_offset(void **state)
{
    (void)state;
    char *path = tpath("torn.ckpt");
    off_t s0 = 0, s1 = 0;
    write_three(path, &s0, &s1);
    assert_int_equal(s1 - s0, 96); /* a part record is 96 bytes */
    for (off_t len = s0; len < s1; len++) {
        write_three(path, &s0, &s1);
        assert_int_equal(truncate(path, len), 0);
        struct floe_ckpt_state *st = NULL;
        struct floe_journal *j = NULL;
        struct floe_error err = {0};
        assert_int_equal(floe_checkpoint_load(path, &st, &err), FLOE_OK);
        assert_int_equal(st->part_count, 2);
        assert_int_equal(st->torn_tail, len > s0);
        assert_int_equal(st->torn_bytes, (uint64_t)(len - s0));
        assert_int_equal(st->valid_bytes, (uint64_t)s0);
        floe_checkpoint_state_free(st);
        assert_int_equal(floe_journal_open(path, &s_fast, &j, &st, &err), FLOE_OK);
        assert_int_equal(st->part_count, 2);
        floe_checkpoint_state_free(st);
        assert_int_equal(file_size(path), s0); /* the torn tail was cut off */
        struct floe_ckpt_part p = make_part(7, 7);
        assert_int_equal(floe_journal_append_part(j, &p, &err), FLOE_OK);
        floe_journal_destroy(j);
        assert_int_equal(floe_checkpoint_load(path, &st, &err), FLOE_OK);
        assert_int_equal(st->part_count, 3);
        assert_false(st->torn_tail);
        assert_non_null(floe_checkpoint_find_part(st, 7));
        assert_null(floe_checkpoint_find_part(st, 2));
        floe_checkpoint_state_free(st);
    }
    /* A zero-filled tail (size extended, data never written) is torn too. */
    write_three(path, &s0, &s1);
    assert_int_equal(truncate(path, s1 + 4096), 0);
    struct floe_ckpt_state *st = NULL;
    struct floe_error err = {0};
    assert_int_equal(floe_checkpoint_load(path, &st, &err), FLOE_OK);
    assert_true(st->torn_tail);
    assert_int_equal(st->part_count, 3);
    assert_int_equal(st->torn_bytes, 4096);
    floe_checkpoint_state_free(st);
    /* A torn header is not a usable journal. */
    for (off_t len = 0; len < 40; len += 13) {
        write_three(path, &s0, &s1);
        assert_int_equal(truncate(path, len), 0);
        assert_int_equal(floe_checkpoint_load(path, &st, &err), FLOE_E_CHECKPOINT);
        assert_non_null(strstr(err.message, len ? "the header record is incomplete (torn)"
                                                : "is empty (its header was never written)"));
    }
    free(path);
}

static void flip_byte(const char *path, off_t at, uint8_t mask)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, at), 1);
    b ^= mask;
    assert_int_equal(pwrite(fd, &b, 1, at), 1);
    close(fd);
}

/* A power cut may keep some sectors of the last, unsynced append and zero others (the file
 * size already extended): its frame zeroed while the rest of its body reached the disk. That
 * is a torn tail (dropped, cut off on open), not corruption: no valid frame follows it. */
static void test_checkpoint_last_record_torn_sectors(void **state)
{
    (void)state;
    char *path = tpath("sectors.ckpt");
    off_t s0 = 0, s1 = 0;
    for (off_t x = 1; x < 96; x++) {
        write_three(path, &s0, &s1);
        int fd = open(path, O_RDWR);
        assert_true(fd >= 0);
        uint8_t zeros[96] = {0};
        assert_int_equal(pwrite(fd, zeros, (size_t)x, s0), x); /* [s0, s0+x) lost */
        close(fd);
        struct floe_ckpt_state *st = NULL;
        struct floe_journal *j = NULL;
        struct floe_error err = {0};
        assert_int_equal(floe_checkpoint_load(path, &st, &err), FLOE_OK);
        assert_true(st->torn_tail);
        assert_int_equal(st->part_count, 2);
        assert_int_equal(st->valid_bytes, (uint64_t)s0);
        floe_checkpoint_state_free(st);
        assert_int_equal(floe_journal_open(path, &s_fast, &j, &st, &err), FLOE_OK);
        floe_checkpoint_state_free(st);
        floe_journal_destroy(j);
        assert_int_equal(file_size(path), s0);
    }
    free(path);
}

static void test_checkpoint_bit_flip_in_middle_is_corrupt(void **state)
{
    (void)state;
    char *path = tpath("flip.ckpt");
    off_t s0 = 0, s1 = 0;
    write_three(path, &s0, &s1);
    off_t mid = s0 - 96; /* the second part record */
    for (off_t at = mid; at < s0; at++) {
        write_three(path, &s0, &s1);
        flip_byte(path, at, (uint8_t)(1u << (at % 8)));
        struct floe_ckpt_state *st = NULL;
        struct floe_journal *j = NULL;
        struct floe_error err = {0};
        assert_int_equal(floe_checkpoint_load(path, &st, &err), FLOE_E_CORRUPT);
        assert_null(st);
        char want[64];
        snprintf(want, sizeof(want), "record 2"); /* header is record 0 */
        assert_non_null(strstr(err.message, want));
        snprintf(want, sizeof(want), "at byte offset %lld", (long long)mid);
        assert_non_null(strstr(err.message, want));
        assert_non_null(strstr(err.message, "nothing after it is trusted"));
        /* Opening to resume refuses too, and leaves the file alone. */
        assert_int_equal(floe_journal_open(path, &s_fast, &j, &st, &err), FLOE_E_CORRUPT);
        assert_null(j);
        assert_int_equal(file_size(path), s1);
    }
    /* A flip in the last record is indistinguishable from a torn write: dropped. */
    write_three(path, &s0, &s1);
    flip_byte(path, s0 + 40, 0x10);
    struct floe_ckpt_state *st = NULL;
    struct floe_error err = {0};
    assert_int_equal(floe_checkpoint_load(path, &st, &err), FLOE_OK);
    assert_true(st->torn_tail);
    assert_int_equal(st->part_count, 2);
    floe_checkpoint_state_free(st);
    free(path);
}

static void test_checkpoint_foreign_and_newer_files_refused(void **state)
{
    (void)state;
    struct floe_ckpt_state *st = NULL;
    struct floe_error err = {0};
    char *p = t_write_temp("foreign.ckpt", "hello, this is not a journal at all!", 36);
    assert_int_equal(floe_checkpoint_load(p, &st, &err), FLOE_E_CHECKPOINT);
    assert_non_null(strstr(err.message, "is not a floe checkpoint journal (bad magic)"));
    free(p);

    /* A well-formed record of format version 2: rewrite the version, recompute the checks. */
    char *path = tpath("v2.ckpt");
    off_t s0, s1;
    write_three(path, &s0, &s1);
    int fd = open(path, O_RDWR);
    uint8_t frame[16];
    assert_int_equal(pread(fd, frame, 16, 0), 16);
    uint32_t body_len;
    memcpy(&body_len, frame + 8, 4);
    uint8_t *rec = malloc(16 + body_len + 8);
    assert_int_equal(pread(fd, rec, 16 + body_len + 8, 0), (ssize_t)(16 + body_len + 8));
    rec[6] = 2;
    uint32_t fc = (uint32_t)XXH3_64bits(rec, 12);
    memcpy(rec + 12, &fc, 4);
    uint64_t rc = XXH3_64bits(rec, 16 + body_len);
    memcpy(rec + 16 + body_len, &rc, 8);
    assert_int_equal(pwrite(fd, rec, 16 + body_len + 8, 0), (ssize_t)(16 + body_len + 8));
    close(fd);
    free(rec);
    assert_int_equal(floe_checkpoint_load(path, &st, &err), FLOE_E_CHECKPOINT);
    assert_non_null(strstr(err.message, "has format version 2; this floe reads version 1"));
    free(path);

    p = tpath("missing.ckpt");
    assert_int_equal(floe_checkpoint_load(p, &st, &err), FLOE_E_NOT_FOUND);
    assert_int_equal(err.sys_errno, ENOENT);
    assert_null(st);
    free(p);
}

static void test_checkpoint_source_change_is_named(void **state)
{
    (void)state;
    char *src = t_write_temp("source.bin", "0123456789", 10);
    struct floe_ckpt_header h;
    upload_header(&h);
    struct floe_error err = {0};
    assert_int_equal(floe_checkpoint_source_stat(src, -1, &h.source, &err), FLOE_OK);
    assert_int_equal(h.source.size_bytes, 10);
    assert_string_equal(h.source.path, src);
    assert_int_equal(floe_checkpoint_check_source(&h, src, -1, &err), FLOE_OK);
    int fd = open(src, O_RDONLY);
    assert_int_equal(floe_checkpoint_check_source(&h, src, fd, &err), FLOE_OK);
    close(fd);

    /* size (and mtime, which an append changes too) */
    struct floe_ckpt_header h2 = h;
    h2.source.size_bytes = 11;
    assert_int_equal(floe_checkpoint_check_source(&h2, src, -1, &err), FLOE_E_SOURCE_CHANGED);
    assert_non_null(strstr(err.message, "changed since the checkpoint was written: size was 11 "
                                        "bytes, now 10"));
    assert_null(strstr(err.message, "mtime"));

    /* mtime only */
    struct timespec ts[2] = {{.tv_sec = 1600000000, .tv_nsec = 5},
                             {.tv_sec = 1600000000, .tv_nsec = 5}};
    assert_int_equal(utimensat(AT_FDCWD, src, ts, 0), 0);
    assert_int_equal(floe_checkpoint_check_source(&h, src, -1, &err), FLOE_E_SOURCE_CHANGED);
    assert_non_null(strstr(err.message, ": mtime was "));
    assert_non_null(strstr(err.message, "now 2020-09-13T12:26:40.000000005Z"));
    assert_null(strstr(err.message, "size"));

    /* replaced by a different file with the same size and mtime: inode */
    assert_int_equal(floe_checkpoint_source_stat(src, -1, &h.source, &err), FLOE_OK);
    char *other = t_write_temp("source2.bin", "abcdefghij", 10);
    assert_int_equal(utimensat(AT_FDCWD, other, ts, 0), 0);
    assert_int_equal(rename(other, src), 0);
    assert_int_equal(floe_checkpoint_check_source(&h, src, -1, &err), FLOE_E_SOURCE_CHANGED);
    assert_non_null(strstr(err.message, "written: inode was "));
    assert_non_null(strstr(err.message, "(the file was replaced)"));

    /* gone */
    unlink(src);
    assert_int_equal(floe_checkpoint_check_source(&h, src, -1, &err), FLOE_E_NOT_FOUND);
    /* a stream source cannot be checked */
    h.source.size_bytes = FLOE_CKPT_SIZE_UNKNOWN;
    snprintf(h.source.path, sizeof(h.source.path), "-");
    assert_int_equal(floe_checkpoint_check_source(&h, src, -1, &err), FLOE_E_INVALID_ARG);
    assert_string_equal(err.message,
                        "the checkpoint's source - was a stream; it cannot be checked or resumed");
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct floe_ckpt_source s;
    assert_int_equal(floe_checkpoint_source_stat("-", p[0], &s, &err), FLOE_OK);
    assert_int_equal(s.size_bytes, FLOE_CKPT_SIZE_UNKNOWN);
    close(p[0]);
    close(p[1]);
    free(src);
    free(other);
}

static void test_checkpoint_failed_append_leaves_journal_valid(void **state)
{
    (void)state;
    char *path = tpath("efbig.ckpt");
    struct floe_ckpt_header h;
    upload_header(&h);
    struct floe_journal *j = NULL;
    struct floe_error err = {0};
    assert_int_equal(floe_journal_create(path, &h, &s_fast, &j, &err), FLOE_OK);
    off_t size = file_size(path);
    /* Let the file grow by one part record and a half, no more. */
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = (rlim_t)size + 96 + 48;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    struct floe_ckpt_part p = make_part(0, 1);
    int rc1 = floe_journal_append_part(j, &p, &err);
    p = make_part(1, 2);
    int rc2 = floe_journal_append_part(j, &p, &err);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    assert_int_equal(rc1, FLOE_OK);
    assert_int_equal(rc2, FLOE_E_IO);
    assert_int_equal(err.sys_errno, EFBIG);
    assert_non_null(strstr(err.message, "cannot append to checkpoint"));
    assert_int_equal(file_size(path), size + 96); /* the partial record was cut off */
    p = make_part(2, 3);
    assert_int_equal(floe_journal_append_part(j, &p, &err), FLOE_OK); /* and appends go on */
    floe_journal_destroy(j);
    struct floe_ckpt_state *st = NULL;
    assert_int_equal(floe_checkpoint_load(path, &st, &err), FLOE_OK);
    assert_false(st->torn_tail);
    assert_int_equal(st->part_count, 2);
    assert_null(floe_checkpoint_find_part(st, 1));
    floe_checkpoint_state_free(st);
    free(path);
}

static void test_checkpoint_garbage_never_crashes(void **state)
{
    (void)state;
    char *path = tpath("fuzz.ckpt");
    off_t s0, s1;
    write_three(path, &s0, &s1);
    uint8_t *valid = malloc((size_t)s1);
    int fd = open(path, O_RDONLY);
    assert_int_equal(read(fd, valid, (size_t)s1), (ssize_t)s1);
    close(fd);
    uint8_t *buf = malloc((size_t)s1 + 4096);
    int ok = 0, bad = 0;
    for (int iter = 0; iter < 3000; iter++) {
        size_t n;
        uint64_t mode = t_rand_below(3);
        if (mode == 0) { /* pure garbage */
            n = (size_t)t_rand_below(4096);
            t_fill_random(buf, n);
        } else { /* a valid journal, mutated and/or cut */
            n = (size_t)s1;
            memcpy(buf, valid, n);
            int flips = (int)t_rand_below(4);
            for (int k = 0; k < flips; k++)
                buf[t_rand_below(n)] ^= (uint8_t)(1u << t_rand_below(8));
            if (mode == 2)
                n = (size_t)t_rand_below(n + 1);
        }
        char *p = t_write_temp("fuzz.ckpt", buf, n);
        struct floe_ckpt_state *st = NULL;
        struct floe_error err = {0};
        int rc = floe_checkpoint_load(p, &st, &err);
        if (rc == FLOE_OK) {
            ok++;
            assert_true(st->valid_bytes <= n);
            for (size_t i = 1; i < st->part_count; i++)
                assert_true(st->parts[i - 1].index < st->parts[i].index);
            assert_true(memchr(st->header.vault, 0, sizeof(st->header.vault)) != NULL);
            floe_checkpoint_state_free(st);
        } else {
            bad++;
            assert_null(st);
            assert_true(rc == FLOE_E_CORRUPT || rc == FLOE_E_CHECKPOINT);
            assert_true(err.message[0] != 0);
        }
        free(p);
    }
    assert_true(ok > 0 && bad > 0);
    free(buf);
    free(valid);
    free(path);
}

static void test_checkpoint_xxh128_and_names(void **state)
{
    (void)state;
    uint8_t data[1000];
    t_fill_random(data, sizeof(data));
    uint8_t got[16];
    floe_checkpoint_xxh128(data, sizeof(data), got);
    XXH128_hash_t h = XXH3_128bits(data, sizeof(data));
    for (int i = 0; i < 8; i++) {
        assert_int_equal(got[i], (uint8_t)(h.high64 >> (56 - 8 * i))); /* big-endian */
        assert_int_equal(got[8 + i], (uint8_t)(h.low64 >> (56 - 8 * i)));
    }
    assert_string_equal(floe_checkpoint_kind_name(FLOE_CKPT_UPLOAD), "upload");
    assert_string_equal(floe_checkpoint_kind_name(FLOE_CKPT_DOWNLOAD), "download");
    assert_string_equal(floe_checkpoint_kind_name(0), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkpoint_round_trip),
        cmocka_unit_test(test_checkpoint_download_journal_keeps_job_id),
        cmocka_unit_test(test_checkpoint_create_refuses_existing),
        cmocka_unit_test(test_checkpoint_torn_tail_at_every_offset),
        cmocka_unit_test(test_checkpoint_last_record_torn_sectors),
        cmocka_unit_test(test_checkpoint_bit_flip_in_middle_is_corrupt),
        cmocka_unit_test(test_checkpoint_foreign_and_newer_files_refused),
        cmocka_unit_test(test_checkpoint_source_change_is_named),
        cmocka_unit_test(test_checkpoint_failed_append_leaves_journal_valid),
        cmocka_unit_test(test_checkpoint_garbage_never_crashes),
        cmocka_unit_test(test_checkpoint_xxh128_and_names),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    t_cleanup_temp();
    return rc;
}
