/* idempotency.h: Idempotency-Key replay for R_IDEMPOTENT routes (public.idempotency_keys). */
#ifndef PROMPTD_IDEMPOTENCY_H
#define PROMPTD_IDEMPOTENCY_H

#include <stdbool.h>

#include "db/db.h"
#include "http/request.h"

/* The statements idempotency_begin/store run ({NULL}-terminated). */
extern const db_stmt_t idempotency_stmts[];

/* Before the handler of an R_IDEMPOTENT route: with no Idempotency-Key
 * header, *key = NULL and true.  Otherwise replay the earlier answer for
 * the same key (false, answer recorded), refuse a malformed key or one
 * reused for another request (false, 400/422), or claim it inside the
 * request's transaction (the INSERT waits for a concurrent holder) and
 * return true with *key set for idempotency_store(). */
bool idempotency_begin(req_t *r, const char **key);

/* After the handler: remember a success (< 400) under key; a failure
 * rolls back and takes the claim with it. */
void idempotency_store(req_t *r, const char *key);

#endif
