/* jwt.h: HS256 JSON Web Tokens, verified strictly (RFC 7519 / 8725). */
#ifndef PROMPTD_JWT_H
#define PROMPTD_JWT_H

#include <stddef.h>
#include <time.h>

#include <cjson/cJSON.h>

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
};

typedef struct jwt_verify_opts {
    const unsigned char *secret;
    size_t secret_len;
    const char *audience;     /* required "aud" (string or array member) */
    const char *const *roles; /* NULL-terminated allowed "role" values */
    time_t now;               /* 0 = time(NULL) */
} jwt_verify_opts_t;

/* Verify token; on JWT_OK *claims is the payload object (caller owns it,
 * cJSON_Delete); on any error *claims is NULL.  The signature is checked
 * (constant time) before any claim is read; only the header, which selects
 * the algorithm, is parsed before it.  Details:
 * - header: alg exactly "HS256"; "typ", if present, "JWT"; no "crit"
 *   (a bad typ or any crit is JWT_MALFORMED); other members are ignored.
 * - JSON: one object, valid UTF-8, no control bytes or "\u0000", nothing
 *   after it but whitespace, no repeated key at any depth.
 * - exp: required finite number; expired when now >= exp (no leeway).
 * - nbf, iat: if present, numbers <= now + JWT_LEEWAY.
 * - aud: equal to o->audience, or an array of strings containing it;
 *   a NULL o->audience rejects every token.
 * - role: if present, a string in o->roles (NULL: "authenticated" only).
 * - sub: a canonical 8-4-4-4-12 UUID string (hex of either case).
 * - an empty secret rejects every token (JWT_BAD_SIGNATURE). */
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

#endif
