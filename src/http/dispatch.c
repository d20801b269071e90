/* dispatch.c: admit a request by its route row, read its body, run its handler. */
#include "http/dispatch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/credential.h"
#include "core/json.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "http/dbreply.h"
#include "http/idempotency.h"
#include "http/metrics_access.h"
#include "http/quota.h"
#include "http/response.h"

/* A FastCGI parameter copied into the arena: libfcgi frees its own copy at
 * FCGX_Finish_r, before the request is logged. */
static const char *param_or(req_t *r, const char *name, const char *dflt)
{
    const char *v = FCGX_GetParam(name, r->fcgx->envp);

    return v && *v ? arena_strdup(r->arena, v) : dflt;
}

static void read_request_line(req_t *r)
{
    const char *uri;

    r->method = param_or(r, "REQUEST_METHOD", "GET");
    r->query = param_or(r, "QUERY_STRING", "");
    uri = param_or(r, "DOCUMENT_URI", NULL);
    if (uri == NULL) {
        uri = param_or(r, "REQUEST_URI", "/");
        uri = arena_strndup(r->arena, uri, strcspn(uri, "?"));
    }
    r->path = uri;
    r->remote_addr = param_or(r, "REMOTE_ADDR", "-");
    r->request_id = param_or(r, "REQUEST_ID", NULL);
    if (r->request_id == NULL) {
        unsigned char b[16];

        random_bytes(b, sizeof(b));
        r->request_id = hex_encode(r->arena, b, sizeof(b));
    }
}

/* Read exactly CONTENT_LENGTH bytes (capped), or with R_BODY_STREAM only
 * its length.  Replies and returns false on a bad length, an oversize body
 * or a short read. */
static bool read_body_or_reply(req_t *r, const config_t *cfg)
{
    const char *cl = param_or(r, "CONTENT_LENGTH", "0");
    char *end;
    long long n;
    char *buf;

    errno = 0;
    n = strtoll(cl, &end, 10);
    if (errno || *end || n < 0) {
        resp_problem(r, 400, "Content-Length is invalid.");
        return false;
    }
    if (r->route->flags & R_BODY_STREAM) {
        r->body = NULL;
        r->body_len = (size_t)n;
        return true;
    }
    if (n > cfg->max_body) {
        resp_problemf(r, 413, "The body exceeds %ld bytes.", cfg->max_body);
        return false;
    }
    buf = arena_alloc(r->arena, (size_t)n + 1);
    if (n > 0 && FCGX_GetStr(buf, (int)n, r->fcgx->in) != (int)n) {
        resp_problem(r, 400, "The body is shorter than Content-Length.");
        return false;
    }
    buf[n] = '\0';
    r->body = buf;
    r->body_len = (size_t)n;
    return true;
}

static bool is_json_type(const char *ct)
{
    size_t n = strcspn(ct, "; \t");

    return (n == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
           (n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0 &&
            strncasecmp(ct, "application/", 12) == 0);
}

/* R_JSON: the body as a JSON object in r->json, or false after replying
 * 415 (not JSON), 400 (malformed, duplicate key, not an object), 413
 * (beyond a JSON_MAX_* limit) or 422 (U+0000 in a string, per field). */
static bool parse_json_or_reply(req_t *r)
{
    const char *ct = req_header(r, "Content-Type");
    json_error_t err;

    if (ct == NULL || !is_json_type(ct)) {
        resp_problem(r, 415, "The body must be application/json.");
        return false;
    }
    if (r->body_len == 0) {
        resp_problem(r, 400, "A JSON object body is required.");
        return false;
    }
    r->json = json_parse_body(r->arena, r->body, r->body_len, &err);
    if (err.fault == JSON_FAULT_LIMIT) {
        resp_problemf(r, 413, "The JSON body is too large: %s.", err.why);
        return false;
    }
    if (err.fault == JSON_FAULT_NUL) {
        req_field_error(r, err.field, "%s", err.why);
        resp_validation(r);
        return false;
    }
    if (r->json == NULL) {
        resp_problemf(r, 400, "Malformed JSON: %s.", err.why);
        return false;
    }
    if (!cJSON_IsObject(r->json)) {
        resp_problem(r, 400, "The body must be a JSON object.");
        return false;
    }
    return true;
}

static bool route_or_reply(req_t *r, const family_t *fam)
{
    switch (router_match(fam->routes, fam->nroutes, r->method, r->path,
                         &r->match)) {
    case ROUTER_MATCH:
        r->route = r->match.route;
        r->tx.readonly = (r->route->flags & R_READONLY) != 0;
        return true;
    case ROUTER_METHOD_NOT_ALLOWED:
        resp_header(r, "Allow", r->match.allow);
        resp_problemf(r, 405, "%s is not allowed here.", r->method);
        return false;
    case ROUTER_BAD_PARAM:
        r->route = r->match.route;
        r->tx.readonly = (r->route->flags & R_READONLY) != 0;
        resp_problemf(r, 400, "Path parameter '%s' must be a UUID.",
                      r->match.bad_param);
        return false;
    default:
        resp_problem(r, 404, "No such resource.");
        return false;
    }
}

static void run_handler(req_t *r)
{
    const char *key = NULL;

    if ((r->route->flags & R_IDEMPOTENT) && !idempotency_begin(r, &key))
        return;
    if (r->route->handler(r) == 0 || r->status == 0) {
        r->tx.detail = "handler recorded no response";
        resp_problem(r, 500, "Internal error; it has been logged.");
    }
    if (key)
        idempotency_store(r, key);
}

/* Weak comparison of an If-None-Match list against etag (RFC 9110 13.1.2). */
static bool etag_listed(const char *list, const char *etag)
{
    const char *e = strncmp(etag, "W/", 2) == 0 ? etag + 2 : etag;
    size_t elen = strlen(e);

    while (*list) {
        list += strspn(list, " \t,");
        if (*list == '*')
            return true;
        if (strncmp(list, "W/", 2) == 0)
            list += 2;
        if (strncmp(list, e, elen) == 0 &&
            (list[elen] == '\0' || strchr(" \t,", list[elen])))
            return true;
        list += strcspn(list, ",");
    }
    return false;
}

/* GET 200: derive an ETag from the body unless the handler set one, and
 * answer 304 when the client already has it. */
static void conditional_get(req_t *r)
{
    const char *inm;

    if (r->status != 200 || (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0))
        return;
    if (r->etag == NULL) {
        hash_part_t parts[3] = {{"", 1}, {"", 1}, {r->resp_body, r->resp_len}};
        char hex[HASH_SHA256_HEX];

        hash_sha256_parts_hex(parts, 3, hex);
        r->etag = arena_printf(r->arena, "\"%.32s\"", hex);
    }
    inm = req_header(r, "If-None-Match");
    if (inm && etag_listed(inm, r->etag))
        resp_empty(r, 304);
}

/* R_ADMIN: promptd.is_admin() (the profile flag, or app_metadata.role
 * "admin" / app_metadata.admin true in the claims) in the request's first
 * query; 403 otherwise.  Unprepared: only admin routes pay for it.  The
 * admin SQL functions check again. */
static bool admin_or_reply(req_t *r)
{
    PGresult *res = db_exec_sql(&r->tx, "select promptd.is_admin()", 0, NULL);

    if (res == NULL) {
        dbreply_error(r);
        return false;
    }
    if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
        resp_problem(r, 403, "This route is for administrators.");
        return false;
    }
    return true;
}

/* The detail of the problem+json just recorded, for a family's hook. */
static const char *recorded_detail(req_t *r)
{
    cJSON *o = r->resp_body ? json_own(r->arena, cJSON_Parse(r->resp_body)) : NULL;
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "detail");
    const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "errors"), 0);
    const cJSON *field = cJSON_GetObjectItemCaseSensitive(e, "field");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");

    /* a dialect with one message per answer gets the first field's */
    if (cJSON_IsString(field) && cJSON_IsString(msg))
        return arena_printf(r->arena, "%s %s", field->valuestring, msg->valuestring);
    return cJSON_IsString(d) ? arena_strdup(r->arena, d->valuestring) : "";
}

/* Hand the refusal just recorded to the family's dialect, if it has one;
 * detail NULL: read back from the recorded problem (body refusals). */
static void reshape(req_t *r, const family_t *fam, const char *code,
                    const char *detail)
{
    if (fam->problem != NULL && r->status >= 400)
        fam->problem(r, r->status, code, detail ? detail : recorded_detail(r));
}

/* A credential refusal: problem+json (a 401 with WWW-Authenticate), then
 * in the family's dialect.  Returns false. */
static bool refuse(req_t *r, const family_t *fam, int status, const char *code,
                   const char *detail)
{
    if (status == 401)
        resp_unauthorized(r, strcmp(code, PROBLEM_BAD_CREDENTIAL) == 0, detail);
    else
        resp_problem(r, status, detail);
    reshape(r, fam, code, detail);
    return false;
}

/* CRED_METRICS rows (alone in their row, router_check): a wrong Bearer
 * token is a 401; a session or an API key (another kind), or an address
 * outside loopback and PROMPTD_METRICS_ALLOW without a token, a 403. */
static bool metrics_admit_or_reply(req_t *r, const family_t *fam)
{
    switch (metrics_access_check(r)) {
    case METRICS_ACCESS_OK:
        return true;
    case METRICS_ACCESS_BAD_TOKEN:
        return refuse(r, fam, 401, PROBLEM_BAD_CREDENTIAL, "The metrics token is not valid.");
    case METRICS_ACCESS_WRONG_KIND:
        return refuse(r, fam, 403, PROBLEM_WRONG_KIND,
                      "Metrics take the metrics token (or an allowed address), "
                      "not a session or an API key.");
    default:
        return refuse(r, fam, 403, PROBLEM_METRICS_DENIED,
                      "Metrics are served to allowed addresses or with the metrics token.");
    }
}

/* Admit the caller by the route row's credential kinds (router.h, enum
 * route_creds), before the body is read: the kind the headers present
 * must be one the row names (403 otherwise), a required credential must
 * be there (401) and valid (401), an API key must hold the row's scope
 * (403).  On a row open to anonymous callers a bearer token is not
 * verified (GoTrue clients send the anon key as one); an API key there is
 * refused, as everywhere it is not named.  Share cookies and signatures
 * are checked by the handler against the link or the raw body. */
static bool admit_or_reply(req_t *r, const family_t *fam)
{
    unsigned want = r->route->creds, kind = credential_presented(r);
    const char *why = NULL;
    enum credential_result res;

    credential_anon(r);
    if (want == CRED_METRICS)
        return metrics_admit_or_reply(r, fam);
    if (kind == CRED_SESSION && (want & CRED_NONE) &&
        (!(want & CRED_SESSION) || credential_bearer_is_apikey(r)))
        kind = 0;   /* not verified: the anon key as a Bearer (GoTrue clients) */
    if (kind == 0) {
        if ((want & CRED_NONE) ||
            ((want & CRED_SHARE) && credential_share_cookie_present(r)) ||
            ((want & CRED_SIGNATURE) && req_header(r, "Stripe-Signature") != NULL))
            return true;
        return refuse(r, fam, 401, PROBLEM_NO_CREDENTIAL,
                      want & (CRED_SESSION | CRED_APIKEY)
                      ? "A Bearer token is required." : "A credential is required.");
    }
    if (!(want & kind))
        return refuse(r, fam, 403, PROBLEM_WRONG_KIND, kind == CRED_APIKEY
                      ? "API keys cannot be used here; use a user access token."
                      : "A user access token cannot be used here.");
    res = kind == CRED_APIKEY ? credential_apikey(r, &why) : credential_session(r, &why);
    if (res == CREDENTIAL_REPLIED)
        return false;
    if (res == CREDENTIAL_INVALID)
        return refuse(r, fam, 401, PROBLEM_BAD_CREDENTIAL, why);
    if (kind == CRED_APIKEY && !credential_has_scope(r, r->route->scope))
        return refuse(r, fam, 403, PROBLEM_SCOPE, arena_printf(r->arena,
                      "This API key lacks the scope '%s'.", r->route->scope));
    return true;
}

/* R_AAL2: credential_aal_sufficient; 403 otherwise (problem+json, or the
 * family's insufficient_aal).  False once a reply is recorded. */
static bool aal_or_reply(req_t *r, const family_t *fam)
{
    static const char detail[] =
        "AAL2 session is required: verify your second factor first.";
    int ok = credential_aal_sufficient(r);

    if (ok != 0)
        return ok > 0;
    resp_problem(r, 403, detail);
    reshape(r, fam, PROBLEM_AAL, detail);
    return false;
}

void dispatch_request(req_t *r, const family_t *fam, const config_t *cfg)
{
    int retry_after;

    read_request_line(r);
    if (!route_or_reply(r, fam) || !admit_or_reply(r, fam))
        return;
    if (!read_body_or_reply(r, cfg)) {
        reshape(r, fam, PROBLEM_BODY, NULL);
        return;
    }
    if ((r->route->flags & R_JSON) && !parse_json_or_reply(r)) {
        reshape(r, fam, PROBLEM_BODY, NULL);
        return;
    }
    if ((r->route->flags & R_DB) && !db_ready(&retry_after)) {
        resp_header(r, "Retry-After", arena_printf(r->arena, "%d", retry_after));
        resp_problem(r, 503, "The database is unreachable; retry shortly.");
        return;
    }
    if (r->route->flags & R_REPLICA)
        db_tx_use_replica(&r->tx);
    quota_begin(r);
    if ((!(r->route->flags & R_ADMIN) || admin_or_reply(r)) &&
        (!(r->route->flags & R_AAL2) || aal_or_reply(r, fam)))
        run_handler(r);
    quota_finish(r);
    conditional_get(r);
}
