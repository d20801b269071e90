/* auth_common.c: the auth family's shared parts: settings, GoTrue's error dialect, input checks, and the session a sign-in answers with. */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth/jwt.h"
#include "core/json.h"
#include "crypto/b64url.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "http/audit.h"
#include "http/credential.h"
#include "http/dbreply.h"
#include "http/response.h"
#include "auth.h"

#define EMAIL_MAX 254
#define EMAIL_LOCAL_MAX 64
#define REFRESH_TOKEN_BYTES 32

const config_t *cfg;

/* The family's own settings, read at start by auth_settings_load. */
struct auth_settings auth_settings;

/* Read and check the settings above; false after printing why. */
bool auth_settings_load(void)
{
    auth_settings.mail = config_env("PROMPTD_SMTP_URL") != NULL;
    auth_settings.redirect_allow = config_env("PROMPTD_REDIRECT_ALLOW");
    auth_settings.code_key = config_secret("PROMPTD_API_KEY_PEPPER", "api_key_pepper");
    return config_env_int("PROMPTD_OTP_TTL", 3600, 60, 86400, &auth_settings.otp_ttl) &&
           config_env_int("PROMPTD_MAIL_INTERVAL", 60, 0, 86400, &auth_settings.mail_interval) &&
           config_env_int("PROMPTD_REFRESH_TTL", 2592000, 1, LONG_MAX,
                          &auth_settings.refresh_ttl) &&
           config_env_int("PROMPTD_REFRESH_REUSE_INTERVAL", 10, 0, LONG_MAX,
                          &auth_settings.refresh_reuse);
}

/* ------------------------------------------------------------ answers */

/* GoTrue's error body: {"code":status,"error_code":code,"msg":msg}. */
int gotrue_error(req_t *r, int status, const char *code, const char *msg)
{
    cJSON *o = json_own(r->arena, cJSON_CreateObject());

    cJSON_AddNumberToObject(o, "code", status);
    cJSON_AddStringToObject(o, "error_code", code);
    cJSON_AddStringToObject(o, "msg", msg);
    return resp_json(r, status, o);
}

/* The family's problem hook (family_t.problem): the dispatcher's refusals
 * in GoTrue's dialect.  A token that does not verify, or a credential of
 * another kind (an API key), is GoTrue's 403 bad_jwt; a body the
 * dispatcher refused is 400 bad_json (413 keeps its status; a field the
 * JSON reader refused, e.g. U+0000 in the password, is named). */
int gotrue_problem(req_t *r, int status, const char *code, const char *detail)
{
    if (strcmp(code, PROBLEM_NO_CREDENTIAL) == 0)
        return gotrue_error(r, 401, "no_authorization",
                            "This endpoint requires a Bearer token");
    if (strcmp(code, PROBLEM_BAD_CREDENTIAL) == 0)
        return gotrue_error(r, 403, "bad_jwt",
                            "invalid JWT: unable to parse or verify signature");
    if (strcmp(code, PROBLEM_WRONG_KIND) == 0)
        return gotrue_error(r, 403, "bad_jwt", detail);
    if (strcmp(code, PROBLEM_BODY) == 0)
        return gotrue_error(r, status == 413 ? 413 : 400, "bad_json",
                            arena_printf(r->arena,
                                         "Could not parse request body as JSON: %s", detail));
    return gotrue_error(r, status, code, detail);
}

/* The optional "data" member (user metadata) as JSON text in *out (left
 * unchanged when absent or null); false after answering 400. */
bool user_data_or_reply(req_t *r, const cJSON *body, const char **out)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(body, "data");

    if (d == NULL || cJSON_IsNull(d))
        return true;
    if (!cJSON_IsObject(d)) {
        gotrue_error(r, 400, "bad_json",
                     "Could not read request body: data must be an object");
        return false;
    }
    *out = json_print(r->arena, d);
    return true;
}

/* 422 weak_password with {"weak_password":{"reasons":[reason]}}. */
int weak_password_error(req_t *r, const char *reason, const char *msg)
{
    cJSON *o = json_own(r->arena, cJSON_CreateObject());
    cJSON *reasons = cJSON_CreateArray();

    cJSON_AddNumberToObject(o, "code", 422);
    cJSON_AddStringToObject(o, "error_code", "weak_password");
    cJSON_AddStringToObject(o, "msg", msg);
    cJSON_AddItemToArray(reasons, cJSON_CreateString(reason));
    cJSON_AddItemToObject(cJSON_AddObjectToObject(o, "weak_password"), "reasons",
                          reasons);
    return resp_json(r, 422, o);
}

int invalid_credentials(req_t *r)
{
    return gotrue_error(r, 400, "invalid_credentials", "Invalid login credentials");
}

/* A failed query: GoTrue clients retry 5xx; the log gets the cause. */
int db_failed(req_t *r)
{
    return dbreply_error(r);
}

/* ------------------------------------------------------------ checks */

static bool secret_equal(const char *a, const char *b)
{
    size_t n = strlen(a);

    return n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}

/* With an anon key configured, the apikey header (or a Bearer token equal
 * to it) must match, as Supabase's gateway requires; 401 otherwise. */
bool apikey_or_reply(req_t *r)
{
    const char *key = cfg->anon_key, *h;
    cJSON *o;

    if (key == NULL || *key == '\0')
        return true;
    if ((h = req_header(r, "apikey")) != NULL && secret_equal(h, key))
        return true;
    h = req_header(r, "Authorization");
    if (h && strncasecmp(h, "Bearer ", 7) == 0 && secret_equal(h + 7, key))
        return true;
    o = json_own(r->arena, cJSON_CreateObject());
    cJSON_AddStringToObject(o, "message", "Invalid API key");
    r->tx.detail = "apikey missing or not the configured anon key";
    resp_json(r, 401, o);
    return false;
}

/* A string member: true with *out set (NULL when absent or null); false
 * after a 400 bad_json when it has another type. */
bool string_or_reply(req_t *r, const cJSON *o, const char *name,
                            const char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    *out = NULL;
    if (v == NULL || cJSON_IsNull(v))
        return true;
    if (!cJSON_IsString(v)) {
        gotrue_error(r, 400, "bad_json", arena_printf(r->arena,
                     "Could not read request body: %s must be a string", name));
        return false;
    }
    *out = v->valuestring;
    return true;
}

static bool domain_valid(const char *d)
{
    int labels = 0;

    for (const char *l = d;; l += strcspn(l, ".") + 1) {
        size_t n = strcspn(l, ".");

        if (n == 0 || n > 63 || l[0] == '-' || l[n - 1] == '-')
            return false;
        for (size_t i = 0; i < n; i++)
            if (!isalnum((unsigned char)l[i]) && l[i] != '-')
                return false;
        labels++;
        if (l[n] == '\0')
            return labels >= 2;
    }
}

/* The address trimmed and lower-cased, or NULL when it is not a plain
 * ASCII local@domain.tld address of at most 254 characters. */
char *email_normalise(req_t *r, const char *in)
{
    size_t n;
    char *e, *at;

    while (*in == ' ' || *in == '\t' || *in == '\r' || *in == '\n')
        in++;
    n = strlen(in);
    while (n > 0 && strchr(" \t\r\n", in[n - 1]))
        n--;
    if (n < 3 || n > EMAIL_MAX)
        return NULL;
    e = arena_strndup(r->arena, in, n);
    for (char *p = e; *p; p++) {
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
            strchr("()<>[]\\,;:\"", *p))
            return NULL;
        *p = (char)tolower((unsigned char)*p);
    }
    at = strchr(e, '@');
    if (at == NULL || strchr(at + 1, '@') || at == e ||
        (size_t)(at - e) > EMAIL_LOCAL_MAX || e[0] == '.' || at[-1] == '.' ||
        strstr(e, "..") || !domain_valid(at + 1))
        return NULL;
    return e;
}

/* ------------------------------------------------------------ tokens */

/* The hex SHA-256 of s, in the arena. */
char *sha256_hex(req_t *r, const char *s)
{
    char *out = arena_alloc(r->arena, HASH_SHA256_HEX);

    hash_sha256_hex(s, strlen(s), out);
    return out;
}

/* A fresh refresh token (base64url of 32 random bytes); *hash_hex gets the
 * hex SHA-256 that is all the database keeps. */
char *refresh_token_new(req_t *r, const char **hash_hex)
{
    unsigned char b[REFRESH_TOKEN_BYTES];
    char *tok = arena_alloc(r->arena, B64URL_ENCODED_SIZE(sizeof(b)));

    random_bytes(b, sizeof(b));
    b64url_encode(b, sizeof(b), tok);
    OPENSSL_cleanse(b, sizeof(b));
    *hash_hex = sha256_hex(r, tok);
    return tok;
}

static void add_copy(cJSON *to, const char *name, const cJSON *from)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(from, name);

    cJSON_AddItemToObject(to, name, v ? cJSON_Duplicate(v, true)
                                      : cJSON_CreateObject());
}

/* The amr claim: level's (a session's {aal, amr} from the database), else
 * a password sign-in at now. */
static cJSON *amr_claim(const cJSON *level, time_t now)
{
    const cJSON *amr = cJSON_GetObjectItemCaseSensitive(level, "amr");
    cJSON *a, *m;

    if (cJSON_IsArray(amr) && cJSON_GetArraySize(amr) > 0)
        return cJSON_Duplicate(amr, true);
    a = cJSON_CreateArray();
    m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "method", "password");
    cJSON_AddNumberToObject(m, "timestamp", (double)now);
    cJSON_AddItemToArray(a, m);
    return a;
}

/* An access token with Supabase's claims for user (GoTrue's user object)
 * in session session_id at level (aal and amr; NULL: aal1, a password
 * sign-in now): ES256 under the kid of PROMPTD_JWT_SIGNING_KEY when one is
 * configured, else HS256 with the JWT secret; NULL when signing fails. */
static char *access_token(req_t *r, const cJSON *user, const char *session_id,
                          time_t now, const cJSON *level)
{
    cJSON *c = json_own(r->arena, cJSON_CreateObject());
    const cJSON *email = cJSON_GetObjectItemCaseSensitive(user, "email");
    const cJSON *aal = cJSON_GetObjectItemCaseSensitive(level, "aal");
    const char *secret = cfg->jwt_secret ? cfg->jwt_secret : "", *kid;
    EVP_PKEY *key = credential_signing_key(&kid);
    char *tok, *out;

    cJSON_AddStringToObject(c, "iss", cfg->jwt_issuer ? cfg->jwt_issuer : "");
    cJSON_AddStringToObject(c, "sub",
        cJSON_GetObjectItemCaseSensitive(user, "id")->valuestring);
    cJSON_AddStringToObject(c, "aud", cfg->jwt_audience ? cfg->jwt_audience
                                                         : "authenticated");
    cJSON_AddNumberToObject(c, "exp", (double)(now + cfg->jwt_ttl));
    cJSON_AddNumberToObject(c, "iat", (double)now);
    cJSON_AddStringToObject(c, "email", cJSON_IsString(email) ? email->valuestring : "");
    cJSON_AddStringToObject(c, "phone", "");
    add_copy(c, "app_metadata", user);
    add_copy(c, "user_metadata", user);
    cJSON_AddStringToObject(c, "role", "authenticated");
    cJSON_AddStringToObject(c, "aal", cJSON_IsString(aal) ? aal->valuestring : "aal1");
    cJSON_AddItemToObject(c, "amr", amr_claim(level, now));
    cJSON_AddStringToObject(c, "session_id", session_id);
    cJSON_AddBoolToObject(c, "is_anonymous", false);
    tok = key != NULL ? jwt_sign_es256(c, key, kid)
                      : jwt_sign_hs256(c, (const unsigned char *)secret,
                                       strlen(secret));
    if (tok == NULL)
        return NULL;
    out = arena_strdup(r->arena, tok);
    free(tok);
    return out;
}

/* GoTrue's session object {access_token, token_type, expires_in,
 * expires_at, refresh_token, user} (the arena owns it), or NULL after a 500.
 * level_json: the session's {aal, amr} (promptd.auth_session_level); NULL:
 * aal1, opened now by a password. */
cJSON *session_build(req_t *r, const char *user_json, const char *session_id,
                     const char *refresh_token, const char *level_json)
{
    cJSON *user = json_own(r->arena, cJSON_Parse(user_json ? user_json : ""));
    cJSON *level = level_json ? json_own(r->arena, cJSON_Parse(level_json)) : NULL;
    cJSON *o;
    time_t now = time(NULL);
    const char *tok;

    if (!cJSON_IsObject(user) || !session_id ||
        !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(user, "id"))) {
        r->tx.detail = "auth function returned no user";
        resp_problem(r, 500, "Internal error; it has been logged.");
        return NULL;
    }
    if ((tok = access_token(r, user, session_id, now, level)) == NULL) {
        r->tx.detail = "signing the access token failed (no JWT secret?)";
        resp_problem(r, 500, "Internal error; it has been logged.");
        return NULL;
    }
    o = json_own(r->arena, cJSON_CreateObject());
    cJSON_AddStringToObject(o, "access_token", tok);
    cJSON_AddStringToObject(o, "token_type", "bearer");
    cJSON_AddNumberToObject(o, "expires_in", (double)cfg->jwt_ttl);
    cJSON_AddNumberToObject(o, "expires_at", (double)(now + cfg->jwt_ttl));
    cJSON_AddStringToObject(o, "refresh_token", refresh_token);
    cJSON_AddItemReferenceToObject(o, "user", user);
    return o;
}

/* 200 with the session of session_build. */
int session_reply(req_t *r, const char *user_json, const char *session_id,
                  const char *refresh_token, const char *level_json)
{
    cJSON *o = session_build(r, user_json, session_id, refresh_token, level_json);

    if (o == NULL)
        return r->status;
    resp_header(r, "Cache-Control", "no-store");
    return resp_json(r, 200, o);
}

/* ------------------------------------------------------------ callers */

/* The sign-in phase runs as promptd_auth (see sql/0006_auth_sessions.sql). */
void as_auth_role(req_t *r)
{
    r->tx.role = AUTH_ROLE;
    r->tx.claims = "{\"role\":\"" AUTH_ROLE "\"}";
}

bool audit_or_reply(req_t *r, const char *action, const char *outcome,
                           const char *detail, const char *actor)
{
    if (audit_record(r, action, NULL, outcome, detail, actor))
        return true;
    db_failed(r);
    return false;
}

