/* purge.h: the "quota.purge" job: old quota counters, holds and daily roll-ups. */
#ifndef PROMPTD_QUOTA_PURGE_H
#define PROMPTD_QUOTA_PURGE_H

#include "jobs/registry.h"

/* quota.purge {batch?}: promptd.quota_purge() in batches (default 1000)
 * until every kind comes back below the batch, or the rounds cap or the
 * job's deadline is reached (maintenance_purge_rounds): holds
 * past their ttl released, minute counters of finished days rolled up per
 * day, finished holds over 7 days and day/month counters over 400 days
 * deleted.  result: the counts per kind, summed. */
int quota_purge_job(job_t *j);

/* {"quota.purge", quota_purge_job}, for promptd-jobs (src/cmd/jobtypes.c). */
extern const job_handler_t quota_job_handlers[];

#endif
