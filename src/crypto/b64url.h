/* b64url.h: strict unpadded base64url (RFC 4648 section 5). */
#ifndef PROMPTD_B64URL_H
#define PROMPTD_B64URL_H

#include <stddef.h>

/* Size of the buffer needed to encode n bytes, including the NUL. */
#define B64URL_ENCODED_SIZE(n) ((((n) + 2) / 3) * 4 + 1)

/* Encode n bytes into out (B64URL_ENCODED_SIZE(n) bytes); no padding.
 * Returns the encoded length. */
size_t b64url_encode(const unsigned char *in, size_t n, char *out);

/* Decode exactly n characters strictly: alphabet A-Z a-z 0-9 - _ only, no
 * '=' padding, no whitespace, length mod 4 != 1, unused trailing bits zero.
 * out must hold n*3/4+1 bytes.  Returns the decoded length or -1. */
long b64url_decode(const char *in, size_t n, unsigned char *out);

#endif
