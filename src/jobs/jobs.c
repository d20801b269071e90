/* jobs.c: jobs_enqueue(), promptd.enqueue() in the caller's transaction. */
#include <stdio.h>
#include <stdlib.h>

#include "db/db.h"
#include "jobs/jobs.h"

long long jobs_enqueue(db_tx_t *tx, const char *type, const char *payload_json,
                       const jobs_opts_t *opts)
{
    static const jobs_opts_t dflt;
    char prio[16], attempts[16];
    const char *v[7];
    const char *id;
    PGresult *res;

    if (opts == NULL)
        opts = &dflt;
    snprintf(prio, sizeof prio, "%d", opts->priority);
    snprintf(attempts, sizeof attempts, "%d",
             opts->max_attempts > 0 ? opts->max_attempts : 5);
    v[0] = type;
    v[1] = payload_json ? payload_json : "{}";
    v[2] = opts->queue ? opts->queue : "default";
    v[3] = opts->run_at;            /* NULL -> coalesce(now()) */
    v[4] = prio;
    v[5] = attempts;
    v[6] = opts->dedup_key;
    res = db_exec_sql_app(tx, "select promptd.enqueue($1, $2::jsonb, $3, "
                      "$4::timestamptz, $5::int, $6::int, $7)", 7, v);
    if (res == NULL)
        return -1;
    id = db_value(res, 0, 0);
    if (id == NULL) {
        tx->sqlstate = "XX000";
        return -1;
    }
    return strtoll(id, NULL, 10);
}
