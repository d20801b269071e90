/* audit.c: append a row to the hash-chained audit log (promptd.audit(), promptd.audit_append()). */
#include "http/audit.h"

/* One round trip: the materialised CTE sets the transaction-local request
 * settings promptd.audit() reads before the outer SELECT calls it. */
#define AUDIT_CTX "with ctx as materialized (" \
    " select set_config('request.id', coalesce($6, ''), true) as a," \
    " set_config('request.address', coalesce($7, ''), true) as b," \
    " set_config('request.user_agent', coalesce($8, ''), true) as c) "

enum { AUDIT_ACTOR, AUDIT_PSEUDONYM };

const db_stmt_t audit_stmts[] = {
    [AUDIT_ACTOR] = {"promptd_audit",
        AUDIT_CTX "select promptd.audit($1, $2, $3, $4::jsonb, $5::uuid) from ctx"},
    [AUDIT_PSEUDONYM] = {"promptd_audit_append",
        AUDIT_CTX "select promptd.audit_append($5::uuid, $1, $2, $3, $4::jsonb) from ctx"},
    {NULL, NULL},
};

/* Run audit_stmts[which] with who as $5 (the actor's id or pseudonym). */
static bool audit_exec(req_t *r, int which, const char *action, const char *target,
                       const char *outcome, const char *detail_json, const char *who)
{
    const char *addr = r->remote_addr;
    const char *v[8];

    if (addr != NULL && (addr[0] == '-' || addr[0] == '\0'))
        addr = NULL;
    v[0] = action;
    v[1] = target;
    v[2] = outcome;
    v[3] = detail_json;
    v[4] = who;
    v[5] = r->request_id;
    v[6] = addr;
    v[7] = req_header(r, "User-Agent");
    return db_exec_app(&r->tx, &audit_stmts[which], 8, v) != NULL;
}

bool audit_record(req_t *r, const char *action, const char *target,
                  const char *outcome, const char *detail_json,
                  const char *actor)
{
    return audit_exec(r, AUDIT_ACTOR, action, target, outcome, detail_json, actor);
}

bool audit_record_as(req_t *r, const char *pseudonym, const char *action,
                     const char *target, const char *outcome, const char *detail_json)
{
    return audit_exec(r, AUDIT_PSEUDONYM, action, target, outcome, detail_json, pseudonym);
}
