/* score.h: the deterministic prompt-quality scorer, explained per dimension. */
#ifndef PROMPTD_SCORE_H
#define PROMPTD_SCORE_H

#include <stddef.h>

#include "core/arena.h"
#include "core/str.h"

enum score_dimension {
    SCORE_CLARITY,
    SCORE_SPECIFICITY,
    SCORE_CONTEXT,
    SCORE_STRUCTURE,
    SCORE_OUTPUT_FORMAT,
    SCORE_CONSTRAINTS,
    SCORE_EXAMPLES,
    SCORE_DETAIL,      /* distinct content; for an image, its aspects */
    SCORE_REASONING,   /* reasoning asked for before the answer */
    SCORE_DIMENSION_COUNT
};

typedef struct {
    const char *name;     /* "clarity", "output_format", ... (static) */
    int value;            /* 0..100 */
    const char *reason;   /* one line a user can act on (arena or static) */
} score_dim_t;

typedef struct {
    int total;                                 /* 0..100 */
    const char *kind;                          /* "task", "question", "image" */
    score_dim_t dims[SCORE_DIMENSION_COUNT];
    const char **suggestions;                  /* from the arena */
    int nsuggestions;
} score_t;

/* Score prompt (valid UTF-8, len bytes).  Deterministic; does not reward
 * length for its own sake.  Returns 0, or -1 on bad input. */
int score_prompt(arena_t *a, const char *prompt, size_t len, score_t *out);

/* Append {"total":N,"kind":"task","dimensions":{"clarity":{"value":N,"reason":"..."},...}}
 * (no suggestions: callers place those where their answer wants them). */
void score_json_append(strbuf_t *sb, const score_t *s);

#endif
