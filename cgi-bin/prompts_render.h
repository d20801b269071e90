/* prompts_render.h: the prompts family's render route, linked into prompts.fcgi. */
#ifndef PROMPTD_CGI_PROMPTS_RENDER_H
#define PROMPTD_CGI_PROMPTS_RENDER_H

#include "http/server.h"
#include "prompts/settings.h"

/* The family's settings, read once at start by main (prompts.c). */
extern prompts_settings_t prompts_settings;

/* Its statements, for the family's table list. */
extern const db_stmt_t render_stmts[];

int prompt_render(req_t *r);

#endif
