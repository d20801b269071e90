/* quality.h: loads t/data/quality/, the published worse/better prompt pairs and their tune/heldout split. */
#ifndef PROMPTD_TEST_QUALITY_H
#define PROMPTD_TEST_QUALITY_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"

/* The kinds a pair may carry (t/data/quality/README.md), NULL-terminated. */
static const char *const quality_kinds[] = {
    "question", "writing", "coding", "extraction", "analysis", "agent",
    "system", "structured", "reasoning", "fewshot", "image", NULL};

typedef struct {
    const char *id;            /* file stem: t/data/quality/<id>.txt */
    const char *name, *url, *licence, *reproduction; /* header fields */
    int heldout;               /* SPLIT says heldout */
    int first, npairs;         /* its pairs: set->pairs[first .. first+npairs) */
} qsource_t;

typedef struct {
    const qsource_t *source;
    const char *kind, *lang;
    char *worse, *better;      /* NUL-terminated, trailing blanks trimmed */
} qpair_t;

typedef struct {
    qsource_t *sources;
    int nsources;
    qpair_t *pairs;
    int npairs;
    const char *error;         /* why quality_load() failed (arena or static) */
} qset_t;

/* Index of kind in quality_kinds, -1 if it is not one. */
static int quality_kind_index(const char *kind)
{
    for (int i = 0; quality_kinds[i]; i++)
        if (strcmp(quality_kinds[i], kind) == 0)
            return i;
    return -1;
}

static char *quality_trim(char *s)
{
    size_t n = strlen(s);

    while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* The data directory: $PROMPTD_SRC_DIR/t/data/quality, else beside the
 * build's SQL directory.  Arena memory. */
static const char *quality_dir(arena_t *a)
{
    const char *src = getenv("PROMPTD_SRC_DIR");

    return src ? arena_printf(a, "%s/t/data/quality", src)
               : arena_printf(a, "%s/../t/data/quality", PROMPTD_DEFAULT_SQL_DIR);
}

/* Text accumulated for the open "--- worse"/"--- better" section. */
typedef struct {
    char *buf;
    size_t len, cap;
    char **target;
} qtext_t;

static void quality_text_flush(arena_t *a, qtext_t *t)
{
    if (t->target)
        *t->target = quality_trim(arena_strndup(a, t->buf ? t->buf : "", t->len));
    t->target = NULL;
    t->len = 0;
}

static void quality_text_add(qtext_t *t, const char *l)
{
    size_t k = strlen(l);

    if (t->len + k + 1 > t->cap) {
        t->cap = (t->len + k + 1) * 2;
        t->buf = realloc(t->buf, t->cap);
        if (!t->buf)
            abort();
    }
    memcpy(t->buf + t->len, l, k);
    t->len += k;
}

static qpair_t *quality_new_pair(arena_t *a, qset_t *s, int *cap)
{
    if (s->npairs == *cap) {
        qpair_t *nv = arena_zalloc(a, 2 * (size_t)*cap * sizeof(*nv));
        memcpy(nv, s->pairs, (size_t)*cap * sizeof(*nv));
        s->pairs = nv;
        *cap *= 2;
    }
    return &s->pairs[s->npairs++];
}

/* One "key: value" header line into src; other lines are ignored. */
static void quality_header(arena_t *a, qsource_t *src, const char *l)
{
    static const char *const keys[] = {"source: ", "url: ", "licence: ",
                                       "reproduction: ", NULL};
    const char **dst[] = {&src->name, &src->url, &src->licence,
                          &src->reproduction};

    for (int i = 0; keys[i]; i++)
        if (strncmp(l, keys[i], strlen(keys[i])) == 0)
            *dst[i] = quality_trim(arena_strdup(a, l + strlen(keys[i])));
}

/* Append the pairs of <dir>/<src->id>.txt to s.  Returns 0, or -1 with
 * s->error set. */
static int quality_load_file(arena_t *a, const char *dir, qsource_t *src,
                             qset_t *s, int *cap)
{
    FILE *f = fopen(arena_printf(a, "%s/%s.txt", dir, src->id), "r");
    char line[8192];
    qtext_t t = {0};
    qpair_t *p = NULL;
    int rc = -1;

    if (!f) {
        s->error = arena_printf(a, "%s/%s.txt: cannot open", dir, src->id);
        return -1;
    }
    src->first = s->npairs;
    for (;;) {
        char *l = fgets(line, sizeof(line), f);
        int header = l && (!strncmp(l, "=== ", 4) || !strncmp(l, "--- ", 4));
        if (!l || header)
            quality_text_flush(a, &t);
        if (!l)
            break;
        if (!strncmp(l, "% ", 2) || (!strcmp(l, "%\n")))
            continue;
        if (!strncmp(l, "=== ", 4)) {
            char kind[64], lang[16];
            if (sscanf(l + 4, "%63s %15s", kind, lang) != 2 ||
                quality_kind_index(kind) < 0) {
                s->error = arena_printf(a, "%s: bad pair line: %s", src->id,
                                        quality_trim(l));
                goto out;
            }
            p = quality_new_pair(a, s, cap);
            p->source = src;
            p->kind = arena_strdup(a, kind);
            p->lang = arena_strdup(a, lang);
        } else if (!strncmp(l, "--- worse", 9) && p) {
            t.target = &p->worse;
        } else if (!strncmp(l, "--- better", 10) && p) {
            t.target = &p->better;
        } else if (t.target) {
            quality_text_add(&t, l);
        } else if (!p) {
            quality_header(a, src, l);
        }
    }
    src->npairs = s->npairs - src->first;
    for (int i = src->first; i < s->npairs; i++)
        if (!s->pairs[i].worse || !*s->pairs[i].worse ||
            !s->pairs[i].better || !*s->pairs[i].better) {
            s->error = arena_printf(a, "%s: pair %d lacks a text", src->id,
                                    i - src->first + 1);
            goto out;
        }
    if (!src->name || !src->url || !src->licence || !src->reproduction) {
        s->error = arena_printf(a, "%s: header incomplete", src->id);
        goto out;
    }
    rc = 0;
out:
    free(t.buf);
    fclose(f);
    return rc;
}

/* Load SPLIT and every source it names from dir (NULL: quality_dir()).
 * Everything lives in a.  Returns the number of pairs, or -1 with
 * out->error set (unreadable file, unknown kind, empty text, bad SPLIT). */
static int quality_load(arena_t *a, const char *dir, qset_t *out)
{
    FILE *f;
    char line[512];
    int scap = 64, pcap = 256;

    memset(out, 0, sizeof(*out));
    dir = dir ? dir : quality_dir(a);
    if (!(f = fopen(arena_printf(a, "%s/SPLIT", dir), "r"))) {
        out->error = "SPLIT: cannot open";
        return -1;
    }
    out->sources = arena_zalloc(a, (size_t)scap * sizeof(*out->sources));
    out->pairs = arena_zalloc(a, (size_t)pcap * sizeof(*out->pairs));
    while (fgets(line, sizeof(line), f)) {
        char id[128], side[16];
        if (line[0] == '%' || line[0] == '\n')
            continue;
        if (sscanf(line, "%127s %15s", id, side) != 2 ||
            (strcmp(side, "tune") && strcmp(side, "heldout")) ||
            out->nsources == scap) {
            out->error = arena_printf(a, "SPLIT: bad line: %s", line);
            fclose(f);
            return -1;
        }
        out->sources[out->nsources].id = arena_strdup(a, id);
        out->sources[out->nsources++].heldout = strcmp(side, "heldout") == 0;
    }
    fclose(f);
    for (int i = 0; i < out->nsources; i++)
        if (quality_load_file(a, dir, &out->sources[i], out, &pcap) < 0)
            return -1;
    return out->npairs;
}

#endif
