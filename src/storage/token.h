/* token.h: the HMAC tokens of signed download and upload URLs (payload.mac, both base64url), made by the storage family and the share pages. */
#ifndef PROMPTD_STORAGE_TOKEN_H
#define PROMPTD_STORAGE_TOKEN_H

#include <cjson/cJSON.h>

#include "core/arena.h"

#define STORAGE_TOKEN_MAX 2048

/* The token carrying payload (a JSON object), signed with key:
 * base64url(payload JSON) "." base64url(HMAC-SHA256(key, "promptd-storage."
 * first part)).  Arena string. */
const char *storage_token_make(arena_t *a, const char *key, const cJSON *payload);

/* The payload of a token key signed, or NULL when it is malformed, longer
 * than STORAGE_TOKEN_MAX or its MAC does not match (compared in constant
 * time).  Expiry and the fields are the caller's to check.  Arena-owned. */
cJSON *storage_token_open(arena_t *a, const char *key, const char *token);

#endif
