/* job.h: the "enrich" job type (async enrichments), registered in jobs/registry.c. */
#ifndef PROMPTD_ENRICH_JOB_H
#define PROMPTD_ENRICH_JOB_H

#include "jobs/registry.h"

/* Run the enrichment whose pending record the payload names, complete the
 * record (as the user, under RLS) and set j->result {enrichment_id, outcome}. */
int enrich_job(job_t *j);

#endif
