/* transport.c: a worker's FastCGI connections, the listening socket and every kept-alive one polled at once. */
#include "http/transport.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/metrics.h"

#define PSLOT_WAKE (-1)
#define PSLOT_LISTEN (-2)

/* One connection from nginx.  Its FCGX_Request is libfcgi's per-connection
 * state: with FCGI_KEEP_CONN, FCGX_Finish_r leaves ipcFd open and the next
 * FCGX_Accept_r reads the following request from it.  The requests carry
 * listen_sock -1, so libfcgi never accepts (and never blocks) itself. */
typedef struct {
    FCGX_Request req;   /* first: transport_finish maps a request to its slot */
    uint64_t used;      /* tick of its accept or of its last request's end */
    bool open;
    bool kept;          /* served a request and stayed open: evictable */
    bool ready;         /* readable (a request, or nginx's close) in the last poll */
} conn_t;

struct transport {
    int listen_fd;
    int max;
    const char *labels;   /* the caller's */
    uint64_t tick;
    int cursor;           /* the next slot to look at for a ready one */
    bool draining;        /* stopping: only what was waiting, then NULL */
    conn_t *conns;        /* max slots */
    struct pollfd *pfd;   /* max + 2: the wake pipe, the listener, the slots */
    int *pslot;           /* pfd index -> slot, or PSLOT_* */
};

static volatile sig_atomic_t stop_requested;
static int wake_pipe[2] = {-1, -1};

void transport_stop(void)
{
    int saved = errno;

    stop_requested = 1;
    if (wake_pipe[1] >= 0 && write(wake_pipe[1], "", 1) < 0) {
        /* full: poll wakes anyway */
    }
    errno = saved;
}

transport_t *transport_open(int listen_fd, int max_conns, const char *labels)
{
    transport_t *t;
    int fl = fcntl(listen_fd, F_GETFL);

    if (fl < 0 || fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        log_error("%s: the listening socket: %s", __func__, strerror(errno));
        return NULL;
    }
    if (wake_pipe[0] < 0 && pipe2(wake_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        log_error("%s: pipe: %s", __func__, strerror(errno));
        return NULL;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL || (t->conns = calloc((size_t)max_conns, sizeof(*t->conns))) == NULL ||
        (t->pfd = calloc((size_t)max_conns + 2, sizeof(*t->pfd))) == NULL ||
        (t->pslot = calloc((size_t)max_conns + 2, sizeof(*t->pslot))) == NULL) {
        log_error("%s: out of memory", __func__);
        transport_close(t);
        return NULL;
    }
    t->listen_fd = listen_fd;
    t->max = max_conns;
    t->labels = labels;
    for (int i = 0; i < max_conns; i++)
        FCGX_InitRequest(&t->conns[i].req, -1, 0);
    return t;
}

/* A slot for a new connection: a free one, else the least recently used
 * kept connection with no request pending (to be closed), else NULL. */
static conn_t *slot_for_new(transport_t *t)
{
    conn_t *lru = NULL;

    for (int i = 0; i < t->max; i++) {
        conn_t *c = &t->conns[i];

        if (!c->open)
            return c;
        if (c->kept && !c->ready && (lru == NULL || c->used < lru->used))
            lru = c;
    }
    return lru;
}

/* Accept one connection (another worker may have taken it: EAGAIN). */
static void accept_one(transport_t *t)
{
    conn_t *c = slot_for_new(t);
    int fd;

    if (c == NULL)
        return;   /* every held connection is busy: it waits in the backlog */
    fd = accept4(t->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
            log_warn("%s: accept: %s", __func__, strerror(errno));
        return;
    }
    if (c->open) {   /* idle since its last answer; nginx sees it close */
        close(c->req.ipcFd);
        metrics_counter_add("promptd_fcgi_evictions_total", t->labels, 1);
    }
    FCGX_InitRequest(&c->req, -1, 0);
    c->req.ipcFd = fd;
    c->open = true;
    c->kept = false;
    c->ready = false;
    c->used = ++t->tick;
    metrics_counter_add("promptd_fcgi_connections_total", t->labels, 1);
}

/* One poll over the wake pipe, the listener (unless draining or no slot
 * could take a connection) and every open connection; marks the ready
 * ones.  false on a poll failure (logged). */
static bool poll_once(transport_t *t, int timeout_ms)
{
    int n = 0, rc;
    bool listen = !t->draining;

    t->pfd[n] = (struct pollfd){.fd = wake_pipe[0], .events = POLLIN};
    t->pslot[n++] = PSLOT_WAKE;
    for (int i = 0; i < t->max; i++)
        if (t->conns[i].open) {
            t->pfd[n] = (struct pollfd){.fd = t->conns[i].req.ipcFd, .events = POLLIN};
            t->pslot[n++] = i;
        }
    if (listen && slot_for_new(t) != NULL) {
        t->pfd[n] = (struct pollfd){.fd = t->listen_fd, .events = POLLIN};
        t->pslot[n++] = PSLOT_LISTEN;
    } else {
        listen = false;
    }
    rc = poll(t->pfd, (nfds_t)n, timeout_ms);
    if (rc < 0) {
        if (errno == EINTR)
            return true;
        log_error("%s: poll: %s", __func__, strerror(errno));
        return false;
    }
    for (int k = 0; k < n && rc > 0; k++) {
        if (t->pfd[k].revents == 0)
            continue;
        if (t->pslot[k] >= 0)
            t->conns[t->pslot[k]].ready = true;
        else if (t->pslot[k] == PSLOT_WAKE) {
            char buf[64];

            while (read(wake_pipe[0], buf, sizeof(buf)) > 0) {
            }
        }
    }
    if (listen && t->pfd[n - 1].revents != 0)
        accept_one(t);   /* after the marks: a ready connection is never evicted */
    t->cursor = 0;
    return true;
}

/* Read the next request on a ready connection; false when nginx closed it
 * (or broke the protocol): libfcgi then closed it, and the slot is free. */
static bool read_request(conn_t *c)
{
    /* FCGX_Accept_r first finishes the previous request, which closes a
     * connection not marked kept: a new one (no request yet) would go. */
    c->req.keepConnection = 1;
    if (FCGX_Accept_r(&c->req) == 0)
        return true;
    if (c->req.ipcFd >= 0) {
        close(c->req.ipcFd);
        c->req.ipcFd = -1;
    }
    c->open = false;
    return false;
}

FCGX_Request *transport_accept(transport_t *t)
{
    for (;;) {
        for (; t->cursor < t->max; t->cursor++) {
            conn_t *c = &t->conns[t->cursor];

            if (!c->open || !c->ready)
                continue;
            c->ready = false;
            if (read_request(c)) {
                t->cursor++;
                return &c->req;
            }
        }
        if (t->draining)
            return NULL;
        if (stop_requested)
            t->draining = true;   /* one look at what is already waiting */
        if (!poll_once(t, t->draining ? 0 : -1))
            return NULL;
    }
}

void transport_finish(transport_t *t, FCGX_Request *fr)
{
    conn_t *c = (conn_t *)(void *)((char *)fr - offsetof(conn_t, req));

    if (fr->keepConnection && fr->in != NULL) {
        char buf[16384];

        /* the body's unread part and the empty FCGI_STDIN record: else the
         * next FCGX_Accept_r would read them as a protocol error */
        while (FCGX_GetStr(buf, (int)sizeof(buf), fr->in) > 0) {
        }
    }
    FCGX_Finish_r(fr);   /* closes unless kept and error-free */
    if (fr->ipcFd < 0) {
        c->open = false;
        return;
    }
    c->kept = true;
    c->used = ++t->tick;
}

void transport_close(transport_t *t)
{
    if (t == NULL)
        return;
    for (int i = 0; t->conns && i < t->max; i++)
        if (t->conns[i].open)
            close(t->conns[i].req.ipcFd);
    free(t->pslot);
    free(t->pfd);
    free(t->conns);
    free(t);
}
