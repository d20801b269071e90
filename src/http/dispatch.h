/* dispatch.h: admit a request by its route row, read its body, run its handler. */
#ifndef PROMPTD_DISPATCH_H
#define PROMPTD_DISPATCH_H

#include "core/config.h"
#include "http/server.h"

/* Everything up to the handler's answer (recorded on r, not written):
 * request line, route, credentials, body, database readiness, admin check,
 * the handler (with Idempotency-Key replay) and conditional GET.  The
 * caller is admitted before the body is read or parsed, so an anonymous
 * client cannot make the worker parse a large body.  cfg gives max_body. */
void dispatch_request(req_t *r, const family_t *fam, const config_t *cfg);

#endif
