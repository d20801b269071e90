/* engine.c (fuzz): the local enrichment engine on any valid UTF-8 prompt,
 * in every mode, with the scorer on its answer. */
#include "core/arena.h"
#include "core/str.h"
#include "enrich/engine.h"
#include "enrich/lex.h"
#include "enrich/score.h"
#include "fuzz.h"

/* data[0]: mode (low bits), goal and target model (high bits); the rest
 * is the prompt, as enrich_run.c hands it over (valid UTF-8, not empty). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data + 1;
    size_t len = size - 1;
    engine_opts_t o = {0};
    engine_result_t res, again;
    lex_span_t *spans;
    score_t sc;
    arena_t *a;
    int n;

    if (size < 2 || !utf8_valid(p, len))
        return 0;
    a = arena_create(16384);
    o.mode = (engine_mode_t)(data[0] % ENGINE_MODE_COUNT);
    o.goal = data[0] & 0x40 ? "A handout for Year 9 {{class}}" : NULL;
    o.target_model = data[0] & 0x80 ? "gpt-4o" : NULL;
    FUZZ_ASSERT(engine_mode_name(o.mode) != NULL);
    if (engine_enrich(a, p, len, &o, &res) == 0) {
        FUZZ_ASSERT(res.text != NULL && strlen(res.text) == res.len);
        FUZZ_ASSERT(utf8_valid(res.text, res.len));
        FUZZ_ASSERT(res.nsuggestions >= 0);
        for (int i = 0; i < res.nsuggestions; i++)
            FUZZ_ASSERT(res.suggestions[i] != NULL);
        /* Deterministic, and every {{variable}} survives verbatim. */
        FUZZ_ASSERT(engine_enrich(a, p, len, &o, &again) == 0);
        FUZZ_ASSERT(again.len == res.len && memcmp(again.text, res.text, res.len) == 0);
        n = lex_spans(a, p, len, &spans);
        for (int i = 0; i < n; i++)
            if (spans[i].kind == LEX_VAR)
                FUZZ_ASSERT(memmem(res.text, res.len, p + spans[i].start,
                                   spans[i].end - spans[i].start) != NULL);
        FUZZ_ASSERT(score_prompt(a, res.text, res.len, &sc) == 0);
        FUZZ_ASSERT(sc.total >= 0 && sc.total <= 100);
    }
    arena_destroy(a);
    return 0;
}
