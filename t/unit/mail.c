/* t/unit/mail.c: mail templates (built-in, overrides, {{name}} rendering and escaping), the MIME message (headers, RFC 2047, base64, no header injection), From addresses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core/arena.h"
#include "mail/mail.h"
#include "tap.h"

static void test_render(arena_t *a)
{
    cJSON *v = cJSON_Parse("{\"code\":\"123456\",\"n\":7,\"name\":\"<b>&'\\\"\",\"o\":{}}");

    is_str(mail_render(a, "code {{code}}, {{ code }}!", v, false), "code 123456, 123456!",
           "values replace {{name}}, spaces inside the braces allowed");
    is_str(mail_render(a, "{{n}} {{missing}}|{{o}}|", v, false), "7 ||",
           "numbers as JSON writes them; missing or non-scalar values are empty");
    is_str(mail_render(a, "{{name}}", v, true), "&lt;b&gt;&amp;&#39;&quot;",
           "HTML templates escape values");
    is_str(mail_render(a, "{{name}}", v, false), "<b>&'\"", "text templates do not");
    is_str(mail_render(a, "a {{ unclosed", v, false), "a {{ unclosed", "an unclosed {{ stays");
    cJSON_Delete(v);
}

static void test_templates(arena_t *a)
{
    static const char *kinds[] = {"confirmation", "recovery", "magic_link", "email_change",
                                  "invitation"};
    char dir[] = "/tmp/promptd-mail-unit-XXXXXX", err[256], path[128];
    mail_templates_t t;
    FILE *f;

    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        ok(mail_templates_load(a, kinds[i], NULL, &t, err, sizeof err) == 0 &&
           strstr(t.text, "{{code}}") && strstr(t.text, "{{link}}") &&
           strstr(t.html, "{{code}}") && strstr(t.html, "{{link}}") && *t.subject,
           "built-in %s: a subject, and the code and link in both parts", kinds[i]);
    }
    ok(mail_templates_load(a, "nonesuch", NULL, &t, err, sizeof err) == -1 &&
       strstr(err, "unknown mail kind"), "an unknown kind is refused: %s", err);

    if (!ok(mkdtemp(dir) != NULL, "a template folder"))
        return;
    snprintf(path, sizeof path, "%s/recovery.txt", dir);
    f = fopen(path, "w");
    fputs("Subject: Reset {{email}}\r\n\r\nCode: {{code}}\n", f);
    fclose(f);
    ok(mail_templates_load(a, "recovery", dir, &t, err, sizeof err) == 0 &&
       strcmp(t.subject, "Reset {{email}}") == 0 && strcmp(t.text, "Code: {{code}}\n") == 0 &&
       strstr(t.html, "<a href=\"{{link}}\">") != NULL,
       "an override .txt replaces subject and text (CRLF too); the built-in HTML stays");
    snprintf(path, sizeof path, "%s/magic_link.txt", dir);
    f = fopen(path, "w");
    fputs("no subject line\n\nbody\n", f);
    fclose(f);
    ok(mail_templates_load(a, "magic_link", dir, &t, err, sizeof err) == -1 &&
       strstr(err, "Subject") != NULL, "an override without its Subject line: %s", err);
    ok(mail_templates_load(a, "confirmation", dir, &t, err, sizeof err) == 0,
       "kinds without an override file keep their built-ins");
    unlink(path);
    snprintf(path, sizeof path, "%s/recovery.txt", dir);
    unlink(path);
    rmdir(dir);
}

/* The decoded base64 part after the header "Content-Type: <type>". */
static char *part_of(arena_t *a, const char *msg, const char *type)
{
    const char *p = strstr(msg, type), *end;
    unsigned char *out;
    char *b64;
    size_t n = 0;

    if (p == NULL || (p = strstr(p, "\r\n\r\n")) == NULL || (end = strstr(p, "--=_")) == NULL)
        return NULL;
    b64 = arena_alloc(a, (size_t)(end - p) + 1);
    for (p += 4; p < end; p++)
        if (*p != '\r' && *p != '\n')
            b64[n++] = *p;
    b64[n] = '\0';
    out = arena_alloc(a, n + 1);
    n = (size_t)EVP_DecodeBlock(out, (unsigned char *)b64, (int)n);
    while (n > 0 && out[n - 1] == '\0')
        n--;    /* EVP_DecodeBlock counts padding as bytes */
    out[n] = '\0';
    return (char *)out;
}

static void test_message(arena_t *a)
{
    char longtext[300];
    mail_t m = {.from = "promptd <no-reply@example.com>", .to = "a@example.com",
                .subject = "Hello\r\nBcc: evil@example.com", .text = longtext,
                .html = "<p>h\xc3\xa9</p>", .message_id = "promptd.1.ab@example.com",
                .date = 0};
    const char *msg, *line, *nl;
    int longest = 0;

    memset(longtext, 'x', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = '\0';
    msg = mail_message(a, &m);
    ok(strncmp(msg, "From: promptd <no-reply@example.com>\r\nTo: a@example.com\r\n", 57) == 0,
       "From and To first");
    ok(strstr(msg, "Subject: Hello  Bcc: evil@example.com\r\n") != NULL &&
       strstr(msg, "\r\nBcc:") == NULL, "CR LF in the subject cannot add a header");
    ok(strstr(msg, "Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n") != NULL, "RFC 5322 Date");
    ok(strstr(msg, "Message-ID: <promptd.1.ab@example.com>\r\n") != NULL, "Message-ID");
    ok(strstr(msg, "multipart/alternative; boundary=\"=_promptd_") != NULL, "multipart");
    is_str(part_of(a, msg, "text/plain"), longtext, "the text part decodes to the text");
    is_str(part_of(a, msg, "text/html"), "<p>h\xc3\xa9</p>", "the HTML part decodes to the HTML");
    for (line = msg; (nl = strstr(line, "\r\n")) != NULL; line = nl + 2)
        if (nl - line > longest)
            longest = (int)(nl - line);
    ok(longest <= 78, "no line over 78 characters (longest %d)", longest);

    m.subject = "Caf\xc3\xa9 \xe2\x80\x94 a long subject that needs more than one encoded word "
                "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9";
    msg = mail_message(a, &m);
    ok(strstr(msg, "Subject: =?UTF-8?B?") != NULL && strstr(msg, "?=\r\n =?UTF-8?B?") != NULL,
       "a non-ASCII subject is RFC 2047 encoded words, folded");
}

static void test_address(arena_t *a)
{
    is_str(mail_address_of(a, "promptd <no-reply@example.com>"), "no-reply@example.com",
           "Name <addr>");
    is_str(mail_address_of(a, "a@b.example"), "a@b.example", "a bare address");
    ok(mail_address_of(a, "no address") == NULL, "no @: none");
    ok(mail_address_of(a, "x <a@b\r\nc>") == NULL, "control characters: none");
    ok(mail_address_of(a, "x <a@b") == NULL, "an unclosed <: none");
}

int main(void)
{
    arena_t *a = arena_create(65536);

    test_render(a);
    test_templates(a);
    test_message(a);
    test_address(a);
    arena_destroy(a);
    return done_testing();
}
