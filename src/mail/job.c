/* job.c: the mail job: "mail.send" renders one outbox row and delivers it over SMTP or to the log. */
#include "mail/job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/config.h"
#include "core/log.h"
#include "crypto/random.h"
#include "mail/mail.h"
#include "mail/smtp.h"

/* The outbox row being delivered. */
typedef struct mail_row {
    char id[32];
    const char *kind, *to, *state;
    cJSON *vars;                 /* owned by the arena's cleanup */
} mail_row_t;

static void mail_json_free(void *p) { cJSON_Delete(p); }
static void mail_pq_free(void *p) { PQclear(p); }

/* promptd.mail_take(id) into row; 1 taken, 0 no such row, -1 j->error. */
static int mail_take(job_t *j, arena_t *a, mail_row_t *row)
{
    const char *v[1] = {row->id};
    PGresult *res = PQexecParams(j->conn,
        "select kind, to_addr, coalesce(vars, '{}'), state from promptd.mail_take($1::bigint)",
        1, NULL, v, NULL, NULL, 0);

    arena_cleanup_add(a, mail_pq_free, res);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        return registry_fail(j, "mail.send: mail_take: %s", PQresultErrorMessage(res));
    if (PQntuples(res) == 0)
        return 0;
    row->kind = PQgetvalue(res, 0, 0);
    row->to = PQgetvalue(res, 0, 1);
    row->state = PQgetvalue(res, 0, 3);
    row->vars = cJSON_Parse(PQgetvalue(res, 0, 2));
    if (row->vars == NULL)
        row->vars = cJSON_CreateObject();
    arena_cleanup_add(a, mail_json_free, row->vars);
    return 1;
}

/* promptd.mail_finish(id, state, error); -1 with j->error when it fails. */
static int mail_finish(job_t *j, const mail_row_t *row, const char *state, const char *error)
{
    const char *v[3] = {row->id, state, error};
    PGresult *res = PQexecParams(j->conn, "select promptd.mail_finish($1::bigint, $2, $3)",
                                 3, NULL, v, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK
           ? 0 : registry_fail(j, "mail.send: mail_finish: %s", PQresultErrorMessage(res));

    PQclear(res);
    return rc;
}

/* Set a template value unless the row's vars already have it. */
static void mail_default(cJSON *vars, const char *name, const char *value)
{
    if (!cJSON_HasObjectItem(vars, name))
        cJSON_AddStringToObject(vars, name, value);
}

/* Render row into m (From and Message-ID from s or the defaults); -1 with
 * j->error. */
static int mail_build(job_t *j, arena_t *a, const mail_row_t *row, const smtp_settings_t *s,
                      mail_t *m)
{
    const config_t *cfg = config_load(false);
    const char *name = config_env("PROMPTD_MAIL_SITE_NAME"), *from, *at;
    mail_templates_t t;
    unsigned char rnd[6];
    char err[512];

    mail_default(row->vars, "site_name", name != NULL ? name : "promptd");
    mail_default(row->vars, "site_url", cfg != NULL ? cfg->site_url : "");
    mail_default(row->vars, "email", row->to);
    mail_default(row->vars, "expires_in", "1 hour");
    if (mail_templates_load(a, row->kind, config_env("PROMPTD_MAIL_TEMPLATES"), &t,
                            err, sizeof err) != 0) {
        registry_fail(j, "mail.send: %s", err);
        return -1;
    }
    from = s->from != NULL ? s->from : "promptd <promptd@localhost>";
    at = strrchr(s->from_addr != NULL ? s->from_addr : "promptd@localhost", '@');
    random_bytes(rnd, sizeof rnd);
    m->from = from;
    m->to = row->to;
    m->subject = mail_render(a, t.subject, row->vars, false);
    m->text = mail_render(a, t.text, row->vars, false);
    m->html = mail_render(a, t.html, row->vars, true);
    m->message_id = arena_printf(a, "promptd.%s.%02x%02x%02x%02x%02x%02x%s", row->id,
                                 rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], at);
    m->date = (long long)time(NULL);
    return 0;
}

/* Deliver m per s (configured: 1) or to the log; the row's final or
 * pending state; 0 done, -1 to be retried (j->error). */
static int mail_deliver(job_t *j, arena_t *a, const mail_row_t *row, const smtp_settings_t *s,
                        int configured, const mail_t *m)
{
    char err[512] = "";
    const char *outcome;
    smtp_result_t r;

    if (!configured) {
        log_info("mail %s (no PROMPTD_SMTP_URL: logged, not sent) to %s: %s\n%s",
                 row->kind, row->to, m->subject, m->text);
        outcome = "logged";
    } else {
        r = smtp_send(s, row->to, mail_message(a, m), err, sizeof err);
        if (r == SMTP_RETRY) {
            mail_finish(j, row, "pending", err);
            return registry_fail(j, "mail.send: %s to %s: %s", row->kind, row->to, err);
        }
        outcome = r == SMTP_SENT ? "sent" : "rejected";
        if (r == SMTP_REJECTED)
            log_warn("%s: mail %s to %s rejected: %s", __func__, row->kind, row->to, err);
    }
    if (mail_finish(j, row, outcome, *err ? err : NULL) != 0)
        return -1;
    j->result = cJSON_CreateObject();
    cJSON_AddNumberToObject(j->result, "outbox_id", (double)strtoll(row->id, NULL, 10));
    cJSON_AddStringToObject(j->result, "outcome", outcome);
    return 0;
}

int mail_send_job(job_t *j)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j->payload, "outbox_id");
    arena_t *a = arena_create(16384);
    mail_row_t row = {0};
    smtp_settings_t s;
    mail_t m;
    char err[512];
    int rc = -1, configured;

    if (!cJSON_IsNumber(id) || id->valuedouble < 1) {
        registry_fail(j, "mail.send: the payload has no outbox_id");
        goto out;
    }
    snprintf(row.id, sizeof row.id, "%lld", (long long)id->valuedouble);
    if ((configured = smtp_settings(a, &s, err, sizeof err)) < 0) {
        registry_fail(j, "mail.send: %s", err);
        goto out;
    }
    if ((rc = mail_take(j, a, &row)) <= 0) {
        if (rc == 0)
            log_warn("%s: outbox row %s is gone: nothing to send", __func__, row.id);
        goto out;
    }
    rc = 0;
    if (strcmp(row.state, "pending") != 0)
        goto out;           /* delivered by an earlier attempt */
    if ((rc = mail_build(j, a, &row, &s, &m)) != 0) {
        mail_finish(j, &row, "pending", j->error);   /* the reason, on the row too */
        goto out;
    }
    rc = mail_deliver(j, a, &row, &s, configured, &m);
out:
    arena_destroy(a);
    return rc;
}

const job_handler_t mail_job_handlers[] = {
    { "mail.send", mail_send_job },
    { NULL, NULL }
};
