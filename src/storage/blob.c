/* blob.c: a file's bytes into PostgreSQL: written in chunks as they arrive (hashed, sniffed, images stripped), sealed under their SHA-256 (blob_read.c reads them back). */
#include "storage/blob.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "crypto/hash.h"
#include "storage/media.h"
#include "storage/sniff.h"

static void sha_free(void *p)
{
    EVP_MD_CTX_free(p);
}

void storage_writer_init(storage_writer_t *w, db_tx_t *tx, arena_t *a,
                         const storage_settings_t *s, const char *bucket, long long max)
{
    memset(w, 0, sizeof *w);
    w->tx = tx;
    w->arena = a;
    w->settings = s;
    w->bucket = bucket;
    w->max = max;
    w->cap = STORAGE_CHUNK_BYTES;
    w->buf = arena_alloc(a, w->cap);
    w->sha = EVP_MD_CTX_new();
    if (w->sha == NULL || EVP_DigestInit_ex(w->sha, EVP_sha256(), NULL) != 1)
        abort();   /* out of memory, as the arena does */
    arena_cleanup_add(a, sha_free, w->sha);
}

/* Store p[0..n) as the next chunk (hashed). */
static int put_chunk(storage_writer_t *w, const char *p, size_t n)
{
    char seq[16];
    const char *v[3];
    int len[3] = {0, 0, (int)n}, fmt[3] = {0, 0, 1};
    db_binary_t bin = {len, fmt, 0};
    PGresult *res;

    if (w->blob_id == 0) {
        v[0] = w->bucket;
        if ((res = db_exec_app(w->tx, &storage_blob_stmts[STORAGE_ST_BEGIN], 1, v)) == NULL)
            return STORAGE_W_DB;
        w->blob_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    }
    snprintf(seq, sizeof seq, "%d", w->seq);
    v[0] = arena_printf(w->arena, "%lld", w->blob_id);
    v[1] = seq;
    v[2] = p;
    if (db_exec_app_binary(w->tx, &storage_blob_stmts[STORAGE_ST_WRITE], 3, v, &bin) == NULL)
        return STORAGE_W_DB;
    EVP_DigestUpdate(w->sha, p, n);
    w->seq++;
    w->stored += (long long)n;
    return STORAGE_W_OK;
}

/* Store whole chunks from the buffer, keeping the remainder (< a chunk). */
static int flush(storage_writer_t *w, bool all)
{
    size_t off = 0;
    int rc = STORAGE_W_OK;

    while (rc == STORAGE_W_OK && (w->len - off >= STORAGE_CHUNK_BYTES || (all && off < w->len))) {
        size_t n = w->len - off < STORAGE_CHUNK_BYTES ? w->len - off : STORAGE_CHUNK_BYTES;

        rc = put_chunk(w, w->buf + off, n);
        off += n;
    }
    memmove(w->buf, w->buf + off, w->len - off);
    w->len -= off;
    return rc;
}

static bool strippable(const char *mime)
{
    return strcasecmp(mime, "image/jpeg") == 0 || strcasecmp(mime, "image/png") == 0 ||
           strcasecmp(mime, "image/webp") == 0;
}

/* Decide the type from the bytes held so far (SNIFF_BYTES, or the whole
 * file when shorter), asking promptd-media; an image to strip is then held
 * whole.  STORAGE_W_OK or STORAGE_W_MEDIA. */
static int sniff(storage_writer_t *w)
{
    w->sniffed = true;
    if (media_sniff(w->arena, w->buf, w->len < SNIFF_BYTES ? w->len : SNIFF_BYTES,
                    &w->mime) != IMAGE_OK)
        return STORAGE_W_MEDIA;
    w->holding = w->settings->strip_metadata && strippable(w->mime);
    return STORAGE_W_OK;
}

/* Grow the held image's buffer to take n more bytes. */
static void hold(storage_writer_t *w, size_t n)
{
    char *bigger;

    if (w->len + n <= w->cap)
        return;
    while (w->cap < w->len + n)
        w->cap *= 2;
    bigger = arena_alloc(w->arena, w->cap);
    memcpy(bigger, w->buf, w->len);
    w->buf = bigger;
}

int storage_writer_write(storage_writer_t *w, const void *data, size_t n)
{
    const char *p = data;

    if (w->size + (long long)n > w->max)
        return STORAGE_W_TOO_LARGE;
    w->size += (long long)n;
    if (w->holding) {
        if (w->size > w->settings->strip_max)
            return STORAGE_W_STRIP_LARGE;
        hold(w, n);
        memcpy(w->buf + w->len, p, n);
        w->len += n;
        return STORAGE_W_OK;
    }
    while (n > 0) {
        size_t room = w->cap - w->len, k = n < room ? n : room;
        int rc;

        memcpy(w->buf + w->len, p, k);
        w->len += k;
        p += k;
        n -= k;
        if (!w->sniffed && w->len >= SNIFF_BYTES) {
            if ((rc = sniff(w)) != STORAGE_W_OK)
                return rc;
            if (w->holding) {   /* the rest is held too */
                w->size -= (long long)n;
                return n ? storage_writer_write(w, p, n) : STORAGE_W_OK;
            }
        }
        if (w->sniffed && w->len == w->cap && (rc = flush(w, false)) != STORAGE_W_OK)
            return rc;
    }
    return STORAGE_W_OK;
}

int storage_writer_finish(storage_writer_t *w)
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    int rc;

    if (!w->sniffed && (rc = sniff(w)) != STORAGE_W_OK)
        return rc;
    if (w->holding && w->len > 0) {
        void *out = NULL;
        size_t out_len = 0;
        int st = media_strip(w->arena, w->buf, w->len, w->settings->max_pixels, &out, &out_len);

        if (st == IMAGE_ERR_TOO_LARGE || st == IMAGE_ERR_BAD || st == MEDIA_ERR_FAILED)
            return STORAGE_W_IMAGE;
        if (st == MEDIA_ERR_UNAVAILABLE || st == MEDIA_ERR_REFUSED)
            return STORAGE_W_MEDIA;
        if (st == IMAGE_OK) {
            w->buf = out;
            w->len = out_len;
            w->cap = out_len + 1;
            w->stripped = true;
        }
    }
    if ((rc = flush(w, true)) != STORAGE_W_OK)
        return rc;
    EVP_DigestFinal_ex(w->sha, md, &mdlen);
    hash_hex(md, mdlen, w->sha_hex);
    return STORAGE_W_OK;
}

bool storage_writer_seal(storage_writer_t *w, const char **blob_id)
{
    const char *v[5];
    PGresult *res;

    if (w->blob_id == 0) {   /* an empty file: a blob with no chunk */
        v[0] = w->bucket;
        if ((res = db_exec_app(w->tx, &storage_blob_stmts[STORAGE_ST_BEGIN], 1, v)) == NULL)
            return false;
        w->blob_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    }
    v[0] = arena_printf(w->arena, "%lld", w->blob_id);
    v[1] = w->sha_hex;
    v[2] = arena_printf(w->arena, "%lld", w->stored);
    v[3] = w->mime;
    v[4] = arena_printf(w->arena, "%d", w->seq);
    if ((res = db_exec_app(w->tx, &storage_blob_stmts[STORAGE_ST_SEAL], 5, v)) == NULL)
        return false;
    *blob_id = PQgetvalue(res, 0, 0);
    return true;
}
