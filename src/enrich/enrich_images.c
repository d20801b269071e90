/* enrich_images.c: images sent with a prompt: storage objects looked up as the caller, carried as references through records and jobs, keyed into the cache, read and encoded where the provider call is built. */
#include "enrich/enrich_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/json.h"
#include "core/log.h"
#include "core/str.h"
#include "crypto/hash.h"
#include "storage/blob.h"

static const char *const image_types[] = {
    "image/jpeg", "image/png", "image/webp", "image/gif", NULL,
};

bool enrich_image_type_ok(const char *mime)
{
    for (const char *const *t = image_types; mime && *t; t++)
        if (strcmp(mime, *t) == 0)
            return true;
    return false;
}

/* s is 64 lower-case hex digits and nothing else. */
static bool hex64(const char *s, size_t n)
{
    if (n != 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* The SHA-256 hex an ETag ("\"<hex>\"", as the storage family writes it)
 * carries, from the arena; NULL when it carries none. */
static const char *etag_sha256(arena_t *a, const char *etag)
{
    size_t n = etag ? strlen(etag) : 0;

    if (n == 66 && etag[0] == '"' && etag[65] == '"') {
        etag++;
        n = 64;
    }
    return hex64(etag, n) ? arena_strndup(a, etag, n) : NULL;
}

/* A row of IMAGE_COLUMNS (enrich_stmts.c) into *out, and its blob into
 * *blob.  1, or 0 when there is no row, no bytes here, no size or no
 * SHA-256 ETag. */
static int image_row(arena_t *a, const PGresult *pr, enrich_image_t *out, const char **blob)
{
    const char *size, *mime;

    memset(out, 0, sizeof *out);
    if (PQntuples(pr) != 1 || (*blob = db_value(pr, 0, 3)) == NULL ||
        (size = db_value(pr, 0, 4)) == NULL)
        return 0;
    mime = db_value(pr, 0, 5);
    out->id = arena_strdup(a, PQgetvalue(pr, 0, 0));
    out->bucket = arena_strdup(a, PQgetvalue(pr, 0, 1));
    out->path = arena_strdup(a, PQgetvalue(pr, 0, 2));
    out->size = strtoll(size, NULL, 10);
    out->mime = arena_strdup(a, mime ? mime : "application/octet-stream");
    out->sha256 = etag_sha256(a, db_value(pr, 0, 6));
    *blob = arena_strdup(a, *blob);
    return out->sha256 && out->size >= 0 ? 1 : 0;
}

int enrich_image_find(db_tx_t *d, const char *id, const char *bucket, const char *path,
                      enrich_image_t *out)
{
    const char *v[2] = {id ? id : bucket, path}, *blob;
    PGresult *pr = id ? db_exec(d, &enrich_stmts[ST_IMAGE_BY_ID], 1, v)
                      : db_exec(d, &enrich_stmts[ST_IMAGE_BY_PATH], 2, v);

    if (pr == NULL)
        return -1;
    return image_row(d->arena, pr, out, &blob);
}

void enrich_images_json(cJSON *o, const enrich_input_t *in)
{
    cJSON *arr;

    if (in->nimages == 0)
        return;
    arr = cJSON_AddArrayToObject(o, "images");
    for (int i = 0; i < in->nimages; i++) {
        const enrich_image_t *im = &in->images[i];
        cJSON *it = cJSON_CreateObject();

        cJSON_AddStringToObject(it, "id", im->id);
        cJSON_AddStringToObject(it, "bucket", im->bucket);
        cJSON_AddStringToObject(it, "path", im->path);
        cJSON_AddStringToObject(it, "mimetype", im->mime);
        cJSON_AddNumberToObject(it, "size", (double)im->size);
        cJSON_AddStringToObject(it, "sha256", im->sha256);
        cJSON_AddItemToArray(arr, it);
    }
}

static const char *member(arena_t *a, const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsString(v) ? arena_strdup(a, v->valuestring) : NULL;
}

bool enrich_images_read(arena_t *a, const cJSON *o, enrich_input_t *in)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "images"), *it;
    enrich_image_t *im;
    int n = 0;

    in->images = NULL;
    in->nimages = 0;
    if (arr == NULL)
        return true;
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > SETTINGS_MAX_IMAGES)
        return false;
    im = arena_zalloc(a, sizeof *im * (size_t)(cJSON_GetArraySize(arr) + 1));
    cJSON_ArrayForEach(it, arr) {
        const cJSON *size = cJSON_GetObjectItemCaseSensitive(it, "size");
        enrich_image_t *p = &im[n++];

        p->id = member(a, it, "id");
        p->bucket = member(a, it, "bucket");
        p->path = member(a, it, "path");
        p->mime = member(a, it, "mimetype");
        p->sha256 = member(a, it, "sha256");
        if (!p->id || !uuid_valid(p->id) || !p->bucket || !p->path ||
            !enrich_image_type_ok(p->mime) || !p->sha256 ||
            !hex64(p->sha256, strlen(p->sha256)) || !cJSON_IsNumber(size) ||
            size->valuedouble < 0 || size->valuedouble > 1e12)
            return false;
        p->size = (long long)size->valuedouble;
    }
    in->images = im;
    in->nimages = n;
    return true;
}

const char *enrich_images_key(arena_t *a, const enrich_input_t *in)
{
    strbuf_t sb;

    if (in->nimages == 0)
        return NULL;
    strbuf_init(&sb, a, 65 * (size_t)in->nimages + 1);
    for (int i = 0; i < in->nimages; i++) {
        if (i)
            strbuf_putc(&sb, ',');
        strbuf_puts(&sb, in->images[i].sha256);
    }
    return sb.ptr;
}

/* The file's first bytes say it is of type mime (sniffed at upload). */
static bool image_magic(const char *mime, const unsigned char *p, long long n)
{
    if (strcmp(mime, "image/png") == 0)
        return n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0;
    if (strcmp(mime, "image/jpeg") == 0)
        return n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF;
    if (strcmp(mime, "image/gif") == 0)
        return n >= 6 && (memcmp(p, "GIF87a", 6) == 0 || memcmp(p, "GIF89a", 6) == 0);
    if (strcmp(mime, "image/webp") == 0)
        return n >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0;
    return false;
}

/* Image i's bytes as a data URL into *out.  The object is looked up again
 * as the caller (RLS: a run never reads what its user cannot, whatever a
 * record or payload names) and must be the one the request was keyed
 * with: same type, size and ETag, and bytes of that SHA-256 and type (an
 * object's metadata is its owner's to edit).  The chunks are read into a scratch arena given to the
 * transaction for the time of the read, so their results are freed once
 * the image is encoded: a run keeps each image once, as base64.  1, 0
 * (x->images_gone), -1 database error. */
static int image_load(run_t *x, int i, provider_image_t *out)
{
    db_tx_t *d = x->d;
    const enrich_image_t *want = &x->in->images[i];
    arena_t *keep = d->arena, *scratch;
    const char *v[1] = {want->id}, *blob;
    enrich_image_t now;
    PGresult *pr;
    char *bytes, *url, sha[HASH_SHA256_HEX];
    size_t pre;
    int rc;

    if ((pr = db_exec(d, &enrich_stmts[ST_IMAGE_BY_ID], 1, v)) == NULL)
        return -1;
    if (image_row(keep, pr, &now, &blob) != 1 || strcmp(now.sha256, want->sha256) != 0 ||
        strcmp(now.mime, want->mime) != 0 || now.size != want->size) {
        x->images_gone = arena_printf(keep, "images[%d] was removed or changed after the "
                                      "request", i);
        return 0;
    }
    scratch = arena_create(65536);
    d->arena = scratch;
    bytes = storage_blob_load(d, scratch, blob, want->size);
    d->arena = keep;
    if (bytes == NULL) {
        rc = d->sqlstate && strcmp(d->sqlstate, "XX001") == 0 ? 0 : -1;
        d->sqlstate = arena_strdup(keep, d->sqlstate);
        d->detail = arena_strdup(keep, d->detail);
        d->message = arena_strdup(keep, d->message);
        arena_destroy(scratch);
        if (rc == 0)
            x->images_gone = arena_printf(keep, "images[%d]'s bytes are missing", i);
        return rc;
    }
    hash_sha256_hex(bytes, (size_t)want->size, sha);
    if (strcmp(sha, want->sha256) != 0 ||
        !image_magic(want->mime, (const unsigned char *)bytes, want->size)) {
        arena_destroy(scratch);
        x->images_gone = arena_printf(keep, strcmp(sha, want->sha256) != 0
                                      ? "images[%d]'s bytes do not match its SHA-256"
                                      : "images[%d]'s bytes are not %s", i, want->mime);
        return 0;
    }
    pre = strlen("data:;base64,") + strlen(want->mime);
    url = arena_alloc(keep, pre + 4 * (((size_t)want->size + 2) / 3) + 1);
    snprintf(url, pre + 1, "data:%s;base64,", want->mime);
    EVP_EncodeBlock((unsigned char *)url + pre, (const unsigned char *)bytes, (int)want->size);
    arena_destroy(scratch);
    out->mime = want->mime;
    out->data_url = url;
    out->base64 = url + pre;
    return 1;
}

int enrich_images_load(run_t *x)
{
    provider_image_t *im;
    int rc = 1;

    if (x->images_state != 0)
        return x->images_state > 0 ? 1 : 0;
    im = arena_zalloc(x->d->arena, sizeof *im * (size_t)x->in->nimages);
    for (int i = 0; rc > 0 && i < x->in->nimages; i++)
        rc = image_load(x, i, &im[i]);
    if (rc < 0 || !db_tx_commit(x->d))
        return -1;
    if (rc == 0) {
        log_warn("%s: enrichment %s: %s", __func__, x->res->id, x->images_gone);
        x->images_state = -1;
        return 0;
    }
    x->images = im;
    x->images_state = 1;
    return 1;
}
