/* auth.c: the auth family: GoTrue-compatible sign-up, sign-in, refresh, user and logout (/auth/v1); its route table, with the flows by mail (auth_email.c), single sign-on (auth_sso.c) and the second factor (auth_mfa.c). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>


#include "http/credential.h"
#include "auth/oidc.h"
#include "auth/password.h"
#include "core/config.h"
#include "core/json.h"
#include "http/dbreply.h"
#include "http/response.h"
#include "http/server.h"
#include "http/audit.h"
#include "auth.h"

#define REFRESH_TOKEN_MAX 512
#define REAUTH_WINDOW 300L          /* seconds: a sign-in this recent may change
                                     * the password or email without the
                                     * current password */

/* Everything these handlers send to PostgreSQL goes through the functions
 * of sql/0006_auth_sessions.sql (SECURITY DEFINER). */
enum { ST_SIGNUP, ST_PW_BEGIN, ST_PW_OK, ST_PW_REHASH, ST_REFRESH, ST_USER, ST_UPDATE,
       ST_LOGOUT, ST_LEVEL, ST_PWHASH, ST_EMAIL };

static const db_stmt_t stmts[] = {
    [ST_SIGNUP] = {"auth_signup",
        "select user_json, session_id, user_id from promptd.auth_signup("
        "$1, $2, $3::jsonb, decode($4, 'hex'), $5, $6)"},
    [ST_PW_BEGIN] = {"auth_password_begin",
        "select locked_seconds, user_id, hash from promptd.auth_password_begin($1, $2)"},
    [ST_PW_OK] = {"auth_password_ok",
        "select user_json, session_id from promptd.auth_password_ok("
        "$1::uuid, $2, $3, decode($4, 'hex'), $5)"},
    /* sql/0016_password_rehash.sql */
    [ST_PW_REHASH] = {"auth_password_rehash",
        "select promptd.auth_password_rehash($1::uuid, $2, $3)"},
    [ST_REFRESH] = {"auth_refresh",
        "select status, user_json, session_id, user_id from promptd.auth_refresh("
        "decode($1, 'hex'), decode($2, 'hex'), $3::int, $4::int)"},
    [ST_USER] = {"auth_current_user", "select promptd.auth_current_user($1::uuid)"},
    [ST_UPDATE] = {"auth_update_user",
        "select promptd.auth_update_user($1::uuid, $2::jsonb, $3)"},
    [ST_LOGOUT] = {"auth_logout", "select promptd.auth_logout($1::uuid, $2)"},
    /* sql/0039_session_level.sql */
    [ST_LEVEL] = {"auth_session_level", "select promptd.auth_session_level($1::uuid)"},
    /* sql/0019_reauthentication.sql */
    [ST_PWHASH] = {"auth_password_hash", "select promptd.account_password_hash()"},
    [ST_EMAIL] = {"auth_change_email", "select promptd.auth_change_email($1::uuid, $2)"},
    {NULL, NULL},
};

/* ------------------------------------------------------------ handlers */

/* 200 with the session just opened (res: user_json, session_id, ...): its
 * amr read back, so that the token's sign-in time is the session's own (as
 * a refresh will claim it). */
static int opened_reply(req_t *r, PGresult *res, const char *refresh)
{
    const char *user_json = PQgetvalue(res, 0, 0), *v[1] = {PQgetvalue(res, 0, 1)};
    PGresult *level;

    if ((level = db_exec(&r->tx, &stmts[ST_LEVEL], 1, v)) == NULL)
        return db_failed(r);
    return session_reply(r, user_json, v[0], refresh, db_value(level, 0, 0));
}

/* POST /auth/v1/signup {email, password, data?} -> 200 session (autoconfirm)
 * | 400 bad_json / validation_failed | 422 weak_password /
 * user_already_exists / validation_failed */
static int auth_signup(req_t *r)
{
    const char *email_in, *password, *reason, *msg, *data = NULL, *rhash, *v[6];
    char hash[PASSWORD_ENCODED_MAX], *email, *refresh;
    const cJSON *body = r->json;
    PGresult *res;

    if (!apikey_or_reply(r) ||
        !string_or_reply(r, body, "email", &email_in) ||
        !string_or_reply(r, body, "password", &password))
        return r->status;
    if (email_in == NULL)
        return gotrue_error(r, 400, "validation_failed",
                            "To signup, please provide your email");
    if ((email = email_normalise(r, email_in)) == NULL)
        return gotrue_error(r, 400, "validation_failed",
                            "Unable to validate email address: invalid format");
    if (password == NULL || *password == '\0')
        return gotrue_error(r, 422, "validation_failed",
                            "Signup requires a valid password");
    if (strlen(password) > PASSWORD_MAX_BYTES)
        return gotrue_error(r, 422, "validation_failed", "Password is too long");
    if ((reason = password_weakness(password, &msg)) != NULL)
        return weak_password_error(r, reason, msg);
    if (!user_data_or_reply(r, body, &data))
        return r->status;
    if (!password_hash(password, hash))
        return resp_problem(r, 503, "The server is out of memory; retry shortly.");
    as_auth_role(r);
    if (auth_settings.mail)
        return auth_signup_confirm_reply(r, email, hash, data);
    refresh = refresh_token_new(r, &rhash);
    v[0] = email;
    v[1] = hash;
    v[2] = data;
    v[3] = rhash;
    v[4] = req_header(r, "User-Agent");
    v[5] = r->remote_addr;
    if ((res = db_exec(&r->tx, &stmts[ST_SIGNUP], 6, v)) == NULL)
        return db_failed(r);
    if (PQntuples(res) != 1)
        return gotrue_error(r, 422, "user_already_exists", "User already registered");
    if (!audit_or_reply(r, "auth.signup", "success", NULL, PQgetvalue(res, 0, 2)))
        return r->status;
    return opened_reply(r, res, refresh);
}


/* After a successful sign-in, replace a hash that is not argon2id with this
 * build's parameters (bcrypt from Supabase, older argon2 settings) by a
 * fresh one, only if it is still the hash just verified.  False once a
 * reply is recorded. */
static bool rehash_or_reply(req_t *r, const char *uid, const char *old, const char *password)
{
    char hash[PASSWORD_ENCODED_MAX];
    const char *v[3];

    if (!password_needs_rehash(old))
        return true;
    if (!password_hash(password, hash)) {
        r->tx.detail = "rehashing the password failed (out of memory?)";
        resp_problem(r, 500, "Internal error; it has been logged.");
        return false;
    }
    v[0] = uid;
    v[1] = old;
    v[2] = hash;
    if (db_exec(&r->tx, &stmts[ST_PW_REHASH], 3, v) == NULL) {
        db_failed(r);
        return false;
    }
    return true;
}

/* grant_type=password {email, password} -> 200 session | 400
 * invalid_credentials (the same for an unknown email, after a dummy
 * argon2 verification) | 429 over_request_rate_limit (backoff). */
static int grant_password(req_t *r, const cJSON *body)
{
    const char *email_in, *password, *rhash, *v[5], *uid, *locked;
    char *email, *refresh;
    PGresult *res;

    if (!string_or_reply(r, body, "email", &email_in) ||
        !string_or_reply(r, body, "password", &password))
        return r->status;
    if (email_in == NULL)
        return gotrue_error(r, 400, "validation_failed", "missing email or phone");
    if (password == NULL)
        return gotrue_error(r, 400, "validation_failed", "missing password");
    if ((email = email_normalise(r, email_in)) == NULL ||
        strlen(password) > PASSWORD_MAX_BYTES)
        return invalid_credentials(r);
    as_auth_role(r);
    v[0] = email;
    v[1] = r->remote_addr;
    if ((res = db_exec(&r->tx, &stmts[ST_PW_BEGIN], 2, v)) == NULL || PQntuples(res) != 1)
        return db_failed(r);
    r->tx.commit_on_error = true;   /* keep the attempt counted, and the audit row */
    locked = PQgetvalue(res, 0, 0);
    uid = db_value(res, 0, 1);
    if (atoi(locked) > 0) {
        resp_header(r, "Retry-After", locked);
        if (!audit_or_reply(r, "auth.signin_failed", "denied",
                            "{\"reason\":\"throttled\"}", uid))
            return r->status;
        return gotrue_error(r, 429, "over_request_rate_limit",
                            "Request rate limit reached");
    }
    if (!password_verify(db_value(res, 0, 2), password)) {
        if (!audit_or_reply(r, "auth.signin_failed", "failure",
                            "{\"reason\":\"invalid_credentials\"}", uid))
            return r->status;
        return invalid_credentials(r);
    }
    if (!rehash_or_reply(r, uid, db_value(res, 0, 2), password) ||
        !auth_confirmed_or_reply(r, uid))
        return r->status;
    refresh = refresh_token_new(r, &rhash);
    v[0] = uid;
    v[1] = email;
    v[2] = r->remote_addr;
    v[3] = rhash;
    v[4] = req_header(r, "User-Agent");
    if ((res = db_exec(&r->tx, &stmts[ST_PW_OK], 5, v)) == NULL || PQntuples(res) != 1)
        return db_failed(r);
    r->tx.commit_on_error = false;
    if (!audit_or_reply(r, "auth.signin", "success", "{\"method\":\"password\"}", uid))
        return r->status;
    return opened_reply(r, res, refresh);
}

/* grant_type=refresh_token {refresh_token} -> 200 new session (the old
 * token is spent) | 400 refresh_token_not_found | 400
 * refresh_token_already_used (a spent token again: its session is revoked).
 * Within PROMPTD_REFRESH_REUSE_INTERVAL of its rotation, the token whose
 * child is still live refreshes again (two tabs racing), as GoTrue's
 * refresh_token_reuse_interval allows. */
static int grant_refresh(req_t *r, const cJSON *body)
{
    const char *old, *rhash, *v[4], *status, *user_json, *sid;
    char *refresh;
    PGresult *res;

    if (!string_or_reply(r, body, "refresh_token", &old))
        return r->status;
    if (old == NULL || *old == '\0' || strlen(old) > REFRESH_TOKEN_MAX)
        return gotrue_error(r, 400, "refresh_token_not_found",
                            "Invalid Refresh Token: Refresh Token Not Found");
    refresh = refresh_token_new(r, &rhash);
    as_auth_role(r);
    v[0] = sha256_hex(r, old);
    v[1] = rhash;
    v[2] = arena_printf(r->arena, "%ld", auth_settings.refresh_ttl);
    v[3] = arena_printf(r->arena, "%ld", auth_settings.refresh_reuse);
    if ((res = db_exec(&r->tx, &stmts[ST_REFRESH], 4, v)) == NULL || PQntuples(res) != 1)
        return db_failed(r);
    status = PQgetvalue(res, 0, 0);
    if (strcmp(status, "reused") == 0) {
        r->tx.commit_on_error = true;   /* the revocation must land */
        if (!audit_or_reply(r, "auth.refresh_reuse", "denied",
                arena_printf(r->arena, "{\"session_id\":\"%s\"}", PQgetvalue(res, 0, 2)),
                db_value(res, 0, 3)))
            return r->status;
        return gotrue_error(r, 400, "refresh_token_already_used",
                            "Invalid Refresh Token: Already Used");
    }
    if (strcmp(status, "ok") != 0)
        return gotrue_error(r, 400, "refresh_token_not_found",
                            "Invalid Refresh Token: Refresh Token Not Found");
    user_json = PQgetvalue(res, 0, 1);
    v[0] = sid = PQgetvalue(res, 0, 2);
    if ((res = db_exec(&r->tx, &stmts[ST_LEVEL], 1, v)) == NULL || db_value(res, 0, 0) == NULL)
        return db_failed(r);
    return session_reply(r, user_json, sid, refresh, PQgetvalue(res, 0, 0));
}

/* POST /auth/v1/token?grant_type=password|refresh_token|pkce {...} -> see
 * grant_* and auth_grant_pkce | 400 unsupported_grant_type */
static int auth_token(req_t *r)
{
    const char *grant = req_query(r, "grant_type");

    if (!apikey_or_reply(r))
        return r->status;
    if (grant && strcmp(grant, "password") == 0)
        return grant_password(r, r->json);
    if (grant && strcmp(grant, "refresh_token") == 0)
        return grant_refresh(r, r->json);
    if (grant && strcmp(grant, "pkce") == 0)
        return auth_grant_pkce(r);
    return gotrue_error(r, 400, "validation_failed", "unsupported_grant_type");
}

/* GET /auth/v1/user (session token) -> 200 user | 401 no_authorization |
 * 403 bad_jwt (not valid, or an API key) | 403 session_not_found */
static int auth_user_get(req_t *r)
{
    const char *v[1];
    PGresult *res;

    if (!apikey_or_reply(r))
        return r->status;
    v[0] = credential_session_id(r);
    if ((res = db_exec(&r->tx, &stmts[ST_USER], 1, v)) == NULL)
        return db_failed(r);
    if (db_value(res, 0, 0) == NULL)
        return gotrue_error(r, 403, "session_not_found",
                            "Session from session_id claim in JWT does not exist");
    resp_header(r, "Cache-Control", "no-store");
    return resp_json_text(r, 200, PQgetvalue(res, 0, 0), strlen(PQgetvalue(res, 0, 0)));
}

/* Re-authentication before a password or email change: the current
 * password (member current_password, as GoTrue names it for
 * updateUser), or a session signed in within REAUTH_WINDOW, measured from
 * the session's sign-in time, which a refresh keeps (credential_recent_signin),
 * never from the token's iat.  False after answering 400
 * current_password_mismatch or reauthentication_needed (the denial is
 * audited and committed) or a database error. */
static bool reauth_or_reply(req_t *r, const char *current)
{
    PGresult *res;
    int recent;

    if (current != NULL) {
        if ((res = db_exec(&r->tx, &stmts[ST_PWHASH], 0, NULL)) == NULL) {
            db_failed(r);
            return false;
        }
        if (strlen(current) <= PASSWORD_MAX_BYTES &&
            password_verify(db_value(res, 0, 0), current))
            return true;
    } else if ((recent = credential_recent_signin(r, REAUTH_WINDOW)) != 0) {
        return recent > 0;
    }
    r->tx.commit_on_error = true;   /* keep the denial's audit row only */
    if (!audit_or_reply(r, "auth.reauthenticate", "denied", current
                        ? "{\"reason\":\"current_password\"}"
                        : "{\"reason\":\"stale_signin\"}", NULL))
        return false;
    if (current != NULL)
        gotrue_error(r, 400, "current_password_mismatch",
                     "The current password is incorrect");
    else
        gotrue_error(r, 400, "reauthentication_needed",
                     "Changing the password or email requires the current "
                     "password or a sign-in within the last 5 minutes");
    return false;
}

/* The email member as a change: *to is the normalised address when it
 * differs from the token's, else NULL.  False after 400 validation_failed. */
static bool email_change_or_reply(req_t *r, const char *in, const char **to)
{
    cJSON *claims = json_own(r->arena, cJSON_Parse(r->tx.claims));
    const cJSON *cur = cJSON_GetObjectItemCaseSensitive(claims, "email");
    const char *e;

    *to = NULL;
    if (in == NULL)
        return true;
    if ((e = email_normalise(r, in)) == NULL) {
        gotrue_error(r, 400, "validation_failed",
                     "Unable to validate email address: invalid format");
        return false;
    }
    if (!cJSON_IsString(cur) || strcasecmp(e, cur->valuestring) != 0)
        *to = e;
    return true;
}

/* The new address, confirmed at once (sign-up is autoconfirm); false
 * after 422 email_exists, 403 session_not_found or a database error. */
static bool email_set_or_reply(req_t *r, const char *email)
{
    const char *v[2] = {credential_session_id(r), email}, *status;
    PGresult *res;

    if ((res = db_exec_app(&r->tx, &stmts[ST_EMAIL], 2, v)) == NULL) {
        db_failed(r);
        return false;
    }
    status = PQgetvalue(res, 0, 0);
    if (strcmp(status, "ok") == 0)
        return audit_or_reply(r, "auth.email_change", "success", NULL, NULL);
    if (strcmp(status, "email_exists") == 0)
        gotrue_error(r, 422, "email_exists",
                     "A user with this email address has already been registered");
    else
        gotrue_error(r, 403, "session_not_found",
                     "Session from session_id claim in JWT does not exist");
    return false;
}

/* A password or email change by a user with a verified second factor
 * needs an aal2 session (GoTrue's rule); false after 403 insufficient_aal
 * or a database error. */
static bool aal_or_reply(req_t *r)
{
    int ok = credential_aal_sufficient(r);

    if (ok == 0)
        gotrue_error(r, 403, "insufficient_aal",
                     "AAL2 session is required to update email or password "
                     "when MFA is enabled.");
    return ok > 0;
}

/* PUT /auth/v1/user (session token) {data?, password?, email?,
 * current_password?} -> 200 user | 400 bad_json / validation_failed |
 * 400 reauthentication_needed (a password or email change needs
 * current_password or a sign-in within 5 minutes) | 400
 * current_password_mismatch | 422 weak_password / validation_failed /
 * email_exists | 401 | 403 bad_jwt / session_not_found | 403
 * insufficient_aal (a password or email change from an aal1 session of a
 * user with a verified factor).  A new password
 * revokes the other sessions; a new email is confirmed at once. */
static int auth_user_put(req_t *r)
{
    const char *email_in, *email = NULL, *password, *current, *reason, *msg;
    const char *data = NULL, *v[3];
    char hash[PASSWORD_ENCODED_MAX];
    const cJSON *body = r->json;
    PGresult *res;

    if (!apikey_or_reply(r) ||
        !string_or_reply(r, body, "email", &email_in) ||
        !string_or_reply(r, body, "password", &password) ||
        !string_or_reply(r, body, "current_password", &current) ||
        !email_change_or_reply(r, email_in, &email) ||
        !user_data_or_reply(r, body, &data))
        return r->status;
    if (password) {
        if (strlen(password) > PASSWORD_MAX_BYTES)
            return gotrue_error(r, 422, "validation_failed", "Password is too long");
        if ((reason = password_weakness(password, &msg)) != NULL)
            return weak_password_error(r, reason, msg);
    }
    if ((password || email) && !aal_or_reply(r))
        return r->status;
    if ((password || email) && !reauth_or_reply(r, current))
        return r->status;
    if (password && !password_hash(password, hash))
        return resp_problem(r, 503, "The server is out of memory; retry shortly.");
    if (email && !(auth_settings.mail ? auth_email_change_or_reply(r, email)
                                      : email_set_or_reply(r, email)))
        return r->status;
    v[0] = credential_session_id(r);
    v[1] = data;
    v[2] = password ? hash : NULL;
    if ((res = db_exec_app(&r->tx, &stmts[ST_UPDATE], 3, v)) == NULL)
        return db_failed(r);
    if (db_value(res, 0, 0) == NULL)
        return gotrue_error(r, 403, "session_not_found",
                            "Session from session_id claim in JWT does not exist");
    if (password && !audit_or_reply(r, "auth.password_change", "success", NULL, NULL))
        return r->status;
    return resp_json_text(r, 200, PQgetvalue(res, 0, 0), strlen(PQgetvalue(res, 0, 0)));
}

/* POST /auth/v1/logout?scope=global|local|others (session token) -> 204 |
 * 400 validation_failed (scope) | 401 | 403.  Access tokens already issued
 * stay valid until they expire (as with GoTrue); their refresh tokens and
 * GET /auth/v1/user stop working at once. */
static int auth_logout(req_t *r)
{
    const char *scope = req_query(r, "scope"), *v[2];
    PGresult *res;

    if (!apikey_or_reply(r))
        return r->status;
    if (scope == NULL || *scope == '\0')
        scope = "global";
    if (strcmp(scope, "global") != 0 && strcmp(scope, "local") != 0 &&
        strcmp(scope, "others") != 0)
        return gotrue_error(r, 400, "validation_failed",
                            "Unsupported logout scope, must be one of global, local, others");
    v[0] = credential_session_id(r);
    v[1] = scope;
    if ((res = db_exec(&r->tx, &stmts[ST_LOGOUT], 2, v)) == NULL)
        return db_failed(r);
    if (!audit_or_reply(r, "auth.signout", "success",
            arena_printf(r->arena, "{\"scope\":\"%s\",\"sessions\":%s}", scope,
                         PQgetvalue(res, 0, 0)), NULL))
        return r->status;
    return resp_empty(r, 204);
}

/* GET /auth/v1/.well-known/jwks.json -> 200 {"keys":[jwk]}: the public
 * JWK of PROMPTD_JWT_SIGNING_KEY (never "d"), or {"keys":[]} when tokens
 * are HS256 (a shared secret is never published). */
static int auth_jwks(req_t *r)
{
    const char *keys = credential_public_jwks();

    resp_header(r, "Cache-Control", "public, max-age=600");
    return resp_json_text(r, 200, keys, strlen(keys));
}

/* The dispatcher's refusals reach clients in GoTrue's dialect through
 * gotrue_problem.  The account routes take session tokens only. */
static const route_t routes[] = {
    {"POST", "/auth/v1/signup", auth_signup, R_JSON | R_DB, CRED_NONE, NULL},
    {"POST", "/auth/v1/token", auth_token, R_JSON | R_DB, CRED_NONE, NULL},
    {"GET", "/auth/v1/user", auth_user_get, R_DB | R_READONLY, CRED_SESSION, NULL},
    {"PUT", "/auth/v1/user", auth_user_put, R_JSON | R_DB, CRED_SESSION, NULL},
    {"POST", "/auth/v1/logout", auth_logout, R_DB, CRED_SESSION, NULL},
    {"GET", "/auth/v1/.well-known/jwks.json", auth_jwks, 0, CRED_NONE, NULL},
    {"POST", "/auth/v1/verify", auth_verify, R_JSON | R_DB, CRED_NONE, NULL},
    {"GET", "/auth/v1/verify", auth_verify_link, R_DB, CRED_NONE, NULL},
    {"POST", "/auth/v1/recover", auth_recover, R_JSON | R_DB, CRED_NONE, NULL},
    {"POST", "/auth/v1/resend", auth_resend, R_JSON | R_DB, CRED_NONE, NULL},
    {"POST", "/auth/v1/otp", auth_otp, R_JSON | R_DB, CRED_NONE, NULL},
    {"GET", "/auth/v1/authorize", auth_authorize, R_DB, CRED_NONE, NULL},
    {"GET", "/auth/v1/callback", auth_callback, R_DB, CRED_NONE, NULL},
    /* the TOTP second factor: auth_mfa.c */
    {"POST", "/auth/v1/factors", mfa_enroll, R_JSON | R_DB, CRED_SESSION, NULL},
    {"POST", "/auth/v1/factors/{id}/challenge", mfa_challenge, R_DB, CRED_SESSION, NULL},
    {"POST", "/auth/v1/factors/{id}/verify", mfa_verify, R_JSON | R_DB, CRED_SESSION, NULL},
    {"DELETE", "/auth/v1/factors/{id}", mfa_unenroll, R_DB, CRED_SESSION, NULL},
};

int main(int argc, char **argv)
{
    static const db_stmt_t *const tables[] = {stmts, auth_email_stmts, auth_sso_stmts, mfa_stmts,
                                              NULL};
    static const family_t family = {
        "auth", routes, sizeof(routes) / sizeof(routes[0]), tables,
        gotrue_problem};

    if (argc > 1 && strcmp(argv[1], "--routes") == 0)
        return server_main(argc, argv, &family);
    if ((cfg = config_load(false)) == NULL || !auth_settings_load() || !oidc_providers_load())
        return 1;
    password_init();
    return server_main(argc, argv, &family);
}
