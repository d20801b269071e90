/* engine.c: microbenchmark of the local enrichment engine and the scorer on 4 KB prompts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/str.h"
#include "enrich/engine.h"
#include "enrich/score.h"

/*
 * Usage: bench/engine [iterations-per-mode] [pairs-file]
 * Builds 8 distinct 4 KB prompts (text, lists, code, quotes, {{variables}},
 * non-Latin script), enriches them round-robin in every mode and scores
 * them, timing each call with CLOCK_MONOTONIC, and prints p50, p99 and max
 * per mode, both wall-clock and this thread's CPU time (on a loaded
 * machine the wall-clock tail is mostly time spent preempted; the CPU time
 * is what the engine costs).  The arena is reset between calls, as a
 * request would.  The target is p99 under 5 ms per 4 KB prompt; this
 * program only reports.
 */

#define PROMPT_BYTES 4096
#define NPROMPTS 8

static const char *const pieces[] = {
    "Can you please write a blog post about our product launch? Make it "
    "good and interesting, and don't use jargon. ",
    "Summarise the meeting notes below for the leadership team in 5 bullet "
    "points, each under 20 words.\n\n",
    "- Keep every number exactly as written, e.g. 4.2% and 1,250 units.\n",
    "Extract all names and dates from this text: Ana Ruiz met Tom Becker in "
    "Berlin on 3 May 2024 to sign the \"Atlas\" contract. ",
    "Fix the bug in `parse_date()`:\n```python\ndef parse_date(s):\n    "
    "return datetime.strptime(s, \"%Y-%m-%d\")\n```\n",
    "Use the template {{greeting}}, {{name}} and {{offer}} for each "
    "customer. ",
    "I was wondering if you could maybe look at the survey stuff and find "
    "something interesting, whatever seems relevant, etc. ",
    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe6\x96\x87\xe7\xab"
    "\xa0\xe3\x82\x92\xe8\xa6\x81\xe7\xb4\x84\xe3\x81\x97\xe3\x81\xa6\xe3"
    "\x81\x8f\xe3\x81\xa0\xe3\x81\x95\xe3\x81\x84\xe3\x80\x82 ",
    "## Context\nWe are a 12-person startup in Lisbon selling to dentists.\n\n",
    "Return JSON: {\"items\": [{\"name\": \"...\", \"score\": 0}]}.\n",
};
#define NPIECES (sizeof(pieces) / sizeof(pieces[0]))

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static long now_ns(clockid_t clock)
{
    struct timespec t;

    clock_gettime(clock, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

/* Prompt k: pieces in a k-dependent order until 4 KB (cut between pieces
 * so the text stays valid UTF-8, then padded with plain words). */
static char *build_prompt(int k, size_t *len)
{
    char *p = malloc(PROMPT_BYTES + 1);
    size_t n = 0;

    for (unsigned i = 0;; i++) {
        const char *s = pieces[(i * (unsigned)(k + 1) + (unsigned)k) % NPIECES];
        size_t l = strlen(s);
        if (n + l > PROMPT_BYTES)
            break;
        memcpy(p + n, s, l);
        n += l;
    }
    while (n < PROMPT_BYTES)
        p[n] = n % 6 == 5 ? ' ' : 'x', n++;
    p[n] = '\0';
    *len = n;
    return p;
}

static void report(const char *what, long *ns, long *cpu, int n)
{
    qsort(ns, (size_t)n, sizeof(*ns), cmp_long);
    qsort(cpu, (size_t)n, sizeof(*cpu), cmp_long);
    printf("%-10s wall p50 %6.3f  p99 %6.3f  max %7.3f ms | "
           "cpu p50 %6.3f  p99 %6.3f  max %7.3f ms\n", what,
           ns[n / 2] / 1e6, ns[(n * 99) / 100] / 1e6, ns[n - 1] / 1e6,
           cpu[n / 2] / 1e6, cpu[(n * 99) / 100] / 1e6, cpu[n - 1] / 1e6);
}

int main(int argc, char **argv)
{
    int iters = argc > 1 ? atoi(argv[1]) : 2000;
    char *prompts[NPROMPTS];
    size_t lens[NPROMPTS];
    long *ns, *cpu;
    arena_t *a = arena_create(1 << 16);
    int fails = 0;

    if (iters < 10)
        iters = 10;
    ns = malloc((size_t)iters * sizeof(*ns));
    cpu = malloc((size_t)iters * sizeof(*cpu));
    for (int k = 0; k < NPROMPTS; k++)
        prompts[k] = build_prompt(k, &lens[k]);
    printf("local engine %s, %d prompts of %d bytes, %d calls per mode\n",
           ENGINE_VERSION, NPROMPTS, PROMPT_BYTES, iters);
    for (int m = 0; m <= ENGINE_MODE_COUNT; m++) {
        for (int i = 0; i < iters; i++) {
            int k = i % NPROMPTS;
            long t0 = now_ns(CLOCK_MONOTONIC);
            long c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
            if (m < ENGINE_MODE_COUNT) {
                engine_opts_t o = {.mode = (engine_mode_t)m};
                engine_result_t r;
                fails += engine_enrich(a, prompts[k], lens[k], &o, &r) != 0;
            } else {
                score_t s;
                fails += score_prompt(a, prompts[k], lens[k], &s) != 0;
            }
            cpu[i] = now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
            ns[i] = now_ns(CLOCK_MONOTONIC) - t0;
            arena_reset(a);
        }
        report(m < ENGINE_MODE_COUNT ? engine_mode_name((engine_mode_t)m)
                                     : "score", ns, cpu, iters);
    }
    if (fails)
        printf("FAILED calls: %d\n", fails);
    arena_destroy(a);
    for (int k = 0; k < NPROMPTS; k++)
        free(prompts[k]);
    free(ns);
    free(cpu);
    return fails ? 1 : 0;
}
