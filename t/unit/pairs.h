/* pairs.h: loads t/unit/data/enrich-pairs.txt, the engine and scorer test set. */
#ifndef PROMPTD_TEST_PAIRS_H
#define PROMPTD_TEST_PAIRS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"

typedef struct {
    const char *category;
    char *before, *after;  /* NUL-terminated, trailing newlines trimmed */
} pair_t;

static char *pairs_trim(char *s)
{
    size_t n = strlen(s);

    while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
    return s;
}

/* Load every pair into *out (arena memory); returns the count, -1 when the
 * file cannot be read.  Lines starting with "% " are comments.  The file lives beside this header; PROMPTD_SRC_DIR
 * (set by make check) or the build's SQL directory locate it. */
static int pairs_load(arena_t *a, pair_t **out)
{
    const char *src = getenv("PROMPTD_SRC_DIR");
    char *path = src ? arena_printf(a, "%s/t/unit/data/enrich-pairs.txt", src)
                     : arena_printf(a, "%s/../t/unit/data/enrich-pairs.txt",
                                    PROMPTD_DEFAULT_SQL_DIR);
    FILE *f = fopen(path, "r");
    char line[4096];
    int n = 0, cap = 64;
    pair_t *v = arena_zalloc(a, (size_t)cap * sizeof(*v));
    char *buf = NULL;
    size_t blen = 0, bcap = 0;
    char **target = NULL;

    if (!f)
        return -1;
    for (;;) {
        char *l = fgets(line, sizeof(line), f);
        int header = l && (strncmp(l, "=== ", 4) == 0 ||
                           strncmp(l, "--- ", 4) == 0);
        if ((!l || header) && target) {
            *target = pairs_trim(arena_strndup(a, buf ? buf : "", blen));
            target = NULL;
            blen = 0;
        }
        if (!l)
            break;
        if (strncmp(l, "% ", 2) == 0)
            continue; /* a comment */
        if (strncmp(l, "=== ", 4) == 0) {
            if (n == cap) {
                pair_t *nv = arena_zalloc(a, 2 * (size_t)cap * sizeof(*nv));
                memcpy(nv, v, (size_t)cap * sizeof(*nv));
                v = nv;
                cap *= 2;
            }
            v[n++].category = pairs_trim(arena_strdup(a, l + 4));
        } else if (strncmp(l, "--- before", 10) == 0 && n) {
            target = &v[n - 1].before;
        } else if (strncmp(l, "--- after", 9) == 0 && n) {
            target = &v[n - 1].after;
        } else if (target) {
            size_t k = strlen(l);
            if (blen + k + 1 > bcap) {
                bcap = (blen + k + 1) * 2;
                buf = realloc(buf, bcap);
                if (!buf)
                    abort();
            }
            memcpy(buf + blen, l, k);
            blen += k;
        }
    }
    fclose(f);
    free(buf);
    *out = v;
    return n;
}

#endif
