/* smtp.h: the mail server settings (PROMPTD_SMTP_*) and one delivery over SMTP with libcurl. */
#ifndef PROMPTD_MAIL_SMTP_H
#define PROMPTD_MAIL_SMTP_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"

/* The settings, read by smtp_settings.  Strings are in the arena. */
typedef struct smtp_settings {
    const char *url;        /* for curl: smtp://host:port or smtps://host:port */
    bool starttls;          /* the URL said smtp+starttls://: STARTTLS required */
    const char *from;       /* PROMPTD_SMTP_FROM, the From header */
    const char *from_addr;  /* its bare address: the envelope sender */
    const char *username;   /* PROMPTD_SMTP_USERNAME / secrets smtp_username; NULL: no AUTH */
    const char *password;   /* PROMPTD_SMTP_PASSWORD / secrets smtp_password */
    const char *ca_file;    /* PROMPTD_SMTP_CA_FILE: trust this CA instead of the system's */
    long timeout_ms;        /* PROMPTD_SMTP_TIMEOUT seconds, default 30 */
} smtp_settings_t;

/* Read the settings into s.  Returns 1 configured, 0 when PROMPTD_SMTP_URL
 * is unset or empty (mail then goes to the log), -1 with the reason in err
 * for a bad URL scheme or From. */
int smtp_settings(arena_t *a, smtp_settings_t *s, char *err, size_t errsz);

/* The outcome of one delivery. */
typedef enum smtp_result {
    SMTP_SENT,        /* the server accepted the message */
    SMTP_RETRY,       /* unreachable, a 4xx, TLS or login trouble: try again later */
    SMTP_REJECTED     /* a 5xx to the sender, recipient or message: final */
} smtp_result_t;

/* Send message (RFC 5322 text, CRLF) from s->from_addr to rcpt.  err gets
 * the server's code and curl's reason unless SMTP_SENT. */
smtp_result_t smtp_send(const smtp_settings_t *s, const char *rcpt, const char *message,
                        char *err, size_t errsz);

#endif
