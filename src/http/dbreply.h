/* dbreply.h: HTTP answers for database results (SQLSTATE -> status, lists, objects). */
#ifndef PROMPTD_DBREPLY_H
#define PROMPTD_DBREPLY_H

#include <libpq-fe.h>

#include "http/request.h"

/* Reply for a failed query, mapping r's transaction SQLSTATE: 23505 -> 409,
 * 23514/22xxx -> 422, 40001/40P01 -> 503, connection loss -> 503,
 * 42501 -> 403, PWnnn (raised by promptd's SQL functions) -> nnn (a 4xx)
 * with the server's message as the detail, anything else -> 500 (logged). */
int dbreply_error(req_t *r);

/* 200 {"items":[column 0 of the first `limit` rows, each JSON text],
 * "next_cursor": next or null}.  Queries fetch limit + 1 rows, so more rows
 * than limit means another page exists: callers pass its cursor as next. */
int dbreply_list(req_t *r, const PGresult *res, long limit, const char *next);

/* The reply for a query of at most one row whose column 0 is a JSON
 * document: res NULL (the query failed) -> dbreply_error(); no row -> 404
 * problem+json with detail not_found; else 200 with that document. */
int dbreply_object(req_t *r, const PGresult *res, const char *not_found);

#endif
