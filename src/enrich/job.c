/* job.c: the "enrich" job: run an async enrichment queued by POST /api/v1/enrich and complete its record. */
#include "enrich/job.h"

#include <string.h>

#include "core/json.h"
#include "core/str.h"
#include "enrich/enrich.h"

static const char *job_string(const cJSON *p, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* payload {enrichment_id, user_id, prompt, mode, goal?, target_model?,
 * providers?, no_cache?, prompt_id?, images?: [{id, bucket, path, mimetype,
 * size, sha256}], quota?: {enrich?, tokens?}}.  A database failure fails the job
 * (retried with backoff); every provider failing is a completed job whose
 * record says failed. */
int enrich_job_pooled(job_t *j, db_pool_t *pool)
{
    arena_t *a = arena_create(16384);
    db_tx_t d = {.arena = a, .conn = pool ? NULL : j->conn, .pool = pool};
    enrich_input_t in;
    enrich_result_t res;
    const char *id = job_string(j->payload, "enrichment_id");
    const char *mode = job_string(j->payload, "mode");
    const char *why;
    int rc = -1, st;

    memset(&in, 0, sizeof in);
    in.user_id = job_string(j->payload, "user_id");
    in.prompt = job_string(j->payload, "prompt");
    in.goal = job_string(j->payload, "goal");
    in.target_model = job_string(j->payload, "target_model");
    in.prompt_id = job_string(j->payload, "prompt_id");
    in.no_cache = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j->payload, "no_cache"));
    enrich_quota_read(a, j->payload, &in);
    in.id = id;
    db_tx_as_user(&d, in.user_id);
    if (id == NULL || !uuid_valid(id) || in.user_id == NULL || !uuid_valid(in.user_id) ||
        in.prompt == NULL || mode == NULL || engine_mode_parse(mode, &in.mode) != 0 ||
        !enrich_images_read(a, j->payload, &in)) {
        registry_fail(j, "enrich: malformed payload");
        j->retry_after_ms = 3600000;
        goto out;
    }
    in.len = strlen(in.prompt);
    if ((why = enrich_chain(cJSON_GetObjectItemCaseSensitive(j->payload, "providers"),
                            &in.chain)) != NULL) {
        registry_fail(j, "enrich: providers %s", why);
        goto out;
    }
    if ((st = enrich_mark_running(&d, id)) < 0 || !db_tx_commit(&d))
        goto db_fail;
    if (st == 0) {            /* finished by an earlier attempt */
        rc = 0;
        goto out;
    }
    if (!enrich_user_keys(&d, &in) || !enrich_run(&d, &in, &res))
        goto db_fail;
    memcpy(res.id, id, 37);
    if (enrich_finish(&d, &in, &res) < 0)
        goto db_fail;
    j->result = cJSON_CreateObject();
    cJSON_AddStringToObject(j->result, "enrichment_id", id);
    cJSON_AddStringToObject(j->result, "outcome", res.ok ? "success" : "failed");
    rc = 0;
    goto out;
db_fail:
    registry_fail(j, "enrich: database: %s", d.detail ? d.detail : "failed");
    db_tx_rollback(&d);
out:
    arena_destroy(a);
    return rc;
}

int enrich_job(job_t *j)
{
    return enrich_job_pooled(j, NULL);
}

const job_handler_t enrich_job_handlers[] = {
    { "enrich", enrich_job },
    { NULL, NULL }
};
