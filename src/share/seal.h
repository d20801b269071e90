/* seal.h: share tokens sealed at rest (secretbox, bound to the share id) and the key ring they use. */
#ifndef PROMPTD_SHARE_SEAL_H
#define PROMPTD_SHARE_SEAL_H

#include "core/arena.h"
#include "crypto/secretbox.h"

/* The secrets key ring (PROMPTD_SECRETS_KEYS), parsed once per process;
 * NULL (logged once) without a usable one.  The only place share reads
 * the ring. */
const secretbox_ring_t *share_keyring(void);

/* token sealed for the share id (arena string); NULL without a ring or on
 * failure. */
const char *share_seal(arena_t *a, const char *id, const char *token);

/* The token inside a sealed column (arena string); NULL (logged) when it
 * cannot be opened. */
const char *share_unseal(arena_t *a, const char *id, const char *sealed);

#endif
