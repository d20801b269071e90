/* metrics_access.c: who may read GET /metrics (CRED_METRICS): loopback, PROMPTD_METRICS_ALLOW, or PROMPTD_METRICS_TOKEN. */
#include "http/metrics_access.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "core/config.h"
#include "http/credential.h"

/* addr as 16 bytes (IPv4 mapped into ::ffff:0:0/96); false when not an
 * address. */
static bool maccess_parse(const char *addr, unsigned char out[16])
{
    struct in_addr v4;

    if (inet_pton(AF_INET6, addr, out) == 1)
        return true;
    if (inet_pton(AF_INET, addr, &v4) != 1)
        return false;
    memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    memcpy(out + 12, &v4, 4);
    return true;
}

/* The first bits bits of a and b agree. */
static bool maccess_prefix_eq(const unsigned char *a, const unsigned char *b, int bits)
{
    int bytes = bits / 8, rest = bits % 8;

    if (memcmp(a, b, (size_t)bytes) != 0)
        return false;
    return rest == 0 || ((a[bytes] ^ b[bytes]) & (0xff << (8 - rest)) & 0xff) == 0;
}

/* One CIDR entry ("a.b.c.d/n", "x::/n", or an address) holds ip. */
static bool maccess_cidr_has(const char *entry, size_t len, const unsigned char ip[16])
{
    char buf[64], *slash;
    unsigned char net[16];
    bool v4;
    long bits;
    char *end;

    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, entry, len);
    buf[len] = '\0';
    if ((slash = strchr(buf, '/')))
        *slash = '\0';
    v4 = strchr(buf, ':') == NULL;
    if (!maccess_parse(buf, net))
        return false;
    bits = v4 ? 32 : 128;
    if (slash) {
        bits = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end != '\0' || bits < 0 || bits > (v4 ? 32 : 128))
            return false;
    }
    return maccess_prefix_eq(net, ip, (int)(v4 ? bits + 96 : bits));
}

bool metrics_access_addr_allowed(const char *addr, const char *list)
{
    static const char *const loopback[] = {"127.0.0.0/8", "::1/128", NULL};
    unsigned char ip[16];

    if (!addr || !maccess_parse(addr, ip))
        return false;
    for (int i = 0; loopback[i]; i++)
        if (maccess_cidr_has(loopback[i], strlen(loopback[i]), ip))
            return true;
    while (list && *list) {
        size_t sp = strspn(list, " \t"), n;

        list += sp;
        n = strcspn(list, ",");
        while (n > 0 && (list[n - 1] == ' ' || list[n - 1] == '\t'))
            n--;
        if (maccess_cidr_has(list, n, ip))
            return true;
        list += strcspn(list, ",");
        if (*list == ',')
            list++;
    }
    return false;
}

/* A bearer value shaped as a JWT: three non-empty base64url parts. */
static bool metrics_access_jwt_shaped(const char *v)
{
    size_t a = strcspn(v, "."), b;

    if (a == 0 || v[a] != '.')
        return false;
    b = strcspn(v + a + 1, ".");
    return b > 0 && v[a + 1 + b] == '.' && v[a + 2 + b] != '\0' &&
           strchr(v + a + 2 + b, '.') == NULL;
}

enum metrics_access metrics_access_check(req_t *r)
{
    const char *h = req_header(r, "Authorization");
    const char *token;
    bool bearer = h != NULL && strncasecmp(h, "Bearer ", 7) == 0;

    if (h != NULL) {
        token = config_secret("PROMPTD_METRICS_TOKEN", "metrics_token");
        if (bearer && token != NULL && *token != '\0' && strlen(h + 7) == strlen(token) &&
            CRYPTO_memcmp(h + 7, token, strlen(token)) == 0)
            return METRICS_ACCESS_OK;
        if (!bearer || credential_presented(r) == CRED_APIKEY || metrics_access_jwt_shaped(h + 7))
            return METRICS_ACCESS_WRONG_KIND;
        return METRICS_ACCESS_BAD_TOKEN;
    }
    if (req_header(r, "X-API-Key") != NULL)
        return METRICS_ACCESS_WRONG_KIND;
    return metrics_access_addr_allowed(r->remote_addr, config_env("PROMPTD_METRICS_ALLOW"))
           ? METRICS_ACCESS_OK : METRICS_ACCESS_DENIED;
}
