/* jobs.c: the analytics jobs: the rollup of queued events and the monthly partitions' creation and retention (sql/functions/analytics.sql). */
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

int analytics_rollup_job(job_t *j)
{
    return maintenance_purge_rounds(j, "select promptd.analytics_rollup($1::int)::text",
                                    ROLLUP_BATCH, ROLLUP_BATCH_MAX);
}

int analytics_partitions_job(job_t *j)
{
    long days;
    char ahead[16], keep[32];
    const char *v[2] = {ahead, keep};
    PGresult *res;

    if (!config_env_int("PROMPTD_ANALYTICS_RETENTION_DAYS", RETENTION_DAYS, RETENTION_MIN,
                        RETENTION_MAX, &days))
        return registry_fail(j, "analytics.partitions: PROMPTD_ANALYTICS_RETENTION_DAYS "
                             "must be %d..%d", RETENTION_MIN, RETENTION_MAX);
    snprintf(ahead, sizeof ahead, "%d", MONTHS_AHEAD);
    snprintf(keep, sizeof keep, "%ld", days);
    res = PQexecParams(j->conn, "select promptd.analytics_partitions($1::int, $2::int)::text",
                       2, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        registry_fail(j, "analytics.partitions: %s", PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }
    j->result = cJSON_Parse(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

const job_handler_t analytics_job_handlers[] = {
    { "analytics.rollup", analytics_rollup_job },
    { "analytics.partitions", analytics_partitions_job },
    { NULL, NULL }
};
