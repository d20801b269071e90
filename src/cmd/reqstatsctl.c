/* reqstatsctl.c: promptctl reqstats snapshot: one snapshot of this node's request metrics now (what promptd-jobs does once a minute). */
#include "cmd/reqstatsctl.h"

#include <stdio.h>
#include <string.h>

#include "analytics/reqstats.h"

static bool reqstatsctl_check(int argc, char **argv)
{
    return argc == 1 && strcmp(argv[0], "snapshot") == 0;
}

/* promptctl reqstats snapshot */
static int reqstatsctl_exec(const config_t *cfg, int argc, char **argv)
{
    long keep;
    PGconn *conn;
    cJSON *res;
    char *text;

    (void)argc;
    (void)argv;
    if (!config_env_int("PROMPTD_REQSTATS_RETENTION_DAYS", 30, 1, 3660, &keep) ||
        (conn = ctl_connect(cfg)) == NULL)
        return 1;
    res = reqstats_snapshot(conn, reqstats_node(), NULL, keep);
    PQfinish(conn);
    if (res == NULL) {
        fprintf(stderr, "promptctl: reqstats: the snapshot failed (see the log above)\n");
        return 1;
    }
    text = cJSON_PrintUnformatted(res);
    printf("%s\n", text);
    cJSON_free(text);
    cJSON_Delete(res);
    return 0;
}

const ctl_cmd_t reqstatsctl_cmd = {
    "reqstats", "reqstats snapshot  (this node's request metrics into the endpoint statistics now)",
    "expected: reqstats snapshot", 1, 1, reqstatsctl_check, reqstatsctl_exec
};
