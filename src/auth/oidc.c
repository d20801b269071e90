/* oidc.c: single sign-on providers: configuration, OpenID discovery, the token exchange, ID token checks, GitHub's user and emails. */
#include "auth/oidc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "auth/jwt.h"
#include "core/config.h"
#include "core/json.h"
#include "core/log.h"
#include "core/str.h"
#include "crypto/b64url.h"
#include "crypto/hash.h"
#include "net/outbound.h"

#define OIDC_MAX_PROVIDERS 16
#define OIDC_MAX_BODY (256u << 10)

static oidc_provider_t providers[OIDC_MAX_PROVIDERS];
static size_t nproviders;

/* ------------------------------------------------------------ settings */

#define SETTING_NAME_MAX 96

/* The variable PROMPTD_SSO_<NAME>_<what> (the name upper-cased, '-' as
 * '_') into var. */
static const char *setting_name(const char *name, const char *what, char var[SETTING_NAME_MAX])
{
    snprintf(var, SETTING_NAME_MAX, "PROMPTD_SSO_%s_%s", name, what);
    for (char *c = var; *c; c++)
        *c = *c == '-' ? '_' : (char)toupper((unsigned char)*c);
    return var;
}

/* Its value, or NULL. */
static const char *setting(const char *name, const char *what)
{
    char var[SETTING_NAME_MAX];

    return config_env(setting_name(name, what, var));
}

/* One provider's settings into p; false after saying what is missing. */
static bool provider_load(oidc_provider_t *p, const char *name)
{
    char secret[64], var[SETTING_NAME_MAX], idvar[SETTING_NAME_MAX];
    const char *scopes;

    snprintf(p->name, sizeof(p->name), "%s", name);
    snprintf(secret, sizeof(secret), "sso_%s_client_secret", name);
    for (char *s = secret; *s; s++)
        *s = *s == '-' ? '_' : *s;
    p->github = strcmp(name, "github") == 0;
    p->issuer = setting(name, "ISSUER");
    p->client_id = setting(name, "CLIENT_ID");
    p->client_secret = config_secret(setting_name(name, "CLIENT_SECRET", var), secret);
    scopes = setting(name, "SCOPES");
    p->scopes = scopes ? scopes : p->github ? "read:user user:email" : "openid email profile";
    if (p->client_id == NULL || p->client_secret == NULL || (!p->github && p->issuer == NULL)) {
        fprintf(stderr, "PROMPTD_SSO_PROVIDERS names %s: it needs %s, the secret %s (or %s)%s\n",
                name, setting_name(name, "CLIENT_ID", var), secret,
                setting_name(name, "CLIENT_SECRET", idvar), p->github ? "" : " and an ISSUER");
        return false;
    }
    if (p->github) {
        const char *web = setting(name, "URL"), *api = setting(name, "API_URL");

        p->github_url = web ? web : "https://github.com";
        p->github_api_url = api ? api : "https://api.github.com";
        if (asprintf(&p->authorization_endpoint, "%s/login/oauth/authorize", p->github_url) < 0 ||
            asprintf(&p->token_endpoint, "%s/login/oauth/access_token", p->github_url) < 0)
            return false;
    }
    return true;
}

bool oidc_providers_load(void)
{
    const char *list = config_env("PROMPTD_SSO_PROVIDERS");

    nproviders = 0;
    while (list && *list) {
        size_t n = strcspn(list, ", ");
        char name[OIDC_NAME_MAX + 1];

        if (n > 0) {
            if (n > OIDC_NAME_MAX || nproviders == OIDC_MAX_PROVIDERS ||
                strspn(list, "abcdefghijklmnopqrstuvwxyz0123456789_-") < n) {
                fprintf(stderr, "PROMPTD_SSO_PROVIDERS: names are 1 to %d of a-z, 0-9, "
                        "'_', '-', at most %d of them\n", OIDC_NAME_MAX, OIDC_MAX_PROVIDERS);
                return false;
            }
            memcpy(name, list, n);
            name[n] = '\0';
            if (!provider_load(&providers[nproviders++], name))
                return false;
        }
        list += n + (list[n] != '\0');
    }
    return true;
}

oidc_provider_t *oidc_provider(const char *name)
{
    for (size_t i = 0; name && i < nproviders; i++)
        if (strcmp(providers[i].name, name) == 0)
            return &providers[i];
    return NULL;
}

/* ------------------------------------------------------------ calls */

/* A JSON answer of one provider call (form NULL: GET), or NULL with *why. */
static cJSON *call_json(arena_t *a, const char *url, const char *form,
                        const char *const *headers, const char **why)
{
    outbound_opts_t o = {.origin = OUTBOUND_OPERATOR_URL, .timeout_ms = OIDC_TIMEOUT_MS,
                         .max_body = OIDC_MAX_BODY, .max_redirects = 0,
                         .user_agent = "promptd-sso/1"};
    outbound_reply_t rep;
    cJSON *j;

    if (!outbound_request(a, url, form, headers, &o, &rep)) {
        *why = arena_printf(a, "%s: %s", url, rep.error);
        return NULL;
    }
    j = json_own(a, cJSON_ParseWithLength(rep.body, rep.len));
    if (rep.status != 200 || j == NULL) {
        *why = arena_printf(a, "%s answered %ld%s", url, rep.status,
                            j ? "" : " without JSON");
        return NULL;
    }
    return j;
}

/* A string member of o copied for the process, or NULL. */
static char *member_dup(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsString(v) && *v->valuestring ? strdup(v->valuestring) : NULL;
}

bool oidc_discover(oidc_provider_t *p, arena_t *a, const char **why)
{
    const cJSON *d, *methods, *m;
    char *jwks_uri;
    time_t now = time(NULL);

    if (p->github || (p->discovered_at != 0 && now - p->discovered_at < OIDC_DISCOVERY_TTL))
        return true;
    d = call_json(a, arena_printf(a, "%s%s.well-known/openid-configuration", p->issuer,
                                  p->issuer[strlen(p->issuer) - 1] == '/' ? "" : "/"),
                  NULL, NULL, why);
    if (d == NULL)
        return false;
    m = cJSON_GetObjectItemCaseSensitive(d, "issuer");
    if (!cJSON_IsString(m) || strcmp(m->valuestring, p->issuer) != 0) {
        *why = "the discovery document names another issuer";
        return false;
    }
    free(p->authorization_endpoint);
    free(p->token_endpoint);
    p->authorization_endpoint = member_dup(d, "authorization_endpoint");
    p->token_endpoint = member_dup(d, "token_endpoint");
    jwks_uri = member_dup(d, "jwks_uri");
    methods = cJSON_GetObjectItemCaseSensitive(d, "token_endpoint_auth_methods_supported");
    p->secret_basic = true;     /* the specification's default */
    if (cJSON_IsArray(methods)) {
        p->secret_basic = false;
        cJSON_ArrayForEach(m, methods) {
            if (cJSON_IsString(m) && strcmp(m->valuestring, "client_secret_basic") == 0)
                p->secret_basic = true;
        }
    }
    if (p->authorization_endpoint == NULL || p->token_endpoint == NULL || jwks_uri == NULL) {
        free(jwks_uri);
        *why = "the discovery document lacks an endpoint or jwks_uri";
        return false;
    }
    jwks_source_free(p->jwks);
    p->jwks = jwks_source_new(jwks_uri);
    free(jwks_uri);
    p->discovered_at = now;
    return true;
}

char *oidc_s256(arena_t *a, const char *verifier)
{
    hash_part_t part = {verifier, strlen(verifier)};
    unsigned char md[HASH_SHA256_LEN];
    char *out = arena_alloc(a, B64URL_ENCODED_SIZE(sizeof(md)));

    hash_sha256(&part, 1, md);
    b64url_encode(md, sizeof(md), out);
    return out;
}

char *oidc_authorize_url(arena_t *a, const oidc_provider_t *p, const char *redirect_uri,
                         const char *state, const char *nonce, const char *verifier)
{
    return arena_printf(a, "%s%cresponse_type=code&client_id=%s&redirect_uri=%s&scope=%s"
                        "&state=%s%s%s&code_challenge=%s&code_challenge_method=S256",
                        p->authorization_endpoint,
                        strchr(p->authorization_endpoint, '?') ? '&' : '?',
                        url_encode(a, p->client_id), url_encode(a, redirect_uri),
                        url_encode(a, p->scopes), state, p->github ? "" : "&nonce=",
                        p->github ? "" : nonce, oidc_s256(a, verifier));
}

/* The token endpoint's answer to our code (JSON), or NULL with *why. */
static cJSON *token_exchange(arena_t *a, const oidc_provider_t *p, const char *code,
                             const char *redirect_uri, const char *verifier, const char **why)
{
    const char *headers[3] = {"Accept: application/json", NULL, NULL};
    char *form = arena_printf(a, "grant_type=authorization_code&code=%s&redirect_uri=%s"
                              "&code_verifier=%s&client_id=%s", url_encode(a, code),
                              url_encode(a, redirect_uri), url_encode(a, verifier),
                              url_encode(a, p->client_id));
    const char *pair;
    char *b64;
    int n;

    if (p->secret_basic && !p->github) {   /* RFC 6749 2.3.1: each part form-encoded */
        pair = arena_printf(a, "%s:%s", url_encode(a, p->client_id),
                            url_encode(a, p->client_secret));
        b64 = arena_alloc(a, 4 * (strlen(pair) / 3 + 1) + 1);
        n = EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)pair, (int)strlen(pair));
        b64[n] = '\0';
        headers[1] = arena_printf(a, "Authorization: Basic %s", b64);
    } else {
        form = arena_printf(a, "%s&client_secret=%s", form, url_encode(a, p->client_secret));
    }
    return call_json(a, p->token_endpoint, form, headers, why);
}

/* A string claim, or NULL. */
static const char *claim(const cJSON *c, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, name);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The ID token of an OpenID provider, checked, into out. */
static bool id_token_identity(arena_t *a, oidc_provider_t *p, const char *token,
                              const char *nonce, oidc_identity_t *out, const char **why)
{
    jwt_verify_opts_t o = {.audience = p->client_id, .key_lookup = jwks_source_lookup,
                           .key_ctx = p->jwks, .foreign_subject = true};
    static const char *const roles[] = {"authenticated", NULL};
    const cJSON *aud, *ev;
    cJSON *c = NULL;
    enum jwt_error e;

    o.roles = roles;
    if ((e = jwt_verify(token, &o, &c)) != JWT_OK) {
        *why = arena_printf(a, "the ID token does not verify: %s", jwt_strerror(e));
        return false;
    }
    json_own(a, c);
    aud = cJSON_GetObjectItemCaseSensitive(c, "aud");
    if (strcmp(claim(c, "iss") ? claim(c, "iss") : "", p->issuer) != 0)
        *why = "the ID token's issuer is not the provider";
    else if (nonce == NULL || strcmp(claim(c, "nonce") ? claim(c, "nonce") : "", nonce) != 0)
        *why = "the ID token's nonce is not this sign-in's";
    else if (cJSON_IsArray(aud) && cJSON_GetArraySize(aud) > 1 &&
             strcmp(claim(c, "azp") ? claim(c, "azp") : "", p->client_id) != 0)
        *why = "the ID token was issued to another party (azp)";
    else if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(c, "iat")))
        *why = "the ID token has no iat";
    else
        *why = NULL;
    if (*why)
        return false;
    ev = cJSON_GetObjectItemCaseSensitive(c, "email_verified");
    out->subject = claim(c, "sub");
    out->email = claim(c, "email");
    out->email_verified = cJSON_IsTrue(ev) || (cJSON_IsString(ev) && strcmp(ev->valuestring, "true") == 0);
    out->data = c;
    return true;
}

/* GitHub's user and its primary verified email, into out. */
static bool github_identity(arena_t *a, const oidc_provider_t *p, const char *access,
                            oidc_identity_t *out, const char **why)
{
    const char *headers[] = {"Accept: application/vnd.github+json",
                             arena_printf(a, "Authorization: Bearer %s", access), NULL};
    cJSON *u, *emails, *e;
    const cJSON *id;

    if ((u = call_json(a, arena_printf(a, "%s/user", p->github_api_url), NULL, headers, why)) == NULL ||
        (emails = call_json(a, arena_printf(a, "%s/user/emails", p->github_api_url), NULL,
                            headers, why)) == NULL)
        return false;
    id = cJSON_GetObjectItemCaseSensitive(u, "id");
    if (!cJSON_IsNumber(id) && !cJSON_IsString(id)) {
        *why = "GitHub's user has no id";
        return false;
    }
    out->subject = cJSON_IsNumber(id) ? arena_printf(a, "%.0f", id->valuedouble) : id->valuestring;
    out->email = NULL;
    out->email_verified = false;
    cJSON_ArrayForEach(e, emails) {
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "primary")) && claim(e, "email")) {
            out->email = claim(e, "email");
            out->email_verified = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "verified"));
        }
    }
    out->data = u;
    return true;
}

bool oidc_sign_in(arena_t *a, oidc_provider_t *p, const char *code, const char *redirect_uri,
                  const char *verifier, const char *nonce, oidc_identity_t *out,
                  const char **why)
{
    cJSON *t;
    const char *tok;

    memset(out, 0, sizeof(*out));
    if (!oidc_discover(p, a, why) ||
        (t = token_exchange(a, p, code, redirect_uri, verifier, why)) == NULL)
        return false;
    if (p->github) {
        if ((tok = claim(t, "access_token")) == NULL) {
            *why = claim(t, "error") ? arena_printf(a, "GitHub: %s", claim(t, "error"))
                                     : "GitHub gave no access token";
            return false;
        }
        return github_identity(a, p, tok, out, why);
    }
    if ((tok = claim(t, "id_token")) == NULL) {
        *why = "the token endpoint gave no ID token";
        return false;
    }
    return id_token_identity(a, p, tok, nonce, out, why);
}
