/* str.h: growable strings in an arena, UTF-8, URL and UUID helpers. */
#ifndef PROMPTD_STR_H
#define PROMPTD_STR_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"

/* A growable string whose storage lives in an arena (old storage is simply
 * abandoned to the arena when it grows).  s.ptr is always NUL-terminated. */
typedef struct {
    arena_t *arena;
    char *ptr;
    size_t len;
    size_t cap;
} strbuf_t;

void strbuf_init(strbuf_t *sb, arena_t *a, size_t cap);
void strbuf_append(strbuf_t *sb, const char *s, size_t n);
void strbuf_puts(strbuf_t *sb, const char *s);
void strbuf_putc(strbuf_t *sb, char c);
/* Append v in decimal, zero-padded to at least width digits (after a '-'
 * when negative): what "%0*ld" gives, without printf's cost. */
void strbuf_put_long(strbuf_t *sb, long v, int width);
void strbuf_printf(strbuf_t *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Append s (NULL: nothing) HTML-escaped (& < > " ') for text and
 * double- or single-quoted attribute contexts alike. */
void strbuf_html_escape(strbuf_t *sb, const char *s);

/* True when buf[0..len) is well-formed UTF-8 (no overlongs, surrogates or
 * code points above U+10FFFF) and contains no NUL byte. */
bool utf8_valid(const char *buf, size_t len);
/* Number of code points in a valid UTF-8 string. */
size_t utf8_length(const char *s);

/* s percent-encoded for a query component (unreserved kept), in a. */
char *url_encode(arena_t *a, const char *s);

/* Decode %XX and '+' of a query component into a new arena string.
 * Returns NULL when the escape is malformed or the result is not UTF-8. */
char *url_decode(arena_t *a, const char *s, size_t n);

/* The first "name=value" (or bare "name", value "") of an
 * application/x-www-form-urlencoded string s (a query string or a form
 * body; NULL reads as empty): 1 with *out the decoded value (an arena
 * string), 0 when absent, -1 when its escape is malformed or it is not
 * UTF-8 (*out NULL either way). */
int url_form_value(arena_t *a, const char *s, const char *name, const char **out);

/* A whole decimal integer in min..max (strtol's syntax: leading blanks and
 * a sign are allowed, nothing after the digits): true with *out set, else
 * false and *out untouched. */
bool str_to_long(const char *s, long min, long max, long *out);

/* True for the canonical 8-4-4-4-12 hexadecimal UUID form. */
bool uuid_valid(const char *s);

/* Lower-case hex of n bytes into a new arena string. */
char *hex_encode(arena_t *a, const unsigned char *p, size_t n);

/* Case-insensitive ASCII compare. */
bool str_ieq(const char *a, const char *b);

/* Strict RFC 3339 date-time shape: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM).
 * Ranges are left to PostgreSQL. */
bool rfc3339_shaped(const char *s);

#endif
