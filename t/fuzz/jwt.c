/* jwt.c (fuzz): JWT verification of any token, and of any header and claims
 * correctly signed with the fixed HS256 secret (so the claim checks run). */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "auth/jwt.h"
#include "crypto/b64url.h"
#include "fuzz.h"

#define FUZZ_NOW 1773145696   /* a fixed clock, so a run is repeatable */

static const unsigned char fuzz_secret[] = "super-secret-jwt-token-with-at-least-32-characters";

/* Fixed public keys (their private halves are not needed: no fuzzed
 * signature can be valid, but every parse and check before it runs). */
static const char fuzz_ec_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEFOgUFdkrJBiU0iYEG3CoZvxBqY8Y\n"
    "QI7YyeupD4GUXi+lAqu8g7ipDeXX++4QhIzOB6nMsr12HPF1VwReuHgNVA==\n"
    "-----END PUBLIC KEY-----\n";
static const char fuzz_rsa_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEArydoWFubyZNTzeTNMrSD\n"
    "mtGYzLaYVcpOeQxVuoZ+cVHbb1ojVyLPU2JwwaTi1PQ3CnUEwLOgl2XxheddAVyg\n"
    "ldKBZWxymijdMXWBH2jjyvD0gHRDFGZr+wCqPOoy9DtocMI+++tb673etFMaHufL\n"
    "Z9nHq8DP9bIcV2Il9FQM4xfJ9evUqn9LfeHLqFookz4dNlzjum9oxdeVtTNvfH/I\n"
    "wYG8Gpc/bUnI3X7cDG0IqyI0nAmKIgu9Viqhi0pPjRn92g8bkbZJaq+iqZk79d9v\n"
    "hWUqFxgBYd91yOQTzyDQ+MJd3iN0Fbb7OB8NMDsVJDZh6Rvngn/mTUGXa2yf14c3\n"
    "swIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

static EVP_PKEY *fuzz_ec, *fuzz_rsa;

static EVP_PKEY *fuzz_pem(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;

    BIO_free(b);
    FUZZ_ASSERT(k != NULL);
    return k;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_ec = fuzz_pem(fuzz_ec_pem);
    fuzz_rsa = fuzz_pem(fuzz_rsa_pem);
    return 0;
}

/* kid "k1" or none names the key of the token's alg. */
static EVP_PKEY *fuzz_lookup(void *ctx, const char *kid, enum jwt_alg alg,
                             time_t now)
{
    if (kid != NULL && strcmp(kid, "k1") != 0)
        return NULL;
    return alg == JWT_ALG_ES256 ? fuzz_ec : alg == JWT_ALG_RS256 ? fuzz_rsa : NULL;
}

static const char *const fuzz_roles[] = {"authenticated", "anon", NULL};

static enum jwt_error fuzz_verify(const char *token)
{
    jwt_verify_opts_t o = {
        .secret = fuzz_secret, .secret_len = sizeof(fuzz_secret) - 1,
        .audience = "authenticated", .roles = fuzz_roles, .now = FUZZ_NOW,
        .key_lookup = fuzz_lookup,
    };
    cJSON *claims = (cJSON *)&o;   /* must be reset on every path */
    enum jwt_error e = jwt_verify(token, &o, &claims);

    FUZZ_ASSERT(jwt_strerror(e) != NULL);
    FUZZ_ASSERT((e == JWT_OK) == (claims != NULL));
    if (e == JWT_OK) {
        const cJSON *exp = cJSON_GetObjectItemCaseSensitive(claims, "exp");

        FUZZ_ASSERT(cJSON_IsObject(claims));
        FUZZ_ASSERT(cJSON_IsNumber(exp) && exp->valuedouble > FUZZ_NOW);
        cJSON_Delete(claims);
    }
    return e;
}

/* "b64(header).b64(payload).b64(HMAC)" for raw header and payload bytes;
 * the caller frees it. */
static char *fuzz_sign(const uint8_t *h, size_t hlen, const uint8_t *p, size_t plen)
{
    char *tok = malloc(B64URL_ENCODED_SIZE(hlen) + B64URL_ENCODED_SIZE(plen) +
                       B64URL_ENCODED_SIZE(32) + 2);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    size_t n;

    FUZZ_ASSERT(tok != NULL);
    n = b64url_encode(h, hlen, tok);
    tok[n++] = '.';
    n += b64url_encode(p, plen, tok + n);
    FUZZ_ASSERT(HMAC(EVP_sha256(), fuzz_secret, (int)sizeof(fuzz_secret) - 1,
                     (const unsigned char *)tok, n, mac, &maclen) != NULL);
    tok[n++] = '.';
    b64url_encode(mac, maclen, tok + n);
    return tok;
}

/* data[0] chooses: even, the rest is a token as is; odd, data[1] splits
 * the rest into header and payload JSON, signed here with the secret. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *tok;

    if (size < 2)
        return 0;
    if (data[0] % 2 == 0) {
        tok = fuzz_cstr(data + 1, size - 1);
        fuzz_verify(tok);
    } else {
        size_t hlen = data[1] <= size - 2 ? data[1] : size - 2;
        const uint8_t *h = data + 2, *p = h + hlen;
        enum jwt_error e;

        tok = fuzz_sign(h, hlen, p, size - 2 - hlen);
        e = fuzz_verify(tok);
        /* Signed with the right secret: a header asking for HS256 is
         * never refused for its signature. */
        if (e == JWT_BAD_SIGNATURE) {
            cJSON *hj = cJSON_ParseWithLength((const char *)h, hlen);
            const cJSON *alg = cJSON_GetObjectItemCaseSensitive(hj, "alg");

            FUZZ_ASSERT(!cJSON_IsString(alg) || strcmp(alg->valuestring, "HS256") != 0);
            cJSON_Delete(hj);
        }
    }
    free(tok);
    return 0;
}
