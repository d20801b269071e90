/* config.h: PROMPTD_* environment and secret files, with the embedded defaults under var/. */
#ifndef PROMPTD_CONFIG_H
#define PROMPTD_CONFIG_H

#include <stdbool.h>

/* The settings several modules share, resolved once at start.  A setting
 * one module uses is read by that module at start (config_env,
 * config_env_int, config_secret), e.g. auth/apikey's pepper, the auth
 * family's refresh settings.  Strings are owned by the process (static). */
typedef struct config {
    const char *var_dir;          /* PROMPTD_VAR_DIR, default <builddir>/var
                                   * (root: /var/lib/promptd) */
    const char *sql_dir;          /* PROMPTD_SQL_DIR, default <srcdir>/sql from the
                                   * build tree, else the installed share/promptd/sql */
    const char *secrets_dir;      /* PROMPTD_SECRETS_DIR, else systemd's
                                   * CREDENTIALS_DIRECTORY (LoadCredential=), else
                                   * <var_dir>/secrets: where a process reads its secret
                                   * files (the stack gives each family its own, holding
                                   * only what it needs) */
    const char *database_url;     /* PROMPTD_DATABASE_URL or the embedded one */
    const char *app_database_url; /* PROMPTD_APP_DATABASE_URL, <secrets>/app_database_url,
                                   * or derived (+ <secrets>/app_db_password) */
    const char *direct_database_url; /* PROMPTD_DIRECT_DATABASE_URL, <secrets>/direct_database_url,
                                   * else app_database_url: the application role straight
                                   * to PostgreSQL, never through a transaction pooler, for
                                   * the session daemons (promptd-jobs: LISTEN, session
                                   * settings; promptd-gateway: LISTEN, its pool's role) */
    const char *jwt_secret;       /* PROMPTD_JWT_SECRET or <secrets>/jwt_secret; NULL in
                                   * a worker without one (HS256 tokens refused) */
    const char *jwt_audience;     /* PROMPTD_JWT_AUDIENCE, default authenticated */
    long jwt_ttl;                 /* PROMPTD_JWT_TTL seconds, default 3600 */
    long max_body;                /* PROMPTD_MAX_BODY bytes, default 262144 */
    const char *site_url;         /* PROMPTD_SITE_URL, default http://127.0.0.1:<port>,
                                   * port = PROMPTD_HTTP_PORT (8080) */
    const char *jwt_issuer;       /* PROMPTD_JWT_ISSUER, default <site_url>/auth/v1 */
    const char *anon_key;         /* PROMPTD_ANON_KEY: the apikey header must match; NULL = any */
    const char *jwks;             /* PROMPTD_JWKS: JWKS file path or URL; NULL = none.
                                   * A file must be readable at load time */
} config_t;

/* Load from the environment and the secrets directory (<secrets> above:
 * PROMPTD_SECRETS_DIR, default var/secrets); an environment variable, when
 * set, overrides its file.  With create_secrets (the operator tools),
 * missing generated secrets are created under var/secrets (0600) and the
 * admin URL is built; without (workers, promptd-jobs), nothing is created
 * and the superuser's password is never read.  Also parses the secrets key
 * ring (PROMPTD_SECRETS_KEYS or <secrets>/secrets_keys; the operator tools
 * generate one) into crypto/keyring, where a malformed one is reported by
 * keyring_get, not here.  Returns NULL and prints the reason on stderr when
 * the configuration is unusable. */
const config_t *config_load(bool create_secrets);

/* A secret that is not part of config_t (e.g. a provider API key, the
 * API key pepper): the environment variable env when set, else the file
 * <secrets>/<name> (in the operator tools, var/secrets/<name>, where
 * config_load(true) generated it).  NULL when neither exists.  Static
 * string. */
const char *config_secret(const char *env, const char *name);

/* Read a whole secret file (trailing newline stripped) into a static
 * string; NULL when absent. */
char *config_read_secret(const char *var_dir, const char *name);
/* Write a fresh random secret (hex of nbytes random bytes) with mode 0600,
 * unless the file exists; returns the secret. */
char *config_make_secret(const char *var_dir, const char *name, int nbytes);

/* The environment variable name, or NULL when unset or empty. */
const char *config_env(const char *name);

/* An integer environment variable in min..max: dflt when unset or empty;
 * otherwise malformed or out of range prints why on stderr, leaves dflt in
 * *out and returns false. */
bool config_env_int(const char *name, long dflt, long min, long max, long *out);

#endif
