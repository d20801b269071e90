/* server.h: the FastCGI accept loop every family's program runs. */
#ifndef PROMPTD_SERVER_H
#define PROMPTD_SERVER_H

#include <stddef.h>

#include "db/db.h"
#include "http/router.h"

/* Codes the dispatcher passes to a family's problem hook with its
 * refusals (and the status it chose). */
#define PROBLEM_NO_CREDENTIAL "no_authorization"      /* 401: none presented */
#define PROBLEM_BAD_CREDENTIAL "invalid_credential"   /* 401: not valid */
#define PROBLEM_WRONG_KIND "credential_not_accepted"  /* 403: another kind */
#define PROBLEM_SCOPE "insufficient_scope"            /* 403: key lacks scope */
#define PROBLEM_BODY "bad_json"                       /* 400/413/415/422: body */
#define PROBLEM_AAL "insufficient_aal"                /* 403: R_AAL2, session at aal1 */
#define PROBLEM_METRICS_DENIED "metrics_not_allowed"   /* 403: CRED_METRICS address */

typedef struct family {
    const char *name;          /* "prompts" */
    const route_t *routes;
    size_t nroutes;
    /* The statement tables of the family and of the modules it uses
     * (enrich_stmts ...), each ending with a {NULL} row; the list ends
     * with NULL, or is NULL.  Prepared on each connection together with
     * the http layer's own (server_stmts). */
    const db_stmt_t *const *stmts;
    /* The family's error dialect, or NULL for problem+json.  Called after
     * the dispatcher recorded its problem+json refusal (credential, body),
     * with that status, a PROBLEM_* code and the detail; it may record
     * another answer (the auth family answers as GoTrue does). */
    int (*problem)(req_t *r, int status, const char *code, const char *detail);
} family_t;

/* Run the accept loop until SIGTERM/SIGINT; returns the exit status.
 * `prog --routes` prints "METHOD PATTERN creds=KINDS[ scope=SCOPE]" per
 * row and exits (the OpenAPI and credential-matrix tests read it).  A
 * table that fails router_check() stops the program at start. */
int server_main(int argc, char **argv, const family_t *family);

#endif
