/* quota.c: what a client sees of quotas: the request quota, RateLimit fields, 429/409 refusals, the usage and admin limit routes. */
#include "http/quota.h"

#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/log.h"
#include "core/metrics.h"
#include "http/dbreply.h"
#include "http/quotaseq.h"
#include "http/response.h"

#define QUOTA_TYPE_BASE "https://promptd.dev/problems/quota/"
#define USAGE_DAYS_DEFAULT 30
#define USAGE_DAYS_MAX 366
#define LIMITS_TEXT_MAX 4096

enum { QS_HIT, QS_HIT_DIRECT, QS_HIT_CLAIMS, QS_SEQ_CLAIMS, QS_USAGE, QS_PLAN_SET,
       QS_OVERRIDE_SET };

/* The direct hit's counter and its value (a CTE, h: lim, remaining,
 * window_start, seq, base): $P the user, $K the API key or NULL.  The
 * candidates are the user's one counter (key_id all zero) and, under
 * "per_key", the key's own or, for a session, the sessions' (all f:
 * promptd.quota_hit). */
#define HIT_COUNTER_CTE(P, K)                                                       \
    "with h as (select c.lim, case when c.lim >= 0 then "                           \
    "c.lim - (nextval(c.seq) - c.base) end as remaining, c.window_start, c.seq, "   \
    "c.base from promptd.quota_counters c "                                         \
    "where c.user_id = $" P "::uuid and c.resource = 'requests_per_minute' "        \
    "and c.window_start = date_trunc('minute', now(), 'UTC') "                      \
    "and c.key_id in (coalesce($" K "::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'), " \
    "'00000000-0000-0000-0000-000000000000') "                                      \
    "and (c.lim < 0 or c.lim is not null and c.seq is not null)) "

/* The first four columns of a hit's answer from h, up to the select
 * list's next item. */
#define HIT_COLUMNS                                                                 \
    "select nullif(h.lim, -1), h.remaining, case when h.lim >= 0 then 60 end, "     \
    "case when h.lim >= 0 then greatest(1, ceil(extract(epoch from "                \
    "h.window_start + interval '1 minute' - now())))::int end, "

/* The rest of a fused hit's answer (quotaseq.h, QUOTASEQ_COLS): $A async,
 * the claims as $1-$4, then SEQ (the counter's sequence, base and window
 * start, three columns) and whether it counted. */
#define HIT_CLAIMS_TAIL(A, SEQ)                                                     \
    "set_config('synchronous_commit', case when $" A "::boolean and h.lim is not null " \
    "then 'off' else current_setting('synchronous_commit') end, true), "            \
    DB_CLAIMS_SET("$1", "$2", "$4", "", "$3") ", " SEQ ", h.lim is not null "        \
    "from (select) o left join h on h.lim < 0 or h.remaining >= 0"

const db_stmt_t quota_stmts[] = {
    /* $1 user, $2 API key or NULL, $3 the request is read-only; the
     * counter counted on after the four (quotaseq.h, QUOTASEQ_HIT_COLS) */
    [QS_HIT] = {"quota_hit",
        "select quota, remaining, window_s, reset_s, counter_seq, counter_base, counter_window "
        "from promptd.quota_hit($1::uuid, $2::uuid, $3::boolean)"},
    /* A read-only request's hit, as the worker's login role (0027): one
     * value of the sequence of the window's counter (of the API key's own
     * when it has one), no function call and no row written; all null
     * when the counter marks the window unlimited (lim -1).  No row when
     * the window has no such counter yet, its limit was cleared by a
     * change, or it is spent: quota_hit then decides (the prelude's
     * fallback).  At most one of the two candidate counters carries a
     * limit: quota_hit sets it on one kind, and every change clears both. */
    [QS_HIT_DIRECT] = {"quota_hit_direct",
        HIT_COUNTER_CTE("1", "2") HIT_COLUMNS
        "set_config('synchronous_commit', case when $3::boolean then 'off' "
        "else current_setting('synchronous_commit') end, true) "
        "from h where h.lim < 0 or h.remaining >= 0"},
    /* QS_HIT_DIRECT and the claims in one statement (db.h: prelude_claims):
     * $1-$4 the claims, $5-$7 the hit's values.  One row always: the hit's
     * four columns (null when it found no counter it can use), the
     * set_config results, the counter (for quotaseq.c), then whether it
     * found one.  The counter is read and counted before the row's
     * set_config calls run, so as the login role and before the
     * transaction turns read-only. */
    [QS_HIT_CLAIMS] = {"quota_hit_claims",
        HIT_COUNTER_CTE("5", "6") HIT_COLUMNS
        HIT_CLAIMS_TAIL("7", "h.seq::oid, h.base, extract(epoch from h.window_start)::bigint")},
    /* QS_HIT_CLAIMS without the counter's lookup: the counter as this
     * process last found it (quotaseq.c), $5-$9 (QUOTASEQ_NPARAMS), in
     * the same columns.  It counts only while the window lasts by the
     * database's clock.  A window over or a spent limit answer as not
     * counted, as does any answer given while word of a change of limits
     * reached the process (db.h, prelude_epoch): quota_hit then decides. */
    [QS_SEQ_CLAIMS] = {"quota_seq_claims",
        "select nullif($6::bigint, -1), v.remaining, case when $6::bigint >= 0 then 60 end, "
        "case when $6::bigint >= 0 then greatest(1, ceil($9::bigint + 60 - "
        "date_part('epoch', now())))::int end, "
        "set_config('synchronous_commit', case when $7::boolean then 'off' "
        "else current_setting('synchronous_commit') end, true), "
        DB_CLAIMS_SET("$1", "$2", "$4", "", "$3") ", null::oid, null::bigint, null::bigint, "
        "v.current and (v.remaining is null or v.remaining >= 0) "
        "from (select now() < to_timestamp($9::bigint + 60) as current, "
        "case when $6::bigint >= 0 and now() < to_timestamp($9::bigint + 60) "
        "then $6::bigint - (nextval($5::regclass) - $8::bigint) end as remaining) v"},
    [QS_USAGE] = {"quota_usage", "select promptd.quota_usage($1::uuid, $2::int)::text"},
    [QS_PLAN_SET] = {"quota_plan_set", "select promptd.quota_plan_set($1, $2::jsonb)::text"},
    [QS_OVERRIDE_SET] = {"quota_override_set",
        "select promptd.quota_override_set($1::uuid, $2::jsonb)::text"},
    {NULL, NULL},
};

/* PROMPTD_QUOTA_REQUESTS=off: the request quota is neither counted nor
 * announced (counted limits and holds still apply); read once. */
static bool requests_counted(void)
{
    static int on = -1;

    if (on < 0) {
        const char *e = getenv("PROMPTD_QUOTA_REQUESTS");

        on = !(e && strcmp(e, "off") == 0);
    }
    return on;
}

/* NOTIFY promptd_quota (promptd.quota_counters_clear): the user's id, ''
 * for every user; NULL from db.c for "whatever was sent is lost". */
static void limits_changed(const char *payload)
{
    quotaseq_forget(payload && *payload ? payload : NULL);
}

void quota_init(void)
{
    if (requests_counted())
        db_listen("promptd_quota", limits_changed);
}

void quota_begin(req_t *r)
{
    const char **v;

    if (!requests_counted() || !(r->route->flags & R_DB) || r->tx.user_id == NULL ||
        strncmp(r->path, "/api/v1/", 8) != 0)
        return;
    v = arena_alloc(r->arena, 3 * sizeof(*v));
    v[0] = r->tx.user_id;
    v[1] = r->key_id;
    v[2] = "t";    /* its own implicit transaction (db.h): commit without
                    * waiting for the WAL flush */
    /* a read-only request tries the plain UPDATE first: its fallback runs
     * on its own, after the request's implicit transaction */
    r->tx.prelude = &quota_stmts[r->tx.readonly ? QS_HIT_DIRECT : QS_HIT];
    r->tx.prelude_fallback = r->tx.readonly ? &quota_stmts[QS_HIT] : NULL;
    r->tx.prelude_values = v;
    r->tx.prelude_nparams = 3;
    if (!r->tx.readonly)
        return;
    r->tx.prelude_claims = &quota_stmts[QS_HIT_CLAIMS];
    if (!db_listening() || !quotaseq_key(&r->quota_key, r->tx.user_id, r->key_id))
        return;    /* no word of a change would reach it: keeps no counter */
    /* the counter as this process last found it, else the lookup (whose
     * answer is kept unless a change arrived meanwhile) */
    r->quota_seq = QUOTA_SEQ_LOOKUP;
    r->tx.prelude_epoch_sent = *quotaseq_epoch();
    v = arena_alloc(r->arena, QUOTASEQ_NPARAMS * sizeof(*v));
    if (quotaseq_lookup(r->arena, &r->quota_key, v)) {
        r->quota_seq = QUOTA_SEQ_HIT;
        r->tx.prelude_epoch = quotaseq_epoch();
        r->tx.prelude_claims = &quota_stmts[QS_SEQ_CLAIMS];
        r->tx.prelude_claims_values = v;
        r->tx.prelude_claims_nparams = QUOTASEQ_NPARAMS;
    }
}

bool quota_is_refusal(const char *s)
{
    return s && (strcmp(s, QUOTA_STATE_WINDOW) == 0 || strcmp(s, QUOTA_STATE_COUNT) == 0);
}

/* The JSON DETAIL line of the error libpq formatted into tx->detail, parsed
 * (arena-owned), or NULL. */
static cJSON *refusal_detail(req_t *r)
{
    const char *d = r->tx.detail ? strstr(r->tx.detail, "\nDETAIL:  ") : NULL;

    if (d == NULL)
        return NULL;
    d += strlen("\nDETAIL:  ");
    return json_own(r->arena, cJSON_ParseWithLength(d, strcspn(d, "\n")));
}

static long long num(const cJSON *o, const char *name, long long dflt)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsNumber(n) ? (long long)n->valuedouble : dflt;
}

static const char *str(const cJSON *o, const char *name)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsString(s) ? s->valuestring : NULL;
}

void quota_items(arena_t *a, const char *policy, long long quota, long long window,
                 long long remaining, long long reset, const char **pol, const char **lim)
{
    *pol = window >= 0 ? arena_printf(a, "\"%s\";q=%lld;w=%lld", policy, quota, window)
                       : arena_printf(a, "\"%s\";q=%lld", policy, quota);
    *lim = reset >= 0 ? arena_printf(a, "\"%s\";r=%lld;t=%lld", policy, remaining, reset)
                      : arena_printf(a, "\"%s\";r=%lld", policy, remaining);
}

void quota_fields(req_t *r, const char *policy, long long quota,
                  long long window, long long remaining, long long reset)
{
    const char *pol, *lim;

    quota_items(r->arena, policy, quota, window, remaining, reset, &pol, &lim);
    resp_header(r, "RateLimit-Policy", pol);
    resp_header(r, "RateLimit", lim);
}

/* The sentence of a refusal, e.g. "The requests_per_minute quota (600
 * requests per minute) is spent; it resets at ...". */
static const char *refusal_sentence(req_t *r, const cJSON *d, const char *res)
{
    const char *window = str(d, "window"), *unit = str(d, "unit");
    const char *up = str(d, "upgrade_tier");
    const char *tail = up ? arena_printf(r->arena, " The %s plan raises it.", up) : "";

    if (window)
        return arena_printf(r->arena, "The %s quota (%lld %s per %s) is spent; it resets at %s.%s",
                            res, num(d, "limit", 0), unit ? unit : "", window,
                            str(d, "resets_at") ? str(d, "resets_at") : "the next window", tail);
    return arena_printf(r->arena, "The %s limit (%lld %s) is reached; remove some or "
                        "ask for a larger plan.%s", res, num(d, "limit", 0), unit ? unit : "", tail);
}

/* promptd_quota_rejections_total{resource} */
static void quota_count(req_t *r, const char *res)
{
    strbuf_t sb;

    strbuf_init(&sb, r->arena, 64);
    strbuf_puts(&sb, "resource=\"");
    metrics_label_escape(&sb, res);
    strbuf_putc(&sb, '"');
    metrics_counter_add("promptd_quota_rejections_total", sb.ptr, 1);
}

int quota_reply(req_t *r)
{
    cJSON *d = refusal_detail(r), *p;
    const char *res = str(d, "resource");
    bool window = strcmp(r->tx.sqlstate, QUOTA_STATE_WINDOW) == 0;
    int status = window ? 429 : 409;
    const char *s;

    if (res == NULL) {
        log_error("%s: quota refusal without detail: %s", __func__,
                  r->tx.detail ? r->tx.detail : "");
        return resp_problem(r, 500, "Internal error; it has been logged.");
    }
    quota_count(r, res);
    p = json_own(r->arena, cJSON_CreateObject());
    cJSON_AddStringToObject(p, "type", arena_printf(r->arena, QUOTA_TYPE_BASE "%s", res));
    cJSON_AddStringToObject(p, "title", window ? "Quota exceeded" : "Limit reached");
    cJSON_AddNumberToObject(p, "status", status);
    cJSON_AddStringToObject(p, "detail", refusal_sentence(r, d, res));
    cJSON_AddStringToObject(p, "request_id", r->request_id);
    for (const cJSON *m = d->child; m; m = m->next)
        if (strcmp(m->string, "kind") != 0)
            cJSON_AddItemToObject(p, m->string, cJSON_Duplicate(m, true));
    if (window) {
        resp_header(r, "Retry-After", arena_printf(r->arena, "%lld", num(d, "retry_after", 1)));
        quota_fields(r, res, num(d, "limit", 0), num(d, "window_seconds", 0), 0,
                         num(d, "retry_after", 1));
    } else {
        quota_fields(r, res, num(d, "limit", 0), -1, 0, -1);
    }
    s = json_print(r->arena, p);
    r->status = status;
    r->content_type = "application/problem+json";
    r->resp_body = s;
    r->resp_len = strlen(s);
    r->etag = NULL;
    return status;
}

void quota_finish(req_t *r)
{
    const PGresult *res = r->tx.prelude_res;
    bool refused = quota_is_refusal(r->tx.sqlstate);

    r->tx.prelude = NULL;
    r->tx.prelude_fallback = NULL;
    r->tx.prelude_claims = NULL;
    r->tx.prelude_claims_values = NULL;
    if (r->quota_seq != QUOTA_SEQ_NONE)
        quotaseq_settle(&r->quota_key, res, r->quota_seq == QUOTA_SEQ_HIT,
                        r->tx.prelude_epoch_sent);
    r->tx.prelude_epoch = NULL;
    if (refused && r->status != 429 && r->status != 409)
        quota_reply(r);
    if (res == NULL || PQntuples(res) != 1 || PQgetisnull(res, 0, 0) || r->streamed)
        return;
    if (refused && strcmp(r->tx.sqlstate, QUOTA_STATE_WINDOW) == 0)
        return;    /* the refusal carries the spent policy's own fields */
    quota_fields(r, "requests_per_minute", atoll(PQgetvalue(res, 0, 0)),
                     atoll(PQgetvalue(res, 0, 2)), atoll(PQgetvalue(res, 0, 1)),
                     atoll(PQgetvalue(res, 0, 3)));
}

/* Usage of user as JSON text (200), 404 when no such user. */
static int usage_reply(req_t *r, const char *user)
{
    long days = req_query_int(r, "days", USAGE_DAYS_DEFAULT, USAGE_DAYS_MAX);
    const char *v[2];
    PGresult *res;

    if (r->errors)
        return resp_validation(r);
    v[0] = user;
    v[1] = arena_printf(r->arena, "%ld", days);
    if ((res = db_exec_app(&r->tx, &quota_stmts[QS_USAGE], 2, v)) == NULL)
        return dbreply_error(r);
    if (PQgetisnull(res, 0, 0))
        return resp_problem(r, 404, "No such user.");
    return resp_json_text(r, 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

/* GET /api/v1/usage?days=1..366 -> 200 {user_id, tier, plan, limits,
 *   overrides, resources: [...], history: [...]} | 401 | 403 | 422 */
int quota_usage_get(req_t *r)
{
    return usage_reply(r, r->tx.user_id);
}

/* GET /api/v1/admin/users/{id}/usage?days -> 200 as /api/v1/usage | 403 | 404 */
int quota_admin_usage_get(req_t *r)
{
    return usage_reply(r, req_param(r, "id"));
}

/* The body's "limits" object as JSON text, or NULL after recording a
 * field error (the SQL function checks names and values). */
static const char *limits_or_error(req_t *r)
{
    static const char *const allowed[] = {"limits", NULL};
    cJSON *limits = NULL;
    const char *text;

    req_reject_unknown(r, r->json, allowed);
    if (req_field_object(r, r->json, "limits", &limits) == FIELD_ABSENT)
        req_field_error(r, "limits", "is required");
    if (limits == NULL || r->errors)
        return NULL;
    text = json_print(r->arena, limits);
    if (strlen(text) > LIMITS_TEXT_MAX) {
        req_field_error(r, "limits", "is too large");
        return NULL;
    }
    return text;
}

/* A definer function's 22023 (a bad limit): 422 naming it; else the usual. */
static int set_error(req_t *r)
{
    const char *m = r->tx.detail ? strstr(r->tx.detail, "limits") : NULL;

    if (r->tx.sqlstate && strcmp(r->tx.sqlstate, "22023") == 0 && m) {
        req_field_error(r, "limits", "%.*s", (int)strcspn(m, "\n"), m);
        return resp_validation(r);
    }
    return dbreply_error(r);
}

/* PUT /api/v1/admin/users/{id}/limits {limits: {resource: n|null, per_key?}}
 *   -> 200 {user_id, overrides} | 403 | 404 | 422.  Replaces the user's
 *   overrides ({} removes them); audited quota.override. */
int quota_admin_limits_put(req_t *r)
{
    const char *v[2], *body, *limits = limits_or_error(r);
    PGresult *res;

    if (limits == NULL)
        return resp_validation(r);
    v[0] = req_param(r, "id");
    v[1] = limits;
    if ((res = db_exec_app(&r->tx, &quota_stmts[QS_OVERRIDE_SET], 2, v)) == NULL)
        return set_error(r);
    if (PQgetisnull(res, 0, 0))
        return resp_problem(r, 404, "No such user.");
    body = arena_printf(r->arena, "{\"user_id\":\"%s\",\"overrides\":%s}",
                        v[0], PQgetvalue(res, 0, 0));
    return resp_json_text(r, 200, body, strlen(body));
}

/* PATCH /api/v1/admin/plans/{tier} {limits: {resource: n|null, per_key?}}
 *   -> 200 {tier, name, limits} | 403 | 404 | 422.  Merges into the plan;
 *   audited plan.update. */
int quota_admin_plan_patch(req_t *r)
{
    const char *v[2], *limits = limits_or_error(r);
    PGresult *res;

    if (limits == NULL)
        return resp_validation(r);
    v[0] = req_param(r, "tier");
    v[1] = limits;
    if ((res = db_exec_app(&r->tx, &quota_stmts[QS_PLAN_SET], 2, v)) == NULL)
        return set_error(r);
    if (PQgetisnull(res, 0, 0))
        return resp_problem(r, 404, "No such plan.");
    return resp_json_text(r, 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}
