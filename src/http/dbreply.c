/* dbreply.c: HTTP answers for database results (SQLSTATE -> status, lists, objects). */
#include "http/dbreply.h"

#include <ctype.h>
#include <string.h>

#include "core/json.h"
#include "core/log.h"
#include "http/quota.h"
#include "http/response.h"

int dbreply_error(req_t *r)
{
    const char *s = r->tx.sqlstate ? r->tx.sqlstate : "XX000";

    if (strncmp(s, "08", 2) == 0 || strcmp(s, "57P01") == 0 ||
        strcmp(s, "40001") == 0 || strcmp(s, "40P01") == 0 ||
        strcmp(s, "57014") == 0) {
        resp_header(r, "Retry-After", "1");
        return resp_problem(r, 503, "The database is busy or unreachable; retry shortly.");
    }
    if (quota_is_refusal(s))
        return quota_reply(r);
    /* promptd's own refusals: PW + the HTTP status, the message for the client */
    if (strncmp(s, "PW4", 3) == 0 && isdigit((unsigned char)s[3]) && isdigit((unsigned char)s[4]))
        return resp_problem(r, 400 + (s[3] - '0') * 10 + (s[4] - '0'),
                            r->tx.message ? r->tx.message : "The request was refused.");
    if (strcmp(s, "23505") == 0)
        return resp_problem(r, 409, "The resource already exists.");
    if (strcmp(s, "23503") == 0)
        return resp_problem(r, 409, "A referenced resource does not exist.");
    if (strcmp(s, "23514") == 0 || strcmp(s, "23502") == 0 ||
        strncmp(s, "22", 2) == 0)
        return resp_problem(r, 422, "The request violates a data constraint.");
    if (strcmp(s, "42501") == 0)
        return resp_problem(r, 403, "You are not allowed to do that.");
    log_error("%s: sqlstate %s: %s", __func__, s,
              r->tx.detail ? r->tx.detail : "");
    return resp_problem(r, 500, "Internal error; it has been logged.");
}

int dbreply_list(req_t *r, const PGresult *res, long limit, const char *next)
{
    int rows = PQntuples(res) < limit ? PQntuples(res) : (int)limit;
    strbuf_t sb;

    strbuf_init(&sb, r->arena, 4096);
    strbuf_puts(&sb, "{\"items\":[");
    for (int i = 0; i < rows; i++) {
        if (i)
            strbuf_putc(&sb, ',');
        strbuf_append(&sb, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0));
    }
    strbuf_puts(&sb, "],\"next_cursor\":");
    if (next)
        json_append_string(&sb, next);
    else
        strbuf_puts(&sb, "null");
    strbuf_putc(&sb, '}');
    return resp_json_text(r, 200, sb.ptr, sb.len);
}

int dbreply_object(req_t *r, const PGresult *res, const char *not_found)
{
    if (res == NULL)
        return dbreply_error(r);
    if (PQntuples(res) != 1)
        return resp_problem(r, 404, not_found);
    return resp_json_text(r, 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}
