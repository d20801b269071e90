/* views.c: the "share.views" job: nginx's share view log -> daily views, unique viewers, referrers. */
#include "share/views.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "core/clock.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "share/settings.h"

#define SHAREVIEWS_BATCH_BYTES (1L << 20)   /* read per batch */
#define SHAREVIEWS_BATCHES_MAX 1000         /* per run, whatever happens */
#define SHAREVIEWS_SLACK_MS 2000            /* stop this long before the deadline */
#define SHAREVIEWS_DAYS 2                   /* salts kept: today and yesterday */

bool shareviews_referrer_host(const char *ref, char *out, size_t n)
{
    const char *p, *end;
    size_t len;

    if (ref == NULL)
        return false;
    if (strncasecmp(ref, "https://", 8) == 0)
        p = ref + 8;
    else if (strncasecmp(ref, "http://", 7) == 0)
        p = ref + 7;
    else
        return false;
    end = p + strcspn(p, "/?#");
    for (const char *q = p; q < end; q++)   /* drop userinfo */
        if (*q == '@')
            p = q + 1;
    len = (size_t)(end - p);
    if (len > 0 && p[0] == '[') {           /* [IPv6]: up to the bracket */
        const char *close = memchr(p, ']', len);

        len = close ? (size_t)(close - p) + 1 : 0;
    } else if (len > 0) {                   /* drop the port */
        const char *colon = memchr(p, ':', len);

        if (colon)
            len = (size_t)(colon - p);
    }
    if (len == 0 || len >= n || len > 255)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];

        if (!(isalnum(c) || c == '-' || c == '.' || c == '[' || c == ']' || c == ':'))
            return false;
        out[i] = (char)tolower(c);
    }
    out[len] = '\0';
    return true;
}

/* Today's and yesterday's salts (UTC days), fetched once per run. */
struct salts {
    char day[SHAREVIEWS_DAYS][11];
    unsigned char salt[SHAREVIEWS_DAYS][32];
    bool have[SHAREVIEWS_DAYS];
};

static bool salts_load(job_t *j, struct salts *s)
{
    time_t now = time(NULL);

    memset(s, 0, sizeof *s);
    for (int i = 0; i < SHAREVIEWS_DAYS; i++) {
        time_t t = now - (time_t)i * 86400;
        struct tm tm;
        unsigned char cand[32];
        char hex[65];
        const char *v[2] = {s->day[i], hex}, *got;
        PGresult *res;

        gmtime_r(&t, &tm);
        strftime(s->day[i], sizeof s->day[i], "%Y-%m-%d", &tm);
        random_bytes(cand, sizeof cand);
        hash_hex(cand, sizeof cand, hex);
        OPENSSL_cleanse(cand, sizeof cand);
        res = PQexecParams(j->conn,
            "select encode(promptd.share_salt($1::date, decode($2, 'hex')), 'hex')",
            2, NULL, v, NULL, NULL, 0);
        OPENSSL_cleanse(hex, sizeof hex);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            registry_fail(j, "share salt: %s", PQresultErrorMessage(res));
            PQclear(res);
            return false;
        }
        got = PQgetvalue(res, 0, 0);
        if (!PQgetisnull(res, 0, 0) && strlen(got) == 64) {
            for (int k = 0; k < 32; k++) {
                unsigned int x = 0;

                sscanf(got + 2 * k, "%2x", &x);
                s->salt[i][k] = (unsigned char)x;
            }
            s->have[i] = true;
        }
        PQclear(res);
    }
    return true;
}

/* SHA-256(salt, addr, NUL, agent) in hex into out[65]; false when the
 * day has no salt (older than yesterday: counted without uniqueness). */
static bool viewer_hash(const struct salts *s, const char *day, const char *addr,
                        const char *ua, char out[65])
{
    for (int i = 0; i < SHAREVIEWS_DAYS; i++) {
        unsigned char md[HASH_SHA256_LEN];
        hash_part_t parts[3] = {
            {s->salt[i], sizeof s->salt[i]}, {addr, strlen(addr) + 1}, {ua, strlen(ua)}};

        if (!s->have[i] || strcmp(s->day[i], day) != 0)
            continue;
        hash_sha256(parts, 3, md);
        hash_hex(md, sizeof md, out);
        return true;
    }
    return false;
}

/* One log line -> one row object appended to rows; false for a line that
 * is not a view record (skipped). */
static bool line_row(const struct salts *s, const char *line, cJSON *rows)
{
    cJSON *in = cJSON_Parse(line), *row;
    const cJSON *t, *sid, *addr, *ua, *ref;
    char day[11], viewer[65], host[256];
    time_t secs;
    struct tm tm;
    bool ok = false;

    if (in == NULL)
        return false;
    t = cJSON_GetObjectItemCaseSensitive(in, "t");
    sid = cJSON_GetObjectItemCaseSensitive(in, "s");
    addr = cJSON_GetObjectItemCaseSensitive(in, "a");
    ua = cJSON_GetObjectItemCaseSensitive(in, "u");
    ref = cJSON_GetObjectItemCaseSensitive(in, "r");
    if (cJSON_IsNumber(t) && cJSON_IsString(sid) && strlen(sid->valuestring) == 36 &&
        cJSON_IsString(addr) && cJSON_IsString(ua) && t->valuedouble > 0) {
        secs = (time_t)t->valuedouble;
        gmtime_r(&secs, &tm);
        strftime(day, sizeof day, "%Y-%m-%d", &tm);
        row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, "s", sid->valuestring);
        cJSON_AddStringToObject(row, "d", day);
        cJSON_AddNumberToObject(row, "t", t->valuedouble);
        if (viewer_hash(s, day, addr->valuestring, ua->valuestring, viewer))
            cJSON_AddStringToObject(row, "v", viewer);
        if (cJSON_IsString(ref) && shareviews_referrer_host(ref->valuestring, host, sizeof host))
            cJSON_AddStringToObject(row, "h", host);
        cJSON_AddItemToArray(rows, row);
        ok = true;
    }
    cJSON_Delete(in);
    return ok;
}

/* The stored cursor: (inode or -1 when none, pos). */
static bool cursor_get(job_t *j, long long *inode, long long *pos)
{
    PGresult *res = PQexec(j->conn, "select inode, pos from promptd.share_view_cursor_get()");

    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        registry_fail(j, "share view cursor: %s", PQresultErrorMessage(res));
        PQclear(res);
        return false;
    }
    *inode = PQgetisnull(res, 0, 0) ? -1 : strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    *pos = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    PQclear(res);
    return true;
}

/* Count rows and move the cursor from (inode, pos) to (new_inode,
 * new_pos).  1 done, 0 somebody else moved the cursor, -1 failed. */
static int ingest(job_t *j, long long inode, long long pos, long long new_inode,
                  long long new_pos, const cJSON *rows)
{
    char a[32], b[32], c[32], d[32];
    const char *v[5] = {inode < 0 ? NULL : a, b, c, d, NULL};
    PGresult *res;
    char *json = cJSON_PrintUnformatted(rows);
    int rc;

    snprintf(a, sizeof a, "%lld", inode);
    snprintf(b, sizeof b, "%lld", pos);
    snprintf(c, sizeof c, "%lld", new_inode);
    snprintf(d, sizeof d, "%lld", new_pos);
    v[4] = json;
    res = PQexecParams(j->conn,
        "select promptd.share_views_ingest($1::bigint, $2::bigint, $3::bigint, "
        "$4::bigint, $5::jsonb)", 5, NULL, v, NULL, NULL, 0);
    cJSON_free(json);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        registry_fail(j, "share views ingest: %s", PQresultErrorMessage(res));
        rc = -1;
    } else {
        rc = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    }
    PQclear(res);
    return rc;
}

/* The rotated file ("<log>.1") when it is the one the cursor points into
 * with lines left to read: its descriptor (the caller closes it), else -1. */
static int rotated_open(const char *path, long long inode, long long pos,
                        const struct stat *current)
{
    char old[4096 + 3];
    struct stat st;
    int fd;

    if (inode == (long long)current->st_ino)
        return -1;
    snprintf(old, sizeof old, "%s.1", path);
    if ((fd = open(old, O_RDONLY | O_CLOEXEC)) < 0)
        return -1;
    if (fstat(fd, &st) != 0 || (long long)st.st_ino != inode || pos >= (long long)st.st_size) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The file a run reads: the view log's descriptor and identity, the
 * rotated file's when one is open, the salts and the read buffer. */
struct views_run {
    const char *path;
    int fd, rotated_fd;
    struct stat st;
    struct salts salts;
    char *buf;                 /* SHAREVIEWS_BATCH_BYTES + 1 */
    long long lines;
};

/* One batch: re-read the cursor, read complete lines from it, and hand
 * them with the new cursor to the database.  1 another batch may follow,
 * 0 caught up (or the start of a new file recorded), -1 failed. */
static int views_batch(job_t *j, struct views_run *v)
{
    long long inode, pos, from, used, src_ino;
    ssize_t n;
    cJSON *rows;
    char *p, *nl, *last = NULL, *buf = v->buf;
    int done, src;

    if (!cursor_get(j, &inode, &pos))
        return -1;
    /* Lines the rotated file still holds come first; then the current
     * file, from the cursor, or from its start when the cursor is for
     * another file (rotated) or past its end (truncated). */
    if (v->rotated_fd >= 0)
        close(v->rotated_fd);
    v->rotated_fd = rotated_open(v->path, inode, pos, &v->st);
    if (v->rotated_fd >= 0) {
        src = v->rotated_fd;
        src_ino = inode;
        from = pos;
    } else {
        src = v->fd;
        src_ino = (long long)v->st.st_ino;
        from = inode == src_ino && pos <= (long long)v->st.st_size ? pos : 0;
    }
    if ((n = pread(src, buf, SHAREVIEWS_BATCH_BYTES, (off_t)from)) < 0) {
        registry_fail(j, "read %s: %s", v->path, strerror(errno));
        return -1;
    }
    buf[n] = '\0';
    for (p = buf; (nl = memchr(p, '\n', (size_t)(buf + n - p))) != NULL; p = nl + 1)
        last = nl;
    if (last != NULL)
        used = (long long)(last - buf) + 1;
    else if (n == SHAREVIEWS_BATCH_BYTES || src == v->rotated_fd)
        used = n;                         /* one absurd line, or a rotated file's torn tail: skip it */
    else if (from != pos || inode != src_ino)
        used = 0;                         /* record the new file */
    else
        return 0;                         /* caught up */
    rows = cJSON_CreateArray();
    for (p = buf; p < buf + used; p = nl + 1) {
        if ((nl = memchr(p, '\n', (size_t)(buf + used - p))) == NULL)
            break;
        *nl = '\0';
        v->lines += line_row(&v->salts, p, rows);
    }
    done = ingest(j, inode, pos, src_ino, from + used, rows);
    cJSON_Delete(rows);
    if (done < 0)
        return -1;
    return used == 0 ? 0 : 1;   /* done == 0: another daemon moved the cursor; re-read it */
}

int shareviews_ingest(job_t *j)
{
    struct views_run v = {.path = share_settings()->view_log, .fd = -1, .rotated_fd = -1};
    long long batches = 0;
    int rc = -1, more = 1;

    if (!salts_load(j, &v.salts))
        goto out;
    if ((v.fd = open(v.path, O_RDONLY | O_CLOEXEC)) < 0) {
        if (errno == ENOENT) {   /* nothing viewed yet */
            rc = 0;
            goto done;
        }
        registry_fail(j, "open %s: %s", v.path, strerror(errno));
        goto out;
    }
    v.buf = malloc(SHAREVIEWS_BATCH_BYTES + 1);
    if (v.buf == NULL || fstat(v.fd, &v.st) != 0) {
        registry_fail(j, "share views: out of memory or fstat failed");
        goto out;
    }
    for (; more > 0 && batches < SHAREVIEWS_BATCHES_MAX; batches += more > 0) {
        if (j->deadline_ms > 0 && clock_now_ms() >= j->deadline_ms - SHAREVIEWS_SLACK_MS)
            break;
        if ((more = views_batch(j, &v)) < 0)
            goto out;
    }
    rc = 0;
done:
    j->result = cJSON_CreateObject();
    cJSON_AddNumberToObject(j->result, "lines", (double)v.lines);
    cJSON_AddNumberToObject(j->result, "batches", (double)batches);
out:
    if (v.rotated_fd >= 0)
        close(v.rotated_fd);
    if (v.fd >= 0)
        close(v.fd);
    free(v.buf);
    OPENSSL_cleanse(&v.salts, sizeof v.salts);
    return rc;
}

const job_handler_t shareviews_handlers[] = {
    { "share.views", shareviews_ingest },
    { NULL, NULL }
};
