/* lex.h: the span and cue scanner shared by the local engine and the scorer. */
#ifndef PROMPTD_LEX_H
#define PROMPTD_LEX_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"

/* Protected spans: text the engine copies byte for byte and never splits. */
enum lex_span_kind {
    LEX_FENCE = 1,   /* ```...``` (to the end of the text when unclosed) */
    LEX_INLINE,      /* `...` on one line */
    LEX_QUOTE,       /* "..." or \u201c...\u201d within one paragraph */
    LEX_VAR,         /* {{...}} on one line */
    LEX_PLACEHOLDER  /* [[...]] on one line: the engine's own marker */
};

typedef struct {
    size_t start, end;   /* [start, end) byte offsets */
    int kind;            /* enum lex_span_kind */
} lex_span_t;

/* Every protected span of s[0..len), in order and non-overlapping, in *out
 * (from the arena).  Returns the count.  Linear in len. */
int lex_spans(arena_t *a, const char *s, size_t len, lex_span_t **out);

/* Cue classes found by word and phrase matching (outside spans). */
enum lex_cue {
    CUE_TASK,        /* imperative task verb (counted at a sentence start) */
    CUE_FORMATVERB,  /* return/output/respond/format at a sentence start */
    CUE_VAGUE,       /* something, stuff, good, nice, etc ... */
    CUE_FILLER,      /* please, basically, really, very ... */
    CUE_HEDGE,       /* can you, could you, i was wondering ... */
    CUE_AUDIENCE,    /* audience, readers, for beginners ... */
    CUE_ROLE,        /* you are, act as ... */
    CUE_BACKGROUND,  /* context, because, the goal, we are ... */
    CUE_FORMAT,      /* json, table, bullet, markdown ... */
    CUE_LENGTHUNIT,  /* words, sentences, bullets ... (after a number) */
    CUE_LENGTHWORD,  /* brief, short, one paragraph ... */
    CUE_CONSTRAINT,  /* must, only, at most, avoid ... */
    CUE_TONE,        /* tone, formal, friendly, style ... */
    CUE_EXAMPLE,     /* for example, e.g., example: ... */
    CUE_NEGATIVE,    /* don't, do not, never */
    CUE_MATERIAL,    /* text, article, email, the following ... */
    CUE_STEP,        /* step, first, then, finally */
    CUE_CAT_CODE, CUE_CAT_WRITE, CUE_CAT_SUMMARY, CUE_CAT_EXTRACT,
    CUE_CAT_QA, CUE_CAT_MARKETING, CUE_CAT_ANALYSIS,
    CUE_LANG,        /* a programming language or platform named */
    CUE_CAT_TRANSLATE,
    CUE_MATERIALREF, /* the following, below, attached, here is ... */
    CUE_COUNT
};

/* Task categories, guessed from the category cues. */
enum lex_category {
    LEX_CAT_GENERAL, LEX_CAT_CODE, LEX_CAT_WRITE, LEX_CAT_SUMMARY,
    LEX_CAT_EXTRACT, LEX_CAT_QA, LEX_CAT_MARKETING, LEX_CAT_ANALYSIS,
    LEX_CAT_TRANSLATE
};

/* What one scan of a piece of text found. */
typedef struct {
    int words, sentences, long_sentences, paragraphs;
    int numbers, names, quotes, codes, fences, vars, placeholders;
    int cue[CUE_COUNT];    /* outside placeholders */
    int pcue[CUE_COUNT];   /* inside [[...]] placeholders */
    int task_sentences;    /* sentences opening with a task verb */
    int format_sentences;  /* sentences opening with return/output/... */
    int first_is_task;     /* the first sentence is a task or a question */
    int first_is_role;     /* the first sentence sets a role ("You are") */
    int questions;         /* sentences ending in '?' */
    int length_specs;      /* a number followed by a length unit */
    int headings, labels, list_items, xml_tags, delimiters;
    int neg_sentences;     /* sentences opening with don't / do not / never */
    int vague_first;       /* offset+1 of the first vague word, 0 if none */
} lex_stats_t;

/* Scan s[from..to) with the spans of the whole text (from lex_spans; no
 * span may cross from or to) and fill *st.  Linear in to - from. */
void lex_scan(const char *s, size_t from, size_t to, const lex_span_t *spans,
              int nspans, lex_stats_t *st);

/* The most likely task category of a scan. */
enum lex_category lex_category(const lex_stats_t *st);
const char *lex_category_name(enum lex_category c);

/* Length of the cue phrase of class cue starting at s (a word start), 0 if
 * none; the phrase must end at a word boundary. */
size_t lex_match(const char *s, size_t len, enum lex_cue cue);

/* Length of phrase (lower-case, as the cue tables') matched at s, ending
 * at a word boundary; 0 if it does not match. */
size_t lex_phrase_len(const char *s, size_t len, const char *phrase);

/* True when w[0..n) equals, ignoring ASCII case, a phrase of the
 * NULL-terminated lower-case list. */
bool lex_word_in(const char *w, size_t n, const char *const *list);

/* Bytes of the word starting at s[i], 0 when s[i] starts no word.  Words are
 * runs of ASCII letters, digits, '_', non-ASCII letters (anything but
 * U+0080..U+00BF and U+2000..U+206F), with inner '\'' , '-', '.' or ','
 * between two word characters ("don't", "e-mail", "3.5", "1,000"). */
size_t lex_word_len(const char *s, size_t len, size_t i);

/* True when s[i] is '.', '!' or '?' ending a sentence: followed by white
 * space or the end, and not closing an abbreviation ("e.g.", "Dr.", "A."). */
bool lex_sentence_stop(const char *s, size_t len, size_t i);

#endif
