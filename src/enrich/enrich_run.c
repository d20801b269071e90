/* enrich_run.c: one enrichment run: the provider chain, the circuit breaker calls, retries with backoff, cost, streaming and scores. */
#include "enrich/enrich_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/json.h"
#include "core/log.h"
#include "core/metrics.h"
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
char *enrich_system_prompt(arena_t *a, const enrich_input_t *in)
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
    if (in->nimages > 0)
        strbuf_printf(&sb, "\nThe user sent %d image%s with the prompt, which will "
                      "go with it: use what %s to make the prompt specific, keep its "
                      "references to %s, and still reply with the rewritten prompt only.",
                      in->nimages, in->nimages == 1 ? "" : "s",
                      in->nimages == 1 ? "it shows" : "they show",
                      in->nimages == 1 ? "it" : "them");
    return sb.ptr;
}

void enrich_event(run_t *x, const char *name, cJSON *obj)
{
    if (x->in->on_event)
        x->in->on_event(x->in->ctx, name, json_print(x->d->arena, obj));
    cJSON_Delete(obj);
}

void enrich_delta(run_t *x, const char *text, size_t len)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddStringToObject(o, "text", arena_strndup(x->d->arena, text, len));
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

/* The attempt in the process's metrics: promptd_enrich_attempts_total by
 * provider and outcome, and the latency of the ones that ran (n > 0). */
static void attempt_metrics(const chain_link_t *l, int n, const char *outcome, double ms)
{
    char labels[96];
    int len;

    if (!metrics_file())
        return;
    len = snprintf(labels, sizeof(labels), "provider=\"%s\"", l->name);
    if (n > 0)
        metrics_observe("promptd_enrich_attempt_duration_seconds", labels, ms / 1000.0);
    snprintf(labels + len, sizeof(labels) - (size_t)len, ",outcome=\"%s\"", outcome);
    metrics_counter_add("promptd_enrich_attempts_total", labels, 1);
}

cJSON *enrich_attempt(run_t *x, const chain_link_t *l, int n,
                      const char *outcome, double ms)
{
    cJSON *a = cJSON_CreateObject();

    attempt_metrics(l, n, outcome, ms);

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

bool enrich_run_local(run_t *x, const chain_link_t *l)
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

bool enrich_run(db_tx_t *d, const enrich_input_t *in, enrich_result_t *res)
{
    run_t x = {.d = d, .in = in, .res = res, .cfg = enrich_settings()};
    double t0 = clock_now();

    memset(res, 0, sizeof(*res));
    if (in->id)
        snprintf(res->id, sizeof res->id, "%s", in->id);
    else
        random_uuid(res->id);
    res->attempts = json_own(d->arena, cJSON_CreateArray());
    res->suggestions = json_own(d->arena, cJSON_CreateArray());
    res->notes = json_own(d->arena, cJSON_CreateArray());
    x.norm = enrich_normalise(d->arena, in->prompt, in->len, &x.norm_len);
    if (x.cfg != NULL)
        x.deadline_ms = clock_now_ms() + x.cfg->deadline_ms;
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
    if (enrich_race(&x) < 0)
        return false;
    res->latency_ms = lround(1000.0 * (clock_now() - t0));
    if (score_prompt(d->arena, x.norm, x.norm_len, &res->before) != 0)
        memset(&res->before, 0, sizeof res->before);
    if (res->text == NULL) {
        res->deadline = x.time_up;
        res->error = x.time_up ? "The enrichment did not finish within its deadline; "
                                 "see attempts."
                               : "Every provider failed; see attempts.";
        return true;
    }
    res->ok = true;
    if (in->nimages > 0 && strcmp(res->provider, "local") == 0)
        cJSON_AddItemToArray(res->notes, cJSON_CreateString(arena_printf(d->arena,
            "%d image%s not read by the local engine, which rewrites the text alone.",
            in->nimages, in->nimages == 1 ? " was" : "s were")));
    if (score_prompt(d->arena, res->text, strlen(res->text), &res->after) != 0)
        memset(&res->after, 0, sizeof res->after);
    enrich_suggestions(&x, res->after.suggestions, res->after.nsuggestions);
    return true;
}

int enrich_failure_status(const enrich_result_t *res)
{
    return res->deadline ? 504 : 502;
}
