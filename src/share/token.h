/* token.h: share-link tokens: minting, the lookup hash, the public URL. */
#ifndef PROMPTD_SHARE_TOKEN_H
#define PROMPTD_SHARE_TOKEN_H

#include "core/arena.h"
#include "crypto/b64url.h"

#define SHARE_TOKEN_BYTES 32   /* 256 bits from the CSPRNG */
#define SHARE_TOKEN_SIZE B64URL_ENCODED_SIZE(SHARE_TOKEN_BYTES)

/* A fresh token (base64url of SHARE_TOKEN_BYTES random bytes) into out;
 * the caller cleanses it when done. */
void share_token_new(char out[SHARE_TOKEN_SIZE]);

/* The lookup key of a token: SHA-256 of its text in hex (arena string). */
const char *share_token_hash(arena_t *a, const char *token);

/* "<site_url>/s/<token>" (arena string). */
const char *share_token_url(arena_t *a, const char *token);

#endif
