/* prompts_langfuse.c: the prompt part of Langfuse's public API (/api/public/v2/prompts) in its JSON shapes, over promptd's prompts, versions and labels, for Langfuse's clients holding a promptd API key. */
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "http/dbreply.h"
#include "http/response.h"
#include "prompts/shape.h"
#include "prompts.h"
#include "prompts_langfuse.h"

#define LABELS_MAX 20
#define LIST_LIMIT_DEFAULT 50
#define LIST_LIMIT_MAX 100
#define TEXT_ARRAY(n) "array(select jsonb_array_elements_text($" #n "::jsonb))"

enum { ST_GET, ST_CREATE, ST_LABELS, ST_DELETE, ST_LIST };

/* Every statement acts in the API key's workspace (promptd.default_workspace). */
const db_stmt_t langfuse_stmts[] = {
    [ST_GET] = {"langfuse_get",
        "select promptd.langfuse_prompt(null, $1, $2, $3::int, $4::int)"},
    [ST_CREATE] = {"langfuse_create",
        "select promptd.langfuse_prompt_create(promptd.default_workspace(), $1, $2, $3, $4::jsonb, "
        TEXT_ARRAY(5) ", case when $6::jsonb is null then null else " TEXT_ARRAY(6) " end, "
        "$7, $8::int)"},
    [ST_LABELS] = {"langfuse_labels",
        "select promptd.langfuse_prompt_labels(promptd.default_workspace(), $1, $2::int, "
        TEXT_ARRAY(3) ", $4::int)"},
    [ST_DELETE] = {"langfuse_delete",
        "select promptd.langfuse_prompt_delete(promptd.default_workspace(), $1, $2::int, $3)"},
    [ST_LIST] = {"langfuse_list",
        "select promptd.langfuse_prompt_list(promptd.default_workspace(), $1, $2, $3, $4::int, "
        "$5::int, $6::timestamptz, $7::timestamptz)"},
    {NULL, NULL},
};

static const char *render_max(req_t *r)
{
    return arena_printf(r->arena, "%ld", prompts_settings.render_max_bytes);
}

/* An optional ?version= (a positive integer) or ?label= query parameter
 * checked; a field error otherwise. */
static const char *query_version(req_t *r, const char *name)
{
    const char *v = req_query(r, name);

    if (v != NULL && !prompts_version_valid(v))
        req_field_error(r, name, "must be a positive integer");
    return v;
}

static const char *query_label(req_t *r)
{
    const char *l = req_query(r, "label");

    if (l != NULL && !prompts_label_valid(l))
        req_field_error(r, "label", "is not a label (a-z, 0-9, '.', '_', '-')");
    return l;
}

/* ?label= and ?version=: at most one of them, each checked. */
static void query_label_version(req_t *r, const char **label, const char **version)
{
    *label = query_label(r);
    *version = query_version(r, "version");
    if (*label && *version)
        req_field_error(r, "label", "give label or version, not both");
}

/* The {name} of the path; a prompt name promptd cannot hold is no prompt
 * (404, replied: NULL). */
static const char *name_or_reply(req_t *r, const char *name)
{
    if (prompts_name_valid(name))
        return name;
    resp_problemf(r, 404, "No prompt is named %s.", name);
    return NULL;
}

/* labels (name) of obj: an array of at most LABELS_MAX labels, as JSON
 * text ("[]" when absent). */
static const char *labels_field(req_t *r, const cJSON *obj, const char *name, bool required)
{
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(obj, name), *l;

    if (labels == NULL && !required)
        return "[]";
    if (!cJSON_IsArray(labels) || cJSON_GetArraySize(labels) > LABELS_MAX) {
        req_field_error(r, name, "must be an array of at most %d labels", LABELS_MAX);
        return NULL;
    }
    cJSON_ArrayForEach(l, labels) {
        if (!cJSON_IsString(l) || !prompts_label_valid(l->valuestring)) {
            req_field_error(r, name, "holds something that is not a label (a-z, 0-9, '.', '_', '-')");
            return NULL;
        }
    }
    return json_print(r->arena, labels);
}

/* A Langfuse chat prompt as promptd's messages: each {type: "chatmessage",
 * role, content} loses its type; placeholders stay.  A new copy for the
 * caller to attach; anything else is left for prompt_read_input to refuse. */
static cJSON *chat_from_langfuse(const cJSON *prompt)
{
    cJSON *out = cJSON_Duplicate(prompt, true), *m;

    cJSON_ArrayForEach(m, out) {
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "type"));

        if (type != NULL && strcmp(type, "chatmessage") == 0)
            cJSON_DeleteItemFromObjectCaseSensitive(m, "type");
    }
    return out;
}

/* The Langfuse create body {name, type?, prompt, config?, labels?, tags?,
 * commitMessage?} as promptd's {title, name, type, content, config, tags,
 * commit_message}, for prompt_read_input.  Members promptd has no use
 * for are ignored, as Langfuse does. */
static cJSON *body_from_langfuse(req_t *r)
{
    cJSON *b = json_own(r->arena, cJSON_CreateObject());
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(r->json, "name");
    const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(r->json, "prompt");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(r->json, "type");
    static const char *const same[][2] = {
        {"name", "name"}, {"name", "title"}, {"type", "type"}, {"config", "config"},
        {"tags", "tags"}, {"commitMessage", "commit_message"}};

    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->json, same[i][0]);

        if (v != NULL && !cJSON_IsNull(v))
            cJSON_AddItemToObject(b, same[i][1], cJSON_Duplicate(v, true));
    }
    if (!cJSON_IsString(name))
        req_field_error(r, "name", "is required: a string");
    if (prompt == NULL)
        req_field_error(r, "prompt", "is required");
    else if (cJSON_IsArray(prompt) && cJSON_IsString(type) && strcmp(type->valuestring, "chat") == 0)
        cJSON_AddItemToObject(b, "content", chat_from_langfuse(prompt));
    else
        cJSON_AddItemToObject(b, "content", cJSON_Duplicate(prompt, true));
    return b;
}

/* GET /api/public/v2/prompts/{name}?version=&label= -> 200 a Langfuse
 *   Prompt (label production unless version or label says otherwise) |
 *   404 | 422 */
int langfuse_get(req_t *r)
{
    const char *v[4] = {name_or_reply(r, req_param(r, "name")), NULL, NULL, render_max(r)};

    if (v[0] == NULL)
        return r->status;
    query_label_version(r, &v[1], &v[2]);
    if (r->errors)
        return resp_validation(r);
    resp_header(r, "Cache-Control", "private, no-cache");
    return dbreply_object(r, db_exec(&r->tx, &langfuse_stmts[ST_GET], 4, v), "No such prompt.");
}

/* POST /api/public/v2/prompts {name, type?, prompt, config?, labels?,
 *   tags?, commitMessage?} -> 201 the Langfuse Prompt: a new prompt, or a
 *   new version of the one named | 403 | 413 | 422 */
int langfuse_create(req_t *r)
{
    const char *labels = labels_field(r, r->json, "labels", false);
    struct prompt_input in;
    PGresult *res;

    r->json = body_from_langfuse(r);
    if (r->errors)
        return resp_validation(r);
    prompt_read_input(r, true, &in);
    if (r->errors)
        return resp_validation(r);
    if (in.config_too_big)
        return resp_problem(r, 413, "config must be at most 64 KiB.");
    {
        const char *v[8] = {in.name, in.type ? in.type : "text", in.content, in.config,
                            labels, in.tags, in.commit_message, render_max(r)};

        if ((res = db_exec(&r->tx, &langfuse_stmts[ST_CREATE], 8, v)) == NULL)
            return dbreply_error(r);
    }
    return resp_json_text(r, 201, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

/* PATCH /api/public/v2/prompts/{name}/versions/{version} {newLabels} -> 200
 *   the Langfuse Prompt at that version, the labels on it | 403 | 404 | 422 */
int langfuse_update(req_t *r)
{
    const char *path = req_param(r, "name"), *at = strstr(path, "/versions/"), *v[4];

    for (const char *p = at; p != NULL; p = strstr(p + 1, "/versions/"))
        at = p;   /* the last one: a name may hold "versions" itself */
    if (at == NULL || !prompts_version_valid(at + 10))
        return resp_problem(r, 404, "Only a version's labels can be updated: "
                            "PATCH /api/public/v2/prompts/{name}/versions/{version}.");
    if ((v[0] = name_or_reply(r, arena_strndup(r->arena, path, (size_t)(at - path)))) == NULL)
        return r->status;
    v[1] = at + 10;
    v[2] = labels_field(r, r->json, "newLabels", true);
    v[3] = render_max(r);
    if (r->errors)
        return resp_validation(r);
    return dbreply_object(r, db_exec(&r->tx, &langfuse_stmts[ST_LABELS], 4, v), "No such prompt.");
}

/* DELETE /api/public/v2/prompts/{name}?version=&label= -> 204: every
 *   version (neither given), one version, or the version the label is on |
 *   403 | 404 | 422 */
int langfuse_delete(req_t *r)
{
    const char *v[3] = {name_or_reply(r, req_param(r, "name")), NULL, NULL};

    if (v[0] == NULL)
        return r->status;
    query_label_version(r, &v[2], &v[1]);
    if (r->errors)
        return resp_validation(r);
    if (db_exec(&r->tx, &langfuse_stmts[ST_DELETE], 3, v) == NULL)
        return dbreply_error(r);
    return resp_empty(r, 204);
}

/* An optional ISO 8601 time query parameter (the database parses it);
 * only its alphabet is checked here, so that a bad one is a field error. */
static const char *query_time(req_t *r, const char *name)
{
    const char *t = req_query(r, name);

    if (t != NULL && (strlen(t) < 10 || strlen(t) > 40 ||
                      strspn(t, "0123456789-:.TZ+ ") != strlen(t)))
        req_field_error(r, name, "must be an ISO 8601 date-time");
    return t;
}

/* GET /api/public/v2/prompts?name&label&tag&page&limit&fromUpdatedAt&toUpdatedAt
 *   -> 200 {data: [{name, type, versions, labels, tags, lastUpdatedAt,
 *   lastConfig}], meta: {page, limit, totalItems, totalPages}} | 422 */
int langfuse_list(req_t *r)
{
    long page = req_query_int(r, "page", 1, 1000000);
    long limit = req_query_int(r, "limit", LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX);
    const char *v[7] = {req_query(r, "name"), query_label(r), req_query(r, "tag"),
                        arena_printf(r->arena, "%ld", page), arena_printf(r->arena, "%ld", limit),
                        query_time(r, "fromUpdatedAt"), query_time(r, "toUpdatedAt")};

    if (r->errors)
        return resp_validation(r);
    return dbreply_object(r, db_exec(&r->tx, &langfuse_stmts[ST_LIST], 7, v), "No such workspace.");
}
