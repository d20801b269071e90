/* prompts_labels.c: the prompts family's deployment routes: labels (set, move, remove, list), their history, and fetching a prompt by name. */
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/str.h"
#include "http/dbreply.h"
#include "http/response.h"
#include "prompts/shape.h"
#include "prompts_labels.h"
#include "prompts.h"

#define REASON_MAX 500
#define NOTE_MAX 2000

/* Who may move which label, latest's rules and the label's history live in
 * promptd.prompt_label_* (sql/functions/labels.sql), which refuse with
 * PWnnn; a handler validates its input and calls one. */
enum {
    ST_LABELS, ST_SET, ST_DELETE, ST_HISTORY, ST_BY_NAME, ST_DEPLOYED, ST_DEPLOYED_WS,
    ST_CR_OPEN, ST_CR_DECIDE,
};

const db_stmt_t labels_stmts[] = {
    /* no row when the prompt is not the caller's to see */
    [ST_LABELS] = {"label_list",
        "select (select json_build_object('items', coalesce(json_agg(json_build_object("
        "'label', l.label, 'version', l.version, 'updated_at', l.updated_at) "
        "order by l.label), '[]'::json)) from public.prompt_labels l where l.prompt_id = p.id) "
        "from public.prompts p where p.id = $1"},
    [ST_SET] = {"label_set", "select promptd.prompt_label_set($1, $2, $3::int, $4)"},
    [ST_DELETE] = {"label_delete", "select promptd.prompt_label_delete($1, $2, $3)"},
    [ST_HISTORY] = {"label_history", "select promptd.prompt_label_history($1, $2)"},
    [ST_BY_NAME] = {"prompt_by_name",
        "select promptd.prompt_by_name($1::uuid, $2, $3, $4::int, $5::int)"},
    /* The fetch's common path (a label, no includes), as the request role:
     * no row when the prompt is not the caller's, has no such name or no
     * version with the label (promptd.prompt_by_name then says which).
     * One statement per workspace rule, plain equalities only, so that the
     * view (security_barrier) takes them in and reads one prompt. */
    [ST_DEPLOYED] = {"prompt_deployed",
        "select d.prompt, d.composed from promptd.prompt_deployed d "
        "where d.workspace_id = d.default_ws and d.name = $1 and d.label = $2"},
    [ST_DEPLOYED_WS] = {"prompt_deployed_ws",
        "select d.prompt, d.composed from promptd.prompt_deployed d "
        "where d.workspace_id = $1::uuid and d.name = $2 and d.label = $3"},
    [ST_CR_OPEN] = {"change_request_open",
        "select promptd.change_request_open($1, $2, $3::int, $4)"},
    [ST_CR_DECIDE] = {"change_request_decide",
        "select promptd.change_request_decide($1, $2, $3::boolean, $4)"},
    {NULL, NULL},
};

/* The {label} path parameter; NULL after a 422. */
static const char *label_or_reply(req_t *r)
{
    const char *label = req_param(r, "label");

    if (prompts_label_valid(label))
        return label;
    resp_problem(r, 422, "A label is 1 to 36 of a-z, 0-9, '.', '_', '-', "
                 "starting with a letter or digit.");
    return NULL;
}

/* GET /api/v1/prompts/{id}/labels -> 200 {items: [{label, version, updated_at}]} | 404 */
int label_list(req_t *r)
{
    const char *v[1] = {req_param(r, "id")};

    return dbreply_object(r, db_exec(&r->tx, &labels_stmts[ST_LABELS], 1, v), "No such prompt.");
}

/* PUT /api/v1/prompts/{id}/labels/{label} {version, reason?}
 *   -> 200 {label, version, from_version, updated_at} | 403 (a viewer; a
 *   protected label below admin) | 404 (prompt or version) | 422 (a bad
 *   label, latest) */
int label_set(req_t *r)
{
    static const char *const fields[] = {"version", "reason", NULL};
    const char *v[4] = {req_param(r, "id"), label_or_reply(r), NULL, NULL};
    long version = 0;

    if (v[1] == NULL)
        return r->status;
    req_reject_unknown(r, r->json, fields);
    if (req_field_int(r, r->json, "version", 1, 2147483647L, &version) == FIELD_ABSENT)
        req_field_error(r, "version", "is required");
    req_field_string(r, r->json, "reason", REASON_MAX, true, &v[3]);
    if (r->errors)
        return resp_validation(r);
    v[2] = arena_printf(r->arena, "%ld", version);
    return dbreply_object(r, db_exec(&r->tx, &labels_stmts[ST_SET], 4, v), "No such prompt.");
}

/* DELETE /api/v1/prompts/{id}/labels/{label}[?reason=] -> 204 | 403 | 404
 *   (no such prompt or label) | 422 */
int label_delete(req_t *r)
{
    const char *v[3] = {req_param(r, "id"), label_or_reply(r), req_query(r, "reason")};
    PGresult *res;

    if (v[1] == NULL)
        return r->status;
    if ((res = db_exec(&r->tx, &labels_stmts[ST_DELETE], 3, v)) == NULL)
        return dbreply_error(r);
    if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
        return resp_problem(r, 404, "The prompt has no such label.");
    return resp_empty(r, 204);
}

/* GET /api/v1/prompts/{id}/labels/{label}/history
 *   -> 200 {items: [{from_version, to_version, moved_by, moved_at, reason,
 *   change_request}]} | 404 | 422 (not a label) */
int label_history(req_t *r)
{
    const char *v[2] = {req_param(r, "id"), label_or_reply(r)};

    if (v[1] == NULL)
        return r->status;

    return dbreply_object(r, db_exec(&r->tx, &labels_stmts[ST_HISTORY], 2, v), "No such prompt.");
}

/* The by-name fetch of a label from promptd.prompt_deployed: v as in
 * prompt_by_name.  Its rows (none, or one: {prompt, composed}); NULL on a
 * database error. */
static PGresult *by_name_deployed(req_t *r, const char *const *v)
{
    const char *label = v[2] ? v[2] : "production";

    if (v[0]) {
        const char *w[3] = {v[0], v[1], label};

        return db_exec(&r->tx, &labels_stmts[ST_DEPLOYED_WS], 3, w);
    }
    const char *w[2] = {v[1], label};

    return db_exec(&r->tx, &labels_stmts[ST_DEPLOYED], 2, w);
}

/* GET /api/v1/prompts/by-name/{name...}?workspace_id=&label=&version=
 *   -> 200 {id, workspace_id, name, type, version, title, content, config,
 *   tags, variables, commit_message, created_at, labels} + ETag | 304 |
 *   404 (no such name, version, or no version with the label: production
 *   by default) | 422
 * The workspace defaults to an API key's own, else the caller's personal one.
 * A 200 may be served again by nginx for PROMPTD_BYNAME_CACHE_SECONDS to the
 * same credential asking for the same URL. */
int prompt_by_name(req_t *r)
{
    const char *v[5] = {req_query(r, "workspace_id"), req_param(r, "name"),
                        req_query(r, "label"), req_query(r, "version"),
                        arena_printf(r->arena, "%ld", prompts_settings.render_max_bytes)};
    PGresult *res = NULL;

    if (v[0] && !uuid_valid(v[0]))
        req_field_error(r, "workspace_id", "must be a UUID");
    if (!prompts_name_valid(v[1]))
        req_field_error(r, "name", "must be a path of a-z, 0-9, '.', '_', '-' segments");
    if (v[2] && !prompts_label_valid(v[2]))
        req_field_error(r, "label", "is not a label");
    if (v[3] && !prompts_version_valid(v[3]))
        req_field_error(r, "version", "must be a positive integer");
    if (v[2] && v[3])
        req_field_error(r, "label", "give label or version, not both");
    if (r->errors)
        return resp_validation(r);
    /* a label without includes: the view's row; a version, includes or no
     * row: the function, which resolves includes and says what is missing */
    if (v[3] == NULL) {
        if ((res = by_name_deployed(r, v)) == NULL)
            return dbreply_error(r);
        if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 1), "f") != 0)
            res = NULL;
    }
    if (res == NULL && (res = db_exec(&r->tx, &labels_stmts[ST_BY_NAME], 5, v)) == NULL)
        return dbreply_error(r);
    resp_header(r, "Cache-Control", "private, no-cache");
    /* nginx keeps a 200 this long for this credential and URL (prompts.conf;
     * with the setting 0 nginx has no cache there) */
    if (prompts_settings.byname_cache_seconds > 0)
        resp_header(r, "X-Accel-Expires",
                    arena_printf(r->arena, "%ld", prompts_settings.byname_cache_seconds));
    return dbreply_object(r, res, "No such prompt.");
}

/* POST /api/v1/prompts/{id}/change-requests {label, version, note?}
 *   -> 201 {id, label, version, from_version, state: "open", ...} | 403 (a
 *   viewer) | 404 (prompt or version) | 422 (a bad label, latest) */
int change_request_open(req_t *r)
{
    static const char *const fields[] = {"label", "version", "note", NULL};
    const char *v[4] = {req_param(r, "id"), NULL, NULL, NULL};
    long version = 0;
    PGresult *res;

    req_reject_unknown(r, r->json, fields);
    if (req_field_string(r, r->json, "label", 36, false, &v[1]) == FIELD_ABSENT)
        req_field_error(r, "label", "is required");
    else if (v[1] && !prompts_label_valid(v[1]))
        req_field_error(r, "label", "is not a label");
    if (req_field_int(r, r->json, "version", 1, 2147483647L, &version) == FIELD_ABSENT)
        req_field_error(r, "version", "is required");
    req_field_string(r, r->json, "note", NOTE_MAX, true, &v[3]);
    if (r->errors)
        return resp_validation(r);
    v[2] = arena_printf(r->arena, "%ld", version);
    if ((res = db_exec(&r->tx, &labels_stmts[ST_CR_OPEN], 4, v)) == NULL)
        return dbreply_error(r);
    return resp_json_text(r, 201, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

/* POST .../change-requests/{cr_id}/approve|reject {note?}: approve moves
 * the label, only from where it was when the request was opened. */
static int change_request_decide(req_t *r, bool approve)
{
    static const char *const fields[] = {"note", NULL};
    const char *v[4] = {req_param(r, "id"), req_param(r, "cr_id"), approve ? "t" : "f", NULL};

    const char *why = NULL;

    if (r->body_len > 0) {      /* the body is optional: {} or {"note": ...} */
        r->json = json_parse_strict(r->arena, r->body, r->body_len, &why);
        if (r->json == NULL || !cJSON_IsObject(r->json))
            return resp_problem(r, 400, "The body must be a JSON object.");
        req_reject_unknown(r, r->json, fields);
        req_field_string(r, r->json, "note", NOTE_MAX, true, &v[3]);
    }
    if (r->errors)
        return resp_validation(r);
    return dbreply_object(r, db_exec(&r->tx, &labels_stmts[ST_CR_DECIDE], 4, v),
                          "No such change request.");
}

/* POST /api/v1/prompts/{id}/change-requests/{cr_id}/approve {note?}
 *   -> 200 the request, approved, and the label moved | 403 (below admin;
 *   its author) | 404 | 409 (not open; the label moved meanwhile) */
int change_request_approve(req_t *r)
{
    return change_request_decide(r, true);
}

/* POST /api/v1/prompts/{id}/change-requests/{cr_id}/reject {note?}
 *   -> 200 the request, rejected | 403 | 404 | 409 (not open) */
int change_request_reject(req_t *r)
{
    return change_request_decide(r, false);
}
