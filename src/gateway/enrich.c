/* enrich.c: GET /enrich/{id} of promptd-gateway: take up a handed-off enrichment, run it (events streamed as they come), store it, answer as POST /api/v1/enrich would. */
#include "gateway/gateway.h"

#include <string.h>

#include "core/clock.h"
#include "core/json.h"
#include "core/log.h"
#include "core/str.h"
#include "enrich/enrich.h"
#include "enrich/handoff.h"
#include "http/quota.h"
#include "http/response.h"

/* The one enrichment's state. */
typedef struct gw_run {
    gw_conn_t *c;
    db_tx_t d;
    enrich_input_t in;
    enrich_result_t res;
    bool stream;
} gw_run_t;

static void gw_sse_event(void *ctx, const char *name, const char *json)
{
    gw_run_t *g = ctx;
    char *ev = arena_printf(g->c->arena, "event: %s\ndata: %s\n\n", name, json);

    gw_write(g->c, ev, strlen(ev));   /* a client gone: the run goes on */
}

/* An error event {status, title, detail, request_id} ending a stream, or
 * the problem itself before any. */
static void gw_fail(gw_run_t *g, int status, const char *detail)
{
    cJSON *o;

    if (!g->stream) {
        gw_problem(g->c, status, detail, status == 503 ? 1 : 0);
        return;
    }
    o = json_own(g->c->arena, cJSON_CreateObject());
    cJSON_AddNumberToObject(o, "status", status);
    cJSON_AddStringToObject(o, "title", http_reason(status));
    cJSON_AddStringToObject(o, "detail", detail);
    cJSON_AddStringToObject(o, "request_id", g->c->request_id);
    gw_sse_event(g, "error", json_print(g->c->arena, o));
}

/* The answer to a finished run: 200 with the result (or the done event),
 * else the failure's status with the result's fields (attempts). */
static void gw_answer(gw_run_t *g)
{
    arena_t *a = g->c->arena;
    cJSON *o = enrich_result_json(a, &g->in, &g->res);
    int status = g->res.ok ? 200 : enrich_failure_status(&g->res);

    if (g->stream) {
        if (g->res.ok)
            gw_sse_event(g, "done", json_print(a, o));
        else
            gw_fail(g, status, g->res.error);
        return;
    }
    if (g->res.ok) {
        gw_reply(g->c, 200, "application/json", NULL, json_print(a, o));
        return;
    }
    cJSON_AddStringToObject(o, "type", "about:blank");
    cJSON_AddStringToObject(o, "title", http_reason(status));
    cJSON_AddNumberToObject(o, "status", status);
    cJSON_AddStringToObject(o, "detail", g->res.error);
    cJSON_AddStringToObject(o, "request_id", g->c->request_id);
    gw_reply(g->c, status, "application/problem+json", NULL, json_print(a, o));
}

/* Run the taken-up enrichment to its end and answer. */
static void gw_enrich_run(gw_run_t *g)
{
    const char *head;
    int st;

    if (g->stream) {
        head = arena_printf(g->c->arena, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                            "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n%s"
                            "Connection: close\r\n\r\n", g->c->headers ? g->c->headers : "");
        gw_write(g->c, head, strlen(head));
        g->in.on_event = gw_sse_event;
        g->in.ctx = g;
    }
    if (!enrich_run(&g->d, &g->in, &g->res))
        goto db_fail;
    if ((st = enrich_finish(&g->d, &g->in, &g->res)) < 0)
        goto db_fail;
    if (st == 0) {            /* the prompt was deleted meanwhile */
        gw_fail(g, 404, "No such prompt.");
        return;
    }
    gw_answer(g);
    return;
db_fail:
    log_error("%s: database: %s", __func__, g->d.detail ? g->d.detail : "failed");
    db_tx_rollback(&g->d);
    gw_fail(g, 503, "The database is busy or unreachable; retry shortly.");
}

/* One line per run: request id, enrichment, status, outcome, times. */
static void gw_log(const gw_run_t *g, const char *id, double t0)
{
    log_msg(g->c->status >= 500 || g->c->status == 0 ? "warn" : "info",
            "enrich %s request %s user %s: status %d%s, %s%s, %.1f ms (database %.1f ms)",
            id, g->c->request_id, g->in.user_id ? g->in.user_id : "-",
            g->c->status ? g->c->status : (g->stream ? 200 : 0), g->stream ? " (events)" : "",
            g->res.provider ? g->res.provider : "no provider",
            g->c->gone ? ", the client left" : "", 1000.0 * (clock_now() - t0), g->d.ms);
}

/* enrich_per_day's RateLimit fields as the worker computed them when it
 * held the quota (the query ?q&w&r&t of its X-Accel-Redirect), or NULL. */
static const char *gw_ratelimit(gw_conn_t *c)
{
    static const char *const names[4] = {"q", "w", "r", "t"};
    const char *pol, *lim;
    long n[4];

    for (int i = 0; i < 4; i++) {
        const char *v;

        if (url_form_value(c->arena, c->query, names[i], &v) != 1 ||
            !str_to_long(v, 0, 1L << 52, &n[i]))
            return NULL;
    }
    quota_items(c->arena, "enrich_per_day", n[0], n[1], n[2], n[3], &pol, &lim);
    return arena_printf(c->arena, "RateLimit-Policy: %s\r\nRateLimit: %s\r\n", pol, lim);
}

void gw_enrich(gw_conn_t *c, const char *id)
{
    gw_run_t g = {.c = c, .d = {.arena = c->arena, .pool = gw_pool}};
    double t0 = clock_now();
    int rc;

    c->headers = gw_ratelimit(c);
    if (!gw_slot_take()) {
        if (!enrich_handoff_drop(&g.d, id))
            log_error("%s: drop %s: %s", __func__, id, g.d.detail ? g.d.detail : "");
        gw_problem(c, 503, "This server is running as many enrichments as it may; "
                   "retry shortly.", 1);
        gw_log(&g, id, t0);
        return;
    }
    rc = enrich_handoff_take(&g.d, id, &g.in, &g.stream);
    if (rc > 0) {
        g.in.id = id;
        gw_enrich_run(&g);
    } else if (rc == 0) {
        gw_problem(c, 404, "No such pending enrichment.", 0);
    } else {
        log_error("%s: take %s: %s", __func__, id, g.d.detail ? g.d.detail : "");
        gw_problem(c, 503, "The database is busy or unreachable; retry shortly.", 1);
    }
    db_tx_rollback(&g.d);
    gw_slot_give();
    gw_log(&g, id, t0);
}
