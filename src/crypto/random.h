/* random.h: cryptographically secure random bytes and identifiers. */
#ifndef PROMPTD_RANDOM_H
#define PROMPTD_RANDOM_H

#include <stddef.h>

/* Fill buf with n bytes from the OpenSSL CSPRNG.  Never fails: if the
 * generator cannot deliver, the process aborts (a secret must never be
 * made from bad randomness). */
void random_bytes(void *buf, size_t n);

/* Write a random (version 4, RFC 9562) UUID in canonical lowercase form,
 * "xxxxxxxx-xxxx-4xxx-Yxxx-xxxxxxxxxxxx", NUL-terminated, into out. */
void random_uuid(char out[37]);

#endif
