/* token.h: the HMAC tokens of signed download and upload URLs (payload.mac, both base64url), made by the storage family and the share pages. */
#ifndef PROMPTD_STORAGE_TOKEN_H
#define PROMPTD_STORAGE_TOKEN_H

#include <stdbool.h>

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

/* The path of a signed download URL under /storage/v1 for signed-URL
 * record id, ending at exp (epoch seconds), with a transform's canonical
 * query (NULL or "": none; the URL then goes to /render/image):
 * "/object/sign/<bucket>/<name>?token=...".  With encode, bucket and name
 * are percent-encoded (every byte but A-Z a-z 0-9 - . _ ~, and the name's
 * slashes), as a link in a page or document needs; without, they are as
 * given (Supabase Storage's signedURL, which storage-js encodes itself).
 * Arena string. */
const char *storage_token_signed_path(arena_t *a, const char *key, const char *bucket,
                                      const char *name, const char *id, long long exp,
                                      const char *transform, bool encode);

#endif
