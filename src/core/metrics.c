/* metrics.c: a multi-process metrics store (one mapped file per process) and its Prometheus text scrape. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/metrics.h"

#define METRICS_MAGIC 0x4d545250u /* "PRTM" */
#define METRICS_VERSION 1u
#define METRICS_VALUES 16 /* a counter uses v[0]; a histogram all 16 */
#define H_SUM (METRICS_BUCKETS)
#define H_COUNT (METRICS_BUCKETS + 1)

enum { KIND_COUNTER = 1, KIND_HISTOGRAM = 2 };

/* state is 0 until key and kind are written, then 1 (release store). */
struct metrics_slot {
    uint32_t state;
    uint8_t kind;
    uint8_t pad[3];
    char key[METRICS_KEY_MAX];
    uint64_t v[METRICS_VALUES];
};

struct metrics_hdr {
    uint32_t magic;
    uint32_t version;
    uint32_t nslots;
    uint32_t slot_size;
    uint64_t dropped;
    uint64_t pad[5];
};

#define METRICS_FILE_SIZE \
    (sizeof(struct metrics_hdr) + METRICS_SLOTS * sizeof(struct metrics_slot))

static const double metrics_bounds[METRICS_BUCKETS - 1] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
static const char *const metrics_le[METRICS_BUCKETS] = {
    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"};

/* This process's store: all NULL/-1 when off. */
static struct {
    int fd;
    struct metrics_hdr *hdr;
    struct metrics_slot *slots;
    char dir[512];
    char path[768];
    bool tried;
} metrics_self = {.fd = -1};
static pthread_mutex_t metrics_insert_lock = PTHREAD_MUTEX_INITIALIZER;

static bool metrics_has_suffix(const char *name)
{
    size_t n = strlen(name);

    return n > 8 && strcmp(name + n - 8, ".metrics") == 0;
}

static bool metrics_hdr_valid(const struct metrics_hdr *h)
{
    return h->magic == METRICS_MAGIC && h->version == METRICS_VERSION &&
           h->nslots == METRICS_SLOTS && h->slot_size == sizeof(struct metrics_slot);
}

/* Maps fd read-write when it is a store file of the right size. */
static void *metrics_map(int fd, int prot)
{
    struct stat st;
    void *p;

    if (fstat(fd, &st) != 0 || (size_t)st.st_size != METRICS_FILE_SIZE)
        return NULL;
    p = mmap(NULL, METRICS_FILE_SIZE, prot, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return NULL;
    if (!metrics_hdr_valid(p)) {
        munmap(p, METRICS_FILE_SIZE);
        return NULL;
    }
    return p;
}

static void metrics_take(int fd, void *map, const char *dir, const char *name)
{
    metrics_self.fd = fd;
    metrics_self.hdr = map;
    metrics_self.slots = (struct metrics_slot *)((char *)map + sizeof(struct metrics_hdr));
    snprintf(metrics_self.path, sizeof metrics_self.path, "%s/%s", dir, name);
}

/* Adopts the first *.metrics file in dir whose lock is free. */
static bool metrics_adopt(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    bool got = false;

    if (!d)
        return false;
    while (!got && (e = readdir(d))) {
        int fd;
        void *map;

        if (!metrics_has_suffix(e->d_name))
            continue;
        fd = openat(dirfd(d), e->d_name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
            continue;
        if (flock(fd, LOCK_EX | LOCK_NB) != 0 ||
            !(map = metrics_map(fd, PROT_READ | PROT_WRITE))) {
            close(fd);
            continue;
        }
        metrics_take(fd, map, dir, e->d_name);
        got = true;
    }
    closedir(d);
    return got;
}

/* Creates a new file under a temporary name, locks and fills it, then
 * renames it into view so no other process can adopt it half-made. */
static bool metrics_create(const char *dir)
{
    char tmp[768], name[128], final[768];
    struct metrics_hdr *h;
    int fd;

    snprintf(tmp, sizeof tmp, "%s/.tmp-%ld", dir, (long)getpid());
    fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return false;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0 || ftruncate(fd, METRICS_FILE_SIZE) != 0)
        goto fail;
    h = mmap(NULL, METRICS_FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (h == MAP_FAILED)
        goto fail;
    h->version = METRICS_VERSION;
    h->nslots = METRICS_SLOTS;
    h->slot_size = sizeof(struct metrics_slot);
    __atomic_store_n(&h->magic, METRICS_MAGIC, __ATOMIC_RELEASE);
    snprintf(name, sizeof name, "%ld-%lld.metrics", (long)getpid(), (long long)time(NULL));
    snprintf(final, sizeof final, "%s/%s", dir, name);
    if (rename(tmp, final) != 0) {
        munmap(h, METRICS_FILE_SIZE);
        goto fail;
    }
    metrics_take(fd, h, dir, name);
    return true;
fail:
    unlink(tmp);
    close(fd);
    return false;
}

/* A forked child does not write into its parent's file (it would not hold
 * the lock on its own): its store is off until it calls metrics_init. */
static void metrics_atfork_child(void)
{
    metrics_close();
}

bool metrics_init(const char *dir)
{
    static bool atfork;
    const char *onoff = getenv("PROMPTD_METRICS");

    if (metrics_self.hdr)
        return true;
    if (!atfork && pthread_atfork(NULL, NULL, metrics_atfork_child) == 0)
        atfork = true;
    if (metrics_self.tried && !dir)
        return false;
    metrics_self.tried = true;
    if (!dir)
        dir = getenv("PROMPTD_METRICS_DIR");
    if (!dir || !*dir || (onoff && strcmp(onoff, "off") == 0))
        return false;
    snprintf(metrics_self.dir, sizeof metrics_self.dir, "%s", dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        goto fail;
    if (metrics_adopt(dir) || metrics_create(dir))
        return true;
fail:
    fprintf(stderr, "%s: metrics off: %s: %s\n", __func__, dir, strerror(errno));
    return false;
}

void metrics_close(void)
{
    if (metrics_self.hdr)
        munmap(metrics_self.hdr, METRICS_FILE_SIZE);
    if (metrics_self.fd >= 0)
        close(metrics_self.fd);
    metrics_self.fd = -1;
    metrics_self.hdr = NULL;
    metrics_self.slots = NULL;
    metrics_self.path[0] = '\0';
    metrics_self.tried = false;
}

const char *metrics_file(void)
{
    return metrics_self.hdr ? metrics_self.path : NULL;
}

static uint32_t metrics_hash(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static bool metrics_slot_is(const struct metrics_slot *s, const char *key, uint8_t kind)
{
    return s->kind == kind && strcmp(s->key, key) == 0;
}

/* Under the insertion mutex: from index i on, the slot holding key (another
 * thread may just have inserted it) or a new one; NULL when full. */
static struct metrics_slot *metrics_insert(const char *key, uint8_t kind, uint32_t i, uint32_t left)
{
    struct metrics_slot *s, *got = NULL;

    pthread_mutex_lock(&metrics_insert_lock);
    for (; left > 0 && !got; left--, i = (i + 1) % METRICS_SLOTS) {
        s = &metrics_self.slots[i];
        if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) == 0) {
            memcpy(s->key, key, strlen(key) + 1);
            s->kind = kind;
            __atomic_store_n(&s->state, 1, __ATOMIC_RELEASE);
            got = s;
        } else if (metrics_slot_is(s, key, kind)) {
            got = s;
        }
    }
    pthread_mutex_unlock(&metrics_insert_lock);
    return got;
}

/* The slot of family{labels}, inserting it; NULL (and the drop counted)
 * when the store is off, the key too long or the table full. */
static struct metrics_slot *metrics_slot(const char *family, const char *labels, uint8_t kind)
{
    char key[METRICS_KEY_MAX];
    uint32_t h, i;

    if (!metrics_self.hdr)
        return NULL;
    /* "family{labels}" or "family", without printf (three per request) */
    {
        size_t fl = strlen(family), ll = labels ? strlen(labels) : 0;
        size_t len = ll ? fl + ll + 2 : fl;

        if (len >= sizeof key)
            goto drop;
        memcpy(key, family, fl);
        if (ll) {
            key[fl] = '{';
            memcpy(key + fl + 1, labels, ll);
            key[len - 1] = '}';
        }
        key[len] = '\0';
    }
    h = metrics_hash(key);
    for (uint32_t k = 0; k < METRICS_SLOTS; k++) {
        struct metrics_slot *s;

        i = (h + k) % METRICS_SLOTS;
        s = &metrics_self.slots[i];
        if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) == 0) {
            if ((s = metrics_insert(key, kind, i, METRICS_SLOTS - k)))
                return s;
            goto drop;
        }
        if (metrics_slot_is(s, key, kind))
            return s;
    }
drop:
    __atomic_add_fetch(&metrics_self.hdr->dropped, 1, __ATOMIC_RELAXED);
    return NULL;
}

void metrics_counter_add(const char *family, const char *labels, uint64_t n)
{
    struct metrics_slot *s = metrics_slot(family, labels, KIND_COUNTER);

    if (s)
        __atomic_add_fetch(&s->v[0], n, __ATOMIC_RELAXED);
}

void metrics_observe(const char *family, const char *labels, double seconds)
{
    struct metrics_slot *s = metrics_slot(family, labels, KIND_HISTOGRAM);
    int b = 0;

    if (!s)
        return;
    if (!(seconds >= 0))
        seconds = 0;
    while (b < METRICS_BUCKETS - 1 && seconds > metrics_bounds[b])
        b++;
    __atomic_add_fetch(&s->v[b], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&s->v[H_SUM], (uint64_t)(seconds * 1e6 + 0.5), __ATOMIC_RELAXED);
    __atomic_add_fetch(&s->v[H_COUNT], 1, __ATOMIC_RELAXED);
}

void metrics_label_escape(strbuf_t *sb, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            strbuf_puts(sb, "\\\\");
        else if (*s == '"')
            strbuf_puts(sb, "\\\"");
        else if (*s == '\n')
            strbuf_puts(sb, "\\n");
        else
            strbuf_putc(sb, *s);
    }
}

/* ---- scrape ---- */

/* One series summed over the files; key points into the collect arena. */
struct metrics_entry {
    const char *key;
    size_t famlen; /* the family: key's first famlen bytes */
    uint8_t kind;
    uint64_t v[METRICS_VALUES];
};

struct metrics_set {
    arena_t *arena;
    struct metrics_entry *e;
    size_t n, cap;
    uint64_t dropped;
};

static void metrics_set_add(struct metrics_set *set, const struct metrics_slot *s)
{
    struct metrics_entry *e;
    size_t klen = strnlen(s->key, METRICS_KEY_MAX - 1);

    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 256;
        struct metrics_entry *ne = arena_alloc(set->arena, cap * sizeof *ne);

        if (set->n)
            memcpy(ne, set->e, set->n * sizeof *ne);
        set->e = ne;
        set->cap = cap;
    }
    e = &set->e[set->n++];
    e->key = arena_strndup(set->arena, s->key, klen);
    e->famlen = strcspn(e->key, "{");
    e->kind = s->kind;
    for (int i = 0; i < METRICS_VALUES; i++)
        e->v[i] = __atomic_load_n(&s->v[i], __ATOMIC_RELAXED);
}

/* Adds every published slot of one file to set; false when not a store. */
static bool metrics_read_file(struct metrics_set *set, int dfd, const char *name)
{
    int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    const struct metrics_hdr *h;
    const struct metrics_slot *slots;

    if (fd < 0)
        return false;
    h = metrics_map(fd, PROT_READ);
    close(fd);
    if (!h)
        return false;
    slots = (const struct metrics_slot *)((const char *)h + sizeof *h);
    set->dropped += __atomic_load_n(&h->dropped, __ATOMIC_RELAXED);
    for (uint32_t i = 0; i < METRICS_SLOTS; i++) {
        if (__atomic_load_n(&slots[i].state, __ATOMIC_ACQUIRE) == 1 &&
            (slots[i].kind == KIND_COUNTER || slots[i].kind == KIND_HISTOGRAM))
            metrics_set_add(set, &slots[i]);
    }
    munmap((void *)h, METRICS_FILE_SIZE);
    return true;
}

/* Family first (so "a" and "a_b" never interleave), then kind, then key. */
static int metrics_entry_cmp(const void *pa, const void *pb)
{
    const struct metrics_entry *a = pa, *b = pb;
    size_t n = a->famlen < b->famlen ? a->famlen : b->famlen;
    int c = memcmp(a->key, b->key, n);

    if (c != 0)
        return c;
    if (a->famlen != b->famlen)
        return a->famlen < b->famlen ? -1 : 1;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    return strcmp(a->key, b->key);
}

static void metrics_write_family(strbuf_t *sb, const struct metrics_entry *e, metrics_help_fn help)
{
    char fam[METRICS_KEY_MAX];
    const char *text;

    snprintf(fam, sizeof fam, "%.*s", (int)e->famlen, e->key);
    text = help ? help(fam) : NULL;
    strbuf_printf(sb, "# HELP %s %s\n# TYPE %s %s\n", fam, text ? text : fam, fam,
                  e->kind == KIND_COUNTER ? "counter" : "histogram");
}

/* name_suffix{labels[,extra]} */
static void metrics_write_name(strbuf_t *sb, const struct metrics_entry *e, const char *suffix,
                   const char *extra)
{
    const char *labels = e->key + e->famlen;
    size_t llen = *labels ? strlen(labels) - 2 : 0;

    strbuf_append(sb, e->key, e->famlen);
    strbuf_puts(sb, suffix);
    if (!llen && !extra)
        return;
    strbuf_putc(sb, '{');
    if (llen)
        strbuf_append(sb, labels + 1, llen);
    if (llen && extra)
        strbuf_putc(sb, ',');
    if (extra)
        strbuf_puts(sb, extra);
    strbuf_putc(sb, '}');
}

static void metrics_write_histogram(strbuf_t *sb, const struct metrics_entry *e)
{
    char le[32];
    uint64_t cum = 0;

    for (int b = 0; b < METRICS_BUCKETS; b++) {
        cum += e->v[b];
        snprintf(le, sizeof le, "le=\"%s\"", metrics_le[b]);
        metrics_write_name(sb, e, "_bucket", le);
        strbuf_printf(sb, " %llu\n", (unsigned long long)cum);
    }
    metrics_write_name(sb, e, "_sum", NULL);
    strbuf_printf(sb, " %llu.%06llu\n", (unsigned long long)(e->v[H_SUM] / 1000000),
                  (unsigned long long)(e->v[H_SUM] % 1000000));
    metrics_write_name(sb, e, "_count", NULL);
    strbuf_printf(sb, " %llu\n", (unsigned long long)e->v[H_COUNT]);
}

/* Sorts set, folds equal keys together and writes them. */
static void metrics_write_set(strbuf_t *sb, struct metrics_set *set, metrics_help_fn help)
{
    size_t i = 0, j;

    if (set->n)
        qsort(set->e, set->n, sizeof *set->e, metrics_entry_cmp);
    while (i < set->n) {
        struct metrics_entry *e = &set->e[i];

        for (j = i + 1; j < set->n && metrics_entry_cmp(e, &set->e[j]) == 0; j++)
            for (int k = 0; k < METRICS_VALUES; k++)
                e->v[k] += set->e[j].v[k];
        if (i == 0 || e->famlen != set->e[i - 1].famlen ||
            memcmp(e->key, set->e[i - 1].key, e->famlen) != 0 || e->kind != set->e[i - 1].kind)
            metrics_write_family(sb, e, help);
        if (e->kind == KIND_COUNTER) {
            metrics_write_name(sb, e, "", NULL);
            strbuf_printf(sb, " %llu\n", (unsigned long long)e->v[0]);
        } else {
            metrics_write_histogram(sb, e);
        }
        i = j;
    }
}

/* The directory a reader reads: dir, else this process's, else the environment's. */
static const char *metrics_read_dir(const char *dir)
{
    if (dir)
        return dir;
    return metrics_self.dir[0] ? metrics_self.dir : getenv("PROMPTD_METRICS_DIR");
}

int metrics_collect(const char *dir, strbuf_t *sb, metrics_help_fn help)
{
    struct metrics_set set = {.arena = sb->arena};
    struct dirent *e;
    DIR *d;
    int files = 0;

    if (!(dir = metrics_read_dir(dir)) || !(d = opendir(dir)))
        return -1;
    while ((e = readdir(d)))
        if (metrics_has_suffix(e->d_name) && metrics_read_file(&set, dirfd(d), e->d_name))
            files++;
    closedir(d);
    metrics_write_set(sb, &set, help);
    strbuf_printf(sb,
                  "# HELP promptd_metrics_dropped_series_total Series not recorded: "
                  "a process's table was full or a key too long.\n"
                  "# TYPE promptd_metrics_dropped_series_total counter\n"
                  "promptd_metrics_dropped_series_total %llu\n",
                  (unsigned long long)set.dropped);
    return files;
}

/* Hands each entry of one file's set to fn (labels without the braces). */
static void metrics_each_entry(const struct metrics_set *set, const char *file,
                               metrics_each_fn fn, void *ctx)
{
    char family[METRICS_KEY_MAX], labels[METRICS_KEY_MAX];

    for (size_t i = 0; i < set->n; i++) {
        const struct metrics_entry *e = &set->e[i];
        const char *l = e->key + e->famlen;
        size_t llen = *l ? strlen(l) - 2 : 0;
        metrics_series_t s = {
            .file = file, .family = family, .labels = labels,
            .histogram = e->kind == KIND_HISTOGRAM,
            .nvalues = e->kind == KIND_HISTOGRAM ? METRICS_BUCKETS : 1, .values = e->v,
        };

        snprintf(family, sizeof family, "%.*s", (int)e->famlen, e->key);
        snprintf(labels, sizeof labels, "%.*s", (int)llen, llen ? l + 1 : "");
        fn(ctx, &s);
    }
}

int metrics_each(const char *dir, arena_t *arena, metrics_each_fn fn, void *ctx)
{
    struct metrics_set set = {.arena = arena};
    struct dirent *e;
    DIR *d;
    int files = 0;

    if (!(dir = metrics_read_dir(dir)) || !(d = opendir(dir)))
        return -1;
    while ((e = readdir(d))) {
        set.n = 0;
        if (!metrics_has_suffix(e->d_name) || !metrics_read_file(&set, dirfd(d), e->d_name))
            continue;
        files++;
        metrics_each_entry(&set, e->d_name, fn, ctx);
    }
    closedir(d);
    return files;
}

const double *metrics_bounds_get(void)
{
    return metrics_bounds;
}
