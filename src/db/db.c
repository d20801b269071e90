/* db.c: the worker's PostgreSQL connections (the primary, a read replica) and transactions with RLS claims (db_tx_t). */
#include "db/db.h"
#include "db/db_int.h"

#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"

/* Reconnect backoff, seconds: doubling from BACKOFF_MIN, capped at
 * BACKOFF_MAX so that every worker tries again at least once a second and
 * the service is back within about a second of the database (a refused
 * connect costs next to nothing). */
#define BACKOFF_MIN 0.1
#define BACKOFF_MAX 1.0

/* The most values a prelude fused with the claims may take. */
#define PRELUDE_PARAMS_MAX 5

/* Switch role and claims (PostgREST style; request.jwt.claim.sub spares
 * auth.uid() a JSON parse), then optionally make the transaction READ ONLY
 * (turning read-only on is allowed after the first write; the reverse is
 * not).  The first variant also creates the caller's profile if missing. */
#define CLAIMS_SQL(ensure) "select " DB_CLAIMS_SET("$1", "$2", "$4", ensure, "$3")
static const db_stmt_t claims_ensure_stmt = {
    "promptd_claims_ensure", CLAIMS_SQL("promptd.ensure_profile(), ")};
static const db_stmt_t claims_stmt = {"promptd_claims", CLAIMS_SQL("")};
/* Inside a request's transaction: become the worker's own login role ('none'
 * resets the role to the session user) for one statement, then the
 * request's role again (db_exec_app).  A function's EXECUTE privilege is
 * checked when its statement starts, so the switch is a statement of its
 * own. */
const db_stmt_t db_role_app_stmt = {
    "promptd_role_app", "select set_config('role', 'none', true)"};
const db_stmt_t db_role_back_stmt = {
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

/* One of the worker's connections, each reconnecting with its own backoff:
 * the primary's, used by every request, and the replica's, used by the
 * R_REPLICA routes when PROMPTD_REPLICA_DATABASE_URL is set
 * (db_tx_use_replica).
 * Both prepare the same statements. */
typedef struct db_link {
    const char *name;      /* "primary" or "replica", for the log */
    char *conninfo;
    PGconn *conn;
    double next_attempt;
    double backoff;
    bool connected_once;   /* a later connect is a reconnect */
} db_link_t;

static const db_stmt_t *db_stmts;
static db_link_t primary = {.name = "primary"}, replica = {.name = "replica"};

/* The replica's freshness, asked of it at most once a second
 * (promptd.replica_lag(), sql/functions/replica.sql). */
#define REPLICA_CHECK_INTERVAL 1.0
static struct {
    long max_lag;          /* PROMPTD_REPLICA_MAX_LAG seconds */
    double checked_at;
    bool fresh;
} replica_state;

static void link_set(db_link_t *l, const char *conninfo)
{
    free(l->conninfo);
    l->conninfo = conninfo ? strdup(conninfo) : NULL;
    l->backoff = 0;
    l->next_attempt = 0;
}

void db_init(const char *conninfo, const db_stmt_t *stmts)
{
    link_set(&primary, conninfo);
    db_stmts = stmts;
}

/* The worker connection's LISTEN (db_listen). */
static struct {
    const char *channel;
    void (*fn)(const char *payload);
    bool on;               /* the primary connection LISTENs */
} listener;

void db_listen(const char *channel, void (*fn)(const char *payload))
{
    listener.channel = channel;
    listener.fn = fn;
}

bool db_listening(void)
{
    return listener.on && primary.conn != NULL;
}

/* Hand every notification libpq has read on c to the listener; how many. */
static int drain_notifies(PGconn *c)
{
    PGnotify *n;
    int count = 0;

    while ((n = PQnotifies(c)) != NULL) {
        if (listener.fn && strcmp(n->relname, listener.channel) == 0)
            listener.fn(n->extra);
        PQfreemem(n);
        count++;
    }
    return count;
}

/* LISTEN on l (the primary) when asked to and its sessions are the
 * worker's own (not with PROMPTD_DB_STATEMENTS=unnamed: a transaction
 * pooler may lend each transaction another session).  What was sent
 * while no connection listened is lost, so the listener first hears
 * fn(NULL). */
static void listen_on(db_link_t *l)
{
    char *id, sql[128];
    PGresult *res;

    if (l != &primary || listener.channel == NULL || db_statements_unnamed())
        return;
    if ((id = PQescapeIdentifier(l->conn, listener.channel, strlen(listener.channel))) == NULL)
        return;
    snprintf(sql, sizeof(sql), "LISTEN %s", id);
    PQfreemem(id);
    res = PQexec(l->conn, sql);
    listener.on = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!listener.on)
        log_warn("%s: LISTEN %s: %s", __func__, listener.channel, PQresultErrorMessage(res));
    PQclear(res);
    if (listener.fn)
        listener.fn(NULL);
}

static void db_disconnect(db_link_t *l)
{
    if (l == &primary)
        listener.on = false;
    if (l->conn != NULL) {
        PQfinish(l->conn);
        l->conn = NULL;
    }
}

void db_shutdown(void)
{
    db_disconnect(&primary);
    db_disconnect(&replica);
    link_set(&primary, NULL);
    link_set(&replica, NULL);
}

/* Threads (promptd-gateway, promptd-jobs) may ask first at once: each
 * computes the same answer from the environment, stored atomically. */
bool db_statements_unnamed(void)
{
    static int unnamed = -1;
    int u = __atomic_load_n(&unnamed, __ATOMIC_RELAXED);

    if (u < 0) {
        const char *v = config_env("PROMPTD_DB_STATEMENTS");

        u = v != NULL && strcmp(v, "unnamed") == 0;
        __atomic_store_n(&unnamed, u, __ATOMIC_RELAXED);
    }
    return u;
}

/* The one place a statement leaves for the server: under its prepared
 * name when it has one and the mode is prepared, else unnamed with its
 * text (parsed and planned at each run, the only kind a transaction-pooling
 * PgBouncer 1.18 forwards safely).  Same parameters and result formats
 * either way.  db_stmt_send queues it (pipeline mode); db_stmt_exec runs it. */
bool db_stmt_send(PGconn *c, const char *name, const char *sql, int n,
                  const char *const *v, const db_binary_t *bin)
{
    const int *len = bin ? bin->lengths : NULL, *fmt = bin ? bin->formats : NULL;
    int rfmt = bin ? bin->result_format : 0;

    if (name != NULL && !db_statements_unnamed())
        return PQsendQueryPrepared(c, name, n, v, len, fmt, rfmt);
    return PQsendQueryParams(c, sql, n, NULL, v, len, fmt, rfmt);
}

PGresult *db_stmt_exec(PGconn *c, const char *name, const char *sql, int n,
                       const char *const *v, const db_binary_t *bin)
{
    const int *len = bin ? bin->lengths : NULL, *fmt = bin ? bin->formats : NULL;
    int rfmt = bin ? bin->result_format : 0;

    if (name != NULL && !db_statements_unnamed())
        return PQexecPrepared(c, name, n, v, len, fmt, rfmt);
    return PQexecParams(c, sql, n, NULL, v, len, fmt, rfmt);
}

static bool prepare(db_link_t *l, const db_stmt_t *s)
{
    PGresult *res = PQprepare(l->conn, s->name, s->sql, 0, NULL);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;

    if (!ok)
        log_error("%s: prepare %s on the %s: %s", __func__, s->name, l->name,
                  PQresultErrorMessage(res));
    PQclear(res);
    return ok;
}

/* Connect and prepare every statement; false (and no connection) on any
 * failure. */
static bool db_connect(db_link_t *l)
{
    static const char *const keys[] = {
        "dbname", "connect_timeout", "application_name", "options", NULL};
    const char *const vals[] = {
        l->conninfo, "3", "promptd",
        "-c statement_timeout=15000 -c idle_in_transaction_session_timeout=60000",
        NULL};

    if (l->conninfo == NULL)
        return false;
    l->conn = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(l->conn) != CONNECTION_OK) {
        log_warn("%s: %s: %s", __func__, l->name, PQerrorMessage(l->conn));
        db_disconnect(l);
        return false;
    }
    if (db_statements_unnamed())   /* nothing to prepare: every statement
                                    * goes with its text (db_stmt_send) */
        return true;
    if (!prepare(l, &claims_stmt) || !prepare(l, &claims_ensure_stmt) ||
        !prepare(l, &db_role_app_stmt) || !prepare(l, &db_role_back_stmt))
        goto fail;
    for (const db_stmt_t *s = db_stmts; s && s->name; s++)
        if (!prepare(l, s))
            goto fail;
    listen_on(l);
    return true;
fail:
    db_disconnect(l);
    return false;
}

/* True when the idle worker connection can no longer be trusted.  Between
 * requests the server owes us nothing but notifications (db_listen), so a
 * readable socket that brought none means it sent its FATAL (a shutdown,
 * pg_terminate_backend) and is hanging up: the request then gets a new
 * connection instead of a 503.  Anything else unasked for costs one
 * reconnect, never a failed request. */
static bool db_conn_closed(db_link_t *l)
{
    PGconn *c = l->conn;
    struct pollfd p = {PQsocket(c), POLLIN, 0};

    if (p.fd >= 0 && poll(&p, 1, 0) <= 0)   /* -1: EINTR, ask again next time */
        return false;
    /* but a LISTENing connection hears notifications between requests */
    if (l == &primary && listener.on && PQconsumeInput(c) &&
        PQstatus(c) == CONNECTION_OK && drain_notifies(c) > 0)
        return false;
    log_warn("%s: the server closed the idle connection; reconnecting", __func__);
    return true;
}

/* A connection left inside a transaction (a crash between requests cannot
 * happen, but a handler bug can) is rolled back before reuse; one the
 * server closed is dropped. */
static void db_reset_transaction(db_link_t *l)
{
    PGTransactionStatusType ts;

    if (l->conn == NULL)
        return;
    if (PQstatus(l->conn) != CONNECTION_OK || db_conn_closed(l)) {
        db_disconnect(l);
        return;
    }
    if (l == &primary && listener.on)   /* what libpq read with a lone statement */
        drain_notifies(l->conn);
    ts = PQtransactionStatus(l->conn);
    if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
        PGresult *res = PQexec(l->conn, "ROLLBACK");

        PQclear(res);
        log_warn("%s: connection was left in a transaction", __func__);
    } else if (ts != PQTRANS_IDLE) {
        db_disconnect(l);
    }
}

/* promptd_db_reconnects_total{family}: every connect to the primary after
 * the first (the replica's are logged). */
static void db_count_reconnect(db_link_t *l)
{
    char labels[96];

    if (!l->connected_once || l != &primary) {
        l->connected_once = true;
        return;
    }
    snprintf(labels, sizeof(labels), "family=\"%s\"", log_family_name());
    metrics_counter_add("promptd_db_reconnects_total", labels, 1);
}

/* l's connection is usable now, connecting if its backoff allows. */
static bool link_ready(db_link_t *l, int *retry_after)
{
    double now = clock_now();

    db_reset_transaction(l);
    if (l->conn != NULL)
        return true;
    if (now >= l->next_attempt) {
        if (db_connect(l)) {
            l->backoff = 0;
            db_count_reconnect(l);
            return true;
        }
        l->backoff = l->backoff == 0 ? BACKOFF_MIN : fmin(l->backoff * 2, BACKOFF_MAX);
        l->next_attempt = now + l->backoff;
    }
    *retry_after = (int)ceil(l->next_attempt - now);
    if (*retry_after < 1)
        *retry_after = 1;
    return false;
}

bool db_ready(int *retry_after)
{
    return link_ready(&primary, retry_after);
}

bool db_init_replica(void)
{
    const char *url = config_secret("PROMPTD_REPLICA_DATABASE_URL", "replica_database_url");

    if (!config_env_int("PROMPTD_REPLICA_MAX_LAG", 5, 0, 86400, &replica_state.max_lag))
        return false;
    link_set(&replica, url && *url ? url : NULL);
    replica_state.checked_at = 0;
    return true;
}

/* Whether the replica is at most max_lag seconds behind, asked of it at
 * most once per REPLICA_CHECK_INTERVAL.  promptd.replica_lag() answers
 * NULL for a standby that is not streaming: it would serve old rows
 * forever. */
static bool replica_fresh(void)
{
    static const db_stmt_t lag = {NULL, "select promptd.replica_lag()"};
    double now = clock_now();
    PGresult *res;

    if (now - replica_state.checked_at < REPLICA_CHECK_INTERVAL)
        return replica_state.fresh;
    res = db_stmt_exec(replica.conn, lag.name, lag.sql, 0, NULL, NULL);
    replica_state.fresh = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
        !PQgetisnull(res, 0, 0) && strtod(PQgetvalue(res, 0, 0), NULL) <= (double)replica_state.max_lag;
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        log_warn("%s: %s", __func__, PQresultErrorMessage(res));
    PQclear(res);
    if (PQstatus(replica.conn) != CONNECTION_OK)
        db_disconnect(&replica);
    replica_state.checked_at = now;
    return replica_state.fresh;
}

/* promptd_db_replica_total{family,db}: which connection a replica route
 * ran on. */
static void db_count_replica(bool used)
{
    char labels[128];

    snprintf(labels, sizeof(labels), "family=\"%s\",db=\"%s\"", log_family_name(),
             used ? "replica" : "primary");
    metrics_counter_add("promptd_db_replica_total", labels, 1);
}

bool db_tx_use_replica(db_tx_t *tx)
{
    int retry_after;

    tx->replica = false;
    if (replica.conninfo == NULL || tx->conn != NULL || tx->open)
        return false;
    if (link_ready(&replica, &retry_after) && replica_fresh())
        tx->replica = replica.conn != NULL;
    db_count_replica(tx->replica);
    return tx->replica;
}

void db_tx_as_user(db_tx_t *tx, const char *user_id)
{
    tx->user_id = user_id;
    tx->role = "authenticated";
    tx->claims = arena_printf(tx->arena, "{\"sub\":\"%s\",\"role\":\"authenticated\","
                              "\"aud\":\"authenticated\"}", user_id ? user_id : "");
}

/* The worker connection a request's tx runs on. */
static db_link_t *tx_link(const db_tx_t *tx)
{
    return tx->replica ? &replica : &primary;
}

/* The connection tx runs on: a job's, or the worker's (may be NULL). */
static PGconn *tx_conn(const db_tx_t *tx)
{
    return tx->conn ? tx->conn : tx_link(tx)->conn;
}

/* Record why a result of link l (NULL: of the job's connection) failed.
 * Returns NULL so callers can `return fail_on(...)`.  A lost worker
 * connection is dropped (a job's belongs to its daemon). */
static PGresult *fail_on(db_tx_t *tx, db_link_t *l, PGresult *res)
{
    PGconn *c = l ? l->conn : tx->conn;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : NULL;

    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        state = "08006";
        msg = c ? PQerrorMessage(c) : "no connection";
    }
    tx->sqlstate = arena_strdup(tx->arena, state ? state : "XX000");
    tx->detail = arena_strdup(tx->arena, msg && *msg ? msg : "query failed");
    tx->message = res ? arena_strdup(tx->arena, PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY))
                      : NULL;
    if (res)
        PQclear(res);
    if (l && l->conn && PQstatus(l->conn) != CONNECTION_OK)
        db_disconnect(l);
    return NULL;
}

PGresult *db_fail(db_tx_t *tx, PGresult *res)
{
    return fail_on(tx, tx->conn ? NULL : tx_link(tx), res);
}

PGresult *db_own(db_tx_t *tx, PGresult *res)
{
    arena_cleanup_add(tx->arena, (arena_cleanup_fn)PQclear, res);
    return res;
}

void db_result_done(db_tx_t *tx, PGresult *res)
{
    if (res != NULL)
        arena_cleanup_now(tx->arena, (arena_cleanup_fn)PQclear, res);
}

bool db_result_ok(const PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);

    return st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
}

/* A finished statement's result: owned by the arena when it succeeded,
 * else recorded as the transaction's failure (NULL). */
PGresult *db_checked(db_tx_t *tx, PGresult *res)
{
    return res && db_result_ok(res) ? db_own(tx, res) : db_fail(tx, res);
}

/* Collect one pipelined query's result (then its terminating NULL). */
static PGresult *next_result(PGconn *c)
{
    PGresult *res = PQgetResult(c), *extra;

    if (res == NULL)
        return NULL;
    while ((extra = PQgetResult(c)) != NULL)
        PQclear(extra);
    return res;
}

/* Queue the prelude (a read-write tx's in an implicit transaction of its
 * own, ended by a Sync: its row locks last only as long as it), BEGIN (a read-write tx's
 * first statement), the claims, the role switch and the statement; *q gets
 * the statement's result index, *p the prelude's (-1 when none), *fused
 * whether the prelude went with the claims as one (prelude_claims).
 * Returns the number of results to read, or -1 when a send failed. */
static int send_pipeline(db_tx_t *tx, const db_stmt_t *stmt, const char *sql,
                         int n, const char *const *v, const db_binary_t *bin, bool as_app,
                         const char *const *claims, int *q, int *p, bool *fused)
{
    PGconn *c = tx_link(tx)->conn;
    bool first = !tx->open;
    const db_stmt_t *cs = &claims_stmt;
    const char *fv[4 + PRELUDE_PARAMS_MAX];
    const char *const *pv = tx->prelude_claims_values ? tx->prelude_claims_values
                                                      : tx->prelude_values;
    int pn = tx->prelude_claims_values ? tx->prelude_claims_nparams : tx->prelude_nparams;
    int nres = 0;
    bool sent;

    /* the replica cannot write: its routes need no profile row */
    if (first && tx->user_id && !tx->replica && !profile_cache(tx->user_id, false)) {
        cs = &claims_ensure_stmt;
        tx->profile_unconfirmed = true;
    }
    *fused = first && tx->readonly && tx->prelude && tx->prelude_claims &&
             cs == &claims_stmt && pn <= PRELUDE_PARAMS_MAX;
    sent = PQenterPipelineMode(c);
    if (sent && *fused) {
        memcpy(fv, claims, 4 * sizeof(*fv));
        memcpy(fv + 4, pv, (size_t)pn * sizeof(*fv));
        if ((sent = db_stmt_send(c, tx->prelude_claims->name, tx->prelude_claims->sql,
                                 4 + pn, fv, NULL)))
            *p = nres++;
    } else if (sent && tx->prelude && (sent = db_stmt_send(c, tx->prelude->name,
            tx->prelude->sql, tx->prelude_nparams, tx->prelude_values, NULL) &&
            (tx->readonly || PQpipelineSync(c)))) {
        *p = nres++;
    }
    if (sent && first && !tx->readonly && (sent = PQsendQueryParams(
            c, "BEGIN", 0, NULL, NULL, NULL, NULL, 0)))
        nres++;
    if (sent && first && !*fused && (sent = db_stmt_send(c, cs->name, cs->sql, 4, claims, NULL)))
        nres++;
    if (sent && as_app && (sent = db_stmt_send(c, db_role_app_stmt.name, db_role_app_stmt.sql,
                                            0, NULL, NULL)))
        nres++;
    *q = nres++;
    sent = sent && db_stmt_send(c, stmt ? stmt->name : NULL, stmt ? stmt->sql : sql,
                             n, v, bin);
    if (sent && as_app && (sent = db_stmt_send(c, db_role_back_stmt.name, db_role_back_stmt.sql,
                                            1, claims, NULL)))
        nres++;
    return sent && PQpipelineSync(c) ? nres : -1;
}

/* True when the prelude's result says "no row": none at all, or with
 * prelude_claims (fused) a false last column in its one row. */
static bool prelude_none(const PGresult *res, bool fused)
{
    int last;

    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
        return false;
    if (!fused)
        return PQntuples(res) == 0;
    last = PQnfields(res) - 1;
    return PQntuples(res) != 1 || last < 0 || strcmp(PQgetvalue(res, 0, last), "t") != 0;
}

/* True when what a fused prelude relied on changed while it ran
 * (prelude_epoch: the notifications drained at its end count). */
static bool prelude_moved(const db_tx_t *tx)
{
    return tx->prelude_epoch && *tx->prelude_epoch != tx->prelude_epoch_sent;
}

/* Claims and the query in one round trip.  A read-write tx's first
 * query also opens its transaction (BEGIN ... COMMIT in db_finish).  A
 * read-only tx sends no BEGIN: the pipeline up to its Sync is one
 * implicit transaction, so each of its queries is sent with the claims and
 * needs no COMMIT.  With as_app the query runs as the worker's own role,
 * between db_role_app_stmt and db_role_back_stmt in the same pipeline.  Returns
 * the query's result or NULL (tx->sqlstate). */
static PGresult *exec_pipelined(db_tx_t *tx, const db_stmt_t *stmt, const char *sql,
                                int n, const char *const *v, const db_binary_t *bin,
                                bool as_app)
{
    const char *claims[4] = {
        tx->role ? tx->role : "anon",
        tx->claims ? tx->claims : "{\"role\":\"anon\"}",
        tx->readonly ? "on" : "off",
        tx->user_id ? tx->user_id : "",
    };
    db_link_t *l = tx_link(tx);
    PGresult *res[6] = {NULL, NULL, NULL, NULL, NULL, NULL}, *sync, *out = NULL;
    int i, nres, q, p = -1;
    bool fused;

    if ((nres = send_pipeline(tx, stmt, sql, n, v, bin, as_app, claims, &q, &p, &fused)) < 0) {
        db_disconnect(l);   /* a failed send leaves the pipeline unusable */
        return db_fail(tx, NULL);
    }
    if (!tx->open)
        tx->open = !tx->readonly;
    tx->prelude = NULL;          /* sent once, whatever its outcome */
    for (i = 0; i < nres; i++) {
        res[i] = next_result(l->conn);
        if (i == p && !tx->readonly && (sync = PQgetResult(l->conn)) != NULL)   /* the prelude's Sync */
            PQclear(sync);
    }
    sync = PQgetResult(l->conn);
    if (sync)
        PQclear(sync);
    PQexitPipelineMode(l->conn);
    if (l == &primary && listener.on)
        drain_notifies(l->conn);
    if (p >= 0 && tx->prelude_fallback &&
        (prelude_none(res[p], fused) || (fused && prelude_moved(tx)))) {
        /* no row: the fallback decides (db.h) */
        PQclear(res[p]);
        res[p] = db_stmt_exec(l->conn, tx->prelude_fallback->name, tx->prelude_fallback->sql,
                           tx->prelude_nparams, tx->prelude_values, NULL);
    }
    tx->prelude_fallback = tx->prelude_claims = NULL;
    tx->prelude_claims_values = NULL;
    tx->prelude_epoch = NULL;
    if (p >= 0 && res[p] && db_result_ok(res[p])) {   /* kept even when the
                                                      * statement fails */
        tx->prelude_res = db_own(tx, res[p]);
        res[p] = NULL;
    } else {
        p = -1;
    }
    for (i = 0; i < nres; i++) {
        if (i != p && (res[i] == NULL || !db_result_ok(res[i]))) {
            out = db_fail(tx, res[i]);
            res[i] = NULL;
            goto out;
        }
    }
    out = db_own(tx, res[q]);
    res[q] = NULL;
    if (tx->readonly && tx->profile_unconfirmed) {   /* committed at the Sync */
        profile_cache(tx->user_id, true);
        tx->profile_unconfirmed = false;
    }
out:
    for (i = 0; i < nres; i++)
        if (res[i])
            PQclear(res[i]);
    return out;
}

/* A replica tx's prelude (the request quota, which writes) runs on the
 * primary as a statement of its own, with its fallback, before the
 * request's first statement goes to the replica: one more round trip
 * than on the primary.  False (tx->sqlstate) when it failed: the
 * statement is then not sent, as when a prelude fails in the pipeline. */
static bool prelude_on_primary(db_tx_t *tx)
{
    const db_stmt_t *p = tx->prelude, *fb = tx->prelude_fallback;
    PGresult *res;

    tx->prelude = tx->prelude_fallback = tx->prelude_claims = NULL;
    tx->prelude_claims_values = NULL;
    tx->prelude_epoch = NULL;
    if (primary.conn == NULL) {
        fail_on(tx, &primary, NULL);
        return false;
    }
    res = db_stmt_exec(primary.conn, p->name, p->sql, tx->prelude_nparams, tx->prelude_values, NULL);
    if (fb && res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 0) {
        PQclear(res);
        res = db_stmt_exec(primary.conn, fb->name, fb->sql, tx->prelude_nparams,
                        tx->prelude_values, NULL);
    }
    if (res == NULL || !db_result_ok(res)) {
        fail_on(tx, &primary, res);
        return false;
    }
    tx->prelude_res = db_own(tx, res);
    return true;
}

static PGresult *exec_any(db_tx_t *tx, const db_stmt_t *stmt, const char *sql,
                          int n, const char *const *v, const db_binary_t *bin,
                          bool as_app)
{
    double t0 = clock_now();
    PGconn *c = tx_link(tx)->conn;
    PGresult *res;

    if (!db_tx_borrow(tx))
        return NULL;
    if (tx->conn != NULL) {
        res = db_job_exec(tx, stmt, sql, n, v, bin, as_app);
    } else if (c == NULL) {
        tx->sqlstate = "08006";
        return NULL;
    } else if (tx->replica && tx->prelude && !prelude_on_primary(tx)) {
        res = NULL;
    } else if (!tx->open || as_app) {
        res = exec_pipelined(tx, stmt, sql, n, v, bin, as_app);
    } else {
        res = db_checked(tx, db_stmt_exec(c, stmt ? stmt->name : NULL, stmt ? stmt->sql : sql,
                                    n, v, bin));
    }
    db_tx_give_back(tx);
    tx->ms += (clock_now() - t0) * 1000.0;
    return res;
}

PGresult *db_exec(db_tx_t *tx, const db_stmt_t *stmt, int nparams,
                  const char *const *values)
{
    return exec_any(tx, stmt, NULL, nparams, values, NULL, false);
}

PGresult *db_exec_sql(db_tx_t *tx, const char *sql, int nparams,
                      const char *const *values)
{
    return exec_any(tx, NULL, sql, nparams, values, NULL, false);
}

PGresult *db_exec_app(db_tx_t *tx, const db_stmt_t *stmt, int nparams,
                      const char *const *values)
{
    return exec_any(tx, stmt, NULL, nparams, values, NULL, true);
}

PGresult *db_exec_app_binary(db_tx_t *tx, const db_stmt_t *stmt, int nparams,
                             const char *const *values, const db_binary_t *bin)
{
    return exec_any(tx, stmt, NULL, nparams, values, bin, true);
}

PGresult *db_exec_sql_app(db_tx_t *tx, const char *sql, int nparams,
                          const char *const *values)
{
    return exec_any(tx, NULL, sql, nparams, values, NULL, true);
}

PGresult *db_exec_unscoped(db_tx_t *tx, const db_stmt_t *stmt, int nparams,
                           const char *const *values)
{
    PGconn *c;
    double t0 = clock_now();
    PGresult *res;

    if (!tx->open && !db_tx_borrow(tx))
        return NULL;
    c = tx->conn ? tx->conn : primary.conn;   /* the login role's own work
                                               * may write: never the replica */
    if (c == NULL || tx->open) {
        tx->sqlstate = c == NULL ? "08006" : "25001";
        return NULL;
    }
    if (tx->conn) {
        res = db_job_run(tx, stmt, NULL, nparams, values, NULL);
    } else {
        res = db_stmt_exec(c, stmt->name, stmt->sql, nparams, values, NULL);
        res = res && db_result_ok(res) ? db_own(tx, res) : fail_on(tx, &primary, res);
    }
    db_tx_give_back(tx);
    tx->ms += (clock_now() - t0) * 1000.0;
    return res;
}

PGresult *db_exec_autocommit(db_tx_t *tx, const db_stmt_t *stmt, int nparams,
                             const char *const *values)
{
    if (!db_tx_commit(tx))
        return NULL;
    return db_exec_unscoped(tx, stmt, nparams, values);
}

bool db_finish(db_tx_t *tx, bool commit)
{
    PGconn *c = tx_conn(tx);
    double t0 = clock_now();
    PGresult *res;
    bool ok;

    if (!tx->open)
        return true;
    tx->open = false;
    if (c == NULL)
        return !commit;
    res = PQexec(c, commit ? "COMMIT" : "ROLLBACK");
    ok = PQresultStatus(res) == PGRES_COMMAND_OK &&
         (!commit || strcmp(PQcmdStatus(res), "COMMIT") == 0);
    if (ok && commit && tx->profile_unconfirmed)
        profile_cache(tx->user_id, true);
    tx->profile_unconfirmed = false;
    if (!ok && commit) {
        /* COMMIT answered ROLLBACK: the transaction had already failed */
        bool rolled_back = PQresultStatus(res) == PGRES_COMMAND_OK;

        db_fail(tx, res);   /* the server's SQLSTATE, or 08006 for a lost
                             * connection (then dropped); res freed */
        if (rolled_back) {
            tx->sqlstate = "40000";
            tx->detail = "COMMIT answered ROLLBACK";
        }
    } else {
        PQclear(res);
        if (tx->conn == NULL && PQstatus(c) != CONNECTION_OK)
            db_disconnect(tx_link(tx));
    }
    db_tx_give_back(tx);
    tx->ms += (clock_now() - t0) * 1000.0;
    return ok;
}

bool db_tx_commit(db_tx_t *tx)
{
    return db_finish(tx, true);
}

void db_tx_rollback(db_tx_t *tx)
{
    db_finish(tx, false);
}

const char *db_value(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}
