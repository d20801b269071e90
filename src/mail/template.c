/* template.c: the mail kinds' built-in templates, their overrides from PROMPTD_MAIL_TEMPLATES, and {{name}} rendering. */
#include "mail/mail.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/str.h"

/* One kind's built-in templates: txt is "Subject: ...\n\n<body>". */
typedef struct mail_builtin {
    const char *kind;
    const char *txt;
    const char *html;
} mail_builtin_t;

#define MAIL_HTML_HEAD "<!doctype html><html><body style=\"font-family:sans-serif\">"
#define MAIL_HTML_TAIL "<p style=\"color:#666\">{{site_name}}</p></body></html>\n"

static const mail_builtin_t mail_builtins[] = {
    { "confirmation",
      "Subject: Confirm your email for {{site_name}}\n\n"
      "Your confirmation code is {{code}}.\n\n"
      "Or open this link to confirm {{email}}:\n{{link}}\n\n"
      "The code expires in {{expires_in}}. If you did not sign up, ignore this mail.\n",
      MAIL_HTML_HEAD "<p>Your confirmation code is <b>{{code}}</b>.</p>"
      "<p><a href=\"{{link}}\">Confirm {{email}}</a></p>"
      "<p>The code expires in {{expires_in}}. If you did not sign up, ignore this mail.</p>"
      MAIL_HTML_TAIL },
    { "recovery",
      "Subject: Reset your {{site_name}} password\n\n"
      "Your password reset code is {{code}}.\n\n"
      "Or open this link to choose a new password:\n{{link}}\n\n"
      "The code expires in {{expires_in}}. If you did not ask for this, ignore this mail.\n",
      MAIL_HTML_HEAD "<p>Your password reset code is <b>{{code}}</b>.</p>"
      "<p><a href=\"{{link}}\">Choose a new password</a></p>"
      "<p>The code expires in {{expires_in}}. If you did not ask for this, ignore this mail.</p>"
      MAIL_HTML_TAIL },
    { "magic_link",
      "Subject: Your {{site_name}} sign-in code\n\n"
      "Your sign-in code is {{code}}.\n\n"
      "Or open this link to sign in:\n{{link}}\n\n"
      "The code expires in {{expires_in}}. If you did not ask for this, ignore this mail.\n",
      MAIL_HTML_HEAD "<p>Your sign-in code is <b>{{code}}</b>.</p>"
      "<p><a href=\"{{link}}\">Sign in</a></p>"
      "<p>The code expires in {{expires_in}}. If you did not ask for this, ignore this mail.</p>"
      MAIL_HTML_TAIL },
    { "email_change",
      "Subject: Confirm your new email for {{site_name}}\n\n"
      "Your code to confirm {{new_email}} is {{code}}.\n\n"
      "Or open this link to confirm it:\n{{link}}\n\n"
      "The code expires in {{expires_in}}. If you did not ask for this, ignore this mail.\n",
      MAIL_HTML_HEAD "<p>Your code to confirm {{new_email}} is <b>{{code}}</b>.</p>"
      "<p><a href=\"{{link}}\">Confirm {{new_email}}</a></p>"
      "<p>The code expires in {{expires_in}}. If you did not ask for this, ignore this mail.</p>"
      MAIL_HTML_TAIL },
    { "email_change_notice",
      "Subject: Your {{site_name}} email is changing\n\n"
      "Someone asked to change the email of your account to {{new_email}}.\n"
      "If that was not you, reset your password and contact us.\n",
      MAIL_HTML_HEAD "<p>Someone asked to change the email of your account to "
      "{{new_email}}.</p><p>If that was not you, reset your password and contact us.</p>"
      MAIL_HTML_TAIL },
    { "invitation",
      "Subject: {{inviter}} invited you to {{workspace}} on {{site_name}}\n\n"
      "{{inviter}} invited you to the workspace {{workspace}} as {{role}}.\n\n"
      "Your invitation code is {{code}}.\n\n"
      "Open this link to accept:\n{{link}}\n\n"
      "The invitation expires in {{expires_in}}.\n",
      MAIL_HTML_HEAD "<p>{{inviter}} invited you to the workspace <b>{{workspace}}</b> as "
      "{{role}}.</p><p>Your invitation code is <b>{{code}}</b>.</p>"
      "<p><a href=\"{{link}}\">Accept the invitation</a></p>"
      "<p>The invitation expires in {{expires_in}}.</p>" MAIL_HTML_TAIL },
    { "test",
      "Subject: {{site_name}} test mail\n\n"
      "This is a test mail from {{site_name}} ({{site_url}}).\n",
      MAIL_HTML_HEAD "<p>This is a test mail from {{site_name}} "
      "(<a href=\"{{site_url}}\">{{site_url}}</a>).</p>" MAIL_HTML_TAIL },
};

/* dir/name read whole into the arena; NULL with errno ENOENT when absent,
 * NULL with another errno when unreadable or over 256 KiB. */
static char *mail_file(arena_t *a, const char *dir, const char *name)
{
    char *path = arena_printf(a, "%s/%s", dir, name), *buf = NULL;
    FILE *f = fopen(path, "rb");
    size_t n;

    if (f == NULL)
        return NULL;
    buf = arena_alloc(a, 262144 + 1);
    n = fread(buf, 1, 262144 + 1, f);
    if (ferror(f) || n > 262144) {
        fclose(f);
        errno = EFBIG;
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* Split "Subject: s\n\nbody" (CRLF or LF) into t; -1 without the line. */
static int mail_split_txt(arena_t *a, const char *txt, mail_templates_t *t)
{
    const char *eol;

    if (strncmp(txt, "Subject:", 8) != 0 || (eol = strchr(txt, '\n')) == NULL)
        return -1;
    txt += 8;
    while (*txt == ' ' || *txt == '\t')
        txt++;
    t->subject = arena_strndup(a, txt, (size_t)(eol - txt) - (eol > txt && eol[-1] == '\r'));
    eol++;
    if (*eol == '\r')
        eol++;
    if (*eol == '\n')
        eol++;
    t->text = eol;
    return 0;
}

/* One template of kind: the override dir/<kind>.<ext> when present, else
 * the built-in; NULL (err set) when the override cannot be read. */
static const char *mail_pick(arena_t *a, const char *dir, const char *kind, const char *ext,
                             const char *builtin, char *err, size_t errsz)
{
    char *s;

    if (dir == NULL || *dir == '\0')
        return builtin;
    errno = 0;
    s = mail_file(a, dir, arena_printf(a, "%s.%s", kind, ext));
    if (s != NULL)
        return s;
    if (errno == ENOENT)
        return builtin;
    snprintf(err, errsz, "template %s/%s.%s: %s", dir, kind, ext, strerror(errno));
    return NULL;
}

int mail_templates_load(arena_t *a, const char *kind, const char *dir,
                        mail_templates_t *t, char *err, size_t errsz)
{
    const mail_builtin_t *b = NULL;
    const char *txt;
    size_t i;

    for (i = 0; i < sizeof mail_builtins / sizeof mail_builtins[0]; i++)
        if (strcmp(mail_builtins[i].kind, kind) == 0)
            b = &mail_builtins[i];
    if (b == NULL) {
        snprintf(err, errsz, "unknown mail kind %s", kind);
        return -1;
    }
    if ((txt = mail_pick(a, dir, kind, "txt", b->txt, err, errsz)) == NULL ||
        (t->html = mail_pick(a, dir, kind, "html", b->html, err, errsz)) == NULL)
        return -1;
    if (mail_split_txt(a, txt, t) != 0) {
        snprintf(err, errsz, "template %s/%s.txt: the first line must be \"Subject: ...\"",
                 dir, kind);
        return -1;
    }
    return 0;
}

/* The text of vars' member name[0..n) ("" when missing or not a string or
 * number); in the arena. */
static const char *mail_value(arena_t *a, const cJSON *vars, const char *name, size_t n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(vars, arena_strndup(a, name, n));
    char *s;

    if (cJSON_IsString(v))
        return v->valuestring;
    if (cJSON_IsNumber(v) && (s = cJSON_PrintUnformatted(v)) != NULL) {
        const char *copy = arena_strdup(a, s);

        cJSON_free(s);
        return copy;
    }
    return "";
}

char *mail_render(arena_t *a, const char *tmpl, const cJSON *vars, bool html)
{
    strbuf_t sb;
    const char *p = tmpl, *open, *close, *name, *end;

    strbuf_init(&sb, a, strlen(tmpl) + 256);
    while ((open = strstr(p, "{{")) != NULL && (close = strstr(open + 2, "}}")) != NULL) {
        strbuf_append(&sb, p, (size_t)(open - p));
        for (name = open + 2; name < close && *name == ' '; name++)
            ;
        for (end = close; end > name && end[-1] == ' '; end--)
            ;
        if (html)
            strbuf_html_escape(&sb, mail_value(a, vars, name, (size_t)(end - name)));
        else
            strbuf_puts(&sb, mail_value(a, vars, name, (size_t)(end - name)));
        p = close + 2;
    }
    strbuf_puts(&sb, p);
    return sb.ptr;
}
