/* jwks.c: JSON Web Key Sets: parse JWKs into algorithm-bound OpenSSL keys; load them from a file or URL. */
#include "auth/jwks.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "core/arena.h"
#include "core/log.h"
#include "crypto/b64url.h"
#include "crypto/hash.h"
#include "net/outbound.h"

#define JWKS_P256_LEN 32
#define JWKS_RSA_MIN_BYTES 256    /* 2048 bits */
#define JWKS_RSA_MAX_BYTES 1024   /* 8192 bits */
#define JWKS_RSA_MAX_E 8

struct jwks_key {
    char *kid;              /* NULL when the JWK has none */
    enum jwt_alg alg;       /* the one algorithm this key verifies */
    EVP_PKEY *pkey;
};

struct jwks {
    struct jwks_key keys[JWKS_MAX_KEYS];
    size_t n;
};

struct jwks_source {
    char *location;
    bool is_url;
    jwks_t *set;            /* last good set, or NULL */
    bool loaded;            /* a load was attempted */
    time_t loaded_at;       /* when the last attempt was made */
    unsigned loads;
};

/* The member name as a string, or NULL (absent or not a string). */
static const char *
jwks_str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Strict base64url member into out (cap bytes); its length, or -1. */
static long
jwks_b64(const cJSON *o, const char *name, unsigned char *out, size_t cap)
{
    const char *s = jwks_str(o, name);
    size_t len;

    if (s == NULL || (len = strlen(s)) == 0 || len / 4 * 3 + 3 > cap)
        return -1;
    return b64url_decode(s, len, out);
}

/* Build an EVP_PKEY of type name from params, then check it (point on
 * the curve / sane RSA numbers).  NULL on any failure. */
static EVP_PKEY *
jwks_fromdata(const char *name, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, name, NULL);
    EVP_PKEY_CTX *check = NULL;
    EVP_PKEY *pkey = NULL;

    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        goto fail;
    if ((check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL ||
        EVP_PKEY_public_check(check) != 1)
        goto fail;
    goto out;
fail:
    EVP_PKEY_free(pkey);
    pkey = NULL;
out:
    EVP_PKEY_CTX_free(check);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    ERR_clear_error();
    return pkey;
}

/* kty EC: crv P-256, x and y exactly 32 bytes each. */
static EVP_PKEY *
jwks_ec_key(const cJSON *jwk)
{
    unsigned char pub[1 + 2 * JWKS_P256_LEN], buf[JWKS_P256_LEN + 3];
    const char *crv = jwks_str(jwk, "crv");
    OSSL_PARAM_BLD *bld;
    EVP_PKEY *pkey = NULL;

    if (crv == NULL || strcmp(crv, "P-256") != 0)
        return NULL;
    pub[0] = 0x04;   /* uncompressed point */
    if (jwks_b64(jwk, "x", buf, sizeof buf) != JWKS_P256_LEN)
        return NULL;
    memcpy(pub + 1, buf, JWKS_P256_LEN);
    if (jwks_b64(jwk, "y", buf, sizeof buf) != JWKS_P256_LEN)
        return NULL;
    memcpy(pub + 1 + JWKS_P256_LEN, buf, JWKS_P256_LEN);
    if ((bld = OSSL_PARAM_BLD_new()) == NULL)
        return NULL;
    if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                        "prime256v1", 0) == 1 &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub,
                                         sizeof pub) == 1)
        pkey = jwks_fromdata("EC", bld);
    OSSL_PARAM_BLD_free(bld);
    return pkey;
}

/* kty RSA: n of 2048..8192 bits (leading zero bytes not counted), e odd,
 * > 1 and at most 8 bytes. */
static EVP_PKEY *
jwks_rsa_key(const cJSON *jwk)
{
    unsigned char nbuf[JWKS_RSA_MAX_BYTES + 3], ebuf[JWKS_RSA_MAX_E + 3];
    long nlen, elen;
    BIGNUM *n = NULL, *e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    EVP_PKEY *pkey = NULL;

    if ((nlen = jwks_b64(jwk, "n", nbuf, sizeof nbuf)) <= 0 ||
        (elen = jwks_b64(jwk, "e", ebuf, sizeof ebuf)) <= 0 ||
        elen > JWKS_RSA_MAX_E || (ebuf[elen - 1] & 1) == 0)
        goto out;
    if ((n = BN_bin2bn(nbuf, (int)nlen, NULL)) == NULL ||
        (e = BN_bin2bn(ebuf, (int)elen, NULL)) == NULL ||
        BN_num_bits(n) < 8 * JWKS_RSA_MIN_BYTES ||
        BN_num_bits(n) > 8 * JWKS_RSA_MAX_BYTES || BN_is_one(e))
        goto out;
    if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1)
        goto out;
    pkey = jwks_fromdata("RSA", bld);
out:
    OSSL_PARAM_BLD_free(bld);
    BN_free(e);
    BN_free(n);
    return pkey;
}

/* "key_ops", when present, must be an array holding "verify". */
static bool
jwks_ops_allow_verify(const cJSON *jwk)
{
    const cJSON *ops = cJSON_GetObjectItemCaseSensitive(jwk, "key_ops");
    const cJSON *op;

    if (ops == NULL)
        return true;
    if (!cJSON_IsArray(ops))
        return false;
    cJSON_ArrayForEach(op, ops)
        if (cJSON_IsString(op) && strcmp(op->valuestring, "verify") == 0)
            return true;
    return false;
}

/* One JWK into k; false when it is not a usable verification key (the
 * reason goes to the log). */
static bool
jwks_key_from_json(const cJSON *jwk, struct jwks_key *k)
{
    const char *kty = jwks_str(jwk, "kty"), *alg, *use, *want = NULL;
    const cJSON *kid = cJSON_GetObjectItemCaseSensitive(jwk, "kid");
    const char *why = NULL;

    alg = jwks_str(jwk, "alg");
    use = jwks_str(jwk, "use");
    if (!cJSON_IsObject(jwk) || kty == NULL)
        why = "not an object with a kty";
    else if (strcmp(kty, "EC") == 0) {
        k->alg = JWT_ALG_ES256;
        want = "ES256";
    } else if (strcmp(kty, "RSA") == 0) {
        k->alg = JWT_ALG_RS256;
        want = "RS256";
    } else
        why = "kty is neither EC nor RSA";
    if (why == NULL) {
        if (cJSON_GetObjectItemCaseSensitive(jwk, "alg") != NULL &&
            (alg == NULL || strcmp(alg, want) != 0))
            why = "alg does not match the key type";
        else if (cJSON_GetObjectItemCaseSensitive(jwk, "use") != NULL &&
                 (use == NULL || strcmp(use, "sig") != 0))
            why = "use is not sig";
        else if (!jwks_ops_allow_verify(jwk))
            why = "key_ops without verify";
        else if (kid != NULL && !cJSON_IsString(kid))
            why = "kid is not a string";
        else if (cJSON_GetObjectItemCaseSensitive(jwk, "d") != NULL)
            why = "a private key was published";
        else if ((k->pkey = k->alg == JWT_ALG_ES256 ? jwks_ec_key(jwk)
                                                    : jwks_rsa_key(jwk)) == NULL)
            why = k->alg == JWT_ALG_ES256 ? "not a valid P-256 public key"
                                          : "not a valid RSA key of 2048..8192 bits";
    }
    if (why != NULL) {
        log_warn("%s: key %s skipped: %s", __func__,
                 kid != NULL && cJSON_IsString(kid) ? kid->valuestring : "(no kid)", why);
        return false;
    }
    k->kid = kid != NULL && cJSON_IsString(kid) ? strdup(kid->valuestring) : NULL;
    if (cJSON_IsString(kid) && k->kid == NULL) {
        EVP_PKEY_free(k->pkey);
        return false;
    }
    return true;
}

jwks_t *
jwks_parse(const char *json, size_t len)
{
    cJSON *doc = NULL;
    const cJSON *keys, *jwk;
    jwks_t *set = NULL;

    if (json == NULL || len == 0 || len > JWKS_MAX_BYTES)
        goto out;
    doc = cJSON_ParseWithLength(json, len);
    keys = cJSON_GetObjectItemCaseSensitive(doc, "keys");
    if (!cJSON_IsObject(doc) || !cJSON_IsArray(keys))
        goto out;
    if ((set = calloc(1, sizeof *set)) == NULL)
        goto out;
    cJSON_ArrayForEach(jwk, keys) {
        if (set->n == JWKS_MAX_KEYS) {
            log_warn("%s: more than %d keys; the rest are ignored", __func__,
                     JWKS_MAX_KEYS);
            break;
        }
        if (jwks_key_from_json(jwk, &set->keys[set->n]))
            set->n++;
    }
out:
    cJSON_Delete(doc);
    return set;
}

void
jwks_free(jwks_t *set)
{
    size_t i;

    if (set == NULL)
        return;
    for (i = 0; i < set->n; i++) {
        free(set->keys[i].kid);
        EVP_PKEY_free(set->keys[i].pkey);
    }
    free(set);
}

size_t
jwks_count(const jwks_t *set)
{
    return set != NULL ? set->n : 0;
}

EVP_PKEY *
jwks_find(const jwks_t *set, const char *kid, enum jwt_alg alg)
{
    EVP_PKEY *only = NULL;
    size_t i, candidates = 0;

    if (set == NULL)
        return NULL;
    for (i = 0; i < set->n; i++) {
        const struct jwks_key *k = &set->keys[i];
        if (kid != NULL) {
            if (k->kid != NULL && strcmp(k->kid, kid) == 0)
                return k->alg == alg ? k->pkey : NULL;
        } else if (k->alg == alg) {
            only = k->pkey;
            candidates++;
        }
    }
    return candidates == 1 ? only : NULL;
}

/* ---------------------------------------------------------------- loading */

/* A growing buffer capped at JWKS_MAX_BYTES. */
struct jwks_buf {
    char *data;
    size_t len;
    bool too_big;
};

static bool
jwks_buf_add(struct jwks_buf *b, const void *p, size_t n)
{
    char *grown;

    if (n > JWKS_MAX_BYTES - b->len) {
        b->too_big = true;
        return false;
    }
    if ((grown = realloc(b->data, b->len + n + 1)) == NULL)
        return false;
    b->data = grown;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

/* GET url through the outbound client: the operator's URL, so any address,
 * but http(s) only, at most 3 redirects and never from https to http,
 * bounded time and size; 200 only. */
static bool
jwks_fetch_url(const char *url, struct jwks_buf *b)
{
    arena_t *a = arena_create(4096);
    outbound_opts_t o = {
        .origin = OUTBOUND_OPERATOR_URL,
        .timeout_ms = JWKS_FETCH_TIMEOUT * 1000L,
        .max_body = JWKS_MAX_BYTES,
        .max_redirects = 3,
        .user_agent = "promptd-jwks/1",
    };
    outbound_reply_t rep;
    bool ok;

    ok = outbound_get(a, url, &o, &rep) && rep.status == 200 &&
         jwks_buf_add(b, rep.body, rep.len);
    if (!ok)
        log_warn("%s: %s: %s", __func__, url,
                 rep.error ? rep.error
                 : rep.status != 200 ? "status is not 200" : "document too large");
    arena_destroy(a);
    return ok;
}

/* Read a whole (regular, <= JWKS_MAX_BYTES) file. */
static bool
jwks_read_file(const char *path, struct jwks_buf *b)
{
    char chunk[8192];
    ssize_t got;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    bool ok = false;

    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        goto out;
    while ((got = read(fd, chunk, sizeof chunk)) != 0) {
        if (got < 0) {
            if (errno == EINTR)
                continue;
            goto out;
        }
        if (!jwks_buf_add(b, chunk, (size_t)got))
            goto out;
    }
    ok = true;
out:
    if (!ok)
        log_warn("%s: %s: %s", __func__, path,
                 b->too_big ? "document too large" : strerror(errno));
    if (fd >= 0)
        close(fd);
    return ok;
}

/* One load attempt; on success the new set replaces the old one. */
static void
jwks_source_load(jwks_source_t *src, time_t now)
{
    struct jwks_buf b = { NULL, 0, false };
    jwks_t *set = NULL;
    bool got;

    src->loaded = true;
    src->loaded_at = now;
    src->loads++;
    got = src->is_url ? jwks_fetch_url(src->location, &b)
                      : jwks_read_file(src->location, &b);
    if (got && (set = jwks_parse(b.data, b.len)) == NULL)
        log_warn("%s: %s is not a JWKS document", __func__, src->location);
    free(b.data);
    if (set == NULL)
        return;   /* keep the previous set */
    jwks_free(src->set);
    src->set = set;
    log_info("%s: %zu usable key(s) from %s", __func__, set->n,
             src->location);
}

jwks_source_t *
jwks_source_new(const char *location)
{
    jwks_source_t *src;

    if (location == NULL || location[0] == '\0' ||
        (src = calloc(1, sizeof *src)) == NULL)
        return NULL;
    if ((src->location = strdup(location)) == NULL) {
        free(src);
        return NULL;
    }
    src->is_url = strncasecmp(location, "http://", 7) == 0 ||
                  strncasecmp(location, "https://", 8) == 0;
    return src;
}

void
jwks_source_free(jwks_source_t *src)
{
    if (src == NULL)
        return;
    jwks_free(src->set);
    free(src->location);
    free(src);
}

EVP_PKEY *
jwks_source_lookup(void *ctx, const char *kid, enum jwt_alg alg, time_t now)
{
    jwks_source_t *src = ctx;
    EVP_PKEY *key;

    if (src == NULL)
        return NULL;
    if (!src->loaded)
        jwks_source_load(src, now);
    if ((key = jwks_find(src->set, kid, alg)) != NULL)
        return key;
    /* Unknown kid: maybe the keys rotated.  A clock that stepped back
     * does not block refreshes for the distance it stepped. */
    if (now - src->loaded_at >= JWKS_REFRESH_SECONDS || now < src->loaded_at) {
        jwks_source_load(src, now);
        key = jwks_find(src->set, kid, alg);
    }
    return key;
}

unsigned
jwks_source_loads(const jwks_source_t *src)
{
    return src != NULL ? src->loads : 0;
}

/* ------------------------------------------ our own signing key (ES256) */

/* No passphrase prompt, ever: an encrypted key is simply unreadable. */
static int
jwks_no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

EVP_PKEY *
jwks_load_ec_private_pem(const char *path, const char **why)
{
    BIO *bio;
    EVP_PKEY *key = NULL;
    const char *reason = NULL;

    if (path == NULL || (bio = BIO_new_file(path, "r")) == NULL) {
        reason = "cannot open the file (missing, or not readable by the worker user)";
    } else {
        key = PEM_read_bio_PrivateKey(bio, NULL, jwks_no_passphrase, NULL);
        BIO_free(bio);
        if (key == NULL)
            reason = "no unencrypted PEM private key in the file";
        else if (!jwt_is_p256(key))
            reason = "the key is not an EC P-256 (prime256v1) key";
    }
    ERR_clear_error();
    if (reason != NULL) {
        EVP_PKEY_free(key);
        key = NULL;
    }
    if (why != NULL)
        *why = reason;
    return key;
}

/* x and y (base64url of 32 bytes each) of a P-256 key. */
static bool
jwks_ec_xy(EVP_PKEY *key, char *x, char *y)
{
    unsigned char buf[JWKS_P256_LEN];
    BIGNUM *bx = NULL, *by = NULL;
    bool ok = false;

    if (!jwt_is_p256(key) ||
        EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &bx) != 1 ||
        EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &by) != 1)
        goto out;
    if (BN_bn2binpad(bx, buf, sizeof buf) != JWKS_P256_LEN)
        goto out;
    x[b64url_encode(buf, sizeof buf, x)] = '\0';
    if (BN_bn2binpad(by, buf, sizeof buf) != JWKS_P256_LEN)
        goto out;
    y[b64url_encode(buf, sizeof buf, y)] = '\0';
    ok = true;
out:
    BN_free(bx);
    BN_free(by);
    ERR_clear_error();
    return ok;
}

bool
jwks_ec_thumbprint(EVP_PKEY *key, char *out)
{
    char x[B64URL_ENCODED_SIZE(JWKS_P256_LEN)], y[sizeof x], json[160];
    unsigned char md[HASH_SHA256_LEN];
    hash_part_t part;
    int n;

    if (!jwks_ec_xy(key, x, y))
        return false;
    n = snprintf(json, sizeof json,
                 "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
                 x, y);
    if (n < 0 || (size_t)n >= sizeof json)
        return false;
    part = (hash_part_t){json, (size_t)n};
    hash_sha256(&part, 1, md);
    out[b64url_encode(md, sizeof md, out)] = '\0';
    return true;
}

cJSON *
jwks_ec_public_jwk(EVP_PKEY *key, const char *kid)
{
    char x[B64URL_ENCODED_SIZE(JWKS_P256_LEN)], y[sizeof x];
    cJSON *jwk, *ops;

    if (!jwks_ec_xy(key, x, y) || (jwk = cJSON_CreateObject()) == NULL)
        return NULL;
    if (!cJSON_AddStringToObject(jwk, "kty", "EC") ||
        !cJSON_AddStringToObject(jwk, "crv", "P-256") ||
        !cJSON_AddStringToObject(jwk, "x", x) ||
        !cJSON_AddStringToObject(jwk, "y", y) ||
        (kid != NULL && !cJSON_AddStringToObject(jwk, "kid", kid)) ||
        !cJSON_AddStringToObject(jwk, "alg", "ES256") ||
        !cJSON_AddStringToObject(jwk, "use", "sig") ||
        (ops = cJSON_AddArrayToObject(jwk, "key_ops")) == NULL ||
        !cJSON_AddItemToArray(ops, cJSON_CreateString("verify"))) {
        cJSON_Delete(jwk);
        return NULL;
    }
    return jwk;
}
