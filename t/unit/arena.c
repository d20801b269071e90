/* arena.c: unit tests for the per-request arena. */
#include <stdint.h>
#include <string.h>

#include "core/arena.h"
#include "core/str.h"
#include "tap.h"

static int cleanup_log[8];
static int cleanup_n;

static void record(void *p)
{
    cleanup_log[cleanup_n++] = *(int *)p;
}

int main(void)
{
    arena_t *a = arena_create(1024);
    static int one = 1, two = 2;
    char *s, *big;
    strbuf_t sb;

    ok(((uintptr_t)arena_alloc(a, 3) & 15) == 0, "allocations are 16-byte aligned");
    ok(((uintptr_t)arena_alloc(a, 5) & 15) == 0, "the next one too");
    s = arena_strdup(a, "hello");
    is_str(s, "hello", "strdup copies");
    ok(arena_strdup(a, NULL) == NULL, "strdup(NULL) is NULL");
    is_str(arena_strndup(a, "abcdef", 3), "abc", "strndup stops at n");
    is_str(arena_printf(a, "%d-%s", 42, "x"), "42-x", "printf formats");
    big = arena_alloc(a, 100000);
    memset(big, 'x', 100000);
    ok(big[99999] == 'x', "an allocation larger than a block works");
    ok(arena_used(a) >= 100000, "used counts it");
    is_str(s, "hello", "earlier allocations survive growth");
    ok(*(char *)arena_zalloc(a, 64) == 0, "zalloc zeroes");

    arena_cleanup_add(a, record, &one);
    arena_cleanup_add(a, record, &two);
    arena_reset(a);
    is_int(cleanup_n, 2, "reset runs every cleanup");
    is_int(cleanup_log[0], 2, "last registered runs first");
    is_int(cleanup_log[1], 1, "first registered runs last");
    is_int(arena_used(a), 0, "reset forgets allocations");
    arena_reset(a);
    is_int(cleanup_n, 2, "cleanups run once only");

    arena_cleanup_add(a, record, &one);
    arena_cleanup_add(a, record, &two);
    ok(arena_cleanup_now(a, record, &one), "arena_cleanup_now finds an earlier registration");
    is_int(cleanup_n, 3, "... runs it at once");
    is_int(cleanup_log[2], 1, "... that one");
    ok(!arena_cleanup_now(a, record, &one), "... and forgets it");
    arena_reset(a);
    is_int(cleanup_n, 4, "reset runs only the other");
    is_int(cleanup_log[3], 2, "... the one left");
    cleanup_n = 2;

    strbuf_init(&sb, a, 4);
    for (int i = 0; i < 1000; i++)
        strbuf_putc(&sb, (char)('a' + i % 26));
    is_int(sb.len, 1000, "strbuf grows");
    ok(sb.ptr[1000] == '\0' && sb.ptr[26] == 'a', "strbuf stays terminated");
    strbuf_printf(&sb, "%05d", 7);
    is_str(sb.ptr + 1000, "00007", "strbuf_printf appends");

    arena_cleanup_add(a, record, &one);
    arena_destroy(a);
    is_int(cleanup_n, 3, "destroy runs cleanups");
    arena_destroy(NULL);
    arena_reset(NULL);
    ok(1, "destroy and reset are NULL-safe");
    return done_testing();
}
