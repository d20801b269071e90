/* enrich_userkeys.c: users' own provider keys: read from user_secrets and decrypted with the secrets key ring. */
#include "enrich/enrich_int.h"

#include <string.h>

#include "core/log.h"
#include "crypto/keyring.h"
#include "crypto/secretbox.h"

/* Decrypt each row's (id, name, value_enc) from column col on with ring
 * into in's keys; rows with a NULL id are skipped, a key that does not
 * decrypt is logged and skipped. */
static void userkeys_decrypt(db_tx_t *d, PGresult *pr, int col,
                             const secretbox_ring_t *ring, enrich_input_t *in)
{
    for (int i = 0; i < PQntuples(pr); i++) {
        const char *id = db_value(pr, i, col);
        unsigned char *pt = NULL;
        size_t len = 0;
        enum secretbox_error e;

        if (id == NULL)
            continue;
        e = secretbox_decrypt(ring, PQgetvalue(pr, i, col + 2),
                              arena_printf(d->arena, "user_secrets.value:%s", id), &pt, &len);
        if (e != SECRETBOX_OK) {
            log_warn("%s: secret %s: %s", "enrich_user_keys", id, secretbox_strerror(e));
            continue;
        }
        {
            char *k = arena_strndup(d->arena, (const char *)pt, len);

            k[strcspn(k, "\r\n")] = '\0';
            if (strcmp(PQgetvalue(pr, i, col + 1), "openai_api_key") == 0)
                in->openai_key = k;
            else
                in->anthropic_key = k;
        }
        secretbox_free(pt, len);
    }
}

void enrich_user_keys_rows(db_tx_t *d, PGresult *pr, int col, enrich_input_t *in)
{
    const secretbox_ring_t *ring;
    const char *why = NULL;
    int i;

    for (i = 0; i < PQntuples(pr) && db_value(pr, i, col) == NULL; i++)
        ;
    if (i == PQntuples(pr))
        return;
    if ((ring = keyring_get(&why)) == NULL) {
        log_warn("%s: no usable secrets key ring (%s)", __func__, why ? why : "unset");
        return;
    }
    userkeys_decrypt(d, pr, col, ring, in);
}

bool enrich_user_keys(db_tx_t *d, enrich_input_t *in)
{
    PGresult *pr;
    bool remote = false;

    for (int i = 0; i < in->chain.n; i++)
        remote = remote || in->chain.links[i].kind != PROVIDER_LOCAL;
    if (!remote)
        return true;    /* no key needed: spare the round trip */
    if ((pr = db_exec(d, &enrich_stmts[ST_USER_KEYS], 0, NULL)) == NULL)
        return false;
    enrich_user_keys_rows(d, pr, 0, in);
    return true;
}
