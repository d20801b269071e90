/* provider.h: calling remote LLM providers (OpenAI chat completions, Anthropic messages) over libcurl. */
#ifndef PROMPTD_ENRICH_PROVIDER_H
#define PROMPTD_ENRICH_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "core/arena.h"
#include "enrich/settings.h"
#include "net/outbound.h"

/* Receives each text chunk of a streamed answer as it arrives. */
typedef void (*provider_delta_fn)(void *ctx, const char *text, size_t len);

/* An image sent with the prompt, ready for the wire. */
typedef struct provider_image {
    const char *mime;          /* image/jpeg, image/png, image/webp or image/gif */
    const char *data_url;      /* "data:<mime>;base64,<bytes>" (OpenAI's image_url) */
    const char *base64;        /* the bytes alone (Anthropic's source.data): the
                                * tail of data_url */
} provider_image_t;

/* One attempt's question.  Strings belong to the caller. */
typedef struct provider_call {
    const chain_link_t *link;
    const char *base_url;      /* OpenAI: ".../v1"; Anthropic: the origin */
    enum outbound_origin origin;/* who chose base_url: a user's is guarded (the zero value) */
    const char *api_key;       /* may be NULL (a local OpenAI-compatible server) */
    const char *system;        /* instructions */
    const char *user;          /* the prompt to enrich */
    const provider_image_t *images; /* sent with it (OpenAI: image_url parts after
                                * the text; Anthropic: image blocks before it) */
    int nimages;
    const char *body;          /* the request body provider_body() built for
                                * this call, or NULL: provider_start builds it
                                * (megabytes with images: build it once for
                                * every attempt of the same question) */
    long max_tokens;
    long timeout_ms;           /* the whole attempt */
    long connect_timeout_ms;
    provider_delta_fn on_delta;/* non-NULL: ask for a stream */
    void *ctx;
} provider_call_t;

enum provider_outcome {
    PROVIDER_OK,
    PROVIDER_TIMEOUT,      /* retryable */
    PROVIDER_CONNECT,      /* retryable: refused, reset, DNS */
    PROVIDER_RATE_LIMITED, /* 429: retryable, honours Retry-After */
    PROVIDER_SERVER,       /* 5xx: retryable */
    PROVIDER_CLIENT,       /* other 4xx (bad key, bad model): not retried */
    PROVIDER_GARBAGE,      /* unparseable answer */
    PROVIDER_TRUNCATED,    /* finish_reason length / stop_reason max_tokens */
    PROVIDER_REFUSED,      /* a refusal instead of a prompt */
    PROVIDER_EMPTY,
    PROVIDER_INVALID,      /* lost a {{variable}} of the input */
    PROVIDER_DROPPED,      /* the stream ended before its end marker */
    PROVIDER_CANCELLED,    /* stopped by the caller: another transfer won */
};

typedef struct provider_answer {
    enum provider_outcome outcome;
    int http_status;           /* 0: no HTTP answer */
    long retry_after_ms;       /* from Retry-After, -1 when absent */
    char *text;                /* the answer (arena), NULL unless OK */
    size_t len;
    long tokens_in, tokens_out;/* as reported, -1 when not */
    const char *model;         /* the model the provider named, or the asked one */
    const char *detail;        /* short cause for attempts[] and the log */
    size_t streamed;           /* bytes already handed to on_delta */
} provider_answer_t;

/* One HTTP exchange with the provider the call's link names; never more
 * than call->timeout_ms.  Fills out (from the arena) and returns its outcome.
 * Validation of the answer's content (refusal, variables) is the caller's. */
enum provider_outcome provider_call(arena_t *a, const provider_call_t *call,
                                    provider_answer_t *out);

/* The JSON body of call (from the arena) in its provider's wire format. */
char *provider_body(arena_t *a, const provider_call_t *call);

/* The same exchange in two halves, for a curl multi handle.  Start
 * prepares the easy handle (outbound_prepare, headers, body) in arena a,
 * whose cleanup frees it; call and the strings it points to must outlive
 * the transfer.  NULL, with out filled (PROVIDER_CONNECT and a detail),
 * when the handle cannot be prepared.  The caller runs the handle
 * (provider_xfer_curl: curl_multi_add_handle or curl_easy_perform) and,
 * once curl reports it done with rc, calls provider_finish, which fills
 * out and returns its outcome.  A transfer the caller abandons (removed
 * from its multi handle) needs no finish. */
typedef struct provider_xfer provider_xfer_t;
provider_xfer_t *provider_start(arena_t *a, const provider_call_t *call,
                                provider_answer_t *out);
enum provider_outcome provider_finish(provider_xfer_t *x, CURLcode rc,
                                      provider_answer_t *out);
/* The transfer's easy handle (owned by the transfer's arena). */
CURL *provider_xfer_curl(const provider_xfer_t *x);

/* A multi handle for one run's transfers, with the connections earlier
 * runs left in it (NULL: out of memory); give it back with every transfer
 * removed.  provider_multi_cleanup() closes the idle ones (at exit). */
CURLM *provider_multi_get(void);
void provider_multi_put(CURLM *m);
void provider_multi_cleanup(void);
/* Header and body bytes received so far (0: the provider is still silent). */
size_t provider_xfer_received(const provider_xfer_t *x);

/* "timeout", "rate_limited", ..., "cancelled" (static). */
const char *provider_outcome_name(enum provider_outcome o);
/* True for the outcomes that say the provider itself is unwell (transport
 * errors, timeouts, 5xx, 429, a dropped stream): only these, on the
 * server's key, count against the shared circuit breaker.  A bad answer to
 * one prompt (truncated, refused, empty, lost variable, garbage) or a
 * client error says nothing about the provider's health for others. */
bool provider_breaker_counts(enum provider_outcome o);
/* True for the outcomes worth another attempt at the same provider: the
 * provider's ill health, and an answer that is unparseable or empty (a
 * glitch a second sampling rarely repeats).  A truncated, refused or
 * variable-losing answer, or a client error, goes to the next provider. */
bool provider_retryable(enum provider_outcome o);

/* Content checks shared by every provider: empty, refusal, and every
 * {{variable}} of input kept.  Returns PROVIDER_OK or the failure. */
enum provider_outcome provider_validate(const char *input, const char *answer,
                                        const char **detail);

#endif
