/* enrich_race.c: one run's provider chain driven through its own curl multi handle: retries with backoff timers, the breaker, hedged attempts, one streamed transfer, the deadline. */
#include "enrich/enrich_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "core/clock.h"
#include "core/log.h"
#include "enrich/provider.h"

/* Transfers in flight at once in one run (a hedge is refused beyond). */
#define RACE_MAX_LIVE 16

/* Where a link of the chain stands. */
enum step_state {
    STEP_IDLE,       /* not begun (or cancelled: may begin again) */
    STEP_RUNNING,    /* transfers in flight */
    STEP_WAITING,    /* a retry is due at wake_ms */
    STEP_DONE,       /* answered, failed or skipped */
};

/* One remote link's step: its attempts under one breaker verdict. */
typedef struct step {
    const chain_link_t *l;
    enum step_state state;
    provider_call_t call;        /* the question; each attempt copies it */
    const char *source;          /* whose key: "user" or "server" */
    bool probe;                  /* the breaker's half-open probe */
    bool clean;                  /* the breaker was closed with no failure
                                  * counted: a success changes nothing */
    int max, n;                  /* attempts allowed, begun */
    int running;                 /* transfers in flight */
    enum provider_outcome last;
    long long wake_ms;
} step_t;

typedef struct race race_t;

/* One attempt in flight. */
typedef struct slot {
    race_t *r;
    step_t *st;
    int n;                       /* the attempt's number in its step */
    provider_call_t call;        /* lives as long as the transfer */
    provider_xfer_t *px;
    provider_answer_t ans;
    double t0;
    long long started_ms;
    bool capped;                 /* its timeout is the deadline's */
    bool hedge_checked;          /* its silence was looked at once */
    bool hedged;                 /* another attempt ran because of its silence */
    const struct step *hedge_st; /* the step its hedge began */
    bool doomed;                 /* another transfer is streamed: cancel it */
    bool streamed;               /* the client saw its deltas */
} slot_t;

struct race {
    run_t *x;
    CURLM *multi;
    step_t steps[SETTINGS_MAX_CHAIN];
    slot_t *live[RACE_MAX_LIVE];
    int nlive;
    slot_t *streamer;            /* the one transfer whose deltas the client gets */
    bool doom;                   /* doomed slots wait to be cancelled */
};

/* Breaker bookkeeping (unscoped).  allow: "clean", "call", "probe" or
 * "skip" (promptd.enrich_breaker_allow()). */
static const char *race_breaker_allow(run_t *x, const chain_link_t *l)
{
    char cool[24];
    const char *v[2] = {l->name, cool};
    PGresult *pr;

    snprintf(cool, sizeof cool, "%ld", x->cfg->breaker_cooldown_s);
    pr = db_exec_autocommit(x->d, &enrich_stmts[ST_BREAKER_ALLOW], 2, v);
    return pr && PQntuples(pr) == 1 ? arena_strdup(x->d->arena, PQgetvalue(pr, 0, 0))
                                     : NULL;
}

static bool race_breaker_report(run_t *x, const chain_link_t *l, bool ok)
{
    char thr[24];
    const char *v[3] = {l->name, ok ? "true" : "false", thr};

    snprintf(thr, sizeof thr, "%ld", x->cfg->breaker_threshold);
    return db_exec_autocommit(x->d, &enrich_stmts[ST_BREAKER_REPORT], 3, v) != NULL;
}

/* A step that ended in a way that says nothing about the provider's
 * health (cancelled, the deadline, a bad answer): report nothing, but hand
 * back the half-open probe if this step was it, so the next caller probes
 * at once. */
static bool race_breaker_neutral(run_t *x, const chain_link_t *l, bool probe)
{
    const char *v[1] = {l->name};

    return !probe || db_exec_autocommit(x->d, &enrich_stmts[ST_BREAKER_RELEASE], 1, v) != NULL;
}

/* The breaker counts providers that failed a whole step (every retry),
 * not single attempts: a provider failing some calls at random is
 * served by the retries; one failing them all is skipped.  It is shared
 * by every tenant, so it counts only what says the provider is unwell
 * (provider_breaker_counts: transport, timeout, 5xx, 429) and only on
 * the server's key: a bad answer to one user's prompt, or a user's own
 * key refused or rate limited, must not switch the provider off for
 * everyone.  False on a database error. */
static bool race_step_failed(run_t *x, const step_t *st)
{
    if (strcmp(st->source, "server") == 0 && provider_breaker_counts(st->last))
        return race_breaker_report(x, st->l, false);
    return race_breaker_neutral(x, st->l, st->probe);
}

/* The jittered exponential backoff before retry number n (1-based), or the
 * provider's Retry-After; -1 when Retry-After asks for longer than the cap
 * (give up on this provider for now). */
static long race_backoff_ms(const enrich_settings_t *cfg, int n, long retry_after)
{
    if (retry_after >= 0)
        return retry_after <= cfg->backoff_max_ms ? retry_after : -1;
    return clock_backoff_ms(cfg->backoff_ms, cfg->backoff_max_ms, n);
}

/* A valid answer becomes the result: text, model, tokens (estimated when
 * the provider reports none) and their cost from the price table: the
 * winner's alone, whatever other transfers of the run were billed. */
static void race_answered(run_t *x, const slot_t *s)
{
    const provider_answer_t *ans = &s->ans;
    const price_t *p = settings_price(ans->model);

    x->res->text = ans->text;
    x->res->provider = s->st->l->name;
    x->res->model = ans->model;
    x->res->tokens_in = ans->tokens_in >= 0 ? ans->tokens_in
        : (long)(strlen(s->call.system) + x->norm_len + 3) / 4;
    x->res->tokens_out = ans->tokens_out >= 0 ? ans->tokens_out
        : (long)(ans->len + 3) / 4;
    x->res->cost_usd = p ? ((double)x->res->tokens_in * p->in_per_m +
                            (double)x->res->tokens_out * p->out_per_m) / 1e6
                         : 0;
}

/* The client saw part of an answer that failed: say it is withdrawn. */
static void race_withdraw(run_t *x, const chain_link_t *l, enum provider_outcome o)
{
    cJSON *ev = cJSON_CreateObject();

    cJSON_AddStringToObject(ev, "from", l->name);
    cJSON_AddStringToObject(ev, "reason", provider_outcome_name(o));
    cJSON_AddTrueToObject(ev, "discard");
    enrich_event(x, "fallback", ev);
}

/* One attempt's entry in attempts[]: outcome, latency, whose key, HTTP
 * status, detail, probe. */
static cJSON *race_attempt_json(run_t *x, const slot_t *s, enum provider_outcome o,
                                const char *detail)
{
    cJSON *att = enrich_attempt(x, s->st->l, s->n, provider_outcome_name(o),
                                1000.0 * (clock_now() - s->t0));

    cJSON_AddStringToObject(att, "key", s->st->source);
    if (s->ans.http_status)
        cJSON_AddNumberToObject(att, "http_status", s->ans.http_status);
    if (detail)
        cJSON_AddStringToObject(att, "detail", detail);
    if (s->st->probe)
        cJSON_AddTrueToObject(att, "probe");
    return att;
}

/* The streamed run's delta receiver: the first transfer to speak is the
 * one the client hears; every other is doomed (cancelled once curl
 * returns: a callback may not remove handles) and never heard. */
static void race_delta(void *ctx, const char *text, size_t len)
{
    slot_t *s = ctx;
    race_t *r = s->r;

    if (r->streamer == NULL) {
        r->streamer = s;
        for (int i = 0; i < r->nlive; i++)
            if (r->live[i] != s) {
                r->live[i]->doomed = true;
                r->doom = true;
            }
        for (int i = 0; i < r->x->in->chain.n; i++)
            if (r->steps[i].state == STEP_WAITING)
                r->doom = true;
    }
    if (r->streamer != s)
        return;
    s->streamed = true;
    enrich_delta(r->x, text, len);
}

/* Take slot s out of the multi handle and the live list. */
static void race_unlink(race_t *r, slot_t *s)
{
    if (s->px)
        curl_multi_remove_handle(r->multi, provider_xfer_curl(s->px));
    for (int i = 0; i < r->nlive; i++)
        if (r->live[i] == s) {
            r->live[i] = r->live[--r->nlive];
            break;
        }
    if (r->streamer == s)
        r->streamer = NULL;
    s->st->running--;
}

/* A step with nothing in flight stops without a verdict on the provider
 * (neutral breaker) and takes state to.  False on a database error. */
static bool race_step_drop(race_t *r, step_t *st, enum step_state to)
{
    if (st->state != STEP_RUNNING && st->state != STEP_WAITING)
        return true;
    if (st->running > 0)
        return true;
    st->state = to;
    return race_breaker_neutral(r->x, st->l, st->probe);
}

/* Stop slot s before its end: outcome cancelled (another transfer won or
 * is streamed) or timeout (the deadline).  Its step ends with it unless
 * another of its transfers runs on: a cancelled step is not begun again.
 * False on a database error. */
static bool race_cancel(race_t *r, slot_t *s, bool deadline)
{
    enum provider_outcome o = deadline ? PROVIDER_TIMEOUT : PROVIDER_CANCELLED;
    bool streamed = s->streamed;

    race_unlink(r, s);
    race_attempt_json(r->x, s, o, deadline ? "the enrichment's deadline passed"
                                           : "another transfer won the race");
    if (streamed)
        race_withdraw(r->x, s->st->l, o);
    return race_step_drop(r, s->st, STEP_DONE);
}

/* Begin the next attempt of step st: a transfer in the multi handle, its
 * timeouts cut to the time left.  Returns the slot, or NULL when none
 * began (no time left, no room, or the handle could not be prepared:
 * then *failed is the finished slot to account for). */
static slot_t *race_launch(race_t *r, step_t *st, slot_t **failed)
{
    run_t *x = r->x;
    long long now = clock_now_ms(), left = x->deadline_ms - now;
    slot_t *s;

    *failed = NULL;
    if (left <= 0) {
        x->time_up = true;
        return NULL;
    }
    if (r->nlive == RACE_MAX_LIVE)
        return NULL;
    s = arena_zalloc(x->d->arena, sizeof(*s));
    s->r = r;
    s->st = st;
    s->n = ++st->n;
    s->call = st->call;
    s->capped = left < st->call.timeout_ms;
    s->call.timeout_ms = s->capped ? (long)left : st->call.timeout_ms;
    if (s->call.connect_timeout_ms <= 0)
        s->call.connect_timeout_ms = OUTBOUND_CONNECT_TIMEOUT_MS;
    if (s->call.connect_timeout_ms > left)
        s->call.connect_timeout_ms = (long)left;
    s->call.ctx = s;
    s->t0 = clock_now();
    s->started_ms = now;
    st->state = STEP_RUNNING;
    st->running++;
    if ((s->px = provider_start(x->d->arena, &s->call, &s->ans)) == NULL) {
        st->running--;
        *failed = s;
        return NULL;
    }
    curl_easy_setopt(provider_xfer_curl(s->px), CURLOPT_PRIVATE, s);
    curl_multi_add_handle(r->multi, provider_xfer_curl(s->px));
    r->live[r->nlive++] = s;
    return s;
}

static int race_finished(race_t *r, slot_t *s, enum provider_outcome o);
static void race_rearm(race_t *r, const step_t *st);

/* Launch an attempt of st, accounting for one that could not start.
 * 1 launched, 0 not, -1 database error. */
static int race_attempt(race_t *r, step_t *st)
{
    slot_t *failed;

    if (race_launch(r, st, &failed))
        return 1;
    if (failed)
        return race_finished(r, failed, failed->ans.outcome) < 0 ? -1 : 0;
    if (st->running == 0 && st->state != STEP_WAITING)
        return race_step_drop(r, st, STEP_DONE) ? 0 : -1;
    return 0;
}

/* Begin remote link i: key, breaker, the first attempt.  1 a transfer
 * began, 0 not (skipped, or failed at once), -1 database error. */
static int race_begin_remote(race_t *r, int i)
{
    run_t *x = r->x;
    const enrich_settings_t *cfg = x->cfg;
    step_t *st = &r->steps[i];
    const chain_link_t *l = &x->in->chain.links[i];
    const char *allow, *key, *base;
    int rc;

    memset(st, 0, sizeof(*st));
    st->l = l;
    st->state = STEP_DONE;
    base = l->kind == PROVIDER_ANTHROPIC ? cfg->anthropic_base_url : cfg->openai_base_url;
    key = l->kind == PROVIDER_ANTHROPIC ? x->in->anthropic_key : x->in->openai_key;
    st->source = "user";
    if (key == NULL) {
        key = l->kind == PROVIDER_ANTHROPIC ? cfg->anthropic_api_key : cfg->openai_api_key;
        st->source = "server";
    }
    if (key == NULL && (strcmp(base, "https://api.openai.com/v1") == 0 ||
                        strcmp(base, "https://api.anthropic.com") == 0)) {
        enrich_attempt(x, l, 0, "not_configured", 0);
        return 0;
    }
    if (x->in->nimages > 0 && (rc = enrich_images_load(x)) <= 0) {
        if (rc < 0)
            return -1;
        cJSON_AddStringToObject(enrich_attempt(x, l, 0, "image_unavailable", 0), "detail",
                                x->images_gone);
        return 0;
    }
    if ((allow = race_breaker_allow(x, l)) == NULL)
        return -1;
    if (strcmp(allow, "skip") == 0) {
        enrich_attempt(x, l, 0, "breaker_open", 0);
        return 0;
    }
    st->call.link = l;
    st->call.base_url = base;
    st->call.origin = OUTBOUND_OPERATOR_URL;   /* PROMPTD_*_BASE_URL */
    st->call.api_key = key;
    st->call.system = enrich_system_prompt(x->d->arena, x->in);
    st->call.user = x->norm;
    st->call.images = x->images;
    st->call.nimages = x->images ? x->in->nimages : 0;
    st->call.max_tokens = cfg->max_tokens;
    st->call.timeout_ms = cfg->timeout_ms;
    st->call.connect_timeout_ms = cfg->connect_timeout_ms;
    st->call.on_delta = x->in->on_event ? race_delta : NULL;
    st->call.body = provider_body(x->d->arena, &st->call);   /* once for every attempt */
    st->probe = strcmp(allow, "probe") == 0;
    st->clean = strcmp(allow, "clean") == 0;
    st->max = st->probe ? 1 : (int)cfg->retries + 1;
    st->state = STEP_RUNNING;
    return race_attempt(r, st);
}

/* Begin chain link i: its cache entry, the local engine, or a remote
 * step.  1 a transfer began or an answer is in, 0 neither, -1 error. */
static int race_begin(race_t *r, int i)
{
    run_t *x = r->x;
    const chain_link_t *l = &x->in->chain.links[i];
    int rc;

    r->steps[i].state = STEP_DONE;
    if (!(i == 0 && x->in->first_looked_up) &&
        (rc = enrich_cache_get(x, l, enrich_cache_key(x, l))) != 0)
        return rc;
    if (l->kind == PROVIDER_LOCAL)
        return enrich_run_local(x, l) ? 1 : 0;
    return race_begin_remote(r, i);
}

/* The first link not yet begun, or -1. */
static int race_next_link(const race_t *r)
{
    for (int i = 0; i < r->x->in->chain.n; i++)
        if (r->steps[i].state == STEP_IDLE)
            return i;
    return -1;
}

/* A transfer still running or a retry due. */
static bool race_active(const race_t *r)
{
    for (int i = 0; i < r->x->in->chain.n; i++)
        if (r->steps[i].state == STEP_RUNNING || r->steps[i].state == STEP_WAITING)
            return true;
    return false;
}

/* Transfers of step st still in flight that nothing has been started for
 * (a silent one that was hedged is as good as given up). */
static int race_live_unhedged(const race_t *r, const step_t *st)
{
    int n = 0;

    for (int i = 0; i < r->nlive; i++)
        if (r->live[i]->st == st && !r->live[i]->hedged)
            n++;
    return n;
}

/* Account for slot s (out of the multi handle) that ended with outcome o,
 * its answer in s->ans: the winner, a retry after backoff (never of an
 * attempt another was hedged for), or the end of its step.  1 answered,
 * 0 not, -1 database error. */
static int race_finished(race_t *r, slot_t *s, enum provider_outcome o)
{
    run_t *x = r->x;
    step_t *st = s->st;
    const char *detail = s->ans.detail;
    /* its timeout was the deadline's and it is over (not a connect timeout) */
    bool deadline = o == PROVIDER_TIMEOUT && s->capped &&
                    clock_now_ms() + 10 >= x->deadline_ms;
    cJSON *att;

    if (o == PROVIDER_OK)
        o = provider_validate(x->norm, s->ans.text, &detail);
    if (deadline) {
        x->time_up = true;
        detail = "the enrichment's deadline passed";
    }
    att = race_attempt_json(x, s, o, detail);
    if (o == PROVIDER_OK) {
        st->state = STEP_DONE;
        /* a clean breaker stays clean: one statement saved per success */
        if (!st->clean && !race_breaker_report(x, st->l, true))
            return -1;
        race_answered(x, s);
        return 1;
    }
    st->last = o;
    log_warn("%s: %s %s attempt %d: %s (%s)", __func__, st->l->name, st->l->model, s->n,
             provider_outcome_name(o), detail ? detail : "");
    if (s->streamed) {
        race_withdraw(x, st->l, o);
    } else if (!deadline && !s->hedged && race_live_unhedged(r, st) == 0 &&
               provider_retryable(o) && st->n < st->max) {
        long wait = race_backoff_ms(x->cfg, s->n, s->ans.retry_after_ms);
        long long now = clock_now_ms();

        if (wait < 0) {
            cJSON_DeleteItemFromObjectCaseSensitive(att, "detail");
            cJSON_AddStringToObject(att, "detail", "Retry-After exceeds the retry cap");
        } else if (now + wait < x->deadline_ms) {
            cJSON_AddNumberToObject(att, "retry_in_ms", (double)wait);
            st->state = STEP_WAITING;
            st->wake_ms = now + wait;
            return 0;
        }
    }
    if (st->running > 0 || st->state == STEP_WAITING)   /* others run, or a retry is due */
        return 0;
    st->state = STEP_DONE;
    race_rearm(r, st);
    if (deadline)
        return race_breaker_neutral(x, st->l, st->probe) ? 0 : -1;
    return race_step_failed(x, st) ? 0 : -1;
}

/* Slot s has been silent for the hedge delay: the next link of the chain
 * begins too (its breaker asked; links skipped on the way are passed), or,
 * with no remote link next, another attempt of its own link (which is not
 * hedged in turn).  Once something runs for it, s is never retried; if
 * that other link fails for good while s is still silent, s races the
 * link after it (race_rearm).  0, or -1 database error. */
static int race_hedge(race_t *r, slot_t *s)
{
    run_t *x = r->x;
    int i, before;

    s->hedge_checked = true;
    while ((i = race_next_link(r)) >= 0 && x->in->chain.links[i].kind != PROVIDER_LOCAL) {
        if (race_begin(r, i) < 0)
            return -1;
        if (x->res->text)
            return 0;
        if (r->steps[i].state == STEP_RUNNING || r->steps[i].state == STEP_WAITING) {
            s->hedged = true;
            s->hedge_st = &r->steps[i];
            return 0;
        }
    }
    if (s->st->state != STEP_RUNNING || s->st->n >= s->st->max)
        return 0;
    before = r->nlive;
    if (race_attempt(r, s->st) < 0)
        return -1;
    if (r->nlive > before) {
        s->hedged = true;
        s->hedge_st = s->st;
        r->live[r->nlive - 1]->hedge_checked = true;   /* a link races itself once */
    }
    return 0;
}

/* Step st failed for good: a silent transfer it was racing may race the
 * next link now (it stays unretried). */
static void race_rearm(race_t *r, const step_t *st)
{
    for (int i = 0; i < r->nlive; i++)
        if (r->live[i]->hedge_st == st && r->live[i]->st != st)
            r->live[i]->hedge_checked = false;
}

/* Hedge every transfer silent for PROMPTD_ENRICH_HEDGE_MS (none once a
 * transfer is streamed).  0, or -1 database error. */
static int race_hedges(race_t *r)
{
    long hedge = r->x->cfg->hedge_ms;
    long long now = clock_now_ms();

    if (hedge <= 0 || r->streamer)
        return 0;
    for (int i = 0; i < r->nlive && !r->x->res->text; i++) {
        slot_t *s = r->live[i];

        if (!s->hedge_checked && provider_xfer_received(s->px) == 0 &&
            now - s->started_ms >= hedge && race_hedge(r, s) < 0)
            return -1;
    }
    return 0;
}

/* Retries whose backoff is over begin.  0, or -1 database error. */
static int race_wake(race_t *r)
{
    long long now = clock_now_ms();

    for (int i = 0; i < r->x->in->chain.n; i++) {
        step_t *st = &r->steps[i];

        if (st->state == STEP_WAITING && st->wake_ms <= now) {
            st->state = STEP_RUNNING;
            if (race_attempt(r, st) < 0)
                return -1;
        }
    }
    return 0;
}

/* A transfer became the streamed one: cancel the others and the retries
 * waiting.  False on a database error. */
static bool race_doom(race_t *r)
{
    r->doom = false;
    for (int i = r->nlive - 1; i >= 0; i--)
        if (i < r->nlive && r->live[i]->doomed && !race_cancel(r, r->live[i], false))
            return false;
    for (int i = 0; i < r->x->in->chain.n; i++)
        if (r->steps[i].state == STEP_WAITING && !race_step_drop(r, &r->steps[i], STEP_DONE))
            return false;
    return true;
}

/* Account for the transfers curl finished.  1 one answered, 0 not, -1
 * database error.  Doomed ones are left to race_doom. */
static int race_reap(race_t *r)
{
    CURLMsg *m;
    int q, rc;

    while ((m = curl_multi_info_read(r->multi, &q)) != NULL) {
        CURLcode code = m->data.result;
        slot_t *s = NULL;

        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
        if (s == NULL || s->doomed)
            continue;
        race_unlink(r, s);
        if ((rc = race_finished(r, s, provider_finish(s->px, code, &s->ans))) != 0)
            return rc;
    }
    return 0;
}

/* How long to wait for curl: until the next retry, hedge moment or the
 * deadline (curl_multi_poll wakes sooner for curl's own timers). */
static int race_timeout(const race_t *r)
{
    long long now = clock_now_ms(), t = r->x->deadline_ms - now;
    long hedge = r->x->cfg->hedge_ms;

    for (int i = 0; i < r->x->in->chain.n; i++)
        if (r->steps[i].state == STEP_WAITING && r->steps[i].wake_ms - now < t)
            t = r->steps[i].wake_ms - now;
    for (int i = 0; hedge > 0 && !r->streamer && i < r->nlive; i++) {
        const slot_t *s = r->live[i];

        if (!s->hedge_checked && provider_xfer_received(s->px) == 0 &&
            s->started_ms + hedge - now < t)
            t = s->started_ms + hedge - now;
    }
    return t < 0 ? 0 : t > 60000 ? 60000 : (int)t;
}

/* One turn of the loop: begin the next link when nothing runs, else wake
 * retries, hedge, let curl work and wait.  1 go on, 0 over, -1 error. */
static int race_turn(race_t *r)
{
    run_t *x = r->x;
    int i, rc, still;

    if (x->res->text)
        return 0;
    if (clock_now_ms() >= x->deadline_ms) {
        x->time_up = true;
        return 0;
    }
    if (r->doom && !race_doom(r))
        return -1;
    if (!race_active(r)) {
        if ((i = race_next_link(r)) < 0)
            return 0;
        return race_begin(r, i) < 0 ? -1 : 1;
    }
    if (race_wake(r) < 0 || race_hedges(r) < 0)
        return -1;
    if (x->res->text)
        return 0;
    curl_multi_perform(r->multi, &still);
    if ((rc = race_reap(r)) != 0)
        return rc < 0 ? -1 : 0;
    if (r->doom || !race_active(r))
        return 1;
    curl_multi_poll(r->multi, NULL, 0, race_timeout(r), NULL);
    return 1;
}

int enrich_race(run_t *x)
{
    race_t *r = arena_zalloc(x->d->arena, sizeof(*r));
    bool deadline;
    int rc = 1;

    r->x = x;
    if ((r->multi = provider_multi_get()) == NULL) {
        log_error("%s: no curl multi handle", __func__);
        abort();
    }
    while (rc > 0)                     /* bounded: every turn checks the deadline */
        rc = race_turn(r);
    deadline = x->res->text == NULL && x->time_up;
    while (r->nlive > 0)
        if (!race_cancel(r, r->live[r->nlive - 1], deadline))
            rc = -1;
    for (int i = 0; i < x->in->chain.n; i++)
        if (r->steps[i].state == STEP_WAITING && !race_step_drop(r, &r->steps[i], STEP_DONE))
            rc = -1;
    provider_multi_put(r->multi);
    return rc;
}
