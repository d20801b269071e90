/* router.c (fuzz): the path matcher on any method and path against a fixed table. */
#include <stdbool.h>

#include "http/router.h"
#include "core/str.h"
#include "fuzz.h"

static int fuzz_handler(req_t *r)
{
    return 200;
}

/* Shaped like the families' tables: literals, {name}, typed {id:uuid},
 * several methods on one path, a route with the maximum of parameters. */
static const route_t fuzz_routes[] = {
    {"GET", "/api/v1/prompts", fuzz_handler, 0, CRED_SESSION | CRED_APIKEY, "prompts:read"},
    {"POST", "/api/v1/prompts", fuzz_handler, R_JSON, CRED_SESSION | CRED_APIKEY, "prompts:write"},
    {"GET", "/api/v1/prompts/{id:uuid}", fuzz_handler, 0, CRED_SESSION, NULL},
    {"PATCH", "/api/v1/prompts/{id:uuid}", fuzz_handler, R_JSON, CRED_SESSION, NULL},
    {"DELETE", "/api/v1/prompts/{id:uuid}", fuzz_handler, 0, CRED_SESSION, NULL},
    {"GET", "/api/v1/prompts/{id:uuid}/versions/{version}", fuzz_handler, 0, CRED_NONE, NULL},
    {"POST", "/api/v1/prompts/{id:uuid}/render", fuzz_handler, 0, CRED_NONE, NULL},
    {"GET", "/api/v1/keys/{id:uuid}", fuzz_handler, 0, CRED_NONE, NULL},
    {"PUT", "/api/v1/enrich/keys/{provider}", fuzz_handler, 0, CRED_NONE, NULL},
    {"GET", "/s/{token}", fuzz_handler, 0, CRED_NONE | CRED_SHARE, NULL},
    {"POST", "/s/{token}", fuzz_handler, 0, CRED_NONE, NULL},
    {"GET", "/a/{w}/{x:uuid}/{y}/{z:uuid}", fuzz_handler, 0, CRED_NONE, NULL},
    {"GET", "/", fuzz_handler, 0, CRED_NONE, NULL},
};
#define FUZZ_NROUTES (sizeof(fuzz_routes) / sizeof(fuzz_routes[0]))

static const char *const fuzz_methods[] = {
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "get",
};

/* True when allow ("GET, HEAD, PATCH") lists method. */
static bool fuzz_allowed(const char *allow, const char *method)
{
    size_t n = strlen(method);

    for (const char *p = allow; *p; p += strcspn(p, ","), p += strspn(p, ", "))
        if (strncmp(p, method, n) == 0 && (p[n] == ',' || p[n] == '\0'))
            return true;
    return false;
}

/* data[0] picks the method; the rest (to a NUL) is the path. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *method;
    route_match_t m;
    enum router_result rr;
    char *path;

    if (size < 1)
        return 0;
    method = fuzz_methods[data[0] % (sizeof(fuzz_methods) / sizeof(fuzz_methods[0]))];
    path = fuzz_cstr(data + 1, size - 1);
    rr = router_match(fuzz_routes, FUZZ_NROUTES, method, path, &m);
    FUZZ_ASSERT(m.nparams >= 0 && m.nparams <= ROUTE_MAX_PARAMS);
    FUZZ_ASSERT(strlen(m.allow) < sizeof(m.allow));
    switch (rr) {
    case ROUTER_MATCH:
    case ROUTER_BAD_PARAM:
        FUZZ_ASSERT(m.route != NULL);
        FUZZ_ASSERT(strcmp(m.route->method, method) == 0 ||
                    (strcmp(method, "HEAD") == 0 && strcmp(m.route->method, "GET") == 0));
        FUZZ_ASSERT((rr == ROUTER_BAD_PARAM) == (m.bad_param != NULL));
        for (int i = 0; i < m.nparams; i++) {
            /* Parameters are non-empty segments of the copied path. */
            FUZZ_ASSERT(m.params[i] >= m.path_buf &&
                        m.params[i] < m.path_buf + sizeof(m.path_buf));
            FUZZ_ASSERT(m.params[i][0] != '\0' && strchr(m.params[i], '/') == NULL);
            FUZZ_ASSERT(strstr(path, m.params[i]) != NULL);
            if (rr == ROUTER_MATCH && strcmp(m.names[i], "id") == 0)
                FUZZ_ASSERT(uuid_valid(m.params[i]));
        }
        break;
    case ROUTER_METHOD_NOT_ALLOWED:
        /* Allow lists what exists, so never what was asked for. */
        FUZZ_ASSERT(m.route == NULL && m.allow[0] != '\0');
        FUZZ_ASSERT(!fuzz_allowed(m.allow, strcmp(method, "HEAD") == 0 ? "GET" : method));
        break;
    case ROUTER_NOT_FOUND:
        FUZZ_ASSERT(m.route == NULL);
        break;
    }
    free(path);
    return 0;
}
