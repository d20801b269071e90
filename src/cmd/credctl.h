/* credctl.h: promptctl credstore DIR: the secrets as systemd credentials for deploy/systemd's units. */
#ifndef PROMPTD_CREDCTL_H
#define PROMPTD_CREDCTL_H

#include "cmd/ctl.h"

/* promptctl credstore DIR: write every secret promptctl knows (generated
 * under var/secrets, or the PROMPTD_* variable that overrides it), the
 * application database URL included, as DIR/promptd.<name>, mode 0600,
 * replaced atomically; optional secrets that are not set are skipped.
 * One line per file written.  DIR is usually /etc/credstore, where the
 * units' LoadCredential=<name>:promptd.<name> find them. */
extern const ctl_cmd_t credctl_cmd;

#endif
