/* blob_read.c: a file's bytes read back out of PostgreSQL chunk by chunk, and the statements of every blob function (here so that a reader links without the writer's libmagic and libvips). */
#include "storage/blob.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

const db_stmt_t storage_blob_stmts[] = {
    [STORAGE_ST_BEGIN] = {"storage_blob_begin", "select promptd.storage_blob_begin($1)"},
    [STORAGE_ST_WRITE] = {"storage_chunk_write",
        "select promptd.storage_chunk_write($1::bigint, $2::int, $3::bytea)"},
    [STORAGE_ST_SEAL] = {"storage_blob_seal",
        "select promptd.storage_blob_seal($1::bigint, decode($2, 'hex'), $3::bigint, $4, $5::int)"},
    [STORAGE_ST_READ] = {"storage_chunk_read",
        "select promptd.storage_chunk_read($1::bigint, $2::int)"},
    {NULL, NULL},
};

/* Chunk seq of blob_id (binary result); NULL when absent or on error. */
static PGresult *read_chunk(db_tx_t *tx, const char *blob_id, long long seq)
{
    char s[24];
    const char *v[2] = {blob_id, s};
    db_binary_t bin = {NULL, NULL, 1};
    PGresult *res;

    snprintf(s, sizeof s, "%lld", seq);
    res = db_exec_app_binary(tx, &storage_blob_stmts[STORAGE_ST_READ], 2, v, &bin);
    if (res != NULL && (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))) {
        log_warn("%s: blob %s has no chunk %lld", __func__, blob_id, seq);
        tx->sqlstate = "XX001";
        return NULL;
    }
    return res;
}

int storage_blob_send(db_tx_t *tx, const char *blob_id, long long from, long long to,
                      storage_sink_fn sink, void *ctx)
{
    long long seq = from / STORAGE_CHUNK_BYTES, at = seq * STORAGE_CHUNK_BYTES;

    while (at <= to) {
        PGresult *res = read_chunk(tx, blob_id, seq);
        long long n, lo, hi;
        bool sent;

        if (res == NULL)
            return -1;
        n = PQgetlength(res, 0, 0);
        lo = from > at ? from - at : 0;
        hi = to - at + 1 < n ? to - at + 1 : n;
        sent = hi <= lo || sink(ctx, PQgetvalue(res, 0, 0) + lo, (size_t)(hi - lo));
        db_result_done(tx, res);   /* one chunk held at a time */
        if (!sent)
            return -2;
        if (n == 0)
            break;
        at += n;
        seq++;
    }
    return 0;
}

char *storage_blob_load(db_tx_t *tx, arena_t *a, const char *blob_id, long long size)
{
    char *buf = arena_alloc(a, (size_t)size + 1);
    long long at = 0, seq = 0;

    while (at < size) {
        PGresult *res = read_chunk(tx, blob_id, seq++);
        long long n;

        if (res == NULL)
            return NULL;
        n = PQgetlength(res, 0, 0);
        if (n == 0 || at + n > size) {
            db_result_done(tx, res);
            tx->sqlstate = "XX001";
            return NULL;
        }
        memcpy(buf + at, PQgetvalue(res, 0, 0), (size_t)n);
        db_result_done(tx, res);
        at += n;
    }
    buf[size] = '\0';
    return buf;
}
