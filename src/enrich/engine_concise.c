/* engine_concise.c: the local engine's concise writer: hedges, filler, pleasantries and repeated sentences removed, and one compact line for a missing output format or length. */
#include <stdint.h>
#include <string.h>

#include "enrich/engine_int.h"

static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;

    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    return h;
}

/* The compact output line for a prompt that leaves the answer's length
 * open, fitted to its task: a brevity constraint (a placeholder for the
 * exact length where the task does not fix it) and, in both, the format
 * too (a placeholder unless the task fixes it, as code does); len_only
 * when the format is already stated. */
typedef struct {
    const char *both, *len_only;
} concise_line_t;

static const concise_line_t *concise_line(const eng_t *e)
{
    static const concise_line_t code = {
        "Reply with one code block, then a brief explanation.",
        "Keep the explanation brief."};
    static const concise_line_t extract = {
        "Return only the result, in the format " PH("e.g. JSON with the "
        "field names you need") ".",
        "Return only the result, nothing else."};
    static const concise_line_t qa = {
        "Answer directly first, then explain briefly "
        "(" PH("the length, e.g. at most 3 sentences") ").",
        "Give the direct answer first and keep it brief."};
    static const concise_line_t summary = {
        "Keep the summary brief, in the format " PH("e.g. 5 bullet "
        "points or one paragraph") ".",
        "Keep it brief: " PH("the length, e.g. under 100 words") "."};
    static const concise_line_t system = { /* "You are ...": every answer */
        "Keep every answer brief, in the format " PH("e.g. 3 bullet "
        "points or one short paragraph") ".",
        "Keep every answer brief: " PH("the length, e.g. under 150 "
        "words") "."};
    static const concise_line_t general = {
        "Answer briefly, in the format " PH("e.g. 3 bullet points or one "
        "short paragraph") ".",
        "Keep it brief: " PH("the length, e.g. under 150 words") "."};

    switch (e->cat) {
    case LEX_CAT_CODE: return &code;
    case LEX_CAT_EXTRACT: return &extract;
    case LEX_CAT_SUMMARY: return &summary;
    case LEX_CAT_QA: return &qa;
    default: /* "Can you write ...?" is a request, not a question */
        return e->k.kind == SCORE_KIND_QUESTION && !e->all.cue[CUE_HEDGE]
                   ? &qa
               : e->all.first_is_role           ? &system
                                                : &general;
    }
}

/* Append the compact output line when the answer's length is open (a
 * translation's is the source's): a stated length already makes the
 * request tight, and concise adds nothing then.  Records its placeholder. */
static void concise_tighten(eng_t *e, strbuf_t *sb)
{
    const lex_stats_t *st = &e->all;
    bool format = st->cue[CUE_FORMAT] || st->format_sentences ||
                  st->pcue[CUE_FORMAT];
    bool length = st->length_specs || st->cue[CUE_LENGTHWORD] ||
                  st->pcue[CUE_LENGTHUNIT];
    const concise_line_t *l;
    const char *line, *ph;

    if (e->cat == LEX_CAT_TRANSLATE || length)
        return;
    l = concise_line(e);
    line = format ? l->len_only : l->both;
    strbuf_puts(sb, "\n");
    strbuf_puts(sb, line);
    if ((ph = strstr(line, "[[Add: ")) != NULL)
        engine_suggest(e, arena_strndup(e->a, ph + 2,
                                        (size_t)(strstr(ph, "]]") - ph) - 2));
}

/* concise: the prompt in its own order without lexicon_hedges, filler,
 * pleasantries and repeated sentences; every constraint stays; then at
 * most one compact line asking for a missing format or length. */
void engine_write_concise(eng_t *e, strbuf_t *sb)
{
    size_t nslots = 16;
    uint64_t *seen;
    int prev = -1;

    while (nslots < (size_t)e->nu * 2)
        nslots *= 2;
    seen = arena_zalloc(e->a, nslots * sizeof(*seen));
    for (int k = 0; k < e->nu; k++) {
        const unit_t *u = &e->u[k];
        const char *p = e->s + u->start;
        size_t n = u->end - u->start;

        if (u->role != R_MATERIAL && u->kind != U_CODE) {
            uint64_t h = fnv1a(p, n) | 1;
            size_t slot = (size_t)h & (nslots - 1);
            bool dup = false;
            while (seen[slot]) {
                if (seen[slot] == h) {
                    dup = true;
                    break;
                }
                slot = (slot + 1) & (nslots - 1);
            }
            if (dup || u->role == R_DROP)
                continue; /* an exact repeat: its bytes are already out */
            seen[slot] = h;
        }
        if (prev >= 0)
            engine_put_gap(sb, e->s, e->u[prev].end, u->start);
        prev = k;
        if (u->role == R_MATERIAL || u->kind != U_TEXT) {
            strbuf_append(sb, p, n);
            continue;
        }
        engine_put_clean(e, sb, u, true);
    }
    if (!sb->len) /* only pleasantries: keep the prompt as it was */
        strbuf_append(sb, e->s + e->u[0].start,
                      e->u[e->nu - 1].end - e->u[0].start);
    concise_tighten(e, sb);
}
