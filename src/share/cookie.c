/* cookie.c: the unlock cookie of a password-protected share link: name, make, parse and verify. */
#include "share/cookie.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "crypto/hash.h"

const char *share_cookie_name(arena_t *a, const char *hash)
{
    return arena_printf(a, SHARE_COOKIE_PREFIX "%.16s", hash);
}

/* HMAC-SHA256(key, "share-unlock|<token hash>|<exp>") in hex; NULL
 * without a key. */
static const char *cookie_mac(arena_t *a, const char *key, const char *hash, long long exp)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    unsigned int mdlen = 0;
    const char *msg;

    if (key == NULL)
        return NULL;
    msg = arena_printf(a, "share-unlock|%s|%lld", hash, exp);
    if (HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)msg,
             strlen(msg), md, &mdlen) == NULL)
        return NULL;
    hash_hex(md, mdlen, hex);
    return arena_strdup(a, hex);
}

bool share_cookie_valid(arena_t *a, const char *cookies, const char *hash,
                        const char *key, long long now)
{
    const char *name = share_cookie_name(a, hash), *p, *mac;
    size_t nlen = strlen(name);
    long long exp;
    char *end;

    for (p = cookies; p && *p; p += strcspn(p, ";"), p += *p == ';') {
        size_t vlen;

        p += strspn(p, " \t");
        if (strncmp(p, name, nlen) != 0 || p[nlen] != '=')
            continue;
        p += nlen + 1;
        vlen = strcspn(p, ";");
        exp = strtoll(p, &end, 10);
        if (end == p || *end != '.' || exp <= now || exp > now + SHARE_UNLOCK_TTL + 60)
            continue;
        mac = cookie_mac(a, key, hash, exp);
        if (mac && (size_t)(p + vlen - (end + 1)) == strlen(mac) &&
            CRYPTO_memcmp(end + 1, mac, strlen(mac)) == 0)
            return true;
    }
    return false;
}

const char *share_cookie_make(arena_t *a, const char *hash, const char *key,
                              long long now, bool secure)
{
    long long exp = now + SHARE_UNLOCK_TTL;
    const char *mac = cookie_mac(a, key, hash, exp);

    if (mac == NULL)
        return NULL;
    return arena_printf(a, "%s=%lld.%s; Path=/; Max-Age=%ld; HttpOnly; SameSite=Lax%s",
                        share_cookie_name(a, hash), exp, mac, SHARE_UNLOCK_TTL,
                        secure ? "; Secure" : "");
}
