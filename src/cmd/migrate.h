/* migrate.h: apply sql/NNNN_*.sql once each, then sql/functions/<subject>.sql when changed, under an advisory lock, giving way to live requests. */
#ifndef PROMPTD_MIGRATE_H
#define PROMPTD_MIGRATE_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "cmd/ctl.h"
#include "core/config.h"

/* promptctl migrate: runs migrate_run */
extern const ctl_cmd_t migrate_cmd;

/* Key of the session advisory lock held while migrating (any constant
 * shared by every promptctl; "promptd" in ASCII). */
#define MIGRATE_LOCK_KEY 0x70726f6d707464LL

/* Connect to cfg->database_url, apply every new migration of cfg->sql_dir
 * (one transaction each, one line on stdout per file applied), refuse
 * when an applied file's checksum changed, then apply every
 * cfg->sql_dir/functions/<subject>.sql in name order (one transaction, quiet;
 * the directory must exist) unless those files are the ones last applied
 * and no migration was applied since, then set promptd_app's password
 * unless PROMPTD_APP_DATABASE_URL is set.  Each transaction first locks
 * every table and view, waiting at most 100 ms, and is tried again while
 * live requests hold them, for up to PROMPTD_MIGRATE_LOCK_WAIT seconds
 * (120).  Errors go to stderr.  Returns the process exit status: 0 or 1. */
int migrate_run(const config_t *cfg);

/* Give promptd_app the password in var/secrets/app_db_password (made on
 * first use), hashed client-side so the server log never sees it.  False,
 * reported on stderr, on failure.  (promptctl restore calls it too.) */
bool migrate_app_password(PGconn *conn, const config_t *cfg);

#endif
