/* score.c: unit tests for the prompt-quality scorer (ranking, length, JSON). */
#include <string.h>

#include <cjson/cJSON.h>

#include "core/str.h"
#include "enrich/score.h"
#include "pairs.h"
#include "tap.h"

/* The scorer must rank the hand-improved prompt above the original on at
 * least this share of the test set (percent). */
#define RANK_THRESHOLD 95

static const char *const dim_names[SCORE_DIMENSION_COUNT] = {
    "clarity", "specificity", "context", "structure", "output_format",
    "constraints", "examples", "detail", "reasoning"};

static int score_of(arena_t *a, const char *p)
{
    score_t s;

    return score_prompt(a, p, strlen(p), &s) == 0 ? s.total : -1;
}

static char *json_of(arena_t *a, const char *p)
{
    score_t s;
    strbuf_t sb;

    strbuf_init(&sb, a, 256);
    if (score_prompt(a, p, strlen(p), &s) != 0)
        return NULL;
    score_json_append(&sb, &s);
    return sb.ptr;
}

/* Every dimension in range, named, with a one-line reason. */
static int well_formed(const score_t *s)
{
    if (s->total < 0 || s->total > 100)
        return 0;
    for (int d = 0; d < SCORE_DIMENSION_COUNT; d++) {
        const score_dim_t *x = &s->dims[d];
        if (x->value < 0 || x->value > 100 || !x->name ||
            strcmp(x->name, dim_names[d]) != 0 || !x->reason ||
            !*x->reason || strchr(x->reason, '\n'))
            return 0;
    }
    for (int i = 0; i < s->nsuggestions; i++)
        if (!s->suggestions[i] || !*s->suggestions[i])
            return 0;
    return 1;
}

static void test_pairs(arena_t *a)
{
    pair_t *p = NULL;
    int n = pairs_load(a, &p), ranked = 0, formed = 0;
    const char *cats[] = {"coding", "writing", "summarising", "extraction",
                          "qa", "marketing", "analysis"};

    ok(n >= 35, "test set has %d pairs (>= 35)", n);
    for (size_t c = 0; c < sizeof(cats) / sizeof(cats[0]); c++) {
        int k = 0;
        for (int i = 0; i < n; i++)
            k += strcmp(p[i].category, cats[c]) == 0;
        ok(k >= 5, "%d pairs of category %s (>= 5)", k, cats[c]);
    }
    for (int i = 0; i < n; i++) {
        score_t b, af;
        if (score_prompt(a, p[i].before, strlen(p[i].before), &b) != 0 ||
            score_prompt(a, p[i].after, strlen(p[i].after), &af) != 0)
            continue;
        formed += well_formed(&b) && well_formed(&af);
        if (af.total > b.total)
            ranked++;
        else
            diag("not ranked higher (%s): %d <= %d: %.60s", p[i].category,
                 af.total, b.total, p[i].after);
    }
    is_int(formed, n, "every score is well formed (range, names, reasons)");
    diag("scorer ranks the improved prompt higher on %d of %d pairs (%d%%)",
         ranked, n, n ? 100 * ranked / n : 0);
    ok(n && 100 * ranked >= RANK_THRESHOLD * n,
       "improved prompt ranked higher on >= %d%% of pairs", RANK_THRESHOLD);
}

/* A concise precise prompt beats long vague ones; repetition adds nothing. */
static void test_length_not_rewarded(arena_t *a)
{
    static const struct { const char *concise, *vague; } cases[] = {
        {"Summarise the attached Q3 report in 5 bullet points for the CFO, "
         "each under 20 words.",
         "I was wondering if you could maybe take a look at the report thing "
         "and kind of give me some sort of summary or something, whatever "
         "you think is good, with the important stuff and the interesting "
         "things, and maybe some other things too if they seem relevant, "
         "you know, just a nice overview of everything that matters, etc. "
         "It would be great if it was good and covered a lot of stuff, "
         "basically all the things that are important, really, so I can "
         "kind of understand what is going on with everything in general."},
        {"Write a Python function `slugify(title: str) -> str` that lowercases, "
         "replaces spaces with \"-\" and drops non-ASCII characters. Return "
         "one code block.",
         "Can you please write me some code that does something with strings? "
         "It should basically make them nicer, like better for URLs or "
         "whatever, and it should be good code, the kind of code that is "
         "nice and clean and does all the stuff it needs to do. Maybe use "
         "some language that is good for this sort of thing. I really need "
         "it to work well and handle things properly and so on, thanks a lot "
         "for doing this, it would really help me out with my stuff."},
        {"Explain recursion to a 12-year-old in 3 sentences, using a set of "
         "Russian dolls as the example.",
         "Tell me about recursion. Tell me everything about recursion, all "
         "the things, the good things and the bad things and the interesting "
         "things and whatever else there is. Make it good. Make it nice. Make "
         "it better than other explanations. Add some stuff about various "
         "other things too, maybe some examples of things, etc, and a lot of "
         "detail about a lot of stuff, basically everything you know."},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int c = score_of(a, cases[i].concise), v = score_of(a, cases[i].vague);
        ok(c > v, "concise precise prompt %zu beats the long vague one "
                  "(%d > %d)", i + 1, c, v);
    }

    /* The same vague request repeated ten times scores no higher. */
    const char *one = "Write something good about our stuff. ";
    strbuf_t sb;
    strbuf_init(&sb, a, 512);
    for (int i = 0; i < 10; i++)
        strbuf_puts(&sb, one);
    ok(score_of(a, sb.ptr) <= score_of(a, one),
       "repeating a vague request adds nothing (%d <= %d)",
       score_of(a, sb.ptr), score_of(a, one));
}

/* A role line may open the prompt without costing clarity. */
static void test_role_first(arena_t *a)
{
    score_t s1 = {0}, s2 = {0};
    const char *role = "You are a tax adviser. Explain the 2024 UK ISA "
                       "allowance in 3 bullet points.";
    const char *task = "Explain the 2024 UK ISA allowance in 3 bullet points. "
                       "You are a tax adviser.";

    ok(score_prompt(a, role, strlen(role), &s1) == 0 &&
           score_prompt(a, task, strlen(task), &s2) == 0 &&
           s1.dims[SCORE_CLARITY].value == s2.dims[SCORE_CLARITY].value,
       "role first or task first: the same clarity (%d, %d)",
       s1.dims[SCORE_CLARITY].value, s2.dims[SCORE_CLARITY].value);
}

/* Prompts written for the scorer: a keyword list with no instruction, and
 * terse keyword sentences, score below a plain good prompt. */
static void test_keyword_stuffing(arena_t *a)
{
    const char *plain = "Summarise the attached quarterly report for the board "
                        "in 5 bullet points of under 20 words each, in a "
                        "neutral tone. Example: - Revenue rose 4% to $2.1M.";
    const char *salad = "json table bullets example tone audience role purpose "
                        "format words 5 10 \"x\" {{y}} Task: Context: Output: "
                        "avoid formal concise expert";
    const char *terse = "Write json. Write json. Write json table. For example "
                        "json. Audience: experts. You are an expert. Purpose: "
                        "because. Tone: formal. Avoid x. Only y. Must z. 5 "
                        "words. 10 items. \"a\" \"b\" {{c}}";
    score_t s;
    int good = score_of(a, plain), rc = score_prompt(a, terse, strlen(terse), &s);

    ok(good > 60, "a plain good prompt scores well (%d)", good);
    ok(score_of(a, salad) <= 40 && score_of(a, salad) < good,
       "a keyword list without an instruction stays weak (%d)", score_of(a, salad));
    ok(rc == 0 && s.total <= 45 && s.total < good, "terse keyword sentences stay weak (%d < %d)", s.total, good);
    ok(strstr(s.dims[SCORE_CLARITY].reason, "not a list of keywords") != NULL,
       "  and clarity says why: %s", s.dims[SCORE_CLARITY].reason);
    ok(s.nsuggestions > 0 && strcmp(s.suggestions[0], s.dims[SCORE_CLARITY].reason) == 0,
       "  as the first suggestion");
}

static void test_json_and_determinism(arena_t *a)
{
    const char *p = "Can you summarise this article for me? Make it good.";
    char *j1 = json_of(a, p), *j2 = json_of(a, p);
    cJSON *root = j1 ? cJSON_Parse(j1) : NULL, *dims, *d;
    int nd = 0, good = 1;

    ok(j1 && j2 && strcmp(j1, j2) == 0, "same input, same JSON bytes");
    ok(root && cJSON_IsNumber(cJSON_GetObjectItem(root, "total")),
       "JSON parses and has a numeric total");
    dims = root ? cJSON_GetObjectItem(root, "dimensions") : NULL;
    for (d = dims ? dims->child : NULL; d; d = d->next, nd++)
        good &= cJSON_IsNumber(cJSON_GetObjectItem(d, "value")) &&
                cJSON_IsString(cJSON_GetObjectItem(d, "reason")) &&
                strcmp(d->string, dim_names[nd]) == 0;
    is_int(nd, SCORE_DIMENSION_COUNT, "nine dimensions in the JSON");
    ok(good, "each dimension has value and reason, in order");
    ok(j1 && !strstr(j1, "suggestions"), "no suggestions in the score JSON");
    ok(root && cJSON_IsString(cJSON_GetObjectItem(root, "kind")) &&
           strcmp(cJSON_GetObjectItem(root, "kind")->valuestring, "task") == 0,
       "the JSON names the prompt's kind (task)");
    cJSON_Delete(root);
    root = (j1 = json_of(a, "Draw a cat.")) ? cJSON_Parse(j1) : NULL;
    ok(root && cJSON_IsString(cJSON_GetObjectItem(root, "kind")) &&
           strcmp(cJSON_GetObjectItem(root, "kind")->valuestring, "image") == 0,
       "  and an image prompt's (image)");
    cJSON_Delete(root);

    /* quotes and control characters in reasons stay valid JSON */
    root = (j1 = json_of(a, "Make \"something\" good.\tNow.")) ?
           cJSON_Parse(j1) : NULL;
    ok(root != NULL, "reason quoting a vague word is valid JSON");
    cJSON_Delete(root);
}

static void test_inputs(arena_t *a)
{
    score_t s;
    strbuf_t big;

    ok(score_prompt(a, "", 0, &s) == -1, "empty input refused");
    ok(score_prompt(a, NULL, 3, &s) == -1, "NULL input refused");
    ok(score_prompt(a, "ab\xff", 3, &s) == -1, "invalid UTF-8 refused");
    ok(score_prompt(a, "a\0b", 3, &s) == -1, "embedded NUL refused");
    ok(score_prompt(a, "   \n\t ", 6, &s) == 0 && well_formed(&s) &&
           s.total < 30, "white space only scores low (%d)", s.total);
    ok(score_prompt(a, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 9, &s) == 0 &&
           well_formed(&s), "non-Latin text scores");

    strbuf_init(&big, a, 210000);
    while (big.len < 200 * 1024)
        strbuf_puts(&big, "Summarise the \"Q3\" report for {{team}} in 5 "
                          "bullets; don't use jargon. ```x``` `y` \xe2\x80\x9cq ");
    ok(score_prompt(a, big.ptr, big.len, &s) == 0 && well_formed(&s),
       "200 KB prompt scores");

    ok(score_prompt(a, "do it", 5, &s) == 0 && s.nsuggestions > 0,
       "a weak prompt gets suggestions (%d)", s.nsuggestions);
    int from_reasons = 1;
    for (int i = 0; i < s.nsuggestions; i++) {
        int found = 0;
        for (int d = 0; d < SCORE_DIMENSION_COUNT; d++)
            found |= s.suggestions[i] == s.dims[d].reason;
        from_reasons &= found;
    }
    ok(from_reasons, "suggestions are the weak dimensions' reasons");
}

/* A bare noun phrase of a few words is an image description; a clause, a
 * sentence, a text or a format named are not; a prompt setting a role is
 * one only with an explicit image request. */
static void test_bare_kinds(arena_t *a)
{
    static const struct {
        const char *p, *kind;
    } cases[] = {
        {"an old lighthouse in a storm", "image"},
        {"kitten", "image"},
        {"My dog is sick", "task"},
        {"Handle the user's order.", "task"},
        {"blog post about dogs", "task"},
        {"summary of the meeting", "task"},
        {"json schema for a user", "task"},
        {"Schreib was über Kaffee", "task"},
        {"You are a photography tutor. Give beginners advice on lighting, "
         "composition and colour in 5 bullet points.", "task"},
        {"You are an illustrator. Draw a fox in soft light.", "image"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        score_t s = {0};
        int rc = score_prompt(a, cases[i].p, strlen(cases[i].p), &s);
        ok(rc == 0 && s.kind && strcmp(s.kind, cases[i].kind) == 0,
           "\"%s\" is judged %s (%s)", cases[i].p, cases[i].kind,
           s.kind ? s.kind : "-");
    }
}

/* The prompt's kind: an image prompt is judged on what the image shows;
 * image words without a subject, empty praise and padding earn little. */
static void test_kinds(arena_t *a)
{
    const char *image = "a ginger cat asleep on a stack of old books by a "
                        "rainy window, watercolor illustration, warm lamp "
                        "light from the left, muted palette, calm mood, "
                        "close-up --ar 4:5";
    const char *styles = "photo, watercolor, oil painting, sunset light, "
                         "close-up shot, 35mm lens, muted teal palette, calm "
                         "mood, --ar 16:9";
    const char *praise = "portrait of a woman, beautiful, amazing, best "
                         "quality, stunning, perfect, epic";
    const char *plain = "close-up portrait of an elderly woman with silver "
                        "braided hair, film photography, soft light from "
                        "the left";
    score_t s = {0}, c = {0};
    int im = score_of(a, image), st = score_of(a, styles);
    int pl = score_of(a, plain), pr = score_of(a, praise);
    int rc = score_prompt(a, styles, strlen(styles), &s);

    ok(im > st, "an image prompt beats image words without a subject "
                "(%d > %d)", im, st);
    ok(rc == 0 && strstr(s.dims[SCORE_DETAIL].reason, "subject") != NULL,
       "  and detail asks for the subject: %s", s.dims[SCORE_DETAIL].reason);
    ok(pl > pr, "an image described beats empty praise (%d > %d)", pl, pr);
    rc = score_prompt(a, "Draw a cat.", 11, &c);
    ok(rc == 0 && c.kind && strcmp(c.kind, "image") == 0,
       "\"Draw a cat.\" is an image prompt");
    ok(rc == 0 && strstr(c.dims[SCORE_OUTPUT_FORMAT].reason, "aspect ratio"),
       "  its output is its aspect ratio: %s",
       c.dims[SCORE_OUTPUT_FORMAT].reason);
    for (int d = 0; d < SCORE_DIMENSION_COUNT; d++)
        rc |= strstr(c.dims[d].reason, "input") || strstr(c.dims[d].reason,
                                                          "sections") ? 1 : 0;
    ok(rc == 0, "  no reason asks an image prompt for sections or input");
    rc |= score_prompt(a, "Write a LinkedIn post about our new logo.", 41, &s);
    ok(rc == 0 && strcmp(s.kind, "task") == 0,
       "a post about a logo is no image prompt (%s)", s.kind);
    ok(rc == 0 && strstr(c.dims[SCORE_DETAIL].reason, "Describe"),
       "  its detail asks for what the image shows: %s",
       c.dims[SCORE_DETAIL].reason);
    test_bare_kinds(a);
}

/* Distinct words count with diminishing returns: padding a good prompt
 * with unrelated text gains little, and text with no instruction, in any
 * language, stays low. */
static void test_padding(arena_t *a)
{
    const char *good = "Summarise the attached Q3 report in 5 bullet points "
                       "for the CFO, each under 20 words.";
    const char *pad = " The weather in the mountains changes quickly; hikers "
                      "carry maps, compasses, water bottles, sandwiches, "
                      "jackets, gloves, torches, whistles and spare socks "
                      "while eagles circle above granite cliffs, pine "
                      "forests, frozen lakes, wooden huts, narrow bridges "
                      "and ancient stone walls built by farmers centuries "
                      "ago.";
    const char *lorem = "Lorem ipsum dolor sit amet consectetur adipiscing "
                        "elit sed do eiusmod tempor incididunt ut labore et "
                        "dolore magna aliqua enim ad minim veniam quis "
                        "nostrud exercitation ullamco laboris nisi aliquip "
                        "ex ea commodo consequat duis aute irure reprehenderit";
    const char *shout = "Summarise the attached Q3 report for the CFO. DO "
                        "NOT USE JARGON. KEEP IT SHORT AND SIMPLE.";
    const char *calm = "Summarise the attached Q3 report for the CFO. Use "
                       "plain words and keep it short and simple.";
    strbuf_t sb;
    score_t s = {0};
    int g = score_of(a, good), p, l = score_of(a, lorem), c = score_of(a, calm);
    int rc = score_prompt(a, shout, strlen(shout), &s);

    strbuf_init(&sb, a, 1024);
    strbuf_puts(&sb, good);
    strbuf_puts(&sb, pad);
    p = score_of(a, sb.ptr);
    ok(p <= g + 5, "unrelated padding gains at most 5 points (%d vs %d)", p, g);
    strbuf_init(&sb, a, 1024);
    strbuf_puts(&sb, good);
    strbuf_puts(&sb, " The weather in the mountains changes quickly. Hikers "
                     "carry maps and compasses. Eagles circle above granite "
                     "cliffs. Pine forests surround frozen lakes. Farmers "
                     "built stone walls centuries ago. Wooden huts shelter "
                     "tired climbers.");
    p = score_of(a, sb.ptr);
    ok(p <= g + 5, "  also in short sentences (%d vs %d)", p, g);
    ok(l <= 40, "text with no instruction stays low (%d)", l);
    ok(rc == 0 && c > s.total, "capitals are no names nor emphasis (%d < %d)",
       s.total, c);
    ok(rc == 0 && strstr(s.dims[SCORE_CLARITY].reason, "capitals") != NULL,
       "  and clarity says so: %s", s.dims[SCORE_CLARITY].reason);
}

/* Asking for the reasoning before the answer counts, once. */
static void test_reasoning(arena_t *a)
{
    const char *bare = "A train leaves at 3 pm at 60 km/h and a second at "
                       "4 pm at 80 km/h. When does the second catch up?";
    const char *steps = "A train leaves at 3 pm at 60 km/h and a second at "
                        "4 pm at 80 km/h. When does the second catch up? "
                        "Think step by step, then give the time.";
    score_t s1 = {0}, s2 = {0};
    int rc = score_prompt(a, bare, strlen(bare), &s1) |
             score_prompt(a, steps, strlen(steps), &s2);

    ok(rc == 0 &&
           s2.dims[SCORE_REASONING].value > s1.dims[SCORE_REASONING].value &&
           s2.total > s1.total,
       "asking for the steps raises reasoning (%d > %d) and the total "
       "(%d > %d)", s2.dims[SCORE_REASONING].value,
       s1.dims[SCORE_REASONING].value, s2.total, s1.total);
}

/* An agent's rules for each case, and tags named inline, count. */
static void test_agent_and_tags(arena_t *a)
{
    const char *bare = "You are a research agent with a web search tool. "
                       "Find three recent papers on battery recycling.";
    const char *rules = "You are a research agent with a web search tool. "
                        "Find three recent papers on battery recycling. If "
                        "the search finds nothing, ask the user for other "
                        "keywords; stop after 5 searches.";
    const char *plain = "Read the contract below and answer the question.";
    const char *tags = "Read the contract below and answer the question in "
                       "<answer> tags.";
    score_t b = {0}, r = {0}, p = {0}, t = {0};
    int rc = score_prompt(a, bare, strlen(bare), &b) |
             score_prompt(a, rules, strlen(rules), &r) |
             score_prompt(a, plain, strlen(plain), &p) |
             score_prompt(a, tags, strlen(tags), &t);

    ok(rc == 0 &&
           r.dims[SCORE_CONSTRAINTS].value > b.dims[SCORE_CONSTRAINTS].value,
       "an agent's rules raise constraints (%d > %d)",
       r.dims[SCORE_CONSTRAINTS].value, b.dims[SCORE_CONSTRAINTS].value);
    ok(rc == 0 && strstr(b.dims[SCORE_CONSTRAINTS].reason, "agent") != NULL,
       "  and without them the reason asks for them: %s",
       b.dims[SCORE_CONSTRAINTS].reason);
    ok(rc == 0 && t.dims[SCORE_STRUCTURE].value > p.dims[SCORE_STRUCTURE].value,
       "a tag named inline counts as structure (%d > %d)",
       t.dims[SCORE_STRUCTURE].value, p.dims[SCORE_STRUCTURE].value);
}

int main(void)
{
    arena_t *a = arena_create(1 << 16);

    test_pairs(a);
    test_length_not_rewarded(a);
    test_role_first(a);
    test_keyword_stuffing(a);
    test_json_and_determinism(a);
    test_inputs(a);
    test_kinds(a);
    test_padding(a);
    test_reasoning(a);
    test_agent_and_tags(a);
    arena_destroy(a);
    return done_testing();
}
