/* t/unit/stripe.c: the Stripe webhook signature check (known HMAC answers, rotation, v0, tolerance, malformed headers) and the form encoding. */
#include <stdlib.h>
#include <string.h>

#include "billing/stripe.h"
#include "tap.h"

#define BODY "{\"id\":\"evt_1\"}"
#define T "1700000000"
/* openssl dgst -sha256 -hmac SECRET of "1700000000." BODY */
#define SIG_TEST "c89214b5b5da833daed6f0b8c5bb6bd58cea9022bd80ccc78230f3942d632925"
#define SIG_NEW "f3ac0c93c23f69e2e6046d7f0e2c82c93d0403de0f8651457189ab70fbbfcaae"
#define NOW 1700000000LL

static const struct {
    const char *header, *secrets, *why;   /* why NULL: accepted */
    long long now;
    const char *name;
} cases[] = {
    {"t=" T ",v1=" SIG_TEST, "whsec_test", NULL, NOW, "one v1, one secret"},
    {"t=" T ", v1=" SIG_TEST, "whsec_test", NULL, NOW, "spaces after commas"},
    {"v1=" SIG_TEST ",t=" T, "whsec_test", NULL, NOW, "t after v1"},
    {"t=" T ",v1=" SIG_NEW, "whsec_test, whsec_new", NULL, NOW, "second secret (rotation)"},
    {"t=" T ",v1=" SIG_NEW ",v1=" SIG_TEST, "whsec_test", NULL, NOW, "second v1 matches"},
    {"t=" T ",v0=" SIG_TEST ",v1=" SIG_NEW, "whsec_new", NULL, NOW, "v0 ignored"},
    {"t=" T ",v1=" SIG_TEST, "whsec_test", NULL, NOW + 300, "300 s old: in"},
    {"t=" T ",v1=" SIG_TEST, "whsec_test", NULL, NOW - 300, "300 s ahead: in"},
    {"t=" T ",v1=" SIG_TEST, "whsec_test", "tolerance", NOW + 301, "301 s old: out"},
    {"t=" T ",v1=" SIG_TEST, "whsec_test", "tolerance", NOW - 301, "301 s ahead: out"},
    {"t=" T ",v1=" SIG_TEST, "whsec_new", "no v1", NOW, "wrong secret"},
    {"t=" T ",v0=" SIG_TEST, "whsec_test", "no v1", NOW, "v0 only"},
    {"t=1700000001,v1=" SIG_TEST, "whsec_test", "no v1", NOW, "other timestamp"},
    {"t=" T ",v1=" "C89214B5B5DA833DAED6F0B8C5BB6BD58CEA9022BD80CCC78230F3942D632925", "whsec_test",
     "no v1", NOW, "upper-case hex"},
    {"t=" T ",v1=" SIG_TEST "00", "whsec_test", "no v1", NOW, "v1 too long"},
    {"v1=" SIG_TEST, "whsec_test", "no timestamp", NOW, "no t"},
    {"t=,v1=" SIG_TEST, "whsec_test", "no timestamp", NOW, "empty t"},
    {"t=17e8,v1=" SIG_TEST, "whsec_test", "no timestamp", NOW, "t not digits"},
    {"", "whsec_test", "no timestamp", NOW, "empty header"},
    {"t=" T ",v1=" SIG_TEST, "", "no v1", NOW, "no secrets"},
    {"t=" T ",v1=" SIG_TEST, " , ", "no v1", NOW, "blank secrets"},
};

static void test_signatures(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *why = NULL;
        bool ok = stripe_signature_ok(cases[i].header, BODY, strlen(BODY), cases[i].secrets,
                                      300, cases[i].now, &why);

        if (cases[i].why == NULL)
            ok(ok, "accepted: %s", cases[i].name);
        else
            ok(!ok && why && strstr(why, cases[i].why), "refused (%s): %s", cases[i].why,
               cases[i].name);
    }
    {
        const char *why = NULL;
        const char tampered[] = "{\"id\":\"evt_2\"}";

        ok(!stripe_signature_ok("t=" T ",v1=" SIG_TEST, tampered, strlen(tampered),
                                "whsec_test", 300, NOW, &why), "a changed body is refused");
        ok(!stripe_signature_ok("t=" T ",v1=" SIG_TEST, BODY, strlen(BODY) - 1,
                                "whsec_test", 300, NOW, &why), "a truncated body is refused");
    }
}

static void test_form(void)
{
    arena_t *a = arena_create(1024);
    stripe_form_t f = {a, NULL};

    stripe_form_add(&f, "metadata[promptd_user_id]", "u-1");
    stripe_form_add(&f, "skip", NULL);
    stripe_form_add(&f, "success_url", "https://x.example/ok?s={ID}&a=b c");
    stripe_form_add(&f, "line_items[0][price]", "price_1");
    is_str(f.text, "metadata[promptd_user_id]=u-1&success_url=https%3A%2F%2Fx.example%2Fok"
           "%3Fs%3D%7BID%7D%26a%3Db%20c&line_items[0][price]=price_1",
           "form: brackets kept in keys, values percent-encoded, NULL skipped");
    arena_destroy(a);
}

int main(void)
{
    test_signatures();
    test_form();
    return done_testing();
}
