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
    R_JSON = 1u << 1,       /* body must be a JSON object -> r->json (400/415);
                             * parsed only once the caller is admitted */
    R_DB = 1u << 2,         /* runs inside one transaction with claims set */
    R_READONLY = 1u << 3,   /* ... and that transaction is READ ONLY */
    R_IDEMPOTENT = 1u << 4, /* honours Idempotency-Key (POST) */
    R_ADMIN = 1u << 5,      /* the caller must be an admin (403) */
    R_AAL2 = 1u << 6,       /* a session at aal2 when its user has a verified
                             * second factor (403 insufficient_aal; needs
                             * R_DB; credential_aal_sufficient) */
    R_BODY_STREAM = 1u << 7,/* the handler reads the body itself from
                             * r->fcgx->in: r->body is NULL, r->body_len
                             * the CONTENT_LENGTH, which PROMPTD_MAX_BODY
                             * does not cap (nginx's client_max_body_size
                             * and the handler do); not with R_JSON */
    R_REPLICA = 1u << 8,    /* R_READONLY whose answer may lag the primary
                             * by PROMPTD_REPLICA_MAX_LAG: runs on the
                             * replica when one is set (db_tx_use_replica).
                             * Never a read-your-writes route (README
                             * "Read replica") */
};

/* The credential kinds a route accepts (route_t.creds, never 0).  The
 * dispatcher finds which kind the request presents and admits it only if
 * the row names that kind: no credential where one is required is a 401,
 * a credential of another kind (or an API key without the row's scope) a
 * 403, both before the body is parsed and before the handler runs.  See
 * README "Credential kinds". */
enum route_creds {
    CRED_NONE = 1u << 0,      /* anonymous callers (a bearer token is then not
                               * verified; the request runs as anon) */
    CRED_SESSION = 1u << 1,   /* a user's access token: a JWT (ours or
                               * Supabase's) with role authenticated */
    CRED_APIKEY = 1u << 2,    /* an API key holding the row's scope (the row
                               * must name one) */
    CRED_SHARE = 1u << 3,     /* a share link's unlock cookie; the handler
                               * checks it against the link in the path */
    CRED_SIGNATURE = 1u << 4, /* a signed request (Stripe-Signature); the
                               * handler checks it against the raw body */
    CRED_METRICS = 1u << 5,   /* a metrics scraper: a loopback or
                               * PROMPTD_METRICS_ALLOW address, or Bearer
                               * PROMPTD_METRICS_TOKEN (http/metrics_access);
                               * only alone in a row */
};
#define CRED_ALL (CRED_NONE | CRED_SESSION | CRED_APIKEY | CRED_SHARE | CRED_SIGNATURE | \
                  CRED_METRICS)

#define ROUTE_MAX_PARAMS 4

/* A row of a route table.  Patterns are literal segments and {name}
 * (any one segment) or {name:uuid} (a canonical UUID, else 400); the last
 * may be {name:path}: the rest of the path, slashes included (one or more
 * segments; "/a//b" keeps its empty segment). */
typedef struct route {
    const char *method;
    const char *pattern;
    handler_fn handler;
    unsigned flags;
    unsigned creds;         /* CRED_* accepted; never 0 (router_check) */
    const char *scope;      /* the API-key scope required ("prompts:read"):
                             * set exactly when creds has CRED_APIKEY */
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
    int rest;                             /* a {name:path}'s first segment, or -1 */
    char allow[64];                       /* "GET, HEAD, PATCH" */
    char path_buf[1280];                  /* the split path (a storage object's
                                           * name may be 1024 bytes) */
} route_match_t;

/* Match method + path (no query string) against the table.  HEAD matches
 * GET rows.  A path longer than path_buf is ROUTER_NOT_FOUND. */
enum router_result router_match(const route_t *routes, size_t nroutes,
                                const char *method, const char *path,
                                route_match_t *m);

/* Check a table once at start: every row states its credential kinds,
 * only known ones, a scope exactly when it accepts API keys.  Returns the
 * index of the first bad row (*why says what is wrong), or -1. */
long router_check(const route_t *routes, size_t nroutes, const char **why);

/* The kinds in creds as "session,apikey": static text, valid until the
 * next call. */
const char *router_creds_name(unsigned creds);

#endif
