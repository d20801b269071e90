/* request.h: one FastCGI request: what was asked, who asked, what we answer. */
#ifndef PROMPTD_REQUEST_H
#define PROMPTD_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>
#include <fcgiapp.h>

#include "core/arena.h"
#include "core/str.h"
#include "db/db.h"
#include "http/quotaseq.h"
#include "http/router.h"

/* Everything here is owned by r->arena and valid until the request ends. */
struct req {
    arena_t *arena;
    FCGX_Request *fcgx;
    const char *family;
    const route_t *route;
    route_match_t match;

    /* what was asked */
    const char *method;       /* "HEAD" is served as GET without a body */
    const char *path;         /* without the query string */
    const char *query;        /* raw query string, "" when none */
    const char *request_id;   /* nginx $request_id, or generated */
    const char *remote_addr;
    const char *body;         /* exactly body_len bytes, NUL-terminated */
    size_t body_len;
    cJSON *json;              /* R_JSON routes: the parsed body object */

    /* who asked (admitted with a credential; NULL/anon otherwise): the
     * token's sub, role and verified claims are tx.user_id, tx.role and
     * tx.claims, the claims every statement of the request runs with */
    const char *key_id;       /* API-key callers: the key's id; NULL for JWT */
    const char *const *scopes;/* API-key callers: the key's scopes, NULL-
                               * terminated; NULL = every scope (JWT) */

    /* the answer */
    int status;               /* 0 until a resp_* call */
    strbuf_t headers;         /* extra "Name: value\r\n" lines */
    const char *content_type;
    const char *resp_body;
    size_t resp_len;
    const char *etag;         /* set by the handler or derived for GET */
    const char *location;     /* Location header (resp_location) */
    cJSON *errors;            /* field errors collected for a 422 */
    bool streamed;            /* the handler wrote status, headers and body
                               * itself (resp_stream_begin) as it went */

    /* bookkeeping */
    double started;           /* monotonic seconds (clock_now) */
    enum {
        QUOTA_SEQ_NONE,       /* no read-only request quota hit */
        QUOTA_SEQ_LOOKUP,     /* the hit looks its counter up */
        QUOTA_SEQ_HIT         /* the hit counts on the counter the
                               * process holds (quotaseq.h) */
    } quota_seq;
    quotaseq_key_t quota_key; /* with quota_seq: the caller, parsed once */
    db_tx_t tx;               /* the request's transaction and claims;
                               * tx.detail is the log line's cause, tx.ms
                               * its database time */
};

/* A request header by its HTTP name ("If-Match"); NULL when absent. */
const char *req_header(req_t *r, const char *name);

/* A decoded query parameter; NULL when absent.  The first occurrence wins.
 * A malformed escape makes the parameter read as "" and records a field
 * error on r->errors. */
const char *req_query(req_t *r, const char *name);

/* A query parameter that must be an integer in [1, max]: dflt when absent;
 * otherwise malformed or out of range records a field error and gives dflt. */
long req_query_int(req_t *r, const char *name, long dflt, long max);

/* The k-th path parameter of the matched route ({id} ...). */
const char *req_param(req_t *r, const char *name);

/* Record a per-field validation problem for a later resp_validation().
 * At most REQ_MAX_FIELD_ERRORS are kept, then one last error (field
 * "body") says that more were left out: an answer's size never grows
 * with what a client sends. */
#define REQ_MAX_FIELD_ERRORS 100
void req_field_error(req_t *r, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Field readers for a request body object.  Each returns FIELD_ABSENT when
 * the member is missing, FIELD_OK with the value stored, or FIELD_BAD after
 * recording a field error on r (a JSON null is a wrong type). */
enum field_result { FIELD_ABSENT, FIELD_OK, FIELD_BAD };

/* A string of 1..max_chars code points (min 0 when allow_empty). */
enum field_result req_field_string(req_t *r, const cJSON *obj,
                                   const char *name, size_t max_chars,
                                   bool allow_empty, const char **out);
/* An array of at most max_items strings, each 1..max_chars code points. */
enum field_result req_field_string_array(req_t *r, const cJSON *obj,
                                         const char *name, size_t max_items,
                                         size_t max_chars, cJSON **out);
/* A JSON object (any members). */
enum field_result req_field_object(req_t *r, const cJSON *obj,
                                   const char *name, cJSON **out);
enum field_result req_field_bool(req_t *r, const cJSON *obj,
                                 const char *name, bool *out);
enum field_result req_field_int(req_t *r, const cJSON *obj, const char *name,
                                long min, long max, long *out);

/* Record a field error for every member of obj not named in allowed[]
 * (NULL-terminated). */
void req_reject_unknown(req_t *r, const cJSON *obj,
                         const char *const *allowed);

#endif
