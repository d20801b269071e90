/* jobs.c: promptd-gateway's share of the job queue: the "enrich" queue's jobs claimed up to the free slots and run concurrently, and the sweep of interrupted hand-offs. */
#include "gateway/gateway.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "crypto/random.h"
#include "enrich/handoff.h"
#include "enrich/job.h"
#include "jobs/jobs.h"

#define GW_CLAIM_MAX 64            /* jobs per claim */
#define GW_SWEEP_MAX_S 30          /* between sweeps of interrupted hand-offs */
#define GW_POLL_MS 1000            /* without a notification */

/* $1 how many, $2 this gateway, $3 lease seconds */
static const db_stmt_t claim_stmt = {"gw_jobs_claim",
    "update public.background_jobs j set state = 'running', attempt = j.attempt + 1, "
    "locked_by = $2, locked_until = now() + make_interval(secs => $3::int), "
    "started_at = now(), updated_at = now() from (select id from public.background_jobs "
    "where state = 'pending' and queue = '" JOBS_GATEWAY_QUEUE "' and run_at <= now() "
    "order by priority, run_at, id limit $1::int for update skip locked) c "
    "where j.id = c.id returning j.id, j.attempt, j.payload::text"};
/* $1 id, $2 attempt, $3 result; only the attempt this gateway runs */
static const db_stmt_t done_stmt = {"gw_jobs_done",
    "update public.background_jobs set state = 'succeeded', result = $3::jsonb, "
    "finished_at = now(), updated_at = now(), locked_by = null, locked_until = null, "
    "last_error = null where id = $1::bigint and attempt = $2::int and state = 'running'"};
/* $1 id, $2 attempt, $3 error, $4 delay ms */
static const db_stmt_t failed_stmt = {"gw_jobs_failed",
    "update public.background_jobs set "
    "state = case when attempt >= max_attempts then 'dead' else 'pending' end, "
    "run_at = case when attempt >= max_attempts then run_at "
    "else now() + make_interval(secs => $4::bigint / 1000.0) end, "
    "finished_at = case when attempt >= max_attempts then now() end, "
    "last_error = $3, updated_at = now(), locked_by = null, locked_until = null "
    "where id = $1::bigint and attempt = $2::int and state = 'running'"};

/* Claimed, but every slot was taken meanwhile (by a request): back to
 * pending, the attempt undone.  $1 id, $2 attempt, $3 this gateway. */
static const db_stmt_t release_stmt = {"gw_jobs_release",
    "update public.background_jobs set state = 'pending', attempt = attempt - 1, "
    "locked_by = null, locked_until = null, updated_at = now() "
    "where id = $1::bigint and attempt = $2::int and state = 'running' and locked_by = $3"};

static pthread_t gw_jobs_thread;
static volatile bool gw_jobs_stopping;
static bool gw_jobs_started;
static char gw_name[128];          /* locked_by */

/* One claimed job, owned by its thread. */
typedef struct gw_job {
    long long id;
    int attempt;
    char *payload;
} gw_job_t;

/* Record the outcome (a failure to: the lease runs out and the reaper of
 * promptd-jobs hands the job out again; the record is finished once). */
static void gw_job_outcome(const job_t *j, int rc)
{
    arena_t *a = arena_create(1024);
    db_tx_t d = {.arena = a, .pool = gw_pool};
    char id[24], att[16], delay[24];
    const char *v[4] = {id, att, NULL, delay};

    snprintf(id, sizeof id, "%lld", j->id);
    snprintf(att, sizeof att, "%d", j->attempt);
    snprintf(delay, sizeof delay, "%ld", j->retry_after_ms > 0 ? j->retry_after_ms
             : clock_backoff_ms(1000, 3600000, j->attempt));
    if (rc == 0) {
        v[2] = j->result ? cJSON_PrintUnformatted(j->result) : NULL;
        if (v[2])
            arena_cleanup_add(a, free, (void *)v[2]);
    } else {
        v[2] = j->error ? j->error : "failed";
    }
    if (db_exec_unscoped(&d, rc == 0 ? &done_stmt : &failed_stmt, rc == 0 ? 3 : 4, v) == NULL)
        log_error("%s: job %lld: %s", __func__, j->id, d.detail ? d.detail : "");
    arena_destroy(a);
}

static void *gw_job_main(void *arg)
{
    gw_job_t *g = arg;
    job_t j = {.id = g->id, .attempt = g->attempt, .type = "enrich",
               .payload = cJSON_Parse(g->payload), .daemon = gw_name,
               .deadline_ms = clock_now_ms() + gw_cfg->deadline_ms + 60000};
    int rc = j.payload ? enrich_job_pooled(&j, gw_pool)
                       : registry_fail(&j, "enrich: the payload is not JSON");

    gw_job_outcome(&j, rc);
    cJSON_Delete(j.payload);
    cJSON_Delete(j.result);
    free(j.error);
    free(g->payload);
    free(g);
    gw_slot_give();
    return NULL;
}

/* Row i of a claim back to pending (release_stmt). */
static void gw_job_release(PGresult *res, int i)
{
    arena_t *a = arena_create(1024);
    db_tx_t d = {.arena = a, .pool = gw_pool};
    const char *v[3] = {PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), gw_name};

    if (db_exec_unscoped(&d, &release_stmt, 3, v) == NULL)   /* its lease runs out */
        log_error("%s: job %s: %s", __func__, v[0], d.detail ? d.detail : "");
    arena_destroy(a);
}

/* Start a thread per claimed row, each holding a slot taken for it; a row
 * that finds every slot taken goes back to pending. */
static void gw_jobs_spawn(PGresult *res)
{
    pthread_attr_t attr;

    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 512u << 10);
    for (int i = 0; i < PQntuples(res); i++) {
        gw_job_t *g;
        pthread_t t;

        if (!gw_slot_take()) {
            gw_job_release(res, i);
            continue;
        }
        if ((g = calloc(1, sizeof *g)) == NULL ||
            (g->payload = strdup(PQgetvalue(res, i, 2))) == NULL) {
            free(g);
            gw_slot_give();
            continue;          /* the lease runs out; the job is run again */
        }
        g->id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        g->attempt = (int)strtol(PQgetvalue(res, i, 1), NULL, 10);
        if (pthread_create(&t, &attr, gw_job_main, g) != 0) {
            free(g->payload);
            free(g);
            gw_slot_give();
        }
    }
    pthread_attr_destroy(&attr);
}

/* Claim as many jobs as there are free slots (up to GW_CLAIM_MAX) and
 * start them.  No slot is held while the claim runs (it may wait for a
 * pooled connection): a request arriving meanwhile is never refused for a
 * claim that, most of the time, finds nothing.  Returns the number
 * claimed, -1 on a database error. */
static int gw_jobs_claim(void)
{
    long room = gw_cfg->max_inflight - gw_slots_used();
    arena_t *a;
    db_tx_t d;
    char want[16], lease[24];
    const char *v[3] = {want, gw_name, lease};
    int n = -1;
    PGresult *res;

    if (room <= 0)
        return 0;
    a = arena_create(4096);
    d = (db_tx_t){.arena = a, .pool = gw_pool};
    snprintf(want, sizeof want, "%ld", room < GW_CLAIM_MAX ? room : GW_CLAIM_MAX);
    snprintf(lease, sizeof lease, "%ld", gw_cfg->deadline_ms / 1000 + 60);
    if ((res = db_exec_unscoped(&d, &claim_stmt, 3, v)) != NULL) {
        n = PQntuples(res);
        gw_jobs_spawn(res);
    } else {
        log_error("%s: %s", __func__, d.detail ? d.detail : "claim failed");
    }
    arena_destroy(a);
    return n;
}

/* A hand-off older than twice the deadline (+5 s) has lost its gateway. */
static long gw_sweep_age_s(void)
{
    return 2 * ((gw_cfg->deadline_ms + 999) / 1000) + 5;
}

static void gw_sweep(void)
{
    arena_t *a = arena_create(1024);
    db_tx_t d = {.arena = a, .pool = gw_pool};
    long n = enrich_handoff_sweep(&d, gw_sweep_age_s());

    if (n > 0)
        log_warn("%s: %ld interrupted enrichments marked failed", __func__, n);
    arena_destroy(a);
}

/* A session listening on the queue's channel, or NULL. */
static PGconn *gw_listen_conn(void)
{
    PGconn *c = PQconnectdb(gw_cfg->conninfo ? gw_cfg->conninfo : "");
    PGresult *r;
    bool ok;

    if (PQstatus(c) != CONNECTION_OK) {
        log_warn("%s: %s", __func__, PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    r = PQexec(c, "set application_name = 'promptd-gateway'; listen promptd_jobs");
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok)
        PQfinish(c);
    return ok ? c : NULL;
}

/* Sleep until a notification, the poll interval, or the stop. */
static void gw_jobs_wait(PGconn **c)
{
    struct pollfd p = {-1, POLLIN, 0};
    PGnotify *nt;

    if (*c == NULL && (*c = gw_listen_conn()) == NULL) {
        clock_sleep_ms(GW_POLL_MS);
        return;
    }
    p.fd = PQsocket(*c);
    if (poll(&p, 1, GW_POLL_MS) > 0 && !PQconsumeInput(*c)) {
        PQfinish(*c);
        *c = NULL;
        return;
    }
    while ((nt = PQnotifies(*c)) != NULL)
        PQfreemem(nt);
}

static void *gw_jobs_main(void *arg)
{
    PGconn *listen = NULL;
    long long next_sweep = 0;

    (void)arg;
    while (!gw_jobs_stopping) {
        int n = gw_jobs_claim();

        if (clock_now_ms() >= next_sweep) {
            gw_sweep();
            next_sweep = clock_now_ms() + 1000LL * (gw_sweep_age_s() < GW_SWEEP_MAX_S
                                                    ? gw_sweep_age_s() : GW_SWEEP_MAX_S);
        }
        if (n < GW_CLAIM_MAX || gw_slots_used() >= gw_cfg->max_inflight)
            gw_jobs_wait(&listen);
    }
    PQfinish(listen);
    return NULL;
}

bool gw_jobs_start(void)
{
    char host[64] = "?";
    unsigned char r[4];

    gethostname(host, sizeof host - 1);
    random_bytes(r, sizeof r);
    snprintf(gw_name, sizeof gw_name, "gateway:%s:%d:%02x%02x%02x%02x", host,
             (int)getpid(), r[0], r[1], r[2], r[3]);
    if (pthread_create(&gw_jobs_thread, NULL, gw_jobs_main, NULL) != 0) {
        log_error("%s: pthread_create failed", __func__);
        return false;
    }
    gw_jobs_started = true;
    return true;
}

void gw_jobs_stop(void)
{
    if (!gw_jobs_started)
        return;
    gw_jobs_stopping = true;
    pthread_join(gw_jobs_thread, NULL);
    gw_jobs_started = false;
}
