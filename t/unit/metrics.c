/* t/unit/metrics.c: the multi-process metrics store: concurrent writers, adoption of a dead process's file, histograms, escaping, a full table. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/metrics.h"
#include "tap.h"

#define ADDS 20000

static char base[] = "/tmp/promptd-metrics-unit-XXXXXX";

static char *
subdir(arena_t *a, const char *name)
{
    return arena_printf(a, "%s/%s", base, name);
}

/* The scrape of dir as a string (in a). */
static const char *
scrape(arena_t *a, const char *dir, int *files)
{
    strbuf_t sb;

    strbuf_init(&sb, a, 1024);
    *files = metrics_collect(dir, &sb, NULL);
    return sb.ptr;
}

/* Forks a writer: init in dir, add `adds` to a counter, one observation. */
static pid_t
writer(const char *dir, int adds)
{
    pid_t pid = fork();

    if (pid == 0) {
        if (!metrics_init(dir))
            _exit(2);
        for (int i = 0; i < adds; i++)
            metrics_counter_add("t_total", "k=\"v\"", 1);
        metrics_observe("t_seconds", NULL, 0.003);
        _exit(0);
    }
    return pid;
}

static int
reap(pid_t pid)
{
    int st = -1;

    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Two processes writing at once: two files, the sums exact. */
static void
test_two_writers(arena_t *a)
{
    const char *dir = subdir(a, "two"), *out;
    pid_t p1 = writer(dir, ADDS), p2 = writer(dir, ADDS);
    int files;

    is_int(reap(p1), 0, "first writer ran");
    is_int(reap(p2), 0, "second writer ran");
    out = scrape(a, dir, &files);
    ok(files >= 1 && files <= 2, "one file per live process (%d)", files);
    ok(strstr(out, "\nt_total{k=\"v\"} 40000\n") != NULL, "counters summed across processes");
    ok(strstr(out, "# TYPE t_total counter\n") != NULL, "counter TYPE line");
    ok(strstr(out, "t_seconds_count 2\n") != NULL, "histogram count summed");
    ok(strstr(out, "t_seconds_bucket{le=\"0.0025\"} 0\n") != NULL, "below the value: 0");
    ok(strstr(out, "t_seconds_bucket{le=\"0.005\"} 2\n") != NULL, "at its bound: cumulative");
    ok(strstr(out, "t_seconds_bucket{le=\"+Inf\"} 2\n") != NULL, "+Inf is the count");
    ok(strstr(out, "t_seconds_sum 0.006000\n") != NULL, "sum in seconds");
    ok(strstr(out, "promptd_metrics_dropped_series_total 0\n") != NULL, "nothing dropped");
}

/* A dead process's file is adopted: its counters continue, no new file. */
static void
test_adoption(arena_t *a)
{
    const char *dir = subdir(a, "adopt"), *out, *path;
    int files;

    is_int(reap(writer(dir, 5)), 0, "a first process wrote and died");
    is_int(reap(writer(dir, 7)), 0, "a second process wrote after it");
    out = scrape(a, dir, &files);
    is_int(files, 1, "the second adopted the first's file");
    ok(strstr(out, "t_total{k=\"v\"} 12\n") != NULL, "counters continued (12)");

    ok(metrics_init(dir), "this process adopts it too");
    path = arena_strdup(a, metrics_file());
    metrics_counter_add("t_total", "k=\"v\"", 1);
    out = scrape(a, dir, &files);
    is_int(files, 1, "still one file");
    ok(strstr(out, "t_total{k=\"v\"} 13\n") != NULL, "and never went down (13)");

    /* While this process holds its lock, another creates its own file. */
    is_int(reap(writer(dir, 1)), 0, "a writer beside a live holder");
    out = scrape(a, dir, &files);
    is_int(files, 2, "it made a second file");
    ok(strstr(out, "t_total{k=\"v\"} 14\n") != NULL, "both files summed (14)");
    is_str(metrics_file(), path, "this process kept its file");
    metrics_close();
}

static void
test_escape(arena_t *a)
{
    strbuf_t sb;

    strbuf_init(&sb, a, 16);
    metrics_label_escape(&sb, "a\"b\\c\nd/é");
    is_str(sb.ptr, "a\\\"b\\\\c\\nd/é", "quote, backslash and newline escaped");
}

/* A full table drops new series, counts them, keeps the old ones. */
static void
test_full(arena_t *a)
{
    const char *dir = subdir(a, "full"), *out;
    char labels[32];
    int files;

    ok(metrics_init(dir), "a fresh store");
    for (int i = 0; i < METRICS_SLOTS + 10; i++) {
        snprintf(labels, sizeof labels, "i=\"%d\"", i);
        metrics_counter_add("f_total", labels, 1);
    }
    metrics_counter_add("f_total", "i=\"0\"", 1);
    out = scrape(a, dir, &files);
    if (!ok(strstr(out, "promptd_metrics_dropped_series_total 10\n") != NULL,
       "10 new series and none else dropped"))
        diag("%s", strstr(out, "promptd_metrics_dropped"));
    ok(strstr(out, "f_total{i=\"0\"} 2\n") != NULL, "an existing series still counts");
    metrics_close();
}

/* Off: PROMPTD_METRICS=off leaves writers as no-ops. */
static void
test_off(arena_t *a)
{
    setenv("PROMPTD_METRICS", "off", 1);
    ok(!metrics_init(subdir(a, "off")), "PROMPTD_METRICS=off keeps it off");
    metrics_counter_add("x_total", NULL, 1);
    ok(metrics_file() == NULL, "no file");
    unsetenv("PROMPTD_METRICS");
}

int
main(void)
{
    arena_t *a = arena_create(1 << 16);

    if (!mkdtemp(base))
        return 1;
    test_two_writers(a);
    test_adoption(a);
    test_escape(a);
    test_full(a);
    test_off(a);
    if (system(arena_printf(a, "rm -rf '%s'", base)) != 0)
        diag("could not remove %s", base);
    arena_destroy(a);
    return done_testing();
}
