/* engine_sections.c: the local engine's sectioned writer (improve, expand, structure): task, context, input, steps, constraints, format, examples. */
#include <string.h>

#include "enrich/engine_int.h"

static const char *default_constraint(const eng_t *e, bool material)
{
    switch (e->cat) {
    case LEX_CAT_SUMMARY:
    case LEX_CAT_EXTRACT:
    case LEX_CAT_ANALYSIS:
        return material ? "Use only the information in the input; where it "
                          "is silent, say so instead of guessing."
                        : "Where information is missing or uncertain, say "
                          "so instead of guessing.";
    case LEX_CAT_QA:
        return "If you are not sure, say so instead of guessing.";
    case LEX_CAT_CODE:
        return "State any assumption you make about inputs and the "
               "environment.";
    case LEX_CAT_TRANSLATE:
        return "Keep names, numbers, placeholders and formatting exactly as "
               "they are.";
    default:
        return NULL;
    }
}

static const char *const *default_steps(const eng_t *e)
{
    static const char *const code[] = {
        "Restate the requirements and any assumptions.",
        "Write the code.", "Explain the key decisions briefly.",
        "List the edge cases and how the code handles them.", NULL};
    static const char *const summary[] = {
        "Read the whole input.", "Identify the main points.",
        "Write the summary from those points only.", NULL};
    static const char *const extract[] = {
        "Read the whole input.", "Find every item that matches.",
        "Return them in the output format, leaving out anything not in the "
        "input.", NULL};
    static const char *const analysis[] = {
        "State the question being answered.", "Examine the evidence.",
        "Draw conclusions and note any uncertainty.", NULL};
    static const char *const write[] = {
        "Identify the audience and the purpose.", "Draft the text.",
        "Check tone and length against the constraints, then revise.", NULL};
    static const char *const qa[] = {
        "Answer the question directly.", "Explain the reasoning briefly.",
        NULL};
    static const char *const general[] = {
        "Work through the task step by step.",
        "Check the result against the constraints before answering.", NULL};

    switch (e->cat) {
    case LEX_CAT_CODE: return code;
    case LEX_CAT_SUMMARY: return summary;
    case LEX_CAT_EXTRACT: return extract;
    case LEX_CAT_ANALYSIS: return analysis;
    case LEX_CAT_WRITE:
    case LEX_CAT_MARKETING: return write;
    case LEX_CAT_QA: return qa;
    default: return general;
    }
}

typedef struct {
    strbuf_t *sb;
    eng_t *e;
    bool open;
} section_t;

static void section_begin(section_t *sec, eng_t *e, strbuf_t *sb,
                          const char *title, const char *tag)
{
    sec->sb = sb;
    sec->e = e;
    sec->open = true;
    if (sb->len)
        strbuf_puts(sb, "\n\n");
    if (e->xml)
        strbuf_printf(sb, "<%s>\n", tag);
    else
        strbuf_printf(sb, "## %s\n", title);
}

static void section_end(section_t *sec, const char *tag)
{
    if (sec->e->xml)
        strbuf_printf(sec->sb, "\n</%s>", tag);
}

/* Emit every unit of role as one section's body: sentences of one
 * paragraph joined by a space, list items and bullets one per line. */
static bool emit_role(eng_t *e, strbuf_t *sb, int role, bool bullets,
                      bool rewrite, bool *first)
{
    int prev = -1;
    bool any = false;

    for (int k = 0; k < e->nu; k++) {
        const unit_t *u = &e->u[k];
        if (u->role != role)
            continue;
        if (!*first) {
            if (!bullets && prev >= 0 && e->u[prev].para == u->para &&
                u->kind == U_TEXT && e->u[prev].kind == U_TEXT && prev == k - 1)
                strbuf_putc(sb, ' ');
            else
                strbuf_putc(sb, '\n');
        }
        if (bullets && u->kind == U_TEXT)
            strbuf_puts(sb, "- ");
        engine_put_clean(e, sb, u, rewrite);
        prev = k;
        *first = false;
        any = true;
    }
    return any;
}

/* Copy the material units verbatim, runs of adjacent units as one range. */
static bool emit_material(eng_t *e, strbuf_t *sb)
{
    bool any = false;

    for (int k = 0; k < e->nu; k++) {
        int last = k;
        if (e->u[k].role != R_MATERIAL)
            continue;
        while (last + 1 < e->nu && e->u[last + 1].role == R_MATERIAL)
            last++;
        if (any)
            strbuf_puts(sb, "\n\n");
        strbuf_append(sb, e->s + e->u[k].start,
                      e->u[last].end - e->u[k].start);
        any = true;
        k = last;
    }
    return any;
}

/* Is every material unit a block with its own delimiters? */
static bool delimited_material(const eng_t *e)
{
    for (int k = 0; k < e->nu; k++)
        if (e->u[k].role == R_MATERIAL && e->u[k].kind != U_CODE)
            return false;
    return true;
}

/* What the sectioned writers share: improve and expand rewrite openings
 * and add placeholders and defaults; structure does neither. */
typedef struct {
    eng_t *e;
    strbuf_t *sb;
    bool rewrite, add, expand;
    bool material;   /* the prompt carries material */
} sections_t;

static void section_task(const sections_t *w)
{
    section_t sec;
    bool first = true;

    section_begin(&sec, w->e, w->sb, "Task", "task");
    emit_role(w->e, w->sb, R_TASK, false, w->rewrite, &first);
    if (w->add)
        engine_clarify_vague(w->e, w->sb, &first, "", R_TASK, false);
    section_end(&sec, "task");
}

static void section_context(const sections_t *w)
{
    eng_t *e = w->e;
    const lex_stats_t *st = &e->all;
    bool audience = e->cat == LEX_CAT_CODE ? st->cue[CUE_LANG] > 0
                                           : st->cue[CUE_AUDIENCE] > 0;
    bool need_role = w->expand && !st->cue[CUE_ROLE];
    bool need_bg = w->expand && !st->cue[CUE_BACKGROUND] && !e->goal;
    bool first = true;
    section_t sec;

    if (!engine_has_role(e, R_CONTEXT) && !e->goal &&
        !(w->add && (need_role || !audience || need_bg)))
        return;
    section_begin(&sec, e, w->sb, "Context", "context");
    if (need_role)
        engine_placeholder(e, w->sb, &first, "",
                    PH("the role to answer as, e.g. an experienced "
                       "specialist in the field"), w->add);
    emit_role(e, w->sb, R_CONTEXT, false, w->rewrite, &first);
    if (e->goal)
        engine_emit_line(w->sb, &first, "Goal: ", e->goal);
    if (!audience)
        engine_placeholder(e, w->sb, &first, "", engine_ph_audience(e), w->add);
    if (need_bg)
        engine_placeholder(e, w->sb, &first, "",
                    PH("the purpose: why you need this and how the result "
                       "will be used"), w->add);
    section_end(&sec, "context");
}

/* Supplied material between delimiters: a single fenced or tagged block
 * keeps its own, anything else goes between <input> tags; material the
 * task refers to but does not carry becomes a placeholder. */
static void section_input(const sections_t *w)
{
    eng_t *e = w->e;
    strbuf_t *sb = w->sb;
    bool wrap, first = true;

    if (!w->material && (e->all.vars || !engine_refers_to_material(e)))
        return;
    wrap = !w->material || !delimited_material(e);
    if (sb->len)
        strbuf_puts(sb, "\n\n");
    if (!e->xml)
        strbuf_puts(sb, "## Input\n");
    if (wrap)
        strbuf_puts(sb, "<input>\n");
    if (!emit_material(e, sb))
        engine_placeholder(e, sb, &first, "", PH("paste the text to work on here"),
                    true);
    if (wrap)
        strbuf_puts(sb, "\n</input>");
}

/* Generic steps for a complex task (not for reasoning models). */
static void section_steps(const sections_t *w)
{
    eng_t *e = w->e;
    const lex_stats_t *st = &e->all;
    const char *const *steps;
    section_t sec;

    if (!w->add || st->cue[CUE_STEP] || e->reasoning ||
        !(w->expand || st->words > 60 || st->task_sentences >= 2 ||
          e->cat == LEX_CAT_CODE || e->cat == LEX_CAT_ANALYSIS))
        return;
    steps = default_steps(e);
    section_begin(&sec, e, w->sb, "Steps", "steps");
    for (int k = 0; steps[k]; k++)
        strbuf_printf(w->sb, "%s%d. %s", k ? "\n" : "", k + 1, steps[k]);
    section_end(&sec, "steps");
}

static void section_constraints(const sections_t *w)
{
    eng_t *e = w->e;
    const char *dflt = w->add ? default_constraint(e, w->material) : NULL;
    bool need_tone = !e->all.cue[CUE_TONE] &&
                     (e->cat == LEX_CAT_WRITE || e->cat == LEX_CAT_MARKETING);
    bool first = true;
    section_t sec;

    if (!engine_has_role(e, R_CONSTRAINT) && !dflt && !(w->add && need_tone))
        return;
    section_begin(&sec, e, w->sb, "Constraints", "constraints");
    emit_role(e, w->sb, R_CONSTRAINT, true, w->rewrite, &first);
    if (dflt)
        engine_emit_line(w->sb, &first, "- ", dflt);
    if (need_tone)
        engine_placeholder(e, w->sb, &first, "- ",
                    PH("the tone, e.g. friendly, formal or playful"), w->add);
    section_end(&sec, "constraints");
}

static void section_format(const sections_t *w)
{
    eng_t *e = w->e;
    const lex_stats_t *st = &e->all;
    /* a translation's format and length are the source's */
    bool format = st->cue[CUE_FORMAT] || st->format_sentences ||
                  e->cat == LEX_CAT_TRANSLATE;
    bool length = st->length_specs || st->cue[CUE_LENGTHWORD] ||
                  e->cat == LEX_CAT_TRANSLATE;
    bool need_len = !length && e->cat != LEX_CAT_CODE &&
                    e->cat != LEX_CAT_EXTRACT;
    bool first = true;
    section_t sec;

    if (!engine_has_role(e, R_FORMAT) && !(w->add && (!format || need_len))) {
        if (!format)
            engine_suggest(e, "Add: the output format");
        if (need_len)
            engine_suggest(e, "Add: the length of the answer");
        return;
    }
    section_begin(&sec, e, w->sb, "Output format", "output_format");
    emit_role(e, w->sb, R_FORMAT, true, w->rewrite, &first);
    if (!format)
        engine_placeholder(e, w->sb, &first, "- ", engine_ph_format(e), w->add);
    if (need_len)
        engine_placeholder(e, w->sb, &first, "- ",
                    PH("the length, e.g. 150 words or 5 bullet points"),
                    w->add);
    section_end(&sec, "output_format");
}

static void section_examples(const sections_t *w)
{
    eng_t *e = w->e;
    bool want = w->expand || e->cat == LEX_CAT_EXTRACT ||
                e->cat == LEX_CAT_MARKETING;
    bool first = true;
    section_t sec;

    if (!engine_has_role(e, R_EXAMPLE) && !(w->add && want)) {
        if (want && !e->all.cue[CUE_EXAMPLE])
            engine_suggest(e, "Add: an example of the output you expect");
        return;
    }
    section_begin(&sec, e, w->sb, "Examples", "examples");
    if (!emit_role(e, w->sb, R_EXAMPLE, false, w->rewrite, &first))
        engine_placeholder(e, w->sb, &first, "",
                    PH("one example of the input and the output you expect"),
                    w->add);
    section_end(&sec, "examples");
}

/* improve, expand and structure: the sectioned rewrite. */
void engine_write_sections(eng_t *e, strbuf_t *sb, engine_mode_t mode)
{
    sections_t w = {
        .e = e, .sb = sb,
        .rewrite = mode != ENGINE_STRUCTURE,
        .add = mode != ENGINE_STRUCTURE,
        .expand = mode == ENGINE_EXPAND,
        .material = engine_has_role(e, R_MATERIAL),
    };

    section_task(&w);
    section_context(&w);
    section_input(&w);
    section_steps(&w);
    section_constraints(&w);
    section_format(&w);
    section_examples(&w);
}
