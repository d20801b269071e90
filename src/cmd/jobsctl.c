/* jobsctl.c: promptctl jobs: list, show, retry, cancel, enqueue (N in one statement), stats. */
#include "cmd/jobsctl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "cmd/ctl.h"
#include "cmd/jobtypes.h"
#include "jobs/registry.h"

#define JOBSCTL_COUNT_MAX 1000000
#define JOBSCTL_LIST_DEFAULT 50
#define JOBSCTL_LIST_MAX 10000
#define JOBSCTL_NAME_MAX 100

static const char jobsctl_usage[] =
    "usage: promptctl jobs list [--state S] [--queue Q] [--limit N]\n"
    "       promptctl jobs show ID | retry ID | cancel ID\n"
    "       promptctl jobs enqueue TYPE [--count N] [--payload JSON] [--queue Q]\n"
    "       promptctl jobs stats\n"
    "  S: pending running succeeded dead cancelled\n";

static int __attribute__((format(printf, 1, 2)))
jobsctl_usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("promptctl: jobs: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fputs(jobsctl_usage, stderr);
    return 2;
}

/* A decimal integer in [min, max]; false otherwise. */
static bool jobsctl_long(const char *s, long min, long max, long *out)
{
    char *end;

    if (s == NULL || *s == '\0' || strspn(s, "-0123456789") != strlen(s))
        return false;
    errno = 0;
    *out = strtol(s, &end, 10);
    return errno == 0 && *end == '\0' && *out >= min && *out <= max;
}

/* A job id: a positive integer of at most 18 digits. */
static bool jobsctl_id_ok(const char *s)
{
    size_t n = strlen(s);

    return n > 0 && n <= 18 && strspn(s, "0123456789") == n && strspn(s, "0") < n;
}

static bool jobsctl_state_ok(const char *s)
{
    static const char *const states[] = {
        "pending", "running", "succeeded", "dead", "cancelled", NULL};

    for (int i = 0; states[i]; i++)
        if (strcmp(s, states[i]) == 0)
            return true;
    return false;
}

/* A job type or queue: 1..100 of [a-z0-9._:-]. */
static bool jobsctl_name_ok(const char *s)
{
    size_t n = strlen(s);

    return n > 0 && n <= JOBSCTL_NAME_MAX &&
           strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789._:-") == n;
}

/* "--name value" or "--name=value" at argv[*i]; advances *i. */
static const char *jobsctl_opt(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);

    /* argv[i] is never NULL for i < argc; the analyzer cannot know it. */
    /* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker) */
    if (strcmp(argv[*i], name) == 0)
        return *i + 1 < argc ? argv[++*i] : "";
    if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=')
        return argv[*i] + n + 1;
    return NULL;
}

/* Run sql; NULL (reported) unless it returned rows. */
static PGresult *jobsctl_query(PGconn *conn, const char *sql, int n,
                               const char *const *v)
{
    PGresult *res = PQexecParams(conn, sql, n, NULL, v, NULL, NULL, 0);

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "promptctl: jobs: %s", PQresultErrorMessage(res));
        PQclear(res);
        return NULL;
    }
    return res;
}

/* Print a JSON text indented. */
static void jobsctl_print_json(const char *text)
{
    cJSON *j = cJSON_Parse(text);
    char *s = j ? cJSON_Print(j) : NULL;

    puts(s ? s : text);
    free(s);
    cJSON_Delete(j);
}

/* jobs list: a header and one tab-separated line per job, newest first. */
static int jobsctl_list(PGconn *conn, int argc, char **argv)
{
    const char *state = NULL, *queue = NULL, *v[3], *o;
    char limit_s[24];
    long limit = JOBSCTL_LIST_DEFAULT;
    PGresult *res;

    for (int i = 1; i < argc; i++) {
        if ((o = jobsctl_opt(argc, argv, &i, "--state")) != NULL) {
            if (!jobsctl_state_ok(o))
                return jobsctl_usage_error("unknown state '%s'", o);
            state = o;
        } else if ((o = jobsctl_opt(argc, argv, &i, "--queue")) != NULL) {
            if (!jobsctl_name_ok(o))
                return jobsctl_usage_error("invalid queue name '%s'", o);
            queue = o;
        } else if ((o = jobsctl_opt(argc, argv, &i, "--limit")) != NULL) {
            if (!jobsctl_long(o, 1, JOBSCTL_LIST_MAX, &limit))
                return jobsctl_usage_error("--limit takes 1 to 10000, not '%s'", o);
        } else {
            return jobsctl_usage_error("list: unexpected argument '%s'", argv[i]);
        }
    }
    snprintf(limit_s, sizeof limit_s, "%ld", limit);
    v[0] = state, v[1] = queue, v[2] = limit_s;
    res = jobsctl_query(conn,
        "select j ->> 'id', j ->> 'state', j ->> 'queue', j ->> 'job_type', "
        "(j ->> 'attempt') || '/' || (j ->> 'max_attempts'), j ->> 'run_at', "
        "coalesce(replace(replace(j ->> 'last_error', e'\\n', ' '), e'\\t', ' '), '') "
        "from promptd.jobs_list($1, $2, $3::int, null) l(j, id)", 3, v);
    if (res == NULL)
        return 1;
    puts("ID\tSTATE\tQUEUE\tTYPE\tATTEMPT\tRUN_AT\tLAST_ERROR");
    for (int r = 0; r < PQntuples(res); r++)
        for (int c = 0; c < 7; c++)
            printf("%s%c", PQgetvalue(res, r, c), c == 6 ? '\n' : '\t');
    PQclear(res);
    return 0;
}

/* jobs show ID: the job as JSON. */
static int jobsctl_show(PGconn *conn, const char *id)
{
    const char *v[1] = {id};
    PGresult *res = jobsctl_query(conn,
        "select promptd.jobs_json(j)::text from public.background_jobs j where j.id = $1::bigint",
        1, v);
    int rc = 1;

    if (res == NULL)
        return 1;
    if (PQntuples(res) == 1) {
        jobsctl_print_json(PQgetvalue(res, 0, 0));
        rc = 0;
    } else {
        fprintf(stderr, "promptctl: jobs: no job %s\n", id);
    }
    PQclear(res);
    return rc;
}

/* jobs retry|cancel ID: the changed job as JSON. */
static int jobsctl_change(PGconn *conn, const char *what, const char *id)
{
    const char *v[1] = {id};
    PGresult *res = jobsctl_query(conn, strcmp(what, "retry") == 0
        ? "select status, job::text, job ->> 'state' from promptd.jobs_retry($1::bigint)"
        : "select status, job::text, job ->> 'state' from promptd.jobs_cancel($1::bigint)",
        1, v);
    const char *status;
    int rc = 1;

    if (res == NULL)
        return 1;
    status = PQgetvalue(res, 0, 0);
    if (strcmp(status, "ok") == 0) {
        jobsctl_print_json(PQgetvalue(res, 0, 1));
        rc = 0;
    } else if (strcmp(status, "not_found") == 0) {
        fprintf(stderr, "promptctl: jobs: no job %s\n", id);
    } else {
        fprintf(stderr, "promptctl: jobs: cannot %s job %s: it is %s\n", what, id,
                PQgetvalue(res, 0, 2));
    }
    PQclear(res);
    return rc;
}

/* jobs enqueue TYPE [--count N] [--payload JSON] [--queue Q]: all N rows
 * in one INSERT ... SELECT generate_series (one NOTIFY); prints
 * {"enqueued": N, "first_id": a, "last_id": b}. */
static int jobsctl_enqueue(PGconn *conn, int argc, char **argv)
{
    const char *type = argv[1], *payload = "{}", *queue = "default", *v[4], *o;
    char count_s[24];
    long count = 1;
    cJSON *parsed;
    PGresult *res;

    if (!jobsctl_name_ok(type))
        return jobsctl_usage_error("invalid job type '%s' (1-100 of a-z 0-9 . _ : -)", type);
    for (int i = 2; i < argc; i++) {
        if ((o = jobsctl_opt(argc, argv, &i, "--count")) != NULL) {
            if (!jobsctl_long(o, 1, JOBSCTL_COUNT_MAX, &count))
                return jobsctl_usage_error("--count takes 1 to 1000000, not '%s'", o);
        } else if ((o = jobsctl_opt(argc, argv, &i, "--payload")) != NULL) {
            payload = o;
        } else if ((o = jobsctl_opt(argc, argv, &i, "--queue")) != NULL) {
            if (!jobsctl_name_ok(o))
                return jobsctl_usage_error("invalid queue name '%s'", o);
            queue = o;
        } else {
            return jobsctl_usage_error("enqueue: unexpected argument '%s'", argv[i]);
        }
    }
    parsed = cJSON_Parse(payload);
    if (!cJSON_IsObject(parsed)) {
        cJSON_Delete(parsed);
        return jobsctl_usage_error("--payload must be a JSON object, not '%s'", payload);
    }
    cJSON_Delete(parsed);
    if (registry_find(jobtypes(), type) == NULL)
        fprintf(stderr, "promptctl: jobs: warning: no handler for type '%s' is "
                "registered in this build; the job will fail\n", type);
    snprintf(count_s, sizeof count_s, "%ld", count);
    v[0] = type, v[1] = payload, v[2] = queue, v[3] = count_s;
    res = jobsctl_query(conn,
        "with ins as (insert into public.background_jobs (job_type, payload, queue) "
        "  select $1, $2::jsonb, $3 from generate_series(1, $4::int) returning id) "
        "select count(*), min(id), max(id) from ins", 4, v);
    if (res == NULL)
        return 1;
    printf("{\"enqueued\": %s, \"first_id\": %s, \"last_id\": %s}\n",
           PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
    PQclear(res);
    return 0;
}

/* jobs stats: JSON counts per state and per queue. */
static int jobsctl_stats(PGconn *conn)
{
    PGresult *res = jobsctl_query(conn, "select promptd.jobs_stats()::text", 0, NULL);

    if (res == NULL)
        return 1;
    jobsctl_print_json(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

int jobsctl_main(const config_t *cfg, int argc, char **argv)
{
    const char *sub = argc > 0 ? argv[0] : "";
    bool by_id = strcmp(sub, "show") == 0 || strcmp(sub, "retry") == 0 ||
                 strcmp(sub, "cancel") == 0;
    PGconn *conn;
    int rc;

    if (by_id && argc != 2)
        return jobsctl_usage_error("%s takes one job ID", sub);
    if (by_id && !jobsctl_id_ok(argv[1]))
        return jobsctl_usage_error("invalid job ID '%s' (a positive integer)", argv[1]);
    if (strcmp(sub, "enqueue") == 0 && argc < 2)
        return jobsctl_usage_error("enqueue takes a job TYPE");
    if (strcmp(sub, "stats") == 0 && argc != 1)
        return jobsctl_usage_error("stats takes no arguments");
    if (!by_id && strcmp(sub, "list") != 0 && strcmp(sub, "enqueue") != 0 &&
        strcmp(sub, "stats") != 0)
        return jobsctl_usage_error("unknown subcommand '%s'", sub);
    if ((conn = ctl_connect(cfg)) == NULL)
        return 1;
    if (strcmp(sub, "list") == 0)
        rc = jobsctl_list(conn, argc, argv);
    else if (strcmp(sub, "show") == 0)
        rc = jobsctl_show(conn, argv[1]);
    else if (by_id)
        rc = jobsctl_change(conn, sub, argv[1]);
    else if (strcmp(sub, "enqueue") == 0)
        rc = jobsctl_enqueue(conn, argc, argv);
    else
        rc = jobsctl_stats(conn);
    PQfinish(conn);
    return rc;
}

const ctl_cmd_t jobsctl_cmd = {
    "jobs",
    "jobs list [--state S] [--queue Q] [--limit N] | jobs show|retry|cancel ID\n"
    "jobs enqueue TYPE [--count N] [--payload JSON] [--queue Q] | jobs stats",
    "expected: jobs list|show|retry|cancel|enqueue|stats", 1, -1,
    NULL, jobsctl_main
};
