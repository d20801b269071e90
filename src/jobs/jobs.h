/* jobs.h: enqueue a background job in the caller's transaction (a request's or a job's). */
#ifndef PROMPTD_JOBS_H
#define PROMPTD_JOBS_H

#include "db/db.h"

/* The queue promptd-gateway serves (async enrichments, run concurrently);
 * promptd-jobs claims from every other queue unless PROMPTD_JOBS_QUEUES
 * names it. */
#define JOBS_GATEWAY_QUEUE "enrich"

/* Options of one enqueue; zero/NULL fields take the defaults. */
typedef struct jobs_opts {
    const char *queue;        /* NULL: "default" */
    const char *run_at;       /* timestamptz text; NULL: now() */
    int priority;             /* lower runs first; 0 */
    int max_attempts;         /* 0: 5 */
    const char *dedup_key;    /* NULL: none */
} jobs_opts_t;

/* Add a job of type with payload_json (a JSON object text; NULL = {}) via
 * promptd.enqueue() in the transaction tx (a request passes &r->tx): it
 * exists iff that transaction commits.
 * With a dedup key an active job already holds, returns that job's id and
 * adds nothing.  Returns the id, or -1 with tx->sqlstate set (a request
 * replies with dbreply_error()).  Not for R_READONLY routes (their implicit
 * transactions are read only). */
long long jobs_enqueue(db_tx_t *tx, const char *type, const char *payload_json,
                       const jobs_opts_t *opts);

#endif
