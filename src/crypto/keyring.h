/* keyring.h: the process's secrets-at-rest key ring, parsed once where the configuration is loaded. */
#ifndef PROMPTD_KEYRING_H
#define PROMPTD_KEYRING_H

#include <stdbool.h>

#include "crypto/secretbox.h"

/* Parse spec ("kid:hex64[,kid:hex64...]", the first encrypts) as the
 * process's ring, replacing (and wiping) any earlier one.  NULL spec: no
 * ring is configured.  A malformed spec is remembered, not fatal: false
 * with the reason in *why (why may be NULL), and keyring_get then answers
 * NULL with that reason wherever a ring is needed.  Call before any thread
 * uses the ring; the keys are wiped at exit. */
bool keyring_init(const char *spec, const char **why);

/* The ring, or NULL with *why (why may be NULL): the parse reason for a
 * malformed spec ("a key must be 64 hexadecimal characters", ...), or NULL
 * when no ring is configured (unset, or keyring_init never ran): callers
 * name that case in their own words.  Valid until keyring_cleanup. */
const secretbox_ring_t *keyring_get(const char **why);

/* Wipe the keys and forget the ring (keyring_get then reports "not
 * configured").  Idempotent; run at exit once keyring_init has run. */
void keyring_cleanup(void);

#endif
