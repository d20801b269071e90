/* reqstatsctl.h: promptctl reqstats snapshot: one snapshot of this node's request metrics now (what promptd-jobs does once a minute). */
#ifndef PROMPTD_REQSTATSCTL_H
#define PROMPTD_REQSTATSCTL_H

#include "cmd/ctl.h"

/* promptctl reqstats snapshot: reqstats_snapshot() of PROMPTD_METRICS_DIR
 * as node PROMPTD_NODE_NAME (else the host name), with the retention of
 * PROMPTD_REQSTATS_RETENTION_DAYS, on the privileged connection; prints
 * the answer ({node, minute, baseline, series, rows, requests, purged}). */
extern const ctl_cmd_t reqstatsctl_cmd;

#endif
