/* auth.h: what the auth family's files share (auth_common.c, auth_mfa.c, auth_totp.c). */
#ifndef PROMPTD_CGI_AUTH_H
#define PROMPTD_CGI_AUTH_H

#include <stdbool.h>
#include <time.h>

#include "core/config.h"
#include "http/server.h"

#define AUTH_ROLE "promptd_auth"   /* the role of sign-up / sign-in / refresh */

/* The process's configuration (set once by main before serving). */
extern const config_t *cfg;

/* The family's own settings, read at start by auth_settings_load. */
struct auth_settings {
    long refresh_ttl;       /* PROMPTD_REFRESH_TTL seconds, default 2592000 (30 d) */
    long refresh_reuse;     /* PROMPTD_REFRESH_REUSE_INTERVAL seconds, default 10:
                             * a just-spent refresh token still refreshes */
    bool mail;              /* PROMPTD_SMTP_URL set: addresses must be proven
                             * (sign-up confirms by mail, email changes too) */
    long otp_ttl;           /* PROMPTD_OTP_TTL seconds a mailed code lives, default 3600 */
    long mail_interval;     /* PROMPTD_MAIL_INTERVAL seconds between two mails of a
                             * kind to one address, default 60 */
    const char *redirect_allow; /* PROMPTD_REDIRECT_ALLOW: comma-separated URLs */
    const char *code_key;   /* the key of the codes' HMAC (the API key pepper) */
};
extern struct auth_settings auth_settings;

/* Read and check the settings above; false after printing why. */
bool auth_settings_load(void);

/* GoTrue's error body {"code":status,"error_code":code,"msg":msg}; the
 * status recorded. */
int gotrue_error(req_t *r, int status, const char *code, const char *msg);
/* The family's problem hook (family_t.problem). */
int gotrue_problem(req_t *r, int status, const char *code, const char *detail);
int weak_password_error(req_t *r, const char *reason, const char *msg);
int invalid_credentials(req_t *r);
/* A failed query: GoTrue clients retry 5xx; the log gets the cause. */
int db_failed(req_t *r);

/* Checks that answer themselves when they fail (false: a reply is set). */
bool apikey_or_reply(req_t *r);
bool string_or_reply(req_t *r, const cJSON *o, const char *name, const char **out);
bool user_data_or_reply(req_t *r, const cJSON *body, const char **out);
bool audit_or_reply(req_t *r, const char *action, const char *outcome,
                    const char *detail, const char *actor);
/* The address trimmed and lower-cased (arena), or NULL when not plain. */
char *email_normalise(req_t *r, const char *in);

/* The hex SHA-256 of s, in the arena. */
char *sha256_hex(req_t *r, const char *s);
#define RANDOM_TOKEN_BYTES 32
/* A fresh random token: base64url of 32 random bytes (43 characters), in
 * the arena (refresh tokens, links, state, nonces, PKCE verifiers). */
char *random_token(req_t *r);
/* A fresh refresh token (arena); *hash_hex its hex SHA-256. */
char *refresh_token_new(req_t *r, const char **hash_hex);
/* GoTrue's session object (arena-owned) as session_reply answers it; NULL
 * after a 500. */
cJSON *session_build(req_t *r, const char *user_json, const char *session_id,
                     const char *refresh_token, const char *level_json);
/* 200 with GoTrue's session for user_json in session_id; level_json the
 * session's {aal, amr} (promptd.auth_session_level), NULL: aal1, a password
 * sign-in now. */
int session_reply(req_t *r, const char *user_json, const char *session_id,
                  const char *refresh_token, const char *level_json);
/* The sign-in phase's role for the request's transaction. */
void as_auth_role(req_t *r);

/* auth_email.c: the flows by mail. */
extern const db_stmt_t auth_email_stmts[];
int auth_verify(req_t *r);
int auth_verify_link(req_t *r);
int auth_recover(req_t *r);
int auth_resend(req_t *r);
int auth_otp(req_t *r);
/* Sign-up when mail is configured: unconfirmed, a code mailed, no session. */
int auth_signup_confirm_reply(req_t *r, const char *email, const char *hash, const char *data);
/* Password sign-in's gate: false after 400 email_not_confirmed. */
bool auth_confirmed_or_reply(req_t *r, const char *uid);
/* An email change by code: false after a reply. */
bool auth_email_change_or_reply(req_t *r, const char *email);
/* auth_sso.c: single sign-on. */
extern const db_stmt_t auth_sso_stmts[];
int auth_authorize(req_t *r);
int auth_callback(req_t *r);
int auth_grant_pkce(req_t *r);

/* A redirect_to itself when allowed (the site URL, PROMPTD_REDIRECT_ALLOW),
 * else the site URL. */
const char *auth_redirect_target(req_t *r, const char *want);

/* ------------------------------------------------ TOTP (auth_totp.c) */

#define TOTP_DIGITS 6
#define TOTP_PERIOD 30      /* seconds per step */

enum totp_match { TOTP_WRONG, TOTP_REUSED, TOTP_OK };

/* Base32 (RFC 4648, no padding) of b[0..n), in the arena. */
char *totp_base32(req_t *r, const unsigned char *b, size_t n);
/* Check a 6-digit code at steps now-1..now+1; TOTP_OK sets *step, the
 * matching step after last_step (-1: none used). */
enum totp_match totp_check(const unsigned char *key, size_t len, const char *code,
                           time_t now, long long last_step, long long *step);
/* The otpauth://totp/ key URI, in the arena. */
char *totp_uri(req_t *r, const char *issuer, const char *account, const char *secret);
/* text as an SVG QR code, in the arena; NULL when it cannot be encoded. */
char *totp_qr_svg(req_t *r, const char *text);

/* ------------------------------------------ factors (auth_mfa.c) */

/* The handlers of /auth/v1/factors (routes in auth.c) and their statements. */
int mfa_enroll(req_t *r);
int mfa_challenge(req_t *r);
int mfa_verify(req_t *r);
int mfa_unenroll(req_t *r);
extern const db_stmt_t mfa_stmts[];

#endif
