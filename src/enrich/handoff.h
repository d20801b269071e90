/* handoff.h: a synchronous enrichment handed from a FastCGI worker to the gateway: its pending record, the per-user cap, the gateway taking it up. */
#ifndef PROMPTD_ENRICH_HANDOFF_H
#define PROMPTD_ENRICH_HANDOFF_H

#include <stdbool.h>

#include "enrich/enrich.h"

/* The worker's side (in the request's scoped transaction). */

/* 1 when the run needs a provider (the first link is remote and its cache
 * entry, if any, is not usable): hand it off; 0 when the worker can answer
 * at once (local engine first, or a cache hit); -1 database error. */
int enrich_handoff_needed(db_tx_t *d, const enrich_input_t *in);

/* The caller's enrichments in flight (pending or running, started within
 * window_s seconds), counted after taking a per-user lock held to the end
 * of the transaction, so that one user's concurrent requests are counted
 * one after another.  -1 on a database error. */
long enrich_inflight(db_tx_t *d, long window_s);

/* The pending record of a synchronous enrichment (async false, no job),
 * with its options (providers, no_cache, stream), for the gateway to take
 * up, written only while the caller has fewer than cap enrichments in
 * flight (counted as enrich_inflight does; *inflight gets the number).
 * 1 written, 0 at the cap, -1 on a database error. */
int enrich_handoff_record(db_tx_t *d, const enrich_input_t *in, const char *id,
                          bool stream, long window_s, long cap, long *inflight);

/* The gateway's side (a pooled tx with no claims: it runs as the pool's
 * service role until enrich_handoff_take() sets the owner's claims). */

/* Take up the pending synchronous record id: it becomes running, *in is
 * rebuilt from it (strings from d's arena, the owner's own provider keys
 * decrypted) and d gets its owner's claims;
 * *stream says whether the client asked for events.  1 taken, 0 no such
 * pending record (finished, taken, or not synchronous), -1 database
 * error. */
int enrich_handoff_take(db_tx_t *d, const char *id, enrich_input_t *in, bool *stream);

/* Forget the pending record id, never taken up (the node is at its cap:
 * the client is told to retry).  False on a database error. */
bool enrich_handoff_drop(db_tx_t *d, const char *id);

/* Mark failed the synchronous records pending or running for more than
 * older_than_s seconds (their gateway stopped mid-way).  The number marked,
 * -1 on a database error. */
long enrich_handoff_sweep(db_tx_t *d, long older_than_s);

/* The statements the worker's side runs (a family lists them). */
extern const db_stmt_t enrich_handoff_stmts[];

#endif
