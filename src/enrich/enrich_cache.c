/* enrich_cache.c: normalised input, its hashes (record input_hash, cache key) and the per-user result cache. */
#include "enrich/enrich_int.h"

#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/json.h"
#include "core/metrics.h"
#include "crypto/hash.h"

#define TAGGED_MAX_PARTS 16

/* Trim surrounding white space, CRLF -> LF: prompts that differ only so
 * share records' hashes and cache entries. */
char *enrich_normalise(arena_t *a, const char *s, size_t len, size_t *out_len)
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

/* SHA-256 hex (from the arena) of n parts, each hashed as a tag byte ("s",
 * or "n" for NULL) then its bytes and their NUL (none for NULL): the byte
 * stream every stored input_hash and cache key was made of. */
static char *tagged_sha256(arena_t *a, const char *const *parts, int n)
{
    hash_part_t hp[2 * TAGGED_MAX_PARTS];
    char *out = arena_alloc(a, HASH_SHA256_HEX);

    for (int i = 0; i < n && i < TAGGED_MAX_PARTS; i++) {
        const char *p = parts[i] ? parts[i] : "";

        hp[2 * i] = (hash_part_t){parts[i] ? "s" : "n", 1};
        hp[2 * i + 1] = (hash_part_t){p, strlen(p) + 1};
    }
    hash_sha256_parts_hex(hp, 2 * (size_t)(n < TAGGED_MAX_PARTS ? n : TAGGED_MAX_PARTS), out);
    return out;
}

char *enrich_input_hash(arena_t *a, const char *prompt, size_t len)
{
    size_t n;
    const char *parts[1] = {enrich_normalise(a, prompt, len, &n)};

    return tagged_sha256(a, parts, 1);
}

/* The cache key: tenant, normalised input, every option, the provider and
 * model that (would have) answered, the engine version, and the images'
 * SHA-256s in order when there are any (a last part only then: the keys
 * of text alone are what they always were). */
char *enrich_cache_key(run_t *x, const chain_link_t *l)
{
    const char *parts[] = {
        ENRICH_CACHE_VERSION, x->in->user_id, x->norm,
        engine_mode_name(x->in->mode), x->in->goal, x->in->target_model,
        l->name, l->model, ENGINE_VERSION, enrich_images_key(x->d->arena, x->in),
    };
    int n = (int)(sizeof parts / sizeof parts[0]);

    return tagged_sha256(x->d->arena, parts, x->in->nimages > 0 ? n : n - 1);
}

/* promptd_enrich_cache_lookups_total{result="hit"|"miss"}. */
static void cache_counted(bool hit)
{
    metrics_counter_add("promptd_enrich_cache_lookups_total",
                        hit ? "result=\"hit\"" : "result=\"miss\"", 1);
}

int enrich_cache_get(run_t *x, const chain_link_t *l, const char *key)
{
    const char *v[1] = {key};
    PGresult *pr;
    cJSON *c, *it;
    const cJSON *t, *sug;
    double t0 = clock_now();

    if (x->in->no_cache || x->cfg->cache_ttl_s == 0)
        return 0;
    if ((pr = db_exec(x->d, &enrich_stmts[ST_CACHE_GET], 1, v)) == NULL)
        return -1;
    c = PQntuples(pr) == 1 ? json_own(x->d->arena, cJSON_Parse(PQgetvalue(pr, 0, 0))) : NULL;
    t = cJSON_GetObjectItemCaseSensitive(c, "enriched");
    cache_counted(cJSON_IsString(t));
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
    enrich_attempt(x, l, 0, "cache_hit", 1000.0 * (clock_now() - t0));
    if (x->in->on_event)
        enrich_stream_text(x, x->res->text, strlen(x->res->text));
    return 1;
}

bool enrich_cache_put(db_tx_t *d, const enrich_input_t *in, enrich_result_t *res)
{
    arena_t *a = d->arena;
    run_t x = {.d = d, .in = in, .res = res, .cfg = enrich_settings()};
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
    if (db_exec(d, &enrich_stmts[ST_CACHE_PUT], 5, v) == NULL)
        return false;
    return true;
}
