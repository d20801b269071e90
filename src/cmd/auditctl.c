/* auditctl.c: promptctl audit verify and promptctl user admin. */
#include "cmd/auditctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "cmd/ctl.h"
#include "core/str.h"

/* Walk promptd.audit_verify() (rows by id with the previous row's hash and
 * the recomputed hash) in one REPEATABLE READ snapshot together with the
 * chain head, so concurrent appends cannot produce a false alarm.  Checks:
 * ids contiguous from 1 (a removed row), prev_hash = the previous row's
 * hash (removed or reordered rows), hash recomputed (altered rows), and the
 * head naming the last row (a removed tail). */
int auditctl_verify(const config_t *cfg)
{
    PGconn *conn;
    PGresult *res = NULL, *head = NULL;
    long long expect_id = 1;
    const char *last_hash = "";
    int rc = 1, n, i;

    if ((conn = ctl_connect(cfg)) == NULL)
        return 1;
    PQclear(PQexec(conn, "begin isolation level repeatable read read only"));
    res = PQexec(conn, "select id, prev_hash, hash, expected_prev, computed "
                       "from promptd.audit_verify()");
    head = PQexec(conn, "select last_id, last_hash from promptd.audit_head where id = 1");
    if (PQresultStatus(res) != PGRES_TUPLES_OK ||
        PQresultStatus(head) != PGRES_TUPLES_OK || PQntuples(head) != 1) {
        fprintf(stderr, "promptctl: reading the audit log: %s",
                PQresultStatus(res) != PGRES_TUPLES_OK ? PQresultErrorMessage(res)
                : PQresultStatus(head) != PGRES_TUPLES_OK ? PQresultErrorMessage(head)
                : "the chain head is missing\n");
        goto out;
    }
    n = PQntuples(res);
    for (i = 0; i < n; i++, expect_id++) {
        const char *id = PQgetvalue(res, i, 0);

        if (strtoll(id, NULL, 10) != expect_id) {
            fprintf(stderr, "audit verify: row %s: expected id %lld "
                    "(rows removed or renumbered)\n", id, expect_id);
            goto out;
        }
        if (strcmp(PQgetvalue(res, i, 1), PQgetvalue(res, i, 3)) != 0) {
            fprintf(stderr, "audit verify: row %s: prev_hash does not match "
                    "the previous row (rows removed or reordered)\n", id);
            goto out;
        }
        if (strcmp(PQgetvalue(res, i, 2), PQgetvalue(res, i, 4)) != 0) {
            fprintf(stderr, "audit verify: row %s: hash mismatch (row altered)\n", id);
            goto out;
        }
        last_hash = PQgetvalue(res, i, 2);
    }
    if (strtoll(PQgetvalue(head, 0, 0), NULL, 10) != expect_id - 1 ||
        strcmp(PQgetvalue(head, 0, 1), last_hash) != 0) {
        fprintf(stderr, "audit verify: row %s: the chain head names row %s "
                "(rows removed at the end)\n",
                n > 0 ? PQgetvalue(res, n - 1, 0) : "0", PQgetvalue(head, 0, 0));
        goto out;
    }
    printf("ok %d rows head %s\n", n, *last_hash ? last_hash : "-");
    rc = 0;
out:
    PQclear(head);
    PQclear(res);
    PQclear(PQexec(conn, "rollback"));
    PQfinish(conn);
    return rc;
}

int auditctl_user_admin(const config_t *cfg, const char *user, bool on)
{
    const char *params[2] = {user, on ? "true" : "false"};
    PGconn *conn;
    PGresult *res;
    int rc = 1;

    if ((conn = ctl_connect(cfg)) == NULL)
        return 1;
    res = PQexecParams(conn, uuid_valid(user)
        ? "select promptd.set_admin(u.id, $2::boolean) from auth.users u "
          "where u.id = $1::uuid"
        : "select promptd.set_admin(u.id, $2::boolean) from auth.users u "
          "where lower(u.email) = lower($1::text)",
        2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fprintf(stderr, "promptctl: setting the admin flag: %s",
                PQresultErrorMessage(res));
    else if (PQntuples(res) != 1)
        fprintf(stderr, "promptctl: no such user: %s\n", user);
    else {
        printf("%s admin %s\n", user, on ? "on" : "off");
        rc = 0;
    }
    PQclear(res);
    PQfinish(conn);
    return rc;
}

static bool auditctl_verify_words(int argc, char **argv)
{
    return argc == 1 && strcmp(argv[0], "verify") == 0;
}

static int auditctl_exec(const config_t *cfg, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return auditctl_verify(cfg);
}

const ctl_cmd_t auditctl_cmd = {
    "audit", "audit verify", "expected: audit verify", 1, 1,
    auditctl_verify_words, auditctl_exec
};
