/* response.h: record the answer (JSON or RFC 9457 problem+json). */
#ifndef PROMPTD_RESPONSE_H
#define PROMPTD_RESPONSE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "crypto/secretbox.h"
#include "http/request.h"

/* All resp_* functions record the response on r (nothing is written until
 * the request ends, after the transaction commits) and return the status,
 * so a handler can `return resp_json(r, 200, obj);`.  Calling one again
 * replaces the earlier answer. */

/* Add a response header.  name and value are copied into the arena. */
void resp_header(req_t *r, const char *name, const char *value);

/* Set the Location header (kept for Idempotency-Key replays). */
void resp_location(req_t *r, const char *url);

/* Serialise obj (the caller keeps ownership) as application/json. */
int resp_json(req_t *r, int status, const cJSON *obj);
/* A body that is already JSON text (e.g. built by PostgreSQL); sent
 * without the whitespace between tokens. */
int resp_json_text(req_t *r, int status, const char *json, size_t len);
/* A body of compact JSON text from the arena (len bytes), sent as is:
 * no copy, for large answers built in place. */
int resp_json_raw(req_t *r, int status, const char *json, size_t len);
/* The process's secrets key ring (crypto/keyring), or NULL after replying
 * 500 with detail (the log line names the cause: not configured, or the
 * parse error of PROMPTD_SECRETS_KEYS). */
const secretbox_ring_t *resp_keyring_or_reply(req_t *r, const char *detail);

/* No body (204, 304). */
int resp_empty(req_t *r, int status);

/* problem+json with type about:blank, title the reason phrase, detail the
 * given (short, stable, client-safe) sentence. */
int resp_problem(req_t *r, int status, const char *detail);
int resp_problemf(req_t *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 422 with the field errors collected by req_field_error(). */
int resp_validation(req_t *r);
/* 401 with WWW-Authenticate: Bearer; error="invalid_token" is added when
 * a token was presented (RFC 6750 section 3). */
int resp_unauthorized(req_t *r, bool token_presented, const char *detail);

/* A streamed answer (server-sent events): write the status line and
 * headers now (with X-Accel-Buffering: no, so nginx passes each write on),
 * after which the handler sends the body with resp_stream_write and the
 * server writes nothing more.  Any transaction the handler still needs
 * committed must be committed before the final event. */
void resp_stream_begin(req_t *r, int status, const char *content_type);
/* A streamed answer whose headers the handler chose: the status line,
 * Content-Type (unless NULL), r->etag and the resp_header lines, nothing
 * else (no Cache-Control of its own: a file download sets its own, and its
 * Content-Length).  The body follows with resp_stream_write. */
void resp_stream_open(req_t *r, int status, const char *content_type);
/* Write and flush n bytes of a streamed body; false once the client is gone. */
bool resp_stream_write(req_t *r, const char *s, size_t n);

/* The standard reason phrase ("Not Found"). */
const char *http_reason(int status);

/* Serialise and write the recorded response to FastCGI (server only). */
void resp_write(req_t *r);

#endif
