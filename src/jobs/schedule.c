/* schedule.c: schedules_tick(): fire each due recurring task once per slot, across daemons. */
#include "jobs/schedule.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "jobs/cron.h"

#define SCHEDULE_TICK_MS 1000

/* Per task: every (s) or cron, created_at, the last fired slot (-1 for
 * none) and the database's now, all in epoch seconds. */
static const char schedule_sql[] =
    "select s.task, extract(epoch from s.every)::float8, s.cron, "
    "ceil(extract(epoch from s.created_at))::bigint, "
    "coalesce(extract(epoch from (select max(r.scheduled_for) "
    "  from promptd.schedule_runs r where r.task = s.task))::bigint, -1), "
    "floor(extract(epoch from now()))::bigint "
    "from promptd.schedules s where s.enabled order by s.task";

long long schedule_slot(double every_s, const char *cron, long long now)
{
    const char *why;
    cron_t c;

    if (every_s > 0) {
        long long every = llround(every_s);

        return every < 1 ? -1 : now - ((now % every) + every) % every;
    }
    if (cron == NULL || !cron_parse(cron, &c, &why))
        return -1;
    return (long long)cron_prev(&c, (time_t)now);
}

/* Fire (task, slot): true when this call enqueued the job. */
static bool schedule_fire(PGconn *conn, const char *task, long long slot)
{
    char slot_s[32];
    const char *v[2] = {task, slot_s};
    PGresult *res;
    bool fired;

    snprintf(slot_s, sizeof slot_s, "%lld", slot);
    res = PQexecParams(conn,
        "select promptd.schedule_fire($1, to_timestamp($2::bigint))",
        2, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_warn("%s: %s: %s", __func__, task, PQresultErrorMessage(res));
        PQclear(res);
        return false;
    }
    fired = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0);
    if (fired)
        log_info("%s: %s slot %lld -> job %s", __func__, task, slot,
                 PQgetvalue(res, 0, 0));
    PQclear(res);
    return fired;
}

void schedules_tick(PGconn *conn)
{
    static long long last_ms = -SCHEDULE_TICK_MS;
    static long long warned_ms = -60000;
    const char *off = getenv("PROMPTD_JOBS_SCHEDULES");
    long long now_ms = clock_now_ms();
    PGresult *res;

    if ((off != NULL && strcmp(off, "0") == 0) || now_ms - last_ms < SCHEDULE_TICK_MS ||
        conn == NULL || PQtransactionStatus(conn) != PQTRANS_IDLE)
        return;
    last_ms = now_ms;
    res = PQexec(conn, schedule_sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_warn("%s: reading promptd.schedules: %s", __func__,
                 PQresultErrorMessage(res));
        PQclear(res);
        return;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        const char *task = PQgetvalue(res, i, 0);
        double every = PQgetisnull(res, i, 1) ? 0 : strtod(PQgetvalue(res, i, 1), NULL);
        const char *cron = PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2);
        long long created = strtoll(PQgetvalue(res, i, 3), NULL, 10);
        long long last = strtoll(PQgetvalue(res, i, 4), NULL, 10);
        long long now = strtoll(PQgetvalue(res, i, 5), NULL, 10);
        long long slot = schedule_slot(every, cron, now);

        if (slot < 0) {
            if (now_ms - warned_ms >= 60000) {
                warned_ms = now_ms;
                log_warn("%s: task %s: invalid schedule (cron '%s')", __func__,
                         task, cron ? cron : "");
            }
            continue;
        }
        if (slot > last && slot >= created)
            schedule_fire(conn, task, slot);
    }
    PQclear(res);
}
