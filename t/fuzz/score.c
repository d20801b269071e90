/* score.c (fuzz): the prompt-quality scorer and its JSON on any valid UTF-8. */
#include <cjson/cJSON.h>

#include "core/arena.h"
#include "core/str.h"
#include "enrich/score.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    arena_t *a;
    score_t sc;
    strbuf_t sb;
    cJSON *j;

    if (!utf8_valid(p, size))
        return 0;
    a = arena_create(8192);
    if (score_prompt(a, p, size, &sc) == 0) {
        /* Every dimension in range and explained; the JSON parses. */
        FUZZ_ASSERT(sc.total >= 0 && sc.total <= 100);
        for (int i = 0; i < SCORE_DIMENSION_COUNT; i++) {
            FUZZ_ASSERT(sc.dims[i].name != NULL && sc.dims[i].reason != NULL);
            FUZZ_ASSERT(sc.dims[i].value >= 0 && sc.dims[i].value <= 100);
            FUZZ_ASSERT(utf8_valid(sc.dims[i].reason, strlen(sc.dims[i].reason)));
        }
        for (int i = 0; i < sc.nsuggestions; i++)
            FUZZ_ASSERT(sc.suggestions[i] != NULL);
        strbuf_init(&sb, a, 512);
        score_json_append(&sb, &sc);
        j = cJSON_ParseWithLength(sb.ptr, sb.len);
        FUZZ_ASSERT(cJSON_IsObject(j));
        cJSON_Delete(j);
    }
    arena_destroy(a);
    return 0;
}
