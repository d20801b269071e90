/* db_int.h: what db.c (the worker's connections) and jobconn.c (a job's or pooled connection) share; not for callers of db.h. */
#ifndef PROMPTD_DB_INT_H
#define PROMPTD_DB_INT_H

#include "db/db.h"

/* Inside a transaction, the switch to the connection's login role for
 * one statement (db_exec_app) and back to the claims' role ($1). */
extern const db_stmt_t db_role_app_stmt;
extern const db_stmt_t db_role_back_stmt;

/* The one place a statement leaves for the server: under its prepared
 * name (name non-NULL, prepared mode) or unnamed with its text
 * (PROMPTD_DB_STATEMENTS=unnamed).  db_stmt_send queues it (pipeline
 * mode); db_stmt_exec runs it and returns libpq's result (caller owns). */
bool db_stmt_send(PGconn *c, const char *name, const char *sql, int n,
                  const char *const *v, const db_binary_t *bin);
PGresult *db_stmt_exec(PGconn *c, const char *name, const char *sql, int n,
                       const char *const *v, const db_binary_t *bin);

/* A result that succeeded (tuples or command). */
bool db_result_ok(const PGresult *res);
/* res handed to tx->arena (cleared when the request or job ends). */
PGresult *db_own(db_tx_t *tx, PGresult *res);
/* Record why res (NULL: no result) failed on tx's connection into
 * tx->sqlstate/detail/message and clear it; a lost worker connection is
 * dropped.  Returns NULL. */
PGresult *db_fail(db_tx_t *tx, PGresult *res);
/* db_own when res succeeded, else db_fail. */
PGresult *db_checked(db_tx_t *tx, PGresult *res);

/* jobconn.c: on tx->conn (a job's or a borrowed pooled connection). */
/* One statement, prepared there at its first use, binary as bin says. */
PGresult *db_job_run(db_tx_t *tx, const db_stmt_t *stmt, const char *sql,
                     int n, const char *const *v, const db_binary_t *bin);
/* A scoped statement: BEGIN and the claims first when no transaction is
 * open, the login-role switches around it with as_app. */
PGresult *db_job_exec(db_tx_t *tx, const db_stmt_t *stmt, const char *sql,
                      int n, const char *const *v, const db_binary_t *bin, bool as_app);
/* With tx->pool: borrow a connection into tx->conn (false, 08006, when
 * none came in time); give it back once no transaction is open. */
bool db_tx_borrow(db_tx_t *tx);
void db_tx_give_back(db_tx_t *tx);

#endif
