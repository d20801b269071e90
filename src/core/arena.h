/* arena.h: per-request memory pool with cleanups, released in one place. */
#ifndef PROMPTD_ARENA_H
#define PROMPTD_ARENA_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct arena arena_t;
typedef void (*arena_cleanup_fn)(void *data);

/* Create an arena whose blocks are at least block_size bytes.  Never NULL. */
arena_t *arena_create(size_t block_size);
/* Run cleanups (last registered first), free everything.  NULL-safe. */
void arena_destroy(arena_t *a);
/* Run cleanups and forget every allocation, keeping the first block for
 * reuse.  Everything previously returned by the arena becomes invalid. */
void arena_reset(arena_t *a);

/* Allocations never return NULL: out of memory aborts the process.
 * Memory is 16-byte aligned and valid until the next arena_reset. */
void *arena_alloc(arena_t *a, size_t n);
void *arena_zalloc(arena_t *a, size_t n);
void *arena_memdup(arena_t *a, const void *p, size_t n); /* adds a NUL */
char *arena_strdup(arena_t *a, const char *s);           /* NULL -> NULL */
char *arena_strndup(arena_t *a, const char *s, size_t n);
char *arena_printf(arena_t *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
char *arena_vprintf(arena_t *a, const char *fmt, va_list ap);

/* Register fn(data) to run at reset/destroy.  Used for PGresult, cJSON,
 * CURL handles and file descriptors. */
void arena_cleanup_add(arena_t *a, arena_cleanup_fn fn, void *data);
/* Run the cleanup registered as fn(data) now, and not again at reset: for
 * a large resource the request is done with early (a file chunk's
 * result).  The most recent registration is found first (cheap for what
 * was just added).  false when none matches (nothing runs). */
bool arena_cleanup_now(arena_t *a, arena_cleanup_fn fn, void *data);

/* Bytes currently handed out (for tests and logging). */
size_t arena_used(const arena_t *a);

#endif
