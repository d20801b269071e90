/* quotactl.h: promptctl plans and promptctl quota: plan limits, per-user overrides, usage, enforcement. */
#ifndef PROMPTD_QUOTACTL_H
#define PROMPTD_QUOTACTL_H

#include "cmd/ctl.h"

/* promptctl plans list | plans set TIER RESOURCE=N|null ... [per_key=R,...] */
extern const ctl_cmd_t quotactl_plans_cmd;
/* promptctl quota show USER | quota set USER RESOURCE=N|null ... |
 * quota clear USER | quota enforce on|off */
extern const ctl_cmd_t quotactl_quota_cmd;

#endif
