/* quotactl.c: promptctl plans and promptctl quota: plan limits, per-user overrides, usage, enforcement. */
#include "cmd/quotactl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <libpq-fe.h>

/* Run one statement on a new privileged connection and print its first
 * column, one row a line.  Returns the exit status (1 on any failure,
 * with the server's message; 1 with none_msg when it gives no row or a
 * NULL). */
static int quotactl_run(const config_t *cfg, const char *sql, int n,
                        const char *const *v, const char *none_msg)
{
    PGconn *conn = ctl_connect(cfg);
    PGresult *res;
    int rc = 1;

    if (conn == NULL)
        return 1;
    res = PQexecParams(conn, sql, n, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "promptctl: %s", PQresultErrorMessage(res));
    } else if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0)) {
        fprintf(stderr, "promptctl: %s\n", none_msg);
    } else {
        for (int i = 0; i < PQntuples(res); i++)
            printf("%s\n", PQgetvalue(res, i, 0));
        rc = 0;
    }
    PQclear(res);
    PQfinish(conn);
    return rc;
}

/* RESOURCE=N|null ... (and per_key=R,R) as a JSON object text (malloc'd),
 * or NULL after a message.  The SQL function checks names and ranges. */
static char *quotactl_limits(int argc, char **argv)
{
    cJSON *o = cJSON_CreateObject();
    char *out = NULL;

    for (int i = 0; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        char name[65], *end;
        long long n;

        if (eq == NULL || eq == argv[i] || (size_t)(eq - argv[i]) >= sizeof name) {
            fprintf(stderr, "promptctl: expected RESOURCE=N|null, got '%s'\n", argv[i]);
            goto out;
        }
        snprintf(name, sizeof name, "%.*s", (int)(eq - argv[i]), argv[i]);
        if (strcmp(name, "per_key") == 0) {
            cJSON *a = cJSON_AddArrayToObject(o, name);
            char *list = strdup(eq + 1), *save = NULL;

            for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
                cJSON_AddItemToArray(a, cJSON_CreateString(t));
            free(list);
            continue;
        }
        if (strcmp(eq + 1, "null") == 0 || strcmp(eq + 1, "unlimited") == 0) {
            cJSON_AddNullToObject(o, name);
            continue;
        }
        errno = 0;
        n = strtoll(eq + 1, &end, 10);
        if (errno || *end || end == eq + 1 || n < 0) {
            fprintf(stderr, "promptctl: %s: expected an integer >= 0 or null\n", name);
            goto out;
        }
        cJSON_AddNumberToObject(o, name, (double)n);
    }
    out = cJSON_PrintUnformatted(o);
out:
    cJSON_Delete(o);
    return out;
}

#define QUOTACTL_USER_SQL \
    "(select u.id from auth.users u where u.id::text = $1 or lower(u.email) = lower($1) limit 1)"

static int quotactl_plans(const config_t *cfg, int argc, char **argv)
{
    const char *v[2];
    char *limits;
    int rc;

    if (strcmp(argv[0], "list") == 0)
        return quotactl_run(cfg, "select tier || ' ' || limits::text from public.plans "
                            "order by sort_order", 0, NULL, "no plans");
    if (strcmp(argv[0], "price") == 0) {
        const char *pv[3] = {argv[1], argv[2], strcmp(argv[3], "none") == 0 ? NULL : argv[3]};

        return quotactl_run(cfg, "select promptd.billing_plan_update($1, "
                            "jsonb_build_object($2::text, $3::text))::text", 3, pv, "no such plan");
    }
    if (strcmp(argv[0], "purchasable") == 0) {
        v[0] = argv[1];
        v[1] = strcmp(argv[2], "on") == 0 ? "t" : "f";
        return quotactl_run(cfg, "select promptd.billing_plan_update($1, "
                            "jsonb_build_object('purchasable', $2::boolean))::text", 2, v,
                            "no such plan");
    }
    if ((limits = quotactl_limits(argc - 2, argv + 2)) == NULL)
        return 1;
    v[0] = argv[1];
    v[1] = limits;
    rc = quotactl_run(cfg, "select promptd.quota_plan_set($1, $2::jsonb)::text", 2, v,
                      "no such plan");
    free(limits);
    return rc;
}

static bool quotactl_plans_words(int argc, char **argv)
{
    return (argc == 1 && strcmp(argv[0], "list") == 0) ||
           (argc >= 3 && strcmp(argv[0], "set") == 0) ||
           (argc == 4 && strcmp(argv[0], "price") == 0 &&
            (strcmp(argv[2], "monthly") == 0 || strcmp(argv[2], "yearly") == 0)) ||
           (argc == 3 && strcmp(argv[0], "purchasable") == 0 &&
            (strcmp(argv[2], "on") == 0 || strcmp(argv[2], "off") == 0));
}

static int quotactl_quota(const config_t *cfg, int argc, char **argv)
{
    const char *v[2] = {argv[1], NULL};
    char *limits;
    int rc;

    if (strcmp(argv[0], "enforce") == 0) {
        v[0] = strcmp(argv[1], "on") == 0 ? "t" : "f";
        /* promptd.quota_limits_changed clears the counters' limits */
        return quotactl_run(cfg, "update promptd.quota_settings set enforce = $1::boolean "
                            "returning 'enforce ' || case when enforce then 'on' else 'off' end",
                            1, v, "no settings row");
    }
    if (strcmp(argv[0], "seqs") == 0)
        return quotactl_run(cfg, "select promptd.quota_seqs_size($1::int)::text", 1, v,
                            "no settings row");
    if (strcmp(argv[0], "show") == 0)
        return quotactl_run(cfg, "select jsonb_pretty(promptd.quota_usage(" QUOTACTL_USER_SQL
                            ", 30))", 1, v, "no such user");
    limits = strcmp(argv[0], "clear") == 0 ? strdup("{}") : quotactl_limits(argc - 2, argv + 2);
    if (limits == NULL)
        return 1;
    v[1] = limits;
    rc = quotactl_run(cfg, "select promptd.quota_override_set(" QUOTACTL_USER_SQL
                      ", $2::jsonb)::text", 2, v, "no such user");
    free(limits);
    return rc;
}

static bool quotactl_quota_words(int argc, char **argv)
{
    return (argc == 2 && strcmp(argv[0], "enforce") == 0 &&
            (strcmp(argv[1], "on") == 0 || strcmp(argv[1], "off") == 0)) ||
           (argc == 2 && (strcmp(argv[0], "show") == 0 || strcmp(argv[0], "clear") == 0)) ||
           (argc == 2 && strcmp(argv[0], "seqs") == 0 && argv[1][0] != '\0' &&
            strspn(argv[1], "0123456789") == strlen(argv[1]) && strlen(argv[1]) <= 7) ||
           (argc >= 3 && strcmp(argv[0], "set") == 0);
}

const ctl_cmd_t quotactl_plans_cmd = {
    "plans",
    "plans list\n"
    "plans set TIER RESOURCE=N|null ... [per_key=RESOURCE,...]\n"
    "plans price TIER monthly|yearly PRICE_ID|none   (the plan's Stripe price)\n"
    "plans purchasable TIER on|off                   (on sale in /api/v1/billing/plans)",
    "expected: plans list | plans set TIER RESOURCE=N|null ... | "
    "plans price TIER monthly|yearly PRICE_ID|none | plans purchasable TIER on|off", 1, -1,
    quotactl_plans_words, quotactl_plans
};

const ctl_cmd_t quotactl_quota_cmd = {
    "quota",
    "quota show USER   (USER: uuid or email)\n"
    "quota set USER RESOURCE=N|null ... [per_key=RESOURCE,...]\n"
    "quota clear USER\n"
    "quota enforce on|off\n"
    "quota seqs N      (size of the request counters' sequence pool)",
    "expected: quota show|clear USER | quota set USER RESOURCE=N|null ... | quota enforce on|off"
    " | quota seqs N",
    2, -1, quotactl_quota_words, quotactl_quota
};
