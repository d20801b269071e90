/* sign.c: Standard Webhooks signatures: endpoint secrets ("whsec_" + base64) and "v1," HMAC-SHA256 signatures over "id.timestamp.body". */
#include "webhooks/sign.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#include "crypto/random.h"

#define PREFIX "whsec_"
#define KEY_MAX 64

void whsign_secret_new(char out[WHSIGN_SECRET_MAX])
{
    unsigned char key[WHSIGN_SECRET_BYTES];

    random_bytes(key, sizeof key);
    snprintf(out, WHSIGN_SECRET_MAX, "%s", PREFIX);
    EVP_EncodeBlock((unsigned char *)out + sizeof PREFIX - 1, key, (int)sizeof key);
    OPENSSL_cleanse(key, sizeof key);
}

/* The key bytes of secret into key; their number, or -1 when malformed
 * (not the prefix, not canonical base64, or beyond KEY_MAX bytes). */
static int secret_key(const char *secret, unsigned char key[KEY_MAX + 3])
{
    const char *b64;
    size_t n;
    int len;
    unsigned char again[4 * (KEY_MAX + 3) / 3 + 4];

    if (secret == NULL || strncmp(secret, PREFIX, sizeof PREFIX - 1) != 0)
        return -1;
    b64 = secret + sizeof PREFIX - 1;
    n = strlen(b64);
    if (n == 0 || n % 4 != 0 || n > 4 * ((KEY_MAX + 2) / 3))
        return -1;
    len = EVP_DecodeBlock(key, (const unsigned char *)b64, (int)n);
    if (len < 0)
        return -1;
    len -= (b64[n - 1] == '=') + (b64[n - 2] == '=');
    /* canonical only: encoding the bytes again gives the same text */
    EVP_EncodeBlock(again, key, len);
    if (len < 1 || len > KEY_MAX || strcmp((const char *)again, b64) != 0)
        return -1;
    return len;
}

bool whsign_sign(const char *secret, const char *msg_id, long long timestamp,
                 const char *body, size_t body_len, char out[WHSIGN_SIG_LEN])
{
    unsigned char key[KEY_MAX + 3], mac[EVP_MAX_MD_SIZE];
    size_t maclen = 0;
    char ts[32];
    int klen = secret_key(secret, key);
    EVP_MAC *m = NULL;
    EVP_MAC_CTX *h = NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end()};
    bool ok;

    if (klen < 0)
        return false;
    snprintf(ts, sizeof ts, ".%lld.", timestamp);
    ok = (m = EVP_MAC_fetch(NULL, "HMAC", NULL)) != NULL &&
         (h = EVP_MAC_CTX_new(m)) != NULL &&
         EVP_MAC_init(h, key, (size_t)klen, params) &&
         EVP_MAC_update(h, (const unsigned char *)msg_id, strlen(msg_id)) &&
         EVP_MAC_update(h, (const unsigned char *)ts, strlen(ts)) &&
         EVP_MAC_update(h, (const unsigned char *)body, body_len) &&
         EVP_MAC_final(h, mac, &maclen, sizeof mac) && maclen == 32;
    EVP_MAC_CTX_free(h);
    EVP_MAC_free(m);
    OPENSSL_cleanse(key, sizeof key);
    if (!ok)
        return false;
    out[0] = 'v', out[1] = '1', out[2] = ',';
    EVP_EncodeBlock((unsigned char *)out + 3, mac, 32);
    return true;
}
