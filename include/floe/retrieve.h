/*
 * floe/retrieve.h - download a job's output in parallel, verified, resumable; and the whole
 * archive retrieval (initiate, wait, download) in one call.
 *
 * The output is split into segments of a power-of-two MiB, aligned to the ARCHIVE (a ranged
 * job's segments start at multiples of the segment size in archive offsets), so every segment
 * of a tree-hash-aligned job is itself a node of the archive's tree: the service sends its
 * x-amz-sha256-tree-hash, floe hashes the received bytes on the hash pool (in 2 MiB chunks as
 * they arrive, written at their offset with io_uring, O_DIRECT when aligned) and compares
 * before the segment is recorded in the checkpoint. At the end the segment hashes are combined
 * (composition property) and compared with the job's SHA256TreeHash. Output goes to
 * "<path>.floe-part" and is renamed to <path> only once everything is verified and fsynced, so
 * a file at <path> is always complete; "-" streams to standard output in order, each segment
 * written only after it is verified. See docs/internals/retrieve.md.
 */
#ifndef FLOE_RETRIEVE_H
#define FLOE_RETRIEVE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "floe/client.h"
#include "floe/error.h"
#include "floe/jobs.h"
#include "floe/treehash.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_RETRIEVE_DEFAULT_SEGMENT_SIZE ((uint64_t)32 << 20)
#define FLOE_RETRIEVE_DEFAULT_CONCURRENCY 4u
#define FLOE_RETRIEVE_DEFAULT_MEMORY_LIMIT ((uint64_t)1 << 30)
/* Without a concurrency, the segments in flight adapt (start at the default, measured up to
 * this many, within the memory limit: src/engine/pipeline/adapt.h). */
#define FLOE_RETRIEVE_ADAPTIVE_MAX 32u
#define FLOE_RETRIEVE_MAX_FETCHES 3 /* attempts at a segment that fails verification */
#define FLOE_RETRIEVE_PART_SUFFIX ".floe-part"

struct floe_download_progress {
    uint64_t bytes_done;  /* verified and written (or confirmed by the checkpoint) */
    uint64_t bytes_total; /* UINT64_MAX until known */
    unsigned segments_done, segments_total;
    double seconds;
};

/* Runs on the calling thread of the download, between events. */
typedef void floe_download_progress_fn(const struct floe_download_progress *p, void *user);

/* How much of the output was checked against the service's hashes. */
enum floe_verification {
    FLOE_VERIFY_NONE = 0,     /* the service gave no hash (inventory; unaligned range) */
    FLOE_VERIFY_SEGMENTS = 1, /* each segment matched its x-amz-sha256-tree-hash */
    FLOE_VERIFY_WHOLE = 2,    /* the combined hash matched the job's SHA256TreeHash */
    FLOE_VERIFY_COUNT
};
/* "none", "segments", "whole" (static). */
FLOE_API const char *floe_verification_name(enum floe_verification v);

struct floe_download_options {
    const char *vault;               /* required */
    const char *job_id;              /* required */
    const char *output_path;         /* required: a file, or "-" for standard output */
    uint64_t segment_size;           /* power of two MiB; 0 = 32 MiB (raised for huge outputs) */
    unsigned concurrency;            /* segments fetched at once; 0 = adaptive: from 4 up to
                                      * FLOE_RETRIEVE_ADAPTIVE_MAX while the throughput rises
                                      * (`floe retrieve`'s default; --concurrency N fixes it) */
    uint64_t memory_limit;           /* bytes of segment buffers; 0 = 1 GiB */
    const char *checkpoint_path;     /* NULL = floe_checkpoint_default_path() */
    bool no_checkpoint;              /* no journal: an interruption starts over */
    bool keep_checkpoint;            /* keep the journal after success */
    const struct floe_job_info *job; /* optional: a fresh description (saves a DescribeJob) */
    atomic_bool *cancel;             /* optional: set to stop cleanly (journal kept) */
    floe_download_progress_fn *progress;
    void *progress_user;
    /* Also the output's SHA-256 (its linear hash), taken from the downloaded bytes in output
     * order in the same pass as their tree-hash leaves, where that can be done: a file output
     * of several segments fetched from the start (nothing resumed), no fetch retried or
     * repeated, and the whole output verified (FLOE_VERIFY_WHOLE). Chunks that arrive ahead of
     * the first one not yet hashed are held in memory (as many again as the ring of chunks;
     * small segments keep them few); one that cannot be held gives the hash up. The result's
     * has_sha256 says whether it was taken; otherwise read the file back. */
    bool linear_sha256;
    /* Adaptive only: the limit to start from (0 = FLOE_RETRIEVE_DEFAULT_CONCURRENCY), e.g. the
     * adaptive_next of the download before over the same link; within the ceiling. */
    unsigned adaptive_start;
};

struct floe_download_result {
    uint64_t size; /* bytes of output */
    bool has_tree; /* tree is the output's tree hash */
    uint8_t tree[FLOE_HASH_BYTES];
    enum floe_verification verification;
    uint64_t segment_size;
    unsigned segments;           /* total */
    unsigned segments_fetched;   /* downloaded in this run */
    unsigned segments_resumed;   /* confirmed by the checkpoint and re-checked locally */
    unsigned segments_refetched; /* fetches repeated because a hash did not match */
    unsigned peak_in_flight;     /* most segments fetched at once */
    unsigned adaptive_cuts;      /* adaptive: times a retried fetch halved the limit */
    unsigned adaptive_next;      /* adaptive with linear_sha256: the limit it ended at when the
                                  * fetches still waited long for their first byte (a far link:
                                  * a start for the next download), else 0 */
    double seconds;
    char checkpoint_path[4096]; /* the journal used ("" when none) */
    bool has_sha256;            /* opts->linear_sha256 was asked and sha256 is the output's */
    uint8_t sha256[FLOE_HASH_BYTES];
};

/*
 * floe_job_output_download() - download a succeeded job's output to a file or stdout.
 * client   IN: borrowed; its transfer thread, hash pool carry the work.
 * opts     IN: borrowed for the call.
 * out      OUT: written only on FLOE_OK.
 * Returns  FLOE_OK (verified as out->verification says); FLOE_E_INVALID_ARG / FLOE_E_RANGE
 *          (options); FLOE_E_CHECKSUM (a segment failed verification FLOE_RETRIEVE_MAX_FETCHES
 *          times, or the whole output does not match the job's hash: the message names the
 *          byte range; the output is not renamed into place); FLOE_E_IO (output not writable,
 *          disk full: path and offset named; checkpoint kept); FLOE_E_CHECKPOINT (the journal
 *          belongs to another download); FLOE_E_CANCELLED; service/network statuses (job not
 *          ready: FLOE_E_SERVICE; expired or unknown job: FLOE_E_NOT_FOUND).
 * Threads  the calling thread orchestrates; several downloads may share one client.
 */
FLOE_API int floe_job_output_download(struct floe_client *client,
                                      const struct floe_download_options *opts,
                                      struct floe_download_result *out, struct floe_error *err);

/* Phases of floe_retrieve_archive(), reported on the calling thread. */
enum floe_retrieve_phase {
    FLOE_RETRIEVE_INITIATED = 0, /* job_id is new */
    FLOE_RETRIEVE_RESUMED = 1,   /* job_id came from the checkpoint */
    FLOE_RETRIEVE_READY = 2,     /* the job succeeded; downloading starts */
    FLOE_RETRIEVE_REUSED = 3,    /* job_id is reuse_job_id: no new job was initiated */
};
typedef void floe_retrieve_phase_fn(enum floe_retrieve_phase phase, const char *job_id, void *user);

struct floe_retrieve_options {
    const char *archive_id; /* required */
    bool has_range;         /* retrieve only range (MiB-aligned; checked before sending) */
    struct floe_byte_range range;
    const char *tier;        /* NULL = Standard */
    const char *description; /* job description */
    const char *sns_topic;
    struct floe_job_wait_options wait;     /* polling; its cancel defaults to download.cancel */
    struct floe_download_options download; /* job_id is ignored (it comes from the job) */
    floe_retrieve_phase_fn *phase;
    void *phase_user;
    /* Optional: a job the caller found that retrieves this archive and range and has
     * succeeded (and not expired): its output is downloaded instead of initiating a new job.
     * A checkpoint of an earlier run of the same retrieval still takes precedence. */
    const char *reuse_job_id;
};

/*
 * floe_retrieve_archive() - initiate an archive retrieval, wait for it, download and verify
 * its output. Resumable as a whole: the checkpoint is written before the job is initiated and
 * records the job id, so running the same call again (after a crash, kill -9, Ctrl-C, a wait
 * timeout) continues the same job and skips confirmed segments.
 * job_id   OUT: may be NULL; else receives the job id whenever one is known (also on failure).
 * Returns  as floe_job_initiate_retrieval(), floe_job_wait() and floe_job_output_download().
 */
FLOE_API int floe_retrieve_archive(struct floe_client *client,
                                   const struct floe_retrieve_options *opts,
                                   struct floe_download_result *out, char job_id[FLOE_JOB_ID_MAX],
                                   struct floe_error *err);

/*
 * floe_retrieve_checkpoint_path() - the journal path used when checkpoint_path is NULL:
 * $XDG_CACHE_HOME/floe (else ~/.cache/floe, else /tmp/floe-UID)/download-<xxh3 of endpoint,
 * account, vault, key, absolute output path>.ckpt (XDG_CACHE_HOME honoured). key is the job id
 * (floe_job_output_download) or "archive:<id>:<range>" (floe_retrieve_archive). Returns FLOE_OK or
 * FLOE_E_IO.
 */
FLOE_API int floe_retrieve_checkpoint_path(struct floe_client *client, const char *vault,
                                           const char *key, const char *output_path, char *out,
                                           size_t cap, struct floe_error *err);

/*
 * floe_retrieve_plan() - segment i of a job output of total bytes that starts at archive
 * offset archive_first, at segment_size: segments are aligned to multiples of segment_size in
 * archive offsets, so the first may be shorter. Returns the number of segments; fills *seg
 * (output-relative, inclusive) when seg is non-NULL and index < count.
 */
FLOE_API uint64_t floe_retrieve_plan(uint64_t total, uint64_t archive_first, uint64_t segment_size,
                                     uint64_t index, struct floe_byte_range *seg);

/*
 * floe_retrieve_pick_segment_size() - the segment size to use: requested (0 = default), which
 * must be a power of two MiB, raised until the output has at most 65,536 segments. *out set
 * only on FLOE_OK; FLOE_E_RANGE when requested is not a valid segment size.
 */
FLOE_API int floe_retrieve_pick_segment_size(uint64_t total, uint64_t requested, uint64_t *out,
                                             struct floe_error *err);

#ifdef __cplusplus
}
#endif

#endif
