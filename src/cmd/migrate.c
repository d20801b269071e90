/* migrate.c: apply sql/NNNN_*.sql once each, then sql/functions/<subject>.sql when changed, under an advisory lock, giving way to live requests. */
#include "cmd/migrate.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include "core/arena.h"
#include "core/clock.h"
#include "core/config.h"
#include "crypto/hash.h"

#define MIGRATE_MAX_FILE (16L * 1024 * 1024)
/* One attempt's wait for a lock (lock_timeout).  Under PostgreSQL's
 * default deadlock_timeout (1 s), so that in a lock cycle with a request
 * the migration gives up first and the request goes on. */
#define MIGRATE_LOCK_TIMEOUT "100ms"
#define MIGRATE_LOCK_WAIT 120          /* PROMPTD_MIGRATE_LOCK_WAIT: s of attempts */
#define MIGRATE_LOCK_WAIT_MAX 86400
#define MIGRATE_PAUSE_MS 100          /* between attempts: clock_backoff_ms(100, 250) */
#define MIGRATE_PAUSE_MAX_MS 250

/* One migration file.  Strings live in the run's arena. */
typedef struct migrate_file {
    const char *file;      /* "0002_profiles.sql" */
    const char *version;   /* "0002": the text before the first '_' */
    const char *name;      /* "profiles" */
    char *sql;             /* whole content, NUL-terminated */
    size_t len;
    char checksum[HASH_SHA256_HEX]; /* SHA-256, lower-case hex */
} migrate_file_t;

/* The bookkeeping tables, made (with row level security, and no grant to
 * the request roles) when missing; nothing is locked when they exist. */
static const char migrate_table_sql[] =
    "do $$ declare r text; t text; begin"
    " foreach t in array array['schema_migrations', 'schema_functions'] loop"
    "  continue when pg_catalog.to_regclass('public.' || t) is not null;"
    "  if t = 'schema_migrations' then"
    "   create table public.schema_migrations ("
    "    version text primary key,"
    "    name text not null,"
    "    checksum text not null,"
    "    applied_at timestamptz not null default now());"
    "  else" /* the checksum of the sql/functions files last applied */
    "   create table public.schema_functions ("
    "    id boolean primary key default true check (id),"
    "    checksum text not null,"
    "    applied_at timestamptz not null default now());"
    "  end if;"
    "  execute format('alter table public.%I enable row level security', t);"
    "  execute format('alter table public.%I force row level security', t);"
    "  execute format('revoke all on table public.%I from public', t);"
    "  foreach r in array array['anon', 'authenticated', 'service_role'] loop"
    "   if exists (select 1 from pg_catalog.pg_roles where rolname = r) then"
    "    execute format('revoke all on table public.%I from %I', t, r);"
    "   end if;"
    "  end loop;"
    " end loop; end $$";

/* Every table and view of the schemas promptd's SQL defines or extends
 * that this role may lock, in one statement, ACCESS EXCLUSIVE: what a
 * migration could need, taken before it changes anything. */
static const char migrate_lock_sql[] =
    "do $$ declare t text; begin"
    " select string_agg(format('%I.%I', n.nspname, c.relname), ', ' order by c.oid) into t"
    "  from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace"
    " where c.relkind in ('r', 'p', 'v', 'm') and not c.relispartition"
    "   and n.nspname in ('public', 'promptd', 'auth', 'storage')"
    "   and pg_catalog.has_table_privilege(c.oid, 'UPDATE, DELETE, TRUNCATE');"
    " if t is not null then"
    "  execute 'lock table ' || t || ' in access exclusive mode';"
    " end if; end $$";

/* The SQLSTATE of the last failed migrate_exec ("" after a success), and
 * whether migrate_tx is running an attempt (which reports a retryable
 * failure itself). */
static char migrate_state[6];
static bool migrate_attempting;

/* A failure that says nothing of the migration: a lock not free within
 * lock_timeout, a deadlock, a serialization failure.  Worth another try. */
static bool migrate_retryable(void)
{
    return strcmp(migrate_state, "55P03") == 0 || strcmp(migrate_state, "40P01") == 0 ||
           strcmp(migrate_state, "40001") == 0;
}

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

/* Run sql (one or more statements; one with nparams > 0) expecting
 * success; false is reported (in an attempt of migrate_tx, unless
 * migrate_retryable(): migrate_tx says what it does then). */
static bool migrate_exec_params(PGconn *conn, const char *sql, int nparams,
                                const char *const *params, const char *what)
{
    PGresult *res = nparams > 0 ? PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0)
                                : PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    const char *state = ok ? "" : PQresultErrorField(res, PG_DIAG_SQLSTATE);

    snprintf(migrate_state, sizeof migrate_state, "%s", state != NULL ? state : "");
    if (!ok && !(migrate_attempting && migrate_retryable()))
        migrate_report(what, res, conn, sql);
    PQclear(res);
    return ok;
}

static bool migrate_exec(PGconn *conn, const char *sql, const char *what)
{
    return migrate_exec_params(conn, sql, 0, NULL, what);
}

/* A transaction's work, run by migrate_tx after BEGIN and the locks. */
typedef bool (*migrate_body_t)(PGconn *conn, const void *ctx);

/* Run body in one transaction that first takes every lock it could need
 * (migrate_lock_sql, waiting at most MIGRATE_LOCK_TIMEOUT), so that it
 * never waits on a live request halfway through, holding locks the request
 * then waits for.  When the locks are not free, or a deadlock or
 * serialization failure ends it anyway, it is rolled back and tried again
 * after a short jittered pause (50-100 ms, growing to 125-250 ms: the
 * locks it waited for are held for milliseconds; what fails an attempt is
 * mostly a request that holds one table and waits for another the attempt
 * had taken), for up to wait_s seconds.
 * Requests wait for it at most MIGRATE_LOCK_TIMEOUT per attempt, and for
 * the transaction's length once it holds the locks. */
static bool migrate_tx(PGconn *conn, const char *what, migrate_body_t body,
                       const void *ctx, long wait_s)
{
    double start = clock_now(), deadline = start + (double)wait_s;

    for (int attempt = 1;; attempt++) {
        long pause_ms = clock_backoff_ms(MIGRATE_PAUSE_MS, MIGRATE_PAUSE_MAX_MS, attempt);
        bool done;

        migrate_attempting = true;
        done = migrate_exec(conn, "begin", "begin") &&
               migrate_exec(conn, migrate_lock_sql, "locking the schema") &&
               body(conn, ctx) && migrate_exec(conn, "commit", "commit");
        migrate_attempting = false;
        if (done) {
            if (attempt > 1)
                fprintf(stderr, "promptctl: %s: done at attempt %d, after %.1f s\n",
                        what, attempt, clock_now() - start);
            return true;
        }
        PQclear(PQexec(conn, "rollback"));
        if (!migrate_retryable())
            return false;
        if (clock_now() + (double)pause_ms / 1000 >= deadline) {
            fprintf(stderr, "promptctl: %s: gave up after %d attempts: live requests held "
                    "its locks (SQLSTATE %s); retry when the database is quieter, or "
                    "raise PROMPTD_MIGRATE_LOCK_WAIT\n", what, attempt, migrate_state);
            return false;
        }
        if (attempt == 1)
            fprintf(stderr, "promptctl: %s: waiting for live requests' locks "
                    "(SQLSTATE %s); trying again\n", what, migrate_state);
        clock_sleep_ms(pause_ms);
    }
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

/* migrate_tx body: one migration file, recorded; the functions' checksum
 * forgotten, so that sql/functions is applied after it. */
static bool migrate_apply_body(PGconn *conn, const void *ctx)
{
    const migrate_file_t *f = ctx;
    const char *params[3] = { f->version, f->name, f->checksum };
    char what[512];

    snprintf(what, sizeof what, "migration %s failed", f->file);
    return migrate_exec(conn, f->sql, what) &&
           migrate_exec_params(conn,
               "insert into public.schema_migrations (version, name, checksum) "
               "values ($1, $2, $3)", 3, params, "recording migration") &&
           migrate_exec(conn, "delete from public.schema_functions", "recording migration");
}

/* Apply one file in its own transaction and record it. */
static bool migrate_apply(PGconn *conn, const migrate_file_t *f, long wait_s)
{
    char what[512];

    snprintf(what, sizeof what, "migration %s", f->file);
    if (!migrate_tx(conn, what, migrate_apply_body, f, wait_s))
        return false;
    printf("applied %s\n", f->file);
    fflush(stdout);
    return true;
}

/* The sql/functions files and their checksum (over each name and text). */
typedef struct migrate_functions {
    arena_t *a;
    migrate_file_t *files;
    size_t n;
    char checksum[HASH_SHA256_HEX];
} migrate_functions_t;

/* migrate_tx body: every file, then the checksum recorded. */
static bool migrate_functions_body(PGconn *conn, const void *ctx)
{
    const migrate_functions_t *fn = ctx;
    const char *params[1] = { fn->checksum };

    for (size_t i = 0; i < fn->n; i++)
        if (!migrate_exec(conn, fn->files[i].sql,
                          arena_printf(fn->a, "functions/%s failed", fn->files[i].file)))
            return false;
    return migrate_exec_params(conn,
        "insert into public.schema_functions (checksum) values ($1) "
        "on conflict (id) do update set checksum = excluded.checksum, applied_at = now()",
        1, params, "recording sql/functions");
}

/* Apply every DIR/functions/<subject>.sql, in name order, in one transaction:
 * the current definitions of the functions, views and policies, written
 * to be run again (CREATE OR REPLACE, DROP POLICY IF EXISTS, REVOKE/GRANT).
 * Skipped when the files are those last applied (schema_functions) and no
 * migration has been applied since: a migrate with nothing new takes no
 * lock a request could wait on.  Quiet either way. */
static bool migrate_functions(arena_t *a, PGconn *conn, const char *dir, long wait_s)
{
    migrate_functions_t fn = { .a = a };
    hash_part_t *parts;
    PGresult *res;
    bool same;

    if (!migrate_list(a, arena_printf(a, "%s/functions", dir), &fn.files, &fn.n))
        return false;
    parts = arena_zalloc(a, sizeof *parts * 2 * (fn.n > 0 ? fn.n : 1));
    for (size_t i = 0; i < fn.n; i++) {
        /* the NULs end each part: no file's name or text holds one */
        parts[2 * i] = (hash_part_t){ fn.files[i].file, strlen(fn.files[i].file) + 1 };
        parts[2 * i + 1] = (hash_part_t){ fn.files[i].sql, fn.files[i].len + 1 };
    }
    hash_sha256_parts_hex(parts, 2 * fn.n, fn.checksum);
    res = PQexec(conn, "select checksum from public.schema_functions");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        migrate_report("reading schema_functions", res, conn, NULL);
        PQclear(res);
        return false;
    }
    same = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), fn.checksum) == 0;
    PQclear(res);
    return same || migrate_tx(conn, "sql/functions", migrate_functions_body, &fn, wait_s);
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
    long wait_s;
    int rc = 1;

    if (!config_env_int("PROMPTD_MIGRATE_LOCK_WAIT", MIGRATE_LOCK_WAIT, 0,
                        MIGRATE_LOCK_WAIT_MAX, &wait_s))
        goto out;    /* config_env_int said why */
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
    if (!migrate_exec(conn, "set lock_timeout = '" MIGRATE_LOCK_TIMEOUT "'", "session setup") ||
        !migrate_exec(conn, migrate_table_sql, "creating schema_migrations and schema_functions") ||
        !migrate_check(conn, files, n, applied))
        goto out;
    for (i = 0; i < n; i++)
        if (!applied[i] && !migrate_apply(conn, &files[i], wait_s))
            goto out;
    if (!migrate_functions(a, conn, cfg->sql_dir, wait_s))
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
