/* credential.h: who is calling: Bearer JWT or API key -> r->tx.user_id, r->tx.role, r->tx.claims. */
#ifndef PROMPTD_CREDENTIAL_H
#define PROMPTD_CREDENTIAL_H

#include <stdbool.h>

#include <openssl/types.h>

#include "core/config.h"
#include "http/request.h"
#include "db/db.h"

/* Keys for credential_session and credential_apikey, read at start after config_load:
 * cfg's JWT settings, the API key pepper (auth/apikey), and
 * PROMPTD_JWT_SIGNING_KEY (every family verifies our ES256 tokens): when
 * set, that PEM is loaded (it must be an EC P-256 private key) and its
 * public key trusted for ES256 tokens carrying its kid; false (after
 * logging why) when it cannot be: the worker must then refuse to start. */
bool credential_init(const config_t *cfg);

/* The configured ES256 signing key and its kid (RFC 7638 thumbprint), or
 * NULL when none is configured (tokens are then HS256).  Owned here. */
EVP_PKEY *credential_signing_key(const char **kid);

/* The public JWKS document {"keys":[...]} for /.well-known/jwks.json:
 * the signing key's public JWK, or no keys without one.  Static text. */
const char *credential_public_jwks(void);

/* The credential kind the request's headers present (enum route_creds):
 * CRED_APIKEY for "Authorization: Bearer pmtd_...", "Authorization: Basic
 * base64(key id:pmtd_...)" (the shape Langfuse's clients send) or, without
 * an Authorization header, "X-API-Key: ..."; CRED_SESSION for any other
 * Authorization header (verified or refused by credential_session); 0 for none.
 * Share cookies and signatures are not bearer credentials: see
 * credential_share_cookie_present and the handlers. */
unsigned credential_presented(req_t *r);

/* True when "Authorization: Bearer X" repeats the apikey header's X: how
 * supabase-js calls while no one is signed in (the anon key in both).  On
 * a route open to anonymous callers that is no session; the handler
 * checks the anon key itself where it requires one. */
bool credential_bearer_is_apikey(req_t *r);

/* A share link's unlock cookie ("pd_share_..."), unverified, is present. */
#define CREDENTIAL_SHARE_COOKIE_PREFIX "pd_share_"
bool credential_share_cookie_present(req_t *r);

enum credential_result {
    CREDENTIAL_OK,        /* the caller is known */
    CREDENTIAL_INVALID,   /* the credential is not valid: *why says why (401) */
    CREDENTIAL_REPLIED,   /* a reply is recorded (503: the database is down) */
};

/* A session token: a Bearer JWT (HS256 secret, our ES256 key, or the
 * PROMPTD_JWKS keys) with role authenticated.  CREDENTIAL_OK sets r->tx.user_id,
 * r->tx.role and r->tx.claims (verified claims re-serialised). */
enum credential_result credential_session(req_t *r, const char **why);

/* An API key ("Authorization: Bearer pmtd_...", Basic with the key's id
 * as the username and the key as the password, or X-API-Key).  A Basic
 * pair whose id is not the key's is CREDENTIAL_INVALID.  A
 * malformed key or bad checksum is CREDENTIAL_INVALID before any query; then
 * the database must be ready (503 otherwise) and the key known, unrevoked
 * and unexpired.  CREDENTIAL_OK: r->tx.user_id is the owner, r->tx.role
 * "authenticated", r->key_id and r->scopes are set and r->tx.claims =
 * {sub, role, aud, key_id, scopes}. */
enum credential_result credential_apikey(req_t *r, const char **why);

/* The session_id claim of a session token (a UUID), or NULL (API keys,
 * promptctl tokens). */
const char *credential_session_id(req_t *r);

/* Re-authentication by time: whether the caller's sign-in happened within
 * max_age seconds.  The sign-in time is that of the token's session row
 * (promptd.sessions.created_at: a refresh keeps it); for a session we do
 * not keep (a Supabase-issued token) the newest "amr" timestamp, which
 * GoTrue also keeps across refreshes; for a token with neither session_id
 * nor amr (promptctl's, which nothing refreshes) its iat.  API keys never
 * count as recent.  Runs inside the request's transaction.  1 recent, 0
 * not, -1 after replying (database error). */
int credential_recent_signin(req_t *r, long max_age);

/* The second factor (sql/functions/mfa.sql, promptd.mfa_aal_ok): 1 when
 * the caller has no verified factor or its session is at aal2 (the token's
 * aal claim, and the session row where this server keeps it), 0 when an
 * aal1 session of a user with a verified factor, -1 after replying
 * (database error).  Runs inside the request's transaction; the route
 * flag R_AAL2 and the handlers that need aal2 for part of a body call it. */
int credential_aal_sufficient(req_t *r);

/* True when the caller may use a route needing scope: JWT callers have
 * every scope; API-key callers only their key's. */
bool credential_has_scope(const req_t *r, const char *scope);

/* auth's statements (the API-key lookup), {NULL}-terminated; http/server.c
 * prepares them on every connection. */
extern const db_stmt_t credential_stmts[];

/* Claims for unauthenticated routes: role anon. */
void credential_anon(req_t *r);

#endif
