/*
 * describe.h - the archive descriptions `floe backup` writes, so an inventory alone tells what
 * is in a vault (docs/backup.md, "Archive descriptions"): at most 1,024 printable ASCII
 * characters, a format marker first.
 *
 *   floe1 file <mtime seconds> <path>        one file's bytes
 *   floe1 zfile <set>-<run> <mtime seconds> <size> <path>
 *                                            one file as a single zstd frame (--compress); size
 *                                            is the file's own, before compression
 *   floe1 pack <set>-<run>-<seq>             a pack (its own index says what is inside)
 *   floe1 catalog <set>-<run> <unix time>    a compressed snapshot of the catalog
 *
 * <path> is the file's absolute path with every byte outside printable ASCII, and '%' itself,
 * written as %XX (upper-case hex); a path that does not fit is cut after the last whole byte
 * that fits (an escape is never split) and ends with "%~", which the encoding never produces
 * otherwise. <set> is 8 hex digits naming the catalog (backup set) that wrote the archive, so
 * runs of different catalogs into one
 * vault never mistake each other's unfinished packs for their own.
 *
 * Threads: pure functions, any thread.
 */
#ifndef FLOE_ENGINE_BACKUP_DESCRIBE_H
#define FLOE_ENGINE_BACKUP_DESCRIBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FLOE_DESCRIBE_CAP 1025 /* 1,024 characters and the NUL */

void floe_describe_file(const char *path, size_t path_len, int64_t mtime_ns,
                        char out[FLOE_DESCRIBE_CAP]);
void floe_describe_zfile(uint32_t set, uint64_t run, const char *path, size_t path_len,
                         int64_t mtime_ns, uint64_t size, char out[FLOE_DESCRIBE_CAP]);
void floe_describe_pack(uint32_t set, uint64_t run, uint64_t seq, char out[FLOE_DESCRIBE_CAP]);
void floe_describe_catalog(uint32_t set, uint64_t run, int64_t unix_time,
                           char out[FLOE_DESCRIBE_CAP]);

/* The prefix every pack description of a set starts with ("floe1 pack 0123abcd-"). */
void floe_describe_pack_prefix(uint32_t set, char out[64]);
/* The same for the compressed file archives of a set ("floe1 zfile 0123abcd-"). */
void floe_describe_zfile_prefix(uint32_t set, char out[64]);

enum floe_description_kind {
    FLOE_DESC_OTHER = 0, /* not one of floe's */
    FLOE_DESC_FILE,
    FLOE_DESC_PACK,
    FLOE_DESC_CATALOG,
    FLOE_DESC_ZFILE,
};

struct floe_description {
    enum floe_description_kind kind;
    char path[4096]; /* FILE, ZFILE: the decoded path (NUL-terminated; any byte but NUL) */
    size_t path_len;
    bool truncated;  /* FILE, ZFILE: the description had only the start of the path */
    int64_t mtime_s; /* FILE, ZFILE */
    uint64_t size;   /* ZFILE: the file's size before compression */
    uint32_t set;    /* PACK, CATALOG, ZFILE */
    uint64_t run, seq;
    int64_t unix_time; /* CATALOG */
};

/* floe_describe_parse() - what a description says; kind FLOE_DESC_OTHER for anything that is
 * not exactly one of the formats above (never fails). */
void floe_describe_parse(const char *desc, struct floe_description *out);

#endif
