/* server.c: the FastCGI accept loop: parse, route, authenticate, run, answer. */
#include "core/server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "auth/credential.h"
#include "core/config.h"
#include "core/json.h"
#include "core/log.h"
#include "core/response.h"
#include "crypto/random.h"
#include "db/audit.h"
#include "net/outbound.h"

#define IDEMPOTENCY_KEY_MAX 255

static volatile sig_atomic_t stopping;
static const config_t *cfg;

/* Idempotency-Key bookkeeping, inside the request's transaction: the
 * INSERT waits for a concurrent holder of the same key to finish. */
static const db_stmt_t idem_claim = {
    "promptd_idem_claim",
    "insert into public.idempotency_keys (user_id, key, request_hash) "
    "values (auth.uid(), $1, $2) on conflict do nothing returning 1"};
static const db_stmt_t idem_get = {
    "promptd_idem_get",
    "select request_hash, status, location, etag, body "
    "from public.idempotency_keys where user_id = auth.uid() and key = $1"};
static const db_stmt_t idem_store = {
    "promptd_idem_store",
    "update public.idempotency_keys set status = $2, location = $3, "
    "etag = $4, body = $5 where user_id = auth.uid() and key = $1"};

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
    FCGX_ShutdownPending();
}

static void install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;   /* no SA_RESTART: accept() returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* A FastCGI parameter copied into the arena: libfcgi frees its own copy at
 * FCGX_Finish_r, before the request is logged. */
static const char *param_or(req_t *r, const char *name, const char *dflt)
{
    const char *v = FCGX_GetParam(name, r->fcgx->envp);

    return v && *v ? arena_strdup(r->arena, v) : dflt;
}

static char *sha256_hex(arena_t *a, const char *s1, const char *s2,
                        const char *data, size_t len)
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    EVP_DigestUpdate(ctx, s1, strlen(s1) + 1);
    EVP_DigestUpdate(ctx, s2, strlen(s2) + 1);
    EVP_DigestUpdate(ctx, data, len);
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    return hex_encode(a, md, mdlen);
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

/* Read exactly CONTENT_LENGTH bytes (capped).  Replies and returns false
 * on a bad length, an oversize body or a short read. */
static bool read_body_or_reply(req_t *r)
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
        return true;
    case ROUTER_METHOD_NOT_ALLOWED:
        resp_header(r, "Allow", r->match.allow);
        resp_problemf(r, 405, "%s is not allowed here.", r->method);
        return false;
    case ROUTER_BAD_PARAM:
        r->route = r->match.route;
        resp_problemf(r, 400, "Path parameter '%s' must be a UUID.",
                      r->match.bad_param);
        return false;
    default:
        resp_problem(r, 404, "No such resource.");
        return false;
    }
}

/* Replay an earlier answer for the same Idempotency-Key, or claim the key.
 * Returns true when the handler should run. */
static bool idempotency_begin(req_t *r, const char *key, const char *hash)
{
    const char *v[2] = {key, hash};
    PGresult *res = db_exec(r, &idem_claim, 2, v);
    const char *status;

    if (res == NULL) {
        db_error_reply(r);
        return false;
    }
    if (PQntuples(res) == 1)
        return true;
    if ((res = db_exec(r, &idem_get, 1, v)) == NULL || PQntuples(res) != 1) {
        db_error_reply(r);
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

static void idempotency_store(req_t *r, const char *key)
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
    if (db_exec(r, &idem_store, 5, v) == NULL)
        db_error_reply(r);
}

static void run_handler(req_t *r)
{
    const char *key = NULL;

    if ((r->route->flags & R_IDEMPOTENT) &&
        (key = req_header(r, "Idempotency-Key")) != NULL) {
        const char *hash;

        if (*key == '\0' || strlen(key) > IDEMPOTENCY_KEY_MAX ||
            !utf8_valid(key, strlen(key))) {
            resp_problemf(r, 400, "Idempotency-Key must be 1 to %d characters.",
                          IDEMPOTENCY_KEY_MAX);
            return;
        }
        hash = sha256_hex(r->arena, r->method, r->path, r->body, r->body_len);
        if (!idempotency_begin(r, key, hash))
            return;
    }
    if (r->route->handler(r) == 0 || r->status == 0) {
        r->log_detail = "handler recorded no response";
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
    if (r->etag == NULL)
        r->etag = arena_printf(r->arena, "\"%.32s\"",
            sha256_hex(r->arena, "", "", r->resp_body, r->resp_len));
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
    PGresult *res = db_exec_sql(r, "select promptd.is_admin()", 0, NULL);

    if (res == NULL) {
        db_error_reply(r);
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
    if (kind == CRED_SESSION && !(want & CRED_SESSION) && (want & CRED_NONE))
        kind = 0;
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

/* Everything up to the handler's answer; the caller writes and commits.
 * The caller is admitted before the body is read or parsed, so an
 * anonymous client cannot make the worker parse a large body. */
static void handle(req_t *r, const family_t *fam)
{
    int retry_after;

    read_request_line(r);
    if (!route_or_reply(r, fam) || !admit_or_reply(r, fam))
        return;
    if (!read_body_or_reply(r)) {
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
    if ((r->route->flags & R_ADMIN) && !admin_or_reply(r))
        return;
    run_handler(r);
    conditional_get(r);
}

/* Commit (or roll back a failed request) before answering: a client never
 * sees success for a write that did not land.  Read-only requests have no
 * open transaction (see db_exec). */
static void finish(req_t *r)
{
    bool commit = r->status < 400 || r->commit_on_error;

    if (r->tx_open && !db_finish(r, commit) && r->status < 400)
        db_error_reply(r);
    resp_write(r);
    FCGX_Finish_r(r->fcgx);
    log_request(r);
}

static void print_routes(const family_t *fam)
{
    for (size_t i = 0; i < fam->nroutes; i++) {
        const route_t *rt = &fam->routes[i];

        printf("%s %s creds=%s", rt->method, rt->pattern, router_creds_name(rt->creds));
        if (rt->scope != NULL)
            printf(" scope=%s", rt->scope);
        putchar('\n');
    }
}

#define SERVER_STMTS_MAX 64

/* Append src (ending with a {NULL} row) to dst[*n]; false when dst (which
 * keeps one {NULL} row at its end) is full. */
static bool stmts_append(db_stmt_t *dst, size_t *n, const db_stmt_t *src)
{
    for (const db_stmt_t *s = src; s && s->name; s++) {
        if (*n + 1 >= SERVER_STMTS_MAX)
            return false;
        dst[(*n)++] = *s;
    }
    return true;
}

int server_main(int argc, char **argv, const family_t *fam)
{
    static db_stmt_t stmts[SERVER_STMTS_MAX];
    FCGX_Request fr;
    arena_t *arena;
    size_t n = 0;
    const char *why;
    long bad;

    if ((bad = router_check(fam->routes, fam->nroutes, &why)) >= 0) {
        fprintf(stderr, "%s: route %s %s %s; refusing to start\n", fam->name,
                fam->routes[bad].method, fam->routes[bad].pattern, why);
        return 1;
    }
    if (argc > 1 && strcmp(argv[1], "--routes") == 0) {
        print_routes(fam);
        return 0;
    }
    log_set_family(fam->name);
    install_signals();
    if (!outbound_init() || (cfg = config_load(false)) == NULL)
        return 1;   /* PROMPTD_OUTBOUND_ALLOW or the configuration: said why */
    stmts[n++] = idem_claim;
    stmts[n++] = idem_get;
    stmts[n++] = idem_store;
    stmts[n++] = credential_apikey_stmt;
    stmts[n++] = audit_stmt;
    if (!stmts_append(stmts, &n, fam->stmts) || !stmts_append(stmts, &n, fam->lib_stmts)) {
        log_error("%s: more than %d prepared statements", __func__, SERVER_STMTS_MAX - 1);
        return 1;
    }
    if (!credential_init(cfg))
        return 1;   /* logged; the stack's readiness check then fails */
    db_init(cfg->app_database_url, stmts);
    if (FCGX_Init() != 0 || FCGX_InitRequest(&fr, 0, 0) != 0) {
        log_error("%s: FastCGI initialisation failed", __func__);
        return 1;
    }
    arena = arena_create(16384);
    log_info("worker started");
    while (!stopping && FCGX_Accept_r(&fr) >= 0) {
        req_t *r = arena_zalloc(arena, sizeof(*r));

        r->arena = arena;
        r->fcgx = &fr;
        r->family = fam->name;
        r->started = now_monotonic();
        strbuf_init(&r->headers, arena, 256);
        handle(r, fam);
        finish(r);
        arena_reset(arena);
    }
    log_info("worker stopping");
    arena_destroy(arena);
    db_shutdown();
    return 0;
}
