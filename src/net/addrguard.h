/* addrguard.h: which IP addresses an outbound request to a user-chosen URL may reach (SSRF guard). */
#ifndef PROMPTD_ADDRGUARD_H
#define PROMPTD_ADDRGUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define ADDRGUARD_MAX_CIDRS 64   /* entries of one allow-list */
#define ADDRGUARD_MAX_ADDRS 16   /* addresses kept from one resolution */

/* One network: family AF_INET or AF_INET6, the address (4 or 16 bytes,
 * host bits cleared) and the prefix length. */
typedef struct addrguard_cidr {
    int family;
    unsigned char net[16];
    int bits;
} addrguard_cidr_t;

/* The operator's allow-list (PROMPTD_OUTBOUND_ALLOW): networks reachable
 * even though they are special (a test's loopback, a private deployment). */
typedef struct addrguard_allow {
    size_t n;
    addrguard_cidr_t cidr[ADDRGUARD_MAX_CIDRS];
} addrguard_allow_t;

/* The addresses a host name resolved to that passed the check, in the
 * resolver's order, as text ("192.0.2.1", "2001:db8::1") ready for
 * CURLOPT_RESOLVE. */
typedef struct addrguard_addrs {
    size_t n;
    char text[ADDRGUARD_MAX_ADDRS][46];
    char why[160];               /* the refusal, when n is 0 */
} addrguard_addrs_t;

/* Parse "10.0.0.0/8, ::1/128, 192.0.2.7" (an address alone is a host
 * route; host bits beyond the prefix are cleared) into out.  Addresses
 * must be in the standard dotted-quad or RFC 4291 text form.  NULL or ""
 * is the empty list.  On failure returns false and writes the reason,
 * naming the bad entry, into err. */
bool addrguard_allow_parse(const char *list, addrguard_allow_t *out,
                           char *err, size_t errlen);

/* The special-purpose range holding sa, as a static lower-case name
 * ("loopback", "private", "link-local", "carrier-grade NAT", "multicast",
 * "documentation", ...), or NULL for a globally routable unicast address.
 * IPv4-mapped, NAT64 (64:ff9b::/96) and 6to4 (2002::/16) addresses are
 * judged by the IPv4 address they carry; an IPv4-mapped address is never
 * public ("IPv4-mapped" when its IPv4 address is). */
const char *addrguard_classify(const struct sockaddr *sa);

/* True when allow holds sa (an IPv4-mapped address is matched as IPv4). */
bool addrguard_allowed(const addrguard_allow_t *allow, const struct sockaddr *sa);

/* NULL when sa may be connected to (allow-listed, or public); else the
 * static name of its range. */
const char *addrguard_check(const addrguard_allow_t *allow, const struct sockaddr *sa);

/* Resolve host (an address literal in any form getaddrinfo accepts,
 * decimal/octal/hex/short IPv4 included, or a name) and keep in out the
 * addresses addrguard_check passes.  Returns out->n; 0 when the name does
 * not resolve or every address is refused, with out->why saying which
 * (the first refused address and its range).  Blocks on DNS. */
size_t addrguard_resolve(const char *host, const addrguard_allow_t *allow,
                         addrguard_addrs_t *out);

#endif
