/* share.c: the share family: share links (owner API), public pages and JSON, password unlock, fork, gallery, stats. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "http/credential.h"
#include "auth/password.h"
#include "core/config.h"
#include "core/json.h"
#include "core/log.h"
#include "http/dbreply.h"
#include "http/response.h"
#include "http/server.h"
#include "crypto/random.h"
#include "http/audit.h"
#include "share/cookie.h"
#include "share/page.h"
#include "share/seal.h"
#include "share/settings.h"
#include "share/token.h"
#include "storage/settings.h"
#include "storage/token.h"

#define EXPIRES_IN_MIN 1L
#define EXPIRES_IN_MAX 315360000L            /* ten years */
#define LIST_DEFAULT 50
#define LIST_MAX 200
#define GALLERY_DEFAULT 20
#define GALLERY_MAX 50
#define GALLERY_OFFSET_MAX 10000
#define STATS_DAYS_DEFAULT 30
#define STATS_DAYS_MAX 366
/* How long a signed URL a share answer links an attachment through works
 * (reused while it has half of it left; never past the link's expiry). */
#define ATTACHMENT_URL_SECONDS "3600"

/* Visitors' caching (edge_cache()).  Browsers revalidate every time
 * (max-age=0; nginx answers 304 from its cache).  nginx keeps an answer to
 * the end of the current second (X-Accel-Expires: @now; its expiry has
 * whole-second granularity, so "1 second" would mean up to 2) and may
 * serve it stale for one more second while one background request
 * refreshes it (stale-while-revalidate=1, which nginx honours because the
 * location does not say use_stale updating).  An answer is thus served at
 * most 2 s after the database read behind it: a revoked or expired link is
 * gone within 2 s, and a busy link costs about one worker request a second.
 * Cache-Control comes first: nginx reads its stale-while-revalidate, then
 * X-Accel-Expires overrides the lifetime. */
#define CACHE_PUBLIC "public, max-age=0, s-maxage=1, stale-while-revalidate=1"

#define SHARE_JSON                                                          \
    "json_build_object('id', s.id, 'prompt_id', s.prompt_id, 'public', s.public, " \
    "'allow_fork', s.allow_fork, 'has_password', s.has_password, "         \
    "'pin_version', s.pin_version, 'expires_at', s.expires_at, "            \
    "'revoked_at', s.revoked_at, 'created_at', s.created_at, "              \
    "'updated_at', s.updated_at, 'status', case when s.revoked_at is not null " \
    "then 'revoked' when s.expires_at is not null and s.expires_at <= now() " \
    "then 'expired' else 'active' end, 'views', s.views, "                  \
    "'unique_viewers', s.unique_viewers, 'forks', s.forks, "                \
    "'last_viewed_at', s.last_viewed_at)"
/* An owner row: JSON, id, token_sealed. */
#define SHARE_COLS SHARE_JSON ", s.id, s.token_sealed"
#define EXPIRY_AT                                                           \
    "(select case when $2::text is not null then $2::timestamptz "          \
    "when $3::bigint is not null then now() + $3::bigint * interval '1 second' end as at)"
#define RESOLVE_COLS                                                        \
    "r.state, r.share_id, r.has_password, r.allow_fork, r.is_public, "      \
    "to_json(r.expires_at) #>> '{}', r.title, r.content, array_to_json(r.tags), " \
    "r.author, r.version, to_json(r.updated_at) #>> '{}'"

enum {
    ST_PROMPT_CHECK, ST_INSERT, ST_LIST, ST_GET, ST_PATCH, ST_REVOKE, ST_STATS,
    ST_RESOLVE, ST_RESOLVE_UNLOCKED, ST_PW_BEGIN, ST_PW_OK, ST_PROOF, ST_FORK,
    ST_GALLERY, ST_SET_PASSWORD, ST_ROLE, ST_ATTACHMENTS, ST_COUNT,
};

static const db_stmt_t stmts[] = {
    /* $1 prompt, $2 pin_version: (prompt visible?, version exists?) */
    [ST_PROMPT_CHECK] = {"share_prompt_check",
        "select exists (select 1 from public.prompts p where p.id = $1), "
        "$2::int is null or exists (select 1 from public.prompt_versions v "
        "where v.prompt_id = $1 and v.version = $2::int)"},
    /* $1 id, $2 expires_at, $3 expires_in, $4 prompt, $5 token hash,
     * $6 sealed token, $7 public, $8 allow_fork, $9 pin_version; no row
     * when the expiry is not in the future */
    [ST_INSERT] = {"share_insert",
        "insert into public.shares as s (id, prompt_id, token_hash, token_sealed, "
        "public, allow_fork, pin_version, expires_at) "
        "select $1, $4, $5, $6, coalesce($7::boolean, false), "
        "coalesce($8::boolean, true), $9::int, e.at from " EXPIRY_AT " e "
        "where e.at is null or e.at > now() returning " SHARE_COLS},
    /* $1 id, $2 argon2id hash: request roles cannot write the column; the
     * definer function takes only the server's parameters (sql/0020) */
    [ST_SET_PASSWORD] = {"share_set_password",
        "select promptd.share_set_password($1, $2)"},
    /* $1 cursor id, $2 limit */
    [ST_LIST] = {"share_list",
        "select " SHARE_COLS " from public.shares s "
        "where $1::uuid is null or (s.created_at, s.id) < "
        "(select c.created_at, c.id from public.shares c where c.id = $1) "
        "order by s.created_at desc, s.id desc limit $2"},
    [ST_GET] = {"share_get",
        "select " SHARE_COLS " from public.shares s where s.id = $1"},
    /* $1 id, $2 expires_at, $3 expires_in, $4 public, $5 allow_fork,
     * $6 'keep' | 'set' (from $2/$3) | 'clear' the expiry */
    [ST_PATCH] = {"share_patch",
        "update public.shares as s set public = coalesce($4::boolean, s.public), "
        "allow_fork = coalesce($5::boolean, s.allow_fork), "
        "expires_at = case $6::text when 'set' then e.at when 'clear' then null "
        "else s.expires_at end from " EXPIRY_AT " e "
        "where s.id = $1 and ($6::text <> 'set' or e.at > now()) returning " SHARE_COLS},
    /* the caller's role rank in the link's workspace; no row when the link
     * is not the caller's to see */
    [ST_ROLE] = {"share_role",
        "select promptd.workspace_role_rank(promptd.workspace_role(s.workspace_id)) "
        "from public.shares s where s.id = $1"},
    [ST_REVOKE] = {"share_revoke",
        "update public.shares s set revoked_at = coalesce(s.revoked_at, now()) "
        "where s.id = $1 returning s.id"},
    /* $1 id, $2 days: the share, a zero-filled daily series (UTC days) and
     * the top referrer hosts over the same days */
    [ST_STATS] = {"share_stats",
        "select json_build_object('id', s.id, 'views', s.views, "
        "'unique_viewers', s.unique_viewers, 'forks', s.forks, "
        "'last_viewed_at', s.last_viewed_at, 'days', $2::int, "
        "'daily', (select coalesce(json_agg(json_build_object('day', g.day::date, "
        "'views', coalesce(d.views, 0), 'unique_viewers', coalesce(d.uniques, 0)) "
        "order by g.day), '[]'::json) from generate_series("
        "greatest((s.created_at at time zone 'utc')::date, "
        "(now() at time zone 'utc')::date - ($2::int - 1)), "
        "(now() at time zone 'utc')::date, interval '1 day') g(day) "
        "left join public.share_daily d on d.share_id = s.id and d.day = g.day::date), "
        "'referrers', (select coalesce(json_agg(json_build_object('host', x.host, "
        "'views', x.n) order by x.n desc, x.host), '[]'::json) from (select r.host, "
        "sum(r.views) as n from public.share_referrers r where r.share_id = s.id "
        "and r.day > (now() at time zone 'utc')::date - $2::int "
        "group by r.host order by n desc, r.host limit 10) x)) "
        "from public.shares s where s.id = $1"},
    [ST_RESOLVE] = {"share_resolve",
        "select " RESOLVE_COLS " from promptd.share_resolve($1) r"},
    [ST_RESOLVE_UNLOCKED] = {"share_resolve_unlocked",
        "select " RESOLVE_COLS " from promptd.share_resolve_unlocked($1) r"},
    [ST_PW_BEGIN] = {"share_pw_begin",
        "select state, locked_seconds, password_hash "
        "from promptd.share_password_begin($1, $2)"},
    [ST_PW_OK] = {"share_pw_ok", "select promptd.share_password_ok($1, $2)"},
    [ST_PROOF] = {"share_proof", "select promptd.share_unlock_proof($1)"},
    [ST_FORK] = {"share_fork",
        "select f.state, f.prompt::text, f.prompt->>'id' from promptd.share_fork($1, $2) f"},
    /* $1 q, $2 tag, $3 popular, $4 limit + 1, $5 offset */
    [ST_GALLERY] = {"share_gallery",
        "select json_build_object('title', g.title, 'excerpt', g.excerpt, "
        "'tags', g.tags, 'author', g.author, 'views', g.views, 'forks', g.forks, "
        "'created_at', g.created_at), g.share_id, g.token_sealed "
        "from promptd.share_gallery($1, $2, $3::boolean, $4::int, $5::int) g"},
    /* $1 token hash, $2 unlocked, $3 seconds: the attachments shown, each
     * with its signed-URL record (the worker's own: db_exec_unscoped, a
     * write even on the read-only page routes) */
    [ST_ATTACHMENTS] = {"share_attachments",
        "select a.id, a.bucket, a.path, a.content_type, a.size, a.signed_id, a.expires_at, "
        "to_json(to_timestamp(a.expires_at)) #>> '{}' "
        "from promptd.share_attachment_urls($1, $2::boolean, $3::int) a"},
    [ST_COUNT] = {NULL, NULL},
};

/* The columns of an attachments row. */
enum { AT_ID, AT_BUCKET, AT_PATH, AT_TYPE, AT_SIZE, AT_SIGNED, AT_EXP, AT_EXPIRES };

/* The columns of a resolve row. */
enum { RS_STATE, RS_ID, RS_HAS_PW, RS_FORK, RS_PUBLIC, RS_EXPIRES, RS_TITLE,
       RS_CONTENT, RS_TAGS, RS_AUTHOR, RS_VERSION, RS_UPDATED };

/* ------------------------------------------------------------- helpers */

/* Mark the answer cacheable for anyone for about a second (see above). */
static void edge_cache(req_t *r)
{
    struct timespec ts;

    /* not time(): glibc may read the coarse clock, a tick behind nginx's */
    clock_gettime(CLOCK_REALTIME, &ts);
    resp_header(r, "Cache-Control", CACHE_PUBLIC);
    resp_header(r, "X-Accel-Expires", arena_printf(r->arena, "@%lld", (long long)ts.tv_sec));
}

/* expires_in | expires_at (a JSON null clears when allow_clear).  Sets
 * *at / *in_text (arena) and returns "set", "clear" or "keep"; records
 * field errors. */
static const char *read_expiry(req_t *r, bool allow_clear, const char **at,
                               const char **in_text)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(r->json, "expires_at");
    long in = 0;
    enum field_result ir;

    *at = NULL;
    *in_text = NULL;
    ir = req_field_int(r, r->json, "expires_in", EXPIRES_IN_MIN, EXPIRES_IN_MAX, &in);
    if (cJSON_IsNull(e)) {
        if (!allow_clear) {
            req_field_error(r, "expires_at", "must be an RFC 3339 date-time");
            return "keep";
        }
        if (ir == FIELD_OK)
            req_field_error(r, "expires_at", "give expires_in or expires_at, not both");
        return "clear";
    }
    if (req_field_string(r, r->json, "expires_at", 64, false, at) == FIELD_OK &&
        !rfc3339_shaped(*at)) {
        req_field_error(r, "expires_at", "must be an RFC 3339 date-time");
        *at = NULL;
    }
    if (ir == FIELD_OK && *at)
        req_field_error(r, "expires_at", "give expires_in or expires_at, not both");
    if (ir == FIELD_OK)
        *in_text = arena_printf(r->arena, "%ld", in);
    return *at || *in_text ? "set" : "keep";
}

/* An owner row (SHARE_COLS) as a cJSON object with token and url added
 * (owned by the arena); NULL when the token cannot be unsealed. */
static cJSON *owner_share(req_t *r, const PGresult *res, int row)
{
    cJSON *o = json_own(r->arena, cJSON_Parse(PQgetvalue(res, row, 0)));
    const char *token = share_unseal(r->arena, PQgetvalue(res, row, 1),
                                     PQgetvalue(res, row, 2));

    if (o == NULL || token == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "token", token);
    cJSON_AddStringToObject(o, "url", share_token_url(r->arena, token));
    return o;
}

static int owner_reply(req_t *r, int status, const PGresult *res)
{
    cJSON *o = owner_share(r, res, 0);

    if (o == NULL)
        return resp_problem(r, 500, "Internal error; it has been logged.");
    return resp_json(r, status, o);
}

/* True when the request carries a valid, unexpired unlock cookie for the
 * link whose token hashes to hash. */
static bool cookie_unlocked(req_t *r, const char *hash)
{
    return share_cookie_valid(r->arena, req_header(r, "Cookie"), hash,
                              share_settings()->cookie_key, (long long)time(NULL));
}

/* Set the unlock cookie for hash; false without a cookie key. */
static bool cookie_set(req_t *r, const char *hash)
{
    const char *https = FCGX_GetParam("HTTPS", r->fcgx->envp);
    const char *c = share_cookie_make(r->arena, hash, share_settings()->cookie_key,
                                      (long long)time(NULL), https && *https);

    if (c == NULL)
        return false;
    resp_header(r, "Set-Cookie", c);
    return true;
}

/* The attachments a link shows (resolved "ok" and its content shown:
 * unlocked when it has a password), each with its signed URL (a path on
 * this server) into *out, *rows the database's rows; their number, or -1
 * after answering a database error.  Without a signing key none are shown
 * (logged once per process). */
static int attachments_of(req_t *r, const char *hash, bool unlocked, share_attachment_t **out,
                          PGresult **rows)
{
    static bool warned;
    const char *key = storage_signing_key();
    const char *v[3] = {hash, unlocked ? "true" : "false", ATTACHMENT_URL_SECONDS};
    int n;

    *out = NULL;
    *rows = NULL;
    if (key == NULL) {
        if (!warned)
            log_warn("%s: no PROMPTD_STORAGE_SIGNING_KEY / storage_signing_key: "
                     "share pages show no attachments", __func__);
        warned = true;
        return 0;
    }
    if ((*rows = db_exec_unscoped(&r->tx, &stmts[ST_ATTACHMENTS], 3, v)) == NULL) {
        dbreply_error(r);
        return -1;
    }
    n = PQntuples(*rows);
    *out = arena_alloc(r->arena, sizeof(share_attachment_t) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        share_attachment_t *a = &(*out)[i];

        a->path = PQgetvalue(*rows, i, AT_PATH);
        a->content_type = PQgetvalue(*rows, i, AT_TYPE);
        a->size = strtoll(PQgetvalue(*rows, i, AT_SIZE), NULL, 10);
        a->url = arena_printf(r->arena, "/storage/v1%s", storage_token_signed_path(
            r->arena, key, PQgetvalue(*rows, i, AT_BUCKET), a->path,
            PQgetvalue(*rows, i, AT_SIGNED), strtoll(PQgetvalue(*rows, i, AT_EXP), NULL, 10),
            NULL, true));
    }
    return n;
}

/* The share page of a resolved row, with its n attachments att. */
static int content_page(req_t *r, const PGresult *res, const char *token,
                        const share_attachment_t *att, int n)
{
    share_page_t p = {
        .id = PQgetvalue(res, 0, RS_ID), .token = token,
        .title = db_value(res, 0, RS_TITLE), .content = db_value(res, 0, RS_CONTENT),
        .author = db_value(res, 0, RS_AUTHOR), .tags_json = PQgetvalue(res, 0, RS_TAGS),
        .attachments = att, .nattachments = n,
        .allow_fork = strcmp(PQgetvalue(res, 0, RS_FORK), "t") == 0,
        .noindex = strcmp(PQgetvalue(res, 0, RS_PUBLIC), "t") != 0 ||
                   strcmp(PQgetvalue(res, 0, RS_HAS_PW), "t") == 0,
    };

    return share_page_content(r, &p);
}

/* --------------------------------------------------------- owner routes */

static const char *const create_fields[] = {
    "expires_in", "expires_at", "public", "password", "allow_fork", "pin_version", NULL};
static const char *const patch_fields[] = {
    "expires_in", "expires_at", "public", "allow_fork", NULL};

static const char *bool_text(bool present, bool v)
{
    return present ? (v ? "true" : "false") : NULL;
}

/* Store the link's password hash through the definer function, then the
 * owner row again (has_password now true); NULL on a database error. */
static PGresult *share_password_set(req_t *r, const char *id, const char *hash)
{
    const char *v[2] = {id, hash};
    PGresult *res = db_exec(&r->tx, &stmts[ST_SET_PASSWORD], 2, v);

    if (res == NULL)
        return NULL;
    if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
        r->tx.sqlstate = "XX000";
        r->tx.detail = "share_set_password: the new link was not found";
        return NULL;
    }
    return db_exec(&r->tx, &stmts[ST_GET], 1, v);
}

/* The create body's fields as insert parameters, and the password. */
typedef struct create_args {
    const char *at, *in_text, *pub, *fork, *pin_text, *pw;
} create_args_t;

/* Read the create body into *a, recording field errors. */
static void create_read(req_t *r, create_args_t *a)
{
    bool pub = false, fork = true;
    enum field_result pr, fr;
    long pin = 0;

    a->pw = a->pin_text = NULL;
    req_reject_unknown(r, r->json, create_fields);
    read_expiry(r, false, &a->at, &a->in_text);
    pr = req_field_bool(r, r->json, "public", &pub);
    fr = req_field_bool(r, r->json, "allow_fork", &fork);
    a->pub = bool_text(pr == FIELD_OK, pub);
    a->fork = bool_text(fr == FIELD_OK, fork);
    if (req_field_string(r, r->json, "password", 1024, false, &a->pw) == FIELD_OK &&
        (utf8_length(a->pw) < 4 || strlen(a->pw) > PASSWORD_MAX_BYTES))
        req_field_error(r, "password", "must be 4 to %d characters", PASSWORD_MAX_BYTES);
    if (req_field_int(r, r->json, "pin_version", 1, 2147483647L, &pin) == FIELD_OK)
        a->pin_text = arena_printf(r->arena, "%ld", pin);
}

/* 0 when the caller sees the prompt and it has the pinned version; else
 * the status of the answer sent (404, 422, a database error). */
static int create_check(req_t *r, const char *prompt, const char *pin_text)
{
    const char *v[2] = {prompt, pin_text};
    PGresult *res = db_exec(&r->tx, &stmts[ST_PROMPT_CHECK], 2, v);

    if (res == NULL)
        return dbreply_error(r);
    if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
        return resp_problem(r, 404, "No such prompt.");
    if (strcmp(PQgetvalue(res, 0, 1), "t") != 0) {
        req_field_error(r, "pin_version", "the prompt has no version %s", pin_text);
        return resp_validation(r);
    }
    return 0;
}

/* POST /api/v1/prompts/{id}/shares {expires_in? | expires_at?, public?,
 *   password?, allow_fork?, pin_version?}
 *   -> 201 {id, token, url, expires_at, ...} + Location | 404 | 422 */
static int share_create(req_t *r)
{
    const char *const prompt = req_param(r, "id");
    const char *token_sealed, *v[9];
    char token[SHARE_TOKEN_SIZE], id[37], pwhash[PASSWORD_ENCODED_MAX];
    create_args_t a;
    PGresult *res;
    int sent;

    create_read(r, &a);
    if (r->errors)
        return resp_validation(r);
    if ((sent = create_check(r, prompt, a.pin_text)) != 0)
        return sent;
    if (share_keyring() == NULL) {
        r->tx.detail = "no secrets key ring configured";
        return resp_problem(r, 500, "Share links are not configured on this server.");
    }
    if (a.pw && !password_hash(a.pw, pwhash))
        return resp_problem(r, 500, "Internal error; it has been logged.");
    share_token_new(token);
    random_uuid(id);
    if ((token_sealed = share_seal(r->arena, id, token)) == NULL)
        return resp_problem(r, 500, "Internal error; it has been logged.");
    v[0] = id, v[1] = a.at, v[2] = a.in_text, v[3] = prompt;
    v[4] = share_token_hash(r->arena, token), v[5] = token_sealed;
    v[6] = a.pub, v[7] = a.fork, v[8] = a.pin_text;
    res = db_exec(&r->tx, &stmts[ST_INSERT], 9, v);
    OPENSSL_cleanse(token, sizeof token);
    if (res == NULL)
        return dbreply_error(r);
    if (PQntuples(res) != 1) {
        req_field_error(r, "expires_at", "must be in the future");
        return resp_validation(r);
    }
    if (a.pw && (res = share_password_set(r, id, pwhash)) == NULL)
        return dbreply_error(r);
    if (!audit_record(r, "share.create", id, "success",
                      arena_printf(r->arena, "{\"prompt_id\":\"%s\"}", prompt), NULL))
        return dbreply_error(r);
    resp_location(r, arena_printf(r->arena, "/api/v1/shares/%s", id));
    return owner_reply(r, 201, res);
}

/* GET /api/v1/shares?limit&cursor -> 200 {items: [share with token, url,
 *   views, unique_viewers, forks, last_viewed_at], next_cursor} */
static int share_list(req_t *r)
{
    long limit = req_query_int(r, "limit", LIST_DEFAULT, LIST_MAX);
    const char *cursor = req_query(r, "cursor"), *v[2];
    cJSON *out, *items;
    PGresult *res;
    int n;

    if (cursor && !uuid_valid(cursor))
        req_field_error(r, "cursor", "must be a share id from next_cursor");
    if (r->errors)
        return resp_validation(r);
    v[0] = cursor;
    v[1] = arena_printf(r->arena, "%ld", limit + 1);
    if ((res = db_exec(&r->tx, &stmts[ST_LIST], 2, v)) == NULL)
        return dbreply_error(r);
    out = json_own(r->arena, cJSON_CreateObject());
    items = cJSON_AddArrayToObject(out, "items");
    n = PQntuples(res);
    for (int i = 0; i < n && i < limit; i++) {
        cJSON *o = owner_share(r, res, i);

        if (o == NULL)
            return resp_problem(r, 500, "Internal error; it has been logged.");
        cJSON_AddItemReferenceToArray(items, o);
    }
    if (n > limit)
        cJSON_AddStringToObject(out, "next_cursor", PQgetvalue(res, (int)limit - 1, 1));
    else
        cJSON_AddNullToObject(out, "next_cursor");
    return resp_json(r, 200, out);
}

/* GET /api/v1/shares/{id} -> 200 share | 404 */
static int share_get(req_t *r)
{
    const char *v[1] = {req_param(r, "id")};
    PGresult *res = db_exec(&r->tx, &stmts[ST_GET], 1, v);

    if (res == NULL)
        return dbreply_error(r);
    if (PQntuples(res) != 1)
        return resp_problem(r, 404, "No such share link.");
    return owner_reply(r, 200, res);
}

/* After a write to link id changed no row: whether the caller is an
 * editor or above where it lives (true: the cause was something else);
 * else 404 (not theirs to see) or 403 (a viewer) is replied. */
static bool editor_or_reply(req_t *r, const char *id)
{
    PGresult *res = db_exec(&r->tx, &stmts[ST_ROLE], 1, &id);

    if (res == NULL)
        dbreply_error(r);
    else if (PQntuples(res) != 1)
        resp_problem(r, 404, "No such share link.");
    else if (atoi(PQgetvalue(res, 0, 0)) < 2)
        resp_problem(r, 403, "Changing a share link needs the editor role or higher in its workspace.");
    else
        return true;
    return false;
}

/* PATCH /api/v1/shares/{id} {expires_in? | expires_at? (null: never),
 *   public?, allow_fork?} -> 200 share | 404 | 422 */
static int share_patch(req_t *r)
{
    const char *at, *in_text, *mode, *v[6];
    bool pub = false, fork = false;
    enum field_result pr, fr;
    PGresult *res;

    req_reject_unknown(r, r->json, patch_fields);
    mode = read_expiry(r, true, &at, &in_text);
    pr = req_field_bool(r, r->json, "public", &pub);
    fr = req_field_bool(r, r->json, "allow_fork", &fork);
    if (!r->errors && strcmp(mode, "keep") == 0 && pr != FIELD_OK && fr != FIELD_OK)
        req_field_error(r, "body", "must change at least one field");
    if (r->errors)
        return resp_validation(r);
    v[0] = req_param(r, "id"), v[1] = at, v[2] = in_text;
    v[3] = bool_text(pr == FIELD_OK, pub), v[4] = bool_text(fr == FIELD_OK, fork);
    v[5] = mode;
    if ((res = db_exec(&r->tx, &stmts[ST_PATCH], 6, v)) == NULL)
        return dbreply_error(r);
    if (PQntuples(res) == 1)
        return owner_reply(r, 200, res);
    if (!editor_or_reply(r, v[0]))
        return r->status;
    req_field_error(r, "expires_at", "must be in the future");
    return resp_validation(r);
}

/* DELETE /api/v1/shares/{id} -> 204 (revoked; again: still 204) | 403 (a
 * viewer) | 404 */
static int share_revoke(req_t *r)
{
    const char *v[1] = {req_param(r, "id")};
    PGresult *res = db_exec(&r->tx, &stmts[ST_REVOKE], 1, v);

    if (res == NULL)
        return dbreply_error(r);
    if (PQntuples(res) != 1 && !editor_or_reply(r, v[0]))
        return r->status;
    if (!audit_record(r, "share.revoke", v[0], "success", NULL, NULL))
        return dbreply_error(r);
    return resp_empty(r, 204);
}

/* GET /api/v1/shares/{id}/stats?days -> 200 {id, views, unique_viewers,
 *   forks, last_viewed_at, days, daily: [{day, views, unique_viewers}],
 *   referrers: [{host, views}]} | 404 */
static int share_stats(req_t *r)
{
    long days = req_query_int(r, "days", STATS_DAYS_DEFAULT, STATS_DAYS_MAX);
    const char *v[2];

    if (r->errors)
        return resp_validation(r);
    v[0] = req_param(r, "id");
    v[1] = arena_printf(r->arena, "%ld", days);
    return dbreply_object(r, db_exec(&r->tx, &stmts[ST_STATS], 2, v), "No such share link.");
}

/* -------------------------------------------------------- public routes */

/* Resolve {token}: as anon, then (password-protected link, valid unlock
 * cookie) as the worker for the content.  *unlocked tells which.  NULL
 * after replying on a database error. */
static PGresult *resolve(req_t *r, const char *hash, bool *unlocked)
{
    const char *v[1] = {hash};
    PGresult *res = db_exec(&r->tx, &stmts[ST_RESOLVE], 1, v);

    *unlocked = false;
    if (res == NULL || PQntuples(res) != 1) {
        dbreply_error(r);
        return NULL;
    }
    if (strcmp(PQgetvalue(res, 0, RS_STATE), "ok") == 0 &&
        strcmp(PQgetvalue(res, 0, RS_HAS_PW), "t") == 0 && cookie_unlocked(r, hash)) {
        res = db_exec_unscoped(&r->tx, &stmts[ST_RESOLVE_UNLOCKED], 1, v);
        if (res == NULL || PQntuples(res) != 1) {
            dbreply_error(r);
            return NULL;
        }
        *unlocked = true;
    }
    return res;
}

/* GET /s/{token} -> 200 text/html (the prompt, or the password form) |
 *   404 | 410 (HTML) */
static int page_get(req_t *r)
{
    const char *token = req_param(r, "token"), *hash = share_token_hash(r->arena, token);
    bool unlocked;
    PGresult *res = resolve(r, hash, &unlocked), *rows;
    share_attachment_t *att;
    int n;

    if (res == NULL)
        return r->status;
    if (strcmp(PQgetvalue(res, 0, RS_STATE), "ok") != 0) {
        edge_cache(r);   /* a viral revoked link costs no more than a live one */
        return share_page_state(r, PQgetvalue(res, 0, RS_STATE));
    }
    if (strcmp(PQgetvalue(res, 0, RS_HAS_PW), "t") == 0 && !unlocked)
        return share_page_password(r, 200, token, false);
    if ((n = attachments_of(r, hash, unlocked, &att, &rows)) < 0)
        return r->status;   /* before the cache headers: an error is never kept */
    if (unlocked) {
        resp_header(r, "X-Accel-Expires", "0");
        resp_header(r, "Cache-Control", "private, no-store");
    } else {
        edge_cache(r);
    }
    return content_page(r, res, token, att, n);
}

/* The "password" field of an application/x-www-form-urlencoded body;
 * NULL when absent or malformed. */
static const char *form_password(req_t *r)
{
    const char *pw;

    return url_form_value(r->arena, r->body, "password", &pw) > 0 ? pw : NULL;
}

/* POST /s/{token} password=... (form) -> 303 to /s/{token} + unlock cookie
 *   | 401 (the form again) | 404 | 409 (a stored hash this server did not
 *   write: refused without hashing) | 410 | 429 (locked for a while) */
static int page_unlock(req_t *r)
{
    const char *token = req_param(r, "token"), *hash = share_token_hash(r->arena, token);
    const char *pw = form_password(r), *v[2] = {hash, r->remote_addr}, *state;
    PGresult *res;

    if ((res = db_exec_unscoped(&r->tx, &stmts[ST_PW_BEGIN], 2, v)) == NULL ||
        PQntuples(res) != 1)
        return dbreply_error(r);
    state = PQgetvalue(res, 0, 0);
    if (strcmp(state, "ok") != 0)
        return share_page_state(r, state);
    if (atoi(PQgetvalue(res, 0, 1)) > 0) {
        resp_header(r, "Retry-After", PQgetvalue(res, 0, 1));
        return share_page_message(r, 429, "Too many attempts",
                            "Too many wrong passwords; wait a little and try again.");
    }
    if (PQgetisnull(res, 0, 2)) {   /* no password: nothing to unlock */
        resp_location(r, arena_printf(r->arena, "/s/%s", token));
        return share_page_message(r, 303, "Open the prompt", "This link has no password.");
    }
    if (!password_is_current(PQgetvalue(res, 0, 2))) {
        /* not written by this server (sql/0020): never run argon2 at a
         * cost someone else chose; the owner must set the password again */
        r->tx.detail = "share password hash with foreign argon2 parameters: refused unverified";
        return share_page_message(r, 409, "This link cannot be unlocked",
                            "Its password must be set again by its owner.");
    }
    if (pw == NULL || *pw == '\0' || strlen(pw) > PASSWORD_MAX_BYTES ||
        !password_verify(PQgetvalue(res, 0, 2), pw))
        return share_page_password(r, 401, token, true);
    if (db_exec_unscoped(&r->tx, &stmts[ST_PW_OK], 2, v) == NULL)
        return dbreply_error(r);
    if (!cookie_set(r, hash)) {
        r->tx.detail = "no share cookie key configured";
        return resp_problem(r, 500, "Password-protected links are not configured here.");
    }
    resp_location(r, arena_printf(r->arena, "/s/%s", token));
    resp_header(r, "Cache-Control", "no-store");
    return share_page_message(r, 303, "Unlocked", "Opening the prompt.");
}

/* The attachments of a shown link as the shared JSON's array: [{id,
 * bucket, path, content_type, size, url, expires_at}], url absolute;
 * NULL after answering a database error. */
static cJSON *attachments_json(req_t *r, const char *hash, bool unlocked)
{
    const config_t *cfg = config_load(false);
    share_attachment_t *att;
    PGresult *rows;
    int n = attachments_of(r, hash, unlocked, &att, &rows);
    cJSON *out;

    if (n < 0)
        return NULL;
    out = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        cJSON *a = cJSON_CreateObject();

        cJSON_AddStringToObject(a, "id", PQgetvalue(rows, i, AT_ID));
        cJSON_AddStringToObject(a, "bucket", PQgetvalue(rows, i, AT_BUCKET));
        cJSON_AddStringToObject(a, "path", att[i].path);
        cJSON_AddStringToObject(a, "content_type", att[i].content_type);
        cJSON_AddNumberToObject(a, "size", (double)att[i].size);
        cJSON_AddStringToObject(a, "url", arena_printf(r->arena, "%s%s", cfg->site_url,
                                                       att[i].url));
        cJSON_AddStringToObject(a, "expires_at", PQgetvalue(rows, i, AT_EXPIRES));
        cJSON_AddItemToArray(out, a);
    }
    return out;
}

/* GET /api/v1/shared/{token} -> 200 {title, content, tags, author,
 *   version, updated_at, allow_fork, expires_at, url, attachments} | 401
 *   (password: unlock at /s/{token} first) | 404 | 410 */
static int shared_get(req_t *r)
{
    const char *token = req_param(r, "token"), *hash = share_token_hash(r->arena, token);
    bool unlocked;
    PGresult *res = resolve(r, hash, &unlocked);
    cJSON *o, *att;
    const char *state;

    if (res == NULL)
        return r->status;
    state = PQgetvalue(res, 0, RS_STATE);
    if (strcmp(state, "ok") != 0)
        edge_cache(r);
    if (strcmp(state, "gone") == 0)
        return resp_problem(r, 410, "This share link was revoked or has expired.");
    if (strcmp(state, "ok") != 0)
        return resp_problem(r, 404, "No such share link.");
    if (strcmp(PQgetvalue(res, 0, RS_HAS_PW), "t") == 0 && !unlocked)
        return resp_problemf(r, 401, "This link is password-protected; unlock it at /s/%s.",
                             token);
    if ((att = attachments_json(r, hash, unlocked)) == NULL)
        return r->status;
    o = json_own(r->arena, cJSON_CreateObject());
    cJSON_AddStringToObject(o, "title", PQgetvalue(res, 0, RS_TITLE));
    cJSON_AddStringToObject(o, "content", PQgetvalue(res, 0, RS_CONTENT));
    cJSON_AddItemToObject(o, "tags", cJSON_Parse(PQgetvalue(res, 0, RS_TAGS)));
    cJSON_AddStringToObject(o, "author", PQgetvalue(res, 0, RS_AUTHOR));
    cJSON_AddNumberToObject(o, "version", atoi(PQgetvalue(res, 0, RS_VERSION)));
    cJSON_AddStringToObject(o, "updated_at", PQgetvalue(res, 0, RS_UPDATED));
    cJSON_AddBoolToObject(o, "allow_fork", strcmp(PQgetvalue(res, 0, RS_FORK), "t") == 0);
    if (PQgetisnull(res, 0, RS_EXPIRES))
        cJSON_AddNullToObject(o, "expires_at");
    else
        cJSON_AddStringToObject(o, "expires_at", PQgetvalue(res, 0, RS_EXPIRES));
    cJSON_AddStringToObject(o, "url", share_token_url(r->arena, token));
    cJSON_AddItemToObject(o, "attachments", att);
    if (unlocked) {
        resp_header(r, "X-Accel-Expires", "0");
        resp_header(r, "Cache-Control", "private, no-store");
    } else {
        edge_cache(r);
    }
    return resp_json(r, 200, o);
}

/* POST /api/v1/shared/{token}/fork -> 201 prompt {.., forked_from} +
 *   Location | 401 | 403 (forks not allowed / password) | 404 | 410 */
static int shared_fork(req_t *r)
{
    const char *hash = share_token_hash(r->arena, req_param(r, "token")), *proof = NULL, *state;
    const char *v[2];
    PGresult *res;

    if (cookie_unlocked(r, hash)) {
        v[0] = hash;
        if ((res = db_exec_unscoped(&r->tx, &stmts[ST_PROOF], 1, v)) == NULL)
            return dbreply_error(r);
        proof = PQntuples(res) == 1 ? db_value(res, 0, 0) : NULL;
    }
    v[0] = hash, v[1] = proof;
    if ((res = db_exec(&r->tx, &stmts[ST_FORK], 2, v)) == NULL || PQntuples(res) != 1)
        return dbreply_error(r);
    state = PQgetvalue(res, 0, 0);
    if (strcmp(state, "gone") == 0)
        return resp_problem(r, 410, "This share link was revoked or has expired.");
    if (strcmp(state, "forbidden") == 0)
        return resp_problem(r, 403, "The owner does not allow forks of this prompt.");
    if (strcmp(state, "locked") == 0)
        return resp_problem(r, 403, "This link is password-protected; unlock it first.");
    if (strcmp(state, "ok") != 0)
        return resp_problem(r, 404, "No such share link.");
    resp_location(r, arena_printf(r->arena, "/api/v1/prompts/%s", PQgetvalue(res, 0, 2)));
    return resp_json_text(r, 201, PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1));
}

/* GET /api/v1/public/prompts?q&tag&sort=recent|popular&limit&cursor
 *   -> 200 {items: [{url, title, excerpt, tags, author, views, forks,
 *   created_at}], next_cursor} | 422 */
static int gallery(req_t *r)
{
    const char *q = req_query(r, "q"), *tag = req_query(r, "tag");
    const char *sort = req_query(r, "sort"), *cursor = req_query(r, "cursor"), *v[5];
    long limit = req_query_int(r, "limit", GALLERY_DEFAULT, GALLERY_MAX), offset = 0;
    cJSON *out, *items;
    PGresult *res;
    char *end;
    int n;

    if (sort && strcmp(sort, "recent") != 0 && strcmp(sort, "popular") != 0)
        req_field_error(r, "sort", "must be recent or popular");
    if (q && (*q == '\0' || strlen(q) > 200))
        req_field_error(r, "q", "must be 1 to 200 bytes");
    if (tag && (*tag == '\0' || strlen(tag) > 64))
        req_field_error(r, "tag", "must be 1 to 64 bytes");
    if (cursor) {
        offset = strtol(cursor, &end, 10);
        if (!isdigit((unsigned char)*cursor) || *end || offset < 0 ||
            offset > GALLERY_OFFSET_MAX)
            req_field_error(r, "cursor", "must be a next_cursor value");
    }
    if (r->errors)
        return resp_validation(r);
    v[0] = q, v[1] = tag, v[2] = sort && strcmp(sort, "popular") == 0 ? "true" : "false";
    v[3] = arena_printf(r->arena, "%ld", limit + 1);
    v[4] = arena_printf(r->arena, "%ld", offset);
    if ((res = db_exec(&r->tx, &stmts[ST_GALLERY], 5, v)) == NULL)
        return dbreply_error(r);
    out = json_own(r->arena, cJSON_CreateObject());
    items = cJSON_AddArrayToObject(out, "items");
    n = PQntuples(res);
    for (int i = 0; i < n && i < limit; i++) {
        cJSON *o = cJSON_Parse(PQgetvalue(res, i, 0));
        const char *token = share_unseal(r->arena, PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));

        if (o == NULL || token == NULL) {
            cJSON_Delete(o);
            continue;   /* logged; the rest of the page still serves */
        }
        cJSON_AddStringToObject(o, "url", share_token_url(r->arena, token));
        cJSON_AddItemToArray(items, o);
    }
    if (n > limit && offset + limit <= GALLERY_OFFSET_MAX)
        cJSON_AddStringToObject(out, "next_cursor",
                                arena_printf(r->arena, "%ld", offset + limit));
    else
        cJSON_AddNullToObject(out, "next_cursor");
    edge_cache(r);
    return resp_json(r, 200, out);
}

static const route_t routes[] = {
    {"POST", "/api/v1/prompts/{id:uuid}/shares", share_create,
     R_JSON | R_DB, CRED_SESSION | CRED_APIKEY, "share"},
    {"GET", "/api/v1/shares", share_list,
     R_DB | R_READONLY, CRED_SESSION | CRED_APIKEY, "share"},
    {"GET", "/api/v1/shares/{id:uuid}", share_get,
     R_DB | R_READONLY, CRED_SESSION | CRED_APIKEY, "share"},
    {"PATCH", "/api/v1/shares/{id:uuid}", share_patch,
     R_JSON | R_DB, CRED_SESSION | CRED_APIKEY, "share"},
    {"DELETE", "/api/v1/shares/{id:uuid}", share_revoke,
     R_DB, CRED_SESSION | CRED_APIKEY, "share"},
    {"GET", "/api/v1/shares/{id:uuid}/stats", share_stats,
     R_DB | R_READONLY, CRED_SESSION | CRED_APIKEY, "share"},
    {"GET", "/api/v1/shared/{token}", shared_get,
     R_DB | R_READONLY, CRED_NONE | CRED_SHARE, NULL},
    {"POST", "/api/v1/shared/{token}/fork", shared_fork,
     R_DB, CRED_SESSION | CRED_APIKEY, "prompts:write"},
    {"GET", "/api/v1/public/prompts", gallery, R_DB | R_READONLY | R_REPLICA, CRED_NONE,
     NULL},
    {"GET", "/s/{token}", page_get, R_DB | R_READONLY, CRED_NONE | CRED_SHARE, NULL},
    {"POST", "/s/{token}", page_unlock, R_DB, CRED_NONE, NULL},
};

int main(int argc, char **argv)
{
    static const db_stmt_t *const tables[] = {stmts, NULL};
    static const family_t family = {
        "share", routes, sizeof(routes) / sizeof(routes[0]), tables, NULL};

    if (argc == 1)
        password_init();
    return server_main(argc, argv, &family);
}