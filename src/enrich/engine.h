/* engine.h: the local enrichment engine: deterministic, rule-based prompt
 * rewriting that needs no network (the default provider and last fallback). */
#ifndef PROMPTD_ENGINE_H
#define PROMPTD_ENGINE_H

#include <stddef.h>

#include "core/arena.h"

/* Bumped whenever the engine's output for some input changes: it is part of
 * every cache key, so old cached results are never served as new ones. */
#define ENGINE_VERSION "local-3"

typedef enum {
    ENGINE_IMPROVE,   /* default: apply every principle that is missing */
    ENGINE_STRUCTURE, /* sections and delimiters, little new wording */
    ENGINE_CLARIFY,   /* resolve vagueness; mark missing essentials */
    ENGINE_EXPAND,    /* add context, audience, format, examples slots */
    ENGINE_CONCISE,   /* remove filler, keep every constraint; add one
                         compact line for a missing format or length */
    ENGINE_MODE_COUNT
} engine_mode_t;

typedef struct {
    engine_mode_t mode;
    const char *goal;          /* caller's stated goal, or NULL */
    const char *target_model;  /* model the prompt is meant for, or NULL */
} engine_opts_t;

typedef struct {
    char *text;                /* NUL-terminated, from the arena */
    size_t len;
    const char **suggestions;  /* what the user could still add; from the arena */
    int nsuggestions;
} engine_result_t;

/* "improve" -> ENGINE_IMPROVE; returns -1 for an unknown name. */
int engine_mode_parse(const char *name, engine_mode_t *out);
const char *engine_mode_name(engine_mode_t mode);

/* Rewrite prompt (valid UTF-8, len bytes, len > 0).  Deterministic: the same
 * input and options give the same bytes.  Every number, name, quoted string,
 * code block and {{variable}} of the input appears verbatim in the output;
 * missing essentials become clearly marked placeholders, never invented
 * facts.  Everything is allocated from a.  Returns 0, or -1 on bad input. */
int engine_enrich(arena_t *a, const char *prompt, size_t len,
                  const engine_opts_t *opts, engine_result_t *out);

#endif
