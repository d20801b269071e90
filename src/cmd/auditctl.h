/* auditctl.h: promptctl audit verify and promptctl user admin. */
#ifndef PROMPTD_AUDITCTL_H
#define PROMPTD_AUDITCTL_H

#include <stdbool.h>

#include "cmd/ctl.h"
#include "core/config.h"

/* promptctl audit verify */
extern const ctl_cmd_t auditctl_cmd;

/* promptctl audit verify: recompute the audit log's hash chain as the
 * migrating (superuser) role.  Prints "ok N rows head HASH" and returns 0,
 * or prints "audit verify: row ID: WHY" on stderr and returns 1. */
int auditctl_verify(const config_t *cfg);

/* promptctl user admin USER on|off: set profiles.is_admin (USER: uuid or
 * email) and audit admin.grant / admin.revoke.  Returns the exit status. */
int auditctl_user_admin(const config_t *cfg, const char *user, bool on);

#endif
