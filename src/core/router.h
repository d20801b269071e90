/* router.h: a family's static route table and the matcher. */
#ifndef PROMPTD_ROUTER_H
#define PROMPTD_ROUTER_H

#include <stddef.h>

typedef struct req req_t;

/* Every handler has this signature.  It records a response with one of the
 * resp_* functions and returns the HTTP status (what resp_* returns). */
typedef int (*handler_fn)(req_t *r);

/* Preconditions the dispatcher checks once, before the handler runs. */
enum route_flags {
    R_AUTH = 1u << 0,       /* a verified bearer token is required (401) */
    R_JSON = 1u << 1,       /* body must be a JSON object -> r->json (400/415) */
    R_DB = 1u << 2,         /* runs inside one transaction with claims set */
    R_READONLY = 1u << 3,   /* ... and that transaction is READ ONLY */
    R_IDEMPOTENT = 1u << 4, /* honours Idempotency-Key (POST) */
    R_ADMIN = 1u << 5,      /* the caller must be an admin (403) */
};

#define ROUTE_MAX_PARAMS 4

/* A row of a route table.  Patterns are literal segments and {name}
 * (any one segment) or {name:uuid} (a canonical UUID, else 400). */
typedef struct route {
    const char *method;
    const char *pattern;
    handler_fn handler;
    unsigned flags;
    const char *scope;      /* API-key scope required ("prompts:read"), or NULL */
} route_t;

enum router_result {
    ROUTER_MATCH,
    ROUTER_NOT_FOUND,
    ROUTER_METHOD_NOT_ALLOWED, /* allow[] lists the methods that exist */
    ROUTER_BAD_PARAM,          /* matched, but a typed {param} is invalid */
};

typedef struct {
    const route_t *route;
    const char *params[ROUTE_MAX_PARAMS]; /* pointers into path_buf */
    char names[ROUTE_MAX_PARAMS][32];     /* {name} of each parameter */
    int nparams;
    const char *bad_param;                /* ROUTER_BAD_PARAM: its name */
    char allow[64];                       /* "GET, HEAD, PATCH" */
    char path_buf[512];                   /* the split path */
} route_match_t;

/* Match method + path (no query string) against the table.  HEAD matches
 * GET rows.  A path longer than path_buf is ROUTER_NOT_FOUND. */
enum router_result router_match(const route_t *routes, size_t nroutes,
                                const char *method, const char *path,
                                route_match_t *m);

#endif
