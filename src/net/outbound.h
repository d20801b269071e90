/* outbound.h: the one libcurl client every outbound HTTP request goes through, with the SSRF guard. */
#ifndef PROMPTD_OUTBOUND_H
#define PROMPTD_OUTBOUND_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "core/arena.h"
#include "net/addrguard.h"

#define OUTBOUND_TIMEOUT_MS 30000          /* default for the whole transfer */
#define OUTBOUND_CONNECT_TIMEOUT_MS 10000  /* default for the connection */
#define OUTBOUND_MAX_BODY (4u << 20)       /* default cap on a response body */
#define OUTBOUND_MAX_HEADER (64u << 10)    /* default cap on all response headers */
#define OUTBOUND_MAX_REDIRECTS 5           /* a ceiling for operator URLs */

/* Who chose the URL.  The zero value is the guarded one. */
enum outbound_origin {
    /* A user (webhook target, custom base URL, file to fetch): the host is
     * resolved here, every address must pass addrguard_check against
     * PROMPTD_OUTBOUND_ALLOW, the connection is pinned to the checked
     * addresses (CURLOPT_RESOLVE) and every socket curl opens is checked
     * again; no redirects, no proxy, no reused connection. */
    OUTBOUND_USER_URL = 0,
    /* The operator's configuration (PROMPTD_JWKS, provider base URLs):
     * any address, redirects up to max_redirects. */
    OUTBOUND_OPERATOR_URL,
};

/* One request's options; zero fields take the defaults above.  Both
 * origins: http and https only, and a redirect never leaves https for
 * http. */
typedef struct outbound_opts {
    enum outbound_origin origin;
    long timeout_ms;
    long connect_timeout_ms;
    size_t max_body;            /* response body bytes (every buffer counts) */
    size_t max_header;          /* response header bytes, all responses */
    long max_redirects;         /* operator URLs only; user URLs never follow */
    const char *user_agent;     /* default "promptd/1" */
    const char *unix_socket;    /* operator URLs only: connect to this unix
                                 * socket instead of the URL's host (which
                                 * then only names the Host header) */
    /* The caller's receivers; with on_body NULL the body is kept (see
     * outbound_body). */
    curl_write_callback on_body;
    void *body_ctx;
    curl_write_callback on_header;
    void *header_ctx;
} outbound_opts_t;

/* One transfer's guard state; lives in the arena it was prepared in. */
typedef struct outbound outbound_t;

/* Read PROMPTD_OUTBOUND_ALLOW (comma-separated IPv4/IPv6 CIDRs) and
 * initialise libcurl.  Call once at start, before any thread; false, with
 * a message naming the variable on stderr, when the value is malformed.
 * Without a call the allow-list is empty. */
bool outbound_init(void);

/* Replace the allow-list (tests); same syntax and errors as the variable. */
bool outbound_set_allow(const char *list, char *err, size_t errlen);

/* Configure the easy handle c for one request to url: the URL (parsed
 * once, by curl, and the same parse is checked and used), protocols,
 * redirects, caps, timeouts and receivers; for a user URL the address
 * check and pin.  The caller then adds its method, headers and body and
 * runs c (curl_easy_perform or a multi handle) but must not set the URL,
 * CURLOPT_RESOLVE, CURLOPT_OPENSOCKETFUNCTION, the protocol, redirect,
 * proxy or receiver options.  c must not outlive a.  Returns NULL (c
 * unusable) with *why a short reason (arena or static) when the URL is
 * refused: unparseable, not http(s), or no address passes the guard. */
outbound_t *outbound_prepare(arena_t *a, CURL *c, const char *url,
                             const outbound_opts_t *o, const char **why);

/* Why the guard stopped the finished transfer (body or headers too large,
 * a refused address), or NULL when it did not. */
const char *outbound_stopped(const outbound_t *ob);

/* A short reason for a transfer that ended with rc: the guard's, curl's
 * error buffer, or curl's message for rc. */
const char *outbound_error(const outbound_t *ob, CURLcode rc);

/* The kept body (on_body NULL), NUL-terminated; *len its length. */
const char *outbound_body(const outbound_t *ob, size_t *len);

/* The addresses a user URL was pinned to ("192.0.2.1,[2001:db8::1]"), or
 * NULL for an operator URL or an address literal. */
const char *outbound_pinned(const outbound_t *ob);

/* The result of outbound_get. */
typedef struct outbound_reply {
    long status;                /* HTTP status of the last response */
    const char *body;           /* NUL-terminated, in the arena */
    size_t len;
    const char *error;          /* when the request failed, the reason */
} outbound_reply_t;

/* GET url (form NULL) or POST form (application/x-www-form-urlencoded
 * unless a header says otherwise) with the extra headers ("Name: value",
 * NULL-terminated; NULL for none), keeping the body (o->on_body is
 * ignored).  True when an HTTP response arrived (any status); false with
 * out->error otherwise. */
bool outbound_request(arena_t *a, const char *url, const char *form,
                      const char *const *headers, const outbound_opts_t *o,
                      outbound_reply_t *out);

/* GET url and keep the body (o->on_body is ignored).  True when an HTTP
 * response arrived (any status); false with out->error otherwise. */
bool outbound_get(arena_t *a, const char *url, const outbound_opts_t *o,
                  outbound_reply_t *out);

#endif
