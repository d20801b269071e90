/* server.h: the FastCGI accept loop every family's program runs. */
#ifndef PROMPTD_SERVER_H
#define PROMPTD_SERVER_H

#include <stddef.h>

#include "core/router.h"
#include "db/db.h"

typedef struct family {
    const char *name;          /* "prompts" */
    const route_t *routes;
    size_t nroutes;
    const db_stmt_t *stmts;    /* prepared on each connection, or NULL */
    const db_stmt_t *lib_stmts;/* a shared module's statements, prepared too
                                * (enrich_stmts), or NULL; both tables end
                                * with a {NULL} row */
} family_t;

/* Run the accept loop until SIGTERM/SIGINT; returns the exit status.
 * `prog --routes` prints "METHOD PATTERN" per row and exits (the OpenAPI
 * coverage test uses it). */
int server_main(int argc, char **argv, const family_t *family);

#endif
