/* gateway.h: promptd-gateway, the process that runs enrichments while nginx holds the waiting clients: settings, the served connection, the in-flight slots. */
#ifndef PROMPTD_GATEWAY_H
#define PROMPTD_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "db/pool.h"

/* Settings (environment, read once by gw_config_load). */
typedef struct gw_config {
    const char *socket;       /* PROMPTD_GATEWAY_SOCKET: the unix socket nginx
                               * proxies the handed-off requests to */
    long max_inflight;        /* PROMPTD_ENRICH_MAX_INFLIGHT (1024): enrichments
                               * this node runs at once, sync and async */
    long db_conns;            /* PROMPTD_GATEWAY_DB_CONNS (4): the pool */
    long deadline_ms;         /* PROMPTD_ENRICH_DEADLINE_MS (enrich settings) */
    long grace_s;             /* PROMPTD_GATEWAY_GRACE (deadline + 5 s): SIGTERM
                               * waits this long for runs in flight */
    const char *conninfo;     /* PROMPTD_DIRECT_DATABASE_URL, else the application URL */
} gw_config_t;

/* Fill c from the environment (after enrich_settings() loaded).  False
 * (reason on stderr) when a value is malformed. */
bool gw_config_load(gw_config_t *c);

/* The process-wide state the request and job threads share. */
extern const gw_config_t *gw_cfg;
extern db_pool_t *gw_pool;

/* One in-flight slot per running enrichment.  gw_slot_take() is false
 * at the cap; every true take is followed by one gw_slot_give(). */
bool gw_slot_take(void);
void gw_slot_give(void);
long gw_slots_used(void);
/* Connections served since start, refused at the thread cap. */
void gw_counts(long *served, long *refused);

/* One client connection from nginx (HTTP/1.0, Connection: close). */
typedef struct gw_conn {
    int fd;
    arena_t *arena;           /* freed with the connection */
    const char *method, *path, *query;
    const char *request_id;   /* X-Request-Id (nginx's $request_id) or "-" */
    bool gone;                /* a write failed: nginx (the client) left */
    int status;               /* the answer's status (0: none yet) */
    const char *headers;      /* header lines every answer carries ("...\r\n"
                               * each), or NULL */
} gw_conn_t;

/* Write all of buf; false (and c->gone) once the peer is gone. */
bool gw_write(gw_conn_t *c, const char *buf, size_t len);
/* A whole response: status, content type, extra header lines (each ending
 * "\r\n", or NULL; c->headers follow them), body. */
void gw_reply(gw_conn_t *c, int status, const char *type, const char *headers,
              const char *body);
/* An RFC 9457 problem; retry_after_s > 0 adds Retry-After. */
void gw_problem(gw_conn_t *c, int status, const char *detail, int retry_after_s);

/* Serve until SIGTERM/SIGINT, then let runs in flight finish (grace).
 * Returns the exit status. */
int gw_serve(void);

/* gateway/enrich.c: GET /enrich/{id}: run the handed-off enrichment id. */
void gw_enrich(gw_conn_t *c, const char *id);

/* gateway/jobs.c: the "enrich" queue's jobs, run concurrently, and the
 * sweep of interrupted hand-offs; a thread started by gw_serve(). */
bool gw_jobs_start(void);
void gw_jobs_stop(void);

#endif
