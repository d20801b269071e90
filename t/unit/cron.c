/* cron.c: unit tests for jobs/cron (parsing, previous and next slots in UTC). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "jobs/cron.h"
#include "tap.h"

/* "YYYY-MM-DD HH:MM[:SS]" UTC -> time_t. */
static time_t at(const char *s)
{
    struct tm tm = {0};
    int sec = 0;

    if (sscanf(s, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &sec) < 5)
        return -2;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_sec = sec;
    return timegm(&tm);
}

static const char *fmt(time_t t)
{
    static char buf[4][32];
    static int i;
    struct tm tm;

    i = (i + 1) % 4;
    if (t < 0 || gmtime_r(&t, &tm) == NULL)
        return "none";
    strftime(buf[i], sizeof buf[i], "%Y-%m-%d %H:%M", &tm);
    return buf[i];
}

static const struct {
    const char *expr, *now, *prev, *next;
} slots[] = {
    {"* * * * *", "2026-03-10 12:34:56", "2026-03-10 12:34", "2026-03-10 12:35"},
    {"* * * * *", "2026-03-10 12:34:00", "2026-03-10 12:34", "2026-03-10 12:35"},
    {"*/15 * * * *", "2026-03-10 12:34:00", "2026-03-10 12:30", "2026-03-10 12:45"},
    {"0 * * * *", "2026-03-10 00:00:00", "2026-03-10 00:00", "2026-03-10 01:00"},
    {"0 0 * * *", "2026-01-01 00:00:30", "2026-01-01 00:00", "2026-01-02 00:00"},
    {"30 2 * * *", "2026-01-01 01:00", "2025-12-31 02:30", "2026-01-01 02:30"},
    {"0 9-17/4 * * mon-fri", "2026-03-14 12:00", "2026-03-13 17:00", "2026-03-16 09:00"},
    {"0 0 1 * *", "2026-03-15 00:00", "2026-03-01 00:00", "2026-04-01 00:00"},
    {"0 0 31 * *", "2026-05-01 00:00", "2026-03-31 00:00", "2026-05-31 00:00"},
    {"0 12 29 2 *", "2026-06-01 00:00", "2024-02-29 12:00", "2028-02-29 12:00"},
    {"0 0 1,15 * 0", "2026-03-10 00:00", "2026-03-08 00:00", "2026-03-15 00:00"},
    {"0 0 * * 7", "2026-03-10 00:00", "2026-03-08 00:00", "2026-03-15 00:00"},
    {"5,10-12 3 * jan,dec *", "2026-06-01 00:00", "2026-01-31 03:12", "2026-12-01 03:05"},
    {"59 23 31 12 *", "2026-12-31 23:59", "2026-12-31 23:59", "2027-12-31 23:59"},
    {"7/20 * * * *", "2026-03-10 12:30", "2026-03-10 12:27", "2026-03-10 12:47"},
    {"@hourly", "2026-03-10 12:30", "2026-03-10 12:00", "2026-03-10 13:00"},
    {"@weekly", "2026-03-10 12:30", "2026-03-08 00:00", "2026-03-15 00:00"},
    {"0 0 30 2 *", "2026-03-10 12:30", "none", "none"},
};

static const char *const bad[] = {
    "", "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *",
    "* * 32 * *", "* * * 13 * ", "* * * * 8", "*/0 * * * *", "5-1 * * * *",
    "a * * * *", "1,,2 * * * *", "1- * * * *", "* * * foo *", "@never",
    "-1 * * * *", "1/x * * * *", "100 * * * *", "*/100 * * * *",
};

int main(void)
{
    const char *why;
    cron_t c;

    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
        time_t now = at(slots[i].now);

        if (!ok(cron_parse(slots[i].expr, &c, &why), "parse '%s'", slots[i].expr)) {
            diag("why: %s", why);
            continue;
        }
        is_str(fmt(cron_prev(&c, now)), slots[i].prev, "'%s' prev of %s",
               slots[i].expr, slots[i].now);
        is_str(fmt(cron_next(&c, now)), slots[i].next, "'%s' next after %s",
               slots[i].expr, slots[i].now);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ok(!cron_parse(bad[i], &c, &why) && why != NULL, "reject '%s' (%s)", bad[i],
           why ? why : "-");

    /* prev(t) <= t < next(t), and prev(next(t)) == next(t), over a sweep. */
    if (cron_parse("*/7 1-22/3 * * 1-5", &c, &why)) {
        time_t t = at("2026-02-20 00:00"), bad_at = 0;

        for (int i = 0; i < 5000 && !bad_at; i++, t += 997) {
            time_t p = cron_prev(&c, t), n = cron_next(&c, t);

            if (p < 0 || n < 0 || p > t || n <= t || cron_prev(&c, n) != n ||
                cron_next(&c, p) <= t)
                bad_at = t;
        }
        ok(!bad_at, "prev <= t < next over a sweep%s%s", bad_at ? " at " : "",
           bad_at ? fmt(bad_at) : "");
    }
    return done_testing();
}
