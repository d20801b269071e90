/* config.c: unit tests for config_load and the modules' settings read at start: secrets from the secrets directory, the environment's override, the site URL's port, an unreadable JWKS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth/apikey.h"
#include "core/config.h"
#include "crypto/keyring.h"
#include "prompts/settings.h"
#include "tap.h"

#define FIELDS 8
static const char *names[FIELDS] = {
    "site_url", "jwt_secret", "api_key_pepper", "app_database_url",
    "openai_api_key", "database_url", "share_cookie_key", "keyring",
};

static char dir[] = "/tmp/promptd-config-XXXXXX";

static void spew(const char *rel, const char *data)
{
    char path[512];
    FILE *fp;

    snprintf(path, sizeof path, "%s/%s", dir, rel);
    if ((fp = fopen(path, "w")) == NULL) {
        perror(path);
        exit(2);
    }
    fputs(data, fp);
    fclose(fp);
}

/* Load the configuration in a child with exactly env (NAME=value, NULL
 * terminated) as its environment, then the modules' settings as their
 * programs do at start (the API key pepper of auth/apikey, the share
 * family's cookie key, the prompts family's settings); got[] receives each field ("(null)" when NULL); returns
 * false when a load failed. */
static bool load(const char *const *env, char got[FIELDS][256])
{
    int fd[2], status, i;
    char buf[FIELDS * 256 + 16] = "";
    ssize_t n, off = 0;
    char *p;
    pid_t pid;

    if (pipe(fd) != 0 || (pid = fork()) < 0)
        exit(2);
    if (pid == 0) {
        const config_t *c;
        const char *v[FIELDS], *why = NULL;
        const secretbox_ring_t *ring;
        prompts_settings_t prompts;

        close(fd[0]);
        clearenv();
        for (; *env != NULL; env++)
            putenv((char *)*env);
        if ((c = config_load(false)) == NULL ||
            !prompts_settings_load(&prompts))
            _exit(1);
        apikey_settings_load();
        v[0] = c->site_url;
        v[1] = c->jwt_secret;
        v[2] = apikey_pepper();
        v[3] = c->app_database_url;
        v[4] = config_secret("PROMPTD_OPENAI_API_KEY", "openai_api_key");
        v[5] = c->database_url;
        v[6] = config_secret("PROMPTD_SHARE_COOKIE_KEY", "share_cookie_key");
        ring = keyring_get(&why);   /* the current kid, or why not */
        v[7] = ring != NULL ? secretbox_current_kid(ring) : why;
        for (i = 0; i < FIELDS; i++)
            dprintf(fd[1], "%s\n", v[i] != NULL ? v[i] : "(null)");
        _exit(0);
    }
    close(fd[1]);
    while ((n = read(fd[0], buf + off, sizeof buf - 1 - off)) > 0)
        off += n;
    close(fd[0]);
    waitpid(pid, &status, 0);
    buf[off] = '\0';
    p = buf;
    for (i = 0; i < FIELDS; i++) {
        char *nl = strchr(p, '\n');
        size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);

        snprintf(got[i], 256, "%.*s", (int)len, p);
        p += len + (nl != NULL);
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static const char *field(char got[FIELDS][256], const char *name)
{
    int i;

    for (i = 0; i < FIELDS; i++)
        if (strcmp(names[i], name) == 0)
            return got[i];
    return "";
}

int main(void)
{
    char got[FIELDS][256];
    char var[600], secrets[600], fam[600], jwks[700];

    if (mkdtemp(dir) == NULL)
        return 2;
    mkdir(strcat(strcpy(secrets, dir), "/secrets"), 0700);
    mkdir(strcat(strcpy(fam, dir), "/secrets/share"), 0700);
    snprintf(var, sizeof var, "PROMPTD_VAR_DIR=%s", dir);
    spew("secrets/jwt_secret", "master-jwt-secret-0123456789abcdef0123456789\n");
    spew("secrets/pg_superuser_password", "SUPERUSER-PW\n");
    spew("secrets/app_db_password", "app-pw\n");
    spew("secrets/share/jwt_secret", "share-jwt-secret-0123456789abcdef0123456789\n");
    spew("secrets/share/share_cookie_key", "share-cookie\n");
    spew("secrets/share/app_database_url", "host=/x dbname=promptd user=promptd_app password=from-file\n");
    spew("secrets/share/openai_api_key", "sk-from-file\n");
    char famdir[700];
    snprintf(famdir, sizeof famdir, "PROMPTD_SECRETS_DIR=%s", fam);

    /* The site URL follows the stack's port. */
    {
        const char *env[] = {var, "PROMPTD_HTTP_PORT=18080", NULL};
        ok(load(env, got), "port 18080: loads");
        is_str(field(got, "site_url"), "http://127.0.0.1:18080", "site URL on port 18080");
    }
    {
        const char *env[] = {var, NULL};
        ok(load(env, got), "no port: loads");
        is_str(field(got, "site_url"), "http://127.0.0.1:8080", "site URL on 8080 by default");
    }
    {
        const char *env[] = {var, "PROMPTD_HTTP_PORT=18080",
                             "PROMPTD_SITE_URL=https://prompts.example.com", NULL};
        ok(load(env, got), "site URL set: loads");
        is_str(field(got, "site_url"), "https://prompts.example.com", "PROMPTD_SITE_URL wins");
    }
    {
        const char *env[] = {var, "PROMPTD_HTTP_PORT=80x", NULL};
        ok(!load(env, got), "a malformed port is refused");
    }

    /* A worker: the master files under VAR/secrets, the superuser's
     * password never read. */
    {
        const char *env[] = {var, NULL};
        ok(load(env, got), "worker on VAR/secrets: loads");
        is_str(field(got, "jwt_secret"), "master-jwt-secret-0123456789abcdef0123456789",
               "JWT secret from VAR/secrets");
        ok(strstr(field(got, "app_database_url"), "password='app-pw'") != NULL,
           "application URL with app_db_password");
        ok(strstr(field(got, "app_database_url"), "SUPERUSER") == NULL,
           "no superuser password in it");
        is_str(field(got, "database_url"), "(null)", "no admin URL in a worker");
    }

    /* A family's own directory: only what is in it. */
    {
        const char *env[] = {var, famdir, NULL};
        ok(load(env, got), "worker on its family directory: loads");
        is_str(field(got, "jwt_secret"), "share-jwt-secret-0123456789abcdef0123456789",
               "JWT secret from PROMPTD_SECRETS_DIR");
        is_str(field(got, "share_cookie_key"), "share-cookie", "cookie key from the file");
        is_str(field(got, "api_key_pepper"), "(null)", "no pepper where none was given");
        is_str(field(got, "app_database_url"),
               "host=/x dbname=promptd user=promptd_app password=from-file",
               "application URL from app_database_url");
        is_str(field(got, "openai_api_key"), "sk-from-file", "provider key through config_secret");
    }
    {
        const char *env[] = {var, famdir, "PROMPTD_OPENAI_API_KEY=sk-env",
                             "PROMPTD_JWT_SECRET=env-jwt-secret-0123456789abcdef0123456789", NULL};
        ok(load(env, got), "environment overrides: loads");
        is_str(field(got, "openai_api_key"), "sk-env", "PROMPTD_OPENAI_API_KEY overrides the file");
        is_str(field(got, "jwt_secret"), "env-jwt-secret-0123456789abcdef0123456789",
               "PROMPTD_JWT_SECRET overrides the file");
    }
    /* Under systemd: the unit's credentials (LoadCredential=), unless
     * PROMPTD_SECRETS_DIR names another directory. */
    {
        char creds[700];
        const char *env[] = {var, creds, NULL};

        snprintf(creds, sizeof creds, "CREDENTIALS_DIRECTORY=%s", fam);
        ok(load(env, got), "worker on CREDENTIALS_DIRECTORY: loads");
        is_str(field(got, "jwt_secret"), "share-jwt-secret-0123456789abcdef0123456789",
               "JWT secret from CREDENTIALS_DIRECTORY");
        is_str(field(got, "openai_api_key"), "sk-from-file",
               "provider key from CREDENTIALS_DIRECTORY");
    }
    {
        char creds[700];
        const char *env[] = {var, creds, famdir, NULL};

        snprintf(creds, sizeof creds, "CREDENTIALS_DIRECTORY=%s/secrets/missing", dir);
        ok(load(env, got), "PROMPTD_SECRETS_DIR and CREDENTIALS_DIRECTORY: loads");
        is_str(field(got, "jwt_secret"), "share-jwt-secret-0123456789abcdef0123456789",
               "PROMPTD_SECRETS_DIR wins over CREDENTIALS_DIRECTORY");
    }
    {
        char status_dir[700];
        const char *env[] = {var, status_dir, NULL};

        mkdir(strcat(strcpy(fam, dir), "/secrets/status"), 0700);
        snprintf(status_dir, sizeof status_dir, "PROMPTD_SECRETS_DIR=%s", fam);
        ok(load(env, got), "a family without a JWT secret (status) still starts");
        is_str(field(got, "jwt_secret"), "(null)", "  with none");
    }

    /* The secrets key ring: parsed at load from the environment or the
     * family's file; a malformed one does not stop the start, keyring_get
     * says why wherever a ring is needed. */
    {
        const char *env[] = {var, famdir, NULL};

        ok(load(env, got), "no ring: loads");
        is_str(field(got, "keyring"), "(null)", "  keyring_get: none, no reason");
        spew("secrets/share/secrets_keys",
             "k7:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n");
        ok(load(env, got), "a ring in the family's secrets_keys: loads");
        is_str(field(got, "keyring"), "k7", "  keyring_get: that ring");
    }
    {
        const char *env[] = {var, famdir, "PROMPTD_SECRETS_KEYS=k8:00", NULL};

        ok(load(env, got), "a malformed PROMPTD_SECRETS_KEYS does not stop the start");
        is_str(field(got, "keyring"), "a key must be 64 hexadecimal characters",
               "  keyring_get gives the reason");
    }

    /* A JWKS file it cannot read: refused at load, not at the first token. */
    {
        const char *env[] = {var, jwks, NULL};

        snprintf(jwks, sizeof jwks, "PROMPTD_JWKS=%s/missing/jwks.json", dir);
        ok(!load(env, got), "an unreadable PROMPTD_JWKS file refuses the start");
        snprintf(jwks, sizeof jwks, "PROMPTD_JWKS=%s/secrets/jwt_secret", dir);
        ok(load(env, got), "a readable one loads");
        snprintf(jwks, sizeof jwks, "PROMPTD_JWKS=https://example.com/jwks.json");
        ok(load(env, got), "a URL is not opened at load");
    }

    {
        char cmd[700];

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            diag("could not remove %s", dir);
    }
    return done_testing();
}
