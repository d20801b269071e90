/* promptd-gateway: runs enrichments while nginx holds the waiting clients (handed off by the enrich workers), and the async enrichment jobs, many at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "crypto/keyring.h"
#include "enrich/provider.h"
#include "enrich/settings.h"
#include "gateway/gateway.h"
#include "net/outbound.h"

/* Each pooled session: the job role (BYPASSRLS for the hand-off's own
 * statements; a run's statements set the owner's claims per transaction). */
static const char *const pool_setup[] = {
    "set role service_role",
    "set application_name = 'promptd-gateway'",
    NULL,
};

/* usage: promptd-gateway   (configured by the environment: see README) */
int main(int argc, char **argv)
{
    static gw_config_t c;
    const config_t *cfg;
    const char *why = NULL;
    int rc;

    if (argc > 1) {
        fprintf(stderr, "usage: %s (configured by PROMPTD_GATEWAY_*, PROMPTD_ENRICH_* "
                "and PROMPTD_DIRECT_DATABASE_URL or PROMPTD_APP_DATABASE_URL; see README)\n", argv[0]);
        return strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    log_set_family("gateway");
    if (!outbound_init())   /* before any thread */
        return 1;
    cfg = config_load(false);
    /* read once, before the threads that share them */
    if (enrich_settings() == NULL) {
        fprintf(stderr, "promptd-gateway: the enrichment settings are invalid (see above)\n");
        return 1;
    }
    if (!gw_config_load(&c))
        return 1;
    if (c.conninfo == NULL) {
        if (cfg == NULL)
            return 1;
        c.conninfo = cfg->direct_database_url;
    }
    if (keyring_get(&why) == NULL)
        log_warn("promptd-gateway: no secrets key ring (%s): users' own provider keys "
                 "are ignored", why ? why : "not configured");
    if ((gw_pool = db_pool_create(c.conninfo, (int)c.db_conns, pool_setup)) == NULL)
        return 1;
    gw_cfg = &c;
    metrics_init(NULL);   /* its enrichment attempts; off unless PROMPTD_METRICS_DIR */
    rc = gw_serve();
    provider_multi_cleanup();
    db_pool_destroy(gw_pool);
    keyring_cleanup();
    metrics_close();
    return rc;
}
