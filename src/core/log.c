/* log.c: one JSON line per event on stderr (the supervisor keeps the file). */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/json.h"

static const char *log_family = "-";

void log_set_family(const char *family)
{
    log_family = family;
}

static void timestamp(char *buf, size_t n)
{
    struct timespec ts;
    struct tm tm;
    size_t len;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    len = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + len, n - len, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* Write obj as one line; stderr is unbuffered so the line is one write. */
static void emit(cJSON *obj)
{
    char *s = cJSON_PrintUnformatted(obj);

    if (s != NULL) {
        size_t n = strlen(s);

        s[n] = '\n';   /* cJSON's buffer has room: replace the NUL */
        if (write(STDERR_FILENO, s, n + 1) < 0) {
            /* nowhere left to report it */
        }
        cJSON_free(s);
    }
    cJSON_Delete(obj);
}

void log_msg(const char *level, const char *fmt, ...)
{
    char ts[40], msg[1024];
    va_list ap;
    cJSON *o = cJSON_CreateObject();

    timestamp(ts, sizeof(ts));
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cJSON_AddStringToObject(o, "ts", ts);
    cJSON_AddStringToObject(o, "level", level);
    cJSON_AddStringToObject(o, "family", log_family);
    cJSON_AddNumberToObject(o, "pid", getpid());
    cJSON_AddStringToObject(o, "msg", msg);
    emit(o);
}

static void append_field(strbuf_t *sb, const char *name, const char *value)
{
    strbuf_printf(sb, ",\"%s\":", name);
    json_append_string(sb, value);
}

/* Milliseconds with microsecond precision, without float formatting. */
static void append_ms(strbuf_t *sb, const char *name, double ms)
{
    long us = (long)(ms * 1000.0 + 0.5);

    strbuf_printf(sb, ",\"%s\":%ld.%03ld", name, us / 1000, us % 1000);
}

/* The request path for the log.  A path parameter named {token} is a live
 * secret (a share link): only its first 6 characters are kept
 * ("/s/AbCdEf***"). */
static const char *log_path(const req_t *r)
{
    for (int i = 0; r->route && i < r->match.nparams; i++) {
        const char *tok = r->match.params[i], *at;

        if (strcmp(r->match.names[i], "token") != 0 || tok == NULL ||
            (at = strstr(r->path, tok)) == NULL)
            continue;
        return arena_printf(r->arena, "%.*s%.6s***%s", (int)(at - r->path), r->path,
                            tok, at + strlen(tok));
    }
    return r->path;
}

void log_request(const req_t *r)
{
    char ts[40];
    strbuf_t sb;

    timestamp(ts, sizeof(ts));
    strbuf_init(&sb, r->arena, 512);
    strbuf_printf(&sb, "{\"ts\":\"%s\",\"level\":\"%s\"", ts,
                  r->status >= 500 ? "error" : "info");
    append_field(&sb, "request_id", r->request_id);
    append_field(&sb, "family", log_family);
    append_field(&sb, "method", r->method);
    append_field(&sb, "path", log_path(r));
    if (r->route)
        append_field(&sb, "route", r->route->pattern);
    if (r->user_id)
        append_field(&sb, "user", r->user_id);
    strbuf_printf(&sb, ",\"status\":%d", r->status);
    append_ms(&sb, "duration_ms", (now_monotonic() - r->started) * 1000.0);
    append_ms(&sb, "db_ms", r->db_ms);
    if (r->log_detail)
        append_field(&sb, "detail", r->log_detail);
    strbuf_puts(&sb, "}\n");
    if (write(STDERR_FILENO, sb.ptr, sb.len) < 0) {
        /* nowhere left to report it */
    }
}
