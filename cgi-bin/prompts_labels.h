/* prompts_labels.h: the prompts family's deployment routes (labels, their history, fetch by name), linked into prompts.fcgi. */
#ifndef PROMPTD_CGI_PROMPTS_LABELS_H
#define PROMPTD_CGI_PROMPTS_LABELS_H

#include "http/server.h"

/* Their statements, for the family's table list. */
extern const db_stmt_t labels_stmts[];

int label_list(req_t *r);
int label_set(req_t *r);
int label_delete(req_t *r);
int label_history(req_t *r);
int prompt_by_name(req_t *r);
int change_request_open(req_t *r);
int change_request_approve(req_t *r);
int change_request_reject(req_t *r);

#endif
