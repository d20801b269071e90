/* arena.c: per-request memory pool with LIFO cleanups (nginx's r->pool). */
#include "core/arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 16

struct arena_block {
    struct arena_block *next;
    size_t size;   /* usable bytes in data[] */
    size_t used;
    _Alignas(ARENA_ALIGN) unsigned char data[];
};

struct arena_cleanup {
    struct arena_cleanup *next;
    arena_cleanup_fn fn;
    void *data;
};

struct arena {
    struct arena_block *head;   /* current block; the list ends at first */
    struct arena_block *first;  /* kept across resets */
    struct arena_cleanup *cleanups;
    size_t block_size;
    size_t used;
};

static void *xmalloc(size_t n)
{
    void *p = malloc(n);

    if (p == NULL) {
        fputs("{\"level\":\"fatal\",\"msg\":\"out of memory\"}\n", stderr);
        abort();
    }
    return p;
}

static struct arena_block *block_new(size_t size)
{
    struct arena_block *b = xmalloc(sizeof(*b) + size);

    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

arena_t *arena_create(size_t block_size)
{
    arena_t *a = xmalloc(sizeof(*a));

    if (block_size < 1024)
        block_size = 1024;
    a->block_size = block_size;
    a->first = a->head = block_new(block_size);
    a->cleanups = NULL;
    a->used = 0;
    return a;
}

static void run_cleanups(arena_t *a)
{
    while (a->cleanups != NULL) {
        struct arena_cleanup *c = a->cleanups;

        a->cleanups = c->next;   /* unlink first: a cleanup may not re-run */
        c->fn(c->data);
    }
}

void arena_reset(arena_t *a)
{
    if (a == NULL)
        return;
    run_cleanups(a);
    while (a->head != a->first) {
        struct arena_block *b = a->head;

        a->head = b->next;
        free(b);
    }
    a->first->used = 0;
    a->used = 0;
}

void arena_destroy(arena_t *a)
{
    if (a == NULL)
        return;
    arena_reset(a);
    free(a->first);
    free(a);
}

void *arena_alloc(arena_t *a, size_t n)
{
    struct arena_block *b = a->head;
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    void *p;

    if (need < n) {
        fputs("{\"level\":\"fatal\",\"msg\":\"arena overflow\"}\n", stderr);
        abort();
    }
    if (b->size - b->used < need) {
        size_t size = need > a->block_size ? need : a->block_size;

        b = block_new(size);
        b->next = a->head;
        a->head = b;
    }
    p = b->data + b->used;
    b->used += need;
    a->used += need;
    return p;
}

void *arena_zalloc(arena_t *a, size_t n)
{
    return memset(arena_alloc(a, n), 0, n);
}

void *arena_memdup(arena_t *a, const void *p, size_t n)
{
    char *d = arena_alloc(a, n + 1);

    if (n)
        memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

char *arena_strdup(arena_t *a, const char *s)
{
    return s == NULL ? NULL : arena_memdup(a, s, strlen(s));
}

char *arena_strndup(arena_t *a, const char *s, size_t n)
{
    return arena_memdup(a, s, strnlen(s, n));
}

char *arena_vprintf(arena_t *a, const char *fmt, va_list ap)
{
    va_list ap2;
    int n;
    char *s;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        n = 0;
    s = arena_alloc(a, (size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

char *arena_printf(arena_t *a, const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    s = arena_vprintf(a, fmt, ap);
    va_end(ap);
    return s;
}

void arena_cleanup_add(arena_t *a, arena_cleanup_fn fn, void *data)
{
    struct arena_cleanup *c = arena_alloc(a, sizeof(*c));

    c->fn = fn;
    c->data = data;
    c->next = a->cleanups;
    a->cleanups = c;
}

bool arena_cleanup_now(arena_t *a, arena_cleanup_fn fn, void *data)
{
    struct arena_cleanup **pp;

    for (pp = &a->cleanups; *pp != NULL; pp = &(*pp)->next)
        if ((*pp)->fn == fn && (*pp)->data == data) {
            struct arena_cleanup *c = *pp;

            *pp = c->next;   /* unlinked: it never runs again */
            c->fn(c->data);
            return true;
        }
    return false;
}

size_t arena_used(const arena_t *a)
{
    return a->used;
}
