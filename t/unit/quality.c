/* quality.c: t/data/quality/ parses and keeps its promises (sources, split, kinds, languages). */
#include <dirent.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "quality.h"
#include "tap.h"

/* Per side (0 tune, 1 held-out): pairs, and pairs per kind. */
typedef struct {
    int pairs, nonen, kinds[16];
} side_t;

static void count_sides(const qset_t *s, side_t side[2])
{
    memset(side, 0, 2 * sizeof(*side));
    for (int i = 0; i < s->npairs; i++) {
        side_t *d = &side[s->pairs[i].source->heldout];
        d->pairs++;
        d->nonen += strcmp(s->pairs[i].lang, "en") != 0;
        d->kinds[quality_kind_index(s->pairs[i].kind)]++;
    }
}

static void test_set(arena_t *a)
{
    qset_t s;
    int n = quality_load(a, NULL, &s);
    side_t side[2];
    int bad_src = 0, bad_pair = 0, heldout_sources = 0;

    if (!ok(n > 0, "t/data/quality/ loads: %d pairs", n)) {
        diag("%s", s.error ? s.error : "?");
        return;
    }
    ok(n >= 200, "at least 200 pairs (%d)", n);
    ok(s.nsources >= 12, "at least 12 sources (%d)", s.nsources);
    count_sides(&s, side);
    ok(side[1].pairs * 10 >= n * 3, "held-out is at least 30%% (%d of %d)",
       side[1].pairs, n);
    for (int i = 0; i < s.nsources; i++) {
        const qsource_t *q = &s.sources[i];
        heldout_sources += q->heldout;
        bad_src += q->npairs == 0 || strncmp(q->url, "https://", 8) != 0 ||
                   (strcmp(q->reproduction, "verbatim") &&
                    strcmp(q->reproduction, "paraphrase"));
    }
    is_int(bad_src, 0, "every source has pairs, an https url and "
                       "reproduction verbatim|paraphrase");
    ok(heldout_sources > 0 && heldout_sources < s.nsources,
       "both sides have sources (%d held out)", heldout_sources);
    for (int i = 0; i < n; i++)
        bad_pair += strlen(s.pairs[i].lang) != 2 ||
                    strcmp(s.pairs[i].worse, s.pairs[i].better) == 0;
    is_int(bad_pair, 0, "every pair has a 2-letter language and differs");
    for (int k = 0; quality_kinds[k]; k++)
        ok(side[0].kinds[k] > 0 && side[1].kinds[k] > 0,
           "kind %s on both sides (tune %d, held-out %d)", quality_kinds[k],
           side[0].kinds[k], side[1].kinds[k]);
    ok(side[0].nonen + side[1].nonen >= 6 && side[0].nonen && side[1].nonen,
       "non-English pairs on both sides (tune %d, held-out %d)",
       side[0].nonen, side[1].nonen);
}

/* Every <id>.txt of the directory is named in SPLIT (the files that are
 * no source, wordlist.txt and rules-before-split.txt, excepted). */
static void test_files_in_split(arena_t *a)
{
    qset_t s;
    DIR *d = opendir(quality_dir(a));
    struct dirent *e;
    int files = 0, unnamed = 0;

    if (quality_load(a, NULL, &s) < 0 || !d) {
        ok(0, "every data file is in SPLIT (cannot read)");
        if (d)
            closedir(d);
        return;
    }
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        bool named = false;
        if (l < 5 || strcmp(e->d_name + l - 4, ".txt") ||
            !strcmp(e->d_name, "wordlist.txt") ||
            !strcmp(e->d_name, "rules-before-split.txt"))
            continue;
        files++;
        for (int i = 0; i < s.nsources; i++)
            named |= strlen(s.sources[i].id) == l - 4 &&
                     !strncmp(s.sources[i].id, e->d_name, l - 4);
        if (!named && ++unnamed)
            diag("not in SPLIT: %s", e->d_name);
    }
    closedir(d);
    is_int(unnamed, 0, "all %d source files are in SPLIT", files);
    is_int(files, s.nsources, "SPLIT names no missing file");
}

/* The loader refuses an unknown kind and a pair without a text. */
static void test_loader_errors(arena_t *a)
{
    char dir[] = "/tmp/promptd-quality-XXXXXX";
    static const char *const bodies[] = {
        "source: s\nurl: https://x\nlicence: l\nreproduction: paraphrase\n"
        "=== poem en\n--- worse\na\n--- better\nb\n",
        "source: s\nurl: https://x\nlicence: l\nreproduction: paraphrase\n"
        "=== writing en\n--- worse\na\n",
        "url: https://x\n=== writing en\n--- worse\na\n--- better\nb\n"};
    qset_t s;

    if (!ok(mkdtemp(dir) != NULL, "scratch directory"))
        return;
    for (size_t i = 0; i < sizeof(bodies) / sizeof(*bodies); i++) {
        FILE *f = fopen(arena_printf(a, "%s/SPLIT", dir), "w");
        fputs("% c\nx heldout\n", f);
        fclose(f);
        f = fopen(arena_printf(a, "%s/x.txt", dir), "w");
        fputs(bodies[i], f);
        fclose(f);
        int rc = quality_load(a, dir, &s);
        ok(rc < 0 && s.error, "bad file %zu refused: %s", i + 1,
           rc < 0 && s.error ? s.error : "(loaded)");
    }
    unlink(arena_printf(a, "%s/x.txt", dir));
    unlink(arena_printf(a, "%s/SPLIT", dir));
    rmdir(dir);
}

int main(void)
{
    arena_t *a = arena_create(1 << 16);

    test_set(a);
    test_files_in_split(a);
    test_loader_errors(a);
    arena_destroy(a);
    return done_testing();
}
