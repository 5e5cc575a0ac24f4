/*
 * filehash.c - hash a whole file: tree hash, linear SHA-256, size.
 *
 * DESIGN
 * A ring of NSLOTS buffers of SLOT_BYTES each. The calling thread reads a slot (pread or
 * read), hands the slot's leaves to the pool as one task, then runs the linear SHA-256 over
 * the same slot while the leaves are hashed beside it. Before a slot is refilled the caller
 * waits for its leaf task, so the pool never sees a buffer being overwritten (ownership of a
 * slot's bytes is shared read-only between the caller's linear pass and one leaf task; the
 * slot returns to the reader only when both are done). Slots are a multiple of 1 MiB, so
 * every slot starts on a leaf boundary; the reader fills a slot completely unless EOF comes.
 * Leaf hashes are appended in file order and combined at the end (32 bytes per MiB).
 */
#include "floe/filehash.h"

#include "alloc.h"
#include "latch.h"
#include "sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SLOT_BYTES ((size_t)16 << 20)
#define NSLOTS 4

struct slot {
    uint8_t *buf;
    size_t len;
    uint64_t first_leaf;
    struct floe_latch idle;             /* open unless a leaf task is running on buf */
    uint8_t (*leaves)[FLOE_HASH_BYTES]; /* where the task writes; owned by the caller */
};

static void slot_task(void *arg)
{
    struct slot *s = arg;
    floe_treehash_leaves(s->buf, s->len, s->leaves);
    floe_latch_count_down(&s->idle);
}

static void slot_wait(struct slot *s)
{
    floe_latch_wait(&s->idle);
}

/* Fill buf with up to cap bytes; returns bytes read (less only at EOF) or -errno. */
static ssize_t fill(int fd, bool seekable, uint64_t off, uint8_t *buf, size_t cap)
{
    size_t got = 0;
    while (got < cap) {
        ssize_t r = seekable ? pread(fd, buf + got, cap - got, (off_t)(off + got))
                             : read(fd, buf + got, cap - got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

int floe_filehash(const char *path, struct floe_hashpool *pool, struct floe_filehash_result *out,
                  struct floe_error *err)
{
    int rc = FLOE_OK;
    bool is_stdin = strcmp(path, "-") == 0;
    int fd = is_stdin ? 0 : open(path, O_RDONLY | O_CLOEXEC);
    struct slot slots[NSLOTS];
    memset(slots, 0, sizeof(slots));
    uint8_t(*leaves)[FLOE_HASH_BYTES] = NULL;
    size_t leaves_cap = 0;
    uint64_t total = 0, nleaves = 0;
    struct floe_sha256 lin;
    int nslots_ready = 0;

    if (fd < 0) {
        rc = floe_error_set_errno(err, FLOE_E_IO, errno, path, "cannot open %s", path);
        goto out;
    }
    off_t seek_probe = lseek(fd, 0, SEEK_CUR);
    bool seekable = !is_stdin && seek_probe >= 0;
    for (int i = 0; i < NSLOTS; i++) {
        void *m =
            mmap(NULL, SLOT_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) {
            rc = floe_error_set_errno(err, FLOE_E_NOMEM, errno, NULL,
                                      "cannot allocate %d read buffers of 16 MiB", NSLOTS);
            goto out;
        }
        madvise(m, SLOT_BYTES, MADV_HUGEPAGE);
        slots[i].buf = m;
        floe_latch_init(&slots[i].idle, 0);
        nslots_ready++;
    }
    floe_sha256_init(&lin);

    for (uint64_t k = 0;; k++) {
        struct slot *s = &slots[k % NSLOTS];
        slot_wait(s);
        ssize_t got = fill(fd, seekable, total, s->buf, SLOT_BYTES);
        if (got < 0) {
            rc = floe_error_set_errno(err, FLOE_E_IO, (int)-got, path, "cannot read %s", path);
            goto out;
        }
        if (got == 0)
            break;
        s->len = (size_t)got;
        uint64_t slot_leaves = floe_treehash_leaf_count(s->len);
        if (nleaves + slot_leaves > leaves_cap) {
            /* grow with every task finished: tasks hold pointers into the leaf array */
            for (int i = 0; i < NSLOTS; i++)
                slot_wait(&slots[i]);
            leaves_cap = leaves_cap ? leaves_cap * 2 : 1024;
            while (leaves_cap < nleaves + slot_leaves)
                leaves_cap *= 2;
            leaves = floe_xrealloc(leaves, leaves_cap * FLOE_HASH_BYTES);
        }
        s->leaves = leaves + nleaves;
        nleaves += slot_leaves;
        if (pool) {
            floe_latch_arm(&s->idle, 1);
            floe_hashpool_submit(pool, slot_task, s);
        } else {
            floe_treehash_leaves(s->buf, s->len, s->leaves);
        }
        floe_sha256_update(&lin, s->buf, s->len);
        total += s->len;
        if (s->len < SLOT_BYTES)
            break; /* fill() stops short only at end of file */
    }
    for (int i = 0; i < nslots_ready; i++)
        slot_wait(&slots[i]);
    floe_treehash_combine((const uint8_t(*)[FLOE_HASH_BYTES])leaves, nleaves, out->tree);
    floe_sha256_final(&lin, out->linear);
    out->size = total;
out:
    for (int i = 0; i < nslots_ready; i++) {
        slot_wait(&slots[i]);
        floe_latch_destroy(&slots[i].idle);
        munmap(slots[i].buf, SLOT_BYTES);
    }
    free(leaves);
    if (fd >= 0 && !is_stdin)
        close(fd);
    return rc;
}
