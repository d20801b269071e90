/* audit.h: append a row to the hash-chained audit log (promptd.audit()). */
#ifndef PROMPTD_AUDIT_H
#define PROMPTD_AUDIT_H

#include <stdbool.h>

#include "db/db.h"
#include "http/request.h"

/* The statement audit_record() runs ({NULL}-terminated); server.c
 * prepares it on every connection of every family. */
extern const db_stmt_t audit_stmts[];

/* Append one audit row inside the request's transaction (opening it if
 * needed; not on R_READONLY routes, whose transaction is read-only):
 * action is dotted ("profile.update"), target a short resource
 * name or NULL, outcome "success" | "failure" | "denied", detail_json a
 * JSON object text or NULL, actor a user id or NULL for the caller
 * (auth.uid()).  The request id, remote address and User-Agent come from r.
 * Returns false (r->tx.sqlstate set, nothing replied) when the insert
 * failed; the caller then answers with dbreply_error(r).  For failures
 * that must be kept although the answer is >= 400, set
 * r->tx.commit_on_error. */
bool audit_record(req_t *r, const char *action, const char *target,
                  const char *outcome, const char *detail_json,
                  const char *actor);

#endif
