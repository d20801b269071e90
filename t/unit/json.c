/* json.c: unit tests for strict parsing and the typed field readers. */
#include <string.h>

#include "core/json.h"
#include "tap.h"

static req_t *new_req(arena_t *a)
{
    req_t *r = arena_zalloc(a, sizeof(*r));

    r->arena = a;
    return r;
}

static int parses(arena_t *a, const char *s)
{
    const char *why = NULL;

    return json_parse_strict(a, s, strlen(s), &why) != NULL;
}

int main(void)
{
    arena_t *a = arena_create(4096);
    req_t *r = new_req(a);
    const char *why = NULL, *s = NULL;
    cJSON *o, *arr = NULL;
    long n = 0;
    bool b = false;

    ok(parses(a, "{\"a\":1}"), "an object parses");
    ok(parses(a, " {\"a\":[1,2]} \n"), "surrounding whitespace is fine");
    ok(!parses(a, "{\"a\":1} x"), "trailing data refused");
    ok(!parses(a, "{\"a\":1,\"a\":2}"), "duplicate key refused");
    ok(!parses(a, "{\"o\":{\"k\":1,\"k\":2}}"), "nested duplicate key refused");
    ok(!parses(a, "[{\"k\":1,\"k\":2}]"), "duplicate inside an array refused");
    ok(parses(a, "[1,1]"), "equal array items are not keys");
    ok(!parses(a, "{\"a\":"), "truncated refused");
    ok(!json_parse_strict(a, "{\"a\":\"\xff\"}", 8, &why), "invalid UTF-8 refused");
    is_str(why, "body is not valid UTF-8", "with a reason");
    ok(!parses(a, ""), "empty refused");

    o = json_parse_strict(a, "{\"t\":\"hi\",\"e\":\"\",\"n\":3,\"f\":1.5,\"b\":true,"
                             "\"arr\":[\"x\",\"y\"],\"bad\":[1],\"nul\":null,\"long\":\"abcdef\"}",
                          strlen("{\"t\":\"hi\",\"e\":\"\",\"n\":3,\"f\":1.5,\"b\":true,"
                                 "\"arr\":[\"x\",\"y\"],\"bad\":[1],\"nul\":null,\"long\":\"abcdef\"}"),
                          &why);
    ok(o != NULL, "fixture parses");
    is_int(json_field_string(r, o, "t", 10, false, &s), FIELD_OK, "string ok");
    is_str(s, "hi", "string value");
    is_int(json_field_string(r, o, "missing", 10, false, &s), FIELD_ABSENT, "absent");
    ok(r->errors == NULL, "no errors so far");
    is_int(json_field_string(r, o, "e", 10, false, &s), FIELD_BAD, "empty refused");
    is_int(json_field_string(r, o, "e", 10, true, &s), FIELD_OK, "empty allowed when asked");
    is_int(json_field_string(r, o, "long", 5, false, &s), FIELD_BAD, "too long refused");
    is_int(json_field_string(r, o, "n", 5, false, &s), FIELD_BAD, "number is not a string");
    is_int(json_field_string(r, o, "nul", 5, false, &s), FIELD_BAD, "null is not a string");
    is_int(json_field_int(r, o, "n", 1, 5, &n), FIELD_OK, "int ok");
    is_int(n, 3, "int value");
    is_int(json_field_int(r, o, "f", 1, 5, &n), FIELD_BAD, "fraction refused");
    is_int(json_field_int(r, o, "n", 4, 5, &n), FIELD_BAD, "out of range refused");
    is_int(json_field_bool(r, o, "b", &b), FIELD_OK, "bool ok");
    ok(b, "bool value");
    is_int(json_field_string_array(r, o, "arr", 2, 5, &arr), FIELD_OK, "array ok");
    is_int(json_field_string_array(r, o, "arr", 1, 5, &arr), FIELD_BAD, "too many items");
    is_int(json_field_string_array(r, o, "bad", 2, 5, &arr), FIELD_BAD, "non-string item");
    is_int(json_field_object(r, o, "t", &arr), FIELD_BAD, "string is not an object");
    ok(cJSON_GetArraySize(r->errors) == 9, "every failure recorded a field error");
    is_str(cJSON_GetObjectItem(cJSON_GetArrayItem(r->errors, 0), "field")->valuestring,
           "e", "errors name the field");
    is_str(cJSON_GetObjectItem(cJSON_GetArrayItem(r->errors, 7), "field")->valuestring,
           "bad[0]", "array items are named by index");
    {
        static const char *const allowed[] = {"t", "e", NULL};
        req_t *r2 = new_req(a);

        json_reject_unknown(r2, o, allowed);
        is_int(cJSON_GetArraySize(r2->errors), 7, "unknown fields are each reported");
    }
    {
        const char *src = "{\"s\":\"a\\\"b\\\\c\\n\\u0001\\u00e9\",\"i\":1700000000,\"neg\":-3,"
                          "\"f\":0.1,\"big\":1e300,\"t\":true,\"n\":null,\"a\":[1,\"x\",{}],\"o\":{}}";
        cJSON *tree = json_parse_strict(a, src, strlen(src), &why);

        is_str(json_print(a, tree),
               "{\"s\":\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\",\"i\":1700000000,\"neg\":-3,"
               "\"f\":0.1,\"big\":1e+300,\"t\":true,\"n\":null,\"a\":[1,\"x\",{}],\"o\":{}}",
               "json_print: escapes, integers as integers, shortest doubles");
    }
    {
        const char *src = "{\"id\" : \"a b\", \"q\" : \"say \\\" x \\\\\" ,\n \"t\" :\t[1, 2,\r\n 3]}";
        size_t n_out = 0;
        const char *c = json_compact(a, src, strlen(src), &n_out);

        is_str(c, "{\"id\":\"a b\",\"q\":\"say \\\" x \\\\\",\"t\":[1,2,3]}",
               "json_compact: whitespace between tokens goes, inside strings stays (escapes too)");
        ok(n_out == strlen(c), "json_compact: length");
        c = json_compact(a, "", 0, &n_out);
        ok(n_out == 0 && *c == '\0', "json_compact: empty input");
    }
    arena_destroy(a);
    return done_testing();
}
