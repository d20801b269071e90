/* pool.h: a fixed set of PostgreSQL connections shared by threads, each lent for one statement or one transaction (db_tx_t.pool). */
#ifndef PROMPTD_DB_POOL_H
#define PROMPTD_DB_POOL_H

#include <stdbool.h>

#include <libpq-fe.h>

typedef struct db_pool db_pool_t;

/* A pool of at most size connections to conninfo, opened lazily; each new
 * connection runs the statements of setup (a NULL-terminated list of SQL
 * texts, e.g. "set role service_role"; the pool keeps the pointer).
 * NULL on allocation failure. */
db_pool_t *db_pool_create(const char *conninfo, int size, const char *const *setup);
/* Close every connection; the pool must have none lent.  NULL-safe. */
void db_pool_destroy(db_pool_t *p);

/* Lend a connection, waiting up to wait_ms for one to be given back;
 * connects when the slot has none (or a broken one).  NULL when none came
 * in time or the database is unreachable (*why: a static sentence). */
PGconn *db_pool_get(db_pool_t *p, long wait_ms, const char **why);
/* Give c back.  A connection left inside a transaction is rolled back; a
 * broken one is closed (its slot reconnects on next use). */
void db_pool_put(db_pool_t *p, PGconn *c);

/* Connections open now and lent now (for status and tests). */
void db_pool_counts(db_pool_t *p, int *open, int *lent);

#endif
