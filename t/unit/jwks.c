/* t/unit/jwks.c: ES256 / RS256 tokens against a JWKS: keys bound to algorithms, alg confusion, signature encoding, refresh. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "auth/jwks.h"
#include "auth/jwt.h"
#include "crypto/b64url.h"
#include "tap.h"

#define NOW 1700000000L
#define SECRET "test-secret-0123456789abcdef0123456789abcdef"
#define SUB "6f1c2a4e-8b3d-4c7a-9e2f-0a1b2c3d4e5f"
#define PAY "{\"sub\":\"" SUB "\",\"aud\":\"authenticated\",\"exp\":1700000060,\"role\":\"authenticated\"}"
#define TOK 8192

enum sig_kind { SIG_ES_RAW, SIG_ES_DER, SIG_RS, SIG_HS, SIG_JUNK };

static EVP_PKEY *ec1, *ec2, *ec3, *rsa1, *rsa_small;

/* tok = b64url(hdr) "." b64url(pay) "." signature of the kind asked. */
static char *
tok_make(char *tok, const char *hdr, const char *pay, enum sig_kind kind,
         EVP_PKEY *k, const void *secret, size_t secret_len)
{
    unsigned char sig[1024], raw[64];
    size_t n, sl = sizeof sig;
    unsigned int hl = 0;
    EVP_MD_CTX *ctx;

    n = b64url_encode((const unsigned char *)hdr, strlen(hdr), tok);
    tok[n++] = '.';
    n += b64url_encode((const unsigned char *)pay, strlen(pay), tok + n);
    switch (kind) {
    case SIG_HS:
        HMAC(EVP_sha256(), secret, (int)secret_len, (unsigned char *)tok, n,
             sig, &hl);
        sl = hl;
        break;
    case SIG_JUNK:
        memset(sig, 'A', 32);
        sl = 32;
        break;
    default:
        ctx = EVP_MD_CTX_new();
        if (EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, k, NULL) != 1 ||
            EVP_DigestSign(ctx, sig, &sl, (unsigned char *)tok, n) != 1)
            diag("signing failed");
        EVP_MD_CTX_free(ctx);
        if (kind == SIG_ES_RAW) {
            const unsigned char *p = sig;
            ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)sl);
            const BIGNUM *r, *s;
            ECDSA_SIG_get0(es, &r, &s);
            BN_bn2binpad(r, raw, 32);
            BN_bn2binpad(s, raw + 32, 32);
            ECDSA_SIG_free(es);
            memcpy(sig, raw, 64);
            sl = 64;
        }
    }
    tok[n++] = '.';
    b64url_encode(sig, sl, tok + n);
    return tok;
}

/* Replace tok's signature by sig[0..len). */
static char *
tok_resign(char *tok, const unsigned char *sig, size_t len)
{
    char *dot = strrchr(tok, '.');

    b64url_encode(sig, len, dot + 1);
    return tok;
}

/* The decoded signature of tok into out; its length. */
static size_t
tok_sig(const char *tok, unsigned char *out)
{
    const char *dot = strrchr(tok, '.') + 1;

    return (size_t)b64url_decode(dot, strlen(dot), out);
}

static char *
b64(const unsigned char *p, size_t n)
{
    char *s = malloc(B64URL_ENCODED_SIZE(n));

    b64url_encode(p, n, s);
    return s;
}

/* A JWK for an EC key; extra is spliced in (e.g. ",\"alg\":\"ES256\""). */
static char *
jwk_ec(EVP_PKEY *k, const char *kid, const char *extra)
{
    unsigned char pub[65];
    size_t len = 0;
    char *x, *y, *out = malloc(1024);

    if (EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pub,
                                        sizeof pub, &len) != 1 || len != 65)
        diag("EC public key export failed");
    x = b64(pub + 1, 32);
    y = b64(pub + 33, 32);
    snprintf(out, 1024, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"%s\","
             "\"x\":\"%s\",\"y\":\"%s\"%s}", kid, x, y, extra ? extra : "");
    free(x);
    free(y);
    return out;
}

static char *
jwk_rsa(EVP_PKEY *k, const char *kid, const char *extra)
{
    unsigned char nb[1024];
    BIGNUM *n = NULL;
    char *ns, *out = malloc(4096);
    int len;

    EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n);
    len = BN_bn2bin(n, nb);
    ns = b64(nb, (size_t)len);
    snprintf(out, 4096, "{\"kty\":\"RSA\",\"kid\":\"%s\",\"n\":\"%s\","
             "\"e\":\"AQAB\"%s}", kid, ns, extra ? extra : "");
    BN_free(n);
    free(ns);
    return out;
}

static EVP_PKEY *
set_lookup(void *ctx, const char *kid, enum jwt_alg alg, time_t now)
{
    (void)now;
    return jwks_find(ctx, kid, alg);
}

static enum jwt_error
verify_with(const char *tok, jwt_key_lookup_fn fn, void *ctx)
{
    jwt_verify_opts_t o = {
        .secret = (const unsigned char *)SECRET,
        .secret_len = strlen(SECRET),
        .audience = "authenticated",
        .now = NOW,
        .key_lookup = fn,
        .key_ctx = ctx,
    };
    cJSON *claims = (cJSON *)&o;   /* poison: must be overwritten */
    enum jwt_error e = jwt_verify(tok, &o, &claims);

    if ((e == JWT_OK) != (claims != NULL))
        return (enum jwt_error)-1;
    if (e == JWT_OK) {
        const cJSON *sub = cJSON_GetObjectItemCaseSensitive(claims, "sub");
        if (!cJSON_IsString(sub) || strcmp(sub->valuestring, SUB) != 0)
            e = (enum jwt_error)-2;
        cJSON_Delete(claims);
    }
    return e;
}

static jwks_t *set;   /* ec1, ec2, rsa1 plus junk */

static enum jwt_error
verify(const char *tok)
{
    return verify_with(tok, set_lookup, set);
}

static char *
es(char *tok, EVP_PKEY *k, const char *kid, const char *pay)
{
    char hdr[256];

    if (kid != NULL)
        snprintf(hdr, sizeof hdr, "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", kid);
    else
        snprintf(hdr, sizeof hdr, "{\"alg\":\"ES256\",\"typ\":\"JWT\"}");
    return tok_make(tok, hdr, pay, SIG_ES_RAW, k, NULL, 0);
}

static char *
rs(char *tok, EVP_PKEY *k, const char *kid, const char *pay)
{
    char hdr[256];

    snprintf(hdr, sizeof hdr, "{\"alg\":\"RS256\",\"kid\":\"%s\"}", kid);
    return tok_make(tok, hdr, pay, SIG_RS, k, NULL, 0);
}

static void
test_parse(void)
{
    char *j[16], doc[32768];
    size_t i, n = 0;

    j[n++] = jwk_ec(ec1, "ec1", ",\"alg\":\"ES256\",\"use\":\"sig\"");
    j[n++] = jwk_ec(ec2, "ec2", ",\"key_ops\":[\"verify\"]");
    j[n++] = jwk_rsa(rsa1, "rsa1", ",\"alg\":\"RS256\"");
    /* Each of these must be skipped. */
    j[n++] = jwk_ec(ec3, "ec-alg-rs", ",\"alg\":\"RS256\"");
    j[n++] = jwk_ec(ec3, "ec-alg-hs", ",\"alg\":\"HS256\"");
    j[n++] = jwk_ec(ec3, "ec-use-enc", ",\"use\":\"enc\"");
    j[n++] = jwk_ec(ec3, "ec-ops-sign", ",\"key_ops\":[\"sign\"]");
    j[n++] = jwk_ec(ec3, "ec-private", ",\"d\":\"AAAA\"");
    j[n++] = jwk_rsa(rsa1, "rsa-alg-es", ",\"alg\":\"ES256\"");
    j[n++] = jwk_rsa(rsa_small, "rsa-1024", NULL);
    j[n++] = strdup("{\"kty\":\"oct\",\"kid\":\"oct\",\"k\":\"c2VjcmV0\"}");
    j[n++] = strdup("{\"kty\":\"EC\",\"crv\":\"P-384\",\"kid\":\"p384\",\"x\":\"AAAA\",\"y\":\"AAAA\"}");
    /* A point not on the curve: x = 1, y = 1. */
    j[n++] = strdup("{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"off-curve\","
                    "\"x\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE\","
                    "\"y\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE\"}");
    /* x of 31 bytes. */
    j[n++] = strdup("{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"short\","
                    "\"x\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
                    "\"y\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE\"}");
    j[n++] = strdup("{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":7}");
    strcpy(doc, "{\"keys\":[");
    for (i = 0; i < n; i++) {
        if (i)
            strcat(doc, ",");
        strcat(doc, j[i]);
        free(j[i]);
    }
    strcat(doc, "]}");
    set = jwks_parse(doc, strlen(doc));
    is_int(jwks_count(set), 3, "JWKS: ec1, ec2, rsa1 usable; 12 unusable keys skipped");
    ok(jwks_find(set, "ec1", JWT_ALG_ES256) != NULL, "ec1 is bound to ES256");
    ok(jwks_find(set, "ec1", JWT_ALG_RS256) == NULL, "ec1 is not an RS256 key");
    ok(jwks_find(set, "rsa1", JWT_ALG_RS256) != NULL, "rsa1 is bound to RS256");
    ok(jwks_find(set, "rsa1", JWT_ALG_ES256) == NULL, "rsa1 is not an ES256 key");
    ok(jwks_find(set, "oct", JWT_ALG_HS256) == NULL, "an oct key is never loaded");
    ok(jwks_find(set, "ec-alg-rs", JWT_ALG_RS256) == NULL &&
       jwks_find(set, "ec-alg-rs", JWT_ALG_ES256) == NULL,
       "an EC key claiming RS256 is dropped altogether");

    static const char *const bad_docs[] = {
        "", "not json", "[]", "{}", "{\"keys\":{}}", "{\"keys\":\"x\"}", "{\"keys\":[]",
    };
    for (i = 0; i < sizeof bad_docs / sizeof bad_docs[0]; i++) {
        jwks_t *s = jwks_parse(bad_docs[i], strlen(bad_docs[i]));
        ok(s == NULL, "not a JWKS: '%s'", bad_docs[i]);
        jwks_free(s);
    }
    jwks_t *empty = jwks_parse("{\"keys\":[]}", 11);
    ok(empty != NULL && jwks_count(empty) == 0, "an empty key list parses");
    jwks_free(empty);
}

static void
test_valid(void)
{
    char tok[TOK];
    cJSON *claims = cJSON_Parse(PAY);
    char *signed_tok;

    is_int(verify(es(tok, ec1, "ec1", PAY)), JWT_OK, "ES256 token, kid ec1 -> ok");
    is_int(verify(es(tok, ec2, "ec2", PAY)), JWT_OK, "ES256 token, kid ec2 -> ok");
    is_int(verify(rs(tok, rsa1, "rsa1", PAY)), JWT_OK, "RS256 token, kid rsa1 -> ok");
    is_int(verify(tok_make(tok, "{\"alg\":\"HS256\"}", PAY, SIG_HS, NULL, SECRET, strlen(SECRET))),
           JWT_OK, "HS256 with the secret still verifies beside a JWKS");

    signed_tok = jwt_sign_es256(claims, ec1, "ec1");
    ok(signed_tok != NULL && verify(signed_tok) == JWT_OK, "jwt_sign_es256 output verifies");
    free(signed_tok);
    signed_tok = jwt_sign_es256(claims, rsa1, "rsa1");
    ok(signed_tok == NULL, "jwt_sign_es256 refuses an RSA key");
    free(signed_tok);
    signed_tok = jwt_sign_es256(claims, ec1, "ec2");
    is_int(verify(signed_tok), JWT_BAD_SIGNATURE, "jwt_sign_es256 with ec1 under kid ec2 -> bad signature");
    free(signed_tok);
    cJSON_Delete(claims);
}

static void
test_confusion(void)
{
    char tok[TOK], *jwk = jwk_ec(ec1, "ec1", NULL), *pem = NULL;
    unsigned char pub[65];
    size_t len = 0;
    BIO *bio = BIO_new(BIO_s_mem());
    long pem_len;

    PEM_write_bio_PUBKEY(bio, ec1);
    pem_len = BIO_get_mem_data(bio, &pem);
    EVP_PKEY_get_octet_string_param(ec1, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub, &len);

    is_int(verify(tok_make(tok, "{\"alg\":\"HS256\",\"kid\":\"ec1\"}", PAY, SIG_HS, NULL, jwk, strlen(jwk))),
           JWT_BAD_SIGNATURE, "HS256 token keyed with the JWK's JSON -> bad signature");
    is_int(verify(tok_make(tok, "{\"alg\":\"HS256\",\"kid\":\"ec1\"}", PAY, SIG_HS, NULL, pem, (size_t)pem_len)),
           JWT_BAD_SIGNATURE, "HS256 token keyed with the public key's PEM -> bad signature");
    is_int(verify(tok_make(tok, "{\"alg\":\"HS256\",\"kid\":\"ec1\"}", PAY, SIG_HS, NULL, pub, len)),
           JWT_BAD_SIGNATURE, "HS256 token keyed with the raw point -> bad signature");
    is_int(verify(tok_make(tok, "{\"alg\":\"ES256\",\"kid\":\"ec1\"}", PAY, SIG_HS, NULL, SECRET, strlen(SECRET))),
           JWT_BAD_SIGNATURE, "ES256 token carrying an HMAC of the secret -> bad signature");
    is_int(verify(tok_make(tok, "{\"alg\":\"ES256\",\"kid\":\"rsa1\"}", PAY, SIG_ES_RAW, ec1, NULL, 0)),
           JWT_UNKNOWN_KEY, "ES256 token naming the RSA key's kid -> no key");
    is_int(verify(tok_make(tok, "{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", PAY, SIG_ES_RAW, ec1, NULL, 0)),
           JWT_BAD_SIGNATURE, "ES256 signature sent as RS256 to the RSA key -> bad signature");
    is_int(verify(tok_make(tok, "{\"alg\":\"RS256\",\"kid\":\"ec1\"}", PAY, SIG_RS, rsa1, NULL, 0)),
           JWT_UNKNOWN_KEY, "RS256 token naming an EC key's kid -> no key");
    is_int(verify(es(tok, ec1, "nope", PAY)), JWT_UNKNOWN_KEY, "unknown kid -> no key");
    is_int(verify(es(tok, ec1, NULL, PAY)), JWT_UNKNOWN_KEY,
           "no kid with two ES256 keys -> no key (kid required)");
    is_int(verify(tok_make(tok, "{\"alg\":\"none\",\"kid\":\"ec1\"}", PAY, SIG_JUNK, NULL, NULL, 0)),
           JWT_BAD_ALG, "alg none -> bad alg");
    static const char *const algs[] = { "ES384", "ES512", "PS256", "RS512", "EdDSA", "es256", "" };
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++) {
        char hdr[128];
        snprintf(hdr, sizeof hdr, "{\"alg\":\"%s\",\"kid\":\"ec1\"}", algs[i]);
        is_int(verify(tok_make(tok, hdr, PAY, SIG_ES_RAW, ec1, NULL, 0)), JWT_BAD_ALG,
               "alg '%s' -> bad alg", algs[i]);
    }
    is_int(verify(tok_make(tok, "{\"alg\":\"ES256\",\"kid\":1}", PAY, SIG_ES_RAW, ec1, NULL, 0)),
           JWT_MALFORMED, "kid not a string -> malformed");
    is_int(verify_with(es(tok, ec1, "ec1", PAY), NULL, NULL), JWT_BAD_ALG,
           "ES256 without a JWKS configured -> bad alg");
    is_int(verify_with(rs(tok, rsa1, "rsa1", PAY), NULL, NULL), JWT_BAD_ALG,
           "RS256 without a JWKS configured -> bad alg");

    /* A set with one EC key: a kid-less ES256 token uses it. */
    char doc[2048];
    snprintf(doc, sizeof doc, "{\"keys\":[%s]}", jwk);
    jwks_t *one = jwks_parse(doc, strlen(doc));
    is_int(verify_with(es(tok, ec1, NULL, PAY), set_lookup, one), JWT_OK,
           "no kid, one ES256 key -> that key");
    is_int(verify_with(es(tok, ec2, NULL, PAY), set_lookup, one), JWT_BAD_SIGNATURE,
           "no kid, one ES256 key, signed by another -> bad signature");
    is_int(verify_with(rs(tok, rsa1, "rsa1", PAY), set_lookup, one), JWT_UNKNOWN_KEY,
           "RS256 against a set without RSA keys -> no key");
    jwks_free(one);
    BIO_free(bio);
    free(jwk);
}

static void
test_signature_encoding(void)
{
    static const unsigned char n[32] = {
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84,
        0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51 };
    char tok[TOK], good[TOK];
    unsigned char sig[600], mod[600];
    size_t len;

    es(good, ec1, "ec1", PAY);
    len = tok_sig(good, sig);
    is_int(len, 64, "ES256 signature is 64 bytes");

    memcpy(mod, sig, 64);
    memset(mod, 0, 32);
    is_int(verify(tok_resign(strcpy(tok, good), mod, 64)), JWT_BAD_SIGNATURE, "r = 0 -> bad signature");
    memcpy(mod, sig, 64);
    memset(mod + 32, 0, 32);
    is_int(verify(tok_resign(strcpy(tok, good), mod, 64)), JWT_BAD_SIGNATURE, "s = 0 -> bad signature");
    memset(mod, 0, 64);
    is_int(verify(tok_resign(strcpy(tok, good), mod, 64)), JWT_BAD_SIGNATURE, "r = s = 0 -> bad signature");
    memcpy(mod, n, 32);
    memcpy(mod + 32, sig + 32, 32);
    is_int(verify(tok_resign(strcpy(tok, good), mod, 64)), JWT_BAD_SIGNATURE, "r = n -> bad signature");
    memcpy(mod, sig, 32);
    memset(mod + 32, 0xff, 32);
    is_int(verify(tok_resign(strcpy(tok, good), mod, 64)), JWT_BAD_SIGNATURE, "s = 2^256-1 -> bad signature");
    is_int(verify(tok_resign(strcpy(tok, good), sig, 63)), JWT_BAD_SIGNATURE, "63-byte signature -> bad signature");
    memcpy(mod, sig, 64);
    mod[64] = 0;
    is_int(verify(tok_resign(strcpy(tok, good), mod, 65)), JWT_BAD_SIGNATURE, "65-byte signature (trailing 0) -> bad signature");
    mod[0] = 0;
    memcpy(mod + 1, sig, 64);
    is_int(verify(tok_resign(strcpy(tok, good), mod, 65)), JWT_BAD_SIGNATURE, "65-byte signature (leading 0) -> bad signature");
    is_int(verify(tok_make(tok, "{\"alg\":\"ES256\",\"kid\":\"ec1\"}", PAY, SIG_ES_DER, ec1, NULL, 0)),
           JWT_BAD_SIGNATURE, "DER-encoded ES256 signature -> bad signature");
    is_int(verify(strcpy(tok, good)), JWT_OK, "the untouched token still verifies");

    /* RS256: exactly the modulus size. */
    rs(good, rsa1, "rsa1", PAY);
    len = tok_sig(good, sig);
    is_int(len, 256, "RS256 signature is 256 bytes for a 2048-bit key");
    is_int(verify(tok_resign(strcpy(tok, good), sig, 255)), JWT_BAD_SIGNATURE, "RS256 signature one byte short -> bad signature");
    mod[0] = 0;
    memcpy(mod + 1, sig, 256);
    is_int(verify(tok_resign(strcpy(tok, good), mod, 257)), JWT_BAD_SIGNATURE, "RS256 signature with a leading zero -> bad signature");
    memcpy(mod, sig, 256);
    mod[255] ^= 1;
    is_int(verify(tok_resign(strcpy(tok, good), mod, 256)), JWT_BAD_SIGNATURE, "RS256 signature with a flipped bit -> bad signature");

    /* The raw functions refuse the wrong key type. */
    ok(!jwt_es256_verify_raw(rsa1, (const unsigned char *)"x", 1, sig, 64), "jwt_es256_verify_raw refuses an RSA key");
    ok(!jwt_rs256_verify(ec1, (const unsigned char *)"x", 1, sig, 256), "jwt_rs256_verify refuses an EC key");
    ok(!jwt_rs256_verify(rsa_small, (const unsigned char *)"x", 1, sig, 128), "jwt_rs256_verify refuses a 1024-bit key");
}

static void
test_claims(void)
{
    static const struct { const char *name, *pay; enum jwt_error want; } rows[] = {
        { "expired", "{\"sub\":\"" SUB "\",\"aud\":\"authenticated\",\"exp\":1699999999}", JWT_EXPIRED },
        { "no exp", "{\"sub\":\"" SUB "\",\"aud\":\"authenticated\"}", JWT_EXPIRED },
        { "nbf in the future", "{\"sub\":\"" SUB "\",\"aud\":\"authenticated\",\"exp\":1700000060,\"nbf\":1700000300}", JWT_NOT_YET_VALID },
        { "wrong audience", "{\"sub\":\"" SUB "\",\"aud\":\"other\",\"exp\":1700000060}", JWT_BAD_AUDIENCE },
        { "service_role", "{\"sub\":\"" SUB "\",\"aud\":\"authenticated\",\"exp\":1700000060,\"role\":\"service_role\"}", JWT_BAD_ROLE },
        { "sub not a UUID", "{\"sub\":\"x\",\"aud\":\"authenticated\",\"exp\":1700000060}", JWT_BAD_SUBJECT },
        { "duplicate keys", "{\"sub\":\"" SUB "\",\"sub\":\"" SUB "\",\"aud\":\"authenticated\",\"exp\":1700000060}", JWT_DUPLICATE_KEY },
        { "payload not JSON", "nope", JWT_MALFORMED },
    };
    char tok[TOK];
    unsigned char sig[600];
    size_t i, len;

    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        is_int(verify(es(tok, ec1, "ec1", rows[i].pay)), rows[i].want, "ES256, %s", rows[i].name);
        is_int(verify(rs(tok, rsa1, "rsa1", rows[i].pay)), rows[i].want, "RS256, %s", rows[i].name);
    }
    /* Signature before claims: an expired token with a broken signature
     * is reported as a bad signature. */
    es(tok, ec1, "ec1", rows[0].pay);
    len = tok_sig(tok, sig);
    sig[10] ^= 1;
    is_int(verify(tok_resign(tok, sig, len)), JWT_BAD_SIGNATURE, "expired and forged -> bad signature first");
}

static bool
write_file(const char *path, const char *s)
{
    FILE *f = fopen(path, "w");

    if (f == NULL)
        return false;
    fputs(s, f);
    return fclose(f) == 0;
}

static void
test_source(void)
{
    char path[] = "/tmp/promptd-jwks-XXXXXX", doc[4096], tok[TOK];
    char *j1 = jwk_ec(ec1, "ec1", NULL), *j2 = jwk_ec(ec2, "ec2", NULL);
    int fd = mkstemp(path);
    jwks_source_t *src;
    const time_t T = NOW;

    close(fd);
    snprintf(doc, sizeof doc, "{\"keys\":[%s]}", j1);
    write_file(path, doc);
    src = jwks_source_new(path);
    ok(src != NULL && jwks_source_loads(src) == 0, "a source loads nothing up front");
    ok(jwks_source_lookup(src, "ec1", JWT_ALG_ES256, T) != NULL, "first lookup loads the file");
    is_int(jwks_source_loads(src), 1, "  one load");
    ok(jwks_source_lookup(src, "ec2", JWT_ALG_ES256, T + 1) == NULL, "unknown kid 1 s later -> none");
    is_int(jwks_source_loads(src), 1, "  and no reload within the minute");
    snprintf(doc, sizeof doc, "{\"keys\":[%s,%s]}", j1, j2);
    write_file(path, doc);
    ok(jwks_source_lookup(src, "ec2", JWT_ALG_ES256, T + 59) == NULL, "rotated file, 59 s later -> still none");
    is_int(jwks_source_loads(src), 1, "  still one load");
    ok(jwks_source_lookup(src, "ec2", JWT_ALG_ES256, T + 60) != NULL, "60 s later the unknown kid reloads and is found");
    is_int(jwks_source_loads(src), 2, "  two loads");
    ok(jwks_source_lookup(src, "ec1", JWT_ALG_ES256, T + 61) != NULL, "known kid: no reload");
    ok(jwks_source_lookup(src, "zz", JWT_ALG_ES256, T + 62) == NULL, "unknown kid within the minute -> none");
    is_int(jwks_source_loads(src), 2, "  no reload");
    unlink(path);
    ok(jwks_source_lookup(src, "zz", JWT_ALG_ES256, T + 200) == NULL, "unknown kid later, file gone -> none");
    is_int(jwks_source_loads(src), 3, "  one reload attempt");
    ok(jwks_source_lookup(src, "ec2", JWT_ALG_ES256, T + 201) != NULL, "a failed reload keeps the previous keys");
    is_int(verify_with(es(tok, ec2, "ec2", PAY), jwks_source_lookup, src), JWT_OK,
           "jwt_verify through jwks_source_lookup");
    jwks_source_free(src);

    src = jwks_source_new("/nonexistent/jwks.json");
    is_int(verify_with(es(tok, ec1, "ec1", PAY), jwks_source_lookup, src), JWT_UNKNOWN_KEY,
           "a missing JWKS file -> no key, no crash");
    jwks_source_free(src);
    ok(jwks_source_new("") == NULL && jwks_source_new(NULL) == NULL, "no location -> no source");
    jwks_source_free(NULL);
    jwks_free(NULL);
    free(j1);
    free(j2);
}

/* A PEM file holding k (private unless pub; encrypted with a passphrase
 * when enc) at path. */
static bool
write_pem(const char *path, EVP_PKEY *k, bool pub, bool enc)
{
    FILE *f = fopen(path, "w");
    int ok;

    if (f == NULL)
        return false;
    ok = pub ? PEM_write_PUBKEY(f, k)
         : enc ? PEM_write_PrivateKey(f, k, EVP_aes_128_cbc(),
                                      (const unsigned char *)"pass", 4, NULL, NULL)
               : PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    return fclose(f) == 0 && ok == 1;
}

/* PROMPTD_JWT_SIGNING_KEY: PEM loading, RFC 7638 thumbprint, the public
 * JWK we publish (and that it verifies what jwt_sign_es256 signs). */
static void
test_signing_key(void)
{
    /* RFC 7517 A.1's P-256 key; the thumbprint below was computed
     * independently (python3 hashlib over the RFC 7638 canonical JSON). */
    static const char rfc_jwks[] =
        "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"1\","
        "\"x\":\"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4\","
        "\"y\":\"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM\"}]}";
    char path[] = "/tmp/promptd-sigkey-XXXXXX", tp[JWKS_THUMBPRINT_LEN + 1];
    char tp1[JWKS_THUMBPRINT_LEN + 1], doc[1024], *text;
    const char *why = NULL;
    jwks_t *rfc = jwks_parse(rfc_jwks, strlen(rfc_jwks)), *pubset;
    EVP_PKEY *k, *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    cJSON *jwk, *claims;
    char *tok;
    int fd = mkstemp(path);

    close(fd);
    ok(jwks_ec_thumbprint(jwks_find(rfc, "1", JWT_ALG_ES256), tp) &&
       strcmp(tp, "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s") == 0,
       "RFC 7517 A.1 key: RFC 7638 thumbprint");
    jwk = jwks_ec_public_jwk(jwks_find(rfc, "1", JWT_ALG_ES256), tp);
    ok(jwk != NULL, "public JWK of the RFC key");
    text = cJSON_PrintUnformatted(jwk);
    is_str(text, "{\"kty\":\"EC\",\"crv\":\"P-256\","
                 "\"x\":\"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4\","
                 "\"y\":\"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM\","
                 "\"kid\":\"cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s\","
                 "\"alg\":\"ES256\",\"use\":\"sig\",\"key_ops\":[\"verify\"]}",
           "  kty, crv, x, y, kid, alg, use, key_ops; no d");
    cJSON_free(text);
    cJSON_Delete(jwk);
    jwks_free(rfc);
    ok(!jwks_ec_thumbprint(rsa1, tp) && jwks_ec_public_jwk(rsa1, "x") == NULL,
       "an RSA key has no EC thumbprint / JWK");
    ok(p384 == NULL || !jwks_ec_thumbprint(p384, tp), "nor a P-384 key");

    ok(write_pem(path, ec1, false, false), "ec1 written as PEM");
    k = jwks_load_ec_private_pem(path, &why);
    ok(k != NULL && why == NULL, "PEM P-256 private key loads");
    ok(jwks_ec_thumbprint(k, tp) && jwks_ec_thumbprint(ec1, tp1) &&
       strcmp(tp, tp1) == 0 && strlen(tp) == JWKS_THUMBPRINT_LEN,
       "  its thumbprint is the original key's (43 chars)");
    jwk = jwks_ec_public_jwk(k, tp);
    text = cJSON_PrintUnformatted(jwk);
    snprintf(doc, sizeof doc, "{\"keys\":[%s]}", text ? text : "");
    ok(strstr(doc, "\"d\"") == NULL, "  its JWK has no private part");
    pubset = jwks_parse(doc, strlen(doc));
    is_int((long)jwks_count(pubset), 1, "  the published JWKS parses back");
    claims = cJSON_Parse(PAY);
    tok = jwt_sign_es256(claims, k, tp);
    is_int(verify_with(tok, set_lookup, pubset), JWT_OK,
           "  jwt_sign_es256 with the loaded key verifies against it");
    free(tok);
    tok = jwt_sign_es256(claims, k, "other");
    is_int(verify_with(tok, set_lookup, pubset), JWT_UNKNOWN_KEY,
           "  signed under another kid -> unknown key");
    free(tok);
    cJSON_Delete(claims);
    cJSON_free(text);
    cJSON_Delete(jwk);
    jwks_free(pubset);
    EVP_PKEY_free(k);

    struct { EVP_PKEY *key; bool pub, enc; const char *name; } bad[] = {
        {rsa1, false, false, "an RSA private key"},
        {p384, false, false, "a P-384 private key"},
        {ec1, true, false, "a public key only"},
        {ec1, false, true, "an encrypted private key"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (bad[i].key == NULL || !write_pem(path, bad[i].key, bad[i].pub, bad[i].enc)) {
            ok(1, "# SKIP %s: cannot write it", bad[i].name);
            continue;
        }
        why = NULL;
        k = jwks_load_ec_private_pem(path, &why);
        ok(k == NULL && why != NULL, "%s is refused (%s)", bad[i].name,
           why ? why : "no reason");
        EVP_PKEY_free(k);
    }
    write_file(path, "not a PEM\n");
    why = NULL;
    ok(jwks_load_ec_private_pem(path, &why) == NULL && why != NULL, "garbage is refused");
    unlink(path);
    why = NULL;
    k = jwks_load_ec_private_pem(path, &why);
    ok(k == NULL && why != NULL && strstr(why, "cannot open") != NULL,
       "a missing file is refused (%s)", why ? why : "no reason");
    EVP_PKEY_free(p384);
}

int
main(void)
{
    ec1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ec2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ec3 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    rsa1 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    rsa_small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    if (!ec1 || !ec2 || !ec3 || !rsa1 || !rsa_small) {
        printf("1..0 # SKIP key generation failed\n");
        return 0;
    }
    test_parse();
    test_valid();
    test_confusion();
    test_signature_encoding();
    test_claims();
    test_source();
    test_signing_key();
    jwks_free(set);
    EVP_PKEY_free(ec1);
    EVP_PKEY_free(ec2);
    EVP_PKEY_free(ec3);
    EVP_PKEY_free(rsa1);
    EVP_PKEY_free(rsa_small);
    return done_testing();
}
