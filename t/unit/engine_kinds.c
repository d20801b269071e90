/* engine_kinds.c: unit tests for the local engine's concise mode and its image prompts, on hand-written hard cases and the TUNE part of t/data/quality/. */
#include <stdbool.h>
#include <string.h>

#include "core/str.h"
#include "enrich/engine.h"
#include "enrich/score.h"
#include "quality.h"
#include "tap.h"

/* Sections written for text answers, out of place in an image prompt. */
static bool text_sections(const char *out)
{
    return strstr(out, "## Task") || strstr(out, "## Output format") ||
           strstr(out, "## Steps") || strstr(out, "<task>") ||
           strstr(out, "Output format");
}

static const char *run(arena_t *a, const char *p, engine_mode_t mode)
{
    engine_opts_t o = {.mode = mode};
    engine_result_t r;

    return engine_enrich(a, p, strlen(p), &o, &r) == 0 ? r.text : "";
}

static int total(arena_t *a, const char *p)
{
    score_t s;

    return score_prompt(a, p, strlen(p), &s) == 0 ? s.total : -1;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;

    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* Concise: filler out, then at most one compact line asking for the
 * format and length where the answer's length is open, fitted to the
 * task; nothing added where a length is stated. */
static void test_concise(arena_t *a)
{
    static const struct {
        const char *in, *want, *why;
    } cases[] = {
        {"Can you please write a toast for my sister's wedding?",
         "Write a toast for my sister's wedding.\nAnswer briefly, in the "
         "format [[Add: e.g. 3 bullet points or one short paragraph]].",
         "a hedged request: hedge out, brevity and format asked"},
        {"Can you please explain how DNS works?",
         "Explain how DNS works.\nAnswer directly first, then explain "
         "briefly ([[Add: the length, e.g. at most 3 sentences]]).",
         "an explanation: the answer first, a brief explanation"},
        {"Could you tell me why the sky is blue?",
         "Tell me why the sky is blue.\nAnswer directly first, then explain "
         "briefly ([[Add: the length, e.g. at most 3 sentences]]).",
         "a question: the answer first, a brief explanation"},
        {"Fix the bug in `parse()`.",
         "Fix the bug in `parse()`.\nReply with one code block, then a "
         "brief explanation.",
         "code: one code block, the format fixed by the task"},
        {"Classify this review: \"Great fit, fast delivery\"",
         NULL, "classification: only the result"},
        {"You are a support agent for {{company}}.",
         "You are a support agent for {{company}}.\nKeep every answer brief, "
         "in the format [[Add: e.g. 3 bullet points or one short "
         "paragraph]].",
         "a system prompt: every answer brief"},
        {"Write a product description for Acme boots as a bulleted list.",
         "Write a product description for Acme boots as a bulleted list.\n"
         "Keep it brief: [[Add: the length, e.g. under 150 words]].",
         "format stated, length open: only the length"},
        {"Can you please, basically, write a haiku about rain?",
         "Write a haiku about rain.\nAnswer briefly, in the format [[Add: "
         "e.g. 3 bullet points or one short paragraph]].",
         "hedges with commas go: a sharp imperative, not a question"},
        {"Could you please, if you don't mind, tell me about machine "
         "learning?",
         "Tell me about machine learning.\nAnswer directly first, then "
         "explain briefly ([[Add: the length, e.g. at most 3 sentences]]).",
         "\"if you don't mind\" between hedges goes too"},
        {"Could you, Anna, check the Q3 figures?",
         NULL, "a name after a hedge stops the rewrite"},
        {"Summarise the report in 3 bullet points.",
         "Summarise the report in 3 bullet points.",
         "length stated: nothing added"},
        {"Translate \"Good morning\" into French.",
         "Translate \"Good morning\" into French.",
         "a translation: its length is the source's"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *out = run(a, cases[i].in, ENGINE_CONCISE);
        if (cases[i].want)
            is_str(out, cases[i].want, "concise: %s", cases[i].why);
        else if (strstr(cases[i].in, "Anna"))
            ok(strncmp(out, cases[i].in, strlen(cases[i].in)) == 0,
               "concise: %s", cases[i].why);
        else
            ok(strstr(out, "Return only the result") &&
                   strstr(out, "\"Great fit, fast delivery\""),
               "concise: %s", cases[i].why);
        ok(strcmp(run(a, out, ENGINE_CONCISE), out) == 0,
           "  concise twice adds nothing more");
        ok(!strstr(out, "##") && count(out, "\n") <= 1,
           "  no section, at most one added line");
    }
    ok(total(a, run(a, "Can you please explain how DNS works?",
                    ENGINE_CONCISE)) >
           total(a, "Can you please explain how DNS works?"),
       "concise raises the score of a hedged question");
    arena_reset(a);
}

/* Image prompts get image detail in every mode: labelled slots for the
 * aspects they lack, their own wording kept, no task sections. */
static void test_image(arena_t *a)
{
    const char *desc = "a lighthouse on a cliff at sunset, oil painting";
    const char *cat = "Draw a cat.";
    const char *ar = "a red fox in fresh snow, watercolor, soft dawn light, "
                     "--ar 16:9";

    for (int m = 0; m < ENGINE_MODE_COUNT; m++) {
        const char *name = engine_mode_name((engine_mode_t)m);
        const char *out = run(a, desc, (engine_mode_t)m);
        ok(!text_sections(out) && strncmp(out, desc, strlen(desc)) == 0,
           "image %s: the description first, verbatim, no task sections",
           name);
        ok(strstr(out, "Composition: [[Add:") && !strstr(out, "Style:") &&
               !strstr(out, "Lighting:"),
           "  asks for the composition, not the style or light it has");
        ok(total(a, out) > total(a, desc), "  the score rises");
        out = run(a, ar, (engine_mode_t)m);
        ok(!strstr(out, "Aspect ratio") && strstr(out, "--ar 16:9"),
           "  a stated aspect ratio is kept and not asked for");
        out = run(a, cat, (engine_mode_t)m);
        ok(!text_sections(out) && total(a, out) > total(a, cat),
           "  \"Draw a cat.\": image detail, the score rises");
        arena_reset(a);
    }
    is_str(run(a, cat, ENGINE_CONCISE),
           "Draw a cat.\nStyle: [[Add: the medium, e.g. photograph, "
           "watercolour or 3D render]]; composition: [[Add: the framing, "
           "e.g. close-up, centred, or a wide shot]]; lighting: [[Add: e.g. "
           "soft morning light from the left]]; aspect ratio: [[Add: e.g. "
           "16:9, 2:3 or square]].",
           "image concise: one compact line of the missing aspects");
    ok(strstr(run(a, "portrait of a woman, beautiful, amazing, best quality",
                  ENGINE_CLARIFY),
              "[[Clarify: what should the image show instead of "
              "\"beautiful\"?]]") != NULL,
       "image clarify asks what empty praise should show");
    ok(strstr(run(a, cat, ENGINE_STRUCTURE), "Subject: [[Add:") != NULL,
       "a one-word subject is asked for");
    ok(strncmp(run(a, "Can you please draw a fox in the snow?",
                   ENGINE_IMPROVE), "Draw a fox in the snow.", 23) == 0,
       "an image request loses its hedge");
    ok(strstr(run(a, "an old lighthouse in a storm", ENGINE_IMPROVE),
              "## Task") == NULL,
       "a bare noun phrase is an image description");
    ok(strstr(run(a, "Write a blog post about our logo redesign.",
                  ENGINE_IMPROVE), "## Task") != NULL,
       "a post about a logo is a text task");
    ok(strstr(run(a, "My dog is sick", ENGINE_IMPROVE), "Style:") == NULL,
       "a clause is no image description");
    arena_reset(a);
}

/* The TUNE part's worse prompts (never the held-out part): concise raises
 * the score of >= 98% and is never longer than improve; a prompt the
 * scorer judges an image never gets task sections, in any mode. */
static void test_tune(arena_t *a)
{
    qset_t s;
    int n = 0, rises = 0, longer = 0, images = 0, boiler = 0;

    if (quality_load(a, NULL, &s) < 0) {
        ok(0, "quality set loads: %s", s.error);
        return;
    }
    for (int i = 0; i < s.npairs; i++) {
        const qpair_t *q = &s.pairs[i];
        score_t k;
        if (q->source->heldout)
            continue;
        const char *c = run(a, q->worse, ENGINE_CONCISE);
        n++;
        rises += total(a, c) > total(a, q->worse);
        longer += strlen(c) > strlen(run(a, q->worse, ENGINE_IMPROVE));
        if (score_prompt(a, q->worse, strlen(q->worse), &k) == 0 &&
            !strcmp(k.kind, "image"))
            for (int m = 0; m < ENGINE_MODE_COUNT; m++) {
                images++;
                boiler += text_sections(run(a, q->worse, (engine_mode_t)m));
            }
    }
    diag("tune: concise raises %d of %d worse prompts", rises, n);
    ok(n >= 100 && rises * 100 >= 98 * n,
       "tune: concise raises the score of >= 98%% (%d of %d)", rises, n);
    is_int(longer, 0, "tune: concise is never longer than improve");
    ok(images >= 50 && !boiler,
       "tune: image prompts get no task sections (%d runs)", images);
}

int main(void)
{
    arena_t *a = arena_create(1 << 16);

    test_concise(a);
    test_image(a);
    test_tune(a);
    arena_destroy(a);
    return done_testing();
}
