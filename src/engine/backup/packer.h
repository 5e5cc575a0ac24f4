/*
 * packer.h - small files into pack archives (pack.h's container), each pack streamed straight
 * into a multipart upload: a producer thread reads the files of the plan's small list and
 * writes the pack's frames into one end of a socket pair; floe_upload_file() reads the other
 * end as a stream (parts hashed and sent in parallel through the transfer core, exactly as
 * `floe upload -` does). Nothing of a pack is written to disk; memory is the upload's part
 * buffers plus one file and the pack's index.
 *
 * A pack is recorded (record()) only after the service acknowledged its archive. A pack whose
 * upload fails is aborted (a stream has no journal) and its files stay unrecorded, so the next
 * run packs them again. A file that cannot be read, or changed since the plan, is left out of
 * the pack with a warning.
 *
 * Compression: with a zstd level the producer reads and compresses the next files (up to twice
 * the pool's threads, at most 8) on the client's hash pool, beside the upload's hashing, and
 * adds them to the pack in plan order: the pack's bytes are those of one thread doing it all.
 *
 * Threads: floe_packer_run() and every callback run on the calling thread; the producer thread
 * touches only the plan (which the caller must not use meanwhile), the files and the socket;
 * the pool's tasks only their own slot (a file's buffer and frame).
 */
#ifndef FLOE_ENGINE_BACKUP_PACKER_H
#define FLOE_ENGINE_BACKUP_PACKER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "floe/client.h"
#include "floe/upload.h"
#include "pack.h"
#include "plan.h"

/* One file inside an acknowledged pack. */
struct floe_packed_file {
    struct floe_plan_item item;   /* path owned by the packer until record() returns */
    struct floe_pack_entry entry; /* offsets, lengths, compression, xxh3 */
};

struct floe_packer_options {
    struct floe_client *client;
    const char *vault;
    uint64_t pack_size;     /* a pack closes when its bytes reach this */
    unsigned max_files;     /* ... or when it holds this many files */
    uint64_t max_file_size; /* the largest file in the small list (a read buffer) */
    int zstd_level;         /* 0: stored frames */
    uint64_t part_size;     /* the uploads' (0: floe upload's default) */
    unsigned concurrency;   /* parts in flight per pack (0: default) */
    uint64_t memory_limit;  /* 0: default */
    atomic_bool *cancel;
    /* required: the description of pack number seq */
    void (*describe)(void *user, uint64_t seq, char out[1025]);
    /* optional: the pack's multipart upload id, as soon as it exists */
    void (*initiated)(void *user, const char *upload_id);
    /* required: the pack is in the vault; record it and its files (n of them) */
    int (*record)(void *user, const struct floe_upload_result *archive, const char *description,
                  const struct floe_packed_file *files, size_t n, struct floe_error *err);
    void (*warn)(void *user, const char *path, const char *message);
    void (*progress)(void *user, uint64_t files, uint64_t bytes, const char *current);
    void *user;
};

struct floe_packer_stats {
    uint64_t packs;
    uint64_t files, bytes; /* files recorded in acknowledged packs, their original bytes */
    uint64_t stored_bytes; /* the packs' sizes */
    uint64_t skipped;
};

/*
 * floe_packer_run() - packs and uploads the plan's small list from its current position,
 * numbering packs from first_seq. Returns FLOE_OK or the failure that stopped it (err).
 */
int floe_packer_run(struct floe_plan *plan, const struct floe_packer_options *opts,
                    uint64_t first_seq, struct floe_packer_stats *stats, struct floe_error *err);

#endif
