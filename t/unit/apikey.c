/* t/unit/apikey.c: API key format, checksum, rejections before any lookup, HMAC. */
#include <string.h>

#include "auth/apikey.h"
#include "tap.h"

/* Checksums computed independently (Python zlib.crc32, base62 0-9A-Za-z). */
static const struct { const char *key; int valid; const char *why; } cases[] = {
    { "pmtd_0123456789ABCDEFGHIJabcdefghij4Us3aw", 1, "known good key" },
    { "pmtd_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz4IlJEz", 1, "known good key (z)" },
    { "pmtd_0123456789ABCDEFGHIJabcdefghij4Us3ax", 0, "last checksum char changed" },
    { "pmtd_1123456789ABCDEFGHIJabcdefghij4Us3aw", 0, "random part changed" },
    { "pmtd_0123456789ABCDEFGHIJabcdefghji4Us3aw", 0, "two chars swapped" },
    { "pmtd_0123456789ABCDEFGHIJabcdefghij4Us3a", 0, "one char short" },
    { "pmtd_0123456789ABCDEFGHIJabcdefghij4Us3aww", 0, "one char long" },
    { "PMTD_0123456789ABCDEFGHIJabcdefghij4Us3aw", 0, "prefix upper case" },
    { "pmtx_0123456789ABCDEFGHIJabcdefghij4Us3aw", 0, "wrong prefix" },
    { "pmtd_0123456789ABCDEFGHIJabcdefgh-j4Us3aw", 0, "non-base62 '-'" },
    { "pmtd_0123456789ABCDEFGHIJabcdefgh j4Us3aw", 0, "space" },
    { "pmtd_0123456789ABCDEFGHIJabcdefgh\xc3\xa9" "4Us3a", 0, "non-ASCII" },
    { "pmtd_", 0, "prefix only" },
    { "", 0, "empty" },
    { "eyJhbGciOiJIUzI1NiJ9.e30.sig", 0, "a JWT" },
};

int main(void)
{
    char key[APIKEY_LEN + 1], key2[APIKEY_LEN + 1];
    char h1[APIKEY_HMAC_HEX_LEN + 1], h2[APIKEY_HMAC_HEX_LEN + 1];
    char prefix[APIKEY_DISPLAY_LEN + 1], last4[5];
    int good = 0;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        is_int(apikey_valid(cases[i].key), cases[i].valid, "%s", cases[i].why);
    ok(apikey_has_prefix("pmtd_x") && !apikey_has_prefix("Bearer") &&
       !apikey_has_prefix(NULL), "prefix detection");

    /* generated keys: shape, checksum, uniqueness, every single-character
     * corruption of the checksum caught */
    for (int i = 0; i < 1000; i++) {
        apikey_generate(key);
        good += strlen(key) == APIKEY_LEN && apikey_valid(key);
    }
    is_int(good, 1000, "1000 generated keys are well-formed and verify");
    apikey_generate(key2);
    ok(strcmp(key, key2) != 0, "two keys differ");
    good = 0;
    for (int pos = APIKEY_PREFIX_LEN; pos < APIKEY_LEN; pos++) {
        char bad[APIKEY_LEN + 1];

        memcpy(bad, key, sizeof bad);
        bad[pos] = bad[pos] == 'a' ? 'b' : 'a';
        good += !apikey_valid(bad);
    }
    is_int(good, APIKEY_LEN - APIKEY_PREFIX_LEN,
           "any one changed character is refused");

    /* HMAC: RFC 4231 test case 2 (key "Jefe") */
    ok(apikey_hmac_hex("Jefe", "what do ya want for nothing?", h1), "hmac computed");
    is_str(h1, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
           "HMAC-SHA256 matches RFC 4231 case 2");
    ok(apikey_hmac_hex("pepper-a", key, h1) && apikey_hmac_hex("pepper-b", key, h2) &&
       strcmp(h1, h2) != 0, "another pepper, another hash");
    ok(!apikey_hmac_hex(NULL, key, h1) && !apikey_hmac_hex("", key, h1),
       "no pepper: refused");

    apikey_display(cases[0].key, prefix, last4);
    is_str(prefix, "pmtd_01234567", "display prefix");
    is_str(last4, "s3aw", "last four");
    return done_testing();
}
