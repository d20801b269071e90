/* engine_units.c: stage 2 of the local engine: the prompt cut into units (sentences, list items, headings, blocks). */
#include <string.h>

#include "enrich/engine_int.h"
#include "enrich/lexicon.h"

static void push_unit(eng_t *e, size_t *cap, size_t start, size_t end,
                      int kind, int para)
{
    while (end > start && is_space(e->s[end - 1]))
        end--;
    if (end <= start)
        return;
    if ((size_t)e->nu == *cap) {
        unit_t *nv = arena_alloc(e->a, 2 * *cap * sizeof(*nv));
        memcpy(nv, e->u, *cap * sizeof(*nv));
        e->u = nv;
        *cap *= 2;
    }
    e->u[e->nu++] = (unit_t){.start = start, .end = end, .kind = kind,
                             .para = para, .role = R_CONTEXT};
}

/* True when the line starting at s[i] opens a list item or a heading. */
static int line_kind(const char *s, size_t len, size_t i)
{
    size_t j = i;

    if (i >= len)
        return U_TEXT;
    if (s[i] == '#') {
        while (j < len && s[j] == '#')
            j++;
        return j < len && s[j] == ' ' && j - i <= 6 ? U_HEADING : U_TEXT;
    }
    if ((s[i] == '-' || s[i] == '*' || s[i] == '+') && i + 1 < len &&
        s[i + 1] == ' ')
        return U_LIST;
    if (len - i >= 4 && memcmp(s + i, "\xe2\x80\xa2 ", 4) == 0)
        return U_LIST;
    while (j < len && j - i < 3 && s[j] >= '0' && s[j] <= '9')
        j++;
    if (j > i && j + 1 < len && (s[j] == '.' || s[j] == ')') &&
        s[j + 1] == ' ')
        return U_LIST;
    return U_TEXT;
}

/* Does the line starting at s[i] (after indentation) break a running
 * sentence: blank, list item, heading, fence or an XML-style tag? */
static bool line_breaks(const char *s, size_t len, size_t i)
{
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
        i++;
    if (i >= len || s[i] == '\n')
        return true;
    if (line_kind(s, len, i) != U_TEXT)
        return true;
    if (len - i >= 3 && memcmp(s + i, "```", 3) == 0)
        return true;
    return s[i] == '<';
}

static bool wordish(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '\'' || c == '-' ||
           c >= 0x80;
}

bool engine_announces_material(const char *s, size_t start, size_t colon,
                               int maxw)
{
    size_t j = colon, floor = colon - start > 160 ? colon - 160 : start;

    for (int words = 0; words < maxw && j > floor; words++) {
        size_t end;
        while (j > floor && !wordish((unsigned char)s[j - 1]))
            j--;
        end = j;
        while (j > floor && wordish((unsigned char)s[j - 1]))
            j--;
        if (end > j && lex_match(s + j, end - j, CUE_MATERIAL) == end - j)
            return true;
    }
    return false;
}

/* Name of the tag when the line at s[i] is "<name>" or "</name>" alone
 * (closing when *closing); 0 otherwise.  *eol gets the line's end. */
static size_t tag_line(const char *s, size_t len, size_t i, bool *closing,
                       size_t *eol)
{
    size_t j = i + 1, n = 0;

    if (i >= len || s[i] != '<')
        return 0;
    *closing = j < len && s[j] == '/';
    j += *closing;
    while (j + n < len && (((s[j + n] | 32) >= 'a' && (s[j + n] | 32) <= 'z') ||
                           s[j + n] == '_' || s[j + n] == '-' ||
                           (n && s[j + n] >= '0' && s[j + n] <= '9')))
        n++;
    if (!n || n > 40 || j + n >= len || s[j + n] != '>')
        return 0;
    *eol = j + n + 1;
    while (*eol < len && (s[*eol] == ' ' || s[*eol] == '\t' || s[*eol] == '\r'))
        (*eol)++;
    if (*eol < len && s[*eol] != '\n')
        return 0;
    return n;
}

typedef struct {
    size_t at, name, n, eol;   /* line start, name offset and length, end */
} closer_t;

/* Every "</name>" line outside protected spans, in order. */
static closer_t *find_closers(eng_t *e, int *count)
{
    size_t cap = 16, i = 0;
    closer_t *v = arena_alloc(e->a, cap * sizeof(*v));

    *count = 0;
    while (i < e->len) {
        size_t k = i, n, eol;
        bool closing;
        while (k < e->len && (e->s[k] == ' ' || e->s[k] == '\t'))
            k++;
        if ((n = tag_line(e->s, e->len, k, &closing, &eol)) && closing) {
            int sp = span_at(e, k);
            if (!(sp < e->nspans && e->spans[sp].start <= k)) {
                if ((size_t)*count == cap) {
                    closer_t *nv = arena_alloc(e->a, 2 * cap * sizeof(*nv));
                    memcpy(nv, v, cap * sizeof(*nv));
                    v = nv;
                    cap *= 2;
                }
                v[(*count)++] = (closer_t){k, k + 2, n, eol};
            }
        }
        while (i < e->len && e->s[i] != '\n')
            i++;
        i++;
    }
    return v;
}

/* End of the "<name>" ... "</name>" block whose opening line is at s[i],
 * or 0 (not a tag line, an instruction tag, or no closer among the next
 * 64).  *next moves past closers before i; calls come in text order. */
static size_t tag_block_end(const eng_t *e, size_t i, const closer_t *closers,
                            int nclosers, int *next)
{
    bool closing;
    size_t eol, n = tag_line(e->s, e->len, i, &closing, &eol);

    while (*next < nclosers && closers[*next].at <= i)
        (*next)++;
    if (!n || closing || lex_word_in(e->s + i + 1, n, lexicon_instruction_tags))
        return 0;
    for (int c = *next; c < nclosers && c < *next + 64; c++)
        if (closers[c].n == n &&
            memcmp(e->s + closers[c].name, e->s + i + 1, n) == 0)
            return closers[c].eol;
    return 0;
}

/* End of the unit of kind starting at s[i] (sp: the first span ending after
 * i): a list item or heading ends with its line; text at a sentence stop,
 * at a line that ended a sentence or breaks the flow, or at a colon that
 * announces material ("Summarise this: ..."). */
static size_t unit_end(const eng_t *e, size_t i, int kind, int sp)
{
    const char *s = e->s;
    size_t len = e->len, j = i;

    while (j < len) {
        if (sp < e->nspans && e->spans[sp].start == j) {
            j = e->spans[sp++].end; /* never inside a span */
            continue;
        }
        if (s[j] == '\n') {
            size_t k = j;
            if (kind != U_TEXT || line_breaks(s, len, j + 1))
                return j;
            /* wrapped text continues unless the line ended a sentence */
            while (k > i && is_space(s[k - 1]))
                k--;
            if (k > i && (s[k - 1] == '.' || s[k - 1] == '!' ||
                          s[k - 1] == '?' || s[k - 1] == ':'))
                return j;
        } else if (kind == U_TEXT && lex_sentence_stop(s, len, j)) {
            return j + 1;
        } else if (kind == U_TEXT && s[j] == ':' && j + 1 < len &&
                   s[j + 1] == ' ' && engine_announces_material(s, i, j, 4)) {
            return j + 1;
        }
        j++;
    }
    return len;
}

void engine_split_units(eng_t *e)
{
    int nclosers, next_closer = 0;
    closer_t *closers = find_closers(e, &nclosers);
    const char *s = e->s;
    size_t len = e->len, cap = 64, i = 0;
    int para = 0;
    bool bol = true;

    e->u = arena_alloc(e->a, cap * sizeof(unit_t));
    while (i < len) {
        int newlines = 0, kind, sp;
        size_t end;

        while (i < len && is_space(s[i])) {
            if (s[i] == '\n')
                newlines++, bol = true;
            i++;
        }
        if (i >= len)
            break;
        if (newlines >= 2)
            para++;
        sp = span_at(e, i);
        if (bol && sp < e->nspans && e->spans[sp].start == i &&
            e->spans[sp].kind == LEX_FENCE) {
            end = e->spans[sp].end, kind = U_CODE; /* a fenced block */
        } else if (bol && s[i] == '<' &&
                   (end = tag_block_end(e, i, closers, nclosers,
                                        &next_closer))) {
            kind = U_CODE; /* a <tag> ... </tag> block */
        } else {
            kind = bol ? line_kind(s, len, i) : U_TEXT;
            end = unit_end(e, i, kind, sp);
        }
        push_unit(e, &cap, i, end, kind, para);
        bol = false;
        i = end;
    }
}
