/* server.c: promptd-gateway's listener: a unix socket nginx proxies handed-off enrichments to, one small thread per connection, the in-flight slots, a graceful stop. */
#include "gateway/gateway.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/json.h"
#include "core/log.h"
#include "core/str.h"
#include "enrich/settings.h"
#include "http/response.h"

#define GW_REQUEST_MAX 8192        /* bytes of request head accepted */
#define GW_READ_TIMEOUT_S 5
#define GW_THREAD_STACK (512u << 10)
#define GW_EXTRA_THREADS 64        /* beyond the slots: connections answered 503 */

const gw_config_t *gw_cfg;
db_pool_t *gw_pool;

static volatile sig_atomic_t gw_stop;
static pthread_mutex_t gw_mu = PTHREAD_MUTEX_INITIALIZER;
static long gw_slots;              /* enrichments running */
static long gw_threads;            /* connection threads alive */
static long gw_served, gw_refused;

bool gw_config_load(gw_config_t *c)
{
    bool ok = true;

    memset(c, 0, sizeof *c);
    c->socket = config_env("PROMPTD_GATEWAY_SOCKET");
    /* LISTEN and its pool's session role: straight to PostgreSQL */
    if ((c->conninfo = config_env("PROMPTD_DIRECT_DATABASE_URL")) == NULL)
        c->conninfo = config_env("PROMPTD_APP_DATABASE_URL");
    ok &= config_env_int("PROMPTD_ENRICH_MAX_INFLIGHT", 1024, 1, 100000, &c->max_inflight);
    ok &= config_env_int("PROMPTD_GATEWAY_DB_CONNS", 4, 1, 256, &c->db_conns);
    c->deadline_ms = enrich_settings()->deadline_ms;
    ok &= config_env_int("PROMPTD_GATEWAY_GRACE", c->deadline_ms / 1000 + 5, 0, 86400,
                         &c->grace_s);
    if (c->socket == NULL) {
        fprintf(stderr, "promptd-gateway: PROMPTD_GATEWAY_SOCKET is not set\n");
        ok = false;
    }
    return ok;
}

bool gw_slot_take(void)
{
    bool ok;

    pthread_mutex_lock(&gw_mu);
    if ((ok = gw_slots < gw_cfg->max_inflight))
        gw_slots++;
    pthread_mutex_unlock(&gw_mu);
    return ok;
}

void gw_slot_give(void)
{
    pthread_mutex_lock(&gw_mu);
    gw_slots--;
    pthread_mutex_unlock(&gw_mu);
}

long gw_slots_used(void)
{
    long n;

    pthread_mutex_lock(&gw_mu);
    n = gw_slots;
    pthread_mutex_unlock(&gw_mu);
    return n;
}

void gw_counts(long *served, long *refused)
{
    pthread_mutex_lock(&gw_mu);
    *served = gw_served;
    *refused = gw_refused;
    pthread_mutex_unlock(&gw_mu);
}

bool gw_write(gw_conn_t *c, const char *buf, size_t len)
{
    while (!c->gone && len > 0) {
        ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            c->gone = true;
            break;
        }
        buf += n;
        len -= (size_t)n;
    }
    return !c->gone;
}

void gw_reply(gw_conn_t *c, int status, const char *type, const char *headers,
              const char *body)
{
    size_t blen = body ? strlen(body) : 0;
    char *head;

    c->status = status;
    head = arena_printf(c->arena, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
                              "Content-Length: %zu\r\nCache-Control: no-store\r\n"
                              "%s%sConnection: close\r\n\r\n", status, http_reason(status),
                              type, blen, headers ? headers : "", c->headers ? c->headers : "");

    if (gw_write(c, head, strlen(head)) && blen)
        gw_write(c, body, blen);
}

void gw_problem(gw_conn_t *c, int status, const char *detail, int retry_after_s)
{
    cJSON *p = json_own(c->arena, cJSON_CreateObject());

    cJSON_AddStringToObject(p, "type", "about:blank");
    cJSON_AddStringToObject(p, "title", http_reason(status));
    cJSON_AddNumberToObject(p, "status", status);
    cJSON_AddStringToObject(p, "detail", detail);
    cJSON_AddStringToObject(p, "request_id", c->request_id);
    gw_reply(c, status, "application/problem+json",
             retry_after_s > 0 ? arena_printf(c->arena, "Retry-After: %d\r\n", retry_after_s)
                               : NULL, json_print(c->arena, p));
}

/* Read the request head; parse method, path, query and X-Request-Id.
 * False on a malformed or incomplete head (the connection is dropped). */
static bool gw_read_head(gw_conn_t *c)
{
    char *buf = arena_alloc(c->arena, GW_REQUEST_MAX + 1), *sp, *line, *save;
    size_t len = 0;

    while (len < GW_REQUEST_MAX) {
        ssize_t n = recv(c->fd, buf + len, GW_REQUEST_MAX - len, 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, "\r\n\r\n"))
            break;
    }
    if (strstr(buf, "\r\n\r\n") == NULL)
        return false;
    c->request_id = "-";
    line = strtok_r(buf, "\r\n", &save);
    if (line == NULL || (sp = strchr(line, ' ')) == NULL)
        return false;
    *sp = '\0';
    c->method = line;
    c->path = sp + 1;
    if ((sp = strchr(c->path, ' ')) != NULL)
        *sp = '\0';
    if ((sp = strchr(c->path, '?')) != NULL) {
        *sp = '\0';
        c->query = sp + 1;
    }
    while ((line = strtok_r(NULL, "\r\n", &save)) != NULL)
        if (strncasecmp(line, "X-Request-Id:", 13) == 0)
            c->request_id = line + 13 + strspn(line + 13, " \t");
    return true;
}

/* GET /status: slots, connections and the database pool, as JSON. */
static void gw_status(gw_conn_t *c)
{
    cJSON *o = json_own(c->arena, cJSON_CreateObject());
    int open, lent;
    long served, refused;

    db_pool_counts(gw_pool, &open, &lent);
    gw_counts(&served, &refused);
    cJSON_AddNumberToObject(o, "inflight", (double)gw_slots_used());
    cJSON_AddNumberToObject(o, "max_inflight", (double)gw_cfg->max_inflight);
    cJSON_AddNumberToObject(o, "served", (double)served);
    cJSON_AddNumberToObject(o, "refused", (double)refused);
    cJSON_AddNumberToObject(o, "db_open", open);
    cJSON_AddNumberToObject(o, "db_lent", lent);
    cJSON_AddNumberToObject(o, "db_size", (double)gw_cfg->db_conns);
    gw_reply(c, 200, "application/json", NULL, json_print(c->arena, o));
}

static void *gw_conn_main(void *arg)
{
    gw_conn_t c = {.fd = (int)(intptr_t)arg, .arena = arena_create(16384)};
    const char *id;

    if (gw_read_head(&c) && strcmp(c.method, "GET") == 0) {
        if (strncmp(c.path, "/enrich/", 8) == 0 && uuid_valid(id = c.path + 8))
            gw_enrich(&c, id);
        else if (strcmp(c.path, "/status") == 0)
            gw_status(&c);
        else
            gw_problem(&c, 404, "No such gateway resource.", 0);
    }
    close(c.fd);
    arena_destroy(c.arena);
    pthread_mutex_lock(&gw_mu);
    gw_threads--;
    pthread_mutex_unlock(&gw_mu);
    return NULL;
}

/* One thread per connection, up to the slots plus a few that only answer
 * 503; past that the connection is closed (nginx answers 503 for it). */
static void gw_accepted(int fd, const pthread_attr_t *attr)
{
    struct timeval tv = {GW_READ_TIMEOUT_S, 0};
    pthread_t t;
    bool room;

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    pthread_mutex_lock(&gw_mu);
    if ((room = gw_threads < gw_cfg->max_inflight + GW_EXTRA_THREADS)) {
        gw_threads++;
        gw_served++;
    } else {
        gw_refused++;
    }
    pthread_mutex_unlock(&gw_mu);
    if (room && pthread_create(&t, attr, gw_conn_main, (void *)(intptr_t)fd) == 0)
        return;
    if (room) {
        log_error("%s: pthread_create failed", __func__);
        pthread_mutex_lock(&gw_mu);
        gw_threads--;
        pthread_mutex_unlock(&gw_mu);
    }
    close(fd);
}

static void gw_on_signal(int sig)
{
    (void)sig;
    gw_stop = 1;
}

/* systemd's socket activation (sd_listen_fds(3)'s protocol, without
 * libsystemd): the one listening socket the service manager passed, fd 3,
 * when LISTEN_PID names this process and LISTEN_FDS is 1; else -1.  The
 * socket unit owns the path, so a restart drops no connection. */
static int gw_inherited(void)
{
    const char *pid = config_env("LISTEN_PID"), *fds = config_env("LISTEN_FDS");
    long p, n;
    int on = 0;
    socklen_t len = sizeof on;

    if (pid == NULL || fds == NULL || !str_to_long(pid, 1, LONG_MAX, &p) ||
        p != (long)getpid() || !str_to_long(fds, 1, 1, &n))
        return -1;
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (getsockopt(3, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) != 0 || !on) {
        log_error("%s: fd 3 from the service manager is not a listening socket", __func__);
        return -1;
    }
    (void)fcntl(3, F_SETFD, FD_CLOEXEC);
    return 3;
}

/* The listening socket at path (replacing a stale one), mode 0660. */
static int gw_listen(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd;

    if (strlen(path) >= sizeof sa.sun_path) {
        log_error("%s: socket path too long: %s", __func__, path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    unlink(path);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || chmod(path, 0660) != 0 ||
        listen(fd, 4096) != 0) {
        log_error("%s: %s: %s", __func__, path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* After the stop: wait (up to the grace) for connection threads and jobs. */
static int gw_drain(void)
{
    long long until = clock_now_ms() + gw_cfg->grace_s * 1000LL;
    long left;

    for (;;) {
        pthread_mutex_lock(&gw_mu);
        left = gw_threads + gw_slots;
        pthread_mutex_unlock(&gw_mu);
        if (left == 0)
            return 0;
        if (clock_now_ms() >= until) {
            log_warn("%s: %ld still running after %ld s", __func__, left, gw_cfg->grace_s);
            return 2;
        }
        clock_sleep_ms(50);
    }
}

int gw_serve(void)
{
    struct sigaction sa = {.sa_handler = gw_on_signal};
    pthread_attr_t attr;
    bool inherited;
    int lfd, rc;

    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    lfd = gw_inherited();
    inherited = lfd >= 0;
    if (!inherited && (lfd = gw_listen(gw_cfg->socket)) < 0)
        return 1;
    if (!gw_jobs_start()) {
        close(lfd);
        return 1;
    }
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, GW_THREAD_STACK);
    log_info("promptd-gateway: listening on %s (max %ld in flight)", gw_cfg->socket,
             gw_cfg->max_inflight);
    while (!gw_stop) {
        struct pollfd p = {lfd, POLLIN, 0};
        int fd;

        if (poll(&p, 1, 250) <= 0)
            continue;
        if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
            gw_accepted(fd, &attr);
        else if (errno == EMFILE || errno == ENFILE)
            clock_sleep_ms(10);
    }
    close(lfd);
    if (!inherited)
        unlink(gw_cfg->socket);   /* an inherited one is the socket unit's */
    gw_jobs_stop();
    rc = gw_drain();
    pthread_attr_destroy(&attr);
    log_info("promptd-gateway: stopped");
    return rc;
}
