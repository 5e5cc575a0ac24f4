/*
 * plan.h - the plan of one backup run: walk the sources, compare every file with the catalog,
 * and write the files to upload to two work lists (small files for packs or single requests;
 * large files for multipart uploads), spilled to unlinked temporary files so memory does not
 * grow with the number of files. Counts, bytes and the estimated cost come with it; a dry run
 * stops here.
 *
 * Ownership: the plan owns its lists; items read back are the caller's until the next read.
 * Threads: one thread (the backup's orchestrating thread) uses a plan.
 */
#ifndef FLOE_ENGINE_BACKUP_PLAN_H
#define FLOE_ENGINE_BACKUP_PLAN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "catalog.h"
#include "floe/backup.h"

/* One file to upload, as planned. */
struct floe_plan_item {
    char *path; /* absolute path (malloc'd by the plan; valid until the next read) */
    size_t path_len;
    size_t rel_off; /* path + rel_off: the path relative to its source ("a/b.txt") */
    uint64_t size;
    int64_t mtime_ns;
    uint64_t inode, device;
    uint32_t mode;
    enum floe_backup_change change; /* NEW or CHANGED */
    bool has_xxh3;                  /* --checksum computed it while planning */
    uint8_t xxh3[FLOE_CATALOG_XXH3_BYTES];
};

/* SMALL and LARGE are uploaded; LINK holds new or changed hard links whose content another path
 * of this walk (the first link seen, floe_plan_link_first) carries: recorded, not uploaded. */
enum floe_plan_list { FLOE_PLAN_SMALL = 0, FLOE_PLAN_LARGE = 1, FLOE_PLAN_LINK = 2 };
#define FLOE_PLAN_LISTS 3

struct floe_link_map; /* (device, inode) -> the first path seen, for files with nlink > 1 */

struct floe_plan {
    FILE *list[FLOE_PLAN_LISTS];     /* the spilled lists */
    uint64_t count[FLOE_PLAN_LISTS]; /* items in each */
    uint64_t bytes[FLOE_PLAN_LISTS]; /* their bytes (a link's bytes are not uploaded) */
    struct floe_link_map *links;
    struct floe_plan_item cur; /* the item last read */
    size_t cur_cap;
    /* what the walk found */
    uint64_t unchanged, unchanged_bytes, removed, removed_bytes, deferred, skipped;
    uint64_t excluded;
    uint64_t specials, symlinks; /* devices, sockets, FIFOs; symlinks not followed (no --follow) */
};

/*
 * floe_plan_build() - walks opts->sources with opts' filters, marks every file seen in the
 * catalog's open run (mark_seen; c may be NULL: everything is new; without mark_seen - a dry
 * run, the catalog opened read-only - a catalog file counts as removed when it is gone from the
 * disk or excluded by the filters), classifies it and
 * appends NEW/CHANGED files to the small (size < threshold, or every file in the
 * file-per-archive layout below it) or large list, or, for a non-empty file whose inode an
 * earlier path of the walk has (a hard link), to the link list; --max-files / --max-bytes defer the
 * rest. Removed files (in the catalog, not seen) are counted (and, through opts->plan, listed).
 * Skipped entries go to opts->warn. *out owns the plan (floe_plan_free).
 * Returns FLOE_OK, or a failure that stops the run (a source that cannot be read at all, a
 * catalog error, a full temporary directory).
 */
int floe_plan_build(struct floe_catalog *c, bool mark_seen, const struct floe_backup_options *opts,
                    uint64_t threshold, struct floe_plan **out, struct floe_error *err);

/* floe_plan_rewind() - the next floe_plan_next() of list starts from its first item again. */
int floe_plan_rewind(struct floe_plan *p, enum floe_plan_list list, struct floe_error *err);

/* floe_plan_next() - the next item of list into p->cur: 1 an item, 0 the end, < 0 a read
 * failure (err filled, returns -1). */
int floe_plan_next(struct floe_plan *p, enum floe_plan_list list, struct floe_error *err);

/*
 * floe_plan_read_item() - reads the file of it whole into dst (it->size bytes of room) and
 * checks that it is still the planned version: same size and mtime before and after the read
 * (a file changed meanwhile is never recorded with mixed bytes). Returns FLOE_OK; FLOE_E_IO
 * (cannot open/read: err names the path and errno) or FLOE_E_SOURCE_CHANGED, both meaning
 * "skip this file". Threads: any (reads the file only).
 */
int floe_plan_read_item(const struct floe_plan_item *it, void *dst, struct floe_error *err);

/*
 * floe_plan_link_first() - the first path the walk saw of the file (device, inode) when it has
 * more than one hard link, else NULL. The string is the plan's, valid until floe_plan_free.
 * Memory: one entry per hard-linked file walked (not per file).
 */
const char *floe_plan_link_first(const struct floe_plan *p, uint64_t device, uint64_t inode);

/* floe_plan_free() - NULL is fine. */
void floe_plan_free(struct floe_plan *p);

#endif
