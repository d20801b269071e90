/* purge.c: the "quota.purge" job: old quota counters, holds and daily roll-ups. */
#include "quota/purge.h"

#include <stdbool.h>
#include <stdio.h>

#define PURGE_BATCH_DEFAULT 1000
#define PURGE_BATCH_MAX 100000
#define PURGE_ROUNDS_MAX 1000

/* Add counts' numbers into totals; true when one reached batch. */
static bool add_counts(cJSON *totals, const cJSON *counts, long batch)
{
    const cJSON *c;
    bool full = false;

    cJSON_ArrayForEach(c, counts) {
        cJSON *t = cJSON_GetObjectItemCaseSensitive(totals, c->string);
        double n = cJSON_IsNumber(c) ? c->valuedouble : 0;

        if (t == NULL)
            cJSON_AddNumberToObject(totals, c->string, n);
        else
            cJSON_SetNumberValue(t, t->valuedouble + n);
        full = full || n >= (double)batch;
    }
    return full;
}

int quota_purge_job(job_t *j)
{
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(j->payload, "batch");
    long batch = cJSON_IsNumber(b) && b->valuedouble >= 1 && b->valuedouble <= PURGE_BATCH_MAX
        ? (long)b->valuedouble : PURGE_BATCH_DEFAULT;
    cJSON *totals = cJSON_CreateObject();
    char text[32];
    const char *v[1] = {text};
    bool more = true;

    snprintf(text, sizeof text, "%ld", batch);
    for (int round = 0; more && round < PURGE_ROUNDS_MAX; round++) {
        PGresult *res = PQexecParams(j->conn, "select promptd.quota_purge($1::int)::text",
                                     1, NULL, v, NULL, NULL, 0);
        cJSON *counts;

        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            registry_fail(j, "quota purge: %s", PQresultErrorMessage(res));
            PQclear(res);
            cJSON_Delete(totals);
            return -1;
        }
        counts = cJSON_Parse(PQgetvalue(res, 0, 0));
        PQclear(res);
        more = add_counts(totals, counts, batch);
        cJSON_Delete(counts);
    }
    j->result = totals;
    return 0;
}

const job_handler_t quota_job_handlers[] = {
    { "quota.purge", quota_purge_job },
    { NULL, NULL }
};
