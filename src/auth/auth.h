/* auth.h: who is calling: Bearer JWT -> r->user_id, r->role, r->claims. */
#ifndef PROMPTD_AUTH_H
#define PROMPTD_AUTH_H

#include <stdbool.h>

#include <openssl/types.h>

#include "core/config.h"
#include "core/request.h"
#include "db/db.h"

/* Keys for auth_require.  With cfg->jwt_signing_key set, the PEM is
 * loaded (it must be an EC P-256 private key) and its public key trusted
 * for ES256 tokens carrying its kid; false (after logging why) when it
 * cannot be: the worker must then refuse to start. */
bool auth_init(const config_t *cfg);

/* The configured ES256 signing key and its kid (RFC 7638 thumbprint), or
 * NULL when none is configured (tokens are then HS256).  Owned here. */
EVP_PKEY *auth_signing_key(const char **kid);

/* The public JWKS document {"keys":[...]} for /.well-known/jwks.json:
 * the signing key's public JWK, or no keys without one.  Static text. */
const char *auth_public_jwks(void);

/* Authenticate from the Authorization header.  On success sets r->user_id,
 * r->role and r->claims (verified claims re-serialised) and returns true.
 * Otherwise records a 401 with WWW-Authenticate and returns false. */
bool auth_require(req_t *r);
/* API keys: "Authorization: Bearer pmtd_..." or X-API-Key (used only when
 * there is no Authorization header).  A malformed key or bad checksum is
 * a 401 before any query; then the database must be ready (503 otherwise)
 * and the key known, unrevoked and unexpired (401).  On success r->user_id
 * is the owner, r->role "authenticated", r->key_id and r->scopes are set
 * and r->claims = {sub, role, aud, key_id, scopes}. */

/* True when the caller may use a route needing scope: JWT callers have
 * every scope; API-key callers only their key's. */
bool auth_has_scope(const req_t *r, const char *scope);

/* The API-key lookup statement; server.c prepares it on every connection. */
extern const db_stmt_t auth_apikey_stmt;

/* Claims for unauthenticated routes: role anon. */
void auth_anon(req_t *r);

#endif
