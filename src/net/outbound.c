/* outbound.c: configure libcurl handles for outbound HTTP: http(s) only, caps, and the SSRF guard for user-chosen URLs. */
#include "net/outbound.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/str.h"

/* Read-only once outbound_init has run (before any thread). */
static addrguard_allow_t outbound_allow;

struct outbound {
    arena_t *arena;
    enum outbound_origin origin;
    size_t max_body, max_header;
    size_t body_bytes, header_bytes;
    curl_write_callback on_body, on_header;
    void *body_ctx, *header_ctx;
    strbuf_t body;              /* kept when on_body is NULL */
    const char *stop;           /* why the guard ended the transfer */
    const char *pinned;         /* "a,b" or NULL */
    char *errbuf;               /* CURLOPT_ERRORBUFFER */
};

static pthread_once_t outbound_once = PTHREAD_ONCE_INIT;
static bool outbound_curl_ok;

static void outbound_curl_init(void)
{
    outbound_curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

bool outbound_set_allow(const char *list, char *err, size_t errlen)
{
    addrguard_allow_t a;

    if (!addrguard_allow_parse(list, &a, err, errlen))
        return false;
    outbound_allow = a;
    return true;
}

bool outbound_init(void)
{
    char err[160];

    pthread_once(&outbound_once, outbound_curl_init);
    if (!outbound_curl_ok) {
        fprintf(stderr, "promptd: libcurl initialisation failed\n");
        return false;
    }
    if (!outbound_set_allow(getenv("PROMPTD_OUTBOUND_ALLOW"), err, sizeof err)) {
        fprintf(stderr, "promptd: PROMPTD_OUTBOUND_ALLOW: %s\n", err);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------ callbacks */

static size_t outbound_on_body(char *buf, size_t size, size_t n, void *ud)
{
    outbound_t *ob = ud;
    size_t len = size * n;

    if (len > ob->max_body - ob->body_bytes) {
        ob->stop = arena_printf(ob->arena, "the answer is larger than %zu bytes", ob->max_body);
        return 0;
    }
    ob->body_bytes += len;
    if (ob->on_body)
        return ob->on_body(buf, size, n, ob->body_ctx);
    strbuf_append(&ob->body, buf, len);
    return len;
}

static size_t outbound_on_header(char *buf, size_t size, size_t n, void *ud)
{
    outbound_t *ob = ud;
    size_t len = size * n;

    if (len > ob->max_header - ob->header_bytes) {
        ob->stop = arena_printf(ob->arena, "the response headers exceed %zu bytes",
                                ob->max_header);
        return 0;
    }
    ob->header_bytes += len;
    return ob->on_header ? ob->on_header(buf, size, n, ob->header_ctx) : len;
}

/* Every socket curl opens for a user URL: the address must pass again
 * (so neither a resolver nor a redirect nor a proxy can slip past). */
static curl_socket_t outbound_open_socket(void *ud, curlsocktype purpose,
                                          struct curl_sockaddr *sa)
{
    outbound_t *ob = ud;
    const char *why;

    if (purpose != CURLSOCKTYPE_IPCXN) {
        ob->stop = "refused: not an outbound connection";
        return CURL_SOCKET_BAD;
    }
    if ((why = addrguard_check(&outbound_allow, &sa->addr)) != NULL) {
        ob->stop = arena_printf(ob->arena, "the address is refused (%s)", why);
        return CURL_SOCKET_BAD;
    }
    return socket(sa->family, sa->socktype | SOCK_CLOEXEC, sa->protocol);
}

static void outbound_url_cleanup(void *p)
{
    curl_url_cleanup(p);
}

static void outbound_slist_cleanup(void *p)
{
    curl_slist_free_all(p);
}

/* ------------------------------------------------------------- prepare */

/* The parsed URL's part (curl-allocated, copied to the arena), or NULL. */
static char *outbound_part(arena_t *a, CURLU *u, CURLUPart what, unsigned flags)
{
    char *v = NULL, *copy;

    if (curl_url_get(u, what, &v, flags) != CURLUE_OK)
        return NULL;
    copy = arena_strdup(a, v);
    curl_free(v);
    return copy;
}

/* Resolve and check host; pin the addresses that passed for host:port.
 * False when none passes (*why set).  The pin lands in the DNS cache the
 * handle uses (a multi handle's is shared by its transfers): harmless, as
 * it holds only checked addresses, and the socket callback re-checks
 * every connection anyway. */
static bool outbound_pin(outbound_t *ob, CURL *c, const char *host, const char *port,
                         const char **why)
{
    addrguard_addrs_t addrs;
    struct curl_slist *pins;
    strbuf_t list;
    char *bare = arena_strdup(ob->arena, host);
    bool literal6 = host[0] == '[';

    if (literal6) {
        bare++;
        bare[strcspn(bare, "]")] = '\0';
    }
    if (addrguard_resolve(bare, &outbound_allow, &addrs) == 0) {
        *why = arena_strdup(ob->arena, addrs.why);
        return false;
    }
    strbuf_init(&list, ob->arena, 64);
    for (size_t i = 0; i < addrs.n; i++)
        strbuf_printf(&list, strchr(addrs.text[i], ':') ? "%s[%s]" : "%s%s",
                      i ? "," : "", addrs.text[i]);
    if (literal6)
        return true;   /* curl connects to the literal itself: nothing to resolve */
    ob->pinned = list.ptr;
    pins = curl_slist_append(NULL, arena_printf(ob->arena, "%s:%s:%s", host, port, list.ptr));
    if (pins == NULL) {
        *why = "out of memory";
        return false;
    }
    arena_cleanup_add(ob->arena, outbound_slist_cleanup, pins);
    curl_easy_setopt(c, CURLOPT_RESOLVE, pins);
    return true;
}

/* Parse url with curl's own parser; the normalised URL, or NULL (*why). */
static char *outbound_parse(outbound_t *ob, CURL *c, const char *url, const char **why,
                            char **scheme_out)
{
    CURLU *u = curl_url();
    char *scheme, *host, *port, *norm;
    unsigned flags = 0;

#ifdef CURLU_PUNYCODE
    flags |= CURLU_PUNYCODE;
#endif
    if (u == NULL) {
        *why = "out of memory";
        return NULL;
    }
    arena_cleanup_add(ob->arena, outbound_url_cleanup, u);
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        *why = "not a valid URL";
        return NULL;
    }
    scheme = outbound_part(ob->arena, u, CURLUPART_SCHEME, 0);
    if (scheme == NULL || (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        *why = "only http and https URLs are allowed";
        return NULL;
    }
    host = outbound_part(ob->arena, u, CURLUPART_HOST, flags);
    port = outbound_part(ob->arena, u, CURLUPART_PORT, CURLU_DEFAULT_PORT);
    norm = outbound_part(ob->arena, u, CURLUPART_URL, flags);
    if (host == NULL || *host == '\0' || port == NULL || norm == NULL) {
        *why = "the URL has no usable host";   /* none, or an IDN name curl cannot convert */
        return NULL;
    }
    if (ob->origin == OUTBOUND_USER_URL) {
        if (outbound_part(ob->arena, u, CURLUPART_ZONEID, 0) != NULL) {
            *why = "an IPv6 zone is not allowed";
            return NULL;
        }
        if (!outbound_pin(ob, c, host, port, why))
            return NULL;
    }
    *scheme_out = scheme;
    return norm;
}

/* The options every request gets. */
static void outbound_common(outbound_t *ob, CURL *c, const char *url, const char *scheme,
                            const outbound_opts_t *o)
{
    long timeout = o->timeout_ms > 0 ? o->timeout_ms : OUTBOUND_TIMEOUT_MS;
    long connect = o->connect_timeout_ms > 0 ? o->connect_timeout_ms
                                             : OUTBOUND_CONNECT_TIMEOUT_MS;
    long redirects = o->max_redirects < OUTBOUND_MAX_REDIRECTS ? o->max_redirects
                                                               : OUTBOUND_MAX_REDIRECTS;

    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    /* never from https down to http */
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR,
                     strcmp(scheme, "https") == 0 ? "https" : "http,https");
    if (ob->origin == OUTBOUND_OPERATOR_URL && redirects > 0) {
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, redirects);
    } else {
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    }
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect < timeout ? connect : timeout);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)ob->max_body);
    curl_easy_setopt(c, CURLOPT_USERAGENT, o->user_agent ? o->user_agent : "promptd/1");
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ob->errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, outbound_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, ob);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, outbound_on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, ob);
    if (ob->origin == OUTBOUND_USER_URL) {
        curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, outbound_open_socket);
        curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, ob);
        curl_easy_setopt(c, CURLOPT_PROXY, "");          /* no proxy from the environment */
        curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);  /* only connections checked here */
        curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
    } else if (o->unix_socket) {
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, o->unix_socket);
    }
}

outbound_t *outbound_prepare(arena_t *a, CURL *c, const char *url,
                             const outbound_opts_t *o, const char **why)
{
    outbound_t *ob = arena_zalloc(a, sizeof(*ob));
    char *norm, *scheme = NULL;

    pthread_once(&outbound_once, outbound_curl_init);
    *why = NULL;
    ob->arena = a;
    ob->origin = o->origin;
    ob->max_body = o->max_body > 0 ? o->max_body : OUTBOUND_MAX_BODY;
    ob->max_header = o->max_header > 0 ? o->max_header : OUTBOUND_MAX_HEADER;
    ob->on_body = o->on_body;
    ob->body_ctx = o->body_ctx;
    ob->on_header = o->on_header;
    ob->header_ctx = o->header_ctx;
    ob->errbuf = arena_zalloc(a, CURL_ERROR_SIZE);
    strbuf_init(&ob->body, a, o->on_body ? 1 : 1024);
    if (!outbound_curl_ok) {
        *why = "libcurl is not initialised";
        return NULL;
    }
    if (url == NULL) {
        *why = "no URL";
        return NULL;
    }
    if ((norm = outbound_parse(ob, c, url, why, &scheme)) == NULL)
        return NULL;
    outbound_common(ob, c, norm, scheme, o);
    return ob;
}

const char *outbound_stopped(const outbound_t *ob)
{
    return ob ? ob->stop : NULL;
}

const char *outbound_error(const outbound_t *ob, CURLcode rc)
{
    if (ob && ob->stop)
        return ob->stop;
    if (rc == CURLE_FILESIZE_EXCEEDED && ob)
        return arena_printf(ob->arena, "the answer is larger than %zu bytes", ob->max_body);
    if (ob && ob->errbuf[0])
        return ob->errbuf;
    return curl_easy_strerror(rc);
}

const char *outbound_body(const outbound_t *ob, size_t *len)
{
    *len = ob->body.len;
    return ob->body.ptr;
}

const char *outbound_pinned(const outbound_t *ob)
{
    return ob ? ob->pinned : NULL;
}

static void outbound_easy_cleanup(void *p)
{
    curl_easy_cleanup(p);
}

bool outbound_request(arena_t *a, const char *url, const char *form,
                      const char *const *headers, const outbound_opts_t *o,
                      outbound_reply_t *out)
{
    outbound_opts_t mine = *o;
    struct curl_slist *h = NULL;
    outbound_t *ob;
    CURLcode rc;
    CURL *c;

    memset(out, 0, sizeof *out);
    mine.on_body = NULL;
    pthread_once(&outbound_once, outbound_curl_init);
    if (!outbound_curl_ok || (c = curl_easy_init()) == NULL) {
        out->error = "no curl handle";
        return false;
    }
    arena_cleanup_add(a, outbound_easy_cleanup, c);
    if ((ob = outbound_prepare(a, c, url, &mine, &out->error)) == NULL)
        return false;
    for (size_t i = 0; headers && headers[i]; i++) {
        struct curl_slist *n = curl_slist_append(h, headers[i]);

        if (n == NULL) {
            curl_slist_free_all(h);
            out->error = "out of memory";
            return false;
        }
        h = n;
    }
    if (h)
        arena_cleanup_add(a, outbound_slist_cleanup, h);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (form) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(form));
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    out->body = outbound_body(ob, &out->len);
    if (rc != CURLE_OK) {
        out->error = outbound_error(ob, rc);
        return false;
    }
    return true;
}

bool outbound_get(arena_t *a, const char *url, const outbound_opts_t *o,
                  outbound_reply_t *out)
{
    return outbound_request(a, url, NULL, NULL, o, out);
}
