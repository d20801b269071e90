/* cron.c: parse 5-field cron expressions and find the slots around a time (UTC). */
#include "jobs/cron.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CRON_SEARCH_LIMIT (8L * 366 * 24 * 3600) /* seconds searched either way */
#define CRON_FIELD_MAX 128

typedef struct {
    int lo, hi;
    const char *const *names; /* index + base = value, or NULL */
    int name_base;
} cron_range_t;

static const char *const cron_months[] = {
    "jan", "feb", "mar", "apr", "may", "jun",
    "jul", "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const cron_days[] = {
    "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

/* A number or a name at *p; advances *p.  -1 when there is neither. */
static int cron_value(const char **p, const cron_range_t *f)
{
    const char *s = *p;
    long v;
    char *end;

    if (isdigit((unsigned char)*s)) {
        v = strtol(s, &end, 10);
        if (end - s > 2)
            return -1;
        *p = end;
        return (int)v;
    }
    for (int i = 0; f->names && f->names[i]; i++) {
        if (strncasecmp(s, f->names[i], 3) == 0 && !isalpha((unsigned char)s[3])) {
            *p = s + 3;
            return i + f->name_base;
        }
    }
    return -1;
}

/* One field ("1,5-10/2,*\/15") into the bit set *bits; false on error. */
static bool cron_field(const char *s, const cron_range_t *f, uint64_t *bits,
                       bool *any)
{
    *bits = 0;
    *any = *s == '*' || *s == '?'; /* Vixie: "*\/2" counts as unrestricted */
    for (;;) {
        int lo, hi, step = 1;

        if (*s == '*' || *s == '?') {
            lo = f->lo;
            hi = f->hi;
            s++;
        } else {
            if ((lo = cron_value(&s, f)) < 0)
                return false;
            hi = lo;
            if (*s == '-') {
                s++;
                if ((hi = cron_value(&s, f)) < 0)
                    return false;
            } else if (*s == '/') {
                hi = f->hi;
            }
        }
        if (*s == '/') {
            char *end;
            long v;

            s++;
            if (!isdigit((unsigned char)*s))
                return false;
            v = strtol(s, &end, 10);
            if (end - s > 2 || v < 1)
                return false;
            step = (int)v;
            s = end;
        }
        if (lo < f->lo || hi > f->hi || lo > hi)
            return false;
        for (int v = lo; v <= hi; v += step)
            *bits |= 1ULL << v;
        if (*s == '\0')
            return true;
        if (*s++ != ',')
            return false;
    }
}

bool cron_parse(const char *expr, cron_t *c, const char **why)
{
    static const struct { const char *name, *expr; } macros[] = {
        {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"},
        {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
        {"@daily", "0 0 * * *"}, {"@midnight", "0 0 * * *"},
        {"@hourly", "0 * * * *"}, {NULL, NULL}};
    static const cron_range_t ranges[5] = {
        {0, 59, NULL, 0}, {0, 23, NULL, 0}, {1, 31, NULL, 0},
        {1, 12, cron_months, 1}, {0, 7, cron_days, 0}};
    static const char *const names[5] = {
        "minute", "hour", "day of month", "month", "day of week"};
    char buf[CRON_FIELD_MAX * 5], *field[5], *save = NULL, *tok;
    uint64_t bits[5];
    bool any[5];
    int n = 0;

    *why = NULL;
    if (expr == NULL || strlen(expr) >= sizeof buf) {
        *why = "missing or too long";
        return false;
    }
    for (int i = 0; macros[i].name; i++)
        if (strcasecmp(expr, macros[i].name) == 0)
            expr = macros[i].expr;
    strcpy(buf, expr);
    for (tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        if (n == 5) {
            *why = "more than 5 fields";
            return false;
        }
        field[n++] = tok;
    }
    if (n != 5) {
        *why = "expected 5 fields: minute hour day-of-month month day-of-week";
        return false;
    }
    for (int i = 0; i < 5; i++) {
        if (!cron_field(field[i], &ranges[i], &bits[i], &any[i])) {
            *why = names[i];
            return false;
        }
    }
    c->minute = bits[0];
    c->hour = (uint32_t)bits[1];
    c->dom = (uint32_t)bits[2];
    c->month = (uint16_t)bits[3];
    c->dow = (uint8_t)((bits[4] | (bits[4] >> 7)) & 0x7f); /* 7 is Sunday */
    c->dom_any = any[2];
    c->dow_any = any[4];
    return true;
}

static bool cron_day_matches(const cron_t *c, const struct tm *tm)
{
    bool dom = (c->dom >> tm->tm_mday) & 1, dow = (c->dow >> tm->tm_wday) & 1;

    if (!c->dom_any && !c->dow_any)
        return dom || dow;
    return dom && dow;
}

/* Walk from t (minute-aligned) in direction dir (+1/-1) to the first
 * matching minute, skipping whole months, days and hours that cannot match. */
static time_t cron_walk(const cron_t *c, time_t t, int dir)
{
    time_t start = t;
    struct tm tm;

    while (dir > 0 ? t - start <= CRON_SEARCH_LIMIT : start - t <= CRON_SEARCH_LIMIT) {
        if (gmtime_r(&t, &tm) == NULL)
            return -1;
        if (!((c->month >> (tm.tm_mon + 1)) & 1)) {
            tm.tm_mday = 1;
            tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
            if (dir > 0)
                tm.tm_mon++;
            t = timegm(&tm) + (dir > 0 ? 0 : -60);
        } else if (!cron_day_matches(c, &tm)) {
            tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
            if (dir > 0)
                tm.tm_mday++;
            t = timegm(&tm) + (dir > 0 ? 0 : -60);
        } else if (!((c->hour >> tm.tm_hour) & 1)) {
            tm.tm_min = tm.tm_sec = 0;
            if (dir > 0)
                tm.tm_hour++;
            t = timegm(&tm) + (dir > 0 ? 0 : -60);
        } else if (!((c->minute >> tm.tm_min) & 1)) {
            t += 60 * dir;
        } else {
            return t;
        }
    }
    return -1;
}

time_t cron_prev(const cron_t *c, time_t t)
{
    return cron_walk(c, t - (t % 60 + 60) % 60, -1);
}

time_t cron_next(const cron_t *c, time_t t)
{
    return cron_walk(c, t - (t % 60 + 60) % 60 + 60, 1);
}
