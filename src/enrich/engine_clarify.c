/* engine_clarify.c: the local engine's clarify writer: the prompt in its own order, then its open questions. */
#include "enrich/engine_int.h"

/* clarify: the prompt in its own order, lexicon_hedges resolved, material
 * delimited, then the open questions as placeholders. */
void engine_write_clarify(eng_t *e, strbuf_t *sb)
{
    const lex_stats_t *st = &e->all;
    int prev = 0;
    bool first = true;

    for (int k = 0; k < e->nu; k++) {
        const unit_t *u = &e->u[k];
        if (u->role == R_DROP)
            continue;
        if (sb->len)
            engine_put_gap(sb, e->s, e->u[prev].end, u->start);
        prev = k;
        if (u->role == R_MATERIAL) {
            int last = k;
            while (last + 1 < e->nu && e->u[last + 1].role == R_MATERIAL)
                last++;
            strbuf_puts(sb, "<input>\n");
            strbuf_append(sb, e->s + u->start, e->u[last].end - u->start);
            strbuf_puts(sb, "\n</input>");
            k = prev = last;
            continue;
        }
        engine_put_clean(e, sb, u, true);
    }
    size_t body = sb->len;
    strbuf_puts(sb, e->xml ? "\n\n<open_questions>\n" : "\n\n## Open questions\n");
    engine_clarify_vague(e, sb, &first, "- ", -1, true);
    if (e->cat == LEX_CAT_CODE ? !st->cue[CUE_LANG] : !st->cue[CUE_AUDIENCE])
        engine_placeholder(e, sb, &first, "- ", engine_ph_audience(e), true);
    if (!st->cue[CUE_FORMAT] && !st->format_sentences &&
        e->cat != LEX_CAT_TRANSLATE)
        engine_placeholder(e, sb, &first, "- ", engine_ph_format(e), true);
    if (!st->length_specs && !st->cue[CUE_LENGTHWORD] &&
        e->cat != LEX_CAT_CODE && e->cat != LEX_CAT_EXTRACT &&
        e->cat != LEX_CAT_TRANSLATE)
        engine_placeholder(e, sb, &first, "- ",
                    PH("the length, e.g. 150 words or 5 bullet points"), true);
    if (!engine_has_role(e, R_MATERIAL) && !st->vars && engine_refers_to_material(e))
        engine_placeholder(e, sb, &first, "- ",
                    PH("paste the text to work on, between <input> tags"),
                    true);
    if (first) { /* nothing to ask: no section */
        sb->len = body;
        sb->ptr[body] = '\0';
        return;
    }
    if (e->xml)
        strbuf_puts(sb, "\n</open_questions>");
}
