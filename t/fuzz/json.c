/* json.c (fuzz): the strict JSON reader, the printer and the field readers on any bytes. */
#include <cjson/cJSON.h>

#include "core/arena.h"
#include "core/json.h"
#include "http/request.h"
#include "core/str.h"
#include "fuzz.h"

/* Every field reader on every member of obj: each either reads the value
 * or records a field error, never both, never neither; past the cap the
 * error list stays at REQ_MAX_FIELD_ERRORS entries and the marker. */
static void fuzz_fields(req_t *r, const cJSON *obj)
{
    static const char *const allowed[] = {"title", "content", "tags", NULL};
    const cJSON *c;

    cJSON_ArrayForEach(c, obj) {
        const char *s = NULL;
        cJSON *v = NULL;
        bool b;
        long l;
        cJSON *before = r->errors;
        int nerr = before ? cJSON_GetArraySize(before) : 0;
        enum field_result fr;

        fr = req_field_string(r, obj, c->string, 50, c->string[0] == 'e', &s);
        FUZZ_ASSERT(fr != FIELD_ABSENT);
        FUZZ_ASSERT((fr == FIELD_OK) == (s != NULL));
        /* A bad field adds one error, until REQ_MAX_FIELD_ERRORS are
         * listed: then one "has more errors" entry, then nothing. */
        if (nerr < REQ_MAX_FIELD_ERRORS)
            FUZZ_ASSERT((fr == FIELD_BAD) ==
                        (r->errors && cJSON_GetArraySize(r->errors) == nerr + 1));
        else
            FUZZ_ASSERT(cJSON_GetArraySize(r->errors) ==
                        (fr == FIELD_BAD && nerr == REQ_MAX_FIELD_ERRORS ? nerr + 1 : nerr));
        if (s != NULL)
            FUZZ_ASSERT(utf8_length(s) <= 50);
        req_field_string_array(r, obj, c->string, 3, 20, &v);
        req_field_object(r, obj, c->string, &v);
        req_field_bool(r, obj, c->string, &b);
        if (req_field_int(r, obj, c->string, -5, 1000, &l) == FIELD_OK)
            FUZZ_ASSERT(l >= -5 && l <= 1000);
    }
    req_reject_unknown(r, obj, allowed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    arena_t *a = arena_create(4096);
    req_t r = {.arena = a};
    const char *why = NULL, *text = (const char *)data;
    cJSON *root = json_parse_strict(a, text, size, &why);

    if (root == NULL) {
        FUZZ_ASSERT(why != NULL);
    } else {
        /* What we print reads back to the same text; so does the input
         * with its whitespace squeezed out. */
        char *printed = json_print(a, root), *compact;
        size_t clen;
        cJSON *again = json_parse_strict(a, printed, strlen(printed), &why);

        FUZZ_ASSERT(again != NULL);
        FUZZ_ASSERT(strcmp(json_print(a, again), printed) == 0);
        compact = json_compact(a, text, size, &clen);
        FUZZ_ASSERT(clen <= size && strlen(compact) == clen);
        again = json_parse_strict(a, compact, clen, &why);
        FUZZ_ASSERT(again != NULL);
        FUZZ_ASSERT(strcmp(json_print(a, again), printed) == 0);
        FUZZ_ASSERT(!json_has_duplicate_keys(root));
        if (cJSON_IsObject(root))
            fuzz_fields(&r, root);
    }
    arena_destroy(a);
    return 0;
}
