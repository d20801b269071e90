/* t/unit/jwt.c: strict HS256 verification; tokens are hand-built so each bad case is exact. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth/jwt.h"
#include "crypto/b64url.h"
#include "tap.h"

#define NOW 1700000000L
#define SECRET "test-secret-0123456789abcdef0123456789abcdef"
#define SUB "6f1c2a4e-8b3d-4c7a-9e2f-0a1b2c3d4e5f"
#define TOKBUF 32768

/* A well-formed header and payload, and pieces to build variants from. */
#define HDR "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define EXP "\"exp\":1700000060"
#define AUD "\"aud\":\"authenticated\""
#define CLAIMS "\"sub\":\"" SUB "\"," AUD "," EXP
#define PAY "{" CLAIMS ",\"role\":\"authenticated\",\"iat\":1700000000}"

static const char *const roles_with_anon[] = { "authenticated", "anon", NULL };

/* Append ".<HMAC-SHA256 of tok>" to tok (which holds "header.payload"). */
static void
sign_raw(char *tok, const char *secret)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    size_t n = strlen(tok);

    HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)tok, n,
         mac, &len);
    tok[n] = '.';
    b64url_encode(mac, len, tok + n + 1);
}

/* tok = b64url(h) "." b64url(p) "." signature; lengths are explicit so a
 * payload may hold any bytes. */
static void
make_token_n(char *tok, const char *h, size_t hl, const char *p, size_t pl,
             const char *secret)
{
    size_t n = b64url_encode((const unsigned char *)h, hl, tok);

    tok[n] = '.';
    b64url_encode((const unsigned char *)p, pl, tok + n + 1);
    sign_raw(tok, secret);
}

static void
make_token(char *tok, const char *h, const char *p)
{
    make_token_n(tok, h, strlen(h), p, strlen(p), SECRET);
}

/* Verify at NOW with audience "authenticated".  Also checks the contract
 * that claims are handed out on success only. */
static enum jwt_error
verify_roles(const char *tok, const char *const *roles, const char *secret)
{
    jwt_verify_opts_t o = {
        .secret = (const unsigned char *)secret,
        .secret_len = strlen(secret),
        .audience = "authenticated",
        .roles = roles,
        .now = NOW,
    };
    cJSON *claims = (cJSON *)&o;   /* poison: must be overwritten */
    enum jwt_error e = jwt_verify(tok, &o, &claims);

    if ((e == JWT_OK) != (claims != NULL))
        diag("claims %s on %s", claims ? "set" : "NULL", jwt_strerror(e));
    if (e != JWT_OK && claims != NULL)
        e = (enum jwt_error)-1;    /* make the test fail loudly */
    if (e == JWT_OK)
        cJSON_Delete(claims);
    return e;
}

static enum jwt_error
verify(const char *tok)
{
    return verify_roles(tok, NULL, SECRET);
}

/* One row: a header and payload, the roles allowed, the expected answer. */
struct jwt_case {
    const char *name, *header, *payload;
    const char *const *roles;
    enum jwt_error want;
};

static const struct jwt_case cases[] = {
    { "valid token", HDR, PAY, NULL, JWT_OK },
    { "valid without typ", "{\"alg\":\"HS256\"}", PAY, NULL, JWT_OK },
    { "valid, minimal claims", HDR, "{" CLAIMS "}", NULL, JWT_OK },
    { "trailing whitespace is JSON", HDR " \n", PAY "\r\n\t ", NULL, JWT_OK },
    { "kid is ignored", "{\"alg\":\"HS256\",\"kid\":\"k1\"}", PAY, NULL, JWT_OK },
    /* alg */
    { "alg none (signed)", "{\"alg\":\"none\",\"typ\":\"JWT\"}", PAY, NULL, JWT_BAD_ALG },
    { "alg None", "{\"alg\":\"None\"}", PAY, NULL, JWT_BAD_ALG },
    { "alg HS384", "{\"alg\":\"HS384\"}", PAY, NULL, JWT_BAD_ALG },
    { "alg HS512", "{\"alg\":\"HS512\"}", PAY, NULL, JWT_BAD_ALG },
    { "alg RS256", "{\"alg\":\"RS256\"}", PAY, NULL, JWT_BAD_ALG },
    { "alg ES256 with no public keys", "{\"alg\":\"ES256\",\"kid\":\"k1\"}", PAY, NULL, JWT_BAD_ALG },
    { "alg PS256", "{\"alg\":\"PS256\"}", PAY, NULL, JWT_BAD_ALG },
    { "kid not a string", "{\"alg\":\"HS256\",\"kid\":7}", PAY, NULL, JWT_MALFORMED },
    { "kid null", "{\"alg\":\"HS256\",\"kid\":null}", PAY, NULL, JWT_MALFORMED },
    { "embedded jwk is ignored", "{\"alg\":\"HS256\",\"jwk\":{\"kty\":\"oct\",\"k\":\"AA\"}}", PAY, NULL, JWT_OK },
    { "alg lower-case hs256", "{\"alg\":\"hs256\"}", PAY, NULL, JWT_BAD_ALG },
    { "alg missing", "{\"typ\":\"JWT\"}", PAY, NULL, JWT_BAD_ALG },
    { "alg not a string", "{\"alg\":256}", PAY, NULL, JWT_BAD_ALG },
    { "alg array", "{\"alg\":[\"HS256\"]}", PAY, NULL, JWT_BAD_ALG },
    { "typ not JWT", "{\"alg\":\"HS256\",\"typ\":\"JWS\"}", PAY, NULL, JWT_MALFORMED },
    { "typ not a string", "{\"alg\":\"HS256\",\"typ\":1}", PAY, NULL, JWT_MALFORMED },
    { "crit header", "{\"alg\":\"HS256\",\"crit\":[\"b64\"],\"b64\":false}", PAY, NULL, JWT_MALFORMED },
    { "header not an object", "[\"HS256\"]", PAY, NULL, JWT_MALFORMED },
    { "header trailing garbage", HDR "x", PAY, NULL, JWT_MALFORMED },
    /* exp */
    { "expired", HDR, "{\"sub\":\"" SUB "\"," AUD ",\"exp\":1699999999}", NULL, JWT_EXPIRED },
    { "expires now (now >= exp)", HDR, "{\"sub\":\"" SUB "\"," AUD ",\"exp\":1700000000}", NULL, JWT_EXPIRED },
    { "expires in 1 s", HDR, "{\"sub\":\"" SUB "\"," AUD ",\"exp\":1700000001}", NULL, JWT_OK },
    { "exp missing", HDR, "{\"sub\":\"" SUB "\"," AUD "}", NULL, JWT_EXPIRED },
    { "exp as string", HDR, "{\"sub\":\"" SUB "\"," AUD ",\"exp\":\"1700000060\"}", NULL, JWT_EXPIRED },
    { "exp null", HDR, "{\"sub\":\"" SUB "\"," AUD ",\"exp\":null}", NULL, JWT_EXPIRED },
    { "exp infinite (1e999)", HDR, "{\"sub\":\"" SUB "\"," AUD ",\"exp\":1e999}", NULL, JWT_EXPIRED },
    { "exp fractional", HDR, "{\"sub\":\"" SUB "\"," AUD ",\"exp\":1700000000.5}", NULL, JWT_OK },
    /* nbf / iat */
    { "nbf beyond leeway", HDR, "{" CLAIMS ",\"nbf\":1700000031}", NULL, JWT_NOT_YET_VALID },
    { "nbf within leeway", HDR, "{" CLAIMS ",\"nbf\":1700000030}", NULL, JWT_OK },
    { "nbf past", HDR, "{" CLAIMS ",\"nbf\":1600000000}", NULL, JWT_OK },
    { "nbf as string", HDR, "{" CLAIMS ",\"nbf\":\"0\"}", NULL, JWT_NOT_YET_VALID },
    { "iat in the future", HDR, "{" CLAIMS ",\"iat\":1700003600}", NULL, JWT_NOT_YET_VALID },
    { "iat within leeway", HDR, "{" CLAIMS ",\"iat\":1700000010}", NULL, JWT_OK },
    { "iat as bool", HDR, "{" CLAIMS ",\"iat\":true}", NULL, JWT_NOT_YET_VALID },
    /* aud */
    { "wrong audience", HDR, "{\"sub\":\"" SUB "\",\"aud\":\"service\"," EXP "}", NULL, JWT_BAD_AUDIENCE },
    { "audience missing", HDR, "{\"sub\":\"" SUB "\"," EXP "}", NULL, JWT_BAD_AUDIENCE },
    { "audience array containing it", HDR, "{\"sub\":\"" SUB "\",\"aud\":[\"x\",\"authenticated\"]," EXP "}", NULL, JWT_OK },
    { "audience array without it", HDR, "{\"sub\":\"" SUB "\",\"aud\":[\"x\",\"y\"]," EXP "}", NULL, JWT_BAD_AUDIENCE },
    { "audience empty array", HDR, "{\"sub\":\"" SUB "\",\"aud\":[]," EXP "}", NULL, JWT_BAD_AUDIENCE },
    { "audience array with a non-string", HDR, "{\"sub\":\"" SUB "\",\"aud\":[1,\"authenticated\"]," EXP "}", NULL, JWT_BAD_AUDIENCE },
    { "audience as object", HDR, "{\"sub\":\"" SUB "\",\"aud\":{\"authenticated\":1}," EXP "}", NULL, JWT_BAD_AUDIENCE },
    { "audience prefix", HDR, "{\"sub\":\"" SUB "\",\"aud\":\"authenticate\"," EXP "}", NULL, JWT_BAD_AUDIENCE },
    /* role */
    { "role service_role refused", HDR, "{" CLAIMS ",\"role\":\"service_role\"}", NULL, JWT_BAD_ROLE },
    { "role service_role refused with anon allowed", HDR, "{" CLAIMS ",\"role\":\"service_role\"}", roles_with_anon, JWT_BAD_ROLE },
    { "role anon refused by default", HDR, "{" CLAIMS ",\"role\":\"anon\"}", NULL, JWT_BAD_ROLE },
    { "role anon when allowed", HDR, "{" CLAIMS ",\"role\":\"anon\"}", roles_with_anon, JWT_OK },
    { "role absent", HDR, "{" CLAIMS "}", NULL, JWT_OK },
    { "role not a string", HDR, "{" CLAIMS ",\"role\":[\"authenticated\"]}", NULL, JWT_BAD_ROLE },
    /* duplicate keys */
    { "duplicate sub in payload", HDR, "{" CLAIMS ",\"sub\":\"00000000-0000-4000-8000-000000000000\"}", NULL, JWT_DUPLICATE_KEY },
    { "duplicate role in payload", HDR, "{" CLAIMS ",\"role\":\"authenticated\",\"role\":\"service_role\"}", NULL, JWT_DUPLICATE_KEY },
    { "duplicate key nested", HDR, "{" CLAIMS ",\"app\":{\"a\":1,\"b\":{\"c\":1,\"c\":2}}}", NULL, JWT_DUPLICATE_KEY },
    { "duplicate key in array element", HDR, "{" CLAIMS ",\"l\":[1,{\"a\":1,\"a\":1}]}", NULL, JWT_DUPLICATE_KEY },
    { "same key in sibling objects is fine", HDR, "{" CLAIMS ",\"l\":[{\"a\":1},{\"a\":1}]}", NULL, JWT_OK },
    { "keys differing in case are distinct", HDR, "{" CLAIMS ",\"Sub\":1}", NULL, JWT_OK },
    { "duplicate alg in header (HS256 first)", "{\"alg\":\"HS256\",\"alg\":\"none\"}", PAY, NULL, JWT_DUPLICATE_KEY },
    { "duplicate alg in header (none first)", "{\"alg\":\"none\",\"alg\":\"HS256\"}", PAY, NULL, JWT_DUPLICATE_KEY },
    { "\\u0000 key alias", HDR, "{" CLAIMS ",\"role\":\"authenticated\",\"role\\u0000\":\"service_role\"}", NULL, JWT_MALFORMED },
    /* JSON shape */
    { "payload trailing garbage", HDR, PAY "x", NULL, JWT_MALFORMED },
    { "payload two objects", HDR, PAY "{}", NULL, JWT_MALFORMED },
    { "payload []", HDR, "[]", NULL, JWT_MALFORMED },
    { "payload 1", HDR, "1", NULL, JWT_MALFORMED },
    { "payload string", HDR, "\"" SUB "\"", NULL, JWT_MALFORMED },
    { "payload null", HDR, "null", NULL, JWT_MALFORMED },
    { "payload truncated", HDR, "{" CLAIMS, NULL, JWT_MALFORMED },
    { "payload with BOM", HDR, "\xef\xbb\xbf" PAY, NULL, JWT_MALFORMED },
    { "payload bad escape", HDR, "{" CLAIMS ",\"n\":\"\\x41\"}", NULL, JWT_MALFORMED },
    { "payload lone surrogate escape", HDR, "{" CLAIMS ",\"n\":\"\\ud800\"}", NULL, JWT_MALFORMED },
    { "payload good escapes", HDR, "{" CLAIMS ",\"n\":\"\\u00e9\\ud83d\\ude00\\n\\\"\"}", NULL, JWT_OK },
    /* UTF-8 */
    { "invalid UTF-8 (0xff)", HDR, "{" CLAIMS ",\"n\":\"\xff\"}", NULL, JWT_MALFORMED },
    { "invalid UTF-8 (truncated)", HDR, "{" CLAIMS ",\"n\":\"\xc3\"}", NULL, JWT_MALFORMED },
    { "invalid UTF-8 (overlong /)", HDR, "{" CLAIMS ",\"n\":\"\xc0\xaf\"}", NULL, JWT_MALFORMED },
    { "invalid UTF-8 (surrogate)", HDR, "{" CLAIMS ",\"n\":\"\xed\xa0\x80\"}", NULL, JWT_MALFORMED },
    { "invalid UTF-8 (> U+10FFFF)", HDR, "{" CLAIMS ",\"n\":\"\xf4\x90\x80\x80\"}", NULL, JWT_MALFORMED },
    { "invalid UTF-8 in a key", HDR, "{" CLAIMS ",\"\xfe\":1}", NULL, JWT_MALFORMED },
    { "invalid UTF-8 in header", "{\"alg\":\"HS256\",\"x\":\"\x80\"}", PAY, NULL, JWT_MALFORMED },
    { "valid UTF-8 (e-acute, emoji)", HDR, "{" CLAIMS ",\"n\":\"\xc3\xa9\xf0\x9f\x98\x80\"}", NULL, JWT_OK },
    { "raw control byte in a string", HDR, "{" CLAIMS ",\"n\":\"a\x01\"}", NULL, JWT_MALFORMED },
    { "raw newline in a string", HDR, "{" CLAIMS ",\"n\":\"a\nb\"}", NULL, JWT_MALFORMED },
    { "control byte between tokens", HDR, "{" CLAIMS ",\x0b\"n\":1}", NULL, JWT_MALFORMED },
    /* sub */
    { "sub not a uuid", HDR, "{\"sub\":\"alice\"," AUD "," EXP "}", NULL, JWT_BAD_SUBJECT },
    { "sub missing", HDR, "{" AUD "," EXP "}", NULL, JWT_BAD_SUBJECT },
    { "sub a number", HDR, "{\"sub\":42," AUD "," EXP "}", NULL, JWT_BAD_SUBJECT },
    { "sub without dashes", HDR, "{\"sub\":\"6f1c2a4e8b3d4c7a9e2f0a1b2c3d4e5f\"," AUD "," EXP "}", NULL, JWT_BAD_SUBJECT },
    { "sub in braces", HDR, "{\"sub\":\"{" SUB "}\"," AUD "," EXP "}", NULL, JWT_BAD_SUBJECT },
    { "sub with trailing char", HDR, "{\"sub\":\"" SUB "0\"," AUD "," EXP "}", NULL, JWT_BAD_SUBJECT },
    { "sub one char short", HDR, "{\"sub\":\"6f1c2a4e-8b3d-4c7a-9e2f-0a1b2c3d4e5\"," AUD "," EXP "}", NULL, JWT_BAD_SUBJECT },
    { "sub with non-hex", HDR, "{\"sub\":\"6f1c2a4e-8b3d-4c7a-9e2f-0a1b2c3d4e5g\"," AUD "," EXP "}", NULL, JWT_BAD_SUBJECT },
    { "sub dash misplaced", HDR, "{\"sub\":\"6f1c2a4e8-b3d-4c7a-9e2f-0a1b2c3d4e5f\"," AUD "," EXP "}", NULL, JWT_BAD_SUBJECT },
    { "sub upper-case hex accepted", HDR, "{\"sub\":\"6F1C2A4E-8B3D-4C7A-9E2F-0A1B2C3D4E5F\"," AUD "," EXP "}", NULL, JWT_OK },
};

static void
test_table(void)
{
    static char tok[TOKBUF];
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        make_token(tok, cases[i].header, cases[i].payload);
        is_int(verify_roles(tok, cases[i].roles, SECRET), cases[i].want,
               "%s -> %s", cases[i].name, jwt_strerror(cases[i].want));
    }
}

static void
test_valid_claims(void)
{
    static char tok[TOKBUF];
    jwt_verify_opts_t o = {
        .secret = (const unsigned char *)SECRET, .secret_len = strlen(SECRET),
        .audience = "authenticated", .now = NOW,
    };
    cJSON *claims = NULL;
    const cJSON *sub;

    make_token(tok, HDR, PAY);
    is_int(jwt_verify(tok, &o, &claims), JWT_OK, "valid token verifies");
    sub = cJSON_GetObjectItemCaseSensitive(claims, "sub");
    is_str(cJSON_IsString(sub) ? sub->valuestring : NULL, SUB,
           "sub readable from the claims");
    cJSON_Delete(claims);

    o.now = 0;   /* time(NULL): long after NOW, so expired */
    is_int(jwt_verify(tok, &o, &claims), JWT_EXPIRED, "now = 0 means time(NULL)");
    ok(claims == NULL, "no claims on failure");
}

/* Signature problems, on top of an otherwise valid token. */
static void
test_signature(void)
{
    static char tok[TOKBUF], tok2[TOKBUF];
    char *sig, *dot;

    make_token(tok, HDR, PAY);
    is_int(verify_roles(tok, NULL, "another-secret"), JWT_BAD_SIGNATURE,
           "different secret");
    is_int(verify_roles(tok, NULL, ""), JWT_BAD_SIGNATURE, "empty secret refused");
    make_token_n(tok2, HDR, strlen(HDR), PAY, strlen(PAY), "another-secret");
    is_int(verify(tok2), JWT_BAD_SIGNATURE, "signed with a different secret");

    sig = strrchr(tok, '.') + 1;
    sig[0] = sig[0] == 'A' ? 'B' : 'A';
    is_int(verify(tok), JWT_BAD_SIGNATURE, "one signature character changed");

    /* A payload swapped in under a valid signature. */
    make_token(tok, HDR, PAY);
    make_token(tok2, HDR, "{" CLAIMS ",\"role\":\"service_role\"}");
    dot = strrchr(tok2, '.');
    strcpy(dot, strrchr(tok, '.'));
    is_int(verify(tok2), JWT_BAD_SIGNATURE, "payload changed, signature kept");

    make_token(tok, HDR, PAY);
    sig = strrchr(tok, '.') + 1;
    sig[strlen(sig) - 3] = '\0';
    is_int(verify(tok), JWT_BAD_SIGNATURE, "signature truncated to 30 bytes");
    make_token(tok, HDR, PAY);
    strcat(tok, "AAAA");
    is_int(verify(tok), JWT_BAD_SIGNATURE, "signature extended to 35 bytes");

    /* alg none: with a real HMAC, with a stripped signature, with junk. */
    make_token(tok, "{\"alg\":\"none\"}", PAY);
    is_int(verify(tok), JWT_BAD_ALG, "alg none with a signature");
    *(strrchr(tok, '.') + 1) = '\0';
    is_int(verify(tok), JWT_MALFORMED, "alg none with an empty signature");
    strcat(tok, "AAAA");
    is_int(verify(tok), JWT_BAD_ALG, "alg none with a junk signature");
}

/* Encode header and payload, let edit() damage the text, then sign it, so
 * only the encoding is wrong. */
static enum jwt_error
verify_edited(const char *payload, void (*edit)(char *payload_b64))
{
    static char tok[TOKBUF];
    size_t n = b64url_encode((const unsigned char *)HDR, strlen(HDR), tok);

    tok[n] = '.';
    b64url_encode((const unsigned char *)payload, strlen(payload), tok + n + 1);
    edit(tok + n + 1);
    sign_raw(tok, SECRET);
    return verify(tok);
}

static void
edit_none(char *p)
{
    (void)p;
}

static void
edit_pad(char *p)
{
    while (strlen(p) % 4)
        strcat(p, "=");
}

static void
edit_pad_one(char *p)
{
    strcat(p, "=");
}

static void
edit_std_alphabet(char *p)
{
    for (; *p; p++)
        if (*p == '-')
            *p = '+';
        else if (*p == '_')
            *p = '/';
}

static void
edit_space(char *p)
{
    memmove(p + 5, p + 4, strlen(p + 4) + 1);
    p[4] = ' ';
}

static void
edit_newline(char *p)
{
    strcat(p, "\n");
}

/* Flip the lowest (unused) bit of the last character. */
static void
edit_trailing_bits(char *p)
{
    static const char a[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *last = p + strlen(p) - 1;

    *last = a[(strchr(a, *last) - a) ^ 1];
}

static void
test_encoding(void)
{
    /* Payload lengths 1 and 2 mod 3, so the encodings need padding and
     * have unused trailing bits; "~~~" and "???" encode to "fn5-", "Pz8_". */
    char p1[256], p2[256], b64[TOKBUF];
    size_t l1;
    int k;

    for (k = 0; k < 3; k++) {
        snprintf(p1, sizeof p1, "{" CLAIMS ",\"x\":\"~~~~~~??????%.*s\"}", k,
                 "aa");
        if (strlen(p1) % 3 == 1)
            break;
    }
    snprintf(p2, sizeof p2, "{" CLAIMS ",\"x\":\"~~~~~~??????%.*s\"}", k + 1,
             "aaa");
    l1 = b64url_encode((const unsigned char *)p1, strlen(p1), b64);
    ok(strlen(p1) % 3 == 1 && strlen(p2) % 3 == 2, "fixtures need padding");
    ok(strchr(b64, '-') && strchr(b64, '_') && l1 % 4 == 2,
       "fixture encodes with - and _");
    is_int(verify_edited(p1, edit_none), JWT_OK, "unedited fixture verifies");
    is_int(verify_edited(p2, edit_none), JWT_OK, "unedited fixture 2 verifies");
    is_int(verify_edited(p1, edit_pad), JWT_MALFORMED, "padded base64 ('==')");
    is_int(verify_edited(p2, edit_pad), JWT_MALFORMED, "padded base64 ('=')");
    is_int(verify_edited(p1, edit_pad_one), JWT_MALFORMED, "single '=' appended");
    is_int(verify_edited(p1, edit_std_alphabet), JWT_MALFORMED,
           "standard alphabet '+' '/'");
    is_int(verify_edited(p1, edit_space), JWT_MALFORMED, "space inside base64");
    is_int(verify_edited(p1, edit_newline), JWT_MALFORMED, "newline after base64");
    is_int(verify_edited(p1, edit_trailing_bits), JWT_MALFORMED,
           "non-zero trailing bits (p1)");
    is_int(verify_edited(p2, edit_trailing_bits), JWT_MALFORMED,
           "non-zero trailing bits (p2)");
}

static void
test_shape(void)
{
    static const char *const bad[] = {
        "", ".", "..", "...", "abc", "a.b", "a.b.c.d", "a..c", ".b.c", "a.b.",
        "eyJhbGciOiJIUzI1NiJ9..c2ln", "eyJhbGciOiJIUzI1NiJ9.e30.",
        ".e30.c2ln",
    };
    static char tok[TOKBUF];
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        is_int(verify(bad[i]), JWT_MALFORMED, "shape \"%s\"", bad[i]);
    make_token(tok, HDR, PAY);
    strcat(tok, ".x");
    is_int(verify(tok), JWT_MALFORMED, "valid token plus a fourth part");
    make_token(tok, HDR, PAY);
    memmove(tok + 1, tok, strlen(tok) + 1);
    tok[0] = '.';
    is_int(verify(tok), JWT_MALFORMED, "leading dot");
    is_int(verify(NULL), JWT_MALFORMED, "NULL token");
    make_token_n(tok, HDR, strlen(HDR), "{\"a\":1}\0{}", 10, SECRET);
    is_int(verify(tok), JWT_MALFORMED, "NUL byte inside the payload");
}

/* Pad a claim until the token is exactly JWT_MAX_LEN, then one past it. */
static void
test_size(void)
{
    static char tok[TOKBUF], pay[TOKBUF];
    size_t pad, len = 0;
    int exact = 0;

    for (pad = 5000; pad < 7000 && len <= JWT_MAX_LEN; pad++) {
        int n = snprintf(pay, sizeof pay, "{" CLAIMS ",\"pad\":\"%0*d\"}",
                         (int)pad, 0);
        make_token_n(tok, HDR, strlen(HDR), pay, (size_t)n, SECRET);
        len = strlen(tok);
        if (len == JWT_MAX_LEN) {
            exact = 1;
            is_int(verify(tok), JWT_OK, "token of exactly JWT_MAX_LEN accepted");
        }
    }
    ok(exact, "found a token of exactly JWT_MAX_LEN");
    ok(len > JWT_MAX_LEN, "built a token longer than JWT_MAX_LEN (%zu)", len);
    is_int(verify(tok), JWT_TOO_LONG, "too-long token");
    memset(tok, 'A', sizeof tok - 1);
    tok[sizeof tok - 1] = '\0';
    is_int(verify(tok), JWT_TOO_LONG, "32 KB of garbage is too long, unread");
}

static void
test_sign(void)
{
    jwt_verify_opts_t o = {
        .secret = (const unsigned char *)SECRET, .secret_len = strlen(SECRET),
        .audience = "authenticated", .now = NOW,
    };
    cJSON *in = cJSON_Parse(PAY), *claims = NULL;
    char *tok = jwt_sign_hs256(in, o.secret, o.secret_len);
    char *payload_json = NULL;

    ok(tok != NULL, "jwt_sign_hs256 returns a token");
    ok(tok && strncmp(tok, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.", 37) == 0,
       "header is {\"alg\":\"HS256\",\"typ\":\"JWT\"}");
    is_int(jwt_verify(tok, &o, &claims), JWT_OK, "signed token verifies");
    if (claims)
        payload_json = cJSON_PrintUnformatted(claims);
    is_str(payload_json, PAY, "claims round trip");
    cJSON_free(payload_json);
    cJSON_Delete(claims);
    free(tok);

    ok(jwt_sign_hs256(NULL, o.secret, o.secret_len) == NULL, "sign NULL claims");
    ok(jwt_sign_hs256(in, o.secret, 0) == NULL, "sign with an empty secret");
    cJSON_Delete(in);
    in = cJSON_Parse("[1]");
    ok(jwt_sign_hs256(in, o.secret, o.secret_len) == NULL, "sign a non-object");
    cJSON_Delete(in);
}

static void
test_strerror(void)
{
    int e, distinct = 1;

    for (e = JWT_OK; e <= JWT_UNKNOWN_KEY; e++)
        if (strcmp(jwt_strerror((enum jwt_error)e), "unknown error") == 0)
            distinct = 0;
    ok(distinct, "every error has a description");
}

int
main(void)
{
    test_table();
    test_valid_claims();
    test_signature();
    test_encoding();
    test_shape();
    test_size();
    test_sign();
    test_strerror();
    return done_testing();
}
