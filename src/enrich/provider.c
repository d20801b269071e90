/* provider.c: one HTTP exchange with an LLM provider over libcurl (JSON or server-sent events), and answer validation. */
#include "enrich/provider.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "core/json.h"
#include "enrich/wire.h"
#include "net/outbound.h"

/* What one transfer may keep in memory, every buffer counted (the raw
 * body, the SSE line, event name and data being assembled, the answer's
 * text): an answer bigger than this is garbage. */
#define PROVIDER_MAX_BODY (4u << 20)

/* The transfer's state, shared by the curl callbacks. */
struct provider_xfer {
    CURL *curl;
    outbound_t *ob;            /* the outbound guard's state */
    wire_state_t st;
    const wire_format_t *wf;
    bool streaming;            /* a 200 to a stream request: parse SSE */
    bool checked;              /* the status was looked at */
    strbuf_t raw;              /* a non-streamed body (or an error body) */
    strbuf_t line;             /* the SSE line being assembled */
    strbuf_t data;             /* the SSE event's data lines */
    strbuf_t event;            /* the SSE event's name (empty: none) */
    long retry_after_ms;
    size_t received;           /* header and body bytes so far */
    bool overflow;
};
typedef struct provider_xfer xfer_t;

/* DNS answers and TLS sessions, shared by every provider transfer of the
 * process on any thread (one mutex per kind of data); created once, never
 * freed.  Only operator URLs use it: a user URL's transfer is pinned to
 * the addresses the outbound guard checked (CURLOPT_RESOLVE) and must
 * neither feed nor read a shared cache.  Connections are not shared:
 * libcurl does not support sharing its connection cache between
 * concurrent threads (CURLSHOPT_SHARE): connections live in the multi
 * handles runs borrow one at a time (provider_multi_get). */
static pthread_once_t provider_share_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t provider_share_mutex[CURL_LOCK_DATA_LAST];
static CURLSH *provider_share;

static void provider_share_lock(CURL *c, curl_lock_data data, curl_lock_access how, void *ud)
{
    (void)c, (void)how, (void)ud;
    if ((unsigned)data < CURL_LOCK_DATA_LAST)
        pthread_mutex_lock(&provider_share_mutex[data]);
}

static void provider_share_unlock(CURL *c, curl_lock_data data, void *ud)
{
    (void)c, (void)ud;
    if ((unsigned)data < CURL_LOCK_DATA_LAST)
        pthread_mutex_unlock(&provider_share_mutex[data]);
}

static void provider_share_init(void)
{
    CURLSH *sh = curl_share_init();

    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&provider_share_mutex[i], NULL);
    if (sh == NULL)
        return;
    if (curl_share_setopt(sh, CURLSHOPT_LOCKFUNC, provider_share_lock) != CURLSHE_OK ||
        curl_share_setopt(sh, CURLSHOPT_UNLOCKFUNC, provider_share_unlock) != CURLSHE_OK ||
        curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK ||
        curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK) {
        curl_share_cleanup(sh);
        return;
    }
    provider_share = sh;
}

/* The process's share for operator URLs, or NULL (then nothing is shared). */
static CURLSH *provider_share_get(void)
{
    pthread_once(&provider_share_once, provider_share_init);
    return provider_share;
}

/* Multi handles between runs, each with the connections its runs left
 * open (keep-alive; HTTP/2 where the provider offers it): a run borrows
 * one for its whole life, so a connection is used by one thread at a time,
 * as libcurl requires, and the next run on it needs no new handshake. */
#define PROVIDER_IDLE_MULTIS 512
static pthread_mutex_t provider_multi_mutex = PTHREAD_MUTEX_INITIALIZER;
static CURLM *provider_multi_idle[PROVIDER_IDLE_MULTIS];
static int provider_multi_nidle;

CURLM *provider_multi_get(void)
{
    CURLM *m = NULL;

    pthread_mutex_lock(&provider_multi_mutex);
    if (provider_multi_nidle > 0)
        m = provider_multi_idle[--provider_multi_nidle];
    pthread_mutex_unlock(&provider_multi_mutex);
    return m ? m : curl_multi_init();
}

void provider_multi_put(CURLM *m)
{
    if (m == NULL)
        return;
    pthread_mutex_lock(&provider_multi_mutex);
    if (provider_multi_nidle < PROVIDER_IDLE_MULTIS) {
        provider_multi_idle[provider_multi_nidle++] = m;
        m = NULL;
    }
    pthread_mutex_unlock(&provider_multi_mutex);
    if (m)
        curl_multi_cleanup(m);
}

void provider_multi_cleanup(void)
{
    pthread_mutex_lock(&provider_multi_mutex);
    while (provider_multi_nidle > 0)
        curl_multi_cleanup(provider_multi_idle[--provider_multi_nidle]);
    pthread_mutex_unlock(&provider_multi_mutex);
}

const char *provider_outcome_name(enum provider_outcome o)
{
    static const char *const names[] = {
        "ok", "timeout", "connect_error", "rate_limited", "server_error",
        "client_error", "garbage", "truncated", "refused", "empty", "invalid",
        "dropped", "cancelled",
    };

    return (size_t)o < sizeof(names) / sizeof(names[0]) ? names[o] : "error";
}

bool provider_breaker_counts(enum provider_outcome o)
{
    return o == PROVIDER_TIMEOUT || o == PROVIDER_CONNECT ||
           o == PROVIDER_RATE_LIMITED || o == PROVIDER_SERVER ||
           o == PROVIDER_DROPPED;
}

bool provider_retryable(enum provider_outcome o)
{
    return provider_breaker_counts(o) || o == PROVIDER_GARBAGE || o == PROVIDER_EMPTY;
}

char *wire_print(arena_t *a, const cJSON *body, const provider_call_t *call)
{
    size_t cap = 1024 + 2 * (strlen(call->system) + strlen(call->user));
    strbuf_t sb;

    for (int i = 0; i < call->nimages; i++)
        cap += strlen(call->images[i].data_url) + 128;
    strbuf_init(&sb, a, cap);
    json_append(&sb, body);
    return sb.ptr;
}

void wire_text(wire_state_t *st, const char *s)
{
    size_t n = strlen(s);

    if (n == 0)
        return;
    strbuf_append(&st->text, s, n);
    if (st->call->on_delta) {
        st->call->on_delta(st->call->ctx, s, n);
        st->streamed += n;
    }
}

void wire_usage(wire_state_t *st, const cJSON *usage, const char *in_key,
                const char *out_key)
{
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(usage, in_key);
    const cJSON *out = cJSON_GetObjectItemCaseSensitive(usage, out_key);

    if (cJSON_IsNumber(in))
        st->tokens_in = (long)in->valuedouble;
    if (cJSON_IsNumber(out))
        st->tokens_out = (long)out->valuedouble;
}

/* Retry-After: delta-seconds or an HTTP date. */
static long provider_retry_after(const char *v)
{
    char *end;
    long s;

    while (*v == ' ')
        v++;
    s = strtol(v, &end, 10);
    if (end != v && (*end == '\0' || isspace((unsigned char)*end)))
        return s < 0 ? 0 : (s > 86400 ? 86400000L : s * 1000);
    {
        time_t t = curl_getdate(v, NULL);

        if (t > 0)
            return t > time(NULL) ? (long)(t - time(NULL)) * 1000 : 0;
    }
    return -1;
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
    xfer_t *x = ud;
    size_t len = size * n;

    x->received += len;
    if (len > 12 && strncasecmp(buf, "retry-after:", 12) == 0) {
        char v[64];
        size_t vl = len - 12 < sizeof v - 1 ? len - 12 : sizeof v - 1;

        memcpy(v, buf + 12, vl);
        v[vl] = '\0';
        v[strcspn(v, "\r\n")] = '\0';
        x->retry_after_ms = provider_retry_after(v);
    }
    return len;
}

/* One complete SSE line (without its end of line). */
static void sse_line(xfer_t *x, const char *l, size_t n)
{
    if (n == 0) {                      /* dispatch */
        if (x->data.len > 0)
            x->wf->event(&x->st, x->event.len ? x->event.ptr : NULL, x->data.ptr);
        x->data.len = 0;
        x->data.ptr[0] = '\0';
        x->event.len = 0;
        x->event.ptr[0] = '\0';
        return;
    }
    if (l[0] == ':')
        return;
    if (n >= 5 && strncmp(l, "data:", 5) == 0) {
        size_t off = n > 5 && l[5] == ' ' ? 6 : 5;

        if (x->data.len > 0)
            strbuf_putc(&x->data, '\n');
        strbuf_append(&x->data, l + off, n - off);
    } else if (n >= 6 && strncmp(l, "event:", 6) == 0) {
        size_t off = n > 6 && l[6] == ' ' ? 7 : 6;

        x->event.len = 0;
        strbuf_append(&x->event, l + off, n - off);
    }
}

/* Bytes the transfer keeps: every buffer that grows with the answer. */
static size_t xfer_kept(const xfer_t *x)
{
    return x->raw.len + x->line.len + x->data.len + x->event.len + x->st.text.len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *ud)
{
    xfer_t *x = ud;
    size_t len = size * n;

    x->received += len;
    if (!x->checked) {
        long code = 0;

        curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &code);
        x->streaming = x->st.call->on_delta != NULL && code == 200;
        x->checked = true;
    }
    if (xfer_kept(x) + len > PROVIDER_MAX_BODY) {
        x->overflow = true;
        return 0;
    }
    if (!x->streaming) {
        strbuf_append(&x->raw, buf, len);
        return len;
    }
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\n') {
            size_t ll = x->line.len;

            if (ll > 0 && x->line.ptr[ll - 1] == '\r')
                ll--;
            sse_line(x, x->line.ptr, ll);
            x->line.len = 0;
            x->line.ptr[0] = '\0';
        } else {
            strbuf_putc(&x->line, buf[i]);
        }
    }
    if (xfer_kept(x) > PROVIDER_MAX_BODY) {   /* an event's text landed */
        x->overflow = true;
        return 0;
    }
    return len;
}

static void provider_curl_cleanup(void *p)
{
    curl_easy_cleanup(p);
}

static void provider_slist_cleanup(void *p)
{
    curl_slist_free_all(p);
}

/* The outcome of a finished transfer with HTTP status code. */
static enum provider_outcome provider_classify(xfer_t *x, CURLcode rc, long code,
                                               provider_answer_t *out)
{
    /* a cap of ours (the provider's or the outbound guard's) cut the answer */
    bool too_big = x->overflow || rc == CURLE_FILESIZE_EXCEEDED ||
                   (rc == CURLE_WRITE_ERROR && outbound_stopped(x->ob));

    if (rc == CURLE_OPERATION_TIMEDOUT) {
        out->detail = "timed out";
        return PROVIDER_TIMEOUT;
    }
    if (rc != CURLE_OK && !too_big) {
        out->detail = outbound_error(x->ob, rc);
        /* an answer had begun: the connection dropped mid-way */
        return code > 0 ? PROVIDER_DROPPED : PROVIDER_CONNECT;
    }
    if (too_big) {
        out->detail = outbound_stopped(x->ob) ? outbound_stopped(x->ob)
                                              : "the answer is too large";
        return PROVIDER_GARBAGE;
    }
    if (code == 429) {
        out->detail = "rate limited";
        return PROVIDER_RATE_LIMITED;
    }
    if (code >= 500) {
        out->detail = arena_printf(x->st.arena, "HTTP %ld", code);
        return PROVIDER_SERVER;
    }
    if (code != 200) {
        out->detail = arena_printf(x->st.arena, "HTTP %ld", code);
        return PROVIDER_CLIENT;
    }
    if (!x->streaming) {
        cJSON *root = cJSON_ParseWithLength(x->raw.ptr, x->raw.len);

        if (root == NULL) {
            out->detail = "the answer is not JSON";
            return PROVIDER_GARBAGE;
        }
        x->wf->answer(&x->st, root);
        cJSON_Delete(root);
    } else if (x->line.len > 0) {
        sse_line(x, x->line.ptr, x->line.len);
        sse_line(x, "", 0);
        if (xfer_kept(x) > PROVIDER_MAX_BODY) {
            out->detail = "the answer is too large";
            return PROVIDER_GARBAGE;
        }
    }
    if (x->st.error) {
        out->detail = x->st.error;
        return x->st.streamed ? PROVIDER_DROPPED : PROVIDER_SERVER;
    }
    if (x->st.garbage) {
        out->detail = "the answer is malformed";
        return PROVIDER_GARBAGE;
    }
    if (x->st.truncated) {
        out->detail = "the answer was cut at the token limit";
        return PROVIDER_TRUNCATED;
    }
    if (!x->st.finished) {
        out->detail = "the stream ended before its end marker";
        return PROVIDER_DROPPED;
    }
    return PROVIDER_OK;
}

static const wire_format_t *provider_wire(const provider_call_t *call)
{
    return call->link->kind == PROVIDER_ANTHROPIC ? &wire_anthropic : &wire_openai;
}

char *provider_body(arena_t *a, const provider_call_t *call)
{
    return provider_wire(call)->body(a, call);
}

provider_xfer_t *provider_start(arena_t *a, const provider_call_t *call,
                                provider_answer_t *out)
{
    const wire_format_t *wf = provider_wire(call);
    xfer_t *x = arena_zalloc(a, sizeof(*x));
    struct curl_slist *h = NULL;
    char *url, *body;

    memset(out, 0, sizeof(*out));
    out->retry_after_ms = -1;
    out->tokens_in = out->tokens_out = -1;
    out->model = call->link->model;
    x->wf = wf;
    x->st.arena = a;
    x->st.call = call;
    x->st.tokens_in = x->st.tokens_out = -1;
    x->retry_after_ms = -1;
    strbuf_init(&x->st.text, a, 1024);
    strbuf_init(&x->raw, a, 1024);
    strbuf_init(&x->line, a, 256);
    strbuf_init(&x->data, a, 256);
    strbuf_init(&x->event, a, 32);
    if ((x->curl = curl_easy_init()) == NULL) {
        out->detail = "no curl handle";
        out->outcome = PROVIDER_CONNECT;
        return NULL;
    }
    arena_cleanup_add(a, provider_curl_cleanup, x->curl);
    url = arena_printf(a, "%s%s", call->base_url, wf->path);
    body = call->body ? (char *)call->body : wf->body(a, call);
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, call->on_delta ? "Accept: text/event-stream"
                                            : "Accept: application/json");
    h = curl_slist_append(h, "Expect:");
    if (wf->fixed_header)
        h = curl_slist_append(h, wf->fixed_header);
    if (call->api_key && *call->api_key)
        h = curl_slist_append(h, arena_printf(a, "%s%s", wf->key_header, call->api_key));
    arena_cleanup_add(a, provider_slist_cleanup, h);
    {
        outbound_opts_t o = {
            .origin = call->origin,
            .timeout_ms = call->timeout_ms,
            .connect_timeout_ms = call->connect_timeout_ms,
            .max_body = PROVIDER_MAX_BODY,
            .user_agent = "promptd-enrich/1",
            .on_body = on_body, .body_ctx = x,
            .on_header = on_header, .header_ctx = x,
        };
        const char *why;

        if ((x->ob = outbound_prepare(a, x->curl, url, &o, &why)) == NULL) {
            out->detail = why;
            out->outcome = PROVIDER_CONNECT;
            return NULL;
        }
    }
    if (call->origin == OUTBOUND_OPERATOR_URL && provider_share_get())
        curl_easy_setopt(x->curl, CURLOPT_SHARE, provider_share_get());
    curl_easy_setopt(x->curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(x->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(x->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    return x;
}

CURL *provider_xfer_curl(const provider_xfer_t *x)
{
    return x->curl;
}

size_t provider_xfer_received(const provider_xfer_t *x)
{
    return x->received;
}

enum provider_outcome provider_finish(provider_xfer_t *x, CURLcode rc,
                                      provider_answer_t *out)
{
    long code = 0;

    curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &code);
    out->http_status = (int)code;
    out->retry_after_ms = x->retry_after_ms;
    out->outcome = provider_classify(x, rc, code, out);
    out->streamed = x->st.streamed;
    if (x->st.model)
        out->model = x->st.model;
    out->tokens_in = x->st.tokens_in;
    out->tokens_out = x->st.tokens_out;
    if (out->outcome == PROVIDER_OK) {
        out->text = x->st.text.ptr;
        out->len = x->st.text.len;
    }
    return out->outcome;
}

enum provider_outcome provider_call(arena_t *a, const provider_call_t *call,
                                    provider_answer_t *out)
{
    provider_xfer_t *x = provider_start(a, call, out);

    if (x == NULL)
        return out->outcome;
    return provider_finish(x, curl_easy_perform(x->curl), out);
}

/* Lower-cased start of s, skipping leading space and quotes. */
static bool provider_starts(const char *s, const char *prefix)
{
    while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '"' || *s == '*')
        s++;
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

enum provider_outcome provider_validate(const char *input, const char *answer,
                                        const char **detail)
{
    static const char *const refusals[] = {
        "I'm sorry", "I am sorry", "I’m sorry", "Sorry, I", "I can't", "I can’t",
        "I cannot", "I won't", "I will not", "I'm unable", "I am unable",
        "I’m unable", "As an AI", "I apologize", "I must decline", NULL};
    const char *p;

    for (p = answer; *p && isspace((unsigned char)*p); p++)
        ;
    if (*p == '\0') {
        *detail = "the answer is empty";
        return PROVIDER_EMPTY;
    }
    for (const char *const *r = refusals; *r; r++)
        if (provider_starts(answer, *r)) {
            *detail = "the answer is a refusal, not a prompt";
            return PROVIDER_REFUSED;
        }
    /* every {{variable}} of the input survives */
    for (p = strstr(input, "{{"); p; p = strstr(p + 2, "{{")) {
        const char *end = strstr(p + 2, "}}");
        char var[256];
        size_t n;

        if (end == NULL)
            break;
        n = (size_t)(end - p) + 2;
        if (n >= sizeof var || memchr(p + 2, '{', (size_t)(end - p) - 2))
            continue;
        memcpy(var, p, n);
        var[n] = '\0';
        if (strstr(answer, var) == NULL) {
            *detail = "the answer lost a {{variable}} of the prompt";
            return PROVIDER_INVALID;
        }
    }
    *detail = NULL;
    return PROVIDER_OK;
}
