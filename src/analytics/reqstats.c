/* reqstats.c: the per-minute snapshot of this node's request metrics into PostgreSQL (promptd.request_stats_minute), for the endpoint statistics. */
#include "analytics/reqstats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"

#define REQSTATS_INTERVAL_S 60
#define REQSTATS_INTERVAL_MAX 3600
#define REQSTATS_KEEP_DAYS 30
#define REQSTATS_KEEP_MAX 3660
#define REQSTATS_NODE_MAX 128
#define REQSTATS_REQUESTS "promptd_http_requests_total"
#define REQSTATS_DURATION "promptd_http_request_duration_seconds"

static const char reqstats_sql[] =
    "select promptd.request_stats_snapshot($1, $2::float8[], $3::jsonb, $4::int)::text";

const char *reqstats_node(void)
{
    static char node[REQSTATS_NODE_MAX];
    const char *e;

    if (node[0])
        return node;
    if ((e = config_env("PROMPTD_NODE_NAME")) != NULL)
        snprintf(node, sizeof node, "%s", e);
    else if (gethostname(node, sizeof node - 1) != 0 || node[0] == '\0')
        snprintf(node, sizeof node, "localhost");
    return node;
}

/* The value of label name in labels (metrics_label_escape's text), unescaped
 * into buf; false when absent or too long. */
static bool reqstats_label(const char *labels, const char *name, char *buf, size_t size)
{
    size_t nlen = strlen(name), o = 0;
    const char *p = labels;

    while (*p) {
        bool hit = strncmp(p, name, nlen) == 0 && p[nlen] == '=' && p[nlen + 1] == '"';

        p = strchr(p, '"');
        if (p == NULL)
            return false;
        for (p++; *p && *p != '"'; p++) {
            char c = *p;

            if (c == '\\' && p[1])
                c = *++p == 'n' ? '\n' : *p;
            if (hit && o + 1 < size)
                buf[o++] = c;
            else if (hit)
                return false;
        }
        if (hit) {
            buf[o] = '\0';
            return true;
        }
        if (*p == '"')
            p++;
        if (*p == ',')
            p++;
    }
    return false;
}

/* metrics_each's callback: one row of the snapshot's series per request
 * counter (by status) or duration histogram of a file. */
static void reqstats_add(void *ctx, const metrics_series_t *s)
{
    char family[METRICS_KEY_MAX], route[METRICS_KEY_MAX], status[16];
    cJSON *row, *b;

    if (strcmp(s->family, s->histogram ? REQSTATS_DURATION : REQSTATS_REQUESTS) != 0 ||
        !reqstats_label(s->labels, "family", family, sizeof family) ||
        !reqstats_label(s->labels, "route", route, sizeof route))
        return;
    if (!s->histogram && !reqstats_label(s->labels, "status", status, sizeof status))
        return;
    row = cJSON_CreateObject();
    cJSON_AddStringToObject(row, "file", s->file);
    cJSON_AddStringToObject(row, "family", family);
    cJSON_AddStringToObject(row, "route", route);
    if (s->histogram) {
        b = cJSON_AddArrayToObject(row, "buckets");
        for (int i = 0; i < s->nvalues; i++)
            cJSON_AddItemToArray(b, cJSON_CreateNumber((double)s->values[i]));
    } else {
        cJSON_AddNumberToObject(row, "status", atoi(status));
        cJSON_AddNumberToObject(row, "count", (double)s->values[0]);
    }
    cJSON_AddItemToArray(ctx, row);
}

/* The bounds as a PostgreSQL array literal. */
static void reqstats_bounds(char *buf, size_t size)
{
    const double *b = metrics_bounds_get();
    size_t o = 0;

    for (int i = 0; i < METRICS_BUCKETS - 1 && o < size; i++)
        o += (size_t)snprintf(buf + o, size - o, "%c%g", i ? ',' : '{', b[i]);
    if (o < size)
        snprintf(buf + o, size - o, "}");
}

cJSON *reqstats_snapshot(PGconn *conn, const char *node, const char *dir, long keep_days)
{
    arena_t *a = arena_create(64 * 1024);
    cJSON *series = cJSON_CreateArray(), *out = NULL;
    char bounds[256], keep[32], *json = NULL;
    const char *v[4] = {node, bounds, NULL, keep};
    PGresult *res = NULL;

    if (metrics_each(dir, a, reqstats_add, series) < 0) {
        log_warn("%s: no metrics directory (%s)", __func__, dir ? dir : "PROMPTD_METRICS_DIR");
        goto out;
    }
    reqstats_bounds(bounds, sizeof bounds);
    snprintf(keep, sizeof keep, "%ld", keep_days);
    v[2] = json = cJSON_PrintUnformatted(series);
    res = PQexecParams(conn, reqstats_sql, 4, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_warn("%s: %s: %s", __func__, node, PQresultErrorMessage(res));
        goto out;
    }
    out = cJSON_Parse(PQgetvalue(res, 0, 0));
out:
    PQclear(res);
    cJSON_free(json);
    cJSON_Delete(series);
    arena_destroy(a);
    return out;
}

/* The two settings, read once: false (why on stderr) when malformed. */
static bool reqstats_settings(long *interval_s, long *keep_days)
{
    return config_env_int("PROMPTD_REQSTATS_INTERVAL", REQSTATS_INTERVAL_S, 0,
                          REQSTATS_INTERVAL_MAX, interval_s) &
           config_env_int("PROMPTD_REQSTATS_RETENTION_DAYS", REQSTATS_KEEP_DAYS, 1,
                          REQSTATS_KEEP_MAX, keep_days);
}

bool reqstats_config_ok(void)
{
    long i, k;

    return reqstats_settings(&i, &k);
}

void reqstats_tick(PGconn *conn)
{
    static long interval_s = -1, keep_days;
    static long long last_ms;
    long long now = clock_now_ms();
    cJSON *res;

    if (interval_s < 0 && (!reqstats_settings(&interval_s, &keep_days) ||
                           config_env("PROMPTD_METRICS_DIR") == NULL)) {
        log_info("%s: endpoint statistics off (no PROMPTD_METRICS_DIR)", __func__);
        interval_s = 0;
    }
    if (interval_s == 0 || (last_ms && now - last_ms < interval_s * 1000))
        return;
    last_ms = now;
    if ((res = reqstats_snapshot(conn, reqstats_node(), NULL, keep_days)) != NULL)
        cJSON_Delete(res);
}
