/* jobconn.c: statements on a job's or a pooled connection: prepared at first use, BEGIN and the claims pipelined with the first. */
#include "db/db.h"
#include "db/db_int.h"

#include <stdlib.h>

#include <libpq-events.h>

/* How long a pooled transaction waits for a free connection. */
#define DB_POOL_WAIT_MS 10000

/* A job's claims, sent as text on its own connection after BEGIN. */
#define JOB_CLAIMS_SQL                                                      \
    "select set_config('role', $1, true), "                                 \
    "set_config('request.jwt.claims', $2, true), "                          \
    "set_config('request.jwt.claim.sub', $3, true)"

/* The statements prepared on one job or pooled connection, kept with the
 * PGconn as libpq instance data (freed with it, forgotten on a reset).
 * Keyed by the db_stmt_t's address, not its name: names are unique only
 * within one statement table.  Prepared as "promptd_p<index>". */
#define CONN_MAX_PREPARED 64
typedef struct {
    const db_stmt_t *stmt[CONN_MAX_PREPARED];
    int n;
} conn_prepared_t;

static int conn_event(PGEventId id, void *info, void *pass)
{
    (void)pass;
    if (id == PGEVT_CONNRESET) {
        conn_prepared_t *cp = PQinstanceData(((PGEventConnReset *)info)->conn, conn_event);

        if (cp)
            cp->n = 0;
    } else if (id == PGEVT_CONNDESTROY) {
        free(PQinstanceData(((PGEventConnDestroy *)info)->conn, conn_event));
    }
    return 1;
}

static conn_prepared_t *conn_prepared_set(PGconn *c)
{
    conn_prepared_t *cp = PQinstanceData(c, conn_event);

    if (cp != NULL)
        return cp;
    (void)PQregisterEventProc(c, conn_event, "promptd_prepared", NULL);
    if ((cp = calloc(1, sizeof *cp)) != NULL && !PQsetInstanceData(c, conn_event, cp)) {
        free(cp);
        cp = NULL;
    }
    return cp;
}

/* The name stmt runs under on a job's connection, prepared there first
 * when new (one round trip, once per connection): each later run skips
 * PostgreSQL's parse and plan.  NULL: send the SQL text (no stmt, no
 * room, or PREPARE failed, in which case the statement itself reports
 * the error). */
static const char *conn_prepared(db_tx_t *tx, const db_stmt_t *stmt)
{
    conn_prepared_t *cp;
    PGresult *res;
    bool ok;
    int i;

    if (stmt == NULL || db_statements_unnamed() || (cp = conn_prepared_set(tx->conn)) == NULL)
        return NULL;
    for (i = 0; i < cp->n && cp->stmt[i] != stmt; i++)
        ;
    if (i == cp->n) {
        if (i == CONN_MAX_PREPARED)
            return NULL;
        res = PQprepare(tx->conn, arena_printf(tx->arena, "promptd_p%d", i), stmt->sql, 0, NULL);
        ok = res && PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
        if (!ok)
            return NULL;
        cp->stmt[cp->n++] = stmt;
    }
    return arena_printf(tx->arena, "promptd_p%d", i);
}

/* One statement on a job's connection, binary as bin says (or text when
 * NULL); owned by the arena. */
PGresult *db_job_run(db_tx_t *tx, const db_stmt_t *stmt, const char *sql,
                         int n, const char *const *v, const db_binary_t *bin)
{
    const char *name = conn_prepared(tx, stmt);

    return db_checked(tx, db_stmt_exec(tx->conn, name, stmt ? stmt->sql : sql, n, v, bin));
}

/* A job's scoped statement in one pipeline (one round trip): BEGIN and the
 * claims first when no transaction is open yet, and with as_app the
 * switch to the connection's login role before it and back to the
 * claims' role after it (db_exec_app: the daemons log in as the workers'
 * role, promptd_app, and run as service_role; 'none' is the login role).
 * The transaction is open afterwards unless BEGIN itself failed. */
static PGresult *job_pipeline(db_tx_t *tx, const db_stmt_t *stmt, const char *sql,
                              int n, const char *const *v, const db_binary_t *bin,
                              bool as_app)
{
    const char *claims[3] = {
        tx->role ? tx->role : "anon",
        tx->claims ? tx->claims : "{\"role\":\"anon\"}",
        tx->user_id ? tx->user_id : "",
    };
    PGconn *c = tx->conn;
    const char *name = conn_prepared(tx, stmt);
    PGresult *res[5] = {NULL, NULL, NULL, NULL, NULL}, *extra, *out = NULL;
    bool first = !tx->open, sent;
    int i, q, nres = 0;

    if (stmt)
        sql = stmt->sql;
    sent = PQenterPipelineMode(c);
    if (sent && first && (sent = PQsendQueryParams(c, "begin", 0, NULL, NULL, NULL, NULL, 0)))
        nres++;
    if (sent && first && (sent = PQsendQueryParams(c, JOB_CLAIMS_SQL, 3, NULL, claims,
                                                   NULL, NULL, 0)))
        nres++;
    if (sent && as_app && (sent = PQsendQueryParams(c, db_role_app_stmt.sql, 0, NULL, NULL,
                                                    NULL, NULL, 0)))
        nres++;
    q = nres++;
    sent = sent && db_stmt_send(c, name, sql, n, v, bin);
    if (sent && as_app && (sent = PQsendQueryParams(c, db_role_back_stmt.sql, 1, NULL, claims,
                                                    NULL, NULL, 0)))
        nres++;
    sent = sent && PQpipelineSync(c);
    for (i = 0; sent && i < nres; i++) {
        res[i] = PQgetResult(c);
        while (res[i] && (extra = PQgetResult(c)) != NULL)
            PQclear(extra);
    }
    while (sent && (extra = PQgetResult(c)) != NULL)   /* the Sync */
        PQclear(extra);
    PQexitPipelineMode(c);
    if (first)
        tx->open = sent && res[0] && db_result_ok(res[0]);
    for (i = 0; i < nres && res[i] && db_result_ok(res[i]); i++)
        ;
    if (sent && i == nres) {
        out = db_own(tx, res[q]);
        res[q] = NULL;
    } else {
        db_fail(tx, sent ? res[i] : NULL);
        if (sent)
            res[i] = NULL;
    }
    for (i = 0; i < nres; i++)
        if (res[i])
            PQclear(res[i]);
    return out;
}

/* A job's scoped statement: the first one with BEGIN and the claims, one
 * as the login role with the switches around it. */
PGresult *db_job_exec(db_tx_t *tx, const db_stmt_t *stmt, const char *sql,
                          int n, const char *const *v, const db_binary_t *bin, bool as_app)
{
    if (!tx->open || as_app)
        return job_pipeline(tx, stmt, sql, n, v, bin, as_app);
    return db_job_run(tx, stmt, sql, n, v, bin);
}

/* A pooled tx borrows its connection for a statement or a transaction.
 * False (tx->sqlstate 08006) when none could be had. */
bool db_tx_borrow(db_tx_t *tx)
{
    const char *why = NULL;

    if (tx->pool == NULL || tx->conn != NULL)
        return true;
    if ((tx->conn = db_pool_get(tx->pool, DB_POOL_WAIT_MS, &why)) != NULL)
        return true;
    tx->sqlstate = "08006";
    tx->detail = why;
    return false;
}

/* ... and gives it back once no transaction is open. */
void db_tx_give_back(db_tx_t *tx)
{
    if (tx->pool && tx->conn && !tx->open) {
        db_pool_put(tx->pool, tx->conn);
        tx->conn = NULL;
    }
}
