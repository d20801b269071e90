/* tap.h: a tiny header-only TAP producer for the C unit tests (run by prove). */
#ifndef PROMPTD_TAP_H
#define PROMPTD_TAP_H

/*
 * Usage:
 *     int main(void) {
 *         ok(1 + 1 == 2, "sums");
 *         is_int(strlen("ab"), 2, "length of %s", "ab");
 *         is_str(got, "x", "name");
 *         return done_testing();
 *     }
 * Call plan(n) first to announce the count up front, or let done_testing()
 * print "1..N" at the end.  Each assertion returns nonzero when it passed.
 * done_testing() returns the process exit status: 0 when every test passed
 * and the plan (if any) was met, 1 otherwise.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_run_;      /* tests run so far */
static int tap_failed_;   /* of which failed */
static int tap_planned_;  /* plan(n) value, or 0 when none was given */

static inline void
plan(int n)
{
    tap_planned_ = n;
    printf("1..%d\n", n);
    fflush(stdout);
}

/* "# ..." on stderr, where prove shows it. */
static inline void __attribute__((format(printf, 1, 2)))
diag(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fputs("# ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static inline int
tap_vok_(int pass, const char *file, int line, const char *fmt, va_list ap)
{
    tap_run_++;
    printf("%sok %d - ", pass ? "" : "not ", tap_run_);
    vprintf(fmt, ap);
    putchar('\n');
    fflush(stdout);
    if (!pass) {
        tap_failed_++;
        diag("  Failed test at %s line %d.", file, line);
    }
    return pass;
}

static inline int __attribute__((format(printf, 4, 5)))
tap_ok_(int pass, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = tap_vok_(pass, file, line, fmt, ap);
    va_end(ap);
    return r;
}

static inline int __attribute__((format(printf, 5, 6)))
tap_is_int_(long long got, long long want, const char *file, int line,
            const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = tap_vok_(got == want, file, line, fmt, ap);
    va_end(ap);
    if (!r)
        diag("       got: %lld\n#   expected: %lld", got, want);
    return r;
}

/* NULL-safe: two NULLs are equal, a NULL and a string are not. */
static inline int __attribute__((format(printf, 5, 6)))
tap_is_str_(const char *got, const char *want, const char *file, int line,
            const char *fmt, ...)
{
    va_list ap;
    int r, pass;

    pass = (got == NULL || want == NULL) ? got == want : strcmp(got, want) == 0;
    va_start(ap, fmt);
    r = tap_vok_(pass, file, line, fmt, ap);
    va_end(ap);
    if (!r)
        diag("       got: %s%s%s\n#   expected: %s%s%s",
             got ? "'" : "", got ? got : "NULL", got ? "'" : "",
             want ? "'" : "", want ? want : "NULL", want ? "'" : "");
    return r;
}

#define ok(cond, ...) tap_ok_(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...) \
    tap_is_int_((long long)(got), (long long)(want), __FILE__, __LINE__, \
                __VA_ARGS__)
#define is_str(got, want, ...) \
    tap_is_str_((got), (want), __FILE__, __LINE__, __VA_ARGS__)

static inline int
done_testing(void)
{
    if (tap_planned_ == 0) {
        printf("1..%d\n", tap_run_);
    } else if (tap_planned_ != tap_run_) {
        diag("Looks like you planned %d tests but ran %d.", tap_planned_,
             tap_run_);
        return 1;
    }
    fflush(stdout);
    if (tap_failed_)
        diag("Looks like you failed %d test%s of %d.", tap_failed_,
             tap_failed_ == 1 ? "" : "s", tap_run_);
    return tap_failed_ ? 1 : 0;
}

#endif
