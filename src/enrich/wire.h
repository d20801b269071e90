/* wire.h: the providers' wire formats (request bodies, answers, stream events), used by provider.c. */
#ifndef PROMPTD_ENRICH_WIRE_H
#define PROMPTD_ENRICH_WIRE_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "core/str.h"
#include "enrich/provider.h"

/* What an answer or a stream has said so far.  Strings from the arena. */
typedef struct wire_state {
    arena_t *arena;
    strbuf_t text;
    long tokens_in, tokens_out;   /* -1 until reported */
    const char *model;
    bool truncated;               /* finish_reason length / stop_reason max_tokens */
    bool finished;                /* the stream's end marker arrived */
    bool garbage;                 /* something unparseable */
    const char *error;            /* an error event's message */
    const provider_call_t *call;
    size_t streamed;
} wire_state_t;

typedef struct wire_format {
    /* URL path after the base URL */
    const char *path;
    /* the API key's header, up to the key ("Authorization: Bearer ") */
    const char *key_header;
    /* one more fixed header ("anthropic-version: ..."), or NULL */
    const char *fixed_header;
    /* the request body, from the arena */
    char *(*body)(arena_t *a, const provider_call_t *call);
    /* a whole (non-streamed) answer */
    void (*answer)(wire_state_t *st, const cJSON *root);
    /* one server-sent event (event may be NULL; data is its data field) */
    void (*event)(wire_state_t *st, const char *event, const char *data);
} wire_format_t;

extern const wire_format_t wire_openai;
extern const wire_format_t wire_anthropic;

/* A request body printed in one buffer sized for the call's text and
 * images (a body of megabytes is not regrown, copy after copy, in the
 * arena). */
char *wire_print(arena_t *a, const cJSON *body, const provider_call_t *call);

/* Append s to the answer and hand it to the stream's delta callback. */
void wire_text(wire_state_t *st, const char *s);

/* Token counts from a usage object (NULL or partial: what it has), under
 * the format's names for input and output tokens. */
void wire_usage(wire_state_t *st, const cJSON *usage, const char *in_key,
                const char *out_key);

#endif
