/* auth.h: who is calling: Bearer JWT -> r->user_id, r->role, r->claims. */
#ifndef PROMPTD_AUTH_H
#define PROMPTD_AUTH_H

#include <stdbool.h>

#include "core/config.h"
#include "core/request.h"
#include "db/db.h"

void auth_init(const config_t *cfg);

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
