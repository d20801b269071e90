/* addrguard.c: classify IP addresses into special-purpose ranges, the operator's allow-list, guarded resolution. */
#include "net/addrguard.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An IPv4 range (RFC 6890 and successors): net in host order. */
struct v4_range {
    uint32_t net;
    int bits;
    const char *name;
};

/* Checked in order: the first match names the address. */
static const struct v4_range v4_special[] = {
    {0x00000000u, 8, "this network"},          /* 0.0.0.0/8 */
    {0x0A000000u, 8, "private"},               /* 10.0.0.0/8 */
    {0x64400000u, 10, "carrier-grade NAT"},    /* 100.64.0.0/10 */
    {0x7F000000u, 8, "loopback"},              /* 127.0.0.0/8 */
    {0xA9FE0000u, 16, "link-local"},           /* 169.254.0.0/16 */
    {0xAC100000u, 12, "private"},              /* 172.16.0.0/12 */
    {0xC0000000u, 24, "IETF protocol assignment"}, /* 192.0.0.0/24 */
    {0xC0000200u, 24, "documentation"},        /* 192.0.2.0/24 */
    {0xC0586300u, 24, "reserved"},             /* 192.88.99.0/24, 6to4 relays */
    {0xC0A80000u, 16, "private"},              /* 192.168.0.0/16 */
    {0xC6120000u, 15, "benchmarking"},         /* 198.18.0.0/15 */
    {0xC6336400u, 24, "documentation"},        /* 198.51.100.0/24 */
    {0xCB007100u, 24, "documentation"},        /* 203.0.113.0/24 */
    {0xE0000000u, 4, "multicast"},             /* 224.0.0.0/4 */
    {0xFFFFFFFFu, 32, "broadcast"},            /* 255.255.255.255 */
    {0xF0000000u, 4, "reserved"},              /* 240.0.0.0/4 */
};

/* How an IPv6 range is judged. */
enum v6_kind {
    V6_REFUSE,     /* always special */
    V6_MAPPED,     /* ::ffff:a.b.c.d: the IPv4 address, never public */
    V6_EMBED96,    /* NAT64: the IPv4 address in the last 32 bits */
    V6_6TO4,       /* 2002:AABB:CCDD::/48: the IPv4 address in bits 16..47 */
};

struct v6_range {
    unsigned char net[16];
    int bits;
    enum v6_kind kind;
    const char *name;
};

static const struct v6_range v6_special[] = {
    {{0}, 128, V6_REFUSE, "unspecified"},                                   /* :: */
    {{[15] = 1}, 128, V6_REFUSE, "loopback"},                               /* ::1 */
    {{[10] = 0xff, [11] = 0xff}, 96, V6_MAPPED, "IPv4-mapped"},             /* ::ffff:0:0/96 */
    {{0}, 96, V6_REFUSE, "IPv4-compatible"},                                /* ::/96 */
    {{0x00, 0x64, 0xff, 0x9b}, 96, V6_EMBED96, "NAT64"},                    /* 64:ff9b::/96 */
    {{0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}, 48, V6_REFUSE, "private"},       /* 64:ff9b:1::/48 */
    {{0x01, 0x00}, 64, V6_REFUSE, "discard-only"},                          /* 100::/64 */
    {{0x20, 0x01, 0x00, 0x00}, 32, V6_REFUSE, "Teredo"},                    /* 2001::/32 */
    {{0x20, 0x01, 0x00, 0x02, 0x00, 0x00}, 48, V6_REFUSE, "benchmarking"},  /* 2001:2::/48 */
    {{0x20, 0x01, 0x0d, 0xb8}, 32, V6_REFUSE, "documentation"},             /* 2001:db8::/32 */
    {{0x20, 0x01, 0x00, 0x00}, 23, V6_REFUSE, "IETF protocol assignment"},  /* 2001::/23 */
    {{0x20, 0x02}, 16, V6_6TO4, "6to4"},                                    /* 2002::/16 */
    {{0x3f, 0xff}, 20, V6_REFUSE, "documentation"},                         /* 3fff::/20 */
    {{0xfc}, 7, V6_REFUSE, "unique local"},                                 /* fc00::/7 */
    {{0xfe, 0x80}, 10, V6_REFUSE, "link-local"},                            /* fe80::/10 */
    {{0xfe, 0xc0}, 10, V6_REFUSE, "site-local"},                            /* fec0::/10 */
    {{0xff}, 8, V6_REFUSE, "multicast"},                                    /* ff00::/8 */
};

/* True when the first bits of a and b are equal. */
static bool prefix_match(const unsigned char *a, const unsigned char *b, int bits)
{
    int whole = bits / 8, rest = bits % 8;

    if (memcmp(a, b, (size_t)whole) != 0)
        return false;
    if (rest == 0)
        return true;
    return ((a[whole] ^ b[whole]) & (0xff00 >> rest) & 0xff) == 0;
}

static const char *classify_v4(const unsigned char *b)
{
    uint32_t a = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];

    for (size_t i = 0; i < sizeof v4_special / sizeof v4_special[0]; i++) {
        uint32_t mask = v4_special[i].bits == 0 ? 0 : 0xFFFFFFFFu << (32 - v4_special[i].bits);

        if ((a & mask) == v4_special[i].net)
            return v4_special[i].name;
    }
    return NULL;
}

static const char *classify_v6(const unsigned char *b)
{
    for (size_t i = 0; i < sizeof v6_special / sizeof v6_special[0]; i++) {
        const struct v6_range *r = &v6_special[i];
        const char *inner;

        if (!prefix_match(b, r->net, r->bits))
            continue;
        switch (r->kind) {
        case V6_MAPPED:
            inner = classify_v4(b + 12);
            return inner ? inner : r->name;
        case V6_EMBED96:
            return classify_v4(b + 12);
        case V6_6TO4:
            return classify_v4(b + 2);
        default:
            return r->name;
        }
    }
    /* outside 2000::/3 nothing is allocated for global unicast */
    return (b[0] & 0xe0) == 0x20 ? NULL : "reserved";
}

const char *addrguard_classify(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return classify_v4((const unsigned char *)
                           &((const struct sockaddr_in *)(const void *)sa)->sin_addr);
    if (sa->sa_family == AF_INET6)
        return classify_v6(((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr);
    return "not an IP address";
}

/* sa as (family, bytes), an IPv4-mapped IPv6 address as IPv4. */
static int addr_bytes(const struct sockaddr *sa, const unsigned char **b)
{
    static const unsigned char mapped[12] = {[10] = 0xff, [11] = 0xff};

    if (sa->sa_family == AF_INET) {
        *b = (const unsigned char *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
        return AF_INET;
    }
    if (sa->sa_family == AF_INET6) {
        *b = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
        if (memcmp(*b, mapped, sizeof mapped) == 0) {
            *b += 12;
            return AF_INET;
        }
        return AF_INET6;
    }
    return AF_UNSPEC;
}

bool addrguard_allowed(const addrguard_allow_t *allow, const struct sockaddr *sa)
{
    const unsigned char *b = NULL;
    int family = addr_bytes(sa, &b);

    if (family == AF_UNSPEC)
        return false;
    for (size_t i = 0; allow && i < allow->n; i++)
        if (allow->cidr[i].family == family &&
            prefix_match(b, allow->cidr[i].net, allow->cidr[i].bits))
            return true;
    return false;
}

const char *addrguard_check(const addrguard_allow_t *allow, const struct sockaddr *sa)
{
    if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
        return "not an IP address";
    return addrguard_allowed(allow, sa) ? NULL : addrguard_classify(sa);
}

/* One entry "addr[/bits]" (already trimmed, NUL-terminated). */
static bool cidr_parse(char *s, addrguard_cidr_t *c)
{
    char *slash = strchr(s, '/');
    int max, whole, rest;
    long bits;

    if (slash != NULL)
        *slash = '\0';
    memset(c, 0, sizeof *c);
    if (inet_pton(AF_INET, s, c->net) == 1)
        c->family = AF_INET, max = 32;
    else if (inet_pton(AF_INET6, s, c->net) == 1)
        c->family = AF_INET6, max = 128;
    else
        return false;
    bits = max;
    if (slash != NULL) {
        char *end;

        if (!isdigit((unsigned char)slash[1]) || strlen(slash + 1) > 3)
            return false;
        bits = strtol(slash + 1, &end, 10);
        if (*end != '\0' || bits > max)
            return false;
    }
    c->bits = (int)bits;
    whole = c->bits / 8;
    rest = c->bits % 8;
    if (whole < 16) {
        c->net[whole] &= (unsigned char)(0xff00 >> rest);
        memset(c->net + whole + 1, 0, (size_t)(15 - whole));
    }
    return true;
}

bool addrguard_allow_parse(const char *list, addrguard_allow_t *out,
                           char *err, size_t errlen)
{
    const char *p = list ? list : "";

    out->n = 0;
    if (*p == '\0')
        return true;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char item[80];

        while (len > 0 && isspace((unsigned char)*p))
            p++, len--;
        while (len > 0 && isspace((unsigned char)p[len - 1]))
            len--;
        if (len == 0 || len >= sizeof item) {
            snprintf(err, errlen, "%s", len == 0 ? "an empty entry" : "an entry is too long");
            return false;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        if (out->n == ADDRGUARD_MAX_CIDRS) {
            snprintf(err, errlen, "more than %d entries", ADDRGUARD_MAX_CIDRS);
            return false;
        }
        if (!cidr_parse(item, &out->cidr[out->n])) {
            snprintf(err, errlen, "'%.*s' is not an IPv4 or IPv6 address or CIDR", (int)len, p);
            return false;
        }
        out->n++;
        if (end == NULL)
            return true;
        p = end + 1;
    }
}

/* getaddrinfo: a numeric form first (so "0x7f.1" is never sent to DNS). */
static int resolve_any(const char *host, struct addrinfo **res)
{
    struct addrinfo hints;
    int rc;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST;
    if ((rc = getaddrinfo(host, NULL, &hints, res)) != EAI_NONAME)
        return rc;
    hints.ai_flags = 0;
    return getaddrinfo(host, NULL, &hints, res);
}

size_t addrguard_resolve(const char *host, const addrguard_allow_t *allow,
                         addrguard_addrs_t *out)
{
    struct addrinfo *res = NULL;
    int rc;

    out->n = 0;
    out->why[0] = '\0';
    if ((rc = resolve_any(host, &res)) != 0) {
        snprintf(out->why, sizeof out->why, "%.80s does not resolve: %s", host, gai_strerror(rc));
        return 0;
    }
    for (struct addrinfo *ai = res; ai && out->n < ADDRGUARD_MAX_ADDRS; ai = ai->ai_next) {
        char text[INET6_ADDRSTRLEN];
        const void *bin = ai->ai_family == AF_INET
            ? (const void *)&((struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr
            : (const void *)&((struct sockaddr_in6 *)(void *)ai->ai_addr)->sin6_addr;
        const char *why;
        bool seen = false;

        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        inet_ntop(ai->ai_family, bin, text, sizeof text);
        if ((why = addrguard_check(allow, ai->ai_addr)) != NULL) {
            if (out->why[0] == '\0')
                snprintf(out->why, sizeof out->why, "%.60s: %s is in a refused range (%s)",
                         host, text, why);
            continue;
        }
        for (size_t i = 0; i < out->n; i++)
            seen = seen || strcmp(out->text[i], text) == 0;
        if (!seen)
            snprintf(out->text[out->n++], sizeof out->text[0], "%s", text);
    }
    freeaddrinfo(res);
    if (out->n > 0)
        out->why[0] = '\0';
    else if (out->why[0] == '\0')
        snprintf(out->why, sizeof out->why, "%.80s has no IP address", host);
    return out->n;
}
