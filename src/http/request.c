/* request.c: read what a FastCGI request asks: headers, query, path params, body fields. */
#include "http/request.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/json.h"

#define STR_(x) #x
#define STR(x) STR_(x)

const char *req_header(req_t *r, const char *name)
{
    char var[128] = "HTTP_";
    size_t i, n = strlen(name);

    if (n + 6 > sizeof(var))
        return NULL;
    for (i = 0; i < n; i++)
        var[5 + i] = name[i] == '-' ? '_' : (char)toupper((unsigned char)name[i]);
    var[5 + n] = '\0';
    if (strcmp(var, "HTTP_CONTENT_TYPE") == 0)
        return FCGX_GetParam("CONTENT_TYPE", r->fcgx->envp);
    return FCGX_GetParam(var, r->fcgx->envp);
}

const char *req_query(req_t *r, const char *name)
{
    const char *v;

    if (url_form_value(r->arena, r->query, name, &v) < 0) {
        req_field_error(r, name, "malformed percent-encoding");
        return "";
    }
    return v;
}

long req_query_int(req_t *r, const char *name, long dflt, long max)
{
    const char *s = req_query(r, name);
    long v;

    if (s == NULL)
        return dflt;
    if (!str_to_long(s, 1, max, &v)) {
        req_field_error(r, name, "must be an integer from 1 to %ld", max);
        return dflt;
    }
    return v;
}

const char *req_param(req_t *r, const char *name)
{
    for (int i = 0; i < r->match.nparams; i++)
        if (strcmp(r->match.names[i], name) == 0)
            return r->match.params[i];
    return NULL;
}

void req_field_error(req_t *r, const char *field, const char *fmt, ...)
{
    va_list ap;
    cJSON *e;
    int n;

    if (r->errors == NULL) {
        r->errors = cJSON_CreateArray();
        arena_cleanup_add(r->arena, (arena_cleanup_fn)cJSON_Delete, r->errors);
    }
    if ((n = cJSON_GetArraySize(r->errors)) >= REQ_MAX_FIELD_ERRORS) {
        if (n == REQ_MAX_FIELD_ERRORS) {
            e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "field", "body");
            cJSON_AddStringToObject(e, "message", "has more errors; only the first "
                                    STR(REQ_MAX_FIELD_ERRORS) " are listed");
            cJSON_AddItemToArray(r->errors, e);
        }
        return;
    }
    e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "field", field);
    va_start(ap, fmt);
    cJSON_AddStringToObject(e, "message", arena_vprintf(r->arena, fmt, ap));
    va_end(ap);
    cJSON_AddItemToArray(r->errors, e);
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

enum field_result req_field_string(req_t *r, const cJSON *obj,
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

enum field_result req_field_string_array(req_t *r, const cJSON *obj,
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

enum field_result req_field_object(req_t *r, const cJSON *obj,
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

enum field_result req_field_bool(req_t *r, const cJSON *obj,
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

enum field_result req_field_int(req_t *r, const cJSON *obj, const char *name,
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

void req_reject_unknown(req_t *r, const cJSON *obj,
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
