/* quality.c: the scorer's and the engine's quality on published prompt pairs (tune, held-out, the project's 56): make bench-quality. */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/str.h"
#include "enrich/engine.h"
#include "enrich/score.h"
#include "../t/unit/pairs.h"
#include "../t/unit/quality.h"

/*
 * Usage: bench/quality [folds] [--tune-failures]
 * Reads t/data/quality/ (quality.h) and t/unit/data/enrich-pairs.txt
 * (pairs.h), located through PROMPTD_SRC_DIR or the build's source tree.
 * Reports, per group (tune, held-out, project): how often score_prompt()
 * ranks the better prompt strictly higher, ties, or ranks the worse one
 * higher; the same per kind; a k-fold by-source figure (sources dealt to
 * k folds in SPLIT order; each fold's rate and their mean and minimum);
 * then, for every engine mode on every worse prompt, the mean total before
 * and after, the output's length, the image prompts kept free of text
 * sections, how often the local score rises and which tokens survive;
 * and the CPU time of score_prompt()
 * per prompt.  A report, not a test: it has no thresholds and exits 0
 * whenever the data loads.  --tune-failures lists instead the tune
 * part's pairs not ranked strictly higher, with both prompts' dimensions,
 * the tune prompts whose kind is misjudged as image or not image,
 * and the engine runs (every mode) not raising a tune worse
 * prompt's score (never the held-out part's: no rule is written from it).
 */

enum { G_TUNE, G_HELDOUT, G_PROJECT, G_COUNT };
static const char *const group_names[G_COUNT] = {"tune", "held-out", "project-56"};

typedef struct {
    const char *kind, *lang, *worse, *better;
    int group, source;          /* source: index in set.sources, -1 project */
    int sw, sb;                 /* score totals of worse and better */
} sample_t;

typedef struct {
    int n, higher, tie, lower;
} rank_t;

/* Token classes an enrichment must keep (engine.h's contract). */
enum { T_NUMBER, T_NAME, T_QUOTE, T_CODE, T_VAR, T_PLACEHOLDER, T_COUNT };
static const char *const tok_names[T_COUNT] = {
    "numbers", "names", "quoted", "code", "{{vars}}", "[[Add:"};

/* Capitalised words that are not names (hedges, pleasantries, ...), as in
 * t/unit/engine.c: the engine may rewrite or drop them. */
static const char *const not_names[] = {
    "Please", "Kindly", "Can", "Could", "Would", "Will", "Don't", "Do",
    "Never", "Basically", "Actually", "Really", "Honestly", "Essentially",
    "Thanks", "Thank", "Hi", "Hello", "Hey", "Many", "Cheers", "Help", NULL};

static long cpu_ns(void)
{
    struct timespec t;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* The score total of p, -1 on bad input; the arena is left as it is. */
static int total_of_keep(arena_t *a, const char *p)
{
    score_t s;

    return score_prompt(a, p, strlen(p), &s) == 0 ? s.total : -1;
}

static int total_of(arena_t *scratch, const char *p)
{
    int t = total_of_keep(scratch, p);

    arena_reset(scratch);
    return t;
}

static void rank_add(rank_t *r, const sample_t *s)
{
    r->n++;
    r->higher += s->sb > s->sw;
    r->tie += s->sb == s->sw;
    r->lower += s->sb < s->sw;
}

static double pct(int k, int n)
{
    return n ? 100.0 * k / n : 0.0;
}

static void rank_print(const char *label, const rank_t *r)
{
    printf("  %-22s %4d  %6.1f%%  %6.1f%%  %6.1f%%\n", label, r->n,
           pct(r->higher, r->n), pct(r->tie, r->n), pct(r->lower, r->n));
}

/* Every pair of the set and of the project file, scored. */
static sample_t *collect(arena_t *a, arena_t *scratch, const qset_t *set,
                         const pair_t *pp, int npp, int *n)
{
    sample_t *v = arena_zalloc(a, (size_t)(set->npairs + npp) * sizeof(*v));
    int k = 0;

    for (int i = 0; i < set->npairs; i++, k++) {
        const qpair_t *q = &set->pairs[i];
        v[k] = (sample_t){q->kind, q->lang, q->worse, q->better,
                          q->source->heldout ? G_HELDOUT : G_TUNE,
                          (int)(q->source - set->sources), 0, 0};
    }
    for (int i = 0; i < npp; i++, k++)
        v[k] = (sample_t){pp[i].category, "en", pp[i].before, pp[i].after,
                          G_PROJECT, -1, 0, 0};
    for (int i = 0; i < k; i++) {
        v[i].sw = total_of(scratch, v[i].worse);
        v[i].sb = total_of(scratch, v[i].better);
    }
    *n = k;
    return v;
}

/* How far apart the tune part's pairs are: the share won by 1-2, 3-5,
 * 6-10 and more than 10 points (the held-out part's are not shown). */
static void report_margins(const sample_t *v, int n)
{
    static const int edge[] = {0, 2, 5, 10, 100};
    int count[5] = {0}, total = 0;

    for (int i = 0; i < n; i++) {
        int d = v[i].sb - v[i].sw, b = 0;
        if (v[i].group != G_TUNE)
            continue;
        total++;
        if (d > 0)
            for (b = 1; b < 4 && d > edge[b]; b++)
                ;
        count[b]++;
    }
    printf("  tune margins: <=0 %.1f%%, 1-2 %.1f%%, 3-5 %.1f%%, 6-10 %.1f%%, "
           ">10 %.1f%%\n", pct(count[0], total), pct(count[1], total),
           pct(count[2], total), pct(count[3], total), pct(count[4], total));
}

static void report_ranking(const sample_t *v, int n)
{
    rank_t g[G_COUNT] = {{0}}, nonen[2] = {{0}};

    for (int i = 0; i < n; i++) {
        rank_add(&g[v[i].group], &v[i]);
        if (v[i].group != G_PROJECT && strcmp(v[i].lang, "en"))
            rank_add(&nonen[v[i].group], &v[i]);
    }
    printf("\nScorer ranking (score_prompt total, better vs worse)\n");
    printf("  %-22s %4s  %7s  %7s  %7s\n", "group", "n", "better>", "tie",
           "worse>");
    for (int i = 0; i < G_COUNT; i++)
        rank_print(group_names[i], &g[i]);
    rank_print("tune, not English", &nonen[G_TUNE]);
    rank_print("held-out, not English", &nonen[G_HELDOUT]);
    report_margins(v, n);
}

static void report_kinds(const sample_t *v, int n)
{
    printf("\nPer kind (better ranked strictly higher / ties)\n");
    printf("  %-12s %22s %22s\n", "kind", "tune n better% tie%",
           "held-out n better% tie%");
    for (int k = 0; quality_kinds[k]; k++) {
        rank_t r[2] = {{0}};
        for (int i = 0; i < n; i++)
            if (v[i].group != G_PROJECT && !strcmp(v[i].kind, quality_kinds[k]))
                rank_add(&r[v[i].group], &v[i]);
        printf("  %-12s", quality_kinds[k]);
        for (int s = 0; s < 2; s++)
            printf("   %4d %7.1f%% %6.1f%%", r[s].n, pct(r[s].higher, r[s].n),
                   pct(r[s].tie, r[s].n));
        printf("\n");
    }
}

/* k folds of whole sources (source i goes to fold i % k, SPLIT order);
 * each fold's rate is the strictly-higher share of its pairs. */
static void report_folds(const sample_t *v, int n, const qset_t *set, int k)
{
    double sum = 0, min = 101;

    if (k < 2 || k > set->nsources)
        k = set->nsources < 5 ? set->nsources : 5;
    printf("\nPer source (better ranked strictly higher)\n");
    for (int s = 0; s < set->nsources; s++) {
        rank_t r = {0};
        for (int i = 0; i < n; i++)
            if (v[i].source == s)
                rank_add(&r, &v[i]);
        printf("  %-26s %-8s %3d  %6.1f%%  ties %5.1f%%\n", set->sources[s].id,
               set->sources[s].heldout ? "heldout" : "tune", r.n,
               pct(r.higher, r.n), pct(r.tie, r.n));
    }
    printf("\n%d-fold cross-validation by source (all %d sources)\n", k,
           set->nsources);
    for (int f = 0; f < k; f++) {
        rank_t r = {0};
        printf("  fold %d:", f + 1);
        for (int s = f; s < set->nsources; s += k)
            printf(" %s", set->sources[s].id);
        for (int i = 0; i < n; i++)
            if (v[i].source >= 0 && v[i].source % k == f)
                rank_add(&r, &v[i]);
        printf(" -> %d pairs, %.1f%%\n", r.n, pct(r.higher, r.n));
        sum += pct(r.higher, r.n);
        if (pct(r.higher, r.n) < min)
            min = pct(r.higher, r.n);
    }
    printf("  per-fold accuracy: mean %.1f%%, min %.1f%%\n", sum / k, min);
}

static bool is_alnum_c(char c)
{
    return isalnum((unsigned char)c) != 0;
}

/* The closer c after p[from]: its end, or 0.  scope 1 stops at a blank
 * line, 2 at any newline (as t/unit/engine.c). */
static size_t close_at(const char *p, size_t n, size_t from, const char *c,
                       int scope)
{
    size_t cl = strlen(c);

    for (size_t j = from; j + cl <= n; j++) {
        if (scope && p[j] == '\n') {
            size_t k = j + 1;
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

/* A bare label ("Output format:" alone on its line) at p[i]: the engine
 * may replace it with its own heading, so it is not a name. */
static bool bare_label_at(const char *p, size_t n, size_t i)
{
    size_t j = i;

    while (j < n && j - i <= 20 && (isalpha((unsigned char)p[j]) || p[j] == ' '))
        j++;
    if (j >= n || p[j] != ':')
        return false;
    for (j++; j < n && p[j] != '\n'; j++)
        if (p[j] != ' ' && p[j] != '\r' && p[j] != '\t')
            return false;
    return true;
}

/* Class and end of the token starting at in[i]; T_COUNT when none. */
static int token_at(const char *in, size_t n, size_t i, size_t *end)
{
    size_t e = 0, j = i;

    if (n - i >= 3 && !memcmp(in + i, "```", 3))
        return *end = (e = close_at(in, n, i + 3, "```", 0)) ? e : n, T_CODE;
    if (in[i] == '`' && (e = close_at(in, n, i + 1, "`", 2)))
        return *end = e, T_CODE;
    if (in[i] == '"' && (e = close_at(in, n, i + 1, "\"", 1)))
        return *end = e, T_QUOTE;
    if (n - i >= 3 && !memcmp(in + i, "\xe2\x80\x9c", 3) &&
        (e = close_at(in, n, i + 3, "\xe2\x80\x9d", 1)))
        return *end = e, T_QUOTE;
    if (n - i >= 2 && !memcmp(in + i, "{{", 2) && (e = close_at(in, n, i + 2, "}}", 2)))
        return *end = e, T_VAR;
    if (n - i >= 2 && !memcmp(in + i, "[[", 2) && (e = close_at(in, n, i + 2, "]]", 2)))
        return *end = e, T_PLACEHOLDER;
    if (isdigit((unsigned char)in[i]) && (i == 0 || !is_alnum_c(in[i - 1]))) {
        while (j < n && (isdigit((unsigned char)in[j]) ||
                         (strchr(".,:", in[j]) && j + 1 < n &&
                          isdigit((unsigned char)in[j + 1]))))
            j++;
        return *end = j, T_NUMBER;
    }
    if (isupper((unsigned char)in[i]) && (i == 0 || !is_alnum_c(in[i - 1]))) {
        bool stop = false;
        while (j < n && (is_alnum_c(in[j]) || in[j] == '\'' || in[j] == '-'))
            j++;
        for (const char *const *s = not_names; *s; s++)
            stop |= strlen(*s) == j - i && !memcmp(*s, in + i, j - i);
        *end = j;
        return j - i >= 2 && !stop && !bare_label_at(in, n, i) ? T_NAME : T_COUNT;
    }
    return T_COUNT;
}

/* present[c]/lost[c]: in has a token of class c / one of them is not in out. */
static void tokens_check(arena_t *a, const char *in, const char *out,
                         bool present[T_COUNT], bool lost[T_COUNT])
{
    size_t n = strlen(in), i = 0, e;

    memset(present, 0, T_COUNT * sizeof(bool));
    memset(lost, 0, T_COUNT * sizeof(bool));
    while (i < n) {
        int c;
        e = 0;
        if ((c = token_at(in, n, i, &e)) == T_COUNT) {
            i = e > i ? e : i + 1;
            continue;
        }
        size_t l = e - i;
        while (l > 1 && (in[i + l - 1] == ' ' || in[i + l - 1] == '\n'))
            l--;
        present[c] = true;
        lost[c] |= strstr(out, arena_strndup(a, in + i, l)) == NULL;
        i = e;
    }
}

/* The heading key of a line ("## Output", "Output format:", "Tone: x",
 * also as a list item "- Tone: x"), lower-cased into key; false when the
 * line is no heading.  A section the engine adds beside the user's own
 * label ("## Output format" and "- Output format: a table") repeats it. */
static bool heading_key(const char *l, size_t len, char *key, size_t cap)
{
    size_t i = 0, k = 0;

    if (len && l[0] == '#') {
        while (i < len && (l[i] == '#' || l[i] == ' '))
            i++;
        for (; i < len && k + 1 < cap && l[i] != ':'; i++)
            key[k++] = (char)tolower((unsigned char)l[i]);
    } else {
        size_t b = len >= 2 && strchr("-*", l[0]) && l[1] == ' ' ? 2 : 0;
        for (i = b; i < len && i < b + 32 && k + 1 < cap &&
                    (isalpha((unsigned char)l[i]) || l[i] == ' '); i++)
            key[k++] = (char)tolower((unsigned char)l[i]);
        if (i == b || i >= len || l[i] != ':' || !isupper((unsigned char)l[b]))
            return false;
    }
    while (k && key[k - 1] == ' ')
        k--;
    key[k] = '\0';
    return k > 0;
}

/* How often the heading key appears in text. */
static int heading_count(const char *text, const char *want)
{
    int c = 0;
    char key[64];

    for (const char *l = text; *l;) {
        const char *nl = strchr(l, '\n');
        size_t len = nl ? (size_t)(nl - l) : strlen(l);
        c += heading_key(l, len, key, sizeof(key)) && !strcmp(key, want);
        l += len + (nl != NULL);
    }
    return c;
}

/* Does out repeat a heading more often than in did (at least twice)? */
static bool dup_heading(const char *in, const char *out)
{
    char key[64];

    for (const char *l = out; *l;) {
        const char *nl = strchr(l, '\n');
        size_t len = nl ? (size_t)(nl - l) : strlen(l);
        if (heading_key(l, len, key, sizeof(key))) {
            int c = heading_count(out, key), ci = heading_count(in, key);
            if (c > 1 && c > ci)
                return true;
        }
        l += len + (nl != NULL);
    }
    return false;
}

typedef struct {
    int runs, rises, fails, dups, all_kept;
    int present[T_COUNT], kept[T_COUNT];
    long before, after;       /* sums of the totals */
    long in_bytes, out_bytes; /* sums of the lengths */
    int img_runs, img_clean;  /* image prompts; without text sections */
} engine_stat_t;

/* Sections written for text answers, out of place in an image prompt. */
static bool text_sections(const char *out)
{
    return strstr(out, "## Task") || strstr(out, "## Output format") ||
           strstr(out, "## Steps") || strstr(out, "<task>");
}

static void engine_run(arena_t *scratch, const sample_t *s, engine_mode_t m,
                       engine_stat_t *st)
{
    engine_opts_t o = {.mode = m};
    engine_result_t r;
    bool present[T_COUNT], lost[T_COUNT], ok = true;

    st->runs++;
    if (engine_enrich(scratch, s->worse, strlen(s->worse), &o, &r) != 0) {
        st->fails++;
        goto out;
    }
    int after = total_of_keep(scratch, r.text);
    st->rises += after > s->sw;
    st->before += s->sw;
    st->after += after;
    st->in_bytes += (long)strlen(s->worse);
    st->out_bytes += (long)r.len;
    if (!strcmp(s->kind, "image")) {
        st->img_runs++;
        st->img_clean += !text_sections(r.text);
    }
    st->dups += dup_heading(s->worse, r.text);
    tokens_check(scratch, s->worse, r.text, present, lost);
    for (int c = 0; c < T_COUNT; c++) {
        st->present[c] += present[c];
        st->kept[c] += present[c] && !lost[c];
        ok &= !lost[c];
    }
    st->all_kept += ok;
out:
    arena_reset(scratch);
}

/* Per group and mode: mean total before -> after, the output's mean
 * length against the input's, and the image prompts kept free of the
 * sections written for text answers. */
static void report_engine_means(arena_t *scratch, const sample_t *v, int n)
{
    printf("  %-10s %-10s %15s %9s %13s\n", "group", "mode",
           "mean before->after", "bytes x", "image: no text sections");
    for (int g = 0; g < G_COUNT; g++)
        for (int m = 0; m < ENGINE_MODE_COUNT; m++) {
            engine_stat_t st = {0};
            for (int i = 0; i < n; i++)
                if (v[i].group == g)
                    engine_run(scratch, &v[i], (engine_mode_t)m, &st);
            printf("  %-10s %-10s %7.1f -> %5.1f %8.2fx", group_names[g],
                   engine_mode_name((engine_mode_t)m),
                   (double)st.before / (st.runs ? st.runs : 1),
                   (double)st.after / (st.runs ? st.runs : 1),
                   (double)st.out_bytes / (st.in_bytes ? st.in_bytes : 1));
            if (st.img_runs)
                printf(" %7.1f%% of %d", pct(st.img_clean, st.img_runs),
                       st.img_runs);
            printf("\n");
        }
    printf("\n");
}

static void report_engine(arena_t *scratch, const sample_t *v, int n)
{
    printf("\nEngine %s on every worse prompt, every mode (%% of runs;"
           "\n  token columns: kept %% / runs whose input has such a token)\n",
           ENGINE_VERSION);
    report_engine_means(scratch, v, n);
    printf("  %-10s %-10s %5s %7s %7s %7s", "group", "mode", "runs", "rises",
           "no-dup", "all-kept");
    for (int c = 0; c < T_COUNT; c++)
        printf(" %11s", tok_names[c]);
    printf("\n");
    for (int g = 0; g < G_COUNT; g++)
        for (int m = 0; m <= ENGINE_MODE_COUNT; m++) {
            engine_stat_t st = {0};
            for (int i = 0; i < n; i++)
                if (v[i].group == g)
                    for (int mm = 0; mm < ENGINE_MODE_COUNT; mm++)
                        if (m == ENGINE_MODE_COUNT || m == mm)
                            engine_run(scratch, &v[i], (engine_mode_t)mm, &st);
            printf("  %-10s %-10s %5d %6.1f%% %6.1f%% %7.1f%%", group_names[g],
                   m < ENGINE_MODE_COUNT ? engine_mode_name((engine_mode_t)m)
                                         : "all",
                   st.runs, pct(st.rises, st.runs), pct(st.runs - st.dups, st.runs),
                   pct(st.all_kept, st.runs));
            for (int c = 0; c < T_COUNT; c++)
                if (st.present[c])
                    printf(" %6.1f%%/%-3d", pct(st.kept[c], st.present[c]),
                           st.present[c]);
                else
                    printf(" %11s", "-");
            printf("%s\n", st.fails ? " (engine errors)" : "");
        }
}

/* One prompt's total and dimension values, on one line. */
static void dims_print(arena_t *scratch, const char *label, const char *p)
{
    score_t s;

    if (score_prompt(scratch, p, strlen(p), &s) != 0)
        return;
    printf("  %s %3d:", label, s.total);
    for (int d = 0; d < SCORE_DIMENSION_COUNT; d++)
        printf(" %s=%d", s.dims[d].name, s.dims[d].value);
    printf("\n");
    arena_reset(scratch);
}

/* The tune part's pairs whose better prompt is not ranked strictly
 * higher; held-out pairs are skipped by construction. */
static void report_tune_failures(arena_t *scratch, const sample_t *v, int n,
                                 const qset_t *set)
{
    for (int i = 0; i < n; i++) {
        if (v[i].group != G_TUNE || v[i].sb > v[i].sw)
            continue;
        printf("=== %s %s %s: worse %d, better %d\n",
               set->sources[v[i].source].id, v[i].kind, v[i].lang, v[i].sw,
               v[i].sb);
        dims_print(scratch, "worse ", v[i].worse);
        dims_print(scratch, "better", v[i].better);
        printf("--- worse\n%s\n--- better\n%s\n", v[i].worse, v[i].better);
    }
    for (int i = 0; i < n; i++)
        for (int b = 0; v[i].group == G_TUNE && b < 2; b++) {
            const char *p = b ? v[i].better : v[i].worse;
            score_t s;
            if (score_prompt(scratch, p, strlen(p), &s) == 0 &&
                (!strcmp(s.kind, "image") != !strcmp(v[i].kind, "image")))
                printf("=== kind %s judged as %s (%s %s): %.70s\n", v[i].kind,
                       s.kind, set->sources[v[i].source].id,
                       b ? "better" : "worse", p);
            arena_reset(scratch);
        }
    for (int i = 0; i < n; i++)
        for (int m = 0; v[i].group == G_TUNE && m < ENGINE_MODE_COUNT; m++) {
            engine_opts_t o = {.mode = (engine_mode_t)m};
            engine_result_t r;
            if (engine_enrich(scratch, v[i].worse, strlen(v[i].worse), &o, &r) ||
                total_of_keep(scratch, r.text) > v[i].sw) {
                arena_reset(scratch);
                continue;
            }
            char *out = strdup(r.text);
            if (!out)
                abort();
            arena_reset(scratch);
            printf("=== engine %s does not raise %s %s (%d)\n",
                   engine_mode_name((engine_mode_t)m), v[i].kind,
                   set->sources[v[i].source].id, v[i].sw);
            dims_print(scratch, "worse ", v[i].worse);
            dims_print(scratch, "output", out);
            printf("--- worse\n%s\n--- output\n%s\n", v[i].worse, out);
            free(out);
        }
}

/* CPU time of score_prompt() on each prompt (worse and better), reps
 * times each, every call timed on its own. */
static void report_cpu(arena_t *scratch, const sample_t *v, int n, int reps)
{
    long *t = malloc((size_t)n * 2 * (size_t)reps * sizeof(*t));
    size_t k = 0, maxlen = 0;

    if (!t)
        abort();
    for (int r = 0; r < reps; r++)
        for (int i = 0; i < 2 * n; i++) {
            const char *p = i % 2 ? v[i / 2].better : v[i / 2].worse;
            score_t s;
            long c0 = cpu_ns();
            score_prompt(scratch, p, strlen(p), &s);
            t[k++] = cpu_ns() - c0;
            arena_reset(scratch);
            if (strlen(p) > maxlen)
                maxlen = strlen(p);
        }
    qsort(t, k, sizeof(*t), cmp_long);
    printf("\nscore_prompt CPU time, %d prompts (up to %zu bytes) x %d: "
           "p50 %.1f us, p99 %.1f us, max %.1f us\n", 2 * n, maxlen, reps,
           t[k / 2] / 1e3, t[(k * 99) / 100] / 1e3, t[k - 1] / 1e3);
    free(t);
}

int main(int argc, char **argv)
{
    int folds = 5, npp, n;
    bool failures = false;
    arena_t *a = arena_create(1 << 16), *scratch = arena_create(1 << 16);
    pair_t *pp;
    qset_t set;
    sample_t *v;
    int held = 0;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tune-failures"))
            failures = true;
        else
            folds = atoi(argv[i]);
    }
    if (quality_load(a, NULL, &set) < 0) {
        fprintf(stderr, "bench/quality: t/data/quality: %s\n", set.error);
        return 1;
    }
    if ((npp = pairs_load(a, &pp)) < 0) {
        fprintf(stderr, "bench/quality: cannot read enrich-pairs.txt\n");
        return 1;
    }
    for (int i = 0; i < set.npairs; i++)
        held += set.pairs[i].source->heldout;
    printf("quality set: %d pairs from %d sources (tune %d, held-out %d = "
           "%.1f%%); project pairs: %d\n", set.npairs, set.nsources,
           set.npairs - held, held, pct(held, set.npairs), npp);
    v = collect(a, scratch, &set, pp, npp, &n);
    if (failures) {
        report_tune_failures(scratch, v, n, &set);
        goto out;
    }
    report_ranking(v, n);
    report_kinds(v, n);
    report_folds(v, n, &set, folds);
    report_engine(scratch, v, n);
    report_cpu(scratch, v, n, 20);
out:
    arena_destroy(scratch);
    arena_destroy(a);
    return 0;
}
