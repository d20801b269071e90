/* password.c: unit tests for argon2id hashing/verification and the password policy. */
#include <string.h>

#include "auth/password.h"
#include "tap.h"

static const struct {
    const char *password;
    const char *reason;   /* NULL = accepted */
} policy_cases[] = {
    {"", "length"},
    {"abc1234", "length"},
    {"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", "length"}, /* 7 code points, 14 bytes */
    {"aaaaaaaaaaaa", "characters"},
    {"11111111", "characters"},
    {"password", "pwned"},
    {"PassWord123", "pwned"},
    {"12345678", "pwned"},
    {"qwertyuiop", "pwned"},
    {"correct horse battery", NULL},
    {"abcd1234x", NULL},
    {"\xc3\xa9t\xc3\xa9 long", NULL},
};

int main(void)
{
    char h1[PASSWORD_ENCODED_MAX], h2[PASSWORD_ENCODED_MAX];
    const char *msg;

    for (size_t i = 0; i < sizeof(policy_cases) / sizeof(policy_cases[0]); i++) {
        const char *got = password_weakness(policy_cases[i].password, &msg);
        const char *want = policy_cases[i].reason;

        ok(want ? got && strcmp(got, want) == 0 : got == NULL,
           "policy case %zu: %s", i, want ? want : "accepted");
    }
    ok(password_hash("correct horse battery", h1), "hash");
    ok(strncmp(h1, "$argon2id$v=19$m=65536,t=3,p=1$", 31) == 0,
       "PHC string names argon2id m=65536 t=3 p=1: %s", h1);
    ok(password_hash("correct horse battery", h2) && strcmp(h1, h2) != 0,
       "a fresh salt each time");
    ok(password_verify(h1, "correct horse battery"), "verify the right password");
    ok(!password_verify(h1, "correct horse batterY"), "refuse a wrong password");
    ok(!password_verify(NULL, "correct horse battery"), "no hash: false (dummy verify)");
    ok(!password_verify("$2a$10$abcdefghijklmnopqrstuv", "x"), "truncated bcrypt hash: false");
    /* crypt_blowfish's published vector */
    ok(password_verify("$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U"),
       "bcrypt $2a$ vector verifies");
    ok(!password_verify("$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*V"),
       "bcrypt: a wrong password fails");
    ok(!password_verify("$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeX", "U*U"),
       "bcrypt: a damaged hash fails");
    ok(!password_verify("$1$abcdefgh$0123456789abcdefghijkl", "x"), "md5-crypt: false");
    ok(password_needs_rehash("$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"),
       "bcrypt needs a rehash");
    ok(password_needs_rehash("$argon2id$v=19$m=4096,t=3,p=1$c2FsdHNhbHQ$aGFzaA"),
       "argon2id with other parameters needs a rehash");
    ok(!password_needs_rehash(h1), "this build's argon2id needs none");
    ok(password_needs_rehash(NULL), "no hash needs one");
    ok(!password_verify("$argon2id$garbage", "x"), "malformed argon2id: false");
    /* password_is_current: exactly what password_hash() writes, nothing else */
    ok(password_is_current(h1), "this build's hash is current");
    {
        static const char *const foreign[] = {
            "$argon2id$v=19$m=4096,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "$argon2id$v=19$m=4194304,t=3,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "$argon2id$v=19$m=65536,t=1000,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "$argon2id$v=19$m=65536,t=3,p=8$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "$argon2id$v=16$m=65536,t=3,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "$argon2i$v=19$m=65536,t=3,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
            /* the server's parameters, but a longer output (more work) or salt */
            "$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHRzYWx0c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2!",
            "$argon2id$v=19$m=65536,t=3,p=1$",
            "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            "", NULL};

        for (size_t i = 0; foreign[i]; i++)
            ok(!password_is_current(foreign[i]), "not current: %s", foreign[i]);
        ok(!password_is_current(NULL), "NULL is not current");
        ok(password_is_current("$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHRzYWx0c2FsdA"
                               "$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"),
           "a well-formed hash of the server's parameters is current");
    }
    return done_testing();
}
