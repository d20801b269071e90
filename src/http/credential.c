/* credential.c: who is calling: a verified Bearer JWT, an API key, or anon (the request-authentication library; cgi-bin/auth.c is the /auth/v1 family). */
#include "http/credential.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth/apikey.h"
#include "auth/jwks.h"
#include "auth/jwt.h"
#include "core/json.h"
#include "core/log.h"
#include "http/dbreply.h"
#include "http/response.h"
#include "db/db.h"

static const char *const allowed_roles[] = {"authenticated", NULL};

static struct {
    const unsigned char *secret;
    size_t secret_len;
    const char *audience;
    jwks_source_t *jwks;      /* ES256/RS256 keys (PROMPTD_JWKS); NULL = none */
    /* PROMPTD_JWT_SIGNING_KEY: the private key, its kid, the public JWKS
     * we publish, and that document parsed back (what we verify with). */
    EVP_PKEY *signing_key;
    char kid[JWKS_THUMBPRINT_LEN + 1];
    char *public_jwks;        /* cJSON_free */
    jwks_t *own;
} credential;

/* The key behind an HMAC (run as the worker role, before the request's
 * transaction; see sql/0007_api_keys.sql). */
const db_stmt_t credential_stmts[] = {{
    "promptd_api_key_auth",
    "select key_id, user_id, array_to_string(scopes, ','), revoked, expired, workspace_id "
    "from promptd.api_key_auth($1)"},
    {NULL, NULL},
};

/* Drop our signing key and the JWKS published for it (idempotent). */
static void credential_forget_signing_key(void)
{
    EVP_PKEY_free(credential.signing_key);
    credential.signing_key = NULL;
    cJSON_free(credential.public_jwks);
    credential.public_jwks = NULL;
    jwks_free(credential.own);
    credential.own = NULL;
}

/* Load the ES256 signing key at path, derive its kid and the public JWKS,
 * and parse that JWKS back as the key set our tokens are verified with
 * (so what we publish is exactly what verifies).  False after logging. */
static bool credential_load_signing_key(const char *path)
{
    const char *why = NULL;
    cJSON *doc = NULL, *keys, *jwk;

    if ((credential.signing_key = jwks_load_ec_private_pem(path, &why)) == NULL)
        goto fail;
    why = "cannot derive its public JWK (out of memory?)";
    if (!jwks_ec_thumbprint(credential.signing_key, credential.kid) ||
        (doc = cJSON_CreateObject()) == NULL ||
        (keys = cJSON_AddArrayToObject(doc, "keys")) == NULL ||
        (jwk = jwks_ec_public_jwk(credential.signing_key, credential.kid)) == NULL)
        goto fail;
    cJSON_AddItemToArray(keys, jwk);
    if ((credential.public_jwks = cJSON_PrintUnformatted(doc)) == NULL ||
        (credential.own = jwks_parse(credential.public_jwks, strlen(credential.public_jwks))) == NULL ||
        jwks_count(credential.own) != 1)
        goto fail;
    cJSON_Delete(doc);
    log_info("PROMPTD_JWT_SIGNING_KEY %s: access tokens are signed ES256 "
             "with kid %s", path, credential.kid);
    return true;
fail:
    log_error("PROMPTD_JWT_SIGNING_KEY %s: %s; the worker refuses to start",
              path, why);
    cJSON_Delete(doc);
    credential_forget_signing_key();
    return false;
}

bool credential_init(const config_t *cfg)
{
    const char *signing_key = config_env("PROMPTD_JWT_SIGNING_KEY");

    credential.secret = (const unsigned char *)cfg->jwt_secret;
    credential.secret_len = cfg->jwt_secret ? strlen(cfg->jwt_secret) : 0;
    credential.audience = cfg->jwt_audience;
    apikey_settings_load();
    /* Loaded on the first ES256/RS256 token, cached for the process. */
    jwks_source_free(credential.jwks);
    credential.jwks = jwks_source_new(cfg->jwks);
    credential_forget_signing_key();
    if (signing_key == NULL)
        return true;
    return credential_load_signing_key(signing_key);
}

EVP_PKEY *credential_signing_key(const char **kid)
{
    if (kid != NULL)
        *kid = credential.signing_key != NULL ? credential.kid : NULL;
    return credential.signing_key;
}

const char *credential_public_jwks(void)
{
    return credential.public_jwks != NULL ? credential.public_jwks : "{\"keys\":[]}";
}

/* ES256 / RS256 keys: our own signing key, only under its kid (the tokens
 * we sign always carry it), then the PROMPTD_JWKS set. */
static EVP_PKEY *credential_key_lookup(void *ctx, const char *kid, enum jwt_alg alg,
                                 time_t now)
{
    EVP_PKEY *k;

    (void)ctx;
    if (kid != NULL && (k = jwks_find(credential.own, kid, alg)) != NULL)
        return k;
    return jwks_source_lookup(credential.jwks, kid, alg, now);
}

void credential_anon(req_t *r)
{
    r->tx.user_id = NULL;
    r->tx.role = "anon";
    r->tx.claims = "{\"role\":\"anon\"}";
}

bool credential_has_scope(const req_t *r, const char *scope)
{
    if (r->scopes == NULL)
        return true;
    for (const char *const *s = r->scopes; *s; s++)
        if (strcmp(*s, scope) == 0)
            return true;
    return false;
}

/* "a,b,c" -> NULL-terminated array in the arena. */
static const char *const *credential_split_scopes(req_t *r, const char *list)
{
    size_t n = 1;
    const char **out;
    char *copy = arena_strdup(r->arena, list), *tok, *save = NULL;

    for (const char *p = list; *p; p++)
        n += *p == ',';
    out = arena_zalloc(r->arena, (n + 1) * sizeof(*out));
    n = 0;
    for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        out[n++] = tok;
    return out;
}

/* "Basic" alone or "Basic ..." (any case). */
static bool credential_is_basic(const char *h)
{
    return strncasecmp(h, "Basic", 5) == 0 && (h[5] == ' ' || h[5] == '\0');
}

unsigned credential_presented(req_t *r)
{
    const char *h = req_header(r, "Authorization");

    if (h != NULL && credential_is_basic(h))
        return CRED_APIKEY;
    if (h != NULL)
        return strncasecmp(h, "Bearer ", 7) == 0 && apikey_has_prefix(h + 7)
               ? CRED_APIKEY : CRED_SESSION;
    return req_header(r, "X-API-Key") != NULL ? CRED_APIKEY : 0;
}

bool credential_bearer_is_apikey(req_t *r)
{
    const char *h = req_header(r, "Authorization"), *k = req_header(r, "apikey");

    return h != NULL && k != NULL && *k != '\0' && strncasecmp(h, "Bearer ", 7) == 0 &&
           strcmp(h + 7, k) == 0;
}

bool credential_share_cookie_present(req_t *r)
{
    const char *c = req_header(r, "Cookie");

    return c != NULL && strstr(c, CREDENTIAL_SHARE_COOKIE_PREFIX) != NULL;
}

/* "Basic base64(id:key)" (Langfuse's public and secret key) -> the key,
 * with *id the key id it names; NULL when it does not decode to id:key. */
static const char *credential_basic(req_t *r, const char *b64, const char **id)
{
    size_t n = strlen(b64), pad = 0;
    unsigned char *out;
    char *colon;
    int len;

    if (n == 0 || n % 4 != 0 || n > 1024)
        return NULL;
    pad = (b64[n - 1] == '=') + (b64[n - 2] == '=');   /* n >= 4 */
    out = arena_alloc(r->arena, n / 4 * 3 + 1);
    if ((len = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)n)) < 0)
        return NULL;
    len -= (int)pad;
    out[len] = '\0';
    if (memchr(out, '\0', (size_t)len) != NULL || (colon = strchr((char *)out, ':')) == NULL)
        return NULL;
    *colon = '\0';
    *id = (const char *)out;
    return colon + 1;
}

/* The key behind the header (credential_presented said CRED_APIKEY); for
 * Basic, *id is the key id the caller named (else NULL). */
static const char *credential_apikey_text(req_t *r, const char **id)
{
    const char *h = req_header(r, "Authorization");

    *id = NULL;
    if (h != NULL && credential_is_basic(h))
        return credential_basic(r, h + 5 + (h[5] == ' '), id);
    return h != NULL ? h + 7 : req_header(r, "X-API-Key");
}

/* The caller as the owner of an API key: format and checksum first (no
 * database), then the HMAC looked up by promptd.api_key_auth(). */
enum credential_result credential_apikey(req_t *r, const char **why)
{
    const char *id, *key = credential_apikey_text(r, &id);
    char hash[APIKEY_HMAC_HEX_LEN + 1];
    const char *v[1] = {hash};
    const char *const *sc;
    int retry_after;
    PGresult *res;
    cJSON *claims, *arr;

    if (key == NULL || !apikey_valid(key)) {
        r->tx.detail = "API key malformed or checksum mismatch";
        *why = "The API key is malformed.";
        return CREDENTIAL_INVALID;
    }
    if (!apikey_hmac_hex(apikey_pepper(), key, hash)) {
        r->tx.detail = "no API key pepper configured";
        *why = "The API key cannot be verified.";
        return CREDENTIAL_INVALID;
    }
    if (!db_ready(&retry_after)) {
        resp_header(r, "Retry-After", arena_printf(r->arena, "%d", retry_after));
        resp_problem(r, 503, "The database is unreachable; retry shortly.");
        return CREDENTIAL_REPLIED;
    }
    if ((res = db_exec_unscoped(&r->tx, &credential_stmts[0], 1, v)) == NULL) {
        dbreply_error(r);
        return CREDENTIAL_REPLIED;
    }
    if (PQntuples(res) != 1) {
        r->tx.detail = "unknown API key";
        *why = "The API key is not valid.";
        return CREDENTIAL_INVALID;
    }
    if (strcmp(PQgetvalue(res, 0, 3), "t") == 0 ||
        strcmp(PQgetvalue(res, 0, 4), "t") == 0) {
        bool revoked = strcmp(PQgetvalue(res, 0, 3), "t") == 0;

        r->tx.detail = revoked ? "API key revoked" : "API key expired";
        *why = revoked ? "The API key has been revoked." : "The API key has expired.";
        return CREDENTIAL_INVALID;
    }
    if (id != NULL && strcasecmp(id, PQgetvalue(res, 0, 0)) != 0) {
        r->tx.detail = "API key id does not match the key";
        *why = "The key id (the username) does not match the API key (the password).";
        return CREDENTIAL_INVALID;
    }
    r->key_id = arena_strdup(r->arena, PQgetvalue(res, 0, 0));
    r->tx.user_id = arena_strdup(r->arena, PQgetvalue(res, 0, 1));
    r->scopes = sc = credential_split_scopes(r, PQgetvalue(res, 0, 2));
    r->tx.role = "authenticated";
    claims = json_own(r->arena, cJSON_CreateObject());
    cJSON_AddStringToObject(claims, "sub", r->tx.user_id);
    cJSON_AddStringToObject(claims, "role", r->tx.role);
    cJSON_AddStringToObject(claims, "aud", credential.audience ? credential.audience
                                                         : "authenticated");
    cJSON_AddStringToObject(claims, "key_id", r->key_id);
    cJSON_AddStringToObject(claims, "workspace_id", PQgetvalue(res, 0, 5));
    arr = cJSON_AddArrayToObject(claims, "scopes");
    for (; *sc; sc++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(*sc));
    r->tx.claims = json_print(r->arena, claims);
    return CREDENTIAL_OK;
}

/* Verified HS256 tokens, per process: a client sends the same token with
 * every request until it expires, and its HMAC, base64url and two JSON
 * parses were most of a GET's instructions (bench/README.md).  An entry
 * holds what a successful jwt_verify gave (the lower-cased sub, the role,
 * the claims as text) and serves the same token bytes until its exp, as
 * jwt_verify would (the secret is fixed for the process; nbf and iat only
 * become valid with time).  A token checked with a JWKS or our own key is
 * never kept: the keys can change under it.  Direct-mapped by a hash of
 * the token, compared in constant time; each entry is one malloc. */
#define SESSION_CACHE_SLOTS 128
#define SESSION_CACHE_TOKEN_MAX 2048   /* longer tokens are verified each time */

typedef struct {
    double exp;
    size_t token_len;
    const char *user_id, *role, *claims;   /* inside the same block */
    char token[];
} session_entry_t;

static session_entry_t *session_cache[SESSION_CACHE_SLOTS];

static uint32_t session_hash(const char *t, size_t n)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)t[i]) * 16777619u;
    return h;
}

static const session_entry_t *session_cached(const char *token, size_t n, time_t now)
{
    const session_entry_t *e = session_cache[session_hash(token, n) % SESSION_CACHE_SLOTS];

    if (e == NULL || e->token_len != n || CRYPTO_memcmp(e->token, token, n) != 0 ||
        (double)now >= e->exp)
        return NULL;
    return e;
}

static void session_keep(const char *token, size_t n, double exp, const char *user_id,
                         const char *role, const char *claims)
{
    size_t lu = strlen(user_id) + 1, lr = strlen(role) + 1, lc = strlen(claims) + 1;
    session_entry_t **slot, *e;
    char *p;

    if (n > SESSION_CACHE_TOKEN_MAX ||
        (e = malloc(sizeof(*e) + n + 1 + lu + lr + lc)) == NULL)
        return;
    e->exp = exp;
    e->token_len = n;
    memcpy(e->token, token, n);
    e->token[n] = '\0';
    p = e->token + n + 1;
    e->user_id = memcpy(p, user_id, lu);
    e->role = memcpy(p += lu, role, lr);
    e->claims = memcpy(p + lr, claims, lc);
    slot = &session_cache[session_hash(token, n) % SESSION_CACHE_SLOTS];
    free(*slot);
    *slot = e;
}

/* credential_key_lookup, noting that a token needed a public key. */
static EVP_PKEY *credential_key_lookup_noted(void *ctx, const char *kid, enum jwt_alg alg,
                                             time_t now)
{
    *(bool *)ctx = true;
    return credential_key_lookup(NULL, kid, alg, now);
}

enum credential_result credential_session(req_t *r, const char **why)
{
    const char *h = req_header(r, "Authorization");
    bool keyed = false;
    jwt_verify_opts_t o = {
        .secret = credential.secret,
        .secret_len = credential.secret_len,
        .audience = credential.audience,
        .roles = allowed_roles,
        .key_lookup = credential.jwks != NULL || credential.own != NULL
                      ? credential_key_lookup_noted : NULL,
        .key_ctx = &keyed,
    };
    enum jwt_error e;
    const session_entry_t *hit;
    const cJSON *exp;
    cJSON *claims = NULL, *role;
    size_t n;

    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0 || h[7] == '\0') {
        *why = "A Bearer token is required.";
        return CREDENTIAL_INVALID;
    }
    if (credential.secret_len == 0 && credential.jwks == NULL && credential.own == NULL) {
        r->tx.detail = "no JWT secret configured";
        *why = "The token cannot be verified.";
        return CREDENTIAL_INVALID;
    }
    h += 7;
    n = strnlen(h, SESSION_CACHE_TOKEN_MAX + 1);
    o.now = time(NULL);
    if ((hit = session_cached(h, n, o.now)) != NULL) {
        r->tx.user_id = arena_strdup(r->arena, hit->user_id);
        r->tx.role = arena_strdup(r->arena, hit->role);
        r->tx.claims = arena_strdup(r->arena, hit->claims);
        return CREDENTIAL_OK;
    }
    e = jwt_verify(h, &o, &claims);
    if (e != JWT_OK) {
        r->tx.detail = jwt_strerror(e);
        *why = arena_printf(r->arena, "The token is invalid: %s.", jwt_strerror(e));
        return CREDENTIAL_INVALID;
    }
    json_own(r->arena, claims);
    r->tx.user_id = arena_strdup(r->arena,
        cJSON_GetObjectItemCaseSensitive(claims, "sub")->valuestring);
    for (char *p = (char *)r->tx.user_id; *p; p++)
        *p = (char)tolower((unsigned char)*p);   /* as PostgreSQL prints it */
    role = cJSON_GetObjectItemCaseSensitive(claims, "role");
    r->tx.role = cJSON_IsString(role) ? arena_strdup(r->arena, role->valuestring)
                                   : "authenticated";
    r->tx.claims = json_print(r->arena, claims);
    exp = cJSON_GetObjectItemCaseSensitive(claims, "exp");   /* a number: jwt_verify */
    if (!keyed && cJSON_IsNumber(exp))
        session_keep(h, n, exp->valuedouble, r->tx.user_id, r->tx.role, r->tx.claims);
    return CREDENTIAL_OK;
}

const char *credential_session_id(req_t *r)
{
    cJSON *claims;
    const cJSON *sid;

    if (r->key_id != NULL || r->tx.claims == NULL)
        return NULL;
    claims = json_own(r->arena, cJSON_Parse(r->tx.claims));
    sid = cJSON_GetObjectItemCaseSensitive(claims, "session_id");
    return cJSON_IsString(sid) && uuid_valid(sid->valuestring)
           ? arena_strdup(r->arena, sid->valuestring) : NULL;
}

/* The newest amr[].timestamp of the claims, or -1. */
static double credential_amr_time(const cJSON *claims)
{
    const cJSON *amr = cJSON_GetObjectItemCaseSensitive(claims, "amr"), *m;
    double t = -1;

    if (!cJSON_IsArray(amr))
        return t;
    cJSON_ArrayForEach(m, amr) {
        const cJSON *ts = cJSON_GetObjectItemCaseSensitive(m, "timestamp");

        if (cJSON_IsNumber(ts) && ts->valuedouble > t)
            t = ts->valuedouble;
    }
    return t;
}

int credential_recent_signin(req_t *r, long max_age)
{
    const char *sid = credential_session_id(r), *v[1];
    cJSON *claims;
    const cJSON *iat;
    double at = -1, now = (double)time(NULL);
    PGresult *res;

    if (r->key_id != NULL || r->tx.claims == NULL)
        return 0;
    claims = json_own(r->arena, cJSON_Parse(r->tx.claims));
    if (sid != NULL) {
        v[0] = sid;
        /* sql/0019_credential_kinds.sql */
        res = db_exec_sql(&r->tx, "select signed_in_at, revoked "
                          "from promptd.session_signed_in_at($1::uuid)", 1, v);
        if (res == NULL) {
            dbreply_error(r);
            return -1;
        }
        if (PQntuples(res) == 1)
            return strcmp(PQgetvalue(res, 0, 1), "t") != 0 &&
                   atof(PQgetvalue(res, 0, 0)) >= now - (double)max_age;
        at = credential_amr_time(claims);    /* a session another server keeps */
    } else if ((at = credential_amr_time(claims)) < 0 &&
               cJSON_IsNumber(iat = cJSON_GetObjectItemCaseSensitive(claims, "iat"))) {
        at = iat->valuedouble;         /* promptctl: no session, no refresh */
    }
    return at >= now - (double)max_age && at <= now + 30;
}

int credential_aal_sufficient(req_t *r)
{
    /* sql/0041_mfa.sql */
    PGresult *res = db_exec_sql(&r->tx, "select promptd.mfa_aal_ok()", 0, NULL);

    if (res == NULL) {
        dbreply_error(r);
        return -1;
    }
    return PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
}
