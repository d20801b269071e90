/* maintenance.h: the built-in purge handlers ("jobs.purge", "maintenance.purge"). */
#ifndef PROMPTD_MAINTENANCE_H
#define PROMPTD_MAINTENANCE_H

#include "jobs/registry.h"

/* jobs.purge {retention_s?, batch?}: delete succeeded, dead and cancelled
 * jobs finished more than retention_s ago (default PROMPTD_JOBS_RETENTION,
 * else 7 days), batch rows per statement (default 1000) until a batch
 * comes back short or the job's deadline nears.  result {"deleted": n}. */
int maintenance_jobs_purge(job_t *j);

/* maintenance.purge {batch?}: promptd.maintenance_purge() in batches:
 * idempotency keys over 24 h, idle sign-in throttle rows, long-ended
 * sessions, fired schedule slots over 7 days.  result: deleted per kind. */
int maintenance_purge(job_t *j);

/* The loop both purges share: run sql (one $1 batch parameter, one row of
 * {kind: count} JSON text) while any kind fills its batch, up to the
 * rounds cap and the job's deadline; j->result gets the counts summed.
 * The payload's "batch" (1..max_batch) overrides dflt_batch. */
int maintenance_purge_rounds(job_t *j, const char *sql, long dflt_batch, long max_batch);

/* Both, as a handler table for promptd-jobs. */
extern const job_handler_t maintenance_handlers[];

#endif
