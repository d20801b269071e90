/* jwt.c: strict JWT verification (HS256, ES256, RS256) and signing (RFC 7519, 7518, 8725). */
#include "auth/jwt.h"

#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/json.h"
#include "crypto/b64url.h"

#define JWT_SIG_LEN 32   /* HMAC-SHA256 output */
#define JWT_P256_LEN 32  /* bytes of a P-256 scalar; ES256 signatures are 2x */
#define JWT_RSA_MIN_BITS 2048
#define JWT_RSA_MAX_BITS 8192

/* The order n of the P-256 group, big-endian. */
static const unsigned char jwt_p256_order[JWT_P256_LEN] = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84,
    0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
};

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
    if (json_has_duplicate_keys(obj)) {
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

/* The header selects the algorithm and key, so it is the one thing read
 * before the signature: alg "HS256" (or "ES256" / "RS256" when public
 * keys are configured), optionally "typ":"JWT" and a string "kid", no
 * "crit" (we implement no extensions).  Other members (jwk, jku, x5u,
 * ...) are ignored: keys never come from the token. */
static enum jwt_error
jwt_check_header(const cJSON *h, bool have_keys, enum jwt_alg *alg,
                 const char **kid)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(h, "alg");
    const cJSON *typ = cJSON_GetObjectItemCaseSensitive(h, "typ");
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(h, "kid");

    if (!cJSON_IsString(a))
        return JWT_BAD_ALG;
    if (strcmp(a->valuestring, "HS256") == 0)
        *alg = JWT_ALG_HS256;
    else if (have_keys && strcmp(a->valuestring, "ES256") == 0)
        *alg = JWT_ALG_ES256;
    else if (have_keys && strcmp(a->valuestring, "RS256") == 0)
        *alg = JWT_ALG_RS256;
    else
        return JWT_BAD_ALG;
    if (typ != NULL && (!cJSON_IsString(typ) ||
                        strcmp(typ->valuestring, "JWT") != 0))
        return JWT_MALFORMED;
    if (k != NULL && !cJSON_IsString(k))
        return JWT_MALFORMED;
    *kid = k != NULL ? k->valuestring : NULL;
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

/* One EVP signature check with SHA-256; OpenSSL's error queue is
 * cleared so a forged token leaves nothing behind for later callers. */
static bool
jwt_evp_verify(EVP_PKEY *key, const unsigned char *sig, size_t siglen,
               const unsigned char *msg, size_t msglen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool good;

    good = ctx != NULL &&
           EVP_DigestVerifyInit_ex(ctx, NULL, "SHA256", NULL, NULL, key,
                                   NULL) == 1 &&
           EVP_DigestVerify(ctx, sig, siglen, msg, msglen) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return good;
}

bool
jwt_is_p256(EVP_PKEY *key)
{
    char group[64];
    size_t len = 0;

    return key != NULL && EVP_PKEY_is_a(key, "EC") &&
           EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME,
                                          group, sizeof group, &len) == 1 &&
           strcmp(group, "prime256v1") == 0;
}

/* A scalar in [1, n-1] (big-endian, JWT_P256_LEN bytes). */
static bool
jwt_p256_scalar_ok(const unsigned char *v)
{
    unsigned char any = 0;
    size_t i;

    for (i = 0; i < JWT_P256_LEN; i++)
        any |= v[i];
    return any != 0 && memcmp(v, jwt_p256_order, JWT_P256_LEN) < 0;
}

/* The DER form OpenSSL verifies (i2d_ECDSA_SIG) of raw R||S (2 *
 * JWT_P256_LEN bytes) into *der, which the caller releases with
 * OPENSSL_free; its length, or 0 (out of memory). */
static int
jwt_raw_to_der(const unsigned char *raw, unsigned char **der)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, JWT_P256_LEN, NULL);
    BIGNUM *s = BN_bin2bn(raw + JWT_P256_LEN, JWT_P256_LEN, NULL);
    int n = 0;

    *der = NULL;
    if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1)
        goto out;
    r = s = NULL;   /* es owns them */
    if ((n = i2d_ECDSA_SIG(es, der)) <= 0)
        n = 0;
out:
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return n;
}

bool
jwt_es256_verify_raw(EVP_PKEY *pub, const unsigned char *msg, size_t msglen,
                     const unsigned char *sig, size_t siglen)
{
    unsigned char *der = NULL;
    bool ok;
    int n;

    if (pub == NULL || sig == NULL || siglen != 2 * JWT_P256_LEN ||
        (msg == NULL && msglen != 0) || !jwt_is_p256(pub) ||
        !jwt_p256_scalar_ok(sig) || !jwt_p256_scalar_ok(sig + JWT_P256_LEN) ||
        (n = jwt_raw_to_der(sig, &der)) == 0)
        return false;
    ok = jwt_evp_verify(pub, der, (size_t)n, msg, msglen);
    OPENSSL_free(der);
    return ok;
}

bool
jwt_rs256_verify(EVP_PKEY *pub, const unsigned char *msg, size_t msglen,
                 const unsigned char *sig, size_t siglen)
{
    int bits;

    if (pub == NULL || sig == NULL || (msg == NULL && msglen != 0) ||
        !EVP_PKEY_is_a(pub, "RSA"))
        return false;
    bits = EVP_PKEY_get_bits(pub);
    if (bits < JWT_RSA_MIN_BITS || bits > JWT_RSA_MAX_BITS ||
        siglen != (size_t)EVP_PKEY_get_size(pub))
        return false;
    return jwt_evp_verify(pub, sig, siglen, msg, msglen);
}

/* The signature over token[0..signed_len) under the key the header's alg
 * and kid select: the HMAC secret for HS256 (compared in constant time),
 * else the key lookup's key for (kid, alg) and nothing else. */
static enum jwt_error
jwt_check_signature(const jwt_verify_opts_t *o, enum jwt_alg alg,
                    const char *kid, const char *token, size_t signed_len,
                    const unsigned char *sig, size_t sig_len, time_t now)
{
    const unsigned char *msg = (const unsigned char *)token;
    unsigned char mac[JWT_SIG_LEN];
    EVP_PKEY *key;
    bool good;

    if (alg == JWT_ALG_HS256) {
        good = o->secret != NULL && o->secret_len > 0 &&
               o->secret_len <= INT_MAX && sig_len == JWT_SIG_LEN &&
               jwt_hmac(o->secret, o->secret_len, token, signed_len, mac) &&
               CRYPTO_memcmp(mac, sig, JWT_SIG_LEN) == 0;
        OPENSSL_cleanse(mac, sizeof mac);
        return good ? JWT_OK : JWT_BAD_SIGNATURE;
    }
    if (o->key_lookup == NULL ||
        (key = o->key_lookup(o->key_ctx, kid, alg, now)) == NULL)
        return JWT_UNKNOWN_KEY;
    good = alg == JWT_ALG_ES256
               ? jwt_es256_verify_raw(key, msg, signed_len, sig, sig_len)
               : jwt_rs256_verify(key, msg, signed_len, sig, sig_len);
    return good ? JWT_OK : JWT_BAD_SIGNATURE;
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

/* sub must be a UUID in canonical 8-4-4-4-12 form (either hex case); a
 * foreign subject (an OpenID provider's) any non-empty string. */
static enum jwt_error
jwt_check_subject(const cJSON *claims, bool foreign)
{
    const cJSON *sub = cJSON_GetObjectItemCaseSensitive(claims, "sub");
    const char *s;
    size_t i;

    if (!cJSON_IsString(sub))
        return JWT_BAD_SUBJECT;
    s = sub->valuestring;
    if (foreign)
        return *s ? JWT_OK : JWT_BAD_SUBJECT;
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
 * the header (its alg and kid select the one key); the signature; only
 * then the payload's JSON and its claims.  An empty secret is refused
 * (anyone could sign with it).
 */
enum jwt_error
jwt_verify(const char *token, const jwt_verify_opts_t *o, cJSON **claims)
{
    unsigned char dec[JWT_MAX_LEN];   /* decoded parts, each NUL-ended */
    unsigned char *hdr, *pay, *sig;
    long hdr_len, pay_len, sig_len;
    struct jwt_parts p;
    cJSON *header = NULL, *payload = NULL;
    enum jwt_error err;
    enum jwt_alg alg = JWT_ALG_HS256;
    const char *kid = NULL;
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
        (err = jwt_check_header(header, o->key_lookup != NULL, &alg,
                                &kid)) != JWT_OK)
        goto out;

    now = o->now != 0 ? o->now : time(NULL);
    if ((err = jwt_check_signature(o, alg, kid, token, p.signed_len, sig,
                                   (size_t)sig_len, now)) != JWT_OK)
        goto out;

    if ((err = jwt_parse_object(pay, (size_t)pay_len, &payload)) != JWT_OK)
        goto out;
    if ((err = jwt_check_times(payload, now)) != JWT_OK ||
        (err = jwt_check_audience(payload, o->audience)) != JWT_OK ||
        (err = jwt_check_role(payload, o->roles)) != JWT_OK ||
        (err = jwt_check_subject(payload, o->foreign_subject)) != JWT_OK)
        goto out;

    *claims = payload;
    payload = NULL;
out:
    cJSON_Delete(payload);
    cJSON_Delete(header);
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
    case JWT_UNKNOWN_KEY:   return "no key for this kid and alg";
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

/* IEEE P1363 R||S (2 * JWT_P256_LEN bytes) from OpenSSL's DER form
 * (d2i_ECDSA_SIG, all of it); false when r or s does not fit. */
static bool
jwt_der_to_raw(const unsigned char *der, size_t der_len, unsigned char *raw)
{
    const unsigned char *p = der;
    const BIGNUM *r = NULL, *s = NULL;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    bool ok;

    if (es == NULL)
        return false;
    ECDSA_SIG_get0(es, &r, &s);
    ok = p == der + der_len &&
         BN_bn2binpad(r, raw, JWT_P256_LEN) == JWT_P256_LEN &&
         BN_bn2binpad(s, raw + JWT_P256_LEN, JWT_P256_LEN) == JWT_P256_LEN;
    ECDSA_SIG_free(es);
    return ok;
}

char *
jwt_sign_es256(const cJSON *claims, EVP_PKEY *priv, const char *kid)
{
    unsigned char der[2 + 2 * (JWT_P256_LEN + 3)], raw[2 * JWT_P256_LEN];
    cJSON *hdr = NULL;
    char *hjson = NULL, *pjson = NULL, *token = NULL;
    EVP_MD_CTX *ctx = NULL;
    size_t hl, pl, n, der_len = sizeof der;
    bool ok = false;

    if (!cJSON_IsObject(claims) || !jwt_is_p256(priv) ||
        (hdr = cJSON_CreateObject()) == NULL ||
        !cJSON_AddStringToObject(hdr, "alg", "ES256") ||
        !cJSON_AddStringToObject(hdr, "typ", "JWT") ||
        (kid != NULL && !cJSON_AddStringToObject(hdr, "kid", kid)) ||
        (hjson = cJSON_PrintUnformatted(hdr)) == NULL ||
        (pjson = cJSON_PrintUnformatted(claims)) == NULL)
        goto out;
    hl = strlen(hjson);
    pl = strlen(pjson);
    token = malloc(B64URL_ENCODED_SIZE(hl) + B64URL_ENCODED_SIZE(pl) +
                   B64URL_ENCODED_SIZE(sizeof raw));
    if (token == NULL)
        goto out;
    n = b64url_encode((const unsigned char *)hjson, hl, token);
    token[n++] = '.';
    n += b64url_encode((const unsigned char *)pjson, pl, token + n);
    if ((ctx = EVP_MD_CTX_new()) == NULL ||
        EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, priv,
                              NULL) != 1 ||
        EVP_DigestSign(ctx, der, &der_len, (const unsigned char *)token,
                       n) != 1 ||
        !jwt_der_to_raw(der, der_len, raw))
        goto out;
    token[n++] = '.';
    b64url_encode(raw, sizeof raw, token + n);
    ok = true;
out:
    if (!ok) {
        free(token);
        token = NULL;
    }
    EVP_MD_CTX_free(ctx);
    cJSON_free(pjson);
    cJSON_free(hjson);
    cJSON_Delete(hdr);
    ERR_clear_error();
    return token;
}
