/* auth_email.c: the auth family's flows by mail (GoTrue's verify, resend, recover, otp; sign-up confirmation and email change): one-time codes and links. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/json.h"
#include "core/str.h"
#include "crypto/b64url.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "http/credential.h"
#include "http/response.h"
#include "auth.h"

#define LINK_TOKEN_BYTES 32
#define LINK_TOKEN_MAX 128
#define CODE_DIGITS 6
#define CODE_MAX_TRIES 5            /* the fifth wrong code spends it */
#define REDIRECT_MAX 2048

/* The codes' state lives in promptd.auth_code* (sql/functions/otp.sql),
 * SECURITY DEFINER; the sign-in phase calls them as promptd_auth. */
enum { ST_SEND, ST_SIGNUP, ST_OTP_USER, ST_VERIFY, ST_CHANGE, ST_CONFIRMED };

const db_stmt_t auth_email_stmts[] = {
    [ST_SEND] = {"auth_code_send",
        "select status, wait from promptd.auth_code_send($1, $2, decode($3, 'hex'), "
        "decode($4, 'hex'), $5::int, $6::int, $7::jsonb)"},
    [ST_SIGNUP] = {"auth_signup_confirm",
        "select status, user_json, user_id, wait from promptd.auth_signup_confirm("
        "$1, $2, $3::jsonb, decode($4, 'hex'), decode($5, 'hex'), $6::int, $7::int, $8::jsonb)"},
    [ST_OTP_USER] = {"auth_otp_user",
        "select status, user_id from promptd.auth_otp_user($1, $2::boolean, $3::jsonb)"},
    [ST_VERIFY] = {"auth_code_verify",
        "select status, user_json, session_id, user_id, kind, level "
        "from promptd.auth_code_verify($1::text[], $2, decode($3, 'hex'), decode($4, 'hex'), "
        "$5::int, decode($6, 'hex'), $7, $8)"},
    [ST_CHANGE] = {"auth_email_change_begin",
        "select status, wait from promptd.auth_email_change_begin($1::uuid, $2, "
        "decode($3, 'hex'), decode($4, 'hex'), $5::int, $6::int, $7::jsonb)"},
    [ST_CONFIRMED] = {"auth_email_confirmed", "select promptd.auth_email_confirmed($1::uuid)"},
    {NULL, NULL},
};

/* ------------------------------------------------------------ codes */

/* One fresh code and link: the 6 digits and the link token in clear (for
 * the mail only), their hashes (hex) for the database. */
struct code {
    char digits[CODE_DIGITS + 1];
    const char *code_hash;          /* HMAC-SHA256(code key, "otp:" digits) */
    const char *link;               /* the link token (base64url) */
    const char *link_hash;          /* SHA-256 of the link token */
};

/* The hex HMAC of a code under the family's code key (the API key pepper;
 * without one, a plain SHA-256), in the arena. */
static const char *code_hash(req_t *r, const char *digits)
{
    const char *key = auth_settings.code_key;
    char *msg = arena_printf(r->arena, "otp:%s", digits), *out;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    if (key == NULL || *key == '\0')
        return sha256_hex(r, msg);
    if (HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)msg,
             strlen(msg), mac, &n) == NULL)
        return NULL;
    out = hex_encode(r->arena, mac, n);
    OPENSSL_cleanse(mac, sizeof(mac));
    return out;
}

/* Fill c with a uniformly random code and link token; false when hashing
 * fails (then a 500 is the caller's). */
static bool code_new(req_t *r, struct code *c)
{
    unsigned char b[LINK_TOKEN_BYTES];
    char *tok = arena_alloc(r->arena, B64URL_ENCODED_SIZE(sizeof(b)));
    uint32_t v;

    do {    /* rejection sampling: no bias towards low codes */
        random_bytes(&v, sizeof(v));
    } while (v >= 4294000000u);
    snprintf(c->digits, sizeof(c->digits), "%06u", (unsigned)(v % 1000000u));
    random_bytes(b, sizeof(b));
    b64url_encode(b, sizeof(b), tok);
    OPENSSL_cleanse(b, sizeof(b));
    c->link = tok;
    c->link_hash = sha256_hex(r, tok);
    return (c->code_hash = code_hash(r, c->digits)) != NULL;
}

/* ------------------------------------------------------------ redirects */

/* url's scheme://authority and the rest (path, query, fragment), or false
 * when it is not an absolute http(s) URL with a plain authority. */
static bool url_split(req_t *r, const char *url, const char **origin, const char **rest)
{
    const char *p = strstr(url, "://");
    size_t n;

    if (p == NULL || (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0))
        return false;
    n = strcspn(p + 3, "/?#");
    if (n == 0 || memchr(p + 3, '@', n) || memchr(p + 3, '\\', n))
        return false;
    for (const char *q = url; *q; q++)
        if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f || *q == '\\')
            return false;
    *origin = arena_strndup(r->arena, url, (size_t)(p + 3 - url) + n);
    *rest = p + 3 + n;
    return true;
}

/* Whether url may be a redirect target under one allow-list entry: the
 * entry's origin (scheme://host[:port], '*' globs within it) matches url's
 * and url's path starts with the entry's at a '/', '?' or '#' boundary. */
static bool redirect_entry_allows(req_t *r, const char *entry, const char *url)
{
    const char *eo, *er, *uo, *ur;
    size_t n;

    if (!url_split(r, entry, &eo, &er) || !url_split(r, url, &uo, &ur))
        return false;
    if (fnmatch(eo, uo, FNM_CASEFOLD) != 0)
        return false;
    n = strlen(er);
    if (n > 0 && er[n - 1] == '/')
        n--;
    return strncmp(ur, er, n) == 0 && strchr("/?#", ur[n]) != NULL;
}

/* The redirect target for a requested redirect_to: itself when the site URL
 * or an entry of PROMPTD_REDIRECT_ALLOW allows it, else the site URL (as
 * GoTrue does).  Never NULL. */
const char *auth_redirect_target(req_t *r, const char *want)
{
    const char *list = auth_settings.redirect_allow;

    if (want == NULL || *want == '\0' || strlen(want) > REDIRECT_MAX)
        return cfg->site_url;
    if (redirect_entry_allows(r, cfg->site_url, want))
        return want;
    while (list && *list) {
        size_t n = strcspn(list, ","), skip = strspn(list, " \t");
        char *e = arena_strndup(r->arena, list + (skip < n ? skip : n), n - (skip < n ? skip : n));

        for (size_t k = strlen(e); k > 0 && (e[k - 1] == ' ' || e[k - 1] == '\t'); k--)
            e[k - 1] = '\0';
        if (*e && redirect_entry_allows(r, e, want))
            return want;
        list += n + (list[n] == ',');
    }
    return cfg->site_url;
}

/* The mail's values: the code, the link (to GET /auth/v1/verify, then
 * redirect_to) and expires_in, as a JSON text. */
static const char *mail_vars(req_t *r, const struct code *c, const char *type)
{
    cJSON *o = json_own(r->arena, cJSON_CreateObject());
    const char *to = auth_redirect_target(r, req_query(r, "redirect_to"));

    cJSON_AddStringToObject(o, "code", c->digits);
    cJSON_AddStringToObject(o, "link", arena_printf(r->arena,
        "%s/auth/v1/verify?token=%s&type=%s&redirect_to=%s", cfg->site_url, c->link, type,
        url_encode(r->arena, to)));
    cJSON_AddStringToObject(o, "expires_in", arena_printf(r->arena, "%ld minutes",
                                                          auth_settings.otp_ttl / 60));
    return json_print(r->arena, o);
}

/* 429 over_email_send_rate_limit with GoTrue's words. */
static int rate_limited(req_t *r, const char *wait)
{
    resp_header(r, "Retry-After", wait);
    return gotrue_error(r, 429, "over_email_send_rate_limit", arena_printf(r->arena,
        "For security purposes, you can only request this after %s seconds.", wait));
}

/* ------------------------------------------------------------ sending */

/* Mail a fresh code of kind to the account of email (promptd.auth_code_send)
 * and answer 200 {} — also when there is no such account, so that the
 * answer tells nothing — or 429. */
static int code_send_reply(req_t *r, const char *email, const char *kind, const char *type)
{
    struct code c = {{0}, NULL, NULL, NULL};
    const char *v[7], *status;
    PGresult *res;

    if (!code_new(r, &c))
        return resp_problem(r, 500, "Internal error; it has been logged.");
    as_auth_role(r);
    v[0] = email;
    v[1] = kind;
    v[2] = c.code_hash;
    v[3] = c.link_hash;
    v[4] = arena_printf(r->arena, "%ld", auth_settings.otp_ttl);
    v[5] = arena_printf(r->arena, "%ld", auth_settings.mail_interval);
    v[6] = mail_vars(r, &c, type);
    if ((res = db_exec(&r->tx, &auth_email_stmts[ST_SEND], 7, v)) == NULL || PQntuples(res) != 1)
        return db_failed(r);
    status = PQgetvalue(res, 0, 0);
    if (strcmp(status, "wait") == 0)
        return rate_limited(r, PQgetvalue(res, 0, 1));
    if (strcmp(status, "sent") == 0 &&
        !audit_or_reply(r, arena_printf(r->arena, "auth.mail.%s", kind), "success", NULL, NULL))
        return r->status;
    return resp_json_text(r, 200, "{}", 2);
}

/* The body's email, normalised; NULL after GoTrue's 400. */
static char *email_or_reply(req_t *r, const char *missing)
{
    const char *in;
    char *e;

    if (!string_or_reply(r, r->json, "email", &in))
        return NULL;
    if (in == NULL) {
        gotrue_error(r, 400, "validation_failed", missing);
        return NULL;
    }
    if ((e = email_normalise(r, in)) == NULL)
        gotrue_error(r, 400, "validation_failed",
                     "Unable to validate email address: invalid format");
    return e;
}

/* POST /auth/v1/recover?redirect_to= {email} -> 200 {} for any address
 * (a recovery code and link go only to an account's) | 400 | 429 */
int auth_recover(req_t *r)
{
    char *email;

    if (!apikey_or_reply(r) ||
        (email = email_or_reply(r, "Password recovery requires an email")) == NULL)
        return r->status;
    return code_send_reply(r, email, "recovery", "recovery");
}

/* POST /auth/v1/resend?redirect_to= {type: signup|email_change, email} ->
 * 200 {} (signup: a new confirmation to an unconfirmed account;
 * email_change: the pending change's code again, to the new address;
 * nothing to send answers the same) | 400 | 429 */
int auth_resend(req_t *r)
{
    const char *type;
    char *email;

    if (!apikey_or_reply(r) || !string_or_reply(r, r->json, "type", &type))
        return r->status;
    if (type == NULL || (strcmp(type, "signup") != 0 && strcmp(type, "email_change") != 0))
        return gotrue_error(r, 400, "validation_failed",
                            "Missing one of these types: signup, email_change");
    if ((email = email_or_reply(r, "Type provided requires an email address")) == NULL)
        return r->status;
    if (!auth_settings.mail)    /* every address is confirmed at once */
        return resp_json_text(r, 200, "{}", 2);
    return code_send_reply(r, email, type, type);
}

/* POST /auth/v1/otp?redirect_to= {email, create_user?: true, data?} ->
 * 200 {} with a sign-in code and link mailed | 422 otp_disabled (an
 * unknown address and create_user false) | 400 | 429 */
int auth_otp(req_t *r)
{
    const cJSON *create = cJSON_GetObjectItemCaseSensitive(r->json, "create_user");
    const char *data = NULL, *v[3];
    char *email;
    PGresult *res;

    if (!apikey_or_reply(r))
        return r->status;
    if (cJSON_GetObjectItemCaseSensitive(r->json, "phone"))
        return gotrue_error(r, 400, "validation_failed", "Phone sign-in is not supported");
    if ((email = email_or_reply(r, "Only an email address or phone number should be provided"))
            == NULL || !user_data_or_reply(r, r->json, &data))
        return r->status;
    if (create && !cJSON_IsBool(create) && !cJSON_IsNull(create))
        return gotrue_error(r, 400, "bad_json",
                            "Could not read request body: create_user must be a boolean");
    as_auth_role(r);
    v[0] = email;
    v[1] = cJSON_IsFalse(create) ? "false" : "true";
    v[2] = data;
    if ((res = db_exec(&r->tx, &auth_email_stmts[ST_OTP_USER], 3, v)) == NULL || PQntuples(res) != 1)
        return db_failed(r);
    if (strcmp(PQgetvalue(res, 0, 0), "unknown") == 0)
        return gotrue_error(r, 422, "otp_disabled", "Signups not allowed for otp");
    if (strcmp(PQgetvalue(res, 0, 0), "created") == 0 &&
        !audit_or_reply(r, "auth.signup", "success", "{\"method\":\"otp\"}", PQgetvalue(res, 0, 1)))
        return r->status;
    return code_send_reply(r, email, "magiclink", "magiclink");
}

/* Sign-up when addresses must be proven (mail configured): the account is
 * created unconfirmed and a confirmation mailed; 200 with the user and no
 * session.  An address already proven answers a look-alike user and sends
 * nothing (GoTrue's answer, which tells nothing). */
int auth_signup_confirm_reply(req_t *r, const char *email, const char *hash, const char *data)
{
    struct code c = {{0}, NULL, NULL, NULL};
    const char *v[8], *status;
    PGresult *res;
    cJSON *u;

    if (!code_new(r, &c))
        return resp_problem(r, 500, "Internal error; it has been logged.");
    v[0] = email;
    v[1] = hash;
    v[2] = data;
    v[3] = c.code_hash;
    v[4] = c.link_hash;
    v[5] = arena_printf(r->arena, "%ld", auth_settings.otp_ttl);
    v[6] = arena_printf(r->arena, "%ld", auth_settings.mail_interval);
    v[7] = mail_vars(r, &c, "signup");
    if ((res = db_exec(&r->tx, &auth_email_stmts[ST_SIGNUP], 8, v)) == NULL || PQntuples(res) != 1)
        return db_failed(r);
    status = PQgetvalue(res, 0, 0);
    if (strcmp(status, "confirmed") == 0) {
        char id[37];

        random_uuid(id);
        u = json_own(r->arena, cJSON_CreateObject());
        cJSON_AddStringToObject(u, "id", id);
        cJSON_AddStringToObject(u, "aud", "authenticated");
        cJSON_AddStringToObject(u, "role", "authenticated");
        cJSON_AddStringToObject(u, "email", email);
        cJSON_AddItemToObject(u, "identities", cJSON_CreateArray());
        cJSON_AddItemToObject(u, "user_metadata", cJSON_CreateObject());
        cJSON_AddItemToObject(u, "app_metadata", cJSON_CreateObject());
        return resp_json(r, 200, u);
    }
    if (strcmp(status, "created") == 0 &&
        !audit_or_reply(r, "auth.signup", "success", "{\"confirmed\":false}", PQgetvalue(res, 0, 2)))
        return r->status;
    /* resent but rate-limited: the account exists; the earlier mail stands */
    return resp_json_text(r, 200, PQgetvalue(res, 0, 1), strlen(PQgetvalue(res, 0, 1)));
}

/* The password sign-in's gate when addresses must be proven: false after
 * 400 email_not_confirmed (or a database error). */
bool auth_confirmed_or_reply(req_t *r, const char *uid)
{
    const char *v[1] = {uid};
    PGresult *res;

    if (!auth_settings.mail)
        return true;
    if ((res = db_exec(&r->tx, &auth_email_stmts[ST_CONFIRMED], 1, v)) == NULL) {
        db_failed(r);
        return false;
    }
    if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
        return true;
    gotrue_error(r, 400, "email_not_confirmed", "Email not confirmed");
    return false;
}

/* PUT /auth/v1/user {email} when addresses must be proven: a code to the
 * new address, a notice to the old; the address changes at verify
 * (type email_change).  False after a reply (422, 403, 429 or an error). */
bool auth_email_change_or_reply(req_t *r, const char *email)
{
    struct code c = {{0}, NULL, NULL, NULL};
    const char *v[7], *status;
    PGresult *res;

    if (!code_new(r, &c)) {
        resp_problem(r, 500, "Internal error; it has been logged.");
        return false;
    }
    v[0] = credential_session_id(r);
    v[1] = email;
    v[2] = c.code_hash;
    v[3] = c.link_hash;
    v[4] = arena_printf(r->arena, "%ld", auth_settings.otp_ttl);
    v[5] = arena_printf(r->arena, "%ld", auth_settings.mail_interval);
    v[6] = mail_vars(r, &c, "email_change");
    if ((res = db_exec_app(&r->tx, &auth_email_stmts[ST_CHANGE], 7, v)) == NULL || PQntuples(res) != 1) {
        db_failed(r);
        return false;
    }
    status = PQgetvalue(res, 0, 0);
    if (strcmp(status, "sent") == 0)
        return audit_or_reply(r, "auth.email_change_requested", "success", NULL, NULL);
    if (strcmp(status, "wait") == 0)
        rate_limited(r, PQgetvalue(res, 0, 1));
    else if (strcmp(status, "email_exists") == 0)
        gotrue_error(r, 422, "email_exists",
                     "A user with this email address has already been registered");
    else
        gotrue_error(r, 403, "session_not_found",
                     "Session from session_id claim in JWT does not exist");
    return false;
}

/* ------------------------------------------------------------ verifying */

/* The code kinds a verify type spends ("email" and "magiclink" also
 * confirm a sign-up by code), as a PostgreSQL array; NULL: not a type. */
static const char *verify_kinds(const char *type)
{
    if (type == NULL)
        return NULL;
    if (strcmp(type, "signup") == 0)
        return "{signup}";
    if (strcmp(type, "recovery") == 0)
        return "{recovery}";
    if (strcmp(type, "email") == 0 || strcmp(type, "magiclink") == 0)
        return "{magiclink,signup}";
    if (strcmp(type, "email_change") == 0)
        return "{email_change}";
    return NULL;
}

/* Spend a code (email + 6 digits) or a link token; the session object on
 * success, else NULL with *why the GoTrue error code (a reply is recorded
 * only for a 5xx: r->status set). */
static cJSON *verify_session(req_t *r, const char *kinds, const char *email,
                             const char *digits, const char *link, const char **why)
{
    const char *v[8], *rhash, *status;
    char *refresh;
    PGresult *res;

    *why = "otp_expired";
    refresh = refresh_token_new(r, &rhash);
    as_auth_role(r);
    v[0] = kinds;
    v[1] = email;
    v[2] = digits ? code_hash(r, digits) : NULL;
    v[3] = link ? sha256_hex(r, link) : NULL;
    v[4] = arena_printf(r->arena, "%d", CODE_MAX_TRIES);
    v[5] = rhash;
    v[6] = req_header(r, "User-Agent");
    v[7] = r->remote_addr;
    if ((res = db_exec(&r->tx, &auth_email_stmts[ST_VERIFY], 8, v)) == NULL || PQntuples(res) != 1) {
        db_failed(r);
        return NULL;
    }
    status = PQgetvalue(res, 0, 0);
    if (strcmp(status, "ok") != 0) {
        r->tx.commit_on_error = true;   /* the wrong try stays counted */
        if (strcmp(status, "email_exists") == 0)
            *why = "email_exists";
        if (!audit_or_reply(r, "auth.verify", "failure",
                            arena_printf(r->arena, "{\"reason\":\"%s\"}", status),
                            db_value(res, 0, 3)))
            return NULL;
        return NULL;
    }
    if (!audit_or_reply(r, "auth.verify", "success",
                        arena_printf(r->arena, "{\"kind\":\"%s\"}", PQgetvalue(res, 0, 4)),
                        PQgetvalue(res, 0, 3)))
        return NULL;
    return session_build(r, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2), refresh,
                         PQgetvalue(res, 0, 5));
}

/* POST /auth/v1/verify {type, email, token} | {type, token_hash} -> 200
 * session | 403 otp_expired (wrong, expired, spent or exhausted) | 422
 * email_exists | 400 validation_failed.  type: signup, recovery, email,
 * magiclink, email_change. */
int auth_verify(req_t *r)
{
    const char *type, *email_in, *token, *token_hash, *why;
    const char *kinds;
    char *email = NULL;
    cJSON *s;

    if (!apikey_or_reply(r) || !string_or_reply(r, r->json, "type", &type) ||
        !string_or_reply(r, r->json, "email", &email_in) ||
        !string_or_reply(r, r->json, "token", &token) ||
        !string_or_reply(r, r->json, "token_hash", &token_hash))
        return r->status;
    if ((kinds = verify_kinds(type)) == NULL)
        return gotrue_error(r, 400, "validation_failed", arena_printf(r->arena,
            "Verify requires a verification type (signup, recovery, email, magiclink, "
            "email_change)"));
    if (token_hash == NULL && (token == NULL || email_in == NULL))
        return gotrue_error(r, 400, "validation_failed",
                            "Verify requires either a token or a token hash");
    if (token_hash == NULL && (email = email_normalise(r, email_in)) == NULL)
        return gotrue_error(r, 400, "validation_failed",
                            "Unable to validate email address: invalid format");
    if ((token_hash && strlen(token_hash) > LINK_TOKEN_MAX) ||
        (token_hash == NULL && (strlen(token) != CODE_DIGITS ||
                                strspn(token, "0123456789") != CODE_DIGITS)))
        return gotrue_error(r, 403, "otp_expired", "Token has expired or is invalid");
    s = verify_session(r, kinds, email, token_hash ? NULL : token, token_hash, &why);
    if (s != NULL) {
        resp_header(r, "Cache-Control", "no-store");
        return resp_json(r, 200, s);
    }
    if (r->status >= 500)
        return r->status;
    if (strcmp(why, "email_exists") == 0)
        return gotrue_error(r, 422, "email_exists",
                            "A user with this email address has already been registered");
    return gotrue_error(r, 403, "otp_expired", "Token has expired or is invalid");
}

/* A number member of the session as text. */
static const char *session_number(req_t *r, const cJSON *s, const char *name)
{
    return arena_printf(r->arena, "%.0f",
                        cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(s, name)));
}

/* GET /auth/v1/verify?token=&type=&redirect_to= (the mailed link) -> 303
 * to redirect_to (when allowed, else the site URL) with the session in the
 * fragment (#access_token=...&refresh_token=...&type=...), or with
 * #error=access_denied&error_code=otp_expired&error_description=... */
int auth_verify_link(req_t *r)
{
    const char *token = req_query(r, "token"), *type = req_query(r, "type"), *why = "otp_expired";
    const char *to = auth_redirect_target(r, req_query(r, "redirect_to")), *kinds;
    const char *sep = strchr(to, '#') ? "&" : "#";
    cJSON *s = NULL;

    kinds = verify_kinds(type);
    if (kinds != NULL && token != NULL && *token && strlen(token) <= LINK_TOKEN_MAX)
        s = verify_session(r, kinds, NULL, NULL, token, &why);
    if (r->status >= 500)
        return r->status;
    resp_header(r, "Cache-Control", "no-store");
    resp_header(r, "Referrer-Policy", "no-referrer");
    if (s == NULL) {
        resp_location(r, arena_printf(r->arena,
            "%s%serror=access_denied&error_code=%s&error_description=%s", to, sep,
            kinds ? why : "validation_failed",
            url_encode(r->arena, kinds ? "Email link is invalid or has expired"
                                       : "Verify requires a verification type")));
        return resp_empty(r, 303);
    }
    resp_location(r, arena_printf(r->arena,
        "%s%saccess_token=%s&expires_at=%s&expires_in=%s&refresh_token=%s"
        "&token_type=bearer&type=%s", to, sep,
        cJSON_GetObjectItemCaseSensitive(s, "access_token")->valuestring,
        session_number(r, s, "expires_at"), session_number(r, s, "expires_in"),
        cJSON_GetObjectItemCaseSensitive(s, "refresh_token")->valuestring, type));
    return resp_empty(r, 303);
}
