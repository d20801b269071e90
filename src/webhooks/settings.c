/* settings.c: the outbound webhooks' settings (PROMPTD_WEBHOOKS_*) and the one check of an endpoint URL, shared by the webhooks family and the sender. */
#include "webhooks/settings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "core/config.h"
#include "net/outbound.h"

#define DEFAULT_SCHEDULE "0,5,300,1800,7200,18000,36000,36000"

bool webhooks_schedule_parse(const char *text, webhooks_settings_t *s)
{
    const char *p = text;
    size_t used = 1;

    s->nschedule = 0;
    s->schedule_sql[0] = '{';
    while (p && *p) {
        char *end;
        long v;

        errno = 0;
        v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > 604800 || (*end && *end != ',') ||
            s->nschedule == WEBHOOKS_SCHEDULE_MAX)
            return false;
        s->schedule[s->nschedule++] = (int)v;
        used += (size_t)snprintf(s->schedule_sql + used, sizeof s->schedule_sql - used,
                                 "%s%ld", s->nschedule > 1 ? "," : "", v);
        p = *end ? end + 1 : end;
        if (*end && !*p)
            return false;      /* a trailing comma */
    }
    snprintf(s->schedule_sql + used, sizeof s->schedule_sql - used, "}");
    return s->nschedule > 0;
}

static bool settings_load(webhooks_settings_t *s)
{
    const char *sched = config_env("PROMPTD_WEBHOOKS_RETRY_SCHEDULE");
    const char *http = config_env("PROMPTD_WEBHOOKS_ALLOW_HTTP");
    long timeout_s;

    if (http && strcmp(http, "0") != 0 && strcmp(http, "1") != 0) {
        fprintf(stderr, "PROMPTD_WEBHOOKS_ALLOW_HTTP: must be 0 or 1\n");
        return false;
    }
    s->allow_http = http && strcmp(http, "1") == 0;
    if (!webhooks_schedule_parse(sched ? sched : DEFAULT_SCHEDULE, s)) {
        fprintf(stderr, "PROMPTD_WEBHOOKS_RETRY_SCHEDULE: must be 1..%d comma-separated "
                "delays in seconds (0..604800), e.g. " DEFAULT_SCHEDULE "\n",
                WEBHOOKS_SCHEDULE_MAX);
        return false;
    }
    if (!config_env_int("PROMPTD_WEBHOOKS_TIMEOUT", 15, 1, 300, &timeout_s) ||
        !config_env_int("PROMPTD_WEBHOOKS_CONCURRENCY", 64, 0, 10000, &s->concurrency) ||
        !config_env_int("PROMPTD_WEBHOOKS_PER_ENDPOINT", 4, 1, 1000, &s->per_endpoint) ||
        !config_env_int("PROMPTD_WEBHOOKS_DISABLE_AFTER", 432000, 1, 366L * 86400,
                        &s->disable_after_s) ||
        !config_env_int("PROMPTD_WEBHOOKS_RETENTION", 2592000, 3600, 3660L * 86400,
                        &s->retention_s))
        return false;
    s->timeout_ms = timeout_s * 1000;
    return true;
}

const webhooks_settings_t *webhooks_settings(void)
{
    static webhooks_settings_t s;
    static int state;           /* 0 unread, 1 good, -1 bad */

    if (state == 0)
        state = settings_load(&s) ? 1 : -1;
    return state == 1 ? &s : NULL;
}

const char *webhooks_url_form_refused(const char *url, const webhooks_settings_t *s)
{
    CURLU *u;
    char *scheme = NULL, *user = NULL;
    const char *why = NULL;

    if (strlen(url) > WEBHOOKS_URL_MAX)
        return "is longer than 2048 bytes";
    if ((u = curl_url()) == NULL)
        return "cannot be checked now";
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
        why = "is not an absolute URL";
    else if (strcmp(scheme, "https") != 0 && !(s->allow_http && strcmp(scheme, "http") == 0))
        why = s->allow_http ? "must use https or http" : "must use https";
    else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK)
        why = "must not carry a user name or password";
    curl_free(scheme);
    curl_free(user);
    curl_url_cleanup(u);
    return why;
}

const char *webhooks_url_refused(arena_t *a, const char *url, const webhooks_settings_t *s)
{
    const char *why = webhooks_url_form_refused(url, s);
    outbound_opts_t o = {.origin = OUTBOUND_USER_URL};
    CURL *c;

    if (why)
        return why;
    if ((c = curl_easy_init()) == NULL)
        return "cannot be checked now";
    if (outbound_prepare(a, c, url, &o, &why) == NULL)
        why = arena_printf(a, "is refused: %s", why ? why : "not reachable");
    curl_easy_cleanup(c);
    return why;
}
