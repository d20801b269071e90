/* storage_serve.c: the storage family's downloads (authenticated, public, signed; Range, ETag, the CDN's cache headers), signed URLs (sign, revoke, upload URLs) and image transforms. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/json.h"
#include "http/response.h"
#include "storage.h"
#include "storage/blob.h"
#include "storage/media.h"
#include "storage/sniff.h"
#include "storage/token.h"

#define SIGN_MANY_MAX 1000
#define IMMUTABLE "public, max-age=31536000, immutable"
#define HTTP_DATE(col) "to_char(" col " at time zone 'UTC', 'Dy, DD Mon YYYY HH24:MI:SS \"GMT\"')"

enum { ST_OBJECT, ST_PUBLIC, ST_SIGNED, ST_SIGN, ST_REVOKE };

const db_stmt_t storage_serve_stmts[] = {
    [ST_OBJECT] = {"storage_serve_object",
        "select o.id, o.blob_id, coalesce((o.metadata->>'size')::bigint, 0), "
        "coalesce(o.metadata->>'mimetype', 'application/octet-stream'), "
        "coalesce(o.metadata->>'eTag', '\"\"'), o.metadata->>'cacheControl', "
        HTTP_DATE("o.updated_at") " from storage.objects o "
        "where o.bucket_id = $1 and o.name = $2 and o.blob_id is not null"},
    [ST_PUBLIC] = {"storage_serve_public",
        "select * from promptd.storage_public_object($1, $2)"},
    [ST_SIGNED] = {"storage_serve_signed",
        "select * from promptd.storage_signed_object($3::uuid, $1, $2)"},
    /* $1 bucket, $2 names (JSON array), $3 seconds */
    [ST_SIGN] = {"storage_sign",
        "select s.name, s.id, floor(extract(epoch from s.expires_at))::bigint "
        "from promptd.storage_sign($1, array(select jsonb_array_elements_text($2::jsonb)), "
        "$3::int) s"},
    [ST_REVOKE] = {"storage_revoke", "select promptd.storage_revoke($1, $2)"},
    {NULL, NULL},
};

/* How a download was authorised: it decides the cache headers. */
enum serve_mode { SERVE_PRIVATE, SERVE_PUBLIC, SERVE_SIGNED };

/* The object a download sends (a row of ST_OBJECT's shape). */
typedef struct served {
    const char *bucket, *name, *blob, *type, *etag, *cache_control, *last_modified;
    long long size;
    enum serve_mode mode;
    long long expires;        /* signed: the URL's end (epoch seconds) */
    const char *transform;    /* signed: the transform the URL was signed with */
} served_t;

/* Look the object up as the mode allows; false after answering 404. */
static bool lookup_or_reply(req_t *r, served_t *s, const char *signed_id)
{
    const char *v[3] = {s->bucket, s->name, signed_id};
    int st = s->mode == SERVE_PUBLIC ? ST_PUBLIC : s->mode == SERVE_SIGNED ? ST_SIGNED : ST_OBJECT;
    PGresult *res = db_exec(&r->tx, &storage_serve_stmts[st], st == ST_SIGNED ? 3 : 2, v);

    if (res == NULL) {
        storage_db_error(r);
        return false;
    }
    if (PQntuples(res) != 1) {
        storage_error(r, 404, "not_found", "Object not found");
        return false;
    }
    s->blob = PQgetvalue(res, 0, 1);
    s->size = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    s->type = PQgetvalue(res, 0, 3);
    s->etag = PQgetvalue(res, 0, 4);
    s->cache_control = PQgetisnull(res, 0, 5) ? NULL : PQgetvalue(res, 0, 5);
    s->last_modified = PQgetvalue(res, 0, 6);
    return true;
}

/* The max-age the uploader chose ("max-age=N"), else 3600. */
static long max_age(const served_t *s)
{
    long n;

    if (s->cache_control && strncmp(s->cache_control, "max-age=", 8) == 0 &&
        str_to_long(s->cache_control + 8, 0, 31536000, &n))
        return n;
    return s->cache_control && strcmp(s->cache_control, "no-cache") == 0 ? 0 : 3600;
}

/* Cache-Control and nginx's own lifetime (X-Accel-Expires: to the end of
 * the current second, then nginx revalidates with If-None-Match, so a deleted object or a
 * revoked URL is gone from the CDN within 2 s).  Authenticated answers
 * are private: never kept by a shared cache. */
static void cache_headers(req_t *r, const served_t *s)
{
    const char *version = req_query(r, "version");
    long age = max_age(s);

    /* first: nginx (1.22) lets a later "max-age=0" make the answer
     * uncacheable unless X-Accel-Expires came before it; "@now": kept to
     * the end of the current second */
    resp_header(r, "X-Accel-Expires", s->mode == SERVE_PRIVATE ? "0"
                : arena_printf(r->arena, "@%lld", (long long)time(NULL)));
    if (s->mode == SERVE_PRIVATE) {
        resp_header(r, "Cache-Control", arena_printf(r->arena, "private, max-age=%ld", age));
    } else if (s->mode == SERVE_PUBLIC && version && strlen(s->etag) > 2 &&
               strncmp(version, s->etag + 1, strlen(s->etag) - 2) == 0) {
        resp_header(r, "Cache-Control", IMMUTABLE);
    } else if (s->mode == SERVE_SIGNED) {
        long left = (long)(s->expires - (long long)time(NULL));

        resp_header(r, "Cache-Control", arena_printf(r->arena, "public, max-age=%ld",
                                                     left < age ? (left > 0 ? left : 0) : age));
    } else {
        resp_header(r, "Cache-Control", arena_printf(r->arena, "public, max-age=%ld", age));
    }
}

/* Content-Disposition and the sandbox for what a browser could run; a
 * ?download[=name] asks for an attachment. */
static void disposition_headers(req_t *r, const served_t *s)
{
    const char *dl = req_query(r, "download");
    const char *base = strrchr(s->name, '/') ? strrchr(s->name, '/') + 1 : s->name;
    bool active = sniff_active(s->type);

    if (dl || active) {
        const char *fname = dl && *dl ? dl : base;
        strbuf_t sb;

        strbuf_init(&sb, r->arena, 64);
        for (const char *p = fname; *p; p++)
            if ((unsigned char)*p >= 0x20 && *p != '"' && *p != '\\' && *p != 0x7f)
                strbuf_putc(&sb, *p);
        resp_header(r, "Content-Disposition", arena_printf(r->arena,
                    "attachment; filename=\"%s\"", sb.len ? sb.ptr : "download"));
    }
    if (active)
        resp_header(r, "Content-Security-Policy", "default-src 'none'; sandbox");
}

/* A single "bytes=a-b", "bytes=a-" or "bytes=-n" range of size bytes into
 * *from..*to: 1 when given and satisfiable, 0 when absent or not one
 * range (the whole file is sent), -1 when unsatisfiable (416). */
static int byte_range(req_t *r, const served_t *s, long long *from, long long *to)
{
    const char *h = req_header(r, "Range"), *ir = req_header(r, "If-Range");
    char *end;
    long long a, b;

    if (h == NULL || strncmp(h, "bytes=", 6) != 0 || strchr(h, ',') ||
        (ir && strcmp(ir, s->etag) != 0))
        return 0;
    h += 6;
    if (*h == '-') {
        b = strtoll(h + 1, &end, 10);
        if (end == h + 1 || *end || b <= 0)
            return b == 0 && end != h + 1 && !*end ? -1 : 0;
        *from = b >= s->size ? 0 : s->size - b;
        *to = s->size - 1;
        return s->size > 0 ? 1 : -1;
    }
    a = strtoll(h, &end, 10);
    if (end == h || *end != '-' || a < 0)
        return 0;
    h = end + 1;
    b = *h ? strtoll(h, &end, 10) : s->size - 1;
    if ((*h && (*end || b < a)))
        return 0;
    if (a >= s->size)
        return -1;
    *from = a;
    *to = b >= s->size ? s->size - 1 : b;
    return 1;
}

static bool sink_fcgi(void *ctx, const char *p, size_t n)
{
    return resp_stream_write(ctx, p, n);
}

/* Answer a download of s: 304 when the client has it, 206 for a range,
 * 416 for an impossible one, else 200 with the bytes, streamed a chunk at
 * a time (HEAD: the headers only). */
static int send_object(req_t *r, const served_t *s)
{
    const char *inm = req_header(r, "If-None-Match");
    long long from = 0, to = s->size - 1;
    int range, status = 200;

    r->etag = s->etag;
    cache_headers(r, s);
    resp_header(r, "Last-Modified", s->last_modified);
    resp_header(r, "Accept-Ranges", "bytes");
    if (inm && (strcmp(inm, s->etag) == 0 || strcmp(inm, "*") == 0 ||
                (strncmp(inm, "W/", 2) == 0 && strcmp(inm + 2, s->etag) == 0)))
        return resp_empty(r, 304);
    if ((range = byte_range(r, s, &from, &to)) < 0) {
        resp_header(r, "Content-Range", arena_printf(r->arena, "bytes */%lld", s->size));
        return storage_error(r, 416, "InvalidRange", "The range is not satisfiable.");
    }
    disposition_headers(r, s);
    if (range > 0) {
        status = 206;
        resp_header(r, "Content-Range", arena_printf(r->arena, "bytes %lld-%lld/%lld",
                                                     from, to, s->size));
    }
    resp_header(r, "Content-Length", arena_printf(r->arena, "%lld", s->size ? to - from + 1 : 0));
    resp_stream_open(r, status, s->type);
    if (strcmp(r->method, "HEAD") == 0 || s->size == 0)
        return status;
    if (storage_blob_send(&r->tx, s->blob, from, to, sink_fcgi, r) == -1)
        r->tx.detail = "a chunk could not be read mid-download";
    return status;
}

/* The bucket and name of a {bucket}/{path:path} route into s; false after
 * answering 400. */
static bool target_or_reply(req_t *r, served_t *s, enum serve_mode mode)
{
    memset(s, 0, sizeof *s);
    s->mode = mode;
    s->bucket = req_param(r, "bucket");
    s->name = storage_path_name(r);
    return storage_bucket_id_or_reply(r, s->bucket) && storage_name_or_reply(r, s->name);
}

/* A signed URL's token checked against the path: its signed-URL id (and
 * transform, end) into s; NULL after answering 400. */
static const char *signed_or_reply(req_t *r, served_t *s)
{
    cJSON *p = storage_token_open(r->arena, storage_signing_key(), req_query(r, "token"));
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(p, "url");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(p, "exp");
    const cJSON *jti = cJSON_GetObjectItemCaseSensitive(p, "jti");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "t");

    if (!cJSON_IsString(url) || !cJSON_IsNumber(exp) || !cJSON_IsString(jti) ||
        strcmp(url->valuestring, arena_printf(r->arena, "%s/%s", s->bucket, s->name)) != 0) {
        storage_error(r, 400, "InvalidSignature", "The signature is invalid.");
        return NULL;
    }
    if (exp->valuedouble <= (double)time(NULL)) {
        storage_error(r, 400, "InvalidSignature", "The signed URL has expired.");
        return NULL;
    }
    s->expires = (long long)exp->valuedouble;
    s->transform = cJSON_IsString(t) ? t->valuestring : NULL;
    return jti->valuestring;
}

/* GET /storage/v1/object[/authenticated]/{bucket}/{path} Range? If-None-Match?
 *   -> 200 | 206 | 304 | 404 | 416 (private: never in a shared cache) */
int storage_download(req_t *r)
{
    served_t s;

    if (!target_or_reply(r, &s, SERVE_PRIVATE) || !lookup_or_reply(r, &s, NULL))
        return r->status;
    return send_object(r, &s);
}

/* GET /storage/v1/object/public/{bucket}/{path}[?version=etag] -> 200 |
 *   206 | 304 | 404 (no such object, or the bucket is not public).  With
 *   the object's ETag as ?version= the URL names that content:
 *   immutable. */
int storage_download_public(req_t *r)
{
    served_t s;

    if (!target_or_reply(r, &s, SERVE_PUBLIC) || !lookup_or_reply(r, &s, NULL))
        return r->status;
    return send_object(r, &s);
}

/* GET /storage/v1/object/sign/{bucket}/{path}?token= -> 200 | 206 | 304 |
 *   400 (token) | 404 (deleted, moved, revoked) */
int storage_download_signed(req_t *r)
{
    served_t s;
    const char *id;

    if (!target_or_reply(r, &s, SERVE_SIGNED) || (id = signed_or_reply(r, &s)) == NULL ||
        !lookup_or_reply(r, &s, id))
        return r->status;
    return send_object(r, &s);
}

/* ------------------------------------------------------------- transforms */

/* Transform options from a query string (width, height, resize, quality,
 * format) into t; false after recording field errors. */
static bool transform_parse(req_t *r, const char *query, image_transform_t *t)
{
    static const char *const names[] = {"width", "height", "quality"};
    const char *v;
    long n;

    memset(t, 0, sizeof *t);
    for (int i = 0; i < 3; i++) {
        if (url_form_value(r->arena, query, names[i], &v) < 0 || v == NULL)
            continue;
        if (!str_to_long(v, i == 2 ? 20 : 1, i == 2 ? 100 : IMAGE_MAX_SIDE, &n))
            req_field_error(r, names[i], i == 2 ? "must be an integer from 20 to 100"
                            : "must be an integer from 1 to %d", IMAGE_MAX_SIDE);
        else if (i == 0)
            t->width = (int)n;
        else if (i == 1)
            t->height = (int)n;
        else
            t->quality = (int)n;
    }
    if (url_form_value(r->arena, query, "resize", &v) >= 0 && v && !image_resize_parse(v, &t->resize))
        req_field_error(r, "resize", "must be cover, contain or fill");
    if (url_form_value(r->arena, query, "format", &v) >= 0 && v && !image_format_parse(v, &t->format))
        req_field_error(r, "format", "must be origin or webp");
    return r->errors == NULL;
}

/* The transform options a client sent as JSON (createSignedUrl's
 * transform) as the canonical query string a signed URL carries; NULL
 * after recording field errors, "" when none. */
static const char *transform_query(req_t *r, const cJSON *tr)
{
    static const char *const keys[] = {"width", "height", "resize", "format", "quality"};
    strbuf_t sb;
    image_transform_t t;

    if (tr == NULL || cJSON_IsNull(tr))
        return "";
    if (!cJSON_IsObject(tr)) {
        req_field_error(r, "transform", "must be an object");
        return NULL;
    }
    strbuf_init(&sb, r->arena, 128);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(tr, keys[i]);

        if (cJSON_IsNumber(v))
            strbuf_printf(&sb, "%s%s=%lld", sb.len ? "&" : "", keys[i], (long long)v->valuedouble);
        else if (cJSON_IsString(v) && strspn(v->valuestring, "abcdefghijklmnopqrstuvwxyz") ==
                 strlen(v->valuestring))
            strbuf_printf(&sb, "%s%s=%s", sb.len ? "&" : "", keys[i], v->valuestring);
        else if (v && !cJSON_IsNull(v))
            req_field_error(r, arena_printf(r->arena, "transform.%s", keys[i]), "is not valid");
    }
    if (r->errors || !transform_parse(r, sb.len ? sb.ptr : "", &t))
        return NULL;
    return sb.len ? sb.ptr : "";
}

static bool is_image(const char *type)
{
    return strcasecmp(type, "image/jpeg") == 0 || strcasecmp(type, "image/png") == 0 ||
           strcasecmp(type, "image/webp") == 0 || strcasecmp(type, "image/gif") == 0;
}

/* Answer s transformed per the options in query. */
static int send_transformed(req_t *r, served_t *s, const char *query)
{
    image_transform_t t;
    void *out = NULL;
    size_t out_len = 0;
    const char *mime = NULL, *inm = req_header(r, "If-None-Match");
    char *bytes;
    int st;

    if (!transform_parse(r, query, &t))
        return storage_invalid(r);
    if (!is_image(s->type))
        return storage_error(r, 415, "invalid_mime_type", arena_printf(r->arena,
                             "%s is not an image that can be transformed.", s->type));
    if (s->size > storage_cfg->transform_max)
        return storage_error(r, 413, "Payload too large", arena_printf(r->arena,
                             "Images over %lld bytes are not transformed.",
                             storage_cfg->transform_max));
    r->etag = arena_printf(r->arena, "\"%.*s-%s\"", (int)strlen(s->etag) - 2, s->etag + 1,
                           query);
    cache_headers(r, s);
    if (inm && strcmp(inm, r->etag) == 0)
        return resp_empty(r, 304);
    if ((bytes = storage_blob_load(&r->tx, r->arena, s->blob, s->size)) == NULL)
        return storage_db_error(r);
    st = media_transform(r->arena, bytes, (size_t)s->size, &t, storage_cfg->max_pixels, &out,
                         &out_len, &mime);
    if (st == MEDIA_ERR_UNAVAILABLE || st == MEDIA_ERR_REFUSED)
        return storage_media_unavailable(r);
    if (st == IMAGE_ERR_TOO_LARGE)
        return storage_error(r, 422, "InvalidImage", "The image has too many pixels to transform.");
    if (st != IMAGE_OK)
        return storage_error(r, 422, "InvalidImage", "The image cannot be transformed.");
    r->status = 200;
    r->content_type = mime;
    r->resp_body = out;
    r->resp_len = out_len;
    return 200;
}

/* GET /storage/v1/render/image/authenticated/{bucket}/{path}?width=&height=
 *   &resize=&quality=&format= -> 200 image | 404 | 413 | 415 | 422 */
int storage_render(req_t *r)
{
    served_t s;

    if (!target_or_reply(r, &s, SERVE_PRIVATE) || !lookup_or_reply(r, &s, NULL))
        return r->status;
    return send_transformed(r, &s, r->query);
}

/* GET /storage/v1/render/image/public/{bucket}/{path}?... -> as above */
int storage_render_public(req_t *r)
{
    served_t s;

    if (!target_or_reply(r, &s, SERVE_PUBLIC) || !lookup_or_reply(r, &s, NULL))
        return r->status;
    return send_transformed(r, &s, r->query);
}

/* GET /storage/v1/render/image/sign/{bucket}/{path}?token= -> as above,
 *   with the transform the URL was signed with */
int storage_render_signed(req_t *r)
{
    served_t s;
    const char *id;

    if (!target_or_reply(r, &s, SERVE_SIGNED) || (id = signed_or_reply(r, &s)) == NULL ||
        !lookup_or_reply(r, &s, id))
        return r->status;
    return send_transformed(r, &s, s.transform ? s.transform : "");
}

/* ----------------------------------------------------------------- signing */

/* expiresIn: seconds, 1 .. PROMPTD_STORAGE_SIGNED_URL_MAX. */
static const char *expires_in(req_t *r)
{
    long n;

    if (req_field_int(r, r->json, "expiresIn", 1, storage_cfg->signed_max_s, &n) != FIELD_OK) {
        if (r->errors == NULL)
            req_field_error(r, "expiresIn", "is required");
        return NULL;
    }
    return arena_printf(r->arena, "%ld", n);
}

/* The signed URL path of one signed-URL row: "/object/sign/b/n?token=". */
static const char *signed_url(req_t *r, const char *bucket, const char *name, const char *id,
                              long long exp, const char *transform)
{
    return storage_token_signed_path(r->arena, storage_signing_key(), bucket, name, id, exp,
                                     transform, false);
}

/* A key to sign with, or false after answering 500. */
static bool key_or_reply(req_t *r)
{
    if (storage_signing_key() != NULL)
        return true;
    r->tx.detail = "no PROMPTD_STORAGE_SIGNING_KEY / storage_signing_key";
    storage_error(r, 500, "internal", "Signed URLs are not configured.");
    return false;
}

/* POST /storage/v1/object/sign/{bucket}/{path} {expiresIn, transform?}
 *   -> 200 {signedURL} | 404 | 422 */
int storage_sign_one(req_t *r)
{
    static const char *const allowed[] = {"expiresIn", "transform", NULL};
    const char *v[3] = {req_param(r, "bucket"), NULL, NULL}, *name = storage_path_name(r), *tr;
    PGresult *res;
    cJSON *names, *o;

    req_reject_unknown(r, r->json, allowed);
    v[2] = expires_in(r);
    tr = transform_query(r, cJSON_GetObjectItemCaseSensitive(r->json, "transform"));
    if (r->errors)
        return storage_invalid(r);
    if (!storage_bucket_id_or_reply(r, v[0]) || !storage_name_or_reply(r, name) ||
        !key_or_reply(r))
        return r->status;
    names = json_own(r->arena, cJSON_CreateArray());
    cJSON_AddItemToArray(names, cJSON_CreateString(name));
    v[1] = json_print(r->arena, names);
    if ((res = db_exec(&r->tx, &storage_serve_stmts[ST_SIGN], 3, v)) == NULL)
        return storage_db_error(r);
    if (PQntuples(res) != 1)
        return storage_error(r, 404, "not_found", "Object not found");
    o = json_own(r->arena, cJSON_CreateObject());
    cJSON_AddStringToObject(o, "signedURL", signed_url(r, v[0], name, PQgetvalue(res, 0, 1),
                            strtoll(PQgetvalue(res, 0, 2), NULL, 10), tr));
    return resp_json(r, 200, o);
}

/* POST /storage/v1/object/sign/{bucket} {expiresIn, paths: [name...]}
 *   -> 200 [{error, path, signedURL}] (error set, signedURL null, for a
 *   name that does not exist or the caller cannot read) | 422 */
int storage_sign_many(req_t *r)
{
    static const char *const allowed[] = {"expiresIn", "paths", NULL};
    const cJSON *paths = cJSON_GetObjectItemCaseSensitive(r->json, "paths"), *p;
    const char *v[3] = {req_param(r, "bucket"), NULL, NULL};
    PGresult *res;
    cJSON *out;

    req_reject_unknown(r, r->json, allowed);
    v[2] = expires_in(r);
    if (!cJSON_IsArray(paths) || cJSON_GetArraySize(paths) == 0 ||
        cJSON_GetArraySize(paths) > SIGN_MANY_MAX)
        req_field_error(r, "paths", "must be an array of 1 to %d object names", SIGN_MANY_MAX);
    else
        cJSON_ArrayForEach(p, paths)
            if (!cJSON_IsString(p) || strlen(p->valuestring) > STORAGE_NAME_MAX) {
                req_field_error(r, "paths", "must hold object names");
                break;
            }
    if (r->errors)
        return storage_invalid(r);
    if (!storage_bucket_id_or_reply(r, v[0]) || !key_or_reply(r))
        return r->status;
    v[1] = json_print(r->arena, paths);
    if ((res = db_exec(&r->tx, &storage_serve_stmts[ST_SIGN], 3, v)) == NULL)
        return storage_db_error(r);
    out = json_own(r->arena, cJSON_CreateArray());
    cJSON_ArrayForEach(p, paths) {
        cJSON *o = cJSON_CreateObject();
        int row = -1;

        for (int i = 0; i < PQntuples(res) && row < 0; i++)
            if (strcmp(PQgetvalue(res, i, 0), p->valuestring) == 0)
                row = i;
        if (row < 0) {
            cJSON_AddStringToObject(o, "error", "Either the object does not exist or you "
                                    "do not have access to it");
            cJSON_AddStringToObject(o, "path", p->valuestring);
            cJSON_AddNullToObject(o, "signedURL");
        } else {
            cJSON_AddNullToObject(o, "error");
            cJSON_AddStringToObject(o, "path", p->valuestring);
            cJSON_AddStringToObject(o, "signedURL", signed_url(r, v[0], p->valuestring,
                                    PQgetvalue(res, row, 1),
                                    strtoll(PQgetvalue(res, row, 2), NULL, 10), NULL));
        }
        cJSON_AddItemToArray(out, o);
    }
    return resp_json(r, 200, out);
}

/* DELETE /storage/v1/object/sign/{bucket}/{path} -> 200 {revoked: n}:
 *   every signed URL of the object stops working (within 2 s at the CDN) */
int storage_revoke(req_t *r)
{
    const char *v[2] = {req_param(r, "bucket"), storage_path_name(r)};
    PGresult *res;
    cJSON *o;

    if (!storage_bucket_id_or_reply(r, v[0]) || !storage_name_or_reply(r, v[1]))
        return r->status;
    if ((res = db_exec(&r->tx, &storage_serve_stmts[ST_REVOKE], 2, v)) == NULL)
        return storage_db_error(r);
    o = json_own(r->arena, cJSON_CreateObject());
    cJSON_AddNumberToObject(o, "revoked", (double)strtoll(PQgetvalue(res, 0, 0), NULL, 10));
    return resp_json(r, 200, o);
}

/* POST /storage/v1/object/upload/sign/{bucket}/{path} x-upsert? -> 200
 *   {url: "/object/upload/sign/b/n?token=", token} | 404 (bucket) | 409
 *   (exists, no upsert).  The URL uploads as the caller, for
 *   PROMPTD_STORAGE_UPLOAD_URL_TTL seconds. */
int storage_sign_upload(req_t *r)
{
    const char *v[2] = {req_param(r, "bucket"), storage_path_name(r)};
    const char *up = req_header(r, "x-upsert"), *token;
    bool upsert = up && strcasecmp(up, "true") == 0;
    storage_bucket_t b;
    cJSON *p, *o;

    if (!storage_name_or_reply(r, v[1]) || !storage_bucket_or_reply(r, v[0], &b) ||
        !key_or_reply(r))
        return r->status;
    if (!upsert && !storage_absent_or_reply(r, v[0], v[1]))
        return r->status;
    p = json_own(r->arena, cJSON_CreateObject());
    cJSON_AddStringToObject(p, "url", arena_printf(r->arena, "%s/%s", v[0], v[1]));
    cJSON_AddStringToObject(p, "sub", r->tx.user_id);
    cJSON_AddNumberToObject(p, "exp", (double)(time(NULL) + storage_cfg->upload_url_s));
    cJSON_AddStringToObject(p, "k", "u");
    cJSON_AddBoolToObject(p, "upsert", upsert);
    token = storage_token_make(r->arena, storage_signing_key(), p);
    o = json_own(r->arena, cJSON_CreateObject());
    cJSON_AddStringToObject(o, "url", arena_printf(r->arena, "/object/upload/sign/%s/%s?token=%s",
                                                   v[0], v[1], token));
    cJSON_AddStringToObject(o, "token", token);
    return resp_json(r, 200, o);
}
