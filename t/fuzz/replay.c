/* replay.c: feed every committed fuzz input of one harness to it, without
 * libFuzzer (gcc or clang, plain or under ASan), printing TAP for prove.
 * Built once per harness with -DFUZZ_TARGET='"name"'; reads
 * t/fuzz/regress/<name>/ and t/fuzz/corpus/<name>/, or the files named on
 * the command line (to reproduce one crash by hand). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#ifndef FUZZ_SRCDIR
#define FUZZ_SRCDIR "."
#endif

/* Weak: most harnesses need no initialisation. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int replay_count;

/* Read path whole into a malloc'd buffer of exactly *size bytes (so ASan
 * sees any read past the end); NULL on error. */
static uint8_t *replay_read(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc(n > 0 ? (size_t)n : 1))) {
        *size = (size_t)n;
        if (fread(buf, 1, *size, f) != *size) {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    return buf;
}

static int replay_file(const char *path, const char *label)
{
    size_t size = 0;
    uint8_t *buf = replay_read(path, &size);

    if (buf == NULL) {
        printf("not ok %d - %s: %s\n", ++replay_count, label, strerror(errno));
        return 1;
    }
    LLVMFuzzerTestOneInput(buf, size);   /* a crash ends the run: prove fails */
    free(buf);
    printf("ok %d - %s (%zu bytes)\n", ++replay_count, label, size);
    fflush(stdout);
    return 0;
}

static int skip_name(const struct dirent *e)
{
    return e->d_name[0] != '.';
}

/* Every file of dir (sorted, so runs are repeatable); a missing dir is empty. */
static int replay_dir(const char *kind)
{
    char dir[4096], path[8192];
    struct dirent **names;
    int n, failed = 0;

    snprintf(dir, sizeof dir, "%s/t/fuzz/%s/%s", FUZZ_SRCDIR, kind, FUZZ_TARGET);
    if ((n = scandir(dir, &names, skip_name, alphasort)) < 0)
        return 0;
    for (int i = 0; i < n; i++) {
        char label[600];

        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        snprintf(label, sizeof label, "%s/%s/%s", kind, FUZZ_TARGET, names[i]->d_name);
        failed |= replay_file(path, label);
        free(names[i]);
    }
    free(names);
    return failed;
}

int main(int argc, char **argv)
{
    int failed = 0;

    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            failed |= replay_file(argv[i], argv[i]);
    } else {
        failed |= replay_dir("regress");
        failed |= replay_dir("corpus");
    }
    if (replay_count == 0)
        printf("1..0 # SKIP no inputs for %s\n", FUZZ_TARGET);
    else
        printf("1..%d\n", replay_count);
    return failed;
}
