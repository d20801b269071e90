/* apikey.c: API key format (pmtd_ + base62 randomness + CRC32), checks, HMAC. */
#include "auth/apikey.h"

#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <zlib.h>

#include "core/config.h"
#include "crypto/hash.h"
#include "crypto/random.h"

static const char *apikey_pepper_value;   /* static string, or NULL */

static const char apikey_alphabet[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static bool apikey_base62(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
           (c >= 'a' && c <= 'z');
}

/* Uniform base62 characters by rejection: bytes >= 248 (4 x 62) are
 * dropped, so every character is equally likely. */
void apikey_generate(char out[APIKEY_LEN + 1])
{
    unsigned char buf[64];
    size_t n = 0, i = sizeof buf;
    char *rnd = out + APIKEY_PREFIX_LEN;

    memcpy(out, APIKEY_PREFIX, APIKEY_PREFIX_LEN);
    while (n < APIKEY_RANDOM_LEN) {
        if (i == sizeof buf) {
            random_bytes(buf, sizeof buf);
            i = 0;
        }
        if (buf[i] < 248)
            rnd[n++] = apikey_alphabet[buf[i] % 62];
        i++;
    }
    OPENSSL_cleanse(buf, sizeof buf);
    apikey_checksum(rnd, APIKEY_RANDOM_LEN, rnd + APIKEY_RANDOM_LEN);
    out[APIKEY_LEN] = '\0';
}

bool apikey_has_prefix(const char *s)
{
    return s != NULL && strncmp(s, APIKEY_PREFIX, APIKEY_PREFIX_LEN) == 0;
}

void apikey_checksum(const char *random, size_t n, char out[APIKEY_CHECK_LEN])
{
    uint32_t crc = (uint32_t)crc32(0L, (const Bytef *)random, (uInt)n);

    for (int i = APIKEY_CHECK_LEN - 1; i >= 0; i--) {
        out[i] = apikey_alphabet[crc % 62];
        crc /= 62;
    }
}

bool apikey_valid(const char *s)
{
    char check[APIKEY_CHECK_LEN];
    const char *rnd;

    if (!apikey_has_prefix(s) || strnlen(s, APIKEY_LEN + 1) != APIKEY_LEN)
        return false;
    rnd = s + APIKEY_PREFIX_LEN;
    for (int i = 0; i < APIKEY_RANDOM_LEN + APIKEY_CHECK_LEN; i++)
        if (!apikey_base62(rnd[i]))
            return false;
    apikey_checksum(rnd, APIKEY_RANDOM_LEN, check);
    return memcmp(check, rnd + APIKEY_RANDOM_LEN, APIKEY_CHECK_LEN) == 0;
}

void apikey_settings_load(void)
{
    apikey_pepper_value = config_secret("PROMPTD_API_KEY_PEPPER", "api_key_pepper");
}

const char *apikey_pepper(void)
{
    return apikey_pepper_value;
}

bool apikey_hmac_hex(const char *pepper, const char *key,
                     char out[APIKEY_HMAC_HEX_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    if (pepper == NULL || *pepper == '\0')
        return false;
    if (HMAC(EVP_sha256(), pepper, (int)strlen(pepper),
             (const unsigned char *)key, strlen(key), md, &len) == NULL ||
        len != 32)
        return false;
    hash_hex(md, len, out);
    return true;
}

void apikey_display(const char *key, char prefix[APIKEY_DISPLAY_LEN + 1],
                    char last_four[5])
{
    memcpy(prefix, key, APIKEY_DISPLAY_LEN);
    prefix[APIKEY_DISPLAY_LEN] = '\0';
    memcpy(last_four, key + APIKEY_LEN - 4, 4);
    last_four[4] = '\0';
}
