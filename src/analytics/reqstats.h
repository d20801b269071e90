/* reqstats.h: the per-minute snapshot of this node's request metrics into PostgreSQL (promptd.request_stats_minute), for the endpoint statistics. */
#ifndef PROMPTD_ANALYTICS_REQSTATS_H
#define PROMPTD_ANALYTICS_REQSTATS_H

#include <stdbool.h>

#include <libpq-fe.h>

#include <cjson/cJSON.h>

/* This node's name: $PROMPTD_NODE_NAME, else the host name.  Static
 * storage; never NULL. */
const char *reqstats_node(void);

/* Reads every metrics file of dir (NULL: $PROMPTD_METRICS_DIR) and hands
 * promptd.request_stats_snapshot() each file's per-(family, route) request
 * counts by status and its duration buckets; the function stores the
 * deltas since node's previous snapshot and purges rows older than
 * keep_days.  conn is service_role's (or a superuser's), outside a
 * transaction.  Returns the function's JSON answer (the caller owns it,
 * cJSON_Delete), NULL with the cause logged on failure. */
cJSON *reqstats_snapshot(PGconn *conn, const char *node, const char *dir, long keep_days);

/* For promptd-jobs' loop (daemon_config_t.tick): a snapshot of this node
 * every $PROMPTD_REQSTATS_INTERVAL seconds (60; 0 turns it off), keeping
 * $PROMPTD_REQSTATS_RETENTION_DAYS (30) days.  Cheap between snapshots. */
void reqstats_tick(PGconn *conn);

/* Checks the two settings (a malformed one: why on stderr, false). */
bool reqstats_config_ok(void);

#endif
