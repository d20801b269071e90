/* metrics_access.h: who may read GET /metrics (CRED_METRICS): loopback, PROMPTD_METRICS_ALLOW, or PROMPTD_METRICS_TOKEN. */
#ifndef PROMPTD_METRICS_ACCESS_H
#define PROMPTD_METRICS_ACCESS_H

#include <stdbool.h>

#include "http/request.h"

/* True when addr (IPv4 or IPv6 text, as REMOTE_ADDR) is loopback
 * (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104) or inside one of list's
 * comma-separated CIDRs ("10.0.0.0/8, fd00::/8"; a bare address is /32 or
 * /128; malformed entries match nothing).  list may be NULL. */
bool metrics_access_addr_allowed(const char *addr, const char *list);

enum metrics_access {
    METRICS_ACCESS_OK,
    METRICS_ACCESS_BAD_TOKEN,   /* a Bearer token that is not the token: 401 */
    METRICS_ACCESS_WRONG_KIND,  /* a session JWT or an API key: 403 */
    METRICS_ACCESS_DENIED,      /* no token, an address not allowed: 403 */
};

/* The caller's access: a Bearer token is compared (constant time) with
 * PROMPTD_METRICS_TOKEN (or <secrets>/metrics_token); one that is not it
 * but has the shape of another kind of credential (a JWT, an API key, Basic
 * or X-API-Key) is that kind, refused as such; without any the address
 * decides (PROMPTD_METRICS_ALLOW). */
enum metrics_access metrics_access_check(req_t *r);

#endif
