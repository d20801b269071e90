/* enrich_run.c: one enrichment run: the provider chain, the circuit breaker calls, retries with backoff, cost, streaming and scores. */
#include "enrich/enrich_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/json.h"
#include "core/log.h"
#include "crypto/random.h"
#include "enrich/provider.h"

const char *enrich_chain(const cJSON *providers, chain_t *out)
{
    const enrich_settings_t *cfg = enrich_settings();
    const cJSON *it;
    strbuf_t spec;
    arena_t *a;
    const char *why;

    if (cfg == NULL)
        return "cannot be served: the enrichment configuration is invalid";
    if (providers == NULL) {
        *out = cfg->chain;
        for (int i = 0; i < out->n; i++)
            if (out->links[i].kind == PROVIDER_LOCAL)
                return NULL;
        if (out->n < SETTINGS_MAX_CHAIN) {
            memset(&out->links[out->n], 0, sizeof(chain_link_t));
            out->links[out->n].kind = PROVIDER_LOCAL;
            strcpy(out->links[out->n].name, "local");
            strcpy(out->links[out->n].model, ENGINE_VERSION);
            out->n++;
        }
        return NULL;
    }
    a = arena_create(1024);
    strbuf_init(&spec, a, 256);
    cJSON_ArrayForEach(it, providers) {
        if (strchr(it->valuestring, ',')) {
            arena_destroy(a);
            return "an entry with a comma (give one provider per entry)";
        }
        if (spec.len)
            strbuf_putc(&spec, ',');
        strbuf_puts(&spec, it->valuestring);
    }
    why = settings_chain_parse(spec.ptr, out);
    arena_destroy(a);
    for (int i = 0; why == NULL && i < out->n; i++)
        if (out->links[i].kind != PROVIDER_LOCAL && !settings_model_offered(out->links[i].model))
            why = "a model this server does not offer (PROMPTD_ENRICH_MODELS)";
    return why;
}

/* Instructions for a remote model; the prompt itself is the user message. */
static char *enrich_system_prompt(arena_t *a, const enrich_input_t *in)
{
    static const char *const mode_text[ENGINE_MODE_COUNT] = {
        [ENGINE_IMPROVE] = "Apply every principle the prompt is missing.",
        [ENGINE_STRUCTURE] = "Reorganise it into clear sections (task, context, "
            "constraints, output format) with delimiters around supplied material; "
            "add little new wording.",
        [ENGINE_CLARIFY] = "Resolve vague wording; where an essential detail is "
            "missing, insert a marked question.",
        [ENGINE_EXPAND] = "Add context, audience, output format and example slots.",
        [ENGINE_CONCISE] = "Remove filler while keeping every constraint.",
    };
    strbuf_t sb;

    strbuf_init(&sb, a, 2048);
    strbuf_puts(&sb,
        "You are an expert prompt engineer. Rewrite the prompt the user sends "
        "so that a language model will perform the task better: state the task "
        "clearly; give the needed context and audience; make constraints, output "
        "format and length explicit; add examples where they help; put delimiters "
        "around supplied material; give steps for complex tasks; say what to do "
        "rather than what not to do. Keep every number, name, quoted string, code "
        "block and {{variable}} exactly as written. Never invent facts: where "
        "something essential is missing, insert a placeholder such as "
        "[[Add: who is the audience?]]. Reply with the rewritten prompt only, "
        "without any preamble or commentary.\nMode: ");
    strbuf_puts(&sb, engine_mode_name(in->mode));
    strbuf_puts(&sb, ". ");
    strbuf_puts(&sb, mode_text[in->mode]);
    if (in->goal) {
        strbuf_puts(&sb, "\nThe user's goal: ");
        strbuf_puts(&sb, in->goal);
    }
    if (in->target_model) {
        strbuf_puts(&sb, "\nThe prompt will be sent to: ");
        strbuf_puts(&sb, in->target_model);
    }
    return sb.ptr;
}

static void enrich_event(run_t *x, const char *name, cJSON *obj)
{
    if (x->in->on_event)
        x->in->on_event(x->in->ctx, name, json_print(x->d->arena, obj));
    cJSON_Delete(obj);
}

static void enrich_delta(void *ctx, const char *text, size_t len)
{
    run_t *x = ctx;
    cJSON *o = cJSON_CreateObject();

    cJSON_AddStringToObject(o, "text", arena_strndup(x->d->arena, text, len));
    x->streamed_any = true;
    enrich_event(x, "delta", o);
}

/* Send text as deltas of about 64 bytes, cut after white space where
 * possible and never inside a UTF-8 sequence. */
void enrich_stream_text(run_t *x, const char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        size_t end = i + 64 < len ? i + 64 : len, cut = end;

        if (end < len) {
            while (cut > i + 16 && s[cut - 1] != ' ' && s[cut - 1] != '\n')
                cut--;
            if (cut == i + 16)
                cut = end;
            while (cut < len && ((unsigned char)s[cut] & 0xC0) == 0x80)
                cut++;
        }
        enrich_delta(x, s + i, cut - i);
        i = cut;
    }
}

cJSON *enrich_attempt(run_t *x, const chain_link_t *l, int n,
                      const char *outcome, double ms)
{
    cJSON *a = cJSON_CreateObject();

    cJSON_AddStringToObject(a, "provider", l->name);
    cJSON_AddStringToObject(a, "model", l->model);
    if (n > 0)
        cJSON_AddNumberToObject(a, "attempt", n);
    cJSON_AddStringToObject(a, "outcome", outcome);
    cJSON_AddNumberToObject(a, "latency_ms", (double)lround(ms));
    cJSON_AddItemToArray(x->res->attempts, a);
    return a;
}

void enrich_suggestions(run_t *x, const char **s, int n)
{
    for (int i = 0; i < n; i++) {
        const cJSON *it;
        bool dup = false;

        cJSON_ArrayForEach(it, x->res->suggestions)
            if (strcmp(it->valuestring, s[i]) == 0)
                dup = true;
        if (!dup)
            cJSON_AddItemToArray(x->res->suggestions, cJSON_CreateString(s[i]));
    }
}

static bool enrich_run_local(run_t *x, const chain_link_t *l)
{
    engine_opts_t o = {x->in->mode, x->in->goal, x->in->target_model};
    engine_result_t er;
    double t0 = clock_now();

    if (engine_enrich(x->d->arena, x->norm, x->norm_len, &o, &er) != 0) {
        enrich_attempt(x, l, 1, "invalid", 1000.0 * (clock_now() - t0));
        return false;
    }
    enrich_attempt(x, l, 1, "ok", 1000.0 * (clock_now() - t0));
    x->res->text = er.text;
    x->res->provider = l->name;
    x->res->model = l->model;
    x->res->tokens_in = (long)(x->norm_len + 3) / 4;
    x->res->tokens_out = (long)(er.len + 3) / 4;
    x->res->cost_usd = 0;
    enrich_suggestions(x, er.suggestions, er.nsuggestions);
    if (x->in->on_event)
        enrich_stream_text(x, er.text, er.len);
    return true;
}

/* Breaker bookkeeping (unscoped).  allow: "call", "probe" or "skip". */
static const char *enrich_breaker_allow(run_t *x, const chain_link_t *l)
{
    char cool[24];
    const char *v[2] = {l->name, cool};
    PGresult *pr;

    snprintf(cool, sizeof cool, "%ld", x->cfg->breaker_cooldown_s);
    pr = db_exec_autocommit(x->d, &enrich_stmts[ST_BREAKER_ALLOW], 2, v);
    return pr && PQntuples(pr) == 1 ? arena_strdup(x->d->arena, PQgetvalue(pr, 0, 0))
                                     : NULL;
}

static bool enrich_breaker_report(run_t *x, const chain_link_t *l, bool ok)
{
    char thr[24];
    const char *v[3] = {l->name, ok ? "true" : "false", thr};

    snprintf(thr, sizeof thr, "%ld", x->cfg->breaker_threshold);
    return db_exec_autocommit(x->d, &enrich_stmts[ST_BREAKER_REPORT], 3, v) != NULL;
}

/* A step that failed in a way that says nothing about the provider's
 * health: report nothing, but hand back the half-open probe if this step
 * was it, so the next caller probes at once. */
static bool enrich_breaker_neutral(run_t *x, const chain_link_t *l, bool probe)
{
    const char *v[1] = {l->name};

    return !probe || db_exec_autocommit(x->d, &enrich_stmts[ST_BREAKER_RELEASE], 1, v) != NULL;
}

/* The jittered exponential backoff before retry number n (1-based), or the
 * provider's Retry-After; -1 when Retry-After asks for longer than the cap
 * (give up on this provider for now). */
static long enrich_backoff_ms(const enrich_settings_t *cfg, int n, long retry_after)
{
    if (retry_after >= 0)
        return retry_after <= cfg->backoff_max_ms ? retry_after : -1;
    return clock_backoff_ms(cfg->backoff_ms, cfg->backoff_max_ms, n);
}

/* The key for link l: the user's own, else the server's (*source says
 * whose), or NULL. */
static const char *enrich_remote_key(run_t *x, const chain_link_t *l,
                                     const char **source)
{
    const enrich_settings_t *cfg = x->cfg;
    const char *key;

    key = l->kind == PROVIDER_ANTHROPIC ? x->in->anthropic_key : x->in->openai_key;
    *source = "user";
    if (key == NULL) {
        key = l->kind == PROVIDER_ANTHROPIC ? cfg->anthropic_api_key : cfg->openai_api_key;
        *source = "server";
    }
    return key;
}

static void enrich_call_init(run_t *x, const chain_link_t *l, const char *base,
                             const char *key, provider_call_t *call)
{
    const enrich_settings_t *cfg = x->cfg;

    memset(call, 0, sizeof *call);
    call->link = l;
    call->base_url = base;
    call->origin = OUTBOUND_OPERATOR_URL;   /* PROMPTD_*_BASE_URL */
    call->api_key = key;
    call->system = enrich_system_prompt(x->d->arena, x->in);
    call->user = x->norm;
    call->max_tokens = cfg->max_tokens;
    call->timeout_ms = cfg->timeout_ms;
    call->connect_timeout_ms = cfg->connect_timeout_ms;
    call->on_delta = x->in->on_event ? enrich_delta : NULL;
    call->ctx = x;
}

/* A valid answer becomes the result: text, model, tokens (estimated when
 * the provider reports none) and their cost from the price table. */
static void enrich_answered(run_t *x, const chain_link_t *l,
                            const provider_call_t *call, const provider_answer_t *ans)
{
    const price_t *p = settings_price(ans->model);

    x->res->text = ans->text;
    x->res->provider = l->name;
    x->res->model = ans->model;
    x->res->tokens_in = ans->tokens_in >= 0 ? ans->tokens_in
        : (long)(strlen(call->system) + x->norm_len + 3) / 4;
    x->res->tokens_out = ans->tokens_out >= 0 ? ans->tokens_out
        : (long)(ans->len + 3) / 4;
    x->res->cost_usd = p ? ((double)x->res->tokens_in * p->in_per_m +
                            (double)x->res->tokens_out * p->out_per_m) / 1e6
                         : 0;
}

/* The client saw part of an answer that failed: say it is withdrawn. */
static void enrich_withdraw(run_t *x, const chain_link_t *l, enum provider_outcome o)
{
    cJSON *ev = cJSON_CreateObject();

    cJSON_AddStringToObject(ev, "from", l->name);
    cJSON_AddStringToObject(ev, "reason", provider_outcome_name(o));
    cJSON_AddTrueToObject(ev, "discard");
    enrich_event(x, "fallback", ev);
}

/* The breaker counts providers that failed a whole step (every retry),
 * not single attempts: a provider failing some calls at random is
 * served by the retries; one failing them all is skipped.  It is shared
 * by every tenant, so it counts only what says the provider is unwell
 * (provider_breaker_counts: transport, timeout, 5xx, 429) and only on
 * the server's key: a bad answer to one user's prompt, or a user's own
 * key refused or rate limited, must not switch the provider off for
 * everyone.  False on a database error. */
static bool enrich_step_failed(run_t *x, const chain_link_t *l, const char *source,
                               enum provider_outcome last, bool probe)
{
    if (strcmp(source, "server") == 0 && provider_breaker_counts(last))
        return enrich_breaker_report(x, l, false);
    return enrich_breaker_neutral(x, l, probe);
}

/* One attempt's entry in attempts[]: outcome, latency, whose key, HTTP
 * status, detail, probe. */
static cJSON *enrich_remote_attempt(run_t *x, const chain_link_t *l, int n,
                                    enum provider_outcome o, double t0,
                                    const char *source, const provider_answer_t *ans,
                                    const char *detail, bool probe)
{
    cJSON *att = enrich_attempt(x, l, n, provider_outcome_name(o),
                                1000.0 * (clock_now() - t0));

    cJSON_AddStringToObject(att, "key", source);
    if (ans->http_status)
        cJSON_AddNumberToObject(att, "http_status", ans->http_status);
    if (detail)
        cJSON_AddStringToObject(att, "detail", detail);
    if (probe)
        cJSON_AddTrueToObject(att, "probe");
    return att;
}

/* Try one remote link with retries.  1 answered, 0 failed (next link),
 * -1 database error. */
static int enrich_run_remote(run_t *x, const chain_link_t *l)
{
    const enrich_settings_t *cfg = x->cfg;
    const char *allow, *key, *source, *base;
    provider_call_t call;
    enum provider_outcome last = PROVIDER_CLIENT;
    int attempts;
    bool probe;

    base = l->kind == PROVIDER_ANTHROPIC ? cfg->anthropic_base_url : cfg->openai_base_url;
    key = enrich_remote_key(x, l, &source);
    if (key == NULL && (strcmp(base, "https://api.openai.com/v1") == 0 ||
                        strcmp(base, "https://api.anthropic.com") == 0)) {
        enrich_attempt(x, l, 0, "not_configured", 0);
        return 0;
    }
    if ((allow = enrich_breaker_allow(x, l)) == NULL)
        return -1;
    if (strcmp(allow, "skip") == 0) {
        enrich_attempt(x, l, 0, "breaker_open", 0);
        return 0;
    }
    enrich_call_init(x, l, base, key, &call);
    probe = strcmp(allow, "probe") == 0;
    attempts = probe ? 1 : (int)cfg->retries + 1;
    for (int n = 1; n <= attempts; n++) {
        provider_answer_t ans;
        double t0 = clock_now();
        enum provider_outcome o;
        const char *detail = NULL;
        cJSON *att;
        long wait;

        x->streamed_any = false;
        o = provider_call(x->d->arena, &call, &ans);
        detail = ans.detail;
        if (o == PROVIDER_OK)
            o = provider_validate(x->norm, ans.text, &detail);
        att = enrich_remote_attempt(x, l, n, o, t0, source, &ans, detail, probe);
        last = o;
        if (o == PROVIDER_OK) {
            if (!enrich_breaker_report(x, l, true))
                return -1;
            enrich_answered(x, l, &call, &ans);
            return 1;
        }
        log_warn("%s: %s %s attempt %d: %s (%s)", __func__, l->name, l->model, n,
                 provider_outcome_name(o), detail ? detail : "");
        if (x->streamed_any) {
            enrich_withdraw(x, l, o);
            break;
        }
        if (!provider_retryable(o) || n == attempts)
            break;
        if ((wait = enrich_backoff_ms(cfg, n, ans.retry_after_ms)) < 0) {
            cJSON_DeleteItemFromObjectCaseSensitive(att, "detail");
            cJSON_AddStringToObject(att, "detail", "Retry-After exceeds the retry cap");
            break;
        }
        cJSON_AddNumberToObject(att, "retry_in_ms", (double)wait);
        clock_sleep_ms(wait);
    }
    return enrich_step_failed(x, l, source, last, probe) ? 0 : -1;
}

bool enrich_run(db_tx_t *d, const enrich_input_t *in, enrich_result_t *res)
{
    run_t x = {d, in, res, enrich_settings(), NULL, 0, false};
    double t0 = clock_now();

    memset(res, 0, sizeof(*res));
    if (in->id)
        snprintf(res->id, sizeof res->id, "%s", in->id);
    else
        random_uuid(res->id);
    res->attempts = json_own(d->arena, cJSON_CreateArray());
    res->suggestions = json_own(d->arena, cJSON_CreateArray());
    x.norm = enrich_normalise(d->arena, in->prompt, in->len, &x.norm_len);
    if (x.cfg == NULL) {
        res->error = "Enrichment is not configured on this server.";
        return true;
    }
    if (in->on_event) {
        cJSON *ev = cJSON_CreateObject(), *pv = cJSON_AddArrayToObject(ev, "providers");

        cJSON_AddStringToObject(ev, "id", res->id);
        cJSON_AddStringToObject(ev, "mode", engine_mode_name(in->mode));
        for (int i = 0; i < in->chain.n; i++)
            cJSON_AddItemToArray(pv, cJSON_CreateString(in->chain.links[i].name));
        enrich_event(&x, "start", ev);
    }
    for (int i = 0; i < in->chain.n && !res->text; i++) {
        const chain_link_t *l = &in->chain.links[i];
        const char *key = enrich_cache_key(&x, l);
        int rc = enrich_cache_get(&x, l, key);

        if (rc < 0)
            return false;
        if (rc > 0)
            break;
        if (l->kind == PROVIDER_LOCAL) {
            enrich_run_local(&x, l);
        } else if ((rc = enrich_run_remote(&x, l)) < 0) {
            return false;
        }
    }
    res->latency_ms = lround(1000.0 * (clock_now() - t0));
    if (score_prompt(d->arena, x.norm, x.norm_len, &res->before) != 0)
        memset(&res->before, 0, sizeof res->before);
    if (res->text == NULL) {
        res->error = "Every provider failed; see attempts.";
        return true;
    }
    res->ok = true;
    if (score_prompt(d->arena, res->text, strlen(res->text), &res->after) != 0)
        memset(&res->after, 0, sizeof res->after);
    enrich_suggestions(&x, res->after.suggestions, res->after.nsuggestions);
    return true;
}
