/* jwt.c: strict HS256 JWT verification and signing (RFC 7519, RFC 8725). */
#include "auth/jwt.h"

#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "crypto/b64url.h"

#define JWT_SIG_LEN 32   /* HMAC-SHA256 output */

/* The three dot-separated parts of a token, pointing into it. */
struct jwt_parts {
    const char *header, *payload, *sig;
    size_t header_len, payload_len, sig_len;
    size_t signed_len;   /* bytes of "header.payload" */
};

/* Split token (len bytes) at exactly two dots; every part non-empty. */
static bool
jwt_split(const char *token, size_t len, struct jwt_parts *p)
{
    const char *d1, *d2;

    d1 = memchr(token, '.', len);
    if (d1 == NULL)
        return false;
    d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token));
    if (d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)))
        return false;
    p->header = token;
    p->header_len = (size_t)(d1 - token);
    p->payload = d1 + 1;
    p->payload_len = (size_t)(d2 - p->payload);
    p->sig = d2 + 1;
    p->sig_len = len - (size_t)(p->sig - token);
    p->signed_len = (size_t)(d2 - token);
    return p->header_len > 0 && p->payload_len > 0 && p->sig_len > 0;
}

/* Length of the well-formed UTF-8 sequence at s[0..n) (n > 0, s[0] >= 0x80),
 * or 0: no overlongs, no surrogates, nothing above U+10FFFF. */
static size_t
jwt_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xbf;
    size_t len, i;

    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

/* The lexical checks cJSON does not make: valid UTF-8, no control bytes
 * (so no NUL, which would end cJSON's view of the buffer early), only
 * RFC 8259 escapes, and no "\u0000" (cJSON would silently truncate the
 * string, so "sub\u0000x" and "sub" would become the same key). */
static bool
jwt_json_lexically_ok(const unsigned char *s, size_t n)
{
    bool in_string = false;
    size_t i = 0, k;

    while (i < n) {
        unsigned char c = s[i];
        if (c >= 0x80) {
            if (!in_string || (k = jwt_utf8_seq(s + i, n - i)) == 0)
                return false;
            i += k;
            continue;
        }
        if (!in_string) {
            if (c < 0x20 && c != ' ' && c != '\t' && c != '\n' && c != '\r')
                return false;
            in_string = c == '"';
        } else if (c < 0x20) {
            return false;
        } else if (c == '"') {
            in_string = false;
        } else if (c == '\\') {
            if (++i == n || !strchr("\"\\/bfnrtu", s[i]) || s[i] == '\0')
                return false;
            if (s[i] == 'u') {
                if (n - i < 5 || memcmp(s + i + 1, "0000", 4) == 0)
                    return false;
                for (k = 1; k <= 4; k++)
                    if (!strchr("0123456789abcdefABCDEF", s[i + k]) ||
                        s[i + k] == '\0')
                        return false;
                i += 4;
            }
        }
        i++;
    }
    return !in_string;
}

/* True when some object at or below item repeats a key.  Quadratic per
 * object, which is fine for the few hundred members a JWT_MAX_LEN token
 * can carry. */
static bool
jwt_has_duplicate_keys(const cJSON *item)
{
    const cJSON *a, *b;

    for (a = item->child; a != NULL; a = a->next) {
        if (cJSON_IsObject(item))
            for (b = a->next; b != NULL; b = b->next)
                if (strcmp(a->string, b->string) == 0)
                    return true;
        if (jwt_has_duplicate_keys(a))
            return true;
    }
    return false;
}

/* Parse buf[0..n) (NUL at buf[n]) as one JSON object, strictly.  On
 * JWT_OK *out is the object (caller owns it). */
static enum jwt_error
jwt_parse_object(const unsigned char *buf, size_t n, cJSON **out)
{
    const char *end = NULL;
    cJSON *obj;

    *out = NULL;
    if (!jwt_json_lexically_ok(buf, n))
        return JWT_MALFORMED;
    /* With require_null_terminated, cJSON wants the NUL inside the length
     * it is given, after trailing whitespace. */
    obj = cJSON_ParseWithLengthOpts((const char *)buf, n + 1, &end, 1);
    if (obj == NULL || end != (const char *)buf + n || !cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        return JWT_MALFORMED;
    }
    if (jwt_has_duplicate_keys(obj)) {
        cJSON_Delete(obj);
        return JWT_DUPLICATE_KEY;
    }
    *out = obj;
    return JWT_OK;
}

/* Strictly decode part into out (NUL-terminated); -1 when malformed. */
static long
jwt_decode_part(const char *part, size_t len, unsigned char *out)
{
    long n = b64url_decode(part, len, out);

    if (n >= 0)
        out[n] = '\0';
    return n;
}

/* The header selects the algorithm, so it is the one thing read before
 * the signature: exactly {"alg":"HS256"}, optionally "typ":"JWT", no
 * "crit" (we implement no extensions).  Other members (kid, ...) are
 * ignored: there is one key. */
static enum jwt_error
jwt_check_header(const cJSON *h)
{
    const cJSON *alg = cJSON_GetObjectItemCaseSensitive(h, "alg");
    const cJSON *typ = cJSON_GetObjectItemCaseSensitive(h, "typ");

    if (!cJSON_IsString(alg) || strcmp(alg->valuestring, "HS256") != 0)
        return JWT_BAD_ALG;
    if (typ != NULL && (!cJSON_IsString(typ) ||
                        strcmp(typ->valuestring, "JWT") != 0))
        return JWT_MALFORMED;
    if (cJSON_GetObjectItemCaseSensitive(h, "crit") != NULL)
        return JWT_MALFORMED;
    return JWT_OK;
}

/* HMAC-SHA256 of data into mac[JWT_SIG_LEN]; false on an OpenSSL error. */
static bool
jwt_hmac(const unsigned char *key, size_t key_len, const char *data,
         size_t len, unsigned char mac[JWT_SIG_LEN])
{
    unsigned int mac_len = 0;

    return HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)data,
                len, mac, &mac_len) != NULL && mac_len == JWT_SIG_LEN;
}

/* A finite JSON number, or NULL. */
static const cJSON *
jwt_number(const cJSON *claims, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(claims, name);

    return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? v : NULL;
}

/* exp is required and the token is expired from the second exp names on
 * (now >= exp; no leeway).  nbf and iat, when present, must be numbers no
 * later than now + JWT_LEEWAY. */
static enum jwt_error
jwt_check_times(const cJSON *claims, time_t now)
{
    static const char *const later[] = { "nbf", "iat" };
    const cJSON *exp = jwt_number(claims, "exp");
    size_t i;

    if (exp == NULL || (double)now >= exp->valuedouble)
        return JWT_EXPIRED;
    for (i = 0; i < sizeof later / sizeof later[0]; i++) {
        const cJSON *t;
        if (!cJSON_GetObjectItemCaseSensitive(claims, later[i]))
            continue;
        t = jwt_number(claims, later[i]);
        if (t == NULL || t->valuedouble > (double)now + JWT_LEEWAY)
            return JWT_NOT_YET_VALID;
    }
    return JWT_OK;
}

/* aud must be the audience string, or an array of strings containing it.
 * A NULL expected audience fails closed. */
static enum jwt_error
jwt_check_audience(const cJSON *claims, const char *audience)
{
    const cJSON *aud = cJSON_GetObjectItemCaseSensitive(claims, "aud");
    const cJSON *e;
    bool found = false;

    if (audience == NULL || aud == NULL)
        return JWT_BAD_AUDIENCE;
    if (cJSON_IsString(aud))
        return strcmp(aud->valuestring, audience) == 0 ? JWT_OK
                                                       : JWT_BAD_AUDIENCE;
    if (!cJSON_IsArray(aud))
        return JWT_BAD_AUDIENCE;
    cJSON_ArrayForEach(e, aud) {
        if (!cJSON_IsString(e))
            return JWT_BAD_AUDIENCE;
        if (strcmp(e->valuestring, audience) == 0)
            found = true;
    }
    return found ? JWT_OK : JWT_BAD_AUDIENCE;
}

/* role, when present, must be a string in roles (NULL = "authenticated"). */
static enum jwt_error
jwt_check_role(const cJSON *claims, const char *const *roles)
{
    static const char *const default_roles[] = { "authenticated", NULL };
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(claims, "role");
    size_t i;

    if (role == NULL)
        return JWT_OK;
    if (!cJSON_IsString(role))
        return JWT_BAD_ROLE;
    if (roles == NULL)
        roles = default_roles;
    for (i = 0; roles[i] != NULL; i++)
        if (strcmp(role->valuestring, roles[i]) == 0)
            return JWT_OK;
    return JWT_BAD_ROLE;
}

/* sub must be a UUID in canonical 8-4-4-4-12 form (either hex case). */
static enum jwt_error
jwt_check_subject(const cJSON *claims)
{
    const cJSON *sub = cJSON_GetObjectItemCaseSensitive(claims, "sub");
    const char *s;
    size_t i;

    if (!cJSON_IsString(sub))
        return JWT_BAD_SUBJECT;
    s = sub->valuestring;
    for (i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-'
                 : (s[i] == '\0' || !strchr("0123456789abcdefABCDEF", s[i])))
            return JWT_BAD_SUBJECT;
    }
    return s[36] == '\0' ? JWT_OK : JWT_BAD_SUBJECT;
}

/*
 * Order matters: size, shape and strict base64url of all three parts;
 * the header (it selects the algorithm); the signature in constant time;
 * only then the payload's JSON and its claims.  An empty secret is
 * refused (anyone could sign with it).
 */
enum jwt_error
jwt_verify(const char *token, const jwt_verify_opts_t *o, cJSON **claims)
{
    unsigned char dec[JWT_MAX_LEN];   /* decoded parts, each NUL-ended */
    unsigned char *hdr, *pay, *sig, mac[JWT_SIG_LEN];
    long hdr_len, pay_len, sig_len;
    struct jwt_parts p;
    cJSON *header = NULL, *payload = NULL;
    enum jwt_error err;
    size_t len;
    time_t now;

    *claims = NULL;
    if (token == NULL || o == NULL) {
        err = JWT_MALFORMED;
        goto out;
    }
    len = strnlen(token, JWT_MAX_LEN + 1);
    if (len > JWT_MAX_LEN) {
        err = JWT_TOO_LONG;
        goto out;
    }
    /* Each decoded part takes at most 3/4 of its text plus a NUL, so the
     * three fit in dec[] together. */
    err = JWT_MALFORMED;
    if (!jwt_split(token, len, &p))
        goto out;
    hdr = dec;
    if ((hdr_len = jwt_decode_part(p.header, p.header_len, hdr)) < 0)
        goto out;
    pay = hdr + hdr_len + 1;
    if ((pay_len = jwt_decode_part(p.payload, p.payload_len, pay)) < 0)
        goto out;
    sig = pay + pay_len + 1;
    if ((sig_len = jwt_decode_part(p.sig, p.sig_len, sig)) < 0)
        goto out;

    if ((err = jwt_parse_object(hdr, (size_t)hdr_len, &header)) != JWT_OK ||
        (err = jwt_check_header(header)) != JWT_OK)
        goto out;

    err = JWT_BAD_SIGNATURE;
    if (o->secret == NULL || o->secret_len == 0 || o->secret_len > INT_MAX ||
        sig_len != JWT_SIG_LEN ||
        !jwt_hmac(o->secret, o->secret_len, token, p.signed_len, mac) ||
        CRYPTO_memcmp(mac, sig, JWT_SIG_LEN) != 0)
        goto out;

    if ((err = jwt_parse_object(pay, (size_t)pay_len, &payload)) != JWT_OK)
        goto out;
    now = o->now != 0 ? o->now : time(NULL);
    if ((err = jwt_check_times(payload, now)) != JWT_OK ||
        (err = jwt_check_audience(payload, o->audience)) != JWT_OK ||
        (err = jwt_check_role(payload, o->roles)) != JWT_OK ||
        (err = jwt_check_subject(payload)) != JWT_OK)
        goto out;

    *claims = payload;
    payload = NULL;
out:
    cJSON_Delete(payload);
    cJSON_Delete(header);
    OPENSSL_cleanse(mac, sizeof mac);
    return err;
}

const char *
jwt_strerror(enum jwt_error e)
{
    switch (e) {
    case JWT_OK:            return "ok";
    case JWT_MALFORMED:     return "malformed token";
    case JWT_TOO_LONG:      return "token too long";
    case JWT_BAD_ALG:       return "unsupported algorithm";
    case JWT_BAD_SIGNATURE: return "bad signature";
    case JWT_EXPIRED:       return "token expired or without exp";
    case JWT_NOT_YET_VALID: return "token not yet valid";
    case JWT_BAD_AUDIENCE:  return "wrong audience";
    case JWT_BAD_ROLE:      return "role not allowed";
    case JWT_BAD_SUBJECT:   return "missing or invalid subject";
    case JWT_DUPLICATE_KEY: return "duplicate JSON key";
    }
    return "unknown error";
}

char *
jwt_sign_hs256(const cJSON *claims, const unsigned char *secret,
               size_t secret_len)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    unsigned char mac[JWT_SIG_LEN];
    char *json = NULL, *token = NULL;
    size_t json_len, hdr_enc, pay_enc, cap;

    if (!cJSON_IsObject(claims) || secret == NULL || secret_len == 0 ||
        secret_len > INT_MAX)
        goto out;
    if ((json = cJSON_PrintUnformatted(claims)) == NULL)
        goto out;
    json_len = strlen(json);
    cap = B64URL_ENCODED_SIZE(sizeof header - 1) + B64URL_ENCODED_SIZE(json_len) +
          B64URL_ENCODED_SIZE(JWT_SIG_LEN);
    if ((token = malloc(cap)) == NULL)
        goto out;
    hdr_enc = b64url_encode((const unsigned char *)header, sizeof header - 1,
                            token);
    token[hdr_enc] = '.';
    pay_enc = b64url_encode((const unsigned char *)json, json_len,
                            token + hdr_enc + 1);
    if (!jwt_hmac(secret, secret_len, token, hdr_enc + 1 + pay_enc, mac)) {
        free(token);
        token = NULL;
        goto out;
    }
    token[hdr_enc + 1 + pay_enc] = '.';
    b64url_encode(mac, sizeof mac, token + hdr_enc + 1 + pay_enc + 1);
out:
    cJSON_free(json);
    OPENSSL_cleanse(mac, sizeof mac);
    return token;
}
