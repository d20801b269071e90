/* cron.h: 5-field cron expressions in UTC and their previous/next slots. */
#ifndef PROMPTD_CRON_H
#define PROMPTD_CRON_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* "minute hour day-of-month month day-of-week", each field "*", numbers,
 * lists (a,b), ranges (a-b) and steps (*\/n, a-b/n, a/n = a-max/n);
 * months JAN..DEC and days SUN..SAT by name too (day 7 is Sunday).  As in
 * Vixie cron, when both day fields are restricted a day matching either
 * runs.  Also @yearly @monthly @weekly @daily @hourly. */
typedef struct cron {
    uint64_t minute;   /* bit 0..59 */
    uint32_t hour;     /* bit 0..23 */
    uint32_t dom;      /* bit 1..31 */
    uint16_t month;    /* bit 1..12 */
    uint8_t dow;       /* bit 0..6, Sunday 0 */
    bool dom_any, dow_any;
} cron_t;

/* Parse expr into *c; false (with a short reason in *why, static) when it
 * is not a valid expression. */
bool cron_parse(const char *expr, cron_t *c, const char **why);

/* The latest minute <= t that matches, or -1 when none within 8 years. */
time_t cron_prev(const cron_t *c, time_t t);

/* The earliest minute > t that matches, or -1 when none within 8 years. */
time_t cron_next(const cron_t *c, time_t t);

#endif
