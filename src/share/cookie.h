/* cookie.h: the unlock cookie of a password-protected share link: name, make, parse and verify. */
#ifndef PROMPTD_SHARE_COOKIE_H
#define PROMPTD_SHARE_COOKIE_H

#include <stdbool.h>

#include "http/credential.h"
#include "core/arena.h"

#define SHARE_UNLOCK_TTL 3600L   /* unlock cookie lifetime, seconds */
#define SHARE_COOKIE_PREFIX CREDENTIAL_SHARE_COOKIE_PREFIX  /* the share-cookie credential kind */

/* The cookie's name for the link whose token hashes to hash (arena). */
const char *share_cookie_name(arena_t *a, const char *hash);

/* True when the Cookie header value cookies (may be NULL) carries a
 * cookie "<name>=<exp>.<hex HMAC-SHA256(key, share-unlock|hash|exp)>"
 * for hash, with now < exp <= now + TTL + 60 s.  False without a key. */
bool share_cookie_valid(arena_t *a, const char *cookies, const char *hash,
                        const char *key, long long now);

/* The Set-Cookie value unlocking hash for SHARE_UNLOCK_TTL from now
 * (arena); Secure when secure.  NULL without a key. */
const char *share_cookie_make(arena_t *a, const char *hash, const char *key,
                              long long now, bool secure);

#endif
