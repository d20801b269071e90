/* auth.c: who is calling: a verified Bearer JWT, or anon. */
#include "auth/auth.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "auth/apikey.h"
#include "auth/jwks.h"
#include "auth/jwt.h"
#include "core/json.h"
#include "core/log.h"
#include "core/response.h"
#include "db/db.h"

static const char *const allowed_roles[] = {"authenticated", NULL};

static struct {
    const unsigned char *secret;
    size_t secret_len;
    const char *audience;
    const char *pepper;       /* HMAC key for API keys; NULL = keys refused */
    jwks_source_t *jwks;      /* ES256/RS256 keys (PROMPTD_JWKS); NULL = none */
    /* PROMPTD_JWT_SIGNING_KEY: the private key, its kid, the public JWKS
     * we publish, and that document parsed back (what we verify with). */
    EVP_PKEY *signing_key;
    char kid[JWKS_THUMBPRINT_LEN + 1];
    char *public_jwks;        /* cJSON_free */
    jwks_t *own;
} auth;

/* The key behind an HMAC (run as the worker role, before the request's
 * transaction; see sql/0007_api_keys.sql). */
const db_stmt_t auth_apikey_stmt = {
    "promptd_api_key_auth",
    "select key_id, user_id, array_to_string(scopes, ','), revoked, expired "
    "from promptd.api_key_auth($1)"};

/* Drop our signing key and the JWKS published for it (idempotent). */
static void auth_forget_signing_key(void)
{
    EVP_PKEY_free(auth.signing_key);
    auth.signing_key = NULL;
    cJSON_free(auth.public_jwks);
    auth.public_jwks = NULL;
    jwks_free(auth.own);
    auth.own = NULL;
}

/* Load the ES256 signing key at path, derive its kid and the public JWKS,
 * and parse that JWKS back as the key set our tokens are verified with
 * (so what we publish is exactly what verifies).  False after logging. */
static bool auth_load_signing_key(const char *path)
{
    const char *why = NULL;
    cJSON *doc = NULL, *keys, *jwk;

    if ((auth.signing_key = jwks_load_ec_private_pem(path, &why)) == NULL)
        goto fail;
    why = "cannot derive its public JWK (out of memory?)";
    if (!jwks_ec_thumbprint(auth.signing_key, auth.kid) ||
        (doc = cJSON_CreateObject()) == NULL ||
        (keys = cJSON_AddArrayToObject(doc, "keys")) == NULL ||
        (jwk = jwks_ec_public_jwk(auth.signing_key, auth.kid)) == NULL)
        goto fail;
    cJSON_AddItemToArray(keys, jwk);
    if ((auth.public_jwks = cJSON_PrintUnformatted(doc)) == NULL ||
        (auth.own = jwks_parse(auth.public_jwks, strlen(auth.public_jwks))) == NULL ||
        jwks_count(auth.own) != 1)
        goto fail;
    cJSON_Delete(doc);
    log_info("PROMPTD_JWT_SIGNING_KEY %s: access tokens are signed ES256 "
             "with kid %s", path, auth.kid);
    return true;
fail:
    log_error("PROMPTD_JWT_SIGNING_KEY %s: %s; the worker refuses to start",
              path, why);
    cJSON_Delete(doc);
    auth_forget_signing_key();
    return false;
}

bool auth_init(const config_t *cfg)
{
    auth.secret = (const unsigned char *)cfg->jwt_secret;
    auth.secret_len = cfg->jwt_secret ? strlen(cfg->jwt_secret) : 0;
    auth.audience = cfg->jwt_audience;
    auth.pepper = cfg->api_key_pepper;
    /* Loaded on the first ES256/RS256 token, cached for the process. */
    jwks_source_free(auth.jwks);
    auth.jwks = jwks_source_new(cfg->jwks);
    auth_forget_signing_key();
    if (cfg->jwt_signing_key == NULL)
        return true;
    return auth_load_signing_key(cfg->jwt_signing_key);
}

EVP_PKEY *auth_signing_key(const char **kid)
{
    if (kid != NULL)
        *kid = auth.signing_key != NULL ? auth.kid : NULL;
    return auth.signing_key;
}

const char *auth_public_jwks(void)
{
    return auth.public_jwks != NULL ? auth.public_jwks : "{\"keys\":[]}";
}

/* ES256 / RS256 keys: our own signing key, only under its kid (the tokens
 * we sign always carry it), then the PROMPTD_JWKS set. */
static EVP_PKEY *auth_key_lookup(void *ctx, const char *kid, enum jwt_alg alg,
                                 time_t now)
{
    EVP_PKEY *k;

    (void)ctx;
    if (kid != NULL && (k = jwks_find(auth.own, kid, alg)) != NULL)
        return k;
    return jwks_source_lookup(auth.jwks, kid, alg, now);
}

void auth_anon(req_t *r)
{
    r->user_id = NULL;
    r->role = "anon";
    r->claims = "{\"role\":\"anon\"}";
}

bool auth_has_scope(const req_t *r, const char *scope)
{
    if (r->scopes == NULL)
        return true;
    for (const char *const *s = r->scopes; *s; s++)
        if (strcmp(*s, scope) == 0)
            return true;
    return false;
}

/* "a,b,c" -> NULL-terminated array in the arena. */
static const char *const *auth_split_scopes(req_t *r, const char *list)
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

/* The caller as the owner of an API key: format and checksum first (no
 * database), then the HMAC looked up by promptd.api_key_auth(). */
static bool auth_api_key(req_t *r, const char *key)
{
    char hash[APIKEY_HMAC_HEX_LEN + 1];
    const char *v[1] = {hash};
    const char *const *sc;
    int retry_after;
    PGresult *res;
    cJSON *claims, *arr;

    if (!apikey_valid(key)) {
        r->log_detail = "API key malformed or checksum mismatch";
        resp_unauthorized(r, true, "The API key is malformed.");
        return false;
    }
    if (!apikey_hmac_hex(auth.pepper, key, hash)) {
        r->log_detail = "no API key pepper configured";
        resp_unauthorized(r, true, "The API key cannot be verified.");
        return false;
    }
    if (!db_ready(&retry_after)) {
        resp_header(r, "Retry-After", arena_printf(r->arena, "%d", retry_after));
        resp_problem(r, 503, "The database is unreachable; retry shortly.");
        return false;
    }
    if ((res = db_exec_unscoped(r, &auth_apikey_stmt, 1, v)) == NULL) {
        db_error_reply(r);
        return false;
    }
    if (PQntuples(res) != 1) {
        r->log_detail = "unknown API key";
        resp_unauthorized(r, true, "The API key is not valid.");
        return false;
    }
    if (strcmp(PQgetvalue(res, 0, 3), "t") == 0 ||
        strcmp(PQgetvalue(res, 0, 4), "t") == 0) {
        bool revoked = strcmp(PQgetvalue(res, 0, 3), "t") == 0;

        r->log_detail = revoked ? "API key revoked" : "API key expired";
        resp_unauthorized(r, true, revoked ? "The API key has been revoked."
                                           : "The API key has expired.");
        return false;
    }
    r->key_id = arena_strdup(r->arena, PQgetvalue(res, 0, 0));
    r->user_id = arena_strdup(r->arena, PQgetvalue(res, 0, 1));
    r->scopes = sc = auth_split_scopes(r, PQgetvalue(res, 0, 2));
    r->role = "authenticated";
    claims = json_own(r->arena, cJSON_CreateObject());
    cJSON_AddStringToObject(claims, "sub", r->user_id);
    cJSON_AddStringToObject(claims, "role", r->role);
    cJSON_AddStringToObject(claims, "aud", auth.audience ? auth.audience
                                                         : "authenticated");
    cJSON_AddStringToObject(claims, "key_id", r->key_id);
    arr = cJSON_AddArrayToObject(claims, "scopes");
    for (; *sc; sc++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(*sc));
    r->claims = json_print(r->arena, claims);
    return true;
}

bool auth_require(req_t *r)
{
    const char *h = req_header(r, "Authorization");
    jwt_verify_opts_t o = {
        .secret = auth.secret,
        .secret_len = auth.secret_len,
        .audience = auth.audience,
        .roles = allowed_roles,
        .key_lookup = auth.jwks != NULL || auth.own != NULL ? auth_key_lookup
                                                            : NULL,
    };
    enum jwt_error e;
    cJSON *claims = NULL, *role;
    const char *xkey = req_header(r, "X-API-Key");

    /* API keys: "Authorization: Bearer pmtd_..." or, without an
     * Authorization header, "X-API-Key: pmtd_...". */
    if (h != NULL && strncasecmp(h, "Bearer ", 7) == 0 && apikey_has_prefix(h + 7))
        return auth_api_key(r, h + 7);
    if (h == NULL && xkey != NULL)
        return auth_api_key(r, xkey);
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0 || h[7] == '\0') {
        resp_unauthorized(r, false, "A Bearer token is required.");
        return false;
    }
    if (auth.secret_len == 0 && auth.jwks == NULL && auth.own == NULL) {
        r->log_detail = "no JWT secret configured";
        resp_unauthorized(r, true, "The token cannot be verified.");
        return false;
    }
    e = jwt_verify(h + 7, &o, &claims);
    if (e != JWT_OK) {
        r->log_detail = jwt_strerror(e);
        resp_unauthorized(r, true, arena_printf(r->arena,
                          "The token is invalid: %s.", jwt_strerror(e)));
        return false;
    }
    json_own(r->arena, claims);
    r->user_id = arena_strdup(r->arena,
        cJSON_GetObjectItemCaseSensitive(claims, "sub")->valuestring);
    for (char *p = (char *)r->user_id; *p; p++)
        *p = (char)tolower((unsigned char)*p);   /* as PostgreSQL prints it */
    role = cJSON_GetObjectItemCaseSensitive(claims, "role");
    r->role = cJSON_IsString(role) ? arena_strdup(r->arena, role->valuestring)
                                   : "authenticated";
    r->claims = json_print(r->arena, claims);
    return true;
}
