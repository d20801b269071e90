/* router.c: unit tests for route matching, 404/405/Allow and typed params. */
#include <string.h>

#include "core/router.h"
#include "tap.h"

static int h(req_t *r)
{
    (void)r;
    return 200;
}

static const route_t routes[] = {
    {"GET", "/api/v1/prompts", h, 0, NULL},
    {"POST", "/api/v1/prompts", h, 0, NULL},
    {"GET", "/api/v1/prompts/{id:uuid}", h, 0, NULL},
    {"PATCH", "/api/v1/prompts/{id:uuid}", h, 0, NULL},
    {"DELETE", "/api/v1/prompts/{id:uuid}", h, 0, NULL},
    {"GET", "/api/v1/prompts/{id:uuid}/versions/{version}", h, 0, NULL},
    {"GET", "/s/{token}", h, 0, NULL},
};
#define N (sizeof(routes) / sizeof(routes[0]))
#define UUID "0b5a3c1e-2f4d-4a6b-8c9d-0e1f2a3b4c5d"

int main(void)
{
    route_match_t m;

    is_int(router_match(routes, N, "GET", "/api/v1/prompts", &m), ROUTER_MATCH, "list matches");
    ok(m.route == &routes[0], "the GET row");
    is_int(router_match(routes, N, "POST", "/api/v1/prompts/", &m), ROUTER_MATCH,
           "a trailing slash is tolerated");
    ok(m.route == &routes[1], "the POST row");
    is_int(router_match(routes, N, "GET", "/api/v1/prompts/" UUID, &m), ROUTER_MATCH, "uuid param");
    is_int(m.nparams, 1, "one param");
    is_str(m.names[0], "id", "named id");
    is_str(m.params[0], UUID, "its value");
    is_int(router_match(routes, N, "HEAD", "/api/v1/prompts/" UUID, &m), ROUTER_MATCH,
           "HEAD matches a GET row");
    is_int(router_match(routes, N, "GET", "/api/v1/prompts/" UUID "/versions/3", &m),
           ROUTER_MATCH, "two params");
    is_str(m.names[1], "version", "second param name");
    is_str(m.params[1], "3", "second param value");

    is_int(router_match(routes, N, "GET", "/api/v1/prompts/not-a-uuid", &m),
           ROUTER_BAD_PARAM, "an invalid uuid is a bad param");
    is_str(m.bad_param, "id", "naming the parameter");
    is_int(router_match(routes, N, "PUT", "/api/v1/prompts/" UUID, &m),
           ROUTER_METHOD_NOT_ALLOWED, "wrong method is 405");
    is_str(m.allow, "GET, HEAD, PATCH, DELETE", "Allow lists the methods");
    is_int(router_match(routes, N, "GET", "/api/v1/nothing", &m), ROUTER_NOT_FOUND, "unknown is 404");
    is_int(router_match(routes, N, "GET", "/api/v1/prompts/" UUID "/extra", &m),
           ROUTER_NOT_FOUND, "extra segment is 404");
    is_int(router_match(routes, N, "GET", "api/v1/prompts", &m), ROUTER_NOT_FOUND, "relative is 404");
    is_int(router_match(routes, N, "GET", "/api//v1/prompts", &m), ROUTER_NOT_FOUND,
           "empty segment does not match");
    is_int(router_match(routes, N, "GET", "/s/", &m), ROUTER_NOT_FOUND, "empty param does not match");
    {
        char longpath[2048];

        memset(longpath, 'a', sizeof(longpath) - 1);
        longpath[0] = '/';
        longpath[sizeof(longpath) - 1] = '\0';
        is_int(router_match(routes, N, "GET", longpath, &m), ROUTER_NOT_FOUND, "an overlong path is 404");
    }
    return done_testing();
}
