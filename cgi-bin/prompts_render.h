/* prompts_render.h: the prompts family's render route, linked into prompts.fcgi. */
#ifndef PROMPTD_CGI_PROMPTS_RENDER_H
#define PROMPTD_CGI_PROMPTS_RENDER_H

#include "http/server.h"

/* Its statements, for the family's table list. */
extern const db_stmt_t render_stmts[];

int prompt_render(req_t *r);

#endif
