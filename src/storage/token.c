/* token.c: the HMAC tokens of signed download and upload URLs (payload.mac, both base64url), made by the storage family and the share pages. */
#include "storage/token.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include "core/json.h"
#include "core/str.h"
#include "crypto/b64url.h"

#define MAC_CONTEXT "promptd-storage."

static void mac(arena_t *a, const char *key, const char *part, size_t n, unsigned char out[32])
{
    unsigned int len = 32;
    const char *msg = arena_printf(a, "%s%.*s", MAC_CONTEXT, (int)n, part);

    HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)msg, strlen(msg), out, &len);
}

const char *storage_token_make(arena_t *a, const char *key, const cJSON *payload)
{
    const char *json = json_print(a, payload);
    size_t n = strlen(json), plen;
    char *out = arena_alloc(a, B64URL_ENCODED_SIZE(n) + 1 + B64URL_ENCODED_SIZE(32));
    unsigned char m[32];

    plen = b64url_encode((const unsigned char *)json, n, out);
    mac(a, key, out, plen, m);
    out[plen] = '.';
    b64url_encode(m, sizeof m, out + plen + 1);
    return out;
}

cJSON *storage_token_open(arena_t *a, const char *key, const char *token)
{
    const char *dot;
    size_t plen, n = token ? strlen(token) : 0;
    unsigned char want[32], got[33], *json;
    long jlen;
    cJSON *payload;

    if (key == NULL || n == 0 || n > STORAGE_TOKEN_MAX || (dot = strchr(token, '.')) == NULL)
        return NULL;
    plen = (size_t)(dot - token);
    if (b64url_decode(dot + 1, n - plen - 1, got) != 32)
        return NULL;
    mac(a, key, token, plen, want);
    if (CRYPTO_memcmp(want, got, 32) != 0)
        return NULL;
    json = arena_alloc(a, plen * 3 / 4 + 2);
    if ((jlen = b64url_decode(token, plen, json)) < 0)
        return NULL;
    json[jlen] = '\0';
    payload = json_own(a, cJSON_ParseWithLength((const char *)json, (size_t)jlen));
    return cJSON_IsObject(payload) ? payload : NULL;
}

/* s percent-encoded into sb: unreserved bytes as they are, and '/' when
 * keep_slash. */
static void put_encoded(strbuf_t *sb, const char *s, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";

    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~' || (keep_slash && *p == '/')) {
            strbuf_putc(sb, (char)*p);
        } else {
            strbuf_putc(sb, '%');
            strbuf_putc(sb, hex[*p >> 4]);
            strbuf_putc(sb, hex[*p & 15]);
        }
    }
}

const char *storage_token_signed_path(arena_t *a, const char *key, const char *bucket,
                                      const char *name, const char *id, long long exp,
                                      const char *transform, bool encode)
{
    cJSON *p = json_own(a, cJSON_CreateObject());
    bool tr = transform && *transform;
    strbuf_t sb;

    cJSON_AddStringToObject(p, "url", arena_printf(a, "%s/%s", bucket, name));
    cJSON_AddNumberToObject(p, "exp", (double)exp);
    cJSON_AddStringToObject(p, "jti", id);
    if (tr)
        cJSON_AddStringToObject(p, "t", transform);
    strbuf_init(&sb, a, 256);
    strbuf_puts(&sb, tr ? "/render/image/sign/" : "/object/sign/");
    if (encode) {
        put_encoded(&sb, bucket, false);
        strbuf_putc(&sb, '/');
        put_encoded(&sb, name, true);
    } else {
        strbuf_printf(&sb, "%s/%s", bucket, name);
    }
    strbuf_printf(&sb, "?token=%s", storage_token_make(a, key, p));
    return sb.ptr;
}
