/* json.c: strict JSON parsing, duplicate-key checks and printing into an arena. */
#include "core/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_STR_(x) #x
#define JSON_STR(x) JSON_STR_(x)

cJSON *json_own(arena_t *a, cJSON *item)
{
    if (item != NULL)
        arena_cleanup_add(a, (arena_cleanup_fn)cJSON_Delete, item);
    return item;
}

/* Bytes of the escape for c (1: itself). */
static size_t escape_len(unsigned char c)
{
    if (c >= 0x20 && c != '"' && c != '\\')
        return 1;
    return c != 0 && strchr("\"\\\n\r\t\b\f", c) ? 2 : 6;
}

size_t json_escaped_len(const char *s, size_t n)
{
    size_t len = 0;

    for (size_t i = 0; i < n; i++)
        len += escape_len((unsigned char)s[i]);
    return len;
}

void json_append_escaped(strbuf_t *sb, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const char *run = s, *end = s + n;

    for (; s < end; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
        size_t k = 2;

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
            k = 6;
        }
        strbuf_append(sb, esc, k);
    }
    strbuf_append(sb, run, (size_t)(s - run));
}

void json_append_string(strbuf_t *sb, const char *s)
{
    strbuf_putc(sb, '"');
    json_append_escaped(sb, s, strlen(s));
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

static int name_cmp(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* Children first, so *scratch (the member names of one object at a time,
 * grown with realloc) is free again when item itself needs it. */
static bool duplicates_below(const cJSON *item, const char ***scratch,
                             size_t *cap)
{
    const cJSON *c, *d;
    size_t n = 0, i;

    for (c = item->child; c != NULL; c = c->next, n++)
        if (c->child != NULL && duplicates_below(c, scratch, cap))
            return true;
    if (!cJSON_IsObject(item) || n < 2)
        return false;
    if (n <= 8) {   /* a few members: comparing each pair is cheaper */
        for (c = item->child; c != NULL; c = c->next)
            for (d = c->next; d != NULL; d = d->next)
                if (strcmp(c->string ? c->string : "", d->string ? d->string : "") == 0)
                    return true;
        return false;
    }
    if (n > *cap) {
        const char **grown = realloc(*scratch, n * sizeof(**scratch));

        if (grown == NULL)
            abort();   /* out of memory, as arena_alloc */
        *scratch = grown;
        *cap = n;
    }
    for (c = item->child, i = 0; c != NULL; c = c->next)
        (*scratch)[i++] = c->string ? c->string : "";
    qsort(*scratch, n, sizeof(**scratch), name_cmp);
    for (i = 1; i < n; i++)
        if (strcmp((*scratch)[i - 1], (*scratch)[i]) == 0)
            return true;
    return false;
}

bool json_has_duplicate_keys(const cJSON *item)
{
    const char **scratch = NULL;
    size_t cap = 0;
    bool dup = item != NULL && duplicates_below(item, &scratch, &cap);

    free(scratch);
    return dup;
}

/* One open object or array while json_scan walks the text. */
struct scan_level {
    bool object;
    bool expect_key;    /* object: the next string is a member name */
    unsigned count;     /* object: members so far; array: items so far */
    const char *key;    /* object: the raw text of the last member name */
    size_t key_len;
};

struct scan {
    arena_t *arena;
    const char *p, *end;
    int depth;                                  /* lv[1..depth] are open */
    struct scan_level lv[JSON_MAX_DEPTH + 1];   /* lv[0]: the root */
    size_t nodes;
    json_error_t *err;
};

static bool scan_limit(struct scan *s, const char *why)
{
    s->err->fault = JSON_FAULT_LIMIT;
    s->err->why = why;
    return false;
}

/* The member or item being read, as "a.b[2].c"; in_key: a member name of
 * the innermost object is being read, so the path stops at that object.
 * Each name is cut to 64 bytes (at a UTF-8 boundary). */
static const char *scan_path(struct scan *s, bool in_key)
{
    strbuf_t sb;

    strbuf_init(&sb, s->arena, 64);
    for (int i = 1; i <= s->depth - (in_key ? 1 : 0); i++) {
        const struct scan_level *l = &s->lv[i];
        size_t n = l->key_len;

        if (!l->object) {
            strbuf_printf(&sb, "[%u]", l->count ? l->count - 1 : 0);
            continue;
        }
        if (n > 64)
            for (n = 64; n > 0 && (l->key[n] & 0xC0) == 0x80; n--)
                ;
        if (sb.len > 0)
            strbuf_putc(&sb, '.');
        strbuf_append(&sb, l->key, n);
    }
    return sb.len > 0 ? sb.ptr : "body";
}

/* A value starts: count it (and the item, inside an array). */
static bool scan_value(struct scan *s)
{
    if (++s->nodes > JSON_MAX_NODES)
        return scan_limit(s, "the body has more than "
                          JSON_STR(JSON_MAX_NODES) " values");
    if (s->depth > 0 && !s->lv[s->depth].object)
        s->lv[s->depth].count++;
    return true;
}

/* Skip the string at s->p (its opening quote); false on U+0000 in it,
 * escaped or raw.  A member name's raw text is recorded for scan_path. */
static bool scan_string(struct scan *s, bool key)
{
    const char *p = s->p + 1;

    for (; p < s->end && *p != '"'; p++) {
        if (*p == '\0' || (*p == '\\' && s->end - p >= 6 &&
                           memcmp(p + 1, "u0000", 5) == 0)) {
            s->err->fault = JSON_FAULT_NUL;
            s->err->why = key ? "must not have a member name containing U+0000 (\\u0000)"
                              : "must not contain U+0000 (\\u0000)";
            s->err->field = scan_path(s, key);
            return false;
        }
        if (*p == '\\' && p + 1 < s->end)
            p++;
    }
    if (key)
        s->lv[s->depth].key_len = (size_t)(p - s->lv[s->depth].key);
    s->p = p < s->end ? p + 1 : p;
    return true;
}

/* The bytes that end a number or literal (and NUL). */
static const bool scan_delim[256] = {
    [0] = true, [' '] = true, ['\t'] = true, ['\n'] = true, ['\r'] = true,
    ['{'] = true, ['}'] = true, ['['] = true, [']'] = true, [','] = true,
    [':'] = true, ['"'] = true,
};

/* O(n) pass over the text before cJSON sees it: the JSON_MAX_* limits and
 * U+0000.  Not a validator: on malformed text it stops or miscounts
 * harmlessly and cJSON refuses the text afterwards. */
static bool json_scan(struct scan *s)
{
    while (s->p < s->end) {
        struct scan_level *top = &s->lv[s->depth];
        char c = *s->p;

        if (c == '{' || c == '[') {
            if (!scan_value(s))
                return false;
            if (s->depth == JSON_MAX_DEPTH)
                return scan_limit(s, "the body nests objects and arrays more than "
                                  JSON_STR(JSON_MAX_DEPTH) " deep");
            s->lv[++s->depth] = (struct scan_level){c == '{', c == '{', 0, NULL, 0};
            s->p++;
        } else if (c == '}' || c == ']') {
            if (s->depth == 0)
                return true;
            s->depth--;
            s->p++;
        } else if (c == ',' || c == ':') {
            top->expect_key = c == ',' && top->object;
            s->p++;
        } else if (c == '"') {
            bool key = s->depth > 0 && top->object && top->expect_key;

            if (key && ++top->count > JSON_MAX_MEMBERS)
                return scan_limit(s, "an object in the body has more than "
                                  JSON_STR(JSON_MAX_MEMBERS) " members");
            if (key)
                top->key = s->p + 1;
            else if (!scan_value(s))
                return false;
            if (!scan_string(s, key))
                return false;
        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            s->p++;
        } else {
            if (!scan_value(s))
                return false;
            while (++s->p < s->end && !scan_delim[(unsigned char)*s->p])
                ;
        }
    }
    return true;
}

static cJSON *syntax_fault(json_error_t *err, const char *why)
{
    err->fault = JSON_FAULT_SYNTAX;
    err->why = why;
    return NULL;
}

cJSON *json_parse_body(arena_t *a, const char *buf, size_t len,
                       json_error_t *err)
{
    struct scan s = {.arena = a, .p = buf, .end = buf + len, .err = err};
    const char *end = NULL;
    cJSON *root;

    *err = (json_error_t){JSON_FAULT_NONE, NULL, NULL};
    if (!json_scan(&s))
        return NULL;
    if (!utf8_valid(buf, len))
        return syntax_fault(err, "body is not valid UTF-8");
    root = json_own(a, cJSON_ParseWithLengthOpts(buf, len, &end, false));
    if (root == NULL)
        return syntax_fault(err, "body is not valid JSON");
    while (end < buf + len && strchr(" \t\r\n", *end) && *end)
        end++;
    if (end != buf + len)
        return syntax_fault(err, "body has trailing data after the JSON value");
    if (json_has_duplicate_keys(root))
        return syntax_fault(err, "body repeats a key in an object");
    return root;
}

cJSON *json_parse_strict(arena_t *a, const char *buf, size_t len,
                         const char **why)
{
    json_error_t err;
    cJSON *root = json_parse_body(a, buf, len, &err);

    *why = err.fault == JSON_FAULT_NUL
        ? arena_printf(a, "%s %s", err.field, err.why) : err.why;
    return root;
}
