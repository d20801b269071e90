/* mail.h: one mail from a kind's templates: rendering ({{name}} values) and the RFC 5322 / MIME message. */
#ifndef PROMPTD_MAIL_H
#define PROMPTD_MAIL_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "core/arena.h"

/* A kind's templates, each in the arena.  subject and text come from
 * <kind>.txt ("Subject: ..." on its first line, a blank line, the body),
 * html from <kind>.html; a file in PROMPTD_MAIL_TEMPLATES replaces the
 * built-in one of the same name. */
typedef struct mail_templates {
    const char *subject;
    const char *text;
    const char *html;
} mail_templates_t;

/* The rendered mail, ready for mail_message(). */
typedef struct mail {
    const char *from;         /* header From: "addr" or "Name <addr>" */
    const char *to;           /* one address */
    const char *subject;      /* UTF-8, one line */
    const char *text;         /* text/plain part, UTF-8 */
    const char *html;         /* text/html part, UTF-8 */
    const char *message_id;   /* without <>, e.g. "promptd.42.ab12@example.com" */
    long long date;           /* Unix time of the Date header */
} mail_t;

/* Load kind's templates from dir (NULL or "": the built-in ones only) into
 * t.  Returns 0, or -1 with a message in err (unknown kind, an override
 * file unreadable or without its Subject line). */
int mail_templates_load(arena_t *a, const char *kind, const char *dir,
                        mail_templates_t *t, char *err, size_t errsz);

/* tmpl with every {{name}} (spaces inside the braces allowed) replaced by
 * vars' member name: a string as is, a number as JSON writes it, anything
 * else or a missing member as "".  With html, values are HTML-escaped.
 * In the arena. */
char *mail_render(arena_t *a, const char *tmpl, const cJSON *vars, bool html);

/* The whole message: headers (From, To, Subject RFC 2047-encoded when not
 * ASCII, Date, Message-ID, MIME-Version) and a multipart/alternative body
 * of the text and HTML parts, base64 in lines of 76, CRLF line ends.  CR
 * and LF in a header value are replaced by spaces (no header injection).
 * In the arena. */
char *mail_message(arena_t *a, const mail_t *m);

/* The bare address of a From value ("Name <a@b>" -> "a@b", "a@b" -> "a@b"),
 * or NULL when it holds none or a control character.  In the arena. */
char *mail_address_of(arena_t *a, const char *from);

#endif
