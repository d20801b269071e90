/* migrate.c: apply sql/NNNN_*.sql once each, then re-apply sql/functions/<subject>.sql, under an advisory lock. */
#include "cmd/migrate.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include "core/arena.h"
#include "crypto/hash.h"

#define MIGRATE_MAX_FILE (16L * 1024 * 1024)

/* One migration file.  Strings live in the run's arena. */
typedef struct migrate_file {
    const char *file;      /* "0002_profiles.sql" */
    const char *version;   /* "0002": the text before the first '_' */
    const char *name;      /* "profiles" */
    char *sql;             /* whole content, NUL-terminated */
    size_t len;
    char checksum[HASH_SHA256_HEX]; /* SHA-256, lower-case hex */
} migrate_file_t;

static const char migrate_table_sql[] =
    "create table if not exists public.schema_migrations ("
    " version text primary key,"
    " name text not null,"
    " checksum text not null,"
    " applied_at timestamptz not null default now());"
    "alter table public.schema_migrations enable row level security;"
    "alter table public.schema_migrations force row level security;"
    "revoke all on table public.schema_migrations from public;"
    "do $$ declare r text; begin"
    " foreach r in array array['anon', 'authenticated', 'service_role'] loop"
    "  if exists (select 1 from pg_catalog.pg_roles where rolname = r) then"
    "   execute format('revoke all on table public.schema_migrations from %I', r);"
    "  end if;"
    " end loop; end $$";

/* Print a failed result's message with its detail, hint, context and, when
 * sql is the statement text, the line the error points at. */
static void migrate_report(const char *what, const PGresult *res,
                           PGconn *conn, const char *sql)
{
    const char *msg, *field;

    msg = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (msg == NULL) {
        fprintf(stderr, "promptctl: %s: %s", what, PQerrorMessage(conn));
        return;
    }
    fprintf(stderr, "promptctl: %s: %s", what, msg);
    field = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
    if (sql != NULL && field != NULL) {
        long pos = strtol(field, NULL, 10), chars = 0, line = 1;
        const unsigned char *p;

        /* the position counts characters (UTF-8 here), from 1 */
        for (p = (const unsigned char *)sql; *p != '\0' && chars < pos - 1; p++) {
            if ((*p & 0xC0) != 0x80)
                chars++;
            if (*p == '\n')
                line++;
        }
        fprintf(stderr, " (line %ld)", line);
    }
    fputc('\n', stderr);
    if ((field = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL)) != NULL)
        fprintf(stderr, "promptctl:   detail: %s\n", field);
    if ((field = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT)) != NULL)
        fprintf(stderr, "promptctl:   hint: %s\n", field);
    if ((field = PQresultErrorField(res, PG_DIAG_CONTEXT)) != NULL)
        fprintf(stderr, "promptctl:   context: %s\n", field);
}

/* Run sql (one or more statements) expecting success; false is reported. */
static bool migrate_exec(PGconn *conn, const char *sql, const char *what)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

    if (!ok)
        migrate_report(what, res, conn, sql);
    PQclear(res);
    return ok;
}

static int migrate_select_sql(const struct dirent *d)
{
    size_t n = strlen(d->d_name);

    return d->d_name[0] != '.' && n > 4 && strcmp(d->d_name + n - 4, ".sql") == 0;
}

/* Byte order, whatever the locale. */
static int migrate_by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Read path into f->sql and compute its checksum. */
static bool migrate_read(arena_t *a, const char *path, migrate_file_t *f)
{
    bool ok = false;
    FILE *fp;
    long size;

    if ((fp = fopen(path, "rb")) == NULL) {
        fprintf(stderr, "promptctl: %s: %s\n", path, strerror(errno));
        return false;
    }
    if (fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) < 0 ||
        fseek(fp, 0, SEEK_SET) != 0) {
        fprintf(stderr, "promptctl: %s: %s\n", path, strerror(errno));
        goto out;
    }
    if (size > MIGRATE_MAX_FILE) {
        fprintf(stderr, "promptctl: %s: larger than %ld bytes\n", path,
                MIGRATE_MAX_FILE);
        goto out;
    }
    f->sql = arena_alloc(a, (size_t)size + 1);
    f->len = fread(f->sql, 1, (size_t)size, fp);
    if (f->len != (size_t)size || ferror(fp)) {
        fprintf(stderr, "promptctl: %s: short read\n", path);
        goto out;
    }
    f->sql[f->len] = '\0';
    if (memchr(f->sql, '\0', f->len) != NULL) {
        fprintf(stderr, "promptctl: %s: contains a NUL byte\n", path);
        goto out;
    }
    hash_sha256_hex(f->sql, f->len, f->checksum);
    ok = true;
out:
    fclose(fp);
    return ok;
}

/* Load every "DIR/NNNN_name.sql", sorted by name, into a new arena array *out. */
static bool migrate_list(arena_t *a, const char *dir, migrate_file_t **out,
                         size_t *count)
{
    struct dirent **names = NULL;
    migrate_file_t *files;
    bool ok = false;
    int n, i;

    n = scandir(dir, &names, migrate_select_sql, migrate_by_name);
    if (n < 0) {
        fprintf(stderr, "promptctl: %s: %s\n", dir, strerror(errno));
        return false;
    }
    files = arena_zalloc(a, sizeof *files * (size_t)(n > 0 ? n : 1));
    for (i = 0; i < n; i++) {
        migrate_file_t *f = &files[i];
        const char *d = names[i]->d_name, *us = strchr(d, '_');
        size_t stem = strlen(d) - 4;

        f->file = arena_strdup(a, d);
        f->version = arena_strndup(a, d, us != NULL ? (size_t)(us - d) : stem);
        f->name = us != NULL ? arena_strndup(a, us + 1, stem - (size_t)(us + 1 - d))
                             : f->version;
        if (i > 0 && strcmp(f->version, files[i - 1].version) == 0) {
            fprintf(stderr, "promptctl: %s and %s share version %s\n",
                    files[i - 1].file, f->file, f->version);
            goto out;
        }
        if (!migrate_read(a, arena_printf(a, "%s/%s", dir, d), f))
            goto out;
    }
    *out = files;
    *count = (size_t)n;
    ok = true;
out:
    for (i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return ok;
}

/* Mark in applied[] the files already in schema_migrations; false (with a
 * message) when one of them changed since it was applied. */
static bool migrate_check(PGconn *conn, const migrate_file_t *files,
                          size_t n, bool *applied)
{
    PGresult *res;
    bool ok = true;
    int row;
    size_t i;

    res = PQexec(conn, "select version, checksum from public.schema_migrations");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        migrate_report("reading schema_migrations", res, conn, NULL);
        PQclear(res);
        return false;
    }
    for (row = 0; row < PQntuples(res); row++) {
        const char *version = PQgetvalue(res, row, 0);
        const char *sum = PQgetvalue(res, row, 1);

        for (i = 0; i < n; i++) {
            if (strcmp(files[i].version, version) != 0)
                continue;
            applied[i] = true;
            if (strcmp(files[i].checksum, sum) != 0) {
                fprintf(stderr, "promptctl: migration %s was changed after it "
                        "was applied (checksum %s in the database, %s on disk); "
                        "add a new migration instead of editing it\n",
                        files[i].file, sum, files[i].checksum);
                ok = false;
            }
        }
    }
    PQclear(res);
    return ok;
}

/* Apply one file in its own transaction and record it. */
static bool migrate_apply(PGconn *conn, const migrate_file_t *f)
{
    const char *params[3] = { f->version, f->name, f->checksum };
    char what[512];
    PGresult *res;

    if (!migrate_exec(conn, "begin", "begin"))
        return false;
    snprintf(what, sizeof what, "migration %s failed", f->file);
    if (!migrate_exec(conn, f->sql, what))
        goto fail;
    res = PQexecParams(conn,
        "insert into public.schema_migrations (version, name, checksum) "
        "values ($1, $2, $3)", 3, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        migrate_report("recording migration", res, conn, NULL);
        PQclear(res);
        goto fail;
    }
    PQclear(res);
    if (!migrate_exec(conn, "commit", "commit"))
        return false;
    printf("applied %s\n", f->file);
    fflush(stdout);
    return true;
fail:
    PQclear(PQexec(conn, "rollback"));
    return false;
}

/* Re-apply every DIR/functions/<subject>.sql, in name order, in one transaction:
 * the current definitions of the functions, views and policies, written
 * to be run again (CREATE OR REPLACE, DROP POLICY IF EXISTS, REVOKE/GRANT).
 * Quiet when it succeeds: nothing is recorded, as nothing is new. */
static bool migrate_functions(arena_t *a, PGconn *conn, const char *dir)
{
    migrate_file_t *files = NULL;
    const char *fdir = arena_printf(a, "%s/functions", dir);
    size_t n = 0, i;

    if (!migrate_list(a, fdir, &files, &n) ||
        !migrate_exec(conn, "begin", "begin"))
        return false;
    for (i = 0; i < n; i++)
        if (!migrate_exec(conn, files[i].sql,
                          arena_printf(a, "functions/%s failed", files[i].file)))
            goto fail;
    if (!migrate_exec(conn, "commit", "commit"))
        return false;
    return true;
fail:
    PQclear(PQexec(conn, "rollback"));
    return false;
}

bool migrate_app_password(PGconn *conn, const config_t *cfg)
{
    char *secret, *hash = NULL, *lit = NULL, *sql = NULL;
    bool ok = false;

    if ((secret = config_make_secret(cfg->var_dir, "app_db_password", 32)) == NULL)
        return false;
    if ((hash = PQencryptPasswordConn(conn, secret, "promptd_app", NULL)) == NULL ||
        (lit = PQescapeLiteral(conn, hash, strlen(hash))) == NULL) {
        fprintf(stderr, "promptctl: promptd_app password: %s", PQerrorMessage(conn));
        goto out;
    }
    if (asprintf(&sql, "alter role promptd_app login password %s", lit) < 0) {
        sql = NULL;
        goto out;
    }
    ok = migrate_exec(conn, sql, "setting the promptd_app password");
out:
    free(sql);
    PQfreemem(lit);
    PQfreemem(hash);
    return ok;
}

int migrate_run(const config_t *cfg)
{
    arena_t *a = arena_create(64 * 1024);
    migrate_file_t *files = NULL;
    PGconn *conn = NULL;
    bool *applied, locked = false;
    const char *app_url;
    char lock_sql[64];
    size_t n = 0, i;
    int rc = 1;

    if (!migrate_list(a, cfg->sql_dir, &files, &n))
        goto out;
    applied = arena_zalloc(a, sizeof *applied * (n > 0 ? n : 1));
    conn = PQconnectdb(cfg->database_url);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "promptctl: connecting to the database: %s",
                PQerrorMessage(conn));
        goto out;
    }
    if (!migrate_exec(conn, "set client_min_messages = warning;"
                            "set statement_timeout = 0", "session setup"))
        goto out;
    snprintf(lock_sql, sizeof lock_sql, "select pg_advisory_lock(%lld)",
             MIGRATE_LOCK_KEY);
    if (!migrate_exec(conn, lock_sql, "taking the migration lock"))
        goto out;
    locked = true;
    if (!migrate_exec(conn, migrate_table_sql, "creating schema_migrations") ||
        !migrate_check(conn, files, n, applied))
        goto out;
    for (i = 0; i < n; i++)
        if (!applied[i] && !migrate_apply(conn, &files[i]))
            goto out;
    if (!migrate_functions(a, conn, cfg->sql_dir))
        goto out;
    app_url = getenv("PROMPTD_APP_DATABASE_URL");
    if (app_url == NULL || *app_url == '\0')
        if (!migrate_app_password(conn, cfg))
            goto out;
    rc = 0;
out:
    if (locked) {
        snprintf(lock_sql, sizeof lock_sql, "select pg_advisory_unlock(%lld)",
                 MIGRATE_LOCK_KEY);
        PQclear(PQexec(conn, lock_sql));
    }
    PQfinish(conn);
    arena_destroy(a);
    return rc;
}

static int migrate_command(const config_t *cfg, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return migrate_run(cfg);
}

const ctl_cmd_t migrate_cmd = {
    "migrate", "migrate", "too many arguments", 0, 0, NULL, migrate_command
};
