/* t/unit/webhooks.c: Standard Webhooks signatures (the specification's published vector), secrets, retry schedules and the endpoint URL checks that need no DNS. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/arena.h"
#include "tap.h"
#include "webhooks/settings.h"
#include "webhooks/sign.h"

static void test_sign(void)
{
    char sig[WHSIGN_SIG_LEN], secret[WHSIGN_SECRET_MAX], again[WHSIGN_SECRET_MAX];
    const char *body = "{\"test\": 2432232314}";
    unsigned char raw[64];

    ok(whsign_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                   1614265330, body, strlen(body), sig), "the published vector signs");
    is_str(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "... to the published signature");
    ok(!whsign_sign("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "m", 1, "b", 1, sig), "no whsec_ prefix: refused");
    ok(!whsign_sign("whsec_", "m", 1, "b", 1, sig), "an empty key: refused");
    ok(!whsign_sign("whsec_abc", "m", 1, "b", 1, sig), "base64 of the wrong length: refused");
    ok(!whsign_sign("whsec_ab!=", "m", 1, "b", 1, sig), "not base64: refused");
    ok(!whsign_sign("whsec_QR==", "m", 1, "b", 1, sig), "non-canonical padding bits: refused");
    ok(!whsign_sign(NULL, "m", 1, "b", 1, sig), "NULL: refused");

    whsign_secret_new(secret);
    whsign_secret_new(again);
    ok(strncmp(secret, "whsec_", 6) == 0 && strlen(secret) == 6 + 44, "a new secret: whsec_ + 44 base64 characters");
    ok(EVP_DecodeBlock(raw, (const unsigned char *)secret + 6, 44) == 33 && secret[49] == '=',
       "... 32 bytes");
    ok(strcmp(secret, again) != 0, "... fresh each time");
    ok(whsign_sign(secret, "msg_1", 1, "{}", 2, sig) && strlen(sig) == 47, "... and usable");
}

static void test_schedule(void)
{
    webhooks_settings_t s;

    ok(webhooks_schedule_parse("0,5,300,1800,7200,18000,36000,36000", &s) && s.nschedule == 8 &&
       s.schedule[7] == 36000, "the default schedule");
    is_str(s.schedule_sql, "{0,5,300,1800,7200,18000,36000,36000}", "... as a SQL array");
    ok(webhooks_schedule_parse("7", &s) && s.nschedule == 1, "one attempt");
    ok(!webhooks_schedule_parse("", &s), "empty: refused");
    ok(!webhooks_schedule_parse("1,,2", &s), "an empty entry: refused");
    ok(!webhooks_schedule_parse("1,2,", &s), "a trailing comma: refused");
    ok(!webhooks_schedule_parse("-1", &s), "negative: refused");
    ok(!webhooks_schedule_parse("604801", &s), "over a week: refused");
    ok(!webhooks_schedule_parse("1 ,2", &s), "spaces: refused");
    ok(!webhooks_schedule_parse("0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0", &s),
       "33 entries: refused");
}

static void test_url(void)
{
    arena_t *a = arena_create(4096);
    webhooks_settings_t https_only = {.allow_http = false}, http_too = {.allow_http = true};
    char big[2100];
    const char *why;

    why = webhooks_url_refused(a, "http://example.com/hook", &https_only);
    is_str(why, "must use https", "http while only https is allowed");
    why = webhooks_url_refused(a, "ftp://example.com/hook", &http_too);
    is_str(why, "must use https or http", "ftp");
    why = webhooks_url_refused(a, "//example.com/hook", &http_too);
    is_str(why, "is not an absolute URL", "no scheme");
    why = webhooks_url_refused(a, "https://u:p@example.com/hook", &http_too);
    is_str(why, "must not carry a user name or password", "a user part");
    memset(big, 'a', sizeof big - 1);
    memcpy(big, "https://e.com/", 14);
    big[sizeof big - 1] = '\0';
    is_str(webhooks_url_refused(a, big, &http_too), "is longer than 2048 bytes", "a URL too long");
    why = webhooks_url_refused(a, "https://127.0.0.1/hook", &https_only);
    ok(why && strstr(why, "loopback"), "a loopback literal is refused by the guard");
    why = webhooks_url_refused(a, "https://[::ffff:10.0.0.1]/hook", &https_only);
    ok(why && strstr(why, "refused"), "an IPv4-mapped private address is refused");
    arena_destroy(a);
}

int main(void)
{
    test_sign();
    test_schedule();
    test_url();
    return done_testing();
}
