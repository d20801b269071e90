/* enrich_stmts.c: the SQL of enrichment (cache, breaker, records, prompt versions, user keys, images) in one table. */
#include "enrich/enrich_int.h"

#define RECORD_COLUMNS                                                      \
    "outcome = $2, provider = $3, model = $4, "                             \
    "attempts = $5::jsonb, latency_ms = $6::int, tokens_in = $7::int, "     \
    "tokens_out = $8::int, cost_usd = $9::numeric, cached = $10::boolean, " \
    "prompt_version = $11::int, result = $12::jsonb, error = $13, "         \
    "finished_at = now()"

/* An image's object: id, bucket, name, blob, size, type, ETag (the
 * metadata is its owner's to edit: a size that is no number is NULL,
 * never an error). */
#define IMAGE_COLUMNS                                                       \
    "o.id, o.bucket_id, o.name, o.blob_id, case when o.metadata->>'size' "  \
    "~ '^[0-9]{1,15}$' then (o.metadata->>'size')::bigint end, "            \
    "o.metadata->>'mimetype', o.metadata->>'eTag'"

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
    /* sql/functions/quota.sql; $1 user, $2 API key or NULL, $3 resource,
     * $4 amount */
    [ST_QUOTA_RESERVE] = {"enrich_quota_reserve",
        "select reservation_id, quota, remaining, window_s, reset_s "
        "from promptd.quota_reserve($1::uuid, $2::uuid, $3, $4::bigint)"},
    [ST_QUOTA_SETTLE] = {"enrich_quota_settle",
        "select promptd.quota_settle($1::uuid, $2::bigint)"},
    [ST_QUOTA_RELEASE] = {"enrich_quota_release",
        "select promptd.quota_release($1::uuid)"},
    /* an image, as the caller (RLS on storage.objects): by id, or $1
     * bucket and $2 name */
    [ST_IMAGE_BY_ID] = {"enrich_image_by_id",
        "select " IMAGE_COLUMNS " from storage.objects o where o.id = $1::uuid"},
    [ST_IMAGE_BY_PATH] = {"enrich_image_by_path",
        "select " IMAGE_COLUMNS " from storage.objects o "
        "where o.bucket_id = $1 and o.name = $2"},
    {NULL, NULL},
};
