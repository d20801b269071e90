/* enrich.c: the enrich family: enrich a prompt (sync, streamed or async), score it, the enrichment history and async jobs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/log.h"
#include "http/dbreply.h"
#include "http/quota.h"
#include "http/response.h"
#include "http/server.h"
#include "crypto/random.h"
#include "crypto/secretbox.h"
#include "http/audit.h"
#include "core/config.h"
#include "enrich/enrich.h"
#include "enrich/handoff.h"
#include "jobs/jobs.h"
#include "storage/blob.h"

#define ENRICH_LIST_MAX 100

#define SUMMARY_JSON                                                         \
    "json_build_object('id', e.id, 'status', e.status, 'outcome', e.outcome, " \
    "'mode', e.mode, 'provider', e.provider, 'model', e.model, "              \
    "'cached', e.cached, 'async', e.async, 'latency_ms', e.latency_ms, "      \
    "'tokens_in', e.tokens_in, 'tokens_out', e.tokens_out, "                  \
    "'cost_usd', e.cost_usd, 'input_hash', e.input_hash, "                    \
    "'prompt_id', e.prompt_id, 'prompt_version', e.prompt_version, "          \
    "'created_at', e.created_at, 'finished_at', e.finished_at"

/* Enrichments in flight counted for the per-user cap: those started
 * within this window (older pending ones were interrupted). */
#define INFLIGHT_WINDOW_S 900

/* The answer when the secrets key ring is missing. */
#define NO_KEY_RING "Stored keys are not configured on this server."

/* PROMPTD_ENRICH_HANDOFF (1): runs that need a provider go to
 * promptd-gateway (0: this worker runs them, holding itself meanwhile);
 * PROMPTD_ENRICH_MAX_INFLIGHT_USER (16): a user's enrichments in flight,
 * sync and async, beyond which POST answers 429. */
static long handoff_on = 1, max_inflight_user = 16;

#define KEY_MIN_CHARS 8
#define KEY_MAX_CHARS 500

enum { ST_LIST, ST_GET, ST_JOB, ST_KEY_FIND, ST_KEY_PUT, ST_KEY_LIST, ST_KEY_DELETE, ST_BREAKERS };

static const db_stmt_t family_stmts[] = {
    /* $1 cursor (the last id seen) or NULL, $2 limit + 1 */
    [ST_LIST] = {"enrich_list",
        "select " SUMMARY_JSON ", 'input', left(e.input, 200)), e.id "
        "from public.enrichments e where $1::uuid is null or (e.created_at, e.id) < "
        "(select c.created_at, c.id from public.enrichments c where c.id = $1::uuid) "
        "order by e.created_at desc, e.id desc limit $2::int"},
    [ST_GET] = {"enrich_get",
        "select " SUMMARY_JSON ", 'input', e.input, 'options', e.options, "
        "'attempts', e.attempts, 'result', e.result, 'error', e.error) "
        "from public.enrichments e where e.id = $1"},
    [ST_JOB] = {"enrich_job_get",
        "select json_build_object('id', e.id, 'job_id', e.job_id, "
        "'status', e.status, 'result', e.result, 'error', e.error, "
        "'created_at', e.created_at, 'finished_at', e.finished_at) "
        "from public.enrichments e where e.id = $1 and e.async"},
    /* the user's own provider keys: user_secrets named <provider>_api_key */
    [ST_KEY_FIND] = {"enrich_key_find",
        "select id from public.user_secrets where name = $1 for update"},
    [ST_KEY_PUT] = {"enrich_key_put",
        "insert into public.user_secrets (id, name, value_enc, key_id) "
        "values ($1, $2, $3, $4) on conflict (id) do update "
        "set value_enc = excluded.value_enc, key_id = excluded.key_id, "
        "updated_at = now() returning updated_at"},
    [ST_KEY_LIST] = {"enrich_key_list",
        "select id, name, value_enc, updated_at from public.user_secrets "
        "where name in ('openai_api_key', 'anthropic_api_key') order by name"},
    [ST_KEY_DELETE] = {"enrich_key_delete",
        "delete from public.user_secrets where name = $1 returning id"},
    /* $1 the configured remote providers (a text[] literal), $2 the cool-down */
    [ST_BREAKERS] = {"enrich_breakers",
        "select promptd.admin_enrich_breakers($1::text[], $2::int)::text"},
    {NULL, NULL},
};

static const char *const enrich_fields[] = {
    "prompt", "mode", "goal", "target_model", "providers", "stream", "async",
    "prompt_id", "images", NULL};

/* An image's bucket and object name at most (as the storage family). */
#define IMAGE_BUCKET_MAX 100
#define IMAGE_PATH_MAX 1024

/* The streamed request's connection to the client. */
typedef struct sse {
    req_t *r;
    bool gone;
} sse_t;

static void sse_event(void *ctx, const char *name, const char *json)
{
    sse_t *s = ctx;
    strbuf_t sb;

    if (s->gone)
        return;
    strbuf_init(&sb, s->r->arena, strlen(json) + 64);
    strbuf_printf(&sb, "event: %s\ndata: %s\n\n", name, json);
    if (!resp_stream_write(s->r, sb.ptr, sb.len))
        s->gone = true;
}

/* An error event {status, title, detail, request_id} ending a stream. */
static int sse_error(sse_t *s, int status, const char *detail)
{
    cJSON *o = json_own(s->r->arena, cJSON_CreateObject());

    cJSON_AddNumberToObject(o, "status", status);
    cJSON_AddStringToObject(o, "title", http_reason(status));
    cJSON_AddStringToObject(o, "detail", detail);
    cJSON_AddStringToObject(o, "request_id", s->r->request_id);
    sse_event(s, "error", json_print(s->r->arena, o));
    return s->r->status;
}

/* Member key of image f as a string of 1..max bytes, or NULL after a
 * field error ("images[0].bucket"). */
static const char *image_member(req_t *r, const cJSON *it, const char *f, const char *key,
                                size_t max)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(it, key);
    const char *field = arena_printf(r->arena, "%s.%s", f, key);

    if (v == NULL)
        req_field_error(r, field, "is required");
    else if (!cJSON_IsString(v) || v->valuestring[0] == '\0' || strlen(v->valuestring) > max)
        req_field_error(r, field, "must be a string of 1 to %zu bytes", max);
    else
        return v->valuestring;
    return NULL;
}

/* images: [{bucket, path} | {id}], at most PROMPTD_ENRICH_IMAGES_MAX: its
 * shape, with field errors on images[i]; the objects are looked up by
 * images_or_reply once the whole body is valid.  NULL when absent. */
static const cJSON *read_images(req_t *r)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(r->json, "images"), *it, *m;
    long max = enrich_settings()->images_max;
    int i = 0;

    if (arr == NULL)
        return NULL;
    if (!cJSON_IsArray(arr)) {
        req_field_error(r, "images", "must be an array of {bucket, path} or {id}");
        return NULL;
    }
    if (cJSON_GetArraySize(arr) > max) {
        if (max == 0)
            req_field_error(r, "images", "are not accepted by this server");
        else
            req_field_error(r, "images", "must have at most %ld items", max);
        return NULL;
    }
    cJSON_ArrayForEach(it, arr) {
        const char *f = arena_printf(r->arena, "images[%d]", i++), *id;
        bool by_id, by_path;

        if (!cJSON_IsObject(it)) {
            req_field_error(r, f, "must be {bucket, path} or {id}");
            continue;
        }
        cJSON_ArrayForEach(m, it)
            if (strcmp(m->string, "id") != 0 && strcmp(m->string, "bucket") != 0 &&
                strcmp(m->string, "path") != 0)
                req_field_error(r, arena_printf(r->arena, "%s.%s", f, m->string),
                                "is not a known field");
        by_id = cJSON_GetObjectItemCaseSensitive(it, "id") != NULL;
        by_path = cJSON_GetObjectItemCaseSensitive(it, "bucket") != NULL ||
                  cJSON_GetObjectItemCaseSensitive(it, "path") != NULL;
        if (by_id == by_path) {
            req_field_error(r, f, by_id ? "must name an object by {bucket, path} or by {id}, "
                            "not both" : "must be {bucket, path} or {id}");
        } else if (by_id) {
            if ((id = image_member(r, it, f, "id", 36)) != NULL && !uuid_valid(id))
                req_field_error(r, arena_printf(r->arena, "%s.id", f), "must be a UUID");
        } else {
            image_member(r, it, f, "bucket", IMAGE_BUCKET_MAX);
            image_member(r, it, f, "path", IMAGE_PATH_MAX);
        }
    }
    return arr;
}

/* The request's images, each looked up as the caller (RLS), into
 * in->images: 422 naming images[i] for an object the caller cannot read
 * (absent, another user's: the same answer) or of a type no provider
 * reads, 413 past the size limits (PROMPTD_ENRICH_IMAGE_MAX_BYTES each,
 * PROMPTD_ENRICH_IMAGES_MAX_BYTES together).  False after replying. */
static bool images_or_reply(req_t *r, const cJSON *arr, enrich_input_t *in)
{
    const enrich_settings_t *cfg = enrich_settings();
    enrich_image_t *im = arena_zalloc(r->arena, sizeof *im * (size_t)(cJSON_GetArraySize(arr) + 1));
    const cJSON *it;
    long long total = 0;
    int n = 0, rc;

    cJSON_ArrayForEach(it, arr) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
        const char *f = arena_printf(r->arena, "images[%d]", n);
        enrich_image_t *p = &im[n++];

        rc = id ? enrich_image_find(&r->tx, id->valuestring, NULL, NULL, p)
                : enrich_image_find(&r->tx, NULL,
                      cJSON_GetObjectItemCaseSensitive(it, "bucket")->valuestring,
                      cJSON_GetObjectItemCaseSensitive(it, "path")->valuestring, p);
        if (rc < 0) {
            dbreply_error(r);
            return false;
        }
        if (rc == 0)
            req_field_error(r, f, "is not found or not readable");
        else if (!enrich_image_type_ok(p->mime))
            req_field_error(r, f, "is %s; only %s can be sent", p->mime, ENRICH_IMAGE_TYPES);
        else
            total += p->size;
    }
    if (r->errors) {
        resp_validation(r);
        return false;
    }
    for (int i = 0; i < n; i++)
        if (im[i].size > cfg->image_max_bytes) {
            resp_problemf(r, 413, "images[%d] is %lld bytes; an image may have at most %ld.",
                          i, im[i].size, cfg->image_max_bytes);
            return false;
        }
    if (total > cfg->images_max_bytes) {
        resp_problemf(r, 413, "The images are %lld bytes together; at most %ld may be sent.",
                      total, cfg->images_max_bytes);
        return false;
    }
    in->images = im;
    in->nimages = n;
    return true;
}

/* Fill in from the body; records field errors (reply with resp_validation).
 * Returns false after replying itself (413). */
static bool read_input(req_t *r, enrich_input_t *in, bool *stream, bool *async,
                       const cJSON **images)
{
    const char *prompt = NULL, *mode = NULL;
    cJSON *providers = NULL;
    const char *why;
    enum field_result fr;

    memset(in, 0, sizeof(*in));
    in->user_id = r->tx.user_id;
    req_reject_unknown(r, r->json, enrich_fields);
    fr = req_field_string(r, r->json, "prompt", (size_t)ENRICH_MAX_PROMPT * 4, true, &prompt);
    if (fr == FIELD_ABSENT)
        req_field_error(r, "prompt", "is required");
    if (fr == FIELD_OK && strlen(prompt) > ENRICH_MAX_PROMPT) {
        resp_problemf(r, 413, "The prompt exceeds %d bytes.", ENRICH_MAX_PROMPT);
        return false;
    }
    if (fr == FIELD_OK && prompt[strspn(prompt, " \t\r\n")] == '\0')
        req_field_error(r, "prompt", "must not be empty");
    if (fr == FIELD_OK) {
        in->prompt = prompt;
        in->len = strlen(prompt);
    }
    in->mode = ENGINE_IMPROVE;
    if (req_field_string(r, r->json, "mode", 32, false, &mode) == FIELD_OK &&
        engine_mode_parse(mode, &in->mode) != 0)
        req_field_error(r, "mode", "must be one of improve, structure, clarify, "
                        "expand, concise");
    req_field_string(r, r->json, "goal", ENRICH_MAX_GOAL, false, &in->goal);
    req_field_string(r, r->json, "target_model", 200, false, &in->target_model);
    if (req_field_string_array(r, r->json, "providers", SETTINGS_MAX_CHAIN, 150,
                                &providers) == FIELD_OK &&
        cJSON_GetArraySize(providers) == 0)
        req_field_error(r, "providers", "must name at least one provider");
    else if ((why = enrich_chain(providers, &in->chain)) != NULL)
        req_field_error(r, "providers", "has %s", why);
    req_field_bool(r, r->json, "stream", stream);
    req_field_bool(r, r->json, "async", async);
    if (req_field_string(r, r->json, "prompt_id", 36, false, &in->prompt_id) ==
            FIELD_OK && !uuid_valid(in->prompt_id))
        req_field_error(r, "prompt_id", "must be a UUID");
    if (*stream && *async)
        req_field_error(r, "async", "cannot be combined with a stream");
    *images = read_images(r);
    return true;
}

static bool accepts_event_stream(req_t *r)
{
    const char *acc = req_header(r, "Accept");

    return acc && strstr(acc, "text/event-stream") != NULL;
}

static bool wants_no_cache(req_t *r)
{
    const char *cc = req_header(r, "Cache-Control");
    const char *pragma = req_header(r, "Pragma");

    return (cc && (strstr(cc, "no-cache") || strstr(cc, "no-store"))) ||
           (pragma && strstr(pragma, "no-cache"));
}

/* 202: the record (pending) and its job, both in this transaction. */
static int enrich_async(req_t *r, db_tx_t *d, enrich_input_t *in, const cJSON *providers)
{
    char id[37];
    cJSON *p = json_own(r->arena, cJSON_CreateObject()), *out;
    jobs_opts_t opts = {.queue = handoff_on ? JOBS_GATEWAY_QUEUE : NULL};
    const char *url;
    long long job;
    int own;

    random_uuid(id);
    cJSON_AddStringToObject(p, "enrichment_id", id);
    cJSON_AddStringToObject(p, "user_id", r->tx.user_id);
    cJSON_AddStringToObject(p, "prompt", in->prompt);
    cJSON_AddStringToObject(p, "mode", engine_mode_name(in->mode));
    if (in->goal)
        cJSON_AddStringToObject(p, "goal", in->goal);
    if (in->target_model)
        cJSON_AddStringToObject(p, "target_model", in->target_model);
    if (providers)
        cJSON_AddItemReferenceToObject(p, "providers", (cJSON *)providers);
    enrich_quota_json(p, in);
    if (in->no_cache)
        cJSON_AddTrueToObject(p, "no_cache");
    if (in->prompt_id)
        cJSON_AddStringToObject(p, "prompt_id", in->prompt_id);
    enrich_images_json(p, in);
    if ((job = jobs_enqueue(&r->tx, "enrich", json_print(r->arena, p), &opts)) < 0 ||
        !enrich_store_pending(d, in, id, job))
        return dbreply_error(r);
    /* last: a prompt that is not the caller's rolls back the job with it */
    if (in->prompt_id && (own = enrich_prompt_exists(d, in->prompt_id)) <= 0)
        return own < 0 ? dbreply_error(r) : resp_problem(r, 404, "No such prompt.");
    out = json_own(r->arena, cJSON_CreateObject());
    url = arena_printf(r->arena, "/api/v1/enrich/jobs/%s", id);
    cJSON_AddStringToObject(out, "id", id);
    cJSON_AddNumberToObject(out, "job_id", (double)job);
    cJSON_AddStringToObject(out, "status", "pending");
    cJSON_AddStringToObject(out, "status_url", url);
    resp_location(r, url);
    return resp_json(r, 202, out);
}

/* 429 with Retry-After: the caller has n enrichments in flight, the cap. */
static int inflight_reply(req_t *r, long n)
{
    resp_header(r, "Retry-After", "1");
    return resp_problemf(r, 429, "You have %ld enrichments in flight (the limit is "
                         "%ld); retry when one has finished.", n, max_inflight_user);
}

/* Hand the run to promptd-gateway: its pending record (committed before
 * nginx follows the redirect), then nginx's internal location proxies the
 * waiting client to the gateway, and this worker is free. */
static int enrich_handoff(req_t *r, const enrich_input_t *in, bool stream,
                          const enrich_quota_t *q)
{
    char id[37];
    long n;
    int rc;

    random_uuid(id);
    rc = enrich_handoff_record(&r->tx, in, id, stream, INFLIGHT_WINDOW_S,
                               max_inflight_user, &n);
    if (rc <= 0)
        return rc < 0 ? dbreply_error(r) : inflight_reply(r, n);
    /* the gateway repeats enrich_per_day's RateLimit fields (nginx keeps
     * none of this answer's headers) */
    resp_header(r, "X-Accel-Redirect", q->limited
        ? arena_printf(r->arena, "/_gateway/enrich/%s?q=%lld&w=%lld&r=%lld&t=%lld", id,
                       q->quota, q->window_s, q->remaining, q->reset_s)
        : arena_printf(r->arena, "/_gateway/enrich/%s", id));
    return resp_empty(r, 200);
}

/* Hold the caller's enrichment quotas (enrich_quota_reserve) and give the
 * answer enrich_per_day's RateLimit fields.  False: answered (429). */
static bool quota_or_reply(req_t *r, enrich_input_t *in, enrich_quota_t *q)
{
    if (!enrich_quota_reserve(&r->tx, r->key_id, in, q)) {
        dbreply_error(r);
        return false;
    }
    if (q->limited)
        quota_fields(r, "enrich_per_day", q->quota, q->window_s, q->remaining, q->reset_s);
    return true;
}

/* 502 (504: the deadline) problem+json with the record's id and the attempts. */
static int enrich_failed(req_t *r, const enrich_input_t *in, const enrich_result_t *res)
{
    cJSON *o = enrich_result_json(r->arena, in, res);
    int status = enrich_failure_status(res);
    const char *s;

    cJSON_AddStringToObject(o, "type", "about:blank");
    cJSON_AddStringToObject(o, "title", http_reason(status));
    cJSON_AddNumberToObject(o, "status", status);
    cJSON_AddStringToObject(o, "detail", res->error);
    cJSON_AddStringToObject(o, "request_id", r->request_id);
    r->tx.commit_on_error = true;   /* the failed attempt is still recorded */
    s = json_print(r->arena, o);
    resp_json_text(r, status, s, strlen(s));
    r->content_type = "application/problem+json";
    return status;
}

/* POST /api/v1/enrich {prompt, mode?, goal?, target_model?, providers?,
 *   stream?, async?, prompt_id?, images?: [{bucket, path} | {id}]}
 *   Cache-Control: no-cache bypasses the cache; Accept: text/event-stream streams.
 *   -> 200 result | 200 text/event-stream (start, delta..., fallback?, done | error)
 *    | 202 {id, job_id, status, status_url} | 404 (prompt_id)
 *    | 413 (the prompt, an image, the images together) | 422 (images[i]: not
 *      readable, not an image type)
 *    | 502 (every provider failed: problem+json with attempts) | 504 (the deadline) */
static int enrich_post(req_t *r)
{
    enrich_input_t in;
    enrich_result_t res;
    enrich_quota_t q;
    db_tx_t *d = &r->tx;
    bool stream = false, async = false;
    sse_t sse = {r, false};
    const cJSON *images = NULL;
    long n;
    int rc;

    if (!read_input(r, &in, &stream, &async, &images))
        return r->status;
    if (r->errors)
        return resp_validation(r);
    if (images && !images_or_reply(r, images, &in))
        return r->status;
    in.no_cache = wants_no_cache(r);
    stream = stream || (!async && accepts_event_stream(r));
    if (async && (n = enrich_inflight(d, INFLIGHT_WINDOW_S)) < 0)
        return dbreply_error(r);
    if (async && n >= max_inflight_user)
        return inflight_reply(r, n);
    if (!quota_or_reply(r, &in, &q))
        return r->status;
    if (async)
        return enrich_async(r, d, &in, cJSON_GetObjectItemCaseSensitive(r->json, "providers"));
    if (in.prompt_id && (rc = enrich_prompt_exists(d, in.prompt_id)) <= 0)
        return rc < 0 ? dbreply_error(r) : resp_problem(r, 404, "No such prompt.");
    if (handoff_on && (rc = enrich_handoff_needed(d, &in)) != 0)
        return rc < 0 ? dbreply_error(r) : enrich_handoff(r, &in, stream, &q);
    if (!enrich_user_keys(d, &in))
        return dbreply_error(r);
    if (stream) {
        resp_stream_begin(r, 200, "text/event-stream");
        in.on_event = sse_event;
        in.ctx = &sse;
    }
    if (!enrich_run(d, &in, &res)) {
        log_error("%s: database: %s", __func__, r->tx.detail ? r->tx.detail : "");
        return stream ? sse_error(&sse, 503, "The database is busy or unreachable; "
                                  "retry shortly.") : dbreply_error(r);
    }
    if ((rc = enrich_store(d, &in, &res, false)) > 0 && !enrich_quota_close(d, &in, &res, true))
        rc = -1;
    if (rc <= 0 || (stream && !db_tx_commit(d))) {
        if (!stream)
            return rc == 0 ? resp_problem(r, 404, "No such prompt.") : dbreply_error(r);
        return sse_error(&sse, rc == 0 ? 404 : 503, rc == 0 ? "No such prompt." :
                         "The result could not be stored; retry shortly.");
    }
    if (stream) {
        if (!res.ok)
            return sse_error(&sse, enrich_failure_status(&res), res.error);
        sse_event(&sse, "done", json_print(r->arena, enrich_result_json(r->arena, &in, &res)));
        return 200;
    }
    if (!res.ok)
        return enrich_failed(r, &in, &res);
    return resp_json(r, 200, enrich_result_json(r->arena, &in, &res));
}

/* POST /api/v1/score {prompt} -> 200 {total, dimensions, suggestions} | 413 | 422 */
static int score_post(req_t *r)
{
    static const char *const fields[] = {"prompt", NULL};
    const char *prompt = NULL;
    score_t sc;
    strbuf_t sb;
    cJSON *o, *sug;

    req_reject_unknown(r, r->json, fields);
    if (req_field_string(r, r->json, "prompt", (size_t)ENRICH_MAX_PROMPT * 4, true,
                          &prompt) == FIELD_ABSENT)
        req_field_error(r, "prompt", "is required");
    if (prompt && strlen(prompt) > ENRICH_MAX_PROMPT)
        return resp_problemf(r, 413, "The prompt exceeds %d bytes.", ENRICH_MAX_PROMPT);
    if (prompt && prompt[strspn(prompt, " \t\r\n")] == '\0')
        req_field_error(r, "prompt", "must not be empty");
    if (r->errors || prompt == NULL)
        return resp_validation(r);
    if (score_prompt(r->arena, prompt, strlen(prompt), &sc) != 0) {
        req_field_error(r, "prompt", "cannot be scored");
        return resp_validation(r);
    }
    strbuf_init(&sb, r->arena, 1024);
    score_json_append(&sb, &sc);
    o = json_own(r->arena, cJSON_Parse(sb.ptr));
    if (o == NULL)
        return resp_problem(r, 500, "Internal error; it has been logged.");
    sug = cJSON_AddArrayToObject(o, "suggestions");
    for (int i = 0; i < sc.nsuggestions; i++)
        cJSON_AddItemToArray(sug, cJSON_CreateString(sc.suggestions[i]));
    return resp_json(r, 200, o);
}

/* GET /api/v1/enrich/jobs/{id} -> 200 {id, job_id, status, result, error, ...} | 404 */
static int job_get(req_t *r)
{
    const char *v[1] = {req_param(r, "id")};

    return dbreply_object(r, db_exec(&r->tx, &family_stmts[ST_JOB], 1, v),
                           "No such enrichment job.");
}

/* GET /api/v1/enrichments?limit&cursor -> 200 {items, next_cursor} | 400 | 422 */
static int history_list(req_t *r)
{
    long limit = req_query_int(r, "limit", 20, ENRICH_LIST_MAX);
    const char *cursor = req_query(r, "cursor");
    char lim[24];
    const char *v[2];
    PGresult *res;

    if (cursor && !uuid_valid(cursor))
        return resp_problem(r, 400, "The cursor is invalid.");
    if (r->errors)
        return resp_validation(r);
    snprintf(lim, sizeof lim, "%ld", limit + 1);
    v[0] = cursor;
    v[1] = lim;
    if ((res = db_exec(&r->tx, &family_stmts[ST_LIST], 2, v)) == NULL)
        return dbreply_error(r);
    return dbreply_list(r, res, limit, PQntuples(res) > limit
                         ? PQgetvalue(res, (int)limit - 1, 1) : NULL);
}

/* GET /api/v1/enrichments/{id} -> 200 the record (input, attempts, result) | 404 */
static int history_get(req_t *r)
{
    const char *v[1] = {req_param(r, "id")};

    return dbreply_object(r, db_exec(&r->tx, &family_stmts[ST_GET], 1, v), "No such enrichment.");
}

/* "openai" -> "openai_api_key"; NULL for any other provider. */
static const char *key_secret_name(const char *provider)
{
    if (strcmp(provider, "openai") == 0)
        return "openai_api_key";
    if (strcmp(provider, "anthropic") == 0)
        return "anthropic_api_key";
    return NULL;
}

/* PUT /api/v1/enrich/keys/{provider} {api_key} -> 200 {provider, last_four,
 *   updated_at} | 404 (not openai/anthropic) | 422.  Encrypted at rest
 *   (AES-256-GCM bound to the row); used for the caller's enrichments
 *   instead of the server's key. */
static int key_put(req_t *r)
{
    static const char *const fields[] = {"api_key", NULL};
    const char *provider = req_param(r, "provider"), *name = key_secret_name(provider);
    const char *key = NULL, *v[4];
    char id[37], *aad, *enc;
    const secretbox_ring_t *ring;
    PGresult *res;
    cJSON *out;

    if (name == NULL)
        return resp_problem(r, 404, "No such provider (openai or anthropic).");
    req_reject_unknown(r, r->json, fields);
    if (req_field_string(r, r->json, "api_key", KEY_MAX_CHARS, false, &key) == FIELD_ABSENT)
        req_field_error(r, "api_key", "is required");
    if (key && (strlen(key) < KEY_MIN_CHARS || strcspn(key, " \t\r\n") != strlen(key)))
        req_field_error(r, "api_key", "must be %d to %d characters without spaces",
                        KEY_MIN_CHARS, KEY_MAX_CHARS);
    if (r->errors || key == NULL)
        return resp_validation(r);
    v[0] = name;
    if ((res = db_exec(&r->tx, &family_stmts[ST_KEY_FIND], 1, v)) == NULL)
        return dbreply_error(r);
    if (PQntuples(res) == 1)
        snprintf(id, sizeof id, "%s", PQgetvalue(res, 0, 0));
    else
        random_uuid(id);
    if ((ring = resp_keyring_or_reply(r, NO_KEY_RING)) == NULL)
        return r->status;
    aad = arena_printf(r->arena, "user_secrets.value:%s", id);
    enc = secretbox_encrypt(ring, key, strlen(key), aad);
    v[0] = id;
    v[1] = name;
    v[2] = enc ? arena_strdup(r->arena, enc) : NULL;
    v[3] = arena_strdup(r->arena, secretbox_current_kid(ring));
    free(enc);
    if (v[2] == NULL)
        return resp_problem(r, 500, "Internal error; it has been logged.");
    if ((res = db_exec(&r->tx, &family_stmts[ST_KEY_PUT], 4, v)) == NULL)
        return dbreply_error(r);
    if (!audit_record(r, "enrich.key.set", provider, "success", NULL, NULL))
        return dbreply_error(r);
    out = json_own(r->arena, cJSON_CreateObject());
    cJSON_AddStringToObject(out, "provider", provider);
    cJSON_AddStringToObject(out, "last_four", key + strlen(key) - 4);
    cJSON_AddStringToObject(out, "updated_at", PQgetvalue(res, 0, 0));
    return resp_json(r, 200, out);
}

/* GET /api/v1/enrich/keys -> 200 {items: [{provider, last_four, updated_at}]} */
static int key_list(req_t *r)
{
    PGresult *res = db_exec(&r->tx, &family_stmts[ST_KEY_LIST], 0, NULL);
    const secretbox_ring_t *ring = NULL;
    cJSON *out, *items;

    if (res == NULL)
        return dbreply_error(r);
    out = json_own(r->arena, cJSON_CreateObject());
    items = cJSON_AddArrayToObject(out, "items");
    if (PQntuples(res) > 0 && (ring = resp_keyring_or_reply(r, NO_KEY_RING)) == NULL)
        return r->status;
    for (int i = 0; i < PQntuples(res); i++) {
        cJSON *it = cJSON_CreateObject();
        const char *name = PQgetvalue(res, i, 1);
        unsigned char *pt = NULL;
        size_t len = 0;

        cJSON_AddStringToObject(it, "provider",
                                strncmp(name, "openai", 6) == 0 ? "openai" : "anthropic");
        if (secretbox_decrypt(ring, PQgetvalue(res, i, 2),
                              arena_printf(r->arena, "user_secrets.value:%s",
                                           PQgetvalue(res, i, 0)), &pt, &len) == SECRETBOX_OK &&
            len >= 4)
            cJSON_AddStringToObject(it, "last_four",
                                    arena_strndup(r->arena, (char *)pt + len - 4, 4));
        else
            cJSON_AddNullToObject(it, "last_four");   /* does not decrypt: unusable */
        secretbox_free(pt, len);
        cJSON_AddStringToObject(it, "updated_at", PQgetvalue(res, i, 3));
        cJSON_AddItemToArray(items, it);
    }
    return resp_json(r, 200, out);
}

/* DELETE /api/v1/enrich/keys/{provider} -> 204 | 404 */
static int key_delete(req_t *r)
{
    const char *provider = req_param(r, "provider"), *name = key_secret_name(provider);
    const char *v[1] = {name};
    PGresult *res;

    if (name == NULL)
        return resp_problem(r, 404, "No such provider (openai or anthropic).");
    if ((res = db_exec(&r->tx, &family_stmts[ST_KEY_DELETE], 1, v)) == NULL)
        return dbreply_error(r);
    if (PQntuples(res) == 0)
        return resp_problem(r, 404, "No key stored for this provider.");
    if (!audit_record(r, "enrich.key.delete", provider, "success", NULL, NULL))
        return dbreply_error(r);
    return resp_empty(r, 204);
}

/* GET /api/v1/admin/enrich/breakers -> 200 {cooldown_s, providers:[{provider,
 *   configured, state (closed, open, half_open), failures, opened_at,
 *   retry_at, probe_started, updated_at}]} | 403.  Every provider with a
 *   breaker row and every remote provider of PROMPTD_ENRICH_PROVIDERS. */
static int admin_breakers(req_t *r)
{
    const enrich_settings_t *cfg = enrich_settings();
    strbuf_t names;
    const char *v[2];
    PGresult *res;

    strbuf_init(&names, r->arena, 64);
    strbuf_putc(&names, '{');
    for (int i = 0; i < cfg->chain.n; i++) {
        if (cfg->chain.links[i].kind == PROVIDER_LOCAL)
            continue;               /* never fails: no breaker */
        if (names.len > 1)
            strbuf_putc(&names, ',');
        strbuf_puts(&names, cfg->chain.links[i].name);   /* a fixed identifier */
    }
    strbuf_putc(&names, '}');
    v[0] = names.ptr;
    v[1] = arena_printf(r->arena, "%ld", cfg->breaker_cooldown_s);
    if ((res = db_exec(&r->tx, &family_stmts[ST_BREAKERS], 2, v)) == NULL)
        return dbreply_error(r);
    return resp_json_text(r, 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

static const route_t routes[] = {
    {"POST", "/api/v1/enrich", enrich_post,
     R_JSON | R_DB, CRED_SESSION | CRED_APIKEY, "enrich"},
    {"GET", "/api/v1/enrich/jobs/{id:uuid}", job_get,
     R_DB | R_READONLY, CRED_SESSION | CRED_APIKEY, "enrich"},
    {"GET", "/api/v1/enrich/keys", key_list, R_DB | R_READONLY, CRED_SESSION, NULL},
    {"PUT", "/api/v1/enrich/keys/{provider}", key_put, R_JSON | R_DB, CRED_SESSION, NULL},
    {"DELETE", "/api/v1/enrich/keys/{provider}", key_delete, R_DB, CRED_SESSION, NULL},
    {"POST", "/api/v1/score", score_post, R_JSON, CRED_SESSION | CRED_APIKEY, "enrich"},
    {"GET", "/api/v1/enrichments", history_list,
     R_DB | R_READONLY, CRED_SESSION | CRED_APIKEY, "enrich"},
    {"GET", "/api/v1/enrichments/{id:uuid}", history_get,
     R_DB | R_READONLY, CRED_SESSION | CRED_APIKEY, "enrich"},
    {"GET", "/api/v1/admin/enrich/breakers", admin_breakers,
     R_DB | R_READONLY | R_ADMIN, CRED_SESSION | CRED_APIKEY, "admin"},
};

int main(int argc, char **argv)
{
    static const db_stmt_t *const tables[] = {family_stmts, enrich_stmts,
                                              enrich_handoff_stmts, storage_blob_stmts, NULL};
    static const family_t family = {"enrich", routes, sizeof(routes) / sizeof(routes[0]),
                                     tables, NULL};

    if (argc < 2 && (enrich_settings() == NULL ||
                     !config_env_int("PROMPTD_ENRICH_HANDOFF", 1, 0, 1, &handoff_on) ||
                     !config_env_int("PROMPTD_ENRICH_MAX_INFLIGHT_USER", 16, 1, 100000,
                                     &max_inflight_user)))
        return 1;
    return server_main(argc, argv, &family);
}
