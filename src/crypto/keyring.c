/* keyring.c: the process's secrets-at-rest key ring, parsed once where the configuration is loaded. */
#include "crypto/keyring.h"

#include <stdlib.h>

static secretbox_ring_t keyring_ring;
static enum { KEYRING_NONE, KEYRING_OK, KEYRING_BAD } keyring_state;
static const char *keyring_why;     /* a static reason while KEYRING_BAD */

bool keyring_init(const char *spec, const char **why)
{
    static bool registered;
    const char *reason = NULL;

    keyring_cleanup();
    if (!registered)
        registered = atexit(keyring_cleanup) == 0;
    if (spec == NULL)
        return true;
    if (!secretbox_ring_parse(&keyring_ring, spec, &reason)) {
        keyring_state = KEYRING_BAD;
        keyring_why = reason;
        if (why != NULL)
            *why = reason;
        return false;
    }
    keyring_state = KEYRING_OK;
    return true;
}

const secretbox_ring_t *keyring_get(const char **why)
{
    if (why != NULL)
        *why = keyring_state == KEYRING_BAD ? keyring_why : NULL;
    return keyring_state == KEYRING_OK ? &keyring_ring : NULL;
}

void keyring_cleanup(void)
{
    secretbox_ring_clear(&keyring_ring);
    keyring_state = KEYRING_NONE;
    keyring_why = NULL;
}
