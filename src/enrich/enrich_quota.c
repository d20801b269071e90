/* enrich_quota.c: an enrichment's quota holds: enrich_per_day and tokens_per_month reserved before the run, settled with what it spent, or released when it failed. */
#include <stdio.h>
#include <stdlib.h>

#include "enrich/enrich_int.h"

/* The tokens a run may be billed: the reply's cap, the prompt (about 3
 * bytes a token, rounded up), the system prompt's share and the images
 * (ENRICH_IMAGE_TOKENS each). */
#define QUOTA_SYSTEM_TOKENS 256

static bool chain_has_remote(const chain_t *c)
{
    for (int i = 0; i < c->n; i++)
        if (c->links[i].kind != PROVIDER_LOCAL)
            return true;
    return false;
}

/* One hold of amount on resource; its id (arena) in *id.  NULL-safe q. */
static bool reserve_one(db_tx_t *d, const char *key_id, const char *resource,
                        long long amount, const char **id, enrich_quota_t *q)
{
    char n[24];
    const char *v[4] = {d->user_id, key_id, resource, n};
    PGresult *res;

    snprintf(n, sizeof n, "%lld", amount);
    if ((res = db_exec_app(d, &enrich_stmts[ST_QUOTA_RESERVE], 4, v)) == NULL ||
        PQntuples(res) != 1)
        return false;
    *id = arena_strdup(d->arena, PQgetvalue(res, 0, 0));
    if (q != NULL) {
        q->limited = !PQgetisnull(res, 0, 1);
        q->quota = atoll(PQgetvalue(res, 0, 1));
        q->remaining = atoll(PQgetvalue(res, 0, 2));
        q->window_s = atoll(PQgetvalue(res, 0, 3));
        q->reset_s = atoll(PQgetvalue(res, 0, 4));
    }
    return true;
}

bool enrich_quota_reserve(db_tx_t *d, const char *key_id, enrich_input_t *in,
                          enrich_quota_t *q)
{
    const enrich_settings_t *cfg = enrich_settings();
    long long tokens;

    *q = (enrich_quota_t){0};
    if (!reserve_one(d, key_id, "enrich_per_day", 1, &in->quota_enrich, q))
        return false;
    if (!chain_has_remote(&in->chain))
        return true;
    tokens = (cfg ? cfg->max_tokens : 0) + (long long)(in->len + 2) / 3 + QUOTA_SYSTEM_TOKENS +
             (long long)in->nimages * ENRICH_IMAGE_TOKENS;
    return reserve_one(d, key_id, "tokens_per_month", tokens, &in->quota_tokens, NULL);
}

/* Settle id with actual (>= 0), or release it (actual < 0). */
static bool close_one(db_tx_t *d, const char *id, long long actual, bool in_tx)
{
    char n[24];
    const char *v[2] = {id, n};
    const db_stmt_t *st = &enrich_stmts[actual >= 0 ? ST_QUOTA_SETTLE : ST_QUOTA_RELEASE];
    int nv = actual >= 0 ? 2 : 1;

    if (id == NULL)
        return true;
    snprintf(n, sizeof n, "%lld", actual);
    return (in_tx ? db_exec_app(d, st, nv, v) : db_exec_unscoped(d, st, nv, v)) != NULL;
}

bool enrich_quota_close(db_tx_t *d, const enrich_input_t *in, const enrich_result_t *res,
                        bool in_tx)
{
    long long tokens = res->cached ? 0 : (long long)res->tokens_in + res->tokens_out;

    return close_one(d, in->quota_enrich, res->ok ? 1 : -1, in_tx) &&
           close_one(d, in->quota_tokens, res->ok ? tokens : -1, in_tx);
}
