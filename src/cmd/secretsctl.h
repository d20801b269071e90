/* secretsctl.h: promptctl secrets set|get|check|rotate (user_secrets, AES-256-GCM at rest). */
#ifndef PROMPTD_SECRETSCTL_H
#define PROMPTD_SECRETSCTL_H

#include "cmd/ctl.h"
#include "core/config.h"

/* promptctl secrets ...: runs secretsctl_main */
extern const ctl_cmd_t secretsctl_cmd;

/* promptctl secrets ARGS... (argv[0] is "set", "check" or "rotate"):
 *   set USER NAME  encrypt standard input (one trailing newline dropped)
 *                  as USER's secret NAME (insert or replace); prints its id
 *   get USER NAME  print the decrypted secret and a newline
 *   check          decrypt every row; prints "checked N secrets, M failed"
 *                  and each failure ("ID: reason") on stderr; 1 if any failed
 *   rotate         in one transaction, re-encrypt every row not already
 *                  under the current (first) key; prints "rotated N of M
 *                  secrets to key KID"; any undecryptable row aborts it all
 * Runs as the migrating role (bypasses RLS).  Returns the exit status. */
int secretsctl_main(const config_t *cfg, int argc, char **argv);

#endif
