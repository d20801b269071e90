/* db.c: the worker's one PostgreSQL connection and per-request transactions. */
#include "db/db.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/log.h"
#include "core/response.h"

#define BACKOFF_MIN 0.1
#define BACKOFF_MAX 5.0

/* Switch role and claims (PostgREST style; request.jwt.claim.sub spares
 * auth.uid() a JSON parse), then optionally make the transaction READ ONLY
 * (turning read-only on is allowed after the first write; the reverse is
 * not).  The first variant also creates the caller's profile if missing. */
#define CLAIMS_SQL(ensure)                                                  \
    "select set_config('role', $1, true), "                                 \
    "set_config('request.jwt.claims', $2, true), "                          \
    "set_config('request.jwt.claim.sub', $4, true), " ensure                \
    "set_config('transaction_read_only', $3, true)"
static const db_stmt_t claims_ensure_stmt = {
    "promptd_claims_ensure", CLAIMS_SQL("promptd.ensure_profile(), ")};
static const db_stmt_t claims_stmt = {"promptd_claims", CLAIMS_SQL("")};
/* Inside a request's transaction: become the worker's own login role ('none'
 * resets the role to the session user) for one statement, then the
 * request's role again (db_exec_app).  A function's EXECUTE privilege is
 * checked when its statement starts, so the switch is a statement of its
 * own. */
static const db_stmt_t role_app_stmt = {
    "promptd_role_app", "select set_config('role', 'none', true)"};
static const db_stmt_t role_back_stmt = {
    "promptd_role_back", "select set_config('role', $1, true)"};

/* User ids whose profile this process has seen committed, so later
 * requests skip promptd.ensure_profile().  Only an optimisation: losing it
 * (a new process) costs one function call per user. */
#define PROFILE_CACHE_SLOTS 8192
static struct {
    char ids[PROFILE_CACHE_SLOTS][37];
    int count;
} profiles_seen;

static unsigned profile_slot(const char *id)
{
    unsigned h = 2166136261u;

    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 16777619u;
    return h % PROFILE_CACHE_SLOTS;
}

/* Linear probing; a full table is simply emptied. */
static bool profile_cache(const char *id, bool add)
{
    unsigned i = profile_slot(id);

    if (strlen(id) != 36)
        return false;
    for (int n = 0; n < PROFILE_CACHE_SLOTS; n++, i = (i + 1) % PROFILE_CACHE_SLOTS) {
        if (profiles_seen.ids[i][0] == '\0')
            break;
        if (strcmp(profiles_seen.ids[i], id) == 0)
            return true;
    }
    if (!add)
        return false;
    if (profiles_seen.count >= PROFILE_CACHE_SLOTS / 2) {
        memset(&profiles_seen, 0, sizeof(profiles_seen));
        i = profile_slot(id);
    }
    while (profiles_seen.ids[i][0] != '\0')
        i = (i + 1) % PROFILE_CACHE_SLOTS;
    memcpy(profiles_seen.ids[i], id, 37);
    profiles_seen.count++;
    return true;
}

static struct {
    char *conninfo;
    const db_stmt_t *stmts;
    PGconn *conn;
    double next_attempt;
    double backoff;
} db;

void db_init(const char *conninfo, const db_stmt_t *stmts)
{
    free(db.conninfo);
    db.conninfo = conninfo ? strdup(conninfo) : NULL;
    db.stmts = stmts;
    db.backoff = 0;
    db.next_attempt = 0;
}

static void db_disconnect(void)
{
    if (db.conn != NULL) {
        PQfinish(db.conn);
        db.conn = NULL;
    }
}

void db_shutdown(void)
{
    db_disconnect();
    free(db.conninfo);
    db.conninfo = NULL;
}

static bool prepare(const db_stmt_t *s)
{
    PGresult *res = PQprepare(db.conn, s->name, s->sql, 0, NULL);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;

    if (!ok)
        log_error("%s: prepare %s: %s", __func__, s->name,
                  PQresultErrorMessage(res));
    PQclear(res);
    return ok;
}

/* Connect and prepare every statement; false (and no connection) on any
 * failure. */
static bool db_connect(void)
{
    static const char *const keys[] = {
        "dbname", "connect_timeout", "application_name", "options", NULL};
    const char *const vals[] = {
        db.conninfo, "3", "promptd",
        "-c statement_timeout=15000 -c idle_in_transaction_session_timeout=60000",
        NULL};

    if (db.conninfo == NULL)
        return false;
    db.conn = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(db.conn) != CONNECTION_OK) {
        log_warn("%s: %s", __func__, PQerrorMessage(db.conn));
        db_disconnect();
        return false;
    }
    if (!prepare(&claims_stmt) || !prepare(&claims_ensure_stmt) ||
        !prepare(&role_app_stmt) || !prepare(&role_back_stmt))
        goto fail;
    for (const db_stmt_t *s = db.stmts; s && s->name; s++)
        if (!prepare(s))
            goto fail;
    return true;
fail:
    db_disconnect();
    return false;
}

/* A connection left inside a transaction (a crash between requests cannot
 * happen, but a handler bug can) is rolled back before reuse. */
static void db_reset_transaction(void)
{
    PGTransactionStatusType ts;

    if (db.conn == NULL)
        return;
    if (PQstatus(db.conn) != CONNECTION_OK) {
        db_disconnect();
        return;
    }
    ts = PQtransactionStatus(db.conn);
    if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
        PGresult *res = PQexec(db.conn, "ROLLBACK");

        PQclear(res);
        log_warn("%s: connection was left in a transaction", __func__);
    } else if (ts != PQTRANS_IDLE) {
        db_disconnect();
    }
}

bool db_ready(int *retry_after)
{
    double now = now_monotonic();

    db_reset_transaction();
    if (db.conn != NULL)
        return true;
    if (now >= db.next_attempt) {
        if (db_connect()) {
            db.backoff = 0;
            return true;
        }
        db.backoff = db.backoff == 0 ? BACKOFF_MIN : fmin(db.backoff * 2, BACKOFF_MAX);
        db.next_attempt = now + db.backoff;
    }
    *retry_after = (int)ceil(db.next_attempt - now);
    if (*retry_after < 1)
        *retry_after = 1;
    return false;
}

/* Record why a result failed, keeping the result on the arena.  Returns
 * NULL so callers can `return fail_result(...)`. */
static PGresult *fail_result(req_t *r, PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : NULL;

    if (db.conn == NULL || PQstatus(db.conn) != CONNECTION_OK) {
        state = "08006";
        msg = db.conn ? PQerrorMessage(db.conn) : "no connection";
    }
    r->db_sqlstate = arena_strdup(r->arena, state ? state : "XX000");
    r->log_detail = arena_strdup(r->arena, msg && *msg ? msg : "query failed");
    if (res)
        PQclear(res);
    if (db.conn && PQstatus(db.conn) != CONNECTION_OK)
        db_disconnect();
    return NULL;
}

static PGresult *own(req_t *r, PGresult *res)
{
    arena_cleanup_add(r->arena, (arena_cleanup_fn)PQclear, res);
    return res;
}

static bool result_ok(const PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);

    return st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
}

/* Collect one pipelined query's result (then its terminating NULL). */
static PGresult *next_result(void)
{
    PGresult *res = PQgetResult(db.conn), *extra;

    if (res == NULL)
        return NULL;
    while ((extra = PQgetResult(db.conn)) != NULL)
        PQclear(extra);
    return res;
}

static bool send_query(const db_stmt_t *stmt, const char *sql, int n,
                       const char *const *v)
{
    if (stmt)
        return PQsendQueryPrepared(db.conn, stmt->name, n, v, NULL, NULL, 0);
    return PQsendQueryParams(db.conn, sql, n, NULL, v, NULL, NULL, 0);
}

/* Claims and the query in one round trip.  A read-write request's first
 * query also opens its transaction (BEGIN ... COMMIT in db_finish).  A
 * read-only request sends no BEGIN: the pipeline up to its Sync is one
 * implicit transaction, so each of its queries is sent with the claims and
 * needs no COMMIT.  With as_app the query runs as the worker's own role,
 * between role_app_stmt and role_back_stmt in the same pipeline.  Returns
 * the query's result or NULL (r->db_sqlstate). */
static PGresult *exec_pipelined(req_t *r, const db_stmt_t *stmt, const char *sql,
                                int n, const char *const *v, bool as_app)
{
    bool readonly = r->route && (r->route->flags & R_READONLY);
    bool first = !r->tx_open;
    const char *claims[4] = {
        r->role ? r->role : "anon",
        r->claims ? r->claims : "{\"role\":\"anon\"}",
        readonly ? "on" : "off",
        r->user_id ? r->user_id : "",
    };
    const db_stmt_t *cs = &claims_stmt;
    PGresult *res[5] = {NULL, NULL, NULL, NULL, NULL}, *sync, *out = NULL;
    int i, nres = 0, q;
    bool sent;

    if (first && r->user_id && !profile_cache(r->user_id, false)) {
        cs = &claims_ensure_stmt;
        r->profile_unconfirmed = true;
    }
    sent = PQenterPipelineMode(db.conn);
    if (sent && first && !readonly && (sent = PQsendQueryParams(
            db.conn, "BEGIN", 0, NULL, NULL, NULL, NULL, 0)))
        nres++;
    if (sent && first && (sent = PQsendQueryPrepared(db.conn, cs->name, 4, claims,
                                                     NULL, NULL, 0)))
        nres++;
    if (sent && as_app && (sent = PQsendQueryPrepared(db.conn, role_app_stmt.name, 0,
                                                      NULL, NULL, NULL, 0)))
        nres++;
    q = nres++;
    sent = sent && send_query(stmt, sql, n, v);
    if (sent && as_app && (sent = PQsendQueryPrepared(db.conn, role_back_stmt.name, 1,
                                                      claims, NULL, NULL, 0)))
        nres++;
    if (!sent || !PQpipelineSync(db.conn)) {
        db_disconnect();   /* a failed send leaves the pipeline unusable */
        return fail_result(r, NULL);
    }
    if (first)
        r->tx_open = !readonly;
    for (i = 0; i < nres; i++)
        res[i] = next_result();
    sync = PQgetResult(db.conn);
    if (sync)
        PQclear(sync);
    PQexitPipelineMode(db.conn);
    for (i = 0; i < nres; i++) {
        if (res[i] == NULL || !result_ok(res[i])) {
            out = fail_result(r, res[i]);
            res[i] = NULL;
            goto out;
        }
    }
    out = own(r, res[q]);
    res[q] = NULL;
    if (readonly && r->profile_unconfirmed) {   /* committed at the Sync */
        profile_cache(r->user_id, true);
        r->profile_unconfirmed = false;
    }
out:
    for (i = 0; i < nres; i++)
        if (res[i])
            PQclear(res[i]);
    return out;
}

static PGresult *exec_any(req_t *r, const db_stmt_t *stmt, const char *sql,
                          int n, const char *const *v, bool as_app)
{
    double t0 = now_monotonic();
    PGresult *res;

    if (db.conn == NULL) {
        r->db_sqlstate = "08006";
        return NULL;
    }
    if (!r->tx_open || as_app) {
        res = exec_pipelined(r, stmt, sql, n, v, as_app);
    } else {
        res = stmt ? PQexecPrepared(db.conn, stmt->name, n, v, NULL, NULL, 0)
                   : PQexecParams(db.conn, sql, n, NULL, v, NULL, NULL, 0);
        res = res && result_ok(res) ? own(r, res) : fail_result(r, res);
    }
    r->db_ms += (now_monotonic() - t0) * 1000.0;
    return res;
}

PGresult *db_exec(req_t *r, const db_stmt_t *stmt, int nparams,
                  const char *const *values)
{
    return exec_any(r, stmt, NULL, nparams, values, false);
}

PGresult *db_exec_sql(req_t *r, const char *sql, int nparams,
                      const char *const *values)
{
    return exec_any(r, NULL, sql, nparams, values, false);
}

PGresult *db_exec_app(req_t *r, const db_stmt_t *stmt, int nparams,
                      const char *const *values)
{
    return exec_any(r, stmt, NULL, nparams, values, true);
}

PGresult *db_exec_sql_app(req_t *r, const char *sql, int nparams,
                          const char *const *values)
{
    return exec_any(r, NULL, sql, nparams, values, true);
}

PGresult *db_exec_unscoped(req_t *r, const db_stmt_t *stmt, int nparams,
                           const char *const *values)
{
    double t0 = now_monotonic();
    PGresult *res;

    if (db.conn == NULL || r->tx_open) {
        r->db_sqlstate = db.conn == NULL ? "08006" : "25001";
        return NULL;
    }
    res = PQexecPrepared(db.conn, stmt->name, nparams, values, NULL, NULL, 0);
    res = res && result_ok(res) ? own(r, res) : fail_result(r, res);
    r->db_ms += (now_monotonic() - t0) * 1000.0;
    return res;
}

bool db_finish(req_t *r, bool commit)
{
    double t0 = now_monotonic();
    PGresult *res;
    bool ok;

    if (!r->tx_open)
        return true;
    r->tx_open = false;
    if (db.conn == NULL)
        return !commit;
    res = PQexec(db.conn, commit ? "COMMIT" : "ROLLBACK");
    ok = PQresultStatus(res) == PGRES_COMMAND_OK &&
         (!commit || strcmp(PQcmdStatus(res), "COMMIT") == 0);
    if (!ok && commit) {
        r->log_detail = arena_strdup(r->arena, PQresultErrorMessage(res));
        r->db_sqlstate = "40000";
    }
    if (ok && commit && r->profile_unconfirmed)
        profile_cache(r->user_id, true);
    r->profile_unconfirmed = false;
    PQclear(res);
    if (PQstatus(db.conn) != CONNECTION_OK)
        db_disconnect();
    r->db_ms += (now_monotonic() - t0) * 1000.0;
    return ok;
}

int db_error_reply(req_t *r)
{
    const char *s = r->db_sqlstate ? r->db_sqlstate : "XX000";

    if (strncmp(s, "08", 2) == 0 || strcmp(s, "57P01") == 0 ||
        strcmp(s, "40001") == 0 || strcmp(s, "40P01") == 0 ||
        strcmp(s, "57014") == 0) {
        resp_header(r, "Retry-After", "1");
        return resp_problem(r, 503, "The database is busy or unreachable; retry shortly.");
    }
    if (strcmp(s, "23505") == 0)
        return resp_problem(r, 409, "The resource already exists.");
    if (strcmp(s, "23503") == 0)
        return resp_problem(r, 409, "A referenced resource does not exist.");
    if (strcmp(s, "23514") == 0 || strcmp(s, "23502") == 0 ||
        strncmp(s, "22", 2) == 0)
        return resp_problem(r, 422, "The request violates a data constraint.");
    if (strcmp(s, "42501") == 0)
        return resp_problem(r, 403, "You are not allowed to do that.");
    log_error("%s: sqlstate %s: %s", __func__, s,
              r->log_detail ? r->log_detail : "");
    return resp_problem(r, 500, "Internal error; it has been logged.");
}

int db_list_reply(req_t *r, const PGresult *res, long limit, const char *next)
{
    int rows = PQntuples(res) < limit ? PQntuples(res) : (int)limit;
    strbuf_t sb;

    strbuf_init(&sb, r->arena, 4096);
    strbuf_puts(&sb, "{\"items\":[");
    for (int i = 0; i < rows; i++) {
        if (i)
            strbuf_putc(&sb, ',');
        strbuf_append(&sb, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0));
    }
    strbuf_puts(&sb, "],\"next_cursor\":");
    if (next)
        json_append_string(&sb, next);
    else
        strbuf_puts(&sb, "null");
    strbuf_putc(&sb, '}');
    return resp_json_text(r, 200, sb.ptr, sb.len);
}

int db_object_reply(req_t *r, const PGresult *res, const char *not_found)
{
    if (res == NULL)
        return db_error_reply(r);
    if (PQntuples(res) != 1)
        return resp_problem(r, 404, not_found);
    return resp_json_text(r, 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

const char *db_value(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}
