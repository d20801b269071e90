/* enrich_userkeys.c: users' own provider keys: read from user_secrets and decrypted with the secrets key ring. */
#include "enrich/enrich_int.h"

#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "crypto/secretbox.h"

bool enrich_userkeys_ring(secretbox_ring_t *ring, const char **why)
{
    const config_t *cfg = config_load(false);

    return cfg != NULL && cfg->secrets_keys != NULL &&
           secretbox_ring_parse(ring, cfg->secrets_keys, why);
}

/* Decrypt each row (id, name, value_enc) of pr with ring into in's keys;
 * a key that does not decrypt is logged and skipped. */
static void userkeys_decrypt(edb_t *d, PGresult *pr, const secretbox_ring_t *ring,
                             enrich_input_t *in)
{
    for (int i = 0; i < PQntuples(pr); i++) {
        char *aad = arena_printf(d->arena, "user_secrets.value:%s", PQgetvalue(pr, i, 0));
        unsigned char *pt = NULL;
        size_t len = 0;
        enum secretbox_error e = secretbox_decrypt(ring, PQgetvalue(pr, i, 2),
                                                   aad, &pt, &len);

        if (e != SECRETBOX_OK) {
            log_warn("%s: secret %s: %s", "enrich_user_keys", PQgetvalue(pr, i, 0),
                     secretbox_strerror(e));
            continue;
        }
        {
            char *k = arena_strndup(d->arena, (const char *)pt, len);

            k[strcspn(k, "\r\n")] = '\0';
            if (strcmp(PQgetvalue(pr, i, 1), "openai_api_key") == 0)
                in->openai_key = k;
            else
                in->anthropic_key = k;
        }
        secretbox_free(pt, len);
    }
}

bool enrich_user_keys(edb_t *d, enrich_input_t *in)
{
    secretbox_ring_t ring;
    const char *why = NULL;
    PGresult *pr;
    bool remote = false;

    for (int i = 0; i < in->chain.n; i++)
        remote = remote || in->chain.links[i].kind != PROVIDER_LOCAL;
    if (!remote)
        return true;    /* no key needed: spare the round trip */
    if ((pr = edb_scoped(d, &enrich_stmts[ST_USER_KEYS], 0, NULL)) == NULL)
        return false;
    if (PQntuples(pr) == 0)
        return true;
    if (!enrich_userkeys_ring(&ring, &why)) {
        log_warn("%s: no usable secrets key ring (%s)", __func__, why ? why : "unset");
        return true;
    }
    userkeys_decrypt(d, pr, &ring, in);
    secretbox_ring_clear(&ring);
    return true;
}
