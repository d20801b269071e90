/* hash.c: SHA-256 over OpenSSL's EVP interface, and hex encoding. */
#include "crypto/hash.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/evp.h>

void
hash_sha256(const hash_part_t *parts, size_t n, unsigned char md[HASH_SHA256_LEN])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int mdlen = 0;
    bool ok;

    ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
    for (size_t i = 0; ok && i < n; i++)
        ok = EVP_DigestUpdate(ctx, parts[i].p, parts[i].len) == 1;
    ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == HASH_SHA256_LEN;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        fprintf(stderr, "%s: SHA-256 failed; aborting\n", __func__);
        abort();
    }
}

void
hash_hex(const unsigned char *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 0x0f];
    }
    out[2 * n] = '\0';
}

void
hash_sha256_parts_hex(const hash_part_t *parts, size_t n, char out[HASH_SHA256_HEX])
{
    unsigned char md[HASH_SHA256_LEN];

    hash_sha256(parts, n, md);
    hash_hex(md, sizeof md, out);
}

void
hash_sha256_hex(const void *data, size_t len, char out[HASH_SHA256_HEX])
{
    hash_part_t part = {data, len};

    hash_sha256_parts_hex(&part, 1, out);
}
