/* enrich_record.c: the API's answer object and the stored records: enrichments, pending async ones, prompt versions. */
#include "enrich/enrich_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/log.h"
#include "core/str.h"

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
    if (res->notes)
        cJSON_AddItemReferenceToObject(o, "notes", res->notes);
    else
        cJSON_AddArrayToObject(o, "notes");
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

void enrich_quota_json(cJSON *o, const enrich_input_t *in)
{
    cJSON *q;

    if (in->quota_enrich == NULL && in->quota_tokens == NULL)
        return;
    q = cJSON_AddObjectToObject(o, "quota");
    if (in->quota_enrich)
        cJSON_AddStringToObject(q, "enrich", in->quota_enrich);
    if (in->quota_tokens)
        cJSON_AddStringToObject(q, "tokens", in->quota_tokens);
}

void enrich_quota_read(arena_t *a, const cJSON *o, enrich_input_t *in)
{
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(o, "quota");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(q, "enrich");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(q, "tokens");

    in->quota_enrich = cJSON_IsString(e) && uuid_valid(e->valuestring)
        ? arena_strdup(a, e->valuestring) : NULL;
    in->quota_tokens = cJSON_IsString(t) && uuid_valid(t->valuestring)
        ? arena_strdup(a, t->valuestring) : NULL;
}

/* The options object stored with the record. */
char *enrich_options_json(arena_t *a, const enrich_input_t *in)
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
    enrich_images_json(o, in);
    enrich_quota_json(o, in);
    return json_print(a, o);
}

int enrich_store(db_tx_t *d, const enrich_input_t *in, enrich_result_t *res,
                 bool update_pending)
{
    arena_t *a = d->arena;
    char lat[24], tin[24], tout[24], cost[40], ver[16];
    const char *result_text;
    PGresult *pr;

    if (res->ok && in->prompt_id) {
        const char *v[2] = {in->prompt_id, res->text};

        if ((pr = db_exec(d, &enrich_stmts[ST_PROMPT_SAVE], 2, v)) == NULL)
            return -1;
        if (PQntuples(pr) != 1)
            return 0;
        res->prompt_version = atoi(PQgetvalue(pr, 0, 0));
    }
    if (res->ok && !res->cached && enrich_settings()->cache_ttl_s > 0 &&
        !enrich_cache_put(d, in, res))
        return -1;
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

        if ((pr = db_exec(d, &enrich_stmts[ST_RECORD_FINISH], 13, v)) == NULL)
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

        if (db_exec(d, &enrich_stmts[ST_RECORD_INSERT], 20, v) == NULL)
            return -1;
    }
    return 1;
}

int enrich_prompt_exists(db_tx_t *d, const char *prompt_id)
{
    const char *v[1] = {prompt_id};
    PGresult *pr = db_exec(d, &enrich_stmts[ST_PROMPT_EXISTS], 1, v);

    return pr == NULL ? -1 : PQntuples(pr) == 1;
}

bool enrich_store_pending(db_tx_t *d, const enrich_input_t *in, const char *id,
                          long long job_id)
{
    arena_t *a = d->arena;
    const char *v[7] = {
        id, enrich_input_hash(a, in->prompt, in->len),
        arena_strndup(a, in->prompt, in->len), engine_mode_name(in->mode),
        enrich_options_json(a, in), arena_printf(a, "%lld", job_id), in->prompt_id,
    };

    return db_exec(d, &enrich_stmts[ST_RECORD_PENDING], 7, v) != NULL;
}

int enrich_mark_running(db_tx_t *d, const char *id)
{
    const char *v[1] = {id};
    PGresult *pr = db_exec(d, &enrich_stmts[ST_RECORD_START], 1, v);

    return pr == NULL ? -1 : PQntuples(pr) == 1;
}

int enrich_finish(db_tx_t *d, enrich_input_t *in, enrich_result_t *res)
{
    int st = enrich_store(d, in, res, true);

    if (st == 0) {
        db_tx_rollback(d);
        res->ok = false;
        res->error = "The prompt no longer exists.";
        in->prompt_id = NULL;
        if (enrich_store(d, in, res, true) < 0)
            return -1;
    }
    if (st < 0 || !db_tx_commit(d))
        return -1;
    if (!enrich_quota_close(d, in, res, false))
        log_error("%s: quota holds of %s: %s", __func__, res->id, d->detail ? d->detail : "");
    return st;
}
