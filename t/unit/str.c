/* str.c: unit tests for UTF-8 validation, URL decoding, UUID checks and strbuf_put_long. */
#include <string.h>

#include "core/str.h"
#include "tap.h"

static const struct {
    const char *bytes;
    size_t len;
    int valid;
    const char *what;
} utf8_cases[] = {
    {"plain ascii", 11, 1, "ascii"},
    {"caf\xc3\xa9", 5, 1, "two-byte"},
    {"\xe2\x82\xac", 3, 1, "three-byte euro"},
    {"\xf0\x9f\x98\x80", 4, 1, "four-byte emoji"},
    {"\xc3", 1, 0, "truncated"},
    {"\xc0\xaf", 2, 0, "overlong slash"},
    {"\xe0\x80\xaf", 3, 0, "overlong three-byte"},
    {"\xed\xa0\x80", 3, 0, "surrogate"},
    {"\xf4\x90\x80\x80", 4, 0, "above U+10FFFF"},
    {"\xff", 1, 0, "0xff"},
    {"a\0b", 3, 0, "embedded NUL"},
    {"\x80", 1, 0, "lone continuation"},
};

int main(void)
{
    arena_t *a = arena_create(4096);
    strbuf_t esc;

    strbuf_init(&esc, a, 8);
    strbuf_html_escape(&esc, "a<b>&\"c'd");
    strbuf_html_escape(&esc, NULL);
    is_str(esc.ptr, "a&lt;b&gt;&amp;&quot;c&#39;d", "html escape: & < > \" ' (NULL: nothing)");

    {
        static const struct { long v; int width; const char *want; } nums[] = {
            {0, 1, "0"}, {7, 3, "007"}, {200, 1, "200"}, {1234, 3, "1234"},
            {-5, 1, "-5"}, {-42, 3, "-042"}, {9223372036854775807L, 1, "9223372036854775807"},
            {-9223372036854775807L - 1, 1, "-9223372036854775808"},
        };

        for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
            strbuf_t n;

            strbuf_init(&n, a, 2);
            strbuf_puts(&n, "[");
            strbuf_put_long(&n, nums[i].v, nums[i].width);
            strbuf_puts(&n, "]");
            is_str(n.ptr, arena_printf(a, "[%s]", nums[i].want), "strbuf_put_long(%ld, %d)",
                   nums[i].v, nums[i].width);
        }
    }

    for (size_t i = 0; i < sizeof(utf8_cases) / sizeof(utf8_cases[0]); i++)
        is_int(utf8_valid(utf8_cases[i].bytes, utf8_cases[i].len),
               utf8_cases[i].valid, "utf8: %s", utf8_cases[i].what);
    is_int(utf8_length("caf\xc3\xa9"), 4, "utf8_length counts code points");

    is_str(url_decode(a, "a%20b+c", 7), "a b c", "url_decode %%20 and +");
    is_str(url_decode(a, "%E2%82%AC", 9), "\xe2\x82\xac", "url_decode multibyte");
    ok(url_decode(a, "%E2%82", 6) == NULL, "url_decode refuses invalid UTF-8");
    ok(url_decode(a, "%4", 2) == NULL, "url_decode refuses a short escape");
    ok(url_decode(a, "%zz", 3) == NULL, "url_decode refuses bad hex");
    ok(url_decode(a, "%00", 3) == NULL, "url_decode refuses NUL");
    {
        const char *v = "x";

        ok(url_form_value(a, "a=1&password=p%20w&password=2", "password", &v) == 1 &&
           strcmp(v, "p w") == 0, "url_form_value: the first occurrence, decoded");
        ok(url_form_value(a, "passwords=1&pass=2", "password", &v) == 0 && v == NULL,
           "url_form_value: a longer or shorter name is another field");
        ok(url_form_value(a, "x&flag&y=1", "flag", &v) == 1 && strcmp(v, "") == 0,
           "url_form_value: a bare name reads as empty");
        ok(url_form_value(a, "q=%zz", "q", &v) == -1 && v == NULL,
           "url_form_value: a malformed escape is -1");
        ok(url_form_value(a, NULL, "q", &v) == 0 && url_form_value(a, "", "q", &v) == 0,
           "url_form_value: NULL and empty strings hold nothing");
    }

    ok(uuid_valid("0b5a3c1e-2f4d-4a6b-8c9d-0e1f2a3b4c5d"), "uuid ok");
    ok(uuid_valid("0B5A3C1E-2F4D-4A6B-8C9D-0E1F2A3B4C5D"), "upper-case uuid ok");
    ok(!uuid_valid("0b5a3c1e2f4d4a6b8c9d0e1f2a3b4c5d"), "no dashes refused");
    ok(!uuid_valid("0b5a3c1e-2f4d-4a6b-8c9d-0e1f2a3b4c5"), "short refused");
    ok(!uuid_valid("0b5a3c1e-2f4d-4a6b-8c9d-0e1f2a3b4c5g"), "non-hex refused");
    ok(!uuid_valid(NULL), "NULL refused");
    is_str(hex_encode(a, (const unsigned char *)"\x00\xff\x10", 3), "00ff10", "hex_encode");
    arena_destroy(a);
    return done_testing();
}
