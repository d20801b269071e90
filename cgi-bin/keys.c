/* keys.c: the keys family: create, list, show and revoke the caller's API keys. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth/apikey.h"
#include "http/credential.h"
#include "core/config.h"
#include "core/json.h"
#include "http/dbreply.h"
#include "http/response.h"
#include "http/server.h"
#include "http/audit.h"

#define NAME_MAX_CHARS 100
#define EXPIRES_IN_MIN 60L
#define EXPIRES_IN_MAX 315360000L   /* ten years */

/* Keys are managed with a user's session token only (the route rows name
 * CRED_SESSION): no API key, whatever its scopes, can mint, list or
 * revoke keys; the dispatcher answers it 403. */
static const char *const scope_names[] = {
    "prompts:read", "prompts:write", "enrich", "share", "admin", "webhooks:write", "storage",
    NULL};

#define KEY_JSON                                                           \
    "json_build_object('id', k.id, 'workspace_id', k.workspace_id, "        \
    "'name', k.name, 'prefix', k.prefix, "                                  \
    "'last_four', k.last_four, 'scopes', k.scopes, "                        \
    "'created_at', k.created_at, 'expires_at', k.expires_at, "              \
    "'revoked_at', k.revoked_at, 'last_used_at', k.last_used_at)"

enum { ST_INSERT, ST_LIST, ST_GET, ST_REVOKE };

static const db_stmt_t stmts[] = {
    /* $1 name, $2 hash, $3 prefix, $4 last four, $5 scopes (JSON array or
     * NULL), $6 expires_at text, $7 expires_in seconds, $8 workspace (NULL:
     * the personal one; any member's, else PW404); no row when the expiry is
     * not in the future */
    [ST_INSERT] = {"key_insert",
        "insert into public.api_keys as k "
        "(name, key_hash, prefix, last_four, scopes, expires_at, workspace_id) "
        "select $1, $2, $3, $4, case when $5::jsonb is null "
        "then '{prompts:read}'::text[] "
        "else array(select jsonb_array_elements_text($5::jsonb)) end, e.at, w.id "
        "from (select case when $6::text is not null then $6::timestamptz "
        "when $7::bigint is not null then now() + $7::bigint * interval '1 second' "
        "end as at) e, (select coalesce($8::uuid, promptd.personal_workspace(auth.uid())) as id) w "
        "where (e.at is null or e.at > now()) "
        "and ($8::uuid is null or promptd.workspace_need($8::uuid, 'viewer') is not null) "
        "returning " KEY_JSON ", k.id"},
    [ST_LIST] = {"key_list",
        "select json_build_object('items', coalesce(json_agg(" KEY_JSON
        " order by k.created_at desc, k.id desc), '[]'::json)) "
        "from public.api_keys k"},
    [ST_GET] = {"key_get",
        "select " KEY_JSON " from public.api_keys k where k.id = $1"},
    /* revoking twice keeps the first time; $1 newly revoked? */
    [ST_REVOKE] = {"key_revoke",
        "update public.api_keys k set revoked_at = coalesce(o.revoked_at, now()) "
        "from (select id, revoked_at from public.api_keys where id = $1 for update) o "
        "where k.id = o.id returning o.revoked_at is null"},
    {NULL, NULL},
};

static const char *const create_fields[] = {
    "name", "scopes", "expires_in", "expires_at", "workspace_id", NULL};

static bool scope_known(const char *s)
{
    for (const char *const *n = scope_names; *n; n++)
        if (strcmp(*n, s) == 0)
            return true;
    return false;
}

/* The scopes member: known names, no repeats, and (for an API-key caller)
 * none it lacks itself.  Returns the JSON array text, NULL when absent or
 * bad (a field error is then recorded). */
static const char *read_scopes(req_t *r, bool *forbidden)
{
    cJSON *arr = NULL, *it;

    if (req_field_string_array(r, r->json, "scopes", sizeof scope_names / sizeof scope_names[0] - 1,
                               32, &arr) != FIELD_OK)
        return NULL;
    if (cJSON_GetArraySize(arr) == 0) {
        req_field_error(r, "scopes", "must name at least one scope");
        return NULL;
    }
    cJSON_ArrayForEach(it, arr) {
        for (cJSON *p = arr->child; p != it; p = p->next)
            if (strcmp(p->valuestring, it->valuestring) == 0) {
                req_field_error(r, "scopes", "repeats '%s'", it->valuestring);
                return NULL;
            }
        if (!scope_known(it->valuestring)) {
            req_field_error(r, "scopes", "'%s' is not a scope (one of prompts:read, "
                            "prompts:write, enrich, share, admin, webhooks:write, storage)",
                            it->valuestring);
            return NULL;
        }
        if (!credential_has_scope(r, it->valuestring))
            *forbidden = true;
    }
    return json_print(r->arena, arr);
}

/* POST /api/v1/keys {name, scopes?, expires_in? | expires_at?, workspace_id?}
 *   -> 201 {id, name, key (shown this once), prefix, last_four, scopes,
 *           created_at, expires_at, revoked_at, last_used_at} | 403 | 422 */
static int key_create(req_t *r)
{
    const char *name = NULL, *scopes, *expires_at = NULL, *in_text = NULL, *ws = NULL;
    char key[APIKEY_LEN + 1], hash[APIKEY_HMAC_HEX_LEN + 1];
    char prefix[APIKEY_DISPLAY_LEN + 1], last4[5];
    bool forbidden = false;
    long expires_in = 0;
    PGresult *res;
    cJSON *out;
    enum field_result in_res;

    req_reject_unknown(r, r->json, create_fields);
    if (req_field_string(r, r->json, "name", NAME_MAX_CHARS, false, &name) ==
        FIELD_ABSENT)
        req_field_error(r, "name", "is required");
    scopes = read_scopes(r, &forbidden);
    in_res = req_field_int(r, r->json, "expires_in", EXPIRES_IN_MIN,
                            EXPIRES_IN_MAX, &expires_in);
    if (req_field_string(r, r->json, "expires_at", 64, false, &expires_at) ==
            FIELD_OK && !rfc3339_shaped(expires_at)) {
        req_field_error(r, "expires_at", "must be an RFC 3339 date-time");
        expires_at = NULL;
    }
    if (req_field_string(r, r->json, "workspace_id", 36, false, &ws) == FIELD_OK &&
        !uuid_valid(ws))
        req_field_error(r, "workspace_id", "must be a UUID");
    if (in_res == FIELD_OK && expires_at)
        req_field_error(r, "expires_at", "give expires_in or expires_at, not both");
    if (r->errors)
        return resp_validation(r);
    if (forbidden)
        return resp_problem(r, 403, "An API key cannot grant a scope it lacks.");
    if (in_res == FIELD_OK)
        in_text = arena_printf(r->arena, "%ld", expires_in);

    apikey_generate(key);
    if (!apikey_hmac_hex(apikey_pepper(), key, hash)) {
        OPENSSL_cleanse(key, sizeof key);
        r->tx.detail = "no API key pepper configured";
        return resp_problem(r, 500, "API keys are not configured on this server.");
    }
    apikey_display(key, prefix, last4);
    {
        const char *v[8] = {name, hash, prefix, last4, scopes, expires_at, in_text, ws};

        res = db_exec(&r->tx, &stmts[ST_INSERT], 8, v);
    }
    if (res == NULL) {
        OPENSSL_cleanse(key, sizeof key);
        return dbreply_error(r);
    }
    if (PQntuples(res) != 1) {
        OPENSSL_cleanse(key, sizeof key);
        req_field_error(r, "expires_at", "must be in the future");
        return resp_validation(r);
    }
    out = json_own(r->arena, cJSON_Parse(PQgetvalue(res, 0, 0)));
    if (out == NULL) {
        OPENSSL_cleanse(key, sizeof key);
        return resp_problem(r, 500, "Internal error; it has been logged.");
    }
    cJSON_AddStringToObject(out, "key", key);
    OPENSSL_cleanse(key, sizeof key);
    if (!audit_record(r, "key.create", PQgetvalue(res, 0, 1), "success",
                      arena_printf(r->arena, "{\"prefix\":\"%s\",\"scopes\":%s}",
                                   prefix, scopes ? scopes : "[\"prompts:read\"]"),
                      NULL))
        return dbreply_error(r);
    resp_location(r, arena_printf(r->arena, "/api/v1/keys/%s", PQgetvalue(res, 0, 1)));
    return resp_json(r, 201, out);
}

/* GET /api/v1/keys -> 200 {items: [key without secret, newest first]} */
static int key_list(req_t *r)
{
    PGresult *res = db_exec(&r->tx, &stmts[ST_LIST], 0, NULL);

    if (res == NULL)
        return dbreply_error(r);
    return resp_json_text(r, 200, PQgetvalue(res, 0, 0),
                          (size_t)PQgetlength(res, 0, 0));
}

/* GET /api/v1/keys/{id} -> 200 key (no secret) | 404 */
static int key_get(req_t *r)
{
    const char *v[1] = {req_param(r, "id")};

    return dbreply_object(r, db_exec(&r->tx, &stmts[ST_GET], 1, v), "No such API key.");
}

/* DELETE /api/v1/keys/{id} -> 204 (revoked; again: still 204) | 404 */
static int key_revoke(req_t *r)
{
    const char *v[1] = {req_param(r, "id")};
    PGresult *res = db_exec(&r->tx, &stmts[ST_REVOKE], 1, v);

    if (res == NULL)
        return dbreply_error(r);
    if (PQntuples(res) != 1)
        return resp_problem(r, 404, "No such API key.");
    if (strcmp(PQgetvalue(res, 0, 0), "t") == 0 &&
        !audit_record(r, "key.revoke", v[0], "success", NULL, NULL))
        return dbreply_error(r);
    return resp_empty(r, 204);
}

static const route_t routes[] = {
    {"POST", "/api/v1/keys", key_create, R_JSON | R_DB | R_AAL2, CRED_SESSION, NULL},
    {"GET", "/api/v1/keys", key_list, R_DB | R_READONLY, CRED_SESSION, NULL},
    {"GET", "/api/v1/keys/{id:uuid}", key_get, R_DB | R_READONLY, CRED_SESSION, NULL},
    {"DELETE", "/api/v1/keys/{id:uuid}", key_revoke, R_DB | R_AAL2, CRED_SESSION, NULL},
};

int main(int argc, char **argv)
{
    static const db_stmt_t *const tables[] = {stmts, NULL};
    static const family_t family = {
        "keys", routes, sizeof(routes) / sizeof(routes[0]), tables, NULL};

    return server_main(argc, argv, &family);
}
