/* t/unit/secretbox.c: AES-256-GCM secrets at rest: Wycheproof vectors, stored form, ring. */
#include <stdlib.h>
#include <string.h>

#include "crypto/secretbox.h"
#include "tap.h"

/*
 * A subset of Project Wycheproof's AES-GCM vectors (Apache License 2.0),
 * testvectors_v1/aes_gcm_test.json in github.com/C2SP/wycheproof, group
 * keySize 256 / ivSize 96 / tagSize 128: known-answer, pseudorandom and
 * special-case valid vectors, and modified-tag invalid ones.  Data only.
 */
static const struct {
    int tc;
    const char *key, *iv, *aad, *msg, *ct, *tag;
    int valid;
} wycheproof[] = {
    {91, "92ace3e348cd821092cd921aa3546374299ab46209691bc28b8752d17f123c20",
     "00112233445566778899aabb", "00000000ffffffff", "00010203040506070809",
     "e27abdd2d2a53d2f136b", "9a4a2579529301bcfb71c78d4060f52c", 1},
    {92, "29d3a44f8723dc640239100c365423a312934ac80239212ac3df3421a2098123",
     "00112233445566778899aabb", "aabbccddeeff", "", "",
     "2a7d77fa526b8250cb296078926b5020", 1},
    {93, "80ba3192c803ce965ea371d5ff073cf0f43b6a2ab576b208426e11409c09b9b0",
     "4da5bf8dfd5852c1ea12379d", "", "", "",
     "4771a7c404a472966cea8f73c8bfe17a", 1},
    {94, "cc56b680552eb75008f5484b4cb803fa5063ebd6eab91f6ab6aef4916a766273",
     "99e23ec48985bccdeeab60f1", "", "2a", "06",
     "633c1e9703ef744ffffb40edf9d14355", 1},
    {95, "51e4bf2bad92b7aff1a4bc05550ba81df4b96fabf41c12c7b00e60e48db7e152",
     "4f07afedfdc3b6c2361823d3", "", "be3308f72a2c6aed", "cf332a12fdee800b",
     "602e8d7c4799d62c140c9bb834876b09", 1},
    {96, "67119627bd988eda906219e08c0d0d779a07d208ce8a4fe0709af755eeec6dcb",
     "68ab7fdbf61901dad461d23c", "", "51f8c1f731ea14acdb210a6d973e07",
     "43fc101bff4b32bfadd3daf57a590e", "ec04aacb7148a8b8be44cb7eaf4efa69", 1},
    {97, "59d4eafb4de0cfc7d3db99a8f54b15d7b39f0acc8da69763b019c1699f87674a",
     "2fcb1b38a99e71b84740ad9b", "", "549b365af913f3b081131ccb6b825588",
     "f58c16690122d75356907fd96b570fca", "28752c20153092818faba2a334640d6e", 1},
    {98, "3b2458d8176e1621c0cc24c0c0e24c1e80d72f7ee9149a4b166176629616d011",
     "45aaa3e5d16d2d42dc03445d", "", "3ff1514b1c503915918f0c0c31094a6e1f",
     "73a6b6f45f6ccc5131e07f2caa1f2e2f56", "2d7379ec1db5952d4e95d30c340b1b1d", 1},
    {99, "0212a8de5007ed87b33f1a7090b6114f9e08cefd9607f2c276bdcfdbc5ce9cd7",
     "e6b1adf2fd58a8762c65f31b", "",
     "10f1ecf9c60584665d9ae5efe279e7f7377eea6916d2b111",
     "0843fff52d934fc7a071ea62c0bd351ce85678cde3ea2c9e",
     "7355fde599006715053813ce696237a8", 1},
    {100, "b279f57e19c8f53f2f963f5f2519fdb7c1779be2ca2b3ae8e1128b7d6c627fc4",
     "98bc2c7438d5cd7665d76f6e", "c0",
     "fcc515b294408c8645c9183e3f4ecee5127846d1",
     "eb5500e3825952866d911253f8de860c00831c81",
     "ecb660e1fb0541ec41e8d68a64141b3a", 1},
    {101, "cdccfe3f46d782ef47df4e72f0c02d9c7f774def970d23486f11a57f54247f17",
     "376187894605a8d45e30de51", "956846a209e087ed",
     "e28e0e9f9d22463ac0e42639b530f42102fded75",
     "feca44952447015b5df1f456df8ca4bb4eee2ce2",
     "082e91924deeb77880e1b1c84f9b8d30", 1},
    {102, "f32364b1d339d82e4f132d8f4a0ec1ff7e746517fa07ef1a7f422f4e25a48194",
     "5a86a50a0e8a179c734b996d", "ab2ac7c44c60bdf8228c7884adb20184",
     "43891bccb522b1e72a6b53cf31c074e9d6c2df8e",
     "43dda832e942e286da314daa99bef5071d9d2c78",
     "c3922583476ced575404ddb85dd8cd44", 1},
    {103, "ff0089ee870a4a39f645b0a5da774f7a5911e9696fc9cad646452c2aa8595a12",
     "bc2a7757d0ce2d8b1f14ccd9",
     "972ab4e06390caae8f99dd6e2187be6c7ff2c08a24be16ef",
     "748b28031621d95ee61812b4b4f47d04c6fc2ff3",
     "a929ee7e67c7a2f91bbcec6389a3caf43ab49305",
     "ebec6774b955e789591c822dab739e12", 1},
    {104, "6efca98126918ab564d88c6bec02e8998b2be50e3f906ff9adfdd185f373e756",
     "4abd6cfc83bd06b11efaa2a7", "",
     "bbec79c086d41e602d090f7e40494d6bf3faa1dc6df0ab8a88ea5d35d426b248"
     "c2ad880351e223f6170d37cc9655e10459e59cbd6d1c092ed31d72ccc7af20",
     "97b4c73a4d8b5b21bc4b50dbb70dfa77b1a7bf0bbe7cf16ecf5bb60ba8070acc"
     "5740780435ed145a62a613dd9881b721168fbb3f5af385ee5d4f856cf93cba",
     "27ac8c4010d8e81b7051ceb06b30fe2d", 1},
    {116, "0f112e59cdccd851c3b8e76c9f05a3b7c2e4feca5846afeb351c1cbcace82f04",
     "7147973339d86789a2c9a958",
     "37128be45f0a7f329546e1492c3c9c2d2534d5b1f5147e49ab91221e7c3edea2"
     "1bbe47bfe3619437ce3c61e6e946c504f348296918219e51bf2c5598589cff",
     "102e5804dda1fb5d656077edb15cadb5d0bdee8c",
     "618ac626ae0e8d06c2fd2fb66be253dc26ed6e38",
     "d8d93ff975cb988f09174dcd439cb6a4", 1},
    {128, "00112233445566778899aabbccddeeff102132435465768798a9bacbdcedfe0f",
     "000000000000000000000000", "", "561008fa07a68f5c61285cd013464eaf",
     "23293e9b07ca7d1b0cae7cc489a973b3", "ffffffffffffffffffffffffffffffff", 1},
    {129, "00112233445566778899aabbccddeeff102132435465768798a9bacbdcedfe0f",
     "ffffffffffffffffffffffff", "", "c6152244cea1978d3e0bc274cf8c0b3b",
     "7cb6fc7c6abc009efe9551a99f36a421", "00000000000000000000000000000000", 1},
#define MT_KEY "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define MT_IV "505152535455565758595a5b"
#define MT_MSG "202122232425262728292a2b2c2d2e2f"
#define MT_CT "b2061457c0759fc1749f174ee1ccadfa"
    {130, MT_KEY, MT_IV, "", MT_MSG, MT_CT, "9de8fef6d8ab1bf1bf887232eab590dd", 0},
    {131, MT_KEY, MT_IV, "", MT_MSG, MT_CT, "9ee8fef6d8ab1bf1bf887232eab590dd", 0},
    {132, MT_KEY, MT_IV, "", MT_MSG, MT_CT, "1ce8fef6d8ab1bf1bf887232eab590dd", 0},
    {134, MT_KEY, MT_IV, "", MT_MSG, MT_CT, "9ce8fe76d8ab1bf1bf887232eab590dd", 0},
    {138, MT_KEY, MT_IV, "", MT_MSG, MT_CT, "9ce8fef6d8ab1bf1be887232eab590dd", 0},
    {145, MT_KEY, MT_IV, "", MT_MSG, MT_CT, "9ce8fef6d8ab1bf1bf887232eab590dc", 0},
    {148, MT_KEY, MT_IV, "", MT_MSG, MT_CT, "9ce8fef6d8ab1bf1bf887232eab5905d", 0},
    {149, MT_KEY, MT_IV, "", MT_MSG, MT_CT, "9de8fef6d8ab1bf1be887232eab590dd", 0},
    {152, MT_KEY, MT_IV, "", MT_MSG, MT_CT, "631701092754e40e40778dcd154a6f22", 0},
    {153, MT_KEY, MT_IV, "", MT_MSG, MT_CT, "00000000000000000000000000000000", 0},
    {154, MT_KEY, MT_IV, "", MT_MSG, MT_CT, "ffffffffffffffffffffffffffffffff", 0},
    {155, MT_KEY, MT_IV, "", MT_MSG, MT_CT, "1c687e76582b9b713f08f2b26a35105d", 0},
    {156, MT_KEY, MT_IV, "", MT_MSG, MT_CT, "9de9fff7d9aa1af0be897333ebb491dc", 0},
};

static size_t unhex(const char *h, unsigned char *out)
{
    size_t n = strlen(h) / 2;

    for (size_t i = 0; i < n; i++) {
        unsigned v;

        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (unsigned char)v;
    }
    return n;
}

static void test_wycheproof(void)
{
    unsigned char key[32], iv[12], aad[256], msg[256], ct[256], tag[16];
    unsigned char out[256], otag[16];

    for (size_t i = 0; i < sizeof wycheproof / sizeof wycheproof[0]; i++) {
        size_t na = unhex(wycheproof[i].aad, aad), nm = unhex(wycheproof[i].msg, msg);
        size_t nc = unhex(wycheproof[i].ct, ct);
        int tc = wycheproof[i].tc;

        unhex(wycheproof[i].key, key);
        unhex(wycheproof[i].iv, iv);
        unhex(wycheproof[i].tag, tag);
        if (wycheproof[i].valid) {
            ok(secretbox_gcm_seal(key, iv, aad, na, msg, nm, out, otag) &&
               memcmp(out, ct, nc) == 0 && memcmp(otag, tag, 16) == 0,
               "wycheproof tc %d: seal gives ct and tag", tc);
            ok(secretbox_gcm_open(key, iv, aad, na, ct, nc, tag, out) &&
               memcmp(out, msg, nm) == 0, "wycheproof tc %d: opens to msg", tc);
        } else {
            ok(!secretbox_gcm_open(key, iv, aad, na, ct, nc, tag, out),
               "wycheproof tc %d (modified tag): refused", tc);
        }
    }
}

#define K1 "k1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define K2 "k2:ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

static void test_ring(void)
{
    static const struct { const char *spec; int good; const char *why; } specs[] = {
        {K1, 1, "one key"},
        {K2 "," K1, 1, "two keys"},
        {"", 0, "empty"},
        {"k1", 0, "no colon"},
        {":000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 0, "empty kid"},
        {"k1:0001", 0, "short key"},
        {K1 "00", 0, "long key"},
        {"k1:zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 0, "non-hex"},
        {"k 1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 0, "space in kid"},
        {K1 "," K1, 0, "duplicate kid"},
        {K1 ",", 0, "trailing comma"},
    };
    secretbox_ring_t ring;

    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        const char *why = NULL;
        bool got = secretbox_ring_parse(&ring, specs[i].spec, &why);

        is_int(got, specs[i].good, "ring '%s'%s%s", specs[i].why, why ? ": " : "",
               why ? why : "");
    }
    secretbox_ring_parse(&ring, K2 "," K1, NULL);
    is_str(secretbox_current_kid(&ring), "k2", "the first key encrypts");
    secretbox_ring_clear(&ring);
    is_int(ring.nkeys, 0, "cleared");
}

static void test_stored(void)
{
    secretbox_ring_t r1, r12, r2;
    const char *aad = "user_secrets.value:6f1c1b6e-2f7a-4a8b-9c0d-1e2f3a4b5c6d";
    const char *other = "user_secrets.value:00000000-0000-4000-8000-000000000000";
    char *a, *b, *t, kid[SECRETBOX_KID_MAX + 1];
    unsigned char *pt;
    size_t len;

    secretbox_ring_parse(&r1, K1, NULL);
    secretbox_ring_parse(&r12, K2 "," K1, NULL);
    secretbox_ring_parse(&r2, K2, NULL);

    a = secretbox_encrypt(&r1, "sk-live-123", 11, aad);
    b = secretbox_encrypt(&r1, "sk-live-123", 11, aad);
    ok(a && strncmp(a, "v1:k1:", 6) == 0, "stored form v1:k1:... (%s)", a ? a : "NULL");
    ok(a && b && strcmp(a, b) != 0, "same plaintext twice: different nonces and ciphertexts");
    ok(a && b && strncmp(a, b, 6 + 16) != 0, "the nonces differ");
    ok(secretbox_stored_kid(a, kid) && strcmp(kid, "k1") == 0, "kid read back");

    is_int(secretbox_decrypt(&r1, a, aad, &pt, &len), SECRETBOX_OK, "round trip");
    ok(pt && len == 11 && memcmp(pt, "sk-live-123", 11) == 0 && pt[11] == '\0',
       "plaintext recovered, NUL-terminated");
    secretbox_free(pt, len);
    is_int(secretbox_decrypt(&r12, a, aad, &pt, &len), SECRETBOX_OK,
           "an older key in the ring still decrypts");
    secretbox_free(pt, len);
    is_int(secretbox_decrypt(&r1, a, other, &pt, &len), SECRETBOX_AUTH_FAILED,
           "another row's AAD: refused");
    ok(pt == NULL, "  and no plaintext");
    is_int(secretbox_decrypt(&r1, a, NULL, &pt, &len), SECRETBOX_AUTH_FAILED,
           "no AAD: refused");
    is_int(secretbox_decrypt(&r2, a, aad, &pt, &len), SECRETBOX_UNKNOWN_KID,
           "a ring without k1: unknown kid");

    /* tamper: flip a bit of the last base64 character group (the tag) */
    t = strdup(a);
    {
        size_t n = strlen(t);
        char *c = t + n - 3;   /* before any padding */

        *c = *c == 'A' ? 'B' : 'A';
    }
    is_int(secretbox_decrypt(&r1, t, aad, &pt, &len), SECRETBOX_AUTH_FAILED,
           "tampered tag: refused");
    free(t);
    t = strdup(a);
    t[4] = '2';   /* k1 -> k2 */
    is_int(secretbox_decrypt(&r12, t, aad, &pt, &len), SECRETBOX_AUTH_FAILED,
           "relabelled kid: refused");
    free(t);

    {
        static const char *const bad[] = {
            "", "v1", "v2:k1:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA==",
            "v1::AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA==",
            "v1:k1:AAAA:AAAAAAAAAAAAAAAAAAAAAA==",
            "v1:k1:AAAAAAAAAAAAAAAA:AAAA",
            "v1:k1:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA=",
            "v1:k1:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA==:x",
            "v1:k1:AAAAAAAA-AAAAAAA:AAAAAAAAAAAAAAAAAAAAAA==",
            "v1:k1:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAB==",
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
            is_int(secretbox_decrypt(&r1, bad[i], aad, &pt, &len), SECRETBOX_MALFORMED,
                   "malformed '%s'", bad[i]);
    }
    is_int(secretbox_decrypt(&r1, "v1:k9:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA==",
                             aad, &pt, &len), SECRETBOX_UNKNOWN_KID, "unknown kid k9");
    free(a);
    free(b);
    a = secretbox_encrypt(&r12, "", 0, aad);
    ok(a && strncmp(a, "v1:k2:", 6) == 0, "empty plaintext under the current key");
    is_int(secretbox_decrypt(&r12, a, aad, &pt, &len), SECRETBOX_OK, "empty round trip");
    ok(len == 0, "  length 0");
    secretbox_free(pt, len);
    free(a);
    secretbox_ring_clear(&r1);
    secretbox_ring_clear(&r12);
    secretbox_ring_clear(&r2);
}

int main(void)
{
    test_wycheproof();
    test_ring();
    test_stored();
    return done_testing();
}
