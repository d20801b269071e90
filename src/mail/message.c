/* message.c: the RFC 5322 message of a rendered mail: headers, RFC 2047 subjects, a base64 multipart/alternative body. */
#include "mail/mail.h"

#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "core/str.h"
#include "crypto/random.h"

/* Append s with CR, LF and other control characters turned to spaces. */
static void mail_header_value(strbuf_t *sb, const char *s)
{
    for (; *s; s++)
        strbuf_putc(sb, (unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s);
}

static bool mail_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return false;
    return true;
}

/* Append n bytes of p base64-encoded, in lines of 76 ending with CRLF. */
static void mail_base64(strbuf_t *sb, const unsigned char *p, size_t n)
{
    unsigned char line[77];
    size_t take;

    while (n > 0) {
        take = n < 57 ? n : 57;    /* 57 bytes -> 76 characters */
        EVP_EncodeBlock(line, p, (int)take);
        strbuf_puts(sb, (const char *)line);
        strbuf_puts(sb, "\r\n");
        p += take;
        n -= take;
    }
}

/* The Subject header: as is when ASCII, else RFC 2047 encoded words of at
 * most 45 bytes of UTF-8 each (never splitting a character), folded. */
static void mail_subject(strbuf_t *sb, const char *s)
{
    unsigned char word[64];
    const char *p;
    size_t n, left;
    strbuf_t clean;

    strbuf_puts(sb, "Subject: ");
    if (mail_ascii(s)) {
        mail_header_value(sb, s);
        strbuf_puts(sb, "\r\n");
        return;
    }
    strbuf_init(&clean, sb->arena, strlen(s) + 1);
    mail_header_value(&clean, s);
    for (p = clean.ptr, left = clean.len; left > 0; p += n, left -= n) {
        n = left < 45 ? left : 45;
        while (n > 1 && n < left && ((unsigned char)p[n] & 0xC0) == 0x80)
            n--;    /* p[n] continues a character: stop before it */
        EVP_EncodeBlock(word, (const unsigned char *)p, (int)n);
        strbuf_printf(sb, "%s=?UTF-8?B?%s?=", p == clean.ptr ? "" : "\r\n ",
                      (const char *)word);
    }
    strbuf_puts(sb, "\r\n");
}

/* One part of the multipart body. */
static void mail_part(strbuf_t *sb, const char *boundary, const char *type, const char *body)
{
    strbuf_printf(sb, "--%s\r\nContent-Type: %s; charset=UTF-8\r\n"
                  "Content-Transfer-Encoding: base64\r\n\r\n", boundary, type);
    mail_base64(sb, (const unsigned char *)body, strlen(body));
}

char *mail_message(arena_t *a, const mail_t *m)
{
    strbuf_t sb;
    unsigned char rnd[12];
    char boundary[64], date[64];
    struct tm tm;
    time_t t = (time_t)m->date;

    random_bytes(rnd, sizeof rnd);
    strcpy(boundary, "=_promptd_");
    EVP_EncodeBlock((unsigned char *)boundary + strlen(boundary), rnd, sizeof rnd); /* 16 chars */
    for (char *c = boundary; *c; c++)
        if (*c == '/' || *c == '+')
            *c = '.';
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);

    strbuf_init(&sb, a, strlen(m->text) * 2 + strlen(m->html) * 2 + 1024);
    strbuf_puts(&sb, "From: ");
    mail_header_value(&sb, m->from);
    strbuf_puts(&sb, "\r\nTo: ");
    mail_header_value(&sb, m->to);
    strbuf_puts(&sb, "\r\n");
    mail_subject(&sb, m->subject);
    strbuf_printf(&sb, "Date: %s\r\nMessage-ID: <", date);
    mail_header_value(&sb, m->message_id);
    strbuf_printf(&sb, ">\r\nMIME-Version: 1.0\r\n"
                  "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n", boundary);
    mail_part(&sb, boundary, "text/plain", m->text);
    mail_part(&sb, boundary, "text/html", m->html);
    strbuf_printf(&sb, "--%s--\r\n", boundary);
    return sb.ptr;
}

char *mail_address_of(arena_t *a, const char *from)
{
    const char *lt = strrchr(from, '<'), *gt, *s;
    size_t n;

    if (lt != NULL) {
        if ((gt = strchr(lt, '>')) == NULL)
            return NULL;
        s = lt + 1;
        n = (size_t)(gt - s);
    } else {
        s = from;
        n = strlen(from);
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f || s[i] == '<' || s[i] == '>')
            return NULL;
    if (n == 0 || memchr(s, '@', n) == NULL)
        return NULL;
    return arena_strndup(a, s, n);
}
