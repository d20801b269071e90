/* auth_mfa.c: the TOTP second factor, GoTrue's /auth/v1/factors: enrol, challenge, verify to an aal2 session, unenrol. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "core/json.h"
#include "core/str.h"
#include "crypto/random.h"
#include "crypto/secretbox.h"
#include "http/credential.h"
#include "http/dbreply.h"
#include "http/response.h"
#include "auth.h"

#define TOTP_KEY_BYTES 20       /* 160 bits, as RFC 4226 recommends */
#define FACTORS_MAX "10"        /* GoTrue's MaxEnrolledFactors default */
#define CHALLENGE_TTL "300"     /* seconds, GoTrue's ChallengeExpiryDuration */
#define TRIES_MAX "5"           /* wrong codes per factor ... */
#define TRIES_LOCK "300"        /* ... within this many seconds lock it that long */
#define NAME_MAX_CHARS 255
#define ISSUER_MAX_CHARS 255
#define CODE_MAX_CHARS 64

/* Every state change goes through sql/functions/mfa.sql, as the worker
 * role (db_exec_app): a request role cannot raise its own session to
 * aal2 or read a sealed secret. */
enum { ST_ENROLL, ST_CHALLENGE, ST_VBEGIN, ST_VFAILED, ST_VOK, ST_UNENROLL };

const db_stmt_t mfa_stmts[] = {
    [ST_ENROLL] = {"mfa_enroll",
        "select promptd.mfa_enroll($1::uuid, $2::uuid, $3, $4, $5::int)"},
    [ST_CHALLENGE] = {"mfa_challenge",
        "select id, factor_type, expires_at from promptd.mfa_challenge($1::uuid, $2, $3::int)"},
    [ST_VBEGIN] = {"mfa_verify_begin",
        "select status, secret, last_step, retry_after from promptd.mfa_verify_begin("
        "$1::uuid, $2::uuid, $3, $4::int, $5::int, $6::int)"},
    [ST_VFAILED] = {"mfa_verify_failed",
        "select promptd.mfa_verify_failed($1::uuid, $2::int)"},
    [ST_VOK] = {"mfa_verify_ok",
        "select user_json, level from promptd.mfa_verify_ok("
        "$1::uuid, $2::uuid, $3::bigint, $4::uuid, decode($5, 'hex'))"},
    [ST_UNENROLL] = {"mfa_unenroll", "select promptd.mfa_unenroll($1::uuid)"},
    {NULL, NULL},
};

static int factor_not_found(req_t *r)
{
    return gotrue_error(r, 404, "mfa_factor_not_found", "Factor not found");
}

static int session_not_found(req_t *r)
{
    return gotrue_error(r, 403, "session_not_found",
                        "Session from session_id claim in JWT does not exist");
}

/* The additional data binding a sealed secret to its factor. */
static const char *secret_aad(req_t *r, const char *factor_id)
{
    return arena_printf(r->arena, "mfa_factors.secret:%s", factor_id);
}

/* A random (version 4) UUID, in the arena. */
static char *uuid_new(req_t *r)
{
    unsigned char b[16];

    random_bytes(b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    return arena_printf(r->arena,
        "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
        b[12], b[13], b[14], b[15]);
}

/* A claim of the caller's token as a string, or dflt. */
static const char *claim_string(req_t *r, const char *name, const char *dflt)
{
    cJSON *claims = json_own(r->arena, cJSON_Parse(r->tx.claims ? r->tx.claims : ""));
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(claims, name);

    return cJSON_IsString(v) && *v->valuestring
           ? arena_strdup(r->arena, v->valuestring) : dflt;
}

/* The issuer a new factor names: the body's, else PROMPTD_SITE_URL's host
 * without its port (GoTrue uses its SITE_URL's host; a ':' would split the
 * otpauth label), else "promptd". */
static const char *default_issuer(req_t *r)
{
    const char *u = cfg->site_url ? cfg->site_url : "", *h = strstr(u, "://");

    h = h ? h + 3 : u;
    return strcspn(h, "/?#:[") > 0 ? arena_strndup(r->arena, h, strcspn(h, "/?#:["))
                                  : "promptd";
}

/* The enrol body's members; false after a 400/422 in GoTrue's words. */
static bool enroll_body_or_reply(req_t *r, const char **name, const char **issuer)
{
    const char *type;

    if (!string_or_reply(r, r->json, "factor_type", &type) ||
        !string_or_reply(r, r->json, "friendly_name", name) ||
        !string_or_reply(r, r->json, "issuer", issuer))
        return false;
    if (type != NULL && (strcmp(type, "phone") == 0 || strcmp(type, "webauthn") == 0)) {
        gotrue_error(r, 422, strcmp(type, "phone") == 0 ? "mfa_phone_enroll_not_enabled"
                                                        : "mfa_webauthn_enroll_not_enabled",
                     arena_printf(r->arena, "MFA enroll is disabled for %s", type));
        return false;
    }
    if (type == NULL || strcmp(type, "totp") != 0) {
        gotrue_error(r, 400, "validation_failed",
                     "factor_type needs to be totp, phone, or webauthn");
        return false;
    }
    if ((*name && utf8_length(*name) > NAME_MAX_CHARS) ||
        (*issuer && (utf8_length(*issuer) > ISSUER_MAX_CHARS || strchr(*issuer, ':')))) {
        gotrue_error(r, 400, "validation_failed", *issuer && strchr(*issuer, ':')
                     ? "issuer must not contain ':'"
                     : "friendly_name and issuer are at most 255 characters");
        return false;
    }
    if (*issuer == NULL || **issuer == '\0')
        *issuer = default_issuer(r);
    return true;
}

/* The enrol function's refusals, in GoTrue's words. */
static int enroll_refused(req_t *r, const char *status, const char *name)
{
    if (strcmp(status, "name_conflict") == 0)
        return gotrue_error(r, 422, "mfa_factor_name_conflict", arena_printf(r->arena,
                            "A factor with the friendly name \"%s\" for this user "
                            "already exists", name));
    if (strcmp(status, "too_many") == 0)
        return gotrue_error(r, 422, "too_many_enrolled_mfa_factors",
                            "Maximum number of verified factors reached, unenroll to continue");
    if (strcmp(status, "insufficient_aal") == 0)
        return gotrue_error(r, 403, "insufficient_aal", "AAL2 required to enroll a new factor");
    return session_not_found(r);
}

/* POST /auth/v1/factors (session token) {factor_type: "totp",
 * friendly_name?, issuer?} -> 200 {id, type: "totp", friendly_name, totp:
 * {qr_code (SVG; auth-js makes it a data: URI), secret (base32), uri}} |
 * 400 bad_json / validation_failed | 403 insufficient_aal (a verified
 * factor exists and the session is aal1) / session_not_found | 422
 * mfa_factor_name_conflict / too_many_enrolled_mfa_factors /
 * mfa_*_enroll_not_enabled.  The factor is unverified until its first
 * verify; its key is stored sealed (secretbox), never in clear. */
int mfa_enroll(req_t *r)
{
    unsigned char key[TOTP_KEY_BYTES];
    const char *name = NULL, *issuer = NULL, *v[5], *b32, *uri, *svg;
    const secretbox_ring_t *ring;
    char *id, *sealed;
    PGresult *res;
    cJSON *o, *t;

    if (!apikey_or_reply(r) || !enroll_body_or_reply(r, &name, &issuer) ||
        (ring = resp_keyring_or_reply(r, "Internal error; it has been logged.")) == NULL)
        return r->status;
    random_bytes(key, sizeof(key));
    id = uuid_new(r);
    b32 = totp_base32(r, key, sizeof(key));
    sealed = secretbox_encrypt(ring, key, sizeof(key), secret_aad(r, id));
    OPENSSL_cleanse(key, sizeof(key));
    if (sealed == NULL) {
        r->tx.detail = "sealing the factor secret failed";
        return resp_problem(r, 500, "Internal error; it has been logged.");
    }
    v[0] = credential_session_id(r);
    v[1] = id;
    v[2] = name;
    v[3] = arena_strdup(r->arena, sealed);
    v[4] = FACTORS_MAX;
    free(sealed);
    uri = totp_uri(r, issuer, claim_string(r, "email", "user"), b32);
    if ((svg = totp_qr_svg(r, uri)) == NULL) {
        r->tx.detail = "libqrencode could not encode the otpauth URI";
        return gotrue_error(r, 500, "unexpected_failure", "Error generating QR Code");
    }
    if ((res = db_exec_app(&r->tx, &mfa_stmts[ST_ENROLL], 5, v)) == NULL)
        return db_failed(r);
    if (strcmp(PQgetvalue(res, 0, 0), "ok") != 0)
        return enroll_refused(r, PQgetvalue(res, 0, 0), name);
    if (!audit_or_reply(r, "auth.mfa_enroll", "success",
                        arena_printf(r->arena, "{\"factor_id\":\"%s\"}", id), NULL))
        return r->status;
    o = json_own(r->arena, cJSON_CreateObject());
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "type", "totp");
    cJSON_AddStringToObject(o, "friendly_name", name ? name : "");
    t = cJSON_AddObjectToObject(o, "totp");
    cJSON_AddStringToObject(t, "qr_code", svg);
    cJSON_AddStringToObject(t, "secret", b32);
    cJSON_AddStringToObject(t, "uri", uri);
    resp_header(r, "Cache-Control", "no-store");
    return resp_json(r, 200, o);
}

/* POST /auth/v1/factors/{id}/challenge (session token) {channel?} -> 200
 * {id, type: "totp", expires_at (Unix seconds, 5 min on)} | 404
 * mfa_factor_not_found (unknown, or another user's). */
int mfa_challenge(req_t *r)
{
    const char *v[3] = {req_param(r, "id"), r->remote_addr, CHALLENGE_TTL};
    PGresult *res;
    cJSON *o;

    if (!apikey_or_reply(r))
        return r->status;
    if (!uuid_valid(v[0]))
        return factor_not_found(r);
    if ((res = db_exec_app(&r->tx, &mfa_stmts[ST_CHALLENGE], 3, v)) == NULL)
        return db_failed(r);
    if (PQntuples(res) != 1)
        return factor_not_found(r);
    o = json_own(r->arena, cJSON_CreateObject());
    cJSON_AddStringToObject(o, "id", PQgetvalue(res, 0, 0));
    cJSON_AddStringToObject(o, "type", PQgetvalue(res, 0, 1));
    cJSON_AddNumberToObject(o, "expires_at", atof(PQgetvalue(res, 0, 2)));
    return resp_json(r, 200, o);
}

/* The verify body: challenge_id (a UUID) and code; false after a 400. */
static bool verify_body_or_reply(req_t *r, const char **challenge, const char **code)
{
    if (!string_or_reply(r, r->json, "challenge_id", challenge) ||
        !string_or_reply(r, r->json, "code", code))
        return false;
    if (*challenge == NULL || !uuid_valid(*challenge)) {
        gotrue_error(r, 400, "validation_failed", "challenge_id must be a UUID");
        return false;
    }
    if (*code == NULL || **code == '\0' || strlen(*code) > CODE_MAX_CHARS) {
        gotrue_error(r, 400, "validation_failed", "Code needs to be non-empty");
        return false;
    }
    return true;
}

/* mfa_verify_begin's refusals in GoTrue's words ("locked": 429 with
 * Retry-After). */
static int verify_refused(req_t *r, const PGresult *res, const char *challenge)
{
    const char *status = PQgetvalue(res, 0, 0);

    if (strcmp(status, "factor_not_found") == 0)
        return factor_not_found(r);
    if (strcmp(status, "challenge_not_found") == 0)
        return gotrue_error(r, 422, "mfa_factor_not_found",
                            "MFA factor with the provided challenge ID not found");
    if (strcmp(status, "ip_mismatch") == 0)
        return gotrue_error(r, 422, "mfa_ip_address_mismatch",
                            "Challenge and verify IP addresses mismatch.");
    if (strcmp(status, "expired") == 0) {
        r->tx.commit_on_error = true;       /* the expired challenge is dropped */
        return gotrue_error(r, 422, "mfa_challenge_expired", arena_printf(r->arena,
                            "MFA challenge %s has expired, verify against another "
                            "challenge or create a new challenge.", challenge));
    }
    resp_header(r, "Retry-After", PQgetvalue(res, 0, 3));
    return gotrue_error(r, 429, "over_request_rate_limit",
                        "Too many MFA verification attempts; retry later");
}

/* A wrong or reused code: counted (committed with the audit row), then 422
 * mfa_verification_failed. */
static int verify_failed(req_t *r, const char *factor, enum totp_match m)
{
    const char *v[2] = {factor, TRIES_LOCK};

    r->tx.commit_on_error = true;
    if (db_exec_app(&r->tx, &mfa_stmts[ST_VFAILED], 2, v) == NULL)
        return db_failed(r);
    if (!audit_or_reply(r, "auth.mfa_verify", "failure", m == TOTP_REUSED
                        ? "{\"reason\":\"reused_code\"}" : "{\"reason\":\"invalid_code\"}",
                        NULL))
        return r->status;
    return gotrue_error(r, 422, "mfa_verification_failed", "Invalid TOTP code entered");
}

/* The factor's code checked against its opened secret: TOTP_OK sets *step.
 * -1 after a 500 (the secret does not open). */
static int code_check(req_t *r, const char *factor, const PGresult *res,
                      const char *code, long long *step)
{
    const secretbox_ring_t *ring = resp_keyring_or_reply(r, "Internal error; it has been logged.");
    const char *last = db_value(res, 0, 2);
    enum secretbox_error e;
    unsigned char *key;
    size_t len;
    int m;

    if (ring == NULL)
        return -1;
    e = secretbox_decrypt(ring, PQgetvalue(res, 0, 1), secret_aad(r, factor), &key, &len);
    if (e != SECRETBOX_OK) {
        r->tx.detail = arena_printf(r->arena, "factor %s: %s", factor, secretbox_strerror(e));
        resp_problem(r, 500, "Internal error; it has been logged.");
        return -1;
    }
    m = (int)totp_check(key, len, code, time(NULL), last ? atoll(last) : -1, step);
    secretbox_free(key, len);
    return m;
}

/* POST /auth/v1/factors/{id}/verify (session token) {challenge_id, code}
 * -> 200 session (the same session, new tokens: aal2, amr totp first; the
 * factor becomes verified) | 400 bad_json / validation_failed | 403
 * session_not_found | 404 mfa_factor_not_found | 422
 * mfa_verification_failed (wrong, or a code already used) /
 * mfa_challenge_expired / mfa_factor_not_found (challenge) /
 * mfa_ip_address_mismatch (challenge used, or from another address) |
 * 429 over_request_rate_limit (5 wrong codes: 5 minutes). */
int mfa_verify(req_t *r)
{
    const char *factor = req_param(r, "id"), *challenge, *code, *rhash, *v[6];
    char *refresh;
    long long step = -1;
    PGresult *res;
    int m;

    if (!apikey_or_reply(r) || !verify_body_or_reply(r, &challenge, &code))
        return r->status;
    if (!uuid_valid(factor))
        return factor_not_found(r);
    v[0] = factor;
    v[1] = challenge;
    v[2] = r->remote_addr;
    v[3] = CHALLENGE_TTL;
    v[4] = TRIES_MAX;
    v[5] = TRIES_LOCK;
    if ((res = db_exec_app(&r->tx, &mfa_stmts[ST_VBEGIN], 6, v)) == NULL || PQntuples(res) != 1)
        return db_failed(r);
    if (strcmp(PQgetvalue(res, 0, 0), "ok") != 0)
        return verify_refused(r, res, challenge);
    if ((m = code_check(r, factor, res, code, &step)) < 0)
        return r->status;
    if (m != TOTP_OK)
        return verify_failed(r, factor, (enum totp_match)m);
    refresh = refresh_token_new(r, &rhash);
    v[2] = arena_printf(r->arena, "%lld", step);
    v[3] = credential_session_id(r);
    v[4] = rhash;
    if ((res = db_exec_app(&r->tx, &mfa_stmts[ST_VOK], 5, v)) == NULL)
        return db_failed(r);
    if (PQntuples(res) != 1)
        return session_not_found(r);
    if (!audit_or_reply(r, "auth.mfa_verify", "success",
                        arena_printf(r->arena, "{\"factor_id\":\"%s\"}", factor), NULL))
        return r->status;
    return session_reply(r, PQgetvalue(res, 0, 0), v[3], refresh, PQgetvalue(res, 0, 1));
}

/* DELETE /auth/v1/factors/{id} (session token) -> 200 {id} | 404
 * mfa_factor_not_found | 422 insufficient_aal (GoTrue's status: an aal1
 * session of a user with a verified factor, whichever factor it names).
 * Sessions it raised drop to aal1. */
int mfa_unenroll(req_t *r)
{
    const char *v[1] = {req_param(r, "id")}, *status;
    PGresult *res;
    cJSON *o;

    if (!apikey_or_reply(r))
        return r->status;
    if (!uuid_valid(v[0]))
        return factor_not_found(r);
    if ((res = db_exec_app(&r->tx, &mfa_stmts[ST_UNENROLL], 1, v)) == NULL)
        return db_failed(r);
    status = PQgetvalue(res, 0, 0);
    if (strcmp(status, "not_found") == 0)
        return factor_not_found(r);
    if (strcmp(status, "ok") != 0)
        return gotrue_error(r, 422, "insufficient_aal",
                            "AAL2 required to unenroll verified factor");
    if (!audit_or_reply(r, "auth.mfa_unenroll", "success",
                        arena_printf(r->arena, "{\"factor_id\":\"%s\"}", v[0]), NULL))
        return r->status;
    o = json_own(r->arena, cJSON_CreateObject());
    cJSON_AddStringToObject(o, "id", v[0]);
    return resp_json(r, 200, o);
}
