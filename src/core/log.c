/* log.c: one JSON line per event on stderr (the supervisor keeps the file). */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/json.h"

static const char *log_family = "-";
static pid_t log_pid_cached;

/* The process id, asked once (a fork's child asks again: the cached one
 * is not its own only if it forked without exec, which workers do not). */
static pid_t log_pid(void)
{
    if (log_pid_cached == 0)
        log_pid_cached = getpid();
    return log_pid_cached;
}

void log_set_family(const char *family)
{
    log_family = family;
}

const char *log_family_name(void)
{
    return log_family;
}

/* The seconds part ("YYYY-MM-DDTHH:MM:SS") is formatted once per second:
 * gmtime_r and strftime were a visible share of a request's log line. */
void log_timestamp(char *buf, size_t n)
{
    static time_t last_sec = -1;
    static char secs[24];
    struct timespec ts;
    long ms;
    char *p;

    clock_gettime(CLOCK_REALTIME, &ts);   /* the vDSO: no system call */
    if (ts.tv_sec != last_sec) {
        struct tm tm;

        gmtime_r(&ts.tv_sec, &tm);
        if (strftime(secs, sizeof(secs), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
            secs[0] = '\0';
        last_sec = ts.tv_sec;
    }
    if (n < sizeof(secs) + 6) {
        snprintf(buf, n, "%s", secs);
        return;
    }
    p = stpcpy(buf, secs);
    ms = ts.tv_nsec / 1000000;
    p[0] = '.';
    p[1] = (char)('0' + ms / 100);
    p[2] = (char)('0' + ms / 10 % 10);
    p[3] = (char)('0' + ms % 10);
    p[4] = 'Z';
    p[5] = '\0';
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
    cJSON_AddNumberToObject(o, "pid", log_pid());
    cJSON_AddStringToObject(o, "msg", msg);
    emit(o);
}
