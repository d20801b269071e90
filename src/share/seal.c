/* seal.c: share tokens sealed at rest (secretbox, bound to the share id) and the key ring they use. */
#include "share/seal.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/keyring.h"
#include "core/log.h"

const secretbox_ring_t *share_keyring(void)
{
    static bool logged;
    const char *why = NULL;
    const secretbox_ring_t *ring = keyring_get(&why);

    if (ring == NULL && !logged) {
        logged = true;
        log_error("%s: no usable secrets key ring (%s)", "share_ring",
                  why ? why : "PROMPTD_SECRETS_KEYS unset");
    }
    return ring;
}

/* The additional data binding a sealed token to its row. */
static const char *seal_aad(arena_t *a, const char *id)
{
    return arena_printf(a, "shares.token:%s", id);
}

const char *share_seal(arena_t *a, const char *id, const char *token)
{
    const secretbox_ring_t *ring = share_keyring();
    char *sealed;
    const char *out;

    if (ring == NULL ||
        (sealed = secretbox_encrypt(ring, token, strlen(token), seal_aad(a, id))) == NULL)
        return NULL;
    out = arena_strdup(a, sealed);
    free(sealed);
    return out;
}

const char *share_unseal(arena_t *a, const char *id, const char *sealed)
{
    const secretbox_ring_t *ring = share_keyring();
    unsigned char *pt = NULL;
    size_t len = 0;
    enum secretbox_error e;
    char *out;

    if (ring == NULL)
        return NULL;
    if ((e = secretbox_decrypt(ring, sealed, seal_aad(a, id), &pt, &len)) != SECRETBOX_OK) {
        log_error("%s: share %s: %s", "token_unseal", id, secretbox_strerror(e));
        return NULL;
    }
    out = arena_strndup(a, (const char *)pt, len);
    secretbox_free(pt, len);
    return out;
}
