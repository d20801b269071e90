/* smtp.c: the mail server settings (PROMPTD_SMTP_*) and one delivery over SMTP with libcurl (STARTTLS or implicit TLS, AUTH). */
#include "mail/smtp.h"

#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "core/config.h"
#include "mail/mail.h"

int smtp_settings(arena_t *a, smtp_settings_t *s, char *err, size_t errsz)
{
    const char *url = config_env("PROMPTD_SMTP_URL"), *from = config_env("PROMPTD_SMTP_FROM");
    long timeout = 30;

    memset(s, 0, sizeof *s);
    if (url == NULL || *url == '\0')
        return 0;
    if (strncmp(url, "smtp+starttls://", 16) == 0) {
        s->url = arena_printf(a, "smtp://%s", url + 16);
        s->starttls = true;
    } else if (strncmp(url, "smtp://", 7) == 0 || strncmp(url, "smtps://", 8) == 0) {
        s->url = url;
    } else {
        snprintf(err, errsz, "PROMPTD_SMTP_URL must start with smtp://, smtp+starttls:// or smtps://");
        return -1;
    }
    s->from = from != NULL && *from != '\0' ? from : "promptd <promptd@localhost>";
    if ((s->from_addr = mail_address_of(a, s->from)) == NULL) {
        snprintf(err, errsz, "PROMPTD_SMTP_FROM holds no mail address: %s", s->from);
        return -1;
    }
    s->username = config_secret("PROMPTD_SMTP_USERNAME", "smtp_username");
    s->password = config_secret("PROMPTD_SMTP_PASSWORD", "smtp_password");
    s->ca_file = config_env("PROMPTD_SMTP_CA_FILE");
    config_env_int("PROMPTD_SMTP_TIMEOUT", 30, 1, 600, &timeout);
    s->timeout_ms = timeout * 1000;
    return 1;
}

/* The message being uploaded. */
typedef struct smtp_upload {
    const char *p;
    size_t left;
} smtp_upload_t;

static size_t smtp_read(char *buf, size_t size, size_t n, void *data)
{
    smtp_upload_t *u = data;
    size_t take = size * n < u->left ? size * n : u->left;

    memcpy(buf, u->p, take);
    u->p += take;
    u->left -= take;
    return take;
}

smtp_result_t smtp_send(const smtp_settings_t *s, const char *rcpt, const char *message,
                        char *err, size_t errsz)
{
    CURL *c = curl_easy_init();
    struct curl_slist *to = NULL;
    smtp_upload_t up = {message, strlen(message)};
    char why[CURL_ERROR_SIZE] = "";
    smtp_result_t out = SMTP_RETRY;
    CURLcode rc;
    long code = 0;

    if (c == NULL || (to = curl_slist_append(NULL, rcpt)) == NULL) {
        snprintf(err, errsz, "out of memory");
        goto out;
    }
    curl_easy_setopt(c, CURLOPT_URL, s->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, s->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, s->timeout_ms < 10000 ? s->timeout_ms : 10000L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, why);
    if (s->starttls)
        curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    if (s->ca_file != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, s->ca_file);
    if (s->username != NULL) {
        curl_easy_setopt(c, CURLOPT_USERNAME, s->username);
        curl_easy_setopt(c, CURLOPT_PASSWORD, s->password != NULL ? s->password : "");
    }
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, s->from_addr);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, to);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, smtp_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &up);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)up.left);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (rc == CURLE_OK) {
        out = SMTP_SENT;
        goto out;
    }
    if (code != 0)
        snprintf(err, errsz, "SMTP %ld: %s", code, *why ? why : curl_easy_strerror(rc));
    else
        snprintf(err, errsz, "%s", *why ? why : curl_easy_strerror(rc));
    /* A 5xx to MAIL, RCPT or the message is final; anything else (no
     * connection, a 4xx, STARTTLS or login refused: the operator's to
     * fix) is tried again. */
    if (code >= 500 && code < 600 &&
        (rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR || rc == CURLE_WEIRD_SERVER_REPLY))
        out = SMTP_REJECTED;
out:
    curl_slist_free_all(to);
    curl_easy_cleanup(c);
    return out;
}
