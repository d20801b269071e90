/* workspaces.c: the workspaces family: team workspaces, their members and roles, invitations by mail and their acceptance. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/config.h"
#include "core/json.h"
#include "core/str.h"
#include "crypto/b64url.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "http/dbreply.h"
#include "http/response.h"
#include "http/server.h"

/* Every rule (who may do what, the last owner, a personal workspace, an
 * invitation's state) lives in the promptd.workspace_* and
 * promptd.invitation_* SQL functions, which refuse with PWnnn (dbreply:
 * the 4xx and its message); a handler validates its input and calls one.
 * A non-member learns nothing: every route of a workspace is 404 to them. */

#define NAME_MAX_CHARS 100
#define EMAIL_MAX 254
#define TOKEN_BYTES 32
#define TOKEN_PREFIX "pwi_"

enum {
    ST_CREATE, ST_LIST, ST_GET, ST_RENAME, ST_DELETE, ST_MEMBERS, ST_MEMBER_SET,
    ST_MEMBER_REMOVE, ST_INVITE, ST_INVITES, ST_INVITE_REVOKE, ST_ACCEPT, ST_CHANGE_REQUESTS,
};

static const db_stmt_t stmts[] = {
    [ST_CREATE] = {"ws_create", "select promptd.workspace_create($1)"},
    [ST_LIST] = {"ws_list", "select promptd.workspace_list()"},
    [ST_GET] = {"ws_get", "select promptd.workspace_get($1)"},
    [ST_RENAME] = {"ws_rename", "select promptd.workspace_rename($1, $2)"},
    [ST_DELETE] = {"ws_delete", "select promptd.workspace_delete($1)"},
    [ST_MEMBERS] = {"ws_members", "select promptd.workspace_members($1)"},
    [ST_MEMBER_SET] = {"ws_member_set", "select promptd.workspace_member_set($1, $2, $3)"},
    [ST_MEMBER_REMOVE] = {"ws_member_remove", "select promptd.workspace_member_remove($1, $2)"},
    [ST_INVITE] = {"ws_invite",
        "select promptd.invitation_create($1, $2, $3, $4, $5, $6)"},
    [ST_INVITES] = {"ws_invites", "select promptd.invitation_list($1)"},
    [ST_INVITE_REVOKE] = {"ws_invite_revoke", "select promptd.invitation_revoke($1, $2)"},
    [ST_ACCEPT] = {"ws_accept", "select promptd.invitation_accept($1)"},
    [ST_CHANGE_REQUESTS] = {"ws_change_requests", "select promptd.change_request_list($1, $2)"},
    {NULL, NULL},
};

static const char *const name_fields[] = {"name", NULL};
static const char *const role_fields[] = {"role", NULL};
static const char *const invite_fields[] = {"email", "role", NULL};

/* Run stmt with n values; the reply is its one JSON value with status (or
 * 204 when status is 204), or the database's refusal. */
static int ws_call(req_t *r, int stmt, int n, const char *const *v, int status)
{
    PGresult *res = db_exec(&r->tx, &stmts[stmt], n, v);

    if (res == NULL)
        return dbreply_error(r);
    if (status == 204)
        return resp_empty(r, 204);
    return resp_json_text(r, status, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

/* The body's name (1..100 characters, not blank); NULL after recording a
 * field error. */
static const char *ws_name_or_error(req_t *r)
{
    const char *name = NULL;

    req_reject_unknown(r, r->json, name_fields);
    if (req_field_string(r, r->json, "name", NAME_MAX_CHARS, false, &name) == FIELD_ABSENT)
        req_field_error(r, "name", "is required");
    else if (name != NULL && strspn(name, " \t\r\n") == strlen(name))
        req_field_error(r, "name", "must not be blank");
    return r->errors ? NULL : name;
}

/* The body's role: one of owner, admin, editor, viewer; NULL after
 * recording a field error. */
static const char *ws_role_or_error(req_t *r)
{
    static const char *const roles[] = {"owner", "admin", "editor", "viewer", NULL};
    const char *role = NULL;

    if (req_field_string(r, r->json, "role", 16, false, &role) == FIELD_ABSENT)
        req_field_error(r, "role", "is required");
    if (role == NULL)
        return NULL;
    for (const char *const *k = roles; *k; k++)
        if (strcmp(*k, role) == 0)
            return role;
    req_field_error(r, "role", "must be owner, admin, editor or viewer");
    return NULL;
}

/* POST /api/v1/workspaces {name} -> 201 {id, name, personal: false, role: "owner", ...} | 422 */
static int ws_create(req_t *r)
{
    const char *v[1];
    PGresult *res;
    cJSON *out;

    if ((v[0] = ws_name_or_error(r)) == NULL)
        return resp_validation(r);
    if ((res = db_exec(&r->tx, &stmts[ST_CREATE], 1, v)) == NULL)
        return dbreply_error(r);
    out = json_own(r->arena, cJSON_Parse(PQgetvalue(res, 0, 0)));
    resp_location(r, arena_printf(r->arena, "/api/v1/workspaces/%s",
                                  cJSON_GetObjectItemCaseSensitive(out, "id")->valuestring));
    return resp_json_text(r, 201, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

/* GET /api/v1/workspaces -> 200 {items: [{id, name, personal, role, ...}]} */
static int ws_list(req_t *r)
{
    return ws_call(r, ST_LIST, 0, NULL, 200);
}

/* GET /api/v1/workspaces/{id} -> 200 | 404 (not a member) */
static int ws_get(req_t *r)
{
    const char *v[1] = {req_param(r, "id")};

    return ws_call(r, ST_GET, 1, v, 200);
}

/* PATCH /api/v1/workspaces/{id} {name} -> 200 | 403 (not the owner) | 404 | 422 */
static int ws_rename(req_t *r)
{
    const char *v[2] = {req_param(r, "id"), NULL};

    if ((v[1] = ws_name_or_error(r)) == NULL)
        return resp_validation(r);
    return ws_call(r, ST_RENAME, 2, v, 200);
}

/* DELETE /api/v1/workspaces/{id} -> 204 | 403 (not the owner) | 404 | 409 (personal) */
static int ws_delete(req_t *r)
{
    const char *v[1] = {req_param(r, "id")};

    return ws_call(r, ST_DELETE, 1, v, 204);
}

/* GET /api/v1/workspaces/{id}/members -> 200 {items: [{user_id, email, display_name, role, created_at}]} | 404 */
static int ws_members(req_t *r)
{
    const char *v[1] = {req_param(r, "id")};

    return ws_call(r, ST_MEMBERS, 1, v, 200);
}

/* PATCH /api/v1/workspaces/{id}/members/{user_id} {role}
 *   -> 200 {user_id, role, created_at} | 403 | 404 | 409 (the last owner) | 422 */
static int ws_member_set(req_t *r)
{
    const char *v[3] = {req_param(r, "id"), req_param(r, "user_id"), NULL};

    req_reject_unknown(r, r->json, role_fields);
    v[2] = ws_role_or_error(r);
    if (r->errors)
        return resp_validation(r);
    return ws_call(r, ST_MEMBER_SET, 3, v, 200);
}

/* DELETE /api/v1/workspaces/{id}/members/{user_id} -> 204 | 403 | 404 | 409 (the last owner) */
static int ws_member_remove(req_t *r)
{
    const char *v[2] = {req_param(r, "id"), req_param(r, "user_id")};

    return ws_call(r, ST_MEMBER_REMOVE, 2, v, 204);
}

/* An email address as the outbox takes it: local@domain, no spaces, control
 * characters or <>(),;:"\ , one @. */
static bool ws_email_ok(const char *e)
{
    const char *at = strchr(e, '@');

    if (at == NULL || at == e || at[1] == '\0' || strchr(at + 1, '@') != NULL)
        return false;
    for (; *e; e++)
        if ((unsigned char)*e <= 0x20 || *e == 0x7f || strchr("<>(),;:\"\\", *e) != NULL)
            return false;
    return true;
}

/* POST /api/v1/workspaces/{id}/invitations {email, role}
 *   -> 201 {id, workspace_id, email, role, state, expires_at, ..., token (shown this once)}
 *   | 403 (not an admin; owner role by a non-owner) | 404 | 409 (personal workspace) | 422
 * The token is mailed to email (outbox kind invitation) with the link
 * <PROMPTD_SITE_URL>/invite#token=<token>; the database keeps its SHA-256. */
static int ws_invite(req_t *r)
{
    unsigned char raw[TOKEN_BYTES];
    char token[sizeof TOKEN_PREFIX + 64], hash[HASH_SHA256_HEX];
    const config_t *cfg = config_load(false);
    const char *email = NULL, *v[6];
    PGresult *res;
    cJSON *out;

    req_reject_unknown(r, r->json, invite_fields);
    if (req_field_string(r, r->json, "email", EMAIL_MAX, false, &email) == FIELD_ABSENT)
        req_field_error(r, "email", "is required");
    else if (email != NULL && !ws_email_ok(email))
        req_field_error(r, "email", "must be an email address");
    v[2] = ws_role_or_error(r);
    if (r->errors)
        return resp_validation(r);
    random_bytes(raw, sizeof raw);
    memcpy(token, TOKEN_PREFIX, sizeof TOKEN_PREFIX - 1);
    token[sizeof TOKEN_PREFIX - 1 + b64url_encode(raw, sizeof raw, token + sizeof TOKEN_PREFIX - 1)] = '\0';
    OPENSSL_cleanse(raw, sizeof raw);
    hash_sha256_hex(token, strlen(token), hash);
    v[0] = req_param(r, "id"), v[1] = email, v[3] = hash, v[4] = token;
    v[5] = arena_printf(r->arena, "%s/invite#token=%s", cfg ? cfg->site_url : "", token);
    res = db_exec(&r->tx, &stmts[ST_INVITE], 6, v);
    if (res == NULL)
        return dbreply_error(r);
    out = json_own(r->arena, cJSON_Parse(PQgetvalue(res, 0, 0)));
    cJSON_AddStringToObject(out, "token", token);
    return resp_json(r, 201, out);
}

/* GET /api/v1/workspaces/{id}/invitations -> 200 {items: [{id, email, role, state, ...}]} | 403 | 404 */
static int ws_invites(req_t *r)
{
    const char *v[1] = {req_param(r, "id")};

    return ws_call(r, ST_INVITES, 1, v, 200);
}

/* DELETE /api/v1/workspaces/{id}/invitations/{invitation_id}
 *   -> 200 {..., state: "revoked"} (again: the same) | 403 | 404 | 409 (accepted) */
static int ws_invite_revoke(req_t *r)
{
    const char *v[2] = {req_param(r, "id"), req_param(r, "invitation_id")};

    return ws_call(r, ST_INVITE_REVOKE, 2, v, 200);
}

/* POST /api/v1/invitations/{token}/accept
 *   -> 200 the workspace joined, with the caller's role | 403 (another or an
 *   unconfirmed email) | 404 (unknown token) | 410 (used, revoked or expired) */
static int ws_accept(req_t *r)
{
    const char *token = req_param(r, "token");
    char hash[HASH_SHA256_HEX];
    const char *v[1] = {hash};

    if (strncmp(token, TOKEN_PREFIX, sizeof TOKEN_PREFIX - 1) != 0 || strlen(token) > 128)
        return resp_problem(r, 404, "No such invitation.");
    hash_sha256_hex(token, strlen(token), hash);
    return ws_call(r, ST_ACCEPT, 1, v, 200);
}

/* GET /api/v1/workspaces/{id}/change-requests?state=open|approved|rejected
 *   -> 200 {items: [{id, prompt_id, label, version, from_version, note,
 *   author, state, ...}]}, newest first (any member) | 404 | 422 */
static int ws_change_requests(req_t *r)
{
    const char *v[2] = {req_param(r, "id"), req_query(r, "state")};

    if (v[1] && strcmp(v[1], "open") != 0 && strcmp(v[1], "approved") != 0 &&
        strcmp(v[1], "rejected") != 0)
        req_field_error(r, "state", "must be open, approved or rejected");
    if (r->errors)
        return resp_validation(r);
    return ws_call(r, ST_CHANGE_REQUESTS, 2, v, 200);
}

static const route_t routes[] = {
    {"POST", "/api/v1/workspaces", ws_create, R_JSON | R_DB, CRED_SESSION, NULL},
    {"GET", "/api/v1/workspaces", ws_list, R_DB | R_READONLY, CRED_SESSION, NULL},
    {"GET", "/api/v1/workspaces/{id:uuid}", ws_get, R_DB | R_READONLY, CRED_SESSION, NULL},
    {"PATCH", "/api/v1/workspaces/{id:uuid}", ws_rename, R_JSON | R_DB, CRED_SESSION, NULL},
    {"DELETE", "/api/v1/workspaces/{id:uuid}", ws_delete, R_DB, CRED_SESSION, NULL},
    {"GET", "/api/v1/workspaces/{id:uuid}/members", ws_members, R_DB | R_READONLY,
     CRED_SESSION, NULL},
    /* a role change is how ownership moves: aal2 for a user with a second factor */
    {"PATCH", "/api/v1/workspaces/{id:uuid}/members/{user_id:uuid}", ws_member_set,
     R_JSON | R_DB | R_AAL2, CRED_SESSION, NULL},
    {"DELETE", "/api/v1/workspaces/{id:uuid}/members/{user_id:uuid}", ws_member_remove, R_DB,
     CRED_SESSION, NULL},
    {"POST", "/api/v1/workspaces/{id:uuid}/invitations", ws_invite, R_JSON | R_DB,
     CRED_SESSION, NULL},
    {"GET", "/api/v1/workspaces/{id:uuid}/invitations", ws_invites, R_DB | R_READONLY,
     CRED_SESSION, NULL},
    {"DELETE", "/api/v1/workspaces/{id:uuid}/invitations/{invitation_id:uuid}",
     ws_invite_revoke, R_DB, CRED_SESSION, NULL},
    {"POST", "/api/v1/invitations/{token}/accept", ws_accept, R_DB, CRED_SESSION, NULL},
    {"GET", "/api/v1/workspaces/{id:uuid}/change-requests", ws_change_requests,
     R_DB | R_READONLY, CRED_SESSION, NULL},
};

int main(int argc, char **argv)
{
    static const db_stmt_t *const tables[] = {stmts, NULL};
    static const family_t family = {
        "workspaces", routes, sizeof(routes) / sizeof(routes[0]), tables, NULL};

    return server_main(argc, argv, &family);
}
