/* jobtypes.c: the job types this build serves: every module's handler table, for promptd-jobs and promptctl jobs. */
#include "cmd/jobtypes.h"

#include <stdlib.h>
#include <string.h>

#include "analytics/jobs.h"
#include "billing/job.h"
#include "enrich/job.h"
#include "jobs/maintenance.h"
#include "mail/job.h"
#include "quota/purge.h"
#include "share/views.h"
#include "storage/gc.h"
#include "webhooks/sender.h"

const job_handler_t *const *jobtypes(void)
{
    static const job_handler_t *const all[] = {
        registry_handlers, maintenance_handlers, enrich_job_handlers,
        shareviews_handlers, quota_job_handlers, billing_job_handlers, mail_job_handlers,
        webhooks_job_handlers, storage_job_handlers, analytics_job_handlers, NULL, NULL};
    static const job_handler_t *const with_tests[] = {
        registry_handlers, maintenance_handlers, enrich_job_handlers,
        shareviews_handlers, quota_job_handlers, billing_job_handlers, mail_job_handlers,
        webhooks_job_handlers, storage_job_handlers, analytics_job_handlers, registry_test_handlers,
        NULL};
    const char *e = getenv("PROMPTD_JOBS_TEST_HANDLERS");

    return e && strcmp(e, "1") == 0 ? with_tests : all;
}
