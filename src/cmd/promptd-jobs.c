/* promptd-jobs: the background job daemon (several may run at once, on one or many hosts). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/reqstats.h"
#include "cmd/jobtypes.h"
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "jobs/daemon.h"
#include "net/outbound.h"
#include "webhooks/sender.h"

/* usage: promptd-jobs   (configuration from the environment: see README) */
int main(int argc, char **argv)
{
    daemon_config_t c = {0};
    const config_t *cfg;
    const char *url = getenv("PROMPTD_DIRECT_DATABASE_URL");
    int rc;

    if (argc > 1) {
        fprintf(stderr, "usage: %s (configured by PROMPTD_JOBS_* and "
                "PROMPTD_DIRECT_DATABASE_URL or PROMPTD_APP_DATABASE_URL; see README)\n", argv[0]);
        return strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    log_set_family("jobs");
    metrics_init(NULL);     /* its counters, before the threads; off unless PROMPTD_METRICS_DIR */
    if (!outbound_init())   /* before the worker threads */
        return 1;
    /* The configuration (and the secrets key ring the jobs decrypt user
     * keys with) before the worker threads; needed only without a URL. */
    cfg = config_load(false);
    if (url == NULL || *url == '\0')
        url = getenv("PROMPTD_APP_DATABASE_URL");
    if (cfg != NULL) {   /* the direct URL: LISTEN and session settings (README "PgBouncer") */
        url = cfg->direct_database_url;
    } else if (url == NULL || *url == '\0') {
        return 1;
    }
    if (daemon_config_load(&c) != 0 || !reqstats_config_ok()) {
        daemon_config_clear(&c);
        return 1;
    }
    c.conninfo = url;
    c.handlers = jobtypes();   /* every module's job types */
    c.tick = reqstats_tick;    /* this node's request metrics, once a minute */
    /* The webhook sender runs beside the job loop, on its own connection,
     * so that a slow endpoint holds neither the loop nor other endpoints. */
    rc = 1;
    if (whsend_start(url)) {
        rc = daemon_run(&c);
        whsend_stop();
    }
    daemon_config_clear(&c);
    return rc;
}
