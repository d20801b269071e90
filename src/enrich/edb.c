/* edb.c: enrichment's database access, the same for a request and for the enrich job. */
#include "enrich/edb.h"

#include <stdio.h>
#include <string.h>

static bool edb_ok(const PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);

    return st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
}

/* Job mode: run and own a statement; NULL with d->error on failure. */
static PGresult *edb_job_exec(edb_t *d, const char *sql, int n, const char *const *v)
{
    PGresult *res = PQexecParams(d->conn, sql, n, NULL, v, NULL, NULL, 0);

    if (res == NULL || !edb_ok(res)) {
        d->error = arena_strdup(d->arena, res ? PQresultErrorMessage(res)
                                              : PQerrorMessage(d->conn));
        if (res)
            PQclear(res);
        return NULL;
    }
    arena_cleanup_add(d->arena, (arena_cleanup_fn)PQclear, res);
    return res;
}

/* Job mode: BEGIN and become the user (as a request's claims would). */
static bool edb_job_begin(edb_t *d)
{
    char claims[160];
    const char *v[2];

    snprintf(claims, sizeof claims,
             "{\"sub\":\"%s\",\"role\":\"authenticated\",\"aud\":\"authenticated\"}",
             d->user_id);
    v[0] = claims;
    v[1] = d->user_id;
    if (edb_job_exec(d, "begin", 0, NULL) == NULL)
        return false;
    d->in_tx = true;
    if (edb_job_exec(d, "select set_config('role', 'authenticated', true), "
                     "set_config('request.jwt.claims', $1, true), "
                     "set_config('request.jwt.claim.sub', $2, true)", 2, v) == NULL) {
        edb_rollback(d);
        return false;
    }
    return true;
}

PGresult *edb_scoped(edb_t *d, const db_stmt_t *stmt, int n, const char *const *v)
{
    if (d->r)
        return db_exec(&d->r->tx, stmt, n, v);
    if (!d->in_tx && !edb_job_begin(d))
        return NULL;
    return edb_job_exec(d, stmt->sql, n, v);
}

PGresult *edb_unscoped(edb_t *d, const db_stmt_t *stmt, int n, const char *const *v)
{
    if (!edb_commit(d))
        return NULL;
    if (d->r)
        return db_exec_unscoped(&d->r->tx, stmt, n, v);
    return edb_job_exec(d, stmt->sql, n, v);
}

bool edb_commit(edb_t *d)
{
    if (d->r)
        return !d->r->tx.open || db_finish(&d->r->tx, true);
    if (!d->in_tx)
        return true;
    d->in_tx = false;
    return edb_job_exec(d, "commit", 0, NULL) != NULL;
}

void edb_rollback(edb_t *d)
{
    PGresult *res;

    if (d->r || !d->in_tx)
        return;
    d->in_tx = false;
    res = PQexec(d->conn, "rollback");
    PQclear(res);
}
