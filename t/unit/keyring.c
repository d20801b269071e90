/* t/unit/keyring.c: the process's secrets key ring: parsed once, the reasons keyring_get gives, cleanup. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto/keyring.h"
#include "tap.h"

#define K1 "k1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define K2 "k2:202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"

/* Before any keyring_init, and with no spec: no ring, no reason (the
 * caller says "unset" in its own words). */
static void test_unset(void)
{
    const char *why = "untouched";

    ok(keyring_get(&why) == NULL && why == NULL, "before keyring_init: no ring, why NULL");
    ok(keyring_get(NULL) == NULL, "  why may be NULL");
    why = "untouched";
    ok(keyring_init(NULL, &why), "keyring_init(NULL): not an error");
    is_str(why, "untouched", "  *why left alone");
    ok(keyring_get(&why) == NULL && why == NULL, "  no ring, why NULL");
}

/* A good spec: one parse, the same ring at every call, first key encrypts;
 * what it sealed opens after later calls. */
static void test_parse_once(void)
{
    const secretbox_ring_t *a, *b;
    const char *why = "x";
    unsigned char *pt = NULL;
    size_t len = 0;
    char *sealed;

    ok(keyring_init(K2 "," K1, &why), "a good ring parses");
    a = keyring_get(&why);
    ok(a != NULL && why == NULL, "  keyring_get gives it, why NULL");
    b = keyring_get(NULL);
    ok(a == b, "  the same ring every call (parsed once)");
    is_int(a->nkeys, 2, "  two keys");
    is_str(secretbox_current_kid(a), "k2", "  the first encrypts");
    sealed = secretbox_encrypt(a, "secret", 6, "aad");
    ok(sealed != NULL && strncmp(sealed, "v1:k2:", 6) == 0, "  it seals under k2");
    ok(secretbox_decrypt(keyring_get(NULL), sealed, "aad", &pt, &len) == SECRETBOX_OK &&
       len == 6 && memcmp(pt, "secret", 6) == 0, "  and opens what it sealed");
    secretbox_free(pt, len);
    free(sealed);
}

/* A malformed spec fails keyring_init and is remembered: every
 * keyring_get names the same reason the parser gives. */
static void test_malformed(void)
{
    static const struct {
        const char *spec, *why;
    } bad[] = {
        {"k1:00", "a key must be 64 hexadecimal characters"},
        {"nocolon", "an entry is not kid:hex64 (kid 1..32 characters)"},
        {"k!:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
         "a kid may use only A-Z a-z 0-9 _ -"},
        {K1 "," K1, "a kid appears twice"},
        {"", "no keys configured"},
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *why = NULL, *again = NULL;

        ok(!keyring_init(bad[i].spec, &why), "'%.12s...' fails keyring_init", bad[i].spec);
        is_str(why, bad[i].why, "  with the parser's reason");
        ok(keyring_get(&again) == NULL, "  keyring_get: no ring");
        is_str(again, bad[i].why, "  and the same reason");
    }
    ok(!keyring_init("k1:00", NULL), "why may be NULL on a bad spec");
    ok(keyring_init(K1, NULL) && keyring_get(NULL) != NULL,
       "a later good spec replaces the bad one");
}

/* keyring_cleanup wipes the keys in place, is idempotent, and the ring is
 * then "not configured". */
static void test_cleanup(void)
{
    static const unsigned char zero[SECRETBOX_KEY_LEN];
    const secretbox_ring_t *r;
    const char *why = "x";

    keyring_init(K1, NULL);
    r = keyring_get(NULL);
    ok(r != NULL && r->keys[0].key[1] == 1, "a ring with key bytes");
    keyring_cleanup();
    ok(memcmp(r->keys[0].key, zero, sizeof zero) == 0 && r->nkeys == 0,
       "keyring_cleanup wipes the key bytes");
    ok(keyring_get(&why) == NULL && why == NULL, "  then: no ring, why NULL");
    keyring_cleanup();
    ok(keyring_get(NULL) == NULL, "  a second cleanup is harmless");
    keyring_init(K1, NULL);
    keyring_init(K2, NULL);
    is_str(secretbox_current_kid(keyring_get(NULL)), "k2", "re-init replaces the ring");
}

/* The keys are wiped at exit.  In a child that has not touched the ring
 * yet, a checker registered before keyring_init runs after keyring_init's
 * handler (atexit runs in reverse order) and reports the key bytes. */
static const secretbox_ring_t *atexit_ring;
static int atexit_fd;

static void atexit_check(void)
{
    static const unsigned char zero[SECRETBOX_KEY_LEN];
    char c = atexit_ring != NULL &&
             memcmp(atexit_ring->keys[0].key, zero, sizeof zero) == 0 ? 'w' : 'k';

    if (write(atexit_fd, &c, 1) != 1)
        _exit(3);
}

static void test_atexit(void)
{
    int fd[2], status;
    char c = 0;
    pid_t pid;

    if (pipe(fd) != 0 || (pid = fork()) < 0)
        exit(2);
    if (pid == 0) {
        close(fd[0]);
        atexit_fd = fd[1];
        atexit(atexit_check);
        keyring_init(K1, NULL);
        atexit_ring = keyring_get(NULL);
        exit(atexit_ring != NULL && atexit_ring->keys[0].key[1] == 1 ? 0 : 1);
    }
    close(fd[1]);
    if (read(fd[0], &c, 1) != 1)
        c = 0;
    close(fd[0]);
    waitpid(pid, &status, 0);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a child with a ring loaded exits");
    is_int(c, 'w', "  its keys were wiped at exit");
}

int main(void)
{
    test_atexit();      /* first: before this process registers its handler */
    test_unset();
    test_parse_once();
    test_malformed();
    test_cleanup();
    keyring_cleanup();
    return done_testing();
}
