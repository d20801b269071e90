/* job.h: the "enrich" job type (async enrichments), exported as a handler table for promptd-jobs. */
#ifndef PROMPTD_ENRICH_JOB_H
#define PROMPTD_ENRICH_JOB_H

#include "db/pool.h"
#include "jobs/registry.h"

/* Run the enrichment whose pending record the payload names, complete the
 * record (as the user, under RLS) and set j->result {enrichment_id, outcome}. */
int enrich_job(job_t *j);
/* The same, its statements on connections borrowed from pool (each held
 * only for a statement or a transaction, never across a provider call);
 * j->conn is not used.  For promptd-gateway. */
int enrich_job_pooled(job_t *j, db_pool_t *pool);

/* {"enrich", enrich_job}, for promptd-jobs. */
extern const job_handler_t enrich_job_handlers[];

#endif
