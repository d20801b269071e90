/* enrich.c: one enrichment from input to stored record: cache, provider chain with breaker and retries, scores, prompt version. */
#include "enrich/enrich.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "core/config.h"
#include "core/json.h"
#include "core/log.h"
#include "crypto/random.h"
#include "crypto/keyring.h"
#include "crypto/secretbox.h"
#include "enrich/provider.h"

enum {
    ST_CACHE_GET, ST_CACHE_PUT, ST_BREAKER_ALLOW, ST_BREAKER_REPORT,
    ST_RECORD_INSERT, ST_RECORD_FINISH, ST_PROMPT_SAVE, ST_USER_KEYS,
    ST_RECORD_PENDING, ST_RECORD_START, ST_PROMPT_EXISTS, ST_BREAKER_RELEASE,
};

#define RECORD_COLUMNS                                                      \
    "outcome = $2, provider = $3, model = $4, "                             \
    "attempts = $5::jsonb, latency_ms = $6::int, tokens_in = $7::int, "     \
    "tokens_out = $8::int, cost_usd = $9::numeric, cached = $10::boolean, " \
    "prompt_version = $11::int, result = $12::jsonb, error = $13, "         \
    "finished_at = now()"

const db_stmt_t enrich_stmts[] = {
    [ST_CACHE_GET] = {"enrich_cache_get",
        "select result from public.enrich_cache "
        "where user_id = auth.uid() and key = $1 and expires_at > now()"},
    /* also drops the user's expired entries, so the table stays the size
     * of what is live */
    [ST_CACHE_PUT] = {"enrich_cache_put",
        "with expired as (delete from public.enrich_cache "
        "where user_id = auth.uid() and expires_at <= now() and key <> $1) "
        "insert into public.enrich_cache as c (key, provider, model, result, expires_at) "
        "values ($1, $2, $3, $4::jsonb, now() + $5::int * interval '1 second') "
        "on conflict (user_id, key) do update set provider = excluded.provider, "
        "model = excluded.model, result = excluded.result, created_at = now(), "
        "expires_at = excluded.expires_at"},
    [ST_BREAKER_ALLOW] = {"enrich_breaker_allow",
        "select promptd.enrich_breaker_allow($1, $2::int)"},
    [ST_BREAKER_REPORT] = {"enrich_breaker_report",
        "select promptd.enrich_breaker_report($1, $2::boolean, $3::int)"},
    /* $1 id, $2 input_hash, $3 input, $4 mode, $5 options, $6 outcome,
     * $7 provider, $8 model, $9 attempts, $10 latency, $11 tokens in,
     * $12 out, $13 cost, $14 cached, $15 prompt_id, $16 prompt_version,
     * $17 result, $18 error, $19 status, $20 async */
    [ST_RECORD_INSERT] = {"enrich_record_insert",
        "insert into public.enrichments (id, input_hash, input, mode, options, "
        "outcome, provider, model, attempts, latency_ms, tokens_in, tokens_out, "
        "cost_usd, cached, prompt_id, prompt_version, result, error, status, async, "
        "finished_at) values ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, "
        "coalesce($9::jsonb, '[]'), $10::int, $11::int, $12::int, $13::numeric, "
        "$14::boolean, $15::uuid, $16::int, $17::jsonb, $18, $19, $20::boolean, "
        "case when $19 in ('done', 'failed') then now() end)"},
    /* an async record completed by the job; $1 id; only while pending/running */
    [ST_RECORD_FINISH] = {"enrich_record_finish",
        "update public.enrichments set " RECORD_COLUMNS ", "
        "status = case when $2 = 'success' then 'done' else 'failed' end "
        "where id = $1 and status in ('pending', 'running') returning id"},
    [ST_PROMPT_SAVE] = {"enrich_prompt_save",
        "update public.prompts set content = $2 where id = $1::uuid returning version"},
    [ST_USER_KEYS] = {"enrich_user_keys",
        "select id, name, value_enc from public.user_secrets "
        "where user_id = auth.uid() and name in ('openai_api_key', 'anthropic_api_key')"},
    /* $1 id, $2 input_hash, $3 input, $4 mode, $5 options, $6 job id, $7 prompt_id */
    [ST_RECORD_PENDING] = {"enrich_record_pending",
        "insert into public.enrichments (id, input_hash, input, mode, options, "
        "status, async, job_id, prompt_id) values ($1, $2, $3, $4, $5::jsonb, "
        "'pending', true, $6::bigint, $7::uuid)"},
    [ST_RECORD_START] = {"enrich_record_start",
        "update public.enrichments set status = 'running' "
        "where id = $1 and status in ('pending', 'running') returning id"},
    [ST_PROMPT_EXISTS] = {"enrich_prompt_exists",
        "select 1 from public.prompts where id = $1::uuid"},
    [ST_BREAKER_RELEASE] = {"enrich_breaker_release",
        "select promptd.enrich_breaker_release($1)"},
    {NULL, NULL},
};

/* The run's working state. */
typedef struct run {
    edb_t *d;
    const enrich_input_t *in;
    enrich_result_t *res;
    const enrich_settings_t *cfg;
    const char *norm;            /* normalised prompt */
    size_t norm_len;
    bool streamed_any;           /* deltas of the current provider were sent */
} run_t;

void enrich_uuid(char out[37])
{
    unsigned char b[16];

    random_bytes(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
             b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static double enrich_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void enrich_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (ms > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Trim surrounding white space, CRLF -> LF: prompts that differ only so
 * share records' hashes and cache entries. */
static char *enrich_normalise(arena_t *a, const char *s, size_t len, size_t *out_len)
{
    char *o = arena_alloc(a, len + 1);
    size_t n = 0;

    while (len > 0 && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
        s++, len--;
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
                       s[len - 1] == '\r' || s[len - 1] == '\n'))
        len--;
    for (size_t i = 0; i < len; i++)
        if (!(s[i] == '\r' && i + 1 < len && s[i + 1] == '\n'))
            o[n++] = s[i];
    o[n] = '\0';
    *out_len = n;
    return o;
}

/* SHA-256 over NUL-separated parts. */
static char *enrich_sha256(arena_t *a, const char *const *parts, int n)
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    for (int i = 0; i < n; i++) {
        const char *p = parts[i] ? parts[i] : "";

        EVP_DigestUpdate(ctx, parts[i] ? "s" : "n", 1);
        EVP_DigestUpdate(ctx, p, strlen(p) + 1);
    }
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    return hex_encode(a, md, mdlen);
}

char *enrich_input_hash(arena_t *a, const char *prompt, size_t len)
{
    size_t n;
    const char *parts[1] = {enrich_normalise(a, prompt, len, &n)};

    return enrich_sha256(a, parts, 1);
}

/* The cache key: tenant, normalised input, every option, the provider and
 * model that (would have) answered, the engine version. */
static char *enrich_cache_key(run_t *x, const chain_link_t *l)
{
    const char *parts[] = {
        ENRICH_CACHE_VERSION, x->in->user_id, x->norm,
        engine_mode_name(x->in->mode), x->in->goal, x->in->target_model,
        l->name, l->model, ENGINE_VERSION,
    };

    return enrich_sha256(x->d->arena, parts, (int)(sizeof parts / sizeof parts[0]));
}

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
static void enrich_stream_text(run_t *x, const char *s, size_t len)
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

static cJSON *enrich_attempt(run_t *x, const chain_link_t *l, int n,
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

static void enrich_suggestions(run_t *x, const char **s, int n)
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

/* A cached answer for this link?  1 hit (res filled), 0 miss, -1 error. */
static int enrich_cache_get(run_t *x, const chain_link_t *l, const char *key)
{
    const char *v[1] = {key};
    PGresult *pr;
    cJSON *c, *it;
    const cJSON *t, *sug;
    double t0 = enrich_now_ms();

    if (x->in->no_cache || x->cfg->cache_ttl_s == 0)
        return 0;
    if ((pr = edb_scoped(x->d, &enrich_stmts[ST_CACHE_GET], 1, v)) == NULL)
        return -1;
    if (PQntuples(pr) != 1)
        return 0;
    c = json_own(x->d->arena, cJSON_Parse(PQgetvalue(pr, 0, 0)));
    t = cJSON_GetObjectItemCaseSensitive(c, "enriched");
    if (!cJSON_IsString(t))
        return 0;
    x->res->text = t->valuestring;
    x->res->provider = l->name;
    x->res->model = l->model;
    it = cJSON_GetObjectItemCaseSensitive(c, "model");
    if (cJSON_IsString(it))
        x->res->model = it->valuestring;
    sug = cJSON_GetObjectItemCaseSensitive(c, "engine_suggestions");
    cJSON_ArrayForEach(it, sug)
        if (cJSON_IsString(it))
            enrich_suggestions(x, (const char *[]){it->valuestring}, 1);
    x->res->cached = true;
    x->res->tokens_in = x->res->tokens_out = 0;
    x->res->cost_usd = 0;
    enrich_attempt(x, l, 0, "cache_hit", enrich_now_ms() - t0);
    if (x->in->on_event)
        enrich_stream_text(x, x->res->text, strlen(x->res->text));
    return 1;
}

static bool enrich_run_local(run_t *x, const chain_link_t *l)
{
    engine_opts_t o = {x->in->mode, x->in->goal, x->in->target_model};
    engine_result_t er;
    double t0 = enrich_now_ms();

    if (engine_enrich(x->d->arena, x->norm, x->norm_len, &o, &er) != 0) {
        enrich_attempt(x, l, 1, "invalid", enrich_now_ms() - t0);
        return false;
    }
    enrich_attempt(x, l, 1, "ok", enrich_now_ms() - t0);
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
    pr = edb_unscoped(x->d, &enrich_stmts[ST_BREAKER_ALLOW], 2, v);
    return pr && PQntuples(pr) == 1 ? arena_strdup(x->d->arena, PQgetvalue(pr, 0, 0))
                                     : NULL;
}

static bool enrich_breaker_report(run_t *x, const chain_link_t *l, bool ok)
{
    char thr[24];
    const char *v[3] = {l->name, ok ? "true" : "false", thr};

    snprintf(thr, sizeof thr, "%ld", x->cfg->breaker_threshold);
    return edb_unscoped(x->d, &enrich_stmts[ST_BREAKER_REPORT], 3, v) != NULL;
}

/* A step that failed in a way that says nothing about the provider's
 * health: report nothing, but hand back the half-open probe if this step
 * was it, so the next caller probes at once. */
static bool enrich_breaker_neutral(run_t *x, const chain_link_t *l, bool probe)
{
    const char *v[1] = {l->name};

    return !probe || edb_unscoped(x->d, &enrich_stmts[ST_BREAKER_RELEASE], 1, v) != NULL;
}

/* The jittered exponential backoff before retry number n (1-based), or the
 * provider's Retry-After; -1 when Retry-After asks for longer than the cap
 * (give up on this provider for now). */
static long enrich_backoff_ms(const enrich_settings_t *cfg, int n, long retry_after)
{
    unsigned char b[2];
    double base, jitter;

    if (retry_after >= 0)
        return retry_after <= cfg->backoff_max_ms ? retry_after : -1;
    random_bytes(b, sizeof b);
    jitter = 0.5 + (double)((b[0] << 8) | b[1]) / 65535.0;   /* 0.5 .. 1.5 */
    base = (double)cfg->backoff_ms * pow(2.0, n - 1) * jitter;
    return base > (double)cfg->backoff_max_ms ? cfg->backoff_max_ms : (long)base;
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

    base = l->kind == PROVIDER_ANTHROPIC ? cfg->anthropic_base_url : cfg->openai_base_url;
    key = l->kind == PROVIDER_ANTHROPIC ? x->in->anthropic_key : x->in->openai_key;
    source = "user";
    if (key == NULL) {
        key = l->kind == PROVIDER_ANTHROPIC ? cfg->anthropic_api_key : cfg->openai_api_key;
        source = "server";
    }
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
    memset(&call, 0, sizeof call);
    call.link = l;
    call.base_url = base;
    call.origin = OUTBOUND_OPERATOR_URL;   /* PROMPTD_*_BASE_URL */
    call.api_key = key;
    call.system = enrich_system_prompt(x->d->arena, x->in);
    call.user = x->norm;
    call.max_tokens = cfg->max_tokens;
    call.timeout_ms = cfg->timeout_ms;
    call.connect_timeout_ms = cfg->connect_timeout_ms;
    call.on_delta = x->in->on_event ? enrich_delta : NULL;
    call.ctx = x;
    attempts = strcmp(allow, "probe") == 0 ? 1 : (int)cfg->retries + 1;
    for (int n = 1; n <= attempts; n++) {
        provider_answer_t ans;
        double t0 = enrich_now_ms();
        enum provider_outcome o;
        const char *detail = NULL;
        cJSON *att;
        long wait;

        x->streamed_any = false;
        o = provider_call(x->d->arena, &call, &ans);
        detail = ans.detail;
        if (o == PROVIDER_OK)
            o = provider_validate(x->norm, ans.text, &detail);
        att = enrich_attempt(x, l, n, provider_outcome_name(o), enrich_now_ms() - t0);
        cJSON_AddStringToObject(att, "key", source);
        if (ans.http_status)
            cJSON_AddNumberToObject(att, "http_status", ans.http_status);
        if (detail)
            cJSON_AddStringToObject(att, "detail", detail);
        if (strcmp(allow, "probe") == 0)
            cJSON_AddTrueToObject(att, "probe");
        last = o;
        if (o == PROVIDER_OK) {
            if (!enrich_breaker_report(x, l, true))
                return -1;
            const price_t *p = settings_price(ans.model);

            x->res->text = ans.text;
            x->res->provider = l->name;
            x->res->model = ans.model;
            x->res->tokens_in = ans.tokens_in >= 0 ? ans.tokens_in
                : (long)(strlen(call.system) + x->norm_len + 3) / 4;
            x->res->tokens_out = ans.tokens_out >= 0 ? ans.tokens_out
                : (long)(ans.len + 3) / 4;
            x->res->cost_usd = p ? ((double)x->res->tokens_in * p->in_per_m +
                                    (double)x->res->tokens_out * p->out_per_m) / 1e6
                                 : 0;
            return 1;
        }
        log_warn("%s: %s %s attempt %d: %s (%s)", __func__, l->name, l->model, n,
                 provider_outcome_name(o), detail ? detail : "");
        if (x->streamed_any) {
            /* the client saw part of this answer: say it is withdrawn */
            cJSON *ev = cJSON_CreateObject();

            cJSON_AddStringToObject(ev, "from", l->name);
            cJSON_AddStringToObject(ev, "reason", provider_outcome_name(o));
            cJSON_AddTrueToObject(ev, "discard");
            enrich_event(x, "fallback", ev);
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
        enrich_sleep_ms(wait);
    }
    /* The breaker counts providers that failed a whole step (every retry),
     * not single attempts: a provider failing some calls at random is
     * served by the retries; one failing them all is skipped.  It is shared
     * by every tenant, so it counts only what says the provider is unwell
     * (provider_breaker_counts: transport, timeout, 5xx, 429) and only on
     * the server's key: a bad answer to one user's prompt, or a user's own
     * key refused or rate limited, must not switch the provider off for
     * everyone. */
    if (strcmp(source, "server") == 0 && provider_breaker_counts(last)) {
        if (!enrich_breaker_report(x, l, false))
            return -1;
    } else if (!enrich_breaker_neutral(x, l, strcmp(allow, "probe") == 0)) {
        return -1;
    }
    return 0;
}

bool enrich_run(edb_t *d, const enrich_input_t *in, enrich_result_t *res)
{
    run_t x = {d, in, res, enrich_settings(), NULL, 0, false};
    double t0 = enrich_now_ms();

    memset(res, 0, sizeof(*res));
    enrich_uuid(res->id);
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
    res->latency_ms = lround(enrich_now_ms() - t0);
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

/* The score object {total, dimensions}. */
static cJSON *enrich_score_json(arena_t *a, const score_t *s)
{
    strbuf_t sb;

    strbuf_init(&sb, a, 1024);
    score_json_append(&sb, s);
    return cJSON_Parse(sb.ptr);
}

cJSON *enrich_result_json(arena_t *a, const enrich_input_t *in,
                          const enrich_result_t *res)
{
    cJSON *o = json_own(a, cJSON_CreateObject()), *sc, *u;

    cJSON_AddStringToObject(o, "id", res->id);
    cJSON_AddStringToObject(o, "status", res->ok ? "done" : "failed");
    cJSON_AddStringToObject(o, "mode", engine_mode_name(in->mode));
    if (res->ok)
        cJSON_AddStringToObject(o, "enriched", res->text);
    else
        cJSON_AddNullToObject(o, "enriched");
    sc = cJSON_AddObjectToObject(o, "score");
    cJSON_AddItemToObject(sc, "before", enrich_score_json(a, &res->before));
    if (res->ok) {
        cJSON_AddItemToObject(sc, "after", enrich_score_json(a, &res->after));
        cJSON_AddNumberToObject(sc, "delta", res->after.total - res->before.total);
    } else {
        cJSON_AddNullToObject(sc, "after");
    }
    cJSON_AddItemReferenceToObject(o, "suggestions", res->suggestions);
    if (res->ok) {
        cJSON_AddStringToObject(o, "provider", res->provider);
        cJSON_AddStringToObject(o, "model", res->model);
    } else {
        cJSON_AddNullToObject(o, "provider");
        cJSON_AddNullToObject(o, "model");
        cJSON_AddStringToObject(o, "error", res->error ? res->error : "failed");
    }
    cJSON_AddItemReferenceToObject(o, "attempts", res->attempts);
    cJSON_AddBoolToObject(o, "cached", res->cached);
    u = cJSON_AddObjectToObject(o, "usage");
    cJSON_AddNumberToObject(u, "tokens_in", (double)res->tokens_in);
    cJSON_AddNumberToObject(u, "tokens_out", (double)res->tokens_out);
    cJSON_AddNumberToObject(u, "cost_usd", round(res->cost_usd * 1e8) / 1e8);
    cJSON_AddNumberToObject(o, "latency_ms", (double)res->latency_ms);
    if (in->prompt_id && res->prompt_version > 0) {
        cJSON_AddStringToObject(o, "prompt_id", in->prompt_id);
        cJSON_AddNumberToObject(o, "prompt_version", res->prompt_version);
    }
    return o;
}

/* The options object stored with the record. */
static char *enrich_options_json(arena_t *a, const enrich_input_t *in)
{
    cJSON *o = json_own(a, cJSON_CreateObject()), *pv;

    if (in->goal)
        cJSON_AddStringToObject(o, "goal", in->goal);
    if (in->target_model)
        cJSON_AddStringToObject(o, "target_model", in->target_model);
    pv = cJSON_AddArrayToObject(o, "providers");
    for (int i = 0; i < in->chain.n; i++)
        cJSON_AddItemToArray(pv, cJSON_CreateString(arena_printf(a, "%s:%s",
            in->chain.links[i].name, in->chain.links[i].model)));
    if (in->no_cache)
        cJSON_AddTrueToObject(o, "no_cache");
    return json_print(a, o);
}

int enrich_store(edb_t *d, const enrich_input_t *in, enrich_result_t *res,
                 bool update_pending)
{
    arena_t *a = d->arena;
    char lat[24], tin[24], tout[24], cost[40], ver[16];
    const char *result_text;
    PGresult *pr;

    if (res->ok && in->prompt_id) {
        const char *v[2] = {in->prompt_id, res->text};

        if ((pr = edb_scoped(d, &enrich_stmts[ST_PROMPT_SAVE], 2, v)) == NULL)
            return -1;
        if (PQntuples(pr) != 1)
            return 0;
        res->prompt_version = atoi(PQgetvalue(pr, 0, 0));
    }
    if (res->ok && !res->cached && enrich_settings()->cache_ttl_s > 0) {
        run_t x = {d, in, res, enrich_settings(), NULL, 0, false};
        chain_link_t l;
        cJSON *c = json_own(a, cJSON_CreateObject());
        char ttl[24];
        const char *v[5];

        x.norm = enrich_normalise(a, in->prompt, in->len, &x.norm_len);
        memset(&l, 0, sizeof l);
        /* the key names the link that answered: its configured model */
        for (int i = 0; i < in->chain.n; i++)
            if (strcmp(in->chain.links[i].name, res->provider) == 0)
                l = in->chain.links[i];
        cJSON_AddStringToObject(c, "enriched", res->text);
        cJSON_AddStringToObject(c, "model", res->model);
        if (strcmp(res->provider, "local") == 0)
            cJSON_AddItemReferenceToObject(c, "engine_suggestions", res->suggestions);
        snprintf(ttl, sizeof ttl, "%ld", enrich_settings()->cache_ttl_s);
        v[0] = enrich_cache_key(&x, &l);
        v[1] = res->provider;
        v[2] = res->model;
        v[3] = json_print(a, c);
        v[4] = ttl;
        if (edb_scoped(d, &enrich_stmts[ST_CACHE_PUT], 5, v) == NULL)
            return -1;
    }
    snprintf(lat, sizeof lat, "%ld", res->latency_ms);
    snprintf(tin, sizeof tin, "%ld", res->tokens_in);
    snprintf(tout, sizeof tout, "%ld", res->tokens_out);
    snprintf(cost, sizeof cost, "%.8f", res->cost_usd);
    snprintf(ver, sizeof ver, "%d", res->prompt_version);
    result_text = json_print(a, enrich_result_json(a, in, res));
    if (update_pending) {
        const char *v[13] = {
            res->id, res->ok ? "success" : "failed", res->provider, res->model,
            json_print(a, res->attempts), lat, tin, tout, cost,
            res->cached ? "true" : "false", res->prompt_version ? ver : NULL,
            result_text, res->ok ? NULL : res->error,
        };

        if ((pr = edb_scoped(d, &enrich_stmts[ST_RECORD_FINISH], 13, v)) == NULL)
            return -1;
        return 1;
    } else {
        const char *v[20] = {
            res->id, enrich_input_hash(a, in->prompt, in->len),
            arena_strndup(a, in->prompt, in->len), engine_mode_name(in->mode),
            enrich_options_json(a, in), res->ok ? "success" : "failed",
            res->provider, res->model, json_print(a, res->attempts), lat, tin,
            tout, cost, res->cached ? "true" : "false", in->prompt_id,
            res->prompt_version ? ver : NULL, result_text,
            res->ok ? NULL : res->error, res->ok ? "done" : "failed", "false",
        };

        if (edb_scoped(d, &enrich_stmts[ST_RECORD_INSERT], 20, v) == NULL)
            return -1;
    }
    return 1;
}

bool enrich_user_keys(edb_t *d, enrich_input_t *in)
{
    const secretbox_ring_t *ring;
    const char *why = NULL;
    PGresult *pr;
    bool remote = false;

    for (int i = 0; i < in->chain.n; i++)
        remote = remote || in->chain.links[i].kind != PROVIDER_LOCAL;
    if (!remote)
        return true;    /* no key needed: spare the round trip */
    if ((pr = edb_scoped(d, &enrich_stmts[ST_USER_KEYS], 0, NULL)) == NULL)
        return false;
    if (PQntuples(pr) == 0)
        return true;
    if ((ring = keyring_get(&why)) == NULL) {
        log_warn("%s: no usable secrets key ring (%s)", __func__, why ? why : "unset");
        return true;
    }
    for (int i = 0; i < PQntuples(pr); i++) {
        char *aad = arena_printf(d->arena, "user_secrets.value:%s", PQgetvalue(pr, i, 0));
        unsigned char *pt = NULL;
        size_t len = 0;
        enum secretbox_error e = secretbox_decrypt(ring, PQgetvalue(pr, i, 2),
                                                   aad, &pt, &len);

        if (e != SECRETBOX_OK) {
            log_warn("%s: secret %s: %s", __func__, PQgetvalue(pr, i, 0),
                     secretbox_strerror(e));
            continue;
        }
        {
            char *k = arena_strndup(d->arena, (const char *)pt, len);

            k[strcspn(k, "\r\n")] = '\0';
            if (strcmp(PQgetvalue(pr, i, 1), "openai_api_key") == 0)
                in->openai_key = k;
            else
                in->anthropic_key = k;
        }
        secretbox_free(pt, len);
    }
    return true;
}

int enrich_prompt_exists(edb_t *d, const char *prompt_id)
{
    const char *v[1] = {prompt_id};
    PGresult *pr = edb_scoped(d, &enrich_stmts[ST_PROMPT_EXISTS], 1, v);

    return pr == NULL ? -1 : PQntuples(pr) == 1;
}

bool enrich_store_pending(edb_t *d, const enrich_input_t *in, const char *id,
                          long long job_id)
{
    arena_t *a = d->arena;
    const char *v[7] = {
        id, enrich_input_hash(a, in->prompt, in->len),
        arena_strndup(a, in->prompt, in->len), engine_mode_name(in->mode),
        enrich_options_json(a, in), arena_printf(a, "%lld", job_id), in->prompt_id,
    };

    return edb_scoped(d, &enrich_stmts[ST_RECORD_PENDING], 7, v) != NULL;
}

int enrich_mark_running(edb_t *d, const char *id)
{
    const char *v[1] = {id};
    PGresult *pr = edb_scoped(d, &enrich_stmts[ST_RECORD_START], 1, v);

    return pr == NULL ? -1 : PQntuples(pr) == 1;
}
