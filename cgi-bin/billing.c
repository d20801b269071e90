/* billing.c: the billing family: plans on sale, Stripe checkout and portal sessions, the caller's subscription, and Stripe's signed webhooks. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "billing/stripe.h"
#include "core/config.h"
#include "core/json.h"
#include "core/str.h"
#include "crypto/random.h"
#include "http/dbreply.h"
#include "http/response.h"
#include "http/server.h"

#define URL_MAX_CHARS 2048
#define EVENT_ID_MAX 255

enum { ST_PLANS, ST_PRICE, ST_CUSTOMER_GET, ST_CUSTOMER_SET, ST_STATE, ST_STORE,
       ST_PLAN_UPDATE, ST_SUBSCRIBED };

static const db_stmt_t stmts[] = {
    [ST_PLANS] = {"billing_plans", "select promptd.billing_plans()::text"},
    /* $1 tier, $2 interval: its price, no row when not on sale */
    [ST_PRICE] = {"billing_price",
        "select case $2 when 'yearly' then pl.stripe_price_yearly "
        "else pl.stripe_price_monthly end from public.plans pl "
        "where pl.tier = $1 and pl.purchasable"},
    /* these run as the worker (db_exec_app), $1 the caller (tx.user_id);
     * customer_get: (customer_id, deleted), no row when none was made */
    [ST_CUSTOMER_GET] = {"billing_customer_of",
        "select customer_id, deleted from promptd.billing_customer_of($1::uuid)"},
    [ST_CUSTOMER_SET] = {"billing_customer_set",
        "select promptd.billing_customer_set($1::uuid, $2)"},
    [ST_STATE] = {"billing_state", "select promptd.billing_state($1::uuid)::text"},
    /* $1 id, $2 type, $3 created, $4 the event: 'stored' | 'duplicate' */
    [ST_STORE] = {"billing_event_store",
        "select promptd.billing_event_store($1, $2, $3::bigint, $4::jsonb)"},
    /* as the worker: $1 tier, $2 patch; the function checks is_admin */
    [ST_PLAN_UPDATE] = {"billing_plan_update",
        "select promptd.billing_plan_update($1, $2::jsonb)::text"},
    [ST_SUBSCRIBED] = {"billing_subscribed",
        "select promptd.billing_subscribed($1::uuid)"},
    {NULL, NULL},
};

/* 503 unless a Stripe secret key is configured; true when it is. */
static bool configured_or_reply(req_t *r)
{
    if (stripe_settings()->secret_key != NULL)
        return true;
    resp_problem(r, 503, "Billing is not configured on this server.");
    return false;
}

/* The origin (scheme://host[:port]) of an http(s) URL, lower-cased, or
 * NULL when url is not an absolute http(s) URL without user info. */
static const char *url_origin(arena_t *a, const char *url)
{
    size_t scheme = strncasecmp(url, "https://", 8) == 0 ? 8
                  : strncasecmp(url, "http://", 7) == 0 ? 7 : 0;
    size_t n;
    char *o;

    if (scheme == 0)
        return NULL;
    n = strcspn(url + scheme, "/?#");
    if (n == 0 || memchr(url + scheme, '@', n) || strcspn(url, " \t\r\n\\") != strlen(url))
        return NULL;
    o = arena_strndup(a, url, scheme + n);
    for (char *p = o; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return o;
}

/* Is origin one of PROMPTD_CORS_ORIGINS (comma or space separated) or
 * the site URL's? */
static bool origin_allowed(req_t *r, const char *origin)
{
    const char *list = config_env("PROMPTD_CORS_ORIGINS");
    const config_t *cfg = config_load(false);   /* loaded at start: cached */
    const char *site = cfg ? cfg->site_url : NULL;
    char *copy, *save = NULL;

    if (site && (site = url_origin(r->arena, site)) && strcmp(site, origin) == 0)
        return true;
    if (list == NULL)
        return false;
    copy = arena_strdup(r->arena, list);
    for (char *t = strtok_r(copy, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
        const char *o = url_origin(r->arena, t);

        if (o && strcmp(o, origin) == 0)
            return true;
    }
    return false;
}

/* A required return URL field on an allowed origin, else a field error. */
static const char *return_url(req_t *r, const char *name)
{
    const char *url = NULL, *origin;

    if (req_field_string(r, r->json, name, URL_MAX_CHARS, false, &url) == FIELD_ABSENT)
        req_field_error(r, name, "is required");
    if (url == NULL)
        return NULL;
    if ((origin = url_origin(r->arena, url)) == NULL) {
        req_field_error(r, name, "must be an absolute http(s) URL");
        return NULL;
    }
    if (!origin_allowed(r, origin)) {
        req_field_error(r, name, "must be on an allowed origin (PROMPTD_CORS_ORIGINS or the site URL)");
        return NULL;
    }
    return url;
}

/* A Stripe failure as 502 (4xx from Stripe: the detail says why), 422
 * (the client's Idempotency-Key was first used for another request) or
 * 503 (unreachable, or still busy with the same key). */
static int stripe_failed(req_t *r, const stripe_reply_t *sr)
{
    r->tx.detail = arena_printf(r->arena, "stripe: status %ld after %d attempt(s): %s",
                                sr->status, sr->attempts, sr->error ? sr->error : "?");
    if (sr->status == 0 || sr->status >= 500 || sr->status == 429 || sr->status == 409)
        return resp_problem(r, 503, "The payment provider is unreachable; retry shortly.");
    if (sr->status == 400 && sr->error_code && strcmp(sr->error_code, "idempotency_error") == 0)
        return resp_problem(r, 422, "This Idempotency-Key was already used for another request; "
                            "use a new key for a new request.");
    return resp_problemf(r, 502, "The payment provider refused the request: %s",
                         sr->error ? sr->error : "no reason given");
}

/* The client's Idempotency-Key (prefixed with the user, so two users'
 * keys never meet at Stripe) or a fresh random one.  Stripe replays its
 * answer to a repeated key (for 24 hours) and refuses the key with other
 * parameters: that replay is this route's idempotency. */
static const char *idem_key(req_t *r, const char *what)
{
    const char *k = req_header(r, "Idempotency-Key");
    unsigned char b[16];

    if (k && *k && strlen(k) <= 200)
        return arena_printf(r->arena, "promptd-%s-%s-%s", what, r->tx.user_id, k);
    random_bytes(b, sizeof b);
    return arena_printf(r->arena, "promptd-%s-%s", what, hex_encode(r->arena, b, sizeof b));
}

/* Commit what the request has read, so that no transaction is open
 * while Stripe is called (a later db_exec opens a new one); false after
 * replying. */
static bool commit_or_reply(req_t *r)
{
    if (db_tx_commit(&r->tx))
        return true;
    dbreply_error(r);
    return false;
}

/* A customer Stripe created for the caller: POST /v1/customers with
 * metadata.promptd_user_id.  The Idempotency-Key is the user's (and the
 * deleted customer's, after customer.deleted), so concurrent checkouts,
 * and a retry after a lost answer, get the one customer.  NULL after
 * replying. */
static const char *customer_create_or_reply(req_t *r, const char *deleted)
{
    stripe_form_t f = {r->arena, NULL};
    stripe_reply_t sr;
    const cJSON *id;

    stripe_form_add(&f, "metadata[promptd_user_id]", r->tx.user_id);
    if (!stripe_call(r->arena, "POST", "/v1/customers", f.text,
                     deleted ? arena_printf(r->arena, "promptd-customer-%s-%s", r->tx.user_id, deleted)
                             : arena_printf(r->arena, "promptd-customer-%s", r->tx.user_id), &sr)) {
        stripe_failed(r, &sr);
        return NULL;
    }
    id = cJSON_GetObjectItemCaseSensitive(sr.json, "id");
    if (!cJSON_IsString(id)) {
        stripe_failed(r, &(stripe_reply_t){.status = 502, .error = "no customer id"});
        return NULL;
    }
    return id->valuestring;
}

/* The live customer of an ST_CUSTOMER_GET result (res-owned), or NULL;
 * *deleted then names a deleted one (NULL when none was ever linked). */
static const char *customer_live(PGresult *res, const char **deleted)
{
    *deleted = NULL;
    if (PQntuples(res) != 1)
        return NULL;
    if (strcmp(PQgetvalue(res, 0, 1), "t") == 0) {
        *deleted = PQgetvalue(res, 0, 0);
        return NULL;
    }
    return PQgetvalue(res, 0, 0);
}

/* The caller's Stripe customer id: the linked one, else one created now
 * and linked (the first link wins: a concurrent checkout's is the same
 * customer).  Commits the request's transaction before calling Stripe and
 * leaves none open.  NULL after replying. */
static const char *customer_or_reply(req_t *r)
{
    const char *v[2] = {r->tx.user_id, NULL}, *live, *deleted;
    PGresult *res = db_exec_app(&r->tx, &stmts[ST_CUSTOMER_GET], 1, v);

    if (res == NULL) {
        dbreply_error(r);
        return NULL;
    }
    if ((live = customer_live(res, &deleted)) != NULL)
        return commit_or_reply(r) ? live : NULL;   /* res: the arena's */
    if (!commit_or_reply(r) || (v[1] = customer_create_or_reply(r, deleted)) == NULL)
        return NULL;
    if ((res = db_exec_app(&r->tx, &stmts[ST_CUSTOMER_SET], 2, v)) == NULL) {
        dbreply_error(r);
        return NULL;
    }
    if (db_value(res, 0, 0) == NULL) {   /* Stripe's id is another user's */
        r->tx.detail = arena_printf(r->arena, "stripe customer %s is linked elsewhere", v[1]);
        resp_problem(r, 502, "The payment provider returned another account's customer.");
        return NULL;
    }
    return commit_or_reply(r) ? db_value(res, 0, 0) : NULL;
}

/* {url, id} of a Stripe session object, 200. */
static int session_reply(req_t *r, const stripe_reply_t *sr)
{
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(sr->json, "url");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(sr->json, "id");
    cJSON *out = json_own(r->arena, cJSON_CreateObject());

    if (!cJSON_IsString(url) || !cJSON_IsString(id))
        return stripe_failed(r, &(stripe_reply_t){.status = 502, .error = "no session url"});
    cJSON_AddStringToObject(out, "url", url->valuestring);
    cJSON_AddStringToObject(out, "id", id->valuestring);
    return resp_json(r, 200, out);
}

static const char *const checkout_fields[] = {
    "plan", "interval", "success_url", "cancel_url", NULL};

/* POST /api/v1/billing/checkout {plan, interval (monthly|yearly),
 *   success_url, cancel_url} Idempotency-Key? -> 200 {url, id} | 409
 *   (already subscribed: the portal changes plans) | 422 | 502 (Stripe
 *   refused) | 503 (not configured / Stripe unreachable) */
static int billing_checkout(req_t *r)
{
    const char *plan = NULL, *interval = NULL, *ok_url, *cancel_url, *price, *cust;
    const char *v[2];
    stripe_form_t f = {r->arena, NULL};
    stripe_reply_t sr;
    PGresult *res;

    if (!configured_or_reply(r))
        return r->status;
    req_reject_unknown(r, r->json, checkout_fields);
    if (req_field_string(r, r->json, "plan", 32, false, &plan) == FIELD_ABSENT)
        req_field_error(r, "plan", "is required");
    if (req_field_string(r, r->json, "interval", 16, false, &interval) == FIELD_ABSENT)
        req_field_error(r, "interval", "is required");
    else if (interval && strcmp(interval, "monthly") != 0 && strcmp(interval, "yearly") != 0)
        req_field_error(r, "interval", "must be monthly or yearly");
    ok_url = return_url(r, "success_url");
    cancel_url = return_url(r, "cancel_url");
    if (r->errors)
        return resp_validation(r);
    v[0] = plan;
    v[1] = interval;
    if ((res = db_exec(&r->tx, &stmts[ST_PRICE], 2, v)) == NULL)
        return dbreply_error(r);
    if (PQntuples(res) != 1 || (price = db_value(res, 0, 0)) == NULL) {
        req_field_error(r, "plan", "'%s' is not on sale %s", plan, interval);
        return resp_validation(r);
    }
    v[0] = r->tx.user_id;
    if ((res = db_exec_app(&r->tx, &stmts[ST_SUBSCRIBED], 1, v)) == NULL)
        return dbreply_error(r);
    if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
        return resp_problem(r, 409, "You already have a subscription; change it in the billing portal.");
    if ((cust = customer_or_reply(r)) == NULL)   /* commits: nothing open from here */
        return r->status;
    stripe_form_add(&f, "mode", "subscription");
    stripe_form_add(&f, "customer", cust);
    stripe_form_add(&f, "client_reference_id", r->tx.user_id);
    stripe_form_add(&f, "line_items[0][price]", price);
    stripe_form_add(&f, "line_items[0][quantity]", "1");
    stripe_form_add(&f, "success_url", ok_url);
    stripe_form_add(&f, "cancel_url", cancel_url);
    stripe_form_add(&f, "metadata[promptd_user_id]", r->tx.user_id);
    stripe_form_add(&f, "subscription_data[metadata][promptd_user_id]", r->tx.user_id);
    if (!stripe_call(r->arena, "POST", "/v1/checkout/sessions", f.text,
                     idem_key(r, "checkout"), &sr))
        return stripe_failed(r, &sr);
    return session_reply(r, &sr);
}

static const char *const portal_fields[] = {"return_url", NULL};

/* POST /api/v1/billing/portal {return_url} Idempotency-Key?
 *   -> 200 {url, id} | 409 (no customer yet) | 422 | 502 | 503 */
static int billing_portal(req_t *r)
{
    const char *url, *cust, *deleted, *v[1] = {r->tx.user_id};
    stripe_form_t f = {r->arena, NULL};
    stripe_reply_t sr;
    PGresult *res;

    if (!configured_or_reply(r))
        return r->status;
    req_reject_unknown(r, r->json, portal_fields);
    url = return_url(r, "return_url");
    if (r->errors)
        return resp_validation(r);
    if ((res = db_exec_app(&r->tx, &stmts[ST_CUSTOMER_GET], 1, v)) == NULL)
        return dbreply_error(r);
    if ((cust = customer_live(res, &deleted)) == NULL)
        return resp_problem(r, 409, "There is no billing account yet; subscribe first.");
    if (!commit_or_reply(r))
        return r->status;
    stripe_form_add(&f, "customer", cust);
    stripe_form_add(&f, "return_url", url);
    if (!stripe_call(r->arena, "POST", "/v1/billing_portal/sessions", f.text,
                     idem_key(r, "portal"), &sr))
        return stripe_failed(r, &sr);
    return session_reply(r, &sr);
}

/* GET /api/v1/billing -> 200 {tier, customer, subscription {id, plan,
 *   interval, status, price, current_period_end, cancel_at_period_end,
 *   past_due_since, payment_method}|null, invoices [...], notices [...]}
 *   | 503 (not configured) */
static int billing_get(req_t *r)
{
    const char *v[1] = {r->tx.user_id};
    PGresult *res;

    if (!configured_or_reply(r))
        return r->status;
    if ((res = db_exec_app(&r->tx, &stmts[ST_STATE], 1, v)) == NULL)
        return dbreply_error(r);
    return resp_json_text(r, 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

/* GET /api/v1/billing/plans (public) -> 200 {items: [{tier, name, limits,
 *   prices {monthly?, yearly?}}]} | 503 (not configured) */
static int billing_plans(req_t *r)
{
    PGresult *res;

    if (!configured_or_reply(r))
        return r->status;
    if ((res = db_exec(&r->tx, &stmts[ST_PLANS], 0, NULL)) == NULL)
        return dbreply_error(r);
    return resp_json_text(r, 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

/* The event's id, type and created from the verified body; false after
 * a 400. */
static bool event_fields_or_reply(req_t *r, const cJSON *ev, const char **v)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(ev, "id");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(ev, "type");
    const cJSON *created = cJSON_GetObjectItemCaseSensitive(ev, "created");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(ev, "data");

    if (!cJSON_IsObject(ev) || !cJSON_IsString(id) || *id->valuestring == '\0' ||
        strlen(id->valuestring) > EVENT_ID_MAX || !cJSON_IsString(type) ||
        !cJSON_IsNumber(created) || created->valuedouble < 0 || created->valuedouble > 1e11 ||
        !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(data, "object"))) {
        resp_problem(r, 400, "The event is not a Stripe event object "
                     "(id, type, created, data.object).");
        return false;
    }
    v[0] = id->valuestring;
    v[1] = type->valuestring;
    v[2] = arena_printf(r->arena, "%.0f", created->valuedouble);
    return true;
}

/* POST /webhooks/stripe (Stripe-Signature over the raw body) -> 200
 *   {received, duplicate} | 400 (bad signature or not an event; nothing
 *   stored) | 503 (no webhook secret).  Stored once and applied by the
 *   billing.event job. */
static int billing_webhook(req_t *r)
{
    const stripe_settings_t *s = stripe_settings();
    const char *sig = req_header(r, "Stripe-Signature"), *why, *v[4];
    cJSON *ev, *out;
    PGresult *res;

    if (s->webhook_secrets == NULL)
        return resp_problem(r, 503, "Billing webhooks are not configured on this server.");
    if (!stripe_signature_ok(sig ? sig : "", r->body, r->body_len,
                             s->webhook_secrets, s->tolerance_s, (long long)time(NULL), &why)) {
        r->tx.detail = why;
        return resp_problemf(r, 400, "The Stripe-Signature is not valid: %s.", why);
    }
    ev = json_own(r->arena, cJSON_ParseWithLength(r->body, r->body_len));
    if (!event_fields_or_reply(r, ev, v))
        return r->status;
    v[3] = r->body;
    if ((res = db_exec_app(&r->tx, &stmts[ST_STORE], 4, v)) == NULL)
        return dbreply_error(r);
    out = json_own(r->arena, cJSON_CreateObject());
    cJSON_AddBoolToObject(out, "received", true);
    cJSON_AddBoolToObject(out, "duplicate", strcmp(PQgetvalue(res, 0, 0), "duplicate") == 0);
    return resp_json(r, 200, out);
}

static const char *const plan_fields[] = {"monthly", "yearly", "purchasable", NULL};

/* A price member of the plan patch: absent, null, or a Stripe price id. */
static void plan_price_field(req_t *r, const char *name)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(r->json, name);
    const char *id = NULL;

    if (it == NULL || cJSON_IsNull(it))
        return;
    if (req_field_string(r, r->json, name, 255, false, &id) == FIELD_OK &&
        strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") != strlen(id))
        req_field_error(r, name, "must be a Stripe price id (letters, digits, _) or null");
}

/* PATCH /api/v1/admin/plans/{tier}/billing {monthly?: price|null,
 *   yearly?: price|null, purchasable?: bool} (admins) -> 200 {tier,
 *   purchasable, monthly, yearly} | 403 | 404 | 409 (a price another plan
 *   has) | 422.  Audited plan.billing. */
static int billing_plan_patch(req_t *r)
{
    const char *v[2] = {req_param(r, "tier"), NULL};
    bool on;
    PGresult *res;

    req_reject_unknown(r, r->json, plan_fields);
    plan_price_field(r, "monthly");
    plan_price_field(r, "yearly");
    req_field_bool(r, r->json, "purchasable", &on);
    if (r->errors)
        return resp_validation(r);
    v[1] = json_print(r->arena, r->json);
    if ((res = db_exec_app(&r->tx, &stmts[ST_PLAN_UPDATE], 2, v)) == NULL) {
        if (r->tx.sqlstate && strcmp(r->tx.sqlstate, "23505") == 0)
            return resp_problem(r, 409, "That Stripe price belongs to another plan.");
        return dbreply_error(r);
    }
    if (db_value(res, 0, 0) == NULL)
        return resp_problem(r, 404, "No such plan.");
    return resp_json_text(r, 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

static const route_t routes[] = {
    {"GET", "/api/v1/billing/plans", billing_plans, R_DB | R_READONLY, CRED_NONE, NULL},
    {"GET", "/api/v1/billing", billing_get, R_DB, CRED_SESSION, NULL},
    {"POST", "/api/v1/billing/checkout", billing_checkout, R_JSON | R_DB,
     CRED_SESSION, NULL},
    {"POST", "/api/v1/billing/portal", billing_portal, R_JSON | R_DB,
     CRED_SESSION, NULL},
    {"POST", "/webhooks/stripe", billing_webhook, R_DB, CRED_SIGNATURE, NULL},
    {"PATCH", "/api/v1/admin/plans/{tier}/billing", billing_plan_patch,
     R_JSON | R_DB | R_ADMIN, CRED_SESSION | CRED_APIKEY, "admin"},
};

int main(int argc, char **argv)
{
    static const db_stmt_t *const tables[] = {stmts, NULL};
    static const family_t family = {
        "billing", routes, sizeof(routes) / sizeof(routes[0]), tables, NULL};

    return server_main(argc, argv, &family);
}
