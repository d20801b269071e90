/* promptd-media: sniffs, strips and transforms files for the storage workers (libmagic, libvips) on the socket spawn-fcgi hands it, with no database, secrets or network. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/log.h"
#include "storage/image.h"
#include "storage/media.h"
#include "storage/settings.h"
#include "storage/sniff.h"

#define MEDIA_LISTEN_FD 0   /* as FastCGI programs: spawn-fcgi's listening socket */

static volatile sig_atomic_t media_stopping;

static void media_on_term(int sig)
{
    (void)sig;
    media_stopping = 1;
}

/* The largest input op may carry. */
static uint32_t media_cap(const storage_settings_t *s, int op)
{
    long long cap = op == MEDIA_OP_SNIFF ? SNIFF_BYTES
                    : op == MEDIA_OP_STRIP ? s->strip_max : s->transform_max;

    return cap > (long long)UINT32_MAX ? UINT32_MAX : (uint32_t)cap;
}

/* Send the answer; false (logged) when the client is gone. */
static bool media_answer(int fd, int status, const char *mime, const void *out, size_t len)
{
    unsigned char head[MEDIA_ANS_BYTES];
    media_ans_t a = {.status = status, .mime_len = mime ? (uint32_t)strlen(mime) : 0,
                     .len = (uint32_t)len};

    if (a.mime_len > MEDIA_MIME_MAX)
        a.mime_len = 0;   /* never happens with libmagic's types; an answer stays readable */
    media_ans_pack(&a, head);
    if (media_write_full(fd, head, sizeof head) != 0 ||
        media_write_full(fd, mime, a.mime_len) != 0 || media_write_full(fd, out, len) != 0) {
        log_warn("promptd-media: answering: %s", strerror(errno));
        return false;
    }
    return true;
}

/* One request on connection fd: read, do, answer.  Inputs and outputs
 * live until the function returns (buf and out freed at out:, a reset). */
static void media_serve(int fd, const storage_settings_t *s, arena_t *a)
{
    unsigned char head[MEDIA_REQ_BYTES];
    media_req_t q;
    char *buf = NULL;
    void *out = NULL;
    size_t out_len = 0;
    const char *mime = NULL;
    int rc, status;

    if ((rc = media_read_full(fd, head, sizeof head)) != 0) {
        if (rc < 0)
            log_warn("promptd-media: reading a request: %s",
                     errno == EAGAIN ? "timed out" : errno ? strerror(errno) : "cut short");
        return;
    }
    if (!media_req_unpack(head, &q) || q.len > media_cap(s, q.op)) {
        log_warn("promptd-media: refused a request (not the protocol, malformed, or input "
                 "over the caps)");
        media_answer(fd, MEDIA_ERR_REFUSED, NULL, NULL, 0);
        return;
    }
    if ((buf = malloc((size_t)q.len + 1)) == NULL) {
        log_error("promptd-media: out of memory for %u bytes", q.len);
        goto out;
    }
    if (media_read_full(fd, buf, q.len) != 0) {
        log_warn("promptd-media: reading %u bytes of input: %s", q.len,
                 errno == EAGAIN ? "timed out" : "cut short");
        goto out;
    }
    switch (q.op) {
    case MEDIA_OP_SNIFF:
        mime = sniff_mime(a, buf, q.len);
        status = IMAGE_OK;
        break;
    case MEDIA_OP_STRIP:
        status = image_strip(buf, q.len, (long)q.max_pixels, &out, &out_len);
        break;
    default:
        status = image_transform(buf, q.len, &q.t, (long)q.max_pixels, &out, &out_len, &mime);
        break;
    }
    media_answer(fd, status, status == IMAGE_OK ? mime : NULL, out, out_len);
out:
    image_free(out);
    free(buf);
    arena_reset(a);
}

/* usage: promptd-media   (its listening socket on fd 0, from spawn-fcgi;
 * PROMPTD_STORAGE_* and PROMPTD_MEDIA_TIMEOUT_MS from the environment) */
int main(int argc, char **argv)
{
    struct sigaction sa;
    const storage_settings_t *s;
    arena_t *a;
    long ms;
    int on = 0, fd;
    socklen_t len = sizeof on;

    if (argc > 1) {
        fprintf(stderr, "usage: %s (run by spawn-fcgi, which hands it the listening socket "
                "on fd 0; see README)\n", argv[0]);
        return strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    log_set_family("media");
    if (getsockopt(MEDIA_LISTEN_FD, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) != 0 || !on) {
        fprintf(stderr, "promptd-media: fd 0 is not a listening socket (run it under "
                "spawn-fcgi, as the stack does)\n");
        return 2;
    }
    if ((s = storage_settings()) == NULL ||
        !config_env_int("PROMPTD_MEDIA_TIMEOUT_MS", 30000, 100, 600000, &ms))
        return 1;
    /* nothing here gains privileges; a parser compromised stays this user */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        log_warn("promptd-media: PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = media_on_term;   /* no SA_RESTART: accept() returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* both libraries load now, not at the first request */
    if (image_init(argv[0]) != IMAGE_OK || (a = arena_create(4096)) == NULL)
        return 1;
    (void)sniff_mime(a, "", 1);
    arena_reset(a);
    while (!media_stopping) {
        if ((fd = accept4(MEDIA_LISTEN_FD, NULL, NULL, SOCK_CLOEXEC)) < 0) {
            if (errno != EINTR && errno != ECONNABORTED) {
                log_error("promptd-media: accept: %s", strerror(errno));
                usleep(100000);   /* out of descriptors, say: do not spin */
            }
            continue;
        }
        if (media_set_timeouts(fd, ms))
            media_serve(fd, s, a);
        close(fd);
    }
    arena_destroy(a);
    image_cleanup();
    sniff_cleanup();
    return 0;
}
