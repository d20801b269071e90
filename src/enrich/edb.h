/* edb.h: enrichment's database access, the same for a request and for the enrich job. */
#ifndef PROMPTD_ENRICH_EDB_H
#define PROMPTD_ENRICH_EDB_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "core/arena.h"
#include "db/db.h"
#include "http/request.h"

/* Two kinds of statement:
 *   scoped   - as the caller (role authenticated, their claims, RLS), in a
 *              transaction that stays open until edb_commit() or an
 *              unscoped statement;
 *   unscoped - the circuit breaker's definer functions, each in its own
 *              autocommit statement, so no lock is held across a provider
 *              call; an open scoped transaction is committed first.
 * A request (r set) uses the worker's connection and db_exec (statements
 * must be among the family's prepared ones); a job (conn set) uses the
 * daemon's service_role connection, switching to the user for scoped work. */
typedef struct edb {
    arena_t *arena;
    req_t *r;               /* request mode, or NULL */
    PGconn *conn;           /* job mode */
    const char *user_id;    /* job mode: whose claims */
    bool in_tx;             /* job mode */
    const char *error;      /* last failure (job mode), for the log */
} edb_t;

/* Results are owned by the arena.  NULL on failure (request: r->tx.sqlstate). */
PGresult *edb_scoped(edb_t *d, const db_stmt_t *stmt, int n, const char *const *v);
PGresult *edb_unscoped(edb_t *d, const db_stmt_t *stmt, int n, const char *const *v);
/* Commit an open scoped transaction (no-op when none); false on failure. */
bool edb_commit(edb_t *d);
/* Roll back an open scoped transaction (job mode; requests roll back in
 * the server). */
void edb_rollback(edb_t *d);

#endif
