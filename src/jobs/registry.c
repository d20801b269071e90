/* registry.c: handler lookup over the tables a program passes in, and the built-in handlers (noop; trace/sleep/fail for tests). */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "jobs/registry.h"

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
    clock_sleep_ms(payload_long(j->payload, "ms", 0));
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

const job_handler_t registry_handlers[] = {
    { "noop", job_noop },
    { NULL, NULL }
};

const job_handler_t registry_test_handlers[] = {
    { "trace", job_trace },
    { "sleep", job_trace },
    { "fail", job_trace },
    { NULL, NULL }
};

job_fn registry_find(const job_handler_t *const *tables, const char *type)
{
    for (; tables && *tables; tables++)
        for (const job_handler_t *h = *tables; h->type; h++)
            if (strcmp(h->type, type) == 0)
                return h->fn;
    return NULL;
}
