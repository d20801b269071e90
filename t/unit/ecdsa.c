/* t/unit/ecdsa.c: ES256 / RS256 / HS256 checks against Project Wycheproof vectors (P-256 P1363, JWS). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwks.h"
#include "auth/jwt.h"
#include "crypto/b64url.h"
#include "tap.h"

/*
 * Test vectors below are data taken from Project Wycheproof
 * (https://github.com/C2SP/wycheproof), licensed under the Apache
 * License, Version 2.0: testvectors_v1/ecdsa_secp256r1_sha256_p1363_test.json
 * (tcIds as given) and testvectors_v1/json_web_signature_test.json.
 */

/* Public keys (JWK x, y) of the ECDSA test groups used. */
struct wp_key { const char *x, *y; };
static const struct wp_key wp_keys[] = {
    /* 0: tcId 1..114 */
    { "KSexBRK64-3c_kZ4KBKLrSkDJpkZ9whgacjE32xzKDg", "x3h5ZOqsAOWSH7FJimD0YGdms9loUAFVjRqXTnNBUT4" },
    /* 1: tcId 115, 116 */
    { "CtmVACiNRmlAAx1yqfVEWk1DeEZAhVvwpph00t5f4QM", "xQEebvLELc1Q1dPSn5mubrosgMkkT0xUIvCXn_DDul4" },
    /* 2: tcId 117 */
    { "qwX9nQ3ia5zm9IGWUtn8aRk9CqOY8PuoAT4JxYIgRVQ", "GSNScSKMeGdZCV0St1rwaS3UED8Z9qjDL0lDWh6bjUU" },
    /* 3: tcId 118 */
    { "gJhPOaH_OKhqaKpCAba-Xfv-z4diGXELB7rfb91MbFY", "Ef65c5DZgm56Bt-0GHHJQNdEFe08rCCJ8URQGbtV7ZU" },
    /* 4..12: tcId 187..195 */
    { "8Zt4kocg1b7o5nD7kAEPsVw3v5G1ilFXw_PAWbJlXog", "z3AeyWL7ShHc8nP13DV-WEaFYMfP65QtB0q9QykmBQk" },
    { "g6dERZ7N-wGlz1KyegW7czdILSQvI117TLiTRVRckKg", "wF1JM3uWSYEyh96f_pA1X9kF3188MpRYKBIfN8xQ3m4" },
    { "3RPGs0xWmC3a4STwOd_SP0sZu-iM7o5SiuUeXW86Idc", "v61MLm8mP-XrWcqXTQOfwOTDNFaS-1Mgva5L07QqRf8" },
    { "Z-b2Wc3ehpovZfCU6U5bTfrWNrv5UZL-7tAbDz3rdGA", "o34KUfJYt661Hf5ZL1z9VoW75YcSyNkjPGKIZDfDi6A" },
    { "LrZBJQWuwFxlRfApkyCH5JDQVRHo7B9Zlhe7Nn-eyq8", "gF9R78xIA0A_mxrgEkiQ8GpD_tzdsxgw9maa8pKJXLA" },
    { "hNtkWGjqs146n9gOBW4uhVQ146a2jXWlCoVGJf4NfzU", "bSWJrGVe3JoR7z4HXt3amr-S5yFxVw73v0Oi7jkzjP4" },
    { "kbnkfFYnhmLXXAmDsiyo6mqlBZt6L_djfrKXXjhq1mM", "SaqP8oPQ93wY1tEdwGIWX9E8PAMQZ5wUCDAqFoVOz70" },
    { "8-wvE8rwTQGStH-0xTEfttTcawqegC5TJ_fsXujkg00", "-X4-Rot9Dbhn1uz-geKw-VMd-H79tHwTOKwyH-_lpDI" },
    { "2SsgCu_Ktqx9r9msry-hCzGAI1uPRrRQPkaTxnD8zIg", "XvLzrr9bMXR1M2JWdo98Ge-3NS0n5MzK3IW2uKuSLHI" },
};

#define M0 "313233343030"   /* "123400" */
#define N_HEX "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"
#define ZERO32 "0000000000000000000000000000000000000000000000000000000000000000"
#define ONE32  "0000000000000000000000000000000000000000000000000000000000000001"

struct wp_ecdsa {
    int tc;          /* Wycheproof tcId; 0 = derived here (see comment) */
    int key;         /* index into wp_keys */
    const char *msg, *sig;   /* hex */
    bool valid;
};

static const struct wp_ecdsa wp_ecdsa[] = {
    { 1, 0, M0, "2ba3a8be6b94d5ec80a6d9d1190a436effe50d85a1eee859b8cc6af9bd5c2e184cd60b855d442f5b3c7b11eb6c4e0ae7525fe710fab9aa7c77a67f79e6fadd76", true },
    { 2, 0, M0, "012ba3a8bd6b94d5ed80a6d9d1190a436ebccc0833490686deac8635bcb9bf536900b329f479a2bbd0a5c384ee1493b1f5186a87139cac5df4087c134b49156847db", false },
    { 3, 0, M0, "01002ba3a7be6b94d6ec80a6d9d1190a432be6dfbb2cb98d6d4d72972df620817f180000b329f479a2bbd0a5c384ee1493b1f5186a87139cac5df4087c134b49156847db", false },
    { 4, 0, M0, "d45c5740946b2a147f59262ee6f5bc90bd01ed280528b62b3aed5fc93f06f739b329f479a2bbd0a5c384ee1493b1f5186a87139cac5df4087c134b49156847db", false },
    { 5, 0, M0, "012ba3a8be6b94d5ec80a6d9d1190a436effe50d85a1eee859b8cc6af9bd5c2e1800b329f479a2bbd0a5c384ee1493b1f5186a87139cac5df4087c134b49156847db", false },
    { 6, 0, M0, "0100000000000000002ba3a8be6b94d5ec80a6d9d1190a436effe50d85a1eee859b8cc6af9bd5c2e18000000000000000000b329f479a2bbd0a5c384ee1493b1f5186a87139cac5df4087c134b49156847db", false },
    { 7, 0, M0, "01b329f478a2bbd0a6c384ee1493b1f518276e0e4a5375928d6fcd160c11cb6d2c00b329f479a2bbd0a5c384ee1493b1f5186a87139cac5df4087c134b49156847db", false },
    { 8, 0, M0, "0100b329f379a2bbd1a5c384ee1493b1f4d55181c143c3fc78fc35de0e45788d98db0000b329f479a2bbd0a5c384ee1493b1f5186a87139cac5df4087c134b49156847db", false },
    { 9, 0, M0, "01b329f479a2bbd0a5c384ee1493b1f5186a87139cac5df4087c134b49156847db00b329f479a2bbd0a5c384ee1493b1f5186a87139cac5df4087c134b49156847db", false },
    { 10, 0, M0, "010000000000000000b329f479a2bbd0a5c384ee1493b1f5186a87139cac5df4087c134b49156847db000000000000000000b329f479a2bbd0a5c384ee1493b1f5186a87139cac5df4087c134b49156847db", false },
    { 11, 0, M0, ZERO32 ZERO32, false },
    { 12, 0, M0, ZERO32 ONE32, false },
    { 13, 0, M0, ZERO32 N_HEX, false },
    { 14, 0, M0, ZERO32 "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632550", false },
    { 15, 0, M0, ZERO32 "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632552", false },
    { 16, 0, M0, ZERO32 "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff", false },
    { 17, 0, M0, ZERO32 "ffffffff00000001000000000000000000000001000000000000000000000000", false },
    { 18, 0, M0, ONE32 ZERO32, false },
    { 19, 0, M0, ONE32 ONE32, false },
    { 20, 0, M0, ONE32 N_HEX, false },
    { 21, 0, M0, ONE32 "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632550", false },
    { 22, 0, M0, ONE32 "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632552", false },
    { 23, 0, M0, ONE32 "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff", false },
    { 24, 0, M0, ONE32 "ffffffff00000001000000000000000000000001000000000000000000000000", false },
    { 25, 0, M0, N_HEX ZERO32, false },
    { 89, 0, "393738383438303339", "5694a6f84b8f875c276afd2ebcfe4d61de9ec90305afb1357b95b3e0da43885e0dffad9ffd0b757d8051dec02ebdf70d8ee2dc5c7870c0823b6ccc7c679cbaa4", true },
    { 90, 0, "33363130363732343432", "a0c30e8026fdb2b4b4968a27d16a6d08f7098f1a98d21620d7454ba9790f1ba65e470453a8a399f15baf463f9deceb53acc5ca64459149688bd2760c65424339", true },
    { 91, 0, "31303534323430373035", "614ea84acf736527dd73602cd4bb4eea1dfebebd5ad8aca52aa0228cf7b99a88737cc85f5f2d2f60d1b8183f3ed490e4de14368e96a9482c2a4dd193195c902f", true },
    { 92, 0, "35313734343438313937", "bead6734ebe44b810d3fb2ea00b1732945377338febfd439a8d74dfbd0f942fa6bb18eae36616a7d3cad35919fd21a8af4bbe7a10f73b3e036a46b103ef56e2a", true },
    { 93, 0, "31393637353631323531", "499625479e161dacd4db9d9ce64854c98d922cbf212703e9654fae182df9bad242c177cf37b8193a0131108d97819edd9439936028864ac195b64fca76d9d693", true },
    { 94, 0, "33343437323533333433", "08f16b8093a8fb4d66a2c8065b541b3d31e3bfe694f6b89c50fb1aaa6ff6c9b29d6455e2d5d1779748573b611cb95d4a21f967410399b39b535ba3e5af81ca2e", true },
    { 95, 0, "333638323634333138", "be26231b6191658a19dd72ddb99ed8f8c579b6938d19bce8eed8dc2b338cb5f8e1d9a32ee56cffed37f0f22b2dcb57d5c943c14f79694a03b9c5e96952575c89", true },
    { 101, 0, "313333383731363438", "ffcda40f792ce4d93e7e0f0e95e1a2147dddd7f6487621c30a03d710b330021979938b55f8a17f7ed7ba9ade8f2065a1fa77618f0b67add8d58c422c2453a49a", true },
    { 102, 0, "333232313434313632", "81f2359c4faba6b53d3e8c8c3fcc16a948350f7ab3a588b28c17603a431e39a8cd6f6a5cc3b55ead0ff695d06c6860b509e46d99fccefb9f7f9e101857f74300", true },
    { 104, 0, "3632313535323436", "ad019f74c6941d20efda70b46c53db166503a0e393e932f688227688ba6a576293320eb7ca0710255346bdbb3102cdcf7964ef2e0988e712bc05efe16c199345", true },
    { 111, 0, "32363138373837343138", "0671a0a85c2b72d54a2fb0990e34538b4890050f5a5712f6d1a7a5fb8578f32edb1846bab6b7361479ab9c3285ca41291808f27fd5bd4fdac720e5854713694c", true },
    { 114, 0, "343834323435343235", "914c67fb61dd1e27c867398ea7322d5ab76df04bc5aa6683a8e0f30a5d287348fa07474031481dda4953e3ac1959ee8cea7e66ec412b38d6c96d28f6d37304ea", true },
    { 115, 1, M0, "000000000000000000000000000000004319055358e8617b0c46353d039cdaabffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc63254e", true },
    { 116, 1, M0, "ffffffff00000001000000000000000000000000fffffffffffffffffffffffcffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc63254e", false },
    { 117, 2, M0, "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc63254fffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc63254e", true },
    { 118, 3, M0, "7ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffd909135bdb6799286170f5ead2de4f6511453fe50914f3df2de54a36383df8dd4", true },
    { 187, 4, M0, "7ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffd16e1e458f021248a5b9434ae23f474b43ee55ba37ea585fef95c90416600f1ba", true },
    { 188, 5, M0, "7ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffd2252d6856831b6cf895e4f0535eeaf0e5e5809753df848fe760ad86219016a97", true },
    { 189, 6, M0, "7ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffd81ffe55f178da695b28c86d8b406b15dab1a9e39661a3ae017fbe390ac0972c3", true },
    { 190, 7, M0, "7ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffd7fffffffaaaaaaaaffffffffffffffffe9a2538f37b28a2c513dee40fecbb71a", true },
    { 191, 8, M0, "7ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffdb62f26b5f2a2b26f6de86d42ad8a13da3ab3cccd0459b201de009e526adf21f2", true },
    { 192, 9, M0, "7ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffdbb1d9ac949dd748cd02bbbe749bd351cd57b38bb61403d700686aa7b4c90851e", true },
    { 193, 10, M0, "7ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffd66755a00638cdaec1c732513ca0234ece52545dac11f816e818f725b4f60aaf2", true },
    { 194, 11, M0, "7ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffd55a00c9fcdaebb6032513ca0234ecfffe98ebe492fdf02e48ca48e982beb3669", true },
    { 195, 12, M0, "7ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffdab40193f9b5d76c064a27940469d9fffd31d7c925fbe05c919491d3057d66cd2", true },
    /* Derived from tcId 1: wrong lengths (63, 65 with a trailing or a
     * leading zero, 32, 0) and the valid signature under another message. */
    { 0, 0, M0, "2ba3a8be6b94d5ec80a6d9d1190a436effe50d85a1eee859b8cc6af9bd5c2e184cd60b855d442f5b3c7b11eb6c4e0ae7525fe710fab9aa7c77a67f79e6fadd", false },
    { 0, 0, M0, "2ba3a8be6b94d5ec80a6d9d1190a436effe50d85a1eee859b8cc6af9bd5c2e184cd60b855d442f5b3c7b11eb6c4e0ae7525fe710fab9aa7c77a67f79e6fadd7600", false },
    { 0, 0, M0, "002ba3a8be6b94d5ec80a6d9d1190a436effe50d85a1eee859b8cc6af9bd5c2e184cd60b855d442f5b3c7b11eb6c4e0ae7525fe710fab9aa7c77a67f79e6fadd76", false },
    { 0, 0, M0, "2ba3a8be6b94d5ec80a6d9d1190a436effe50d85a1eee859b8cc6af9bd5c2e18", false },
    { 0, 0, M0, "", false },
    { 0, 0, "313233343031", "2ba3a8be6b94d5ec80a6d9d1190a436effe50d85a1eee859b8cc6af9bd5c2e184cd60b855d442f5b3c7b11eb6c4e0ae7525fe710fab9aa7c77a67f79e6fadd76", false },
};

/* hex into out; its length, or -1. */
static long
unhex(const char *hex, unsigned char *out, size_t cap)
{
    size_t n = strlen(hex), i;
    unsigned int b;

    if (n % 2 || n / 2 > cap)
        return -1;
    for (i = 0; i < n / 2; i++) {
        if (sscanf(hex + 2 * i, "%2x", &b) != 1)
            return -1;
        out[i] = (unsigned char)b;
    }
    return (long)(n / 2);
}

static jwks_t *
parse_set(const char *json)
{
    return jwks_parse(json, strlen(json));
}

static void
test_ecdsa_vectors(void)
{
    jwks_t *sets[sizeof wp_keys / sizeof wp_keys[0]];
    unsigned char msg[64], sig[128];
    char json[512];
    size_t i;

    for (i = 0; i < sizeof wp_keys / sizeof wp_keys[0]; i++) {
        snprintf(json, sizeof json,
                 "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\","
                 "\"y\":\"%s\",\"kid\":\"none\"}]}", wp_keys[i].x, wp_keys[i].y);
        sets[i] = parse_set(json);
        ok(jwks_count(sets[i]) == 1, "Wycheproof key %zu parses as a JWK", i);
    }
    for (i = 0; i < sizeof wp_ecdsa / sizeof wp_ecdsa[0]; i++) {
        const struct wp_ecdsa *v = &wp_ecdsa[i];
        long ml = unhex(v->msg, msg, sizeof msg);
        long sl = unhex(v->sig, sig, sizeof sig);
        EVP_PKEY *k = jwks_find(sets[v->key], NULL, JWT_ALG_ES256);

        ok(ml >= 0 && sl >= 0 &&
           jwt_es256_verify_raw(k, msg, (size_t)ml, sig, (size_t)sl) == v->valid,
           "ecdsa tcId %d (%ld-byte sig): %s", v->tc, sl,
           v->valid ? "valid" : "rejected");
    }
    for (i = 0; i < sizeof wp_keys / sizeof wp_keys[0]; i++)
        jwks_free(sets[i]);
}

/* json_web_signature_test.json: the compact HS256 / ES256 / RS256 cases.
 * Their payload is "foo", not a JSON object: a token whose signature
 * holds gets JWT_MALFORMED from the payload step, one whose signature
 * fails gets JWT_BAD_SIGNATURE before it. */
#define JWS_HS_K "-ebuDNsVZ2iJtoZ-akfXTSCt4UO2cruLCsbWlBinggE"
#define JWS_EC "{\"alg\":\"ES256\",\"use\":\"sig\",\"x\":\"04N0xi21hshyvBp7I167sbE_bXqyqkAPfefdklMO7wY\",\"y\":\"UI8exy-C06a7DUnjIdENkxeFtHM4-l_41LqEw9nVgmw\",\"crv\":\"P-256\",\"kid\":\"kid-ec-sign\",\"kty\":\"EC\"}"
#define JWS_RSA "{\"alg\":\"RS256\",\"use\":\"sig\",\"n\":\"kqGboBfAWttWPCA-0cGRgsY6SaYoIARt0B_PkaEcIq9HPYNdu9n6UuWHuuTHrjF_ZoQW97r5HaAorNvrMEGTGdxCHZdEtkHvNVVmrtxTBLiQCbCozXhFoIrVcr3qUBrdGnNn_M3jJi7Wg7p_-x62nS5gNG875oyheRkutHsQXikFZwsN3q_TsPNOVlCiHy8mxzaFTUQGm-X8UYexFyAivlDSjgDJLAZSWfxd7k9Gxuwa3AUfQqQcVcegmgKGCaErQ3qQbh1x7WB6iopE3_-GZ8HMAVtR9AmrVscqYsnjhaCehfAI0iKKs8zXr8tISc0ORbaalrkk03H1ZrsEnDKEWQ\",\"e\":\"AQAB\",\"kid\":\"kid-rsa-sign\",\"kty\":\"RSA\"}"
#define RS_SIG "H" RS_SIG_REST
#define RS_SIG_REST "UwxI1-cZrZgcuOgBQ7G7NE-GrqK79l6GV1KT4DKXnSMFwC8pfZCzE7pmLE7mYpLCIvzC87yuOjuhT0uW5oe6aaAEtR978cm-q8dfly45flqMrd_ifhi9GCsMlyi8dpQ42Ou1etZljFZuWjfyk8CN1c5DaHRwhqjScAPIFp6xmzKIRUJ_xdQfUSfSlujLaixtScU518EoNP4oo1v7E8RAz6ZO4g2N4Xqs8OvSxYydcoTEg42QnLHe9JnXgI37Q5gSwinwaPsG3Ry56UYiLoL8mCUa74S51y02VsIgVmmGWgaXjM-i_lCiKQDBiBnvWlka4XhVuvd6ZWibM9cbCPtPg"
#define RS_HDR "eyJhbGciOiJSUzI1NiIsImtpZCI6ImtpZC1yc2Etc2lnbiJ9"
#define ES_HDR "eyJhbGciOiJFUzI1NiIsImtpZCI6ImtpZC1lYy1zaWduIn0"
#define ES_SIG "5cA0OHyMP7ezamUd5c9kV-FrGxdx4hbGXOdplQkutrqWrte5P-pAvsE3Ve6xSyU3YDQwUHjVVOtvcrEbbnZ8yA"
#define HS_HDR "eyJhbGciOiJIUzI1NiIsImtpZCI6ImtpZC1hZXMtc2lnbiJ9"

struct jws_case { int tc; const char *jws; enum jwt_error want; };
static const struct jws_case jws_cases[] = {
    { 1, HS_HDR ".Zm9v.TD37p4c_0jmreSrBSDmE0F3mYSPtkZ3WrSyI5wb_KTg", JWT_MALFORMED },
    { 2, HS_HDR ".Zm9v.XD37p4c_0jmreSrBSDmE0F3mYSPtkZ3WrSyI5wb_KTg", JWT_BAD_SIGNATURE },
    { 3, HS_HDR ".Zm9v.", JWT_MALFORMED },
    { 5, HS_HDR ".WG9v.TD37p4c_0jmreSrBSDmE0F3mYSPtkZ3WrSyI5wb_KTg", JWT_BAD_SIGNATURE },
    { 14, HS_HDR ".Zm9v.TD37p4c_0jmreSrBSDmE0F3mYSPtkZ3WrSyI5wb_KTg.", JWT_MALFORMED },
    { 16, "eyJhbGciOiJub25lIiwia2lkIjoia2lkLWFlcy1zaWduIn0.Zm9v.", JWT_MALFORMED },
    { 17, "{\"payload\":\"Zm9v\",\"signatures\":[{\"protected\":\"" HS_HDR "\",\"signature\":\"TD37p4c_0jmreSrBSDmE0F3mYSPtkZ3WrSyI5wb_KTg\"}", JWT_MALFORMED },
    { 18, ES_HDR ".Zm9v." ES_SIG, JWT_MALFORMED },
    { 19, ES_HDR ".Zm9v.XcA0OHyMP7ezamUd5c9kV-FrGxdx4hbGXOdplQkutrqWrte5P-pAvsE3Ve6xSyU3YDQwUHjVVOtvcrEbbnZ8yA", JWT_BAD_SIGNATURE },
    { 20, ES_HDR ".Zm9v.", JWT_MALFORMED },
    { 22, ES_HDR ".WG9v." ES_SIG, JWT_BAD_SIGNATURE },
    { 25, "eyJhbGciOiJFUzI1NiIsImtpZCI6IlhpZC1lYy1zaWduIn0.Zm9v." ES_SIG, JWT_UNKNOWN_KEY },
    /* rejectsSymmetryConfusionAttacks_aesKeyFromEcVerificationKeyBytes */
    { 31, "eyJhbGciOiJIUzI1NiIsImtpZCI6ImtpZC1lYy1zaWduIn0.Zm9v.TgWtz2FIRukBQ_mA5sgHa0Ybtgn7bl-YBPAi7Z0XdHU", JWT_BAD_SIGNATURE },
    /* rejectsAttackerProvidedEmbeddedJwk */
    { 32, "eyJhbGciOiJFUzI1NiIsImtpZCI6ImtpZC1lYy1zaWduIiwiandrIjp7Imt0eSI6IkVDIiwia2lkIjoia2lkLWVjLXNpZ24iLCJ1c2UiOiJzaWciLCJhbGciOiJFUzI1NiIsIngiOiJNZG5UWkRJaERKYmZBU2RGcWFtY3BPMkNoOUdOS0sybTBNUWxoNDAyU3BvIiwieSI6Ijdhdko0bHFfV3l4LW5MUERCUTJZcHl0dUh5TWlvMDdCVXl2bDNqYUMtMVkiLCJjcnYiOiJQLTI1NiJ9fQ.Zm9v.4jmsollQD8ZxvySzXYnIEYA4fwaZi2ZbC0aI1J4LYmW2Bn31NhKdjms2N6o51Dff5-InWXQF9m45VtTexl6yjg", JWT_BAD_SIGNATURE },
    { 33, RS_HDR ".Zm9v." RS_SIG, JWT_MALFORMED },
    { 34, RS_HDR ".Zm9v.X" RS_SIG_REST, JWT_BAD_SIGNATURE },
    { 35, RS_HDR ".Zm9v.", JWT_MALFORMED },
    { 37, RS_HDR ".WG9v." RS_SIG, JWT_BAD_SIGNATURE },
    /* Derived: the valid ES256 signature under the RSA key's kid, and the
     * valid RS256 signature under the EC key's kid: never cross-used. */
    { 0, "eyJhbGciOiJFUzI1NiIsImtpZCI6ImtpZC1yc2Etc2lnbiJ9.Zm9v." ES_SIG, JWT_UNKNOWN_KEY },
    { 0, "eyJhbGciOiJSUzI1NiIsImtpZCI6ImtpZC1lYy1zaWduIn0.Zm9v." RS_SIG, JWT_UNKNOWN_KEY },
};

static EVP_PKEY *
set_lookup(void *ctx, const char *kid, enum jwt_alg alg, time_t now)
{
    (void)now;
    return jwks_find(ctx, kid, alg);
}

static void
test_jws_vectors(void)
{
    static const char doc[] = "{\"keys\":[" JWS_EC "," JWS_RSA
        ",{\"kty\":\"oct\",\"k\":\"" JWS_HS_K "\",\"kid\":\"kid-aes-sign\",\"alg\":\"HS256\"}]}";
    unsigned char secret[64];
    long secret_len = b64url_decode(JWS_HS_K, strlen(JWS_HS_K), secret);
    jwks_t *set = parse_set(doc);
    jwt_verify_opts_t o = {
        .secret = secret,
        .secret_len = (size_t)secret_len,
        .audience = "authenticated",
        .now = 1700000000,
        .key_lookup = set_lookup,
        .key_ctx = set,
    };
    cJSON *claims = NULL;
    size_t i;

    is_int(jwks_count(set), 2, "JWS keys: the EC and RSA keys are usable, the oct key is skipped");
    ok(jwks_find(set, "kid-aes-sign", JWT_ALG_HS256) == NULL, "an oct JWK never becomes a key");
    for (i = 0; i < sizeof jws_cases / sizeof jws_cases[0]; i++) {
        enum jwt_error e = jwt_verify(jws_cases[i].jws, &o, &claims);
        is_int(e, jws_cases[i].want, "jws tcId %d: %s", jws_cases[i].tc,
               jwt_strerror(jws_cases[i].want));
        cJSON_Delete(claims);
        claims = NULL;
    }
    /* The valid HS256 vector with another secret fails at the signature,
     * which shows the MALFORMED above came after it. */
    o.secret = (const unsigned char *)"another-secret";
    o.secret_len = strlen("another-secret");
    is_int(jwt_verify(jws_cases[0].jws, &o, &claims), JWT_BAD_SIGNATURE,
           "jws tcId 1 with another secret: bad signature");
    jwks_free(set);
}

int
main(void)
{
    test_ecdsa_vectors();
    test_jws_vectors();
    return done_testing();
}
