/* json.c: unit tests for strict parsing and the typed field readers. */
#include <string.h>

#include "core/json.h"
#include "http/request.h"
#include "tap.h"

static req_t *new_req(arena_t *a)
{
    req_t *r = arena_zalloc(a, sizeof(*r));

    r->arena = a;
    return r;
}

#define like_why(got, want) \
    ok((got) != NULL && strstr((got), (want)) != NULL, "  reason: %s", (got) ? (got) : "(null)")

static int parses(arena_t *a, const char *s)
{
    const char *why = NULL;

    return json_parse_strict(a, s, strlen(s), &why) != NULL;
}

/* Parse s (len bytes) with json_parse_body; the fault it reports. */
static enum json_fault fault_of(arena_t *a, const char *s, size_t len,
                                json_error_t *err)
{
    json_parse_body(a, s, len, err);
    return err->fault;
}

/* "{" n members "k0":0,"k1":0,... "}", with member dup_at named like
 * member 0 when dup_at > 0. */
static char *object_of(arena_t *a, int n, int dup_at)
{
    strbuf_t sb;

    strbuf_init(&sb, a, (size_t)n * 12 + 2);
    strbuf_putc(&sb, '{');
    for (int i = 0; i < n; i++)
        strbuf_printf(&sb, "%s\"k%d\":0", i ? "," : "", dup_at > 0 && i == dup_at ? 0 : i);
    strbuf_putc(&sb, '}');
    return sb.ptr;
}

/* depth nested arrays: [[[...]]] */
static char *nested(arena_t *a, int depth)
{
    char *s = arena_alloc(a, (size_t)depth * 2 + 1);

    memset(s, '[', (size_t)depth);
    memset(s + depth, ']', (size_t)depth);
    s[depth * 2] = '\0';
    return s;
}

/* An array of n items, each item the string item. */
static char *array_of(arena_t *a, int n, const char *item)
{
    strbuf_t sb;

    strbuf_init(&sb, a, (size_t)n * (strlen(item) + 1) + 2);
    strbuf_putc(&sb, '[');
    for (int i = 0; i < n; i++)
        strbuf_printf(&sb, "%s%s", i ? "," : "", item);
    strbuf_putc(&sb, ']');
    return sb.ptr;
}

static void test_limits(arena_t *a)
{
    json_error_t e;
    char *s;

    s = nested(a, JSON_MAX_DEPTH);
    is_int(fault_of(a, s, strlen(s), &e), JSON_FAULT_NONE, "depth %d parses", JSON_MAX_DEPTH);
    s = nested(a, JSON_MAX_DEPTH + 1);
    is_int(fault_of(a, s, strlen(s), &e), JSON_FAULT_LIMIT, "depth %d refused", JSON_MAX_DEPTH + 1);
    like_why(e.why, "more than 64 deep");
    s = nested(a, 100000);
    is_int(fault_of(a, s, strlen(s), &e), JSON_FAULT_LIMIT, "depth 100000 refused by the scan");

    s = object_of(a, JSON_MAX_MEMBERS, 0);
    is_int(fault_of(a, s, strlen(s), &e), JSON_FAULT_NONE, "%d members parse", JSON_MAX_MEMBERS);
    s = object_of(a, JSON_MAX_MEMBERS + 1, 0);
    is_int(fault_of(a, s, strlen(s), &e), JSON_FAULT_LIMIT, "%d members refused", JSON_MAX_MEMBERS + 1);
    like_why(e.why, "more than 1000 members");
    s = object_of(a, 30000, 0);
    is_int(fault_of(a, s, strlen(s), &e), JSON_FAULT_LIMIT, "30,000 members refused");
    s = arena_printf(a, "{\"o\":%s}", object_of(a, JSON_MAX_MEMBERS + 1, 0));
    is_int(fault_of(a, s, strlen(s), &e), JSON_FAULT_LIMIT, "the member cap holds in a nested object");
    s = arena_printf(a, "[%s,%s]", object_of(a, 600, 0), object_of(a, 600, 0));
    is_int(fault_of(a, s, strlen(s), &e), JSON_FAULT_NONE, "the member cap is per object");

    s = array_of(a, JSON_MAX_NODES - 1, "0");
    is_int(fault_of(a, s, strlen(s), &e), JSON_FAULT_NONE, "%d values parse", JSON_MAX_NODES);
    s = array_of(a, JSON_MAX_NODES, "0");
    is_int(fault_of(a, s, strlen(s), &e), JSON_FAULT_LIMIT, "%d values refused", JSON_MAX_NODES + 1);
    like_why(e.why, "more than 10000 values");
    s = array_of(a, JSON_MAX_NODES, "[]");
    is_int(fault_of(a, s, strlen(s), &e), JSON_FAULT_LIMIT, "empty arrays count as values");
    s = array_of(a, JSON_MAX_NODES / 2, "\"s\"");
    s = arena_printf(a, "{\"a\":%s,\"b\":%s}", s, s);
    is_int(fault_of(a, s, strlen(s), &e), JSON_FAULT_LIMIT, "values are counted across the document");
    s = array_of(a, 5000, "\"a,b:c{d}[e]\\\"f\"");
    is_int(fault_of(a, s, strlen(s), &e), JSON_FAULT_NONE,
           "structural characters inside strings are not counted");
}

static void test_duplicates(arena_t *a)
{
    json_error_t e;
    cJSON *big = json_own(a, cJSON_CreateObject());
    char *s;

    s = object_of(a, JSON_MAX_MEMBERS, 0);
    ok(json_parse_body(a, s, strlen(s), &e) != NULL, "1000 distinct members (sorted check)");
    s = object_of(a, JSON_MAX_MEMBERS, JSON_MAX_MEMBERS - 1);
    is_int(fault_of(a, s, strlen(s), &e), JSON_FAULT_SYNTAX, "last of 1000 members repeats the first");
    is_str(e.why, "body repeats a key in an object", "  with the duplicate reason");
    s = arena_printf(a, "[%s,{\"a\":{\"x\":1,\"y\":2,\"x\":3}}]", object_of(a, 20, 0));
    is_int(fault_of(a, s, strlen(s), &e), JSON_FAULT_SYNTAX, "a small nested object's duplicate");
    /* Built, not parsed: the member cap does not apply, so this is the
     * sorted path at the 30,000 keys. */
    for (int i = 0; i < 30000; i++)
        cJSON_AddNumberToObject(big, arena_printf(a, "key%d", i), i);
    ok(!json_has_duplicate_keys(big), "30,000 distinct keys: no duplicate");
    cJSON_AddNumberToObject(big, "key12345", 0);
    ok(json_has_duplicate_keys(big), "30,000 keys and one repeat: found");
    ok(!json_has_duplicate_keys(NULL), "NULL has none");
}

static void test_nul(arena_t *a)
{
    static const struct {
        const char *json;
        const char *field;
    } cases[] = {
        {"{\"title\":\"a\\u0000b\",\"content\":\"c\"}", "title"},
        {"{\"title\":\"t\",\"content\":\"\\u0000\"}", "content"},
        {"{\"variables\":{\"x\":\"1\",\"a\":\"x\\u0000\"}}", "variables.a"},
        {"{\"tags\":[\"ok\",\"bad\\u0000\"]}", "tags[1]"},
        {"{\"m\":{\"l\":[[\"\\u0000\"]]}}", "m.l[0][0]"},
        {"{\"ti\\u0000tle\":\"x\"}", "body"},
        {"{\"o\":{\"k\\u0000\":1}}", "o"},
        {"[\"\\u0000\"]", "[0]"},
    };
    json_error_t e;
    const char *why = NULL;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        is_int(fault_of(a, cases[i].json, strlen(cases[i].json), &e), JSON_FAULT_NUL,
               "U+0000 refused: %s", cases[i].json);
        is_str(e.field, cases[i].field, "  names %s", cases[i].field);
    }
    is_int(fault_of(a, "{\"t\":\"a\0b\"}", 10, &e), JSON_FAULT_NUL, "a raw NUL in a string");
    is_str(e.field, "t", "  names t");
    ok(!json_parse_strict(a, "{\"t\":\"\\u0000\"}", 13, &why), "json_parse_strict refuses it too");
    is_str(why, "t must not contain U+0000 (\\u0000)", "  with the field in the reason");
    {
        const char *src = "{\"t\":\"\\\\u0000 \\u0001\"}";
        cJSON *o = json_parse_body(a, src, strlen(src), &e);

        ok(o != NULL, "an escaped backslash before u0000 is text, and U+0001 is fine");
        is_str(o ? cJSON_GetObjectItem(o, "t")->valuestring : "", "\\u0000 \x01", "  kept whole");
    }
}

static void test_escapes_and_error_cap(arena_t *a)
{
    char all[256];
    strbuf_t sb;
    req_t *r = new_req(a);
    cJSON *last;

    for (int i = 0; i < 255; i++)
        all[i] = (char)(i + 1);
    strbuf_init(&sb, a, 16);
    json_append_escaped(&sb, all, 255);
    is_int(json_escaped_len(all, 255), sb.len, "json_escaped_len matches json_append_escaped");
    strbuf_init(&sb, a, 16);
    json_append_escaped(&sb, "a\"b\\\n\x01", 6);
    is_str(sb.ptr, "a\\\"b\\\\\\n\\u0001", "json_append_escaped: no quotes, escapes");
    is_int(json_escaped_len("a\"b\\\n\x01", 6), 14, "  and its length");

    for (int i = 0; i < 250; i++)
        req_field_error(r, arena_printf(a, "f%d", i), "bad");
    is_int(cJSON_GetArraySize(r->errors), REQ_MAX_FIELD_ERRORS + 1,
           "field errors stop at REQ_MAX_FIELD_ERRORS, plus one");
    last = cJSON_GetArrayItem(r->errors, REQ_MAX_FIELD_ERRORS);
    is_str(cJSON_GetObjectItem(last, "field")->valuestring, "body", "  the last names the body");
    like_why(cJSON_GetObjectItem(last, "message")->valuestring, "only the first 100 are listed");
    is_str(cJSON_GetObjectItem(cJSON_GetArrayItem(r->errors, 99), "field")->valuestring, "f99",
           "  the first 100 are kept in order");
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
    is_int(req_field_string(r, o, "t", 10, false, &s), FIELD_OK, "string ok");
    is_str(s, "hi", "string value");
    is_int(req_field_string(r, o, "missing", 10, false, &s), FIELD_ABSENT, "absent");
    ok(r->errors == NULL, "no errors so far");
    is_int(req_field_string(r, o, "e", 10, false, &s), FIELD_BAD, "empty refused");
    is_int(req_field_string(r, o, "e", 10, true, &s), FIELD_OK, "empty allowed when asked");
    is_int(req_field_string(r, o, "long", 5, false, &s), FIELD_BAD, "too long refused");
    is_int(req_field_string(r, o, "n", 5, false, &s), FIELD_BAD, "number is not a string");
    is_int(req_field_string(r, o, "nul", 5, false, &s), FIELD_BAD, "null is not a string");
    is_int(req_field_int(r, o, "n", 1, 5, &n), FIELD_OK, "int ok");
    is_int(n, 3, "int value");
    is_int(req_field_int(r, o, "f", 1, 5, &n), FIELD_BAD, "fraction refused");
    is_int(req_field_int(r, o, "n", 4, 5, &n), FIELD_BAD, "out of range refused");
    is_int(req_field_bool(r, o, "b", &b), FIELD_OK, "bool ok");
    ok(b, "bool value");
    is_int(req_field_string_array(r, o, "arr", 2, 5, &arr), FIELD_OK, "array ok");
    is_int(req_field_string_array(r, o, "arr", 1, 5, &arr), FIELD_BAD, "too many items");
    is_int(req_field_string_array(r, o, "bad", 2, 5, &arr), FIELD_BAD, "non-string item");
    is_int(req_field_object(r, o, "t", &arr), FIELD_BAD, "string is not an object");
    ok(cJSON_GetArraySize(r->errors) == 9, "every failure recorded a field error");
    is_str(cJSON_GetObjectItem(cJSON_GetArrayItem(r->errors, 0), "field")->valuestring,
           "e", "errors name the field");
    is_str(cJSON_GetObjectItem(cJSON_GetArrayItem(r->errors, 7), "field")->valuestring,
           "bad[0]", "array items are named by index");
    {
        static const char *const allowed[] = {"t", "e", NULL};
        req_t *r2 = new_req(a);

        req_reject_unknown(r2, o, allowed);
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
    test_limits(a);
    test_duplicates(a);
    test_nul(a);
    test_escapes_and_error_cap(a);
    arena_destroy(a);
    return done_testing();
}
