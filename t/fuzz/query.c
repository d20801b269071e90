/* query.c (fuzz): the query-string reader (req_query, req_query_int,
 * url_decode) and req_header on any bytes.  (The share link's unlock
 * cookie parser has its own harness, share_cookie.c.) */
#include <fcgiapp.h>

#include "core/arena.h"
#include "http/request.h"
#include "core/str.h"
#include "fuzz.h"

static const char *const fuzz_names[] = {
    "limit", "q", "tag", "cursor", "a", "", "%", "a=b", NULL,
};

/* The input up to the first newline is a header name; all of it is also
 * the query string (and the Cookie header's value). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    arena_t *a = arena_create(4096);
    char *q = fuzz_cstr(data, size), *name = fuzz_cstr(data, size), *dec;
    char *env_cookie = arena_printf(a, "HTTP_COOKIE=%s", q);
    char *envp[] = {env_cookie, "CONTENT_TYPE=application/json", NULL};
    FCGX_Request fcgx = {.envp = envp};
    req_t r = {.arena = a, .fcgx = &fcgx, .query = q};
    long v;

    name[strcspn(name, "\n")] = '\0';
    for (int i = 0; fuzz_names[i]; i++) {
        const char *s = req_query(&r, fuzz_names[i]);

        if (s != NULL)
            FUZZ_ASSERT(utf8_valid(s, strlen(s)));
    }
    req_query(&r, name);
    v = req_query_int(&r, "limit", 20, 100);
    FUZZ_ASSERT(v >= 1 && v <= 100);
    req_header(&r, name);
    FUZZ_ASSERT(strcmp(req_header(&r, "Cookie"), q) == 0);
    if ((dec = url_decode(a, (const char *)data, size)) != NULL)
        FUZZ_ASSERT(strlen(dec) <= size && utf8_valid(dec, strlen(dec)));
    free(name);
    free(q);
    arena_destroy(a);
    return 0;
}
