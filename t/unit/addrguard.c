/* addrguard.c: unit tests for the SSRF address guard: every special range, both families, IPv4 literal forms, the allow-list. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "net/addrguard.h"
#include "tap.h"

/* A standard-form address literal as a sockaddr. */
static const struct sockaddr *sa_of(const char *text)
{
    static struct sockaddr_storage ss;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;

    memset(&ss, 0, sizeof ss);
    if (inet_pton(AF_INET, text, &v4->sin_addr) == 1)
        v4->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1)
        v6->sin6_family = AF_INET6;
    else
        abort();
    return (const struct sockaddr *)&ss;
}

/* address, its range (NULL: public) */
static const char *const ranges[][2] = {
    {"0.0.0.0", "this network"}, {"0.1.2.3", "this network"},
    {"10.0.0.1", "private"}, {"10.255.255.255", "private"},
    {"100.63.255.255", NULL}, {"100.64.0.1", "carrier-grade NAT"},
    {"100.127.255.255", "carrier-grade NAT"}, {"100.128.0.0", NULL},
    {"127.0.0.1", "loopback"}, {"127.255.255.254", "loopback"},
    {"169.254.169.254", "link-local"}, {"169.253.255.255", NULL},
    {"172.15.255.255", NULL}, {"172.16.0.1", "private"},
    {"172.31.255.255", "private"}, {"172.32.0.0", NULL},
    {"192.0.0.8", "IETF protocol assignment"}, {"192.0.2.1", "documentation"},
    {"192.0.3.1", NULL}, {"192.88.99.1", "reserved"},
    {"192.168.1.1", "private"}, {"192.169.0.1", NULL},
    {"198.17.255.255", NULL}, {"198.18.0.1", "benchmarking"},
    {"198.19.255.255", "benchmarking"}, {"198.20.0.0", NULL},
    {"198.51.100.7", "documentation"}, {"203.0.113.9", "documentation"},
    {"224.0.0.1", "multicast"}, {"239.255.255.250", "multicast"},
    {"240.0.0.1", "reserved"}, {"255.255.255.254", "reserved"},
    {"255.255.255.255", "broadcast"},
    {"8.8.8.8", NULL}, {"1.1.1.1", NULL}, {"93.184.216.34", NULL},
    {"223.255.255.255", NULL},
    /* IPv6 */
    {"::", "unspecified"}, {"::1", "loopback"},
    {"::ffff:127.0.0.1", "loopback"}, {"::ffff:10.0.0.1", "private"},
    {"::ffff:169.254.169.254", "link-local"}, {"::ffff:0.0.0.0", "this network"},
    {"::ffff:8.8.8.8", "IPv4-mapped"},
    {"::127.0.0.1", "IPv4-compatible"}, {"::8.8.8.8", "IPv4-compatible"},
    {"64:ff9b::7f00:1", "loopback"}, {"64:ff9b::a9fe:a9fe", "link-local"},
    {"64:ff9b::808:808", NULL}, {"64:ff9b:1::1", "private"},
    {"100::1", "discard-only"},
    {"2001::1", "Teredo"}, {"2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"},
    {"2001:2::1", "benchmarking"}, {"2001:db8::1", "documentation"},
    {"2001:db8:ffff:ffff::1", "documentation"}, {"2001:10::1", "IETF protocol assignment"},
    {"2001:200::1", NULL},
    {"2002:7f00:1::1", "loopback"}, {"2002:c0a8:101::1", "private"},
    {"2002:a9fe:a9fe::1", "link-local"}, {"2002:808:808::1", NULL},
    {"3fff::1", "documentation"}, {"3fff:fff::1", "documentation"},
    {"fc00::1", "unique local"}, {"fd12:3456::1", "unique local"},
    {"fe80::1", "link-local"}, {"febf::1", "link-local"},
    {"fec0::1", "site-local"}, {"ff02::1", "multicast"}, {"ff0e::1", "multicast"},
    {"2606:4700:4700::1111", NULL}, {"2a00:1450:4001::1", NULL},
    {"4000::1", "reserved"}, {"5f00::1", "reserved"}, {"e000::1", "reserved"},
};

static void test_ranges(void)
{
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        is_str(addrguard_classify(sa_of(ranges[i][0])), ranges[i][1], "%s is %s",
               ranges[i][0], ranges[i][1] ? ranges[i][1] : "public");
}

/* host as the resolver takes it, the address it must come out as */
static const char *const forms[][2] = {
    {"2130706433", "127.0.0.1"},          /* decimal */
    {"0177.0.0.1", "127.0.0.1"},          /* octal */
    {"0x7f.1", "127.0.0.1"},              /* hex, short */
    {"0x7f000001", "127.0.0.1"},
    {"017700000001", "127.0.0.1"},
    {"127.1", "127.0.0.1"},               /* short */
    {"127.0.1", "127.0.0.1"},
    {"0xa9.0xfe.0xa9.0xfe", "169.254.169.254"},
    {"3232235777", "192.168.1.1"},
    {"0", "0.0.0.0"},
    {"0x0A.1", "10.0.0.1"},
    {"::1", "::1"},
    {"::ffff:7f00:1", "::ffff:127.0.0.1"},
    {"localhost", "127.0.0.1"},           /* a name resolving to loopback */
};

static void test_forms(void)
{
    addrguard_allow_t none = {0};
    addrguard_addrs_t out;

    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        is_int(addrguard_resolve(forms[i][0], &none, &out), 0, "%s is refused", forms[i][0]);
        ok(strstr(out.why, forms[i][1]) != NULL || strcmp(forms[i][0], "localhost") == 0,
           "  as %s (%s)", forms[i][1], out.why);
    }
    ok(addrguard_resolve("localhost", &none, &out) == 0 && strstr(out.why, "loopback"),
       "localhost resolves to loopback only: refused (%s)", out.why);
    ok(addrguard_resolve("134744072", &none, &out) == 1 && strcmp(out.text[0], "8.8.8.8") == 0,
       "decimal 134744072 is the public 8.8.8.8: kept as its address");
    ok(addrguard_resolve("0x08.0x08.0x08.0x08", &none, &out) == 1 &&
       strcmp(out.text[0], "8.8.8.8") == 0, "hex 8.8.8.8 kept as 8.8.8.8");
    ok(addrguard_resolve("2606:4700:4700::1111", &none, &out) == 1 &&
       strcmp(out.text[0], "2606:4700:4700::1111") == 0, "a public IPv6 literal is kept");
    ok(addrguard_resolve("no-such-host.invalid", &none, &out) == 0 &&
       strstr(out.why, "does not resolve"), "an unknown name: %s", out.why);
    ok(addrguard_resolve("", &none, &out) == 0, "an empty host is refused");
}

static void test_allow_parse(void)
{
    static const char *const bad[] = {
        "10.0.0.0/33", "::1/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8/8", "10.1",
        "0x7f.0.0.1/8", "2130706433", "localhost", "10.0.0.0/8,", ",", " , ",
        "10.0.0.0 8", "10.0.0.0/8x", "10.0.0.0/+8", "[::1]", "::1/1280", "fe80::1%lo",
        NULL};
    addrguard_allow_t a;
    char err[160];

    ok(addrguard_allow_parse(NULL, &a, err, sizeof err) && a.n == 0, "unset: empty list");
    ok(addrguard_allow_parse("", &a, err, sizeof err) && a.n == 0, "empty: empty list");
    ok(addrguard_allow_parse(" 127.0.0.0/8 , ::1/128,10.1.2.3", &a, err, sizeof err) &&
       a.n == 3, "three entries, spaces allowed");
    is_int(a.cidr[2].bits, 32, "an address alone is a /32");
    ok(addrguard_allow_parse("2001:db8::1", &a, err, sizeof err) && a.cidr[0].bits == 128,
       "an IPv6 address alone is a /128");
    ok(addrguard_allow_parse("10.1.2.3/8", &a, err, sizeof err) &&
       a.cidr[0].net[0] == 10 && a.cidr[0].net[1] == 0 && a.cidr[0].net[3] == 0,
       "host bits are cleared");
    for (const char *const *b = bad; *b; b++)
        ok(!addrguard_allow_parse(*b, &a, err, sizeof err), "refused: '%s' (%s)", *b, err);
    ok(!addrguard_allow_parse("10.0.0.0/8, 10.1", &a, err, sizeof err) &&
       strstr(err, "'10.1'"), "the message names the bad entry: %s", err);
}

static void test_allowed(void)
{
    addrguard_allow_t a;
    addrguard_addrs_t out;
    char err[160];

    addrguard_allow_parse("127.0.0.0/8, ::1/128, 100.64.0.0/10, 2001:db8::/32, 10.9.8.7",
                          &a, err, sizeof err);
    ok(addrguard_check(&a, sa_of("127.0.0.1")) == NULL, "127.0.0.1 allow-listed");
    ok(addrguard_check(&a, sa_of("127.200.1.1")) == NULL, "127.200.1.1 in 127.0.0.0/8");
    ok(addrguard_check(&a, sa_of("::ffff:127.0.0.1")) == NULL,
       "::ffff:127.0.0.1 matched as IPv4");
    ok(addrguard_check(&a, sa_of("::1")) == NULL, "::1 allow-listed");
    ok(addrguard_check(&a, sa_of("100.127.255.255")) == NULL, "/10 upper edge");
    is_str(addrguard_check(&a, sa_of("100.128.0.0")), NULL, "public beyond the /10 edge");
    ok(addrguard_check(&a, sa_of("2001:db8:ffff::1")) == NULL, "2001:db8::/32 allow-listed");
    ok(addrguard_check(&a, sa_of("10.9.8.7")) == NULL, "a /32 entry");
    is_str(addrguard_check(&a, sa_of("10.9.8.6")), "private", "its neighbour is not");
    is_str(addrguard_check(&a, sa_of("192.168.0.1")), "private", "192.168.0.1 still refused");
    is_str(addrguard_check(&a, sa_of("::2")), "IPv4-compatible", "::2 still refused");
    is_str(addrguard_check(&a, sa_of("fe80::1")), "link-local", "fe80::1 still refused");
    ok(addrguard_resolve("localhost", &a, &out) >= 1 && strcmp(out.text[0], "127.0.0.1") == 0,
       "localhost passes with 127.0.0.0/8 allow-listed");
    ok(addrguard_resolve("0x7f.1", &a, &out) == 1 && strcmp(out.text[0], "127.0.0.1") == 0,
       "0x7f.1 passes as 127.0.0.1");

    addrguard_allow_parse("0.0.0.0/0", &a, err, sizeof err);
    ok(addrguard_check(&a, sa_of("10.0.0.1")) == NULL, "0.0.0.0/0 allows every IPv4 address");
    is_str(addrguard_check(&a, sa_of("::1")), "loopback", "  but no IPv6 one");
    addrguard_allow_parse("::/0", &a, err, sizeof err);
    ok(addrguard_check(&a, sa_of("fc00::1")) == NULL, "::/0 allows every IPv6 address");
    is_str(addrguard_check(&a, sa_of("10.0.0.1")), "private", "  but no IPv4 one");
}

int main(void)
{
    test_ranges();
    test_forms();
    test_allow_parse();
    test_allowed();
    return done_testing();
}
