/* quotaseq.c: the worker's cache of the request counters it counted on, so that a read-only request's hit is one nextval, not a counter lookup. */
#include "http/quotaseq.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/str.h"

/* Open addressing by (user, key), up to QUOTASEQ_PROBES slots from the
 * home one; with more users than slots some go the lookup's way, which is
 * only slower. */
#define QUOTASEQ_SLOTS 4096
#define QUOTASEQ_PROBES 8
/* Seconds before the window's end (by this host's clock) from which the
 * entry is left alone: the statement checks the window by the database's
 * clock, and one answered "over" costs a fallback. */
#define QUOTASEQ_MARGIN 1

/* One window's counter as the lookup (quota_hit_claims) found it: the
 * hits are nextval(seq) - base, the window is unlimited when lim < 0. */
typedef struct {
    unsigned char user[16], key[16];   /* key all zero: not an API key's */
    unsigned seq;                      /* OID; 0 when unlimited */
    bool used;
    long long lim, base, start;        /* start: Unix seconds */
} quotaseq_entry_t;

static quotaseq_entry_t cache[QUOTASEQ_SLOTS];
static unsigned cache_epoch;

/* A hex digit's value (c is one: uuid_valid checked). */
static unsigned hexval(char c)
{
    if (c >= '0' && c <= '9')
        return (unsigned)(c - '0');
    return (unsigned)((c | 0x20) - 'a' + 10);
}

/* s (a UUID's text, or NULL for all zero) as 16 bytes; false when it is
 * not one. */
static bool uuid_bytes(const char *s, unsigned char *out)
{
    if (s == NULL) {
        memset(out, 0, 16);
        return true;
    }
    if (!uuid_valid(s))
        return false;
    for (int i = 0, j = 0; i < 16; i++, j += 2) {
        if (s[j] == '-')
            j++;
        out[i] = (unsigned char)(hexval(s[j]) << 4 | hexval(s[j + 1]));
    }
    return true;
}

bool quotaseq_key(quotaseq_key_t *qk, const char *user, const char *key)
{
    unsigned h = 2166136261u;

    if (!uuid_bytes(user, qk->user) || !uuid_bytes(key, qk->key))
        return false;
    for (int i = 0; i < 16; i++)
        h = ((h ^ qk->user[i]) * 16777619u ^ qk->key[i]) * 16777619u;
    qk->home = (int)(h % QUOTASEQ_SLOTS);
    return true;
}

static bool holds(const quotaseq_entry_t *e, const quotaseq_key_t *qk)
{
    return e->used && memcmp(e->user, qk->user, 16) == 0 && memcmp(e->key, qk->key, 16) == 0;
}

/* The entry of qk from its home slot, or NULL. */
static quotaseq_entry_t *find(const quotaseq_key_t *qk)
{
    for (int i = 0; i < QUOTASEQ_PROBES; i++) {
        quotaseq_entry_t *e = &cache[(qk->home + i) % QUOTASEQ_SLOTS];

        if (holds(e, qk))
            return e;
    }
    return NULL;
}

/* Where qk goes: its own entry, else a free one or one whose window is
 * over, else the home slot's. */
static quotaseq_entry_t *place(const quotaseq_key_t *qk)
{
    long long now = (long long)time(NULL);
    quotaseq_entry_t *e = find(qk);

    for (int i = 0; e == NULL && i < QUOTASEQ_PROBES; i++) {
        quotaseq_entry_t *c = &cache[(qk->home + i) % QUOTASEQ_SLOTS];

        if (!c->used || now >= c->start + 60)
            e = c;
    }
    return e ? e : &cache[qk->home];
}

bool quotaseq_lookup(arena_t *a, const quotaseq_key_t *qk, const char **v)
{
    quotaseq_entry_t *e = find(qk);

    if (e == NULL || (long long)time(NULL) >= e->start + 60 - QUOTASEQ_MARGIN)
        return false;
    v[0] = e->seq ? arena_printf(a, "%u", e->seq) : NULL;
    v[1] = arena_printf(a, "%lld", e->lim);
    v[2] = "t";
    v[3] = arena_printf(a, "%lld", e->base);
    v[4] = arena_printf(a, "%lld", e->start);
    return true;
}

/* The column of res's counter (its sequence; base and window start
 * follow), or -1 when res carries none to keep: a fused hit's one row
 * when it counted, quota_hit's (the fallback's) when it answered. */
static int counter_col(const PGresult *res)
{
    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        return -1;
    if (PQnfields(res) == QUOTASEQ_COLS)
        return strcmp(PQgetvalue(res, 0, QUOTASEQ_COLS - 1), "t") == 0 ? QUOTASEQ_COL_SEQ : -1;
    return PQnfields(res) == QUOTASEQ_HIT_COLS ? QUOTASEQ_HIT_COL_SEQ : -1;
}

void quotaseq_settle(const quotaseq_key_t *qk, const PGresult *res, bool hit, unsigned epoch)
{
    const int s = counter_col(res);
    quotaseq_entry_t *e;
    long long lim;

    if (hit && (s != QUOTASEQ_COL_SEQ || epoch != cache_epoch) && (e = find(qk)) != NULL)
        e->used = false;    /* it did not count: the fallback's answer may hold the next */
    if (s < 0 || epoch != cache_epoch || (hit && s == QUOTASEQ_COL_SEQ) ||
        PQgetisnull(res, 0, s + 2))
        return;
    lim = PQgetisnull(res, 0, 0) ? -1 : atoll(PQgetvalue(res, 0, 0));
    if (lim >= 0 && (PQgetisnull(res, 0, s) || PQgetisnull(res, 0, s + 1)))
        return;
    e = place(qk);
    memcpy(e->user, qk->user, 16);
    memcpy(e->key, qk->key, 16);
    e->lim = lim;
    e->seq = lim >= 0 ? (unsigned)strtoul(PQgetvalue(res, 0, s), NULL, 10) : 0;
    e->base = lim >= 0 ? atoll(PQgetvalue(res, 0, s + 1)) : 0;
    e->start = atoll(PQgetvalue(res, 0, s + 2));
    e->used = true;
}

const unsigned *quotaseq_epoch(void)
{
    return &cache_epoch;
}

void quotaseq_forget(const char *user)
{
    unsigned char u[16];

    cache_epoch++;
    if (user == NULL || !uuid_bytes(user, u)) {
        memset(cache, 0, sizeof(cache));
        return;
    }
    for (int i = 0; i < QUOTASEQ_SLOTS; i++)
        if (cache[i].used && memcmp(cache[i].user, u, 16) == 0)
            cache[i].used = false;
}
