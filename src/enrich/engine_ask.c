/* engine_ask.c: what the local engine's writers ask for: placeholders, questions about vague words, material the task refers to. */
#include <string.h>

#include "enrich/engine_int.h"
#include "enrich/lexicon.h"

const char *engine_ph_audience(const eng_t *e)
{
    if (e->cat == LEX_CAT_TRANSLATE)
        return PH("the register, e.g. formal or informal, and where the "
                  "text will be used");
    if (e->cat == LEX_CAT_CODE)
        return PH("the language, version and environment the code runs in");
    if (e->cat == LEX_CAT_EXTRACT)
        return PH("what the extracted data will be used for, and by whom");
    return PH("who is the audience, and what do they already know?");
}

const char *engine_ph_format(const eng_t *e)
{
    switch (e->cat) {
    case LEX_CAT_CODE:
        return PH("the output you want, e.g. one code block followed by a "
                  "short explanation");
    case LEX_CAT_EXTRACT:
        return PH("the output format, e.g. JSON with the field names you "
                  "need");
    case LEX_CAT_SUMMARY:
        return PH("the format, e.g. bullet points or one paragraph");
    case LEX_CAT_ANALYSIS:
        return PH("the format, e.g. a table of findings, then a "
                  "recommendation");
    case LEX_CAT_QA:
        return PH("the format, e.g. a direct answer first, then a short "
                  "explanation");
    default:
        return PH("the format, e.g. headings, paragraphs or a list");
    }
}

/* Does a task refer to material that must be supplied: "the following",
 * "below", "attached", or a determiner before a material noun ("this
 * article", "the reviews", "my code", "our survey results")? */

bool engine_refers_to_material(const eng_t *e)
{
    for (int k = 0; k < e->nu; k++) {
        const unit_t *u = &e->u[k];
        const char *s = e->s;
        if (u->role != R_TASK)
            continue;
        for (size_t i = u->start, w; i < u->end; i += w ? w : 1) {
            size_t j, w2, m;
            if (!(w = lex_word_len(s, u->end, i)))
                continue;
            for (const char *const *r = lexicon_material_marks; *r; r++)
                if (lex_match(s + i, u->end - i, CUE_MATERIAL) &&
                    has_prefix(s + i, u->end - i, *r))
                    return true;
            if (!lex_word_in(s + i, w, lexicon_determiners))
                continue;
            /* the next one or two words: "the survey", "our survey data" */
            j = i + w;
            for (int look = 0; look < 2; look++) {
                while (j < u->end && s[j] == ' ')
                    j++;
                if (!(w2 = lex_word_len(s, u->end, j)))
                    break;
                m = lex_match(s + j, u->end - j, CUE_MATERIAL);
                if (m == w2 && !lex_word_in(s + j, w2, lexicon_not_nouns))
                    return true;
                j += w2;
            }
        }
    }
    return false;
}

void engine_emit_line(strbuf_t *sb, bool *first, const char *prefix,
                      const char *text)
{
    if (!*first)
        strbuf_putc(sb, '\n');
    strbuf_puts(sb, prefix);
    strbuf_puts(sb, text);
    *first = false;
}

bool engine_has_role(const eng_t *e, int role)
{
    for (int k = 0; k < e->nu; k++)
        if (e->u[k].role == role)
            return true;
    return false;
}

/* Add a placeholder line to a section and record it as a suggestion. */
void engine_placeholder(eng_t *e, strbuf_t *sb, bool *first,
                        const char *prefix, const char *ph, bool insert)
{
    /* suggestion: "Add: ..." without the brackets */
    engine_suggest(e, arena_strndup(e->a, ph + 2, strlen(ph) - 4));
    if (insert)
        engine_emit_line(sb, first, prefix, ph);
}

/* Ask about the distinct vague words (at most 5) of the units of role
 * (every non-material unit when role < 0): one "[[Clarify: ...]]" line each
 * (each_line), or one line naming them all. */
void engine_clarify_vague(eng_t *e, strbuf_t *sb, bool *first,
                          const char *prefix, int role, bool each_line)
{
    const char *vague[5];
    size_t vlen[5];
    int nvague = 0;

    for (int k = 0; k < e->nu && nvague < 5; k++) {
        const unit_t *u = &e->u[k];
        if (role >= 0 ? u->role != role
                      : u->role == R_MATERIAL || u->role == R_DROP)
            continue;
        for (size_t i = u->start; i < u->end && nvague < 5;) {
            int sp = span_at(e, i);
            size_t w, m;
            if (sp < e->nspans && e->spans[sp].start <= i) {
                i = e->spans[sp].end;
                continue;
            }
            if (!(w = lex_word_len(e->s, u->end, i))) {
                i++;
                continue;
            }
            if ((m = lex_match(e->s + i, u->end - i, CUE_VAGUE))) {
                bool seen = false;
                for (int v = 0; v < nvague; v++)
                    seen |= vlen[v] == m && strncmp(vague[v], e->s + i, m) == 0;
                if (!seen && !memchr(e->s + i, '"', m)) {
                    vague[nvague] = e->s + i;
                    vlen[nvague++] = m;
                }
            }
            i += w;
        }
    }
    if (!nvague)
        return;
    if (each_line) {
        for (int v = 0; v < nvague; v++) {
            char *q = arena_printf(e->a, "[[Clarify: what exactly do you "
                                   "mean by \"%.*s\"?]]", (int)vlen[v],
                                   vague[v]);
            engine_emit_line(sb, first, prefix, q);
            engine_suggest(e, arena_strndup(e->a, q + 2, strlen(q) - 4));
        }
        return;
    }
    strbuf_t q;
    strbuf_init(&q, e->a, 128);
    strbuf_puts(&q, "[[Clarify: what exactly do you mean by ");
    for (int v = 0; v < nvague; v++)
        strbuf_printf(&q, "%s\"%.*s\"", v == 0 ? "" : v == nvague - 1
                                                     ? " and " : ", ",
                      (int)vlen[v], vague[v]);
    strbuf_puts(&q, "?]]");
    engine_emit_line(sb, first, prefix, q.ptr);
    engine_suggest(e, arena_strndup(e->a, q.ptr + 2, q.len - 4));
}
