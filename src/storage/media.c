/* media.c: the wire format of promptd-media and a worker's client of it: one connection, one request, one answer. */
#include "storage/media.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "storage/sniff.h"

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void media_req_pack(const media_req_t *q, unsigned char out[MEDIA_REQ_BYTES])
{
    uint64_t px = q->max_pixels > 0 ? (uint64_t)q->max_pixels : 0;

    put32(out, MEDIA_MAGIC);
    out[4] = (unsigned char)q->op;
    out[5] = (unsigned char)q->t.resize;
    out[6] = (unsigned char)q->t.format;
    out[7] = 0;
    put32(out + 8, (uint32_t)q->t.width);
    put32(out + 12, (uint32_t)q->t.height);
    put32(out + 16, (uint32_t)q->t.quality);
    put32(out + 20, (uint32_t)(px >> 32));
    put32(out + 24, (uint32_t)px);
    put32(out + 28, q->len);
}

bool media_req_unpack(const unsigned char in[MEDIA_REQ_BYTES], media_req_t *q)
{
    uint64_t px = (uint64_t)get32(in + 20) << 32 | get32(in + 24);

    memset(q, 0, sizeof *q);
    if (get32(in) != MEDIA_MAGIC || in[4] < MEDIA_OP_SNIFF || in[4] > MEDIA_OP_TRANSFORM ||
        in[5] > IMAGE_RESIZE_FILL || in[6] > IMAGE_FORMAT_WEBP || in[7] != 0 ||
        get32(in + 8) > IMAGE_MAX_SIDE || get32(in + 12) > IMAGE_MAX_SIDE ||
        get32(in + 16) > IMAGE_QUALITY_MAX || px > (uint64_t)1 << 40)
        return false;
    q->op = in[4];
    q->t.resize = (enum image_resize)in[5];
    q->t.format = (enum image_format)in[6];
    q->t.width = (int)get32(in + 8);
    q->t.height = (int)get32(in + 12);
    q->t.quality = (int)get32(in + 16);
    q->max_pixels = (long long)px;
    q->len = get32(in + 28);
    return true;
}

void media_ans_pack(const media_ans_t *a, unsigned char out[MEDIA_ANS_BYTES])
{
    put32(out, MEDIA_MAGIC);
    put32(out + 4, (uint32_t)a->status);
    put32(out + 8, a->mime_len);
    put32(out + 12, a->len);
}

bool media_ans_unpack(const unsigned char in[MEDIA_ANS_BYTES], media_ans_t *a)
{
    if (get32(in) != MEDIA_MAGIC)
        return false;
    a->status = (int)(int32_t)get32(in + 4);
    a->mime_len = get32(in + 8);
    a->len = get32(in + 12);
    return a->mime_len <= MEDIA_MIME_MAX;
}

int media_read_full(int fd, void *buf, size_t n)
{
    char *p = buf;
    size_t got = 0;

    while (got < n) {
        ssize_t k = read(fd, p + got, n - got);

        if (k > 0) {
            got += (size_t)k;
        } else if (k == 0) {
            if (got == 0)
                return 1;
            errno = 0;
            return -1;
        } else if (errno != EINTR) {
            return -1;
        }
    }
    return 0;
}

int media_write_full(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    size_t put = 0;

    while (put < n) {
        ssize_t k = send(fd, p + put, n - put, MSG_NOSIGNAL);

        if (k >= 0)
            put += (size_t)k;
        else if (errno != EINTR)
            return -1;
    }
    return 0;
}

bool media_set_timeouts(int fd, long ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

    return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0 &&
           setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == 0;
}

/* The service's address and timeout, read once. */
static const char *media_path(long *timeout_ms)
{
    static const char *path;
    static char dflt[sizeof ((struct sockaddr_un *)0)->sun_path];
    static long ms = -1;
    const config_t *c;

    if (ms < 0 && !config_env_int("PROMPTD_MEDIA_TIMEOUT_MS", 30000, 100, 600000, &ms)) {
        log_error("PROMPTD_MEDIA_TIMEOUT_MS is invalid; using 30000");
        ms = 30000;
    }
    *timeout_ms = ms;
    if (path == NULL && (path = config_env("PROMPTD_MEDIA_SOCKET")) == NULL &&
        (c = config_load(false)) != NULL &&
        (size_t)snprintf(dflt, sizeof dflt, "%s/run/media.sock", c->var_dir) < sizeof dflt)
        path = dflt;
    return path;
}

/* Connect to the service; -1 (logged) when that fails. */
static int media_connect(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    long ms;
    const char *path = media_path(&ms);
    int fd;

    if (path == NULL || strlen(path) >= sizeof sa.sun_path) {
        log_error("promptd-media: no usable socket path (PROMPTD_MEDIA_SOCKET)");
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
        log_error("promptd-media: socket: %s", strerror(errno));
        return -1;
    }
    /* SO_SNDTIMEO also bounds connect() on a full backlog */
    if (!media_set_timeouts(fd, ms) || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        log_error("promptd-media: connect %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* One exchange: q and its input out, the answer's status back, its type
 * and output in a (either may be left NULL when not wanted). */
static int media_call(arena_t *a, const media_req_t *q, const void *in, const char **mime,
                      void **out, size_t *out_len)
{
    unsigned char head[MEDIA_REQ_BYTES > MEDIA_ANS_BYTES ? MEDIA_REQ_BYTES : MEDIA_ANS_BYTES];
    media_ans_t ans;
    char *type = NULL, *body = NULL;
    int fd, rc, status = MEDIA_ERR_UNAVAILABLE;

    if ((fd = media_connect()) < 0)
        return MEDIA_ERR_UNAVAILABLE;
    media_req_pack(q, head);
    if (media_write_full(fd, head, MEDIA_REQ_BYTES) != 0 || media_write_full(fd, in, q->len) != 0) {
        status = errno == EAGAIN ? MEDIA_ERR_UNAVAILABLE : MEDIA_ERR_FAILED;
        log_error("promptd-media: sending op %d: %s", q->op, strerror(errno));
        goto out;
    }
    if ((rc = media_read_full(fd, head, MEDIA_ANS_BYTES)) != 0) {
        status = rc < 0 && errno == EAGAIN ? MEDIA_ERR_UNAVAILABLE : MEDIA_ERR_FAILED;
        log_error("promptd-media: op %d of %u bytes: %s", q->op, q->len,
                  rc < 0 && errno == EAGAIN ? "no answer within PROMPTD_MEDIA_TIMEOUT_MS"
                  : "the connection closed without an answer");
        goto out;
    }
    status = MEDIA_ERR_FAILED;
    if (!media_ans_unpack(head, &ans) || ans.len > MEDIA_OUT_MAX) {
        log_error("promptd-media: op %d: a malformed answer", q->op);
        goto out;
    }
    type = arena_alloc(a, ans.mime_len + 1);
    body = arena_alloc(a, (size_t)ans.len + 1);
    if (media_read_full(fd, type, ans.mime_len) < 0 || media_read_full(fd, body, ans.len) < 0) {
        log_error("promptd-media: op %d: the answer was cut short", q->op);
        goto out;
    }
    type[ans.mime_len] = '\0';
    body[ans.len] = '\0';
    status = ans.status;
    if (status == MEDIA_ERR_REFUSED)
        log_error("promptd-media: op %d of %u bytes refused (see its log)", q->op, q->len);
    if (status == IMAGE_OK) {
        if (mime)
            *mime = type;
        if (out) {
            *out = body;
            *out_len = ans.len;
        }
    }
out:
    close(fd);
    return status;
}

int media_sniff(arena_t *a, const void *buf, size_t n, const char **mime)
{
    media_req_t q = {.op = MEDIA_OP_SNIFF, .len = (uint32_t)(n < SNIFF_BYTES ? n : SNIFF_BYTES)};

    *mime = NULL;
    if (buf == NULL || n == 0) {
        *mime = SNIFF_GENERIC;
        return IMAGE_OK;
    }
    return media_call(a, &q, buf, mime, NULL, NULL);
}

int media_strip(arena_t *a, const void *in, size_t n, long max_pixels, void **out,
                size_t *out_len)
{
    media_req_t q = {.op = MEDIA_OP_STRIP, .max_pixels = max_pixels, .len = (uint32_t)n};

    *out = NULL;
    *out_len = 0;
    if (in == NULL || n == 0 || n > UINT32_MAX || max_pixels <= 0)
        return IMAGE_ERR_BAD;
    return media_call(a, &q, in, NULL, out, out_len);
}

int media_transform(arena_t *a, const void *in, size_t n, const image_transform_t *t,
                    long max_pixels, void **out, size_t *out_len, const char **out_mime)
{
    media_req_t q = {.op = MEDIA_OP_TRANSFORM, .max_pixels = max_pixels, .len = (uint32_t)n};

    *out = NULL;
    *out_len = 0;
    *out_mime = NULL;
    if (in == NULL || n == 0 || n > UINT32_MAX || t == NULL || max_pixels <= 0)
        return IMAGE_ERR_BAD;
    q.t = *t;
    return media_call(a, &q, in, out_mime, out, out_len);
}

bool image_resize_parse(const char *s, enum image_resize *out)
{
    static const struct { const char *name; enum image_resize value; } names[] = {
        {"cover", IMAGE_RESIZE_COVER}, {"contain", IMAGE_RESIZE_CONTAIN}, {"fill", IMAGE_RESIZE_FILL},
    };

    for (size_t i = 0; s != NULL && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].value;
            return true;
        }
    return false;
}

bool image_format_parse(const char *s, enum image_format *out)
{
    if (s != NULL && strcmp(s, "origin") == 0)
        *out = IMAGE_FORMAT_ORIGIN;
    else if (s != NULL && strcmp(s, "webp") == 0)
        *out = IMAGE_FORMAT_WEBP;
    else
        return false;
    return true;
}
