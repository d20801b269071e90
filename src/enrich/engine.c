/* engine.c: the local enrichment engine: rule-based, deterministic rewriting. */
#include <stdint.h>
#include <string.h>

#include "core/str.h"
#include "enrich/engine.h"
#include "enrich/lex.h"

/*
 * How it works, in one pass each, all linear in the prompt's length:
 *   1. lex_spans() finds the protected spans (code, quotes, {{variables}}).
 *   2. split_units() cuts the text into units (sentences, list items,
 *      headings, fenced blocks) never inside a protected span.
 *   3. classify() gives each unit a role: task, context, material (text
 *      supplied to work on), constraint, format, example.
 *   4. The mode's writer emits units verbatim (only a unit's opening hedge,
 *      "don't" or filler words may be rewritten, never a protected span, a
 *      capitalised word or a number) into sections, and adds marked
 *      placeholders "[[Add: ...]]" for missing essentials.
 * Every byte of every protected span, number and capitalised name therefore
 * reaches the output; the unit tests check it for every mode.
 */

enum unit_kind {
    U_TEXT, U_LIST, U_HEADING,
    U_CODE,   /* a fenced block or a <tag> ... </tag> block: kept whole */
};
enum unit_role {
    R_TASK, R_CONTEXT, R_MATERIAL, R_CONSTRAINT, R_FORMAT, R_EXAMPLE,
    R_DROP,  /* a bare pleasantry ("Thanks!"): rewriting modes leave it out */
    R_LABEL  /* a bare section label ("Rules:"): replaced by a section */
};

typedef struct {
    size_t start, end;  /* [start, end) in the prompt, trimmed */
    int kind;           /* enum unit_kind */
    int role;           /* enum unit_role */
    int para;           /* paragraph number */
    bool intro;         /* ends with ':' and announces material */
} unit_t;

typedef struct {
    arena_t *a;
    const char *s;
    size_t len;
    const engine_opts_t *opts;
    lex_span_t *spans;
    int nspans;
    unit_t *u;
    int nu;
    lex_stats_t all;             /* the whole prompt */
    enum lex_category cat;
    bool xml;                    /* sections as <tags> (Claude-style) */
    bool reasoning;              /* o1/o3/o4-style model: reasons itself */
    const char *goal;            /* the caller's goal, trimmed; NULL if none */
    const char **sugg;
    int nsugg, capsugg;
} eng_t;

static const char *const mode_names[ENGINE_MODE_COUNT] = {
    [ENGINE_IMPROVE] = "improve", [ENGINE_STRUCTURE] = "structure",
    [ENGINE_CLARIFY] = "clarify", [ENGINE_EXPAND] = "expand",
    [ENGINE_CONCISE] = "concise",
};

int engine_mode_parse(const char *name, engine_mode_t *out)
{
    if (!name)
        return -1;
    for (int m = 0; m < ENGINE_MODE_COUNT; m++)
        if (strcmp(name, mode_names[m]) == 0) {
            *out = (engine_mode_t)m;
            return 0;
        }
    return -1;
}

const char *engine_mode_name(engine_mode_t mode)
{
    return (unsigned)mode < ENGINE_MODE_COUNT ? mode_names[mode] : "improve";
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Case-insensitive prefix test of ASCII phrase p at s[0..n). */
static bool has_prefix(const char *s, size_t n, const char *p)
{
    size_t k = 0;

    for (; p[k]; k++)
        if (k >= n || lower((unsigned char)s[k]) != p[k])
            return false;
    return true;
}

/* Index of the first span ending after pos (binary search). */
static int span_at(const eng_t *e, size_t pos)
{
    int lo = 0, hi = e->nspans;

    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (e->spans[mid].end <= pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ---- 2. units ---------------------------------------------------------- */

static void push_unit(eng_t *e, size_t *cap, size_t start, size_t end,
                      int kind, int para)
{
    while (end > start && is_space(e->s[end - 1]))
        end--;
    if (end <= start)
        return;
    if ((size_t)e->nu == *cap) {
        unit_t *nv = arena_alloc(e->a, 2 * *cap * sizeof(*nv));
        memcpy(nv, e->u, *cap * sizeof(*nv));
        e->u = nv;
        *cap *= 2;
    }
    e->u[e->nu++] = (unit_t){.start = start, .end = end, .kind = kind,
                             .para = para, .role = R_CONTEXT};
}

/* True when the line starting at s[i] opens a list item or a heading. */
static int line_kind(const char *s, size_t len, size_t i)
{
    size_t j = i;

    if (i >= len)
        return U_TEXT;
    if (s[i] == '#') {
        while (j < len && s[j] == '#')
            j++;
        return j < len && s[j] == ' ' && j - i <= 6 ? U_HEADING : U_TEXT;
    }
    if ((s[i] == '-' || s[i] == '*' || s[i] == '+') && i + 1 < len &&
        s[i + 1] == ' ')
        return U_LIST;
    if (len - i >= 4 && memcmp(s + i, "\xe2\x80\xa2 ", 4) == 0)
        return U_LIST;
    while (j < len && j - i < 3 && s[j] >= '0' && s[j] <= '9')
        j++;
    if (j > i && j + 1 < len && (s[j] == '.' || s[j] == ')') &&
        s[j + 1] == ' ')
        return U_LIST;
    return U_TEXT;
}

/* Does the line starting at s[i] (after indentation) break a running
 * sentence: blank, list item, heading, fence or an XML-style tag? */
static bool line_breaks(const char *s, size_t len, size_t i)
{
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
        i++;
    if (i >= len || s[i] == '\n')
        return true;
    if (line_kind(s, len, i) != U_TEXT)
        return true;
    if (len - i >= 3 && memcmp(s + i, "```", 3) == 0)
        return true;
    return s[i] == '<';
}

static bool wordish(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '\'' || c == '-' ||
           c >= 0x80;
}

/* Do any of the (up to) maxw words before s[colon] announce material?
 * Looks back at most 160 bytes, so the cost per colon is constant. */
static bool announces_material(const char *s, size_t start, size_t colon,
                               int maxw)
{
    size_t j = colon, floor = colon - start > 160 ? colon - 160 : start;

    for (int words = 0; words < maxw && j > floor; words++) {
        size_t end;
        while (j > floor && !wordish((unsigned char)s[j - 1]))
            j--;
        end = j;
        while (j > floor && wordish((unsigned char)s[j - 1]))
            j--;
        if (end > j && lex_match(s + j, end - j, CUE_MATERIAL) == end - j)
            return true;
    }
    return false;
}

/* Name of the tag when the line at s[i] is "<name>" or "</name>" alone
 * (closing when *closing); 0 otherwise.  *eol gets the line's end. */
static size_t tag_line(const char *s, size_t len, size_t i, bool *closing,
                       size_t *eol)
{
    size_t j = i + 1, n = 0;

    if (i >= len || s[i] != '<')
        return 0;
    *closing = j < len && s[j] == '/';
    j += *closing;
    while (j + n < len && (((s[j + n] | 32) >= 'a' && (s[j + n] | 32) <= 'z') ||
                           s[j + n] == '_' || s[j + n] == '-' ||
                           (n && s[j + n] >= '0' && s[j + n] <= '9')))
        n++;
    if (!n || n > 40 || j + n >= len || s[j + n] != '>')
        return 0;
    *eol = j + n + 1;
    while (*eol < len && (s[*eol] == ' ' || s[*eol] == '\t' || s[*eol] == '\r'))
        (*eol)++;
    if (*eol < len && s[*eol] != '\n')
        return 0;
    return n;
}

/* Tags whose block holds instructions, not material: split as text. */
static const char *const instruction_tags[] = {
    "task", "instructions", "instruction", "rules", "constraints",
    "context", "format", "output_format", "role", "system", "steps",
    "guidelines", "requirements", "goal", "audience", "tone", NULL};

static bool word_in(const char *w, size_t n, const char *const *list);

typedef struct {
    size_t at, name, n, eol;   /* line start, name offset and length, end */
} closer_t;

/* Every "</name>" line outside protected spans, in order. */
static closer_t *find_closers(eng_t *e, int *count)
{
    size_t cap = 16, i = 0;
    closer_t *v = arena_alloc(e->a, cap * sizeof(*v));

    *count = 0;
    while (i < e->len) {
        size_t k = i, n, eol;
        bool closing;
        while (k < e->len && (e->s[k] == ' ' || e->s[k] == '\t'))
            k++;
        if ((n = tag_line(e->s, e->len, k, &closing, &eol)) && closing) {
            int sp = span_at(e, k);
            if (!(sp < e->nspans && e->spans[sp].start <= k)) {
                if ((size_t)*count == cap) {
                    closer_t *nv = arena_alloc(e->a, 2 * cap * sizeof(*nv));
                    memcpy(nv, v, cap * sizeof(*nv));
                    v = nv;
                    cap *= 2;
                }
                v[(*count)++] = (closer_t){k, k + 2, n, eol};
            }
        }
        while (i < e->len && e->s[i] != '\n')
            i++;
        i++;
    }
    return v;
}

/* End of the "<name>" ... "</name>" block whose opening line is at s[i],
 * or 0 (not a tag line, an instruction tag, or no closer among the next
 * 64).  *next moves past closers before i; calls come in text order. */
static size_t tag_block_end(const eng_t *e, size_t i, const closer_t *closers,
                            int nclosers, int *next)
{
    bool closing;
    size_t eol, n = tag_line(e->s, e->len, i, &closing, &eol);

    while (*next < nclosers && closers[*next].at <= i)
        (*next)++;
    if (!n || closing || word_in(e->s + i + 1, n, instruction_tags))
        return 0;
    for (int c = *next; c < nclosers && c < *next + 64; c++)
        if (closers[c].n == n &&
            memcmp(e->s + closers[c].name, e->s + i + 1, n) == 0)
            return closers[c].eol;
    return 0;
}

/* End of the unit of kind starting at s[i] (sp: the first span ending after
 * i): a list item or heading ends with its line; text at a sentence stop,
 * at a line that ended a sentence or breaks the flow, or at a colon that
 * announces material ("Summarise this: ..."). */
static size_t unit_end(const eng_t *e, size_t i, int kind, int sp)
{
    const char *s = e->s;
    size_t len = e->len, j = i;

    while (j < len) {
        if (sp < e->nspans && e->spans[sp].start == j) {
            j = e->spans[sp++].end; /* never inside a span */
            continue;
        }
        if (s[j] == '\n') {
            size_t k = j;
            if (kind != U_TEXT || line_breaks(s, len, j + 1))
                return j;
            /* wrapped text continues unless the line ended a sentence */
            while (k > i && is_space(s[k - 1]))
                k--;
            if (k > i && (s[k - 1] == '.' || s[k - 1] == '!' ||
                          s[k - 1] == '?' || s[k - 1] == ':'))
                return j;
        } else if (kind == U_TEXT && lex_sentence_stop(s, len, j)) {
            return j + 1;
        } else if (kind == U_TEXT && s[j] == ':' && j + 1 < len &&
                   s[j + 1] == ' ' && announces_material(s, i, j, 4)) {
            return j + 1;
        }
        j++;
    }
    return len;
}

static void split_units(eng_t *e)
{
    int nclosers, next_closer = 0;
    closer_t *closers = find_closers(e, &nclosers);
    const char *s = e->s;
    size_t len = e->len, cap = 64, i = 0;
    int para = 0;
    bool bol = true;

    e->u = arena_alloc(e->a, cap * sizeof(unit_t));
    while (i < len) {
        int newlines = 0, kind, sp;
        size_t end;

        while (i < len && is_space(s[i])) {
            if (s[i] == '\n')
                newlines++, bol = true;
            i++;
        }
        if (i >= len)
            break;
        if (newlines >= 2)
            para++;
        sp = span_at(e, i);
        if (bol && sp < e->nspans && e->spans[sp].start == i &&
            e->spans[sp].kind == LEX_FENCE) {
            end = e->spans[sp].end, kind = U_CODE; /* a fenced block */
        } else if (bol && s[i] == '<' &&
                   (end = tag_block_end(e, i, closers, nclosers,
                                        &next_closer))) {
            kind = U_CODE; /* a <tag> ... </tag> block */
        } else {
            kind = bol ? line_kind(s, len, i) : U_TEXT;
            end = unit_end(e, i, kind, sp);
        }
        push_unit(e, &cap, i, end, kind, para);
        bol = false;
        i = end;
    }
}

/* ---- 3. roles ---------------------------------------------------------- */

static bool pleasantry(const char *p, size_t n);

/* Does unit u open like an instruction (task verb, format verb, rule)? */
/* Labels that open a section of instructions ("Constraints:"). */
static const char *const section_labels[] = {
    "constraints", "rules", "requirements", "output", "output format",
    "format", "tone", "audience", "length", "style", "steps", "task",
    "instructions", "context", "examples", "example", "goal", "criteria",
    "return", "deliverable", "deliverables", NULL};

/* Is p[0..n) only a section label and its colon ("Constraints:")? */
static bool bare_label(const char *p, size_t n)
{
    for (const char *const *l = section_labels; *l; l++)
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
    for (const char *const *l = section_labels; *l; l++) {
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

static void classify(eng_t *e)
{
    bool have_task = false;
    int material_para = -1;   /* paragraph whose rest is material */
    bool material_open = false;

    for (int k = 0; k < e->nu; k++) {
        unit_t *u = &e->u[k];
        lex_stats_t st;
        const char *p = e->s + u->start;
        size_t n = u->end - u->start;

        lex_scan(e->s, u->start, u->end, e->spans, e->nspans, &st);
        if (material_open && u->para != material_para &&
            opens_instruction(e, u, &st) && u->kind != U_CODE)
            material_open = false;
        if (material_open && u->para == material_para && u->kind == U_TEXT &&
            e->s[u->start - 1] == '\n' && opens_instruction(e, u, &st))
            material_open = false;
        if (u->kind == U_CODE || material_open) {
            u->role = R_MATERIAL;
        } else if (u->kind == U_TEXT && pleasantry(p, n)) {
            u->role = R_DROP;
            continue;
        } else if (u->kind == U_TEXT && bare_label(p, n)) {
            u->role = R_LABEL;
            continue;
        } else if (u->kind == U_HEADING) {
            u->role = R_CONTEXT;
        } else if ((st.task_sentences && !has_prefix(p, n, "make it ") &&
                    !has_prefix(p, n, "make sure") &&
                    !has_prefix(p, n, "keep ")) ||
                   (!have_task && st.questions)) {
            u->role = R_TASK;
        } else if (has_prefix(p, n, "for example") ||
                   has_prefix(p, n, "e.g") || has_prefix(p, n, "example") ||
                   has_prefix(p, n, "for instance") ||
                   has_prefix(p, n, "input:") ||
                   has_prefix(p, n, "output:")) {
            u->role = R_EXAMPLE;
        } else if (st.format_sentences || st.length_specs || st.cue[CUE_LENGTHWORD] ||
                   (st.cue[CUE_FORMAT] && !st.cue[CUE_ROLE])) {
            u->role = R_FORMAT;
        } else if (st.neg_sentences || st.cue[CUE_CONSTRAINT] ||
                   st.cue[CUE_TONE]) {
            u->role = R_CONSTRAINT;
        } else if (st.questions) {
            u->role = R_TASK;
        } else {
            u->role = R_CONTEXT;
        }
        if (u->role == R_TASK)
            have_task = true;
        /* "Summarise this article:" -- what follows is material */
        if (u->kind != U_CODE && !material_open && e->s[u->end - 1] == ':' &&
            k + 1 < e->nu &&
            (u->role == R_TASK ||
             announces_material(e->s, u->start, u->end - 1, 12))) {
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

/* ---- 4. writers -------------------------------------------------------- */

static void suggest(eng_t *e, const char *text)
{
    if (e->nsugg == e->capsugg) {
        int cap = e->capsugg ? 2 * e->capsugg : 8;
        const char **nv = arena_alloc(e->a, (size_t)cap * sizeof(*nv));
        if (e->nsugg)
            memcpy(nv, e->sugg, (size_t)e->nsugg * sizeof(*nv));
        e->sugg = nv;
        e->capsugg = cap;
    }
    e->sugg[e->nsugg++] = text;
}

/* Opening hedges removed from a task unit ("Could you please write ..."),
 * longest first.  Only lower-case words (and a capitalised first word) are
 * removed, so no name is ever lost. */
static const char *const hedges[] = {
    "hi, ", "hey, ", "hello, ", "hi ", "hey ", "hello ", "help me ",
    "i would like you to ", "i'd like you to ", "i want you to ",
    "i need you to ", "could you please ", "can you please ",
    "would you please ", "will you please ", "could you ", "can you ",
    "would you ", "will you ", "please ", "kindly ", "maybe ", "perhaps ",
    "just ", NULL};

/* Verbs whose -ing form doubles the last consonant. */
static const char *const doubling[] = {
    "put", "get", "set", "let", "cut", "run", "stop", "plan", "skip", "drop",
    "ship", "chat", "hit", "sit", "begin", "omit", "admit", "commit",
    "submit", "forget", "swap", "trim", "wrap", "tag", "log", "pad", "dig",
    "rap", "pin", "spin", "win", "ban", "flag", "map", "nag", "jog", NULL};

/* Append the gerund of the lower-case verb w[0..n) ("use" -> "using"). */
static void append_gerund(strbuf_t *sb, const char *w, size_t n)
{
    for (const char *const *d = doubling; *d; d++)
        if (strlen(*d) == n && memcmp(*d, w, n) == 0) {
            strbuf_append(sb, w, n);
            strbuf_putc(sb, w[n - 1]);
            strbuf_puts(sb, "ing");
            return;
        }
    if (n == 2 && memcmp(w, "be", 2) == 0) {
        strbuf_puts(sb, "being");
        return;
    }
    if (n > 2 && w[n - 2] == 'i' && w[n - 1] == 'e') {
        strbuf_append(sb, w, n - 2);
        strbuf_puts(sb, "ying");
        return;
    }
    if (n > 2 && w[n - 1] == 'e' && w[n - 2] != 'e' && w[n - 2] != 'y' &&
        w[n - 2] != 'o') {
        strbuf_append(sb, w, n - 1);
        strbuf_puts(sb, "ing");
        return;
    }
    strbuf_append(sb, w, n);
    strbuf_puts(sb, "ing");
}

/* Lower-case ASCII letters, with inner apostrophes or hyphens ("what's"). */
static bool all_lower_word(const char *w, size_t n)
{
    if (!n)
        return false;
    for (size_t k = 0; k < n; k++)
        if ((w[k] < 'a' || w[k] > 'z') &&
            !(k > 0 && k + 1 < n && (w[k] == '\'' || w[k] == '-')))
            return false;
    return true;
}

/* Words after "don't" that are no verb: "don't just copy" stays as is. */
static const char *const not_verbs[] = {
    "just", "really", "ever", "always", "only", "even", "simply",
    "actually", "necessarily", "overly", "too", "please", "kindly", "so",
    "you", "we", "i", "they", "it", "also", "yet", "any", NULL};

static bool word_in(const char *w, size_t n, const char *const *list);

/* Length of a wish opener before an article ("I want " in "I want a
 * tweet"), 0 when p has none. */
static size_t wish_prefix(const char *p, size_t n)
{
    static const char *const wishes[] = {
        "i would like ", "i'd like ", "i want ", "i need ", NULL};

    for (const char *const *w = wishes; *w; w++) {
        size_t l = strlen(*w);
        if (has_prefix(p, n, *w) &&
            (has_prefix(p + l, n - l, "a ") || has_prefix(p + l, n - l, "an ")))
            return l;
    }
    return 0;
}

/* Offset past the opening hedges of a task unit ("Could you please "),
 * u->start when there are none or no task verb follows them. */
static size_t strip_hedges(const eng_t *e, const unit_t *u)
{
    const char *s = e->s;
    size_t i = u->start, end = u->end;
    bool again = true;

    while (again) {
        again = false;
        for (const char *const *h = hedges; *h; h++) {
            size_t hl = strlen(*h);
            /* a capital after the hedge is a name ("Please Bob, ...")
             * and stops it */
            if (has_prefix(s + i, end - i, *h) &&
                (i + hl >= end || s[i + hl] < 'A' || s[i + hl] > 'Z')) {
                i += hl;
                again = true;
                break;
            }
        }
    }
    if (i == u->start || i >= end || !lex_word_len(s, end, i) ||
        !lex_match(s + i, end - i, CUE_TASK))
        return u->start;
    return i;
}

/* Rewrite a rule's "don't X" opening at s[i] as what to do ("Avoid
 * Xing", "Remember to"); returns the bytes consumed, 0 when left as is. */
static size_t rewrite_negative(strbuf_t *sb, const char *s, size_t i,
                               size_t end)
{
    size_t neg = 0, w;

    if (has_prefix(s + i, end - i, "don't "))
        neg = 6;
    else if (has_prefix(s + i, end - i, "do not "))
        neg = 7;
    else if (has_prefix(s + i, end - i, "never "))
        neg = 6;
    if (!neg)
        return 0;
    w = lex_word_len(s, end, i + neg);
    if (w == 6 && has_prefix(s + i + neg, w, "forget") &&
        i + neg + w < end && s[i + neg + w] == ' ') {
        strbuf_puts(sb, "Remember"); /* "Don't forget to" */
        return neg + w;
    }
    if (!all_lower_word(s + i + neg, w) || word_in(s + i + neg, w, not_verbs))
        return 0;
    strbuf_puts(sb, "Avoid ");
    append_gerund(sb, s + i + neg, w);
    return neg + w;
}

/* Append unit u, rewriting its opening when rewrite is set: hedges go
 * ("Can you write" -> "Write"), a wish becomes an instruction ("I want a"
 * -> "Create a"), "Don't use X" becomes "Avoid using X", a closing '?' of
 * a hedged request or a ':' before material becomes '.', a sentence ending
 * in a letter or digit gets its '.', and a plain lower-case opening word
 * gets its capital.  Nothing else changes. */
static void put_unit(eng_t *e, strbuf_t *sb, const unit_t *u, bool rewrite)
{
    const char *s = e->s;
    size_t i = u->start, end = u->end, at = sb->len, want;
    bool hedged = false;

    if (!rewrite || u->kind != U_TEXT) {
        strbuf_append(sb, s + i, end - i);
        return;
    }
    if (u->role == R_TASK)
        hedged = (i = strip_hedges(e, u)) != u->start;
    if (hedged) {
        /* the verb now opens the sentence: capitalised below */
    } else if (u->role == R_TASK && (want = wish_prefix(s + i, end - i))) {
        strbuf_puts(sb, "Create ");
        i += want;
    } else if (u->role == R_CONSTRAINT || u->role == R_TASK ||
               u->role == R_FORMAT) {
        i += rewrite_negative(sb, s, i, end);
    }
    if ((hedged && s[end - 1] == '?') || (u->intro && s[end - 1] == ':')) {
        strbuf_append(sb, s + i, end - 1 - i);
        strbuf_putc(sb, '.');
    } else {
        strbuf_append(sb, s + i, end - i);
        if (lex_word_len(s, end, end - 1) == 1 &&
            (unsigned char)s[end - 1] < 0x80)
            strbuf_putc(sb, '.'); /* "Write a story" -> "Write a story." */
    }
    if (at < sb->len && sb->ptr[at] >= 'a' && sb->ptr[at] <= 'z') {
        size_t w = lex_word_len(sb->ptr, sb->len, at);
        if (all_lower_word(sb->ptr + at, w))
            sb->ptr[at] = (char)(sb->ptr[at] - 32);
    }
}

static void put_without_fillers(arena_t *a, strbuf_t *sb, const char *t,
                                size_t n);

/* put_unit() and, when rewriting, without filler words ("pls", "basically"). */
static void put_clean(eng_t *e, strbuf_t *sb, const unit_t *u, bool rewrite)
{
    strbuf_t tmp;

    if (!rewrite || u->kind != U_TEXT) {
        put_unit(e, sb, u, false);
        return;
    }
    strbuf_init(&tmp, e->a, u->end - u->start + 16);
    put_unit(e, &tmp, u, true);
    put_without_fillers(e->a, sb, tmp.ptr, tmp.len);
}

/* Placeholders: the engine's one marker is "[[Add: ...]]" for a missing
 * essential (and "[[Clarify: ...]]" for a vague word in clarify mode).
 * The suggestion text is the placeholder without its brackets. */
#define PH(text) "[[Add: " text "]]"

static const char *ph_audience(const eng_t *e)
{
    if (e->cat == LEX_CAT_TRANSLATE)
        return PH("the register, e.g. formal or informal, and where the "
                  "text will be used");
    if (e->cat == LEX_CAT_CODE)
        return PH("the language, version and environment the code runs in");
    if (e->cat == LEX_CAT_EXTRACT)
        return PH("what the extracted data will be used for, and by whom");
    return PH("who is the audience, and what do they already know?");
}

static const char *ph_format(const eng_t *e)
{
    switch (e->cat) {
    case LEX_CAT_CODE:
        return PH("the output you want, e.g. one code block followed by a "
                  "short explanation");
    case LEX_CAT_EXTRACT:
        return PH("the output format, e.g. JSON with the field names you "
                  "need");
    case LEX_CAT_SUMMARY:
        return PH("the format, e.g. bullet points or one paragraph");
    case LEX_CAT_ANALYSIS:
        return PH("the format, e.g. a table of findings, then a "
                  "recommendation");
    case LEX_CAT_QA:
        return PH("the format, e.g. a direct answer first, then a short "
                  "explanation");
    default:
        return PH("the format, e.g. headings, paragraphs or a list");
    }
}

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

/* A task refers to material that must be supplied when it says "the
 * following", "below", "attached", or a determiner before a material noun
 * ("this article", "the reviews", "my code", "our survey results"). */
static const char *const material_marks[] = {
    "the following", "below", "attached", "above", NULL};
static const char *const determiners[] = {
    "this", "these", "that", "those", "the", "my", "our", "attached", NULL};
/* Words of the material cue list that are not nouns. */
static const char *const not_nouns[] = {
    "this", "these", "following", "below", "attached", "here", "list",
    "note", NULL};

static bool word_in(const char *w, size_t n, const char *const *list)
{
    for (; *list; list++)
        if (strlen(*list) == n && has_prefix(w, n, *list))
            return true;
    return false;
}

static bool refers_to_material(const eng_t *e)
{
    for (int k = 0; k < e->nu; k++) {
        const unit_t *u = &e->u[k];
        const char *s = e->s;
        if (u->role != R_TASK)
            continue;
        for (size_t i = u->start, w; i < u->end; i += w ? w : 1) {
            size_t j, w2, m;
            if (!(w = lex_word_len(s, u->end, i)))
                continue;
            for (const char *const *r = material_marks; *r; r++)
                if (lex_match(s + i, u->end - i, CUE_MATERIAL) &&
                    has_prefix(s + i, u->end - i, *r))
                    return true;
            if (!word_in(s + i, w, determiners))
                continue;
            /* the next one or two words: "the survey", "our survey data" */
            j = i + w;
            for (int look = 0; look < 2; look++) {
                while (j < u->end && s[j] == ' ')
                    j++;
                if (!(w2 = lex_word_len(s, u->end, j)))
                    break;
                m = lex_match(s + j, u->end - j, CUE_MATERIAL);
                if (m == w2 && !word_in(s + j, w2, not_nouns))
                    return true;
                j += w2;
            }
        }
    }
    return false;
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
        put_clean(e, sb, u, rewrite);
        prev = k;
        *first = false;
        any = true;
    }
    return any;
}

static void emit_line(strbuf_t *sb, bool *first, const char *prefix,
                      const char *text)
{
    if (!*first)
        strbuf_putc(sb, '\n');
    strbuf_puts(sb, prefix);
    strbuf_puts(sb, text);
    *first = false;
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

static bool has_role(const eng_t *e, int role)
{
    for (int k = 0; k < e->nu; k++)
        if (e->u[k].role == role)
            return true;
    return false;
}

/* Add a placeholder line to a section and record it as a suggestion. */
static void placeholder(eng_t *e, strbuf_t *sb, bool *first,
                        const char *prefix, const char *ph, bool insert)
{
    /* suggestion: "Add: ..." without the brackets */
    suggest(e, arena_strndup(e->a, ph + 2, strlen(ph) - 4));
    if (insert)
        emit_line(sb, first, prefix, ph);
}

/* Ask about the distinct vague words (at most 5) of the units of role
 * (every non-material unit when role < 0): one "[[Clarify: ...]]" line each
 * (each_line), or one line naming them all. */
static void clarify_vague(eng_t *e, strbuf_t *sb, bool *first,
                          const char *prefix, int role, bool each_line)
{
    const char *vague[5];
    size_t vlen[5];
    int nvague = 0;

    for (int k = 0; k < e->nu && nvague < 5; k++) {
        const unit_t *u = &e->u[k];
        if (role >= 0 ? u->role != role
                      : u->role == R_MATERIAL || u->role == R_DROP)
            continue;
        for (size_t i = u->start; i < u->end && nvague < 5;) {
            int sp = span_at(e, i);
            size_t w, m;
            if (sp < e->nspans && e->spans[sp].start <= i) {
                i = e->spans[sp].end;
                continue;
            }
            if (!(w = lex_word_len(e->s, u->end, i))) {
                i++;
                continue;
            }
            if ((m = lex_match(e->s + i, u->end - i, CUE_VAGUE))) {
                bool seen = false;
                for (int v = 0; v < nvague; v++)
                    seen |= vlen[v] == m && strncmp(vague[v], e->s + i, m) == 0;
                if (!seen && !memchr(e->s + i, '"', m)) {
                    vague[nvague] = e->s + i;
                    vlen[nvague++] = m;
                }
            }
            i += w;
        }
    }
    if (!nvague)
        return;
    if (each_line) {
        for (int v = 0; v < nvague; v++) {
            char *q = arena_printf(e->a, "[[Clarify: what exactly do you "
                                   "mean by \"%.*s\"?]]", (int)vlen[v],
                                   vague[v]);
            emit_line(sb, first, prefix, q);
            suggest(e, arena_strndup(e->a, q + 2, strlen(q) - 4));
        }
        return;
    }
    strbuf_t q;
    strbuf_init(&q, e->a, 128);
    strbuf_puts(&q, "[[Clarify: what exactly do you mean by ");
    for (int v = 0; v < nvague; v++)
        strbuf_printf(&q, "%s\"%.*s\"", v == 0 ? "" : v == nvague - 1
                                                     ? " and " : ", ",
                      (int)vlen[v], vague[v]);
    strbuf_puts(&q, "?]]");
    emit_line(sb, first, prefix, q.ptr);
    suggest(e, arena_strndup(e->a, q.ptr + 2, q.len - 4));
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
        clarify_vague(w->e, w->sb, &first, "", R_TASK, false);
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

    if (!has_role(e, R_CONTEXT) && !e->goal &&
        !(w->add && (need_role || !audience || need_bg)))
        return;
    section_begin(&sec, e, w->sb, "Context", "context");
    if (need_role)
        placeholder(e, w->sb, &first, "",
                    PH("the role to answer as, e.g. an experienced "
                       "specialist in the field"), w->add);
    emit_role(e, w->sb, R_CONTEXT, false, w->rewrite, &first);
    if (e->goal)
        emit_line(w->sb, &first, "Goal: ", e->goal);
    if (!audience)
        placeholder(e, w->sb, &first, "", ph_audience(e), w->add);
    if (need_bg)
        placeholder(e, w->sb, &first, "",
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

    if (!w->material && (e->all.vars || !refers_to_material(e)))
        return;
    wrap = !w->material || !delimited_material(e);
    if (sb->len)
        strbuf_puts(sb, "\n\n");
    if (!e->xml)
        strbuf_puts(sb, "## Input\n");
    if (wrap)
        strbuf_puts(sb, "<input>\n");
    if (!emit_material(e, sb))
        placeholder(e, sb, &first, "", PH("paste the text to work on here"),
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

    if (!has_role(e, R_CONSTRAINT) && !dflt && !(w->add && need_tone))
        return;
    section_begin(&sec, e, w->sb, "Constraints", "constraints");
    emit_role(e, w->sb, R_CONSTRAINT, true, w->rewrite, &first);
    if (dflt)
        emit_line(w->sb, &first, "- ", dflt);
    if (need_tone)
        placeholder(e, w->sb, &first, "- ",
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

    if (!has_role(e, R_FORMAT) && !(w->add && (!format || need_len))) {
        if (!format)
            suggest(e, "Add: the output format");
        if (need_len)
            suggest(e, "Add: the length of the answer");
        return;
    }
    section_begin(&sec, e, w->sb, "Output format", "output_format");
    emit_role(e, w->sb, R_FORMAT, true, w->rewrite, &first);
    if (!format)
        placeholder(e, w->sb, &first, "- ", ph_format(e), w->add);
    if (need_len)
        placeholder(e, w->sb, &first, "- ",
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

    if (!has_role(e, R_EXAMPLE) && !(w->add && want)) {
        if (want && !e->all.cue[CUE_EXAMPLE])
            suggest(e, "Add: an example of the output you expect");
        return;
    }
    section_begin(&sec, e, w->sb, "Examples", "examples");
    if (!emit_role(e, w->sb, R_EXAMPLE, false, w->rewrite, &first))
        placeholder(e, w->sb, &first, "",
                    PH("one example of the input and the output you expect"),
                    w->add);
    section_end(&sec, "examples");
}

/* improve, expand and structure: the sectioned rewrite. */
static void write_sections(eng_t *e, strbuf_t *sb, engine_mode_t mode)
{
    sections_t w = {
        .e = e, .sb = sb,
        .rewrite = mode != ENGINE_STRUCTURE,
        .add = mode != ENGINE_STRUCTURE,
        .expand = mode == ENGINE_EXPAND,
        .material = has_role(e, R_MATERIAL),
    };

    section_task(&w);
    section_context(&w);
    section_input(&w);
    section_steps(&w);
    section_constraints(&w);
    section_format(&w);
    section_examples(&w);
}

/* The separator between two units in the original, normalised: a blank
 * line between paragraphs, a newline between lines, else a space. */
static void put_gap(strbuf_t *sb, const char *s, size_t from, size_t to)
{
    int nl = 0;

    for (size_t i = from; i < to; i++)
        nl += s[i] == '\n';
    strbuf_puts(sb, nl >= 2 ? "\n\n" : nl ? "\n" : " ");
}

/* clarify: the prompt in its own order, hedges resolved, material
 * delimited, then the open questions as placeholders. */
static void write_clarify(eng_t *e, strbuf_t *sb)
{
    const lex_stats_t *st = &e->all;
    int prev = 0;
    bool first = true;

    for (int k = 0; k < e->nu; k++) {
        const unit_t *u = &e->u[k];
        if (u->role == R_DROP)
            continue;
        if (sb->len)
            put_gap(sb, e->s, e->u[prev].end, u->start);
        prev = k;
        if (u->role == R_MATERIAL) {
            int last = k;
            while (last + 1 < e->nu && e->u[last + 1].role == R_MATERIAL)
                last++;
            strbuf_puts(sb, "<input>\n");
            strbuf_append(sb, e->s + u->start, e->u[last].end - u->start);
            strbuf_puts(sb, "\n</input>");
            k = prev = last;
            continue;
        }
        put_clean(e, sb, u, true);
    }
    size_t body = sb->len;
    strbuf_puts(sb, e->xml ? "\n\n<open_questions>\n" : "\n\n## Open questions\n");
    clarify_vague(e, sb, &first, "- ", -1, true);
    if (e->cat == LEX_CAT_CODE ? !st->cue[CUE_LANG] : !st->cue[CUE_AUDIENCE])
        placeholder(e, sb, &first, "- ", ph_audience(e), true);
    if (!st->cue[CUE_FORMAT] && !st->format_sentences &&
        e->cat != LEX_CAT_TRANSLATE)
        placeholder(e, sb, &first, "- ", ph_format(e), true);
    if (!st->length_specs && !st->cue[CUE_LENGTHWORD] &&
        e->cat != LEX_CAT_CODE && e->cat != LEX_CAT_EXTRACT &&
        e->cat != LEX_CAT_TRANSLATE)
        placeholder(e, sb, &first, "- ",
                    PH("the length, e.g. 150 words or 5 bullet points"), true);
    if (!has_role(e, R_MATERIAL) && !st->vars && refers_to_material(e))
        placeholder(e, sb, &first, "- ",
                    PH("paste the text to work on, between <input> tags"),
                    true);
    if (first) { /* nothing to ask: no section */
        sb->len = body;
        sb->ptr[body] = '\0';
        return;
    }
    if (e->xml)
        strbuf_puts(sb, "\n</open_questions>");
}

/* Filler removed by concise mode: phrase and replacement ("" removes). */
static const struct {
    const char *phrase, *with;
} fillers[] = {
    {"due to the fact that", "because"}, {"at this point in time", "now"},
    {"for all intents and purposes", ""}, {"it is important to note that", ""},
    {"it should be noted that", ""}, {"needless to say", ""},
    {"in order to", "to"}, {"in the event that", "if"},
    {"a large number of", "many"}, {"has the ability to", "can"},
    {"is able to", "can"}, {"if you don't mind", ""}, {"if possible", ""},
    {"if you can", ""}, {"as you know", ""}, {"of course", ""},
    {"please", ""}, {"kindly", ""}, {"basically", ""}, {"actually", ""},
    {"really", ""}, {"very", ""}, {"literally", ""}, {"totally", ""},
    {"honestly", ""}, {"essentially", ""}, {"pls", ""}, {"plz", ""},
    {NULL, NULL}};
#define FILLERS_END ((int)(sizeof(fillers) / sizeof(fillers[0])) - 1)

/* Fillers that may also go when they open a unit capitalised ("Please"). */
static bool capital_ok(const char *phrase)
{
    return !strcmp(phrase, "please") || !strcmp(phrase, "kindly") ||
           !strcmp(phrase, "basically") || !strcmp(phrase, "actually") ||
           !strcmp(phrase, "really") || !strcmp(phrase, "honestly") ||
           !strcmp(phrase, "essentially");
}

/* Append t[0..n) to sb without its fillers (never inside a span). */
static void put_without_fillers(arena_t *a, strbuf_t *sb, const char *t,
                                size_t n)
{
    lex_span_t *spans;
    int nspans = lex_spans(a, t, n, &spans), sp = 0;
    size_t base = sb->len, i = 0;
    bool cap_next = false;

    while (i < n) {
        size_t w, m = 0;
        int f;

        if (sp < nspans && spans[sp].start == i) {
            strbuf_append(sb, t + i, spans[sp].end - i);
            i = spans[sp].end;
            sp++;
            cap_next = false;
            continue;
        }
        if (!(w = lex_word_len(t, n, i))) {
            strbuf_putc(sb, t[i]);
            if (!is_space(t[i]))
                cap_next = false;
            i++;
            continue;
        }
        /* only a free-standing filler goes: white space (or the start)
         * before it, so "Acme-'very" keeps its tail */
        for (f = i > 0 && !is_space(t[i - 1]) ? FILLERS_END : 0;
             fillers[f].phrase; f++) {
            size_t pl = strlen(fillers[f].phrase);
            bool ok = true;
            if (!has_prefix(t + i, n - i, fillers[f].phrase) ||
                (i + pl < n && lex_word_len(t, n, i + pl) &&
                 lex_word_len(t, n, i + pl - 1) > 1))
                continue;
            for (size_t k = 0; k < pl; k++)
                if (t[i + k] >= 'A' && t[i + k] <= 'Z' &&
                    !(k == 0 && sb->len == base &&
                      capital_ok(fillers[f].phrase)))
                    ok = false;
            if (ok) {
                m = pl;
                break;
            }
        }
        if (!m) { /* an ordinary word */
            if (cap_next && t[i] >= 'a' && t[i] <= 'z') {
                strbuf_putc(sb, (char)(t[i] - 32));
                strbuf_append(sb, t + i + 1, w - 1);
            } else {
                strbuf_append(sb, t + i, w);
            }
            cap_next = false;
            i += w;
            continue;
        }
        if (*fillers[f].with) {
            strbuf_puts(sb, fillers[f].with);
            i += m;
            continue;
        }
        cap_next = cap_next || sb->len == base;
        i += m;
        if (i < n && strchr(".!?;:,", t[i]) && sb->len > base &&
            sb->ptr[sb->len - 1] == ' ') {
            /* "write it, please." -> "write it." */
            while (sb->len > base && (sb->ptr[sb->len - 1] == ' ' ||
                                      sb->ptr[sb->len - 1] == ','))
                sb->len--;
            sb->ptr[sb->len] = '\0';
            if (t[i] == ',')
                i++;
        } else {
            if (i < n && t[i] == ',')
                i++;
            while (i < n && t[i] == ' ')
                i++;
        }
    }
    /* a filler that ended the text leaves no trailing blank */
    while (sb->len > base && sb->ptr[sb->len - 1] == ' ')
        sb->len--;
    sb->ptr[sb->len] = '\0';
}

static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;

    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    return h;
}

/* Is the unit a bare pleasantry ("Thanks!", "Hello there,")? */
static bool pleasantry(const char *p, size_t n)
{
    static const char *const list[] = {
        "thanks", "thank you", "thanks in advance", "thank you in advance",
        "thanks a lot", "thank you so much", "many thanks", "hi", "hello",
        "hey", "hi there", "hello there", "cheers", NULL};
    while (n && (p[n - 1] == '!' || p[n - 1] == '.' || p[n - 1] == ',' ||
                 p[n - 1] == ' '))
        n--;
    for (const char *const *l = list; *l; l++)
        if (strlen(*l) == n && has_prefix(p, n, *l))
            return true;
    return false;
}

/* concise: the prompt in its own order without hedges, filler,
 * pleasantries and repeated sentences; every constraint stays. */
static void write_concise(eng_t *e, strbuf_t *sb)
{
    size_t nslots = 16;
    uint64_t *seen;
    int prev = -1;

    while (nslots < (size_t)e->nu * 2)
        nslots *= 2;
    seen = arena_zalloc(e->a, nslots * sizeof(*seen));
    for (int k = 0; k < e->nu; k++) {
        const unit_t *u = &e->u[k];
        const char *p = e->s + u->start;
        size_t n = u->end - u->start;

        if (u->role != R_MATERIAL && u->kind != U_CODE) {
            uint64_t h = fnv1a(p, n) | 1;
            size_t slot = (size_t)h & (nslots - 1);
            bool dup = false;
            while (seen[slot]) {
                if (seen[slot] == h) {
                    dup = true;
                    break;
                }
                slot = (slot + 1) & (nslots - 1);
            }
            if (dup || u->role == R_DROP)
                continue; /* an exact repeat: its bytes are already out */
            seen[slot] = h;
        }
        if (prev >= 0)
            put_gap(sb, e->s, e->u[prev].end, u->start);
        prev = k;
        if (u->role == R_MATERIAL || u->kind != U_TEXT) {
            strbuf_append(sb, p, n);
            continue;
        }
        put_clean(e, sb, u, true);
    }
    if (!sb->len) /* only pleasantries: keep the prompt as it was */
        strbuf_append(sb, e->s + e->u[0].start,
                      e->u[e->nu - 1].end - e->u[0].start);
}

static bool contains_ci(const char *hay, const char *needle)
{
    size_t n = hay ? strlen(hay) : 0;

    for (size_t i = 0; i < n; i++)
        if (has_prefix(hay + i, n - i, needle))
            return true;
    return false;
}

/* The goal without surrounding white space, one line; NULL when empty
 * or not valid UTF-8 (the caller's goal is never trusted blindly). */
static const char *trimmed_goal(arena_t *a, const char *goal)
{
    size_t n;
    char *g;

    if (!goal)
        return NULL;
    while (is_space(*goal))
        goal++;
    n = strlen(goal);
    while (n && is_space(goal[n - 1]))
        n--;
    if (!n || !utf8_valid(goal, n))
        return NULL;
    g = arena_strndup(a, goal, n);
    for (char *p = g; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    return g;
}

int engine_enrich(arena_t *a, const char *prompt, size_t len,
                  const engine_opts_t *opts, engine_result_t *out)
{
    static const engine_opts_t defaults = {.mode = ENGINE_IMPROVE};
    eng_t e;
    strbuf_t sb;
    size_t i = 0;

    if (!a || !prompt || !len || !out || !utf8_valid(prompt, len))
        return -1;
    while (i < len && is_space(prompt[i]))
        i++;
    if (i == len)
        return -1; /* nothing but white space */
    if (!opts)
        opts = &defaults;
    if ((unsigned)opts->mode >= ENGINE_MODE_COUNT)
        return -1;
    memset(&e, 0, sizeof(e));
    e.a = a;
    e.s = prompt;
    e.len = len;
    e.opts = opts;
    e.nspans = lex_spans(a, prompt, len, &e.spans);
    lex_scan(prompt, 0, len, e.spans, e.nspans, &e.all);
    e.cat = lex_category(&e.all);
    e.goal = trimmed_goal(a, opts->goal);
    e.xml = opts->target_model && contains_ci(opts->target_model, "claude");
    /* OpenAI's reasoning models work best without step-by-step scaffolds */
    e.reasoning = opts->target_model && opts->target_model[0] == 'o' &&
                  opts->target_model[1] >= '1' && opts->target_model[1] <= '9';
    split_units(&e);
    classify(&e);

    strbuf_init(&sb, a, len + 1024);
    switch (opts->mode) {
    case ENGINE_CLARIFY:
        write_clarify(&e, &sb);
        break;
    case ENGINE_CONCISE:
        write_concise(&e, &sb);
        break;
    default:
        write_sections(&e, &sb, opts->mode);
        break;
    }
    out->text = sb.ptr;
    out->len = sb.len;
    out->suggestions = e.sugg ? e.sugg : arena_zalloc(a, sizeof(char *));
    out->nsuggestions = e.nsugg;
    return 0;
}
