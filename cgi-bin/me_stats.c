/* me_stats.c: the statistics API: admin analytics over a range and a granularity, and each user's own usage (GET /api/v1/me/stats). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "me_stats.h"
#include "core/arena.h"
#include "http/dbreply.h"
#include "http/response.h"

#define DAY_SECONDS 86400L
#define RANGE_DEFAULT_DAYS 30L
#define RANGE_MAX_DAYS 366L
#define TIME_MAX 32 /* characters of a from/to value */

enum {
    SS_OVERVIEW, SS_ACTIVE, SS_SIGNUPS, SS_ENRICHMENTS, SS_COSTS, SS_SHARING, SS_OWN,
    SS_CONVERSION, SS_RETENTION, SS_TOP, SS_ENDPOINTS,
};

/* Each: $1 from, $2 to (timestamptz), $3 the granularity where it has one;
 * one jsonb answer (sql/functions/analytics-stats.sql). */
const db_stmt_t me_stats_stmts[] = {
    [SS_OVERVIEW] = {"stats_overview",
        "select promptd.admin_analytics_overview($1::timestamptz, $2::timestamptz)::text"},
    [SS_ACTIVE] = {"stats_active", "select promptd.admin_analytics_active_users("
        "$1::timestamptz, $2::timestamptz, $3::text)::text"},
    [SS_SIGNUPS] = {"stats_signups", "select promptd.admin_analytics_signups("
        "$1::timestamptz, $2::timestamptz, $3::text)::text"},
    [SS_ENRICHMENTS] = {"stats_enrichments", "select promptd.admin_analytics_enrichments("
        "$1::timestamptz, $2::timestamptz, $3::text)::text"},
    [SS_COSTS] = {"stats_costs",
        "select promptd.admin_analytics_costs($1::timestamptz, $2::timestamptz)::text"},
    [SS_SHARING] = {"stats_sharing", "select promptd.admin_analytics_sharing("
        "$1::timestamptz, $2::timestamptz, $3::text)::text"},
    [SS_OWN] = {"stats_own",
        "select promptd.me_stats($1::timestamptz, $2::timestamptz, $3::text)::text"},
    [SS_CONVERSION] = {"stats_conversion", "select promptd.admin_analytics_conversion("
        "$1::timestamptz, $2::timestamptz, $3::text)::text"},
    [SS_RETENTION] = {"stats_retention",
        "select promptd.admin_analytics_retention($1::timestamptz, $2::timestamptz)::text"},
    [SS_TOP] = {"stats_top",
        "select promptd.admin_analytics_top_prompts($1::timestamptz, $2::timestamptz)::text"},
    [SS_ENDPOINTS] = {"stats_endpoints", "select promptd.admin_analytics_endpoints("
        "$1::timestamptz, $2::timestamptz, $3::text)::text"},
    {NULL, NULL},
};

/* Which granularities a statistic has (a bit each). */
enum { G_HOUR = 1, G_DAY = 2, G_WEEK = 4, G_MONTH = 8, G_NONE = 0 };

/* s as "YYYY-MM-DD" (*is_date) or "YYYY-MM-DDTHH:MM[:SS]Z" (UTC) into *t;
 * false when malformed or not a real calendar time. */
static bool time_parse(const char *s, time_t *t, bool *is_date)
{
    struct tm tm = {0}, back;
    int n = -1, len = (int)strlen(s);

    if (len > TIME_MAX)
        return false;
    if (sscanf(s, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &n) == 3 &&
        n == 10 && len == 10)
        *is_date = true;
    else if (n = -1, sscanf(s, "%4d-%2d-%2dT%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
                            &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &n) == 5 && n == 16 &&
             (strcmp(s + 16, "Z") == 0 ||
              (sscanf(s + 16, ":%2d%n", &tm.tm_sec, &n) == 1 && n == 3 &&
               strcmp(s + 19, "Z") == 0)))
        *is_date = false;
    else
        return false;
    if (strspn(s, "0123456789-T:Z") != (size_t)len || tm.tm_year < 1970)
        return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    back = tm;
    *t = timegm(&tm);
    return *t != (time_t)-1 && tm.tm_mday == back.tm_mday && tm.tm_mon == back.tm_mon &&
           tm.tm_hour == back.tm_hour && tm.tm_min == back.tm_min && tm.tm_sec == back.tm_sec;
}

/* ?name as a time into *t, or dflt when absent; false after a field
 * error when bad.  A date `to` means the end of that day (the next
 * midnight). */
static bool time_query(req_t *r, const char *name, time_t dflt, time_t *t)
{
    const char *s = req_query(r, name);
    bool is_date = false;

    *t = dflt;
    if (s == NULL)
        return true;
    if (!time_parse(s, t, &is_date)) {
        req_field_error(r, name, "must be an ISO date (YYYY-MM-DD) or a UTC date-time "
                        "(YYYY-MM-DDTHH:MM:SSZ)");
        *t = dflt;
        return false;
    }
    if (is_date && strcmp(name, "to") == 0)
        *t += DAY_SECONDS;
    return true;
}

/* t as "YYYY-MM-DDTHH:MM:SSZ" in the request's arena (a statement value). */
static const char *time_text(req_t *r, time_t t)
{
    struct tm tm;
    char buf[TIME_MAX];

    gmtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return arena_strdup(r->arena, buf);
}

/* ?granularity among `allowed` (G_*), default day; a field error else. */
static const char *granularity_query(req_t *r, int allowed)
{
    static const char *const names[] = {"hour", "day", "week", "month"};
    const char *s = req_query(r, "granularity");

    if (s == NULL)
        return "day";
    for (int i = 0; i < 4; i++)
        if ((allowed & (1 << i)) && strcmp(s, names[i]) == 0)
            return names[i];
    req_field_error(r, "granularity", "%s", (allowed & G_HOUR)
                    ? "must be hour, day, week or month" : "must be day, week or month");
    return NULL;
}

/* The shared handler: validate ?from&to (and ?granularity when `gran` is
 * not G_NONE), run statement `stmt`, answer its JSON.  422 naming each bad
 * parameter; from >= to names from, a range over RANGE_MAX_DAYS names to. */
static int stats_reply(req_t *r, int stmt, int gran)
{
    time_t now = time(NULL), from, to;
    const char *v[3];
    bool times_ok;
    PGresult *res;

    times_ok = time_query(r, "to", now, &to);
    times_ok = time_query(r, "from", to - RANGE_DEFAULT_DAYS * DAY_SECONDS, &from) && times_ok;
    v[2] = gran == G_NONE ? NULL : granularity_query(r, gran);
    if (times_ok && from >= to)
        req_field_error(r, "from", "must be before to");
    else if (times_ok && to - from > RANGE_MAX_DAYS * DAY_SECONDS)
        req_field_error(r, "to", "must be at most %ld days after from", RANGE_MAX_DAYS);
    if (r->errors)
        return resp_validation(r);
    v[0] = time_text(r, from);
    v[1] = time_text(r, to);
    if ((res = db_exec(&r->tx, &me_stats_stmts[stmt], gran == G_NONE ? 2 : 3, v)) == NULL)
        return dbreply_error(r);
    return resp_json_text(r, 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

/* GET /api/v1/admin/analytics/overview?from&to -> 200 {from,to,signups,
 *   paid_users,dau,wau,mau,enrichments,enrichments_failed,success_rate,
 *   tokens_in,tokens_out,cost_usd,share_views,share_forks,requests,p95_ms,
 *   error_rate} | 403 | 422 */
int me_stats_overview(req_t *r)
{
    return stats_reply(r, SS_OVERVIEW, G_NONE);
}

/* GET /api/v1/admin/analytics/active-users?from&to&granularity (day, week,
 *   month) -> 200 {granularity,items:[{bucket,active,dau,wau,mau}]} */
int me_stats_active_users(req_t *r)
{
    return stats_reply(r, SS_ACTIVE, G_DAY | G_WEEK | G_MONTH);
}

/* GET /api/v1/admin/analytics/signups?from&to&granularity -> 200
 *   {granularity,total,items:[{bucket,signups}]} */
int me_stats_signups(req_t *r)
{
    return stats_reply(r, SS_SIGNUPS, G_HOUR | G_DAY | G_WEEK | G_MONTH);
}

/* GET /api/v1/admin/analytics/enrichments?from&to&granularity -> 200
 *   {granularity,items:[{bucket,provider,completed,failed,success_rate,
 *   latency_ms_mean}]} */
int me_stats_enrichments(req_t *r)
{
    return stats_reply(r, SS_ENRICHMENTS, G_HOUR | G_DAY | G_WEEK | G_MONTH);
}

/* GET /api/v1/admin/analytics/costs?from&to -> 200 {by_provider:[{provider,
 *   enrichments,tokens_in,tokens_out,cost_usd}],by_model:[{model,...}]} */
int me_stats_costs(req_t *r)
{
    return stats_reply(r, SS_COSTS, G_NONE);
}

/* GET /api/v1/admin/analytics/sharing?from&to&granularity -> 200
 *   {granularity,items:[{bucket,views,forks}],top_shares:[{share_id,
 *   prompt_id,views}]} */
int me_stats_sharing(req_t *r)
{
    return stats_reply(r, SS_SHARING, G_HOUR | G_DAY | G_WEEK | G_MONTH);
}

/* GET /api/v1/me/stats?from&to&granularity (day, week, month) -> 200
 *   {granularity,items:[{bucket,prompts,enrichments,tokens_in,tokens_out,
 *   share_views}]}: the caller's own rows only. */
int me_stats_own(req_t *r)
{
    return stats_reply(r, SS_OWN, G_DAY | G_WEEK | G_MONTH);
}

/* GET /api/v1/admin/analytics/conversion?from&to&granularity -> 200
 *   {granularity,signups,paid,rate,plan_changes,paid_users_now,
 *   live_subscriptions,items:[{bucket,signups,paid,rate}]} */
int me_stats_conversion(req_t *r)
{
    return stats_reply(r, SS_CONVERSION, G_HOUR | G_DAY | G_WEEK | G_MONTH);
}

/* GET /api/v1/admin/analytics/retention?from&to -> 200 {cohorts:[{week,
 *   size,weeks:[{week,active,share}]}]}: cohorts by sign-up week. */
int me_stats_retention(req_t *r)
{
    return stats_reply(r, SS_RETENTION, G_NONE);
}

/* GET /api/v1/admin/analytics/top-prompts?from&to -> 200 {by_share_views:
 *   [{prompt_id,views}],by_enrichments:[{prompt_id,enrichments}],tags:
 *   [{tag,prompts}]} */
int me_stats_top_prompts(req_t *r)
{
    return stats_reply(r, SS_TOP, G_NONE);
}

/* GET /api/v1/admin/analytics/endpoints?from&to&granularity -> 200
 *   {granularity,endpoints:[{family,route,requests,status_4xx,status_5xx,
 *   p50_ms,p95_ms,p99_ms}],items:[{bucket,requests,status_4xx,status_5xx,
 *   p50_ms,p95_ms,p99_ms}]}: the minute snapshots of every node's request
 *   metrics (sql/functions/request-stats.sql); quantiles are histogram
 *   estimates, null without requests. */
int me_stats_endpoints(req_t *r)
{
    return stats_reply(r, SS_ENDPOINTS, G_HOUR | G_DAY | G_WEEK | G_MONTH);
}
