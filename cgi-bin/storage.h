/* storage.h: what the storage family's files share: settings, the Supabase Storage error dialect, names and buckets, the upload and download paths. */
#ifndef PROMPTD_CGI_STORAGE_H
#define PROMPTD_CGI_STORAGE_H

#include <stdbool.h>

#include "db/db.h"
#include "http/request.h"
#include "storage/settings.h"

#define STORAGE_SCOPE "storage"
#define STORAGE_NAME_MAX 1024      /* bytes of an object's name */
#define STORAGE_BUCKET_MAX 100     /* characters of a bucket id */

extern const storage_settings_t *storage_cfg;

/* Statement tables of the family's files ({NULL}-terminated). */
extern const db_stmt_t storage_bucket_stmts[], storage_object_stmts[],
    storage_serve_stmts[];

/* Answers in problem+json that storage-js also reads: the RFC 9457
 * members plus Supabase Storage's statusCode (the status as a string),
 * error (a short code: "not_found", "Duplicate", "invalid_mime_type" ...)
 * and message (the detail).  Each returns the status. */
int storage_error(req_t *r, int status, const char *error, const char *message);
int storage_db_error(req_t *r);      /* dbreply_error, in the dialect */
int storage_invalid(req_t *r);       /* resp_validation (422), in the dialect */
int storage_media_unavailable(req_t *r);   /* 503 + Retry-After: promptd-media gave no answer */
int storage_problem(req_t *r, int status, const char *code, const char *detail);

/* A bucket the caller may use, as the RLS policies let them see it. */
typedef struct storage_bucket {
    const char *id;
    bool is_public;
    long long file_size_limit;       /* 0: none */
    const char **allowed;            /* allowed_mime_types, nallowed of them */
    int nallowed;
} storage_bucket_t;

/* The bucket id (a path parameter or a body member): well formed, else a
 * 400 is sent and false returned. */
bool storage_bucket_id_or_reply(req_t *r, const char *id);
/* The caller's bucket id into *b; false after answering 404 (none they
 * can see) or the database error. */
bool storage_bucket_or_reply(req_t *r, const char *id, storage_bucket_t *b);
/* An object name: 1..STORAGE_NAME_MAX bytes of valid UTF-8, no NUL or
 * control character, no empty, "." or ".." segment, no leading "/";
 * false after answering 400.  The raw request line is checked too (nginx
 * has already resolved dot segments in the path the router saw). */
bool storage_name_or_reply(req_t *r, const char *name);
/* No object bucket/name exists yet (as the caller sees it); false after
 * answering 409 Duplicate or the database error. */
bool storage_absent_or_reply(req_t *r, const char *bucket, const char *name);
/* The object name of a route ending in {bucket}/{path:path}. */
const char *storage_path_name(req_t *r);

/* Receive the request body as a file into bucket b at name, in the
 * request's transaction: raw or multipart/form-data, type sniffed and
 * checked, metadata stripped, quota held first (its own transaction), the
 * object inserted (or replaced: upsert; update: it must exist).  Answers
 * {Id, Key} with 200, or the error. */
enum storage_put_mode { STORAGE_PUT_CREATE, STORAGE_PUT_UPSERT, STORAGE_PUT_UPDATE };
int storage_receive(req_t *r, const storage_bucket_t *b, const char *name,
                    enum storage_put_mode mode);

/* The route handlers of storage_objects.c and storage_serve.c. */
int storage_upload(req_t *r);
int storage_update(req_t *r);
int storage_upload_signed(req_t *r);
int storage_list(req_t *r);
int storage_move(req_t *r);
int storage_copy(req_t *r);
int storage_remove(req_t *r);
int storage_info(req_t *r);
int storage_download(req_t *r);
int storage_download_public(req_t *r);
int storage_download_signed(req_t *r);
int storage_sign_one(req_t *r);
int storage_sign_many(req_t *r);
int storage_revoke(req_t *r);
int storage_sign_upload(req_t *r);
int storage_render(req_t *r);
int storage_render_public(req_t *r);
int storage_render_signed(req_t *r);

#endif
