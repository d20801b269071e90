/* promptctl.c: the operator command: its table of commands, user create|admin, token, env. */
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
#include "cmd/backupctl.h"
#include "cmd/credctl.h"
#include "cmd/ctl.h"
#include "cmd/jobsctl.h"
#include "cmd/reqstatsctl.h"
#include "cmd/migrate.h"
#include "cmd/quotactl.h"
#include "cmd/secretsctl.h"
#include "core/config.h"
#include "core/str.h"
#include "net/outbound.h"

#define PROMPTCTL_EMAIL_MAX 254

static int promptctl_usage_error(const char *why);

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
    if ((conn = ctl_connect(cfg)) == NULL)
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

    if ((conn = ctl_connect(cfg)) == NULL)
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
        {"PROMPTD_SHARE_COOKIE_KEY", "share_cookie_key"},
        {"PROMPTD_STORAGE_SIGNING_KEY", "storage_signing_key"}};
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

static bool promptctl_user_words(int argc, char **argv)
{
    return (argc == 2 && strcmp(argv[0], "create") == 0) ||
           (argc == 3 && strcmp(argv[0], "admin") == 0 &&
            (strcmp(argv[2], "on") == 0 || strcmp(argv[2], "off") == 0));
}

static int promptctl_user(const config_t *cfg, int argc, char **argv)
{
    (void)argc;
    if (strcmp(argv[0], "admin") == 0)
        return auditctl_user_admin(cfg, argv[1], strcmp(argv[2], "on") == 0);
    return promptctl_user_create(cfg, argv[1]);
}

static int promptctl_token_cmd(const config_t *cfg, int argc, char **argv)
{
    long ttl = cfg->jwt_ttl;

    if (!promptctl_parse_ttl(argc, argv, 1, &ttl))
        return promptctl_usage_error("--ttl takes a positive number of seconds");
    return promptctl_token(cfg, argv[0], ttl);
}

static int promptctl_env_cmd(const config_t *cfg, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return promptctl_env(cfg);
}

static const ctl_cmd_t promptctl_user_cmd = {
    "user",
    "user create EMAIL\n"
    "user admin USER on|off   (USER: uuid or email)",
    "expected: user create EMAIL | user admin USER on|off", 2, 3,
    promptctl_user_words, promptctl_user
};

static const ctl_cmd_t promptctl_token_entry = {
    "token", "token USER [--ttl SECONDS]   (USER: uuid or email)",
    "expected: token USER [--ttl SECONDS]", 1, -1, NULL, promptctl_token_cmd
};

static const ctl_cmd_t promptctl_env_entry = {
    "env", "env", "too many arguments", 0, 0, NULL, promptctl_env_cmd
};

/* Every command, in the order the usage text lists them. */
static const ctl_cmd_t *const promptctl_cmds[] = {
    &migrate_cmd, &promptctl_user_cmd, &auditctl_cmd, &secretsctl_cmd,
    &promptctl_token_entry, &jobsctl_cmd, &promptctl_env_entry,
    &quotactl_plans_cmd, &quotactl_quota_cmd, &backupctl_backup_cmd, &backupctl_restore_cmd,
    &credctl_cmd, &reqstatsctl_cmd,
};

#define PROMPTCTL_NCMDS (sizeof promptctl_cmds / sizeof promptctl_cmds[0])

/* The usage text: every line of every entry, then help; exit status 2. */
static int promptctl_usage_error(const char *why)
{
    const char *lead = "usage: ", *p, *nl;
    size_t i;

    if (why != NULL)
        fprintf(stderr, "promptctl: %s\n", why);
    for (i = 0; i < PROMPTCTL_NCMDS; i++) {
        for (p = promptctl_cmds[i]->usage; p != NULL; p = nl != NULL ? nl + 1 : NULL) {
            nl = strchr(p, '\n');
            fprintf(stderr, "%*spromptctl %.*s\n", 7, lead,
                    (int)(nl != NULL ? (size_t)(nl - p) : strlen(p)), p);
            lead = "";
        }
    }
    fprintf(stderr, "%*spromptctl help\n", 7, lead);
    return 2;
}

int main(int argc, char **argv)
{
    const char *name = argc > 1 ? argv[1] : NULL;
    const ctl_cmd_t *cmd = NULL;
    const config_t *cfg;
    int nargs = argc - 2;
    size_t i;

    if (name == NULL || strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 ||
        strcmp(name, "-h") == 0)
        return promptctl_usage_error(NULL);
    for (i = 0; i < PROMPTCTL_NCMDS && cmd == NULL; i++)
        if (strcmp(name, promptctl_cmds[i]->name) == 0)
            cmd = promptctl_cmds[i];
    if (cmd == NULL) {
        fprintf(stderr, "promptctl: unknown command '%s'\n", name);
        return promptctl_usage_error(NULL);
    }
    if (nargs < cmd->min_args || (cmd->max_args >= 0 && nargs > cmd->max_args) ||
        (cmd->check != NULL && !cmd->check(nargs, argv + 2)))
        return promptctl_usage_error(cmd->expected);
    if (!outbound_init() || (cfg = config_load(true)) == NULL)
        return 1;
    return cmd->exec(cfg, nargs, argv + 2);
}
