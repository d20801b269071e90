/* prompts_langfuse.h: Langfuse's prompt API (/api/public/v2/prompts), linked into prompts.fcgi. */
#ifndef PROMPTD_CGI_PROMPTS_LANGFUSE_H
#define PROMPTD_CGI_PROMPTS_LANGFUSE_H

#include "http/server.h"

/* Its statements, for the family's table list. */
extern const db_stmt_t langfuse_stmts[];

int langfuse_list(req_t *r);
int langfuse_create(req_t *r);
int langfuse_get(req_t *r);
int langfuse_update(req_t *r);
int langfuse_delete(req_t *r);

#endif
