/* t/unit/clock.c: the monotonic clock, sleeping and equal-jitter backoff (no timing upper bounds). */
#include <limits.h>

#include "core/clock.h"
#include "tap.h"

/* Draws of clock_backoff_ms per (base, max, attempt): enough to meet both
 * ends of the jitter range without making the test slow. */
#define DRAWS 200

/* Successive readings never go back, in seconds and in milliseconds. */
static void
test_monotonic(void)
{
    double s = clock_now(), s2;
    long long ms = clock_now_ms(), ms2;
    int back_s = 0, back_ms = 0;

    for (int i = 0; i < 10000; i++) {
        s2 = clock_now();
        ms2 = clock_now_ms();
        back_s += s2 < s;
        back_ms += ms2 < ms;
        s = s2;
        ms = ms2;
    }
    ok(s > 0, "clock_now is positive");
    is_int(back_s, 0, "clock_now never goes back");
    is_int(back_ms, 0, "clock_now_ms never goes back");
}

/* clock_now_ms is the same clock as clock_now, truncated to milliseconds:
 * a reading in seconds lies between the milliseconds read around it (a
 * millisecond of slack for the truncation and double rounding). */
static void
test_consistent(void)
{
    int bad = 0;

    for (int i = 0; i < 1000; i++) {
        long long before = clock_now_ms();
        double mid = clock_now() * 1000;
        long long after = clock_now_ms();

        bad += (double)before > mid + 1 || mid > (double)after + 1;
    }
    is_int(bad, 0, "clock_now * 1000 lies between clock_now_ms readings around it");
}

/* Sleeps last at least what was asked (only a lower bound: never a timed test). */
static void
test_sleep(void)
{
    static const long asks[] = {1, 5, 20, 1001};

    for (size_t i = 0; i < sizeof asks / sizeof asks[0]; i++) {
        long long t0 = clock_now_ms();
        double s0 = clock_now();

        clock_sleep_ms(asks[i]);
        ok(clock_now_ms() - t0 >= asks[i], "clock_sleep_ms(%ld) sleeps at least %ld ms",
           asks[i], asks[i]);
        ok(clock_now() > s0, "clock_now advanced across clock_sleep_ms(%ld)", asks[i]);
    }
    clock_sleep_ms(0);
    ok(1, "clock_sleep_ms(0) returns");
    clock_sleep_ms(-1);
    ok(1, "clock_sleep_ms(-1) returns");
    clock_sleep_ms(LONG_MIN);
    ok(1, "clock_sleep_ms(LONG_MIN) returns");
}

/* The nominal delay d = min(base * 2^(attempt-1), max), without overflow;
 * attempt <= 1 is the base itself (capped). */
static long
nominal(long base, long max, int attempt)
{
    int k = attempt > 1 ? attempt - 1 : 0;

    if (k < 62 && base <= (max >> k))
        return base << k;
    return max;
}

/* Every draw for (base, max, attempt) lies in [d/2, d]; false (with a
 * diagnostic) at the first that does not. */
static int
backoff_in_range(long base, long max, int attempt)
{
    long d = nominal(base, max, attempt);

    for (int i = 0; i < DRAWS; i++) {
        long got = clock_backoff_ms(base, max, attempt);

        if (got < d / 2 || got > d) {
            diag("clock_backoff_ms(%ld, %ld, %d) = %ld, outside [%ld, %ld]",
                 base, max, attempt, got, d / 2, d);
            return 0;
        }
    }
    return 1;
}

static void
test_backoff(void)
{
    static const struct { long base, max; } cases[] = {
        {100, 30000},   /* doubles up to the cap at attempt 10 */
        {1, 1000},
        {3, 1001},      /* odd nominal delays: d/2 is not whole */
        {250, 250},     /* base == max */
        {5000, 1000},   /* base > max: always max */
        {1, LONG_MAX / 4},  /* no cap within 40 attempts */
        {0, 1000},      /* no delay at all */
    };
    static const int huge[] = {63, 64, 100, 1000, 1 << 20};

    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int good = 1;

        for (int n = 1; n <= 40 && good; n++)
            good = backoff_in_range(cases[c].base, cases[c].max, n);
        ok(good, "clock_backoff_ms(%ld, %ld, 1..40) within [d/2, d]",
           cases[c].base, cases[c].max);
    }
    for (size_t h = 0; h < sizeof huge / sizeof huge[0]; h++)
        ok(backoff_in_range(100, 30000, huge[h]) && backoff_in_range(5000, 1000, huge[h]),
           "clock_backoff_ms at attempt %d stays within [max/2, max]", huge[h]);
    ok(backoff_in_range(100, 30000, 0) && backoff_in_range(100, 30000, -5),
       "attempts 0 and -5 count as the first");
    is_int(nominal(100, 30000, 9), 25600, "nominal delay before the cap");
    is_int(nominal(100, 30000, 10), 30000, "nominal delay capped");
}

int
main(void)
{
    test_monotonic();
    test_consistent();
    test_sleep();
    test_backoff();
    return done_testing();
}
