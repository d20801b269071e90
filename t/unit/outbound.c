/* outbound.c: unit tests for the outbound client: URL edge cases, the guard against loopback servers, pinning, caps, redirects (https never to http), PROMPTD_OUTBOUND_ALLOW. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "net/outbound.h"
#include "tap.h"

/* ----------------------------------------------------- loopback servers */

static int plain_port, tls_port;
static bool have_v6;

/* A listening socket on addr:port (port 0: any); -1 when it cannot bind. */
static int listen_on(int family, int port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd = socket(family, SOCK_STREAM, 0), one = 1;

    memset(&ss, 0, sizeof ss);
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;

        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, "127.0.0.1", &a->sin_addr);
        len = sizeof *a;
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        a->sin6_addr = in6addr_loopback;
        len = sizeof *a;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 16) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int port_of(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;

    getsockname(fd, (struct sockaddr *)&ss, &len);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* One connection's I/O, plain or TLS. */
struct conn {
    int fd;
    SSL *ssl;
};

static int conn_read(struct conn *c, char *buf, int n)
{
    return c->ssl ? SSL_read(c->ssl, buf, n) : (int)read(c->fd, buf, (size_t)n);
}

static void conn_write(struct conn *c, const char *buf, size_t n)
{
    while (n > 0) {
        int w = c->ssl ? SSL_write(c->ssl, buf, (int)n) : (int)write(c->fd, buf, n);

        if (w <= 0)
            return;
        buf += w;
        n -= (size_t)w;
    }
}

/* The request's path (static), "" when none came. */
static const char *read_path(struct conn *c)
{
    static char req[8192], path[256];
    int len = 0, n;

    while (len < (int)sizeof req - 1 && (n = conn_read(c, req + len, (int)sizeof req - 1 - len)) > 0) {
        len += n;
        req[len] = '\0';
        if (strstr(req, "\r\n\r\n"))
            break;
    }
    req[len] = '\0';
    if (sscanf(req, "GET %255s HTTP/", path) != 1)
        path[0] = '\0';
    return path;
}

static void reply(struct conn *c, const char *status, const char *extra, const char *body)
{
    char head[512];

    snprintf(head, sizeof head, "HTTP/1.1 %s\r\n%sContent-Length: %zu\r\nConnection: close\r\n\r\n",
             status, extra, strlen(body));
    conn_write(c, head, strlen(head));
    conn_write(c, body, strlen(body));
}

/* The plain server's answers; hits counts the connections before this one. */
static void plain_answer(struct conn *c, bool v6, int hits)
{
    const char *path = read_path(c);
    char buf[64];

    if (strcmp(path, "/hits") == 0) {
        snprintf(buf, sizeof buf, "%d", hits);
        reply(c, "200 OK", "", buf);
    } else if (strcmp(path, "/redirect") == 0) {
        reply(c, "302 Found", "Location: /\r\n", "moved");
    } else if (strcmp(path, "/big") == 0 || strcmp(path, "/chunked") == 0) {
        static char big[100001];

        memset(big, 'x', sizeof big - 1);
        if (path[1] == 'b') {
            reply(c, "200 OK", "", big);
        } else {
            const char *h = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";

            conn_write(c, h, strlen(h));
            conn_write(c, big, sizeof big - 1);
        }
    } else if (strcmp(path, "/bighdr") == 0) {
        char line[1100];

        conn_write(c, "HTTP/1.1 200 OK\r\n", 17);
        for (int i = 0; i < 100; i++) {
            snprintf(line, sizeof line, "X-Pad-%d: %01000d\r\n", i, 0);
            conn_write(c, line, strlen(line));
        }
        conn_write(c, "Content-Length: 2\r\nConnection: close\r\n\r\nok", 42);
    } else {
        reply(c, "200 OK", "", v6 ? "v6" : "v4");
    }
}

/* Serve 127.0.0.1:port (and [::1]:port when it binds) until killed. */
static pid_t plain_server(void)
{
    int l4 = listen_on(AF_INET, 0), l6;
    pid_t pid;

    if (l4 < 0)
        abort();
    plain_port = port_of(l4);
    l6 = listen_on(AF_INET6, plain_port);
    have_v6 = l6 >= 0;
    fflush(stdout);
    if ((pid = fork()) != 0) {
        close(l4);
        if (l6 >= 0)
            close(l6);
        return pid;
    }
    for (int hits = 0;; hits++) {
        struct pollfd p[2] = {{l4, POLLIN, 0}, {l6, POLLIN, 0}};
        int i, fd;

        if (poll(p, l6 >= 0 ? 2 : 1, -1) <= 0)
            continue;
        i = (p[0].revents & POLLIN) ? 0 : 1;
        if ((fd = accept(p[i].fd, NULL, NULL)) < 0)
            continue;
        {
            struct conn c = {fd, NULL};

            plain_answer(&c, i == 1, hits);
        }
        close(fd);
    }
}

/* A throwaway self-signed certificate for 127.0.0.1 (the context holds
 * references to both). */
static SSL_CTX *tls_context(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *n = X509_get_subject_name(x);
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, k);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"127.0.0.1", -1, -1, 0);
    X509_set_issuer_name(x, n);
    X509_sign(x, k, EVP_sha256());
    if (SSL_CTX_use_certificate(ctx, x) != 1 || SSL_CTX_use_PrivateKey(ctx, k) != 1)
        abort();
    X509_free(x);
    EVP_PKEY_free(k);
    return ctx;
}

/* https://127.0.0.1:tls_port: /down -> http (the plain server), /same -> /ok. */
static pid_t tls_server(void)
{
    int l = listen_on(AF_INET, 0);
    SSL_CTX *ctx = tls_context();
    pid_t pid;

    tls_port = port_of(l);
    fflush(stdout);
    if ((pid = fork()) != 0) {
        close(l);
        SSL_CTX_free(ctx);
        return pid;
    }
    for (;;) {
        struct conn c = {accept(l, NULL, NULL), NULL};
        const char *path;
        char loc[128];

        if (c.fd < 0)
            continue;
        c.ssl = SSL_new(ctx);
        SSL_set_fd(c.ssl, c.fd);
        if (SSL_accept(c.ssl) == 1) {
            path = read_path(&c);
            snprintf(loc, sizeof loc, "Location: http://127.0.0.1:%d/\r\n", plain_port);
            if (strcmp(path, "/down") == 0)
                reply(&c, "302 Found", loc, "moved");
            else if (strcmp(path, "/same") == 0)
                reply(&c, "302 Found", "Location: /ok\r\n", "moved");
            else
                reply(&c, "200 OK", "", "tls");
            SSL_shutdown(c.ssl);
        }
        SSL_free(c.ssl);
        close(c.fd);
    }
}

/* ------------------------------------------------------------- helpers */

static arena_t *A;

#define url(fmt, port) arena_printf(A, fmt, port)

/* GET u; true when a response came.  Fills status/body/error. */
static bool get(enum outbound_origin origin, const char *u, outbound_reply_t *rep)
{
    outbound_opts_t o = {.origin = origin, .max_redirects = 3};

    return outbound_get(A, u, &o, rep);
}

/* The plain server's connection count so far (through an allowed fetch). */
static int hits(void)
{
    outbound_reply_t rep;

    if (!get(OUTBOUND_OPERATOR_URL, url("http://127.0.0.1:%d/hits", plain_port), &rep))
        return -1;
    return atoi(rep.body);
}

/* ---------------------------------------------------------------- tests */

/* url, refused?, reason fragment */
static const struct {
    const char *url;
    bool refused;
    const char *why;
} user_urls[] = {
    {"http://evil@127.0.0.1/", true, "loopback"},
    {"http://user:pw@127.0.0.1:8080/x", true, "loopback"},
    {"http://127.0.0.1@8.8.8.8/", false, NULL},
    {"http://[::1]/", true, "loopback"},
    {"http://[::1]:8080/", true, "loopback"},
    {"http://[::]/", true, "unspecified"},
    {"http://[::ffff:127.0.0.1]/", true, "loopback"},
    {"http://[::ffff:8.8.8.8]/", true, "IPv4-mapped"},
    {"http://[fe80::1%25lo]/", true, "zone"},
    {"http://[fd00::1]/", true, "unique local"},
    {"HTTP://127.0.0.1/", true, "loopback"},
    {"HtTpS://8.8.8.8/", false, NULL},
    {"http://0.0.0.0/", true, "this network"},
    {"http://2130706433/", true, "loopback"},
    {"http://0177.0.0.1/", true, "loopback"},
    {"http://0x7f.1/", true, "loopback"},
    {"http://127.1:8080/", true, "loopback"},
    {"http://169.254.169.254/latest/meta-data/", true, "link-local"},
    {"http://0xa9fea9fe/", true, "link-local"},
    {"http://10.0.0.1/", true, "private"},
    {"http://100.64.0.1/", true, "carrier-grade NAT"},
    {"http://localhost/", true, "loopback"},
    {"http://%31%32%37.0.0.1/", true, "loopback"},
    {"http://127.000.000.001/", true, "loopback"},
    {"http://[0:0:0:0:0:ffff:127.0.0.1]/", true, "loopback"},
    {"http://8.8.8.8\\@127.0.0.1/", true, "loopback"},   /* curl's host is the one checked */
    {"http://8.8.8.8#@127.0.0.1/", false, NULL},
    {"http://127.0.0.1%00.example.com/", true, ""},
    {"http://LOCALHOST/", true, "loopback"},
    {"http://localhost./", true, ""},
    {"ftp://8.8.8.8/", true, "http and https"},
    {"file:///etc/passwd", true, "http and https"},
    {"gopher://8.8.8.8/", true, ""},
    {"dict://8.8.8.8/", true, ""},
    {"ldap://8.8.8.8/", true, ""},
    {"8.8.8.8/", true, ""},
    {"//8.8.8.8/", true, ""},
    {"http:///path", true, ""},
    {"http://8.8.8.8:99999/", true, ""},
    {"", true, ""},
    {"not a url", true, ""},
    {"https://8.8.8.8/v1", false, NULL},
    {"http://[2606:4700:4700::1111]/", false, NULL},
};

static void test_urls(void)
{
    for (size_t i = 0; i < sizeof user_urls / sizeof user_urls[0]; i++) {
        outbound_opts_t o = {0};
        CURL *c = curl_easy_init();
        const char *why = NULL;
        outbound_t *ob = outbound_prepare(A, c, user_urls[i].url, &o, &why);

        if (user_urls[i].refused)
            ok(ob == NULL && why && strstr(why, user_urls[i].why), "user URL '%s' refused (%s)",
               user_urls[i].url, why ? why : "accepted");
        else
            ok(ob != NULL, "user URL '%s' accepted (%s)", user_urls[i].url, why ? why : "ok");
        curl_easy_cleanup(c);
    }
    {
        outbound_opts_t o = {0};
        CURL *c = curl_easy_init();
        const char *why;
        outbound_t *ob = outbound_prepare(A, c, "http://127.0.0.1@8.8.8.8:81/", &o, &why);

        is_str(outbound_pinned(ob), "8.8.8.8", "userinfo is not the host: pinned to 8.8.8.8");
        curl_easy_cleanup(c);
    }
    {
        outbound_opts_t o = {.origin = OUTBOUND_OPERATOR_URL};
        CURL *c = curl_easy_init();
        const char *why;

        ok(outbound_prepare(A, c, "http://127.0.0.1:1/", &o, &why) != NULL,
           "an operator URL may name loopback");
        ok(outbound_prepare(A, c, "ftp://127.0.0.1/", &o, &why) == NULL,
           "an operator URL is still http(s) only");
        ok(outbound_prepare(A, c, "file:///etc/passwd", &o, &why) == NULL,
           "  and never file://");
        curl_easy_cleanup(c);
    }
}

static void test_guard(void)
{
    outbound_reply_t rep;
    char err[160];
    int before;

    outbound_set_allow("", err, sizeof err);
    before = hits();
    ok(before >= 0, "the loopback server answers an operator URL");
    ok(!get(OUTBOUND_USER_URL, url("http://127.0.0.1:%d/", plain_port), &rep) &&
       strstr(rep.error, "loopback"), "user URL to 127.0.0.1 refused: %s", rep.error);
    ok(!get(OUTBOUND_USER_URL, url("http://localhost:%d/", plain_port), &rep) &&
       strstr(rep.error, "loopback"), "user URL to localhost refused: %s", rep.error);
    ok(!get(OUTBOUND_USER_URL, url("http://2130706433:%d/", plain_port), &rep),
       "user URL to 2130706433 refused");
    is_int(hits(), before + 1, "no refused URL reached the server");

    ok(outbound_set_allow("127.0.0.0/8", err, sizeof err), "allow 127.0.0.0/8");
    ok(get(OUTBOUND_USER_URL, url("http://127.0.0.1:%d/", plain_port), &rep) &&
       rep.status == 200 && strcmp(rep.body, "v4") == 0, "allow-listed: 200 from the server");
    ok(get(OUTBOUND_USER_URL, url("http://0x7f.1:%d/", plain_port), &rep) &&
       strcmp(rep.body, "v4") == 0, "0x7f.1 reaches 127.0.0.1");
    {
        outbound_opts_t o = {0};
        CURL *c = curl_easy_init();
        const char *why;
        outbound_t *ob = outbound_prepare(A, c, url("http://localhost:%d/", plain_port), &o, &why);
        char *ip = NULL;

        is_str(outbound_pinned(ob), "127.0.0.1", "localhost pinned to its checked address");
        ok(ob && curl_easy_perform(c) == CURLE_OK, "  the request runs");
        curl_easy_getinfo(c, CURLINFO_PRIMARY_IP, &ip);
        is_str(ip, "127.0.0.1", "  and connected to the pinned address");
        curl_easy_cleanup(c);

        /* a check at connect time too: revoke between prepare and perform */
        c = curl_easy_init();
        ob = outbound_prepare(A, c, url("http://localhost:%d/", plain_port), &o, &why);
        before = hits();
        outbound_set_allow("", err, sizeof err);
        ok(ob && curl_easy_perform(c) == CURLE_COULDNT_CONNECT,
           "an address refused at connect time fails the transfer");
        ok(outbound_stopped(ob) && strstr(outbound_stopped(ob), "loopback"),
           "  the socket callback refused it: %s", outbound_stopped(ob));
        is_int(hits(), before + 1, "  and it never reached the server");
        curl_easy_cleanup(c);
    }
    if (have_v6) {
        outbound_set_allow("::1/128", err, sizeof err);
        ok(!get(OUTBOUND_USER_URL, url("http://127.0.0.1:%d/", plain_port), &rep),
           "::1/128 does not allow 127.0.0.1");
        ok(get(OUTBOUND_USER_URL, url("http://[::1]:%d/", plain_port), &rep) &&
           strcmp(rep.body, "v6") == 0, "::1 allow-listed: the IPv6 listener answered");
    }
}

static void test_caps(void)
{
    outbound_opts_t o = {.max_body = 1000};
    outbound_reply_t rep;
    char err[160];
    int before;

    outbound_set_allow("127.0.0.0/8", err, sizeof err);
    ok(!outbound_get(A, url("http://127.0.0.1:%d/big", plain_port), &o, &rep) &&
       strstr(rep.error, "1000 bytes"), "a body over the cap (Content-Length): %s", rep.error);
    ok(!outbound_get(A, url("http://127.0.0.1:%d/chunked", plain_port), &o, &rep) &&
       strstr(rep.error, "1000 bytes"), "a body over the cap (no length): %s", rep.error);
    o.max_body = 0;
    ok(outbound_get(A, url("http://127.0.0.1:%d/chunked", plain_port), &o, &rep) &&
       rep.len == 100000, "under the default cap it arrives whole");
    o.max_header = 4096;
    ok(!outbound_get(A, url("http://127.0.0.1:%d/bighdr", plain_port), &o, &rep) &&
       strstr(rep.error, "headers"), "headers over the cap: %s", rep.error);

    before = hits();
    ok(get(OUTBOUND_USER_URL, url("http://127.0.0.1:%d/redirect", plain_port), &rep) &&
       rep.status == 302, "a user URL's redirect is not followed (302 returned)");
    is_int(hits(), before + 2, "  one request only");
    ok(get(OUTBOUND_OPERATOR_URL, url("http://127.0.0.1:%d/redirect", plain_port), &rep) &&
       rep.status == 200 && strcmp(rep.body, "v4") == 0, "an operator URL's redirect is followed");
}

/* GET an https URL on the test server (self-signed: no verification). */
static CURLcode tls_get(const char *path, long *status, outbound_t **ob)
{
    outbound_opts_t o = {.origin = OUTBOUND_OPERATOR_URL, .max_redirects = 3};
    CURL *c = curl_easy_init();
    const char *why;
    CURLcode rc;

    *ob = outbound_prepare(A, c, arena_printf(A, "https://127.0.0.1:%d%s", tls_port, path),
                           &o, &why);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(c);
    return rc;
}

static void test_https_redirects(void)
{
    outbound_t *ob;
    size_t len;
    long status = 0;
    int before = hits();

    ok(tls_get("/same", &status, &ob) == CURLE_OK && status == 200 &&
       strcmp(outbound_body(ob, &len), "tls") == 0, "https -> https redirect followed");
    ok(tls_get("/down", &status, &ob) == CURLE_UNSUPPORTED_PROTOCOL,
       "https -> http redirect refused");
    is_int(hits(), before + 1, "  the http server was never asked");
}

static void test_config(void)
{
    char buf[512] = "";
    FILE *tmp = tmpfile();
    int saved = dup(2);
    size_t n;

    setenv("PROMPTD_OUTBOUND_ALLOW", "127.0.0.0/8, 10.0.0.0/33", 1);
    fflush(stderr);
    dup2(fileno(tmp), 2);
    ok(!outbound_init(), "a bad PROMPTD_OUTBOUND_ALLOW fails outbound_init");
    ok(!outbound_init(), "  and again: every program calls it first at start and "
       "refuses to start (t/040-outbound-allow.t runs them)");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    n = fread(buf, 1, sizeof buf - 1, tmp);
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    fclose(tmp);
    ok(strstr(buf, "PROMPTD_OUTBOUND_ALLOW") && strstr(buf, "10.0.0.0/33"),
       "  the message names the variable and the entry: %s", buf);
    setenv("PROMPTD_OUTBOUND_ALLOW", "192.0.2.0/24,2001:db8::/32", 1);
    ok(outbound_init(), "a good value is taken");
    unsetenv("PROMPTD_OUTBOUND_ALLOW");
}

int main(void)
{
    pid_t plain, tls;

    signal(SIGPIPE, SIG_IGN);
    unsetenv("PROMPTD_OUTBOUND_ALLOW");
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("ALL_PROXY");
    unsetenv("all_proxy");
    ok(outbound_init(), "outbound_init with no allow-list");
    A = arena_create(1 << 16);
    plain = plain_server();
    tls = tls_server();
    test_urls();
    test_guard();
    test_caps();
    test_https_redirects();
    test_config();
    kill(plain, SIGKILL);
    kill(tls, SIGKILL);
    waitpid(plain, NULL, 0);
    waitpid(tls, NULL, 0);
    arena_destroy(A);
    return done_testing();
}
