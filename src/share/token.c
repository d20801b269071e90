/* token.c: share-link tokens: minting, the lookup hash, the public URL. */
#include "share/token.h"

#include <string.h>

#include <openssl/crypto.h>

#include "core/config.h"
#include "crypto/hash.h"
#include "crypto/random.h"

void share_token_new(char out[SHARE_TOKEN_SIZE])
{
    unsigned char raw[SHARE_TOKEN_BYTES];

    random_bytes(raw, sizeof raw);
    b64url_encode(raw, sizeof raw, out);
    OPENSSL_cleanse(raw, sizeof raw);
}

const char *share_token_hash(arena_t *a, const char *token)
{
    char hex[HASH_SHA256_HEX];

    hash_sha256_hex(token, strlen(token), hex);
    return arena_strdup(a, hex);
}

const char *share_token_url(arena_t *a, const char *token)
{
    const config_t *cfg = config_load(false);

    return arena_printf(a, "%s/s/%s", cfg->site_url, token);
}
