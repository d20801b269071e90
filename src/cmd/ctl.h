/* ctl.h: what promptctl's command files share: the command entry and the privileged connection. */
#ifndef PROMPTD_CTL_H
#define PROMPTD_CTL_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "core/config.h"

/* One promptctl command (tmux's cmd_entry): each command file exports its
 * entries and promptctl.c lists them.  argc/argv are the words after the
 * command's name. */
typedef struct ctl_cmd {
    const char *name;      /* the first word: "migrate" */
    const char *usage;     /* usage lines without "promptctl ", '\n' between */
    const char *expected;  /* the complaint when the words do not fit */
    int min_args;          /* words after the name */
    int max_args;          /* -1: any number */
    /* finer check of the words, run before the configuration is loaded;
     * NULL accepts any count within [min_args, max_args] */
    bool (*check)(int argc, char **argv);
    /* run the command: returns the exit status */
    int (*exec)(const config_t *cfg, int argc, char **argv);
} ctl_cmd_t;

/* Connect with the privileged (migrating) URL; NULL, reported on stderr,
 * on failure.  The caller owns the connection (PQfinish). */
PGconn *ctl_connect(const config_t *cfg);

#endif
