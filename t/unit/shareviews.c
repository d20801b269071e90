/* shareviews.c: unit tests for the referrer host the share.views job records. */
#include <stdbool.h>
#include <string.h>

#include "share/views.h"
#include "tap.h"

static const struct {
    const char *referer;
    const char *host;   /* NULL: none recorded */
} cases[] = {
    {"https://news.example.com/item?id=1", "news.example.com"},
    {"HTTPS://News.Example.COM:8443/x", "news.example.com"},
    {"http://user:pw@evil.example/", "evil.example"},
    {"http://example.org", "example.org"},
    {"http://example.org?q=1", "example.org"},
    {"http://example.org#frag", "example.org"},
    {"http://[2001:db8::1]:8080/", "[2001:db8::1]"},
    {"http://[2001:db8::1/", NULL},
    {"", NULL},
    {"-", NULL},
    {"android-app://com.slack/", NULL},
    {"javascript:alert(1)", NULL},
    {"https:///path-only", NULL},
    {"https://exa mple.com/", NULL},
    {"https://ex<script>.com/", NULL},
};

int main(void)
{
    char out[256], small[8];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool got = shareviews_referrer_host(cases[i].referer, out, sizeof out);

        if (cases[i].host == NULL)
            ok(!got, "'%s': no host", cases[i].referer);
        else if (ok(got, "'%s': a host", cases[i].referer))
            is_str(out, cases[i].host, "'%s' -> %s", cases[i].referer, cases[i].host);
    }
    ok(!shareviews_referrer_host(NULL, out, sizeof out), "NULL: no host");
    ok(!shareviews_referrer_host("https://a-long-host.example/", small, sizeof small),
       "a host longer than the buffer is refused, not cut");
    return done_testing();
}
