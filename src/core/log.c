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

const char *log_family_name(void)
{
    return log_family;
}

void log_timestamp(char *buf, size_t n)
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

    log_timestamp(ts, sizeof(ts));
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
