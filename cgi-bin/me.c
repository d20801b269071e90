/* me.c: the me family: own profile, audit trail, export, deletion, usage; admin routes (users, jobs, plans and limits). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/credential.h"
#include "auth/password.h"
#include "billing/stripe.h"
#include "core/json.h"
#include "http/dbreply.h"
#include "http/quota.h"
#include "me_stats.h"
#include "http/response.h"
#include "http/server.h"
#include "http/audit.h"
#include "core/config.h"
#include "storage/settings.h"
#include "storage/token.h"

#define DISPLAY_NAME_MAX 100
#define AVATAR_URL_MAX 2048
#define PREFERENCES_MAX 16384
#define PASSWORD_MAX 1024
#define RECENT_SIGNIN 300L /* seconds: a session signed in this recently may
                            * delete the account without the password */
#define LIST_DEFAULT 20
#define LIST_MAX 100
#define SEARCH_MAX 254 /* bytes of an admin's user search (an email's length) */
/* How long the export's signed attachment URLs work (at most
 * PROMPTD_STORAGE_SIGNED_URL_MAX): a week to fetch the files. */
#define EXPORT_URL_SECONDS 604800L

enum {
    ST_ME, ST_ME_UPDATE, ST_AUDIT, ST_EXPORT, ST_EXPORT_ATTACHMENTS, ST_PWHASH, ST_DELETE_CHECK,
    ST_DELETE_LOCK, ST_DELETE_PSEUDONYM, ST_DELETE, ST_BILLING_LIVE,
    ST_ADMIN_USERS, ST_ADMIN_TIER, ST_ADMIN_AUDIT,
    ST_ADMIN_JOBS, ST_ADMIN_JOBS_STATS, ST_ADMIN_JOB_RETRY, ST_ADMIN_JOB_CANCEL,
};

static const db_stmt_t stmts[] = {
    [ST_ME] = {"me_get", "select promptd.me()::text"},
    /* $1..$3 whether display_name/avatar_url/preferences are given, $4..$6 values */
    [ST_ME_UPDATE] = {"me_update",
        "update public.profiles set "
        "display_name = case when $1::boolean then $4 else display_name end, "
        "avatar_url = case when $2::boolean then $5 else avatar_url end, "
        "preferences = case when $3::boolean then $6::jsonb else preferences end "
        "where id = auth.uid() returning id"},
    /* $1 cursor (id, exclusive) or NULL, $2 limit + 1 */
    [ST_AUDIT] = {"me_audit",
        "select json_build_object('id', a.id, 'at', a.at, 'action', a.action, "
        "'target', a.target, 'outcome', a.outcome, 'request_id', a.request_id, "
        "'address', host(a.address), 'user_agent', a.user_agent, "
        "'api_key_id', a.actor_key, 'detail', a.detail, 'hash', a.hash)::text, a.id "
        "from public.audit_log a "
        "where a.actor_user = (select promptd.audit_pseudonym()) "
        "and ($1::bigint is null or a.id < $1::bigint) "
        "order by a.id desc limit $2::int"},
    /* $1 the prompt attachments (JSON array, signed URLs made here) */
    [ST_EXPORT] = {"me_export", "select (promptd.account_export() || "
        "jsonb_build_object('billing', promptd.billing_export(), "
        "'analytics_events', promptd.analytics_export(), "
        "'prompt_attachments', $1::jsonb))::text"},
    /* $1 seconds the signed URLs work (0: none) */
    [ST_EXPORT_ATTACHMENTS] = {"me_export_attachments",
        "select a.prompt_id, a.id, a.bucket, a.path, a.content_type, a.size, a.signed_id, "
        "a.expires_at, to_json(to_timestamp(a.expires_at)) #>> '{}' "
        "from promptd.account_export_attachments($1::int) a"},
    [ST_BILLING_LIVE] = {"me_billing_live", "select promptd.billing_live_subscriptions()"},
    [ST_PWHASH] = {"me_pwhash", "select promptd.account_password_hash()"},
    /* PW409 while the caller is the last owner of a shared team workspace */
    [ST_DELETE_CHECK] = {"me_delete_check", "select promptd.delete_account_check()"},
    [ST_DELETE_LOCK] = {"me_delete_lock", "select promptd.delete_account_lock()"},
    [ST_DELETE_PSEUDONYM] = {"me_delete_pseudonym", "select promptd.audit_subject($1::uuid)"},
    [ST_DELETE] = {"me_delete", "select promptd.delete_account()"},
    /* $1 limit + 1, $2 cursor (id, exclusive) or NULL, $3 the search or NULL */
    [ST_ADMIN_USERS] = {"admin_users",
        "select u::text, u ->> 'id' from promptd.admin_search_users($3, $1::int, $2::uuid) u"},
    /* $1 user, $2 limit, $3 before (id, exclusive) or NULL; NULL: no such user */
    [ST_ADMIN_AUDIT] = {"admin_audit",
        "select promptd.admin_user_audit($1::uuid, $2::int, $3::bigint)::text"},
    [ST_ADMIN_TIER] = {"admin_tier",
        "select promptd.admin_set_tier($1::uuid, $2)::text"},
    /* $1 state, $2 queue (NULL: any), $3 limit + 1, $4 cursor (id, exclusive) */
    [ST_ADMIN_JOBS] = {"admin_jobs",
        "select job::text, id from promptd.admin_jobs($1, $2, $3::int, $4::bigint)"},
    [ST_ADMIN_JOBS_STATS] = {"admin_jobs_stats", "select promptd.admin_jobs_stats()::text"},
    [ST_ADMIN_JOB_RETRY] = {"admin_job_retry",
        "select status, job::text, job ->> 'state' from promptd.admin_job_retry($1::bigint)"},
    [ST_ADMIN_JOB_CANCEL] = {"admin_job_cancel",
        "select status, job::text, job ->> 'state' from promptd.admin_job_cancel($1::bigint)"},
    {NULL, NULL},
};

/* A page of rows (column 0 JSON, column 1 the cursor of that row). */
static int list_reply(req_t *r, PGresult *res, long limit)
{
    return dbreply_list(r, res, limit, PQntuples(res) > limit
                         ? PQgetvalue(res, (int)limit - 1, 1) : NULL);
}

static int me_reply(req_t *r, int status)
{
    PGresult *res = db_exec(&r->tx, &stmts[ST_ME], 0, NULL);

    if (res == NULL)
        return dbreply_error(r);
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
        return resp_problem(r, 404, "No profile for this account.");
    return resp_json_text(r, status, PQgetvalue(res, 0, 0),
                          (size_t)PQgetlength(res, 0, 0));
}

/* GET /api/v1/me -> 200 {id,email,display_name,avatar_url,preferences,
 *   subscription_tier,plan:{tier,name,limits},is_admin,created_at,updated_at} */
static int me_get(req_t *r)
{
    return me_reply(r, 200);
}

/* An http(s) URL of at most AVATAR_URL_MAX bytes with a host and no
 * whitespace or control characters. */
static bool avatar_url_valid(const char *s)
{
    size_t n = strlen(s), skip;

    if (n > AVATAR_URL_MAX)
        return false;
    if (strncmp(s, "https://", 8) == 0)
        skip = 8;
    else if (strncmp(s, "http://", 7) == 0)
        skip = 7;
    else
        return false;
    if (s[skip] == '\0' || s[skip] == '/' || s[skip] == '?' || s[skip] == '#')
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return false;
    return true;
}

/* A nullable string member: JSON null clears it (*out NULL, FIELD_OK). */
static enum field_result nullable_string(req_t *r, const char *name,
                                         size_t max_chars, const char **out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(r->json, name);

    if (item != NULL && cJSON_IsNull(item)) {
        *out = NULL;
        return FIELD_OK;
    }
    return req_field_string(r, r->json, name, max_chars, false, out);
}

/* PATCH /api/v1/me {display_name?, avatar_url?, preferences?}
 *   -> 200 (as GET) | 422.  null clears display_name / avatar_url;
 *   preferences (an object, <= 16 KB) replaces the stored object. */
static int me_update(req_t *r)
{
    static const char *const allowed[] = {
        "display_name", "avatar_url", "preferences", NULL};
    const char *name = NULL, *url = NULL, *prefs_s = NULL, *v[6];
    enum field_result fn, fu, fp;
    cJSON *prefs = NULL, *fields;

    req_reject_unknown(r, r->json, allowed);
    fn = nullable_string(r, "display_name", DISPLAY_NAME_MAX, &name);
    fu = nullable_string(r, "avatar_url", AVATAR_URL_MAX, &url);
    if (fu == FIELD_OK && url && !avatar_url_valid(url))
        req_field_error(r, "avatar_url", "must be an http(s) URL of at most %d bytes",
                        AVATAR_URL_MAX);
    fp = req_field_object(r, r->json, "preferences", &prefs);
    if (fp == FIELD_OK && strlen(prefs_s = json_print(r->arena, prefs)) > PREFERENCES_MAX)
        req_field_error(r, "preferences", "must serialise to at most %d bytes",
                        PREFERENCES_MAX);
    if (!r->errors && fn == FIELD_ABSENT && fu == FIELD_ABSENT && fp == FIELD_ABSENT)
        req_field_error(r, "body", "must set display_name, avatar_url or preferences");
    if (r->errors)
        return resp_validation(r);
    v[0] = fn == FIELD_OK ? "true" : "false";
    v[1] = fu == FIELD_OK ? "true" : "false";
    v[2] = fp == FIELD_OK ? "true" : "false";
    v[3] = name;
    v[4] = url;
    v[5] = prefs_s;
    if (db_exec(&r->tx, &stmts[ST_ME_UPDATE], 6, v) == NULL)
        return dbreply_error(r);
    fields = json_own(r->arena, cJSON_CreateArray());
    if (fn == FIELD_OK)
        cJSON_AddItemToArray(fields, cJSON_CreateString("display_name"));
    if (fu == FIELD_OK)
        cJSON_AddItemToArray(fields, cJSON_CreateString("avatar_url"));
    if (fp == FIELD_OK)
        cJSON_AddItemToArray(fields, cJSON_CreateString("preferences"));
    if (!audit_record(r, "profile.update", "profile", "success",
                      arena_printf(r->arena, "{\"fields\":%s}",
                                   json_print(r->arena, fields)), NULL))
        return dbreply_error(r);
    return me_reply(r, 200);
}

/* GET /api/v1/me/audit?limit&cursor -> 200 {items,next_cursor} | 422.
 * Newest first; the cursor is the last item's id. */
static int me_audit(req_t *r)
{
    const char *cursor = req_query(r, "cursor"), *v[2];
    long limit = req_query_int(r, "limit", LIST_DEFAULT, LIST_MAX);
    PGresult *res;

    if (cursor && (*cursor == '\0' || strlen(cursor) > 18 ||
                   strspn(cursor, "0123456789") != strlen(cursor)))
        req_field_error(r, "cursor", "is invalid");
    if (r->errors)
        return resp_validation(r);
    v[0] = cursor;
    v[1] = arena_printf(r->arena, "%ld", limit + 1);
    if ((res = db_exec(&r->tx, &stmts[ST_AUDIT], 2, v)) == NULL)
        return dbreply_error(r);
    return list_reply(r, res, limit);
}

/* The export's prompt_attachments: [{prompt_id, id, bucket, path,
 * content_type, size, url, url_expires_at}], url a signed download URL
 * (absolute) of each object the caller owns, null for others' (and when
 * this server signs no URLs).  JSON text, or NULL on a database error. */
static const char *export_attachments(req_t *r)
{
    const char *key = storage_signing_key();
    const storage_settings_t *ss = storage_settings();
    long secs = ss && ss->signed_max_s < EXPORT_URL_SECONDS ? ss->signed_max_s : EXPORT_URL_SECONDS;
    const char *v[1] = {arena_printf(r->arena, "%ld", key ? secs : 0L)};
    const config_t *cfg = config_load(false);
    PGresult *res = db_exec(&r->tx, &stmts[ST_EXPORT_ATTACHMENTS], 1, v);
    cJSON *out;

    if (res == NULL)
        return NULL;
    out = json_own(r->arena, cJSON_CreateArray());
    for (int i = 0; i < PQntuples(res); i++) {
        cJSON *a = cJSON_CreateObject();

        cJSON_AddStringToObject(a, "prompt_id", PQgetvalue(res, i, 0));
        cJSON_AddStringToObject(a, "id", PQgetvalue(res, i, 1));
        cJSON_AddStringToObject(a, "bucket", PQgetvalue(res, i, 2));
        cJSON_AddStringToObject(a, "path", PQgetvalue(res, i, 3));
        cJSON_AddStringToObject(a, "content_type", PQgetvalue(res, i, 4));
        cJSON_AddNumberToObject(a, "size", (double)strtoll(PQgetvalue(res, i, 5), NULL, 10));
        if (PQgetisnull(res, i, 6)) {
            cJSON_AddNullToObject(a, "url");
            cJSON_AddNullToObject(a, "url_expires_at");
        } else {
            cJSON_AddStringToObject(a, "url", arena_printf(r->arena, "%s/storage/v1%s",
                cfg->site_url, storage_token_signed_path(r->arena, key, PQgetvalue(res, i, 2),
                    PQgetvalue(res, i, 3), PQgetvalue(res, i, 6),
                    strtoll(PQgetvalue(res, i, 7), NULL, 10), NULL, true)));
            cJSON_AddStringToObject(a, "url_expires_at", PQgetvalue(res, i, 8));
        }
        cJSON_AddItemToArray(out, a);
    }
    return json_print(r->arena, out);
}

/* GET /api/v1/me/export -> 200 {exported_at, profile, audit_log, prompts,
 *   prompt_versions, usage_tracking, prompt_attachments (with signed
 *   URLs), billing, analytics_events (sql/functions/analytics.sql),
 *   ...every table with the caller's rows}.
 *   Audited (account.export) before the data is read. */
static int me_export(req_t *r)
{
    PGresult *res;
    const char *att;

    if (!audit_record(r, "account.export", "account", "success", NULL, NULL) ||
        (att = export_attachments(r)) == NULL ||
        (res = db_exec(&r->tx, &stmts[ST_EXPORT], 1, &att)) == NULL)
        return dbreply_error(r);
    resp_header(r, "Content-Disposition", "attachment; filename=\"promptd-export.json\"");
    resp_header(r, "Cache-Control", "no-store");
    return resp_json_text(r, 200, PQgetvalue(res, 0, 0),
                          (size_t)PQgetlength(res, 0, 0));
}

/* The optional body of DELETE /api/v1/me: {} or {"password": "..."}.
 * Returns false after replying. */
static bool delete_body_or_reply(req_t *r, const char **password)
{
    static const char *const allowed[] = {"password", NULL};
    const char *why = NULL;

    *password = NULL;
    if (r->body_len == 0)
        return true;
    r->json = json_parse_strict(r->arena, r->body, r->body_len, &why);
    if (r->json == NULL || !cJSON_IsObject(r->json)) {
        resp_problem(r, 400, "The body must be a JSON object.");
        return false;
    }
    req_reject_unknown(r, r->json, allowed);
    req_field_string(r, r->json, "password", PASSWORD_MAX, false, password);
    if (r->errors) {
        resp_validation(r);
        return false;
    }
    return true;
}

/* Cancel the caller's live Stripe subscriptions, before the account
 * goes, with the request's transaction committed first (no transaction is
 * open while Stripe is called; the deletion runs in a new one); false
 * after a 503 saying nothing was deleted. */
static bool billing_cancel_or_reply(req_t *r)
{
    PGresult *res = db_exec(&r->tx, &stmts[ST_BILLING_LIVE], 0, NULL);
    const char *why = NULL;

    if (res == NULL || (PQntuples(res) > 0 && !db_tx_commit(&r->tx))) {
        dbreply_error(r);
        return false;
    }
    for (int i = 0; i < PQntuples(res); i++)
        if (!stripe_subscription_cancel(r->arena, PQgetvalue(res, i, 0), &why)) {
            r->tx.detail = arena_printf(r->arena, "cancel %s: %s", PQgetvalue(res, i, 0), why);
            resp_problem(r, 503, "The subscription could not be canceled at the payment "
                         "provider, so the account was not deleted; retry shortly.");
            return false;
        }
    return true;
}

/* DELETE /api/v1/me {password?} -> 204 | 409 (the last owner of a shared team
 *   workspace) | 403 (neither a recent sign-in
 *   nor a correct password) | 422.  "Recent" is measured from the
 *   session's sign-in time, which a refresh keeps (credential_recent_signin),
 *   not from the token's iat.  A live Stripe subscription is canceled
 *   first (503, nothing deleted, while that fails).  Deletes the user and everything they own;
 *   their audit rows stay under a pseudonym nobody can resolve. */
static int me_delete(req_t *r)
{
    const char *password;
    PGresult *res;
    int ok;

    if (!delete_body_or_reply(r, &password))
        return r->status;
    if (password) {
        if ((res = db_exec(&r->tx, &stmts[ST_PWHASH], 0, NULL)) == NULL)
            return dbreply_error(r);
        ok = password_verify(db_value(res, 0, 0), password);
    } else if ((ok = credential_recent_signin(r, RECENT_SIGNIN)) < 0) {
        return r->status;
    }
    if (!ok) {
        r->tx.commit_on_error = true;   /* keep the failure's audit row only */
        if (!audit_record(r, "account.delete", "account", "denied",
                          password ? "{\"reason\":\"password\"}"
                                   : "{\"reason\":\"stale_signin\"}", NULL))
            return dbreply_error(r);
        return resp_problem(r, 403, password
            ? "The password is incorrect."
            : "Sign in again (within 5 minutes) or give your password to delete the account.");
    }
    if (db_exec(&r->tx, &stmts[ST_DELETE_CHECK], 0, NULL) == NULL)
        return dbreply_error(r);    /* before Stripe is told anything */
    if (!billing_cancel_or_reply(r))
        return r->status;
    /* the rows billing's jobs lock first; the audit row (the chain's head,
     * held until commit) last, after every row the deletion changes, which
     * other requests lock before they audit; under the pseudonym the
     * deletion forgets */
    if (db_exec_app(&r->tx, &stmts[ST_DELETE_LOCK], 0, NULL) == NULL ||
        (res = db_exec_app(&r->tx, &stmts[ST_DELETE_PSEUDONYM], 1, &r->tx.user_id)) == NULL ||
        db_exec_app(&r->tx, &stmts[ST_DELETE], 0, NULL) == NULL ||
        !audit_record_as(r, db_value(res, 0, 0), "account.delete", "account", "success",
                         password ? "{\"via\":\"password\"}" : "{\"via\":\"recent_signin\"}"))
        return dbreply_error(r);
    return resp_empty(r, 204);
}

/* A job or audit id: a positive integer of at most 18 digits. */
static bool job_id_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    return n > 0 && n <= 18 && strspn(s, "0123456789") == n && strspn(s, "0") < n;
}

/* GET /api/v1/admin/users?q&limit&cursor -> 200 {items,next_cursor} | 403 |
 *   422.  Ordered by id; the cursor is the last item's id.  q (1..254
 *   characters): the users whose email starts with it (any case) or whose
 *   id does. */
static int admin_users(req_t *r)
{
    const char *cursor = req_query(r, "cursor"), *q = req_query(r, "q"), *v[3];
    long limit = req_query_int(r, "limit", LIST_DEFAULT, LIST_MAX);
    PGresult *res;

    if (cursor && !uuid_valid(cursor))
        req_field_error(r, "cursor", "is invalid");
    if (q && (*q == '\0' || strlen(q) > SEARCH_MAX || !utf8_valid(q, strlen(q))))
        req_field_error(r, "q", "must be 1 to %d bytes of UTF-8", SEARCH_MAX);
    if (r->errors)
        return resp_validation(r);
    v[0] = arena_printf(r->arena, "%ld", limit + 1);
    v[1] = cursor;
    v[2] = q;
    if ((res = db_exec(&r->tx, &stmts[ST_ADMIN_USERS], 3, v)) == NULL)
        return dbreply_error(r);
    return list_reply(r, res, limit);
}

/* GET /api/v1/admin/users/{id}/audit?limit&before -> 200 {items,next_cursor}
 *   | 403 | 404 | 422.  The user's own audit rows (as GET /api/v1/me/audit
 *   shows them), newest first; before: an audit id, the rows below it
 *   (the previous page's next_cursor). */
static int admin_user_audit(req_t *r)
{
    const char *before = req_query(r, "before"), *v[3];
    long limit = req_query_int(r, "limit", LIST_DEFAULT, LIST_MAX);
    PGresult *res;

    if (before && !job_id_valid(before))
        req_field_error(r, "before", "must be a positive integer (an audit id)");
    if (r->errors)
        return resp_validation(r);
    v[0] = req_param(r, "id");
    v[1] = arena_printf(r->arena, "%ld", limit);
    v[2] = before;
    if ((res = db_exec(&r->tx, &stmts[ST_ADMIN_AUDIT], 3, v)) == NULL)
        return dbreply_error(r);
    if (PQgetisnull(res, 0, 0))
        return resp_problem(r, 404, "No such user.");
    return resp_json_text(r, 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

/* PATCH /api/v1/admin/users/{id} {subscription_tier} -> 200 user | 403 |
 *   404 | 422.  Audited as tier.change. */
static int admin_user_update(req_t *r)
{
    static const char *const allowed[] = {"subscription_tier", NULL};
    static const char *const tiers[] = {"free", "pro", "team", "enterprise", NULL};
    const char *tier = NULL, *v[2];
    PGresult *res;
    bool known = false;

    req_reject_unknown(r, r->json, allowed);
    if (req_field_string(r, r->json, "subscription_tier", 32, false, &tier) ==
        FIELD_ABSENT)
        req_field_error(r, "subscription_tier", "is required");
    for (int i = 0; tier && tiers[i]; i++)
        known = known || strcmp(tier, tiers[i]) == 0;
    if (tier && !known)
        req_field_error(r, "subscription_tier", "must be free, pro, team or enterprise");
    if (r->errors)
        return resp_validation(r);
    v[0] = req_param(r, "id");
    v[1] = tier;
    if ((res = db_exec(&r->tx, &stmts[ST_ADMIN_TIER], 2, v)) == NULL)
        return dbreply_error(r);
    if (PQgetisnull(res, 0, 0))
        return resp_problem(r, 404, "No such user.");
    return resp_json_text(r, 200, PQgetvalue(res, 0, 0),
                          (size_t)PQgetlength(res, 0, 0));
}

/* GET /api/v1/admin/jobs?state&queue&limit&cursor -> 200 {items,next_cursor}
 *   | 403 | 422.  Newest first; the cursor is the last item's id. */
static int admin_jobs(req_t *r)
{
    static const char *const states[] = {
        "pending", "running", "succeeded", "dead", "cancelled", NULL};
    const char *state = req_query(r, "state"), *queue = req_query(r, "queue");
    const char *cursor = req_query(r, "cursor"), *v[4];
    long limit = req_query_int(r, "limit", LIST_DEFAULT, LIST_MAX);
    bool known = false;
    PGresult *res;

    for (int i = 0; state && states[i]; i++)
        known = known || strcmp(state, states[i]) == 0;
    if (state && !known)
        req_field_error(r, "state", "must be pending, running, succeeded, dead or cancelled");
    if (queue && (*queue == '\0' || strlen(queue) > 100))
        req_field_error(r, "queue", "must be 1 to 100 characters");
    if (cursor && !job_id_valid(cursor))
        req_field_error(r, "cursor", "is invalid");
    if (r->errors)
        return resp_validation(r);
    v[0] = state;
    v[1] = queue;
    v[2] = arena_printf(r->arena, "%ld", limit + 1);
    v[3] = cursor;
    if ((res = db_exec(&r->tx, &stmts[ST_ADMIN_JOBS], 4, v)) == NULL)
        return dbreply_error(r);
    return list_reply(r, res, limit);
}

/* GET /api/v1/admin/jobs/stats -> 200 {states:{pending,...}, queues:[{queue,
 *   pending,running,succeeded,dead,cancelled,due,oldest_pending_age_s}],
 *   total} | 403 */
static int admin_jobs_stats(req_t *r)
{
    PGresult *res = db_exec(&r->tx, &stmts[ST_ADMIN_JOBS_STATS], 0, NULL);

    if (res == NULL)
        return dbreply_error(r);
    return resp_json_text(r, 200, PQgetvalue(res, 0, 0),
                          (size_t)PQgetlength(res, 0, 0));
}

/* retry/cancel: 200 job | 400 (id not a positive integer) | 403 | 404 |
 * 409 (the job's state does not allow it).  Audited as job.retry /
 * job.cancel. */
static int admin_job_change(req_t *r, int stmt, const char *action)
{
    const char *id = req_param(r, "id"), *v[1] = {id}, *status;
    PGresult *res;

    if (!job_id_valid(id))
        return resp_problem(r, 400, "The job id must be a positive integer.");
    if ((res = db_exec(&r->tx, &stmts[stmt], 1, v)) == NULL)
        return dbreply_error(r);
    status = PQgetvalue(res, 0, 0);
    if (strcmp(status, "not_found") == 0)
        return resp_problem(r, 404, "No such job.");
    if (strcmp(status, "ok") != 0)
        return resp_problem(r, 409, arena_printf(r->arena,
            "The job is %s: it cannot be %s.", PQgetvalue(res, 0, 2),
            strcmp(action, "job.retry") == 0 ? "retried" : "cancelled"));
    if (!audit_record(r, action, arena_printf(r->arena, "job:%s", id), "success",
                      NULL, NULL))
        return dbreply_error(r);
    return resp_json_text(r, 200, PQgetvalue(res, 0, 1),
                          (size_t)PQgetlength(res, 0, 1));
}

/* POST /api/v1/admin/jobs/{id}/retry -> 200 job (pending, due now) | 400 |
 *   403 | 404 | 409 (running or succeeded) */
static int admin_job_retry(req_t *r)
{
    return admin_job_change(r, ST_ADMIN_JOB_RETRY, "job.retry");
}

/* POST /api/v1/admin/jobs/{id}/cancel -> 200 job (cancelled) | 400 | 403 |
 *   404 | 409 (already finished) */
static int admin_job_cancel(req_t *r)
{
    return admin_job_change(r, ST_ADMIN_JOB_CANCEL, "job.cancel");
}

static const route_t routes[] = {
    {"GET", "/api/v1/me", me_get, R_DB | R_READONLY, CRED_SESSION, NULL},
    {"PATCH", "/api/v1/me", me_update, R_JSON | R_DB, CRED_SESSION, NULL},
    {"DELETE", "/api/v1/me", me_delete, R_DB | R_AAL2, CRED_SESSION, NULL},
    {"GET", "/api/v1/me/audit", me_audit, R_DB | R_READONLY, CRED_SESSION, NULL},
    {"GET", "/api/v1/me/export", me_export, R_DB, CRED_SESSION, NULL},
    {"GET", "/api/v1/admin/users", admin_users,
     R_DB | R_READONLY | R_ADMIN, CRED_SESSION | CRED_APIKEY, "admin"},
    {"PATCH", "/api/v1/admin/users/{id:uuid}", admin_user_update,
     R_JSON | R_DB | R_ADMIN, CRED_SESSION | CRED_APIKEY, "admin"},
    {"GET", "/api/v1/admin/users/{id:uuid}/audit", admin_user_audit,
     R_DB | R_READONLY | R_ADMIN, CRED_SESSION | CRED_APIKEY, "admin"},
    {"GET", "/api/v1/admin/jobs", admin_jobs,
     R_DB | R_READONLY | R_ADMIN, CRED_SESSION | CRED_APIKEY, "admin"},
    {"GET", "/api/v1/admin/jobs/stats", admin_jobs_stats,
     R_DB | R_READONLY | R_ADMIN, CRED_SESSION | CRED_APIKEY, "admin"},
    {"POST", "/api/v1/admin/jobs/{id}/retry", admin_job_retry,
     R_DB | R_ADMIN, CRED_SESSION | CRED_APIKEY, "admin"},
    {"POST", "/api/v1/admin/jobs/{id}/cancel", admin_job_cancel,
     R_DB | R_ADMIN, CRED_SESSION | CRED_APIKEY, "admin"},
    /* quotas: src/http/quota.c */
    {"GET", "/api/v1/usage", quota_usage_get, R_DB | R_READONLY, CRED_SESSION, NULL},
    {"GET", "/api/v1/admin/users/{id:uuid}/usage", quota_admin_usage_get,
     R_DB | R_READONLY | R_ADMIN, CRED_SESSION | CRED_APIKEY, "admin"},
    {"PUT", "/api/v1/admin/users/{id:uuid}/limits", quota_admin_limits_put,
     R_JSON | R_DB | R_ADMIN, CRED_SESSION | CRED_APIKEY, "admin"},
    {"PATCH", "/api/v1/admin/plans/{tier}", quota_admin_plan_patch,
     R_JSON | R_DB | R_ADMIN, CRED_SESSION | CRED_APIKEY, "admin"},
    /* the statistics API: cgi-bin/me_stats.c */
    {"GET", "/api/v1/me/stats", me_stats_own, R_DB | R_READONLY | R_REPLICA, CRED_SESSION, NULL},
    {"GET", "/api/v1/admin/analytics/overview", me_stats_overview,
     R_DB | R_READONLY | R_REPLICA | R_ADMIN, CRED_SESSION | CRED_APIKEY, "admin"},
    {"GET", "/api/v1/admin/analytics/active-users", me_stats_active_users,
     R_DB | R_READONLY | R_REPLICA | R_ADMIN, CRED_SESSION | CRED_APIKEY, "admin"},
    {"GET", "/api/v1/admin/analytics/signups", me_stats_signups,
     R_DB | R_READONLY | R_REPLICA | R_ADMIN, CRED_SESSION | CRED_APIKEY, "admin"},
    {"GET", "/api/v1/admin/analytics/enrichments", me_stats_enrichments,
     R_DB | R_READONLY | R_REPLICA | R_ADMIN, CRED_SESSION | CRED_APIKEY, "admin"},
    {"GET", "/api/v1/admin/analytics/costs", me_stats_costs,
     R_DB | R_READONLY | R_REPLICA | R_ADMIN, CRED_SESSION | CRED_APIKEY, "admin"},
    {"GET", "/api/v1/admin/analytics/sharing", me_stats_sharing,
     R_DB | R_READONLY | R_REPLICA | R_ADMIN, CRED_SESSION | CRED_APIKEY, "admin"},
    {"GET", "/api/v1/admin/analytics/conversion", me_stats_conversion,
     R_DB | R_READONLY | R_REPLICA | R_ADMIN, CRED_SESSION | CRED_APIKEY, "admin"},
    {"GET", "/api/v1/admin/analytics/retention", me_stats_retention,
     R_DB | R_READONLY | R_REPLICA | R_ADMIN, CRED_SESSION | CRED_APIKEY, "admin"},
    {"GET", "/api/v1/admin/analytics/top-prompts", me_stats_top_prompts,
     R_DB | R_READONLY | R_REPLICA | R_ADMIN, CRED_SESSION | CRED_APIKEY, "admin"},
    {"GET", "/api/v1/admin/analytics/endpoints", me_stats_endpoints,
     R_DB | R_READONLY | R_REPLICA | R_ADMIN, CRED_SESSION | CRED_APIKEY, "admin"},
};

int main(int argc, char **argv)
{
    static const db_stmt_t *const tables[] = {stmts, me_stats_stmts, NULL};
    static const family_t family = {
        "me", routes, sizeof(routes) / sizeof(routes[0]), tables, NULL};

    return server_main(argc, argv, &family);
}
