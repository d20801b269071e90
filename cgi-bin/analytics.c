/* analytics.c: the analytics family: POST /api/v1/events, a batch of product events from the frontend (signed in, or anonymous with the anon key), validated whole and stored in one statement. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "core/config.h"
#include "core/json.h"
#include "core/str.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "http/dbreply.h"
#include "http/response.h"
#include "http/server.h"

/* The documented limits (README "Analytics", openapi.json). */
#define EVENTS_MAX 100          /* events per batch */
#define EVENT_NAME_MAX 64       /* bytes; ^[a-z][a-z0-9_.:-]*$ */
#define PROPS_KEYS_MAX 32       /* members of properties */
#define PROP_KEY_MAX 64         /* bytes of a member's name */
#define PROP_STRING_MAX 256     /* bytes of a string value */
#define PROP_NUMBER_MAX 1e15    /* |number| below this, finite */
#define PROPS_BYTES_MAX 2048    /* properties, compact JSON */
#define ID_MAX 128              /* bytes of session_id, anonymous_id */
#define PAST_MAX_S (72 * 3600)  /* a timestamp at most 72 hours old */
#define FUTURE_MAX_S 300        /* and at most 5 minutes ahead (clock skew) */

/* Names promptd records itself (sql/0049_analytics.sql); refused from clients. */
static const char *const server_events[] = {
    "user.signed_up", "prompt.created", "enrichment.completed", "enrichment.failed",
    "share.viewed", "share.forked", "plan.changed", NULL};

static const config_t *cfg;
static const char *country_header; /* PROMPTD_ANALYTICS_COUNTRY_HEADER, or NULL */

enum { ST_INGEST };

static const db_stmt_t stmts[] = {
    /* $1 the events (normalized JSON array), $2 address, $3 user agent,
     * $4 country or NULL, $5 a candidate day salt (hex): rows stored */
    [ST_INGEST] = {"analytics_ingest",
        "select promptd.analytics_ingest($1::jsonb, $2::text, $3::text, $4::text, "
        "decode($5::text, 'hex'))"},
    {NULL, NULL},
};

/* ------------------------------------------------------------ validation */

static bool event_name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > EVENT_NAME_MAX || !islower((unsigned char)s[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) &&
            !strchr("_.:-", s[i]))
            return false;
    return true;
}

static bool server_event(const char *s)
{
    for (size_t i = 0; server_events[i]; i++)
        if (strcmp(s, server_events[i]) == 0)
            return true;
    return false;
}

/* Printable ASCII, 1..ID_MAX bytes (session and anonymous ids). */
static bool id_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7e)
            return false;
    return true;
}

/* One properties member: a string, finite number, boolean or null; true
 * when valid, else a field error naming field. */
static bool prop_value_ok(req_t *r, const char *field, const cJSON *v)
{
    if (cJSON_IsString(v) && strlen(v->valuestring) > PROP_STRING_MAX)
        req_field_error(r, field, "a string value is at most %d bytes", PROP_STRING_MAX);
    else if (cJSON_IsNumber(v) && !(fabs(v->valuedouble) < PROP_NUMBER_MAX))
        req_field_error(r, field, "a number must be finite and below 1e15 in magnitude");
    else if (cJSON_IsObject(v) || cJSON_IsArray(v))
        req_field_error(r, field, "values are strings, numbers, booleans or null "
                        "(no objects or arrays)");
    else
        return true;
    return false;
}

/* properties: a flat object within the limits; errors name field (its
 * members as field.name).  The caller adds it to the normalized event. */
static void props_check(req_t *r, const char *field, const cJSON *p)
{
    const cJSON *v;
    int n = 0;
    char *text;

    if (!cJSON_IsObject(p)) {
        req_field_error(r, field, "must be an object");
        return;
    }
    cJSON_ArrayForEach(v, p) {
        size_t klen = strlen(v->string);

        if (++n > PROPS_KEYS_MAX) {
            req_field_error(r, field, "has more than %d members", PROPS_KEYS_MAX);
            return;
        }
        if (klen == 0 || klen > PROP_KEY_MAX) {
            req_field_error(r, field, "member names are 1 to %d bytes", PROP_KEY_MAX);
            return;
        }
        if (!prop_value_ok(r, arena_printf(r->arena, "%s.%s", field, v->string), v))
            return;
    }
    text = json_print(r->arena, p);
    if (strlen(text) > PROPS_BYTES_MAX)
        req_field_error(r, field, "is %zu bytes as JSON, at most %d", strlen(text),
                        PROPS_BYTES_MAX);
}

/* An RFC 3339 date-time -> its UTC text with microseconds into out[64];
 * false when not a real time or outside [now - PAST_MAX_S, now + FUTURE_MAX_S]
 * (*why says which). */
static bool timestamp_norm(const char *s, char out[64], const char **why)
{
    struct tm tm = {0}, chk;
    int y, mo, d, h, mi, sec, oh = 0, om = 0;
    long usec = 0, scale = 100000;
    const char *p = s + 19;
    time_t t, now = time(NULL);

    *why = "must be an RFC 3339 date-time with an offset (2026-01-02T03:04:05Z)";
    if (!rfc3339_shaped(s) || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) != 6)
        return false;
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p); p++, scale /= 10)
            usec += scale > 0 ? (*p - '0') * scale : 0;
    if (*p == '+' || *p == '-')
        oh = (p[1] - '0') * 10 + (p[2] - '0'), om = (p[4] - '0') * 10 + (p[5] - '0');
    tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d;
    tm.tm_hour = h, tm.tm_min = mi, tm.tm_sec = sec;
    chk = tm;
    t = timegm(&tm);
    if (h > 23 || mi > 59 || sec > 59 || oh > 23 || om > 59 || tm.tm_mday != chk.tm_mday ||
        tm.tm_mon != chk.tm_mon || tm.tm_year != chk.tm_year)
        return false;
    t -= (*p == '-' ? -1 : *p == '+' ? 1 : 0) * (time_t)(oh * 3600 + om * 60);
    *why = "must be within the last 72 hours and at most 5 minutes ahead";
    if (t < now - PAST_MAX_S || t > now + FUTURE_MAX_S)
        return false;
    gmtime_r(&t, &tm);
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, usec);
    return true;
}

/* An optional string member: NULL when absent (or null); else a field
 * error when it is not a string passing ok(). */
static const char *opt_string(req_t *r, const cJSON *o, const char *name, const char *field,
                              bool (*ok)(const char *), const char *rule)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    if (v == NULL || cJSON_IsNull(v))
        return NULL;
    if (!cJSON_IsString(v) || !ok(v->valuestring)) {
        req_field_error(r, field, "%s", rule);
        return NULL;
    }
    return v->valuestring;
}

static bool any_string(const char *s) { return s != NULL; }

/* events[i] -> its normalized row {e, p, t?, s?, a?} appended to rows, or
 * field errors named events[i].field. */
static void event_check(req_t *r, int i, const cJSON *ev, cJSON *rows)
{
    static const char *const allowed[] = {
        "event", "properties", "timestamp", "session_id", "anonymous_id", NULL};
    const char *base = arena_printf(r->arena, "events[%d]", i), *name, *ts, *why, *id;
    const cJSON *m, *props;
    cJSON *row;
    char norm[64];

    if (!cJSON_IsObject(ev)) {
        req_field_error(r, base, "must be an object");
        return;
    }
    cJSON_ArrayForEach(m, ev) {
        size_t k = 0;

        while (allowed[k] && strcmp(allowed[k], m->string) != 0)
            k++;
        if (allowed[k] == NULL)
            req_field_error(r, arena_printf(r->arena, "%s.%s", base, m->string),
                            "is not a field of an event");
    }
    row = cJSON_CreateObject();
    cJSON_AddItemToArray(rows, row);
    name = opt_string(r, ev, "event", arena_printf(r->arena, "%s.event", base), event_name_ok,
                      "must be 1 to 64 characters: a lowercase letter, then a-z 0-9 _ . : -");
    m = cJSON_GetObjectItemCaseSensitive(ev, "event");
    if (m == NULL || cJSON_IsNull(m))
        req_field_error(r, arena_printf(r->arena, "%s.event", base), "is required");
    else if (name && server_event(name))
        req_field_error(r, arena_printf(r->arena, "%s.event", base),
                        "'%s' is recorded by the server; choose another name", name);
    if (name)
        cJSON_AddStringToObject(row, "e", name);
    props = cJSON_GetObjectItemCaseSensitive(ev, "properties");
    if (props && !cJSON_IsNull(props)) {
        props_check(r, arena_printf(r->arena, "%s.properties", base), props);
        cJSON_AddItemReferenceToObject(row, "p", (cJSON *)props);
    }
    ts = opt_string(r, ev, "timestamp", arena_printf(r->arena, "%s.timestamp", base),
                    any_string, "must be a string (RFC 3339 date-time)");
    if (ts && !timestamp_norm(ts, norm, &why))
        req_field_error(r, arena_printf(r->arena, "%s.timestamp", base), "%s", why);
    else if (ts)
        cJSON_AddStringToObject(row, "t", norm);
    if ((id = opt_string(r, ev, "session_id", arena_printf(r->arena, "%s.session_id", base),
                         id_ok, "must be 1 to 128 printable ASCII characters")))
        cJSON_AddStringToObject(row, "s", id);
    if ((id = opt_string(r, ev, "anonymous_id", arena_printf(r->arena, "%s.anonymous_id", base),
                         id_ok, "must be 1 to 128 printable ASCII characters")))
        cJSON_AddStringToObject(row, "a", id);
}

/* The body's events as normalized rows (owned by r->arena), or NULL after
 * a 422 naming every bad field: a batch is stored whole or not at all. */
static const char *events_or_reply(req_t *r, int *count)
{
    static const char *const allowed[] = {"events", NULL};
    const cJSON *events = cJSON_GetObjectItemCaseSensitive(r->json, "events"), *ev;
    cJSON *rows = json_own(r->arena, cJSON_CreateArray());
    int i = 0;

    req_reject_unknown(r, r->json, allowed);
    if (events == NULL)
        req_field_error(r, "events", "is required");
    else if (!cJSON_IsArray(events))
        req_field_error(r, "events", "must be an array of events");
    else if (cJSON_GetArraySize(events) == 0 || cJSON_GetArraySize(events) > EVENTS_MAX)
        req_field_error(r, "events", "must hold 1 to %d events", EVENTS_MAX);
    else {
        cJSON_ArrayForEach(ev, events) {
            event_check(r, i++, ev, rows);
        }
    }
    if (r->errors) {
        resp_validation(r);
        return NULL;
    }
    *count = i;
    return json_print(r->arena, rows);
}

/* ------------------------------------------------------------ callers */

/* An anonymous caller must present the anon key when one is configured
 * (PROMPTD_ANON_KEY), in the apikey header as Supabase's clients send it;
 * 401 otherwise.  Signed-in callers pass. */
static bool anon_key_or_reply(req_t *r)
{
    const char *key = cfg->anon_key, *h = req_header(r, "apikey");

    if (r->tx.user_id != NULL || key == NULL || *key == '\0')
        return true;
    if (h && strlen(h) == strlen(key) && CRYPTO_memcmp(h, key, strlen(key)) == 0)
        return true;
    r->tx.detail = "apikey missing or not the configured anon key";
    resp_unauthorized(r, h != NULL, "Anonymous events need the anon key in the apikey header.");
    return false;
}

/* Why an anonymous caller's events are not stored ("DNT", "Sec-GPC"), or
 * NULL: both signals are honoured for anonymous events only (a signed-in
 * user's events are covered by their account, its export and deletion). */
static const char *opted_out(req_t *r)
{
    const char *h;

    if (r->tx.user_id != NULL)
        return NULL;
    if ((h = req_header(r, "DNT")) && strcmp(h, "1") == 0)
        return "DNT";
    if ((h = req_header(r, "Sec-GPC")) && strcmp(h, "1") == 0)
        return "Sec-GPC";
    return NULL;
}

/* The operator's CDN country header: two uppercase letters, else NULL
 * (Cloudflare's XX unknown and T1 Tor are no country). */
static const char *country(req_t *r)
{
    const char *h = country_header ? req_header(r, country_header) : NULL;

    if (h == NULL || strlen(h) != 2 || !isupper((unsigned char)h[0]) ||
        !isupper((unsigned char)h[1]) || strcmp(h, "XX") == 0 || strcmp(h, "T1") == 0)
        return NULL;
    return h;
}

/* POST /api/v1/events {events: [{event, properties?, timestamp?, session_id?,
 *   anonymous_id?}]} (session, or anonymous with the anon key)
 *   -> 202 {accepted, stored[, not_stored]} | 401 | 403 | 413 | 422 naming
 *   events[i].field (nothing stored) */
static int events_post(req_t *r)
{
    const char *rows, *why, *v[5];
    unsigned char cand[32];
    char hex[65];
    int n = 0;
    PGresult *res;
    cJSON *out;

    if (!anon_key_or_reply(r) || (rows = events_or_reply(r, &n)) == NULL)
        return r->status;
    out = json_own(r->arena, cJSON_CreateObject());
    cJSON_AddNumberToObject(out, "accepted", n);
    if ((why = opted_out(r)) != NULL) {
        cJSON_AddNumberToObject(out, "stored", 0);
        cJSON_AddStringToObject(out, "not_stored", why);
        return resp_json(r, 202, out);
    }
    random_bytes(cand, sizeof cand);
    hash_hex(cand, sizeof cand, hex);
    OPENSSL_cleanse(cand, sizeof cand);
    v[0] = rows, v[1] = r->remote_addr, v[2] = req_header(r, "User-Agent");
    v[3] = country(r), v[4] = hex;
    res = db_exec(&r->tx, &stmts[ST_INGEST], 5, v);
    OPENSSL_cleanse(hex, sizeof hex);
    if (res == NULL)
        return dbreply_error(r);
    cJSON_AddNumberToObject(out, "stored", atoi(PQgetvalue(res, 0, 0)));
    return resp_json(r, 202, out);
}

/* Signed-in users (a session token) or anonymous callers; API keys are for
 * programs acting on prompts, not for a person's product events (403). */
static const route_t routes[] = {
    {"POST", "/api/v1/events", events_post, R_JSON | R_DB, CRED_NONE | CRED_SESSION, NULL},
};

int main(int argc, char **argv)
{
    static const db_stmt_t *const tables[] = {stmts, NULL};
    static const family_t family = {
        "analytics", routes, sizeof(routes) / sizeof(routes[0]), tables, NULL};

    if ((cfg = config_load(false)) == NULL)
        return 1;
    country_header = config_env("PROMPTD_ANALYTICS_COUNTRY_HEADER");
    return server_main(argc, argv, &family);
}
