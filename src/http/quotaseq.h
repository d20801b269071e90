/* quotaseq.h: the worker's cache of the request counters it counted on, so that a read-only request's hit is one nextval, not a counter lookup. */
#ifndef PROMPTD_QUOTASEQ_H
#define PROMPTD_QUOTASEQ_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "core/arena.h"

/* The values quota_seq_claims takes after the claims ($5-$9): the
 * sequence's OID (NULL for an unlimited window), the limit (-1: none),
 * async ("t"), the counter's base, the window's start (Unix seconds). */
#define QUOTASEQ_NPARAMS 5

/* The columns of the fused hit statements (quota.c): quota, remaining,
 * window_s, reset_s, five set_config results, the counter's sequence
 * (OID), base and window start (Unix seconds), then whether it counted. */
#define QUOTASEQ_COLS 13
#define QUOTASEQ_COL_SEQ 9

/* The columns of quota_hit's answer (quota.c, the fallback): the four of
 * the hit, then the counter it counted on, as above. */
#define QUOTASEQ_HIT_COLS 7
#define QUOTASEQ_HIT_COL_SEQ 4

/* A request's (user, key) as the cache knows it: parsed once. */
typedef struct {
    unsigned char user[16], key[16];   /* key all zero: not an API key's */
    int home;                          /* its home slot */
} quotaseq_key_t;

/* Fill qk for user and key (the request's API key or NULL); false when
 * either is not a UUID (such a request keeps no counter). */
bool quotaseq_key(quotaseq_key_t *qk, const char *user, const char *key);

/* When this process holds a current counter for qk, fill v
 * (QUOTASEQ_NPARAMS values, owned by a) and answer true. */
bool quotaseq_lookup(arena_t *a, const quotaseq_key_t *qk, const char **v);

/* After the request's hit: res the prelude's answer (NULL when it failed),
 * hit whether it came from a lookup that answered true, epoch
 * quotaseq_epoch() as it was before the hit was sent.  A hit that did not
 * count (window over, spent, limit changed: the fallback answered) drops
 * the entry; a lookup's answer that counted fills it, and so does the
 * fallback's (quota_hit's counter), unless the counters changed
 * meanwhile. */
void quotaseq_settle(const quotaseq_key_t *qk, const PGresult *res, bool hit, unsigned epoch);

/* The count of changes seen (quotaseq_forget): compare before and after
 * (db.h, prelude_epoch). */
const unsigned *quotaseq_epoch(void);

/* A limit changed: user's entries (NULL: every entry) are dropped and the
 * epoch moves on, so that a hit in flight answers as not counted. */
void quotaseq_forget(const char *user);

#endif
