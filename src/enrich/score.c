/* score.c: the deterministic prompt-quality scorer (nine explained dimensions, weighted by the prompt's kind). */
#include <string.h>

#include "core/json.h"
#include "core/str.h"
#include "enrich/lex.h"
#include "enrich/score.h"
#include "enrich/score_int.h"

/* Dimension names (JSON keys), and their weights in the total per kind
 * (each column sums to 100): an image prompt is judged mostly on what it
 * shows, a question more on its detail and context. */
static const char *const score_names[SCORE_DIMENSION_COUNT] = {
    [SCORE_CLARITY] = "clarity", [SCORE_SPECIFICITY] = "specificity",
    [SCORE_CONTEXT] = "context", [SCORE_STRUCTURE] = "structure",
    [SCORE_OUTPUT_FORMAT] = "output_format",
    [SCORE_CONSTRAINTS] = "constraints", [SCORE_EXAMPLES] = "examples",
    [SCORE_DETAIL] = "detail", [SCORE_REASONING] = "reasoning",
};
static const char *const score_kind_names[] = {"task", "question", "image"};
static const int score_weights[3][SCORE_DIMENSION_COUNT] = {
    /* clar spec ctx struct out cons ex detail reasoning */
    [SCORE_KIND_TASK] = {16, 16, 12, 9, 13, 9, 7, 14, 4},
    [SCORE_KIND_QUESTION] = {16, 16, 14, 7, 11, 8, 4, 18, 6},
    [SCORE_KIND_IMAGE] = {12, 8, 3, 2, 8, 7, 0, 60, 0},
};

/* A dimension scoring below this gets its reason as a suggestion. */
#define SCORE_SUGGEST_BELOW 70
#define SCORE_MAX_SUGGESTIONS 5

/* Guards against prompts written for the scorer.  A prompt of at least
 * STUFFED_MIN_WORDS words whose scoring cue words are more than
 * STUFFED_PERCENT of all its words is a keyword list, not instructions (the
 * hand-improved test prompts stay at or under 30%); its total is capped.
 * So is the total of a prompt with no instruction at all (no task,
 * question or output sentence): cues around nothing to do earn little. */
#define SCORE_STUFFED_MIN_WORDS 12
#define SCORE_STUFFED_PERCENT 40
#define SCORE_STUFFED_CAP 45
#define SCORE_NO_TASK_CAP 40

/* The cue classes the dimensions below reward. */
static const enum lex_cue score_rewarded_cues[] = {
    CUE_AUDIENCE, CUE_ROLE, CUE_BACKGROUND, CUE_FORMAT, CUE_LENGTHWORD,
    CUE_CONSTRAINT, CUE_TONE, CUE_EXAMPLE,
};

static int clamp100(int v)
{
    return v < 0 ? 0 : v > 100 ? 100 : v;
}

static int min_int(int a, int b)
{
    return a < b ? a : b;
}

static bool score_has_task(const lex_stats_t *st)
{
    return st->task_sentences || st->questions || st->format_sentences;
}

/* True when the rewarded cue words crowd out everything else. */
static bool score_stuffed(const lex_stats_t *st)
{
    int hits = 0;

    if (st->words < SCORE_STUFFED_MIN_WORDS)
        return false;
    for (size_t i = 0; i < sizeof(score_rewarded_cues) / sizeof(score_rewarded_cues[0]); i++)
        hits += st->cue[score_rewarded_cues[i]];
    return hits * 100 > SCORE_STUFFED_PERCENT * st->words;
}

/* The first vague word of the prompt, quoted, for a reason line. */
static const char *vague_word(arena_t *a, const char *p, size_t len,
                              const lex_stats_t *st)
{
    size_t at, n;

    if (!st->vague_first)
        return "vague words";
    at = (size_t)st->vague_first - 1;
    n = lex_match(p + at, len - at, CUE_VAGUE);
    return arena_printf(a, "\"%.*s\"", (int)n, p + at);
}

static void score_clarity(arena_t *a, const char *p, size_t len,
                          const lex_stats_t *st, const score_scan_t *k,
                          bool stuffed, score_dim_t *d)
{
    int v = 40, vague = st->cue[CUE_VAGUE];
    int soft = st->cue[CUE_FILLER] + st->cue[CUE_HEDGE];
    bool image = k->kind == SCORE_KIND_IMAGE;
    bool task = score_has_task(st) || k->instructions || image || k->foreign;
    int longs = image ? 0 : st->long_sentences; /* a list of descriptors */

    if (st->task_sentences)
        v += 30;
    else if (st->questions || st->format_sentences || k->instructions ||
             image || k->foreign)
        v += 20; /* another language's verbs are not known: assume one */
    if (st->first_is_task || st->first_is_role || image)
        v += 10; /* a role line may come first, as the guides show */
    v -= min_int(30, 8 * vague);
    v -= min_int(20, 4 * soft);
    v -= min_int(12, 6 * longs);
    v -= min_int(10, 2 * k->shout);
    if (task && !vague && !soft && !longs && !stuffed && !k->shout)
        v += 10;
    if (stuffed)
        v -= 40;
    d->value = clamp100(v);
    if (k->foreign && !st->task_sentences && !st->questions)
        d->reason = "Open with the task as one direct instruction (only "
                    "English wording is checked for vague words).";
    else if (!task)
        d->reason = "State the task as one direct instruction that starts "
                    "with a verb, e.g. \"Summarise the report in 5 bullets\".";
    else if (stuffed)
        d->reason = "Write the prompt as instructions in full sentences, not "
                    "a list of keywords.";
    else if (vague)
        d->reason = arena_printf(a, "Replace vague wording such as %s with "
                                 "the exact result you want.",
                                 vague_word(a, p, len, st));
    else if (k->shout)
        d->reason = "Write rules in normal case and say why they matter; "
                    "capitals add no meaning.";
    else if (soft)
        d->reason = "Drop hedges and filler (\"can you\", \"please\", "
                    "\"basically\"); give the instruction directly.";
    else if (longs)
        d->reason = "Split sentences longer than 35 words into separate "
                    "instructions.";
    else if (!st->first_is_task && !st->first_is_role && !image)
        d->reason = "Open with the task itself; put background after it.";
    else
        d->reason = "The task is stated directly.";
}

static void score_specificity(arena_t *a, const char *p, size_t len,
                              const lex_stats_t *st, const score_scan_t *k,
                              score_dim_t *d)
{
    int names = st->names > k->shout ? st->names - k->shout : 0;
    int specifics = st->numbers + names + st->quotes + st->vars +
                    st->codes + st->fences;
    int v = 15 + 10 * min_int(specifics, 6);

    if (st->length_specs)
        v += 10;
    v -= min_int(40, 10 * st->cue[CUE_VAGUE]);
    if (st->words >= 150 && specifics * 50 < st->words)
        v -= 10; /* long but with few concrete details */
    d->value = clamp100(v);
    if (st->cue[CUE_VAGUE])
        d->reason = arena_printf(a, "Name exact quantities, names or "
                                 "criteria instead of %s.",
                                 vague_word(a, p, len, st));
    else if (specifics < 2)
        d->reason = "Add concrete details: numbers, names, quoted terms or "
                    "{{variables}} for the parts that change.";
    else if (!st->length_specs)
        d->reason = "Add one measurable target, e.g. a word count or the "
                    "number of items.";
    else
        d->reason = "Concrete details and measurable targets are present.";
}

static void score_context(const lex_stats_t *st, score_dim_t *d)
{
    bool audience = st->cue[CUE_AUDIENCE] > 0, role = st->cue[CUE_ROLE] > 0;
    bool background = st->cue[CUE_BACKGROUND] > 0;
    bool material = st->fences || st->vars || st->xml_tags;
    int v = 10 + 30 * audience + 25 * role + 25 * background + 10 * material;

    if (st->pcue[CUE_AUDIENCE] || st->pcue[CUE_ROLE] ||
        st->pcue[CUE_BACKGROUND])
        v += 10; /* a marked slot the user still has to fill */
    d->value = clamp100(v);
    if (!audience)
        d->reason = "Say who the result is for and what they already know.";
    else if (!background)
        d->reason = "Add the purpose: why you need this and how it will be "
                    "used.";
    else if (!role)
        d->reason = "Optionally set a role, e.g. \"You are an experienced "
                    "copy editor\".";
    else
        d->reason = "Audience, purpose and role are stated.";
}

static void score_structure(const lex_stats_t *st, const score_scan_t *k,
                            score_dim_t *d)
{
    bool is_short = st->words <= 30 && st->sentences <= 2;
    bool delimited = st->xml_tags || st->delimiters || st->fences;
    int inline_tags = k->tags - st->xml_tags; /* "answer in <answer> tags" */
    int sections = st->headings + st->labels;
    int v = is_short ? 55 : 30;

    v += min_int(25, 10 * sections);
    v += min_int(15, 5 * st->list_items);
    if (delimited)
        v += 15;
    if (inline_tags > 0)
        v += min_int(10, 5 * inline_tags);
    if (st->paragraphs > 1)
        v += 5;
    if (!is_short && st->words > 120 && !sections && !st->list_items)
        v -= 10;
    d->value = clamp100(v);
    if (!is_short && !sections)
        d->reason = "Break the prompt into labelled sections (Task, Context, "
                    "Input, Output format).";
    else if (st->cue[CUE_MATERIALREF] && !delimited && st->words > 40)
        d->reason = "Put supplied text between delimiters such as "
                    "<input>...</input>.";
    else if (!st->list_items && st->cue[CUE_CONSTRAINT] >= 3)
        d->reason = "List the constraints as bullet points.";
    else if (is_short && !sections)
        d->reason = "Short enough to read at once; add sections if it grows.";
    else
        d->reason = "Sections and delimiters make the prompt easy to follow.";
}

static void score_output_format(const lex_stats_t *st, score_dim_t *d)
{
    bool format = st->cue[CUE_FORMAT] > 0;
    bool length = st->length_specs || st->cue[CUE_LENGTHWORD];
    int v = 10;

    if (format)
        v += 45;
    if (st->length_specs)
        v += 25;
    else if (st->cue[CUE_LENGTHWORD])
        v += 15;
    if (st->format_sentences)
        v += 15;
    if (st->pcue[CUE_FORMAT] || st->pcue[CUE_LENGTHUNIT])
        v += 15;
    d->value = clamp100(v);
    if (!format)
        d->reason = "Say what the answer should look like, e.g. a table, "
                    "JSON with named fields or 5 bullet points.";
    else if (!length)
        d->reason = "State the length, e.g. \"under 150 words\" or \"3 "
                    "bullet points\".";
    else
        d->reason = "The output format and length are stated.";
}

static void score_constraints(const lex_stats_t *st, const score_scan_t *k,
                              score_dim_t *d)
{
    int n = st->cue[CUE_CONSTRAINT] + (st->cue[CUE_TONE] > 0) +
            (st->length_specs > 0);
    int v = 15 + 20 * min_int(n, 3), rules = k->hits[LSC_AGENT_RULE];
    bool agent = k->hits[LSC_AGENT_TOOL] > 0;

    v += min_int(10, 5 * rules); /* what to do when, when to stop */
    if (agent && !rules)
        v -= 10;

    if (st->cue[CUE_TONE])
        v += 10;
    if (st->pcue[CUE_CONSTRAINT] || st->pcue[CUE_TONE])
        v += 10;
    v -= min_int(15, 5 * st->neg_sentences);
    d->value = clamp100(v);
    if (agent && !rules)
        d->reason = "Say what the agent does in each case (\"if the search "
                    "finds nothing, ask the user\") and when it stops.";
    else if (!n)
        d->reason = "Add explicit constraints: scope, tone, what to include "
                    "and what to leave out.";
    else if (st->neg_sentences)
        d->reason = "Phrase rules positively: say what to do rather than "
                    "what not to do.";
    else if (!st->cue[CUE_TONE])
        d->reason = "Name the tone or style the answer should have.";
    else
        d->reason = "Constraints and tone are explicit.";
}

static void score_examples(const lex_stats_t *st, score_dim_t *d)
{
    int v = 15;

    if (st->cue[CUE_EXAMPLE])
        v = st->cue[CUE_EXAMPLE] > 1 ? 90 : 80;
    else if (st->pcue[CUE_EXAMPLE])
        v = 35;
    d->value = v;
    d->reason = st->cue[CUE_EXAMPLE]
                    ? "An example shows the expected result."
                    : "Add a short example of the input and the output you "
                      "expect.";
}

/* Image aspects in the order a reason names the first one missing. */
static const struct {
    int cls;
    const char *hint;
} score_img_aspects[] = {
    {LSC_IMG_MEDIUM, "the medium or style, e.g. \"watercolour illustration\""},
    {LSC_IMG_LIGHTING, "the lighting, e.g. \"soft light from the left\""},
    {LSC_IMG_COMPOSITION, "the composition, e.g. \"close-up, centred\""},
    {LSC_IMG_COLOUR, "the colours, e.g. \"muted teal and cream palette\""},
    {LSC_IMG_MOOD, "the mood, e.g. \"calm, nostalgic\""},
    {LSC_IMG_LENS, "the camera or lens, e.g. \"35mm, shallow depth of field\""},
    {LSC_IMG_ASPECT, "the aspect ratio, e.g. \"--ar 16:9\" or \"square\""},
};
#define SCORE_NASPECTS \
    (sizeof(score_img_aspects) / sizeof(score_img_aspects[0]))

/* Detail: distinct content words with diminishing returns (one more word
 * always counts a little, repeating one counts nothing); for an image,
 * the aspects the image guides list. */
static void score_detail(arena_t *a, const lex_stats_t *st,
                         const score_scan_t *k, score_dim_t *d)
{
    int c = k->content, v;

    if (k->kind == SCORE_KIND_IMAGE) {
        v = 8 + 10 * k->img_aspects + 22 * c / (c + 12);
        v -= min_int(20, 7 * k->hits[LSC_IMG_EMPTY]);
        if (k->subject < 3)
            v = min_int(v, 30 + 10 * k->subject); /* style without a subject */
        d->value = clamp100(v);
        if (k->subject < 3) {
            d->reason = "Describe the subject: who or what is in the image, "
                        "doing what, where.";
            return;
        }
        for (size_t i = 0; i < SCORE_NASPECTS; i++)
            if (!k->hits[score_img_aspects[i].cls]) {
                d->reason = arena_printf(a, "Describe the image further: add "
                                         "%s.", score_img_aspects[i].hint);
                return;
            }
        d->reason = k->hits[LSC_IMG_EMPTY]
                        ? "Replace empty praise (\"beautiful\", \"best "
                          "quality\") with what the image should show."
                        : "Subject, style, lighting, composition, colour, "
                          "mood and format are described.";
        return;
    }
    v = 100 * c / (c + 22) - min_int(25, 5 * st->cue[CUE_VAGUE]);
    d->value = clamp100(v);
    if (c < 12)
        d->reason = "Add the details only you know: the subject, the "
                    "situation, what the result is for.";
    else if (st->cue[CUE_VAGUE])
        d->reason = "Replace the vague words with the details you mean.";
    else
        d->reason = "The prompt carries the details the task needs.";
}

/* Reasoning: asking for the steps before the answer helps problems and
 * analyses; its absence costs a little, and nothing for an image. */
static void score_reasoning(const score_scan_t *k, score_dim_t *d)
{
    int r = k->hits[LSC_REASONING];

    d->value = r ? min_int(100, 80 + 10 * r) : 40;
    if (k->kind == SCORE_KIND_IMAGE)
        d->reason = "Not needed for an image prompt.";
    else if (r)
        d->reason = "The prompt asks for the reasoning before the answer.";
    else
        d->reason = "For problems and analyses, ask for the reasoning step "
                    "by step before the final answer.";
}

/* An image prompt's output: the format (aspect ratio, size) and medium. */
static void score_image_output(const score_scan_t *k, score_dim_t *d)
{
    bool ratio = k->hits[LSC_IMG_ASPECT] > 0;
    bool medium = k->hits[LSC_IMG_MEDIUM] > 0;

    d->value = 20 + 45 * ratio + 25 * medium;
    if (!ratio)
        d->reason = "Give the aspect ratio or size, e.g. \"--ar 16:9\" or "
                    "\"square\".";
    else if (!medium)
        d->reason = "Name the medium, e.g. \"photograph\" or \"oil painting\".";
    else
        d->reason = "The format and medium of the image are stated.";
}

/* An image prompt's reasons for the dimensions written for text requests:
 * what helps an image, not sections or input/output examples. */
static void score_image_reasons(score_t *out)
{
    if (out->dims[SCORE_STRUCTURE].value < SCORE_SUGGEST_BELOW)
        out->dims[SCORE_STRUCTURE].reason =
            "Describe the subject first, then style, light and framing, "
            "separated by commas.";
    if (out->dims[SCORE_CONTEXT].value < SCORE_SUGGEST_BELOW)
        out->dims[SCORE_CONTEXT].reason =
            "Optionally say what the image is for, e.g. \"a poster for a "
            "jazz night\".";
    if (out->dims[SCORE_CONSTRAINTS].value < SCORE_SUGGEST_BELOW)
        out->dims[SCORE_CONSTRAINTS].reason =
            "Say what the image must include or leave out, e.g. \"no text, "
            "plain white background\".";
    if (!out->dims[SCORE_EXAMPLES].reason ||
        out->dims[SCORE_EXAMPLES].value < SCORE_SUGGEST_BELOW)
        out->dims[SCORE_EXAMPLES].reason =
            "Not needed for an image prompt; name a reference style instead.";
}

/* The weak dimensions' reasons, largest weighted gap first (insertion
 * sort; ties keep dimension order), into out->suggestions. */
static void score_suggest(arena_t *a, const int *weight, score_t *out)
{
    int order[SCORE_DIMENSION_COUNT] = {0}, n = 0;

    for (int i = 0; i < SCORE_DIMENSION_COUNT; i++) {
        int gap = (100 - out->dims[i].value) * weight[i], j = n;

        if (out->dims[i].value >= SCORE_SUGGEST_BELOW || !weight[i])
            continue;
        while (j > 0 && (100 - out->dims[order[j - 1]].value) *
                                weight[order[j - 1]] < gap) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
        n++;
    }
    if (n > SCORE_MAX_SUGGESTIONS)
        n = SCORE_MAX_SUGGESTIONS;
    out->suggestions = arena_alloc(a, (size_t)(n ? n : 1) * sizeof(char *));
    for (int i = 0; i < n; i++)
        out->suggestions[i] = out->dims[order[i]].reason;
    out->nsuggestions = n;
}

int score_prompt(arena_t *a, const char *prompt, size_t len, score_t *out)
{
    lex_span_t *spans;
    lex_stats_t st;
    score_scan_t k;
    const int *w;
    int nspans, sum = 0;
    bool stuffed, image;

    if (!prompt || !len || !utf8_valid(prompt, len))
        return -1;
    memset(out, 0, sizeof(*out));
    nspans = lex_spans(a, prompt, len, &spans);
    lex_scan(prompt, 0, len, spans, nspans, &st);
    score_kind_scan(a, prompt, len, spans, nspans, &st, &k);
    stuffed = score_stuffed(&st);
    image = k.kind == SCORE_KIND_IMAGE;
    w = score_weights[k.kind];

    score_clarity(a, prompt, len, &st, &k, stuffed, &out->dims[SCORE_CLARITY]);
    score_specificity(a, prompt, len, &st, &k, &out->dims[SCORE_SPECIFICITY]);
    score_context(&st, &out->dims[SCORE_CONTEXT]);
    score_structure(&st, &k, &out->dims[SCORE_STRUCTURE]);
    if (image)
        score_image_output(&k, &out->dims[SCORE_OUTPUT_FORMAT]);
    else
        score_output_format(&st, &out->dims[SCORE_OUTPUT_FORMAT]);
    score_constraints(&st, &k, &out->dims[SCORE_CONSTRAINTS]);
    score_examples(&st, &out->dims[SCORE_EXAMPLES]);
    score_detail(a, &st, &k, &out->dims[SCORE_DETAIL]);
    score_reasoning(&k, &out->dims[SCORE_REASONING]);

    for (int i = 0; i < SCORE_DIMENSION_COUNT; i++) {
        out->dims[i].name = score_names[i];
        sum += w[i] * out->dims[i].value;
    }
    out->kind = score_kind_names[k.kind];
    if (image)
        score_image_reasons(out);
    out->total = clamp100((sum + 50) / 100);
    if (stuffed)
        out->total = min_int(out->total, SCORE_STUFFED_CAP);
    if (!score_has_task(&st) && !k.instructions && !image && !k.foreign)
        out->total = min_int(out->total, SCORE_NO_TASK_CAP);
    score_suggest(a, w, out);
    return 0;
}

void score_json_append(strbuf_t *sb, const score_t *s)
{
    strbuf_printf(sb, "{\"total\":%d,", s->total);
    if (s->kind)
        strbuf_printf(sb, "\"kind\":\"%s\",", s->kind); /* static names */
    strbuf_puts(sb, "\"dimensions\":{");
    for (int i = 0; i < SCORE_DIMENSION_COUNT; i++) {
        if (i)
            strbuf_putc(sb, ',');
        json_append_string(sb, score_names[i]);
        strbuf_printf(sb, ":{\"value\":%d,\"reason\":", s->dims[i].value);
        json_append_string(sb, s->dims[i].reason ? s->dims[i].reason : "");
        strbuf_putc(sb, '}');
    }
    strbuf_puts(sb, "}}");
}
