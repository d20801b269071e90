/* apikey.h: API key format (pmtd_ + base62 randomness + CRC32), checks, HMAC. */
#ifndef PROMPTD_APIKEY_H
#define PROMPTD_APIKEY_H

#include <stdbool.h>
#include <stddef.h>

/*
 * A key is "pmtd_" + 30 base62 characters from the CSPRNG (about 178 bits)
 * + 6 base62 characters holding zlib's crc32 of those 30 characters, most
 * significant digit first, zero-padded (GitHub's token format).  41 bytes.
 * The checksum lets a typo or a truncated paste be refused without a
 * database query; it is no secret and no authenticator.
 */
#define APIKEY_PREFIX "pmtd_"
#define APIKEY_PREFIX_LEN 5
#define APIKEY_RANDOM_LEN 30
#define APIKEY_CHECK_LEN 6
#define APIKEY_LEN (APIKEY_PREFIX_LEN + APIKEY_RANDOM_LEN + APIKEY_CHECK_LEN)
#define APIKEY_SHOWN_LEN 8     /* random characters kept as the display prefix */
#define APIKEY_DISPLAY_LEN (APIKEY_PREFIX_LEN + APIKEY_SHOWN_LEN)
#define APIKEY_HMAC_HEX_LEN 64

/* Write a fresh key (APIKEY_LEN characters and a NUL) into out. */
void apikey_generate(char out[APIKEY_LEN + 1]);

/* True when s starts with the key prefix: the caller means an API key
 * (and a malformed one is then refused as a key, not tried as a JWT). */
bool apikey_has_prefix(const char *s);

/* True when s is exactly one well-formed key whose checksum matches. */
bool apikey_valid(const char *s);

/* The 6 checksum characters for random[0..n) (no NUL written). */
void apikey_checksum(const char *random, size_t n, char out[APIKEY_CHECK_LEN]);

/* HMAC-SHA256(pepper, key) as 64 lower-case hex characters and a NUL.
 * False when the pepper is NULL or empty (nothing is written). */
bool apikey_hmac_hex(const char *pepper, const char *key,
                     char out[APIKEY_HMAC_HEX_LEN + 1]);

/* The server's pepper (PROMPTD_API_KEY_PEPPER or <secrets>/api_key_pepper),
 * read once at start by apikey_settings_load (credential_init runs it, after
 * config_load).  apikey_pepper: NULL when none (keys are then refused). */
void apikey_settings_load(void);
const char *apikey_pepper(void);

/* The parts of a valid key that may be shown again: "pmtd_" + its first
 * APIKEY_SHOWN_LEN random characters, and its last four characters. */
void apikey_display(const char *key, char prefix[APIKEY_DISPLAY_LEN + 1],
                    char last_four[5]);

#endif
