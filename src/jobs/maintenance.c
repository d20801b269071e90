/* maintenance.c: the purge handlers the built-in schedules enqueue. */
#include "jobs/maintenance.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/config.h"

#define MAINT_BATCH_DEFAULT 1000
#define MAINT_BATCH_MAX 100000
#define MAINT_ROUNDS_MAX 10000           /* batches per run, whatever happens */
#define MAINT_DEADLINE_SLACK_MS 2000     /* stop this long before the deadline */
#define MAINT_RETENTION_DEFAULT (7L * 24 * 3600)
#define MAINT_RETENTION_MAX (10L * 365 * 24 * 3600)

/* payload[key] as a positive integer <= max, else dflt. */
static long maint_payload_long(const cJSON *p, const char *key, long dflt, long max)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, key);

    return cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble <= max
        ? (long)v->valuedouble : dflt;
}

/* PROMPTD_JOBS_RETENTION (a malformed value is reported and the default
 * kept), overridden by the payload's retention_s. */
static long maint_retention(const cJSON *payload)
{
    long dflt;

    (void)config_env_int("PROMPTD_JOBS_RETENTION", MAINT_RETENTION_DEFAULT, 0,
                         MAINT_RETENTION_MAX, &dflt);
    return maint_payload_long(payload, "retention_s", dflt, MAINT_RETENTION_MAX);
}

/* Time left before the job's deadline (or unbounded without one). */
static bool maint_time_left(const job_t *j)
{
    return j->deadline_ms <= 0 ||
           clock_now_ms() < j->deadline_ms - MAINT_DEADLINE_SLACK_MS;
}

int maintenance_jobs_purge(job_t *j)
{
    char retention[32], batch[32];
    const char *v[2] = {retention, batch};
    long n_batch = maint_payload_long(j->payload, "batch", MAINT_BATCH_DEFAULT,
                                      MAINT_BATCH_MAX);
    long long deleted = 0;
    long n;

    snprintf(retention, sizeof retention, "%ld", maint_retention(j->payload));
    snprintf(batch, sizeof batch, "%ld", n_batch);
    for (int round = 0; round < MAINT_ROUNDS_MAX && maint_time_left(j); round++) {
        PGresult *res = PQexecParams(j->conn,
            "delete from public.background_jobs b where b.id = any (array("
            " select x.id from public.background_jobs x"
            " where x.state in ('succeeded', 'dead', 'cancelled')"
            " and x.finished_at < now() - make_interval(secs => $1::bigint)"
            " limit $2::int))",
            2, NULL, v, NULL, NULL, 0);

        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            registry_fail(j, "purging jobs: %s", PQresultErrorMessage(res));
            PQclear(res);
            return -1;
        }
        n = strtol(PQcmdTuples(res), NULL, 10);
        PQclear(res);
        deleted += n;
        if (n < n_batch)
            break;
    }
    j->result = cJSON_CreateObject();
    cJSON_AddNumberToObject(j->result, "deleted", (double)deleted);
    return 0;
}

int maintenance_purge_rounds(job_t *j, const char *fn, long dflt_batch, long max_batch)
{
    long n_batch = maint_payload_long(j->payload, "batch", dflt_batch, max_batch);
    cJSON *totals = cJSON_CreateObject();
    char batch[32];
    const char *v[1] = {batch};
    bool more = true;

    snprintf(batch, sizeof batch, "%ld", n_batch);
    for (int round = 0; more && round < MAINT_ROUNDS_MAX && maint_time_left(j); round++) {
        PGresult *res = PQexecParams(j->conn, fn, 1, NULL, v, NULL, NULL, 0);
        const cJSON *c;
        cJSON *counts;

        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            registry_fail(j, "%s: %s", j->type, PQresultErrorMessage(res));
            PQclear(res);
            cJSON_Delete(totals);
            return -1;
        }
        counts = cJSON_Parse(PQgetvalue(res, 0, 0));
        PQclear(res);
        more = false;
        cJSON_ArrayForEach(c, counts) {
            cJSON *t = cJSON_GetObjectItemCaseSensitive(totals, c->string);
            double n = cJSON_IsNumber(c) ? c->valuedouble : 0;

            if (t == NULL)
                cJSON_AddNumberToObject(totals, c->string, n);
            else
                cJSON_SetNumberValue(t, t->valuedouble + n);
            more = more || n >= (double)n_batch;
        }
        cJSON_Delete(counts);
    }
    j->result = totals;
    return 0;
}

/* promptd.maintenance_purge() deletes one batch of every short-lived kind and
 * returns {kind: count}; the kinds are the SQL function's to choose. */
int maintenance_purge(job_t *j)
{
    return maintenance_purge_rounds(j, "select promptd.maintenance_purge($1::int)::text",
                                    MAINT_BATCH_DEFAULT, MAINT_BATCH_MAX);
}

const job_handler_t maintenance_handlers[] = {
    { "jobs.purge", maintenance_jobs_purge },
    { "maintenance.purge", maintenance_purge },
    { NULL, NULL }
};
