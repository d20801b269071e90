/* enrich.h: one enrichment from input to stored record: cache, provider chain with breaker and retries, scores, prompt version. */
#ifndef PROMPTD_ENRICH_H
#define PROMPTD_ENRICH_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "db/db.h"
#include "enrich/engine.h"
#include "enrich/score.h"
#include "enrich/settings.h"

#define ENRICH_MAX_PROMPT 102400   /* bytes of prompt accepted (a prompt's content limit) */
#define ENRICH_MAX_GOAL 2000       /* code points */
#define ENRICH_CACHE_VERSION "enrich-cache-1"

/* Server-sent events of a streamed enrichment: name ("start", "delta",
 * "fallback", "done", "error") and a JSON object text. */
typedef void (*enrich_event_fn)(void *ctx, const char *name, const char *json);

/* The image types a request may send (both providers read them). */
#define ENRICH_IMAGE_TYPES "image/jpeg, image/png, image/webp or image/gif"
/* The tokens one image is reckoned at when the quota is held (settled
 * with what the provider reports). */
#define ENRICH_IMAGE_TOKENS 1600

/* An image sent with the prompt: a storage object the caller can read.  A
 * reference, never the bytes: a run reads them (enrich_images_load) as the
 * caller, where the provider call is built.  Strings from an arena. */
typedef struct enrich_image {
    const char *id;              /* storage.objects.id */
    const char *bucket;          /* its bucket and name (path) */
    const char *path;
    const char *mime;            /* one of ENRICH_IMAGE_TYPES */
    const char *sha256;          /* hex: the object's eTag without its quotes */
    long long size;              /* bytes */
} enrich_image_t;

/* What to enrich, for whom.  Strings belong to the caller (arena). */
typedef struct enrich_input {
    const char *id;              /* the record's id when it exists already (a
                                  * hand-off, a job), else NULL: enrich_run
                                  * chooses one */
    const char *user_id;
    const char *prompt;          /* valid UTF-8, 1..ENRICH_MAX_PROMPT bytes */
    size_t len;
    engine_mode_t mode;
    const char *goal;            /* or NULL */
    const char *target_model;    /* or NULL */
    const enrich_image_t *images;/* sent with the prompt (part of the cache key) */
    int nimages;
    chain_t chain;               /* the providers to try, in order */
    bool no_cache;               /* Cache-Control: no-cache */
    bool first_looked_up;        /* the first link's cache entry was just
                                  * looked up and missed (a hand-off): not
                                  * asked again */
    const char *prompt_id;       /* save as a new version of this prompt, or NULL */
    const char *openai_key;      /* the user's own keys, or NULL for the server's */
    const char *anthropic_key;
    enrich_event_fn on_event;    /* streaming, or NULL */
    void *ctx;
    const char *quota_enrich;    /* the held enrich_per_day (1) and */
    const char *quota_tokens;    /* tokens_per_month reservations, or NULL */
} enrich_input_t;

/* What the enrich_per_day reservation said, for the RateLimit fields. */
typedef struct enrich_quota {
    bool limited;                /* false: the plan sets no such limit */
    long long quota, remaining, window_s, reset_s;
} enrich_quota_t;

/* The outcome of enrich_run(). */
typedef struct enrich_result {
    bool ok;                     /* false: every provider failed */
    char id[37];                 /* the record's id (chosen before writing) */
    const char *text;            /* the enriched prompt */
    const char *provider;
    const char *model;
    bool cached;
    cJSON *attempts;             /* owned by the arena */
    cJSON *suggestions;          /* strings; owned by the arena */
    cJSON *notes;                /* strings: what the answer could not do (the
                                  * local engine's unread images); arena */
    long tokens_in, tokens_out;
    double cost_usd;
    long latency_ms;
    score_t before, after;
    int prompt_version;          /* 0 unless saved */
    const char *error;           /* !ok: a client-safe sentence */
    bool deadline;               /* !ok: PROMPTD_ENRICH_DEADLINE_MS ended the run */
} enrich_result_t;

/* The effective chain: the request's providers (exactly; NULL = the
 * configured chain with the local engine appended as the last resort).
 * Returns NULL or a field error reason. */
const char *enrich_chain(const cJSON *providers, chain_t *out);

/* Run the enrichment: cache, providers, scores.  Nothing durable is
 * written but breaker state (see db_exec_autocommit); call enrich_store() next.
 * Returns false only on a database failure (request: r->tx.sqlstate). */
bool enrich_run(db_tx_t *d, const enrich_input_t *in, enrich_result_t *res);

/* The HTTP status of a failed run (!res->ok): 504 when its deadline ended
 * it, else 502 (every provider failed). */
int enrich_failure_status(const enrich_result_t *res);

/* Save the prompt version (if asked), the cache entry and the record, in
 * one scoped transaction (left open for the caller to commit).  Returns 1,
 * 0 when prompt_id names no prompt of the user's, -1 on a database error. */
int enrich_store(db_tx_t *d, const enrich_input_t *in, enrich_result_t *res,
                 bool update_pending);

/* Complete a pending record (a job's or a hand-off's) with the finished
 * run and commit.  When prompt_id's prompt was deleted meanwhile the run
 * is stored as failed without the version (res and in say so).  1 stored,
 * 0 stored as failed for that reason, -1 database error (the caller rolls
 * back). */
int enrich_finish(db_tx_t *d, enrich_input_t *in, enrich_result_t *res);

/* Async requests: the record of a queued enrichment (status pending, the
 * job's id), in the scoped transaction.  False on a database error. */
bool enrich_store_pending(db_tx_t *d, const enrich_input_t *in, const char *id,
                          long long job_id);
/* The job taking up a pending (or interrupted running) record: 1, or 0
 * when it is already finished, -1 on a database error. */
int enrich_mark_running(db_tx_t *d, const char *id);
/* 1 when the caller owns prompt prompt_id (RLS), 0 not, -1 error. */
int enrich_prompt_exists(db_tx_t *d, const char *prompt_id);

/* The API's answer object (owned by the arena). */
cJSON *enrich_result_json(arena_t *a, const enrich_input_t *in,
                          const enrich_result_t *res);

/* SHA-256 hex of the normalised prompt (the record's input_hash). */
char *enrich_input_hash(arena_t *a, const char *prompt, size_t len);

/* Read and decrypt the user's own provider keys (user_secrets named
 * openai_api_key / anthropic_api_key) into in.  False on a database error;
 * a key that does not decrypt is ignored (and logged). */
bool enrich_user_keys(db_tx_t *d, enrich_input_t *in);

/* The same from rows already read: (id, name, value_enc) from column col
 * on, rows with a NULL id ignored. */
void enrich_user_keys_rows(db_tx_t *d, PGresult *pr, int col, enrich_input_t *in);

/* Hold the caller's quotas for one enrichment, in the request's
 * transaction (d: the worker's, as its own role): enrich_per_day 1, and
 * tokens_per_month an estimate (the reply's max tokens and the prompt's)
 * when the chain has a remote provider.  The ids go to in->quota_*; *q
 * says what enrich_per_day has left.  False on a database error or a
 * spent quota (d->sqlstate PDQ29: the caller's quota answer). */
bool enrich_quota_reserve(db_tx_t *d, const char *key_id, enrich_input_t *in,
                          enrich_quota_t *q);
/* Settle what in holds with what the run spent (1 enrichment, the tokens
 * billed; none for a cached answer), or release it when the run failed.
 * in_tx: inside the worker's transaction (atomic with the record); else
 * after the record's commit, each as its own statement (a hold left by a
 * crash in between is released by the quota.purge job).  False on a
 * database error. */
bool enrich_quota_close(db_tx_t *d, const enrich_input_t *in, const enrich_result_t *res,
                        bool in_tx);

/* The quota holds in a record's options or a job's payload: add
 * {"quota": {"enrich": id, "tokens": id}} to o / read it back into in. */
void enrich_quota_json(cJSON *o, const enrich_input_t *in);
void enrich_quota_read(arena_t *a, const cJSON *o, enrich_input_t *in);

/* Images (enrich_images.c). */

/* True for a type of ENRICH_IMAGE_TYPES (exact, lower-case). */
bool enrich_image_type_ok(const char *mime);
/* Look up, as the caller (RLS on storage.objects), the object named by id
 * or else by bucket and path, into *out (strings from d's arena; size,
 * type and hash as its metadata says).  1 found (it may still be of
 * another type or too large: the caller checks), 0 no such object the
 * caller can read (or one with no bytes here or no SHA-256 ETag), -1 a
 * database error. */
int enrich_image_find(db_tx_t *d, const char *id, const char *bucket, const char *path,
                      enrich_image_t *out);
/* The images in a record's options or a job's payload: add
 * {"images": [{id, bucket, path, mimetype, size, sha256}]} to o (nothing
 * without images) / read them back into in (false when malformed). */
void enrich_images_json(cJSON *o, const enrich_input_t *in);
bool enrich_images_read(arena_t *a, const cJSON *o, enrich_input_t *in);

/* The statements enrich_* run; a family prepares them (NULL-terminated). */
extern const db_stmt_t enrich_stmts[];

#endif
