/* jobs.h: enqueue a background job from a request, in the request's transaction. */
#ifndef PROMPTD_JOBS_H
#define PROMPTD_JOBS_H

#include "http/request.h"

/* Options of one enqueue; zero/NULL fields take the defaults. */
typedef struct jobs_opts {
    const char *queue;        /* NULL: "default" */
    const char *run_at;       /* timestamptz text; NULL: now() */
    int priority;             /* lower runs first; 0 */
    int max_attempts;         /* 0: 5 */
    const char *dedup_key;    /* NULL: none */
} jobs_opts_t;

/* Add a job of type with payload_json (a JSON object text; NULL = {}) via
 * promptd.enqueue() in r's transaction: it exists iff the request commits.
 * With a dedup key an active job already holds, returns that job's id and
 * adds nothing.  Returns the id, or -1 with r->tx.sqlstate set (reply with
 * dbreply_error()).  Not for R_READONLY routes (their implicit
 * transactions are read only). */
long long jobs_enqueue(req_t *r, const char *type, const char *payload_json,
                       const jobs_opts_t *opts);

#endif
