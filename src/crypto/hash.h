/* hash.h: SHA-256 (whole, in parts, in hex) and hex encoding: the one home of each. */
#ifndef PROMPTD_HASH_H
#define PROMPTD_HASH_H

#include <stddef.h>

#define HASH_SHA256_LEN 32                      /* digest bytes */
#define HASH_SHA256_HEX (2 * HASH_SHA256_LEN + 1) /* hex digits + NUL */

/* One piece of a message hashed in parts: len bytes at p. */
typedef struct hash_part {
    const void *p;
    size_t len;
} hash_part_t;

/* SHA-256 of the concatenation of n parts into md.  Aborts the process if
 * OpenSSL cannot allocate a digest context (as arena_alloc does). */
void hash_sha256(const hash_part_t *parts, size_t n,
                 unsigned char md[HASH_SHA256_LEN]);

/* SHA-256 of len bytes at data, as 64 lowercase hex digits + NUL in out. */
void hash_sha256_hex(const void *data, size_t len, char out[HASH_SHA256_HEX]);

/* The same over n parts. */
void hash_sha256_parts_hex(const hash_part_t *parts, size_t n,
                           char out[HASH_SHA256_HEX]);

/* n bytes as 2n lowercase hex digits + NUL into out (2n + 1 bytes). */
void hash_hex(const unsigned char *p, size_t n, char *out);


#endif
