/* password.h: argon2id password hashing (bcrypt verified for migrated accounts) and the password policy. */
#ifndef PROMPTD_PASSWORD_H
#define PROMPTD_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

/* argon2id parameters (README "Built-in auth"): t=3 passes, m=64 MiB,
 * p=1 lane, 16-byte salt, 32-byte hash, PHC-encoded
 * ("$argon2id$v=19$m=65536,t=3,p=1$<salt>$<hash>"). */
#define PASSWORD_T_COST 3
#define PASSWORD_M_COST 65536   /* KiB */
#define PASSWORD_PARALLELISM 1
#define PASSWORD_SALT_LEN 16
#define PASSWORD_HASH_LEN 32
#define PASSWORD_ENCODED_MAX 128

#define PASSWORD_MIN_CHARS 8      /* code points */
#define PASSWORD_MAX_BYTES 1024   /* bounds the work spent on input */

/* Hash password into out (PASSWORD_ENCODED_MAX bytes) with a fresh random
 * salt.  False only when libargon2 fails (out of memory). */
bool password_hash(const char *password, char out[PASSWORD_ENCODED_MAX]);

/* True when password matches encoded: an argon2id PHC string, or a bcrypt
 * hash ($2a$/$2b$/$2y$, as Supabase's GoTrue stores them, so accounts moved
 * from Supabase keep their passwords).  With encoded NULL or of any other
 * kind, verifies against a dummy argon2id hash of the same parameters (so an
 * unknown account costs the same time) and returns false. */
bool password_verify(const char *encoded, const char *password);

/* True when encoded is not argon2id with this build's parameters (a bcrypt
 * hash, older argon2 parameters): after a successful sign-in the caller
 * stores a fresh password_hash() in its place. */
bool password_needs_rehash(const char *encoded);

/* True when encoded is an argon2id PHC string with exactly this build's
 * parameters, salt and hash lengths (what password_hash() writes).  Where
 * anyone but this server may have written a hash (share links), check it
 * before password_verify(): a hash with other parameters would make the
 * verifier run at its writer's cost. */
bool password_is_current(const char *encoded);

/* Build the dummy hash now (a worker calls it at start so that the first
 * unknown-account sign-in costs no more than the others). */
void password_init(void);

/* NULL when password meets the policy; otherwise GoTrue's weak-password
 * reason ("length", "characters" or "pwned") and a client-safe message in
 * *message.  Policy: at least PASSWORD_MIN_CHARS code points, not one
 * repeated character, not in a built-in list of very common passwords
 * (compared case-insensitively). */
const char *password_weakness(const char *password, const char **message);

#endif
