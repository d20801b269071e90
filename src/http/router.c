/* router.c: match a request against a family's static route table. */
#include "http/router.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/str.h"

#define MAX_SEGMENTS 64

/* Split buf in place at '/' into segments; -1 when not absolute or too
 * deep.  One trailing slash is tolerated ("/a/" is "/a"). */
static int split_path(char *buf, char **seg, int max)
{
    int n = 0;
    char *p = buf;

    if (*p != '/')
        return -1;
    while (*p == '/') {
        *p++ = '\0';
        if (*p == '\0' && n > 0)
            break;
        if (n == max)
            return -1;
        seg[n++] = p;
        while (*p && *p != '/')
            p++;
    }
    return n;
}

/* Is a pattern segment "{name:path}" (the rest of the path)? */
static bool rest_param(const char *pseg)
{
    size_t len = strlen(pseg);

    return len > 6 && pseg[0] == '{' && strcmp(pseg + len - 6, ":path}") == 0;
}

/* Match one pattern against the request's segments, recording {params}.
 * *bad is the index of the first typed parameter whose value is invalid,
 * or -1.  A last {name:path} takes every remaining segment (one or more);
 * m->rest is then the index of its first segment, else -1. */
static bool match_pattern(const char *pattern, char **seg, int nseg,
                          route_match_t *m, int *bad)
{
    char pat[256];
    char *pseg[MAX_SEGMENTS];
    int np = 0;

    /* Most patterns differ in depth: one '/' per segment (no pattern ends
     * in '/' or has "//"), checked before the copy and split. */
    if (strstr(pattern, ":path}") == NULL) {
        for (const char *c = pattern; *c; c++)
            np += *c == '/';
        if (np != nseg)
            return false;
    }
    if (strlen(pattern) >= sizeof(pat))
        return false;
    strcpy(pat, pattern);
    m->rest = -1;
    if ((np = split_path(pat, pseg, MAX_SEGMENTS)) < 0)
        return false;
    if (np > 0 && rest_param(pseg[np - 1]) ? nseg < np : np != nseg)
        return false;
    m->nparams = 0;
    *bad = -1;
    for (int i = 0; i < np; i++) {
        size_t len = strlen(pseg[i]);
        char *name;
        bool typed_uuid;

        if (len < 2 || pseg[i][0] != '{' || pseg[i][len - 1] != '}') {
            if (strcmp(pseg[i], seg[i]) != 0)
                return false;
            continue;
        }
        if (seg[i][0] == '\0' || m->nparams == ROUTE_MAX_PARAMS)
            return false;
        name = m->names[m->nparams];
        pseg[i][len - 1] = '\0';
        typed_uuid = strcmp(pseg[i] + strcspn(pseg[i], ":"), ":uuid") == 0;
        {
            size_t k = strcspn(pseg[i] + 1, ":");

            if (k >= sizeof(m->names[0]))
                k = sizeof(m->names[0]) - 1;
            memcpy(name, pseg[i] + 1, k);
            name[k] = '\0';
        }
        if (typed_uuid && !uuid_valid(seg[i]) && *bad < 0)
            *bad = m->nparams;
        if (i == np - 1 && rest_param(pattern + (pseg[i] - pat)))
            m->rest = i;
        m->params[m->nparams++] = seg[i];
    }
    return true;
}

static void allow_add(route_match_t *m, const char *method)
{
    size_t len = strlen(m->allow);
    const char *p = m->allow;

    while ((p = strstr(p, method)) != NULL) {
        size_t k = strlen(method);

        if ((p == m->allow || p[-1] == ' ') && (p[k] == '\0' || p[k] == ','))
            return;
        p += k;
    }
    {
        size_t k = strlen(method), sep = len ? 2 : 0;

        if (len + sep + k >= sizeof(m->allow))
            return;   /* "GET, HEAD, POST, PUT, PATCH, DELETE" fits */
        memcpy(m->allow + len, ", ", sep);
        memcpy(m->allow + len + sep, method, k + 1);
    }
}

enum router_result router_match(const route_t *routes, size_t nroutes,
                                const char *method, const char *path,
                                route_match_t *m)
{
    char *seg[MAX_SEGMENTS];
    const char *want = strcmp(method, "HEAD") == 0 ? "GET" : method;
    bool shape = false;
    int nseg;

    memset(m, 0, sizeof(*m));
    if (strlen(path) >= sizeof(m->path_buf))
        return ROUTER_NOT_FOUND;
    strcpy(m->path_buf, path);
    if ((nseg = split_path(m->path_buf, seg, MAX_SEGMENTS)) < 0)
        return ROUTER_NOT_FOUND;
    for (size_t i = 0; i < nroutes; i++) {
        route_match_t cand;
        int bad;

        /* match_pattern sets rest and nparams and writes the params and
         * names it reports: nothing else of cand is read */
        if (!match_pattern(routes[i].pattern, seg, nseg, &cand, &bad))
            continue;
        shape = true;
        allow_add(m, routes[i].method);
        if (strcmp(routes[i].method, "GET") == 0)
            allow_add(m, "HEAD");
        if (strcmp(routes[i].method, want) != 0 || m->route != NULL)
            continue;
        m->route = &routes[i];
        m->rest = cand.rest;
        m->nparams = cand.nparams;
        memcpy(m->params, cand.params, sizeof(m->params));
        memcpy(m->names, cand.names, sizeof(m->names));
        if (bad >= 0)
            m->bad_param = m->names[bad];
    }
    /* a {name:path} value runs to the end: put its slashes back */
    if (m->route != NULL && m->rest >= 0)
        for (int j = m->rest; j < nseg - 1; j++)
            seg[j][strlen(seg[j])] = '/';
    if (m->route != NULL)
        return m->bad_param ? ROUTER_BAD_PARAM : ROUTER_MATCH;
    return shape ? ROUTER_METHOD_NOT_ALLOWED : ROUTER_NOT_FOUND;
}

long router_check(const route_t *routes, size_t nroutes, const char **why)
{
    for (size_t i = 0; i < nroutes; i++) {
        const route_t *rt = &routes[i];

        *why = NULL;
        if (rt->creds == 0)
            *why = "states no credential kinds (creds is 0)";
        else if (rt->creds & ~(unsigned)CRED_ALL)
            *why = "names an unknown credential kind";
        else if ((rt->creds & CRED_APIKEY) && (rt->scope == NULL || *rt->scope == '\0'))
            *why = "accepts API keys but names no scope";
        else if (!(rt->creds & CRED_APIKEY) && rt->scope != NULL)
            *why = "names a scope but does not accept API keys";
        else if ((rt->creds & CRED_METRICS) && rt->creds != CRED_METRICS)
            *why = "admits metrics scrapers and other kinds";
        else if ((rt->creds & CRED_NONE) && (rt->flags & R_ADMIN))
            *why = "is for administrators but admits anonymous callers";
        else if ((rt->flags & R_AAL2) && (!(rt->flags & R_DB) || rt->creds != CRED_SESSION))
            *why = "needs aal2 but is not a session-only database route";
        else if ((rt->flags & R_REPLICA) && (rt->flags & (R_DB | R_READONLY)) != (R_DB | R_READONLY))
            *why = "may run on the replica but is not a read-only database route";
        if (*why != NULL)
            return (long)i;
    }
    return -1;
}

const char *router_creds_name(unsigned creds)
{
    static const char *const names[] = {"none", "session", "apikey", "share", "signature",
                                         "metrics"};
    static char buf[64];
    size_t len = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (creds & (1u << i))
            len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s",
                                    len ? "," : "", names[i]);
    return buf;
}
