/* b64url.c: strict unpadded base64url (RFC 4648 section 5), no allocation. */
#include "crypto/b64url.h"

#include <limits.h>

static const char b64url_alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The 6-bit value of c, or -1 for anything outside the url-safe alphabet
 * (including '=', '+', '/', whitespace and NUL). */
static int
b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

size_t
b64url_encode(const unsigned char *in, size_t n, char *out)
{
    size_t i, o = 0;

    for (i = 0; i + 3 <= n; i += 3) {
        unsigned long v = (unsigned long)in[i] << 16 |
                          (unsigned long)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64url_alphabet[(v >> 18) & 63];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
        out[o++] = b64url_alphabet[(v >> 6) & 63];
        out[o++] = b64url_alphabet[v & 63];
    }
    if (n - i == 1) {
        unsigned long v = (unsigned long)in[i] << 16;
        out[o++] = b64url_alphabet[(v >> 18) & 63];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
    } else if (n - i == 2) {
        unsigned long v = (unsigned long)in[i] << 16 |
                          (unsigned long)in[i + 1] << 8;
        out[o++] = b64url_alphabet[(v >> 18) & 63];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
        out[o++] = b64url_alphabet[(v >> 6) & 63];
    }
    out[o] = '\0';
    return o;
}

/* A trailing group of 2 or 3 characters carries 4 or 2 unused bits; they
 * must be zero so that every byte string has exactly one encoding. */
long
b64url_decode(const char *in, size_t n, unsigned char *out)
{
    size_t i, o = 0, rem = n % 4;
    unsigned long v = 0;

    if (rem == 1 || n / 4 >= (size_t)LONG_MAX / 3)
        return -1;
    for (i = 0; i < n; i++) {
        int d = b64url_value((unsigned char)in[i]);
        if (d < 0)
            return -1;
        v = v << 6 | (unsigned long)d;
        if (i % 4 == 3) {
            out[o++] = (unsigned char)(v >> 16);
            out[o++] = (unsigned char)(v >> 8);
            out[o++] = (unsigned char)v;
            v = 0;
        }
    }
    if (rem == 2) {
        if (v & 0xf)
            return -1;
        out[o++] = (unsigned char)(v >> 4);
    } else if (rem == 3) {
        if (v & 0x3)
            return -1;
        out[o++] = (unsigned char)(v >> 10);
        out[o++] = (unsigned char)(v >> 2);
    }
    return (long)o;
}
