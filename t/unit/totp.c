/* totp.c: unit tests for the second factor's TOTP (RFC 6238 Appendix B, SHA-1), base32 (RFC 4648 section 10), the otpauth URI and the QR SVG (cgi-bin/auth_totp.c). */
#include <string.h>
#include <time.h>

#include "core/arena.h"
#include "core/json.h"
#include "http/request.h"
#include "../../cgi-bin/auth.h"
#include "tap.h"

int main(void)
{
    /* RFC 6238 Appendix B: the 8-digit values' last 6 digits */
    static const struct { time_t t; const char *code; long long step; } b[] = {
        {59, "287082", 1}, {1111111109, "081804", 37037036},
        {1111111111, "050471", 37037037}, {1234567890, "005924", 41152263},
        {2000000000, "279037", 66666666}, {20000000000LL, "353130", 666666666},
    };
    static const unsigned char key[] = "12345678901234567890";
    static const struct { const char *in, *out; } b32[] = {
        {"", ""}, {"f", "MY"}, {"fo", "MZXQ"}, {"foo", "MZXW6"}, {"foob", "MZXW6YQ"},
        {"fooba", "MZXW6YTB"}, {"foobar", "MZXW6YTBOI"},
    };
    req_t r;
    long long step = -1;
    char *svg;

    memset(&r, 0, sizeof(r));
    r.arena = arena_create(4096);
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) {
        step = -1;
        is_int(totp_check(key, 20, b[i].code, b[i].t, -1, &step), TOTP_OK, "t=%lld: %s",
               (long long)b[i].t, b[i].code);
        ok(step == b[i].step, "t=%lld: at its own step", (long long)b[i].t);
    }
    is_int(totp_check(key, 20, "287082", 59 + 30, -1, &step), TOTP_OK, "the previous step is accepted");
    is_int(totp_check(key, 20, "287082", 59 - 30, -1, &step), TOTP_OK, "the next step is accepted");
    is_int(totp_check(key, 20, "287082", 59 + 60, -1, &step), TOTP_WRONG, "two steps late: wrong");
    is_int(totp_check(key, 20, "287082", 59, 1, &step), TOTP_REUSED, "its step already used: reused");
    is_int(totp_check(key, 20, "287083", 59, -1, &step), TOTP_WRONG, "another code: wrong");
    is_int(totp_check(key, 20, "28708", 59, -1, &step), TOTP_WRONG, "five digits: wrong");
    is_int(totp_check(key, 20, "2870820", 59, -1, &step), TOTP_WRONG, "seven digits: wrong");
    is_int(totp_check(key, 20, "28708a", 59, -1, &step), TOTP_WRONG, "not digits: wrong");
    is_int(totp_check(key, 20, " 87082", 59, -1, &step), TOTP_WRONG, "a space: wrong");
    for (size_t i = 0; i < sizeof b32 / sizeof b32[0]; i++)
        is_str(totp_base32(&r, (const unsigned char *)b32[i].in, strlen(b32[i].in)), b32[i].out,
               "base32(\"%s\")", b32[i].in);
    is_str(totp_uri(&r, "Acme Co", "a+b@example.com", "ABC"),
           "otpauth://totp/Acme%20Co:a%2Bb%40example.com?algorithm=SHA1&digits=6"
           "&issuer=Acme%20Co&period=30&secret=ABC", "the otpauth URI, escaped");
    svg = totp_qr_svg(&r, "otpauth://totp/x:y?secret=ABC");
    ok(svg && strncmp(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39) == 0 &&
       strstr(svg, "</svg>") && strstr(svg, "M4 4h7v1h-7z"), "an SVG whose first row starts with a finder pattern");
    arena_destroy(r.arena);
    return done_testing();
}
