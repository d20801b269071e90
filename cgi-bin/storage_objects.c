/* storage_objects.c: the storage family's objects: upload (raw or multipart, upsert), update, upload through a signed URL, info, list, move, copy, remove. */
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "core/json.h"
#include "core/log.h"
#include "crypto/b64url.h"
#include "http/response.h"
#include "storage.h"
#include "storage/blob.h"
#include "storage/multipart.h"
#include "storage/sniff.h"
#include "storage/token.h"

#define FIELD_MAX 8192          /* a multipart form field other than the file */
#define MULTIPART_SLACK 65536   /* a form's bytes besides the file */
#define LIST_MAX 1000
#define REMOVE_MAX 1000

#define OBJECT_META \
    "jsonb_build_object('eTag', '\"' || $3::text || '\"', 'size', $4::bigint, " \
    "'mimetype', $5::text, 'cacheControl', $6::text, 'lastModified', now(), " \
    "'contentLength', $4::bigint, " \
    "'httpStatusCode', 200)"

enum { ST_EXISTS, ST_RESERVE, ST_SETTLE, ST_PUT, ST_REPLACE, ST_INFO, ST_PUBLIC_INFO, ST_LIST,
       ST_MOVE,
       ST_COPY_SIZE, ST_COPY, ST_REMOVE };

const db_stmt_t storage_object_stmts[] = {
    [ST_EXISTS] = {"storage_object_exists",
        "select exists (select 1 from storage.objects o where o.bucket_id = $1 and o.name = $2)"},
    [ST_RESERVE] = {"storage_reserve", "select promptd.storage_reserve($1::bigint)"},
    [ST_SETTLE] = {"storage_settle", "select promptd.storage_settle($1::uuid)"},
    /* $1 bucket, $2 name, $3 sha256 hex, $4 size, $5 type, $6 cache control,
     * $7 user metadata, $8 blob, $9 upsert */
    [ST_PUT] = {"storage_object_put",
        "insert into storage.objects as o (bucket_id, name, owner, owner_id, metadata, "
        "user_metadata, blob_id, version) values ($1, $2, auth.uid(), auth.uid()::text, "
        OBJECT_META ", $7::jsonb, $8::bigint, gen_random_uuid()::text) "
        "on conflict (bucket_id, name) do update set owner = excluded.owner, "
        "owner_id = excluded.owner_id, metadata = excluded.metadata, "
        "user_metadata = excluded.user_metadata, blob_id = excluded.blob_id, "
        "version = excluded.version, updated_at = now(), last_accessed_at = now() "
        "where $9::boolean returning o.id"},
    [ST_REPLACE] = {"storage_object_replace",
        "update storage.objects o set metadata = " OBJECT_META ", "
        "user_metadata = coalesce($7::jsonb, o.user_metadata), blob_id = $8::bigint, "
        "version = gen_random_uuid()::text, updated_at = now(), last_accessed_at = now() "
        "where o.bucket_id = $1 and o.name = $2 and $9::text is not null returning o.id"},
    [ST_INFO] = {"storage_object_info",
        "select json_build_object('id', o.id, 'name', o.name, 'version', o.version, "
        "'bucket_id', o.bucket_id, 'size', (o.metadata->>'size')::bigint, "
        "'content_type', o.metadata->>'mimetype', 'cache_control', o.metadata->>'cacheControl', "
        "'etag', o.metadata->>'eTag', 'metadata', coalesce(o.user_metadata, '{}'::jsonb), "
        "'last_modified', o.updated_at, 'created_at', o.created_at) "
        "from storage.objects o where o.bucket_id = $1 and o.name = $2"},
    [ST_PUBLIC_INFO] = {"storage_public_info", "select promptd.storage_public_info($1, $2)"},
    /* $1 bucket, $2 folder prefix ("" or ending in "/"), $3 search, $4 sort
     * column, $5 order, $6 limit, $7 offset: one level, folders as id null */
    [ST_LIST] = {"storage_object_list",
        "with lvl as (select case when strpos(x.rest, '/') > 0 then split_part(x.rest, '/', 1) "
        "else x.rest end as name, strpos(x.rest, '/') > 0 as folder, x.id, x.updated_at, "
        "x.created_at, x.last_accessed_at, x.metadata from (select o.*, "
        "substr(o.name, char_length($2::text) + 1) as rest from storage.objects o "
        "where o.bucket_id = $1 and left(o.name, char_length($2::text)) = $2::text) x where x.rest <> ''), "
        "ent as (select name, null::uuid as id, null::timestamptz as updated_at, "
        "null::timestamptz as created_at, null::timestamptz as last_accessed_at, "
        "null::jsonb as metadata from lvl where folder group by name union all "
        "select name, id, updated_at, created_at, last_accessed_at, metadata from lvl "
        "where not folder) "
        "select coalesce(json_agg(json_build_object('name', e.name, 'id', e.id, "
        "'updated_at', e.updated_at, 'created_at', e.created_at, "
        "'last_accessed_at', e.last_accessed_at, 'metadata', e.metadata) order by e.n), "
        "'[]'::json) from ("
        "select ent.*, row_number() over (order by "
        "case when $4 = 'name' and $5 = 'asc' then ent.name end asc, "
        "case when $4 = 'name' and $5 = 'desc' then ent.name end desc, "
        "case when $5 = 'asc' then case $4 when 'created_at' then ent.created_at "
        "when 'updated_at' then ent.updated_at when 'last_accessed_at' then ent.last_accessed_at "
        "end end asc, case when $5 = 'desc' then case $4 when 'created_at' then ent.created_at "
        "when 'updated_at' then ent.updated_at when 'last_accessed_at' then ent.last_accessed_at "
        "end end desc, ent.name) as n from ent "
        "where $3::text = '' or lower(left(ent.name, char_length($3::text))) = lower($3::text) "
        "order by n limit $6::int offset $7::int) e"},
    /* $1 bucket, $2 from, $3 to bucket, $4 to name */
    [ST_MOVE] = {"storage_object_move",
        "update storage.objects o set bucket_id = $3, name = $4, updated_at = now() "
        "where o.bucket_id = $1 and o.name = $2 returning o.id"},
    [ST_COPY_SIZE] = {"storage_object_copy_size",
        "select coalesce((o.metadata->>'size')::bigint, 0) from storage.objects o "
        "where o.bucket_id = $1 and o.name = $2"},
    [ST_COPY] = {"storage_object_copy",
        "insert into storage.objects (bucket_id, name, owner, owner_id, metadata, "
        "user_metadata, blob_id, version) select $3, $4, auth.uid(), auth.uid()::text, "
        "o.metadata || jsonb_build_object('lastModified', now()), o.user_metadata, o.blob_id, "
        "gen_random_uuid()::text from storage.objects o where o.bucket_id = $1 and o.name = $2 "
        "returning id"},
    /* $1 bucket, $2 names (JSON array) */
    [ST_REMOVE] = {"storage_object_remove",
        "with d as (delete from storage.objects o where o.bucket_id = $1 "
        "and o.name in (select jsonb_array_elements_text($2::jsonb)) returning o.*) "
        "select coalesce(json_agg(json_build_object('bucket_id', d.bucket_id, 'name', d.name, "
        "'id', d.id, 'owner', d.owner, 'updated_at', d.updated_at, 'created_at', d.created_at, "
        "'last_accessed_at', d.last_accessed_at, 'metadata', d.metadata, "
        "'version', d.version)), '[]'::json) from d"},
    {NULL, NULL},
};

/* ------------------------------------------------------------- receiving */

/* One upload as it arrives: the file's writer and what the request says
 * about the file (type claimed, cache control, user metadata). */
typedef struct receive {
    req_t *r;
    storage_writer_t w;
    int wrc;                   /* the writer's first failure */
    const char *claimed;       /* Content-Type the client gave the file */
    const char *cache_control;
    const char *user_metadata; /* JSON object text, or NULL */
    const char *bad;           /* a form field's problem, for the 400 */
    int files;
    bool in_file;
    const char *field;         /* the form field being read */
    strbuf_t value;
} receive_t;

/* "max-age=N" from a cache control the client gave: a bare number (a
 * form's cacheControl) or a header value; NULL when neither. */
static const char *cache_control(arena_t *a, const char *s)
{
    long n;

    if (s == NULL)
        return NULL;
    if (strncasecmp(s, "max-age=", 8) == 0)
        s += 8;
    if (!str_to_long(s, 0, 31536000, &n))
        return NULL;
    return arena_printf(a, "max-age=%ld", n);
}

/* User metadata: a JSON object of at most FIELD_MAX bytes. */
static const char *user_metadata(arena_t *a, const char *json, size_t n)
{
    cJSON *o;

    if (n > FIELD_MAX)
        return NULL;
    o = json_own(a, cJSON_ParseWithLength(json, n));
    return cJSON_IsObject(o) ? json_print(a, o) : NULL;
}

static bool part_begin(void *ctx, const char *name, const char *filename, const char *ctype)
{
    receive_t *rc = ctx;

    rc->in_file = filename != NULL || name[0] == '\0';
    if (rc->in_file) {
        if (++rc->files > 1) {
            rc->bad = "The form has more than one file.";
            return false;
        }
        rc->claimed = ctype ? arena_strdup(rc->r->arena, ctype) : NULL;
        return true;
    }
    rc->field = arena_strdup(rc->r->arena, name);
    strbuf_init(&rc->value, rc->r->arena, 256);
    return true;
}

static bool part_data(void *ctx, const char *p, size_t n)
{
    receive_t *rc = ctx;

    if (rc->in_file)
        return (rc->wrc = storage_writer_write(&rc->w, p, n)) == STORAGE_W_OK;
    if (rc->value.len + n > FIELD_MAX) {
        rc->bad = "A form field is longer than 8192 bytes.";
        return false;
    }
    strbuf_append(&rc->value, p, n);
    return true;
}

static bool part_end(void *ctx)
{
    receive_t *rc = ctx;

    if (rc->in_file || rc->field == NULL)
        return true;
    if (strcmp(rc->field, "cacheControl") == 0 &&
        (rc->cache_control = cache_control(rc->r->arena, rc->value.ptr)) == NULL)
        rc->bad = "cacheControl must be a number of seconds (0 to 31536000).";
    else if (strcmp(rc->field, "metadata") == 0 &&
             (rc->user_metadata = user_metadata(rc->r->arena, rc->value.ptr,
                                                rc->value.len)) == NULL)
        rc->bad = "metadata must be a JSON object of at most 8192 bytes.";
    rc->field = NULL;
    return rc->bad == NULL;
}

/* Feed the whole body to the multipart reader (boundary) or the writer. */
static int read_body(receive_t *rc, const char *boundary)
{
    static const multipart_cb_t cb = {part_begin, part_data, part_end};
    req_t *r = rc->r;
    multipart_t *m = boundary ? multipart_new(r->arena, boundary, &cb, rc) : NULL;
    size_t left = r->body_len;
    char buf[65536];

    while (left > 0) {
        int k = FCGX_GetStr(buf, (int)(left < sizeof buf ? left : sizeof buf), r->fcgx->in);
        int st;

        if (k <= 0)
            return storage_error(r, 400, "InvalidRequest", "The body is shorter than Content-Length.");
        left -= (size_t)k;
        st = m ? multipart_feed(m, buf, (size_t)k)
               : ((rc->wrc = storage_writer_write(&rc->w, buf, (size_t)k)) == STORAGE_W_OK
                  ? MULTIPART_OK : MULTIPART_ABORTED);
        if (st == MULTIPART_ERROR)
            return storage_error(r, 400, "InvalidRequest", arena_printf(r->arena,
                                 "The multipart body is malformed: %s.", multipart_error(m)));
        if (st == MULTIPART_ABORTED)
            break;
    }
    if (rc->wrc == STORAGE_W_OK && rc->bad == NULL && m && left == 0 &&
        multipart_finish(m) != MULTIPART_OK)
        return storage_error(r, 400, "InvalidRequest", arena_printf(r->arena,
                             "The multipart body is malformed: %s.", multipart_error(m)));
    return 0;
}

/* Answer a writer failure; the writer's max is the effective limit. */
static int write_failed(receive_t *rc)
{
    req_t *r = rc->r;

    switch (rc->wrc) {
    case STORAGE_W_TOO_LARGE:
        return storage_error(r, 413, "Payload too large", arena_printf(r->arena,
                             "The object exceeds the maximum allowed size (%lld bytes).",
                             rc->w.max));
    case STORAGE_W_STRIP_LARGE:
        return storage_error(r, 413, "Payload too large", arena_printf(r->arena,
                             "Images whose metadata is removed may be at most %lld bytes.",
                             storage_cfg->strip_max));
    case STORAGE_W_IMAGE:
        return storage_error(r, 422, "InvalidImage",
                             "The image cannot be read (corrupt, or too many pixels).");
    case STORAGE_W_MEDIA:
        return storage_media_unavailable(r);
    default:
        return storage_db_error(r);
    }
}

/* A claimed type that says nothing (the client's default). */
static bool generic_type(const char *t)
{
    return t == NULL || *t == '\0' || strncasecmp(t, "application/octet-stream", 24) == 0 ||
           strncasecmp(t, "text/plain", 10) == 0;
}

/* The type to store: the sniffed one, or a more precise compatible claim
 * (text/csv for text/plain bytes) that a browser would not run; NULL
 * after answering 415 when the claim and the bytes disagree. */
static const char *stored_type(receive_t *rc)
{
    const char *sniffed = rc->w.mime, *claim = rc->claimed;
    char *bare;

    if (generic_type(claim))
        return sniffed;
    bare = arena_strndup(rc->r->arena, claim, strcspn(claim, "; \t"));
    if (!sniff_claim_compatible(bare, sniffed)) {
        storage_error(rc->r, 415, "invalid_mime_type", arena_printf(rc->r->arena,
                      "The content is %s, not %s.", sniffed, bare));
        return NULL;
    }
    if ((strcasecmp(sniffed, "text/plain") == 0 ||
         strcasecmp(sniffed, "application/octet-stream") == 0) && !sniff_active(bare))
        return bare;
    return sniffed;
}

/* x-metadata: base64 of a JSON object (storage-js's raw uploads). */
static bool header_metadata(receive_t *rc)
{
    const char *h = req_header(rc->r, "x-metadata");
    unsigned char *json;
    int n;

    if (h == NULL)
        return true;
    if (strlen(h) > FIELD_MAX * 2) {
        rc->bad = "x-metadata is longer than 8192 bytes.";
        return false;
    }
    json = arena_alloc(rc->r->arena, strlen(h) + 1);
    n = EVP_DecodeBlock(json, (const unsigned char *)h, (int)strlen(h));
    while (n > 0 && json[n - 1] == '\0')
        n--;
    if (n < 0 || (rc->user_metadata = user_metadata(rc->r->arena, (char *)json,
                                                    (size_t)n)) == NULL) {
        rc->bad = "x-metadata must be the base64 of a JSON object.";
        return false;
    }
    return true;
}

bool storage_absent_or_reply(req_t *r, const char *bucket, const char *name)
{
    const char *v[2] = {bucket, name};
    PGresult *res = db_exec(&r->tx, &storage_object_stmts[ST_EXISTS], 2, v);

    if (res == NULL) {
        storage_db_error(r);
        return false;
    }
    if (strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
        storage_error(r, 409, "Duplicate", "The resource already exists");
        return false;
    }
    return true;
}

/* What may be checked before a byte is read: an existing object (create)
 * or a missing one (update), the declared length.  0 to go on. */
static int precheck(req_t *r, const storage_bucket_t *b, const char *name,
                    enum storage_put_mode mode, long long max, bool multipart)
{
    const char *v[2] = {b->id, name};
    PGresult *res;
    bool exists;

    if ((long long)r->body_len > max + (multipart ? MULTIPART_SLACK : 0))
        return storage_error(r, 413, "Payload too large", arena_printf(r->arena,
                             "The object exceeds the maximum allowed size (%lld bytes).", max));
    if (mode == STORAGE_PUT_UPSERT)
        return 0;
    if (mode == STORAGE_PUT_CREATE)
        return storage_absent_or_reply(r, b->id, name) ? 0 : r->status;
    if ((res = db_exec(&r->tx, &storage_object_stmts[ST_EXISTS], 2, v)) == NULL)
        return storage_db_error(r);
    exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    if (!exists)
        return storage_error(r, 404, "not_found", "Object not found");
    return 0;
}

/* Store the object row naming blob (the reservation settled with it). */
static int store(receive_t *rc, const storage_bucket_t *b, const char *name,
                 enum storage_put_mode mode, const char *type, const char *blob,
                 const char *hold)
{
    req_t *r = rc->r;
    const char *v[9] = {b->id, name, rc->w.sha_hex,
                        arena_printf(r->arena, "%lld", rc->w.stored), type,
                        rc->cache_control ? rc->cache_control : "no-cache",
                        rc->user_metadata, blob, mode == STORAGE_PUT_UPSERT ? "true" : "false"};
    const db_stmt_t *st = &storage_object_stmts[mode == STORAGE_PUT_UPDATE ? ST_REPLACE : ST_PUT];
    const char *sv[1] = {hold};
    PGresult *res;
    cJSON *o;

    if ((res = db_exec(&r->tx, st, 9, v)) == NULL)
        return storage_db_error(r);
    if (PQntuples(res) != 1)
        return mode == STORAGE_PUT_UPDATE ? storage_error(r, 404, "not_found", "Object not found")
                                          : storage_error(r, 409, "Duplicate",
                                                          "The resource already exists");
    o = json_own(r->arena, cJSON_CreateObject());
    cJSON_AddStringToObject(o, "Id", PQgetvalue(res, 0, 0));
    cJSON_AddStringToObject(o, "Key", arena_printf(r->arena, "%s/%s", b->id, name));
    if (db_exec(&r->tx, &storage_object_stmts[ST_SETTLE], 1, sv) == NULL)
        return storage_db_error(r);
    return resp_json(r, 200, o);
}

/* Receive, check and store the file under the hold already committed. */
static int receive_held(req_t *r, const storage_bucket_t *b, const char *name,
                        enum storage_put_mode mode, const char *ct, const char *boundary,
                        long long max, const char *hold)
{
    const char *type, *blob;
    receive_t rc;
    int st;

    memset(&rc, 0, sizeof rc);
    rc.r = r;
    rc.claimed = ct;
    rc.cache_control = cache_control(r->arena, req_header(r, "Cache-Control"));
    storage_writer_init(&rc.w, &r->tx, r->arena, storage_cfg, b->id, max);
    if (!header_metadata(&rc))
        return storage_error(r, 400, "InvalidRequest", rc.bad);
    if ((st = read_body(&rc, boundary)) != 0)
        return st;
    if (rc.wrc != STORAGE_W_OK)
        return write_failed(&rc);
    if (rc.bad)
        return storage_error(r, 400, "InvalidRequest", rc.bad);
    if (boundary && rc.files == 0)
        return storage_error(r, 400, "InvalidRequest", "The form has no file.");
    if ((rc.wrc = storage_writer_finish(&rc.w)) != STORAGE_W_OK)
        return write_failed(&rc);
    if ((type = stored_type(&rc)) == NULL)
        return r->status;
    if (!sniff_allowed(type, b->allowed, (size_t)b->nallowed))
        return storage_error(r, 415, "invalid_mime_type", arena_printf(r->arena,
                             "mime type %s is not supported", type));
    if (!storage_writer_seal(&rc.w, &blob))
        return storage_db_error(r);
    return store(&rc, b, name, mode, type, blob, hold);
}

/* End a failed upload's hold now rather than at its expiry: the request's
 * transaction is rolled back first (nothing of the upload stays), the
 * release commits on its own.  A failure is logged; the hold then lapses. */
static void release_hold(req_t *r, const char *hold)
{
    const char *v[1] = {hold};

    db_tx_rollback(&r->tx);
    if (db_exec(&r->tx, &storage_object_stmts[ST_SETTLE], 1, v) == NULL ||
        !db_tx_commit(&r->tx))
        log_warn("storage: releasing upload hold %s failed (%s); it lapses at its expiry", hold,
                 r->tx.sqlstate ? r->tx.sqlstate : "?");
}

int storage_receive(req_t *r, const storage_bucket_t *b, const char *name,
                    enum storage_put_mode mode)
{
    const char *ct = req_header(r, "Content-Type"), *boundary, *hold;
    long long max = storage_cfg->max_file;
    PGresult *res;
    const char *v[1];
    int st;

    if (b->file_size_limit > 0 && b->file_size_limit < max)
        max = b->file_size_limit;
    boundary = ct ? multipart_boundary(r->arena, ct) : NULL;
    if (ct && strncasecmp(ct, "multipart/", 10) == 0 && boundary == NULL)
        return storage_error(r, 400, "InvalidRequest", "The multipart body has no boundary.");
    if ((st = precheck(r, b, name, mode, max, boundary != NULL)) != 0)
        return st;
    /* hold the bytes first, in a transaction of its own */
    v[0] = arena_printf(r->arena, "%zu", r->body_len);
    if ((res = db_exec(&r->tx, &storage_object_stmts[ST_RESERVE], 1, v)) == NULL ||
        !db_tx_commit(&r->tx))
        return storage_db_error(r);
    hold = PQgetvalue(res, 0, 0);
    st = receive_held(r, b, name, mode, boundary ? NULL : ct, boundary, max, hold);
    if (st >= 300)
        release_hold(r, hold);
    return st;
}

/* ---------------------------------------------------------------- routes */

/* POST /storage/v1/object/{bucket}/{path} x-upsert? body: the file (raw,
 *   Content-Type, Cache-Control, x-metadata) or multipart/form-data (a
 *   file part, cacheControl, metadata) -> 200 {Id, Key} | 400 | 404
 *   (bucket) | 409 (exists, no upsert) | 413 | 415 | quota */
int storage_upload(req_t *r)
{
    const char *name = storage_path_name(r), *up = req_header(r, "x-upsert");
    storage_bucket_t b;

    if (!storage_name_or_reply(r, name) || !storage_bucket_or_reply(r, req_param(r, "bucket"), &b))
        return r->status;
    return storage_receive(r, &b, name, up && strcasecmp(up, "true") == 0
                           ? STORAGE_PUT_UPSERT : STORAGE_PUT_CREATE);
}

/* PUT /storage/v1/object/{bucket}/{path} body: the file, as upload
 *   -> 200 {Id, Key} | 404 (no such object) | ... */
int storage_update(req_t *r)
{
    const char *name = storage_path_name(r);
    storage_bucket_t b;

    if (!storage_name_or_reply(r, name) || !storage_bucket_or_reply(r, req_param(r, "bucket"), &b))
        return r->status;
    return storage_receive(r, &b, name, STORAGE_PUT_UPDATE);
}

/* PUT /storage/v1/object/upload/sign/{bucket}/{path}?token= body: the file
 *   -> 200 {Key} | 400 (token: bad, expired, another path) | ...  Runs as
 *   the user who signed the URL, under their policies and quota. */
int storage_upload_signed(req_t *r)
{
    const char *name = storage_path_name(r), *bucket = req_param(r, "bucket");
    cJSON *p = storage_token_open(r->arena, storage_signing_key(), req_query(r, "token"));
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(p, "url");
    const cJSON *sub = cJSON_GetObjectItemCaseSensitive(p, "sub");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(p, "exp");
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(p, "k");
    storage_bucket_t b;
    int st;

    if (!storage_name_or_reply(r, name))
        return r->status;
    if (!cJSON_IsString(url) || !cJSON_IsString(sub) || !cJSON_IsNumber(exp) ||
        !cJSON_IsString(kind) || strcmp(kind->valuestring, "u") != 0 ||
        strcmp(url->valuestring, arena_printf(r->arena, "%s/%s", bucket, name)) != 0)
        return storage_error(r, 400, "InvalidSignature", "The upload token is invalid.");
    if (exp->valuedouble < (double)time(NULL))
        return storage_error(r, 400, "InvalidSignature", "The upload token has expired.");
    db_tx_as_user(&r->tx, sub->valuestring);
    if (!storage_bucket_or_reply(r, bucket, &b))
        return r->status;
    st = storage_receive(r, &b, name, cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "upsert"))
                         ? STORAGE_PUT_UPSERT : STORAGE_PUT_CREATE);
    if (st == 200) {   /* storage-js reads Key only */
        cJSON *o = json_own(r->arena, cJSON_CreateObject());

        cJSON_AddStringToObject(o, "Key", arena_printf(r->arena, "%s/%s", bucket, name));
        return resp_json(r, 200, o);
    }
    return st;
}

/* GET /storage/v1/object/info[/authenticated|/public]/{bucket}/{path}
 *   -> 200 {id, name, version, bucket_id, size, content_type, cache_control,
 *   etag, metadata, last_modified, created_at} | 404 */
int storage_info(req_t *r)
{
    const char *v[2] = {req_param(r, "bucket"), storage_path_name(r)};
    PGresult *res;

    if (!storage_name_or_reply(r, v[1]) || !storage_bucket_id_or_reply(r, v[0]))
        return r->status;
    res = db_exec(&r->tx, &storage_object_stmts[strstr(r->route->pattern, "/info/public/")
                                                ? ST_PUBLIC_INFO : ST_INFO], 2, v);
    if (res == NULL)
        return storage_db_error(r);
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
        return storage_error(r, 404, "not_found", "Object not found");
    return resp_json_text(r, 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

/* A JSON string member of the body, or NULL after recording a field error
 * (required) / when absent (optional). */
static const char *member(req_t *r, const char *name, bool required)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->json, name);

    if (v == NULL || cJSON_IsNull(v)) {
        if (required)
            req_field_error(r, name, "is required");
        return NULL;
    }
    if (!cJSON_IsString(v)) {
        req_field_error(r, name, "must be a string");
        return NULL;
    }
    return v->valuestring;
}

/* POST /storage/v1/object/list/{bucket} {prefix?, limit?, offset?,
 *   sortBy?: {column, order}, search?} -> 200 [{name, id, updated_at,
 *   created_at, last_accessed_at, metadata}] (one level; folders have id
 *   null) | 404 | 422 */
int storage_list(req_t *r)
{
    static const char *const allowed[] = {"prefix", "limit", "offset", "sortBy", "search", NULL};
    const cJSON *sort = cJSON_GetObjectItemCaseSensitive(r->json, "sortBy");
    const char *prefix = member(r, "prefix", false), *search = member(r, "search", false);
    const char *col = "name", *ord = "asc", *v[7];
    long limit = 100, offset = 0;
    storage_bucket_t b;
    PGresult *res;

    req_reject_unknown(r, r->json, allowed);
    req_field_int(r, r->json, "limit", 1, LIST_MAX, &limit);
    req_field_int(r, r->json, "offset", 0, 1000000, &offset);
    if (sort && !cJSON_IsNull(sort)) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(sort, "column");
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(sort, "order");

        if (!cJSON_IsObject(sort))
            req_field_error(r, "sortBy", "must be an object {column, order}");
        if (cJSON_IsString(c) && (strcmp(c->valuestring, "name") == 0 ||
                                  strcmp(c->valuestring, "created_at") == 0 ||
                                  strcmp(c->valuestring, "updated_at") == 0 ||
                                  strcmp(c->valuestring, "last_accessed_at") == 0))
            col = c->valuestring;
        else if (c)
            req_field_error(r, "sortBy.column", "must be name, created_at, updated_at or "
                            "last_accessed_at");
        if (cJSON_IsString(o) && (strcasecmp(o->valuestring, "asc") == 0 ||
                                  strcasecmp(o->valuestring, "desc") == 0))
            ord = strcasecmp(o->valuestring, "desc") == 0 ? "desc" : "asc";
        else if (o)
            req_field_error(r, "sortBy.order", "must be asc or desc");
    }
    if (prefix && strlen(prefix) > STORAGE_NAME_MAX)
        req_field_error(r, "prefix", "must be at most 1024 bytes");
    if (search && strlen(search) > 255)
        req_field_error(r, "search", "must be at most 255 bytes");
    if (r->errors)
        return storage_invalid(r);
    if (!storage_bucket_or_reply(r, req_param(r, "bucket"), &b))
        return r->status;
    prefix = prefix ? prefix : "";
    prefix += strspn(prefix, "/");
    v[0] = b.id;
    v[1] = *prefix == '\0' || prefix[strlen(prefix) - 1] == '/' ? prefix
           : arena_printf(r->arena, "%s/", prefix);
    v[2] = search ? search : "";
    v[3] = col;
    v[4] = ord;
    v[5] = arena_printf(r->arena, "%ld", limit);
    v[6] = arena_printf(r->arena, "%ld", offset);
    if ((res = db_exec(&r->tx, &storage_object_stmts[ST_LIST], 7, v)) == NULL)
        return storage_db_error(r);
    return resp_json_text(r, 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

/* The body of move and copy: {bucketId, sourceKey, destinationKey,
 * destinationBucket?} checked; v[0..3] = from bucket, from name, to
 * bucket, to name.  false after answering. */
static bool relocation_or_reply(req_t *r, const char *v[4], storage_bucket_t *to)
{
    static const char *const allowed[] = {"bucketId", "sourceKey", "destinationKey",
                                          "destinationBucket", NULL};
    storage_bucket_t from;

    req_reject_unknown(r, r->json, allowed);
    v[0] = member(r, "bucketId", true);
    v[1] = member(r, "sourceKey", true);
    v[3] = member(r, "destinationKey", true);
    v[2] = member(r, "destinationBucket", false);
    if (r->errors) {
        storage_invalid(r);
        return false;
    }
    if (v[2] == NULL)
        v[2] = v[0];
    return storage_name_or_reply(r, v[1]) && storage_name_or_reply(r, v[3]) &&
           storage_bucket_or_reply(r, v[0], &from) && storage_bucket_or_reply(r, v[2], to);
}

/* POST /storage/v1/object/move {bucketId, sourceKey, destinationKey,
 *   destinationBucket?} -> 200 {message} | 404 | 409 (destination exists) */
int storage_move(req_t *r)
{
    const char *v[4];
    storage_bucket_t to;
    PGresult *res;

    if (!relocation_or_reply(r, v, &to))
        return r->status;
    if ((res = db_exec(&r->tx, &storage_object_stmts[ST_MOVE], 4, v)) == NULL)
        return storage_db_error(r);
    if (PQntuples(res) != 1)
        return storage_error(r, 404, "not_found", "Object not found");
    return resp_json_text(r, 200, "{\"message\":\"Successfully moved\"}", 32);
}

/* POST /storage/v1/object/copy {bucketId, sourceKey, destinationKey,
 *   destinationBucket?} -> 200 {Id, Key} | 404 | 409 | quota.  The copy
 *   names the same blob (no bytes are copied) and counts towards quota. */
int storage_copy(req_t *r)
{
    const char *v[4], *sv[1];
    storage_bucket_t to;
    PGresult *res;
    cJSON *o;

    if (!relocation_or_reply(r, v, &to))
        return r->status;
    if ((res = db_exec(&r->tx, &storage_object_stmts[ST_COPY_SIZE], 2, v)) == NULL)
        return storage_db_error(r);
    if (PQntuples(res) != 1)
        return storage_error(r, 404, "not_found", "Object not found");
    sv[0] = PQgetvalue(res, 0, 0);
    /* the hold's lock lasts to this transaction's end: exact without a
     * commit of its own, as nothing slow follows */
    if ((res = db_exec(&r->tx, &storage_object_stmts[ST_RESERVE], 1, sv)) == NULL)
        return storage_db_error(r);
    sv[0] = PQgetvalue(res, 0, 0);
    if ((res = db_exec(&r->tx, &storage_object_stmts[ST_COPY], 4, v)) == NULL)
        return storage_db_error(r);
    if (PQntuples(res) != 1)
        return storage_error(r, 404, "not_found", "Object not found");
    o = json_own(r->arena, cJSON_CreateObject());
    cJSON_AddStringToObject(o, "Id", PQgetvalue(res, 0, 0));
    cJSON_AddStringToObject(o, "Key", arena_printf(r->arena, "%s/%s", v[2], v[3]));
    if (db_exec(&r->tx, &storage_object_stmts[ST_SETTLE], 1, sv) == NULL)
        return storage_db_error(r);
    return resp_json(r, 200, o);
}

/* DELETE /storage/v1/object/{bucket} {prefixes: [name...]} -> 200 [the
 *   objects removed] | 404 (bucket) | 422 */
int storage_remove(req_t *r)
{
    static const char *const allowed[] = {"prefixes", NULL};
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(r->json, "prefixes"), *n;
    const char *v[2] = {req_param(r, "bucket"), NULL};
    storage_bucket_t b;
    PGresult *res;

    req_reject_unknown(r, r->json, allowed);
    if (!cJSON_IsArray(names) || cJSON_GetArraySize(names) == 0 ||
        cJSON_GetArraySize(names) > REMOVE_MAX)
        req_field_error(r, "prefixes", "must be an array of 1 to %d object names", REMOVE_MAX);
    else
        cJSON_ArrayForEach(n, names)
            if (!cJSON_IsString(n) || strlen(n->valuestring) > STORAGE_NAME_MAX) {
                req_field_error(r, "prefixes", "must hold object names (strings of at most "
                                "1024 bytes)");
                break;
            }
    if (r->errors)
        return storage_invalid(r);
    if (!storage_bucket_or_reply(r, v[0], &b))
        return r->status;
    v[1] = json_print(r->arena, names);
    if ((res = db_exec(&r->tx, &storage_object_stmts[ST_REMOVE], 2, v)) == NULL)
        return storage_db_error(r);
    return resp_json_text(r, 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}
