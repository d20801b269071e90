/* enrich_int.h: what the enrichment files (enrich_*.c) share among themselves; not for other modules. */
#ifndef PROMPTD_ENRICH_INT_H
#define PROMPTD_ENRICH_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "enrich/enrich.h"
#include "enrich/provider.h"

/* Indexes into enrich_stmts[] (enrich_stmts.c). */
enum {
    ST_CACHE_GET, ST_CACHE_PUT, ST_BREAKER_ALLOW, ST_BREAKER_REPORT,
    ST_RECORD_INSERT, ST_RECORD_FINISH, ST_PROMPT_SAVE, ST_USER_KEYS,
    ST_RECORD_PENDING, ST_RECORD_START, ST_PROMPT_EXISTS, ST_BREAKER_RELEASE,
    ST_QUOTA_RESERVE, ST_QUOTA_SETTLE, ST_QUOTA_RELEASE, ST_IMAGE_BY_ID, ST_IMAGE_BY_PATH,
};

/* The run's working state. */
typedef struct run {
    db_tx_t *d;
    const enrich_input_t *in;
    enrich_result_t *res;
    const enrich_settings_t *cfg;
    const char *norm;            /* normalised prompt */
    size_t norm_len;
    long long deadline_ms;       /* clock_now_ms() when the run must end */
    bool time_up;                /* the deadline stopped the run */
    provider_image_t *images;    /* in->images' bytes for the remote links,
                                  * once loaded (enrich_images_load) */
    int images_state;            /* 0 not loaded yet, 1 loaded, -1 unavailable */
    const char *images_gone;     /* -1: which image and why (attempts[]) */
} run_t;

/* enrich_cache.c */

/* Trim surrounding white space, CRLF -> LF (arena copy, its length in
 * *out_len): prompts that differ only so share hashes and cache entries. */
char *enrich_normalise(arena_t *a, const char *s, size_t len, size_t *out_len);
/* The cache key of link l for the run (hex, from the arena). */
char *enrich_cache_key(run_t *x, const chain_link_t *l);
/* A cached answer for this link?  1 hit (res filled), 0 miss, -1 error. */
int enrich_cache_get(run_t *x, const chain_link_t *l, const char *key);
/* Cache a fresh successful result (scoped); false on a database error. */
bool enrich_cache_put(db_tx_t *d, const enrich_input_t *in, enrich_result_t *res);

/* enrich_run.c */

/* Record an attempt of link l (n: attempt number, 0 for none) that took
 * ms milliseconds in res->attempts; the object is the array's. */
cJSON *enrich_attempt(run_t *x, const chain_link_t *l, int n,
                      const char *outcome, double ms);
/* Add the suggestions not yet in res->suggestions. */
void enrich_suggestions(run_t *x, const char **s, int n);
/* Stream text to the client as "delta" events. */
void enrich_stream_text(run_t *x, const char *s, size_t len);
/* One "delta" event of len bytes of text. */
void enrich_delta(run_t *x, const char *text, size_t len);
/* Send event name with obj (consumed) when the run streams. */
void enrich_event(run_t *x, const char *name, cJSON *obj);
/* The instructions for a remote model (arena). */
char *enrich_system_prompt(arena_t *a, const enrich_input_t *in);
/* The local engine as link l: true when it answered (res filled). */
bool enrich_run_local(run_t *x, const chain_link_t *l);

/* enrich_images.c */

/* The cache key's part for the run's images ("<sha256>,..."), or NULL
 * without any (so that keys of text alone stay what they were). */
const char *enrich_images_key(arena_t *a, const enrich_input_t *in);
/* Read the images' bytes for the remote links, once per run: each
 * object looked up again as the caller (RLS), its bytes read, checked
 * against the type and hash the request was keyed with, and encoded;
 * the transaction is then committed (no connection is held through the
 * calls).  1 loaded (x->images), 0 one is no longer readable or changed
 * (x->images_gone: a remote link cannot be asked), -1 database error. */
int enrich_images_load(run_t *x);

/* enrich_race.c */

/* Walk the chain from its first link: cache, local engine, and the remote
 * providers' transfers in one curl multi handle (retries, backoff,
 * Retry-After, breaker, hedging, one streamed transfer, the deadline).
 * Fills x->res on an answer; sets x->time_up when the deadline ended the
 * walk.  0, or -1 on a database error. */
int enrich_race(run_t *x);

/* enrich_record.c */

/* The options object stored with the record (JSON text, arena). */
char *enrich_options_json(arena_t *a, const enrich_input_t *in);

#endif
