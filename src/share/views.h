/* views.h: the "share.views" job: ingest nginx's share view log into the share analytics. */
#ifndef PROMPTD_SHARE_VIEWS_H
#define PROMPTD_SHARE_VIEWS_H

#include <stdbool.h>
#include <stddef.h>

#include "jobs/registry.h"

/* share.views {}: read the view log (share_settings()->view_log) from the
 * cursor kept in PostgreSQL (inode + offset).  When the cursor names
 * another file and "<log>.1" is that file (renamed by log rotation), its
 * remaining lines are read first; then the current file from its start (as
 * also when it is shorter than the cursor: truncated).  Up to
 * SHAREVIEWS_BATCH_BYTES of
 * complete lines per batch, and hand each batch with the new cursor to
 * promptd.share_views_ingest(), which counts it and moves the cursor in
 * one transaction only if nobody else moved it first.  Viewers become
 * SHA-256(daily salt, address, user agent) here; addresses never leave
 * this process.  result {"lines": n, "batches": b}. */
int shareviews_ingest(job_t *j);

/* {"share.views", shareviews_ingest}, for promptd-jobs. */
extern const job_handler_t shareviews_handlers[];

/* The host of a Referer value, lower-cased into out (size n); false when
 * there is none (empty, not absolute http(s), too long).  Exposed for
 * unit tests. */
bool shareviews_referrer_host(const char *referer, char *out, size_t n);

#endif
