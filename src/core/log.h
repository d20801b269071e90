/* log.h: one JSON line per event on stderr. */
#ifndef PROMPTD_LOG_H
#define PROMPTD_LOG_H

#include "core/request.h"

void log_set_family(const char *family);
/* {"ts":..,"level":..,"family":..,"msg":..} */
void log_msg(const char *level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
#define log_error(...) log_msg("error", __VA_ARGS__)
#define log_warn(...) log_msg("warn", __VA_ARGS__)
#define log_info(...) log_msg("info", __VA_ARGS__)
/* The access line: request id, family, route, user, status, durations. */
void log_request(const req_t *r);

#endif
