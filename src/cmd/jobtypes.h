/* jobtypes.h: the job types this build serves: every module's handler table, for promptd-jobs and promptctl jobs. */
#ifndef PROMPTD_CMD_JOBTYPES_H
#define PROMPTD_CMD_JOBTYPES_H

#include "jobs/registry.h"

/* The NULL-terminated list of handler tables (registry_find's first
 * argument); the test handlers only when PROMPTD_JOBS_TEST_HANDLERS=1. */
const job_handler_t *const *jobtypes(void);

#endif
