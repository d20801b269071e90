/* gc.c: the storage.gc job: blobs no object names (after a grace period), expired signed URLs and quota holds. */
#include "storage/gc.h"

#include <stdio.h>

#include "jobs/maintenance.h"
#include "storage/settings.h"

int storage_gc_job(job_t *j)
{
    const storage_settings_t *s = storage_settings();
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(j->payload, "grace");
    long grace;
    char sql[128];

    if (s == NULL)
        return registry_fail(j, "storage.gc: PROMPTD_STORAGE_* settings are malformed");
    grace = cJSON_IsNumber(g) && g->valuedouble >= 0 && g->valuedouble <= 2592000
            ? (long)g->valuedouble : s->gc_grace_s;
    snprintf(sql, sizeof sql, "select promptd.storage_gc($1::int, %ld)::text", grace);
    return maintenance_purge_rounds(j, sql, 500, 5000);
}

const job_handler_t storage_job_handlers[] = {
    { "storage.gc", storage_gc_job },
    { NULL, NULL }
};
