/* storage.c: the storage family (/storage/v1, Supabase Storage's API): its route table, error dialect, names, and the buckets (create, list, get, update, empty, delete). */
#include "storage.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/json.h"
#include "http/dbreply.h"
#include "http/quota.h"
#include "http/response.h"
#include "http/server.h"
#include "storage/blob.h"

const storage_settings_t *storage_cfg;

#define MIME_TYPES_MAX 50
#define BUCKET_JSON \
    "json_build_object('id', b.id, 'name', b.name, 'owner', coalesce(b.owner::text, ''), " \
    "'public', coalesce(b.public, false), 'type', 'STANDARD', " \
    "'file_size_limit', b.file_size_limit, 'allowed_mime_types', b.allowed_mime_types, " \
    "'created_at', b.created_at, 'updated_at', b.updated_at)"

enum { ST_INSERT, ST_LIST, ST_GET, ST_UPDATE, ST_EMPTY, ST_DELETE, ST_COUNT };

const db_stmt_t storage_bucket_stmts[] = {
    /* $1 id, $2 public, $3 file_size_limit, $4 allowed (JSON array) */
    [ST_INSERT] = {"storage_bucket_insert",
        "insert into storage.buckets (id, name, owner, owner_id, public, file_size_limit, "
        "allowed_mime_types) values ($1, $1, auth.uid(), auth.uid()::text, "
        "coalesce($2::boolean, false), $3::bigint, "
        "case when $4::jsonb is null then null "
        "else array(select jsonb_array_elements_text($4::jsonb)) end) returning id"},
    /* $1 limit, $2 offset, $3 search ('' any), $4 sort column, $5 order */
    [ST_LIST] = {"storage_bucket_list",
        "select coalesce(json_agg(x.j order by x.n), '[]'::json) from ("
        "select " BUCKET_JSON " as j, row_number() over (order by "
        "case when $5 = 'desc' then null else case $4 when 'created_at' then b.created_at::text "
        "when 'updated_at' then b.updated_at::text else b.name end end asc, "
        "case when $5 = 'desc' then case $4 when 'created_at' then b.created_at::text "
        "when 'updated_at' then b.updated_at::text else b.name end end desc, b.id) as n "
        "from storage.buckets b where $3 = '' or strpos(lower(b.name), lower($3)) > 0 "
        "order by n limit $1::int offset $2::int) x"},
    [ST_GET] = {"storage_bucket_get",
        "select " BUCKET_JSON ", coalesce(b.public, false), coalesce(b.file_size_limit, 0), "
        "coalesce(array_to_json(b.allowed_mime_types), '[]'::json) "
        "from storage.buckets b where b.id = $1"},
    /* $1 id, $2 public, $3 limit given?, $4 limit, $5 types given?, $6 types */
    [ST_UPDATE] = {"storage_bucket_update",
        "update storage.buckets b set public = coalesce($2::boolean, b.public), "
        "file_size_limit = case when $3::boolean then $4::bigint else b.file_size_limit end, "
        "allowed_mime_types = case when not $5::boolean then b.allowed_mime_types "
        "when $6::jsonb is null then null "
        "else array(select jsonb_array_elements_text($6::jsonb)) end, "
        "updated_at = now() where b.id = $1 returning b.id"},
    [ST_EMPTY] = {"storage_bucket_empty",
        "with d as (delete from storage.objects o where o.bucket_id = $1 returning 1) "
        "select count(*) from d"},
    [ST_DELETE] = {"storage_bucket_delete",
        "delete from storage.buckets b where b.id = $1 returning b.id"},
    [ST_COUNT] = {"storage_bucket_count",
        "select exists (select 1 from storage.objects o where o.bucket_id = $1)"},
    {NULL, NULL},
};

/* ---------------------------------------------------------------- dialect */

/* Add Supabase Storage's members to the problem+json just recorded. */
static int dialect(req_t *r, const char *error)
{
    cJSON *p = r->resp_body ? json_own(r->arena, cJSON_Parse(r->resp_body)) : NULL;
    const cJSON *detail = cJSON_GetObjectItemCaseSensitive(p, "detail");
    const char *s;

    if (!cJSON_IsObject(p))
        return r->status;
    if (error == NULL)
        error = r->status == 404 ? "not_found" : r->status == 409 ? "Duplicate" :
                r->status == 401 ? "Unauthorized" : r->status == 403 ? "Unauthorized" :
                r->status == 413 ? "Payload too large" : r->status == 422 ? "invalid_request" :
                r->status >= 500 ? "internal" : "InvalidRequest";
    cJSON_AddStringToObject(p, "statusCode", arena_printf(r->arena, "%d", r->status));
    cJSON_AddStringToObject(p, "error", error);
    cJSON_AddStringToObject(p, "message", cJSON_IsString(detail) ? detail->valuestring : "");
    s = json_print(r->arena, p);
    r->resp_body = s;
    r->resp_len = strlen(s);
    return r->status;
}

int storage_error(req_t *r, int status, const char *error, const char *message)
{
    resp_problem(r, status, message);
    return dialect(r, error);
}

int storage_db_error(req_t *r)
{
    bool quota = r->tx.sqlstate && quota_is_refusal(r->tx.sqlstate);

    dbreply_error(r);
    return dialect(r, quota ? "QuotaExceeded" : NULL);
}

int storage_media_unavailable(req_t *r)
{
    resp_header(r, "Retry-After", "1");
    return storage_error(r, 503, "ServiceUnavailable",
                         "The media service (promptd-media) did not answer; try again.");
}

int storage_invalid(req_t *r)
{
    resp_validation(r);
    return dialect(r, "invalid_request");
}

int storage_problem(req_t *r, int status, const char *code, const char *detail)
{
    (void)status;
    (void)code;
    (void)detail;
    return dialect(r, NULL);
}

/* ------------------------------------------------------------------ names */

/* Route words a bucket may not be called: the paths would be ambiguous. */
static const char *const reserved[] = {
    "public", "authenticated", "sign", "upload", "info", "list", "list-v2", "move", "copy",
    "render", NULL};

bool storage_bucket_id_or_reply(req_t *r, const char *id)
{
    size_t n = id ? strlen(id) : 0;

    if (n == 0 || n > STORAGE_BUCKET_MAX || isspace((unsigned char)id[0]) ||
        isspace((unsigned char)id[n - 1]) ||
        strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                   "_!.*'() &$@=;:+,?-") != n || strcmp(id, ".") == 0 || strcmp(id, "..") == 0) {
        storage_error(r, 400, "InvalidBucketName",
                      "The bucket id must be 1 to 100 letters, digits or _!.*'() &$@=;:+,?- "
                      "without leading or trailing spaces.");
        return false;
    }
    for (const char *const *w = reserved; *w; w++)
        if (strcmp(id, *w) == 0) {
            storage_error(r, 400, "InvalidBucketName",
                          arena_printf(r->arena, "'%s' is reserved: it names a route.", id));
            return false;
        }
    return true;
}

bool storage_bucket_or_reply(req_t *r, const char *id, storage_bucket_t *b)
{
    const char *v[1] = {id};
    PGresult *res;
    cJSON *types;
    int i = 0;

    if (!storage_bucket_id_or_reply(r, id))
        return false;
    if ((res = db_exec(&r->tx, &storage_bucket_stmts[ST_GET], 1, v)) == NULL) {
        storage_db_error(r);
        return false;
    }
    if (PQntuples(res) != 1) {
        storage_error(r, 404, "Bucket not found", "Bucket not found");
        return false;
    }
    memset(b, 0, sizeof *b);
    b->id = id;
    b->is_public = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    b->file_size_limit = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    types = json_own(r->arena, cJSON_Parse(PQgetvalue(res, 0, 3)));
    b->allowed = arena_alloc(r->arena, sizeof(char *) * (size_t)(cJSON_GetArraySize(types) + 1));
    for (cJSON *t = types ? types->child : NULL; t; t = t->next)
        if (cJSON_IsString(t))
            b->allowed[i++] = t->valuestring;
    b->nallowed = i;
    return true;
}

/* Does the percent-decoded raw request path hold a dot segment or a NUL?
 * nginx resolves "/a/../b" before the router sees the path; the client
 * meant a name with "..", which is refused rather than reinterpreted. */
static bool raw_path_suspicious(req_t *r)
{
    const char *raw = FCGX_GetParam("REQUEST_URI", r->fcgx->envp);
    const char *q, *p;
    char *dec;
    size_t n, i, j = 0;

    if (raw == NULL)
        return false;
    n = (q = strchr(raw, '?')) ? (size_t)(q - raw) : strlen(raw);
    dec = arena_alloc(r->arena, n + 1);
    for (i = 0; i < n; i++) {
        if (raw[i] == '%' && i + 2 < n + 1 && isxdigit((unsigned char)raw[i + 1]) &&
            isxdigit((unsigned char)raw[i + 2])) {
            char h[3] = {raw[i + 1], raw[i + 2], 0};

            dec[j] = (char)strtol(h, NULL, 16);
            if (dec[j] == '\0')
                return true;
            j++;
            i += 2;
        } else {
            dec[j++] = raw[i];
        }
    }
    dec[j] = '\0';
    for (p = dec; (p = strchr(p, '/')) != NULL; p++)
        if ((p[1] == '.' && (p[2] == '/' || p[2] == '\0')) ||
            (p[1] == '.' && p[2] == '.' && (p[3] == '/' || p[3] == '\0')))
            return true;
    return false;
}

bool storage_name_or_reply(req_t *r, const char *name)
{
    const char *why = NULL;
    size_t n = name ? strlen(name) : 0;

    if (n == 0)
        why = "The object name is empty.";
    else if (n > STORAGE_NAME_MAX)
        why = "The object name is longer than 1024 bytes.";
    else if (!utf8_valid(name, n))
        why = "The object name is not valid UTF-8.";
    else if (name[0] == '/' || strstr(name, "//") || name[n - 1] == '/')
        why = "The object name has an empty path segment.";
    else if (raw_path_suspicious(r))
        why = "The object name has a '.' or '..' segment or a NUL.";
    for (size_t i = 0; why == NULL && i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            why = "The object name has a control character.";
    if (why == NULL) {
        char *copy = arena_strdup(r->arena, name), *seg, *save = NULL;

        for (seg = strtok_r(copy, "/", &save); seg; seg = strtok_r(NULL, "/", &save))
            if (strcmp(seg, ".") == 0 || strcmp(seg, "..") == 0)
                why = "The object name has a '.' or '..' segment.";
    }
    if (why != NULL)
        storage_error(r, 400, "InvalidKey", why);
    return why == NULL;
}

const char *storage_path_name(req_t *r)
{
    return req_param(r, "path");
}

/* -------------------------------------------------------------- buckets */

/* 200 {key: value}: Supabase's answers to bucket changes. */
static int message(req_t *r, const char *key, const char *value)
{
    cJSON *o = json_own(r->arena, cJSON_CreateObject());

    cJSON_AddStringToObject(o, key, value);
    return resp_json(r, 200, o);
}

/* file_size_limit: a number of bytes, a string "<n>", "<n>B|KB|MB|GB", or
 * null (none).  Records a field error and returns false when bad. */
static bool size_limit(req_t *r, const cJSON *v, const char **out)
{
    long long n = -1;

    if (v == NULL || cJSON_IsNull(v)) {
        *out = NULL;
        return true;
    }
    if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 1e15 &&
        v->valuedouble == (double)(long long)v->valuedouble)
        n = (long long)v->valuedouble;
    else if (cJSON_IsString(v)) {
        char *end;
        long long mult = 1;

        errno = 0;
        n = strtoll(v->valuestring, &end, 10);
        while (*end == ' ')
            end++;
        if (strcasecmp(end, "KB") == 0)
            mult = 1000;
        else if (strcasecmp(end, "MB") == 0)
            mult = 1000 * 1000;
        else if (strcasecmp(end, "GB") == 0)
            mult = 1000LL * 1000 * 1000;
        else if (*end != '\0' && strcasecmp(end, "B") != 0)
            n = -1;
        if (errno || end == v->valuestring || n < 0 || n > 1000000000000LL)
            n = -1;
        else
            n *= mult;
    }
    if (n < 0) {
        req_field_error(r, "file_size_limit", "must be a number of bytes or a size like \"5MB\"");
        return false;
    }
    if (n > storage_cfg->max_file) {
        req_field_error(r, "file_size_limit", "must be at most the server's limit, %lld bytes",
                        storage_cfg->max_file);
        return false;
    }
    *out = n == 0 ? NULL : arena_printf(r->arena, "%lld", n);
    return true;
}

/* allowed_mime_types: null, or up to MIME_TYPES_MAX "type/subtype" or
 * "type/ *" (a wildcard subtype) strings.  JSON text into *out (NULL for null). */
static bool mime_types(req_t *r, const cJSON *v, const char **out)
{
    const cJSON *t;

    *out = NULL;
    if (v == NULL || cJSON_IsNull(v))
        return true;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > MIME_TYPES_MAX) {
        req_field_error(r, "allowed_mime_types", "must be an array of at most %d MIME types",
                        MIME_TYPES_MAX);
        return false;
    }
    cJSON_ArrayForEach(t, v) {
        const char *s = cJSON_IsString(t) ? t->valuestring : NULL, *slash;

        if (s == NULL || strlen(s) > 255 || (slash = strchr(s, '/')) == NULL || slash == s ||
            slash[1] == '\0' || strchr(slash + 1, '/') ||
            strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                      "!#$&^_.+-/*") != strlen(s)) {
            req_field_error(r, "allowed_mime_types", "must hold MIME types such as "
                            "\"image/png\" or \"image/*\"");
            return false;
        }
    }
    *out = json_print(r->arena, v);
    return true;
}

/* POST /storage/v1/bucket {id|name, public?, file_size_limit?, allowed_mime_types?}
 *   -> 200 {name} | 400 | 409 | 422 */
static int bucket_create(req_t *r)
{
    static const char *const allowed[] = {"id", "name", "public", "type", "file_size_limit",
                                          "allowed_mime_types", NULL};
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(r->json, "id");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(r->json, "name");
    const cJSON *pub = cJSON_GetObjectItemCaseSensitive(r->json, "public");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(r->json, "type");
    const char *v[4] = {NULL, NULL, NULL, NULL};
    PGresult *res;

    req_reject_unknown(r, r->json, allowed);
    if (id == NULL || cJSON_IsNull(id))
        id = name;
    if (!cJSON_IsString(id))
        req_field_error(r, "id", "must be a string (the bucket's id and name)");
    else if (cJSON_IsString(name) && strcmp(name->valuestring, id->valuestring) != 0)
        req_field_error(r, "name", "must equal id");
    if (pub && !cJSON_IsNull(pub) && !cJSON_IsBool(pub))
        req_field_error(r, "public", "must be a boolean");
    if (type && !cJSON_IsNull(type) && !(cJSON_IsString(type) &&
                                         strcmp(type->valuestring, "STANDARD") == 0))
        req_field_error(r, "type", "must be \"STANDARD\"");
    size_limit(r, cJSON_GetObjectItemCaseSensitive(r->json, "file_size_limit"), &v[2]);
    mime_types(r, cJSON_GetObjectItemCaseSensitive(r->json, "allowed_mime_types"), &v[3]);
    if (r->errors)
        return storage_invalid(r);
    if (!storage_bucket_id_or_reply(r, id->valuestring))
        return r->status;
    v[0] = id->valuestring;
    v[1] = cJSON_IsBool(pub) ? (cJSON_IsTrue(pub) ? "true" : "false") : NULL;
    if ((res = db_exec(&r->tx, &storage_bucket_stmts[ST_INSERT], 4, v)) == NULL) {
        if (r->tx.sqlstate && strcmp(r->tx.sqlstate, "23505") == 0)
            return storage_error(r, 409, "Duplicate", "The resource already exists");
        return storage_db_error(r);
    }
    return message(r, "name", id->valuestring);
}

/* GET /storage/v1/bucket?limit=&offset=&search=&sortColumn=&sortOrder=
 *   -> 200 [bucket...] (the caller's) */
static int bucket_list(req_t *r)
{
    const char *col = req_query(r, "sortColumn"), *ord = req_query(r, "sortOrder");
    const char *v[5];
    long limit = req_query_int(r, "limit", 1000, 1000);
    long offset = 0;
    const char *off = req_query(r, "offset");
    PGresult *res;

    if (off && (!str_to_long(off, 0, 1000000, &offset)))
        req_field_error(r, "offset", "must be an integer from 0 to 1000000");
    if (col && strcmp(col, "id") != 0 && strcmp(col, "name") != 0 &&
        strcmp(col, "created_at") != 0 && strcmp(col, "updated_at") != 0)
        req_field_error(r, "sortColumn", "must be id, name, created_at or updated_at");
    if (ord && strcmp(ord, "asc") != 0 && strcmp(ord, "desc") != 0)
        req_field_error(r, "sortOrder", "must be asc or desc");
    if (r->errors)
        return storage_invalid(r);
    v[0] = arena_printf(r->arena, "%ld", limit);
    v[1] = arena_printf(r->arena, "%ld", offset);
    v[2] = req_query(r, "search") ? req_query(r, "search") : "";
    v[3] = col ? col : "name";
    v[4] = ord ? ord : "asc";
    if ((res = db_exec(&r->tx, &storage_bucket_stmts[ST_LIST], 5, v)) == NULL)
        return storage_db_error(r);
    return resp_json_text(r, 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

/* GET /storage/v1/bucket/{id} -> 200 bucket | 404 */
static int bucket_get(req_t *r)
{
    const char *v[1] = {req_param(r, "id")};
    PGresult *res;

    if (!storage_bucket_id_or_reply(r, v[0]))
        return r->status;
    if ((res = db_exec(&r->tx, &storage_bucket_stmts[ST_GET], 1, v)) == NULL)
        return storage_db_error(r);
    if (PQntuples(res) != 1)
        return storage_error(r, 404, "Bucket not found", "Bucket not found");
    return resp_json_text(r, 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

/* PUT /storage/v1/bucket/{id} {public?, file_size_limit?, allowed_mime_types?}
 *   -> 200 {message} | 404 | 422 */
static int bucket_update(req_t *r)
{
    static const char *const allowed[] = {"id", "name", "public", "type", "file_size_limit",
                                          "allowed_mime_types", NULL};
    const cJSON *pub = cJSON_GetObjectItemCaseSensitive(r->json, "public");
    const cJSON *lim = cJSON_GetObjectItemCaseSensitive(r->json, "file_size_limit");
    const cJSON *types = cJSON_GetObjectItemCaseSensitive(r->json, "allowed_mime_types");
    const char *v[6] = {req_param(r, "id"), NULL, lim ? "true" : "false", NULL,
                        types ? "true" : "false", NULL};
    PGresult *res;

    if (!storage_bucket_id_or_reply(r, v[0]))
        return r->status;
    req_reject_unknown(r, r->json, allowed);
    if (pub && !cJSON_IsNull(pub) && !cJSON_IsBool(pub))
        req_field_error(r, "public", "must be a boolean");
    size_limit(r, lim, &v[3]);
    mime_types(r, types, &v[5]);
    if (r->errors)
        return storage_invalid(r);
    v[1] = cJSON_IsBool(pub) ? (cJSON_IsTrue(pub) ? "true" : "false") : NULL;
    if ((res = db_exec(&r->tx, &storage_bucket_stmts[ST_UPDATE], 6, v)) == NULL)
        return storage_db_error(r);
    if (PQntuples(res) != 1)
        return storage_error(r, 404, "Bucket not found", "Bucket not found");
    return message(r, "message", "Successfully updated");
}

/* POST /storage/v1/bucket/{id}/empty -> 200 {message} | 404 */
static int bucket_empty(req_t *r)
{
    const char *v[1] = {req_param(r, "id")};
    storage_bucket_t b;

    if (!storage_bucket_or_reply(r, v[0], &b))
        return r->status;
    if (db_exec(&r->tx, &storage_bucket_stmts[ST_EMPTY], 1, v) == NULL)
        return storage_db_error(r);
    return message(r, "message", "Successfully emptied");
}

/* DELETE /storage/v1/bucket/{id} -> 200 {message} | 404 | 409 (not empty) */
static int bucket_delete(req_t *r)
{
    const char *v[1] = {req_param(r, "id")};
    storage_bucket_t b;
    PGresult *res;

    if (!storage_bucket_or_reply(r, v[0], &b))
        return r->status;
    if ((res = db_exec(&r->tx, &storage_bucket_stmts[ST_COUNT], 1, v)) == NULL)
        return storage_db_error(r);
    if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
        return storage_error(r, 409, "InvalidRequest",
                             "The bucket you tried to delete is not empty");
    if ((res = db_exec(&r->tx, &storage_bucket_stmts[ST_DELETE], 1, v)) == NULL)
        return storage_db_error(r);
    if (PQntuples(res) != 1)
        return storage_error(r, 404, "Bucket not found", "Bucket not found");
    return message(r, "message", "Successfully deleted");
}

/* ------------------------------------------------------------------ table */

#define CREDS (CRED_SESSION | CRED_APIKEY)
#define ANYONE CRED_NONE
#define BUCKET_PATH "/storage/v1/object/{bucket}/{path:path}"

static const route_t routes[] = {
    {"GET", "/storage/v1/bucket", bucket_list, R_DB | R_READONLY, CREDS, STORAGE_SCOPE},
    {"POST", "/storage/v1/bucket", bucket_create, R_JSON | R_DB, CREDS, STORAGE_SCOPE},
    {"GET", "/storage/v1/bucket/{id}", bucket_get, R_DB | R_READONLY, CREDS, STORAGE_SCOPE},
    {"PUT", "/storage/v1/bucket/{id}", bucket_update, R_JSON | R_DB, CREDS, STORAGE_SCOPE},
    {"DELETE", "/storage/v1/bucket/{id}", bucket_delete, R_DB, CREDS, STORAGE_SCOPE},
    {"POST", "/storage/v1/bucket/{id}/empty", bucket_empty, R_DB, CREDS, STORAGE_SCOPE},

    {"GET", "/storage/v1/object/public/{bucket}/{path:path}", storage_download_public,
     R_DB | R_READONLY, ANYONE, NULL},
    {"GET", "/storage/v1/object/sign/{bucket}/{path:path}", storage_download_signed,
     R_DB | R_READONLY, ANYONE, NULL},
    {"POST", "/storage/v1/object/sign/{bucket}/{path:path}", storage_sign_one, R_JSON | R_DB,
     CREDS, STORAGE_SCOPE},
    {"DELETE", "/storage/v1/object/sign/{bucket}/{path:path}", storage_revoke, R_DB,
     CREDS, STORAGE_SCOPE},
    {"POST", "/storage/v1/object/sign/{bucket}", storage_sign_many, R_JSON | R_DB,
     CREDS, STORAGE_SCOPE},
    {"POST", "/storage/v1/object/upload/sign/{bucket}/{path:path}", storage_sign_upload,
     R_DB, CREDS, STORAGE_SCOPE},
    {"PUT", "/storage/v1/object/upload/sign/{bucket}/{path:path}", storage_upload_signed,
     R_DB | R_BODY_STREAM, ANYONE, NULL},
    {"GET", "/storage/v1/object/authenticated/{bucket}/{path:path}", storage_download,
     R_DB | R_READONLY, CREDS, STORAGE_SCOPE},
    {"GET", "/storage/v1/object/info/public/{bucket}/{path:path}", storage_info,
     R_DB | R_READONLY, ANYONE, NULL},
    {"GET", "/storage/v1/object/info/authenticated/{bucket}/{path:path}", storage_info,
     R_DB | R_READONLY, CREDS, STORAGE_SCOPE},
    {"GET", "/storage/v1/object/info/{bucket}/{path:path}", storage_info,
     R_DB | R_READONLY, CREDS, STORAGE_SCOPE},
    {"POST", "/storage/v1/object/list/{bucket}", storage_list, R_JSON | R_DB | R_READONLY,
     CREDS, STORAGE_SCOPE},
    {"POST", "/storage/v1/object/move", storage_move, R_JSON | R_DB, CREDS, STORAGE_SCOPE},
    {"POST", "/storage/v1/object/copy", storage_copy, R_JSON | R_DB, CREDS, STORAGE_SCOPE},
    {"POST", BUCKET_PATH, storage_upload, R_DB | R_BODY_STREAM, CREDS, STORAGE_SCOPE},
    {"PUT", BUCKET_PATH, storage_update, R_DB | R_BODY_STREAM, CREDS, STORAGE_SCOPE},
    {"GET", BUCKET_PATH, storage_download, R_DB | R_READONLY, CREDS, STORAGE_SCOPE},
    {"DELETE", "/storage/v1/object/{bucket}", storage_remove, R_JSON | R_DB,
     CREDS, STORAGE_SCOPE},

    {"GET", "/storage/v1/render/image/public/{bucket}/{path:path}", storage_render_public,
     R_DB | R_READONLY, ANYONE, NULL},
    {"GET", "/storage/v1/render/image/sign/{bucket}/{path:path}", storage_render_signed,
     R_DB | R_READONLY, ANYONE, NULL},
    {"GET", "/storage/v1/render/image/authenticated/{bucket}/{path:path}", storage_render,
     R_DB | R_READONLY, CREDS, STORAGE_SCOPE},
};

int main(int argc, char **argv)
{
    static const db_stmt_t *const tables[] = {
        storage_bucket_stmts, storage_object_stmts, storage_serve_stmts, storage_blob_stmts,
        NULL};
    static const family_t family = {
        "storage", routes, sizeof(routes) / sizeof(routes[0]), tables, storage_problem};

    /* libmagic and libvips run in promptd-media (storage/media.h): a
     * worker that moves bytes maps neither */
    if ((storage_cfg = storage_settings()) == NULL)
        return 1;
    return server_main(argc, argv, &family);
}
