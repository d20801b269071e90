/* config.c: PROMPTD_* environment and secret files, with the embedded defaults under var/. */
#include "core/config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <openssl/rand.h>

#include "core/str.h"
#include "crypto/hash.h"
#include "crypto/keyring.h"

#ifndef PROMPTD_DEFAULT_VAR_DIR
#define PROMPTD_DEFAULT_VAR_DIR "var"
#endif
#ifndef PROMPTD_DEFAULT_SQL_DIR
#define PROMPTD_DEFAULT_SQL_DIR "sql"
#endif
#ifndef PROMPTD_BUILD_DIR
#define PROMPTD_BUILD_DIR "."
#endif
#ifndef PROMPTD_INSTALL_SQL_DIR
#define PROMPTD_INSTALL_SQL_DIR "/usr/local/share/promptd/sql"
#endif

/* root's default state directory: where PostgreSQL and the service user
 * can reach it whatever the checkout's permissions (as promptd-stack). */
#define CONFIG_ROOT_VAR_DIR "/var/lib/promptd"

#define CONFIG_SECRET_MAX 4096      /* secret files are small; refuse more */
#define CONFIG_JWT_SECRET_MIN 32    /* RFC 7518 3.2: HS256 key >= 256 bits */

/* Secrets read or made so far, keyed by path; the values live as long as
 * the process (the "static string" of config.h) and stay reachable. */
typedef struct config_secret {
    struct config_secret *next;
    char *path;
    char *value;
} config_secret_t;

static config_secret_t *config_secrets;
static config_t config_current;
static bool config_loaded;
static bool config_created;     /* loaded by an operator tool (create_secrets) */

/* Secrets the operator tools generate when missing (32 random bytes, hex)
 * besides the JWT secret and the key ring: each module reads its own with
 * config_secret() at start. */
static const struct {
    const char *env, *name;
} config_generated_secrets[] = {
    {"PROMPTD_API_KEY_PEPPER", "api_key_pepper"},
    {"PROMPTD_SHARE_COOKIE_KEY", "share_cookie_key"},
    {"PROMPTD_STORAGE_SIGNING_KEY", "storage_signing_key"},
};

/* malloc or abort: configuration is loaded once at start-up. */
static char *config_xstrdup(const char *s)
{
    char *p = strdup(s);

    if (p == NULL) {
        fputs("promptd: out of memory\n", stderr);
        abort();
    }
    return p;
}

static char *config_xprintf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static char *config_xprintf(const char *fmt, ...)
{
    va_list ap;
    char *p;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&p, fmt, ap);
    va_end(ap);
    if (n < 0) {
        fputs("promptd: out of memory\n", stderr);
        abort();
    }
    return p;
}

const char *config_env(const char *name)
{
    const char *v = getenv(name);

    return v != NULL && *v != '\0' ? v : NULL;
}

bool config_env_int(const char *name, long dflt, long min, long max, long *out)
{
    const char *v = config_env(name);

    *out = dflt;
    if (v == NULL)
        return true;
    if (!str_to_long(v, min, max, out)) {
        fprintf(stderr, "promptd: %s must be an integer in %ld..%ld, not '%s'\n",
                name, min, max, v);
        return false;
    }
    return true;
}

/* A positive integer variable (the default is *out's value). */
static bool config_env_long(const char *name, long *out)
{
    return config_env_int(name, *out, 1, LONG_MAX, out);
}

static const char *config_secret_lookup(const char *path)
{
    config_secret_t *s;

    for (s = config_secrets; s != NULL; s = s->next)
        if (strcmp(s->path, path) == 0)
            return s->value;
    return NULL;
}

/* Remember value (taking ownership) under path; returns value. */
static char *config_secret_keep(const char *path, char *value)
{
    config_secret_t *s = calloc(1, sizeof *s);

    if (s == NULL) {
        fputs("promptd: out of memory\n", stderr);
        abort();
    }
    s->path = config_xstrdup(path);
    s->value = value;
    s->next = config_secrets;
    config_secrets = s;
    return value;
}

/* Read path (at most CONFIG_SECRET_MAX bytes, trailing CR/LF stripped)
 * into a malloc'd string.  NULL when absent or empty; *err set when the
 * file exists but cannot be read. */
static char *config_read_file(const char *path, bool *err)
{
    char buf[CONFIG_SECRET_MAX + 1];
    size_t n = 0;
    ssize_t r;
    int fd;

    *err = false;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT) {
            fprintf(stderr, "promptd: %s: %s\n", path, strerror(errno));
            *err = true;
        }
        return NULL;
    }
    while (n < sizeof buf && (r = read(fd, buf + n, sizeof buf - n)) != 0) {
        if (r < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "promptd: %s: %s\n", path, strerror(errno));
            *err = true;
            close(fd);
            return NULL;
        }
        n += (size_t)r;
    }
    close(fd);
    if (n > CONFIG_SECRET_MAX) {
        fprintf(stderr, "promptd: %s: longer than %d bytes\n", path,
                CONFIG_SECRET_MAX);
        *err = true;
        return NULL;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    if (n == 0 || memchr(buf, '\0', n) != NULL)
        return NULL;
    buf[n] = '\0';
    return config_xstrdup(buf);
}

/* <dir>/<name> as a secret (remembered by path); NULL when absent. */
static char *config_read_in(const char *dir, const char *name)
{
    char *path = config_xprintf("%s/%s", dir, name);
    const char *known = config_secret_lookup(path);
    char *value;
    bool err;

    if (known != NULL) {
        free(path);
        return (char *)known;
    }
    value = config_read_file(path, &err);
    if (value != NULL)
        config_secret_keep(path, value);
    free(path);
    return value;
}

char *config_read_secret(const char *var_dir, const char *name)
{
    char *dir = config_xprintf("%s/secrets", var_dir);
    char *value = config_read_in(dir, name);

    free(dir);
    return value;
}

/* PROMPTD_SQL_DIR's default.  A program run from the build tree reads the
 * source tree's sql/; an installed one the SQL installed beside it,
 * <exe>/../share/promptd/sql (bin/) or <exe>/../../share/promptd/sql
 * (libexec/promptd/), so a relocated or DESTDIR tree finds its own; else
 * $(pkgdatadir)/sql as configured.  The caller owns the returned string. */
static char *config_default_sql_dir(void)
{
    static const char *const rel[] = {"../share/promptd/sql", "../../share/promptd/sql"};
    char exe[PATH_MAX], *slash, *dir;
    struct stat st;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    size_t blen = strlen(PROMPTD_BUILD_DIR);

    if (n <= 0)
        return config_xstrdup(PROMPTD_INSTALL_SQL_DIR);
    exe[n] = '\0';
    if (strncmp(exe, PROMPTD_BUILD_DIR, blen) == 0 && exe[blen] == '/')
        return config_xstrdup(PROMPTD_DEFAULT_SQL_DIR);
    if ((slash = strrchr(exe, '/')) != NULL)
        *slash = '\0';
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        dir = config_xprintf("%s/%s", exe, rel[i]);
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
            return dir;
        free(dir);
    }
    return config_xstrdup(PROMPTD_INSTALL_SQL_DIR);
}

/* PROMPTD_VAR_DIR's default: /var/lib/promptd for root, else the build's. */
static const char *config_default_var_dir(void)
{
    return geteuid() == 0 ? CONFIG_ROOT_VAR_DIR : PROMPTD_DEFAULT_VAR_DIR;
}

/* The directory a process reads its secrets from: PROMPTD_SECRETS_DIR, else
 * the one systemd fills from the unit's LoadCredential= lines
 * (CREDENTIALS_DIRECTORY, one file per credential, named by its id), else
 * <var_dir>/secrets.  The caller owns the returned string. */
static char *config_secrets_dir_of(const char *var_dir)
{
    const char *v = config_env("PROMPTD_SECRETS_DIR");

    if (v == NULL)
        v = config_env("CREDENTIALS_DIRECTORY");
    return v != NULL ? config_xstrdup(v) : config_xprintf("%s/secrets", var_dir);
}

const char *config_secret(const char *env, const char *name)
{
    const char *v = config_env(env), *var;
    char *dir;

    if (v != NULL)
        return v;
    if (config_loaded && config_created)
        return config_read_secret(config_current.var_dir, name);
    if (config_loaded)
        return config_read_in(config_current.secrets_dir, name);
    var = config_env("PROMPTD_VAR_DIR");
    dir = config_secrets_dir_of(var != NULL ? var : config_default_var_dir());
    v = config_read_in(dir, name);
    free(dir);
    return v;
}

/* mkdir path with mode unless it exists as a directory. */
static bool config_mkdir(const char *path, mode_t mode)
{
    struct stat st;

    if (mkdir(path, mode) == 0)
        return true;
    if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return true;
    fprintf(stderr, "promptd: mkdir %s: %s\n", path, strerror(errno));
    return false;
}

/* Write data to a fresh private file and publish it as path with link(2),
 * which never replaces: when another process got there first, *raced is
 * set and its file stands. */
static bool config_publish(const char *path, const char *data, bool *raced)
{
    char *tmp = config_xprintf("%s.tmp.%ld", path, (long)getpid());
    size_t len = strlen(data), off = 0;
    bool ok = false;
    int fd;

    *raced = false;
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "promptd: %s: %s\n", tmp, strerror(errno));
        goto out;
    }
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            fprintf(stderr, "promptd: %s: %s\n", tmp, strerror(errno));
            goto fail;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0) {
        fprintf(stderr, "promptd: %s: %s\n", tmp, strerror(errno));
        goto fail;
    }
    if (link(tmp, path) != 0) {
        if (errno != EEXIST) {
            fprintf(stderr, "promptd: %s: %s\n", path, strerror(errno));
            goto fail;
        }
        *raced = true;
    }
    ok = true;
fail:
    close(fd);
    unlink(tmp);
out:
    free(tmp);
    return ok;
}

char *config_make_secret(const char *var_dir, const char *name, int nbytes)
{
    unsigned char raw[CONFIG_SECRET_MAX / 2];
    char text[CONFIG_SECRET_MAX + 2];
    char *dir = NULL, *path = NULL, *value = NULL;
    bool raced;

    if ((value = config_read_secret(var_dir, name)) != NULL)
        return value;
    if (nbytes <= 0 || (size_t)nbytes > sizeof raw) {
        fprintf(stderr, "promptd: secret %s: bad length %d\n", name, nbytes);
        return NULL;
    }
    dir = config_xprintf("%s/secrets", var_dir);
    path = config_xprintf("%s/%s", dir, name);
    if (!config_mkdir(var_dir, 0755) || !config_mkdir(dir, 0700))
        goto out;
    if (RAND_bytes(raw, nbytes) != 1) {
        fprintf(stderr, "promptd: RAND_bytes failed\n");
        goto out;
    }
    hash_hex(raw, (size_t)nbytes, text);
    text[2 * nbytes] = '\n';
    text[2 * nbytes + 1] = '\0';
    OPENSSL_cleanse(raw, sizeof raw);
    if (!config_publish(path, text, &raced))
        goto out;
    if (raced) {
        value = config_read_secret(var_dir, name);
    } else {
        text[2 * nbytes] = '\0';
        value = config_secret_keep(path, config_xstrdup(text));
    }
    OPENSSL_cleanse(text, sizeof text);
out:
    free(dir);
    free(path);
    return value;
}

/* Append " key='value'" to a malloc'd conninfo string (libpq quoting:
 * backslash before ' and \). */
static char *config_conninfo_add(char *ci, const char *key, const char *value)
{
    size_t len = ci != NULL ? strlen(ci) : 0;
    size_t need = len + strlen(key) + 2 * strlen(value) + 5;
    char *p = realloc(ci, need), *w;

    if (p == NULL) {
        fputs("promptd: out of memory\n", stderr);
        abort();
    }
    w = p + len;
    if (len > 0)
        *w++ = ' ';
    w += sprintf(w, "%s='", key);
    for (; *value != '\0'; value++) {
        if (*value == '\'' || *value == '\\')
            *w++ = '\\';
        *w++ = *value;
    }
    *w++ = '\'';
    *w = '\0';
    return p;
}

/* The embedded cluster's admin conninfo; with_password: with the
 * superuser's password (the operator tools; workers cannot read it). */
static char *config_embedded_url(const char *var_dir, bool with_password)
{
    const char *port = config_env("PROMPTD_PG_PORT");
    const char *password = with_password
        ? config_read_secret(var_dir, "pg_superuser_password") : NULL;
    char *host = config_xprintf("%s/run", var_dir);
    char *ci = NULL;

    ci = config_conninfo_add(ci, "host", host);
    ci = config_conninfo_add(ci, "port", port != NULL ? port : "5432");
    ci = config_conninfo_add(ci, "dbname", "promptd");
    ci = config_conninfo_add(ci, "user", "postgres");
    if (password != NULL)
        ci = config_conninfo_add(ci, "password", password);
    free(host);
    return ci;
}

/* admin_url (URI or key=value) with user=promptd_app and password
 * replaced; every other option (host, port, dbname, sslmode, ...) kept.
 * NULL, with the reason printed, when admin_url does not parse. */
static char *config_derive_app_url(const char *admin_url, const char *password)
{
    PQconninfoOption *opts, *o;
    char *err = NULL, *ci = NULL;

    opts = PQconninfoParse(admin_url, &err);
    if (opts == NULL) {
        fprintf(stderr, "promptd: PROMPTD_DATABASE_URL: %s",
                err != NULL ? err : "out of memory\n");
        PQfreemem(err);
        return NULL;
    }
    for (o = opts; o->keyword != NULL; o++) {
        if (o->val == NULL || strcmp(o->keyword, "user") == 0 ||
            strcmp(o->keyword, "password") == 0 ||
            strcmp(o->keyword, "passfile") == 0)
            continue;
        ci = config_conninfo_add(ci, o->keyword, o->val);
    }
    PQconninfoFree(opts);
    ci = config_conninfo_add(ci, "user", "promptd_app");
    if (password != NULL)
        ci = config_conninfo_add(ci, "password", password);
    return ci;
}

/* The HS256 secret from the environment or the secrets directory.  A
 * worker may have none (the status family): it then refuses every HS256
 * token.  *ok false when the configuration is unusable. */
static const char *config_jwt_secret(const config_t *c, bool create, bool *ok)
{
    const char *s = config_env("PROMPTD_JWT_SECRET");

    *ok = true;
    if (s == NULL)
        s = create ? config_make_secret(c->var_dir, "jwt_secret", 32)
                   : config_read_in(c->secrets_dir, "jwt_secret");
    if (s == NULL && !create)
        return NULL;
    *ok = false;
    if (s == NULL) {
        fprintf(stderr, "promptd: no JWT secret: set PROMPTD_JWT_SECRET "
                "or create %s/secrets/jwt_secret (promptctl env)\n", c->var_dir);
        return NULL;
    }
    if (strlen(s) < CONFIG_JWT_SECRET_MIN) {
        fprintf(stderr, "promptd: the JWT secret must be at least %d bytes\n",
                CONFIG_JWT_SECRET_MIN);
        return NULL;
    }
    *ok = true;
    return s;
}

/* The operator tools make every generated secret the environment does not
 * give under var/secrets when missing; one that cannot be made (reason
 * printed) stays unset, and its module then does without. */
static void config_generate(const config_t *c)
{
    size_t i;

    for (i = 0; i < sizeof config_generated_secrets / sizeof config_generated_secrets[0]; i++)
        if (config_env(config_generated_secrets[i].env) == NULL)
            config_make_secret(c->var_dir, config_generated_secrets[i].name, 32);
}

/* The secrets-at-rest key ring: PROMPTD_SECRETS_KEYS, else the secrets
 * directory's secrets_keys; with create, one generated key "k1:<64 hex>"
 * kept in var/secrets/secrets_keys. */
static const char *config_secrets_keys(const config_t *c, bool create)
{
    const char *s = config_env("PROMPTD_SECRETS_KEYS");
    const char *var_dir = c->var_dir;
    char *path, *ring;
    const char *key;
    FILE *fp;

    if (s != NULL)
        return s;
    if (!create)
        return config_read_in(c->secrets_dir, "secrets_keys");
    if ((s = config_read_secret(var_dir, "secrets_keys")) != NULL)
        return s;
    if ((key = config_make_secret(var_dir, "secrets_key_k1", 32)) == NULL)
        return NULL;
    ring = config_xprintf("k1:%s", key);
    path = config_xprintf("%s/secrets/secrets_keys", var_dir);
    fp = fopen(path, "wx");
    if (fp != NULL) {
        fchmod(fileno(fp), 0600);
        fprintf(fp, "%s\n", ring);
        fclose(fp);
    }
    free(path);
    free(ring);
    return config_read_secret(var_dir, "secrets_keys");
}

/* The admin and application conninfos.  A worker (no create) never sees
 * the admin one: its application URL comes from PROMPTD_APP_DATABASE_URL,
 * the secrets directory's app_database_url, or the embedded cluster with
 * app_db_password.  The direct one (PROMPTD_DIRECT_DATABASE_URL or the
 * secrets directory's direct_database_url) defaults to the application
 * one. */
static bool config_database(config_t *c, bool create)
{
    const char *v = config_env("PROMPTD_DATABASE_URL");
    const char *pw;

    if (v != NULL)
        c->database_url = config_xstrdup(v);
    else if (create)
        c->database_url = config_embedded_url(c->var_dir, true);
    if ((v = config_env("PROMPTD_DIRECT_DATABASE_URL")) != NULL ||
        (!create && (v = config_read_in(c->secrets_dir, "direct_database_url")) != NULL))
        c->direct_database_url = config_xstrdup(v);
    if ((v = config_env("PROMPTD_APP_DATABASE_URL")) != NULL ||
        (!create && (v = config_read_in(c->secrets_dir, "app_database_url")) != NULL)) {
        c->app_database_url = config_xstrdup(v);
        goto out;
    }
    pw = create ? config_read_secret(c->var_dir, "app_db_password")
                : config_read_in(c->secrets_dir, "app_db_password");
    if (c->database_url != NULL) {
        c->app_database_url = config_derive_app_url(c->database_url, pw);
    } else {
        char *embedded = config_embedded_url(c->var_dir, false);

        c->app_database_url = config_derive_app_url(embedded, pw);
        free(embedded);
    }
out:
    if (c->direct_database_url == NULL && c->app_database_url != NULL)
        c->direct_database_url = config_xstrdup(c->app_database_url);
    return c->app_database_url != NULL;
}

/* PROMPTD_SITE_URL, else http://127.0.0.1:<PROMPTD_HTTP_PORT, 8080>: the
 * links we hand out point at the port the stack listens on. */
static bool config_site_url(config_t *c)
{
    const char *v = config_env("PROMPTD_SITE_URL");
    long port;

    if (v != NULL) {
        c->site_url = config_xstrdup(v);
        return true;
    }
    if (!config_env_int("PROMPTD_HTTP_PORT", 8080, 1, 65535, &port))
        return false;
    c->site_url = config_xprintf("http://127.0.0.1:%ld", port);
    return true;
}

/* PROMPTD_JWKS as a file: it must be readable now, or the process refuses
 * to start (else every ES256/RS256 token would fail later, silently). */
static bool config_jwks_readable(const char *jwks)
{
    int fd;

    if (jwks == NULL || strncasecmp(jwks, "http://", 7) == 0 ||
        strncasecmp(jwks, "https://", 8) == 0)
        return true;
    if ((fd = open(jwks, O_RDONLY | O_CLOEXEC)) < 0) {
        fprintf(stderr, "promptd: PROMPTD_JWKS %s: %s; the process refuses "
                "to start\n", jwks, strerror(errno));
        return false;
    }
    close(fd);
    return true;
}

/* PROMPTD_DB_STATEMENTS: read by db/db.c (db_statements_unnamed); a typo
 * must stop the process here rather than silently mean "prepared". */
static bool config_db_statements(void)
{
    const char *v = config_env("PROMPTD_DB_STATEMENTS");

    if (v == NULL || strcmp(v, "prepared") == 0 || strcmp(v, "unnamed") == 0)
        return true;
    fprintf(stderr, "promptd: PROMPTD_DB_STATEMENTS must be prepared or unnamed (got '%s')\n", v);
    return false;
}

const config_t *config_load(bool create_secrets)
{
    config_t c = {0};
    const char *v;
    bool ok;

    if (config_loaded)
        return &config_current;
    v = config_env("PROMPTD_VAR_DIR");
    c.var_dir = config_xstrdup(v != NULL ? v : config_default_var_dir());
    v = config_env("PROMPTD_SQL_DIR");
    c.sql_dir = v != NULL ? config_xstrdup(v) : config_default_sql_dir();
    c.secrets_dir = config_secrets_dir_of(c.var_dir);
    if (!config_database(&c, create_secrets) || !config_db_statements())
        goto fail;

    c.jwt_secret = config_jwt_secret(&c, create_secrets, &ok);
    if (!ok)
        goto fail;
    v = config_env("PROMPTD_JWT_AUDIENCE");
    c.jwt_audience = config_xstrdup(v != NULL ? v : "authenticated");
    c.jwt_ttl = 3600;
    c.max_body = 262144;
    if (!config_env_long("PROMPTD_JWT_TTL", &c.jwt_ttl) ||
        !config_env_long("PROMPTD_MAX_BODY", &c.max_body) || !config_site_url(&c))
        goto fail;
    v = config_env("PROMPTD_JWT_ISSUER");
    c.jwt_issuer = v != NULL ? config_xstrdup(v)
                             : config_xprintf("%s/auth/v1", c.site_url);
    v = config_env("PROMPTD_ANON_KEY");
    c.anon_key = v != NULL ? config_xstrdup(v) : NULL;
    v = config_env("PROMPTD_JWKS");
    c.jwks = v != NULL ? config_xstrdup(v) : NULL;
    if (!config_jwks_readable(c.jwks))
        goto fail;
    if (create_secrets)
        config_generate(&c);
    /* A malformed ring is not fatal here: whoever needs it reports why. */
    keyring_init(config_secrets_keys(&c, create_secrets), NULL);

    config_current = c;
    config_created = create_secrets;
    config_loaded = true;
    return &config_current;
fail:
    free((char *)c.var_dir);
    free((char *)c.sql_dir);
    free((char *)c.secrets_dir);
    free((char *)c.database_url);
    free((char *)c.app_database_url);
    free((char *)c.direct_database_url);
    free((char *)c.jwt_audience);
    free((char *)c.site_url);
    free((char *)c.jwks);
    free((char *)c.jwt_issuer);
    free((char *)c.anon_key);
    return NULL;
}
