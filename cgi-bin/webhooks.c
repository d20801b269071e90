/* webhooks.c: the webhooks family: a workspace's outbound webhook endpoints (create, list, show, change, delete, rotate, test), the event catalogue and the delivery log with redelivery. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/json.h"
#include "core/str.h"
#include "crypto/random.h"
#include "crypto/secretbox.h"
#include "http/audit.h"
#include "http/credential.h"
#include "http/dbreply.h"
#include "http/response.h"
#include "http/server.h"
#include "webhooks/settings.h"
#include "webhooks/sign.h"

#define SCOPE "webhooks:write"
#define DESCRIPTION_MAX_CHARS 500
#define EVENTS_MAX 64
#define ROTATE_OVERLAP "24 hours"

/* The event catalogue (README "Outbound webhooks"; a schema per type in
 * openapi.json, its top-level webhooks object).  "*" subscribes to all. */
static const struct event_type {
    const char *name, *description;
} event_types[] = {
    {"prompt.created", "A prompt was created (also by a fork or an import)."},
    {"prompt.updated", "A prompt changed (a new version, a rename, a move, tags)."},
    {"prompt.deleted", "A prompt was deleted."},
    {"enrichment.completed", "An enrichment finished with a result."},
    {"enrichment.failed", "An enrichment ended without a result."},
    {"share.created", "A share link was created."},
    {"share.viewed", "A share link was viewed: one event per batch of views (views: how many)."},
    {"share.forked", "Someone forked a prompt through its share link."},
    {"billing.payment_failed", "A subscription payment failed."},
    {"billing.subscription_changed", "A subscription's status, tier, interval or cancellation changed."},
    {"webhook.disabled", "An endpoint of the workspace was disabled (410 Gone, or failing for days)."},
    {"ping", "A test event (POST /api/v1/webhooks/{id}/test); sent to that endpoint only."},
};

#define ENDPOINT_JSON "promptd.webhook_endpoint_json(e)"

enum { ST_INSERT, ST_LIST, ST_GET, ST_UPDATE, ST_DELETE, ST_ROTATE, ST_TEST, ST_DELIVERIES,
       ST_REDELIVER };

static const db_stmt_t stmts[] = {
    /* $1 id, $2 workspace (NULL: the default one), $3 url, $4 description,
     * $5 events (JSON array), $6 sealed secret */
    [ST_INSERT] = {"webhook_insert",
        "insert into public.webhook_endpoints as e "
        "(id, workspace_id, created_by, url, description, events, secret_sealed) "
        "select $1::uuid, w.id, auth.uid(), $3, $4, "
        "array(select jsonb_array_elements_text($5::jsonb)), $6 "
        "from (select coalesce($2::uuid, promptd.default_workspace()) as id) w "
        "where promptd.workspace_need(w.id, 'admin') is not null "
        "returning " ENDPOINT_JSON},
    /* $1 workspace or NULL: every workspace the caller administers */
    [ST_LIST] = {"webhook_list",
        "select json_build_object('items', coalesce(json_agg(" ENDPOINT_JSON
        " order by e.created_at desc, e.id desc), '[]'::json)) "
        "from public.webhook_endpoints e where $1::uuid is null or e.workspace_id = $1::uuid"},
    [ST_GET] = {"webhook_get",
        "select " ENDPOINT_JSON " from public.webhook_endpoints e where e.id = $1"},
    /* $1 id, $2 url, $3 description given?, $4 description, $5 events,
     * $6 enabled; a re-enabled endpoint starts afresh (no failure streak) */
    [ST_UPDATE] = {"webhook_update",
        "update public.webhook_endpoints e set url = coalesce($2, e.url), "
        "description = case when $3::boolean then $4 else e.description end, "
        "events = case when $5::jsonb is null then e.events "
        "else array(select jsonb_array_elements_text($5::jsonb)) end, "
        "enabled = coalesce($6::boolean, e.enabled), "
        "disabled_reason = case when $6::boolean then null "
        "when not $6::boolean and e.enabled then 'disabled through the API' else e.disabled_reason end, "
        "disabled_at = case when $6::boolean then null "
        "when not $6::boolean and e.enabled then now() else e.disabled_at end, "
        "failing_since = case when $6::boolean and not e.enabled then null else e.failing_since end, "
        "updated_at = now() where e.id = $1 returning " ENDPOINT_JSON},
    [ST_DELETE] = {"webhook_delete",
        "delete from public.webhook_endpoints e where e.id = $1 returning e.workspace_id"},
    /* $1 id, $2 new sealed secret: the old one signs too for 24 h */
    [ST_ROTATE] = {"webhook_rotate",
        "update public.webhook_endpoints e set previous_secret_sealed = e.secret_sealed, "
        "previous_secret_until = now() + interval '" ROTATE_OVERLAP "', "
        "secret_sealed = $2, updated_at = now() where e.id = $1 returning " ENDPOINT_JSON},
    [ST_TEST] = {"webhook_test",
        "select e.enabled, promptd.webhook_emit(e.workspace_id, 'ping', "
        "jsonb_build_object('endpoint_id', e.id, 'message', 'A test event from promptd.'), e.id) "
        "from public.webhook_endpoints e where e.id = $1"},
    /* $1 endpoint, $2 status, $3 limit, $4 before */
    [ST_DELIVERIES] = {"webhook_deliveries",
        "select promptd.webhook_deliveries_list($1::uuid, $2, $3::int, $4::uuid)"},
    [ST_REDELIVER] = {"webhook_redeliver",
        "select promptd.webhook_redeliver($1::uuid)"},
    {NULL, NULL},
};

/* The settings, read (and checked: a malformed one stops the worker) in
 * main before the first request. */
static const webhooks_settings_t *settings;

/* The url member checked as an endpoint (a field error when refused);
 * NULL when absent or bad. */
static const char *read_url(req_t *r)
{
    const char *url = NULL, *why;

    if (req_field_string(r, r->json, "url", WEBHOOKS_URL_MAX, false, &url) != FIELD_OK)
        return NULL;
    if ((why = webhooks_url_refused(r->arena, url, settings)) != NULL) {
        req_field_error(r, "url", "%s", why);
        return NULL;
    }
    return url;
}

static bool event_known(const char *name)
{
    for (size_t i = 0; i < sizeof event_types / sizeof event_types[0]; i++)
        if (strcmp(event_types[i].name, name) == 0)
            return strcmp(name, "ping") != 0;
    return strcmp(name, "*") == 0;
}

/* The events member: catalogue names or "*", no repeats, at least one.
 * The JSON array text; NULL when absent or bad (a field error then). */
static const char *read_events(req_t *r)
{
    cJSON *arr = NULL, *it;

    if (req_field_string_array(r, r->json, "events", EVENTS_MAX, 100, &arr) != FIELD_OK)
        return NULL;
    if (cJSON_GetArraySize(arr) == 0) {
        req_field_error(r, "events", "must name at least one event type (or \"*\")");
        return NULL;
    }
    cJSON_ArrayForEach(it, arr) {
        for (cJSON *p = arr->child; p != it; p = p->next)
            if (strcmp(p->valuestring, it->valuestring) == 0) {
                req_field_error(r, "events", "repeats '%s'", it->valuestring);
                return NULL;
            }
        if (!event_known(it->valuestring)) {
            req_field_error(r, "events", "'%s' is not an event type (GET "
                            "/api/v1/webhooks/event-types lists them)", it->valuestring);
            return NULL;
        }
    }
    return json_print(r->arena, arr);
}

/* A new secret, sealed for endpoint id: the clear text in secret, the
 * stored form returned (arena); NULL after a 500. */
static const char *seal_new_secret(req_t *r, const char *id, char secret[WHSIGN_SECRET_MAX])
{
    const secretbox_ring_t *ring =
        resp_keyring_or_reply(r, "Webhook secrets cannot be stored: no secrets key is configured.");
    char *sealed;
    const char *out;

    if (ring == NULL)
        return NULL;
    whsign_secret_new(secret);
    sealed = secretbox_encrypt(ring, secret, strlen(secret),
                               arena_printf(r->arena, "webhook_endpoints.secret:%s", id));
    if (sealed == NULL) {
        OPENSSL_cleanse(secret, WHSIGN_SECRET_MAX);
        resp_problem(r, 500, "Internal error; it has been logged.");
        return NULL;
    }
    out = arena_strdup(r->arena, sealed);
    free(sealed);
    return out;
}

/* Reply with the endpoint object of res plus its new secret (shown once). */
static int reply_with_secret(req_t *r, PGresult *res, int status, char secret[WHSIGN_SECRET_MAX])
{
    cJSON *out = json_own(r->arena, cJSON_Parse(PQgetvalue(res, 0, 0)));

    if (out)
        cJSON_AddStringToObject(out, "secret", secret);
    OPENSSL_cleanse(secret, WHSIGN_SECRET_MAX);
    if (out == NULL)
        return resp_problem(r, 500, "Internal error; it has been logged.");
    return resp_json(r, status, out);
}

/* {"url": url, "events": [...]} for the audit log. */
static const char *audit_detail(req_t *r, const char *url, const char *events)
{
    cJSON *d = json_own(r->arena, cJSON_CreateObject());

    cJSON_AddStringToObject(d, "url", url);
    cJSON_AddRawToObject(d, "events", events);
    return json_print(r->arena, d);
}

static const char *const create_fields[] = {"url", "events", "description", "workspace_id", NULL};

/* POST /api/v1/webhooks {url, events[], description?, workspace_id?}
 *   -> 201 endpoint + secret (shown this once) | 403 | 404 | 422 */
static int webhook_create(req_t *r)
{
    const char *url, *events, *desc = NULL, *wsid = NULL, *sealed;
    char id[37], secret[WHSIGN_SECRET_MAX];
    PGresult *res;

    req_reject_unknown(r, r->json, create_fields);
    if (!cJSON_HasObjectItem(r->json, "url"))
        req_field_error(r, "url", "is required");
    if (!cJSON_HasObjectItem(r->json, "events"))
        req_field_error(r, "events", "is required");
    url = read_url(r);
    events = read_events(r);
    req_field_string(r, r->json, "description", DESCRIPTION_MAX_CHARS, true, &desc);
    if (req_field_string(r, r->json, "workspace_id", 36, false, &wsid) == FIELD_OK && !uuid_valid(wsid))
        req_field_error(r, "workspace_id", "must be a UUID");
    if (r->errors)
        return resp_validation(r);
    random_uuid(id);
    if ((sealed = seal_new_secret(r, id, secret)) == NULL)
        return r->status;
    {
        const char *v[6] = {id, wsid, url, desc, events, sealed};

        res = db_exec(&r->tx, &stmts[ST_INSERT], 6, v);
    }
    if (res == NULL || PQntuples(res) != 1) {
        OPENSSL_cleanse(secret, sizeof secret);
        return res ? resp_problem(r, 404, "No such workspace.") : dbreply_error(r);
    }
    if (!audit_record(r, "webhook.create", id, "success", audit_detail(r, url, events), NULL)) {
        OPENSSL_cleanse(secret, sizeof secret);
        return dbreply_error(r);
    }
    resp_location(r, arena_printf(r->arena, "/api/v1/webhooks/%s", id));
    return reply_with_secret(r, res, 201, secret);
}

/* GET /api/v1/webhooks[?workspace_id=] -> 200 {items: endpoints the caller
 * administers, newest first} | 422 */
static int webhook_list(req_t *r)
{
    const char *ws = req_query(r, "workspace_id");
    const char *v[1] = {ws};
    PGresult *res;

    if (ws && !uuid_valid(ws)) {
        req_field_error(r, "workspace_id", "must be a UUID");
        return resp_validation(r);
    }
    if ((res = db_exec(&r->tx, &stmts[ST_LIST], 1, v)) == NULL)
        return dbreply_error(r);
    return resp_json_text(r, 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

/* GET /api/v1/webhooks/event-types -> 200 {items: [{name, description}]} */
static int webhook_event_types(req_t *r)
{
    cJSON *out = json_own(r->arena, cJSON_CreateObject());
    cJSON *items = cJSON_AddArrayToObject(out, "items");

    for (size_t i = 0; i < sizeof event_types / sizeof event_types[0]; i++) {
        cJSON *t = cJSON_CreateObject();

        cJSON_AddStringToObject(t, "name", event_types[i].name);
        cJSON_AddStringToObject(t, "description", event_types[i].description);
        cJSON_AddItemToArray(items, t);
    }
    return resp_json(r, 200, out);
}

/* GET /api/v1/webhooks/{id} -> 200 endpoint (no secret) | 404 */
static int webhook_get(req_t *r)
{
    const char *v[1] = {req_param(r, "id")};

    return dbreply_object(r, db_exec(&r->tx, &stmts[ST_GET], 1, v), "No such webhook endpoint.");
}

static const char *const update_fields[] = {"url", "events", "description", "enabled", NULL};

/* PATCH /api/v1/webhooks/{id} {url?, events?, description? (null clears),
 *   enabled?} -> 200 endpoint | 404 | 422.  enabled: true clears a
 *   disabled endpoint's reason and failure streak. */
static int webhook_update(req_t *r)
{
    const char *url = NULL, *events = NULL, *desc = NULL, *desc_given = "false";
    const char *enabled = NULL;
    const cJSON *d;
    bool on;

    req_reject_unknown(r, r->json, update_fields);
    if (cJSON_HasObjectItem(r->json, "url"))
        url = read_url(r);
    if (cJSON_HasObjectItem(r->json, "events"))
        events = read_events(r);
    if ((d = cJSON_GetObjectItemCaseSensitive(r->json, "description")) != NULL) {
        desc_given = "true";
        if (!cJSON_IsNull(d))
            req_field_string(r, r->json, "description", DESCRIPTION_MAX_CHARS, true, &desc);
    }
    if (req_field_bool(r, r->json, "enabled", &on) == FIELD_OK)
        enabled = on ? "true" : "false";
    if (r->errors)
        return resp_validation(r);
    if (cJSON_GetArraySize(r->json) == 0) {
        req_field_error(r, "body", "names nothing to change (url, events, description, enabled)");
        return resp_validation(r);
    }
    {
        const char *v[6] = {req_param(r, "id"), url, desc_given, desc, events, enabled};
        PGresult *res = db_exec(&r->tx, &stmts[ST_UPDATE], 6, v);

        if (res == NULL)
            return dbreply_error(r);
        if (PQntuples(res) != 1)
            return resp_problem(r, 404, "No such webhook endpoint.");
        if (!audit_record(r, "webhook.update", v[0], "success",
                          json_print(r->arena, r->json), NULL))
            return dbreply_error(r);
        return resp_json_text(r, 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
    }
}

/* DELETE /api/v1/webhooks/{id} -> 204 (its deliveries go with it) | 404 */
static int webhook_delete(req_t *r)
{
    const char *v[1] = {req_param(r, "id")};
    PGresult *res = db_exec(&r->tx, &stmts[ST_DELETE], 1, v);

    if (res == NULL)
        return dbreply_error(r);
    if (PQntuples(res) != 1)
        return resp_problem(r, 404, "No such webhook endpoint.");
    if (!audit_record(r, "webhook.delete", v[0], "success", NULL, NULL))
        return dbreply_error(r);
    return resp_empty(r, 204);
}

/* POST /api/v1/webhooks/{id}/rotate -> 200 endpoint + the new secret
 *   (shown once); the previous secret signs too for 24 h (its end:
 *   previous_secret_expires_at) | 404 */
static int webhook_rotate(req_t *r)
{
    char secret[WHSIGN_SECRET_MAX];
    const char *id = req_param(r, "id"), *sealed = seal_new_secret(r, id, secret);
    const char *v[2] = {id, sealed};
    PGresult *res;

    if (sealed == NULL)
        return r->status;
    res = db_exec(&r->tx, &stmts[ST_ROTATE], 2, v);
    if (res == NULL || PQntuples(res) != 1) {
        OPENSSL_cleanse(secret, sizeof secret);
        return res ? resp_problem(r, 404, "No such webhook endpoint.") : dbreply_error(r);
    }
    if (!audit_record(r, "webhook.rotate", id, "success", NULL, NULL)) {
        OPENSSL_cleanse(secret, sizeof secret);
        return dbreply_error(r);
    }
    return reply_with_secret(r, res, 200, secret);
}

/* POST /api/v1/webhooks/{id}/test -> 202 {event_id, type: "ping"}: a ping
 *   to this endpoint alone | 404 | 409 (disabled) */
static int webhook_test(req_t *r)
{
    const char *v[1] = {req_param(r, "id")};
    PGresult *res = db_exec(&r->tx, &stmts[ST_TEST], 1, v);

    if (res == NULL)
        return dbreply_error(r);
    if (PQntuples(res) != 1)
        return resp_problem(r, 404, "No such webhook endpoint.");
    if (PQgetisnull(res, 0, 1))
        return resp_problem(r, 409, "The endpoint is disabled; enable it first.");
    {
        const char *body = arena_printf(r->arena, "{\"event_id\":\"%s\",\"type\":\"ping\"}",
                                        PQgetvalue(res, 0, 1));

        return resp_json_text(r, 202, body, strlen(body));
    }
}

/* GET /api/v1/webhooks/{id}/deliveries[?status=&limit=&before=]
 *   -> 200 {items: newest first, next_before} | 404 | 422 */
static int webhook_deliveries(req_t *r)
{
    static const char *const states[] = {"pending", "sending", "succeeded", "failed", NULL};
    const char *status = req_query(r, "status"), *before = req_query(r, "before");
    long limit = req_query_int(r, "limit", 50, 200);
    const char *v[4];
    bool known = status == NULL;

    for (const char *const *s = states; status && *s; s++)
        known = known || strcmp(*s, status) == 0;
    if (!known)
        req_field_error(r, "status", "must be one of pending, sending, succeeded, failed");
    if (before && !uuid_valid(before))
        req_field_error(r, "before", "must be a delivery id (UUID)");
    if (r->errors)
        return resp_validation(r);
    v[0] = req_param(r, "id"), v[1] = status;
    v[2] = arena_printf(r->arena, "%ld", limit), v[3] = before;
    return dbreply_object(r, db_exec(&r->tx, &stmts[ST_DELIVERIES], 4, v),
                          "No such webhook endpoint.");
}

/* POST /api/v1/webhooks/deliveries/{id}/redeliver -> 202 the new delivery
 *   (same event and webhook-id, sent now) | 404 | 409 (endpoint disabled) */
static int webhook_redeliver(req_t *r)
{
    const char *v[1] = {req_param(r, "id")};
    PGresult *res = db_exec(&r->tx, &stmts[ST_REDELIVER], 1, v);

    if (res == NULL)
        return dbreply_error(r);
    if (!audit_record(r, "webhook.redeliver", v[0], "success", NULL, NULL))
        return dbreply_error(r);
    return resp_json_text(r, 202, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

#define CREDS (CRED_SESSION | CRED_APIKEY)

static const route_t routes[] = {
    {"POST", "/api/v1/webhooks", webhook_create, R_JSON | R_DB, CREDS, SCOPE},
    {"GET", "/api/v1/webhooks", webhook_list, R_DB | R_READONLY, CREDS, SCOPE},
    {"GET", "/api/v1/webhooks/event-types", webhook_event_types, 0, CREDS, SCOPE},
    {"GET", "/api/v1/webhooks/{id:uuid}", webhook_get, R_DB | R_READONLY, CREDS, SCOPE},
    {"PATCH", "/api/v1/webhooks/{id:uuid}", webhook_update, R_JSON | R_DB, CREDS, SCOPE},
    {"DELETE", "/api/v1/webhooks/{id:uuid}", webhook_delete, R_DB, CREDS, SCOPE},
    {"POST", "/api/v1/webhooks/{id:uuid}/rotate", webhook_rotate, R_DB, CREDS, SCOPE},
    {"POST", "/api/v1/webhooks/{id:uuid}/test", webhook_test, R_DB, CREDS, SCOPE},
    {"GET", "/api/v1/webhooks/{id:uuid}/deliveries", webhook_deliveries, R_DB | R_READONLY,
     CREDS, SCOPE},
    {"POST", "/api/v1/webhooks/deliveries/{id:uuid}/redeliver", webhook_redeliver, R_DB,
     CREDS, SCOPE},
};

int main(int argc, char **argv)
{
    static const db_stmt_t *const tables[] = {stmts, NULL};
    static const family_t family = {
        "webhooks", routes, sizeof(routes) / sizeof(routes[0]), tables, NULL};

    if ((settings = webhooks_settings()) == NULL)
        return 1;
    return server_main(argc, argv, &family);
}
