/* clock.h: the monotonic clock, sleeping, and jittered exponential backoff. */
#ifndef PROMPTD_CLOCK_H
#define PROMPTD_CLOCK_H

/* CLOCK_MONOTONIC in seconds / in milliseconds: for durations and
 * deadlines only, never for wall-clock time. */
double clock_now(void);
long long clock_now_ms(void);

/* Sleep ms milliseconds, resuming after signals; ms <= 0 returns at once. */
void clock_sleep_ms(long ms);

/* The delay before retry number attempt (1-based) in milliseconds:
 * d = min(base_ms * 2^(attempt-1), max_ms), then a uniform draw in
 * [d/2, d] ("equal jitter"), so retries of many clients spread out while
 * each still waits at least half the nominal delay.  A base or maximum
 * of 0 or less gives 0. */
long clock_backoff_ms(long base_ms, long max_ms, int attempt);

#endif
