/* score_kind.c: the scorer's second scan: the prompt's kind, its distinct content words and the image, reasoning and agent vocabulary. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "enrich/lexicon.h"
#include "enrich/score_int.h"

/* The phrases of lexicon_score bucketed by first byte, built once. */
typedef struct {
    const char *phrase;
    int cls;
} kind_entry_t;

#define KIND_INDEX_MAX 512
_Static_assert(LEXICON_SCORE_COUNT <= 32, "a 32-bit mask of classes per word");

static kind_entry_t kind_index[KIND_INDEX_MAX];
static unsigned short kind_bucket[129];
static pthread_once_t kind_once = PTHREAD_ONCE_INIT;

static void kind_index_build(void)
{
    unsigned short count[128] = {0};
    size_t n = 0;

    for (int c = 0; c < LEXICON_SCORE_COUNT; c++)
        for (const char *const *t = lexicon_score[c]; *t; t++, n++)
            count[(unsigned char)(*t)[0] & 127]++;
    if (n > KIND_INDEX_MAX)
        abort(); /* a table grew past the index: raise KIND_INDEX_MAX */
    for (int b = 0; b < 128; b++)
        kind_bucket[b + 1] = (unsigned short)(kind_bucket[b] + count[b]);
    memset(count, 0, sizeof(count));
    for (int c = 0; c < LEXICON_SCORE_COUNT; c++)
        for (const char *const *t = lexicon_score[c]; *t; t++) {
            int b = (unsigned char)(*t)[0] & 127;
            kind_index[kind_bucket[b] + count[b]++] = (kind_entry_t){*t, c};
        }
}

/* The classes whose phrases match at s (a mask), each counted once here. */
static unsigned kind_match(const char *s, size_t len, int *hits)
{
    int c0 = (unsigned char)s[0];
    unsigned seen = 0;

    if (c0 >= 'A' && c0 <= 'Z')
        c0 += 32;
    if (c0 >= 128)
        return 0;
    for (size_t k = kind_bucket[c0]; k < kind_bucket[c0 + 1]; k++) {
        int c = kind_index[k].cls;
        if (!(seen & (1u << c)) &&
            lex_phrase_len(s, len, kind_index[k].phrase)) {
            seen |= 1u << c;
            hits[c]++;
        }
    }
    return seen;
}

/* Distinct words: an open-addressing set of 32-bit hashes (0 = empty),
 * sized to the text: at most KIND_SET_MAX slots, filled at most half (the
 * words past that are not counted: detail has long saturated). */
#define KIND_SET_MAX 8192

typedef struct {
    uint32_t *slot;
    uint32_t mask;
    int n;
} kind_set_t;

static void set_init(arena_t *a, kind_set_t *set, size_t len)
{
    uint32_t size = 64;

    while (size < KIND_SET_MAX && size < len)
        size *= 2;
    set->slot = arena_zalloc(a, size * sizeof(*set->slot));
    set->mask = size - 1;
    set->n = 0;
}

static bool set_add(kind_set_t *set, const char *w, size_t len)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)w[i];
        h = (h ^ (c >= 'A' && c <= 'Z' ? c + 32 : c)) * 16777619u;
    }
    if (!h)
        h = 1;
    if ((uint32_t)set->n >= (set->mask + 1) / 2)
        return false;
    for (uint32_t k = h & set->mask;; k = (k + 1) & set->mask) {
        if (set->slot[k] == h)
            return false;
        if (!set->slot[k]) {
            set->slot[k] = h;
            set->n++;
            return true;
        }
    }
}

/* CJK code points (U+3000..U+9FFF, U+AC00..U+D7FF) in w[0..len). */
static int cjk_chars(const char *w, size_t len)
{
    int n = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)w[i];
        n += c >= 0xE3 && c <= 0xED;
    }
    return n;
}

/* The classes of the image aspects and of an image request. */
#define SCORE_IMG_MASK (((1u << (LSC_IMG_ASPECT + 1)) - 1) & \
                        ~((1u << LSC_IMG_REQUEST) - 1))

/* True when w[0..n) has two or more letters, all capitals. */
static bool all_caps(const char *w, size_t n)
{
    int letters = 0;

    for (size_t i = 0; i < n; i++) {
        if (w[i] >= 'a' && w[i] <= 'z')
            return false;
        letters += w[i] >= 'A' && w[i] <= 'Z';
    }
    return letters >= 2;
}

/* The scan's position between words. */
typedef struct {
    bool start;      /* the next word opens a sentence or line */
    int caps_run;    /* capitalised words in a row so far */
} kind_pos_t;

/* One word at s[i]: classes, and whether it is a new content word. */
static void kind_word(const char *s, size_t len, size_t i, size_t w,
                      kind_set_t *set, kind_pos_t *pos,
                      score_scan_t *k)
{
    unsigned cls = kind_match(s + i, len - i, k->hits);
    int cjk = cjk_chars(s + i, w);

    k->words++;
    if (!k->opened && !lex_word_in(s + i, w, lexicon_opener_skip)) {
        k->opened = true;
        k->opened_verb = lex_match(s + i, len - i, CUE_TASK) > 0;
        k->text_first = k->opened_verb && !(cls & (1u << LSC_IMG_VERB));
    }
    if (pos->start && (cls & (1u << LSC_INSTRUCT)))
        k->instructions++;
    pos->start = false;
    pos->caps_run = all_caps(s + i, w) ? pos->caps_run + 1 : 0;
    k->shout += pos->caps_run == 2 ? 2 : pos->caps_run > 2;
    if (cjk) {
        k->cjk += cjk;
        if (set_add(set, s + i, w))
            k->content += (cjk + 1) / 2; /* no spaces: characters count */
        return;
    }
    if ((cls & (1u << LSC_STOPWORD)) || (cls & (1u << LSC_IMG_EMPTY)) ||
        lex_match(s + i, len - i, CUE_VAGUE) ||
        lex_match(s + i, len - i, CUE_FILLER))
        return;
    if (set_add(set, s + i, w)) {
        k->content++;
        k->subject += !(cls & SCORE_IMG_MASK);
    }
}

/* A tag at s[i] ('<'): "<word>" or "</word>", as lex.c's line tags. */
static bool tag_at(const char *s, size_t len, size_t i)
{
    size_t j = i + 1 + (i + 1 < len && s[i + 1] == '/');
    size_t w = lex_word_len(s, len, j);

    return w && j + w < len && s[j + w] == '>';
}

/* English function words and scoring cues: a keyword list in English is
 * not another language. */
static int english_hits(const lex_stats_t *st, const score_scan_t *k)
{
    int n = k->hits[LSC_STOPWORD] + st->task_sentences;

    for (int c = CUE_VAGUE; c <= CUE_EXAMPLE; c++)
        n += st->cue[c];
    return n;
}

/* A bare noun phrase of a few words ("an old lighthouse in a storm"):
 * no sentence stop at its end ("Handle the user's order." is a sentence
 * whatever its verb), no verb opening it, no question, no pronoun or
 * auxiliary, and no word naming a text, a task category or an output
 * format.  Stored as a prompt, it describes a picture. */
#define KIND_BARE_MAX_WORDS 12

static bool bare_description(const char *s, size_t len, const lex_stats_t *st,
                             const score_scan_t *k)
{
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\n' ||
                   s[len - 1] == '\r' || s[len - 1] == '\t'))
        len--;
    if (!len || s[len - 1] == '.' || s[len - 1] == '!')
        return false;
    int text_cues = st->cue[CUE_MATERIAL] + st->cue[CUE_FORMAT] +
                    st->cue[CUE_ROLE] + st->cue[CUE_FORMATVERB];

    for (int c = CUE_CAT_CODE; c <= CUE_MATERIALREF; c++)
        text_cues += st->cue[c];
    return k->words && k->words <= KIND_BARE_MAX_WORDS && !k->foreign &&
           !k->opened_verb && !st->task_sentences && !st->questions &&
           !k->instructions && !k->hits[LSC_CLAUSE] && !text_cues &&
           st->sentences <= 1 && !st->codes && !st->fences && !st->vars;
}

void score_kind_scan(arena_t *a, const char *s, size_t len,
                     const lex_span_t *spans, int nspans, const lex_stats_t *st,
                     score_scan_t *k)
{
    kind_set_t set;
    int sp = 0;
    size_t i = 0, w;
    bool prev = false;
    kind_pos_t pos = {true, 0};

    memset(k, 0, sizeof(*k));
    set_init(a, &set, len);
    pthread_once(&kind_once, kind_index_build);
    while (i < len) {
        while (sp < nspans && spans[sp].start < i)
            sp++;
        if (sp < nspans && spans[sp].start == i) {
            if (spans[sp].kind == LEX_QUOTE || spans[sp].kind == LEX_VAR)
                k->content++;
            i = spans[sp++].end, prev = false;
            continue;
        }
        if (s[i] == '-' && i + 3 < len && s[i + 1] == '-' && !prev)
            kind_match(s + i, len - i, k->hits); /* "--ar 16:9" */
        if (!prev && (w = lex_word_len(s, len, i))) {
            kind_word(s, len, i, w, &set, &pos, k);
            i += w, prev = true;
            continue;
        }
        if (s[i] == '<' && tag_at(s, len, i))
            k->tags++;
        if (s[i] == '\n' || lex_sentence_stop(s, len, i))
            pos.start = true;
        prev = false;
        i++;
    }
    /* Under one English function word in 12 (or mostly CJK): another
     * language, whose wording the English cues cannot judge. */
    k->foreign = (k->words >= 3 && english_hits(st, k) * 12 < k->words) ||
                 k->cjk > k->words;
    for (int c = LSC_IMG_MEDIUM; c <= LSC_IMG_ASPECT; c++)
        k->img_aspects += k->hits[c] > 0;
    /* "Write a post about our logo" is no image request: a prompt opening
     * with a text task verb needs most aspects of an image to be one; one
     * that sets a role ("You are a photography tutor") needs an explicit
     * image request. */
    if (st->first_is_role ? k->hits[LSC_IMG_REQUEST] > 0
        : k->text_first   ? k->img_aspects >= 4
                          : k->hits[LSC_IMG_REQUEST] || k->img_aspects >= 3 ||
                                bare_description(s, len, st, k))
        k->kind = SCORE_KIND_IMAGE;
    else if (st->questions && !st->task_sentences)
        k->kind = SCORE_KIND_QUESTION;
    else
        k->kind = SCORE_KIND_TASK;
}
