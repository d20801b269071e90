/* score_int.h: what score.c and score_kind.c share (the prompt's kind and the second scan). */
#ifndef PROMPTD_SCORE_INT_H
#define PROMPTD_SCORE_INT_H

#include "core/arena.h"
#include "enrich/lex.h"
#include "enrich/lexicon.h"

/* What the prompt is, detected before it is judged: an image-generation
 * prompt is judged on image vocabulary, not as a request for prose. */
enum score_kind { SCORE_KIND_TASK, SCORE_KIND_QUESTION, SCORE_KIND_IMAGE };

typedef struct {
    enum score_kind kind;
    int hits[LEXICON_SCORE_COUNT]; /* words opening a phrase of each class */
    int img_aspects;  /* image aspects named: medium .. aspect ratio (0..7) */
    int content;      /* distinct content words (CJK: characters / 2),
                         quoted strings and {{variables}} one each */
    int subject;      /* distinct content words naming no image aspect */
    int instructions; /* sentences opening with an instruction verb */
    int tags;         /* <tag> and </tag> anywhere, also inline */
    int shout;        /* words in runs of capitals ("DO NOT ASK") */
    int words, cjk;   /* words; CJK characters */
    bool opened;      /* the first sentence's verb has been seen */
    bool opened_verb; /* it opens with a task verb */
    bool text_first;  /* it opens with a task verb of no image request */
    bool foreign;     /* few English function words: the English cues
                         cannot judge its wording */
} score_scan_t;

/* Scan s[0..len) (spans from lex_spans, st from lex_scan of the same text)
 * into *k.  Linear in len; up to 32 KB from the arena. */
void score_kind_scan(arena_t *a, const char *s, size_t len,
                     const lex_span_t *spans, int nspans, const lex_stats_t *st,
                     score_scan_t *k);

#endif
