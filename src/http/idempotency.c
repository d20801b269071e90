/* idempotency.c: Idempotency-Key replay for R_IDEMPOTENT routes (public.idempotency_keys). */
#include "http/idempotency.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "crypto/hash.h"
#include "http/dbreply.h"
#include "http/response.h"

#define IDEMPOTENCY_KEY_MAX 255

enum { ST_CLAIM, ST_GET, ST_STORE };

/* Inside the request's transaction: the INSERT waits for a concurrent
 * holder of the same key to finish. */
const db_stmt_t idempotency_stmts[] = {
    [ST_CLAIM] = {"promptd_idem_claim",
        "insert into public.idempotency_keys (user_id, key, request_hash) "
        "values (auth.uid(), $1, $2) on conflict do nothing returning 1"},
    [ST_GET] = {"promptd_idem_get",
        "select request_hash, status, location, etag, body "
        "from public.idempotency_keys where user_id = auth.uid() and key = $1"},
    [ST_STORE] = {"promptd_idem_store",
        "update public.idempotency_keys set status = $2, location = $3, "
        "etag = $4, body = $5 where user_id = auth.uid() and key = $1"},
    {NULL, NULL},
};

/* Replay an earlier answer for the same key, or claim the key.  Returns
 * true when the handler should run. */
static bool claim_or_replay(req_t *r, const char *key, const char *hash)
{
    const char *v[2] = {key, hash};
    PGresult *res = db_exec(&r->tx, &idempotency_stmts[ST_CLAIM], 2, v);
    const char *status;

    if (res == NULL) {
        dbreply_error(r);
        return false;
    }
    if (PQntuples(res) == 1)
        return true;
    if ((res = db_exec(&r->tx, &idempotency_stmts[ST_GET], 1, v)) == NULL ||
        PQntuples(res) != 1) {
        dbreply_error(r);
        return false;
    }
    if (strcmp(PQgetvalue(res, 0, 0), hash) != 0) {
        resp_problem(r, 422, "This Idempotency-Key was used with a different request.");
        return false;
    }
    status = db_value(res, 0, 1);
    resp_json_text(r, status ? atoi(status) : 409, PQgetvalue(res, 0, 4),
                   strlen(PQgetvalue(res, 0, 4)));
    r->location = db_value(res, 0, 2);
    r->etag = db_value(res, 0, 3);
    resp_header(r, "Idempotent-Replayed", "true");
    return false;
}

bool idempotency_begin(req_t *r, const char **key)
{
    const char *k = req_header(r, "Idempotency-Key");
    char *hash;
    hash_part_t parts[3];

    *key = NULL;
    if (k == NULL)
        return true;
    if (*k == '\0' || strlen(k) > IDEMPOTENCY_KEY_MAX || !utf8_valid(k, strlen(k))) {
        resp_problemf(r, 400, "Idempotency-Key must be 1 to %d characters.",
                      IDEMPOTENCY_KEY_MAX);
        return false;
    }
    parts[0] = (hash_part_t){r->method, strlen(r->method) + 1};
    parts[1] = (hash_part_t){r->path, strlen(r->path) + 1};
    parts[2] = (hash_part_t){r->body, r->body_len};
    hash = arena_alloc(r->arena, HASH_SHA256_HEX);
    hash_sha256_parts_hex(parts, 3, hash);
    if (!claim_or_replay(r, k, hash))
        return false;
    *key = k;
    return true;
}

void idempotency_store(req_t *r, const char *key)
{
    char status[16];
    const char *v[5];

    if (r->status >= 400)
        return;   /* the transaction rolls back and takes the key with it */
    snprintf(status, sizeof(status), "%d", r->status);
    v[0] = key;
    v[1] = status;
    v[2] = r->location;
    v[3] = r->etag;
    v[4] = r->resp_body ? r->resp_body : "";
    if (db_exec(&r->tx, &idempotency_stmts[ST_STORE], 5, v) == NULL)
        dbreply_error(r);
}
