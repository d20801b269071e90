/* metrics.h: a multi-process metrics store (one mapped file per process) and its Prometheus text scrape. */
#ifndef PROMPTD_METRICS_H
#define PROMPTD_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/str.h"

/*
 * Each process maps one fixed-size file in a directory and holds an
 * exclusive flock on it for life.  metrics_init first adopts a file whose
 * lock is free (a dead process's: its counters continue, so sums never go
 * down and the file count stays bounded by the live processes), else
 * creates one.  A series is keyed by its family name and label string,
 * e.g. metrics_counter_add("promptd_x_total", "route=\"/a\"", 1); the
 * label string is the caller's, already escaped (metrics_label_escape).
 *
 * Writers publish a slot's key before its value (release store); values
 * are 64-bit atomic adds, so scrapers read without locks and threads of
 * one process may write at once (a mutex only around slot insertion).
 * A full table drops new series and counts the drop.
 *
 * Call metrics_init in each process after it forks, never before: a child
 * would share the parent's lock.
 */

#define METRICS_SLOTS 1024   /* series per process file */
#define METRICS_KEY_MAX 256  /* family{labels} incl. the NUL */
#define METRICS_BUCKETS 14   /* histogram bounds, the last +Inf */

/* Opens (adopts or creates) this process's file in dir, creating dir.
 * dir NULL: $PROMPTD_METRICS_DIR.  PROMPTD_METRICS=off, no dir, or any
 * failure (logged to stderr once) leave the store off: the writers below
 * then do nothing.  Returns true when the store is on.  Idempotent. */
bool metrics_init(const char *dir);

/* Unmaps and unlocks (the file stays for the next process to adopt). */
void metrics_close(void);

/* The path of this process's file, or NULL when off (for tests). */
const char *metrics_file(void);

/* Adds n to the counter family{labels}; labels may be NULL or "". */
void metrics_counter_add(const char *family, const char *labels, uint64_t n);

/* Records one observation of seconds in the histogram family{labels}:
 * fixed bounds 0.001 .. 10 s and +Inf; the sum kept in microseconds. */
void metrics_observe(const char *family, const char *labels, double seconds);

/* Appends s escaped as a Prometheus label value (\\, \", \n). */
void metrics_label_escape(strbuf_t *sb, const char *s);

/* The help text of a family, or NULL for a generic one. */
typedef const char *(*metrics_help_fn)(const char *family);

/* Reads every file in dir (NULL: this process's directory), sums series
 * with the same key and appends the text exposition format 0.0.4 to sb:
 * one # HELP / # TYPE per family, families and series in a stable order,
 * and promptd_metrics_dropped_series_total.  Returns the number of files
 * read, -1 when dir cannot be opened. */
int metrics_collect(const char *dir, strbuf_t *sb, metrics_help_fn help);

/* One series of one file, as metrics_each reads it: family and labels
 * (escaped, without braces; "" when none) are valid during the call only.
 * A counter has nvalues 1; a histogram METRICS_BUCKETS per-bucket (not
 * cumulative) counts in metrics_bounds order, +Inf last. */
typedef struct metrics_series {
    const char *file;      /* the file's name in dir: its identity */
    const char *family;
    const char *labels;
    bool histogram;
    int nvalues;
    const uint64_t *values;
} metrics_series_t;

typedef void (*metrics_each_fn)(void *ctx, const metrics_series_t *s);

/* Calls fn for every published series of every file in dir (NULL: this
 * process's directory), file by file, unsummed: a caller that tracks
 * per-file values sees a removed file vanish instead of a sum going down.
 * arena holds the reading's scratch.  Returns the number of files read,
 * -1 when dir cannot be opened. */
int metrics_each(const char *dir, arena_t *arena, metrics_each_fn fn, void *ctx);

/* The histograms' finite upper bounds in seconds (METRICS_BUCKETS - 1 of
 * them, ascending; the last bucket is +Inf). */
const double *metrics_bounds_get(void);

#endif
