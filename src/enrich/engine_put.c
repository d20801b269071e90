/* engine_put.c: how the local engine's writers put a unit: opening hedges, "don't" and filler words rewritten, gaps normalised. */
#include <string.h>

#include "enrich/engine_int.h"
#include "enrich/lexicon.h"

void engine_suggest(eng_t *e, const char *text)
{
    if (e->nsugg == e->capsugg) {
        int cap = e->capsugg ? 2 * e->capsugg : 8;
        const char **nv = arena_alloc(e->a, (size_t)cap * sizeof(*nv));
        if (e->nsugg)
            memcpy(nv, e->sugg, (size_t)e->nsugg * sizeof(*nv));
        e->sugg = nv;
        e->capsugg = cap;
    }
    e->sugg[e->nsugg++] = text;
}

/* Append the gerund of the lower-case verb w[0..n) ("use" -> "using"). */
static void append_gerund(strbuf_t *sb, const char *w, size_t n)
{
    for (const char *const *d = lexicon_doubling; *d; d++)
        if (strlen(*d) == n && memcmp(*d, w, n) == 0) {
            strbuf_append(sb, w, n);
            strbuf_putc(sb, w[n - 1]);
            strbuf_puts(sb, "ing");
            return;
        }
    if (n == 2 && memcmp(w, "be", 2) == 0) {
        strbuf_puts(sb, "being");
        return;
    }
    if (n > 2 && w[n - 2] == 'i' && w[n - 1] == 'e') {
        strbuf_append(sb, w, n - 2);
        strbuf_puts(sb, "ying");
        return;
    }
    if (n > 2 && w[n - 1] == 'e' && w[n - 2] != 'e' && w[n - 2] != 'y' &&
        w[n - 2] != 'o') {
        strbuf_append(sb, w, n - 1);
        strbuf_puts(sb, "ing");
        return;
    }
    strbuf_append(sb, w, n);
    strbuf_puts(sb, "ing");
}

/* Lower-case ASCII letters, with inner apostrophes or hyphens ("what's"). */
static bool all_lower_word(const char *w, size_t n)
{
    if (!n)
        return false;
    for (size_t k = 0; k < n; k++)
        if ((w[k] < 'a' || w[k] > 'z') &&
            !(k > 0 && k + 1 < n && (w[k] == '\'' || w[k] == '-')))
            return false;
    return true;
}

/* Length of a wish opener before an article ("I want " in "I want a
 * tweet"), 0 when p has none. */
static size_t wish_prefix(const char *p, size_t n)
{
    for (const char *const *w = lexicon_wishes; *w; w++) {
        size_t l = strlen(*w);
        if (has_prefix(p, n, *w) &&
            (has_prefix(p + l, n - l, "a ") || has_prefix(p + l, n - l, "an ")))
            return l;
    }
    return 0;
}

/* Bytes of phrase p (lower case, ending in ' ') at s[0..n), also when
 * its closing space is ", " ("please, "); 0 when it does not match. */
static size_t hedge_len(const char *s, size_t n, const char *p)
{
    size_t l = strlen(p);

    if (has_prefix(s, n, p))
        return l;
    if (l < 2 || p[l - 1] != ' ' || l + 1 > n || s[l - 1] != ',' ||
        s[l] != ' ')
        return 0;
    for (size_t k = 0; k + 1 < l; k++)
        if (lower((unsigned char)s[k]) != p[k])
            return 0;
    return l + 1;
}

/* Bytes of a removable filler phrase and its ", " after a hedge ("if you
 * don't mind, "), 0 when none opens s. */
static size_t hedge_filler_len(const char *s, size_t n)
{
    for (int f = 0; f < lexicon_fillers_end; f++) {
        size_t l = strlen(lexicon_fillers[f].phrase);
        if (!lexicon_fillers[f].with[0] &&
            lex_phrase_len(s, n, lexicon_fillers[f].phrase) == l &&
            l + 1 < n && s[l] == ',' && s[l + 1] == ' ')
            return l + 2;
    }
    return 0;
}

/* Offset past the opening lexicon_hedges of a task unit ("Could you please ",
 * "Could you please, if you don't mind, "), u->start when there are none
 * or no task verb follows them. */
static size_t strip_hedges(const eng_t *e, const unit_t *u)
{
    const char *s = e->s;
    size_t i = u->start, end = u->end, hl;
    bool again = true;

    while (again) {
        again = false;
        for (const char *const *h = lexicon_hedges; *h; h++) {
            /* a capital after the hedge is a name ("Please Bob, ...")
             * and stops it */
            if ((hl = hedge_len(s + i, end - i, *h)) &&
                (i + hl >= end || s[i + hl] < 'A' || s[i + hl] > 'Z')) {
                i += hl;
                again = true;
                break;
            }
        }
        if (!again && i > u->start && (hl = hedge_filler_len(s + i, end - i)) &&
            (i + hl >= end || s[i + hl] < 'A' || s[i + hl] > 'Z')) {
            i += hl;
            again = true;
        }
    }
    if (i == u->start || i >= end || !lex_word_len(s, end, i) ||
        !lex_match(s + i, end - i, CUE_TASK))
        return u->start;
    return i;
}

/* Rewrite a rule's "don't X" opening at s[i] as what to do ("Avoid
 * Xing", "Remember to"); returns the bytes consumed, 0 when left as is. */
static size_t rewrite_negative(strbuf_t *sb, const char *s, size_t i,
                               size_t end)
{
    size_t neg = 0, w;

    if (has_prefix(s + i, end - i, "don't "))
        neg = 6;
    else if (has_prefix(s + i, end - i, "do not "))
        neg = 7;
    else if (has_prefix(s + i, end - i, "never "))
        neg = 6;
    if (!neg)
        return 0;
    w = lex_word_len(s, end, i + neg);
    if (w == 6 && has_prefix(s + i + neg, w, "forget") &&
        i + neg + w < end && s[i + neg + w] == ' ') {
        strbuf_puts(sb, "Remember"); /* "Don't forget to" */
        return neg + w;
    }
    if (!all_lower_word(s + i + neg, w) || lex_word_in(s + i + neg, w, lexicon_not_verbs))
        return 0;
    strbuf_puts(sb, "Avoid ");
    append_gerund(sb, s + i + neg, w);
    return neg + w;
}

/* Append unit u, rewriting its opening when rewrite is set: lexicon_hedges go
 * ("Can you write" -> "Write"), a wish becomes an instruction ("I want a"
 * -> "Create a"), "Don't use X" becomes "Avoid using X", a closing '?' of
 * a hedged request or a ':' before material becomes '.', a sentence ending
 * in a letter or digit gets its '.', and a plain lower-case opening word
 * gets its capital.  Nothing else changes. */
static void put_unit(eng_t *e, strbuf_t *sb, const unit_t *u, bool rewrite)
{
    const char *s = e->s;
    size_t i = u->start, end = u->end, at = sb->len, want;
    bool hedged = false;

    if (!rewrite || u->kind != U_TEXT) {
        strbuf_append(sb, s + i, end - i);
        return;
    }
    if (u->role == R_TASK)
        hedged = (i = strip_hedges(e, u)) != u->start;
    if (hedged) {
        /* the verb now opens the sentence: capitalised below */
    } else if (u->role == R_TASK && (want = wish_prefix(s + i, end - i))) {
        strbuf_puts(sb, "Create ");
        i += want;
    } else if (u->role == R_CONSTRAINT || u->role == R_TASK ||
               u->role == R_FORMAT) {
        i += rewrite_negative(sb, s, i, end);
    }
    if ((hedged && s[end - 1] == '?') || (u->intro && s[end - 1] == ':')) {
        strbuf_append(sb, s + i, end - 1 - i);
        strbuf_putc(sb, '.');
    } else {
        strbuf_append(sb, s + i, end - i);
        if (lex_word_len(s, end, end - 1) == 1 &&
            (unsigned char)s[end - 1] < 0x80)
            strbuf_putc(sb, '.'); /* "Write a story" -> "Write a story." */
    }
    if (at < sb->len && sb->ptr[at] >= 'a' && sb->ptr[at] <= 'z') {
        size_t w = lex_word_len(sb->ptr, sb->len, at);
        if (all_lower_word(sb->ptr + at, w))
            sb->ptr[at] = (char)(sb->ptr[at] - 32);
    }
}

/* Fillers that may also go when they open a unit capitalised ("Please"). */
static bool capital_ok(const char *phrase)
{
    return !strcmp(phrase, "please") || !strcmp(phrase, "kindly") ||
           !strcmp(phrase, "basically") || !strcmp(phrase, "actually") ||
           !strcmp(phrase, "really") || !strcmp(phrase, "honestly") ||
           !strcmp(phrase, "essentially");
}

/* The filler phrase at the word t[i] (at_start: it would open the output)
 * and its length in *m, or lexicon_fillers_end and *m = 0.  Only a
 * free-standing filler goes: white space (or the start) before it, so
 * "Acme-'very" keeps its tail. */
static int filler_at(const char *t, size_t n, size_t i, bool at_start, size_t *m)
{
    int f;

    for (f = i > 0 && !is_space(t[i - 1]) ? lexicon_fillers_end : 0;
         lexicon_fillers[f].phrase; f++) {
        size_t pl = strlen(lexicon_fillers[f].phrase);
        bool ok = true;
        if (!has_prefix(t + i, n - i, lexicon_fillers[f].phrase) ||
            (i + pl < n && lex_word_len(t, n, i + pl) &&
             lex_word_len(t, n, i + pl - 1) > 1))
            continue;
        for (size_t k = 0; k < pl; k++)
            if (t[i + k] >= 'A' && t[i + k] <= 'Z' &&
                !(k == 0 && at_start && capital_ok(lexicon_fillers[f].phrase)))
                ok = false;
        if (ok) {
            *m = pl;
            return f;
        }
    }
    return f;
}

/* Append t[0..n) to sb without its fillers (never inside a span). */
static void put_without_fillers(arena_t *a, strbuf_t *sb, const char *t,
                                size_t n)
{
    lex_span_t *spans;
    int nspans = lex_spans(a, t, n, &spans), sp = 0;
    size_t base = sb->len, i = 0;
    bool cap_next = false;

    while (i < n) {
        size_t w, m = 0;
        int f;

        if (sp < nspans && spans[sp].start == i) {
            strbuf_append(sb, t + i, spans[sp].end - i);
            i = spans[sp].end;
            sp++;
            cap_next = false;
            continue;
        }
        if (!(w = lex_word_len(t, n, i))) {
            strbuf_putc(sb, t[i]);
            if (!is_space(t[i]))
                cap_next = false;
            i++;
            continue;
        }
        f = filler_at(t, n, i, sb->len == base, &m);
        if (!m) { /* an ordinary word */
            if (cap_next && t[i] >= 'a' && t[i] <= 'z') {
                strbuf_putc(sb, (char)(t[i] - 32));
                strbuf_append(sb, t + i + 1, w - 1);
            } else {
                strbuf_append(sb, t + i, w);
            }
            cap_next = false;
            i += w;
            continue;
        }
        if (*lexicon_fillers[f].with) {
            strbuf_puts(sb, lexicon_fillers[f].with);
            i += m;
            continue;
        }
        cap_next = cap_next || sb->len == base;
        i += m;
        if (i < n && strchr(".!?;:,", t[i]) && sb->len > base &&
            sb->ptr[sb->len - 1] == ' ') {
            /* "write it, please." -> "write it." */
            while (sb->len > base && (sb->ptr[sb->len - 1] == ' ' ||
                                      sb->ptr[sb->len - 1] == ','))
                sb->len--;
            sb->ptr[sb->len] = '\0';
            if (t[i] == ',')
                i++;
        } else {
            if (i < n && t[i] == ',')
                i++;
            while (i < n && t[i] == ' ')
                i++;
        }
    }
    /* a filler that ended the text leaves no trailing blank */
    while (sb->len > base && sb->ptr[sb->len - 1] == ' ')
        sb->len--;
    sb->ptr[sb->len] = '\0';
}

/* put_unit() and, when rewriting, without filler words ("pls", "basically"). */
void engine_put_clean(eng_t *e, strbuf_t *sb, const unit_t *u, bool rewrite)
{
    strbuf_t tmp;

    if (!rewrite || u->kind != U_TEXT) {
        put_unit(e, sb, u, false);
        return;
    }
    strbuf_init(&tmp, e->a, u->end - u->start + 16);
    put_unit(e, &tmp, u, true);
    put_without_fillers(e->a, sb, tmp.ptr, tmp.len);
}

/* The separator between two units in the original, normalised: a blank
 * line between paragraphs, a newline between lines, else a space. */
void engine_put_gap(strbuf_t *sb, const char *s, size_t from, size_t to)
{
    int nl = 0;

    for (size_t i = from; i < to; i++)
        nl += s[i] == '\n';
    strbuf_puts(sb, nl >= 2 ? "\n\n" : nl ? "\n" : " ");
}
