/* daemon.h: the promptd-jobs engine: claim, run, complete, renew, reap. */
#ifndef PROMPTD_JOBS_DAEMON_H
#define PROMPTD_JOBS_DAEMON_H

#include "jobs/registry.h"

/* Settings (PROMPTD_JOBS_* environment, read by daemon_config_load). */
typedef struct daemon_config {
    const char *conninfo;   /* PROMPTD_DIRECT_DATABASE_URL, else the application URL
                             * (role promptd_app; never a transaction pooler) */
    int batch;              /* PROMPTD_JOBS_BATCH: jobs per claim, 100 */
    int batch_max;          /* PROMPTD_JOBS_BATCH_MAX: claims of fast jobs grow
                             * up to this, max(1000, batch) */
    int lease_s;            /* PROMPTD_JOBS_LEASE: lease seconds, 30 */
    int poll_ms;            /* PROMPTD_JOBS_POLL: fallback poll, 1000 */
    int timeout_s;          /* PROMPTD_JOBS_TIMEOUT: per-job timeout, 300 */
    int grace_s;            /* PROMPTD_JOBS_GRACE: SIGTERM grace, 30 */
    long backoff_ms;        /* PROMPTD_JOBS_BACKOFF: first retry delay, 1000 */
    long backoff_max_ms;    /* PROMPTD_JOBS_BACKOFF_MAX: cap, 3600000 */
    const char *queues;     /* PROMPTD_JOBS_QUEUES: ["a","b"] JSON text; NULL = all */
    const job_handler_t *const *handlers; /* the job types served: registry_find's
                                           * list of tables, set by the caller */
    void (*tick)(PGconn *conn);   /* NULL, or called every turn of the loop (at
                                   * least once per poll) on a service_role
                                   * connection outside a transaction; it keeps
                                   * its own pace (set by the caller) */
} daemon_config_t;

/* Fill c from the environment; conninfo and handlers are left for the caller.  Returns
 * -1 (reason on stderr) when a value is malformed. */
int daemon_config_load(daemon_config_t *c);

/* Free what daemon_config_load allocated (the queues' JSON); NULL-safe,
 * idempotent. */
void daemon_config_clear(daemon_config_t *c);

/* Run until SIGTERM/SIGINT: 0 after a clean stop, 1 on a fatal error,
 * 2 when a running job outlived the grace period. */
int daemon_run(const daemon_config_t *c);

#endif
