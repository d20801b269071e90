/* clock.c: the monotonic clock, sleeping, and jittered exponential backoff. */
#include "core/clock.h"

#include <errno.h>
#include <limits.h>
#include <time.h>

#include "crypto/random.h"

double
clock_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

long long
clock_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
clock_sleep_ms(long ms)
{
    struct timespec ts;

    if (ms <= 0)
        return;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

long
clock_backoff_ms(long base_ms, long max_ms, int attempt)
{
    double d = (double)base_ms, v;
    unsigned int r;

    if (base_ms <= 0 || max_ms <= 0)
        return 0;
    for (int i = 1; i < attempt && d < (double)max_ms; i++)
        d *= 2;
    if (d > (double)max_ms)
        d = (double)max_ms;
    random_bytes(&r, sizeof r);
    v = d / 2 + (d / 2) * ((double)r / UINT_MAX);
    return v >= (double)max_ms ? max_ms : (long)v;  /* no overflow near LONG_MAX */
}
