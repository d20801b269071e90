/* engine_roles.c: stage 3 of the local engine: each unit's role (task, context, material, constraint, format, example). */
#include <string.h>

#include "enrich/engine_int.h"
#include "enrich/lexicon.h"

/* Is the unit a bare pleasantry ("Thanks!", "Hello there,")? */
static bool pleasantry(const char *p, size_t n)
{
    while (n && (p[n - 1] == '!' || p[n - 1] == '.' || p[n - 1] == ',' ||
                 p[n - 1] == ' '))
        n--;
    for (const char *const *l = lexicon_pleasantries; *l; l++)
        if (strlen(*l) == n && has_prefix(p, n, *l))
            return true;
    return false;
}

/* Is p[0..n) only a section label and its colon ("Constraints:")? */
static bool bare_label(const char *p, size_t n)
{
    for (const char *const *l = lexicon_section_labels; *l; l++)
        if (strlen(*l) + 1 == n && has_prefix(p, n, *l) && p[n - 1] == ':')
            return true;
    return false;
}

/* Does unit u open like an instruction: a task or format verb, a rule, a
 * section label or heading?  (A list item is judged after its marker.) */
static bool opens_instruction(const eng_t *e, const unit_t *u,
                              const lex_stats_t *st)
{
    const char *p = e->s + u->start;
    size_t n = u->end - u->start, k = 0;

    if (u->kind == U_HEADING)
        return true;
    if (u->kind == U_LIST) {
        while (k < n && k < 6 && !is_space(p[k]))
            k++;
        while (k < n && p[k] == ' ')
            k++;
        p += k, n -= k;
    }
    for (const char *const *l = lexicon_section_labels; *l; l++) {
        size_t ll = strlen(*l);
        if (has_prefix(p, n, *l) && ll < n && p[ll] == ':')
            return true;
    }
    return st->task_sentences || st->format_sentences || st->neg_sentences ||
           has_prefix(p, n, "use ") || has_prefix(p, n, "keep ") ||
           has_prefix(p, n, "make sure") || has_prefix(p, n, "ensure ") ||
           has_prefix(p, n, "include ") || has_prefix(p, n, "avoid ") ||
           has_prefix(p, n, "only ");
}

/* The role of a unit that is no material, from its own words (st: its
 * scan; have_task: an earlier unit is the task). */
static int unit_role(const eng_t *e, const unit_t *u, const lex_stats_t *st,
                     bool have_task)
{
    const char *p = e->s + u->start;
    size_t n = u->end - u->start;

    if (u->kind == U_TEXT && pleasantry(p, n))
        return R_DROP;
    if (u->kind == U_TEXT && bare_label(p, n))
        return R_LABEL;
    if (u->kind == U_HEADING)
        return R_CONTEXT;
    if ((st->task_sentences && !has_prefix(p, n, "make it ") &&
         !has_prefix(p, n, "make sure") && !has_prefix(p, n, "keep ")) ||
        (!have_task && st->questions))
        return R_TASK;
    if (has_prefix(p, n, "for example") || has_prefix(p, n, "e.g") ||
        has_prefix(p, n, "example") || has_prefix(p, n, "for instance") ||
        has_prefix(p, n, "input:") || has_prefix(p, n, "output:"))
        return R_EXAMPLE;
    if (st->format_sentences || st->length_specs || st->cue[CUE_LENGTHWORD] ||
        (st->cue[CUE_FORMAT] && !st->cue[CUE_ROLE]))
        return R_FORMAT;
    if (st->neg_sentences || st->cue[CUE_CONSTRAINT] || st->cue[CUE_TONE])
        return R_CONSTRAINT;
    return st->questions ? R_TASK : R_CONTEXT;
}

void engine_classify(eng_t *e)
{
    bool have_task = false;
    int material_para = -1;   /* paragraph whose rest is material */
    bool material_open = false;

    for (int k = 0; k < e->nu; k++) {
        unit_t *u = &e->u[k];
        lex_stats_t st;

        lex_scan(e->s, u->start, u->end, e->spans, e->nspans, &st);
        if (material_open && u->para != material_para &&
            opens_instruction(e, u, &st) && u->kind != U_CODE)
            material_open = false;
        if (material_open && u->para == material_para && u->kind == U_TEXT &&
            e->s[u->start - 1] == '\n' && opens_instruction(e, u, &st))
            material_open = false;
        if (u->kind == U_CODE || material_open) {
            u->role = R_MATERIAL;
        } else {
            u->role = unit_role(e, u, &st, have_task);
            if (u->role == R_DROP || u->role == R_LABEL)
                continue;
        }
        if (u->role == R_TASK)
            have_task = true;
        /* "Summarise this article:" -- what follows is material */
        if (u->kind != U_CODE && !material_open && e->s[u->end - 1] == ':' &&
            k + 1 < e->nu &&
            (u->role == R_TASK ||
             engine_announces_material(e->s, u->start, u->end - 1, 12))) {
            u->intro = true;
            material_open = true;
            material_para = u->para;
        }
    }
    if (!have_task)
        for (int k = 0; k < e->nu; k++)
            if (e->u[k].role != R_MATERIAL && e->u[k].kind != U_HEADING) {
                e->u[k].role = R_TASK;
                break;
            }
}
