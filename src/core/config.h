/* config.h: PROMPTD_* environment, with the embedded defaults under var/. */
#ifndef PROMPTD_CONFIG_H
#define PROMPTD_CONFIG_H

#include <stdbool.h>

/* Resolved configuration.  Strings are owned by the process (static). */
typedef struct config {
    const char *var_dir;          /* PROMPTD_VAR_DIR, default <builddir>/var */
    const char *sql_dir;          /* PROMPTD_SQL_DIR, default <srcdir>/sql */
    const char *database_url;     /* PROMPTD_DATABASE_URL or the embedded one */
    const char *app_database_url; /* PROMPTD_APP_DATABASE_URL or derived */
    const char *jwt_secret;       /* PROMPTD_JWT_SECRET or var/secrets/jwt_secret */
    const char *jwt_audience;     /* PROMPTD_JWT_AUDIENCE, default authenticated */
    long jwt_ttl;                 /* PROMPTD_JWT_TTL seconds, default 3600 */
    long max_body;                /* PROMPTD_MAX_BODY bytes, default 262144 */
} config_t;

/* Load from the environment.  With create_secrets, missing generated
 * secrets (JWT secret) are created under var/secrets (0600).  Returns NULL
 * and prints the reason on stderr when the configuration is unusable. */
const config_t *config_load(bool create_secrets);

/* Read a whole secret file (trailing newline stripped) into a static
 * string; NULL when absent. */
char *config_read_secret(const char *var_dir, const char *name);
/* Write a fresh random secret (hex of nbytes random bytes) with mode 0600,
 * unless the file exists; returns the secret. */
char *config_make_secret(const char *var_dir, const char *name, int nbytes);

#endif
