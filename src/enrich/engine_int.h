/* engine_int.h: what the local engine's files (engine*.c) share: units, the working state, small helpers, the stages and writers. */
#ifndef PROMPTD_ENGINE_INT_H
#define PROMPTD_ENGINE_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/str.h"
#include "enrich/engine.h"
#include "enrich/lex.h"
#include "enrich/score_int.h"

enum unit_kind {
    U_TEXT, U_LIST, U_HEADING,
    U_CODE,   /* a fenced block or a <tag> ... </tag> block: kept whole */
};
enum unit_role {
    R_TASK, R_CONTEXT, R_MATERIAL, R_CONSTRAINT, R_FORMAT, R_EXAMPLE,
    R_DROP,  /* a bare pleasantry ("Thanks!"): rewriting modes leave it out */
    R_LABEL  /* a bare section label ("Rules:"): replaced by a section */
};

typedef struct {
    size_t start, end;  /* [start, end) in the prompt, trimmed */
    int kind;           /* enum unit_kind */
    int role;           /* enum unit_role */
    int para;           /* paragraph number */
    bool intro;         /* ends with ':' and announces material */
} unit_t;

typedef struct {
    arena_t *a;
    const char *s;
    size_t len;
    const engine_opts_t *opts;
    lex_span_t *spans;
    int nspans;
    unit_t *u;
    int nu;
    lex_stats_t all;             /* the whole prompt */
    score_scan_t k;              /* the scorer's scan: kind, image aspects */
    bool image;                  /* an image-generation prompt */
    enum lex_category cat;
    bool xml;                    /* sections as <tags> (Claude-style) */
    bool reasoning;              /* o1/o3/o4-style model: reasons itself */
    const char *goal;            /* the caller's goal, trimmed; NULL if none */
    const char **sugg;
    int nsugg, capsugg;
} eng_t;

static inline bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static inline int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Case-insensitive prefix test of ASCII phrase p at s[0..n). */
static inline bool has_prefix(const char *s, size_t n, const char *p)
{
    size_t k = 0;

    for (; p[k]; k++)
        if (k >= n || lower((unsigned char)s[k]) != p[k])
            return false;
    return true;
}

/* Index of the first span ending after pos (binary search). */
static inline int span_at(const eng_t *e, size_t pos)
{
    int lo = 0, hi = e->nspans;

    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (e->spans[mid].end <= pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Placeholders: the engine's one marker is "[[Add: ...]]" for a missing
 * essential (and "[[Clarify: ...]]" for a vague word in clarify mode).
 * The suggestion text is the placeholder without its brackets. */
#define PH(text) "[[Add: " text "]]"

/* engine_units.c: cut e->s into e->u (never inside a protected span). */
void engine_split_units(eng_t *e);
/* Do any of the (up to) maxw words before s[colon] announce material?
 * Looks back at most 160 bytes, so the cost per colon is constant. */
bool engine_announces_material(const char *s, size_t start, size_t colon,
                               int maxw);

/* engine_roles.c: give every unit its role. */
void engine_classify(eng_t *e);

/* engine_put.c */
/* Record text (owned by the arena or static) as a suggestion. */
void engine_suggest(eng_t *e, const char *text);
/* Append unit u; when rewrite, with its opening rewritten and without
 * filler words ("pls", "basically"). */
void engine_put_clean(eng_t *e, strbuf_t *sb, const unit_t *u, bool rewrite);
/* The separator between two units in the original, normalised: a blank
 * line between paragraphs, a newline between lines, else a space. */
void engine_put_gap(strbuf_t *sb, const char *s, size_t from, size_t to);

/* engine_ask.c */
const char *engine_ph_audience(const eng_t *e);
const char *engine_ph_format(const eng_t *e);
bool engine_refers_to_material(const eng_t *e);
bool engine_has_role(const eng_t *e, int role);
void engine_emit_line(strbuf_t *sb, bool *first, const char *prefix,
                      const char *text);
void engine_placeholder(eng_t *e, strbuf_t *sb, bool *first,
                        const char *prefix, const char *ph, bool insert);
void engine_clarify_vague(eng_t *e, strbuf_t *sb, bool *first,
                          const char *prefix, int role, bool each_line);

/* The writers, one per mode group. */
void engine_write_sections(eng_t *e, strbuf_t *sb, engine_mode_t mode);
void engine_write_clarify(eng_t *e, strbuf_t *sb);
void engine_write_concise(eng_t *e, strbuf_t *sb);
/* engine_image.c: every mode of an image prompt: the description, then
 * labelled slots for the image aspects it lacks (never task sections). */
void engine_write_image(eng_t *e, strbuf_t *sb, engine_mode_t mode);

#endif
