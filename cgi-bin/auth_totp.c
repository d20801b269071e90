/* auth_totp.c: RFC 6238 TOTP (SHA-1, 6 digits, 30 s), its base32 secret, the otpauth:// URI and its QR code as SVG (libqrencode). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <qrencode.h>

#include "core/json.h"
#include "core/str.h"
#include "http/request.h"
#include "auth.h"

#define QR_QUIET 4          /* modules of white border (ISO/IEC 18004) */
#define QR_SCALE 3          /* pixels per module in width/height, as GoTrue */

/* Base32 (RFC 4648 alphabet, no padding) of b[0..n), in the arena. */
char *totp_base32(req_t *r, const unsigned char *b, size_t n)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    char *out = arena_alloc(r->arena, (n * 8 + 4) / 5 + 1), *o = out;
    unsigned buf = 0;
    int bits = 0;

    for (size_t i = 0; i < n; i++) {
        buf = (buf << 8) | b[i];
        bits += 8;
        while (bits >= 5) {
            *o++ = abc[(buf >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0)
        *o++ = abc[(buf << (5 - bits)) & 31];
    *o = '\0';
    return out;
}

/* The 6-digit HOTP value (RFC 4226) of key at counter step. */
static unsigned totp_at(const unsigned char *key, size_t len, uint64_t step)
{
    unsigned char msg[8], mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0, off;
    uint32_t v;

    for (int i = 7; i >= 0; i--, step >>= 8)
        msg[i] = (unsigned char)(step & 0xff);
    if (HMAC(EVP_sha1(), key, (int)len, msg, sizeof(msg), mac, &maclen) == NULL ||
        maclen < 20)
        return UINT32_MAX;       /* never a 6-digit code */
    off = mac[maclen - 1] & 0x0f;
    v = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
        ((uint32_t)mac[off + 2] << 8) | mac[off + 3];
    OPENSSL_cleanse(mac, sizeof(mac));
    return v % 1000000u;
}

/* Match code (exactly 6 ASCII digits) against key at the steps now-1,
 * now and now+1 (30 s each): TOTP_OK with *step the matching step after
 * last_step (-1: none used yet); TOTP_REUSED when it matches only a step
 * already used; TOTP_WRONG otherwise.  Every step is computed (no early
 * exit on the code's value). */
enum totp_match totp_check(const unsigned char *key, size_t len, const char *code,
                           time_t now, long long last_step, long long *step)
{
    enum totp_match res = TOTP_WRONG;
    long long cur = (long long)(now / TOTP_PERIOD);
    unsigned want = 0;

    if (strlen(code) != TOTP_DIGITS || strspn(code, "0123456789") != TOTP_DIGITS)
        return TOTP_WRONG;
    for (int i = 0; i < TOTP_DIGITS; i++)
        want = want * 10 + (unsigned)(code[i] - '0');
    for (long long s = cur - 1; s <= cur + 1; s++) {
        if (totp_at(key, len, (uint64_t)s) != want)
            continue;
        if (s > last_step && res != TOTP_OK) {
            res = TOTP_OK;
            *step = s;
        } else if (res == TOTP_WRONG) {
            res = TOTP_REUSED;
        }
    }
    return res;
}

/* s percent-encoded for a URI component (RFC 3986 unreserved kept). */
static void uri_escape(strbuf_t *sb, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
            (c >= '0' && c <= '9') || strchr("-._~", c))
            strbuf_putc(sb, (char)c);
        else
            strbuf_printf(sb, "%%%02X", c);
    }
}

/* otpauth://totp/<issuer>:<account>?secret=...&issuer=...&algorithm=SHA1
 * &digits=6&period=30 (Google Authenticator's key URI format, as GoTrue's
 * pquerna/otp writes it), in the arena. */
char *totp_uri(req_t *r, const char *issuer, const char *account, const char *secret)
{
    strbuf_t sb;

    strbuf_init(&sb, r->arena, 256);
    strbuf_puts(&sb, "otpauth://totp/");
    uri_escape(&sb, issuer);
    strbuf_putc(&sb, ':');
    uri_escape(&sb, account);
    strbuf_printf(&sb, "?algorithm=SHA1&digits=%d&issuer=", TOTP_DIGITS);
    uri_escape(&sb, issuer);
    strbuf_printf(&sb, "&period=%d&secret=%s", TOTP_PERIOD, secret);
    return sb.ptr;
}

/* text as a QR code (error correction M, byte mode) in an SVG document:
 * one path of dark modules inside a white quiet zone, in the arena; NULL
 * when libqrencode fails (text too long, out of memory). */
char *totp_qr_svg(req_t *r, const char *text)
{
    QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    strbuf_t sb;
    int w, side;

    if (qr == NULL)
        return NULL;
    w = qr->width;
    side = w + 2 * QR_QUIET;
    strbuf_init(&sb, r->arena, (size_t)w * (size_t)w * 4 + 256);
    strbuf_printf(&sb, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
                  "height=\"%d\" viewBox=\"0 0 %d %d\" shape-rendering=\"crispEdges\">"
                  "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
                  side * QR_SCALE, side * QR_SCALE, side, side, side, side);
    for (int y = 0; y < w; y++) {
        for (int x = 0; x < w; x++) {
            int run = 0;

            while (x + run < w && (qr->data[y * w + x + run] & 1))
                run++;
            if (run > 0)
                strbuf_printf(&sb, "M%d %dh%dv1h-%dz", x + QR_QUIET, y + QR_QUIET, run, run);
            x += run;
        }
    }
    strbuf_puts(&sb, "\"/></svg>");
    QRcode_free(qr);
    return sb.ptr;
}
