/* audit.h: append a row to the hash-chained audit log (promptd.audit()). */
#ifndef PROMPTD_AUDIT_H
#define PROMPTD_AUDIT_H

#include <stdbool.h>

#include "db/db.h"
#include "http/request.h"

/* The statements audit_record() and audit_record_as() run
 * ({NULL}-terminated); server.c prepares them on every connection of
 * every family. */
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

/* audit_record with the actor's audit pseudonym given (NULL: none), not
 * looked up: for a row written after its actor's account is deleted (the
 * pseudonym read before, promptd.audit_subject), which would otherwise
 * get a new one. */
bool audit_record_as(req_t *r, const char *pseudonym, const char *action,
                     const char *target, const char *outcome, const char *detail_json);

#endif
