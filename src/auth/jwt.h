/* jwt.h: JSON Web Tokens (HS256, ES256, RS256), verified strictly (RFC 7519 / 7518 / 8725). */
#ifndef PROMPTD_JWT_H
#define PROMPTD_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/types.h>

#define JWT_MAX_LEN 8192   /* longer tokens are refused unread */
#define JWT_LEEWAY 30      /* seconds of clock skew for nbf / iat */

enum jwt_error {
    JWT_OK = 0,
    JWT_MALFORMED,      /* not three strict base64url parts / not JSON objects */
    JWT_TOO_LONG,
    JWT_BAD_ALG,        /* alg other than HS256 (including "none") */
    JWT_BAD_SIGNATURE,
    JWT_EXPIRED,        /* exp missing, not a number, or in the past */
    JWT_NOT_YET_VALID,  /* nbf or iat in the future beyond leeway */
    JWT_BAD_AUDIENCE,
    JWT_BAD_ROLE,       /* role present and not allowed */
    JWT_BAD_SUBJECT,    /* sub missing or not a UUID */
    JWT_DUPLICATE_KEY,  /* a JSON object repeats a key */
    JWT_UNKNOWN_KEY,    /* ES256/RS256: no key of that alg for this kid */
};

/* The algorithms accepted.  Each key is bound to exactly one of them:
 * the HMAC secret to HS256, a P-256 EC key to ES256, an RSA key
 * (>= 2048 bits) to RS256; a token is only ever checked with a key bound
 * to its header's alg. */
enum jwt_alg {
    JWT_ALG_HS256 = 1,
    JWT_ALG_ES256,
    JWT_ALG_RS256,
};

/* Finds the public key for an ES256 / RS256 token: kid is the header's
 * "kid" (NULL when absent); the key returned must be bound to alg (see
 * jwks_source_lookup).  It stays valid until the next lookup on the same
 * ctx; NULL = no such key.  now is the verification time. */
typedef EVP_PKEY *(*jwt_key_lookup_fn)(void *ctx, const char *kid,
                                       enum jwt_alg alg, time_t now);

typedef struct jwt_verify_opts {
    const unsigned char *secret;
    size_t secret_len;
    const char *audience;     /* required "aud" (string or array member) */
    const char *const *roles; /* NULL-terminated allowed "role" values */
    time_t now;               /* 0 = time(NULL) */
    /* ES256 / RS256 keys (a JWKS); NULL: such tokens are JWT_BAD_ALG. */
    jwt_key_lookup_fn key_lookup;
    void *key_ctx;
    /* sub: any non-empty string (an OpenID provider's ID token), not a
     * UUID */
    bool foreign_subject;
} jwt_verify_opts_t;

/* Verify token; on JWT_OK *claims is the payload object (caller owns it,
 * cJSON_Delete); on any error *claims is NULL.  The signature is checked
 * (constant time) before any claim is read; only the header, which selects
 * the algorithm, is parsed before it.  Details:
 * - header: alg exactly "HS256", or "ES256" / "RS256" when o->key_lookup
 *   is set (anything else, "none" included, is JWT_BAD_ALG); "typ", if
 *   present, "JWT"; "kid", if present, a string; no "crit" (a bad typ or
 *   kid, or any crit, is JWT_MALFORMED); other members (jwk, jku, x5u, ...)
 *   are ignored: keys come only from the secret and the key lookup.
 * - HS256 uses o->secret and nothing else; ES256 / RS256 use only the key
 *   o->key_lookup returns for (kid, alg) (none: JWT_UNKNOWN_KEY), so no
 *   key is ever used under another algorithm.
 * - ES256: the signature is raw R||S, exactly 64 bytes (see
 *   jwt_es256_verify_raw); RS256: exactly the modulus size.
 * - JSON: one object, valid UTF-8, no control bytes or "\u0000", nothing
 *   after it but whitespace, no repeated key at any depth.
 * - exp: required finite number; expired when now >= exp (no leeway).
 * - nbf, iat: if present, numbers <= now + JWT_LEEWAY.
 * - aud: equal to o->audience, or an array of strings containing it;
 *   a NULL o->audience rejects every token.
 * - role: if present, a string in o->roles (NULL: "authenticated" only).
 * - sub: a canonical 8-4-4-4-12 UUID string (hex of either case); with
 *   o->foreign_subject any non-empty string.
 * - an empty secret rejects every HS256 token (JWT_BAD_SIGNATURE). */
enum jwt_error jwt_verify(const char *token, const jwt_verify_opts_t *o,
                          cJSON **claims);

/* A short stable description for logs and 401 details. */
const char *jwt_strerror(enum jwt_error e);

/* Sign claims (an object) with HS256 under the header
 * {"alg":"HS256","typ":"JWT"}; returns a malloc'd token (caller frees),
 * or NULL when claims is not an object, the secret is empty, or memory
 * runs out. */
char *jwt_sign_hs256(const cJSON *claims, const unsigned char *secret,
                     size_t secret_len);

/* ES256 signature check: sig is IEEE P1363 raw R||S, exactly 64 bytes,
 * over msg with SHA-256; pub must be a P-256 EC key.  r and s must lie
 * in [1, n-1] (n the group order); they are handed to OpenSSL as DER
 * (i2d_ECDSA_SIG).  True only for a valid signature. */
bool jwt_es256_verify_raw(EVP_PKEY *pub, const unsigned char *msg,
                          size_t msglen, const unsigned char *sig,
                          size_t siglen);

/* RS256 (RSASSA-PKCS1-v1_5 with SHA-256) check: pub must be an RSA key
 * of at least 2048 bits and sig exactly its modulus size. */
bool jwt_rs256_verify(EVP_PKEY *pub, const unsigned char *msg, size_t msglen,
                      const unsigned char *sig, size_t siglen);

/* Sign claims (an object) with ES256 under the header
 * {"alg":"ES256","typ":"JWT"[,"kid":kid]}; priv is a P-256 private key.
 * Returns a malloc'd token (caller frees), or NULL. */
char *jwt_sign_es256(const cJSON *claims, EVP_PKEY *priv, const char *kid);

/* True for an EC key (public or private) on P-256. */
bool jwt_is_p256(EVP_PKEY *key);

#endif
