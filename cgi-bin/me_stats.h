/* me_stats.h: the statistics API of the me family (admin analytics, GET /api/v1/me/stats). */
#ifndef PROMPTD_ME_STATS_H
#define PROMPTD_ME_STATS_H

#include "db/db.h"
#include "http/request.h"

/* The statements of the handlers below, ending with a {NULL} row; the
 * family prepares them with its own. */
extern const db_stmt_t me_stats_stmts[];

/* Each: GET, JSON, over ?from&to (ISO date or UTC date-time; default the
 * last 30 days; [from, to), at most 366 days) and, but for overview,
 * costs, retention and top-prompts, ?granularity; 422 naming the
 * parameter otherwise.  The admin routes answer 403 to non-admins (the
 * dispatcher's R_ADMIN and the SQL). */
int me_stats_overview(req_t *r);
int me_stats_active_users(req_t *r);
int me_stats_signups(req_t *r);
int me_stats_enrichments(req_t *r);
int me_stats_costs(req_t *r);
int me_stats_sharing(req_t *r);
int me_stats_own(req_t *r);
int me_stats_conversion(req_t *r);
int me_stats_retention(req_t *r);
int me_stats_top_prompts(req_t *r);
int me_stats_endpoints(req_t *r);

#endif
