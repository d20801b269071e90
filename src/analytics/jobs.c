/* jobs.c: the analytics jobs: the rollup of queued events, the monthly partitions' creation and retention, and the rollups' retention (sql/functions/analytics.sql). */
#include "analytics/jobs.h"

#include <stdio.h>

#include "core/config.h"
#include "jobs/maintenance.h"

#define ROLLUP_BATCH 5000
#define ROLLUP_BATCH_MAX 50000
#define MONTHS_AHEAD 3
#define RETENTION_DAYS 400
#define RETENTION_MIN 31        /* one month at least: the partitions are monthly */
#define RETENTION_MAX 3660
#define ROLLUP_HOURLY_DAYS 90   /* the hourly rollup: hour-granularity statistics */
#define ROLLUP_DAILY_DAYS 800   /* the daily rollup and daily active users */
#define ROLLUP_DAYS_MIN 1

int analytics_rollup_job(job_t *j)
{
    return maintenance_purge_rounds(j, "select promptd.analytics_rollup($1::int)::text",
                                    ROLLUP_BATCH, ROLLUP_BATCH_MAX);
}

/* One statement of two int parameters on the job's connection: its one
 * JSON value (the caller owns the tree), or NULL after failing the job. */
static cJSON *exec_json(job_t *j, const char *sql, long a, long b)
{
    char sa[32], sb[32];
    const char *v[2] = {sa, sb};
    PGresult *res;
    cJSON *out = NULL;

    snprintf(sa, sizeof sa, "%ld", a);
    snprintf(sb, sizeof sb, "%ld", b);
    res = PQexecParams(j->conn, sql, 2, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        registry_fail(j, "analytics.partitions: %s", PQresultErrorMessage(res));
    else if ((out = cJSON_Parse(PQgetvalue(res, 0, 0))) == NULL)
        registry_fail(j, "analytics.partitions: unreadable answer");
    PQclear(res);
    return out;
}

int analytics_partitions_job(job_t *j)
{
    long days, hourly, daily;
    cJSON *parts, *rollups;

    if (!config_env_int("PROMPTD_ANALYTICS_RETENTION_DAYS", RETENTION_DAYS, RETENTION_MIN,
                        RETENTION_MAX, &days))
        return registry_fail(j, "analytics.partitions: PROMPTD_ANALYTICS_RETENTION_DAYS "
                             "must be %d..%d", RETENTION_MIN, RETENTION_MAX);
    if (!config_env_int("PROMPTD_ANALYTICS_ROLLUP_DAILY_DAYS", ROLLUP_DAILY_DAYS,
                        ROLLUP_DAYS_MIN, RETENTION_MAX, &daily) ||
        !config_env_int("PROMPTD_ANALYTICS_ROLLUP_HOURLY_DAYS", ROLLUP_HOURLY_DAYS,
                        ROLLUP_DAYS_MIN, daily, &hourly))
        return registry_fail(j, "analytics.partitions: PROMPTD_ANALYTICS_ROLLUP_DAILY_DAYS "
                             "must be %d..%d and PROMPTD_ANALYTICS_ROLLUP_HOURLY_DAYS %d.."
                             "the daily days", ROLLUP_DAYS_MIN, RETENTION_MAX, ROLLUP_DAYS_MIN);
    if ((parts = exec_json(j, "select promptd.analytics_partitions($1::int, $2::int)::text",
                           MONTHS_AHEAD, days)) == NULL)
        return -1;
    if ((rollups = exec_json(j, "select promptd.analytics_rollup_purge($1::int, $2::int)::text",
                             hourly, daily)) == NULL) {
        cJSON_Delete(parts);
        return -1;
    }
    cJSON_AddItemToObject(parts, "rollups", rollups);
    j->result = parts;
    return 0;
}

const job_handler_t analytics_job_handlers[] = {
    { "analytics.rollup", analytics_rollup_job },
    { "analytics.partitions", analytics_partitions_job },
    { NULL, NULL }
};
