/* daemon.c: the promptd-jobs loop: batch claim (SKIP LOCKED), run, batch complete; lease renewal and the reaper. */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "crypto/random.h"
#include "jobs/daemon.h"
#include "jobs/jobs.h"
#include "jobs/registry.h"
#include "jobs/schedule.h"

/* The elements of a jsonb array, as rows: unnest over an array built from
 * it, so that the generic plan expects a few rows, as for any array
 * parameter, and drives primary-key lookups from them (jsonb_to_recordset's
 * fixed estimate of 100 rows makes it scan every running job instead). */
#define JSONB_ROWS(arr) "unnest(array(select jsonb_array_elements(" arr ")))"

/* Statements of the queue connection.
 *
 * jobs_cycle is the whole per-batch exchange in one round trip and one
 * transaction: record the outcomes of the batch just run ($4, one jsonb:
 * {"done": [{id, attempt, result}], "failed": [{id, attempt, error,
 * delay_ms}]}), then claim up to $1 jobs ($1 = 0: none) for this daemon
 * ($2, lease $3 s).  An
 * outcome holds only for the attempt this daemon claimed, still running
 * (id, attempt and state must match), so a run whose lease expired and was
 * rescued cannot overwrite the newer attempt.  The claim's snapshot
 * predates the outcomes (one statement), so a job failed here is not
 * claimed again by the same statement.  Rows: the claimed jobs (id,
 * attempt, type, payload text), then one row with id NULL carrying the
 * numbers of outcomes that matched (succeeded, failed).
 * jobs_cycle_queues claims only from the queues $5 (a jsonb array of
 * names): per queue, the first $1 due jobs in order on background_jobs_claim (locked, SKIP LOCKED), then
 * the first $1 of those; the others stay pending (their locks end with the
 * statement's transaction). */
#define CYCLE_SQL(claim)                                                     \
    "with done as ("                                                         \
    " update public.background_jobs j set state = 'succeeded', result = r.result," \
    " finished_at = now(), updated_at = now(), locked_by = null, locked_until = null," \
    " last_error = null"                                                     \
    " from (select (o ->> 'id')::bigint as id, (o ->> 'attempt')::int as attempt," \
    "       o -> 'result' as result from " JSONB_ROWS("$4::jsonb -> 'done'") " as o) r" \
    " where j.id = r.id and j.attempt = r.attempt and j.state = 'running' returning 1)," \
    " failed as ("                                                           \
    " update public.background_jobs j set"                                   \
    " state = case when j.attempt >= j.max_attempts then 'dead' else 'pending' end," \
    " run_at = case when j.attempt >= j.max_attempts then j.run_at"          \
    "          else now() + make_interval(secs => r.delay_ms / 1000.0) end," \
    " finished_at = case when j.attempt >= j.max_attempts then now() end,"   \
    " last_error = r.error, updated_at = now(), locked_by = null, locked_until = null" \
    " from (select (o ->> 'id')::bigint as id, (o ->> 'attempt')::int as attempt," \
    "       o ->> 'error' as error, (o ->> 'delay_ms')::bigint as delay_ms" \
    "       from " JSONB_ROWS("$4::jsonb -> 'failed'") " as o) r"            \
    " where j.id = r.id and j.attempt = r.attempt and j.state = 'running' returning 1)," \
    " c as (" claim "),"                                                     \
    " claimed as ("                                                          \
    " update public.background_jobs j set state = 'running', attempt = j.attempt + 1," \
    " locked_by = $2, locked_until = now() + make_interval(secs => $3::int)," \
    " started_at = now(), updated_at = now() from c where j.id = c.id"       \
    " returning j.id, j.attempt, j.job_type, j.payload::text as payload) "   \
    "select id, attempt, job_type, payload, null::bigint, null::bigint from claimed " \
    "union all select null, null, null, null, (select count(*) from done), " \
    "(select count(*) from failed)"
static const char cycle_sql[] = CYCLE_SQL(
    "select id from public.background_jobs"
    " where state = 'pending' and run_at <= now() and queue <> '" JOBS_GATEWAY_QUEUE "'"
    " order by priority, run_at, id limit $1 for update skip locked");
static const char cycle_queues_sql[] = CYCLE_SQL(
    "select l.id from unnest(array(select jsonb_array_elements_text($5::jsonb))) as qn(queue)"
    " cross join lateral"
    " (select b.id, b.priority, b.run_at from public.background_jobs b"
    "  where b.state = 'pending' and b.queue = qn.queue and b.run_at <= now()"
    "  order by b.priority, b.run_at, b.id limit $1 for update skip locked) l"
    " order by l.priority, l.run_at, l.id limit $1");
/* Claimed but never started (stop): back to pending, the attempt undone;
 * $1 [{id, attempt}], $2 this daemon. */
static const char release_sql[] =
    "update public.background_jobs j set state = 'pending', attempt = j.attempt - 1, "
    "locked_by = null, locked_until = null, updated_at = now() "
    "from (select (o ->> 'id')::bigint as id, (o ->> 'attempt')::int as attempt "
    "from " JSONB_ROWS("$1::jsonb") " as o) r "
    "where j.id = r.id and j.attempt = r.attempt and j.state = 'running' and j.locked_by = $2";
/* Expired leases (a daemon died or hung): back to pending, or dead when the
 * attempts are used up.  These and the lease statements below skip rows
 * another statement holds (a batch's outcomes being recorded, a claim), so
 * they never wait on, or deadlock with, the daemons' multi-row updates; a
 * skipped row is looked at again next time. */
#define LEASED_ROWS(cond) \
    "from (select id from public.background_jobs where state = 'running' " \
    "and locked_until is not null and " cond " for update skip locked) x where j.id = x.id"
static const char reap_sql[] =
    "update public.background_jobs j set "
    "state = case when j.attempt >= j.max_attempts then 'dead' else 'pending' end, "
    "finished_at = case when j.attempt >= j.max_attempts then now() end, "
    "last_error = 'lease expired (' || coalesce(j.locked_by, '?') || ')', "
    "run_at = now(), locked_by = null, locked_until = null, updated_at = now() "
    LEASED_ROWS("locked_until < now()");
/* Heartbeat connection: extend this daemon's leases, except a job past its
 * timeout. */
static const char renew_sql[] =
    "update public.background_jobs j set locked_until = now() + make_interval(secs => $2::int) "
    LEASED_ROWS("locked_by = $1 and id <> $3::bigint");
static const char abandon_sql[] =
    "update public.background_jobs j set state = 'pending', attempt = j.attempt - 1, "
    "locked_by = null, locked_until = null, updated_at = now() "
    LEASED_ROWS("locked_by = $1 and id <> $2::bigint");

static volatile sig_atomic_t stop_requested;

/* What the heartbeat thread needs to know about the main loop. */
static struct {
    pthread_mutex_t mu;
    long long job_id;          /* running now, 0 = none */
    long long deadline_ms;
    bool timeout_logged;
    bool done;                 /* main loop finished: heartbeat exits */
} cur = { PTHREAD_MUTEX_INITIALIZER, 0, 0, false, false };

static const daemon_config_t *cfg;
static char name[128];         /* locked_by: host:pid:random */

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* ------------------------------------------------------------ config */

/* "a, b" -> ["a","b"] (JSON text, malloc'd); NULL when the list names
 * none. */
static char *queues_json(const char *list)
{
    cJSON *a = cJSON_CreateArray();
    const char *p = list;
    char *out = NULL;

    while (a && *p) {
        const char *s, *e;

        while (*p == ' ' || *p == ',')
            p++;
        s = p;
        while (*p && *p != ',')
            p++;
        e = p;
        while (e > s && e[-1] == ' ')
            e--;
        if (e > s) {
            char *queue = strndup(s, (size_t)(e - s));

            cJSON_AddItemToArray(a, cJSON_CreateString(queue ? queue : ""));
            free(queue);
        }
    }
    if (cJSON_GetArraySize(a) > 0)
        out = cJSON_PrintUnformatted(a);
    cJSON_Delete(a);
    return out;
}

int daemon_config_load(daemon_config_t *c)
{
    long batch, batch_max, lease, poll, timeout, grace, backoff, backoff_max;
    const char *q = getenv("PROMPTD_JOBS_QUEUES");

    if (!config_env_int("PROMPTD_JOBS_BATCH", 100, 1, 10000, &batch) ||
        !config_env_int("PROMPTD_JOBS_BATCH_MAX", batch > 1000 ? batch : 1000, batch, 10000,
                        &batch_max) ||
        !config_env_int("PROMPTD_JOBS_LEASE", 30, 1, 86400, &lease) ||
        !config_env_int("PROMPTD_JOBS_POLL", 1000, 10, 600000, &poll) ||
        !config_env_int("PROMPTD_JOBS_TIMEOUT", 300, 1, 86400, &timeout) ||
        !config_env_int("PROMPTD_JOBS_GRACE", 30, 0, 3600, &grace) ||
        !config_env_int("PROMPTD_JOBS_BACKOFF", 1000, 1, 86400000, &backoff) ||
        !config_env_int("PROMPTD_JOBS_BACKOFF_MAX", 3600000, 1, 86400000L * 30, &backoff_max))
        return -1;
    c->batch = (int)batch;
    c->batch_max = (int)batch_max;
    c->lease_s = (int)lease;
    c->poll_ms = (int)poll;
    c->timeout_s = (int)timeout;
    c->grace_s = (int)grace;
    c->backoff_ms = backoff;
    c->backoff_max_ms = backoff_max;
    c->queues = q && *q ? queues_json(q) : NULL;
    return 0;
}

void daemon_config_clear(daemon_config_t *c)
{
    if (c == NULL)
        return;
    free((char *)c->queues);
    c->queues = NULL;
}

/* ------------------------------------------------------------ connection */

static bool exec_ok(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK ||
              PQresultStatus(res) == PGRES_TUPLES_OK;

    if (!ok)
        log_error("%s: %s: %s", __func__, sql, PQerrorMessage(conn));
    PQclear(res);
    return ok;
}

/* The queue connection's statements, prepared once per connection (the
 * planning cost is most of a small batch's database time).  Prepared even
 * with PROMPTD_DB_STATEMENTS=unnamed: this is a session connection
 * (LISTEN, the settings below, generic plans that only a prepared
 * statement gets) and so always a direct one (PROMPTD_DIRECT_DATABASE_URL,
 * README "PgBouncer"); the handlers' statements on the work connection go
 * through src/db/db.c and follow the setting. */
static const struct { const char *name, *sql; } stmts[] = {
    { "jobs_cycle", cycle_sql },
    { "jobs_cycle_queues", cycle_queues_sql },
    { "jobs_release", release_sql },
    { "jobs_reap", reap_sql },
};

/* Session settings of the queue connection, which runs only the statements
 * above (handlers get a connection of their own):
 * - synchronous_commit off: a claim or completion lost in a server crash
 *   (the last few hundred ms of commits) is redone after the lease expires;
 *   at-least-once is the contract anyway, and the attempt check keeps a
 *   late completion from touching a newer attempt.
 * - planner switches: the claim must walk background_jobs_claim_any in
 *   order and stop after the batch, and outcomes must be primary-key
 *   lookups, whatever the statistics of a table whose contents change
 *   wholesale in seconds say (stale statistics made the claim sort every
 *   pending job, and the completion loop over every running one).
 * - generic plans only: a custom plan sees the real length of the outcome
 *   arrays (1,000) and, when the statistics count few running jobs, scans
 *   the table once per outcome instead of looking each one up (half a
 *   second per batch); the generic plan assumes short arrays and always
 *   drives the lookups from them.  It is also planned once per connection.
 * - jit off: a switched-off plan node that cannot be avoided (the sort of
 *   jobs_cycle_queues' few candidates) carries a huge cost, which would
 *   otherwise make every execution JIT-compile (a quarter second). */
static const char *const queue_settings[] = {
    "set synchronous_commit = off",
    "set plan_cache_mode = force_generic_plan",
    "set jit = off",
    "set enable_sort = off",
    "set enable_bitmapscan = off",
    "set enable_hashjoin = off",
    "set enable_mergejoin = off",
    "set enable_seqscan = off",
};

static bool prepare_all(PGconn *conn)
{
    size_t i;

    for (i = 0; i < sizeof queue_settings / sizeof queue_settings[0]; i++)
        if (!exec_ok(conn, queue_settings[i]))
            return false;
    for (i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
        PGresult *res = PQprepare(conn, stmts[i].name, stmts[i].sql, 0, NULL);
        bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;

        if (!ok)
            log_error("%s: %s: %s", __func__, stmts[i].name, PQerrorMessage(conn));
        PQclear(res);
        if (!ok)
            return false;
    }
    return true;
}

/* A session as service_role (BYPASSRLS); when queue, also listening, with
 * the queue settings and statements above. */
static PGconn *connect_db(bool queue)
{
    PGconn *conn = PQconnectdb(cfg->conninfo);

    if (PQstatus(conn) != CONNECTION_OK) {
        log_error("%s: %s", __func__, PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    if (!exec_ok(conn, "set role service_role") ||
        !exec_ok(conn, "set application_name = 'promptd-jobs'") ||
        (queue && (!exec_ok(conn, "listen promptd_jobs") || !prepare_all(conn)))) {
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

/* Run a parameterised statement; the number of rows affected, -1 on error. */
static long command(PGconn *conn, const char *sql, int n, const char *const *v)
{
    PGresult *res = NULL;
    long rows = -1;
    size_t i;

    for (i = 0; i < sizeof stmts / sizeof stmts[0] && res == NULL; i++)
        if (stmts[i].sql == sql)
            res = PQexecPrepared(conn, stmts[i].name, n, v, NULL, NULL, 0);
    if (res == NULL)
        res = PQexecParams(conn, sql, n, NULL, v, NULL, NULL, 0);

    if (PQresultStatus(res) == PGRES_COMMAND_OK)
        rows = strtol(PQcmdTuples(res), NULL, 10);
    else
        log_error("%s: %s", __func__, PQerrorMessage(conn));
    PQclear(res);
    return rows;
}

/* ------------------------------------------------------------ heartbeat */

/* Renews this daemon's leases every lease/3 s (but not a job past its
 * timeout: that one is left to expire and be retried), and after SIGTERM
 * plus the grace period gives up: the jobs not yet started go back to
 * pending and the process exits (the running one's lease then expires). */
static void *heartbeat(void *arg)
{
    PGconn *conn = NULL;
    long long last_renew = clock_now_ms(), stop_at = 0, now;
    char lease[16], skip[32];

    (void)arg;
    snprintf(lease, sizeof lease, "%d", cfg->lease_s);
    for (;;) {
        long long id, deadline;
        bool done;

        clock_sleep_ms(100);
        now = clock_now_ms();
        pthread_mutex_lock(&cur.mu);
        done = cur.done;
        id = cur.job_id;
        deadline = cur.deadline_ms;
        if (id && now >= deadline && !cur.timeout_logged) {
            cur.timeout_logged = true;
            log_warn("%s: job %lld passed its %d s timeout; its lease is no longer renewed",
                     __func__, id, cfg->timeout_s);
        }
        pthread_mutex_unlock(&cur.mu);
        if (done)
            break;
        snprintf(skip, sizeof skip, "%lld", id && now >= deadline ? id : 0LL);
        if (stop_requested && stop_at == 0)
            stop_at = now;
        if (stop_at && now - stop_at >= (long long)cfg->grace_s * 1000 && id) {
            const char *v[2] = { name, skip };

            snprintf(skip, sizeof skip, "%lld", id);
            if (conn || (conn = connect_db(false)))
                command(conn, abandon_sql, 2, v);
            log_error("%s: job %lld still running %d s after SIGTERM: exiting",
                      __func__, id, cfg->grace_s);
            _exit(2);
        }
        if (now - last_renew >= (long long)cfg->lease_s * 1000 / 3) {
            const char *v[3] = { name, lease, skip };

            last_renew = now;
            if (conn == NULL && (conn = connect_db(false)) == NULL)
                continue;
            if (command(conn, renew_sql, 3, v) < 0 && PQstatus(conn) != CONNECTION_OK) {
                PQfinish(conn);
                conn = NULL;
            }
        }
    }
    PQfinish(conn);
    return NULL;
}

/* ------------------------------------------------------------ the loop */

/* ------------------------------------------------------------ outcomes */

/* Outcomes of the jobs run since the last cycle: jobs_cycle's $4,
 * {"done": [...], "failed": [...]}; NULL until the first one. */
typedef struct outcomes {
    cJSON *all, *done, *failed;
    int ndone, nfailed;
} outcomes_t;

static void outcomes_free(outcomes_t *o)
{
    cJSON_Delete(o->all);
    o->all = o->done = o->failed = NULL;
}

static void outcomes_reset(outcomes_t *o)
{
    outcomes_free(o);
    o->ndone = o->nfailed = 0;
}

/* A new {id, attempt} row appended to done or failed (NULL: out of memory). */
static cJSON *outcomes_add(outcomes_t *o, bool ok, const job_t *j)
{
    char id[32], attempt[16];
    cJSON *row;

    if (o->all == NULL && (o->all = cJSON_CreateObject()) != NULL) {
        o->done = cJSON_AddArrayToObject(o->all, "done");
        o->failed = cJSON_AddArrayToObject(o->all, "failed");
    }
    if (o->done == NULL || o->failed == NULL || (row = cJSON_CreateObject()) == NULL)
        return NULL;
    snprintf(id, sizeof id, "%lld", j->id);
    snprintf(attempt, sizeof attempt, "%d", j->attempt);
    cJSON_AddRawToObject(row, "id", id);
    cJSON_AddRawToObject(row, "attempt", attempt);
    cJSON_AddItemToArray(ok ? o->done : o->failed, row);
    return row;
}

/* One jobs_cycle: send the outcomes (always consumed: on an error their jobs
 * are redone after the lease) and claim up to want jobs.  Returns the
 * result (claimed rows first, then the counts row), NULL on a database
 * error. */
static PGresult *cycle(PGconn *conn, outcomes_t *o, int want)
{
    char batch[16], lease[16];
    const char *v[5];
    char *outcomes = o->all ? cJSON_PrintUnformatted(o->all) : NULL;
    PGresult *res;

    snprintf(batch, sizeof batch, "%d", want);
    snprintf(lease, sizeof lease, "%d", cfg->lease_s);
    v[0] = batch, v[1] = name, v[2] = lease;
    v[3] = o->all ? outcomes : "{}", v[4] = cfg->queues;
    if (o->all && outcomes == NULL) {
        log_error("%s: out of memory: %d outcomes dropped", __func__, o->ndone + o->nfailed);
        outcomes_reset(o);
        return NULL;
    }
    res = cfg->queues ? PQexecPrepared(conn, "jobs_cycle_queues", 5, v, NULL, NULL, 0)
                      : PQexecPrepared(conn, "jobs_cycle", 4, v, NULL, NULL, 0);
    cJSON_free(outcomes);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) < 1) {
        log_error("%s: %s", __func__, PQerrorMessage(conn));
        PQclear(res);
        outcomes_reset(o);
        return NULL;
    }
    {
        int last = PQntuples(res) - 1;
        long done = strtol(PQgetvalue(res, last, 4), NULL, 10);
        long failed = strtol(PQgetvalue(res, last, 5), NULL, 10);

        if (done < o->ndone)
            log_warn("%s: %ld of %d completions were stale (lease lost)", __func__,
                     o->ndone - done, o->ndone);
        if (failed < o->nfailed)
            log_warn("%s: %ld of %d failures were stale (lease lost)", __func__,
                     o->nfailed - failed, o->nfailed);
    }
    outcomes_reset(o);
    return res;
}

/* promptd_jobs_total{type,outcome} and promptd_job_duration_seconds{type}:
 * one attempt of j, ended with rc after seconds. */
static void count_attempt(const job_t *j, int rc, double seconds)
{
    char labels[METRICS_KEY_MAX];
    strbuf_t sb;
    arena_t *a;

    if (metrics_file() == NULL || (a = arena_create(512)) == NULL)
        return;
    strbuf_init(&sb, a, 128);
    strbuf_puts(&sb, "type=\"");
    metrics_label_escape(&sb, j->type);
    strbuf_putc(&sb, '"');
    metrics_observe("promptd_job_duration_seconds", sb.ptr, seconds);
    snprintf(labels, sizeof labels, "%s,outcome=\"%s\"", sb.ptr, rc == 0 ? "succeeded" : "failed");
    metrics_counter_add("promptd_jobs_total", labels, 1);
    arena_destroy(a);
}

static void run_one(job_t *j, outcomes_t *o)
{
    job_fn fn = registry_find(cfg->handlers, j->type);
    double started = clock_now();
    cJSON *row;
    int rc;

    pthread_mutex_lock(&cur.mu);
    cur.job_id = j->id;
    cur.deadline_ms = j->deadline_ms;
    cur.timeout_logged = false;
    pthread_mutex_unlock(&cur.mu);
    if (fn == NULL)
        rc = registry_fail(j, "no handler for job type %s", j->type);
    else if (j->payload == NULL)
        rc = registry_fail(j, "payload is not JSON");
    else
        rc = fn(j);
    pthread_mutex_lock(&cur.mu);
    cur.job_id = 0;
    pthread_mutex_unlock(&cur.mu);
    /* Past its timeout the job's lease was no longer renewed: a late
     * success is not one (it may already run elsewhere as a new attempt,
     * and if not, it is retried like any failure). */
    if (rc == 0 && clock_now_ms() > j->deadline_ms) {
        cJSON_Delete(j->result);
        j->result = NULL;
        rc = registry_fail(j, "passed its %d s timeout", cfg->timeout_s);
    }
    count_attempt(j, rc, clock_now() - started);

    if ((row = outcomes_add(o, rc == 0, j)) == NULL)
        log_error("%s: out of memory: the outcome of job %lld is dropped", __func__, j->id);
    if (rc == 0) {
        if (row && j->result) {   /* the row owns it now */
            cJSON_AddItemToObject(row, "result", j->result);
            j->result = NULL;
        }
        o->ndone++;
    } else {
        long delay = j->retry_after_ms > 0 ? j->retry_after_ms
                   : clock_backoff_ms(cfg->backoff_ms, cfg->backoff_max_ms, j->attempt);
        char d[32];

        snprintf(d, sizeof d, "%ld", delay);
        cJSON_AddStringToObject(row, "error", j->error ? j->error : "failed");
        cJSON_AddRawToObject(row, "delay_ms", d);
        o->nfailed++;
        log_warn("%s: job %lld (%s) attempt %d failed: %s", __func__, j->id,
                 j->type, j->attempt, j->error ? j->error : "failed");
    }
    cJSON_Delete(j->result);
    free(j->error);
}

/* Give back the claimed jobs from row i on (stopping: never started). */
static void release_rest(PGconn *conn, PGresult *res, int i, int n)
{
    cJSON *rows = cJSON_CreateArray();
    const char *v[2];
    char *text;

    for (; rows && i < n; i++) {
        cJSON *row = cJSON_CreateObject();

        cJSON_AddRawToObject(row, "id", PQgetvalue(res, i, 0));
        cJSON_AddRawToObject(row, "attempt", PQgetvalue(res, i, 1));
        cJSON_AddItemToArray(rows, row);
    }
    if ((text = cJSON_PrintUnformatted(rows)) != NULL) {
        v[0] = text, v[1] = name;
        command(conn, release_sql, 2, v);
        cJSON_free(text);
    }
    cJSON_Delete(rows);
}

/* Adaptive batch: a claim starts at PROMPTD_JOBS_BATCH jobs; while full
 * batches run in less than this much handler time it grows 4x per batch up
 * to PROMPTD_JOBS_BATCH_MAX, so fast jobs go by the thousand per round
 * trip; a batch that takes longer shrinks it back towards PROMPTD_JOBS_BATCH,
 * so slow jobs are not held under one daemon's lease behind each other. */
#define BATCH_TARGET_US 200000.0

static int next_batch(int want, int ran, long long took_us)
{
    double next;

    if (took_us < BATCH_TARGET_US)
        next = ran < want ? want : 4.0 * want;
    else
        next = want * BATCH_TARGET_US / (double)took_us;
    if (next > cfg->batch_max)
        next = cfg->batch_max;
    return next < cfg->batch ? cfg->batch : (int)next;
}

/* One cycle (outcomes so far + a claim of *want), then run what it claimed
 * on work (handlers' connection), flushing outcomes every 200 ms of a long
 * batch.  Adjusts *want.  Returns the number claimed, -1 on a database
 * error. */
static int claim_and_run(PGconn *conn, PGconn *work, outcomes_t *o, int *want)
{
    PGresult *res = cycle(conn, o, stop_requested ? 0 : *want);
    double t0 = clock_now();
    long long last_flush = clock_now_ms();
    int n, i;

    if (res == NULL)
        return -1;
    n = PQntuples(res) - 1;   /* the last row holds the counts */
    for (i = 0; i < n; i++) {
        job_t j = {0};

        if (stop_requested)
            break;
        j.id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        j.attempt = atoi(PQgetvalue(res, i, 1));
        j.type = PQgetvalue(res, i, 2);
        j.payload = cJSON_Parse(PQgetvalue(res, i, 3));
        j.conn = work;
        j.daemon = name;
        j.deadline_ms = clock_now_ms() + (long long)cfg->timeout_s * 1000;
        run_one(&j, o);
        cJSON_Delete(j.payload);
        if (clock_now_ms() - last_flush >= 200) {
            PQclear(cycle(conn, o, 0));
            last_flush = clock_now_ms();
        }
    }
    if (i > 0)
        *want = next_batch(*want, i, (long long)((clock_now() - t0) * 1e6));
    if (i < n) {   /* stopping: record what ran, give back the rest */
        PQclear(cycle(conn, o, 0));
        release_rest(conn, res, i, n);
    }
    PQclear(res);
    return n;
}

/* Sleep until a NOTIFY, the poll interval or a signal. */
static void wait_for_work(PGconn *conn)
{
    int fd = PQsocket(conn);
    fd_set rd;
    struct timeval tv = { cfg->poll_ms / 1000, (cfg->poll_ms % 1000) * 1000 };
    PGnotify *n;

    if (fd < 0 || stop_requested)
        return;
    FD_ZERO(&rd);
    FD_SET(fd, &rd);
    if (select(fd + 1, &rd, NULL, NULL, &tv) > 0)
        PQconsumeInput(conn);
    while ((n = PQnotifies(conn)) != NULL)
        PQfreemem(n);
}

static void drain_notifies(PGconn *conn)
{
    PGnotify *n;

    PQconsumeInput(conn);
    while ((n = PQnotifies(conn)) != NULL)
        PQfreemem(n);
}

/* Name this daemon (locked_by: host:pid:random), catch SIGTERM/SIGINT in
 * the main thread only, and start the heartbeat thread; false when the
 * thread cannot start. */
static bool daemon_start(pthread_t *hb)
{
    struct sigaction sa;
    sigset_t block, old;
    unsigned char rnd[4];
    char host[64] = "localhost";
    bool ok;

    gethostname(host, sizeof host - 1);
    random_bytes(rnd, sizeof rnd);
    snprintf(name, sizeof name, "%s:%ld:%02x%02x%02x%02x", host, (long)getpid(),
             rnd[0], rnd[1], rnd[2], rnd[3]);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;   /* no SA_RESTART: select() wakes */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Signals go to the main thread only. */
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    ok = pthread_create(hb, NULL, heartbeat, NULL) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return ok;
}

int daemon_run(const daemon_config_t *c)
{
    pthread_t hb;
    PGconn *conn = NULL, *work = NULL;
    outcomes_t o = {0};
    long long last_reap = 0;
    int n, delay_ms = 100, rc = 0;
    int want = c->batch;   /* grows with fast jobs: next_batch() */

    cfg = c;
    if (!daemon_start(&hb)) {
        log_error("%s: pthread_create failed", __func__);
        return 1;
    }
    log_info("%s: started as %s (batch %d to %d, lease %d s, poll %d ms, queues %s)",
             __func__, name, c->batch, c->batch_max, c->lease_s, c->poll_ms,
             c->queues ? c->queues : "all");

    while (!stop_requested) {
        if (conn == NULL || PQstatus(conn) != CONNECTION_OK ||
            work == NULL || PQstatus(work) != CONNECTION_OK) {
            PQfinish(conn);
            PQfinish(work);
            work = NULL;
            if ((conn = connect_db(true)) == NULL || (work = connect_db(false)) == NULL) {
                clock_sleep_ms(delay_ms);
                delay_ms = delay_ms * 2 > 5000 ? 5000 : delay_ms * 2;
                continue;
            }
            delay_ms = 100;
        }
        if (clock_now_ms() - last_reap >= 1000) {
            long reaped = command(conn, reap_sql, 0, NULL);

            if (reaped > 0)
                log_warn("%s: %ld expired lease(s) returned to the queue", __func__, reaped);
            last_reap = clock_now_ms();
        }
        schedules_tick(work);
        if (c->tick)
            c->tick(work);
        drain_notifies(conn);
        /* Records the previous batch's outcomes and claims the next. */
        n = claim_and_run(conn, work, &o, &want);
        if (n < 0) {
            clock_sleep_ms(200);
            continue;
        }
        if (n == 0)   /* idle (outcomes all recorded): wait */
            wait_for_work(conn);
    }
    if (o.ndone + o.nfailed > 0 && conn && PQstatus(conn) == CONNECTION_OK)
        PQclear(cycle(conn, &o, 0));
    log_info("%s: stopping", __func__);
    pthread_mutex_lock(&cur.mu);
    cur.done = true;
    pthread_mutex_unlock(&cur.mu);
    pthread_join(hb, NULL);
    outcomes_free(&o);
    PQfinish(work);
    PQfinish(conn);
    return rc;
}
