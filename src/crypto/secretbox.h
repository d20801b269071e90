/* secretbox.h: AES-256-GCM for secrets at rest, with a key ring for rotation. */
#ifndef PROMPTD_SECRETBOX_H
#define PROMPTD_SECRETBOX_H

#include <stdbool.h>
#include <stddef.h>

#define SECRETBOX_KEY_LEN 32
#define SECRETBOX_NONCE_LEN 12
#define SECRETBOX_TAG_LEN 16
#define SECRETBOX_KID_MAX 32
#define SECRETBOX_MAX_KEYS 16
#define SECRETBOX_MAX_PLAINTEXT 65536

/* Master keys from configuration ("kid:hex64[,kid:hex64...]"): the first
 * encrypts, every one decrypts.  A kid is 1..32 of [A-Za-z0-9_-]; kids are
 * distinct.  The ring holds raw key bytes: clear it when done. */
typedef struct secretbox_ring {
    int nkeys;
    struct {
        char kid[SECRETBOX_KID_MAX + 1];
        unsigned char key[SECRETBOX_KEY_LEN];
    } keys[SECRETBOX_MAX_KEYS];
} secretbox_ring_t;

enum secretbox_error {
    SECRETBOX_OK = 0,
    SECRETBOX_MALFORMED,    /* not "v1:<kid>:<b64 nonce>:<b64 ct+tag>" */
    SECRETBOX_UNKNOWN_KID,  /* no key in the ring has that id */
    SECRETBOX_AUTH_FAILED,  /* tag mismatch: wrong key, AAD or tampered */
    SECRETBOX_TOO_LONG,
};

/* Parse spec into ring; false (ring emptied) with a short reason in *why. */
bool secretbox_ring_parse(secretbox_ring_t *ring, const char *spec,
                          const char **why);
/* Wipe the key bytes.  NULL-safe. */
void secretbox_ring_clear(secretbox_ring_t *ring);
/* The encrypting key's id (the first), or NULL for an empty ring. */
const char *secretbox_current_kid(const secretbox_ring_t *ring);

/* Encrypt pt[0..len) under the current key with a fresh random nonce,
 * binding aad (e.g. "user_secrets.value:<row id>").  Returns the stored
 * form "v1:<kid>:<base64 nonce>:<base64 ciphertext||tag>" (standard base64
 * with padding), malloc'd (caller frees), or NULL for an empty ring or
 * len > SECRETBOX_MAX_PLAINTEXT. */
char *secretbox_encrypt(const secretbox_ring_t *ring, const void *pt,
                        size_t len, const char *aad);

/* Decrypt a stored form with the key its kid names, checking aad.  On
 * SECRETBOX_OK *pt is a malloc'd buffer of *len bytes plus a NUL (release
 * it with secretbox_free); otherwise *pt is NULL. */
enum secretbox_error secretbox_decrypt(const secretbox_ring_t *ring,
                                       const char *stored, const char *aad,
                                       unsigned char **pt, size_t *len);

/* Copy the kid of a stored form into kid; false when malformed. */
bool secretbox_stored_kid(const char *stored, char kid[SECRETBOX_KID_MAX + 1]);

/* Wipe and free a decrypted buffer.  NULL-safe. */
void secretbox_free(unsigned char *pt, size_t len);

const char *secretbox_strerror(enum secretbox_error e);

/* The raw AEAD (AES-256-GCM, 96-bit nonce, 128-bit tag), for the above
 * and for known-answer tests.  ct and pt may be NULL when len is 0.
 * open returns false on a tag mismatch (pt contents then undefined). */
bool secretbox_gcm_seal(const unsigned char key[SECRETBOX_KEY_LEN],
                        const unsigned char nonce[SECRETBOX_NONCE_LEN],
                        const unsigned char *aad, size_t aad_len,
                        const unsigned char *pt, size_t len,
                        unsigned char *ct, unsigned char tag[SECRETBOX_TAG_LEN]);
bool secretbox_gcm_open(const unsigned char key[SECRETBOX_KEY_LEN],
                        const unsigned char nonce[SECRETBOX_NONCE_LEN],
                        const unsigned char *aad, size_t aad_len,
                        const unsigned char *ct, size_t len,
                        const unsigned char tag[SECRETBOX_TAG_LEN],
                        unsigned char *pt);

#endif
