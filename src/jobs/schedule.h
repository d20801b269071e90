/* schedule.h: fire due recurring tasks (promptd.schedules) exactly once per slot. */
#ifndef PROMPTD_SCHEDULE_H
#define PROMPTD_SCHEDULE_H

#include <libpq-fe.h>

/* For each enabled task of promptd.schedules, compute its latest slot <=
 * now() (database clock; intervals aligned to the Unix epoch, cron in UTC)
 * and, when that slot is newer than the last fired one and not before the
 * task's created_at, insert (task, slot) into promptd.schedule_runs ON
 * CONFLICT DO NOTHING and enqueue the job only when the row went in, in
 * one transaction.  conn is idle (no open transaction), as a role that may
 * read the schedules and enqueue (service_role).  Runs at most once per
 * second per process; PROMPTD_JOBS_SCHEDULES=0 disables it.  Errors are
 * logged and retried on a later tick. */
void schedules_tick(PGconn *conn);

/* The slot schedules_tick would fire for one task at now (seconds since
 * the epoch): every_s > 0 for an interval, else the cron expression.
 * -1 when the expression is invalid or has no slot. */
long long schedule_slot(double every_s, const char *cron, long long now);

#endif
