/* ctl.c: helpers every promptctl command file uses. */
#include "cmd/ctl.h"

#include <stdio.h>

PGconn *ctl_connect(const config_t *cfg)
{
    PGconn *conn = PQconnectdb(cfg->database_url);

    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "promptctl: connecting to the database: %s",
                PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    return conn;
}
