/* purge.c: the "quota.purge" job: old quota counters, holds and daily roll-ups. */
#include "quota/purge.h"

#include "jobs/maintenance.h"

#define PURGE_BATCH_DEFAULT 1000
#define PURGE_BATCH_MAX 100000

int quota_purge_job(job_t *j)
{
    return maintenance_purge_rounds(j, "select promptd.quota_purge($1::int)::text",
                                    PURGE_BATCH_DEFAULT, PURGE_BATCH_MAX);
}

const job_handler_t quota_job_handlers[] = {
    { "quota.purge", quota_purge_job },
    { NULL, NULL }
};
