/* jobsctl.h: promptctl jobs list|show|retry|cancel|enqueue|stats. */
#ifndef PROMPTD_JOBSCTL_H
#define PROMPTD_JOBSCTL_H

#include "cmd/ctl.h"
#include "core/config.h"

/* promptctl jobs ...: runs jobsctl_main */
extern const ctl_cmd_t jobsctl_cmd;

/* argv[0] is the subcommand ("list", ...).  Returns the exit status:
 * 0 done, 1 failed (no such job, wrong state, database error), 2 usage. */
int jobsctl_main(const config_t *cfg, int argc, char **argv);

#endif
