/* share_cookie.c (fuzz): the share link's unlock-cookie parser
 * (share_cookie_valid) on any Cookie header, and a cookie it made itself
 * found among any others. */
#include "core/arena.h"
#include "share/cookie.h"
#include "fuzz.h"

#define FUZZ_KEY "fuzz-cookie-key"
#define FUZZ_HASH "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define FUZZ_NOW 1700000000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    arena_t *a = arena_create(4096);
    char *cookies = fuzz_cstr(data, size);
    const char *made = share_cookie_make(a, FUZZ_HASH, FUZZ_KEY, FUZZ_NOW, false);
    const char *pair, *mixed;

    /* any bytes: no crash; never valid without a key */
    share_cookie_valid(a, cookies, FUZZ_HASH, FUZZ_KEY, FUZZ_NOW);
    FUZZ_ASSERT(!share_cookie_valid(a, cookies, FUZZ_HASH, NULL, FUZZ_NOW));
    /* the name=value of a fresh cookie, after whatever came first */
    FUZZ_ASSERT(made != NULL);
    pair = arena_printf(a, "%.*s", (int)strcspn(made, ";"), made);
    mixed = arena_printf(a, "%s; %s", cookies, pair);
    FUZZ_ASSERT(share_cookie_valid(a, mixed, FUZZ_HASH, FUZZ_KEY, FUZZ_NOW));
    FUZZ_ASSERT(share_cookie_valid(a, mixed, FUZZ_HASH, FUZZ_KEY, FUZZ_NOW + SHARE_UNLOCK_TTL - 1));
    FUZZ_ASSERT(!share_cookie_valid(a, pair, FUZZ_HASH, FUZZ_KEY, FUZZ_NOW + SHARE_UNLOCK_TTL));
    FUZZ_ASSERT(!share_cookie_valid(a, pair, FUZZ_HASH, "another key", FUZZ_NOW));
    free(cookies);
    arena_destroy(a);
    return 0;
}
