/* prompts.h: what the prompts family's files share: its settings, a prompt's fields as a create or update gives them. */
#ifndef PROMPTD_CGI_PROMPTS_H
#define PROMPTD_CGI_PROMPTS_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "http/server.h"
#include "prompts/settings.h"

/* The family's settings, read once at start by main (prompts.c). */
extern prompts_settings_t prompts_settings;

/* The fields a create or update may carry, validated; NULL = absent. */
struct prompt_input {
    const char *title;
    const char *content;   /* text, or a chat prompt's messages as JSON text */
    const char *kind;      /* the content's type: "text" (a string), "chat" (an array) */
    const char *tags;      /* JSON array text */
    const char *metadata;  /* JSON object text */
    const char *folder;
    const char *name;
    const char *config;    /* JSON object text */
    const char *commit_message;
    const char *workspace_id;   /* create only */
    const char *type;           /* create only */
    const char *attachments;    /* JSON array text of {id} | {bucket, path} */
    const cJSON *attachment_items;  /* the same, as the request gave it */
    bool config_too_big;        /* 413 */
};

/* Validate r->json as the body of POST /api/v1/prompts (create: title and
 * content required) or PATCH into *in (pointers into r's arena).  Field
 * errors are recorded on r; the caller checks r->errors. */
void prompt_read_input(req_t *r, bool create, struct prompt_input *in);

#endif
