/* diff.h: unified line diffs of two texts (libgit2's diff of buffers), for the diff of two prompt versions. */
#ifndef PROMPTD_PROMPTS_DIFF_H
#define PROMPTD_PROMPTS_DIFF_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"

typedef struct prompts_diff {
    char *text;          /* the hunks, "@@ -a,b +c,d @@" headers and
                          * ' ', '-', '+' lines; "" when equal; arena-owned */
    size_t additions;    /* '+' lines */
    size_t deletions;    /* '-' lines */
} prompts_diff_t;

/* The unified diff (3 lines of context) from old to new, both
 * NUL-terminated; a missing final newline is marked as diff(1) does.
 * False if libgit2 fails (*out is then unspecified). */
bool prompts_diff(arena_t *a, const char *old, const char *new, prompts_diff_t *out);

#endif
