/* secretsctl.c: promptctl secrets set|get|check|rotate (user_secrets, AES-256-GCM at rest; rotate re-seals every sealed column). */
#include "cmd/secretsctl.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "cmd/ctl.h"
#include "crypto/keyring.h"
#include "crypto/random.h"
#include "crypto/secretbox.h"

#define SECRETSCTL_AAD_FMT "user_secrets.value:%s"
#define SECRETSCTL_NAME_MAX 100

/* The AAD binding a value to its table, column and row. */
static void secretsctl_aad(char out[64], const char *id)
{
    snprintf(out, 64, SECRETSCTL_AAD_FMT, id);
}

/* Run sql; false (reported) unless it succeeded.  res, if given, receives
 * the result (caller clears). */
static bool secretsctl_exec(PGconn *conn, const char *sql, int n,
                            const char *const *v, PGresult **res)
{
    PGresult *r = PQexecParams(conn, sql, n, NULL, v, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

    if (!ok)
        fprintf(stderr, "promptctl: %s", PQresultErrorMessage(r));
    if (ok && res != NULL)
        *res = r;
    else
        PQclear(r);
    return ok;
}

/* promptctl secrets set USER NAME < value */
static int secretsctl_set(PGconn *conn, const secretbox_ring_t *ring,
                          const char *user, const char *name)
{
    static char value[SECRETBOX_MAX_PLAINTEXT + 2];
    char id[37], aad[64];
    const char *v[4];
    PGresult *res = NULL;
    size_t len;
    char *enc = NULL;
    int rc = 1;

    len = fread(value, 1, sizeof value - 1, stdin);
    if (len > SECRETBOX_MAX_PLAINTEXT) {
        fprintf(stderr, "promptctl: the value exceeds %d bytes\n", SECRETBOX_MAX_PLAINTEXT);
        return 1;
    }
    if (len > 0 && value[len - 1] == '\n')
        len--;
    if (*name == '\0' || strlen(name) > SECRETSCTL_NAME_MAX) {
        fprintf(stderr, "promptctl: NAME must be 1 to %d characters\n", SECRETSCTL_NAME_MAX);
        return 1;
    }
    v[0] = user;
    v[1] = name;
    if (!secretsctl_exec(conn, "begin", 0, NULL, NULL) ||
        !secretsctl_exec(conn,
            "select u.id, s.id from auth.users u left join public.user_secrets s "
            "on s.user_id = u.id and s.name = $2 "
            "where u.id::text = lower($1) or u.email = lower($1) for update of u",
            2, v, &res))
        goto out;
    if (PQntuples(res) != 1) {
        fprintf(stderr, "promptctl: no such user: %s\n", user);
        goto out;
    }
    if (PQgetisnull(res, 0, 1))
        random_uuid(id);
    else
        snprintf(id, sizeof id, "%s", PQgetvalue(res, 0, 1));
    secretsctl_aad(aad, id);
    if ((enc = secretbox_encrypt(ring, value, len, aad)) == NULL) {
        fprintf(stderr, "promptctl: encryption failed\n");
        goto out;
    }
    v[0] = id;
    v[1] = PQgetvalue(res, 0, 0);
    v[2] = name;
    v[3] = enc;
    {
        const char *kid = secretbox_current_kid(ring);
        const char *w[5] = {v[0], v[1], v[2], v[3], kid};

        if (!secretsctl_exec(conn,
                "insert into public.user_secrets (id, user_id, name, value_enc, key_id) "
                "values ($1, $2, $3, $4, $5) on conflict (id) do update "
                "set value_enc = excluded.value_enc, key_id = excluded.key_id, "
                "updated_at = now()", 5, w, NULL) ||
            !secretsctl_exec(conn, "commit", 0, NULL, NULL))
            goto out;
    }
    printf("%s\n", id);
    rc = 0;
out:
    if (rc != 0)
        PQclear(PQexec(conn, "rollback"));
    PQclear(res);
    free(enc);
    memset(value, 0, sizeof value);
    return rc;
}

/* promptctl secrets get USER NAME: the plaintext on stdout */
static int secretsctl_get(PGconn *conn, const secretbox_ring_t *ring,
                          const char *user, const char *name)
{
    const char *v[2] = {user, name};
    PGresult *res = NULL;
    unsigned char *pt = NULL;
    size_t len = 0;
    char aad[64];
    enum secretbox_error e;
    int rc = 1;

    if (!secretsctl_exec(conn,
            "select s.id, s.value_enc from public.user_secrets s "
            "join auth.users u on u.id = s.user_id "
            "where (u.id::text = lower($1) or u.email = lower($1)) and s.name = $2",
            2, v, &res))
        return 1;
    if (PQntuples(res) != 1) {
        fprintf(stderr, "promptctl: no secret %s for %s\n", name, user);
        goto out;
    }
    secretsctl_aad(aad, PQgetvalue(res, 0, 0));
    if ((e = secretbox_decrypt(ring, PQgetvalue(res, 0, 1), aad, &pt, &len)) !=
        SECRETBOX_OK) {
        fprintf(stderr, "promptctl: secret %s: %s\n", PQgetvalue(res, 0, 0),
                secretbox_strerror(e));
        goto out;
    }
    fwrite(pt, 1, len, stdout);
    putchar('\n');
    rc = fflush(stdout) == 0 ? 0 : 1;
out:
    secretbox_free(pt, len);
    PQclear(res);
    return rc;
}

/* promptctl secrets check */
static int secretsctl_check(PGconn *conn, const secretbox_ring_t *ring)
{
    PGresult *res = NULL;
    int n, failed = 0;

    if (!secretsctl_exec(conn, "select id, value_enc, key_id from public.user_secrets "
                         "order by id", 0, NULL, &res))
        return 1;
    n = PQntuples(res);
    for (int i = 0; i < n; i++) {
        const char *id = PQgetvalue(res, i, 0);
        char aad[64], kid[SECRETBOX_KID_MAX + 1];
        unsigned char *pt;
        size_t len;
        enum secretbox_error e;

        secretsctl_aad(aad, id);
        e = secretbox_decrypt(ring, PQgetvalue(res, i, 1), aad, &pt, &len);
        secretbox_free(pt, len);
        if (e != SECRETBOX_OK) {
            fprintf(stderr, "%s: %s\n", id, secretbox_strerror(e));
            failed++;
        } else if (!secretbox_stored_kid(PQgetvalue(res, i, 1), kid) ||
                   strcmp(kid, PQgetvalue(res, i, 2)) != 0) {
            fprintf(stderr, "%s: key_id column says %s, the value says %s\n", id,
                    PQgetvalue(res, i, 2), kid);
            failed++;
        }
    }
    printf("checked %d secrets, %d failed\n", n, failed);
    PQclear(res);
    return failed ? 1 : 0;
}

/* Every column holding a value sealed with the key ring: its rows (id,
 * stored form; locked), the update storing a re-sealed one ($1 id, $2
 * stored form, and $3 the key id where the table keeps one: nparams) and
 * the AAD binding it to its row. */
static const struct sealed_column {
    const char *rows, *update;
    int nparams;
    const char *aad_prefix;
} sealed_columns[] = {
    {"select id::text, value_enc from public.user_secrets order by id for update",
     "update public.user_secrets set value_enc = $2, key_id = $3 where id = $1", 3,
     "user_secrets.value:"},
    {"select id::text, secret from promptd.mfa_factors order by id for update",
     "update promptd.mfa_factors set secret = $2 where id = $1::uuid", 2,
     "mfa_factors.secret:"},
    {"select id::text, secret_sealed from public.webhook_endpoints order by id for update",
     "update public.webhook_endpoints set secret_sealed = $2 where id = $1::uuid", 2,
     "webhook_endpoints.secret:"},
    {"select id::text, previous_secret_sealed from public.webhook_endpoints "
     "where previous_secret_sealed is not null order by id for update",
     "update public.webhook_endpoints set previous_secret_sealed = $2 where id = $1::uuid", 2,
     "webhook_endpoints.secret:"},
};

/* Re-seal the rows of column c not under the current key; the number of
 * rows in *n, of those re-sealed in *rotated.  False (reported) on the
 * first row that does not open or store. */
static bool secretsctl_rotate_column(PGconn *conn, const secretbox_ring_t *ring,
                                     const struct sealed_column *c, int *n, int *rotated)
{
    const char *current = secretbox_current_kid(ring);
    PGresult *res = NULL;
    bool ok = secretsctl_exec(conn, c->rows, 0, NULL, &res);

    for (int i = 0; ok && i < PQntuples(res); i++) {
        const char *id = PQgetvalue(res, i, 0), *stored = PQgetvalue(res, i, 1);
        char aad[96], kid[SECRETBOX_KID_MAX + 1], *enc;
        unsigned char *pt;
        size_t len;
        enum secretbox_error e;

        (*n)++;
        if (secretbox_stored_kid(stored, kid) && strcmp(kid, current) == 0)
            continue;
        snprintf(aad, sizeof aad, "%s%s", c->aad_prefix, id);
        if ((e = secretbox_decrypt(ring, stored, aad, &pt, &len)) != SECRETBOX_OK) {
            fprintf(stderr, "promptctl: secret %s: %s; nothing rotated\n", id,
                    secretbox_strerror(e));
            ok = false;
            break;
        }
        enc = secretbox_encrypt(ring, pt, len, aad);
        secretbox_free(pt, len);
        if (enc == NULL) {
            fprintf(stderr, "promptctl: secret %s: encryption failed\n", id);
            ok = false;
            break;
        }
        {
            const char *v[3] = {id, enc, current};

            ok = secretsctl_exec(conn, c->update, c->nparams, v, NULL);
        }
        free(enc);
        if (ok)
            (*rotated)++;
    }
    PQclear(res);
    return ok;
}

/* promptctl secrets rotate: every sealed value (users' provider keys,
 * second-factor keys, webhook endpoint secrets) to the current key, in
 * one transaction. */
static int secretsctl_rotate(PGconn *conn, const secretbox_ring_t *ring)
{
    int n = 0, rotated = 0, rc = 1;

    if (!secretsctl_exec(conn, "begin", 0, NULL, NULL))
        goto out;
    for (size_t i = 0; i < sizeof sealed_columns / sizeof sealed_columns[0]; i++)
        if (!secretsctl_rotate_column(conn, ring, &sealed_columns[i], &n, &rotated))
            goto out;
    if (!secretsctl_exec(conn, "commit", 0, NULL, NULL))
        goto out;
    printf("rotated %d of %d secrets to key %s\n", rotated, n, secretbox_current_kid(ring));
    rc = 0;
out:
    if (rc != 0)
        PQclear(PQexec(conn, "rollback"));
    return rc;
}

int secretsctl_main(const config_t *cfg, int argc, char **argv)
{
    const secretbox_ring_t *ring;
    const char *why = NULL;
    PGconn *conn;
    int rc;

    if (!(argc == 1 && (strcmp(argv[0], "check") == 0 ||
                        strcmp(argv[0], "rotate") == 0)) &&
        !(argc == 3 && (strcmp(argv[0], "set") == 0 ||
                        strcmp(argv[0], "get") == 0))) {
        fputs("promptctl: expected: secrets set|get USER NAME | secrets check | "
              "secrets rotate\n", stderr);
        return 2;
    }
    if ((ring = keyring_get(&why)) == NULL) {
        fprintf(stderr, "promptctl: PROMPTD_SECRETS_KEYS: %s\n",
                why != NULL ? why : "no keys configured");
        return 1;
    }
    if ((conn = ctl_connect(cfg)) == NULL)
        return 1;
    if (strcmp(argv[0], "set") == 0)
        rc = secretsctl_set(conn, ring, argv[1], argv[2]);
    else if (strcmp(argv[0], "get") == 0)
        rc = secretsctl_get(conn, ring, argv[1], argv[2]);
    else if (strcmp(argv[0], "check") == 0)
        rc = secretsctl_check(conn, ring);
    else
        rc = secretsctl_rotate(conn, ring);
    PQfinish(conn);
    return rc;
}

/* secretsctl_main checks its own words (exit 2 with its own message). */
const ctl_cmd_t secretsctl_cmd = {
    "secrets",
    "secrets set USER NAME < value | secrets get USER NAME\n"
    "secrets check | secrets rotate",
    NULL, 0, -1, NULL, secretsctl_main
};
