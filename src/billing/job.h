/* job.h: the billing jobs: "billing.event" applies one stored Stripe event, "billing.grace" ends expired past_due graces. */
#ifndef PROMPTD_BILLING_JOB_H
#define PROMPTD_BILLING_JOB_H

#include "jobs/registry.h"

/* billing.event {event_id}: promptd.billing_apply_event(id, grace), one
 * statement, so one transaction: the event's subscription, invoice or
 * customer change and the user's new tier (audited) land together or not
 * at all.  result: {event_id, outcome}. */
int billing_event_job(job_t *j);

/* billing.grace {}: promptd.billing_grace_sweep(grace): users whose
 * past_due grace (PROMPTD_BILLING_GRACE s, default 7 days) has run out
 * fall to their unpaid tier.  result: {downgraded}. */
int billing_grace_job(job_t *j);

/* {"billing.event", ...}, {"billing.grace", ...}, for promptd-jobs
 * (src/cmd/jobtypes.c). */
extern const job_handler_t billing_job_handlers[];

#endif
