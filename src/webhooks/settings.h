/* settings.h: the outbound webhooks' settings (PROMPTD_WEBHOOKS_*) and the one check of an endpoint URL, shared by the webhooks family and the sender. */
#ifndef PROMPTD_WEBHOOKS_SETTINGS_H
#define PROMPTD_WEBHOOKS_SETTINGS_H

#include <stdbool.h>

#include "core/arena.h"

#define WEBHOOKS_SCHEDULE_MAX 32
#define WEBHOOKS_URL_MAX 2048

typedef struct webhooks_settings {
    bool allow_http;         /* PROMPTD_WEBHOOKS_ALLOW_HTTP (0): http:// URLs too */
    long timeout_ms;         /* PROMPTD_WEBHOOKS_TIMEOUT (15 s): one attempt, whole */
    long concurrency;        /* PROMPTD_WEBHOOKS_CONCURRENCY (64): deliveries in
                              * flight per promptd-jobs (0: this one sends none) */
    long per_endpoint;       /* PROMPTD_WEBHOOKS_PER_ENDPOINT (4): in flight to one
                              * endpoint, across every sender */
    long disable_after_s;    /* PROMPTD_WEBHOOKS_DISABLE_AFTER (432000 = 5 days) */
    long retention_s;        /* PROMPTD_WEBHOOKS_RETENTION (2592000 = 30 days) */
    int schedule[WEBHOOKS_SCHEDULE_MAX];   /* PROMPTD_WEBHOOKS_RETRY_SCHEDULE */
    int nschedule;
    char schedule_sql[WEBHOOKS_SCHEDULE_MAX * 12 + 3];   /* "{0,5,...}" */
} webhooks_settings_t;

/* The settings, read from the environment on the first call (threads:
 * call once before starting any).  NULL, the reason on stderr naming the
 * variable, when a value is malformed. */
const webhooks_settings_t *webhooks_settings(void);

/* Parse a retry schedule ("0,5,300": 1..WEBHOOKS_SCHEDULE_MAX delays in
 * seconds, each 0..604800) into s; false when malformed. */
bool webhooks_schedule_parse(const char *text, webhooks_settings_t *s);

/* NULL when url has an endpoint's form: at most WEBHOOKS_URL_MAX bytes,
 * https (or http when allowed), no user part; else a short static reason.
 * No DNS: the address check is outbound_prepare's. */
const char *webhooks_url_form_refused(const char *url, const webhooks_settings_t *s);

/* NULL when url may be an endpoint: at most WEBHOOKS_URL_MAX bytes, https
 * (or http when allowed), no user part, and every address its host
 * resolves to passes the outbound guard (net/outbound, the one SSRF
 * check; DNS is asked now).  Else a short reason, in a or static. */
const char *webhooks_url_refused(arena_t *a, const char *url, const webhooks_settings_t *s);

#endif
