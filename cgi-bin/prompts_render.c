/* prompts_render.c: the prompts family's render: variables filled into a text prompt or a chat prompt's messages, placeholders into its message list, includes resolved by the database. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "http/dbreply.h"
#include "http/response.h"
#include "prompts.h"
#include "prompts_render.h"

enum { ST_RENDER_SOURCE };

/* The composed content ($2: the render limit), its type, the includes it
 * used; the render is counted.  OFFSET 0: composed once (pulled up, the
 * lateral's call went to each use of c.j). */
const db_stmt_t render_stmts[] = {
    [ST_RENDER_SOURCE] = {"prompt_render_source",
        "with u as (insert into public.usage_tracking (user_id, action, resource_id) "
        "select auth.uid(), 'prompt.render', p.id from public.prompts p where p.id = $1) "
        "select c.j->>'content', p.type, c.j->'includes' from public.prompts p "
        "cross join lateral (select promptd.prompt_compose(p.workspace_id, p.name, p.type, "
        "p.content, $2) as j offset 0) c where p.id = $1"},
    {NULL, NULL},
};

/* The text a variable value renders as; NULL (error recorded) if unusable. */
static const char *variable_text(req_t *r, const char *name, const cJSON *val)
{
    if (cJSON_IsString(val))
        return val->valuestring;
    if (cJSON_IsBool(val))
        return cJSON_IsTrue(val) ? "true" : "false";
    if (cJSON_IsNumber(val))
        return json_print(r->arena, val);
    req_field_error(r, arena_printf(r->arena, "variables.%s", name),
                    "must be a string, number or boolean");
    return NULL;
}

/* Length of a {{ name }} placeholder at s (0 if none); the name is
 * (*name, *len), inside s.  Same grammar as the database's variable
 * extraction. */
static size_t placeholder(const char *s, const char **name, size_t *len)
{
    const char *p = s + 2, *start;

    if (s[0] != '{' || s[1] != '{')
        return 0;
    p += strspn(p, " \t\r\n\f\v");
    start = p;
    if (!(isalpha((unsigned char)*p) || *p == '_'))
        return 0;
    while (isalnum((unsigned char)*p) || *p == '_' || *p == '.' || *p == '-')
        p++;
    *name = start;
    *len = (size_t)(p - start);
    p += strspn(p, " \t\r\n\f\v");
    if (p[0] != '}' || p[1] != '}')
        return 0;
    return (size_t)(p + 2 - s);
}

/* A placeholder found by render_next. */
struct render_hole {
    size_t part;         /* which of the render's texts */
    const char *at;      /* where it starts */
    const char *name;    /* its name, len bytes, inside the content */
    size_t len;
};

/* The next placeholder at or after *s; *s moves past it.  False when no
 * placeholder is left. */
static bool render_next(const char **s, struct render_hole *h)
{
    size_t n;

    for (const char *p = *s; (p = strchr(p, '{')) != NULL; p++)
        if (p[1] == '{' && (n = placeholder(p, &h->name, &h->len)) > 0) {
            h->at = p;
            *s = p + n;
            return true;
        }
    return false;
}

/* One member of the render's variables object; the table is sorted by
 * name so each placeholder costs a binary search. */
struct render_var {
    const char *name;
    const cJSON *val;
    const char *text;   /* the value as text, set at its first use */
    size_t len;
    size_t esc_len;     /* bytes of text escaped for JSON */
    char *esc;          /* text escaped for JSON, made by render_write */
    bool seen;          /* first use done (text set, or the error recorded) */
};

/* What the first pass over a prompt found.  Nothing is stored per
 * placeholder: the content is walked again to write the text, once its
 * size is known to fit. */
struct render {
    const char **parts;     /* the texts to fill: a text prompt's content,
                             * or a chat prompt's message contents */
    size_t nparts;
    struct render_var *vars;
    size_t nvars;
    size_t size;        /* bytes of the rendered text, <= max */
    size_t json_size;   /* bytes of it escaped for JSON (<= 6 x size) */
    size_t missing;     /* placeholders without a variable */
    bool too_big;       /* the text would exceed max */
    size_t max;
    cJSON *used;        /* names used, in first-use order */
};

static int var_cmp(const void *x, const void *y)
{
    return strcmp(((const struct render_var *)x)->name,
                  ((const struct render_var *)y)->name);
}

/* The variable named by a placeholder, or NULL. */
static int hole_var_cmp(const void *x, const void *y)
{
    const struct render_hole *h = x;
    const char *name = ((const struct render_var *)y)->name;
    int c = strncmp(h->name, name, h->len);

    return c != 0 ? c : -(name[h->len] != '\0');
}

static struct render_var *render_lookup(struct render *rd,
                                        const struct render_hole *h)
{
    return bsearch(h, rd->vars, rd->nvars, sizeof(*rd->vars), hole_var_cmp);
}

/* vars (NULL: none) as a sorted table.  Member names are unique: the
 * body parser refuses duplicates. */
static void render_index(req_t *r, struct render *rd, const cJSON *vars)
{
    const cJSON *v;
    size_t i = 0;

    rd->nvars = (size_t)(vars ? cJSON_GetArraySize(vars) : 0);
    rd->vars = arena_zalloc(r->arena, (rd->nvars + 1) * sizeof(*rd->vars));
    cJSON_ArrayForEach(v, vars) {
        rd->vars[i].name = v->string;
        rd->vars[i++].val = v;
    }
    qsort(rd->vars, rd->nvars, sizeof(*rd->vars), var_cmp);
}

/* Add n bytes (escaped_n for JSON) to the size; past rd->max only
 * too_big is kept (no arithmetic beyond max, so nothing can overflow). */
static void render_grow(struct render *rd, size_t n, size_t escaped_n)
{
    if (rd->too_big || n > rd->max - rd->size) {
        rd->too_big = true;
        return;
    }
    rd->size += n;
    rd->json_size += escaped_n;
}

/* A variable's first use: its text, or a field error. */
static void render_first_use(req_t *r, struct render *rd, struct render_var *var)
{
    var->seen = true;
    if ((var->text = variable_text(r, var->name, var->val)) == NULL)
        return;
    var->len = strlen(var->text);
    var->esc_len = json_escaped_len(var->text, var->len);
    cJSON_AddItemToArray(rd->used, cJSON_CreateString(var->name));
}

/* The first pass over one text: every placeholder resolved, the size
 * summed against rd->max. */
static void render_plan_part(req_t *r, struct render *rd, const char *s)
{
    const char *lit = s;
    struct render_hole h;
    struct render_var *var;

    while (render_next(&s, &h)) {
        render_grow(rd, (size_t)(h.at - lit), json_escaped_len(lit, (size_t)(h.at - lit)));
        lit = s;
        if ((var = render_lookup(rd, &h)) == NULL) {
            rd->missing++;
            continue;
        }
        if (!var->seen)
            render_first_use(r, rd, var);
        if (var->text != NULL)
            render_grow(rd, var->len, var->esc_len);
    }
    render_grow(rd, strlen(lit), json_escaped_len(lit, strlen(lit)));
}

static void render_plan(req_t *r, struct render *rd)
{
    for (size_t i = 0; i < rd->nparts; i++)
        render_plan_part(r, rd, rd->parts[i]);
}

static int hole_name_cmp(const struct render_hole *a, const struct render_hole *b)
{
    int c = strncmp(a->name, b->name, a->len < b->len ? a->len : b->len);

    return c != 0 ? c : (a->len < b->len ? -1 : a->len > b->len);
}

/* By text, then by position in it. */
static int hole_at_cmp(const void *x, const void *y)
{
    const struct render_hole *a = x, *b = y;

    if (a->part != b->part)
        return a->part < b->part ? -1 : 1;
    return a->at < b->at ? -1 : a->at > b->at;
}

/* By name, then by position. */
static int hole_cmp(const void *x, const void *y)
{
    const struct render_hole *a = x, *b = y;
    int c = hole_name_cmp(a, b);

    return c != 0 ? c : hole_at_cmp(x, y);
}

/* One field error per missing variable, in order of first appearance;
 * O(n log n) in the placeholders (sorted by name, then back in order). */
static void render_missing(req_t *r, struct render *rd)
{
    struct render_hole *miss, h;
    const char *s;
    size_t n = 0, i, k = 0;

    if (rd->missing == 0)
        return;
    miss = arena_alloc(r->arena, rd->missing * sizeof(*miss));
    for (h.part = 0; h.part < rd->nparts; h.part++)
        for (s = rd->parts[h.part]; n < rd->missing && render_next(&s, &h);)
            if (render_lookup(rd, &h) == NULL)
                miss[n++] = h;
    qsort(miss, n, sizeof(*miss), hole_cmp);
    for (i = 0; i < n; i++)   /* keep the first of each name */
        if (k == 0 || hole_name_cmp(&miss[k - 1], &miss[i]) != 0)
            miss[k++] = miss[i];
    qsort(miss, k, sizeof(*miss), hole_at_cmp);
    for (i = 0; i < k; i++)
        req_field_error(r, arena_printf(r->arena, "variables.%.*s", (int)miss[i].len,
                                        miss[i].name), "is required by the prompt");
}

/* Every used variable's text escaped for JSON, once. */
static void render_escape_vars(req_t *r, struct render *rd)
{
    struct render_var *var;
    strbuf_t sb;

    for (size_t i = 0; i < rd->nvars; i++) {
        var = &rd->vars[i];
        if (var->text == NULL)
            continue;
        strbuf_init(&sb, r->arena, var->esc_len + 1);
        json_append_escaped(&sb, var->text, var->len);
        var->esc = sb.ptr;
    }
}

/* The second pass for a text prompt: the answer {"text":...,"variables":
 * [...],"includes":[...]} written once, escaped in place into one buffer of
 * the size the first pass computed (a megabyte of text is neither copied
 * again nor regrown).  includes is JSON text. */
static void render_write(req_t *r, struct render *rd, const char *includes)
{
    const char *s = rd->parts[0], *lit = s, *used = json_print(r->arena, rd->used);
    struct render_hole h;
    strbuf_t sb;

    render_escape_vars(r, rd);
    strbuf_init(&sb, r->arena, rd->json_size + strlen(used) + strlen(includes) + 48);
    strbuf_puts(&sb, "{\"text\":\"");
    while (render_next(&s, &h)) {
        struct render_var *var = render_lookup(rd, &h);

        json_append_escaped(&sb, lit, (size_t)(h.at - lit));
        strbuf_append(&sb, var->esc, var->esc_len);
        lit = s;
    }
    json_append_escaped(&sb, lit, strlen(lit));
    strbuf_puts(&sb, "\",\"variables\":");
    strbuf_puts(&sb, used);
    strbuf_puts(&sb, ",\"includes\":");
    strbuf_puts(&sb, includes);
    strbuf_putc(&sb, '}');
    resp_json_raw(r, 200, sb.ptr, sb.len);
}

/* One text of a chat prompt filled in (not escaped); the arena owns it. */
static char *render_fill(req_t *r, struct render *rd, const char *s)
{
    const char *lit = s;
    struct render_hole h;
    strbuf_t sb;

    strbuf_init(&sb, r->arena, strlen(s) + 1);
    while (render_next(&s, &h)) {
        struct render_var *var = render_lookup(rd, &h);

        strbuf_append(&sb, lit, (size_t)(h.at - lit));
        strbuf_append(&sb, var->text, var->len);
        lit = s;
    }
    strbuf_puts(&sb, lit);
    return sb.ptr;
}

/* A placeholder message's name ("" if it has none: the database refuses
 * such content, this only keeps a NULL away). */
static const char *placeholder_name(const cJSON *m)
{
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "name"));

    return name != NULL ? name : "";
}

static bool chat_role_valid(const cJSON *role)
{
    static const char *const roles[] = {"system", "user", "assistant", "tool", NULL};

    for (size_t i = 0; cJSON_IsString(role) && roles[i] != NULL; i++)
        if (strcmp(role->valuestring, roles[i]) == 0)
            return true;
    return false;
}

/* The messages the request gives for the placeholder named name (members
 * of placeholders: arrays of {role, content, ...}); NULL with a field
 * error when absent or malformed.  Their text counts against the limit. */
static const cJSON *render_placeholder(req_t *r, struct render *rd,
                                       const cJSON *placeholders, const char *name)
{
    const cJSON *given = cJSON_GetObjectItemCaseSensitive(placeholders, name), *m;
    const char *field = arena_printf(r->arena, "placeholders.%s", name);

    if (given == NULL) {
        req_field_error(r, field, "is required by the prompt");
        return NULL;
    }
    if (!cJSON_IsArray(given)) {
        req_field_error(r, field, "must be an array of messages");
        return NULL;
    }
    cJSON_ArrayForEach(m, given) {
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");

        if (!cJSON_IsObject(m) || !chat_role_valid(cJSON_GetObjectItemCaseSensitive(m, "role")) ||
            !cJSON_IsString(content)) {
            req_field_error(r, field, "must be an array of messages {role: system|user|"
                            "assistant|tool, content: string}");
            return NULL;
        }
        render_grow(rd, strlen(content->valuestring),
                    json_escaped_len(content->valuestring, strlen(content->valuestring)));
    }
    return given;
}

/* The texts of a chat prompt's messages as rd's parts. */
static void render_chat_parts(req_t *r, struct render *rd, const cJSON *msgs)
{
    const cJSON *m, *content;

    rd->parts = arena_alloc(r->arena, ((size_t)cJSON_GetArraySize(msgs) + 1) * sizeof(*rd->parts));
    cJSON_ArrayForEach(m, msgs) {
        if (cJSON_IsString(content = cJSON_GetObjectItemCaseSensitive(m, "content")))
            rd->parts[rd->nparts++] = content->valuestring;
    }
}

/* The chat answer {"messages":[...],"variables":[...],"includes":[...]}:
 * each message with its content filled in, each placeholder replaced by
 * the messages the request gave for it (checked by render_chat_check). */
static void render_chat_write(req_t *r, struct render *rd, const cJSON *msgs,
                              const cJSON *placeholders, const char *includes)
{
    cJSON *out = json_own(r->arena, cJSON_CreateObject());
    cJSON *list = cJSON_AddArrayToObject(out, "messages"), *copy;
    const cJSON *m, *given, *g, *content;

    cJSON_ArrayForEach(m, msgs) {
        if (cJSON_IsString(content = cJSON_GetObjectItemCaseSensitive(m, "content"))) {
            copy = cJSON_Duplicate(m, true);
            cJSON_ReplaceItemInObjectCaseSensitive(copy, "content",
                cJSON_CreateString(render_fill(r, rd, content->valuestring)));
            cJSON_AddItemToArray(list, copy);
            continue;
        }
        given = cJSON_GetObjectItemCaseSensitive(placeholders, placeholder_name(m));
        cJSON_ArrayForEach(g, given) {
            cJSON_AddItemToArray(list, cJSON_Duplicate(g, true));
        }
    }
    cJSON_AddItemToObject(out, "variables", cJSON_Duplicate(rd->used, true));
    cJSON_AddItemToObject(out, "includes", cJSON_Parse(includes));
    resp_json(r, 200, out);
}

/* Every placeholder message of msgs has its messages in the request. */
static void render_chat_check(req_t *r, struct render *rd, const cJSON *msgs,
                              const cJSON *placeholders)
{
    const cJSON *m;

    cJSON_ArrayForEach(m, msgs) {
        if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(m, "content")))
            render_placeholder(r, rd, placeholders, placeholder_name(m));
    }
}

/* Fill a chat prompt's messages (content: their JSON text). */
static int render_chat(req_t *r, struct render *rd, const char *content,
                       const cJSON *placeholders, const char *includes)
{
    const cJSON *msgs = json_own(r->arena, cJSON_Parse(content));

    if (!cJSON_IsArray(msgs))
        return resp_problem(r, 500, "The prompt's stored messages are unreadable.");
    render_chat_parts(r, rd, msgs);
    render_plan(r, rd);
    render_missing(r, rd);
    render_chat_check(r, rd, msgs, placeholders);
    if (r->errors)
        return resp_validation(r);
    if (rd->too_big)
        return resp_problemf(r, 413, "The rendered messages would exceed %zu bytes "
                             "(the render limit).", rd->max);
    render_chat_write(r, rd, msgs, placeholders, includes);
    return r->status;
}

/* POST /api/v1/prompts/{id}/render {variables:{name:value}, placeholders:
 *   {name:[message]}}
 *   -> 200 {text, variables, includes} (a text prompt) | 200 {messages,
 *   variables, includes} (a chat prompt) | 404 | 413 (the result would
 *   exceed PROMPTD_RENDER_MAX_BYTES; nothing is allocated for it) | 422
 *   (one error per missing variable or placeholder; an include cycle,
 *   too deep, missing) */
int prompt_render(req_t *r)
{
    static const char *const fields[] = {"variables", "placeholders", NULL};
    const char *v[2] = {req_param(r, "id"),
                        arena_printf(r->arena, "%ld", prompts_settings.render_max_bytes)};
    struct render rd = {0};
    cJSON *vars = NULL, *placeholders = NULL;
    PGresult *res;

    req_reject_unknown(r, r->json, fields);
    if (req_field_object(r, r->json, "variables", &vars) == FIELD_ABSENT)
        vars = NULL;
    if (req_field_object(r, r->json, "placeholders", &placeholders) == FIELD_ABSENT)
        placeholders = NULL;
    if (r->errors)
        return resp_validation(r);
    if ((res = db_exec(&r->tx, &render_stmts[ST_RENDER_SOURCE], 2, v)) == NULL)
        return dbreply_error(r);
    if (PQntuples(res) == 0)
        return resp_problem(r, 404, "No such prompt.");
    rd.max = (size_t)prompts_settings.render_max_bytes;
    rd.used = json_own(r->arena, cJSON_CreateArray());
    render_index(r, &rd, vars);
    if (strcmp(PQgetvalue(res, 0, 1), "chat") == 0)
        return render_chat(r, &rd, PQgetvalue(res, 0, 0), placeholders, PQgetvalue(res, 0, 2));
    rd.parts = arena_alloc(r->arena, sizeof(*rd.parts));
    rd.parts[0] = PQgetvalue(res, 0, 0);
    rd.nparts = 1;
    render_plan(r, &rd);
    render_missing(r, &rd);
    if (r->errors)
        return resp_validation(r);
    if (rd.too_big)
        return resp_problemf(r, 413, "The rendered text would exceed %zu bytes "
                             "(the render limit).", rd.max);
    render_write(r, &rd, PQgetvalue(res, 0, 2));
    return r->status;
}
