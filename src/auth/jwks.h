/* jwks.h: JSON Web Key Sets (RFC 7517): the public keys ES256 / RS256 tokens are checked with. */
#ifndef PROMPTD_JWKS_H
#define PROMPTD_JWKS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/types.h>

#include "auth/jwt.h"

#define JWKS_MAX_BYTES (1024 * 1024)  /* larger documents are refused */
#define JWKS_MAX_KEYS 64              /* keys beyond these are ignored */
#define JWKS_REFRESH_SECONDS 60       /* at most one re-fetch per interval */
#define JWKS_FETCH_TIMEOUT 5          /* seconds for one URL fetch */

/* A parsed key set: each usable key with its kid (or none) and the one
 * algorithm it is bound to. */
typedef struct jwks jwks_t;

/* Parse a JWKS document {"keys":[...]}; NULL when it is not one (not
 * JSON, no "keys" array).  Keys that are not usable are skipped, not
 * fatal (a Supabase set may list kinds we do not verify):
 * - kty "EC": crv "P-256", x and y base64url of exactly 32 bytes each,
 *   a point on the curve -> bound to ES256;
 * - kty "RSA": n of 2048..8192 bits, e odd and > 1 (at most 8 bytes)
 *   -> bound to RS256;
 * - "alg", if present, must name that algorithm; "use", if present,
 *   must be "sig"; "key_ops", if present, must contain "verify";
 *   "kid", if present, must be a string; a key carrying a private part
 *   ("d") is skipped (a published private key is no key);
 * - every other kty ("oct" in particular: HMAC secrets never come from
 *   a JWKS) is skipped. */
jwks_t *jwks_parse(const char *json, size_t len);

/* NULL-safe. */
void jwks_free(jwks_t *set);

/* Usable keys in set (0 for NULL). */
size_t jwks_count(const jwks_t *set);

/* The key bound to alg whose kid equals kid.  With kid NULL (the token
 * names none): the set's only key bound to alg, or NULL when it has
 * several (we never try keys in turn).  A kid whose key is bound to
 * another algorithm gives NULL.  Owned by set. */
EVP_PKEY *jwks_find(const jwks_t *set, const char *kid, enum jwt_alg alg);

/* Where keys come from: a file path, or an http:// / https:// URL
 * (libcurl), loaded on first use and cached for the process. */
typedef struct jwks_source jwks_source_t;

/* NULL when location is NULL or empty.  Nothing is read yet. */
jwks_source_t *jwks_source_new(const char *location);

/* NULL-safe. */
void jwks_source_free(jwks_source_t *src);

/* A jwt_key_lookup_fn over a jwks_source_t (ctx).  The first call loads
 * the set.  When no key matches, the set is loaded again if the last
 * load was JWKS_REFRESH_SECONDS or more before now (so a rotated key is
 * picked up, and unknown kids cost at most one fetch a minute); a failed
 * load keeps the previous set.  The key stays valid until the next call. */
EVP_PKEY *jwks_source_lookup(void *ctx, const char *kid, enum jwt_alg alg,
                             time_t now);

/* Load attempts so far (for tests and logs). */
unsigned jwks_source_loads(const jwks_source_t *src);

/* ------------------------------------------ our own signing key (ES256) */

#define JWKS_THUMBPRINT_LEN 43   /* base64url of a SHA-256 digest */

/* Read a PEM private key (PKCS#8 or SEC1, unencrypted) from path; it must
 * be an EC P-256 key.  NULL on failure with *why set to a static reason
 * (unreadable file, not a private key, not P-256). */
EVP_PKEY *jwks_load_ec_private_pem(const char *path, const char **why);

/* The RFC 7638 JWK thumbprint of a P-256 key (private or public): base64url
 * of SHA-256 over {"crv":"P-256","kty":"EC","x":"..","y":".."} (members in
 * that order, no whitespace) into out (JWKS_THUMBPRINT_LEN + 1 bytes).
 * False when key is not P-256. */
bool jwks_ec_thumbprint(EVP_PKEY *key, char *out);

/* The public JWK of a P-256 key, as published in a JWKS:
 * {"kty":"EC","crv":"P-256","x","y","kid","alg":"ES256","use":"sig",
 * "key_ops":["verify"]}, never "d".  kid NULL: no kid member.  Caller
 * cJSON_Delete's it; NULL when key is not P-256. */
cJSON *jwks_ec_public_jwk(EVP_PKEY *key, const char *kid);

#endif
