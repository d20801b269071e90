/* sender.c: the webhook sender, a thread of promptd-jobs: fans the outbox out, claims due deliveries and runs them concurrently (libcurl multi), signed, through the SSRF guard, and records each attempt. */
#include "webhooks/sender.h"

#include <ctype.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <libpq-fe.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/str.h"
#include "crypto/keyring.h"
#include "crypto/random.h"
#include "crypto/secretbox.h"
#include "jobs/maintenance.h"
#include "net/outbound.h"
#include "webhooks/settings.h"
#include "webhooks/sign.h"

#define LEASE_SLACK_S 60        /* a claim's lease: the timeout and this */
#define IDLE_WAIT_MS 5000       /* the longest sleep without a notification */
#define RECONNECT_MS 1000

/* One delivery in flight; its arena owns the curl handle, the guard state
 * and every string. */
typedef struct whslot {
    bool busy;
    CURL *easy;
    arena_t *arena;
    outbound_t *ob;
    const char *delivery, *attempt;
    long long started_ms;
    long retry_after_s;         /* -1: none given */
    char body[WEBHOOKS_RESPONSE_KEEP + 1];
    size_t body_len;
} whslot_t;

static struct {
    pthread_t thread;
    bool started;
    volatile int stopping;      /* set by whsend_stop (atomic builtins) */
    const char *conninfo;
    const webhooks_settings_t *ws;
    PGconn *conn;
    CURLM *multi;
    whslot_t *slots;
    long busy;
    char name[160];             /* locked_by */
    cJSON *outcomes;            /* attempts ended, not yet recorded */
} S;

static bool stopping(void)
{
    return __atomic_load_n(&S.stopping, __ATOMIC_ACQUIRE) != 0;
}

/* ------------------------------------------------------------ database */

static bool exec_ok(PGconn *c, const char *sql)
{
    PGresult *res = PQexec(c, sql);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;

    if (!ok)
        log_error("whsend: %s: %s", sql, PQerrorMessage(c));
    PQclear(res);
    return ok;
}

/* S.conn, connected as service_role and listening; false when not now. */
static bool db_ready(void)
{
    if (S.conn && PQstatus(S.conn) == CONNECTION_OK)
        return true;
    PQfinish(S.conn);
    S.conn = PQconnectdb(S.conninfo);
    if (PQstatus(S.conn) == CONNECTION_OK && exec_ok(S.conn, "set role service_role") &&
        exec_ok(S.conn, "set application_name = 'promptd-webhooks'") &&
        /* Nothing this session commits needs to survive a crash: a lost
         * claim or outcome leaves the delivery to be sent again (after its
         * lease), which at-least-once delivery allows; so no commit waits
         * for the disk. */
        exec_ok(S.conn, "set synchronous_commit = off") &&
        exec_ok(S.conn, "listen promptd_webhooks"))
        return true;
    log_error("whsend: cannot connect: %s", PQerrorMessage(S.conn));
    PQfinish(S.conn);
    S.conn = NULL;
    return false;
}

/* Make the kept response text: NUL bytes and bytes outside valid UTF-8
 * (a cut at the 4 KB mark included) become '?'. */
static void keep_text(char *p, size_t len)
{
    size_t i = 0;

    while (i < len) {
        unsigned char c = (unsigned char)p[i];
        size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
                 : (c & 0xf8) == 0xf0 ? 4 : 0;

        if (c == 0 || n == 0 || i + n > len || !utf8_valid(p + i, n)) {
            p[i++] = '?';
            continue;
        }
        i += n;
    }
}

/* Note slot s's attempt for the next outcomes_flush: status 0 when no
 * response arrived (error says why). */
static void outcome_add(whslot_t *s, long status, const char *error)
{
    cJSON *o;

    metrics_counter_add("promptd_webhook_attempts_total",
                        status >= 200 && status < 300 ? "result=\"success\""
                        : status > 0 ? "result=\"http_error\"" : "result=\"no_response\"", 1);

    if (S.outcomes == NULL && (S.outcomes = cJSON_CreateArray()) == NULL)
        goto oom;
    if ((o = cJSON_CreateObject()) == NULL)
        goto oom;
    cJSON_AddItemToArray(S.outcomes, o);
    s->body[s->body_len] = '\0';
    keep_text(s->body, s->body_len);
    cJSON_AddStringToObject(o, "id", s->delivery);
    cJSON_AddRawToObject(o, "attempt", s->attempt);
    cJSON_AddNumberToObject(o, "status", (double)status);
    cJSON_AddNumberToObject(o, "latency_ms", (double)(clock_now_ms() - s->started_ms));
    if (s->body_len)
        cJSON_AddStringToObject(o, "response", s->body);
    if (error)
        cJSON_AddStringToObject(o, "error", error);
    if (s->retry_after_s >= 0)
        cJSON_AddNumberToObject(o, "retry_after", (double)s->retry_after_s);
    return;
oom:
    log_error("whsend: out of memory: delivery %s goes again after its lease", s->delivery);
}

/* Record every noted attempt in one statement (one commit).  A record
 * lost (database gone) is not retried here: the deliveries' leases run out
 * and they go again. */
static void outcomes_flush(void)
{
    char dis[24], *text;
    const char *v[4];
    PGresult *res;

    if (S.outcomes == NULL || cJSON_GetArraySize(S.outcomes) == 0)
        return;
    text = cJSON_PrintUnformatted(S.outcomes);
    cJSON_Delete(S.outcomes);
    S.outcomes = NULL;
    snprintf(dis, sizeof dis, "%ld", S.ws->disable_after_s);
    v[0] = S.name, v[1] = text, v[2] = S.ws->schedule_sql, v[3] = dis;
    if (text == NULL || !db_ready()) {
        log_error("whsend: outcomes not recorded; their deliveries go again after their lease");
        cJSON_free(text);
        return;
    }
    res = PQexecParams(S.conn, "select delivery, attempt, status, error, outcome from "
                       "promptd.webhook_record_all($1, $2::jsonb, $3::int[], $4::int)",
                       4, NULL, v, NULL, NULL, 0);
    cJSON_free(text);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        log_error("whsend: recording outcomes: %s", PQerrorMessage(S.conn));
    for (int i = 0; PQresultStatus(res) == PGRES_TUPLES_OK && i < PQntuples(res); i++) {
        long status = strtol(PQgetvalue(res, i, 2), NULL, 10);

        if (status < 200 || status > 299)
            log_warn("whsend: delivery %s attempt %s: %s -> %s", PQgetvalue(res, i, 0),
                     PQgetvalue(res, i, 1), PQgetisnull(res, i, 3) ? "non-2xx answer"
                     : PQgetvalue(res, i, 3), PQgetvalue(res, i, 4));
    }
    PQclear(res);
}

/* ------------------------------------------------------------ one delivery */

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    whslot_t *s = ctx;
    size_t len = size * n, room = WEBHOOKS_RESPONSE_KEEP - s->body_len;

    memcpy(s->body + s->body_len, p, len < room ? len : room);
    s->body_len += len < room ? len : room;
    return len;
}

/* Retry-After: delay-seconds or an HTTP-date (RFC 9110 10.2.3). */
static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
    whslot_t *s = ctx;
    size_t len = size * n;
    static const char name[] = "retry-after:";

    if (len > sizeof name && len < 200 && strncasecmp(p, name, sizeof name - 1) == 0) {
        char v[200], *e;
        size_t vl = len - (sizeof name - 1);
        long secs;

        memcpy(v, p + sizeof name - 1, vl);
        v[vl] = '\0';
        while (vl > 0 && isspace((unsigned char)v[vl - 1]))
            v[--vl] = '\0';
        e = v + strspn(v, " \t");
        if (*e >= '0' && *e <= '9') {
            secs = strtol(e, &e, 10);
            if (*e == '\0')
                s->retry_after_s = secs > 86400 ? 86400 : secs;
        } else {
            time_t at = curl_getdate(e, NULL), now = time(NULL);

            if (at > 0)
                s->retry_after_s = at <= now ? 0 : at - now > 86400 ? 86400 : (long)(at - now);
        }
    }
    return len;
}

/* The signatures header value: the current secret's, and the previous
 * one's while a rotation's overlap lasts.  NULL (why set) when a secret
 * cannot be opened. */
static const char *signatures(whslot_t *s, const char *endpoint, const char *sealed,
                              const char *previous, const char *msg, long long ts,
                              const char *body, const char **why)
{
    const secretbox_ring_t *ring = keyring_get(why);
    const char *aad = arena_printf(s->arena, "webhook_endpoints.secret:%s", endpoint);
    const char *sealed_all[2] = {sealed, previous};
    char sig[2][WHSIGN_SIG_LEN];
    int i, n = 0;

    if (ring == NULL) {
        *why = "no secrets key ring is configured (PROMPTD_SECRETS_KEYS)";
        return NULL;
    }
    for (i = 0; i < 2 && sealed_all[i]; i++) {
        unsigned char *pt = NULL;
        size_t len = 0;
        enum secretbox_error e = secretbox_decrypt(ring, sealed_all[i], aad, &pt, &len);
        bool ok = e == SECRETBOX_OK &&
                  whsign_sign((const char *)pt, msg, ts, body, strlen(body), sig[n]);

        secretbox_free(pt, len);
        if (!ok) {
            *why = e == SECRETBOX_OK ? "the endpoint's secret is malformed"
                                     : arena_printf(s->arena, "cannot open the endpoint's secret: %s",
                                                    secretbox_strerror(e));
            return NULL;
        }
        n++;
    }
    return n == 2 ? arena_printf(s->arena, "%s %s", sig[0], sig[1]) : arena_strdup(s->arena, sig[0]);
}

static void slot_free(whslot_t *s)
{
    if (s->easy)
        curl_multi_remove_handle(S.multi, s->easy);
    arena_destroy(s->arena);     /* its cleanup ends the easy handle */
    memset(s, 0, sizeof *s);
    S.busy--;
}

static void easy_cleanup(void *p)
{
    curl_easy_cleanup(p);
}

static void slist_cleanup(void *p)
{
    curl_slist_free_all(p);
}

/* Slot s's transfer to url, guarded (the form here, every address by
 * outbound_prepare, DNS asked now): NULL when ready, else why not. */
static const char *transfer_open(whslot_t *s, const char *url)
{
    outbound_opts_t o = {.origin = OUTBOUND_USER_URL};
    const char *why = webhooks_url_form_refused(url, S.ws);

    if (why)
        return arena_printf(s->arena, "the URL %s", why);
    if ((s->easy = curl_easy_init()) == NULL)
        return "out of memory";
    arena_cleanup_add(s->arena, easy_cleanup, s->easy);
    o.timeout_ms = S.ws->timeout_ms;
    o.connect_timeout_ms = S.ws->timeout_ms < 10000 ? S.ws->timeout_ms : 10000;
    o.max_body = 1u << 20;
    o.user_agent = WEBHOOKS_USER_AGENT;
    o.on_body = on_body, o.body_ctx = s;
    o.on_header = on_header, o.header_ctx = s;
    if ((s->ob = outbound_prepare(s->arena, s->easy, url, &o, &why)) == NULL)
        return arena_printf(s->arena, "the URL is refused: %s", why ? why : "not reachable");
    return NULL;
}

/* Start claimed row i of res in a free slot; a delivery that cannot start
 * (secret, URL refused now) is recorded as a failed attempt at once. */
static void start(PGresult *res, int i)
{
    whslot_t *s = NULL;
    long k;
    const char *why = NULL, *sigs;
    const char *endpoint = PQgetvalue(res, i, 2), *url = PQgetvalue(res, i, 3);
    const char *msg = PQgetvalue(res, i, 6), *body = PQgetvalue(res, i, 7);
    long long ts = (long long)time(NULL);
    struct curl_slist *h = NULL;

    for (k = 0; k < S.ws->concurrency && s == NULL; k++)
        if (!S.slots[k].busy)
            s = &S.slots[k];
    if (s == NULL)
        return;                  /* cannot happen: claims ask for the free slots */
    s->busy = true;
    S.busy++;
    s->arena = arena_create(4096);
    s->delivery = arena_strdup(s->arena, PQgetvalue(res, i, 0));
    s->attempt = arena_strdup(s->arena, PQgetvalue(res, i, 1));
    s->started_ms = clock_now_ms();
    s->retry_after_s = -1;
    body = arena_strdup(s->arena, body);
    sigs = signatures(s, endpoint, PQgetvalue(res, i, 4),
                      PQgetisnull(res, i, 5) ? NULL : PQgetvalue(res, i, 5), msg, ts, body, &why);
    if (sigs)
        why = transfer_open(s, url);
    if (why) {
        outcome_add(s, 0, why);
        s->easy = NULL;          /* never added to the multi handle */
        slot_free(s);
        return;
    }
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, arena_printf(s->arena, "webhook-id: %s", msg));
    h = curl_slist_append(h, arena_printf(s->arena, "webhook-timestamp: %lld", ts));
    h = curl_slist_append(h, arena_printf(s->arena, "webhook-signature: %s", sigs));
    h = curl_slist_append(h, "Expect:");
    arena_cleanup_add(s->arena, slist_cleanup, h);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
    curl_multi_add_handle(S.multi, s->easy);
}

/* A transfer ended with rc: record it and free its slot. */
static void finish(CURL *easy, CURLcode rc)
{
    whslot_t *s = NULL;
    long status = 0;

    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&s);
    if (s == NULL)
        return;
    if (rc == CURLE_OK)
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    outcome_add(s, rc == CURLE_OK ? status : 0,
           rc == CURLE_OK ? NULL : arena_strdup(s->arena, outbound_error(s->ob, rc)));
    slot_free(s);
}

/* ------------------------------------------------------------ the loop */

/* Claim up to the free slots and start them.  Returns the number claimed,
 * -1 on a database error. */
static int claim(void)
{
    char want[24], per[24], lease[24];
    const char *v[4] = {S.name, want, per, lease};
    PGresult *res;
    int i, n;

    snprintf(want, sizeof want, "%ld", S.ws->concurrency - S.busy);
    snprintf(per, sizeof per, "%ld", S.ws->per_endpoint);
    snprintf(lease, sizeof lease, "%ld", S.ws->timeout_ms / 1000 + LEASE_SLACK_S);
    res = PQexecParams(S.conn, "select delivery, attempt, endpoint, url, secret, previous_secret, "
                       "msg_id, body from promptd.webhook_claim($1, $2::int, $3::int, $4::int)",
                       4, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_error("whsend: claim: %s", PQerrorMessage(S.conn));
        PQclear(res);
        return -1;
    }
    n = PQntuples(res);
    for (i = 0; i < n; i++)
        start(res, i);
    PQclear(res);
    outcomes_flush();            /* those that could not start */
    return n;
}

/* Milliseconds until the next delivery a claim could take is due
 * (IDLE_WAIT_MS at most; one held back by its endpoint's bound waits for a
 * transfer to end instead). */
static long next_due_ms(void)
{
    char per[24];
    const char *v[1] = {per};
    PGresult *res;
    long ms = IDLE_WAIT_MS;

    snprintf(per, sizeof per, "%ld", S.ws->per_endpoint);
    res = PQexecParams(S.conn, "select promptd.webhook_next_due($1::int)", 1, NULL, v, NULL, NULL, 0);

    if (PQresultStatus(res) == PGRES_TUPLES_OK && !PQgetisnull(res, 0, 0)) {
        double secs = strtod(PQgetvalue(res, 0, 0), NULL);

        ms = secs * 1000.0 < IDLE_WAIT_MS ? (long)(secs * 1000.0) + 1 : IDLE_WAIT_MS;
    }
    PQclear(res);
    return ms;
}

/* True when a notification arrived on the connection (consumed). */
static bool notified(void)
{
    PGnotify *n;
    bool any = false;

    if (S.conn == NULL || !PQconsumeInput(S.conn))
        return false;
    while ((n = PQnotifies(S.conn)) != NULL) {
        any = true;
        PQfreemem(n);
    }
    return any;
}

/* Free slots worth a claim: one when idle, else a quarter of them, so
 * that under load a claim (which ranks every due delivery) starts many
 * transfers at once rather than one per finished transfer. */
static long claim_min(void)
{
    long q = S.ws->concurrency / 4;

    return S.busy == 0 || q < 1 ? 1 : q;
}

static void *sender_main(void *arg)
{
    long long due_at = 0;        /* when to claim next (0: now) */

    (void)arg;
    while (!stopping() || S.busy > 0) {
        struct curl_waitfd fd = {.fd = -1, .events = CURL_WAIT_POLLIN};
        CURLMsg *m;
        int running, q;
        long wait;

        if (!stopping() && S.ws->concurrency - S.busy >= claim_min() && clock_now_ms() >= due_at) {
            if (!db_ready()) {
                due_at = clock_now_ms() + RECONNECT_MS;
            } else {
                int got = claim();

                if (got < 0)
                    due_at = clock_now_ms() + RECONNECT_MS;
                else if (S.busy < S.ws->concurrency)   /* nothing more due now */
                    due_at = clock_now_ms() + next_due_ms();
            }
        }
        curl_multi_perform(S.multi, &running);
        while ((m = curl_multi_info_read(S.multi, &q)) != NULL)
            if (m->msg == CURLMSG_DONE) {
                finish(m->easy_handle, m->data.result);
                due_at = 0;      /* a slot is free */
            }
        outcomes_flush();
        /* Until a claim is due, or (too few slots free to claim) until
         * curl's transfers move: curl_multi_poll returns on their sockets. */
        wait = due_at - clock_now_ms();
        if (wait > IDLE_WAIT_MS)
            wait = IDLE_WAIT_MS;
        if (stopping() || S.ws->concurrency - S.busy < claim_min())
            wait = 1000;
        if (wait > 0) {
            if (S.conn)
                fd.fd = PQsocket(S.conn);
            curl_multi_poll(S.multi, fd.fd >= 0 ? &fd : NULL, fd.fd >= 0 ? 1 : 0,
                            (int)wait, NULL);
        }
        if (notified())
            due_at = 0;
    }
    PQfinish(S.conn);
    S.conn = NULL;
    return NULL;
}

bool whsend_start(const char *conninfo)
{
    sigset_t all, old;
    char host[64] = "host", id[37];

    if ((S.ws = webhooks_settings()) == NULL)
        return false;
    if (S.ws->concurrency == 0 || S.started)
        return true;
    S.conninfo = conninfo;
    S.multi = curl_multi_init();
    S.slots = calloc((size_t)S.ws->concurrency, sizeof *S.slots);
    if (S.multi == NULL || S.slots == NULL) {
        log_error("%s: out of memory", __func__);
        return false;
    }
    gethostname(host, sizeof host - 1);
    random_uuid(id);
    snprintf(S.name, sizeof S.name, "%s:%ld:%.8s", host, (long)getpid(), id);
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    S.started = pthread_create(&S.thread, NULL, sender_main, NULL) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!S.started)
        log_error("%s: pthread_create failed", __func__);
    else
        log_info("whsend: sending webhooks as %s (%ld at once, %ld per endpoint)", S.name,
                 S.ws->concurrency, S.ws->per_endpoint);
    return S.started;
}

void whsend_stop(void)
{
    if (!S.started)
        return;
    __atomic_store_n(&S.stopping, 1, __ATOMIC_RELEASE);
    curl_multi_wakeup(S.multi);
    pthread_join(S.thread, NULL);
    curl_multi_cleanup(S.multi);
    free(S.slots);
    S.multi = NULL;
    S.slots = NULL;
    S.started = false;
}

/* ------------------------------------------------------------ purge job */

int webhooks_purge_job(job_t *j)
{
    const webhooks_settings_t *ws = webhooks_settings();
    char sql[128];

    if (ws == NULL)
        return registry_fail(j, "webhooks.purge: PROMPTD_WEBHOOKS_* settings are malformed");
    snprintf(sql, sizeof sql, "select promptd.webhook_purge(%ld, $1::int)::text", ws->retention_s);
    return maintenance_purge_rounds(j, sql, 1000, 10000);
}

const job_handler_t webhooks_job_handlers[] = {
    { "webhooks.purge", webhooks_purge_job },
    { NULL, NULL }
};
