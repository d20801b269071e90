/* prompts_diff.h: the prompts family's diff of two versions, linked into prompts.fcgi. */
#ifndef PROMPTD_CGI_PROMPTS_DIFF_H
#define PROMPTD_CGI_PROMPTS_DIFF_H

#include "http/server.h"

/* Its statements, for the family's table list. */
extern const db_stmt_t diff_stmts[];

int prompt_diff(req_t *r);

#endif
