/* t/unit/b64url.c: strict base64url encode/decode (RFC 4648 vectors, rejections). */
#include <stdlib.h>
#include <string.h>

#include "crypto/b64url.h"
#include "crypto/random.h"
#include "tap.h"

/* RFC 4648 section 10 vectors, padding removed. */
static const struct { const char *plain, *enc; } vectors[] = {
    { "", "" },
    { "f", "Zg" },
    { "fo", "Zm8" },
    { "foo", "Zm9v" },
    { "foob", "Zm9vYg" },
    { "fooba", "Zm9vYmE" },
    { "foobar", "Zm9vYmFy" },
};

/* Inputs decode must refuse, with why. */
static const struct { const char *in, *why; } rejects[] = {
    { "Z", "length % 4 == 1" },
    { "Zm9vY", "length % 4 == 1 (5)" },
    { "Zg==", "padding" },
    { "Zm8=", "single pad" },
    { "Zg=", "partial padding" },
    { "====", "only padding" },
    { "Zm 9v", "space" },
    { "Zm9v\n", "newline" },
    { " Zm9v", "leading space" },
    { "+/+/", "standard alphabet + /" },
    { "Zm+v", "plus" },
    { "Zm/v", "slash" },
    { "Zm9*", "asterisk" },
    { "Zm.v", "dot" },
    { "Zm9v\xc3\xa9", "non-ASCII" },
    { "QR", "non-zero trailing bits (2 chars)" },
    { "QB", "non-zero trailing bits, low bit" },
    { "Zm9", "non-zero trailing bits (3 chars, 'Zm9' vs 'Zm8')" },
    { "Zm_", "non-zero trailing bits (3 chars, '_')" },
};

static void
test_vectors(void)
{
    char enc[64];
    unsigned char dec[64];
    size_t i;

    for (i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        size_t n = strlen(vectors[i].plain);
        long d;
        is_int(b64url_encode((const unsigned char *)vectors[i].plain, n, enc),
               strlen(vectors[i].enc), "encode length \"%s\"", vectors[i].plain);
        is_str(enc, vectors[i].enc, "encode \"%s\"", vectors[i].plain);
        d = b64url_decode(vectors[i].enc, strlen(vectors[i].enc), dec);
        is_int(d, n, "decode length \"%s\"", vectors[i].enc);
        ok(d >= 0 && memcmp(dec, vectors[i].plain, n) == 0, "decode \"%s\"",
           vectors[i].enc);
    }
}

static void
test_alphabet(void)
{
    static const unsigned char all[] = { 0xfb, 0xff, 0xbf, 0xf8 };
    char enc[16];
    unsigned char dec[16];

    b64url_encode(all, sizeof all, enc);
    is_str(enc, "-_-_-A", "url-safe characters - and _");
    is_int(b64url_decode("-_-_-A", 6, dec), 4, "decode - and _");
    ok(memcmp(dec, all, 4) == 0, "- and _ round trip");
    is_int(b64url_decode("QQ", 2, dec), 1, "\"QQ\" decodes");
    is_int(dec[0], 'A', "\"QQ\" is \"A\"");
    is_int(b64url_decode("Zm8xyz", 3, dec), 2,
           "decode reads exactly n characters, not up to the NUL");
}

static void
test_rejects(void)
{
    unsigned char dec[64];
    size_t i;

    for (i = 0; i < sizeof rejects / sizeof rejects[0]; i++)
        is_int(b64url_decode(rejects[i].in, strlen(rejects[i].in), dec), -1,
               "reject: %s", rejects[i].why);
    is_int(b64url_decode("Zm\0v", 4, dec), -1, "reject: embedded NUL");
}

/* Lengths 0..64 of random bytes; also a decode of exactly n*3/4+1 bytes of
 * output buffer (heap, so ASan sees any overrun). */
static void
test_round_trips(void)
{
    size_t n;
    int good = 1;

    for (n = 0; n <= 64; n++) {
        unsigned char in[64];
        char *enc = malloc(B64URL_ENCODED_SIZE(n));
        unsigned char *dec;
        size_t elen;
        long d;

        random_bytes(in, n);
        elen = b64url_encode(in, n, enc);
        dec = malloc(elen * 3 / 4 + 1);
        d = b64url_decode(enc, elen, dec);
        if (elen != strlen(enc) || elen % 4 == 1 || strchr(enc, '=') ||
            d != (long)n || memcmp(dec, in, n) != 0) {
            good = 0;
            diag("round trip failed at n=%zu: \"%s\"", n, enc);
        }
        free(dec);
        free(enc);
    }
    ok(good, "round trips of random bytes, lengths 0..64");
}

int
main(void)
{
    test_vectors();
    test_alphabet();
    test_rejects();
    test_round_trips();
    return done_testing();
}
