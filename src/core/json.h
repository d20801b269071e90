/* json.h: strict JSON parsing and typed field readers for request bodies. */
#ifndef PROMPTD_JSON_H
#define PROMPTD_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "core/request.h"

/* Parse buf[0..len) strictly: valid UTF-8, one JSON value, nothing after it
 * but whitespace, no duplicate keys in any object.  The tree is freed when
 * the arena is reset.  NULL on any failure, with a short reason in *why. */
cJSON *json_parse_strict(arena_t *a, const char *buf, size_t len,
                         const char **why);

/* True when any object in the tree repeats a key. */
bool json_has_duplicate_keys(const cJSON *item);

/* Register cJSON_Delete(item) on the arena; returns item. */
cJSON *json_own(arena_t *a, cJSON *item);

/* Print item unformatted into the arena (integral numbers as integers). */
char *json_print(arena_t *a, const cJSON *item);
/* A copy of JSON text (len bytes, valid JSON) without the whitespace
 * between tokens (PostgreSQL's json_build_object writes "k" : v), from the
 * arena; *out_len gets its length. */
char *json_compact(arena_t *a, const char *json, size_t len, size_t *out_len);
/* Append item, or a string as a quoted JSON string, to sb. */
void json_append(strbuf_t *sb, const cJSON *item);
void json_append_string(strbuf_t *sb, const char *s);

/* Field readers for a request body object.  Each returns FIELD_ABSENT when
 * the member is missing, FIELD_OK with the value stored, or FIELD_BAD after
 * recording a field error on r (a JSON null is a wrong type). */
enum field_result { FIELD_ABSENT, FIELD_OK, FIELD_BAD };

/* A string of 1..max_chars code points (min 0 when allow_empty). */
enum field_result json_field_string(req_t *r, const cJSON *obj,
                                    const char *name, size_t max_chars,
                                    bool allow_empty, const char **out);
/* An array of at most max_items strings, each 1..max_chars code points. */
enum field_result json_field_string_array(req_t *r, const cJSON *obj,
                                          const char *name, size_t max_items,
                                          size_t max_chars, cJSON **out);
/* A JSON object (any members). */
enum field_result json_field_object(req_t *r, const cJSON *obj,
                                    const char *name, cJSON **out);
enum field_result json_field_bool(req_t *r, const cJSON *obj,
                                  const char *name, bool *out);
enum field_result json_field_int(req_t *r, const cJSON *obj, const char *name,
                                 long min, long max, long *out);

/* Record a field error for every member of obj not named in allowed[]
 * (NULL-terminated). */
void json_reject_unknown(req_t *r, const cJSON *obj,
                         const char *const *allowed);

#endif
