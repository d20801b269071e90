/* server.c: the FastCGI accept loop: one arena per request, commit, answer, log. */
#include "http/server.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "http/credential.h"
#include "http/quota.h"
#include "http/reqmetrics.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/json.h"
#include "core/log.h"
#include "core/metrics.h"
#include "http/audit.h"
#include "http/dbreply.h"
#include "http/dispatch.h"
#include "http/idempotency.h"
#include "http/response.h"
#include "http/transport.h"
#include "net/outbound.h"

#define SERVER_STMTS_MAX 64

/* The http layer's own statements, prepared for every family: API-key
 * authentication, audit rows, Idempotency-Key bookkeeping.
 * (promptd.is_admin() stays unprepared: only admin routes pay for it.) */
static const db_stmt_t *const server_stmts[] = {
    credential_stmts, audit_stmts, idempotency_stmts, quota_stmts, NULL};

static void on_signal(int sig)
{
    (void)sig;
    FCGX_ShutdownPending();
    transport_stop();
}

static void install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;   /* no SA_RESTART; transport_stop wakes the poll */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);   /* multiwatch's graceful stop (libfcgi's own
                                      * handler would not wake the poll) */
    signal(SIGPIPE, SIG_IGN);
}

/* name is a literal of plain characters: no escaping, no printf. */
static void append_name(strbuf_t *sb, const char *name)
{
    strbuf_puts(sb, ",\"");
    strbuf_puts(sb, name);
    strbuf_puts(sb, "\":");
}

static void append_field(strbuf_t *sb, const char *name, const char *value)
{
    append_name(sb, name);
    json_append_string(sb, value);
}

/* Milliseconds with microsecond precision, without float formatting. */
static void append_ms(strbuf_t *sb, const char *name, double ms)
{
    long us = (long)(ms * 1000.0 + 0.5);

    append_name(sb, name);
    strbuf_put_long(sb, us / 1000, 1);
    strbuf_putc(sb, '.');
    strbuf_put_long(sb, us % 1000, 3);
}

/* The request path for the log.  A path parameter named {token} is a live
 * secret (a share link): only its first 6 characters are kept
 * ("/s/AbCdEf***"). */
static const char *log_path(const req_t *r)
{
    for (int i = 0; r->route && i < r->match.nparams; i++) {
        const char *tok = r->match.params[i], *at;

        if (strcmp(r->match.names[i], "token") != 0 || tok == NULL ||
            (at = strstr(r->path, tok)) == NULL)
            continue;
        return arena_printf(r->arena, "%.*s%.6s***%s", (int)(at - r->path), r->path,
                            tok, at + strlen(tok));
    }
    return r->path;
}

/* The access line: request id, family, route, user, status, durations. */
static void log_request(const req_t *r, double seconds)
{
    char ts[40];
    strbuf_t sb;

    log_timestamp(ts, sizeof(ts));
    strbuf_init(&sb, r->arena, 512);
    strbuf_puts(&sb, "{\"ts\":\"");
    strbuf_puts(&sb, ts);
    strbuf_puts(&sb, r->status >= 500 ? "\",\"level\":\"error\"" : "\",\"level\":\"info\"");
    append_field(&sb, "request_id", r->request_id);
    append_field(&sb, "family", log_family_name());
    append_field(&sb, "method", r->method);
    append_field(&sb, "path", log_path(r));
    if (r->route)
        append_field(&sb, "route", r->route->pattern);
    if (r->tx.user_id)
        append_field(&sb, "user", r->tx.user_id);
    append_name(&sb, "status");
    strbuf_put_long(&sb, r->status, 1);
    append_ms(&sb, "duration_ms", seconds * 1000.0);
    append_ms(&sb, "db_ms", r->tx.ms);
    if (r->tx.detail)
        append_field(&sb, "detail", r->tx.detail);
    strbuf_puts(&sb, "}\n");
    if (write(STDERR_FILENO, sb.ptr, sb.len) < 0) {
        /* nowhere left to report it */
    }
}

/* Commit (or roll back a failed request) before answering: a client never
 * sees success for a write that did not land.  Read-only requests have no
 * open transaction (see db_exec). */
static void finish(req_t *r, transport_t *t)
{
    bool commit = r->status < 400 || r->tx.commit_on_error;
    double seconds;

    if (r->tx.open && !db_finish(&r->tx, commit) && r->status < 400) {
        r->headers.len = 0;   /* they described the success (X-Accel-Redirect...) */
        r->headers.ptr[0] = '\0';
        dbreply_error(r);
    }
    resp_write(r);
    seconds = clock_now() - r->started;
    reqmetrics_record(r, seconds);   /* before the client can see the end: a scrape
                                   * that follows an answer counts it */
    transport_finish(t, r->fcgx);
    log_request(r, seconds);
}

static void print_routes(const family_t *fam)
{
    for (size_t i = 0; i < fam->nroutes; i++) {
        const route_t *rt = &fam->routes[i];

        printf("%s %s creds=%s", rt->method, rt->pattern, router_creds_name(rt->creds));
        if (rt->scope != NULL)
            printf(" scope=%s", rt->scope);
        putchar('\n');
    }
}

/* Append each table of list (each ending with a {NULL} row) to dst[*n];
 * false when dst (which keeps one {NULL} row at its end) is full. */
static bool stmts_append(db_stmt_t *dst, size_t *n, const db_stmt_t *const *list)
{
    for (; list && *list; list++)
        for (const db_stmt_t *s = *list; s->name; s++) {
            if (*n + 1 >= SERVER_STMTS_MAX)
                return false;
            dst[(*n)++] = *s;
        }
    return true;
}

/* libfcgi and the transport on spawn-fcgi's socket (fd 0), holding up to
 * PROMPTD_FCGI_CONNECTIONS connections; NULL (logged) on failure. */
static transport_t *server_transport(const family_t *fam)
{
    static char labels[128];
    long conns;

    if (!config_env_int("PROMPTD_FCGI_CONNECTIONS", TRANSPORT_CONNS_DEFAULT, 1,
                        TRANSPORT_CONNS_MAX, &conns))
        return NULL;
    snprintf(labels, sizeof(labels), "family=\"%s\"", fam->name);   /* [a-z-] names */
    if (FCGX_Init() != 0) {
        log_error("%s: FastCGI initialisation failed", __func__);
        return NULL;
    }
    return transport_open(0, (int)conns, labels);
}

/* Routes, settings, statements, authentication, FastCGI: false (logged)
 * when the worker cannot serve. */
static bool server_start(const family_t *fam, const config_t **cfg, transport_t **t)
{
    static db_stmt_t stmts[SERVER_STMTS_MAX];
    size_t n = 0;

    log_set_family(fam->name);
    install_signals();
    metrics_init(NULL);   /* off unless PROMPTD_METRICS_DIR is set */
    if (!outbound_init() || (*cfg = config_load(false)) == NULL)
        return false;
    if (!stmts_append(stmts, &n, server_stmts) || !stmts_append(stmts, &n, fam->stmts)) {
        log_error("%s: more than %d prepared statements", __func__, SERVER_STMTS_MAX - 1);
        return false;
    }
    if (!credential_init(*cfg))
        return false;   /* logged; the stack's readiness check then fails */
    db_init((*cfg)->app_database_url, stmts);
    quota_init();
    if (!db_init_replica())
        return false;
    return (*t = server_transport(fam)) != NULL;
}

int server_main(int argc, char **argv, const family_t *fam)
{
    const config_t *cfg;
    transport_t *t;
    FCGX_Request *fr;
    arena_t *arena;
    const char *why;
    long bad;

    if ((bad = router_check(fam->routes, fam->nroutes, &why)) >= 0) {
        fprintf(stderr, "%s: route %s %s %s; refusing to start\n", fam->name,
                fam->routes[bad].method, fam->routes[bad].pattern, why);
        return 1;
    }
    if (argc > 1 && strcmp(argv[1], "--routes") == 0) {
        print_routes(fam);
        return 0;
    }
    if (!server_start(fam, &cfg, &t))
        return 1;
    arena = arena_create(16384);
    log_info("worker started");
    while ((fr = transport_accept(t)) != NULL) {
        req_t *r = arena_zalloc(arena, sizeof(*r));

        r->arena = arena;
        r->tx.arena = arena;
        r->fcgx = fr;
        r->family = fam->name;
        r->started = clock_now();
        strbuf_init(&r->headers, arena, 256);
        dispatch_request(r, fam, cfg);
        finish(r, t);
        arena_reset(arena);
    }
    log_info("worker stopping");
    transport_close(t);
    arena_destroy(arena);
    db_shutdown();
    return 0;
}
