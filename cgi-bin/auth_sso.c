/* auth_sso.c: the auth family's single sign-on (GoTrue's authorize, callback and PKCE grant) over the providers of src/auth/oidc. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/oidc.h"
#include "core/json.h"
#include "core/str.h"
#include "http/response.h"
#include "auth.h"

#define SSO_FLOW_TTL 600             /* seconds from authorize to the code's exchange */
#define PKCE_MIN 43                  /* RFC 7636 4.1: verifier and challenge lengths */
#define PKCE_MAX 128

/* Flow state lives in promptd.sso_* (sql/functions/sso.sql), SECURITY
 * DEFINER; these routes run as promptd_auth. */
enum { ST_BEGIN, ST_TAKE, ST_SIGN_IN, ST_EXCHANGE };

const db_stmt_t auth_sso_stmts[] = {
    [ST_BEGIN] = {"sso_flow_begin",
        "select promptd.sso_flow_begin(decode($1, 'hex'), $2, $3, $4, $5, $6, $7, $8::int)"},
    [ST_TAKE] = {"sso_flow_take",
        "select id, provider, nonce, verifier, redirect_to from promptd.sso_flow_take(decode($1, 'hex'))"},
    [ST_SIGN_IN] = {"sso_sign_in",
        "select status, user_id from promptd.sso_sign_in($1::bigint, $2, $3, $4, $5::boolean, "
        "$6::jsonb, decode($7, 'hex'))"},
    [ST_EXCHANGE] = {"sso_code_exchange",
        "select status, user_json, session_id, user_id, level from promptd.sso_code_exchange("
        "decode($1, 'hex'), $2, $3, decode($4, 'hex'), $5, $6)"},
    {NULL, NULL},
};

/* Whether s is a PKCE verifier or challenge: 43 to 128 unreserved characters. */
static bool pkce_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    return n >= PKCE_MIN && n <= PKCE_MAX &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") == n;
}

/* 303 to the client's redirect target with query (GoTrue's PKCE flow puts
 * the code, or the error, in the query). */
static int back_to_client(req_t *r, const char *to, const char *query)
{
    const char *hash = strchr(to, '#');
    size_t n = hash ? (size_t)(hash - to) : strlen(to);

    resp_header(r, "Cache-Control", "no-store");
    resp_header(r, "Referrer-Policy", "no-referrer");
    resp_location(r, arena_printf(r->arena, "%.*s%c%s%s", (int)n, to,
                                  memchr(to, '?', n) ? '&' : '?', query, hash ? hash : ""));
    return resp_empty(r, 303);
}

/* The same with GoTrue's error parameters; the log gets the detail. */
static int back_with_error(req_t *r, const char *to, const char *error, const char *code,
                           const char *description)
{
    r->tx.detail = description;
    return back_to_client(r, to, arena_printf(r->arena,
        "error=%s&error_code=%s&error_description=%s", error, code,
        url_encode(r->arena, description)));
}

/* Where the provider sends the browser back. */
static const char *callback_uri(req_t *r)
{
    return arena_printf(r->arena, "%s/auth/v1/callback", cfg->site_url);
}

/* GET /auth/v1/authorize?provider=&redirect_to=&code_challenge=
 *   &code_challenge_method=s256|plain -> 302 to the provider | 400
 *   validation_failed (no such provider, no PKCE challenge) | 502 (the
 *   provider's discovery failed).  GoTrue's PKCE flow: the client keeps
 *   the verifier and exchanges the code it gets back at
 *   POST /token?grant_type=pkce. */
int auth_authorize(req_t *r)
{
    oidc_provider_t *p = oidc_provider(req_query(r, "provider"));
    const char *challenge = req_query(r, "code_challenge");
    const char *method = req_query(r, "code_challenge_method");
    const char *why, *v[8];
    char *state, *nonce, *verifier;

    if (p == NULL)
        return gotrue_error(r, 400, "validation_failed",
                            "Unsupported provider: provider is not enabled");
    if (!pkce_valid(challenge) || method == NULL ||
        (strcasecmp(method, "s256") != 0 && strcasecmp(method, "plain") != 0))
        return gotrue_error(r, 400, "validation_failed",
                            "PKCE is required: code_challenge (43 to 128 characters) and "
                            "code_challenge_method (s256 or plain)");
    if (!oidc_discover(p, r->arena, &why)) {
        r->tx.detail = why;
        return gotrue_error(r, 502, "unexpected_failure",
                            "The sign-in provider cannot be reached; try again later");
    }
    state = random_token(r);
    nonce = random_token(r);
    verifier = random_token(r);
    as_auth_role(r);
    v[0] = sha256_hex(r, state);
    v[1] = p->name;
    v[2] = nonce;
    v[3] = verifier;
    v[4] = challenge;
    v[5] = strcasecmp(method, "plain") == 0 ? "plain" : "s256";
    v[6] = auth_redirect_target(r, req_query(r, "redirect_to"));
    v[7] = arena_printf(r->arena, "%d", SSO_FLOW_TTL);
    if (db_exec(&r->tx, &auth_sso_stmts[ST_BEGIN], 8, v) == NULL)
        return db_failed(r);
    resp_header(r, "Cache-Control", "no-store");
    resp_location(r, oidc_authorize_url(r->arena, p, callback_uri(r), state, nonce, verifier));
    return resp_empty(r, 302);
}

/* The identity's account and the client's code; the reply recorded. */
static int sign_in_reply(req_t *r, PGresult *flow, const oidc_identity_t *id)
{
    const char *to = PQgetvalue(flow, 0, 4), *code = random_token(r), *v[7], *status;
    PGresult *res;

    v[0] = PQgetvalue(flow, 0, 0);
    v[1] = PQgetvalue(flow, 0, 1);
    v[2] = id->subject;
    v[3] = id->email;
    v[4] = id->email_verified ? "true" : "false";
    v[5] = id->data ? json_print(r->arena, id->data) : NULL;
    v[6] = sha256_hex(r, code);
    if ((res = db_exec(&r->tx, &auth_sso_stmts[ST_SIGN_IN], 7, v)) == NULL ||
        PQntuples(res) != 1)
        return db_failed(r);
    status = PQgetvalue(res, 0, 0);
    if (strcmp(status, "email_exists") == 0)
        return back_with_error(r, to, "access_denied", "email_exists",
            "An account with this email exists, and the provider does not say the address "
            "is verified: sign in to that account instead");
    return back_to_client(r, to, arena_printf(r->arena, "code=%s", code));
}

/* GET /auth/v1/callback?code=&state= (or error=&error_description=&state=)
 *   -> 303 to the sign-in's redirect target with ?code= (for the PKCE
 *   grant) or ?error=&error_code=&error_description=.  A state that is not
 *   a live sign-in's goes to the site URL with bad_oauth_state. */
int auth_callback(req_t *r)
{
    const char *state = req_query(r, "state"), *code = req_query(r, "code");
    const char *perr = req_query(r, "error"), *why, *v[1], *to;
    oidc_identity_t id;
    oidc_provider_t *p;
    PGresult *flow;

    if (state == NULL || *state == '\0' || strlen(state) > PKCE_MAX)
        return back_with_error(r, cfg->site_url, "invalid_request", "bad_oauth_state",
                               "OAuth state is missing or invalid");
    as_auth_role(r);
    v[0] = sha256_hex(r, state);
    if ((flow = db_exec(&r->tx, &auth_sso_stmts[ST_TAKE], 1, v)) == NULL)
        return db_failed(r);
    if (PQntuples(flow) != 1)
        return back_with_error(r, cfg->site_url, "invalid_request", "bad_oauth_state",
                               "OAuth state is invalid or has expired");
    to = PQgetvalue(flow, 0, 4);
    /* the state is spent whatever follows, and no transaction stays open
     * while the provider answers */
    if (!db_tx_commit(&r->tx))
        return db_failed(r);
    if (perr != NULL || code == NULL || *code == '\0')
        return back_with_error(r, to, "access_denied", "bad_oauth_callback",
            arena_printf(r->arena, "The provider refused: %s",
                         req_query(r, "error_description") ? req_query(r, "error_description")
                         : perr ? perr : "no code"));
    if ((p = oidc_provider(PQgetvalue(flow, 0, 1))) == NULL)
        return back_with_error(r, to, "server_error", "provider_disabled",
                               "The provider is no longer configured");
    if (!oidc_sign_in(r->arena, p, code, callback_uri(r), PQgetvalue(flow, 0, 3),
                      PQgetvalue(flow, 0, 2), &id, &why)) {
        if (!audit_or_reply(r, "auth.sso", "failure", json_print(r->arena,
                json_own(r->arena, cJSON_CreateString(why))), NULL))
            return r->status;
        return back_with_error(r, to, "access_denied", "bad_oauth_callback", why);
    }
    return sign_in_reply(r, flow, &id);
}

/* grant_type=pkce {auth_code, code_verifier} -> 200 session (amr oauth) |
 * 400 validation_failed | 404 flow_state_not_found (unknown, spent or
 * expired code) | 403 bad_code_verifier (the code is spent) */
int auth_grant_pkce(req_t *r)
{
    const char *code, *verifier, *rhash, *v[6], *status;
    char *refresh;
    PGresult *res;

    if (!string_or_reply(r, r->json, "auth_code", &code) ||
        !string_or_reply(r, r->json, "code_verifier", &verifier))
        return r->status;
    if (code == NULL || *code == '\0' || verifier == NULL || *verifier == '\0')
        return gotrue_error(r, 400, "validation_failed",
                            "invalid request: both auth code and code verifier should be non-empty");
    if (!pkce_valid(verifier) || strlen(code) > PKCE_MAX)
        return gotrue_error(r, 403, "bad_code_verifier",
                            "code challenge does not match previously saved code verifier");
    refresh = refresh_token_new(r, &rhash);
    as_auth_role(r);
    v[0] = sha256_hex(r, code);
    v[1] = oidc_s256(r->arena, verifier);
    v[2] = verifier;
    v[3] = rhash;
    v[4] = req_header(r, "User-Agent");
    v[5] = r->remote_addr;
    if ((res = db_exec(&r->tx, &auth_sso_stmts[ST_EXCHANGE], 6, v)) == NULL ||
        PQntuples(res) != 1)
        return db_failed(r);
    status = PQgetvalue(res, 0, 0);
    if (strcmp(status, "ok") != 0) {
        r->tx.commit_on_error = true;   /* a wrong verifier spends the code */
        if (strcmp(status, "mismatch") == 0)
            return gotrue_error(r, 403, "bad_code_verifier",
                                "code challenge does not match previously saved code verifier");
        return gotrue_error(r, 404, "flow_state_not_found",
                            "invalid flow state, no valid flow state found");
    }
    if (!audit_or_reply(r, "auth.signin", "success", "{\"method\":\"oauth\"}", PQgetvalue(res, 0, 3)))
        return r->status;
    return session_reply(r, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2), refresh,
                         PQgetvalue(res, 0, 4));
}
