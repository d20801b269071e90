/* promptctl.c: operator commands: migrate, user create|admin, token, env, audit verify, secrets, jobs. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "auth/jwt.h"
#include "cmd/auditctl.h"
#include "cmd/jobsctl.h"
#include "cmd/migrate.h"
#include "cmd/secretsctl.h"
#include "cmd/promptctl.h"
#include "core/config.h"
#include "core/str.h"
#include "net/outbound.h"

#define PROMPTCTL_EMAIL_MAX 254

static const char promptctl_usage[] =
    "usage: promptctl migrate\n"
    "       promptctl user create EMAIL\n"
    "       promptctl user admin USER on|off   (USER: uuid or email)\n"
    "       promptctl audit verify\n"
    "       promptctl secrets set USER NAME < value | secrets get USER NAME\n"
    "       promptctl secrets check | secrets rotate\n"
    "       promptctl token USER [--ttl SECONDS]   (USER: uuid or email)\n"
    "       promptctl jobs list [--state S] [--queue Q] [--limit N] | jobs show|retry|cancel ID\n"
    "       promptctl jobs enqueue TYPE [--count N] [--payload JSON] [--queue Q] | jobs stats\n"
    "       promptctl env\n"
    "       promptctl help\n";

static int promptctl_usage_error(const char *why)
{
    if (why != NULL)
        fprintf(stderr, "promptctl: %s\n", why);
    fputs(promptctl_usage, stderr);
    return 2;
}

PGconn *promptctl_connect(const config_t *cfg)
{
    PGconn *conn = PQconnectdb(cfg->database_url);

    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "promptctl: connecting to the database: %s",
                PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

/* Rough address check: one '@', non-empty local part, a dotted domain, no
 * spaces or control characters, at most 254 bytes. */
static bool promptctl_email_ok(const char *s)
{
    const char *at = strchr(s, '@'), *p;
    const char *dot;

    if (at == NULL || at == s || strchr(at + 1, '@') != NULL ||
        strlen(s) > PROMPTCTL_EMAIL_MAX)
        return false;
    for (p = s; *p != '\0'; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return false;
    dot = strrchr(at + 1, '.');
    return dot != NULL && dot > at + 1 && dot[1] != '\0';
}

/* promptctl user create EMAIL: insert auth.users, print the new id. */
static int promptctl_user_create(const config_t *cfg, const char *email_arg)
{
    const char *params[1];
    PGconn *conn = NULL;
    PGresult *res = NULL;
    char *email, *p;
    int rc = 1;

    email = strdup(email_arg);
    if (email == NULL)
        return 1;
    for (p = email; *p != '\0'; p++)
        *p = (char)tolower((unsigned char)*p);
    if (!promptctl_email_ok(email)) {
        fprintf(stderr, "promptctl: invalid email address '%s'\n", email_arg);
        goto out;
    }
    if ((conn = promptctl_connect(cfg)) == NULL)
        goto out;
    params[0] = email;
    res = PQexecParams(conn,
        "insert into auth.users (id, email, aud, role) "
        "select gen_random_uuid(), $1::text, 'authenticated', 'authenticated' "
        "where not exists (select 1 from auth.users where lower(email) = $1::text) "
        "on conflict do nothing returning id",
        1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "promptctl: creating the user: %s",
                PQresultErrorMessage(res));
        goto out;
    }
    if (PQntuples(res) == 0) {
        fprintf(stderr, "promptctl: user exists: %s\n", email);
        goto out;
    }
    printf("%s\n", PQgetvalue(res, 0, 0));
    rc = 0;
out:
    PQclear(res);
    PQfinish(conn);
    free(email);
    return rc;
}

/* Parse "--ttl N" / "--ttl=N" from argv[from..]; false on bad syntax. */
static bool promptctl_parse_ttl(int argc, char **argv, int from, long *ttl)
{
    const char *v = NULL;
    char *end;
    int i;

    for (i = from; i < argc; i++) {
        if (strcmp(argv[i], "--ttl") == 0 && i + 1 < argc)
            v = argv[++i];
        else if (strncmp(argv[i], "--ttl=", 6) == 0)
            v = argv[i] + 6;
        else
            return false;
        errno = 0;
        *ttl = strtol(v, &end, 10);
        if (errno != 0 || end == v || *end != '\0' || *ttl <= 0 ||
            *ttl > 10L * 365 * 24 * 3600)
            return false;
    }
    return true;
}

/* Sign {sub, email, role, aud, iat, exp}; malloc'd token or NULL. */
static char *promptctl_sign(const config_t *cfg, const char *sub,
                            const char *email, long ttl)
{
    time_t now = time(NULL);
    cJSON *claims = cJSON_CreateObject();
    char *token = NULL;

    if (claims == NULL ||
        cJSON_AddStringToObject(claims, "sub", sub) == NULL ||
        (email != NULL && cJSON_AddStringToObject(claims, "email", email) == NULL) ||
        cJSON_AddStringToObject(claims, "role", "authenticated") == NULL ||
        cJSON_AddStringToObject(claims, "aud", cfg->jwt_audience) == NULL ||
        cJSON_AddNumberToObject(claims, "iat", (double)now) == NULL ||
        cJSON_AddNumberToObject(claims, "exp", (double)(now + ttl)) == NULL)
        goto out;
    token = jwt_sign_hs256(claims, (const unsigned char *)cfg->jwt_secret,
                           strlen(cfg->jwt_secret));
out:
    cJSON_Delete(claims);
    return token;
}

/* promptctl token USER [--ttl N]: print an access token for the user. */
static int promptctl_token(const config_t *cfg, const char *user, long ttl)
{
    const char *params[1] = { user };
    PGconn *conn = NULL;
    PGresult *res = NULL;
    char *token = NULL;
    int rc = 1;

    if ((conn = promptctl_connect(cfg)) == NULL)
        goto out;
    res = PQexecParams(conn, uuid_valid(user)
        ? "select id, email from auth.users where id = $1::uuid"
        : "select id, email from auth.users where lower(email) = lower($1::text)",
        1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "promptctl: looking up the user: %s",
                PQresultErrorMessage(res));
        goto out;
    }
    if (PQntuples(res) != 1) {
        fprintf(stderr, "promptctl: no such user: %s\n", user);
        goto out;
    }
    token = promptctl_sign(cfg, PQgetvalue(res, 0, 0),
                           PQgetisnull(res, 0, 1) ? NULL : PQgetvalue(res, 0, 1),
                           ttl);
    if (token == NULL) {
        fprintf(stderr, "promptctl: signing the token failed\n");
        goto out;
    }
    printf("%s\n", token);
    rc = 0;
out:
    free(token);
    PQclear(res);
    PQfinish(conn);
    return rc;
}

/* Print s single-quoted for a POSIX shell ('\'' for each quote). */
static void promptctl_shell_quote(FILE *fp, const char *s)
{
    fputc('\'', fp);
    for (; *s != '\0'; s++) {
        if (*s == '\'')
            fputs("'\\''", fp);
        else
            fputc(*s, fp);
    }
    fputc('\'', fp);
}

/* promptctl env: the worker environment, as shell export lines. */
static int promptctl_env(const config_t *cfg)
{
    /* The secrets config_load(true) generated, each module's own. */
    static const char *const generated[][2] = {
        {"PROMPTD_API_KEY_PEPPER", "api_key_pepper"},
        {"PROMPTD_SECRETS_KEYS", "secrets_keys"},
        {"PROMPTD_SHARE_COOKIE_KEY", "share_cookie_key"}};
    const char *app = getenv("PROMPTD_APP_DATABASE_URL");

    if ((app == NULL || *app == '\0') &&
        config_read_secret(cfg->var_dir, "app_db_password") == NULL) {
        fprintf(stderr, "promptctl: %s/secrets/app_db_password is missing: "
                "run promptctl migrate first\n", cfg->var_dir);
        return 1;
    }
    fputs("export PROMPTD_APP_DATABASE_URL=", stdout);
    promptctl_shell_quote(stdout, cfg->app_database_url);
    fputs("\nexport PROMPTD_JWT_SECRET=", stdout);
    promptctl_shell_quote(stdout, cfg->jwt_secret);
    for (size_t i = 0; i < sizeof generated / sizeof generated[0]; i++) {
        const char *v = config_secret(generated[i][0], generated[i][1]);

        if (v != NULL) {
            fprintf(stdout, "\nexport %s=", generated[i][0]);
            promptctl_shell_quote(stdout, v);
        }
    }
    fputc('\n', stdout);
    return fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    const config_t *cfg;
    const char *cmd = argc > 1 ? argv[1] : NULL;
    long ttl;

    if (cmd == NULL || strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
        strcmp(cmd, "-h") == 0)
        return promptctl_usage_error(NULL);
    if (strcmp(cmd, "migrate") != 0 && strcmp(cmd, "user") != 0 &&
        strcmp(cmd, "token") != 0 && strcmp(cmd, "env") != 0 &&
        strcmp(cmd, "audit") != 0 && strcmp(cmd, "secrets") != 0 &&
        strcmp(cmd, "jobs") != 0) {
        fprintf(stderr, "promptctl: unknown command '%s'\n", cmd);
        return promptctl_usage_error(NULL);
    }
    if ((strcmp(cmd, "migrate") == 0 || strcmp(cmd, "env") == 0) && argc != 2)
        return promptctl_usage_error("too many arguments");
    if (strcmp(cmd, "user") == 0 &&
        !(argc == 4 && strcmp(argv[2], "create") == 0) &&
        !(argc == 5 && strcmp(argv[2], "admin") == 0 &&
          (strcmp(argv[4], "on") == 0 || strcmp(argv[4], "off") == 0)))
        return promptctl_usage_error("expected: user create EMAIL | user admin USER on|off");
    if (strcmp(cmd, "audit") == 0 && (argc != 3 || strcmp(argv[2], "verify") != 0))
        return promptctl_usage_error("expected: audit verify");
    if (strcmp(cmd, "jobs") == 0 && argc < 3)
        return promptctl_usage_error("expected: jobs list|show|retry|cancel|enqueue|stats");
    if (strcmp(cmd, "token") == 0 && argc < 3)
        return promptctl_usage_error("expected: token USER [--ttl SECONDS]");

    if (!outbound_init() || (cfg = config_load(true)) == NULL)
        return 1;
    if (strcmp(cmd, "migrate") == 0)
        return migrate_run(cfg);
    if (strcmp(cmd, "user") == 0 && strcmp(argv[2], "admin") == 0)
        return auditctl_user_admin(cfg, argv[3], strcmp(argv[4], "on") == 0);
    if (strcmp(cmd, "user") == 0)
        return promptctl_user_create(cfg, argv[3]);
    if (strcmp(cmd, "audit") == 0)
        return auditctl_verify(cfg);
    if (strcmp(cmd, "secrets") == 0)
        return secretsctl_main(cfg, argc - 2, argv + 2);
    if (strcmp(cmd, "jobs") == 0)
        return jobsctl_main(cfg, argc - 2, argv + 2);
    if (strcmp(cmd, "env") == 0)
        return promptctl_env(cfg);
    ttl = cfg->jwt_ttl;
    if (!promptctl_parse_ttl(argc, argv, 3, &ttl))
        return promptctl_usage_error("--ttl takes a positive number of seconds");
    return promptctl_token(cfg, argv[2], ttl);
}
