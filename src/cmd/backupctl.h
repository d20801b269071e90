/* backupctl.h: promptctl backup and restore: pg_dump / pg_restore of the whole promptd database. */
#ifndef PROMPTD_BACKUPCTL_H
#define PROMPTD_BACKUPCTL_H

#include "cmd/ctl.h"

/* promptctl backup FILE: pg_dump --format=custom of the database promptctl
 * migrates (PROMPTD_DATABASE_URL or the embedded one) into FILE, mode 0600,
 * written to FILE.partial and renamed only when pg_dump succeeded. */
extern const ctl_cmd_t backupctl_backup_cmd;

/* promptctl restore FILE: into an empty database (no schema_migrations:
 * refused otherwise), create the roles the dump's grants name when absent,
 * pg_restore FILE in one transaction (objects owned by the restoring
 * role), set promptd_app's password as migrate does, analyze. */
extern const ctl_cmd_t backupctl_restore_cmd;

#endif
