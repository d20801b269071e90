/* sign.h: Standard Webhooks signatures: endpoint secrets ("whsec_" + base64) and "v1," HMAC-SHA256 signatures over "id.timestamp.body". */
#ifndef PROMPTD_WEBHOOKS_SIGN_H
#define PROMPTD_WEBHOOKS_SIGN_H

#include <stdbool.h>
#include <stddef.h>

#define WHSIGN_SECRET_BYTES 32      /* random bytes of a new secret (the spec asks >= 24) */
#define WHSIGN_SECRET_MAX 128       /* a secret's text, NUL included */
#define WHSIGN_SIG_LEN 48           /* "v1," + 44 base64 characters + NUL */

/* A fresh secret "whsec_<base64 of WHSIGN_SECRET_BYTES random bytes>". */
void whsign_secret_new(char out[WHSIGN_SECRET_MAX]);

/* The signature of one delivery, "v1,<base64 HMAC-SHA256>", keyed by the
 * secret's decoded bytes, over "<msg_id>.<timestamp>.<body>".  False when
 * secret is not "whsec_" followed by canonical padded base64 of 1..64
 * bytes. */
bool whsign_sign(const char *secret, const char *msg_id, long long timestamp,
                 const char *body, size_t body_len, char out[WHSIGN_SIG_LEN]);

#endif
