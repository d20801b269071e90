/* job.h: the mail job: "mail.send" delivers one outbox row (promptd.mail_outbox) over SMTP or to the log. */
#ifndef PROMPTD_MAIL_JOB_H
#define PROMPTD_MAIL_JOB_H

#include "jobs/registry.h"

/* mail.send {outbox_id}: render the row's kind with its vars (plus
 * site_name, site_url, email), then deliver: over SMTP when
 * PROMPTD_SMTP_URL is set, else to the daemon's log.  The row ends sent,
 * logged or rejected (a 5xx; the job still succeeds, there is nothing to
 * retry), or stays pending with last_error while the job fails and is
 * retried with the daemon's backoff (20 attempts).  Delivery is at least
 * once: a daemon that dies between the server's answer and the row's
 * update sends it again (same Message-ID).  result: {outbox_id, outcome}. */
int mail_send_job(job_t *j);

/* {"mail.send", ...}, for promptd-jobs (src/cmd/jobtypes.c). */
extern const job_handler_t mail_job_handlers[];

#endif
