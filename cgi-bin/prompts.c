/* prompts.c: the prompts family: CRUD, search, versions, restore; its table of routes. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "http/credential.h"
#include "http/dbreply.h"
#include "http/response.h"
#include "http/server.h"
#include "crypto/b64url.h"
#include "prompts/settings.h"
#include "prompts/shape.h"
#include "prompts.h"
#include "prompts_diff.h"
#include "prompts_labels.h"
#include "prompts_langfuse.h"
#include "prompts_render.h"

#define TITLE_MAX 200
#define CONTENT_MAX_BYTES 102400
#define TAGS_MAX 20
#define TAG_MAX 64
#define FOLDER_MAX 255
#define LIST_DEFAULT 20
#define LIST_MAX 100
#define IF_MATCH_MAX 8
#define CONFIG_MAX_BYTES 65536
#define COMMIT_MESSAGE_MAX 500
#define ATTACHMENTS_MAX 20
#define ATTACHMENT_BUCKET_MAX 100
#define ATTACHMENT_PATH_MAX 1024
#define ETAG_HASH_MAX 64

/* content: a string, or for a chat prompt its array of messages;
 * attachments: the SQL of its attachments' JSON array */
#define PROMPT_JSON_WITH(attachments)                                      \
    "json_build_object('id', p.id, 'workspace_id', p.workspace_id, "         \
    "'name', p.name, 'type', p.type, 'title', p.title, "                   \
    "'content', case when p.type = 'chat' then p.content::json else to_json(p.content) end, " \
    "'config', p.config, 'commit_message', p.commit_message, "             \
    "'tags', p.tags, 'metadata', p.metadata, 'folder', p.folder, "         \
    "'variables', p.variables, 'version', p.version, "                     \
    "'forked_from', p.forked_from, 'attachments', " attachments ", "      \
    "'created_at', p.created_at, 'updated_at', p.updated_at)"
/* The attachments' JSON array of the prompt row x: the definer function
 * (a call with its own search_path, which PostgreSQL cannot inline) only
 * when the prompt has any -- most have none, found by one index probe
 * (prompt_attachments' select policy: the rows of prompts the caller sees) */
#define ATTACHMENTS_OF(x)                                                  \
    "case when exists (select 1 from public.prompt_attachments pa "         \
    "where pa.prompt_id = " x ".id) then promptd.prompt_attachments_json(" x ".id) " \
    "else '[]'::json end"
/* promptd.prompt_etag(x.version, j), its common case ("v<version>", no
 * attachment) written out for the same reason */
#define ETAG_OF(x, j)                                                      \
    "case when json_array_length(" j ") > 0 then promptd.prompt_etag(" x ".version, " j ") " \
    "else 'v' || " x ".version end"
#define PROMPT_JSON PROMPT_JSON_WITH(ATTACHMENTS_OF("p"))
/* One prompt's answer: its JSON and its ETag (without quotes), the
 * attachments read once through the lateral ATTACHED (after FROM ... p).
 * OFFSET 0 keeps the subquery whole: pulled up, its expression went to
 * each use of a.j (three), and every GET planned, set up and ran the
 * probe's subplan as many times. */
#define PROMPT_ROW PROMPT_JSON_WITH("a.j") ", " ETAG_OF("p", "a.j")
#define ATTACHED " cross join lateral (select " ATTACHMENTS_OF("p") " as j offset 0) a "
/* The ETag of the prompt row x, for If-Match ($n: text[] of tags, NULL:
 * none); its attachments read once, in a subquery of their own */
#define ETAG_MATCHES(x, n)                                                 \
    "($" #n "::text[] is null or (select " ETAG_OF(x, "a.j") " from (select " \
    ATTACHMENTS_OF(x) " as j offset 0) a) = any($" #n "::text[]))"
/* a version v of the prompt p */
#define VERSION_JSON                                                       \
    "json_build_object('version', v.version, 'title', v.title, "           \
    "'content', case when p.type = 'chat' then v.content::json else to_json(v.content) end, " \
    "'tags', v.tags, 'metadata', v.metadata, 'config', v.config, "         \
    "'commit_message', v.commit_message, "                                 \
    "'folder', v.folder, 'variables', v.variables, 'created_at', v.created_at)"
#define TAGS_FROM_JSON(n) "array(select jsonb_array_elements_text($" #n "::jsonb))"
/* Keyset list: $1 q, $2 tag, $3 folder, $4 cursor key, $5 cursor id, $6 limit,
 * $7 workspace */
#define LIST_FILTER                                                        \
    "where ($1::text is null or p.search @@ websearch_to_tsquery('english', $1)) " \
    "and ($7::uuid is null or p.workspace_id = $7) "                        \
    "and ($2::text is null or p.tags @> array[$2::text]) "                  \
    "and ($3::text is null or p.folder = $3) "
#define LIST_SQL(key, cast)                                                \
    "select " PROMPT_JSON ", (" key ")::text, p.id from public.prompts p "  \
    LIST_FILTER "and ($5::uuid is null or (" key ", p.id) < ($4::" cast ", $5::uuid)) " \
    "order by " key " desc, p.id desc limit $6"
#define RANK "ts_rank(p.search, websearch_to_tsquery('english', $1))"

enum {
    ST_GET, ST_INSERT, ST_UPDATE, ST_DELETE, ST_VERSION_OF,
    ST_LIST_UPDATED, ST_LIST_CREATED, ST_LIST_RANK,
    ST_VERSIONS, ST_VERSION, ST_RESTORE, ST_VERSION_DELETE, ST_WS_NEED, ST_ATTACH,
};

/* Read at start (main). */
prompts_settings_t prompts_settings;

static const db_stmt_t stmts[] = {
    [ST_GET] = {"prompt_get",
        "select " PROMPT_ROW " from public.prompts p" ATTACHED "where p.id = $1"},
    [ST_INSERT] = {"prompt_insert",
        "with p as (insert into public.prompts "
        "(title, content, tags, metadata, folder, workspace_id, name, type, config, "
        "commit_message) "
        "values ($1, $2, coalesce(" TAGS_FROM_JSON(3) ", '{}'), "
        "coalesce($4::jsonb, '{}'), coalesce($5, '/'), "
        "coalesce($6::uuid, promptd.default_workspace()), $7, coalesce($8, 'text'), "
        "coalesce($9::jsonb, '{}'), $10) returning *), "
        "u as (insert into public.usage_tracking (user_id, action, resource_id) "
        "select p.user_id, 'prompt.create', p.id from p) "
        "select " PROMPT_ROW ", p.id from p" ATTACHED},
    /* $7: If-Match, the ETags to accept */
    [ST_UPDATE] = {"prompt_update",
        "with p as (update public.prompts as x set title = coalesce($2, x.title), "
        "content = case when $11::text is not null and $11 <> x.type "
        "then promptd.prompt_type_mismatch(x.type) else coalesce($3, x.content) end, "
        "tags = case when $4::jsonb is null then x.tags else " TAGS_FROM_JSON(4) " end, "
        "metadata = coalesce($5::jsonb, x.metadata), folder = coalesce($6, x.folder), "
        "name = coalesce($8, x.name), config = coalesce($9::jsonb, x.config), "
        "commit_message = $10 "
        "where x.id = $1 and " ETAG_MATCHES("x", 7) " returning x.*) "
        "select " PROMPT_ROW " from p" ATTACHED},
    [ST_DELETE] = {"prompt_delete",
        "delete from public.prompts p where p.id = $1 and " ETAG_MATCHES("p", 2)
        " returning p.id"},
    /* the ETag, and the caller's role in the prompt's workspace */
    [ST_VERSION_OF] = {"prompt_version_of",
        "select " ETAG_OF("p", "a.j") ", "
        "promptd.workspace_role_rank(promptd.workspace_role(p.workspace_id)) "
        "from public.prompts p" ATTACHED "where p.id = $1"},
    [ST_LIST_UPDATED] = {"prompt_list_updated", LIST_SQL("p.updated_at", "timestamptz")},
    [ST_LIST_CREATED] = {"prompt_list_created", LIST_SQL("p.created_at", "timestamptz")},
    [ST_LIST_RANK] = {"prompt_list_rank", LIST_SQL(RANK, "real")},
    [ST_VERSIONS] = {"prompt_versions",
        "select " VERSION_JSON ", v.version from public.prompt_versions v "
        "join public.prompts p on p.id = v.prompt_id "
        "where v.prompt_id = $1 and ($2::int is null or v.version < $2) "
        "order by v.version desc limit $3"},
    [ST_VERSION] = {"prompt_version",
        "select " VERSION_JSON " from public.prompt_versions v "
        "join public.prompts p on p.id = v.prompt_id "
        "where v.prompt_id = $1 and v.version = $2"},
    [ST_RESTORE] = {"prompt_restore",
        "with p as (update public.prompts as x set title = v.title, content = v.content, "
        "tags = v.tags, metadata = v.metadata, folder = v.folder, config = v.config, "
        "commit_message = 'Restore version ' || v.version "
        "from public.prompt_versions v where x.id = $1 and v.prompt_id = x.id "
        "and v.version = $2 and " ETAG_MATCHES("x", 3) " returning x.*) "
        "select " PROMPT_ROW " from p" ATTACHED},
    /* the prompt's version after (null: the prompt went with it) */
    [ST_VERSION_DELETE] = {"prompt_version_delete",
        "select promptd.prompt_version_delete($1, $2::int)"},
    /* the caller may create in workspace $1 (else PW404 / PW403) */
    [ST_WS_NEED] = {"prompt_ws_need", "select promptd.workspace_need($1, 'editor')"},
    /* $1 prompt, $2 [{id} | {bucket, path}]: [] when set, else the items
     * refused [{index, reason, of?}] */
    [ST_ATTACH] = {"prompt_attach",
        "select promptd.prompt_attachments_put($1, $2::jsonb)::text"},
    {NULL, NULL},
};

static const char *const prompt_fields[] = {
    "title", "content", "tags", "metadata", "folder", "name", "config", "commit_message",
    "attachments", NULL};
static const char *const create_fields[] = {
    "title", "content", "tags", "metadata", "folder", "name", "config", "commit_message",
    "attachments", "workspace_id", "type", NULL};

static bool folder_valid(const char *f)
{
    const char *seg;

    if (f[0] != '/' || strlen(f) > FOLDER_MAX)
        return false;
    if (f[1] == '\0')
        return true;
    for (seg = f + 1;; seg += strcspn(seg, "/") + 1) {
        size_t n = strcspn(seg, "/");

        if (n == 0 || (n == 1 && seg[0] == '.') ||
            (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return false;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)seg[i] < 0x20 || seg[i] == 0x7f || seg[i] == '\\')
                return false;
        if (seg[n] == '\0')
            return true;
    }
}

/* content: a string (text), or an array of chat messages, serialized;
 * at most CONTENT_MAX_BYTES either way. */
static void read_content(req_t *r, struct prompt_input *in)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(r->json, "content");
    const char *why;
    int at;

    if (cJSON_IsArray(c)) {
        if ((why = prompts_chat_error(c, &at)) != NULL) {
            req_field_error(r, "content", "message %d %s", at, why);
            return;
        }
        in->content = json_print(r->arena, (cJSON *)c);
        in->kind = "chat";
    } else if (req_field_string(r, r->json, "content", CONTENT_MAX_BYTES, false,
                                &in->content) == FIELD_OK) {
        in->kind = "text";
    }
    if (in->content && strlen(in->content) > CONTENT_MAX_BYTES) {
        req_field_error(r, "content", "must be at most %d bytes", CONTENT_MAX_BYTES);
        in->content = NULL;
    }
}

/* name, config and commit_message (any write); type (create). */
static void read_deploy_fields(req_t *r, bool create, struct prompt_input *in)
{
    cJSON *config = NULL;

    if (req_field_string(r, r->json, "name", PROMPTS_NAME_MAX, false, &in->name) == FIELD_OK &&
        !prompts_name_valid(in->name))
        req_field_error(r, "name", "must be a path of a-z, 0-9, '.', '_', '-' segments, "
                        "like support/triage");
    if (req_field_object(r, r->json, "config", &config) == FIELD_OK) {
        in->config = json_print(r->arena, config);
        in->config_too_big = strlen(in->config) > CONFIG_MAX_BYTES;
    }
    req_field_string(r, r->json, "commit_message", COMMIT_MESSAGE_MAX, true, &in->commit_message);
    if (create && req_field_string(r, r->json, "type", 8, false, &in->type) == FIELD_OK &&
        strcmp(in->type, "text") != 0 && strcmp(in->type, "chat") != 0)
        req_field_error(r, "type", "must be text or chat");
    if (!create && cJSON_HasObjectItem(r->json, "type"))
        req_field_error(r, "type", "is fixed at creation");
}

/* Why attachment item it is malformed, or NULL: an object {id: a UUID}
 * or {bucket, path}, strings of 1 to ATTACHMENT_BUCKET_MAX characters and 1
 * to ATTACHMENT_PATH_MAX bytes, and nothing else. */
static const char *attachment_item_error(req_t *r, const cJSON *it)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
    const cJSON *bucket = cJSON_GetObjectItemCaseSensitive(it, "bucket");
    const cJSON *path = cJSON_GetObjectItemCaseSensitive(it, "path");
    const cJSON *m;

    if (!cJSON_IsObject(it))
        return "must be an object: {bucket, path} or {id}";
    cJSON_ArrayForEach(m, it)
        if (strcmp(m->string, "id") != 0 && strcmp(m->string, "bucket") != 0 &&
            strcmp(m->string, "path") != 0)
            return arena_printf(r->arena, "has an unknown member '%s' (give {bucket, path} or {id})",
                                m->string);
    if (id != NULL) {
        if (bucket != NULL || path != NULL)
            return "gives id or bucket and path, not both";
        return cJSON_IsString(id) && uuid_valid(id->valuestring) ? NULL : "id must be a UUID";
    }
    if (bucket == NULL || path == NULL)
        return "must name an object: {bucket, path} or {id}";
    if (!cJSON_IsString(bucket) || *bucket->valuestring == '\0' ||
        utf8_length(bucket->valuestring) > ATTACHMENT_BUCKET_MAX)
        return "bucket must be a string of 1 to 100 characters";
    if (!cJSON_IsString(path) || *path->valuestring == '\0' ||
        strlen(path->valuestring) > ATTACHMENT_PATH_MAX)
        return "path must be a string of 1 to 1024 bytes";
    return NULL;
}

/* attachments: an array of at most ATTACHMENTS_MAX objects {bucket, path}
 * or {id}, as JSON text; every error is the field "attachments". */
static void read_attachments(req_t *r, struct prompt_input *in)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(r->json, "attachments"), *it;
    bool bad = false;
    int i = 0;

    if (a == NULL)
        return;
    if (!cJSON_IsArray(a)) {
        req_field_error(r, "attachments", "must be an array of {bucket, path} or {id} objects");
        return;
    }
    if (cJSON_GetArraySize(a) > ATTACHMENTS_MAX) {
        req_field_error(r, "attachments", "must have at most %d items", ATTACHMENTS_MAX);
        return;
    }
    cJSON_ArrayForEach(it, a) {
        const char *why = attachment_item_error(r, it);

        if (why) {
            req_field_error(r, "attachments", "item %d %s", i, why);
            bad = true;
        }
        i++;
    }
    if (!bad) {
        in->attachments = json_print(r->arena, (cJSON *)a);
        in->attachment_items = a;
    }
}

void prompt_read_input(req_t *r, bool create, struct prompt_input *in)
{
    cJSON *tags = NULL, *meta = NULL;

    memset(in, 0, sizeof(*in));
    req_reject_unknown(r, r->json, create ? create_fields : prompt_fields);
    if (create && req_field_string(r, r->json, "workspace_id", 36, false, &in->workspace_id) ==
            FIELD_OK && !uuid_valid(in->workspace_id))
        req_field_error(r, "workspace_id", "must be a UUID");
    if (req_field_string(r, r->json, "title", TITLE_MAX, false, &in->title) ==
            FIELD_ABSENT && create)
        req_field_error(r, "title", "is required");
    if (!cJSON_HasObjectItem(r->json, "content") && create)
        req_field_error(r, "content", "is required");
    read_content(r, in);
    read_deploy_fields(r, create, in);
    if (create && in->kind && strcmp(in->kind, in->type ? in->type : "text") != 0)
        req_field_error(r, "content", strcmp(in->kind, "chat") == 0
                        ? "is an array: give type chat" : "of a chat prompt is an array of messages");
    if (req_field_string_array(r, r->json, "tags", TAGS_MAX, TAG_MAX, &tags) ==
        FIELD_OK)
        in->tags = json_print(r->arena, tags);
    if (req_field_object(r, r->json, "metadata", &meta) == FIELD_OK)
        in->metadata = json_print(r->arena, meta);
    if (req_field_string(r, r->json, "folder", FOLDER_MAX, false, &in->folder) ==
            FIELD_OK && !folder_valid(in->folder))
        req_field_error(r, "folder", "must be a path like /team/marketing");
    read_attachments(r, in);
    if (!create && !r->errors && !in->title && !in->content && !in->tags &&
        !in->metadata && !in->folder && !in->name && !in->config && !in->attachments)
        req_field_error(r, "body", "must change at least one field");
}

/* The answer's ETag from a prompt's tag (promptd.prompt_etag: "v3", or
 * "v3-<hash>" when it has attachments). */
static void set_prompt_etag(req_t *r, const char *tag)
{
    r->etag = arena_printf(r->arena, "\"%s\"", tag);
}

/* If-Match as a Postgres text[] literal of acceptable tags (strong
 * comparison: "v<version>" or "v<version>-<hex>"), NULL when absent or
 * "*".  Unparseable entries can never match (an empty array). */
static const char *if_match_tags(req_t *r)
{
    const char *h = req_header(r, "If-Match"), *p;
    strbuf_t sb;
    int n = 0;

    if (h == NULL || strspn(h, " \t") == strlen(h) || strcmp(h, "*") == 0)
        return NULL;
    strbuf_init(&sb, r->arena, 64);
    strbuf_putc(&sb, '{');
    for (p = h; *p && n < IF_MATCH_MAX; p += strcspn(p, ","), p += *p == ',') {
        char *end;
        long v;
        size_t hex = 0;

        p += strspn(p, " \t");
        if (strncmp(p, "\"v", 2) != 0 || !isdigit((unsigned char)p[2]))
            continue;
        errno = 0;
        v = strtol(p + 2, &end, 10);
        if (errno || v <= 0 || v > 2147483647)
            continue;
        if (*end == '-') {
            hex = strspn(end + 1, "0123456789abcdef");
            if (hex == 0 || hex > ETAG_HASH_MAX)
                continue;
            end += 1 + hex;
        }
        if (*end != '"')
            continue;
        strbuf_printf(&sb, "%sv%ld", n++ ? "," : "", v);
        if (hex)
            strbuf_printf(&sb, "-%.*s", (int)hex, end - hex);
    }
    strbuf_putc(&sb, '}');
    return sb.ptr;
}

/* After a conditional write matched no row: 404 if the prompt is gone
 * (or not in one of the caller's workspaces), 403 if the caller's role
 * there is below need (2 editor: writes; 3 admin: deletion), else 412. */
static int missing_or_precondition(req_t *r, const char *id, int need)
{
    const char *v[1] = {id};
    PGresult *res = db_exec(&r->tx, &stmts[ST_VERSION_OF], 1, v);

    if (res == NULL)
        return dbreply_error(r);
    if (PQntuples(res) == 0)
        return resp_problem(r, 404, "No such prompt.");
    if (atoi(PQgetvalue(res, 0, 1)) < need)
        return resp_problem(r, 403, need >= 3
            ? "Deleting a prompt needs the admin or owner role in its workspace."
            : "Changing a prompt needs the editor role or higher in its workspace.");
    set_prompt_etag(r, PQgetvalue(res, 0, 0));
    resp_header(r, "ETag", r->etag);
    r->etag = NULL;
    return resp_problem(r, 412, "The prompt has changed; fetch it again (see ETag).");
}

/* An answer of one prompt row (PROMPT_ROW): column 0 JSON, 1 its ETag. */
static int prompt_reply(req_t *r, int status, PGresult *res)
{
    set_prompt_etag(r, PQgetvalue(res, 0, 1));
    return resp_json_text(r, status, PQgetvalue(res, 0, 0),
                          (size_t)PQgetlength(res, 0, 0));
}

/* How attachment item i of the request names its object, for a message. */
static const char *attachment_named(req_t *r, const cJSON *items, int i)
{
    const cJSON *it = cJSON_GetArrayItem(items, i);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");

    if (cJSON_IsString(id))
        return arena_printf(r->arena, "id %s", id->valuestring);
    return arena_printf(r->arena, "%s/%s",
                        cJSON_GetObjectItemCaseSensitive(it, "bucket")->valuestring,
                        cJSON_GetObjectItemCaseSensitive(it, "path")->valuestring);
}

/* False after answering 403 when the request attaches files with an API
 * key lacking the storage scope: referencing a file (and sharing the
 * prompt) exposes it, which only a key that may read files may do.
 * Removing attachments needs no scope. */
static bool attach_scope_or_reply(req_t *r, const struct prompt_input *in)
{
    if (in->attachments == NULL || cJSON_GetArraySize(in->attachment_items) == 0 ||
        credential_has_scope(r, "storage"))
        return true;
    resp_problem(r, 403, "Attaching files needs an API key with the storage scope.");
    return false;
}

/* Replace prompt id's attachments with in's, as the caller, then read the
 * prompt again into *res (the answer).  False after answering: 422 naming
 * each item that is not an object the caller can read (nor one attached
 * already) or repeats one, or a database error; the request's transaction
 * is then rolled back, so nothing was written. */
static bool attach_or_reply(req_t *r, const char *id, const struct prompt_input *in,
                            PGresult **res)
{
    const char *v[2] = {id, in->attachments};
    PGresult *put = db_exec(&r->tx, &stmts[ST_ATTACH], 2, v);
    cJSON *refused, *e;

    if (put == NULL) {
        dbreply_error(r);
        return false;
    }
    refused = json_own(r->arena, cJSON_Parse(PQgetvalue(put, 0, 0)));
    cJSON_ArrayForEach(e, refused) {
        int i = cJSON_GetObjectItemCaseSensitive(e, "index")->valueint;
        const cJSON *of = cJSON_GetObjectItemCaseSensitive(e, "of");

        if (cJSON_IsNumber(of))
            req_field_error(r, "attachments", "item %d (%s) names the same object as item %d",
                            i, attachment_named(r, in->attachment_items, i), of->valueint);
        else
            req_field_error(r, "attachments", "item %d (%s) is not a stored object you can read",
                            i, attachment_named(r, in->attachment_items, i));
    }
    if (r->errors) {
        resp_validation(r);
        return false;
    }
    if ((*res = db_exec(&r->tx, &stmts[ST_GET], 1, v)) == NULL || PQntuples(*res) != 1) {
        dbreply_error(r);
        return false;
    }
    return true;
}

/* POST /api/v1/prompts {title,content,tags?,metadata?,folder?,workspace_id?,
 *   attachments?: [{bucket, path} | {id}]}
 *   [Idempotency-Key] -> 201 + Location + ETag | 400 | 403 (a viewer there) |
 *   404 (not a member) | 422 (also: an attachment the caller cannot read) |
 *   403 (attachments by an API key without the storage scope)
 * Without workspace_id: an API key's workspace, else the caller's personal one. */
static int prompt_create(req_t *r)
{
    struct prompt_input in;
    const char *id;
    PGresult *res;

    prompt_read_input(r, true, &in);
    if (r->errors)
        return resp_validation(r);
    if (in.config_too_big)
        return resp_problem(r, 413, "config must be at most 64 KiB.");
    if (!attach_scope_or_reply(r, &in))
        return r->status;
    if (in.workspace_id && db_exec(&r->tx, &stmts[ST_WS_NEED], 1, &in.workspace_id) == NULL)
        return dbreply_error(r);
    {
        const char *v[10] = {in.title, in.content, in.tags, in.metadata, in.folder,
                             in.workspace_id, in.name, in.type, in.config, in.commit_message};

        if ((res = db_exec(&r->tx, &stmts[ST_INSERT], 10, v)) == NULL)
            return dbreply_error(r);
    }
    id = PQgetvalue(res, 0, 2);
    if (in.attachments && !attach_or_reply(r, id, &in, &res))
        return r->status;
    resp_location(r, arena_printf(r->arena, "/api/v1/prompts/%s", id));
    return prompt_reply(r, 201, res);
}

/* GET /api/v1/prompts/{id} [If-None-Match] -> 200 + ETag | 304 | 404 */
static int prompt_get(req_t *r)
{
    const char *v[1] = {req_param(r, "id")};
    PGresult *res = db_exec(&r->tx, &stmts[ST_GET], 1, v);

    if (res == NULL)
        return dbreply_error(r);
    if (PQntuples(res) == 0)
        return resp_problem(r, 404, "No such prompt.");
    return prompt_reply(r, 200, res);
}

/* PATCH /api/v1/prompts/{id} {title?,content?,tags?,metadata?,folder?,
 *   attachments? (the new set)} [If-Match] -> 200 + ETag | 403 (attachments
 *   by an API key without the storage scope) | 404 | 412 | 422 */
static int prompt_update(req_t *r)
{
    struct prompt_input in;
    const char *id = req_param(r, "id");
    PGresult *res;

    prompt_read_input(r, false, &in);
    if (r->errors)
        return resp_validation(r);
    if (in.config_too_big)
        return resp_problem(r, 413, "config must be at most 64 KiB.");
    if (!attach_scope_or_reply(r, &in))
        return r->status;
    {
        const char *v[11] = {id, in.title, in.content, in.tags, in.metadata,
                             in.folder, if_match_tags(r), in.name, in.config,
                             in.commit_message, in.kind};

        if ((res = db_exec(&r->tx, &stmts[ST_UPDATE], 11, v)) == NULL)
            return dbreply_error(r);
    }
    if (PQntuples(res) == 0)
        return missing_or_precondition(r, id, 2);
    if (in.attachments && !attach_or_reply(r, id, &in, &res))
        return r->status;
    return prompt_reply(r, 200, res);
}

/* DELETE /api/v1/prompts/{id} [If-Match] -> 204 | 404 | 412 */
static int prompt_delete(req_t *r)
{
    const char *id = req_param(r, "id");
    const char *v[2] = {id, if_match_tags(r)};
    PGresult *res = db_exec(&r->tx, &stmts[ST_DELETE], 2, v);

    if (res == NULL)
        return dbreply_error(r);
    if (PQntuples(res) == 0)
        return missing_or_precondition(r, id, 3);
    return resp_empty(r, 204);
}

/* Cursor text: "<sort>|<key>|<uuid>" in base64url; the sort must match. */
static char *cursor_encode(req_t *r, char sort, const char *key, const char *id)
{
    char *plain = arena_printf(r->arena, "%c|%s|%s", sort, key, id);
    size_t n = strlen(plain);
    char *out = arena_alloc(r->arena, B64URL_ENCODED_SIZE(n));

    b64url_encode((const unsigned char *)plain, n, out);
    return out;
}

static bool cursor_decode(req_t *r, const char *c, char sort,
                          const char **key, const char **id)
{
    size_t n = strlen(c);
    unsigned char *buf;
    char *bar;
    long len;

    if (n == 0 || n > 256)
        return false;
    buf = arena_alloc(r->arena, n);
    if ((len = b64url_decode(c, n, buf)) < 40)
        return false;
    buf[len] = '\0';
    if (buf[0] != (unsigned char)sort || buf[1] != '|' ||
        (bar = strrchr((char *)buf, '|')) == (char *)buf + 1 ||
        !uuid_valid(bar + 1) || !utf8_valid((char *)buf, (size_t)len))
        return false;
    *bar = '\0';
    *key = (char *)buf + 2;
    *id = bar + 1;
    return true;
}

/* GET /api/v1/prompts?limit&cursor&q&tag&folder&workspace_id&sort=updated|created
 *   -> 200 {items,next_cursor} | 400 | 422 */
static int prompt_list(req_t *r)
{
    const char *q = req_query(r, "q"), *tag = req_query(r, "tag");
    const char *folder = req_query(r, "folder"), *sort = req_query(r, "sort");
    const char *cursor = req_query(r, "cursor"), *ws = req_query(r, "workspace_id");
    const char *key = NULL, *after = NULL, *v[7];
    long limit = req_query_int(r, "limit", LIST_DEFAULT, LIST_MAX);
    int st = ST_LIST_UPDATED;
    char mark = 'u';
    PGresult *res;
    char *limit_s, *next = NULL;

    if (sort && strcmp(sort, "created") == 0) {
        st = ST_LIST_CREATED;
        mark = 'c';
    } else if (sort && strcmp(sort, "updated") != 0) {
        req_field_error(r, "sort", "must be updated or created");
    }
    if (q && *q == '\0')
        q = NULL;
    if (q && !sort) {
        st = ST_LIST_RANK;
        mark = 'r';
    }
    if (folder && !folder_valid(folder))
        req_field_error(r, "folder", "must be a path like /team/marketing");
    if (ws && !uuid_valid(ws))
        req_field_error(r, "workspace_id", "must be a UUID");
    if (r->errors)
        return resp_validation(r);
    if (cursor && !cursor_decode(r, cursor, mark, &key, &after))
        return resp_problem(r, 400, "The cursor is invalid for this query.");
    limit_s = arena_printf(r->arena, "%ld", limit + 1);
    v[0] = q; v[1] = tag; v[2] = folder; v[3] = key; v[4] = after; v[5] = limit_s;
    v[6] = ws;
    if ((res = db_exec(&r->tx, &stmts[st], 7, v)) == NULL) {
        if (cursor && r->tx.sqlstate && strncmp(r->tx.sqlstate, "22", 2) == 0)
            return resp_problem(r, 400, "The cursor is invalid for this query.");
        return dbreply_error(r);
    }
    if (PQntuples(res) > limit)
        next = cursor_encode(r, mark, PQgetvalue(res, (int)limit - 1, 1),
                             PQgetvalue(res, (int)limit - 1, 2));
    return dbreply_list(r, res, limit, next);
}

/* A {version} path parameter: a positive integer, else 400 (NULL). */
static const char *version_param_or_reply(req_t *r)
{
    const char *s = req_param(r, "version");
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < 1 || v > 2147483647 || !isdigit((unsigned char)*s)) {
        resp_problem(r, 400, "Path parameter 'version' must be a positive integer.");
        return NULL;
    }
    return s;
}

/* GET /api/v1/prompts/{id}/versions?limit&cursor -> 200 {items,next_cursor} | 404 */
static int version_list(req_t *r)
{
    const char *id = req_param(r, "id"), *cursor = req_query(r, "cursor");
    long limit = req_query_int(r, "limit", LIST_DEFAULT, LIST_MAX);
    long before = 0;
    const char *v[3];
    PGresult *res;
    char *next = NULL;

    if (cursor)
        before = strtol(cursor, NULL, 10);
    if (cursor && (before < 1 || before > 2147483647 ||
                   strspn(cursor, "0123456789") != strlen(cursor)))
        req_field_error(r, "cursor", "is invalid");
    if (r->errors)
        return resp_validation(r);
    v[0] = id;
    v[1] = cursor;
    v[2] = arena_printf(r->arena, "%ld", limit + 1);
    if ((res = db_exec(&r->tx, &stmts[ST_VERSIONS], 3, v)) == NULL)
        return dbreply_error(r);
    if (PQntuples(res) == 0) {
        PGresult *p = db_exec(&r->tx, &stmts[ST_VERSION_OF], 1, v);

        if (p == NULL)
            return dbreply_error(r);
        if (PQntuples(p) == 0)
            return resp_problem(r, 404, "No such prompt.");
    }
    if (PQntuples(res) > limit)
        next = arena_strdup(r->arena, PQgetvalue(res, (int)limit - 1, 1));
    return dbreply_list(r, res, limit, next);
}

/* GET /api/v1/prompts/{id}/versions/{version} -> 200 | 400 | 404 */
static int version_get(req_t *r)
{
    const char *v[2] = {req_param(r, "id"), version_param_or_reply(r)};

    if (v[1] == NULL)
        return r->status;
    return dbreply_object(r, db_exec(&r->tx, &stmts[ST_VERSION], 2, v), "No such prompt version.");
}

/* POST /api/v1/prompts/{id}/versions/{version}/restore [If-Match]
 *   -> 200 prompt (a new version) + ETag | 400 | 404 | 412 */
static int version_restore(req_t *r)
{
    const char *id = req_param(r, "id");
    const char *v[3] = {id, version_param_or_reply(r), if_match_tags(r)};
    PGresult *res;

    if (v[1] == NULL)
        return r->status;
    if ((res = db_exec(&r->tx, &stmts[ST_RESTORE], 3, v)) == NULL)
        return dbreply_error(r);
    if (PQntuples(res) == 1)
        return prompt_reply(r, 200, res);
    if ((res = db_exec(&r->tx, &stmts[ST_VERSION], 2, v)) == NULL)
        return dbreply_error(r);
    if (PQntuples(res) == 0)
        return resp_problem(r, 404, "No such prompt version.");
    return missing_or_precondition(r, id, 2);
}

/* DELETE /api/v1/prompts/{id}/versions/{version} -> 204 | 403 (below
 *   admin) | 404.  The newest version deleted, the prompt goes back to the
 *   one before; the only one deleted, the prompt goes. */
static int version_delete(req_t *r)
{
    const char *v[2] = {req_param(r, "id"), version_param_or_reply(r)};

    if (v[1] == NULL)
        return r->status;
    if (db_exec(&r->tx, &stmts[ST_VERSION_DELETE], 2, v) == NULL)
        return dbreply_error(r);
    return resp_empty(r, 204);
}

static const route_t routes[] = {
    /* first: a name may look like another route's path ("x/versions") */
    {"GET", "/api/v1/prompts/by-name/{name:path}", prompt_by_name,
     R_DB | R_READONLY, CRED_SESSION | CRED_APIKEY, "prompts:read"},
    {"GET", "/api/v1/prompts", prompt_list,
     R_DB | R_READONLY, CRED_SESSION | CRED_APIKEY, "prompts:read"},
    {"POST", "/api/v1/prompts", prompt_create,
     R_JSON | R_DB | R_IDEMPOTENT, CRED_SESSION | CRED_APIKEY, "prompts:write"},
    {"GET", "/api/v1/prompts/{id:uuid}", prompt_get,
     R_DB | R_READONLY, CRED_SESSION | CRED_APIKEY, "prompts:read"},
    {"PATCH", "/api/v1/prompts/{id:uuid}", prompt_update,
     R_JSON | R_DB, CRED_SESSION | CRED_APIKEY, "prompts:write"},
    {"DELETE", "/api/v1/prompts/{id:uuid}", prompt_delete,
     R_DB, CRED_SESSION | CRED_APIKEY, "prompts:write"},
    {"GET", "/api/v1/prompts/{id:uuid}/versions", version_list,
     R_DB | R_READONLY, CRED_SESSION | CRED_APIKEY, "prompts:read"},
    {"GET", "/api/v1/prompts/{id:uuid}/versions/{version}", version_get,
     R_DB | R_READONLY, CRED_SESSION | CRED_APIKEY, "prompts:read"},
    {"DELETE", "/api/v1/prompts/{id:uuid}/versions/{version}", version_delete,
     R_DB, CRED_SESSION | CRED_APIKEY, "prompts:write"},
    {"POST", "/api/v1/prompts/{id:uuid}/versions/{version}/restore", version_restore,
     R_DB | R_IDEMPOTENT, CRED_SESSION | CRED_APIKEY, "prompts:write"},
    {"GET", "/api/v1/prompts/{id:uuid}/diff", prompt_diff,
     R_DB | R_READONLY, CRED_SESSION | CRED_APIKEY, "prompts:read"},
    {"POST", "/api/v1/prompts/{id:uuid}/render", prompt_render,
     R_JSON | R_DB, CRED_SESSION | CRED_APIKEY, "prompts:read"},
    {"GET", "/api/v1/prompts/{id:uuid}/labels", label_list,
     R_DB | R_READONLY, CRED_SESSION | CRED_APIKEY, "prompts:read"},
    {"PUT", "/api/v1/prompts/{id:uuid}/labels/{label}", label_set,
     R_JSON | R_DB, CRED_SESSION | CRED_APIKEY, "prompts:write"},
    {"DELETE", "/api/v1/prompts/{id:uuid}/labels/{label}", label_delete,
     R_DB, CRED_SESSION | CRED_APIKEY, "prompts:write"},
    {"GET", "/api/v1/prompts/{id:uuid}/labels/{label}/history", label_history,
     R_DB | R_READONLY, CRED_SESSION | CRED_APIKEY, "prompts:read"},
    {"POST", "/api/v1/prompts/{id:uuid}/change-requests", change_request_open,
     R_JSON | R_DB, CRED_SESSION | CRED_APIKEY, "prompts:write"},
    {"POST", "/api/v1/prompts/{id:uuid}/change-requests/{cr_id:uuid}/approve",
     change_request_approve, R_DB, CRED_SESSION, NULL},
    {"POST", "/api/v1/prompts/{id:uuid}/change-requests/{cr_id:uuid}/reject",
     change_request_reject, R_DB, CRED_SESSION, NULL},
    /* Langfuse's prompt API: its clients send an API key as Basic auth */
    {"GET", "/api/public/v2/prompts", langfuse_list,
     R_DB | R_READONLY, CRED_APIKEY, "prompts:read"},
    {"POST", "/api/public/v2/prompts", langfuse_create,
     R_JSON | R_DB, CRED_APIKEY, "prompts:write"},
    {"GET", "/api/public/v2/prompts/{name:path}", langfuse_get,
     R_DB | R_READONLY, CRED_APIKEY, "prompts:read"},
    {"PATCH", "/api/public/v2/prompts/{name:path}", langfuse_update,
     R_JSON | R_DB, CRED_APIKEY, "prompts:write"},
    {"DELETE", "/api/public/v2/prompts/{name:path}", langfuse_delete,
     R_DB, CRED_APIKEY, "prompts:write"},
};

int main(int argc, char **argv)
{
    static const db_stmt_t *const tables[] = {stmts, labels_stmts, render_stmts, diff_stmts, langfuse_stmts, NULL};
    static const family_t family = {
        "prompts", routes, sizeof(routes) / sizeof(routes[0]), tables, NULL};

    if (argc < 2 && !prompts_settings_load(&prompts_settings))
        return 1;
    return server_main(argc, argv, &family);
}
