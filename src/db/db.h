/* db.h: the worker's one PostgreSQL connection and per-request transactions. */
#ifndef PROMPTD_DB_H
#define PROMPTD_DB_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "core/request.h"

/* A statement prepared on every (re)connection under its name. */
typedef struct db_stmt {
    const char *name;
    const char *sql;
} db_stmt_t;

/* Remember the connection string and statements; connects lazily (after
 * fork).  stmts is a NULL-name-terminated array, or NULL. */
void db_init(const char *conninfo, const db_stmt_t *stmts);
void db_shutdown(void);

/* True when a usable connection exists now, connecting if the backoff
 * allows.  While the database is unreachable, reconnection attempts are
 * spaced 100 ms .. 5 s apart; *retry_after gets the seconds to advertise. */
bool db_ready(int *retry_after);

/* Run a prepared statement inside the request's transaction.  The first
 * query of a request pipelines BEGIN, the claims (role, request.jwt.claims,
 * read-only) and the query itself in one round trip; a R_READONLY route's
 * queries each run with the claims in an implicit transaction (no BEGIN,
 * no COMMIT).  The result is owned
 * by the arena.  Returns NULL on error with r->db_sqlstate set (and
 * r->log_detail the server's message). */
PGresult *db_exec(req_t *r, const db_stmt_t *stmt, int nparams,
                  const char *const *values);
/* Same with SQL text (unnamed statement, planned each time). */
PGresult *db_exec_sql(req_t *r, const char *sql, int nparams,
                      const char *const *values);

/* db_exec / db_exec_sql, but the statement runs as the worker's own login
 * role (promptd_app), still inside the request's transaction and with its
 * claims (auth.uid() is the caller), then the request's role is restored;
 * one round trip.  For the functions no request role may call
 * (promptd.audit(), promptd.enqueue(): sql/0021), so raw SQL under a
 * request role (PostgREST, as on Supabase) cannot forge audit rows or
 * enqueue jobs that the daemon would trust. */
PGresult *db_exec_app(req_t *r, const db_stmt_t *stmt, int nparams,
                      const char *const *values);
PGresult *db_exec_sql_app(req_t *r, const char *sql, int nparams,
                          const char *const *values);

/* Run a prepared statement as the worker role itself: no role switch, no
 * claims, its own implicit transaction.  Only before the request's
 * transaction exists (authentication: promptd.api_key_auth(), a SECURITY
 * DEFINER function granted to the worker role); db_ready() must have
 * returned true.  NULL on error with r->db_sqlstate set. */
PGresult *db_exec_unscoped(req_t *r, const db_stmt_t *stmt, int nparams,
                           const char *const *values);

/* Commit (commit=true) or roll back the request's transaction, if one was
 * opened.  Returns false when COMMIT failed. */
bool db_finish(req_t *r, bool commit);

/* Reply for a failed query, mapping SQLSTATE: 23505 -> 409,
 * 23514/22xxx -> 422, 40001/40P01 -> 503, connection loss -> 503,
 * 42501 -> 403, anything else -> 500 (logged). */
int db_error_reply(req_t *r);

/* 200 {"items":[column 0 of the first `limit` rows, each JSON text],
 * "next_cursor": next or null}.  Queries fetch limit + 1 rows, so more rows
 * than limit means another page exists: callers pass its cursor as next. */
int db_list_reply(req_t *r, const PGresult *res, long limit, const char *next);

/* The reply for a query of at most one row whose column 0 is a JSON
 * document: res NULL (the query failed) -> db_error_reply(); no row -> 404
 * problem+json with detail not_found; else 200 with that document. */
int db_object_reply(req_t *r, const PGresult *res, const char *not_found);

/* The value at (row, col) or NULL for SQL NULL. */
const char *db_value(const PGresult *res, int row, int col);

#endif
