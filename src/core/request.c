/* request.c: read what a FastCGI request asks: headers, query, path params. */
#include "core/request.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define STR_(x) #x
#define STR(x) STR_(x)

double now_monotonic(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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
    size_t nlen = strlen(name);
    const char *p = r->query;

    while (p && *p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);

        if (len >= nlen && strncmp(p, name, nlen) == 0 &&
            (len == nlen || p[nlen] == '=')) {
            const char *v = len == nlen ? "" : p + nlen + 1;
            size_t vlen = len == nlen ? 0 : len - nlen - 1;
            char *dec = url_decode(r->arena, v, vlen);

            if (dec == NULL) {
                req_field_error(r, name, "malformed percent-encoding");
                return "";
            }
            return dec;
        }
        p = amp ? amp + 1 : NULL;
    }
    return NULL;
}

long req_query_int(req_t *r, const char *name, long dflt, long max)
{
    const char *s = req_query(r, name);
    char *end;
    long v;

    if (s == NULL)
        return dflt;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *s == '\0' || *end || v < 1 || v > max) {
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
