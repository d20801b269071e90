/* engine.c: the local enrichment engine's API and pipeline (rule-based, deterministic rewriting). */
#include <string.h>

#include "enrich/engine_int.h"

/*
 * How it works, in one pass each, all linear in the prompt's length:
 *   1. lex_spans() finds the protected spans (code, quotes, {{variables}}).
 *   2. engine_split_units() (engine_units.c) cuts the text into units
 *      (sentences, list items, headings, fenced blocks) never inside a
 *      protected span.
 *   3. engine_classify() (engine_roles.c) gives each unit a role: task,
 *      context, material (text supplied to work on), constraint, format,
 *      example.
 *   4. The scorer's kind scan (score_kind_scan) says whether it is an
 *      image prompt: one of those gets engine_image.c's writer in every
 *      mode (its description, then labelled slots for missing aspects).
 *   5. Otherwise the mode's writer (engine_sections.c, engine_clarify.c,
 *      engine_concise.c; units put by engine_put.c, placeholders and
 *      questions from engine_ask.c) emits units verbatim (only a unit's
 *      opening hedge, "don't" or filler words may be rewritten, never a
 *      protected span, a capitalised word or a number) into sections, and
 *      adds marked placeholders "[[Add: ...]]" for missing essentials.
 * Every byte of every protected span, number and capitalised name therefore
 * reaches the output; the unit tests check it for every mode.  Word lists
 * live in lexicon.c.
 */

static const char *const mode_names[ENGINE_MODE_COUNT] = {
    [ENGINE_IMPROVE] = "improve", [ENGINE_STRUCTURE] = "structure",
    [ENGINE_CLARIFY] = "clarify", [ENGINE_EXPAND] = "expand",
    [ENGINE_CONCISE] = "concise",
};

int engine_mode_parse(const char *name, engine_mode_t *out)
{
    if (!name)
        return -1;
    for (int m = 0; m < ENGINE_MODE_COUNT; m++)
        if (strcmp(name, mode_names[m]) == 0) {
            *out = (engine_mode_t)m;
            return 0;
        }
    return -1;
}

const char *engine_mode_name(engine_mode_t mode)
{
    return (unsigned)mode < ENGINE_MODE_COUNT ? mode_names[mode] : "improve";
}

static bool contains_ci(const char *hay, const char *needle)
{
    size_t n = hay ? strlen(hay) : 0;

    for (size_t i = 0; i < n; i++)
        if (has_prefix(hay + i, n - i, needle))
            return true;
    return false;
}

/* The goal without surrounding white space, one line; NULL when empty
 * or not valid UTF-8 (the caller's goal is never trusted blindly). */
static const char *trimmed_goal(arena_t *a, const char *goal)
{
    size_t n;
    char *g;

    if (!goal)
        return NULL;
    while (is_space(*goal))
        goal++;
    n = strlen(goal);
    while (n && is_space(goal[n - 1]))
        n--;
    if (!n || !utf8_valid(goal, n))
        return NULL;
    g = arena_strndup(a, goal, n);
    for (char *p = g; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    return g;
}

int engine_enrich(arena_t *a, const char *prompt, size_t len,
                  const engine_opts_t *opts, engine_result_t *out)
{
    static const engine_opts_t defaults = {.mode = ENGINE_IMPROVE};
    eng_t e;
    strbuf_t sb;
    size_t i = 0;

    if (!a || !prompt || !len || !out || !utf8_valid(prompt, len))
        return -1;
    while (i < len && is_space(prompt[i]))
        i++;
    if (i == len)
        return -1; /* nothing but white space */
    if (!opts)
        opts = &defaults;
    if ((unsigned)opts->mode >= ENGINE_MODE_COUNT)
        return -1;
    memset(&e, 0, sizeof(e));
    e.a = a;
    e.s = prompt;
    e.len = len;
    e.opts = opts;
    e.nspans = lex_spans(a, prompt, len, &e.spans);
    lex_scan(prompt, 0, len, e.spans, e.nspans, &e.all);
    e.cat = lex_category(&e.all);
    /* the scorer's own kind detection, so both judge the same prompt */
    score_kind_scan(a, prompt, len, e.spans, e.nspans, &e.all, &e.k);
    e.image = e.k.kind == SCORE_KIND_IMAGE;
    e.goal = trimmed_goal(a, opts->goal);
    e.xml = opts->target_model && contains_ci(opts->target_model, "claude");
    /* OpenAI's reasoning models work best without step-by-step scaffolds */
    e.reasoning = opts->target_model && opts->target_model[0] == 'o' &&
                  opts->target_model[1] >= '1' && opts->target_model[1] <= '9';
    engine_split_units(&e);
    engine_classify(&e);

    strbuf_init(&sb, a, len + 1024);
    if (e.image)
        engine_write_image(&e, &sb, opts->mode);
    else switch (opts->mode) {
    case ENGINE_CLARIFY:
        engine_write_clarify(&e, &sb);
        break;
    case ENGINE_CONCISE:
        engine_write_concise(&e, &sb);
        break;
    default:
        engine_write_sections(&e, &sb, opts->mode);
        break;
    }
    out->text = sb.ptr;
    out->len = sb.len;
    out->suggestions = e.sugg ? e.sugg : arena_zalloc(a, sizeof(char *));
    out->nsuggestions = e.nsugg;
    return 0;
}
