/* multipart.c (fuzz): the multipart/form-data reader and the boundary parser on any bytes, fed whole, a byte at a time and in pieces. */
#include <stdbool.h>

#include "core/arena.h"
#include "storage/multipart.h"
#include "fuzz.h"

#define FALLBACK_BOUNDARY "AaB03x"

/* Everything the callbacks saw, one run: markers and data in one byte
 * string (piece boundaries vanish, so runs with other splits compare
 * equal); the data of each part is checked for the delimiter at its end. */
typedef struct trace {
    char *buf;
    size_t len, cap;
    size_t part_start;          /* where the open part's data begins */
    const char *delim;          /* "\r\n--" boundary */
    int begins, ends, abort_at; /* abort_at: the part_begin returning false */
    bool open;
} trace_t;

static void trace_put(trace_t *t, const void *p, size_t n)
{
    if (t->len + n > t->cap) {
        t->cap = 2 * (t->len + n) + 64;
        t->buf = realloc(t->buf, t->cap);
        FUZZ_ASSERT(t->buf != NULL);
    }
    memcpy(t->buf + t->len, p, n);
    t->len += n;
}

static bool on_begin(void *ctx, const char *name, const char *filename, const char *type)
{
    trace_t *t = ctx;

    FUZZ_ASSERT(!t->open && name != NULL);
    FUZZ_ASSERT(t->begins < MULTIPART_MAX_PARTS);
    trace_put(t, "\x01", 1);
    trace_put(t, name, strlen(name) + 1);
    if (filename != NULL)
        trace_put(t, filename, strlen(filename) + 1);
    if (type != NULL)
        trace_put(t, type, strlen(type) + 1);
    trace_put(t, filename ? "F" : "-", 1);
    trace_put(t, type ? "T" : "-", 1);
    t->part_start = t->len;
    t->open = true;
    return ++t->begins != t->abort_at;
}

static bool on_data(void *ctx, const char *data, size_t len)
{
    trace_t *t = ctx;

    FUZZ_ASSERT(t->open && len > 0);
    trace_put(t, data, len);
    return true;
}

static bool on_end(void *ctx)
{
    trace_t *t = ctx;

    FUZZ_ASSERT(t->open);
    FUZZ_ASSERT(memmem(t->buf + t->part_start, t->len - t->part_start, t->delim,
                       strlen(t->delim)) == NULL);
    trace_put(t, "\x02", 1);
    t->open = false;
    t->ends++;
    return true;
}

static const multipart_cb_t fuzz_cb = {on_begin, on_data, on_end};

/* body fed in pieces of chunk bytes (0: at once), then finished. */
static int fuzz_run(const char *boundary, const uint8_t *body, size_t len, size_t chunk,
                    trace_t *t, const char **why)
{
    arena_t *a = arena_create(4096);
    multipart_t *m = multipart_new(a, boundary, &fuzz_cb, t);
    int st = MULTIPART_OK;
    size_t off = 0;

    FUZZ_ASSERT(m != NULL);
    t->delim = arena_printf(a, "\r\n--%s", boundary);
    while (st == MULTIPART_OK && off < len) {
        size_t n = chunk != 0 && chunk < len - off ? chunk : len - off;

        st = multipart_feed(m, (const char *)body + off, n);
        off += n;
    }
    if (st == MULTIPART_OK)
        st = multipart_finish(m);
    *why = multipart_error(m);
    FUZZ_ASSERT((st == MULTIPART_OK) == (*why == NULL));
    FUZZ_ASSERT(st != MULTIPART_OK || (t->ends == t->begins && !t->open));
    FUZZ_ASSERT(st != MULTIPART_ABORTED || t->begins == t->abort_at);
    FUZZ_ASSERT(t->ends <= t->begins && t->begins <= t->ends + 1);
    arena_destroy(a);
    return st;
}

/* The input's first line is a Content-Type value; the rest is the body,
 * read with its boundary (or FALLBACK_BOUNDARY when it has none). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    arena_t *a = arena_create(4096);
    const uint8_t *nl = memchr(data, '\n', size);
    size_t ctlen = nl ? (size_t)(nl - data) : size, blen = nl ? size - ctlen - 1 : 0;
    const char *ct = arena_strndup(a, (const char *)data, ctlen);
    const char *boundary = multipart_boundary(a, ct), *why[3];
    const uint8_t *body = nl ? nl + 1 : data + size;
    trace_t t[3] = {{0}};
    int st[3];

    if (boundary != NULL) {
        size_t n = strlen(boundary);

        FUZZ_ASSERT(n >= 1 && n <= MULTIPART_BOUNDARY_MAX && boundary[n - 1] != ' ');
        FUZZ_ASSERT(strcspn(boundary, "\r\n\"\\;") == n);
    } else {
        boundary = FALLBACK_BOUNDARY;
    }
    for (int i = 0; i < 3; i++)
        t[i].abort_at = ctlen % 2 ? (int)(ctlen % 5) + 1 : 0;
    st[0] = fuzz_run(boundary, body, blen, 0, &t[0], &why[0]);
    st[1] = fuzz_run(boundary, body, blen, 1, &t[1], &why[1]);
    st[2] = fuzz_run(boundary, body, blen, blen % 13 + 2, &t[2], &why[2]);
    for (int i = 1; i < 3; i++) {
        FUZZ_ASSERT(st[i] == st[0] && why[i] == why[0]);
        FUZZ_ASSERT(t[i].len == t[0].len &&
                    (t[0].len == 0 || memcmp(t[i].buf, t[0].buf, t[0].len) == 0));
    }
    for (int i = 0; i < 3; i++)
        free(t[i].buf);
    arena_destroy(a);
    return 0;
}
