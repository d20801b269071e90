/* reqmetrics.h: one answered request in the process's metrics file (requests by route and status, duration and DB-time histograms). */
#ifndef PROMPTD_REQMETRICS_H
#define PROMPTD_REQMETRICS_H

#include "http/request.h"

/* Records r (answered, with r->status, r->route or none, r->tx.ms) and
 * its seconds from accept to the answer: promptd_http_requests_total,
 * promptd_http_request_duration_seconds, promptd_http_db_duration_seconds.
 * Memory writes only (no syscall, no database); label strings come from
 * r->arena; the route is its pattern, never the raw path.  Nothing when
 * metrics are off. */
void reqmetrics_record(const req_t *r, double seconds);

#endif
