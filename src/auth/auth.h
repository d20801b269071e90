/* auth.h: who is calling: Bearer JWT -> r->user_id, r->role, r->claims. */
#ifndef PROMPTD_AUTH_H
#define PROMPTD_AUTH_H

#include <stdbool.h>

#include "core/config.h"
#include "core/request.h"

void auth_init(const config_t *cfg);

/* Authenticate from the Authorization header.  On success sets r->user_id,
 * r->role and r->claims (verified claims re-serialised) and returns true.
 * Otherwise records a 401 with WWW-Authenticate and returns false. */
bool auth_require(req_t *r);

/* Claims for unauthenticated routes: role anon. */
void auth_anon(req_t *r);

#endif
