/* lexicon.h: the word lists of the local engine and the scorer (lower-case ASCII, NULL-terminated). */
#ifndef PROMPTD_LEXICON_H
#define PROMPTD_LEXICON_H

#include "enrich/lex.h"

/* The cue phrases of each class (enum lex_cue); a trailing '*' matches any
 * word ending ("summari*"). */
extern const char *const *const lexicon_cues[CUE_COUNT];

/* lex.c: sentence openers skipped before the verb, abbreviations that end
 * no sentence, wish verbs and the articles after them ("I want a"). */
extern const char *const lexicon_opener_skip[];
extern const char *const lexicon_abbrev[];
extern const char *const lexicon_wants[];
extern const char *const lexicon_articles[];

/* The engine's units and roles: tags of instruction blocks, section labels
 * ("Constraints:"), bare pleasantries. */
extern const char *const lexicon_instruction_tags[];
extern const char *const lexicon_section_labels[];
extern const char *const lexicon_pleasantries[];

/* The engine's rewriting: opening hedges (longest first), verbs doubling
 * their last consonant in -ing, words after "don't" that are no verb, wish
 * openers before an article. */
extern const char *const lexicon_hedges[];
extern const char *const lexicon_doubling[];
extern const char *const lexicon_not_verbs[];
extern const char *const lexicon_wishes[];

/* Filler phrases and their replacements ("" removes), ending {NULL, NULL}
 * at index lexicon_fillers_end. */
typedef struct {
    const char *phrase, *with;
} lexicon_filler_t;
extern const lexicon_filler_t lexicon_fillers[];
extern const int lexicon_fillers_end;

/* Material a task refers to: marks ("the following"), determiners before
 * a material noun, material cue words that are no nouns. */
extern const char *const lexicon_material_marks[];
extern const char *const lexicon_determiners[];
extern const char *const lexicon_not_nouns[];

/* The scorer's own classes (score_kind.c): image vocabulary by aspect,
 * empty praise, reasoning requests, agents' tools and rules, stop words, verbs
 * opening an instruction that are no task verbs ("Use 3 sentences"),
 * pronouns and auxiliaries that make a clause of a noun phrase. */
enum lexicon_score_class {
    LSC_IMG_REQUEST, LSC_IMG_MEDIUM, LSC_IMG_COMPOSITION, LSC_IMG_LIGHTING,
    LSC_IMG_LENS, LSC_IMG_COLOUR, LSC_IMG_MOOD, LSC_IMG_ASPECT,
    LSC_IMG_EMPTY, LSC_IMG_VERB, LSC_REASONING, LSC_AGENT_TOOL, LSC_AGENT_RULE, LSC_STOPWORD,
    LSC_INSTRUCT, LSC_CLAUSE,
    LEXICON_SCORE_COUNT
};
extern const char *const *const lexicon_score[LEXICON_SCORE_COUNT];

#endif
