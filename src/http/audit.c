/* audit.c: append a row to the hash-chained audit log (promptd.audit()). */
#include "http/audit.h"

/* One round trip: the materialised CTE sets the transaction-local request
 * settings promptd.audit() reads before the outer SELECT calls it. */
const db_stmt_t audit_stmts[] = {{
    "promptd_audit",
    "with ctx as materialized ("
    " select set_config('request.id', coalesce($6, ''), true) as a,"
    " set_config('request.address', coalesce($7, ''), true) as b,"
    " set_config('request.user_agent', coalesce($8, ''), true) as c) "
    "select promptd.audit($1, $2, $3, $4::jsonb, $5::uuid) from ctx"},
    {NULL, NULL},
};

bool audit_record(req_t *r, const char *action, const char *target,
                  const char *outcome, const char *detail_json,
                  const char *actor)
{
    const char *addr = r->remote_addr;
    const char *v[8];

    if (addr != NULL && (addr[0] == '-' || addr[0] == '\0'))
        addr = NULL;
    v[0] = action;
    v[1] = target;
    v[2] = outcome;
    v[3] = detail_json;
    v[4] = actor;
    v[5] = r->request_id;
    v[6] = addr;
    v[7] = req_header(r, "User-Agent");
    return db_exec_app(&r->tx, &audit_stmts[0], 8, v) != NULL;
}
