/* json.c: strict JSON parsing and typed field readers for request bodies. */
#include "core/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cJSON *json_own(arena_t *a, cJSON *item)
{
    if (item != NULL)
        arena_cleanup_add(a, (arena_cleanup_fn)cJSON_Delete, item);
    return item;
}

void json_append_string(strbuf_t *sb, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const char *run = s;

    strbuf_putc(sb, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
        size_t n = 2;

        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        strbuf_append(sb, run, (size_t)(s - run));
        run = s + 1;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            /* esc is not a C string: n counts its bytes. */
            /* NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        strbuf_append(sb, esc, n);
    }
    strbuf_append(sb, run, (size_t)(s - run));
    strbuf_putc(sb, '"');
}

static void append_number(strbuf_t *sb, double d)
{
    if (!isfinite(d))
        strbuf_puts(sb, "null");
    else if (d == floor(d) && fabs(d) < 9007199254740992.0)
        strbuf_printf(sb, "%lld", (long long)d);
    else {
        char buf[32];

        snprintf(buf, sizeof(buf), "%.15g", d);   /* shortest that round-trips */
        if (strtod(buf, NULL) != d)
            snprintf(buf, sizeof(buf), "%.17g", d);
        strbuf_puts(sb, buf);
    }
}

void json_append(strbuf_t *sb, const cJSON *item)
{
    const cJSON *c;

    if (cJSON_IsString(item)) {
        json_append_string(sb, item->valuestring);
    } else if (cJSON_IsNumber(item)) {
        append_number(sb, item->valuedouble);
    } else if (cJSON_IsBool(item)) {
        strbuf_puts(sb, cJSON_IsTrue(item) ? "true" : "false");
    } else if (cJSON_IsArray(item) || cJSON_IsObject(item)) {
        bool obj = cJSON_IsObject(item);

        strbuf_putc(sb, obj ? '{' : '[');
        for (c = item->child; c; c = c->next) {
            if (c != item->child)
                strbuf_putc(sb, ',');
            if (obj) {
                json_append_string(sb, c->string);
                strbuf_putc(sb, ':');
            }
            json_append(sb, c);
        }
        strbuf_putc(sb, obj ? '}' : ']');
    } else if (cJSON_IsRaw(item)) {
        strbuf_puts(sb, item->valuestring);
    } else {
        strbuf_puts(sb, "null");
    }
}

char *json_print(arena_t *a, const cJSON *item)
{
    strbuf_t sb;

    strbuf_init(&sb, a, 256);
    json_append(&sb, item);
    return sb.ptr;
}

char *json_compact(arena_t *a, const char *json, size_t len, size_t *out_len)
{
    char *out = arena_alloc(a, len + 1), *o = out;
    bool in_string = false;

    for (size_t i = 0; i < len; i++) {
        char ch = json[i];

        if (in_string) {
            *o++ = ch;
            if (ch == '\\' && i + 1 < len)
                *o++ = json[++i];
            else if (ch == '"')
                in_string = false;
        } else if (ch == '"') {
            in_string = true;
            *o++ = ch;
        } else if (ch != ' ' && ch != '\n' && ch != '\t' && ch != '\r') {
            *o++ = ch;
        }
    }
    *o = '\0';
    *out_len = (size_t)(o - out);
    return out;
}

bool json_has_duplicate_keys(const cJSON *item)
{
    for (const cJSON *c = item ? item->child : NULL; c; c = c->next) {
        if (cJSON_IsObject(item))
            for (const cJSON *d = c->next; d; d = d->next)
                if (strcmp(c->string, d->string) == 0)
                    return true;
        if (json_has_duplicate_keys(c))
            return true;
    }
    return false;
}

cJSON *json_parse_strict(arena_t *a, const char *buf, size_t len,
                         const char **why)
{
    const char *end = NULL;
    cJSON *root;

    if (!utf8_valid(buf, len)) {
        *why = "body is not valid UTF-8";
        return NULL;
    }
    root = cJSON_ParseWithLengthOpts(buf, len, &end, false);
    if (root == NULL) {
        *why = "body is not valid JSON";
        return NULL;
    }
    json_own(a, root);
    while (end < buf + len && strchr(" \t\r\n", *end) && *end)
        end++;
    if (end != buf + len) {
        *why = "body has trailing data after the JSON value";
        return NULL;
    }
    if (json_has_duplicate_keys(root)) {
        *why = "body repeats a key in an object";
        return NULL;
    }
    return root;
}

static enum field_result member(const cJSON *obj, const char *name,
                                cJSON **out)
{
    *out = cJSON_GetObjectItemCaseSensitive(obj, name);
    return *out == NULL ? FIELD_ABSENT : FIELD_OK;
}

static bool string_ok(req_t *r, const char *field, const cJSON *v,
                      size_t max_chars, bool allow_empty)
{
    size_t n;

    if (!cJSON_IsString(v)) {
        req_field_error(r, field, "must be a string");
        return false;
    }
    n = utf8_length(v->valuestring);
    if (n == 0 && !allow_empty) {
        req_field_error(r, field, "must not be empty");
        return false;
    }
    if (n > max_chars) {
        req_field_error(r, field, "must be at most %zu characters", max_chars);
        return false;
    }
    return true;
}

enum field_result json_field_string(req_t *r, const cJSON *obj,
                                    const char *name, size_t max_chars,
                                    bool allow_empty, const char **out)
{
    cJSON *v;

    if (member(obj, name, &v) == FIELD_ABSENT)
        return FIELD_ABSENT;
    if (!string_ok(r, name, v, max_chars, allow_empty))
        return FIELD_BAD;
    *out = v->valuestring;
    return FIELD_OK;
}

enum field_result json_field_string_array(req_t *r, const cJSON *obj,
                                          const char *name, size_t max_items,
                                          size_t max_chars, cJSON **out)
{
    cJSON *v, *e;
    int i = 0;

    if (member(obj, name, &v) == FIELD_ABSENT)
        return FIELD_ABSENT;
    if (!cJSON_IsArray(v)) {
        req_field_error(r, name, "must be an array of strings");
        return FIELD_BAD;
    }
    if ((size_t)cJSON_GetArraySize(v) > max_items) {
        req_field_error(r, name, "must have at most %zu items", max_items);
        return FIELD_BAD;
    }
    cJSON_ArrayForEach(e, v) {
        char *field = arena_printf(r->arena, "%s[%d]", name, i++);

        if (!string_ok(r, field, e, max_chars, false))
            return FIELD_BAD;
    }
    *out = v;
    return FIELD_OK;
}

enum field_result json_field_object(req_t *r, const cJSON *obj,
                                    const char *name, cJSON **out)
{
    cJSON *v;

    if (member(obj, name, &v) == FIELD_ABSENT)
        return FIELD_ABSENT;
    if (!cJSON_IsObject(v)) {
        req_field_error(r, name, "must be an object");
        return FIELD_BAD;
    }
    *out = v;
    return FIELD_OK;
}

enum field_result json_field_bool(req_t *r, const cJSON *obj,
                                  const char *name, bool *out)
{
    cJSON *v;

    if (member(obj, name, &v) == FIELD_ABSENT)
        return FIELD_ABSENT;
    if (!cJSON_IsBool(v)) {
        req_field_error(r, name, "must be a boolean");
        return FIELD_BAD;
    }
    *out = cJSON_IsTrue(v);
    return FIELD_OK;
}

enum field_result json_field_int(req_t *r, const cJSON *obj, const char *name,
                                 long min, long max, long *out)
{
    cJSON *v;
    double d;

    if (member(obj, name, &v) == FIELD_ABSENT)
        return FIELD_ABSENT;
    d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!cJSON_IsNumber(v) || d != floor(d) || d < (double)min ||
        d > (double)max) {
        req_field_error(r, name, "must be an integer from %ld to %ld", min, max);
        return FIELD_BAD;
    }
    *out = (long)d;
    return FIELD_OK;
}

void json_reject_unknown(req_t *r, const cJSON *obj,
                         const char *const *allowed)
{
    const cJSON *c;

    cJSON_ArrayForEach(c, obj) {
        const char *const *a;

        for (a = allowed; *a; a++)
            if (strcmp(*a, c->string) == 0)
                break;
        if (*a == NULL)
            req_field_error(r, c->string, "is not a known field");
    }
}
