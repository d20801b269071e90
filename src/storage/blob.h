/* blob.h: a file's bytes in and out of PostgreSQL: written in chunks as they arrive (hashed, sniffed, images stripped), sealed under their SHA-256 (blob.c), read back chunk by chunk (blob_read.c). */
#ifndef PROMPTD_STORAGE_BLOB_H
#define PROMPTD_STORAGE_BLOB_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "core/arena.h"
#include "db/db.h"
#include "storage/settings.h"

/* The statements below use; list it in the family's statement tables
 * (defined in blob_read.c, which a program that only reads links alone). */
extern const db_stmt_t storage_blob_stmts[];
enum { STORAGE_ST_BEGIN, STORAGE_ST_WRITE, STORAGE_ST_SEAL, STORAGE_ST_READ };

enum storage_write_result {
    STORAGE_W_OK = 0,
    STORAGE_W_DB = -1,          /* a statement failed: tx->sqlstate */
    STORAGE_W_TOO_LARGE = -2,   /* more than the writer's max */
    STORAGE_W_STRIP_LARGE = -3, /* an image to strip larger than strip_max */
    STORAGE_W_IMAGE = -4,       /* an image to strip that libvips cannot read
                                 * or that has too many pixels */
    STORAGE_W_MEDIA = -5,       /* promptd-media gave no answer (logged) */
};

/* One upload's writer.  The bytes go to PostgreSQL in STORAGE_CHUNK_BYTES
 * chunks as they arrive (a worker holds one chunk, never the file), in the
 * request's transaction: a failed upload leaves nothing.  The first
 * SNIFF_BYTES decide the type (libmagic, in promptd-media); a JPEG, PNG or
 * WebP is held whole instead when metadata stripping is on, and stripped
 * at the end (libvips, in promptd-media). */
typedef struct storage_writer {
    db_tx_t *tx;
    arena_t *arena;
    const storage_settings_t *settings;
    const char *bucket;
    long long max;          /* bytes accepted at most */
    long long size;         /* bytes received */
    long long stored;       /* bytes stored (after any stripping) */
    long long blob_id;      /* 0 until the first chunk is written */
    int seq;                /* the next chunk's number */
    char *buf;              /* pending bytes: arena, cap bytes */
    size_t len, cap;
    bool sniffed, holding;  /* holding: an image kept whole to strip */
    bool stripped;          /* its metadata was removed */
    const char *mime;       /* the sniffed type, once known */
    EVP_MD_CTX *sha;        /* over the stored bytes; an arena cleanup frees it */
    char sha_hex[65];       /* after storage_writer_finish */
} storage_writer_t;

/* Ready w to receive a file of at most max bytes for bucket. */
void storage_writer_init(storage_writer_t *w, db_tx_t *tx, arena_t *a,
                         const storage_settings_t *s, const char *bucket, long long max);
/* The next n bytes of the file. */
int storage_writer_write(storage_writer_t *w, const void *p, size_t n);
/* The end of the file: everything stored, w->mime, w->sha_hex and
 * w->stored set.  The blob is not sealed yet: check the type first. */
int storage_writer_finish(storage_writer_t *w);
/* Seal the blob (promptd.storage_blob_seal: an identical blob of the
 * bucket is reused instead); *blob_id gets the one the object names.
 * false on a database error (tx->sqlstate). */
bool storage_writer_seal(storage_writer_t *w, const char **blob_id);

/* Reading (blob_read.c).  The chunk function is the login role's alone
 * (db_exec_app_binary): call these only after the caller's access to the
 * object naming the blob was established (an RLS-checked lookup). */

/* Where a blob's bytes go: false stops the sending (a client gone). */
typedef bool (*storage_sink_fn)(void *ctx, const char *p, size_t n);

/* Send bytes from..to (inclusive) of blob blob_id to sink, one chunk read
 * at a time.  0 when sent, -1 on a database error (tx->sqlstate) or a
 * missing chunk, -2 when the sink refused. */
int storage_blob_send(db_tx_t *tx, const char *blob_id, long long from, long long to,
                      storage_sink_fn sink, void *ctx);

/* The whole blob of size bytes in one arena buffer (size + 1 bytes,
 * NUL-terminated), for a transform or a model call; NULL on a database
 * error or a missing chunk. */
char *storage_blob_load(db_tx_t *tx, arena_t *a, const char *blob_id, long long size);

#endif
