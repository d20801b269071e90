/* registry.c: the static table of job types and the built-in handlers (noop; trace/sleep/fail for tests). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "enrich/job.h"
#include "jobs/maintenance.h"
#include "jobs/registry.h"
#include "share/views.h"

long long registry_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int registry_fail(job_t *j, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    free(j->error);
    j->error = s;
    return -1;
}

/* noop: does nothing, succeeds (tests, benchmark). */
static int job_noop(job_t *j)
{
    (void)j;
    return 0;
}

static long payload_long(const cJSON *p, const char *key, long dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, key);

    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 1e9
        ? (long)v->valuedouble : dflt;
}

/* Sleep ms milliseconds whatever signals arrive (a running job finishes). */
static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* trace {ms?, fail?, retry_after_ms?, error?}: sleeps ms, records the run in
 * promptd.job_trace (job, attempt, daemon, start, end), then succeeds or,
 * with fail, fails (with the requested delay).  "sleep" and "fail" are
 * the same handler. */
static int job_trace(job_t *j)
{
    struct timespec ts;
    char started[64], id[32], attempt[16];
    const char *v[4];
    const cJSON *fail = cJSON_GetObjectItemCaseSensitive(j->payload, "fail");
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(j->payload, "error");
    PGresult *res;
    bool failing = cJSON_IsTrue(fail) || strcmp(j->type, "fail") == 0;

    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(started, sizeof started, "%lld.%06ld", (long long)ts.tv_sec,
             ts.tv_nsec / 1000);
    sleep_ms(payload_long(j->payload, "ms", 0));
    snprintf(id, sizeof id, "%lld", j->id);
    snprintf(attempt, sizeof attempt, "%d", j->attempt);
    v[0] = id, v[1] = attempt, v[2] = j->daemon, v[3] = started;
    res = PQexecParams(j->conn,
        "insert into promptd.job_trace (job_id, attempt, daemon, started_at) "
        "values ($1, $2, $3, to_timestamp($4::double precision))",
        4, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        registry_fail(j, "trace insert: %s", PQerrorMessage(j->conn));
        PQclear(res);
        return -1;
    }
    PQclear(res);
    if (!failing)
        return 0;
    j->retry_after_ms = payload_long(j->payload, "retry_after_ms", 0);
    return registry_fail(j, "%s (attempt %d)",
                         cJSON_IsString(err) ? err->valuestring : "failed on purpose",
                         j->attempt);
}

/* Job types.  Later subsystems add their rows here. */
static const job_handler_t handlers[] = {
    { "noop", job_noop },
    { "jobs.purge", maintenance_jobs_purge },
    { "maintenance.purge", maintenance_purge },
    { "enrich", enrich_job },
    { "share.views", shareviews_ingest },
    { NULL, NULL }
};

static const job_handler_t test_handlers[] = {
    { "trace", job_trace },
    { "sleep", job_trace },
    { "fail", job_trace },
    { NULL, NULL }
};

job_fn registry_find(const char *type)
{
    static int tests = -1;
    const job_handler_t *h;

    for (h = handlers; h->type; h++)
        if (strcmp(h->type, type) == 0)
            return h->fn;
    if (tests < 0) {
        const char *e = getenv("PROMPTD_JOBS_TEST_HANDLERS");
        tests = e && strcmp(e, "1") == 0;
    }
    for (h = test_handlers; tests && h->type; h++)
        if (strcmp(h->type, type) == 0)
            return h->fn;
    return NULL;
}
