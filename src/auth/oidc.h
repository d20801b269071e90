/* oidc.h: single sign-on providers: OpenID Connect (discovery, the code flow with PKCE, ID tokens checked against the provider's JWKS) and GitHub's OAuth. */
#ifndef PROMPTD_OIDC_H
#define PROMPTD_OIDC_H

#include <stdbool.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "auth/jwks.h"
#include "core/arena.h"

#define OIDC_NAME_MAX 32
#define OIDC_DISCOVERY_TTL 3600   /* seconds a discovery document is kept */
#define OIDC_TIMEOUT_MS 10000     /* one call to a provider */

/* One configured provider; the process owns it (oidc_providers_load). */
typedef struct oidc_provider {
    const char *issuer;            /* OpenID: PROMPTD_SSO_<NAME>_ISSUER */
    const char *client_id;         /* PROMPTD_SSO_<NAME>_CLIENT_ID */
    const char *client_secret;     /* secret sso_<name>_client_secret */
    const char *scopes;            /* PROMPTD_SSO_<NAME>_SCOPES */
    const char *github_url;        /* PROMPTD_SSO_GITHUB_URL (https://github.com) */
    const char *github_api_url;    /* PROMPTD_SSO_GITHUB_API_URL (https://api.github.com) */
    /* from discovery (OpenID), or GitHub's fixed paths */
    char *authorization_endpoint;
    char *token_endpoint;
    jwks_source_t *jwks;
    time_t discovered_at;
    char name[OIDC_NAME_MAX + 1];  /* [a-z0-9_-], as in ?provider= */
    bool github;                   /* GitHub's OAuth, not OpenID Connect */
    bool secret_basic;             /* the token endpoint takes client_secret_basic */
} oidc_provider_t;

/* What a provider says about the person signing in; strings in the arena. */
typedef struct oidc_identity {
    const char *subject;           /* the provider's stable id */
    const char *email;             /* NULL when it gave none */
    bool email_verified;           /* the provider vouches for email */
    cJSON *data;                   /* claims kept as identity_data (arena-owned) */
} oidc_identity_t;

/* Read PROMPTD_SSO_PROVIDERS (comma-separated names) and each one's
 * settings; false after printing what is wrong on stderr.  None
 * configured is fine.  Call once at start. */
bool oidc_providers_load(void);

/* The provider named name, or NULL. */
oidc_provider_t *oidc_provider(const char *name);

/* Fetch (or reuse, for OIDC_DISCOVERY_TTL) the provider's discovery
 * document; its issuer must equal the configured one.  False with *why. */
bool oidc_discover(oidc_provider_t *p, arena_t *a, const char **why);

/* The provider's authorization URL for one sign-in (arena string):
 * response_type=code, our client_id, redirect_uri, scopes, state, nonce
 * (OpenID only) and the S256 challenge of our verifier. */
char *oidc_authorize_url(arena_t *a, const oidc_provider_t *p, const char *redirect_uri,
                         const char *state, const char *nonce, const char *verifier);

/* Exchange the callback's code at the token endpoint (with our verifier)
 * and establish who signed in: for OpenID the ID token, verified with the
 * provider's JWKS (signature, iss, aud = our client id, azp, exp, iat,
 * nonce); for GitHub its user and primary verified email.  False with
 * *why (arena or static). */
bool oidc_sign_in(arena_t *a, oidc_provider_t *p, const char *code, const char *redirect_uri,
                  const char *verifier, const char *nonce, oidc_identity_t *out,
                  const char **why);

/* The S256 challenge of a PKCE verifier: base64url(SHA-256(verifier)), in
 * the arena. */
char *oidc_s256(arena_t *a, const char *verifier);

#endif
