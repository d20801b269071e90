/* response.c: record the answer and write it to FastCGI at the end. */
#include "http/response.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/json.h"
#include "crypto/keyring.h"

const char *http_reason(int status)
{
    /* every code registered for HTTP (RFC 9110 and its companions), so any
     * status a handler or the dispatcher sends reads right on the status
     * line and in problem+json titles */
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 207: return "Multi-Status";
    case 208: return "Already Reported";
    case 226: return "IM Used";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 305: return "Use Proxy";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 423: return "Locked";
    case 424: return "Failed Dependency";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 506: return "Variant Also Negotiates";
    case 507: return "Insufficient Storage";
    case 508: return "Loop Detected";
    case 511: return "Network Authentication Required";
    default: return "Unknown";
    }
}

/* "Name: value\r\n" (no printf: every answer writes several). */
static void put_header(strbuf_t *sb, const char *name, const char *value)
{
    strbuf_puts(sb, name);
    strbuf_puts(sb, ": ");
    strbuf_puts(sb, value);
    strbuf_puts(sb, "\r\n");
}

void resp_header(req_t *r, const char *name, const char *value)
{
    put_header(&r->headers, name, value);
}

void resp_location(req_t *r, const char *url)
{
    r->location = arena_strdup(r->arena, url);
}

int resp_json_text(req_t *r, int status, const char *json, size_t len)
{
    r->status = status;
    r->content_type = "application/json";
    r->resp_body = json_compact(r->arena, json, len, &r->resp_len);
    return status;
}

int resp_json_raw(req_t *r, int status, const char *json, size_t len)
{
    r->status = status;
    r->content_type = "application/json";
    r->resp_body = json;
    r->resp_len = len;
    return status;
}

int resp_json(req_t *r, int status, const cJSON *obj)
{
    r->status = status;
    r->content_type = "application/json";
    r->resp_body = json_print(r->arena, obj);   /* compact already */
    r->resp_len = strlen(r->resp_body);
    return status;
}

int resp_empty(req_t *r, int status)
{
    r->status = status;
    r->content_type = NULL;
    r->resp_body = NULL;
    r->resp_len = 0;
    return status;
}

/* Build the RFC 9457 body; errors (may be NULL) is attached by reference
 * and detached again so the arena cleanup that owns it stays the owner. */
static int problem(req_t *r, int status, const char *detail, cJSON *errors)
{
    cJSON *p = cJSON_CreateObject();
    const char *s;

    cJSON_AddStringToObject(p, "type", "about:blank");
    cJSON_AddStringToObject(p, "title", http_reason(status));
    cJSON_AddNumberToObject(p, "status", status);
    cJSON_AddStringToObject(p, "detail", detail);
    cJSON_AddStringToObject(p, "request_id", r->request_id);
    if (errors)
        cJSON_AddItemReferenceToObject(p, "errors", errors);
    s = json_print(r->arena, p);
    cJSON_Delete(p);
    r->status = status;
    r->content_type = "application/problem+json";
    r->resp_body = s;
    r->resp_len = strlen(s);
    r->etag = NULL;
    return status;
}

int resp_problem(req_t *r, int status, const char *detail)
{
    return problem(r, status, detail, NULL);
}

int resp_problemf(req_t *r, int status, const char *fmt, ...)
{
    va_list ap;
    char *detail;

    va_start(ap, fmt);
    detail = arena_vprintf(r->arena, fmt, ap);
    va_end(ap);
    return problem(r, status, detail, NULL);
}

int resp_validation(req_t *r)
{
    return problem(r, 422, "The request has invalid fields; see errors.",
                   r->errors);
}

int resp_unauthorized(req_t *r, bool token_presented, const char *detail)
{
    resp_header(r, "WWW-Authenticate", token_presented ?
                "Bearer realm=\"promptd\", error=\"invalid_token\"" :
                "Bearer realm=\"promptd\"");
    return problem(r, 401, detail, NULL);
}

/* True when the handler added a header called name (resp_header). */
static bool resp_has_header(const req_t *r, const char *name)
{
    size_t n = strlen(name);
    const char *p = r->headers.ptr, *end = p + r->headers.len;

    while (p != NULL && p < end) {
        if ((size_t)(end - p) > n && p[n] == ':' && strncasecmp(p, name, n) == 0)
            return true;
        p = memchr(p, '\n', (size_t)(end - p));
        if (p != NULL)
            p++;
    }
    return false;
}

void resp_stream_begin(req_t *r, int status, const char *content_type)
{
    strbuf_t sb;

    r->status = status;
    r->content_type = content_type;
    r->streamed = true;
    strbuf_init(&sb, r->arena, 256 + r->headers.len);
    strbuf_printf(&sb, "Status: %d %s\r\nContent-Type: %s\r\n"
                  "Cache-Control: no-store\r\nX-Accel-Buffering: no\r\n",
                  status, http_reason(status), content_type);
    strbuf_append(&sb, r->headers.ptr, r->headers.len);
    strbuf_puts(&sb, "\r\n");
    FCGX_PutStr(sb.ptr, (int)sb.len, r->fcgx->out);
    FCGX_FFlush(r->fcgx->out);
}

void resp_stream_open(req_t *r, int status, const char *content_type)
{
    strbuf_t sb;

    r->status = status;
    r->content_type = content_type;
    r->streamed = true;
    strbuf_init(&sb, r->arena, 256 + r->headers.len);
    strbuf_printf(&sb, "Status: %d %s\r\n", status, http_reason(status));
    if (content_type)
        strbuf_printf(&sb, "Content-Type: %s\r\n", content_type);
    if (r->etag)
        strbuf_printf(&sb, "ETag: %s\r\n", r->etag);
    strbuf_append(&sb, r->headers.ptr, r->headers.len);
    strbuf_puts(&sb, "\r\n");
    FCGX_PutStr(sb.ptr, (int)sb.len, r->fcgx->out);
}

bool resp_stream_write(req_t *r, const char *s, size_t n)
{
    if (n > 0 && FCGX_PutStr(s, (int)n, r->fcgx->out) != (int)n)
        return false;
    return FCGX_FFlush(r->fcgx->out) == 0;
}

void resp_write(req_t *r)
{
    bool head = strcmp(r->method, "HEAD") == 0;
    bool has_body = r->status != 204 && r->status != 304;
    strbuf_t sb;

    if (r->streamed)
        return;   /* written as it went (resp_stream_begin) */
    strbuf_init(&sb, r->arena, 512 + r->headers.len);
    strbuf_puts(&sb, "Status: ");
    strbuf_put_long(&sb, r->status, 1);
    strbuf_putc(&sb, ' ');
    strbuf_puts(&sb, http_reason(r->status));
    strbuf_puts(&sb, "\r\n");
    if (r->content_type)
        put_header(&sb, "Content-Type", r->content_type);
    if (r->etag)
        put_header(&sb, "ETag", r->etag);
    if (r->location)
        put_header(&sb, "Location", r->location);
    if (has_body) {
        strbuf_puts(&sb, "Content-Length: ");
        strbuf_put_long(&sb, (long)r->resp_len, 1);
        strbuf_puts(&sb, "\r\n");
    }
    /* A handler that chose its own Cache-Control (a public JWKS, a share
     * page or its 410) gets only that one; two would make caches take the
     * stricter.  Otherwise errors are no-store, and 5xx always are (a
     * failure after the handler chose, e.g. at COMMIT, is never cached). */
    if (r->status >= 500 || !resp_has_header(r, "Cache-Control")) {
        if (r->status >= 400 || r->route == NULL || !(r->route->flags & R_READONLY))
            strbuf_puts(&sb, "Cache-Control: no-store\r\n");
        else
            strbuf_puts(&sb, "Cache-Control: private, no-cache\r\n");
    }
    strbuf_append(&sb, r->headers.ptr, r->headers.len);
    strbuf_puts(&sb, "\r\n");
    FCGX_PutStr(sb.ptr, (int)sb.len, r->fcgx->out);
    if (!head && has_body && r->resp_len)
        FCGX_PutStr(r->resp_body, (int)r->resp_len, r->fcgx->out);
}

const secretbox_ring_t *resp_keyring_or_reply(req_t *r, const char *detail)
{
    const char *why = NULL;
    const secretbox_ring_t *ring = keyring_get(&why);

    if (ring == NULL) {
        r->tx.detail = why ? why : "PROMPTD_SECRETS_KEYS is not configured";
        resp_problem(r, 500, detail);
    }
    return ring;
}
