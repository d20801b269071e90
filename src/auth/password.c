/* password.c: argon2id password hashing (bcrypt verified for migrated accounts) and the password policy. */
#include "auth/password.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <argon2.h>
#include <crypt.h>
#include <openssl/crypto.h>

#include "core/str.h"
#include "crypto/hash.h"
#include "crypto/random.h"

/* Very common passwords of PASSWORD_MIN_CHARS or more characters (from the
 * public top-password lists), compared case-insensitively. */
static const char *const common_passwords[] = {
    "password", "password1", "password12", "password123", "password1234",
    "passw0rd", "p@ssw0rd", "p@ssword", "12345678", "123456789",
    "1234567890", "0123456789", "87654321", "11111111", "00000000",
    "qwertyui", "qwertyuiop", "qwerty123", "qwerty12", "1q2w3e4r",
    "1q2w3e4r5t", "1qaz2wsx", "zaq12wsx", "asdfghjk", "asdfghjkl",
    "zxcvbnm1", "iloveyou", "iloveyou1", "sunshine", "princess",
    "football", "baseball", "welcome1", "welcome123", "letmein1",
    "trustno1", "superman", "starwars", "whatever", "dragon12",
    "master12", "monkey123", "abc12345", "abcd1234", "abcdefgh",
    "admin123", "administrator", "changeme", "changeme123", "secret123",
    "michael1", "jennifer", "computer", "internet", "freedom1",
    "12341234", "12121212", "123123123", "987654321", "qazwsxedc",
    NULL,
};

static char dummy_hash[PASSWORD_ENCODED_MAX];

bool password_hash(const char *password, char out[PASSWORD_ENCODED_MAX])
{
    unsigned char salt[PASSWORD_SALT_LEN];

    random_bytes(salt, sizeof(salt));
    return argon2id_hash_encoded(PASSWORD_T_COST, PASSWORD_M_COST,
                                 PASSWORD_PARALLELISM, password,
                                 strlen(password), salt, sizeof(salt),
                                 PASSWORD_HASH_LEN, out,
                                 PASSWORD_ENCODED_MAX) == ARGON2_OK;
}

void password_init(void)
{
    unsigned char pw[16];
    char hex[33];

    if (dummy_hash[0])
        return;
    random_bytes(pw, sizeof(pw));
    hash_hex(pw, sizeof(pw), hex);
    if (!password_hash(hex, dummy_hash))
        dummy_hash[0] = '\0';
    OPENSSL_cleanse(hex, sizeof(hex));
}

/* A bcrypt hash as Supabase's GoTrue writes them: $2a$/$2b$/$2y$, a two-digit
 * cost, 53 characters of salt and hash. */
static bool password_is_bcrypt(const char *encoded)
{
    return encoded && strlen(encoded) == 60 && encoded[0] == '$' && encoded[1] == '2' &&
           strchr("aby", encoded[2]) != NULL && encoded[3] == '$' &&
           encoded[6] == '$';
}

/* libxcrypt's bcrypt; the result is compared in constant time. */
static bool password_bcrypt_verify(const char *encoded, const char *password)
{
    struct crypt_data data;
    const char *out;

    memset(&data, 0, sizeof data);
    out = crypt_rn(password, encoded, &data, (int)sizeof data);
    return out != NULL && strlen(out) == 60 && CRYPTO_memcmp(out, encoded, 60) == 0;
}

bool password_verify(const char *encoded, const char *password)
{
    if (password_is_bcrypt(encoded))
        return password_bcrypt_verify(encoded, password);
    if (encoded == NULL || strncmp(encoded, "$argon2id$", 10) != 0) {
        password_init();
        if (dummy_hash[0])
            (void)argon2id_verify(dummy_hash, password, strlen(password));
        return false;
    }
    return argon2id_verify(encoded, password, strlen(password)) == ARGON2_OK;
}

/* "$argon2id$v=19$m=65536,t=3,p=1$": this build's PHC prefix. */
static const char *password_prefix(void)
{
    static char prefix[64];

    if (prefix[0] == '\0')
        snprintf(prefix, sizeof prefix, "$argon2id$v=%d$m=%d,t=%d,p=%d$",
                 ARGON2_VERSION_NUMBER, PASSWORD_M_COST, PASSWORD_T_COST,
                 PASSWORD_PARALLELISM);
    return prefix;
}

bool password_needs_rehash(const char *encoded)
{
    const char *prefix = password_prefix();

    return encoded == NULL || strncmp(encoded, prefix, strlen(prefix)) != 0;
}

/* n characters of the unpadded base64 alphabet (PHC strings) at s. */
static bool password_b64_run(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '/'))
            return false;
    return true;
}

bool password_is_current(const char *encoded)
{
    /* unpadded base64 lengths of the salt and the hash */
    const size_t salt = (PASSWORD_SALT_LEN * 4 + 2) / 3;
    const size_t hash = (PASSWORD_HASH_LEN * 4 + 2) / 3;
    const char *rest;

    if (password_needs_rehash(encoded))
        return false;
    rest = encoded + strlen(password_prefix());
    return strlen(rest) == salt + 1 + hash && rest[salt] == '$' &&
           password_b64_run(rest, salt) && password_b64_run(rest + salt + 1, hash);
}

const char *password_weakness(const char *password, const char **message)
{
    size_t n = strlen(password);
    bool same = true;

    if (utf8_length(password) < PASSWORD_MIN_CHARS) {
        *message = "Password should be at least 8 characters.";
        return "length";
    }
    for (size_t i = 1; i < n; i++)
        same = same && password[i] == password[0];
    if (same) {
        *message = "Password should not repeat a single character.";
        return "characters";
    }
    for (const char *const *p = common_passwords; *p; p++) {
        if (strcasecmp(password, *p) == 0) {
            *message = "Password is known to be weak and easy to guess, "
                       "please choose a different one.";
            return "pwned";
        }
    }
    return NULL;
}
