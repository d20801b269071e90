/* router.c: unit tests for route matching, 404/405/Allow, typed params and the table check. */
#include <string.h>

#include "http/router.h"
#include "tap.h"

static int h(req_t *r)
{
    (void)r;
    return 200;
}

static const route_t routes[] = {
    {"GET", "/api/v1/prompts", h, 0, CRED_SESSION, NULL},
    {"POST", "/api/v1/prompts", h, 0, CRED_SESSION, NULL},
    {"GET", "/api/v1/prompts/{id:uuid}", h, 0, CRED_SESSION, NULL},
    {"PATCH", "/api/v1/prompts/{id:uuid}", h, 0, CRED_SESSION, NULL},
    {"DELETE", "/api/v1/prompts/{id:uuid}", h, 0, CRED_SESSION, NULL},
    {"GET", "/api/v1/prompts/{id:uuid}/versions/{version}", h, 0, CRED_SESSION, NULL},
    {"GET", "/s/{token}", h, 0, CRED_SESSION, NULL},
    {"GET", "/api/v1/prompts/by-name/{name:path}", h, 0, CRED_SESSION, NULL},
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
    is_int(router_match(routes, N, "GET", "/api/v1/prompts/by-name/support/triage/v2", &m),
           ROUTER_MATCH, "{name:path} takes the rest of the path");
    is_str(m.params[0], "support/triage/v2", "... slashes included");
    ok(m.route == &routes[N - 1], "... on its row");
    is_int(router_match(routes, N, "GET", "/api/v1/prompts/by-name/one", &m), ROUTER_MATCH,
           "{name:path} of one segment");
    is_str(m.params[0], "one", "... is that segment");
    is_int(router_match(routes, N, "GET", "/api/v1/prompts/by-name", &m), ROUTER_BAD_PARAM,
           "{name:path} needs at least one segment (here: /prompts/{id:uuid}, a bad id)");
    ok(m.route == &routes[2], "... not the {name:path} row");
    is_int(router_match(routes, N, "GET", "/api/v1/prompts/" UUID, &m), ROUTER_MATCH,
           "other rows still match after a {name:path} row was tried");
    is_str(m.params[0], UUID, "... with their own parameters");
    {
        char longpath[2048];

        memset(longpath, 'a', sizeof(longpath) - 1);
        longpath[0] = '/';
        longpath[sizeof(longpath) - 1] = '\0';
        is_int(router_match(routes, N, "GET", longpath, &m), ROUTER_NOT_FOUND, "an overlong path is 404");
    }

    /* router_check: every row states its credential kinds; API keys only
     * with a scope, a scope only for API keys. */
    {
        static const route_t good[] = {
            {"GET", "/a", h, 0, CRED_NONE, NULL},
            {"GET", "/b", h, 0, CRED_SESSION | CRED_APIKEY, "prompts:read"},
            {"GET", "/c", h, 0, CRED_NONE | CRED_SHARE, NULL},
            {"POST", "/d", h, 0, CRED_SIGNATURE, NULL},
        };
        static const route_t forgot[] = {
            {"GET", "/a", h, 0, CRED_NONE, NULL},
            {"GET", "/b", h, 0, 0, NULL},
        };
        static const route_t unscoped_key[] = {{"GET", "/a", h, 0, CRED_APIKEY, NULL}};
        static const route_t empty_scope[] = {{"GET", "/a", h, 0, CRED_APIKEY, ""}};
        static const route_t scope_no_key[] = {{"GET", "/a", h, 0, CRED_SESSION, "admin"}};
        static const route_t unknown[] = {{"GET", "/a", h, 0, 1u << 9, NULL}};
        static const route_t anon_admin[] = {{"GET", "/a", h, R_ADMIN, CRED_NONE, NULL}};
        static const route_t aal2_ok[] = {{"POST", "/a", h, R_DB | R_AAL2, CRED_SESSION, NULL}};
        static const route_t aal2_no_db[] = {{"POST", "/a", h, R_AAL2, CRED_SESSION, NULL}};
        static const route_t aal2_key[] = {{"POST", "/a", h, R_DB | R_AAL2,
                                            CRED_SESSION | CRED_APIKEY, "admin"}};
        static const route_t replica_ok[] = {{"GET", "/a", h, R_DB | R_READONLY | R_REPLICA,
                                              CRED_NONE, NULL}};
        static const route_t replica_rw[] = {{"GET", "/a", h, R_DB | R_REPLICA, CRED_NONE, NULL}};
        const char *why = NULL;

        is_int(router_check(replica_ok, 1, &why), -1, "a replica row: read-only, in the database");
        is_int(router_check(replica_rw, 1, &why), 0, "a replica row that may write is refused");
        ok(why && strstr(why, "replica"), "  saying so");
        is_int(router_check(good, 4, &why), -1, "a table stating every row's kinds passes");
        is_int(router_check(routes, N, &why), -1, "the matcher's table passes");
        is_int(router_check(forgot, 2, &why), 1, "a row with creds 0 is refused");
        ok(why && strstr(why, "no credential kinds"), "  saying so");
        is_int(router_check(unscoped_key, 1, &why), 0, "API keys without a scope are refused");
        ok(why && strstr(why, "names no scope"), "  saying so");
        is_int(router_check(empty_scope, 1, &why), 0, "an empty scope is no scope");
        is_int(router_check(scope_no_key, 1, &why), 0, "a scope without API keys is refused");
        is_int(router_check(unknown, 1, &why), 0, "an unknown kind is refused");
        is_int(router_check(anon_admin, 1, &why), 0, "an admin route open to anon is refused");
        is_int(router_check(aal2_ok, 1, &why), -1, "an aal2 row: session only, in the database");
        is_int(router_check(aal2_no_db, 1, &why), 0, "an aal2 row without R_DB is refused");
        is_int(router_check(aal2_key, 1, &why), 0, "an aal2 row that takes API keys is refused");
        ok(why && strstr(why, "aal2"), "  saying so");
        is_str(router_creds_name(CRED_NONE | CRED_SHARE), "none,share", "kinds by name");
        is_str(router_creds_name(CRED_SESSION | CRED_APIKEY), "session,apikey", "  in bit order");
    }
    return done_testing();
}
