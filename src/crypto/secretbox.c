/* secretbox.c: AES-256-GCM for secrets at rest (OpenSSL EVP), key ring, stored form. */
#include "crypto/secretbox.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "crypto/random.h"

#define SECRETBOX_VERSION "v1"

static bool kid_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
           (c >= 'a' && c <= 'z') || c == '_' || c == '-';
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void secretbox_ring_clear(secretbox_ring_t *ring)
{
    if (ring != NULL)
        OPENSSL_cleanse(ring, sizeof(*ring));
}

const char *secretbox_current_kid(const secretbox_ring_t *ring)
{
    return ring->nkeys > 0 ? ring->keys[0].kid : NULL;
}

/* One "kid:hex64" entry of n characters at s. */
static bool ring_add(secretbox_ring_t *ring, const char *s, size_t n,
                     const char **why)
{
    const char *colon = memchr(s, ':', n);
    size_t klen;

    if (ring->nkeys == SECRETBOX_MAX_KEYS)
        return *why = "too many keys", false;
    if (colon == NULL || (klen = (size_t)(colon - s)) == 0 ||
        klen > SECRETBOX_KID_MAX)
        return *why = "an entry is not kid:hex64 (kid 1..32 characters)", false;
    for (size_t i = 0; i < klen; i++)
        if (!kid_char(s[i]))
            return *why = "a kid may use only A-Z a-z 0-9 _ -", false;
    if (n - klen - 1 != 2 * SECRETBOX_KEY_LEN)
        return *why = "a key must be 64 hexadecimal characters", false;
    for (int i = 0; i < ring->nkeys; i++)
        if (strlen(ring->keys[i].kid) == klen &&
            memcmp(ring->keys[i].kid, s, klen) == 0)
            return *why = "a kid appears twice", false;
    for (int i = 0; i < SECRETBOX_KEY_LEN; i++) {
        int hi = hex_digit(colon[1 + 2 * i]), lo = hex_digit(colon[2 + 2 * i]);

        if (hi < 0 || lo < 0)
            return *why = "a key must be 64 hexadecimal characters", false;
        ring->keys[ring->nkeys].key[i] = (unsigned char)(hi << 4 | lo);
    }
    memcpy(ring->keys[ring->nkeys].kid, s, klen);
    ring->keys[ring->nkeys].kid[klen] = '\0';
    ring->nkeys++;
    return true;
}

bool secretbox_ring_parse(secretbox_ring_t *ring, const char *spec,
                          const char **why)
{
    const char *dummy;

    if (why == NULL)
        why = &dummy;
    memset(ring, 0, sizeof(*ring));
    if (spec == NULL || *spec == '\0')
        return *why = "no keys configured", false;
    for (const char *s = spec;;) {
        size_t n = strcspn(s, ",");

        if (!ring_add(ring, s, n, why)) {
            secretbox_ring_clear(ring);
            return false;
        }
        if (s[n] == '\0')
            return true;
        s += n + 1;
    }
}

bool secretbox_gcm_seal(const unsigned char key[SECRETBOX_KEY_LEN],
                        const unsigned char nonce[SECRETBOX_NONCE_LEN],
                        const unsigned char *aad, size_t aad_len,
                        const unsigned char *pt, size_t len,
                        unsigned char *ct, unsigned char tag[SECRETBOX_TAG_LEN])
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0;
    bool ok = false;

    if (ctx == NULL || len > INT_MAX || aad_len > INT_MAX)
        goto out;
    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SECRETBOX_NONCE_LEN,
                            NULL) != 1 ||
        EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) != 1)
        goto out;
    if (aad_len > 0 && EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1)
        goto out;
    if (len > 0 && EVP_EncryptUpdate(ctx, ct, &n, pt, (int)len) != 1)
        goto out;
    if (EVP_EncryptFinal_ex(ctx, ct + (len > 0 ? n : 0), &n) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SECRETBOX_TAG_LEN,
                            tag) != 1)
        goto out;
    ok = true;
out:
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

bool secretbox_gcm_open(const unsigned char key[SECRETBOX_KEY_LEN],
                        const unsigned char nonce[SECRETBOX_NONCE_LEN],
                        const unsigned char *aad, size_t aad_len,
                        const unsigned char *ct, size_t len,
                        const unsigned char tag[SECRETBOX_TAG_LEN],
                        unsigned char *pt)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    unsigned char tagbuf[SECRETBOX_TAG_LEN], tail[16];
    int n = 0;
    bool ok = false;

    if (ctx == NULL || len > INT_MAX || aad_len > INT_MAX)
        goto out;
    memcpy(tagbuf, tag, sizeof tagbuf);
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SECRETBOX_NONCE_LEN,
                            NULL) != 1 ||
        EVP_DecryptInit_ex(ctx, NULL, NULL, key, nonce) != 1)
        goto out;
    if (aad_len > 0 && EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1)
        goto out;
    if (len > 0 && EVP_DecryptUpdate(ctx, pt, &n, ct, (int)len) != 1)
        goto out;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SECRETBOX_TAG_LEN,
                            tagbuf) != 1)
        goto out;
    ok = EVP_DecryptFinal_ex(ctx, tail, &n) == 1;   /* GCM: no output */
out:
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

/* Standard base64 with padding (EVP_EncodeBlock writes the NUL). */
static char *b64_encode(const unsigned char *p, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1);

    if (out != NULL)
        EVP_EncodeBlock((unsigned char *)out, p, (int)n);
    return out;
}

/* Strict decode of s[0..n): canonical padded base64 only (re-encoding
 * gives back the input).  Returns the length or -1; out holds n/4*3. */
static long b64_decode(const char *s, size_t n, unsigned char *out)
{
    long len;
    size_t pad = 0;
    char *again;
    bool same;

    if (n == 0 || n % 4 != 0 || n > INT_MAX)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '+' || c == '/' ||
              (c == '=' && i >= n - 2)))
            return -1;
    }
    pad = (s[n - 1] == '=') + (s[n - 2] == '=');
    if (s[n - 1] != '=' && s[n - 2] == '=')
        return -1;
    len = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
    if (len < 0)
        return -1;
    len -= (long)pad;
    if ((again = b64_encode(out, (size_t)len)) == NULL)
        return -1;
    same = strlen(again) == n && memcmp(again, s, n) == 0;
    free(again);
    return same ? len : -1;
}

char *secretbox_encrypt(const secretbox_ring_t *ring, const void *pt,
                        size_t len, const char *aad)
{
    unsigned char nonce[SECRETBOX_NONCE_LEN], *box = NULL;
    char *n64 = NULL, *c64 = NULL, *out = NULL;
    size_t need;

    if (ring->nkeys == 0 || len > SECRETBOX_MAX_PLAINTEXT)
        return NULL;
    if ((box = malloc(len + SECRETBOX_TAG_LEN)) == NULL)
        return NULL;
    random_bytes(nonce, sizeof nonce);
    if (!secretbox_gcm_seal(ring->keys[0].key, nonce, (const unsigned char *)aad,
                            aad ? strlen(aad) : 0, pt, len, box, box + len))
        goto out;
    if ((n64 = b64_encode(nonce, sizeof nonce)) == NULL ||
        (c64 = b64_encode(box, len + SECRETBOX_TAG_LEN)) == NULL)
        goto out;
    need = strlen(SECRETBOX_VERSION) + strlen(ring->keys[0].kid) +
           strlen(n64) + strlen(c64) + 4;
    if ((out = malloc(need)) != NULL)
        snprintf(out, need, "%s:%s:%s:%s", SECRETBOX_VERSION, ring->keys[0].kid,
                 n64, c64);
out:
    free(n64);
    free(c64);
    free(box);
    return out;
}

/* Split "v1:kid:nonce:box" into its parts (pointers into stored). */
static bool split_stored(const char *stored, const char **kid, size_t *kid_len,
                         const char **n64, size_t *n64_len, const char **c64)
{
    const char *p;

    if (stored == NULL || strncmp(stored, SECRETBOX_VERSION ":", 3) != 0)
        return false;
    *kid = stored + 3;
    *kid_len = strcspn(*kid, ":");
    if (*kid_len == 0 || *kid_len > SECRETBOX_KID_MAX || (*kid)[*kid_len] != ':')
        return false;
    for (size_t i = 0; i < *kid_len; i++)
        if (!kid_char((*kid)[i]))
            return false;
    *n64 = *kid + *kid_len + 1;
    *n64_len = strcspn(*n64, ":");
    if ((*n64)[*n64_len] != ':')
        return false;
    *c64 = *n64 + *n64_len + 1;
    for (p = *c64; *p; p++)
        if (*p == ':')
            return false;
    return true;
}

bool secretbox_stored_kid(const char *stored, char kid[SECRETBOX_KID_MAX + 1])
{
    const char *k, *n64, *c64;
    size_t klen, nlen;

    if (!split_stored(stored, &k, &klen, &n64, &nlen, &c64))
        return false;
    memcpy(kid, k, klen);
    kid[klen] = '\0';
    return true;
}

enum secretbox_error secretbox_decrypt(const secretbox_ring_t *ring,
                                       const char *stored, const char *aad,
                                       unsigned char **pt, size_t *len)
{
    const char *k, *n64, *c64;
    size_t klen, nlen, clen;
    unsigned char nonce[SECRETBOX_NONCE_LEN + 3], *box = NULL, *out = NULL;
    const unsigned char *key = NULL;
    enum secretbox_error e = SECRETBOX_MALFORMED;
    long n, m;

    *pt = NULL;
    *len = 0;
    if (!split_stored(stored, &k, &klen, &n64, &nlen, &c64))
        return SECRETBOX_MALFORMED;
    clen = strlen(c64);
    if (clen > 4 * ((SECRETBOX_MAX_PLAINTEXT + SECRETBOX_TAG_LEN + 2) / 3))
        return SECRETBOX_TOO_LONG;
    if (nlen != 16 || (n = b64_decode(n64, nlen, nonce)) != SECRETBOX_NONCE_LEN)
        return SECRETBOX_MALFORMED;
    for (int i = 0; i < ring->nkeys && key == NULL; i++)
        if (strlen(ring->keys[i].kid) == klen &&
            memcmp(ring->keys[i].kid, k, klen) == 0)
            key = ring->keys[i].key;
    if (key == NULL)
        return SECRETBOX_UNKNOWN_KID;
    if ((box = malloc(clen / 4 * 3 + 1)) == NULL)
        return SECRETBOX_MALFORMED;
    m = b64_decode(c64, clen, box);
    if (m < SECRETBOX_TAG_LEN)
        goto out;
    m -= SECRETBOX_TAG_LEN;
    if ((out = malloc((size_t)m + 1)) == NULL)
        goto out;
    if (!secretbox_gcm_open(key, nonce, (const unsigned char *)aad,
                            aad ? strlen(aad) : 0, box, (size_t)m, box + m, out)) {
        secretbox_free(out, (size_t)m);
        out = NULL;
        e = SECRETBOX_AUTH_FAILED;
        goto out;
    }
    out[m] = '\0';
    *pt = out;
    *len = (size_t)m;
    e = SECRETBOX_OK;
out:
    free(box);
    return e;
}

void secretbox_free(unsigned char *pt, size_t len)
{
    if (pt != NULL) {
        OPENSSL_cleanse(pt, len);
        free(pt);
    }
}

const char *secretbox_strerror(enum secretbox_error e)
{
    switch (e) {
    case SECRETBOX_OK: return "ok";
    case SECRETBOX_MALFORMED: return "malformed stored value";
    case SECRETBOX_UNKNOWN_KID: return "unknown key id";
    case SECRETBOX_AUTH_FAILED: return "authentication failed (wrong key, AAD or tampered)";
    case SECRETBOX_TOO_LONG: return "stored value too long";
    }
    return "unknown error";
}
