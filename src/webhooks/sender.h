/* sender.h: the webhook sender, a thread of promptd-jobs: fans the outbox out, claims due deliveries and runs them concurrently (libcurl multi), signed, through the SSRF guard, and records each attempt. */
#ifndef PROMPTD_WEBHOOKS_SENDER_H
#define PROMPTD_WEBHOOKS_SENDER_H

#include <stdbool.h>

#include "jobs/registry.h"

#define WEBHOOKS_USER_AGENT "promptd-webhooks/1"
#define WEBHOOKS_RESPONSE_KEEP 4096   /* response body bytes kept in the log */

/* Start the sender on its own connection to conninfo (as service_role,
 * listening on promptd_webhooks) unless PROMPTD_WEBHOOKS_CONCURRENCY is 0.
 * Call once from the main thread after outbound_init and the key ring;
 * signals stay with the caller.  False (logged) when the settings are
 * malformed or the thread cannot start. */
bool whsend_start(const char *conninfo);

/* Stop claiming, let the deliveries in flight end (each within its
 * timeout), record them and join the thread.  Idempotent; NULL-safe in
 * the sense that it does nothing when the sender never started. */
void whsend_stop(void);

/* webhooks.purge {batch?}: promptd.webhook_purge: finished deliveries and
 * their events older than PROMPTD_WEBHOOKS_RETENTION.  result: counts. */
int webhooks_purge_job(job_t *j);

/* {"webhooks.purge", ...}, for promptd-jobs (src/cmd/jobtypes.c). */
extern const job_handler_t webhooks_job_handlers[];

#endif
