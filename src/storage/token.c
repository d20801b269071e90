/* token.c: the HMAC tokens of signed download and upload URLs (payload.mac, both base64url), made by the storage family and the share pages. */
#include "storage/token.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include "core/json.h"
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
