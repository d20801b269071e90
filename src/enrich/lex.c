/* lex.c: protected spans, words and prompt-engineering cues, in linear time. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "enrich/lex.h"
#include "enrich/lexicon.h"

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int is_alnum(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_';
}

/* Bytes of the word code point at s[i] (0 when it is not a word character). */
static size_t word_cp(const char *s, size_t len, size_t i)
{
    unsigned char c = (unsigned char)s[i];
    size_t n;

    if (c < 0x80)
        return is_alnum(c) ? 1 : 0;
    if (c < 0xC0)
        return 0; /* stray continuation byte: never a word start */
    n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    if (i + n > len)
        return 0;
    if (c == 0xC2)
        return 0; /* U+0080..U+00BF: controls, nbsp, punctuation, symbols */
    if (c == 0xE2 && ((unsigned char)s[i + 1] == 0x80 ||
                      (unsigned char)s[i + 1] == 0x81))
        return 0; /* U+2000..U+207F: spaces, dashes, quotes, bullets */
    return n;
}

size_t lex_word_len(const char *s, size_t len, size_t i)
{
    size_t j = i, n;

    if (i >= len || !(n = word_cp(s, len, i)))
        return 0;
    j += n;
    while (j < len) {
        if ((n = word_cp(s, len, j))) {
            j += n;
        } else if ((s[j] == '\'' || s[j] == '-' || s[j] == '.' ||
                    s[j] == ',') && j + 1 < len && word_cp(s, len, j + 1) &&
                   /* '.' and ',' only join digits or single letters (e.g) */
                   (s[j] == '\'' || s[j] == '-' ||
                    ((s[j] == ',' || s[j] == '.') &&
                     s[j - 1] >= '0' && s[j - 1] <= '9' &&
                     s[j + 1] >= '0' && s[j + 1] <= '9'))) {
            j++;
        } else {
            break;
        }
    }
    return j - i;
}

/* Length of phrase p matched at s (word boundary after it), else 0. */
static size_t match_phrase(const char *s, size_t len, const char *p)
{
    size_t k = 0;

    for (; p[k]; k++) {
        if (p[k] == '*') {
            while (k < len && word_cp(s, len, k))
                k++;
            return k;
        }
        if (k >= len || lower((unsigned char)s[k]) != p[k])
            return 0;
    }
    if (p[k - 1] == ' ' || p[k - 1] == ':')
        return k;
    if (k < len && (word_cp(s, len, k) ||
                    (s[k] == '\'' && k + 1 < len && is_alnum(s[k + 1]))))
        return 0;
    return k;
}

size_t lex_phrase_len(const char *s, size_t len, const char *phrase)
{
    return len ? match_phrase(s, len, phrase) : 0;
}

/* Every cue phrase bucketed by its first byte, built once (pthread_once:
 * the jobs daemon may enrich from several threads). */
typedef struct {
    const char *phrase;
    int cue;
} cue_entry_t;

#define CUE_INDEX_MAX 1024
_Static_assert(CUE_COUNT <= 32, "count_cues keeps a 32-bit mask of classes");

static cue_entry_t cue_index[CUE_INDEX_MAX];
static unsigned short cue_bucket[129]; /* entries of byte b: [b], [b+1]) */
static pthread_once_t cue_once = PTHREAD_ONCE_INIT;

static void cue_index_build(void)
{
    unsigned short count[128] = {0};
    size_t n = 0;

    for (int c = 0; c < CUE_COUNT; c++)
        for (const char *const *t = lexicon_cues[c]; *t; t++, n++)
            count[(unsigned char)(*t)[0] & 127]++;
    if (n > CUE_INDEX_MAX)
        abort(); /* a table grew past the index: raise CUE_INDEX_MAX */
    for (int b = 0; b < 128; b++)
        cue_bucket[b + 1] = (unsigned short)(cue_bucket[b] + count[b]);
    memset(count, 0, sizeof(count));
    for (int c = 0; c < CUE_COUNT; c++)
        for (const char *const *t = lexicon_cues[c]; *t; t++) {
            int b = (unsigned char)(*t)[0] & 127;
            cue_index[cue_bucket[b] + count[b]++] = (cue_entry_t){*t, c};
        }
}

/* The bucket of phrases that may match at s[0]. */
static void cue_range(const char *s, size_t *from, size_t *to)
{
    int c0 = lower((unsigned char)s[0]);

    pthread_once(&cue_once, cue_index_build);
    if (c0 >= 128) {
        *from = *to = 0;
        return;
    }
    *from = cue_bucket[c0];
    *to = cue_bucket[c0 + 1];
}

size_t lex_match(const char *s, size_t len, enum lex_cue cue)
{
    size_t best = 0, m, from, to;

    if (!len)
        return 0;
    cue_range(s, &from, &to);
    for (size_t k = from; k < to; k++)
        if (cue_index[k].cue == (int)cue &&
            (m = match_phrase(s, len, cue_index[k].phrase)) > best)
            best = m;
    return best;
}

/* End of the span whose closer is close, searched from s[from]: 0 when
 * unclosed.  para 0: to the end; 1: within the paragraph; 2: within the
 * line.  *limit gets where the search stopped, so that a failed opener of
 * the same kind before it is not searched again (linear time). */
static size_t find_close(const char *s, size_t from, size_t stop,
                         const char *close, size_t clen, int para,
                         size_t *limit)
{
    for (size_t j = from; j + clen <= stop; j++) {
        if (para && s[j] == '\n') {
            size_t k = j + 1;
            while (k < stop && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r'))
                k++;
            if (para == 2 || (k < stop && s[k] == '\n')) {
                *limit = j;
                return 0;
            }
        }
        if (memcmp(s + j, close, clen) == 0)
            return j + clen;
    }
    *limit = stop;
    return 0;
}

int lex_spans(arena_t *a, const char *s, size_t len, lex_span_t **out)
{
    size_t cap = 16, i = 0, e;
    size_t dead[LEX_PLACEHOLDER + 2] = {0}; /* per kind: no closer before */
    int n = 0;
    lex_span_t *v = arena_alloc(a, cap * sizeof(*v));

    while (i < len) {
        int kind = 0, slot = 0;
        size_t from = 0, limit = 0;
        const char *close = NULL;
        int para = 0;

        e = 0;
        if (len - i >= 3 && memcmp(s + i, "```", 3) == 0) {
            kind = LEX_FENCE, close = "```", from = i + 3, para = 0;
        } else if (s[i] == '`') {
            kind = LEX_INLINE, close = "`", from = i + 1, para = 2;
        } else if (s[i] == '"') {
            kind = LEX_QUOTE, close = "\"", from = i + 1, para = 1;
        } else if (len - i >= 3 && memcmp(s + i, "\xe2\x80\x9c", 3) == 0) {
            kind = LEX_QUOTE, slot = LEX_PLACEHOLDER + 1;
            close = "\xe2\x80\x9d", from = i + 3, para = 1;
        } else if (len - i >= 2 && s[i] == '{' && s[i + 1] == '{') {
            kind = LEX_VAR, close = "}}", from = i + 2, para = 2;
        } else if (len - i >= 2 && s[i] == '[' && s[i + 1] == '[') {
            kind = LEX_PLACEHOLDER, close = "]]", from = i + 2, para = 2;
        }
        if (!slot)
            slot = kind;
        if (kind && i >= dead[slot]) {
            e = find_close(s, from, len, close, strlen(close), para, &limit);
            if (!e && kind == LEX_FENCE)
                e = len; /* an unclosed fence runs to the end */
            else if (!e)
                dead[slot] = limit;
        }
        if (!kind || !e) {
            i++;
            continue;
        }
        if (n == (int)cap) {
            lex_span_t *nv = arena_alloc(a, 2 * cap * sizeof(*v));
            memcpy(nv, v, cap * sizeof(*v));
            v = nv;
            cap *= 2;
        }
        v[n].start = i;
        v[n].end = e;
        v[n].kind = kind;
        n++;
        i = e;
    }
    *out = v;
    return n;
}

bool lex_sentence_stop(const char *s, size_t len, size_t i)
{
    size_t b = i;

    if (s[i] != '.' && s[i] != '!' && s[i] != '?')
        return false;
    if (i + 1 < len && s[i + 1] != ' ' && s[i + 1] != '\n' &&
        s[i + 1] != '\t' && s[i + 1] != '\r')
        return false;
    if (s[i] != '.')
        return true;
    while (b > 0 && i - b < 8 && (is_alnum((unsigned char)s[b - 1]) ||
                                 s[b - 1] == '.'))
        b--;
    if (i - b == 1 && !(s[b] >= '0' && s[b] <= '9'))
        return false; /* "A. Smith", "e.g." ends as "g." */
    if (i - b <= 6 && lex_word_in(s + b, i - b, lexicon_abbrev))
        return false;
    return true;
}

bool lex_word_in(const char *w, size_t n, const char *const *list)
{
    for (; *list; list++) {
        size_t k = strlen(*list);
        if (k != n)
            continue;
        size_t j = 0;
        while (j < n && lower((unsigned char)w[j]) == (*list)[j])
            j++;
        if (j == n)
            return true;
    }
    return false;
}

/* Count the cues of every class in s[0..len) into cue[] (placeholder text
 * and the cue-only part of lex_scan). */
static void count_cues(const char *s, size_t len, size_t i, int *cue)
{
    unsigned long seen = 0;
    size_t from, to;

    cue_range(s + i, &from, &to);
    for (size_t k = from; k < to; k++) {
        int c = cue_index[k].cue;
        if (c == CUE_TASK || c == CUE_FORMATVERB || (seen & (1UL << c)))
            continue; /* verbs only count at a sentence start */
        if (match_phrase(s + i, len - i, cue_index[k].phrase)) {
            seen |= 1UL << c;
            cue[c]++;
        }
    }
}

/* A line opening with '#' at s[i]: a heading ("## Title", one to six '#'
 * then a space) breaks and is muted; three or more '#' otherwise are a
 * delimiter. */
static void line_hashes(const char *s, size_t len, size_t i, lex_stats_t *st,
                        bool *breaks, bool *mute)
{
    size_t j = i;

    while (j < len && s[j] == '#')
        j++;
    if (j < len && s[j] == ' ' && j - i <= 6)
        st->headings++, *breaks = true, *mute = true;
    else if (j - i >= 3)
        st->delimiters++, *breaks = true;
}

/* A bullet at s[i] ("- ", "* ", "+ ", "\u2022 "): where its text starts,
 * or 0 when there is none. */
static size_t line_bullet(const char *s, size_t len, size_t i)
{
    if ((s[i] == '-' || s[i] == '*' || s[i] == '+') && i + 1 < len && s[i + 1] == ' ')
        return i + 2;
    if (len - i >= 4 && memcmp(s + i, "\xe2\x80\xa2 ", 4) == 0)
        return i + 4;
    return 0;
}

/* A delimiter line at s[i]: "---", three double quotes or "===". */
static bool line_rule(const char *s, size_t len, size_t i)
{
    return len - i >= 3 && (memcmp(s + i, "---", 3) == 0 ||
                            memcmp(s + i, "\"\"\"", 3) == 0 ||
                            memcmp(s + i, "===", 3) == 0);
}

/* A numbered item at s[i] (a digit): up to three digits, then ". " or ") ":
 * where its text starts, or 0 when it is not one. */
static size_t line_number(const char *s, size_t len, size_t i)
{
    size_t j = i;

    while (j < len && j - i < 3 && s[j] >= '0' && s[j] <= '9')
        j++;
    if (j + 1 < len && (s[j] == '.' || s[j] == ')') && s[j + 1] == ' ')
        return j + 2;
    return 0;
}

/* A tag at s[i] ('<'): "<word>" or "</word>". */
static bool line_tag(const char *s, size_t len, size_t i)
{
    size_t j = i + 1 + (i + 1 < len && s[i + 1] == '/');
    size_t w = lex_word_len(s, len, j);

    return w && j + w < len && s[j + w] == '>';
}

/* A label at s[i] (a capital): "Task:", "Output format:", "Audience:" --
 * up to three words, then ':'. */
static bool line_label(const char *s, size_t len, size_t i)
{
    size_t j = i, w;

    for (int words = 0; words < 3 && j < len; words++) {
        if (!(w = lex_word_len(s, len, j)))
            return false;
        j += w;
        if (j < len && s[j] == ':')
            return true;
        if (j < len && s[j] == ' ')
            j++;
    }
    return false;
}

/* Classify the line starting at s[i] (after indentation): whether it
 * breaks the sentence, where its text starts, and whether it is muted
 * (structure, not content). */
static void scan_line_start(const char *s, size_t len, size_t i,
                            lex_stats_t *st, bool *breaks, size_t *skip,
                            bool *mute)
{
    unsigned char c;
    size_t item;

    *breaks = false;
    *skip = i;
    *mute = false;
    if (i >= len)
        return;
    c = (unsigned char)s[i];
    if (c == '#') {
        line_hashes(s, len, i, st, breaks, mute);
    } else if ((item = line_bullet(s, len, i)) != 0) {
        st->list_items++, *breaks = true, *skip = item;
    } else if (line_rule(s, len, i)) {
        st->delimiters++, *breaks = true;
    } else if (c >= '0' && c <= '9') {
        if ((item = line_number(s, len, i)) != 0)
            st->list_items++, *breaks = true, *skip = item;
    } else if (c == '<') {
        if (line_tag(s, len, i))
            st->xml_tags++, *breaks = true, *mute = true;
    } else if (c >= 'A' && c <= 'Z' && line_label(s, len, i)) {
        st->labels++, *breaks = true;
    }
}

/* lex_scan()'s state between bytes. */
typedef struct {
    const char *s;
    size_t len;              /* scan end */
    const lex_span_t *spans;
    int nspans, sp;          /* sp: first span ending after the position */
    lex_stats_t *st;
    int sent_words;          /* words in the current sentence */
    bool opening;            /* still before the current sentence's verb */
    bool wanted;             /* the opening said "I want/need/'d like" */
    bool line_start, prev_word, blank_run;
    char last;               /* last non-space byte of the sentence */
} scan_t;

static void end_sentence(scan_t *sc)
{
    lex_stats_t *st = sc->st;

    if (sc->sent_words) {
        st->sentences++;
        if (sc->sent_words > 35)
            st->long_sentences++;
        if (sc->last == '?') {
            st->questions++;
            if (st->sentences == 1)
                st->first_is_task = 1;
        }
    }
    sc->sent_words = 0;
    sc->opening = true;
    sc->wanted = false;
    sc->last = 0;
}

/* At a line start: blank lines end paragraphs, list markers and headings
 * end sentences; a heading or tag line is structure, not content, and is
 * skipped.  Returns where scanning continues. */
static size_t scan_line(scan_t *sc, size_t i)
{
    const char *s = sc->s;
    size_t k = i, skip;
    bool brk, mute;

    while (k < sc->len && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r'))
        k++;
    sc->line_start = false;
    if (k >= sc->len || s[k] == '\n') {
        if (!sc->blank_run)
            end_sentence(sc);
        sc->blank_run = true;
        return k;
    }
    if (sc->blank_run)
        sc->st->paragraphs++;
    sc->blank_run = false;
    if (sc->sp < sc->nspans && sc->spans[sc->sp].start <= k)
        return k; /* the line opens with a span */
    scan_line_start(s, sc->len, k, sc->st, &brk, &skip, &mute);
    if (brk)
        end_sentence(sc);
    if (mute)
        while (k < sc->len && s[k] != '\n')
            k++;
    return mute ? k : skip;
}

/* Count the span starting at the position; returns its end. */
static size_t scan_span(scan_t *sc, const lex_span_t *p)
{
    const char *s = sc->s;
    lex_stats_t *st = sc->st;

    switch (p->kind) {
    case LEX_FENCE: st->fences++; break;
    case LEX_INLINE: st->codes++; break;
    case LEX_QUOTE: st->quotes++; break;
    case LEX_VAR: st->vars++; break;
    case LEX_PLACEHOLDER:
        /* cues inside [[...]] count apart: a slot, not content */
        st->placeholders++;
        for (size_t k = p->start + 2, w; k + 2 < p->end; k += w ? w : 1)
            if ((w = lex_word_len(s, p->end - 2, k)))
                count_cues(s, p->end - 2, k, st->pcue);
        break;
    }
    if (p->kind != LEX_PLACEHOLDER) {
        st->words++, sc->sent_words++;
        sc->opening = false;
    }
    if (memchr(s + p->start, '\n', p->end - p->start))
        sc->line_start = true;
    sc->last = s[p->end - 1];
    sc->prev_word = false;
    return p->end;
}

/* A sentence's opening word: after hedges ("Could you please"), is it a
 * rule ("Do not"), a task verb or a wish ("I want a"), or a format verb? */
static void scan_opening(scan_t *sc, size_t i, size_t w)
{
    const char *word = sc->s + i;
    size_t rest = sc->len - i;
    lex_stats_t *st = sc->st;

    if (lex_word_in(word, w, lexicon_wants))
        sc->wanted = true;
    if (lex_word_in(word, w, lexicon_opener_skip))
        return;
    sc->opening = false;
    if (lex_match(word, rest, CUE_NEGATIVE)) {
        st->neg_sentences++; /* "Do not" before "Do" */
    } else if (lex_match(word, rest, CUE_TASK) ||
               (sc->wanted && lex_word_in(word, w, lexicon_articles))) {
        st->task_sentences++;
        if (st->sentences == 0)
            st->first_is_task = 1;
    } else if (lex_match(word, rest, CUE_FORMATVERB)) {
        st->format_sentences++;
    }
}

/* One word of w bytes at s[i]: names, cues, numbers and lengths. */
static void scan_word(scan_t *sc, size_t i, size_t w)
{
    const char *s = sc->s, *word = s + i;
    size_t len = sc->len;
    lex_stats_t *st = sc->st;
    unsigned char c = (unsigned char)s[i];

    st->words++, sc->sent_words++;
    if (sc->opening)
        scan_opening(sc, i, w);
    else if (c >= 'A' && c <= 'Z' && w >= 2)
        st->names++; /* capitalised, not opening a sentence */
    count_cues(s, len, i, st->cue);
    if (st->sentences == 0 && !st->first_is_role &&
        lex_match(word, len - i, CUE_ROLE))
        st->first_is_role = 1;
    if (!st->vague_first && lex_match(word, len - i, CUE_VAGUE))
        st->vague_first = (int)i + 1;
    if (c >= '0' && c <= '9') {
        size_t k = i + w;
        st->numbers++;
        for (size_t d = i; d < i + w; d++) /* "200-word" */
            if (s[d] == '-' && lex_match(s + d + 1, len - d - 1,
                                         CUE_LENGTHUNIT))
                st->length_specs++;
        while (k < len && (s[k] == ' ' || s[k] == '-'))
            k++;
        if (k < len && lex_match(s + k, len - k, CUE_LENGTHUNIT))
            st->length_specs++; /* "5 bullet points" */
    }
    sc->last = s[i + w - 1];
    sc->prev_word = true;
}

void lex_scan(const char *s, size_t from, size_t len,
              const lex_span_t *spans, int nspans, lex_stats_t *st)
{
    scan_t sc = {.s = s, .len = len, .spans = spans, .nspans = nspans,
                 .st = st, .opening = true, .line_start = true,
                 .blank_run = true};
    int lo = 0, hi = nspans;
    size_t i = from, w;

    memset(st, 0, sizeof(*st));
    while (lo < hi) { /* first span ending after from */
        int mid = (lo + hi) / 2;
        if (spans[mid].end <= from)
            lo = mid + 1;
        else
            hi = mid;
    }
    sc.sp = lo;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];

        while (sc.sp < nspans && spans[sc.sp].end <= i)
            sc.sp++;
        if (sc.line_start) {
            i = scan_line(&sc, i);
        } else if (sc.sp < nspans && spans[sc.sp].start == i) {
            i = scan_span(&sc, &spans[sc.sp]);
        } else if (c == '\n') {
            /* A line break ends a sentence after . ! ? : only; otherwise
             * the next line continues it (wrapped text). */
            if (sc.last == '.' || sc.last == '!' || sc.last == '?' ||
                sc.last == ':')
                end_sentence(&sc);
            sc.line_start = true;
            sc.prev_word = false;
            i++;
        } else if (!sc.prev_word && (w = lex_word_len(s, len, i))) {
            scan_word(&sc, i, w);
            i += w;
        } else {
            sc.prev_word = false;
            if (c != ' ' && c != '\t' && c != '\r')
                sc.last = (char)c;
            if (lex_sentence_stop(s, len, i)) {
                if (c == '?')
                    sc.last = '?';
                if (i + 1 >= len || s[i + 1] != '\n')
                    end_sentence(&sc); /* else the newline ends it */
            }
            i++;
        }
    }
    end_sentence(&sc);
}

enum lex_category lex_category(const lex_stats_t *st)
{
    static const struct { enum lex_category cat; int cue, weight; } w[] = {
        {LEX_CAT_TRANSLATE, CUE_CAT_TRANSLATE, 5},
        {LEX_CAT_SUMMARY, CUE_CAT_SUMMARY, 4},
        {LEX_CAT_EXTRACT, CUE_CAT_EXTRACT, 3},
        {LEX_CAT_CODE, CUE_CAT_CODE, 2},
        {LEX_CAT_MARKETING, CUE_CAT_MARKETING, 2},
        {LEX_CAT_ANALYSIS, CUE_CAT_ANALYSIS, 2},
        {LEX_CAT_WRITE, CUE_CAT_WRITE, 2},
        {LEX_CAT_QA, CUE_CAT_QA, 1},
    };
    enum lex_category best = LEX_CAT_GENERAL;
    int best_score = 0;

    for (size_t k = 0; k < sizeof(w) / sizeof(w[0]); k++) {
        int score = st->cue[w[k].cue] * w[k].weight;
        if (w[k].cat == LEX_CAT_CODE)
            score += 4 * (st->fences + (st->codes > 0));
        if (w[k].cat == LEX_CAT_QA)
            score += 2 * st->questions;
        if (score > best_score)
            best = w[k].cat, best_score = score;
    }
    return best;
}

const char *lex_category_name(enum lex_category c)
{
    static const char *const names[] = {
        "general", "coding", "writing", "summarising", "extraction", "qa",
        "marketing", "analysis", "translation"};
    return (unsigned)c < sizeof(names) / sizeof(names[0]) ? names[c]
                                                           : "general";
}
