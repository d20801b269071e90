/* engine.c: unit tests for the local enrichment engine (preservation, modes). */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "core/str.h"
#include "enrich/engine.h"
#include "enrich/score.h"
#include "pairs.h"
#include "tap.h"

/* Local enrichment (improve mode) must raise the score of at least this
 * share of the weak "before" prompts (percent). */
#define IMPROVE_THRESHOLD 95

/* Capitalised words the engine may rewrite or drop: hedges, "don't",
 * filler, pleasantries and bare section labels ("Rules:" alone, replaced
 * by the engine's own heading).  Every other capitalised word is a name. */
static const char *const not_names[] = {
    "Please", "Kindly", "Can", "Could", "Would", "Will", "Don't", "Do",
    "Never", "Basically", "Actually", "Really", "Honestly", "Essentially",
    "Thanks", "Thank", "Hi", "Hello", "Hey", "Many", "Cheers", "Help", NULL};

/* Does a bare section label ("Output format:" alone on its line) start at
 * p[i]?  These are the labels the engine replaces with its headings. */
static bool bare_label_at(const char *p, size_t n, size_t i)
{
    static const char *const labels[] = {
        "constraints", "rules", "requirements", "output", "output format",
        "format", "tone", "audience", "length", "style", "steps", "task",
        "instructions", "context", "examples", "example", "goal", "criteria",
        "return", "deliverable", "deliverables", NULL};
    size_t j = i;
    bool known = false;

    for (const char *const *l = labels; *l; l++)
        known |= strncasecmp(p + i, *l, strlen(*l)) == 0 &&
                 i + strlen(*l) < n && p[i + strlen(*l)] == ':';
    if (!known)
        return false;

    while (j < n && j - i <= 20 && ((p[j] >= 'a' && p[j] <= 'z') ||
                                    (p[j] >= 'A' && p[j] <= 'Z') || p[j] == ' '))
        j++;
    if (j >= n || p[j] != ':')
        return false;
    for (j++; j < n && p[j] != '\n'; j++)
        if (p[j] != ' ' && p[j] != '\r' && p[j] != '\t')
            return false;
    return true;
}

static bool is_alnum_c(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
}

/* Search for the closer of an opener at p[i]; 0 when unclosed. */
static size_t close_at(const char *p, size_t n, size_t from, const char *c,
                       int scope)
{
    size_t cl = strlen(c);

    for (size_t j = from; j + cl <= n; j++) {
        if (scope && p[j] == '\n') {
            size_t k = j + 1; /* a paragraph ends at a blank line */
            while (k < n && (p[k] == ' ' || p[k] == '\t' || p[k] == '\r'))
                k++;
            if (scope == 2 || (k < n && p[k] == '\n'))
                return 0;
        }
        if (memcmp(p + j, c, cl) == 0)
            return j + cl;
    }
    return 0;
}

/* Count the tokens of in[] missing from out; names the first one. */
static int missing_tokens(arena_t *a, const char *in, const char *out,
                          const char **first)
{
    size_t n = strlen(in), i = 0;
    int missing = 0;

    *first = NULL;
/* (trailing white space of a token is not part of it: an unclosed fence
 * runs to the end of the prompt, whose final blanks the engine trims) */
#define CHECK(start, len)                                                  \
    do {                                                                   \
        size_t l_ = (len);                                                 \
        while (l_ > 1 && (in[(start) + l_ - 1] == ' ' ||                   \
                          in[(start) + l_ - 1] == '\n'))                   \
            l_--;                                                          \
        char *tok = arena_strndup(a, in + (start), l_);                    \
        if (!strstr(out, tok)) {                                           \
            missing++;                                                     \
            if (!*first)                                                   \
                *first = tok;                                              \
        }                                                                  \
    } while (0)
    while (i < n) {
        size_t e = 0;
        if (n - i >= 3 && memcmp(in + i, "```", 3) == 0) {
            e = close_at(in, n, i + 3, "```", 0);
            if (!e)
                e = n;
        } else if (in[i] == '`') {
            e = close_at(in, n, i + 1, "`", 2);
        } else if (in[i] == '"') {
            e = close_at(in, n, i + 1, "\"", 1);
        } else if (n - i >= 3 && memcmp(in + i, "\xe2\x80\x9c", 3) == 0) {
            e = close_at(in, n, i + 3, "\xe2\x80\x9d", 1);
        } else if (n - i >= 2 && in[i] == '{' && in[i + 1] == '{') {
            e = close_at(in, n, i + 2, "}}", 2);
        } else if (n - i >= 2 && in[i] == '[' && in[i + 1] == '[') {
            e = close_at(in, n, i + 2, "]]", 2); /* a placeholder, kept */
        }
        if (e) {
            CHECK(i, e - i);
            i = e;
            continue;
        }
        if (in[i] >= '0' && in[i] <= '9' && (i == 0 || !is_alnum_c(in[i - 1]))) {
            size_t j = i;
            while (j < n && ((in[j] >= '0' && in[j] <= '9') ||
                             ((in[j] == '.' || in[j] == ',' || in[j] == ':') &&
                              j + 1 < n && in[j + 1] >= '0' && in[j + 1] <= '9')))
                j++;
            CHECK(i, j - i);
            i = j;
            continue;
        }
        if (in[i] >= 'A' && in[i] <= 'Z' && (i == 0 || !is_alnum_c(in[i - 1]))) {
            size_t j = i;
            bool stop = false;
            while (j < n && (is_alnum_c(in[j]) || in[j] == '\'' || in[j] == '-'))
                j++;
            for (const char *const *s = not_names; *s; s++)
                stop |= strlen(*s) == j - i && memcmp(*s, in + i, j - i) == 0;
            if (j - i >= 2 && !stop && !bare_label_at(in, n, i))
                CHECK(i, j - i);
            i = j;
            continue;
        }
        i++;
    }
#undef CHECK
    return missing;
}

static int enrich(arena_t *a, const char *p, engine_mode_t mode,
                  const char *model, engine_result_t *r)
{
    engine_opts_t o = {.mode = mode, .target_model = model};

    return engine_enrich(a, p, strlen(p), &o, r);
}

static void test_modes(void)
{
    engine_mode_t m;
    int round = 1;

    for (int k = 0; k < ENGINE_MODE_COUNT; k++)
        round &= engine_mode_parse(engine_mode_name((engine_mode_t)k), &m) == 0 &&
                 (int)m == k;
    ok(round, "every mode name parses back to its mode");
    ok(engine_mode_parse("improve", &m) == 0 && m == ENGINE_IMPROVE,
       "improve parses");
    ok(engine_mode_parse("concise", &m) == 0 && m == ENGINE_CONCISE,
       "concise parses");
    ok(engine_mode_parse("Improve", &m) == -1, "mode names are lower case");
    ok(engine_mode_parse("shorter", &m) == -1, "unknown mode refused");
    ok(engine_mode_parse(NULL, &m) == -1, "NULL mode refused");
    is_str(engine_mode_name(ENGINE_MODE_COUNT), "improve",
           "out-of-range mode names as improve");
}

/* Preservation and determinism over the whole test set, every mode. */
static void test_pairs(arena_t *a)
{
    pair_t *p = NULL;
    int n = pairs_load(a, &p), improved = 0, total = 0;
    int lost = 0, nondet = 0, failed = 0;

    ok(n >= 35, "test set loaded (%d pairs)", n);
    for (int i = 0; i < n; i++) {
        const char *texts[2] = {p[i].before, p[i].after};
        for (int t = 0; t < 2; t++) {
            for (int m = 0; m < ENGINE_MODE_COUNT; m++) {
                for (int x = 0; x < 2; x++) {
                    engine_result_t r1, r2;
                    const char *model = x ? "claude-3-5-haiku-latest" : NULL;
                    const char *tok;
                    if (enrich(a, texts[t], (engine_mode_t)m, model, &r1) ||
                        enrich(a, texts[t], (engine_mode_t)m, model, &r2) ||
                        !r1.len || !utf8_valid(r1.text, r1.len) ||
                        strlen(r1.text) != r1.len) {
                        failed++;
                        continue;
                    }
                    if (r1.len != r2.len || memcmp(r1.text, r2.text, r1.len))
                        nondet++;
                    if (missing_tokens(a, texts[t], r1.text, &tok)) {
                        if (!lost)
                            diag("mode %s lost <%s> of: %.60s",
                                 engine_mode_name((engine_mode_t)m), tok,
                                 texts[t]);
                        lost++;
                    }
                }
            }
        }
        /* local enrichment raises the score of the weak prompt */
        engine_result_t r;
        score_t before, after;
        if (enrich(a, p[i].before, ENGINE_IMPROVE, NULL, &r) == 0 &&
            score_prompt(a, p[i].before, strlen(p[i].before), &before) == 0 &&
            score_prompt(a, r.text, r.len, &after) == 0) {
            total++;
            if (after.total > before.total)
                improved++;
            else
                diag("not improved: %d -> %d: %.60s", before.total,
                     after.total, p[i].before);
        }
    }
    is_int(failed, 0, "every mode enriches every prompt to valid UTF-8");
    is_int(lost, 0, "every number, name, quoted string, code block and "
                    "variable survives, in every mode (%d runs)",
           n * 2 * ENGINE_MODE_COUNT * 2);
    is_int(nondet, 0, "the same input gives the same bytes");
    diag("local enrichment raises the score of %d of %d weak prompts (%d%%)",
         improved, total, total ? 100 * improved / total : 0);
    ok(total && 100 * improved >= IMPROVE_THRESHOLD * total,
       "local enrichment improves >= %d%% of weak prompts",
       IMPROVE_THRESHOLD);
}

static void test_rules(arena_t *a)
{
    engine_result_t r;

    ok(enrich(a, "Can you please write a blog post about Rust for "
                 "beginners? Don't use jargon.", ENGINE_IMPROVE, NULL, &r) == 0,
       "improve a hedged request");
    ok(strstr(r.text, "## Task\nWrite a blog post about Rust for beginners.") != NULL,
       "the hedge goes and the request becomes an instruction");
    ok(strstr(r.text, "Avoid using jargon.") != NULL,
       "\"don't\" becomes what to do");
    ok(enrich(a, "Write a haiku about Oslo. Don't forget to mention snow. "
                 "Don't just list images. Never use rhyme. Don't be vague.",
              ENGINE_IMPROVE, NULL, &r) == 0 &&
           strstr(r.text, "- Remember to mention snow.\n") &&
           strstr(r.text, "- Don't just list images.\n") &&
           strstr(r.text, "- Avoid using rhyme.\n") &&
           strstr(r.text, "- Avoid being vague.\n"),
       "negative rules become positive where the verb allows");
    ok(enrich(a, "Write a haiku about Oslo. Do not use rhyme.",
              ENGINE_IMPROVE, NULL, &r) == 0 &&
           strstr(r.text, "## Constraints\n- Avoid using rhyme."),
       "negative rules become positive where the verb allows");
    ok(enrich(a, "Can you please write a blog post about Rust for "
                 "beginners? Don't use jargon.", ENGINE_IMPROVE, NULL, &r) == 0 &&
           strstr(r.text, "[[Add: ") != NULL && r.nsuggestions > 0,
       "missing essentials become [[Add: ...]] placeholders and suggestions");
    ok(!strstr(r.text, "[[Add: who is the audience"),
       "no audience placeholder when the audience is given");

    ok(enrich(a, "Summarise this article:\n\nThe council approved 3 new parks "
                 "in Leeds on 4 May.", ENGINE_IMPROVE, NULL, &r) == 0 &&
           strstr(r.text, "<input>\nThe council approved 3 new parks in Leeds "
                          "on 4 May.\n</input>") != NULL,
       "supplied material is delimited verbatim");
    ok(strstr(r.text, "[[Add: who is the audience") != NULL,
       "a missing audience is asked for");

    ok(enrich(a, "hey, can you help me write a python script that reads a "
                 "CSV of orders? the file is big (2 GB). thanks!",
              ENGINE_IMPROVE, NULL, &r) == 0 &&
           strstr(r.text, "## Task\nWrite a python script that reads a CSV "
                          "of orders.\n") &&
           strstr(r.text, "The file is big (2 GB).") && !strstr(r.text, "thanks"),
       "greetings, hedges and thanks go; sentences open with a capital");
    ok(!strstr(r.text, "[[Add: the language"),
       "a named language satisfies the code's context");

    ok(enrich(a, "I need you to summarize the following email for my "
                 "manager:\n\nHi team, the launch moves to 14 October.\n\n"
                 "Never mention the vendor. Make it short.",
              ENGINE_IMPROVE, NULL, &r) == 0 &&
           strstr(r.text, "Summarize the following email for my manager.\n") &&
           strstr(r.text, "<input>\nHi team, the launch moves to 14 October."
                          "\n</input>") &&
           strstr(r.text, "- Avoid mentioning the vendor.") &&
           strstr(r.text, "## Output format\n- Make it short."),
       "material after a colon line is delimited; rules and length sorted");

    ok(enrich(a, "Write something about climate change, make it "
                 "interesting.", ENGINE_IMPROVE, NULL, &r) == 0 &&
           strstr(r.text, "[[Clarify: what exactly do you mean by "
                          "\"something\" and \"interesting\"?]]"),
       "improve asks what the vague words mean");
    ok(enrich(a, "What do you think about our survey results?",
              ENGINE_IMPROVE, NULL, &r) == 0 &&
           strstr(r.text, "<input>\n[[Add: paste the text"),
       "\"our survey results\" is material the prompt must carry");
    ok(enrich(a, "Explain the difference between TCP and UDP.",
              ENGINE_IMPROVE, NULL, &r) == 0 && !strstr(r.text, "<input>"),
       "no input slot when nothing is referred to");

    ok(enrich(a, "Analyse the answers below.\n\n<answers>\n{{answers}}\n"
                 "</answers>\n\nGroup them into at most 6 themes.",
              ENGINE_IMPROVE, NULL, &r) == 0 &&
           strstr(r.text, "## Input\n<answers>\n{{answers}}\n</answers>") &&
           !strstr(r.text, "<input>"),
       "a tagged block is material that keeps its own delimiters");
    ok(enrich(a, "Explain DNS.", ENGINE_CLARIFY, NULL, &r) == 0 &&
           strstr(r.text, "## Open questions\n- [[Add: who is the audience"),
       "clarify lists what is missing");
    ok(enrich(a, "Explain DNS to a beginner in one paragraph of plain text.",
              ENGINE_CLARIFY, NULL, &r) == 0 &&
           strcmp(r.text, "Explain DNS to a beginner in one paragraph of "
                          "plain text.") == 0,
       "clarify leaves a complete prompt alone");

    ok(enrich(a, "Summarise the text below.", ENGINE_IMPROVE, NULL, &r) == 0 &&
           strstr(r.text, "<input>\n[[Add: paste the text") != NULL,
       "referenced but missing material gets a placeholder");

    ok(enrich(a, "Fix the bug in `parse()`.", ENGINE_IMPROVE,
              "claude-3-5-haiku-latest", &r) == 0 &&
           strncmp(r.text, "<task>\n", 7) == 0 && strstr(r.text, "</task>"),
       "Claude targets get XML-tagged sections");

    ok(enrich(a, "Please basically summarise the report, if possible. "
                 "Keep it under 100 words. Keep it under 100 words. Thanks!",
              ENGINE_CONCISE, NULL, &r) == 0,
       "concise runs");
    is_str(r.text, "Summarise the report. Keep it under 100 words.",
           "concise drops filler, repeats and pleasantries, keeps constraints");

    ok(enrich(a, "Write 3 taglines for Acme.", ENGINE_CONCISE, NULL, &r) == 0 &&
           strcmp(r.text, "Write 3 taglines for Acme.") == 0,
       "concise leaves a concise prompt alone");

    ok(enrich(a, "Write something good about our stuff.", ENGINE_CLARIFY,
              NULL, &r) == 0 &&
           strstr(r.text, "[[Clarify: what exactly do you mean by \"something\"?]]") &&
           strstr(r.text, "\"good\"") && strstr(r.text, "## Open questions"),
       "clarify asks about each vague word");

    ok(enrich(a, "Explain DNS.", ENGINE_STRUCTURE, NULL, &r) == 0 &&
           !strstr(r.text, "[[") && strstr(r.text, "## Task\nExplain DNS."),
       "structure adds sections but no placeholders");

    ok(enrich(a, "Explain DNS.", ENGINE_EXPAND, NULL, &r) == 0 &&
           strstr(r.text, "## Examples") && strstr(r.text, "## Steps") &&
           strstr(r.text, "[[Add: the role"),
       "expand adds role, steps and an examples slot");

    ok(enrich(a, "We are launching Tally next month. I want a tweet "
                 "announcing it.", ENGINE_IMPROVE, NULL, &r) == 0 &&
           strstr(r.text, "## Task\nCreate a tweet announcing it.\n") &&
           strstr(r.text, "## Context\nWe are launching Tally next month."),
       "a wish (\"I want a ...\") is the task, stated as one");
    ok(enrich(a, "Translate the following into German:\n\nOur office in "
                 "Zurich is closed on 1 August.", ENGINE_IMPROVE, NULL, &r) == 0 &&
           strstr(r.text, "[[Add: the register") &&
           strstr(r.text, "Keep names, numbers, placeholders and formatting") &&
           !strstr(r.text, "[[Add: the length"),
       "a translation asks for the register, not a format or length");

    ok(enrich(a, "Explain DNS.", ENGINE_EXPAND, "o3-mini", &r) == 0 &&
           !strstr(r.text, "## Steps") && strstr(r.text, "## Examples"),
       "no step scaffold for a reasoning model");

    engine_opts_t o = {.mode = ENGINE_IMPROVE, .goal = "A handout for Year 9"};
    ok(engine_enrich(a, "Explain DNS.", 12, &o, &r) == 0 &&
           strstr(r.text, "Goal: A handout for Year 9"),
       "the caller's goal is carried verbatim");
    o.goal = "  \n ";
    ok(engine_enrich(a, "Explain DNS.", 12, &o, &r) == 0 &&
           !strstr(r.text, "Goal:"), "a blank goal adds nothing");
    o.goal = " For\nparents ";
    ok(engine_enrich(a, "Explain DNS.", 12, &o, &r) == 0 &&
           strstr(r.text, "Goal: For parents\n"), "a goal is one trimmed line");
}

static void test_inputs(arena_t *a)
{
    engine_result_t r;
    engine_opts_t bad = {.mode = ENGINE_MODE_COUNT};
    strbuf_t sb;
    const char *tok;

    ok(engine_enrich(a, "", 0, NULL, &r) == -1, "empty refused");
    ok(engine_enrich(a, " \n\t\r\n ", 6, NULL, &r) == -1,
       "white space only refused");
    ok(engine_enrich(a, NULL, 4, NULL, &r) == -1, "NULL refused");
    ok(engine_enrich(a, "ok \xc0\xaf", 5, NULL, &r) == -1,
       "invalid UTF-8 refused");
    ok(engine_enrich(a, "a\0b", 3, NULL, &r) == -1, "embedded NUL refused");
    ok(engine_enrich(a, "Explain DNS.", 12, &bad, &r) == -1,
       "unknown mode value refused");
    ok(engine_enrich(a, "Explain DNS.", 12, NULL, &r) == 0,
       "NULL options mean improve");

    /* adversarial shapes: unclosed openers, long runs, non-Latin text */
    static const char *const unit[] = {
        "\"", "{{", "[[", "`", "```", "\xe2\x80\x9c", "a", ". ", "\n\n",
        "- ", "#", "Don't ", "please ", "\xe6\x97\xa5\xe6\x9c\xac",
        "\xf0\x9f\x98\x80", ":", "1.", "<", "Z"};
    int good = 1;
    for (size_t k = 0; k < sizeof(unit) / sizeof(unit[0]); k++) {
        strbuf_init(&sb, a, 64 * 1024);
        while (sb.len < 40 * 1024)
            strbuf_puts(&sb, unit[k]);
        for (int m = 0; m < ENGINE_MODE_COUNT; m++) {
            engine_opts_t o = {.mode = (engine_mode_t)m};
            int rc = engine_enrich(a, sb.ptr, sb.len, &o, &r);
            bool blank = strspn(sb.ptr, " \n") == sb.len;
            if (blank ? rc != -1
                      : (rc != 0 || !utf8_valid(r.text, r.len))) {
                diag("unit %zu mode %d failed", k, m);
                good = 0;
            }
        }
    }
    ok(good, "40 KB runs of every awkward unit enrich in every mode");

    /* one 40 KB word inside each kind of span */
    static const char *const wrap[][2] = {
        {"[[", "]]"}, {"{{", "}}"}, {"`", "`"}, {"\"", "\""}, {"```", "```"}};
    good = 1;
    for (size_t k = 0; k < sizeof(wrap) / sizeof(wrap[0]); k++) {
        strbuf_init(&sb, a, 41 * 1024);
        strbuf_puts(&sb, wrap[k][0]);
        while (sb.len < 40 * 1024)
            strbuf_puts(&sb, "word-");
        strbuf_puts(&sb, wrap[k][1]);
        score_t sc;
        good &= engine_enrich(a, sb.ptr, sb.len, NULL, &r) == 0 &&
                strstr(r.text, sb.ptr) != NULL &&
                score_prompt(a, sb.ptr, sb.len, &sc) == 0;
    }
    ok(good, "a 40 KB word inside each kind of span is kept whole");

    /* 200 KB of mixed prompts: fine in every mode, and spot-checked */
    pair_t *p = NULL;
    int n = pairs_load(a, &p);
    strbuf_init(&sb, a, 210 * 1024);
    for (int i = 0; sb.len < 200 * 1024 - 4096; i = (i + 1) % n) {
        strbuf_puts(&sb, p[i].after);
        strbuf_puts(&sb, "\n\n");
    }
    good = 1;
    for (int m = 0; m < ENGINE_MODE_COUNT; m++) {
        engine_opts_t o = {.mode = (engine_mode_t)m};
        /* concise drops the repeated prompts: only a tenth remains */
        good &= engine_enrich(a, sb.ptr, sb.len, &o, &r) == 0 &&
                utf8_valid(r.text, r.len) &&
                r.len >= sb.len / (m == ENGINE_CONCISE ? 10 : 2);
    }
    ok(good, "a 200 KB prompt enriches in every mode (%zu bytes)", sb.len);
    ok(engine_enrich(a, p[0].after, strlen(p[0].after), NULL, &r) == 0 &&
           missing_tokens(a, p[0].after, r.text, &tok) == 0,
       "preservation holds on a rich prompt");
}

/* Deterministic random prompts from awkward fragments: every mode keeps
 * every protected token and answers valid UTF-8. */
static void test_fuzz(arena_t *a, int rounds)
{
    static const char *const frag[] = {
        "Write", "write", "summarise", "Please ", "please ", "Can you ",
        "could you ", "Don't ", "don't ", "Never ", "do not ", "Thanks!",
        "hey, ", "help me ", "basically ", "very ", "in order to ",
        "the following:", "this text:", "Summarise this: ", "Rules:",
        "the ", "report", "Acme", "Oslo", "JSON", "Ana Ruiz", "3", "4.5",
        "1,000", "2024-05-01", "12:30", "\"quoted text\"", "\"", "`code()`",
        "`", "```\nint x = 1;\n```", "```", "{{var}}", "{{", "}}", "[[",
        "]]", "[[Add: x]]", "\xe2\x80\x9cq\xe2\x80\x9d", "\xe2\x80\x9c",
        "\xe6\x97\xa5\xe6\x9c\xac", "\xf0\x9f\x98\x80", "caf\xc3\xa9",
        " ", " ", " ", ". ", "? ", "! ", ": ", ", ", "\n", "\n\n", "\n- ",
        "\n1. ", "\n## ", "<input>", "\n<data>\n", "\n</data>\n",
        "\n<task>\n", "\n</task>\n", "e.g. ", "something", "good", "Dr. ",
        "for example ", "in 5 bullet points", "for beginners", "'", "-",
    };
    unsigned seed = 12345;
    int bad = 0, lost = 0;

    for (int round = 0; round < rounds; round++) {
        strbuf_t sb;
        int nfrag;
        strbuf_init(&sb, a, 256);
        seed = seed * 1103515245u + 12345u;
        nfrag = 1 + (int)((seed >> 16) % 40);
        for (int k = 0; k < nfrag; k++) {
            seed = seed * 1103515245u + 12345u;
            strbuf_puts(&sb, frag[(seed >> 16) % (sizeof(frag) / sizeof(frag[0]))]);
        }
        for (int m = 0; m < ENGINE_MODE_COUNT; m++) {
            engine_opts_t o = {.mode = (engine_mode_t)m,
                               .target_model = round % 2 ? "claude" : NULL};
            engine_result_t r;
            const char *tok;
            bool blank = strspn(sb.ptr, " \n") == sb.len;
            int rc = engine_enrich(a, sb.ptr, sb.len, &o, &r);
            if (blank ? rc != -1 : rc != 0 || !utf8_valid(r.text, r.len)) {
                if (!bad++)
                    diag("fuzz failure, mode %d: [%s]", m, sb.ptr);
                continue;
            }
            if (!blank && missing_tokens(a, sb.ptr, r.text, &tok)) {
                if (!lost++)
                    diag("fuzz lost <%s>, mode %s: [%s] -> [%s]", tok,
                         engine_mode_name((engine_mode_t)m), sb.ptr, r.text);
            }
        }
        arena_reset(a);
    }
    is_int(bad, 0, "%d random prompts: every mode answers valid UTF-8",
           rounds);
    is_int(lost, 0, "%d random prompts: every mode keeps every token",
           rounds);
}

int main(int argc, char **argv)
{
    arena_t *a = arena_create(1 << 16);

    test_modes();
    test_pairs(a);
    test_rules(a);
    test_inputs(a);
    /* "engine.test N" runs N random prompts (the default keeps make check
     * quick) */
    test_fuzz(a, argc > 1 ? atoi(argv[1]) : 3000);
    arena_destroy(a);
    return done_testing();
}
