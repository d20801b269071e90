/* handoff.c: a synchronous enrichment handed from a worker to the gateway: the pending record, the per-user cap, taking it up, sweeping the interrupted. */
#include "enrich/handoff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/str.h"
#include "enrich/enrich_int.h"

enum { H_LOCK, H_COUNT, H_RECORD };

/* The caller's enrichments in flight: $1 the window in seconds. */
#define INFLIGHT_COUNT_SQL                                                   \
    "select count(*) from public.enrichments where user_id = auth.uid() "  \
    "and status in ('pending', 'running') "                                 \
    "and created_at > now() - make_interval(secs => $1::int)"

const db_stmt_t enrich_handoff_stmts[] = {
    /* held to the end of the transaction: one user's requests count one
     * after another.  A statement of its own: the count must be read by a
     * later statement, whose snapshot sees what the lock waited for */
    [H_LOCK] = {"enrich_inflight_lock",
        "select pg_advisory_xact_lock(hashtextextended('promptd.enrich.inflight.' "
        "|| auth.uid()::text, 0))"},
    [H_COUNT] = {"enrich_inflight_count", INFLIGHT_COUNT_SQL},
    /* $1 window, $2 cap, $3 id, $4 input_hash, $5 input, $6 mode,
     * $7 options, $8 prompt_id -> (in flight before, inserted 0/1) */
    [H_RECORD] = {"enrich_handoff_record",
        "with n as (" INFLIGHT_COUNT_SQL "), ins as ("
        "insert into public.enrichments (id, input_hash, input, mode, options, "
        "status, async, prompt_id) select $3, $4, $5, $6, $7::jsonb, 'pending', "
        "false, $8::uuid from n where n.count < $2::int returning 1) "
        "select n.count, (select count(*) from ins) from n"},
    {NULL, NULL},
};

/* The gateway's statements (service role, unscoped). */
static const db_stmt_t take_stmt = {"enrich_handoff_take",
    "select * from promptd.enrich_handoff_take($1)"};
/* Both give back the quota holds the records carried (options.quota). */
#define RELEASE_HOLDS(rel)                                                  \
    "select count(*) from " rel " r, lateral (select "                     \
    "promptd.quota_release((r.options->'quota'->>'enrich')::uuid), "       \
    "promptd.quota_release((r.options->'quota'->>'tokens')::uuid)) q"
static const db_stmt_t drop_stmt = {"enrich_handoff_drop",
    "with d as (delete from public.enrichments where id = $1 and status = 'pending' "
    "and not async returning options) " RELEASE_HOLDS("d")};
static const db_stmt_t sweep_stmt = {"enrich_handoff_sweep",
    "with s as (update public.enrichments set status = 'failed', outcome = 'failed', "
    "error = 'The enrichment was interrupted; send it again.', finished_at = now() "
    "where status in ('pending', 'running') and not async "
    "and created_at < now() - make_interval(secs => $1::int) returning options) "
    RELEASE_HOLDS("s")};

int enrich_handoff_needed(db_tx_t *d, const enrich_input_t *in)
{
    enrich_input_t quiet = *in;
    enrich_result_t scratch;
    run_t x = {.d = d, .in = &quiet, .res = &scratch, .cfg = enrich_settings()};
    const chain_link_t *first = &in->chain.links[0];

    if (in->chain.n == 0 || x.cfg == NULL || first->kind == PROVIDER_LOCAL)
        return 0;
    quiet.on_event = NULL;
    memset(&scratch, 0, sizeof scratch);
    scratch.attempts = json_own(d->arena, cJSON_CreateArray());
    scratch.suggestions = json_own(d->arena, cJSON_CreateArray());
    x.norm = enrich_normalise(d->arena, in->prompt, in->len, &x.norm_len);
    switch (enrich_cache_get(&x, first, enrich_cache_key(&x, first))) {
    case 1:
        return 0;
    case 0:
        return 1;
    default:
        return -1;
    }
}

long enrich_inflight(db_tx_t *d, long window_s)
{
    char w[24];
    const char *v[1] = {w};
    PGresult *res;

    snprintf(w, sizeof w, "%ld", window_s);
    if (db_exec(d, &enrich_handoff_stmts[H_LOCK], 0, NULL) == NULL ||
        (res = db_exec(d, &enrich_handoff_stmts[H_COUNT], 1, v)) == NULL)
        return -1;
    return PQntuples(res) == 1 ? strtol(PQgetvalue(res, 0, 0), NULL, 10) : 0;
}

int enrich_handoff_record(db_tx_t *d, const enrich_input_t *in, const char *id,
                          bool stream, long window_s, long cap, long *inflight)
{
    cJSON *o = json_own(d->arena, cJSON_Parse(enrich_options_json(d->arena, in)));
    char w[24], c[24];
    const char *v[8];
    PGresult *res;

    if (o == NULL)
        return -1;
    if (stream)
        cJSON_AddTrueToObject(o, "stream");
    snprintf(w, sizeof w, "%ld", window_s);
    snprintf(c, sizeof c, "%ld", cap);
    v[0] = w;
    v[1] = c;
    v[2] = id;
    v[3] = enrich_input_hash(d->arena, in->prompt, in->len);
    v[4] = in->prompt;
    v[5] = engine_mode_name(in->mode);
    v[6] = json_print(d->arena, o);
    v[7] = in->prompt_id;
    if (db_exec(d, &enrich_handoff_stmts[H_LOCK], 0, NULL) == NULL ||
        (res = db_exec(d, &enrich_handoff_stmts[H_RECORD], 8, v)) == NULL ||
        PQntuples(res) != 1)
        return -1;
    *inflight = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    return strcmp(PQgetvalue(res, 0, 1), "1") == 0 ? 1 : 0;
}

static const char *opt_string(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The chain stored in options.providers ("name:model"; the local engine
 * as "local:<version>", which the parser takes as "local"). */
static bool take_chain(arena_t *a, const cJSON *providers, chain_t *out)
{
    const cJSON *it;
    strbuf_t spec;

    strbuf_init(&spec, a, 256);
    cJSON_ArrayForEach(it, providers) {
        if (!cJSON_IsString(it))
            return false;
        if (spec.len)
            strbuf_putc(&spec, ',');
        strbuf_puts(&spec, strncmp(it->valuestring, "local:", 6) == 0 ? "local"
                                                                      : it->valuestring);
    }
    return spec.len > 0 && settings_chain_parse(spec.ptr, out) == NULL;
}

int enrich_handoff_take(db_tx_t *d, const char *id, enrich_input_t *in, bool *stream)
{
    const char *v[1] = {id};
    PGresult *res = db_exec_unscoped(d, &take_stmt, 1, v);
    cJSON *o;

    if (res == NULL)
        return -1;
    if (PQntuples(res) == 0)
        return 0;
    memset(in, 0, sizeof *in);
    in->user_id = arena_strdup(d->arena, PQgetvalue(res, 0, 0));
    in->prompt = arena_strdup(d->arena, PQgetvalue(res, 0, 1));
    in->len = strlen(in->prompt);
    o = json_own(d->arena, cJSON_Parse(PQgetvalue(res, 0, 3)));
    in->prompt_id = db_value(res, 0, 4) ? arena_strdup(d->arena, db_value(res, 0, 4)) : NULL;
    db_tx_as_user(d, in->user_id);
    if (o == NULL || engine_mode_parse(PQgetvalue(res, 0, 2), &in->mode) != 0 ||
        !take_chain(d->arena, cJSON_GetObjectItemCaseSensitive(o, "providers"), &in->chain) ||
        !enrich_images_read(d->arena, o, in)) {
        d->sqlstate = "22023";
        d->detail = "the pending record's options are malformed";
        return -1;
    }
    in->goal = opt_string(o, "goal");
    in->target_model = opt_string(o, "target_model");
    in->no_cache = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "no_cache"));
    *stream = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "stream"));
    enrich_quota_read(d->arena, o, in);
    in->first_looked_up = true;   /* by the worker, which handed it off on a miss */
    enrich_user_keys_rows(d, res, 5, in);
    return 1;
}

bool enrich_handoff_drop(db_tx_t *d, const char *id)
{
    const char *v[1] = {id};

    return db_exec_unscoped(d, &drop_stmt, 1, v) != NULL;
}

long enrich_handoff_sweep(db_tx_t *d, long older_than_s)
{
    char s[24];
    const char *v[1] = {s};
    PGresult *res;

    snprintf(s, sizeof s, "%ld", older_than_s);
    if ((res = db_exec_unscoped(d, &sweep_stmt, 1, v)) == NULL || PQntuples(res) != 1)
        return -1;
    return strtol(PQgetvalue(res, 0, 0), NULL, 10);
}
