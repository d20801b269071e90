/* prompts_diff.c: the prompts family's diff of two versions: the content line by line (message by message for a chat prompt), the other fields by the database. */
#include <string.h>

#include "core/json.h"
#include "http/dbreply.h"
#include "http/response.h"
#include "prompts/diff.h"
#include "prompts/shape.h"
#include "prompts_diff.h"

enum { ST_DIFF };

/* $1 prompt, $2 from (default: to - 1), $3 to (default: the current
 * version).  One row unless the prompt is not the caller's to see. */
const db_stmt_t diff_stmts[] = {
    [ST_DIFF] = {"prompt_diff",
        "select p.type, f.n, t.n, a.version is not null, b.version is not null, "
        "a.content, b.content, promptd.prompt_version_changes(a, b) "
        "from public.prompts p "
        "cross join lateral (select coalesce($3::int, p.version) as n) t "
        "cross join lateral (select coalesce($2::int, t.n - 1) as n) f "
        "left join public.prompt_versions a on a.prompt_id = p.id and a.version = f.n "
        "left join public.prompt_versions b on b.prompt_id = p.id and b.version = t.n "
        "where p.id = $1"},
    {NULL, NULL},
};

/* d as members diff, additions, deletions of obj. */
static void diff_add(cJSON *obj, const prompts_diff_t *d)
{
    cJSON_AddStringToObject(obj, "diff", d->text);
    cJSON_AddNumberToObject(obj, "additions", (double)d->additions);
    cJSON_AddNumberToObject(obj, "deletions", (double)d->deletions);
}

/* The text a chat message is compared by: its content, or a placeholder
 * as its JSON; "" for no message. */
static const char *message_text(req_t *r, const cJSON *m)
{
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");

    if (m == NULL)
        return "";
    return cJSON_IsString(content) ? content->valuestring : json_print(r->arena, m);
}

/* One entry per message position of the longer list: {index, change:
 * added|removed|modified|unchanged, from_role, to_role, diff, additions,
 * deletions}.  False if a diff failed. */
static bool diff_messages(req_t *r, cJSON *out, const cJSON *a, const cJSON *b, bool *changed)
{
    cJSON *list = cJSON_AddArrayToObject(out, "messages"), *e;
    int na = cJSON_GetArraySize(a), nb = cJSON_GetArraySize(b);
    prompts_diff_t d;

    for (int i = 0; i < (na > nb ? na : nb); i++) {
        const cJSON *ma = cJSON_GetArrayItem(a, i), *mb = cJSON_GetArrayItem(b, i);
        const char *ra = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ma, "role"));
        const char *rb = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(mb, "role"));
        bool same = ma != NULL && mb != NULL && cJSON_Compare(ma, mb, true);

        if (!prompts_diff(r->arena, message_text(r, ma), message_text(r, mb), &d))
            return false;
        cJSON_AddItemToArray(list, e = cJSON_CreateObject());
        cJSON_AddNumberToObject(e, "index", i);
        cJSON_AddStringToObject(e, "change", ma == NULL ? "added" : mb == NULL ? "removed"
                                : same ? "unchanged" : "modified");
        cJSON_AddItemToObject(e, "from_role", ra ? cJSON_CreateString(ra) : cJSON_CreateNull());
        cJSON_AddItemToObject(e, "to_role", rb ? cJSON_CreateString(rb) : cJSON_CreateNull());
        diff_add(e, &d);
        *changed |= !same;
    }
    return true;
}

/* The content's part of the answer; false if a diff failed. */
static bool diff_content(req_t *r, cJSON *out, PGresult *res, bool chat, bool *changed)
{
    const char *a = PQgetvalue(res, 0, 5), *b = PQgetvalue(res, 0, 6);
    prompts_diff_t d;

    if (chat)
        return diff_messages(r, out, json_own(r->arena, cJSON_Parse(a)),
                             json_own(r->arena, cJSON_Parse(b)), changed);
    if (!prompts_diff(r->arena, a, b, &d))
        return false;
    diff_add(cJSON_AddObjectToObject(out, "content"), &d);
    *changed = strcmp(a, b) != 0;
    return true;
}

/* GET /api/v1/prompts/{id}/diff?from=&to= -> 200 {prompt_id, type, from,
 *   to, changes: [{field, change, from, to}], content: {diff, additions,
 *   deletions} (text) | messages: [{index, change, from_role, to_role,
 *   diff, additions, deletions}] (chat)} | 404 (prompt or version) | 422
 *   (from, to not positive integers).  to defaults to the current version,
 *   from to the one before to. */
int prompt_diff(req_t *r)
{
    const char *v[3] = {req_param(r, "id"), req_query(r, "from"), req_query(r, "to")};
    cJSON *out, *changes, *c;
    bool chat, changed = false;
    PGresult *res;

    if (v[1] && !prompts_version_valid(v[1]))
        req_field_error(r, "from", "must be a positive integer");
    if (v[2] && !prompts_version_valid(v[2]))
        req_field_error(r, "to", "must be a positive integer");
    if (r->errors)
        return resp_validation(r);
    if ((res = db_exec(&r->tx, &diff_stmts[ST_DIFF], 3, v)) == NULL)
        return dbreply_error(r);
    if (PQntuples(res) == 0)
        return resp_problem(r, 404, "No such prompt.");
    for (int col = 3; col <= 4; col++)
        if (strcmp(PQgetvalue(res, 0, col), "t") != 0)
            return resp_problemf(r, 404, "The prompt has no version %s.",
                                 PQgetvalue(res, 0, col - 2));
    chat = strcmp(PQgetvalue(res, 0, 0), "chat") == 0;
    out = json_own(r->arena, cJSON_CreateObject());
    cJSON_AddStringToObject(out, "prompt_id", v[0]);
    cJSON_AddStringToObject(out, "type", PQgetvalue(res, 0, 0));
    cJSON_AddRawToObject(out, "from", PQgetvalue(res, 0, 1));
    cJSON_AddRawToObject(out, "to", PQgetvalue(res, 0, 2));
    changes = cJSON_Parse(PQgetvalue(res, 0, 7));
    cJSON_AddItemToObject(out, "changes", changes ? changes : cJSON_CreateNull());
    if (!cJSON_IsArray(changes) || !diff_content(r, out, res, chat, &changed))
        return resp_problem(r, 500, "The versions could not be compared.");
    if (changed) {
        cJSON_AddStringToObject(c = cJSON_CreateObject(), "field", "content");
        cJSON_AddStringToObject(c, "change", "modified");
        cJSON_InsertItemInArray(changes, 0, c);
    }
    return resp_json(r, 200, out);
}
