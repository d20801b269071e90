/* jobs_enqueue.c: jobs_enqueue() on a real stack, in committed and rolled-back request transactions (driven by t/505-jobs-enqueue.t). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/config.h"
#include "http/request.h"
#include "db/db.h"
#include "jobs/jobs.h"
#include "tap.h"

/* A request as a worker sees it after authentication (role authenticated,
 * no profile lookup), with its own arena.  The caller destroys r->arena. */
static req_t *request(void)
{
    arena_t *a = arena_create(16384);
    req_t *r = arena_zalloc(a, sizeof *r);

    r->arena = a;
    r->tx.arena = a;
    r->family = "test";
    r->tx.role = "authenticated";
    r->tx.claims = "{\"role\":\"authenticated\"}";
    return r;
}

/* Ends r's transaction (commit or roll back) and frees it. */
static bool finish(req_t *r, bool commit)
{
    bool ok = db_finish(&r->tx, commit);

    arena_destroy(r->arena);
    return ok;
}

int main(void)
{
    const config_t *cfg;
    req_t *r;
    long long id, id2, dflt;
    int retry;
    jobs_opts_t opts = {0};

    if (getenv("PROMPTD_TEST_ENQUEUE") == NULL) {
        printf("1..0 # SKIP needs a stack: run by t/505-jobs-enqueue.t\n");
        return 0;
    }
    if ((cfg = config_load(false)) == NULL) {
        printf("1..0 # SKIP no configuration\n");
        return 1;
    }
    db_init(cfg->app_database_url, NULL);
    if (!ok(db_ready(&retry), "the worker's connection is up"))
        return done_testing();

    /* Committed: every option lands in the row (the .t reads it back). */
    r = request();
    opts.queue = "c-commit";
    opts.run_at = "2030-01-02T03:04:05Z";
    opts.priority = -3;
    opts.max_attempts = 7;
    id = jobs_enqueue(&r->tx, "noop", "{\"from\":\"c\",\"n\":1}", &opts);
    ok(id > 0, "enqueue in a request transaction returns an id (%lld)", id);
    ok(r->tx.open, "... inside the request's transaction");
    ok(finish(r, true), "... which commits");
    printf("# committed %lld\n", id);

    /* Rolled back: the id was handed out, the row never existed. */
    r = request();
    opts.queue = "c-rollback";
    id = jobs_enqueue(&r->tx, "noop", NULL, &opts);
    ok(id > 0, "enqueue before a rollback returns an id (%lld)", id);
    ok(finish(r, false), "... and the transaction rolls back");
    printf("# rolledback %lld\n", id);

    /* Defaults (opts NULL) and the dedup key within one transaction. */
    r = request();
    dflt = jobs_enqueue(&r->tx, "noop", NULL, NULL);
    ok(dflt > 0, "enqueue with default options (%lld)", dflt);
    memset(&opts, 0, sizeof opts);
    opts.queue = "c-dedup";
    opts.dedup_key = "c-key";
    id = jobs_enqueue(&r->tx, "noop", "{\"first\":true}", &opts);
    id2 = jobs_enqueue(&r->tx, "noop", "{\"second\":true}", &opts);
    ok(id > 0 && id2 == id, "the same dedup key twice gives the same job (%lld, %lld)", id, id2);
    ok(finish(r, true), "... committed");
    printf("# defaults %lld\n", dflt);
    printf("# dedup %lld\n", id);

    /* Invalid input: -1 with the SQLSTATE, nothing left behind. */
    r = request();
    id = jobs_enqueue(&r->tx, "", NULL, NULL);
    ok(id == -1, "an empty job type fails");
    is_str(r->tx.sqlstate ? r->tx.sqlstate : "(none)", "22023", "... with SQLSTATE 22023");
    finish(r, false);
    r = request();
    id = jobs_enqueue(&r->tx, "noop", "[not json", NULL);
    ok(id == -1, "a payload that is not JSON fails");
    is_str(r->tx.sqlstate ? r->tx.sqlstate : "(none)", "22P02", "... with SQLSTATE 22P02");
    finish(r, false);

    db_shutdown();
    return done_testing();
}
