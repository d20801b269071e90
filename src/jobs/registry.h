/* registry.h: the job a handler receives, handler tables and their lookup (each module exports its own table). */
#ifndef PROMPTD_JOBS_REGISTRY_H
#define PROMPTD_JOBS_REGISTRY_H

#include <cjson/cJSON.h>
#include <libpq-fe.h>

/* One claimed job, as a handler sees it.  The daemon owns every field but
 * error and result: a handler may set error (malloc'd; the daemon frees
 * it), retry_after_ms (a delay before the next attempt instead of the
 * backoff) and result (a cJSON tree stored in background_jobs.result on
 * success; the daemon deletes it).  conn is the daemon's connection, as
 * service_role, in autocommit (its handler connection, not the one claims
 * and outcomes run on): a handler's statements commit on their own, with the
 * server's default settings.
 * deadline_ms (CLOCK_MONOTONIC milliseconds) is the per-job timeout: past
 * it the lease is no longer renewed and the job will be retried elsewhere,
 * so long handlers should check it (clock_now_ms() >= deadline_ms). */
typedef struct job {
    long long id;
    int attempt;
    const char *type;
    cJSON *payload;
    PGconn *conn;
    char *error;
    long retry_after_ms;
    cJSON *result;
    long long deadline_ms;
    const char *daemon;         /* the daemon's locked_by name */
} job_t;

/* 0 done, -1 failed (j->error, optional j->retry_after_ms). */
typedef int (*job_fn)(job_t *j);

typedef struct job_handler {
    const char *type;
    job_fn fn;
} job_handler_t;

/* A module's job types: an array ending with a {NULL, NULL} row (e.g.
 * enrich_job_handlers).  The program running jobs passes the list of the
 * tables it serves, ending with NULL, as a cgi-bin main passes its
 * family_t. */
extern const job_handler_t registry_handlers[];      /* "noop" */
extern const job_handler_t registry_test_handlers[]; /* "trace", "sleep", "fail":
                                                      * for tests only */

/* The handler for type in the NULL-terminated list of tables, or NULL. */
job_fn registry_find(const job_handler_t *const *tables, const char *type);

/* Set j->error to a formatted message (replacing any previous one);
 * returns -1 so handlers can `return registry_fail(j, "...")`. */
int registry_fail(job_t *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
