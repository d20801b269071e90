/* page.h: the share family's HTML pages: the prompt, the password form, short messages. */
#ifndef PROMPTD_SHARE_PAGE_H
#define PROMPTD_SHARE_PAGE_H

#include <stdbool.h>

#include "http/request.h"

#define SHARE_ASSETS "/static/share/2"   /* bump when nginx/static/share changes */

/* An attachment of the shared prompt: an image is shown, anything else
 * linked (strings valid for the request). */
typedef struct share_attachment {
    const char *path;          /* the object's name; the page shows its last segment */
    const char *content_type;
    long long size;
    const char *url;           /* its signed download URL, a path on this server */
} share_attachment_t;

/* What the prompt page shows (strings valid for the request). */
typedef struct share_page {
    const char *id;         /* the share id: X-Share-Id, the view log's key */
    const char *token;
    const char *title;
    const char *content;
    const char *author;
    const char *tags_json;  /* a JSON array of strings */
    const share_attachment_t *attachments;
    int nattachments;
    bool allow_fork;
    bool noindex;           /* not public, or password-protected */
} share_page_t;

/* Each records the answer (text/html with the page's Content-Security-
 * Policy) and returns its status. */

/* A short page (not found, gone, locked): never indexed. */
int share_page_message(req_t *r, int status, const char *title, const char *text);

/* The page of a resolve state other than "ok": "gone" 410, else 404. */
int share_page_state(req_t *r, const char *state);

/* The password form posting to /s/{token}; with wrong set, it says the
 * last password was wrong.  Never cached. */
int share_page_password(req_t *r, int status, const char *token, bool wrong);

/* The prompt: 200. */
int share_page_content(req_t *r, const share_page_t *p);

#endif
