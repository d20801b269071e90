/* promptctl.h: what promptctl's subcommand files share. */
#ifndef PROMPTD_PROMPTCTL_H
#define PROMPTD_PROMPTCTL_H

#include <libpq-fe.h>

#include "core/config.h"

/* Connect with the privileged (migrating) URL; NULL, reported on stderr,
 * on failure.  The caller owns the connection (PQfinish). */
PGconn *promptctl_connect(const config_t *cfg);

#endif
