/* json.h: strict JSON parsing, duplicate-key checks and printing into an arena. */
#ifndef PROMPTD_JSON_H
#define PROMPTD_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "core/arena.h"
#include "core/str.h"

/* Structural limits on every JSON document json_parse_body reads, checked
 * by an O(n) scan of the text before cJSON builds a tree (README, "Limits
 * on every input"). */
#define JSON_MAX_DEPTH 64        /* objects and arrays nested in each other */
#define JSON_MAX_MEMBERS 1000    /* members of one object */
#define JSON_MAX_NODES 10000     /* values in one document (every object,
                                  * array, string, number, literal) */

/* Why a body was refused, and the answer that fits it. */
enum json_fault {
    JSON_FAULT_NONE,
    JSON_FAULT_SYNTAX,  /* not strict JSON (UTF-8, grammar, trailing data,
                         * duplicate key): 400 */
    JSON_FAULT_LIMIT,   /* beyond a JSON_MAX_* limit: 413 */
    JSON_FAULT_NUL,     /* a string holds U+0000 (escaped or raw): 422 */
};

typedef struct json_error {
    enum json_fault fault;
    const char *why;    /* short reason, lower case, no final period; for
                         * JSON_FAULT_NUL a message about field */
    const char *field;  /* JSON_FAULT_NUL: where, as "title", "tags[2]",
                         * "variables.a" ("body" for the root); else NULL */
} json_error_t;

/* Parse buf[0..len) strictly: within the JSON_MAX_* limits, no U+0000 in
 * any string, valid UTF-8, one JSON value, nothing after it but
 * whitespace, no duplicate keys in any object.  The tree is freed when the
 * arena is reset.  NULL on any failure, with *err saying why (strings from
 * the arena or static). */
cJSON *json_parse_body(arena_t *a, const char *buf, size_t len,
                       json_error_t *err);
/* json_parse_body with only the reason. */
cJSON *json_parse_strict(arena_t *a, const char *buf, size_t len,
                         const char **why);

/* True when any object in the tree repeats a key.  O(n log n) in the
 * members of each object; the one duplicate-key check (request bodies and
 * JWT headers and claims alike). */
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
/* Append s[0..n) escaped for inside a JSON string (no quotes added). */
void json_append_escaped(strbuf_t *sb, const char *s, size_t n);
/* The bytes json_append_escaped(s, n) appends. */
size_t json_escaped_len(const char *s, size_t n);

#endif
