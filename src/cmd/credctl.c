/* credctl.c: promptctl credstore DIR: the secrets as systemd credentials for deploy/systemd's units. */
#include "cmd/credctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"

/* Every credential a unit loads (README "Processes and secrets"), by the
 * variable that overrides its file; required ones stop the command when
 * missing.  Single sign-on client secrets are per provider: the operator
 * adds those. */
static const struct {
    const char *env, *name;
    bool required;
} credctl_secrets[] = {
    {"PROMPTD_JWT_SECRET", "jwt_secret", true},
    {"PROMPTD_API_KEY_PEPPER", "api_key_pepper", true},
    {"PROMPTD_SECRETS_KEYS", "secrets_keys", true},
    {"PROMPTD_SHARE_COOKIE_KEY", "share_cookie_key", true},
    {"PROMPTD_STORAGE_SIGNING_KEY", "storage_signing_key", true},
    {"PROMPTD_OPENAI_API_KEY", "openai_api_key", false},
    {"PROMPTD_ANTHROPIC_API_KEY", "anthropic_api_key", false},
    {"PROMPTD_STRIPE_SECRET_KEY", "stripe_secret_key", false},
    {"PROMPTD_STRIPE_WEBHOOK_SECRET", "stripe_webhook_secret", false},
    {"PROMPTD_SMTP_USERNAME", "smtp_username", false},
    {"PROMPTD_SMTP_PASSWORD", "smtp_password", false},
    {"PROMPTD_METRICS_TOKEN", "metrics_token", false},
};

/* dir/promptd.<name> := value, 0600, through a temporary file renamed over
 * it; false, reported, on failure (the temporary removed). */
static bool credctl_write(const char *dir, const char *name, const char *value)
{
    char path[4096], tmp[4096];
    size_t len = strlen(value);
    bool ok = false;
    int fd;

    if ((size_t)snprintf(path, sizeof path, "%s/promptd.%s", dir, name) >= sizeof path ||
        (size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
        fprintf(stderr, "promptctl: credstore: path too long\n");
        return false;
    }
    unlink(tmp);
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
        fprintf(stderr, "promptctl: credstore: %s: %s\n", tmp, strerror(errno));
        return false;
    }
    if (write(fd, value, len) == (ssize_t)len && write(fd, "\n", 1) == 1 &&
        fsync(fd) == 0 && close(fd) == 0) {
        fd = -1;
        ok = rename(tmp, path) == 0;
    }
    if (!ok) {
        fprintf(stderr, "promptctl: credstore: %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        unlink(tmp);
        return false;
    }
    printf("%s\n", path);
    return true;
}

/* promptctl credstore DIR */
static int credctl_exec(const config_t *cfg, int argc, char **argv)
{
    const char *dir = argv[0], *v;
    struct stat st;
    size_t i;

    (void)argc;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "promptctl: credstore: %s is not a directory\n", dir);
        return 1;
    }
    if (cfg->app_database_url == NULL) {
        fprintf(stderr, "promptctl: credstore: no application database URL "
                "(PROMPTD_APP_DATABASE_URL; run promptctl migrate first)\n");
        return 1;
    }
    if (!credctl_write(dir, "app_database_url", cfg->app_database_url))
        return 1;
    for (i = 0; i < sizeof credctl_secrets / sizeof credctl_secrets[0]; i++) {
        v = config_secret(credctl_secrets[i].env, credctl_secrets[i].name);
        if (v == NULL && credctl_secrets[i].required) {
            fprintf(stderr, "promptctl: credstore: %s is not set (%s or the file "
                    "var/secrets/%s)\n", credctl_secrets[i].name, credctl_secrets[i].env,
                    credctl_secrets[i].name);
            return 1;
        }
        if (v != NULL && !credctl_write(dir, credctl_secrets[i].name, v))
            return 1;
    }
    return 0;
}

const ctl_cmd_t credctl_cmd = {
    "credstore", "credstore DIR  (the secrets as systemd credentials: DIR/promptd.<name>)",
    "expected: credstore DIR", 1, 1, NULL, credctl_exec
};
