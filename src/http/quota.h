/* quota.h: what a client sees of quotas: the request quota, RateLimit fields, 429/409 refusals, the usage and admin limit routes. */
#ifndef PROMPTD_QUOTA_H
#define PROMPTD_QUOTA_H

#include <stdbool.h>

#include "db/db.h"
#include "http/request.h"

/* SQLSTATEs the quota functions raise (sql/functions/quota.sql); their
 * DETAIL is one line of JSON: {resource, kind, unit, limit, used, window,
 * window_seconds, resets_at, retry_after, tier, upgrade_tier}. */
#define QUOTA_STATE_WINDOW "PDQ29"  /* a window is spent: 429 + Retry-After */
#define QUOTA_STATE_COUNT "PDQ09"   /* a counted limit is reached: 409 */

/* The statements below, prepared by every family (server.c). */
extern const db_stmt_t quota_stmts[];

/* Before the handler of a /api/v1 route with a user: one request against
 * the caller's requests_per_minute, sent as the prelude of the request's
 * first statement (db.h), so it costs no round trip.  Nothing when the
 * environment has PROMPTD_QUOTA_REQUESTS=off. */
void quota_begin(req_t *r);

/* A worker's start, after db_init: its connection LISTENs for changes of
 * limits (quotaseq.h). */
void quota_init(void);

/* After the handler: a quota refusal raised by any statement becomes the
 * quota answer (whatever the handler made of it), and the answer gets
 * RateLimit-Policy and RateLimit fields when a quota governed it. */
void quota_finish(req_t *r);

/* RateLimit-Policy and RateLimit fields for one policy
 * (draft-ietf-httpapi-ratelimit-headers: Lists of String items with q/w
 * and r/t parameters); window and reset omitted (< 0) for counted limits.
 * Several policies: one call each (the lines make one list). */
void quota_fields(req_t *r, const char *policy, long long quota,
                  long long window, long long remaining, long long reset);
/* The two fields' values (arena strings), for answers not made as a req_t
 * (promptd-gateway's). */
void quota_items(arena_t *a, const char *policy, long long quota, long long window,
                 long long remaining, long long reset, const char **pol, const char **lim);

/* True when sqlstate is a quota refusal. */
bool quota_is_refusal(const char *sqlstate);

/* Record the problem+json refusal for r->tx's quota error (429 with
 * Retry-After, or 409); returns the status. */
int quota_reply(req_t *r);

/* Route handlers (cgi-bin/me.c's table):
 *   GET /api/v1/usage?days                     -> 200 usage | 422
 *   GET /api/v1/admin/users/{id}/usage?days    -> 200 | 404
 *   PUT /api/v1/admin/users/{id}/limits {limits} -> 200 {user_id, overrides} | 404 | 422
 *   PATCH /api/v1/admin/plans/{tier} {limits}  -> 200 {tier, name, limits} | 404 | 422 */
int quota_usage_get(req_t *r);
int quota_admin_usage_get(req_t *r);
int quota_admin_limits_put(req_t *r);
int quota_admin_plan_patch(req_t *r);

#endif
