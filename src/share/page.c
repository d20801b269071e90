/* page.c: the share family's HTML pages: the prompt, the password form, short messages. */
#include "share/page.h"

#include <string.h>
#include <strings.h>

#include "core/config.h"
#include "core/json.h"
#include "http/dbreply.h"
#include "http/response.h"
#include "core/str.h"
#include "share/token.h"

#define PAGE_EXCERPT_CHARS 200
#define PAGE_CSP                                                            \
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; " \
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

/* The first PAGE_EXCERPT_CHARS code points of s with runs of whitespace
 * made one space (for descriptions), "..." appended when cut. */
static const char *excerpt(arena_t *a, const char *s)
{
    strbuf_t sb;
    size_t chars = 0;
    bool space = false;

    strbuf_init(&sb, a, 256);
    for (s += strspn(s, " \t\r\n"); *s && chars < PAGE_EXCERPT_CHARS; s++) {
        if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') {
            space = true;
            continue;
        }
        if (space) {
            strbuf_putc(&sb, ' ');
            chars++;
            space = false;
        }
        strbuf_putc(&sb, *s);
        if (((unsigned char)s[1] & 0xC0) != 0x80)
            chars++;
    }
    if (*s)
        strbuf_puts(&sb, "...");
    return sb.ptr;
}

static void page_head(strbuf_t *sb, const char *title, bool noindex)
{
    strbuf_puts(sb, "<!doctype html>\n<html lang=\"en\">\n<head>\n"
                    "<meta charset=\"utf-8\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                    "<title>");
    strbuf_html_escape(sb, title);
    strbuf_puts(sb, " \xc2\xb7 promptd</title>\n");
    if (noindex)
        strbuf_puts(sb, "<meta name=\"robots\" content=\"noindex, nofollow\">\n");
    strbuf_puts(sb, "<link rel=\"stylesheet\" href=\"" SHARE_ASSETS "/share.css\">\n"
                    "<link rel=\"icon\" href=\"" SHARE_ASSETS "/icon.svg\" type=\"image/svg+xml\">\n");
}

static void meta_tag(strbuf_t *sb, const char *attr, const char *name, const char *value)
{
    strbuf_printf(sb, "<meta %s=\"%s\" content=\"", attr, name);
    strbuf_html_escape(sb, value);
    strbuf_puts(sb, "\">\n");
}

/* Record an HTML answer with the page's security headers. */
static int page_reply(req_t *r, int status, strbuf_t *sb)
{
    r->status = status;
    r->content_type = "text/html; charset=utf-8";
    r->resp_body = sb->ptr;
    r->resp_len = sb->len;
    r->etag = NULL;
    resp_header(r, "Content-Security-Policy", PAGE_CSP);
    return status;
}

int share_page_message(req_t *r, int status, const char *title, const char *text)
{
    strbuf_t sb;

    strbuf_init(&sb, r->arena, 1024);
    page_head(&sb, title, true);
    strbuf_puts(&sb, "</head>\n<body>\n<main class=\"share message\">\n<h1>");
    strbuf_html_escape(&sb, title);
    strbuf_puts(&sb, "</h1>\n<p>");
    strbuf_html_escape(&sb, text);
    strbuf_puts(&sb, "</p>\n</main>\n</body>\n</html>\n");
    return page_reply(r, status, &sb);
}

int share_page_state(req_t *r, const char *state)
{
    if (strcmp(state, "gone") == 0)
        return share_page_message(r, 410, "Link no longer available",
                                  "This share link was revoked or has expired.");
    return share_page_message(r, 404, "Link not found",
                              "There is no share link at this address.");
}

int share_page_password(req_t *r, int status, const char *token, bool wrong)
{
    strbuf_t sb;

    strbuf_init(&sb, r->arena, 2048);
    page_head(&sb, "Password required", true);
    strbuf_puts(&sb, "</head>\n<body>\n<main class=\"share locked\">\n"
                     "<h1>This prompt is password-protected</h1>\n");
    if (wrong)
        strbuf_puts(&sb, "<p class=\"error\" role=\"alert\">Wrong password; try again.</p>\n");
    strbuf_puts(&sb, "<form method=\"post\" action=\"/s/");
    strbuf_html_escape(&sb, token);
    strbuf_puts(&sb, "\">\n<label for=\"password\">Password</label>\n"
                     "<input id=\"password\" name=\"password\" type=\"password\" "
                     "required autocomplete=\"current-password\">\n"
                     "<button type=\"submit\">Open</button>\n</form>\n"
                     "</main>\n</body>\n</html>\n");
    /* never cached by nginx or anyone else */
    resp_header(r, "X-Accel-Expires", "0");
    if (status < 400)
        resp_header(r, "Cache-Control", "private, no-store");
    return page_reply(r, status, &sb);
}

/* The prompt page's <head>: title, description and the link previews'
 * Open Graph and Twitter tags, the script. */
static void content_head(req_t *r, strbuf_t *sb, const share_page_t *p)
{
    const char *desc = excerpt(r->arena, p->content);

    page_head(sb, p->title, p->noindex);
    meta_tag(sb, "name", "description", desc);
    meta_tag(sb, "property", "og:type", "article");
    meta_tag(sb, "property", "og:site_name", "promptd");
    meta_tag(sb, "property", "og:title", p->title);
    meta_tag(sb, "property", "og:description", desc);
    meta_tag(sb, "property", "og:url", share_token_url(r->arena, p->token));
    meta_tag(sb, "name", "twitter:card", "summary");
    meta_tag(sb, "name", "twitter:title", p->title);
    meta_tag(sb, "name", "twitter:description", desc);
    strbuf_puts(sb, "<script src=\"" SHARE_ASSETS "/share.js\" defer></script>\n</head>\n");
}

/* The prompt page's <header>: title, author, tags. */
static void content_header(req_t *r, strbuf_t *sb, const share_page_t *p)
{
    cJSON *tags = json_own(r->arena, cJSON_Parse(p->tags_json)), *t;

    strbuf_puts(sb, "<body>\n<main class=\"share\">\n<header>\n<h1>");
    strbuf_html_escape(sb, p->title);
    strbuf_puts(sb, "</h1>\n<p class=\"by\">Shared by <span class=\"author\">");
    strbuf_html_escape(sb, p->author);
    strbuf_puts(sb, "</span></p>\n");
    if (cJSON_GetArraySize(tags) > 0) {
        strbuf_puts(sb, "<ul class=\"tags\">");
        cJSON_ArrayForEach(t, tags) {
            strbuf_puts(sb, "<li>");
            strbuf_html_escape(sb, cJSON_IsString(t) ? t->valuestring : "");
            strbuf_puts(sb, "</li>");
        }
        strbuf_puts(sb, "</ul>\n");
    }
    strbuf_puts(sb, "</header>\n");
}

/* size bytes as "812 bytes", "14 KB", "3.2 MB". */
static const char *size_text(arena_t *a, long long size)
{
    if (size < 1000)
        return arena_printf(a, "%lld byte%s", size, size == 1 ? "" : "s");
    if (size < 1000000)
        return arena_printf(a, "%lld KB", (size + 500) / 1000);
    return arena_printf(a, "%.1f MB", (double)size / 1e6);
}

/* The attachments: images shown (alt and caption: the file name), other
 * files linked with their type and size. */
static void content_attachments(req_t *r, strbuf_t *sb, const share_page_t *p)
{
    bool files = false;

    if (p->nattachments == 0)
        return;
    strbuf_puts(sb, "<section class=\"attachments\" aria-label=\"Attachments\">\n");
    for (int i = 0; i < p->nattachments; i++) {
        const share_attachment_t *a = &p->attachments[i];
        const char *name = strrchr(a->path, '/') ? strrchr(a->path, '/') + 1 : a->path;

        if (strncasecmp(a->content_type, "image/", 6) != 0)
            continue;
        strbuf_puts(sb, "<figure class=\"attachment\"><img src=\"");
        strbuf_html_escape(sb, a->url);
        strbuf_puts(sb, "\" alt=\"");
        strbuf_html_escape(sb, name);
        strbuf_puts(sb, "\" loading=\"lazy\"><figcaption>");
        strbuf_html_escape(sb, name);
        strbuf_puts(sb, "</figcaption></figure>\n");
    }
    for (int i = 0; i < p->nattachments; i++) {
        const share_attachment_t *a = &p->attachments[i];
        const char *name = strrchr(a->path, '/') ? strrchr(a->path, '/') + 1 : a->path;

        if (strncasecmp(a->content_type, "image/", 6) == 0)
            continue;
        if (!files)
            strbuf_puts(sb, "<ul class=\"files\">\n");
        files = true;
        strbuf_puts(sb, "<li><a href=\"");
        strbuf_html_escape(sb, a->url);
        strbuf_puts(sb, "\" rel=\"nofollow\">");
        strbuf_html_escape(sb, name);
        strbuf_puts(sb, "</a> <span class=\"meta\">");
        strbuf_html_escape(sb, a->content_type);
        strbuf_puts(sb, ", ");
        strbuf_html_escape(sb, size_text(r->arena, a->size));
        strbuf_puts(sb, "</span></li>\n");
    }
    if (files)
        strbuf_puts(sb, "</ul>\n");
    strbuf_puts(sb, "</section>\n");
}

int share_page_content(req_t *r, const share_page_t *p)
{
    const config_t *cfg = config_load(false);
    strbuf_t sb;

    strbuf_init(&sb, r->arena, 4096 + strlen(p->content) * 2);
    content_head(r, &sb, p);
    content_header(r, &sb, p);
    strbuf_puts(&sb, "<pre id=\"prompt-content\" class=\"content\">");
    strbuf_html_escape(&sb, p->content);
    strbuf_puts(&sb, "</pre>\n");
    content_attachments(r, &sb, p);
    strbuf_puts(&sb, "<p class=\"actions\">"
                     "<button type=\"button\" id=\"copy\" class=\"copy\" hidden>Copy</button>");
    if (p->allow_fork) {
        strbuf_puts(&sb, " <a class=\"fork\" href=\"");
        strbuf_html_escape(&sb, arena_printf(r->arena, "%s/?fork=%s", cfg->site_url, p->token));
        strbuf_puts(&sb, "\">Fork this prompt</a>");
    }
    strbuf_puts(&sb, "</p>\n</main>\n</body>\n</html>\n");
    /* the view log's key: nginx logs page loads carrying it (cached too) */
    resp_header(r, "X-Share-Id", p->id);
    if (p->noindex)
        resp_header(r, "X-Robots-Tag", "noindex");
    return page_reply(r, 200, &sb);
}
