/* backupctl.c: promptctl backup and restore: pg_dump / pg_restore of the whole promptd database. */
#include "cmd/backupctl.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "cmd/migrate.h"

/* The cluster-wide roles a promptd database's grants name, created when
 * absent exactly as sql/0001_roles_and_auth.sql does (roles are not in a
 * database's dump).  promptd_app's password is set afterwards. */
static const char backupctl_roles_sql[] =
    "do $$ begin"
    " if not exists (select 1 from pg_catalog.pg_roles where rolname = 'anon') then"
    "  create role anon nologin noinherit; end if;"
    " if not exists (select 1 from pg_catalog.pg_roles where rolname = 'authenticated') then"
    "  create role authenticated nologin noinherit; end if;"
    " if not exists (select 1 from pg_catalog.pg_roles where rolname = 'service_role') then"
    "  create role service_role nologin noinherit bypassrls; end if;"
    " if not exists (select 1 from pg_catalog.pg_roles where rolname = 'promptd_app') then"
    "  create role promptd_app login noinherit nobypassrls; end if;"
    " end $$;"
    "grant anon, authenticated, service_role to promptd_app";

/* pg_dump or pg_restore: $PG_BINDIR/NAME when PG_BINDIR is set, else NAME
 * on the PATH.  The caller owns the returned string. */
static char *backupctl_program(const char *name)
{
    const char *dir = getenv("PG_BINDIR");
    char *path;

    if (dir == NULL || *dir == '\0')
        return strdup(name);
    if (asprintf(&path, "%s/%s", dir, name) < 0)
        return NULL;
    return path;
}

/* url without its password (conninfo keywords; a URI is parsed the same
 * way), and the password alone in *password (NULL when none): the password
 * goes to the child in PGPASSWORD, never on a command line ps shows.  The
 * caller frees both. */
static char *backupctl_split(const char *url, char **password)
{
    PQconninfoOption *opts, *o;
    char *err = NULL, *out = NULL, *lit;
    size_t len = 0;
    bool first = true;
    FILE *fp;

    *password = NULL;
    if ((opts = PQconninfoParse(url, &err)) == NULL) {
        fprintf(stderr, "promptctl: the database URL: %s", err ? err : "out of memory\n");
        PQfreemem(err);
        return NULL;
    }
    if ((fp = open_memstream(&out, &len)) == NULL)
        goto out;
    for (o = opts; o->keyword != NULL; o++) {
        if (o->val == NULL || *o->val == '\0')
            continue;
        if (strcmp(o->keyword, "password") == 0) {
            free(*password);   /* one per conninfo; the analyzer cannot know */
            *password = strdup(o->val);
            continue;
        }
        fprintf(fp, "%s%s='", first ? "" : " ", o->keyword);
        first = false;
        for (lit = o->val; *lit != '\0'; lit++)
            fprintf(fp, "%s%c", *lit == '\'' || *lit == '\\' ? "\\" : "", *lit);
        fputc('\'', fp);
    }
    fclose(fp);
out:
    PQconninfoFree(opts);
    return out;
}

/* Run argv[0] (a pg_* program) with PGPASSWORD=password when not NULL;
 * true when it exited 0.  Its output goes to ours. */
static bool backupctl_spawn(char *const argv[], const char *password)
{
    int status;
    pid_t pid;

    fflush(NULL);
    if ((pid = fork()) < 0) {
        fprintf(stderr, "promptctl: fork: %s\n", strerror(errno));
        return false;
    }
    if (pid == 0) {
        if (password != NULL)
            setenv("PGPASSWORD", password, 1);
        execvp(argv[0], argv);
        fprintf(stderr, "promptctl: %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return false;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return true;
    fprintf(stderr, "promptctl: %s failed (%s %d)\n", argv[0],
            WIFEXITED(status) ? "exit" : "signal",
            WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    return false;
}

/* promptctl backup FILE */
static int backupctl_backup(const config_t *cfg, int argc, char **argv)
{
    char *prog = backupctl_program("pg_dump"), *conn = NULL, *pw = NULL;
    char *partial = NULL, *dbarg = NULL;
    int rc = 1;

    (void)argc;
    if (prog == NULL || (conn = backupctl_split(cfg->database_url, &pw)) == NULL ||
        asprintf(&partial, "%s.partial", argv[0]) < 0 || asprintf(&dbarg, "--dbname=%s", conn) < 0)
        goto out;
    {
        char *args[] = {prog, "--format=custom", "--compress=6", "--serializable-deferrable",
                        "--no-password", dbarg, "--file", partial, NULL};
        mode_t old = umask(077);   /* the dump holds hashed keys and sealed secrets */

        unlink(partial);
        if (!backupctl_spawn(args, pw)) {
            umask(old);
            unlink(partial);
            goto out;
        }
        umask(old);
    }
    if (rename(partial, argv[0]) != 0) {
        fprintf(stderr, "promptctl: rename %s: %s\n", partial, strerror(errno));
        goto out;
    }
    printf("backup %s\n", argv[0]);
    rc = 0;
out:
    free(dbarg);
    free(partial);
    free(pw);
    free(conn);
    free(prog);
    return rc;
}

/* The target must hold no promptd schema yet, and get the roles first. */
static bool backupctl_prepare(PGconn *conn)
{
    PGresult *res = PQexec(conn, "select to_regclass('public.schema_migrations') is null");
    bool empty = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
                 strcmp(PQgetvalue(res, 0, 0), "t") == 0;

    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fprintf(stderr, "promptctl: restore: %s", PQresultErrorMessage(res));
    else if (!empty)
        fprintf(stderr, "promptctl: restore: the database already holds a promptd "
                "schema (public.schema_migrations); restore into an empty database\n");
    PQclear(res);
    if (!empty)
        return false;
    res = PQexec(conn, backupctl_roles_sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        fprintf(stderr, "promptctl: restore: creating the roles: %s",
                PQresultErrorMessage(res));
        empty = false;
    }
    PQclear(res);
    return empty;
}

/* promptctl restore FILE */
static int backupctl_restore(const config_t *cfg, int argc, char **argv)
{
    char *prog = backupctl_program("pg_restore"), *ci = NULL, *pw = NULL, *dbarg = NULL;
    const char *app_url = getenv("PROMPTD_APP_DATABASE_URL");
    PGconn *conn = NULL;
    int rc = 1;

    (void)argc;
    if (access(argv[0], R_OK) != 0) {
        fprintf(stderr, "promptctl: restore: %s: %s\n", argv[0], strerror(errno));
        goto out;
    }
    if (prog == NULL || (conn = ctl_connect(cfg)) == NULL || !backupctl_prepare(conn) ||
        (ci = backupctl_split(cfg->database_url, &pw)) == NULL ||
        asprintf(&dbarg, "--dbname=%s", ci) < 0)
        goto out;
    {
        char *args[] = {prog, "--exit-on-error", "--single-transaction", "--no-owner",
                        "--no-password", dbarg, argv[0], NULL};

        if (!backupctl_spawn(args, pw))
            goto out;
    }
    if ((app_url == NULL || *app_url == '\0') && !migrate_app_password(conn, cfg))
        goto out;
    PQclear(PQexec(conn, "analyze"));
    printf("restored %s\n", argv[0]);
    rc = 0;
out:
    PQfinish(conn);
    free(dbarg);
    free(pw);
    free(ci);
    free(prog);
    return rc;
}

const ctl_cmd_t backupctl_backup_cmd = {
    "backup", "backup FILE   (pg_dump --format=custom)", "expected: backup FILE", 1, 1,
    NULL, backupctl_backup
};

const ctl_cmd_t backupctl_restore_cmd = {
    "restore", "restore FILE  (into an empty database; then promptctl migrate)",
    "expected: restore FILE", 1, 1, NULL, backupctl_restore
};
