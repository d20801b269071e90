/* job.c: the billing jobs: "billing.event" applies one stored Stripe event, "billing.grace" ends expired past_due graces. */
#include "billing/job.h"

#include <stdio.h>
#include <string.h>

#include "billing/stripe.h"
#include "core/config.h"

/* PROMPTD_BILLING_GRACE in seconds as text (default 7 days). */
static const char *grace_text(char *buf, size_t n)
{
    long grace = STRIPE_GRACE_DEFAULT;

    config_env_int("PROMPTD_BILLING_GRACE", STRIPE_GRACE_DEFAULT, 0, 366L * 86400, &grace);
    snprintf(buf, n, "%ld", grace);
    return buf;
}

/* Run sql with v on the job's connection; the first value (malloc'd into
 * the result as name) or -1 with j->error. */
static int billing_run(job_t *j, const char *sql, int n, const char *const *v,
                       const char *name)
{
    PGresult *res = PQexecParams(j->conn, sql, n, NULL, v, NULL, NULL, 0);
    int rc = 0;

    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        rc = registry_fail(j, "%s: %s", name, PQresultErrorMessage(res));
    } else {
        j->result = cJSON_CreateObject();
        if (v[0] && strcmp(name, "billing.event") == 0)
            cJSON_AddStringToObject(j->result, "event_id", v[0]);
        cJSON_AddStringToObject(j->result, "outcome", PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return rc;
}

int billing_event_job(job_t *j)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j->payload, "event_id");
    char grace[32];
    const char *v[2];

    if (!cJSON_IsString(id))
        return registry_fail(j, "billing.event: the payload has no event_id");
    v[0] = id->valuestring;
    v[1] = grace_text(grace, sizeof grace);
    return billing_run(j, "select promptd.billing_apply_event($1, $2::bigint)", 2, v,
                       "billing.event");
}

int billing_grace_job(job_t *j)
{
    char grace[32];
    const char *v[1] = {grace_text(grace, sizeof grace)};

    return billing_run(j, "select promptd.billing_grace_sweep($1::bigint)::text", 1, v,
                       "billing.grace");
}

const job_handler_t billing_job_handlers[] = {
    { "billing.event", billing_event_job },
    { "billing.grace", billing_grace_job },
    { NULL, NULL }
};
