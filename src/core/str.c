/* str.c: growable strings in an arena, UTF-8, URL and UUID helpers. */
#include "core/str.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto/hash.h"

void strbuf_init(strbuf_t *sb, arena_t *a, size_t cap)
{
    sb->arena = a;
    sb->cap = cap < 64 ? 64 : cap;
    sb->ptr = arena_alloc(a, sb->cap);
    sb->ptr[0] = '\0';
    sb->len = 0;
}

static void strbuf_reserve(strbuf_t *sb, size_t extra)
{
    char *p;

    if (sb->len + extra + 1 <= sb->cap)
        return;
    while (sb->len + extra + 1 > sb->cap)
        sb->cap *= 2;
    p = arena_alloc(sb->arena, sb->cap);
    memcpy(p, sb->ptr, sb->len + 1);
    sb->ptr = p;
}

void strbuf_append(strbuf_t *sb, const char *s, size_t n)
{
    strbuf_reserve(sb, n);
    if (n > 0)   /* s may be NULL when there is nothing to append */
        memcpy(sb->ptr + sb->len, s, n);
    sb->len += n;
    sb->ptr[sb->len] = '\0';
}

void strbuf_puts(strbuf_t *sb, const char *s)
{
    strbuf_append(sb, s, strlen(s));
}

void strbuf_putc(strbuf_t *sb, char c)
{
    strbuf_append(sb, &c, 1);
}

void strbuf_put_long(strbuf_t *sb, long v, int width)
{
    char d[24];
    size_t i = sizeof(d);
    unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;

    if (v < 0)
        strbuf_putc(sb, '-');
    do {
        d[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (i > 0 && (u > 0 || (long)(sizeof(d) - i) < (long)width));
    strbuf_append(sb, d + i, sizeof(d) - i);
}

void strbuf_printf(strbuf_t *sb, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    strbuf_reserve(sb, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(sb->ptr + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

void strbuf_html_escape(strbuf_t *sb, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': strbuf_puts(sb, "&amp;"); break;
        case '<': strbuf_puts(sb, "&lt;"); break;
        case '>': strbuf_puts(sb, "&gt;"); break;
        case '"': strbuf_puts(sb, "&quot;"); break;
        case '\'': strbuf_puts(sb, "&#39;"); break;
        default: strbuf_putc(sb, *s);
        }
    }
}

bool utf8_valid(const char *buf, size_t len)
{
    const unsigned char *s = (const unsigned char *)buf, *end = s + len;

    while (s < end) {
        unsigned c = *s;
        size_t n;
        uint32_t cp;

        if (c == 0)
            return false;
        if (c < 0x80) {
            s++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if ((size_t)(end - s) < n + 1)
            return false;
        for (size_t i = 1; i <= n; i++) {
            if ((s[i] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        s += n + 1;
    }
    return true;
}

size_t utf8_length(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* s percent-encoded for a URL's query component (RFC 3986: unreserved
 * characters as they are, every other byte as %XX), a new arena string. */
char *url_encode(arena_t *a, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = arena_alloc(a, 3 * strlen(s) + 1), *o = out;

    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || strchr("-._~", *p)) {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    return out;
}

char *url_decode(arena_t *a, const char *s, size_t n)
{
    char *out = arena_alloc(a, n + 1), *o = out;

    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            *o++ = ' ';
        } else if (s[i] == '%') {
            int hi, lo;

            if (i + 2 >= n)
                return NULL;
            hi = hexval((unsigned char)s[i + 1]);
            lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return NULL;
            *o++ = (char)(hi * 16 + lo);
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return utf8_valid(out, (size_t)(o - out)) ? out : NULL;
}

int url_form_value(arena_t *a, const char *s, const char *name, const char **out)
{
    size_t nlen = strlen(name);

    *out = NULL;
    while (s && *s) {
        size_t len = strcspn(s, "&");

        if (len >= nlen && strncmp(s, name, nlen) == 0 &&
            (len == nlen || s[nlen] == '=')) {
            size_t skip = len == nlen ? nlen : nlen + 1;

            *out = url_decode(a, s + skip, len - skip);
            return *out != NULL ? 1 : -1;
        }
        s += len;
        s += *s == '&';
    }
    return 0;
}

bool uuid_valid(const char *s)
{
    size_t i;

    if (s == NULL || strlen(s) != 36)
        return false;
    for (i = 0; i < 36; i++) {
        bool want_dash = i == 8 || i == 13 || i == 18 || i == 23;

        if (want_dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return false;
    }
    return true;
}

char *hex_encode(arena_t *a, const unsigned char *p, size_t n)
{
    char *out = arena_alloc(a, n * 2 + 1);

    hash_hex(p, n, out);
    return out;
}

bool str_to_long(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

bool str_ieq(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}

/* Strict RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM).
 * Ranges are left to PostgreSQL. */
bool rfc3339_shaped(const char *s)
{
    static const char tmpl[] = "dddd-dd-ddTdd:dd:dd";

    for (size_t i = 0; i < sizeof tmpl - 1; i++, s++)
        if (tmpl[i] == 'd' ? !isdigit((unsigned char)*s) : *s != tmpl[i])
            return false;
    if (*s == '.') {
        int n = 0;

        for (s++; isdigit((unsigned char)*s) && n < 10; s++, n++)
            ;
        if (n == 0 || n > 9)
            return false;
    }
    if (*s == 'Z')
        return s[1] == '\0';
    return (*s == '+' || *s == '-') && isdigit((unsigned char)s[1]) &&
           isdigit((unsigned char)s[2]) && s[3] == ':' &&
           isdigit((unsigned char)s[4]) && isdigit((unsigned char)s[5]) &&
           s[6] == '\0';
}
