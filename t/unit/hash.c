/* t/unit/hash.c: SHA-256 known answers (FIPS 180-2 / NIST vectors), in one piece and in parts, and hex encoding. */
#include <stdlib.h>
#include <string.h>

#include "crypto/hash.h"
#include "tap.h"

static const struct { const char *msg, *hex; } vectors[] = {
    {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    /* the 448-bit message */
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    /* the 896-bit message */
    {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
     "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
     "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
};

#define MILLION_A "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"

static void
test_vectors(void)
{
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        const char *m = vectors[i].msg;
        hash_part_t part = {m, strlen(m)};
        unsigned char md[HASH_SHA256_LEN];
        char hex[HASH_SHA256_HEX];

        hash_sha256_hex(m, strlen(m), hex);
        is_str(hex, vectors[i].hex, "hash_sha256_hex of %zu bytes", strlen(m));
        hash_sha256_parts_hex(&part, 1, hex);
        is_str(hex, vectors[i].hex, "hash_sha256_parts_hex, one part of %zu bytes", strlen(m));
        hash_sha256(&part, 1, md);
        hash_hex(md, sizeof md, hex);
        is_str(hex, vectors[i].hex, "hash_sha256 digest of %zu bytes", strlen(m));
    }
}

/* One million 'a': 1000 parts of 1000, then uneven parts of 1, 999 and 999,000. */
static void
test_million(void)
{
    char *a = malloc(1000000);
    hash_part_t parts[1000];
    char hex[HASH_SHA256_HEX];

    if (a == NULL)
        abort();
    memset(a, 'a', 1000000);
    for (int i = 0; i < 1000; i++)
        parts[i] = (hash_part_t){a + 1000 * i, 1000};
    hash_sha256_parts_hex(parts, 1000, hex);
    is_str(hex, MILLION_A, "one million 'a' in 1000 parts");
    parts[0] = (hash_part_t){a, 1};
    parts[1] = (hash_part_t){a, 999};
    parts[2] = (hash_part_t){a, 999000};
    hash_sha256_parts_hex(parts, 3, hex);
    is_str(hex, MILLION_A, "one million 'a' in parts of 1, 999, 999000");
    hash_sha256_hex(a, 1000000, hex);
    is_str(hex, MILLION_A, "one million 'a' in one piece");
    free(a);
}

/* Every split of a message into two or three parts (empty parts included)
 * hashes as the message does in one piece; no parts hashes as "". */
static void
test_parts(void)
{
    const char *m = vectors[3].msg;
    size_t len = strlen(m);
    char one[HASH_SHA256_HEX], hex[HASH_SHA256_HEX];
    int bad = 0;

    hash_sha256_hex(m, len, one);
    for (size_t i = 0; i <= len; i++) {
        for (size_t j = i; j <= len; j++) {
            hash_part_t p[3] = {{m, i}, {m + i, j - i}, {m + j, len - j}};

            hash_sha256_parts_hex(p, 3, hex);
            bad += strcmp(hex, one) != 0;
        }
    }
    is_int(bad, 0, "all %zu three-part splits of %zu bytes equal the one-shot hash",
           (len + 1) * (len + 2) / 2, len);
    hash_sha256_parts_hex(NULL, 0, hex);
    is_str(hex, vectors[0].hex, "zero parts hash as the empty message");
    {
        hash_part_t p[4] = {{"", 0}, {"ab", 2}, {"", 0}, {"c", 1}};

        hash_sha256_parts_hex(p, 4, hex);
        is_str(hex, vectors[1].hex, "empty parts add nothing");
    }
}

static void
test_hex(void)
{
    static const unsigned char bytes[] = {0x00, 0x01, 0x0f, 0x10, 0x7f, 0x80,
                                          0x9a, 0xab, 0xf0, 0xff};
    char out[2 * sizeof bytes + 2];

    memset(out, '#', sizeof out);
    hash_hex(bytes, sizeof bytes, out);
    is_str(out, "00010f107f809aabf0ff", "hash_hex: lowercase, two digits a byte");
    ok(out[sizeof out - 1] == '#', "hash_hex writes 2n + 1 bytes, no more");
    memset(out, '#', sizeof out);
    hash_hex(bytes, 0, out);
    is_str(out, "", "hash_hex of nothing is the empty string");
    ok(out[1] == '#', "hash_hex of nothing writes only the NUL");
}

int
main(void)
{
    test_vectors();
    test_million();
    test_parts();
    test_hex();
    return done_testing();
}
