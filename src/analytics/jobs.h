/* jobs.h: the analytics jobs: "analytics.rollup" (queued events into the rollups) and "analytics.partitions" (months ahead, retention). */
#ifndef PROMPTD_ANALYTICS_JOBS_H
#define PROMPTD_ANALYTICS_JOBS_H

#include "jobs/registry.h"

/* analytics.rollup {batch?}: promptd.analytics_rollup() in batches
 * (default 5000) until a batch comes back short, or the rounds cap or the
 * job's deadline (maintenance_purge_rounds).  Each queued row is added to
 * the rollups once, whichever daemon takes it.  result {"rolled": n}. */
int analytics_rollup_job(job_t *j);

/* analytics.partitions: promptd.analytics_partitions(3,
 * PROMPTD_ANALYTICS_RETENTION_DAYS): the current month's partition and
 * three ahead created, months older than the retention dropped; then
 * promptd.analytics_rollup_purge(PROMPTD_ANALYTICS_ROLLUP_HOURLY_DAYS (90),
 * PROMPTD_ANALYTICS_ROLLUP_DAILY_DAYS (800)): older hourly rollup rows,
 * daily rollup rows and daily active users deleted.  result {"created",
 * "dropped", "purged", "rollups": {"hourly", "daily", "daily_users"}}.  A
 * malformed setting (hourly above daily too) fails the job. */
int analytics_partitions_job(job_t *j);

/* Both, for promptd-jobs (src/cmd/jobtypes.c). */
extern const job_handler_t analytics_job_handlers[];

#endif
