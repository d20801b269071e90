/* log.h: one JSON line per event on stderr. */
#ifndef PROMPTD_LOG_H
#define PROMPTD_LOG_H

#include <stddef.h>

void log_set_family(const char *family);
/* {"ts":..,"level":..,"family":..,"msg":..} */
void log_msg(const char *level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
#define log_error(...) log_msg("error", __VA_ARGS__)
#define log_warn(...) log_msg("warn", __VA_ARGS__)
#define log_info(...) log_msg("info", __VA_ARGS__)
/* The family set by log_set_family(), "-" before. */
const char *log_family_name(void);
/* The current UTC time as "2026-01-02T03:04:05.678Z" into buf. */
void log_timestamp(char *buf, size_t n);

#endif
