/*
 * test_bwlimit.c - the --bwlimit timetable parser and the rates it gives at a time, and the
 * token bucket (take, charge into debt, wait) on a simulated clock.
 */
#include "t_util.h"

#include "bwlimit.h"

#include <string.h>

#define KI 1024.0
#define MI (1024.0 * 1024.0)

static void rates_at(const struct floe_bwsched *s, int wday, int h, int m, double up, double down)
{
    double r[2];
    floe_bwsched_rates(s, wday, h, m, r);
    assert_true(r[0] == up);
    assert_true(r[1] == down);
}

static void test_bwlimit_plain_rates(void **state)
{
    (void)state;
    struct floe_bwsched s;
    struct floe_error err = {0};
    assert_int_equal(floe_bwsched_parse("10M", &s, &err), FLOE_OK);
    rates_at(&s, 3, 12, 0, 10 * MI, 10 * MI);
    assert_int_equal(floe_bwsched_parse("512", &s, &err), FLOE_OK); /* bare: KiB/s */
    rates_at(&s, 0, 0, 0, 512 * KI, 512 * KI);
    assert_int_equal(floe_bwsched_parse("10M:100M", &s, &err), FLOE_OK);
    rates_at(&s, 0, 0, 0, 10 * MI, 100 * MI);
    assert_int_equal(floe_bwsched_parse("off:1.5G", &s, &err), FLOE_OK);
    rates_at(&s, 0, 0, 0, 0, 1.5 * 1024 * MI);
    assert_int_equal(floe_bwsched_parse("100B:2k", &s, &err), FLOE_OK);
    rates_at(&s, 0, 0, 0, 100, 2 * KI);
    assert_int_equal(floe_bwsched_parse("off", &s, &err), FLOE_OK);
    rates_at(&s, 0, 0, 0, 0, 0);
    assert_int_equal(floe_bwsched_parse("", &s, &err), FLOE_OK);
    rates_at(&s, 0, 0, 0, 0, 0);
}

static void test_bwlimit_timetable(void **state)
{
    (void)state;
    struct floe_bwsched s;
    struct floe_error err = {0};
    assert_int_equal(floe_bwsched_parse("08:00,512k 12:00,10M 13:00,512k:1M 18:00,off", &s, &err),
                     FLOE_OK);
    assert_int_equal(s.n, 4);
    rates_at(&s, 1, 7, 59, 0, 0); /* before the first entry: the last one (18:00, off) */
    rates_at(&s, 1, 8, 0, 512 * KI, 512 * KI);
    rates_at(&s, 1, 12, 30, 10 * MI, 10 * MI);
    rates_at(&s, 1, 13, 0, 512 * KI, MI);
    rates_at(&s, 1, 23, 59, 0, 0);
    /* entries in any order; weekly tables wrap around the week */
    assert_int_equal(floe_bwsched_parse("Sat-10:00,off Mon-08:00,1M", &s, &err), FLOE_OK);
    rates_at(&s, 0, 12, 0, 0, 0);  /* Sunday: still Saturday's entry */
    rates_at(&s, 1, 7, 0, 0, 0);   /* Monday before 08:00 */
    rates_at(&s, 1, 8, 0, MI, MI); /* Monday 08:00 on ... */
    rates_at(&s, 5, 23, 0, MI, MI);
    rates_at(&s, 6, 10, 0, 0, 0);
}

static void test_bwlimit_bad_specs(void **state)
{
    (void)state;
    static const struct {
        const char *spec, *msg;
    } bad[] = {
        {"fast", "a rate is a number"},
        {"10X", "a rate is a number"},
        {"-1M", "a rate is a number"},
        {"10M:", "a rate is a number"},
        {"24:00,1M", "the time is HH:MM"},
        {"8:00,1M", "the time is HH:MM"},
        {"08:60,1M", "the time is HH:MM"},
        {"08:00,1M 18:00", "a timetable entry is HH:MM,RATE"},
        {"08:00,nope", "a rate is a number"},
        {"Xyz-08:00,1M", "the day is one of"},
        {"08:00,1M Mon-09:00,2M", "every entry or in none"},
        {"08:00,1M 08:00,2M", "same time"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct floe_bwsched s;
        memset(&s, 0x5a, sizeof(s));
        struct floe_error err = {0};
        assert_int_equal(floe_bwsched_parse(bad[i].spec, &s, &err), FLOE_E_INVALID_ARG);
        if (!strstr(err.message, bad[i].msg))
            fail_msg("'%s': '%s' lacks '%s'", bad[i].spec, err.message, bad[i].msg);
        assert_int_equal(s.n, 0x5a5a5a5a); /* untouched on failure */
    }
    /* too many entries */
    char big[64 * 12] = "";
    for (int h = 0; h < 24; h++)
        for (int m = 0; m < 60 && strlen(big) + 12 < sizeof(big); m += 30) {
            char e[16];
            snprintf(e, sizeof(e), "%02d:%02d,1M ", h, m);
            strncat(big, e, sizeof(big) - strlen(big) - 1);
        }
    struct floe_bwsched s;
    struct floe_error err = {0};
    assert_int_equal(floe_bwsched_parse(big, &s, &err), FLOE_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "at most"));
}

static void test_bwlimit_bucket(void **state)
{
    (void)state;
    struct floe_bwbucket b = {0};
    uint64_t t = 1000000000ull;
    floe_bwbucket_set_rate(&b, 1e6, t); /* 1 MB/s: burst 300 kB, starts empty */
    assert_int_equal(floe_bwbucket_take(&b, 4096, t), 0);
    assert_true(floe_bwbucket_wait_ns(&b, t) > 4000000); /* 4096 B at 1 MB/s: ~4.1 ms */
    t += 10000000;                                       /* 10 ms: 10,000 B */
    assert_int_equal(floe_bwbucket_take(&b, 65536, t), 10000);
    assert_int_equal(floe_bwbucket_take(&b, 1, t), 0);
    t += 5000000000ull; /* 5 s idle: capped at the burst, 300 kB */
    assert_int_equal(floe_bwbucket_take(&b, 1 << 20, t), 300000);
    /* a receive is charged whole, into debt, then waits until the debt is repaid */
    t += 1000000; /* 1,000 B */
    assert_true(floe_bwbucket_charge(&b, 50000, t));
    assert_false(floe_bwbucket_charge(&b, 1, t));
    assert_true(floe_bwbucket_wait_ns(&b, t) >= 49000000ull + 4000000ull);
    t += 60000000; /* 60 ms later: the debt of 49,000 B is repaid, 11,000 B saved */
    assert_true(floe_bwbucket_charge(&b, 1, t));
    /* over any long stretch, take() grants the rate: 10 s of 1 ms steps */
    uint64_t total = 0;
    for (int i = 0; i < 10000; i++) {
        t += 1000000;
        total += floe_bwbucket_take(&b, 1 << 20, t);
    }
    assert_true(total >= 9990000 && total <= 10000000 + 300000);
    /* unlimited */
    floe_bwbucket_set_rate(&b, 0, t);
    assert_int_equal(floe_bwbucket_take(&b, 12345, t), 12345);
    assert_true(floe_bwbucket_charge(&b, 1 << 30, t));
    assert_int_equal(floe_bwbucket_wait_ns(&b, t), 0);
}

static void test_bwlimit_process_wide(void **state)
{
    (void)state;
    struct floe_error err = {0};
    assert_false(floe_bwlimit_active());
    assert_int_equal(floe_bwlimit_set("nonsense", &err), FLOE_E_INVALID_ARG);
    assert_false(floe_bwlimit_active());
    assert_int_equal(floe_bwlimit_set("1M:off", &err), FLOE_OK);
    assert_true(floe_bwlimit_active());
    assert_true(floe_bwlimit_rate(FLOE_BW_UP) == MI);
    assert_true(floe_bwlimit_rate(FLOE_BW_DOWN) == 0);
    assert_int_equal(floe_bwlimit_take(FLOE_BW_DOWN, 777), 777);
    assert_int_equal(floe_bwlimit_set("off", &err), FLOE_OK);
    assert_false(floe_bwlimit_active());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bwlimit_plain_rates),  cmocka_unit_test(test_bwlimit_timetable),
        cmocka_unit_test(test_bwlimit_bad_specs),    cmocka_unit_test(test_bwlimit_bucket),
        cmocka_unit_test(test_bwlimit_process_wide),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
