/*
 * test_retrieve_plan.c - segment planning of job-output downloads: archive-aligned segments,
 * the composition property that lets segment hashes combine into the job's hash, and segment
 * size selection.
 */
#include "t_util.h"

#include "floe/range.h"
#include "floe/retrieve.h"
#include "floe/treehash.h"

#include <stdlib.h>
#include <string.h>

#define MIB FLOE_MIB

static void test_retrieve_plan_whole_output(void **state)
{
    (void)state;
    struct floe_byte_range r;
    assert_int_equal(floe_retrieve_plan(9 * MIB + 5, 0, 2 * MIB, 0, NULL), 5);
    floe_retrieve_plan(9 * MIB + 5, 0, 2 * MIB, 4, &r);
    assert_int_equal(r.first, 8 * MIB);
    assert_int_equal(r.last, 9 * MIB + 4);
    assert_int_equal(floe_retrieve_plan(1, 0, 32 * MIB, 0, &r), 1);
    assert_int_equal(r.last, 0);
    assert_int_equal(floe_retrieve_plan(0, 0, MIB, 0, NULL), 0);
    assert_int_equal(floe_retrieve_plan(4 * MIB, 0, 4 * MIB, 0, NULL), 1);
}

static void test_retrieve_plan_aligns_to_archive_offsets(void **state)
{
    (void)state;
    struct floe_byte_range r;
    /* a job for archive bytes [3 MiB, 11 MiB): 4 MiB segments at archive 4, 8 MiB */
    uint64_t n = floe_retrieve_plan(8 * MIB, 3 * MIB, 4 * MIB, 0, NULL);
    assert_int_equal(n, 3);
    floe_retrieve_plan(8 * MIB, 3 * MIB, 4 * MIB, 0, &r);
    assert_int_equal(r.first, 0);
    assert_int_equal(r.last, MIB - 1);
    floe_retrieve_plan(8 * MIB, 3 * MIB, 4 * MIB, 1, &r);
    assert_int_equal(r.first, MIB);
    assert_int_equal(r.last, 5 * MIB - 1);
    floe_retrieve_plan(8 * MIB, 3 * MIB, 4 * MIB, 2, &r);
    assert_int_equal(r.first, 5 * MIB);
    assert_int_equal(r.last, 8 * MIB - 1);
    /* every segment covers the output exactly once, for random shapes */
    for (int k = 0; k < 2000; k++) {
        uint64_t seg = MIB << t_rand_below(5);
        uint64_t first = MIB * t_rand_below(64);
        uint64_t total = 1 + t_rand_below(70 * MIB);
        uint64_t cnt = floe_retrieve_plan(total, first, seg, 0, NULL), next = 0;
        for (uint64_t i = 0; i < cnt; i++) {
            floe_retrieve_plan(total, first, seg, i, &r);
            assert_int_equal(r.first, next);
            assert_true(r.last >= r.first);
            assert_true(floe_range_len(r) <= seg);
            /* each segment ends on an archive multiple of seg, or at the output's end */
            assert_true((first + r.last + 1) % seg == 0 || r.last == total - 1);
            next = r.last + 1;
        }
        assert_int_equal(next, total);
    }
}

/* For a tree-hash-aligned range, every segment is a node of the archive tree and the segment
 * hashes combine into the range's tree hash. */
static void test_retrieve_plan_segments_compose_into_job_hash(void **state)
{
    (void)state;
    size_t size = 13 * MIB + 777;
    uint8_t *data = malloc(size);
    t_fill_random(data, size);
    struct floe_byte_range ranges[] = {{0, size - 1},
                                       {8 * MIB, size - 1},
                                       {4 * MIB, 8 * MIB - 1},
                                       {12 * MIB, size - 1},
                                       {0, 8 * MIB - 1}};
    for (size_t k = 0; k < sizeof(ranges) / sizeof(ranges[0]); k++) {
        struct floe_byte_range jr = ranges[k];
        assert_true(floe_range_is_tree_aligned(jr, size));
        uint64_t total = floe_range_len(jr);
        uint8_t want[FLOE_HASH_BYTES];
        floe_treehash_part(data + jr.first, total, NULL, want, NULL);
        for (uint64_t seg = MIB; seg <= 16 * MIB; seg *= 2) {
            uint64_t n = floe_retrieve_plan(total, jr.first, seg, 0, NULL);
            uint8_t(*trees)[FLOE_HASH_BYTES] = calloc(n, FLOE_HASH_BYTES);
            for (uint64_t i = 0; i < n; i++) {
                struct floe_byte_range s;
                floe_retrieve_plan(total, jr.first, seg, i, &s);
                struct floe_byte_range in_archive = {jr.first + s.first, jr.first + s.last};
                assert_true(floe_range_is_tree_aligned(in_archive, size));
                floe_treehash_part(data + in_archive.first, floe_range_len(s), NULL, trees[i],
                                   NULL);
            }
            uint8_t got[FLOE_HASH_BYTES];
            floe_treehash_combine((const uint8_t(*)[FLOE_HASH_BYTES])trees, n, got);
            assert_memory_equal(got, want, FLOE_HASH_BYTES);
            free(trees);
        }
    }
    free(data);
}

static void test_retrieve_pick_segment_size(void **state)
{
    (void)state;
    struct floe_error err = {0};
    uint64_t s = 0;
    assert_int_equal(floe_retrieve_pick_segment_size(100, 0, &s, &err), FLOE_OK);
    assert_int_equal(s, FLOE_RETRIEVE_DEFAULT_SEGMENT_SIZE);
    assert_int_equal(floe_retrieve_pick_segment_size(100, 8 * MIB, &s, &err), FLOE_OK);
    assert_int_equal(s, 8 * MIB);
    /* 10 TiB at 1 MiB would be 10 million segments: raised to keep <= 65,536 */
    assert_int_equal(floe_retrieve_pick_segment_size((uint64_t)10 << 40, MIB, &s, &err), FLOE_OK);
    assert_true(((uint64_t)10 << 40) / s < 65536);
    s = 7;
    assert_int_equal(floe_retrieve_pick_segment_size(100, 3 * MIB, &s, &err), FLOE_E_RANGE);
    assert_int_equal(s, 7); /* out-param untouched on failure */
    assert_int_equal(floe_retrieve_pick_segment_size(100, 1000, &s, &err), FLOE_E_RANGE);
}

int main(void)
{
    t_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retrieve_plan_whole_output),
        cmocka_unit_test(test_retrieve_plan_aligns_to_archive_offsets),
        cmocka_unit_test(test_retrieve_plan_segments_compose_into_job_hash),
        cmocka_unit_test(test_retrieve_pick_segment_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
