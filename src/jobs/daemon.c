/* daemon.c: the promptd-jobs loop: batch claim (SKIP LOCKED), run, batch complete; lease renewal and the reaper. */
#include <errno.h>
#include <limits.h>
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

#include "core/log.h"
#include "crypto/random.h"
#include "jobs/daemon.h"
#include "jobs/registry.h"
#include "jobs/schedule.h"

/* Statements of the main connection. */
#define CLAIM_SET \
    "update public.background_jobs j set state = 'running', attempt = j.attempt + 1, " \
    "locked_by = $2, locked_until = now() + make_interval(secs => $3::int), " \
    "started_at = now(), updated_at = now() from c where j.id = c.id " \
    "returning j.id, j.attempt, j.job_type, j.payload::text"
static const char claim_any_sql[] =
    "with c as (select id from public.background_jobs "
    "where state = 'pending' and run_at <= now() "
    "order by priority, run_at, id limit $1 for update skip locked) " CLAIM_SET;
static const char claim_queues_sql[] =
    "with c as (select id from public.background_jobs "
    "where state = 'pending' and run_at <= now() and queue = any($4::text[]) "
    "order by priority, run_at, id limit $1 for update skip locked) " CLAIM_SET;
/* Completion holds only for the attempt this daemon claimed, still running. */
static const char done_sql[] =
    "update public.background_jobs j set state = 'succeeded', result = r.result, "
    "finished_at = now(), updated_at = now(), locked_by = null, locked_until = null, "
    "last_error = null "
    "from jsonb_to_recordset($1::jsonb) as r(id bigint, attempt int, result jsonb) "
    "where j.id = r.id and j.attempt = r.attempt and j.state = 'running'";
static const char failed_sql[] =
    "update public.background_jobs j set "
    "state = case when j.attempt >= j.max_attempts then 'dead' else 'pending' end, "
    "run_at = case when j.attempt >= j.max_attempts then j.run_at "
    "         else now() + make_interval(secs => r.delay_ms / 1000.0) end, "
    "finished_at = case when j.attempt >= j.max_attempts then now() end, "
    "last_error = r.error, updated_at = now(), locked_by = null, locked_until = null "
    "from jsonb_to_recordset($1::jsonb) as r(id bigint, attempt int, error text, delay_ms bigint) "
    "where j.id = r.id and j.attempt = r.attempt and j.state = 'running'";
/* Claimed but never started (stop): back to pending, the attempt undone. */
static const char release_sql[] =
    "update public.background_jobs j set state = 'pending', attempt = j.attempt - 1, "
    "locked_by = null, locked_until = null, updated_at = now() "
    "from jsonb_to_recordset($1::jsonb) as r(id bigint, attempt int) "
    "where j.id = r.id and j.attempt = r.attempt and j.state = 'running' and j.locked_by = $2";
/* Expired leases (a daemon died or hung): back to pending, or dead when the
 * attempts are used up. */
static const char reap_sql[] =
    "update public.background_jobs set "
    "state = case when attempt >= max_attempts then 'dead' else 'pending' end, "
    "finished_at = case when attempt >= max_attempts then now() end, "
    "last_error = 'lease expired (' || coalesce(locked_by, '?') || ')', "
    "run_at = now(), locked_by = null, locked_until = null, updated_at = now() "
    "where state = 'running' and locked_until < now()";
/* Heartbeat connection: extend this daemon's leases, except a job past its
 * timeout. */
static const char renew_sql[] =
    "update public.background_jobs set locked_until = now() + make_interval(secs => $2::int) "
    "where locked_by = $1 and state = 'running' and id <> $3::bigint";
static const char abandon_sql[] =
    "update public.background_jobs set state = 'pending', attempt = attempt - 1, "
    "locked_by = null, locked_until = null, updated_at = now() "
    "where locked_by = $1 and state = 'running' and id <> $2::bigint";

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

static int env_long(const char *var, long dflt, long min, long max, long *out)
{
    const char *v = getenv(var);
    char *end;
    long n;

    if (v == NULL || *v == '\0') {
        *out = dflt;
        return 0;
    }
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno || *end != '\0' || n < min || n > max) {
        fprintf(stderr, "promptd-jobs: %s=%s: expected an integer in %ld..%ld\n",
                var, v, min, max);
        return -1;
    }
    *out = n;
    return 0;
}

/* "a, b" -> "{"a","b"}" (array text, each element quoted). */
static char *queues_array(const char *list)
{
    size_t n = strlen(list);
    char *out = malloc(3 * n + 8), *o = out;
    const char *p = list;
    bool any = false;

    if (out == NULL)
        return NULL;
    *o++ = '{';
    while (*p) {
        const char *s, *e;

        while (*p == ' ' || *p == ',')
            p++;
        s = p;
        while (*p && *p != ',')
            p++;
        e = p;
        while (e > s && e[-1] == ' ')
            e--;
        if (e == s)
            continue;
        if (any)
            *o++ = ',';
        *o++ = '"';
        for (; s < e; s++) {
            if (*s == '"' || *s == '\\')
                *o++ = '\\';
            *o++ = *s;
        }
        *o++ = '"';
        any = true;
    }
    *o++ = '}';
    *o = '\0';
    if (!any) {
        free(out);
        return NULL;
    }
    return out;
}

int daemon_config_load(daemon_config_t *c)
{
    long batch, lease, poll, timeout, grace, backoff, backoff_max;
    const char *q = getenv("PROMPTD_JOBS_QUEUES");

    if (env_long("PROMPTD_JOBS_BATCH", 100, 1, 10000, &batch) ||
        env_long("PROMPTD_JOBS_LEASE", 30, 1, 86400, &lease) ||
        env_long("PROMPTD_JOBS_POLL", 1000, 10, 600000, &poll) ||
        env_long("PROMPTD_JOBS_TIMEOUT", 300, 1, 86400, &timeout) ||
        env_long("PROMPTD_JOBS_GRACE", 30, 0, 3600, &grace) ||
        env_long("PROMPTD_JOBS_BACKOFF", 1000, 1, 86400000, &backoff) ||
        env_long("PROMPTD_JOBS_BACKOFF_MAX", 3600000, 1, 86400000L * 30, &backoff_max))
        return -1;
    c->batch = (int)batch;
    c->lease_s = (int)lease;
    c->poll_ms = (int)poll;
    c->timeout_s = (int)timeout;
    c->grace_s = (int)grace;
    c->backoff_ms = backoff;
    c->backoff_max_ms = backoff_max;
    c->queues = q && *q ? queues_array(q) : NULL;
    return 0;
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

/* The main connection's statements, prepared once per connection (the
 * planning cost is most of a 100-job batch's database time). */
static const struct { const char *name, *sql; } stmts[] = {
    { "jobs_claim_any", claim_any_sql },
    { "jobs_claim_queues", claim_queues_sql },
    { "jobs_done", done_sql },
    { "jobs_failed", failed_sql },
    { "jobs_release", release_sql },
    { "jobs_reap", reap_sql },
};

static bool prepare_all(PGconn *conn)
{
    size_t i;

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

/* A session as service_role (BYPASSRLS), listening (and with the main
 * loop's statements prepared) when listen. */
static PGconn *connect_db(bool listen)
{
    PGconn *conn = PQconnectdb(cfg->conninfo);

    if (PQstatus(conn) != CONNECTION_OK) {
        log_error("%s: %s", __func__, PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    if (!exec_ok(conn, "set role service_role") ||
        !exec_ok(conn, "set application_name = 'promptd-jobs'") ||
        (listen && (!exec_ok(conn, "listen promptd_jobs") || !prepare_all(conn)))) {
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
    long long last_renew = registry_now_ms(), stop_at = 0, now;
    char lease[16], skip[32];

    (void)arg;
    snprintf(lease, sizeof lease, "%d", cfg->lease_s);
    for (;;) {
        long long id, deadline;
        bool done;

        usleep(100 * 1000);
        now = registry_now_ms();
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

/* Exponential backoff with jitter: base * 2^(attempt-1), capped, then a
 * uniform draw in [d/2, d]. */
static long backoff_ms(int attempt)
{
    double d = (double)cfg->backoff_ms;
    unsigned int r;
    int i;

    for (i = 1; i < attempt && d < (double)cfg->backoff_max_ms; i++)
        d *= 2;
    if (d > (double)cfg->backoff_max_ms)
        d = (double)cfg->backoff_max_ms;
    random_bytes(&r, sizeof r);
    return (long)(d / 2 + (d / 2) * ((double)r / UINT_MAX));
}

/* Pending outcomes, flushed in one statement each. */
typedef struct outcomes {
    cJSON *done, *failed;
    int ndone, nfailed;
} outcomes_t;

static bool flush(PGconn *conn, outcomes_t *o)
{
    bool ok = true;
    char *s;
    long n;

    if (o->ndone) {
        s = cJSON_PrintUnformatted(o->done);
        n = command(conn, done_sql, 1, (const char *const *)&s);
        if (n >= 0 && n < o->ndone)
            log_warn("%s: %ld of %d completions were stale (lease lost)",
                     __func__, o->ndone - n, o->ndone);
        ok = ok && n >= 0;
        free(s);
    }
    if (o->nfailed) {
        s = cJSON_PrintUnformatted(o->failed);
        n = command(conn, failed_sql, 1, (const char *const *)&s);
        ok = ok && n >= 0;
        free(s);
    }
    cJSON_Delete(o->done);
    cJSON_Delete(o->failed);
    o->done = cJSON_CreateArray();
    o->failed = cJSON_CreateArray();
    o->ndone = o->nfailed = 0;
    return ok;
}

static void run_one(PGconn *conn, job_t *j, outcomes_t *o)
{
    job_fn fn = registry_find(j->type);
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
    (void)conn;

    row = cJSON_CreateObject();
    cJSON_AddNumberToObject(row, "id", (double)j->id);
    cJSON_AddNumberToObject(row, "attempt", j->attempt);
    if (rc == 0) {
        if (j->result)
            cJSON_AddItemToObject(row, "result", j->result);
        j->result = NULL;
        cJSON_AddItemToArray(o->done, row);
        o->ndone++;
    } else {
        long delay = j->retry_after_ms > 0 ? j->retry_after_ms : backoff_ms(j->attempt);

        cJSON_AddStringToObject(row, "error", j->error ? j->error : "failed");
        cJSON_AddNumberToObject(row, "delay_ms", (double)delay);
        cJSON_AddItemToArray(o->failed, row);
        o->nfailed++;
        log_warn("%s: job %lld (%s) attempt %d failed: %s", __func__, j->id,
                 j->type, j->attempt, j->error ? j->error : "failed");
    }
    cJSON_Delete(j->result);
    free(j->error);
}

/* Claim up to batch jobs and run them.  Returns the number claimed, -1 on
 * a database error. */
static int claim_and_run(PGconn *conn, outcomes_t *o)
{
    char batch[16], lease[16];
    const char *v[4] = { batch, name, lease, cfg->queues };
    PGresult *res;
    long long last_flush = registry_now_ms();
    int n, i;

    snprintf(batch, sizeof batch, "%d", cfg->batch);
    snprintf(lease, sizeof lease, "%d", cfg->lease_s);
    res = PQexecPrepared(conn, cfg->queues ? "jobs_claim_queues" : "jobs_claim_any",
                         cfg->queues ? 4 : 3, v, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_error("%s: claim: %s", __func__, PQerrorMessage(conn));
        PQclear(res);
        return -1;
    }
    n = PQntuples(res);
    for (i = 0; i < n; i++) {
        job_t j = {0};

        if (stop_requested)
            break;
        j.id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        j.attempt = atoi(PQgetvalue(res, i, 1));
        j.type = PQgetvalue(res, i, 2);
        j.payload = cJSON_Parse(PQgetvalue(res, i, 3));
        j.conn = conn;
        j.daemon = name;
        j.deadline_ms = registry_now_ms() + (long long)cfg->timeout_s * 1000;
        run_one(conn, &j, o);
        cJSON_Delete(j.payload);
        if (registry_now_ms() - last_flush >= 200) {
            flush(conn, o);
            last_flush = registry_now_ms();
        }
    }
    flush(conn, o);
    if (i < n) {   /* stopping: give back what was not started */
        cJSON *rel = cJSON_CreateArray();
        const char *rv[2];
        char *s;

        for (; i < n; i++) {
            cJSON *row = cJSON_CreateObject();

            cJSON_AddNumberToObject(row, "id", strtod(PQgetvalue(res, i, 0), NULL));
            cJSON_AddNumberToObject(row, "attempt", atoi(PQgetvalue(res, i, 1)));
            cJSON_AddItemToArray(rel, row);
        }
        s = cJSON_PrintUnformatted(rel);
        rv[0] = s, rv[1] = name;
        command(conn, release_sql, 2, rv);
        free(s);
        cJSON_Delete(rel);
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

int daemon_run(const daemon_config_t *c)
{
    struct sigaction sa;
    sigset_t block, old;
    pthread_t hb;
    PGconn *conn = NULL;
    outcomes_t o = { cJSON_CreateArray(), cJSON_CreateArray(), 0, 0 };
    long long last_reap = 0;
    unsigned char rnd[4];
    char host[64] = "localhost";
    int n, delay_ms = 100, rc = 0;

    cfg = c;
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
    if (pthread_create(&hb, NULL, heartbeat, NULL) != 0) {
        log_error("%s: pthread_create failed", __func__);
        return 1;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    log_info("%s: started as %s (batch %d, lease %d s, poll %d ms, queues %s)",
             __func__, name, c->batch, c->lease_s, c->poll_ms,
             c->queues ? c->queues : "all");

    while (!stop_requested) {
        if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
            PQfinish(conn);
            if ((conn = connect_db(true)) == NULL) {
                usleep((useconds_t)delay_ms * 1000);
                delay_ms = delay_ms * 2 > 5000 ? 5000 : delay_ms * 2;
                continue;
            }
            delay_ms = 100;
        }
        if (registry_now_ms() - last_reap >= 1000) {
            long reaped = command(conn, reap_sql, 0, NULL);

            if (reaped > 0)
                log_warn("%s: %ld expired lease(s) returned to the queue", __func__, reaped);
            last_reap = registry_now_ms();
        }
        schedules_tick(conn);
        drain_notifies(conn);
        n = claim_and_run(conn, &o);
        if (n < 0) {
            usleep(200 * 1000);
            continue;
        }
        if (n < c->batch)
            wait_for_work(conn);
    }
    log_info("%s: stopping", __func__);
    pthread_mutex_lock(&cur.mu);
    cur.done = true;
    pthread_mutex_unlock(&cur.mu);
    pthread_join(hb, NULL);
    cJSON_Delete(o.done);
    cJSON_Delete(o.failed);
    PQfinish(conn);
    return rc;
}
