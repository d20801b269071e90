/* db.h: the worker's PostgreSQL connections (the primary, a read replica) and transactions with RLS claims (db_tx_t). */
#ifndef PROMPTD_DB_H
#define PROMPTD_DB_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "core/arena.h"
#include "db/pool.h"

/* A statement prepared on every (re)connection of a worker under its
 * name; on a job's or pooled connection, prepared there at its first use
 * and remembered by address: a db_stmt_t must have static storage.  With
 * PROMPTD_DB_STATEMENTS=unnamed never prepared: its text is sent each time. */
typedef struct db_stmt {
    const char *name;
    const char *sql;
} db_stmt_t;

/* The claims' set_config calls (PostgREST style), with the SQL text of
 * each value: the request's role, its claims JSON, request.jwt.claim.sub,
 * optional calls ending in ", " (ensure), then transaction_read_only.  For
 * a statement that carries the claims itself (prelude_claims). */
#define DB_CLAIMS_SET(role, claims, sub, ensure, ro)                         \
    "set_config('role', " role ", true), "                                  \
    "set_config('request.jwt.claims', " claims ", true), "                  \
    "set_config('request.jwt.claim.sub', " sub ", true), " ensure           \
    "set_config('transaction_read_only', " ro ", true)"

/* One transaction's state, embedded in a request (r->tx) or a job.  Zero
 * it, set arena (and conn for a job), then the claims.  Strings are owned
 * by the arena or static. */
typedef struct db_tx {
    arena_t *arena;           /* owns results and recorded strings */
    PGconn *conn;             /* a job's own connection, where a statement
                               * is prepared at its first use (SQL given as
                               * text is sent as text); NULL: the worker's
                               * connection (db_init), statements prepared */
    db_pool_t *pool;          /* with conn NULL: borrow a connection from the
                               * pool for each statement outside a
                               * transaction and for each transaction, given
                               * back when it ends (conn is set meanwhile
                               * and treated as a job's) */
    /* the claims to set (PostgREST style) */
    const char *user_id;      /* request.jwt.claim.sub: the caller, a UUID */
    const char *role;         /* "authenticated" ...; NULL: "anon" */
    const char *claims;       /* request.jwt.claims JSON; NULL: anon's */
    bool readonly;            /* R_READONLY: claims + query as one implicit
                               * transaction each, no BEGIN or COMMIT */
    bool replica;             /* set by db_tx_use_replica only: the
                               * statements run on the worker's replica
                               * connection (readonly; no ensure_profile;
                               * the prelude and db_exec_unscoped still on
                               * the primary) */
    /* A statement sent once, in the pipeline of the first statement of the
     * request and ahead of it, as the worker's login role: in a read-write
     * request as an implicit transaction of its own (committed at once, so
     * a row it updates is locked only that long), in a read-only one in
     * the request's implicit transaction, before the claims make it
     * read-only (so it may write).  Its error fails the first statement
     * with its SQLSTATE (a read-write request's ran all the same and its
     * transaction is rolled back; a read-only one's is skipped).  Its
     * result is kept in prelude_res (owned by the arena).
     * Worker's connection only (the request quota, src/http/quota.c). */
    const db_stmt_t *prelude;
    /* Read-only requests only: sent when the prelude answers no row, with
     * the same values, as a statement of its own after the pipeline; its
     * result or error stands for the prelude's. */
    const db_stmt_t *prelude_fallback;
    /* Read-only requests only, optional: the prelude and the claims as one
     * statement, sent instead of both when the claims need no
     * ensure_profile (one statement fewer per request).  Its values are
     * the claims (role, claims JSON, "on", user id, as $1-$4) then the
     * prelude's; it answers one row, the prelude's columns then a boolean
     * that is false where the prelude would answer no row (the fallback
     * then decides). */
    const db_stmt_t *prelude_claims;
    const char *const *prelude_values;
    int prelude_nparams;
    /* Optional: prelude_claims's own values after the claims' four, when
     * they are not the prelude's (NULL: prelude_values). */
    const char *const *prelude_claims_values;
    int prelude_claims_nparams;
    /* Optional, with prelude_claims: a counter its caller moves when what
     * the fused answer relied on changes (a notification: db_listen), and
     * its value when the request began; a fused answer given while it
     * moved counts as no row (the fallback decides). */
    const unsigned *prelude_epoch;
    unsigned prelude_epoch_sent;
    PGresult *prelude_res;
    /* state */
    bool open;                /* BEGIN sent; db_finish() pending */
    bool commit_on_error;     /* commit even when answering >= 400: the
                               * handler wrote only audit or throttle rows */
    bool profile_unconfirmed; /* ensure_profile() ran; not yet committed */
    const char *sqlstate;     /* last failed statement's SQLSTATE */
    const char *detail;       /* the cause, for the log line only */
    const char *message;      /* the server's primary message: shown to clients only
                               * for the errors promptd raises itself (class PW) */
    double ms;                /* time spent waiting for PostgreSQL */
} db_tx_t;

/* PROMPTD_DB_STATEMENTS=unnamed (default prepared): every statement of
 * this module goes as an unnamed one with its text (PQsendQueryParams /
 * PQexecParams), none is prepared, so that a transaction-pooling PgBouncer
 * may hand each transaction to any server connection.  Pipelines and
 * parameters are the same in both modes.  Read at first use; config_load
 * refuses any other value. */
bool db_statements_unnamed(void);

/* Remember the connection string and statements; connects lazily (after
 * fork).  stmts is a NULL-name-terminated array, or NULL. */
void db_init(const char *conninfo, const db_stmt_t *stmts);
void db_shutdown(void);

/* LISTEN on channel on the worker's connection, at each connect (none with
 * PROMPTD_DB_STATEMENTS=unnamed); fn(payload) for each notification, read
 * at the end of each pipelined exchange and between requests, and
 * fn(NULL) at each connect (what was sent before it is lost).  channel
 * (static) and fn are set once, before the first connect. */
void db_listen(const char *channel, void (*fn)(const char *payload));

/* True while the worker's connection LISTENs: a notification committed
 * before a pipelined exchange began has reached fn by its end. */
bool db_listening(void);

/* True when a usable connection exists now, connecting if the backoff
 * allows.  While the database is unreachable, reconnection attempts are
 * spaced 100 ms .. 1 s apart; *retry_after gets the seconds to advertise. */
bool db_ready(int *retry_after);

/* PROMPTD_REPLICA_DATABASE_URL (or <secrets>/replica_database_url): the
 * worker's role on a streaming replica, connected lazily like the primary;
 * PROMPTD_REPLICA_MAX_LAG (seconds, default 5, 0..86400): how far behind
 * it may be.  False (logged) on a bad setting.  Without a URL every
 * request runs on the primary. */
bool db_init_replica(void);

/* For a request's tx (R_REPLICA routes, before its first statement): run
 * its statements on the replica when one is set, reachable and fresh
 * (promptd.replica_lag() at most max lag, asked at most once a second);
 * else leave it on the primary, so a replica that is down or behind costs
 * no failed request.  db_ready() must have returned true (the request
 * quota and db_exec_unscoped use the primary).  Returns tx->replica. */
bool db_tx_use_replica(db_tx_t *tx);

/* A job's claims: user_id as role authenticated ({"sub", "role", "aud"}),
 * as a request of that user would have. */
void db_tx_as_user(db_tx_t *tx, const char *user_id);

/* Run a statement inside tx with its claims.  On the worker's connection
 * the first statement pipelines BEGIN, the claims (role,
 * request.jwt.claims, read-only) and the statement in one round trip; a
 * readonly tx's statements each run with the claims in an implicit
 * transaction (no BEGIN, no COMMIT).  On a job's connection too BEGIN, the
 * claims and the first statement go in one round trip.  The result is
 * owned by tx->arena.  Returns NULL on error with tx->sqlstate set (and
 * tx->detail the server's message). */
PGresult *db_exec(db_tx_t *tx, const db_stmt_t *stmt, int nparams,
                  const char *const *values);
/* Same with SQL text (unnamed statement, planned each time). */
PGresult *db_exec_sql(db_tx_t *tx, const char *sql, int nparams,
                      const char *const *values);

/* db_exec / db_exec_sql, but the statement runs as the worker's own login
 * role (promptd_app), still inside the transaction and with its claims
 * (auth.uid() is the caller), then tx's role is restored; one round trip.
 * For the functions no request role may call (promptd.audit(),
 * promptd.enqueue(): sql/0021), so raw SQL under a request role
 * (PostgREST, as on Supabase) cannot forge audit rows or enqueue jobs that
 * the daemon would trust.  On a job's or pooled connection (the daemons
 * log in as the same role and run as service_role) the statement runs as
 * the login role the same way, in the pipeline of BEGIN and the claims
 * when it is the transaction's first. */
PGresult *db_exec_app(db_tx_t *tx, const db_stmt_t *stmt, int nparams,
                      const char *const *values);
PGresult *db_exec_sql_app(db_tx_t *tx, const char *sql, int nparams,
                          const char *const *values);

/* Parameters sent and results received in binary (bytea without hex):
 * lengths and formats per parameter as libpq takes them (formats[i] 1:
 * binary, values[i] then lengths[i] bytes), result_format 1: every
 * column binary. */
typedef struct db_binary {
    const int *lengths;
    const int *formats;
    int result_format;
} db_binary_t;

/* db_exec_app with binary parameters and results (bin), on any
 * connection.  For file chunks (storage_blob_load: the storage family,
 * and enrichments with images in the workers, promptd-gateway and
 * promptd-jobs). */
PGresult *db_exec_app_binary(db_tx_t *tx, const db_stmt_t *stmt, int nparams,
                             const char *const *values, const db_binary_t *bin);

/* Run a statement as the connection's login role itself: no role switch,
 * no claims, its own implicit transaction.  Only while tx has no open
 * transaction (25001 otherwise): authentication (promptd.api_key_auth(), a
 * SECURITY DEFINER function granted to the worker role; db_ready() must
 * have returned true), or a job's definer functions.  NULL on error with
 * tx->sqlstate set. */
PGresult *db_exec_unscoped(db_tx_t *tx, const db_stmt_t *stmt, int nparams,
                           const char *const *values);
/* db_exec_unscoped after committing tx's open transaction, if any: for
 * work that must hold no lock across what follows (a provider call). */
PGresult *db_exec_autocommit(db_tx_t *tx, const db_stmt_t *stmt, int nparams,
                             const char *const *values);

/* Commit (commit=true) or roll back tx's transaction, if one was opened.
 * Returns false when COMMIT failed: tx->sqlstate is the server's
 * (a deferred constraint, a serialization failure), 08006 when the
 * connection was lost (the outcome unknown), 40000 when the transaction
 * had already failed. */
bool db_finish(db_tx_t *tx, bool commit);
/* db_finish(tx, true) / db_finish(tx, false). */
bool db_tx_commit(db_tx_t *tx);
void db_tx_rollback(db_tx_t *tx);

/* Free a result of tx now rather than when the request ends (a 1 MiB file
 * chunk, once sent); res is invalid afterwards.  NULL-safe. */
void db_result_done(db_tx_t *tx, PGresult *res);

/* The value at (row, col) or NULL for SQL NULL. */
const char *db_value(const PGresult *res, int row, int col);

#endif
