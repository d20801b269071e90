/* status.c: liveness (/healthz, no database), readiness (/readyz) and the Prometheus scrape (/metrics). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/json.h"
#include "core/log.h"
#include "core/metrics.h"
#include "http/dbreply.h"
#include "http/response.h"
#include "http/server.h"
#include "net/outbound.h"

static const db_stmt_t stmts[] = {
#define STMT_MIGRATIONS (&stmts[0])
    {"status_migrations", "select applied, latest from promptd.migration_state()"},
#define STMT_GAUGES (&stmts[1])
    {"status_gauges", "select name, labels::text, value from promptd.metrics_gauges()"},
    {NULL, NULL},
};

/* GET /healthz -> 200 {"status":"ok"} */
static int health(req_t *r)
{
    static const char body[] = "{\"status\":\"ok\"}";

    return resp_json_text(r, 200, body, sizeof(body) - 1);
}

/* The migrations this build ships: count and the latest file's name. */
static int expected_migrations(char *latest, size_t n)
{
    const config_t *cfg = config_load(false);
    DIR *d = cfg ? opendir(cfg->sql_dir) : NULL;
    struct dirent *e;
    int count = 0;

    latest[0] = '\0';
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);

        if (len < 5 || strcmp(e->d_name + len - 4, ".sql") != 0)
            continue;
        count++;
        if (strncmp(e->d_name, latest, n) > 0) {
            strncpy(latest, e->d_name, n - 1);
            latest[n - 1] = '\0';
        }
    }
    closedir(d);
    latest[strspn(latest, "0123456789")] = '\0';   /* the version prefix */
    return count;
}

/* GET /readyz -> 200 {"status":"ready","migrations":{...}} | 503 */
static int ready(req_t *r)
{
    char latest[256];
    int expected = expected_migrations(latest, sizeof(latest));
    PGresult *res = db_exec(&r->tx, STMT_MIGRATIONS, 0, NULL);
    cJSON *body, *m;
    int applied;
    const char *have;

    if (res == NULL)
        return dbreply_error(r);
    applied = atoi(PQgetvalue(res, 0, 0));
    have = PQgetvalue(res, 0, 1);
    body = json_own(r->arena, cJSON_CreateObject());
    m = cJSON_AddObjectToObject(body, "migrations");
    cJSON_AddNumberToObject(m, "applied", applied);
    cJSON_AddNumberToObject(m, "expected", expected);
    cJSON_AddStringToObject(m, "latest", have);
    if (expected < 0 || applied < expected || strcmp(have, latest) < 0) {
        cJSON_AddStringToObject(body, "status", "migrations pending");
        resp_header(r, "Retry-After", "5");
        return resp_json(r, 503, body);
    }
    cJSON_AddStringToObject(body, "status", "ready");
    return resp_json(r, 200, body);
}

/* The # HELP text of the families the processes write. */
static const char *metrics_help(const char *family)
{
    static const char *const help[][2] = {
        {"promptd_http_requests_total", "HTTP requests answered, by family, method, route pattern and status."},
        {"promptd_http_request_duration_seconds", "Time from accept to the answer written, by family and route."},
        {"promptd_http_db_duration_seconds", "Time spent in PostgreSQL per request, by family."},
        {"promptd_db_reconnects_total", "Database connections made after a worker's first."},
        {"promptd_fcgi_connections_total", "FastCGI connections the workers accepted from nginx (kept ones serve many requests)."},
        {"promptd_fcgi_evictions_total", "Idle kept connections a worker closed to make room for a new one."},
        {"promptd_quota_rejections_total", "Requests refused by a quota or plan limit, by resource."},
        {"promptd_jobs_total", "Job attempts run by the promptd-jobs daemons, by type and outcome."},
        {"promptd_job_duration_seconds", "Time a job attempt ran, by type."},
        {"promptd_webhook_attempts_total", "Webhook delivery attempts, by result (success: a 2xx)."},
        {"promptd_background_jobs", "Background jobs pending, running or dead, by type and state."},
        {"promptd_background_jobs_oldest_due_seconds", "Age of the oldest pending job that is due (0: none)."},
        {"promptd_enrich_breaker_state", "An enrichment provider's circuit breaker: 1 on its current state."},
        {"promptd_webhook_deliveries", "Webhook deliveries waiting (pending) or being sent (sending)."},
        {"promptd_pg_connections", "Client connections to promptd's database, by state."},
        {"promptd_pg_replication_lag_seconds", "Replay lag of each streaming replica."},
        {"promptd_enrich_attempts_total", "Enrichment attempts, by provider and outcome (cache hits and skipped providers included)."},
        {"promptd_enrich_attempt_duration_seconds", "Time an enrichment attempt that ran took, by provider."},
        {"promptd_enrich_cache_lookups_total", "Enrichment cache lookups, by result (hit or miss)."},
        {"promptd_nginx_connections", "nginx's client connections by state (stub_status)."},
        {"promptd_nginx_connections_accepted_total", "Client connections nginx accepted."},
        {"promptd_nginx_connections_handled_total", "Client connections nginx handled."},
        {"promptd_nginx_http_requests_total", "Client requests nginx read (all of them, cached and refused included)."},
        {"promptd_up", "1 when the component answered this scrape, else 0."},
    };

    for (size_t i = 0; i < sizeof(help) / sizeof(help[0]); i++)
        if (strcmp(help[i][0], family) == 0)
            return help[i][1];
    return NULL;
}

static void gauge_family(strbuf_t *sb, const char *name)
{
    const char *help = metrics_help(name);

    if (help)
        strbuf_printf(sb, "# HELP %s %s\n", name, help);
    strbuf_printf(sb, "# TYPE %s gauge\n", name);
}

/* A counter family of one unlabelled series. */
static void counter_line(strbuf_t *sb, const char *name, long value)
{
    const char *help = metrics_help(name);

    if (help)
        strbuf_printf(sb, "# HELP %s %s\n", name, help);
    strbuf_printf(sb, "# TYPE %s counter\n%s %ld\n", name, name, value);
}

/* One gauge line: name{labels} value, labels a JSON object of strings. */
static void gauge_line(req_t *r, strbuf_t *sb, const char *name, const char *labels,
                       const char *value)
{
    const cJSON *o = json_own(r->arena, cJSON_Parse(labels)), *m;
    bool first = true;

    strbuf_puts(sb, name);
    for (m = o ? o->child : NULL; m; m = m->next) {
        if (!cJSON_IsString(m))
            continue;
        strbuf_printf(sb, "%s%s=\"", first ? "{" : ",", m->string);
        metrics_label_escape(sb, m->valuestring);
        strbuf_putc(sb, '"');
        first = false;
    }
    strbuf_printf(sb, "%s %s\n", first ? "" : "}", value);
}

/* The database's gauges (promptd.metrics_gauges(), ordered by name).
 * Returns 0 when it could not answer (the scrape goes on), else 1. */
static int metrics_gauges(req_t *r, strbuf_t *sb)
{
    int retry, up = 0;
    PGresult *res = db_ready(&retry) ? db_exec_unscoped(&r->tx, STMT_GAUGES, 0, NULL) : NULL;
    const char *last = "";

    for (int i = 0; res && i < PQntuples(res); i++) {
        const char *name = PQgetvalue(res, i, 0);

        if (strcmp(name, last) != 0)
            gauge_family(sb, name);
        gauge_line(r, sb, name, PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
        last = name;
    }
    if (res)
        up = 1;
    else
        log_warn("%s: no database gauges: %s", __func__, r->tx.detail ? r->tx.detail : "unreachable");
    return up;
}

/* nginx's stub_status page (nginx/status.http.conf), read over
 * PROMPTD_NGINX_STATUS_SOCKET (the operator's path: no outbound guard),
 * as promptd_nginx_* series.  Returns 1 when read, 0 when not, -1 when
 * no socket is configured (no series, no promptd_up line). */
static int metrics_nginx(req_t *r, strbuf_t *sb)
{
    const char *sock = config_env("PROMPTD_NGINX_STATUS_SOCKET");
    outbound_opts_t o = {.origin = OUTBOUND_OPERATOR_URL, .timeout_ms = 1000,
                         .max_body = 4096, .unix_socket = sock};
    outbound_reply_t rep;
    long active, accepted, handled, requests, reading, writing, waiting;

    if (sock == NULL || *sock == '\0')
        return -1;
    if (!outbound_get(r->arena, "http://localhost/nginx_status", &o, &rep) || rep.status != 200 ||
        sscanf(rep.body, "Active connections: %ld server accepts handled requests %ld %ld %ld "
               "Reading: %ld Writing: %ld Waiting: %ld", &active, &accepted, &handled,
               &requests, &reading, &writing, &waiting) != 7) {
        log_warn("%s: no nginx status from %s: %s", __func__, sock,
                 rep.error ? rep.error : "not a stub_status page");
        return 0;
    }
    gauge_family(sb, "promptd_nginx_connections");
    strbuf_printf(sb, "promptd_nginx_connections{state=\"active\"} %ld\n"
                  "promptd_nginx_connections{state=\"reading\"} %ld\n"
                  "promptd_nginx_connections{state=\"writing\"} %ld\n"
                  "promptd_nginx_connections{state=\"waiting\"} %ld\n",
                  active, reading, writing, waiting);
    counter_line(sb, "promptd_nginx_connections_accepted_total", accepted);
    counter_line(sb, "promptd_nginx_connections_handled_total", handled);
    counter_line(sb, "promptd_nginx_http_requests_total", requests);
    return 1;
}

/* GET /metrics (CRED_METRICS) -> 200 text/plain; version=0.0.4: every
 * process's metrics file summed (core/metrics), the database's gauges and
 * promptd_up | 503 when metrics are off */
static int metrics(req_t *r)
{
    strbuf_t sb;
    int up_db, up_nginx;

    strbuf_init(&sb, r->arena, 8192);
    if (metrics_collect(NULL, &sb, metrics_help) < 0)
        return resp_problem(r, 503, "Metrics are off (PROMPTD_METRICS=off or no PROMPTD_METRICS_DIR).");
    up_db = metrics_gauges(r, &sb);
    up_nginx = metrics_nginx(r, &sb);
    gauge_family(&sb, "promptd_up");
    strbuf_printf(&sb, "promptd_up{component=\"database\"} %d\n", up_db);
    if (up_nginx >= 0)
        strbuf_printf(&sb, "promptd_up{component=\"nginx\"} %d\n", up_nginx);
    resp_header(r, "Cache-Control", "no-store");
    resp_header(r, "Content-Length", arena_printf(r->arena, "%zu", sb.len));
    resp_stream_open(r, 200, "text/plain; version=0.0.4; charset=utf-8");
    if (strcmp(r->method, "HEAD") != 0)
        resp_stream_write(r, sb.ptr, sb.len);
    return 200;
}

static const route_t routes[] = {
    {"GET", "/healthz", health, 0, CRED_NONE, NULL},
    {"GET", "/readyz", ready, R_DB | R_READONLY, CRED_NONE, NULL},
    {"GET", "/metrics", metrics, 0, CRED_METRICS, NULL},
};

int main(int argc, char **argv)
{
    static const db_stmt_t *const tables[] = {stmts, NULL};
    static const family_t family = {
        "status", routes, sizeof(routes) / sizeof(routes[0]), tables, NULL};

    return server_main(argc, argv, &family);
}
