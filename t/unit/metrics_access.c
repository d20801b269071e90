/* t/unit/metrics_access.c: the /metrics address check: loopback always, PROMPTD_METRICS_ALLOW's IPv4 and IPv6 CIDRs, malformed entries matching nothing. */
#include "http/metrics_access.h"
#include "tap.h"

static const struct {
    const char *addr, *list;
    bool allowed;
} cases[] = {
    {"127.0.0.1", NULL, true},
    {"127.8.9.10", "", true},
    {"::1", NULL, true},
    {"::ffff:127.0.0.1", NULL, true},
    {"10.1.2.3", NULL, false},
    {"10.1.2.3", "10.0.0.0/8", true},
    {"11.1.2.3", "10.0.0.0/8", false},
    {"192.168.1.77", " 10.0.0.0/8 , 192.168.1.64/26", true},
    {"192.168.1.128", "192.168.1.64/26", false},
    {"192.168.1.5", "192.168.1.5", true},
    {"192.168.1.6", "192.168.1.5", false},
    {"::ffff:10.9.9.9", "10.0.0.0/8", true},
    {"fd00::1234", "fd00::/8", true},
    {"fe80::1", "fd00::/8", false},
    {"2001:db8::1", "2001:db8::/33", true},
    {"2001:db8:8000::1", "2001:db8::/33", false},
    {"10.1.2.3", "10.0.0.0/33,bogus,/8,10.0.0.0/x", false},
    {"10.1.2.3", "0.0.0.0/0", true},
    {"-", "0.0.0.0/0", false},
    {"", NULL, false},
};

int main(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        is_int(metrics_access_addr_allowed(cases[i].addr, cases[i].list), cases[i].allowed,
               "%s in [%s]", cases[i].addr, cases[i].list ? cases[i].list : "(none)");
    ok(!metrics_access_addr_allowed(NULL, "0.0.0.0/0"), "no address: refused");
    return done_testing();
}
