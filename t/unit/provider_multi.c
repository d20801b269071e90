/* provider_multi.c: unit tests for provider_start/provider_finish in a curl multi handle: silence seen as no bytes, an answer finished, an abandoned transfer's connection closed, a refused URL. */
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/clock.h"
#include "enrich/provider.h"
#include "tap.h"

static const char answer[] =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
    "{\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"finish_reason\":\"stop\","
    "\"message\":{\"role\":\"assistant\",\"content\":\"A better prompt.\"}}],"
    "\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3}}";

/* A one-shot loopback server.  It reads the request, then: with answer_at
 * (a file) absent, waits for the client to close (exit 0 when it did
 * within 5 s, 1 when not); else waits until that file exists and answers.
 * Returns the port; *pid is the child's. */
static int server(const char *answer_at, pid_t *pid)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    int ls = socket(AF_INET, SOCK_STREAM, 0);

    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(ls, 1) != 0 ||
        getsockname(ls, (struct sockaddr *)&sa, &sl) != 0)
        return -1;
    if ((*pid = fork()) == 0) {
        char req[65536];
        int c = accept(ls, NULL, NULL);
        struct pollfd p = {c, POLLIN, 0};

        signal(SIGPIPE, SIG_IGN);
        (void)!read(c, req, sizeof req);
        if (answer_at == NULL)
            _exit(poll(&p, 1, 5000) == 1 && read(c, req, sizeof req) == 0 ? 0 : 1);
        for (int i = 0; i < 500 && access(answer_at, F_OK) != 0; i++)
            usleep(10000);
        (void)!write(c, answer, sizeof answer - 1);
        close(c);
        _exit(0);
    }
    close(ls);
    return ntohs(sa.sin_port);
}

static void call_init(provider_call_t *call, const chain_link_t *link, arena_t *a, int port)
{
    memset(call, 0, sizeof *call);
    call->link = link;
    call->base_url = arena_printf(a, "http://127.0.0.1:%d/v1", port);
    call->origin = OUTBOUND_OPERATOR_URL;   /* loopback: the operator's URL */
    call->system = "s";
    call->user = "u";
    call->max_tokens = 10;
    call->timeout_ms = 10000;
    call->connect_timeout_ms = 5000;
}

/* Run m until x's transfer is done or ms pass; its CURLcode, or -1. */
static int run_until_done(CURLM *m, long ms)
{
    long long end = clock_now_ms() + ms;
    int still;

    while (clock_now_ms() < end) {
        CURLMsg *msg;
        int q;

        curl_multi_perform(m, &still);
        if ((msg = curl_multi_info_read(m, &q)) != NULL && msg->msg == CURLMSG_DONE)
            return (int)msg->data.result;
        curl_multi_poll(m, NULL, 0, 50, NULL);
    }
    return -1;
}

static void test_answer(void)
{
    chain_link_t link = {PROVIDER_OPENAI, "openai", "gpt-4o-mini"};
    arena_t *a = arena_create(65536);
    char flag[] = "/tmp/promptd-provider-multi-XXXXXX";
    CURLM *m = curl_multi_init();
    provider_call_t call;
    provider_answer_t ans;
    provider_xfer_t *x;
    pid_t pid = -1;
    int port, fd = mkstemp(flag), rc, still;

    close(fd);
    unlink(flag);                      /* created again when the server may answer */
    port = server(flag, &pid);
    call_init(&call, &link, a, port);
    ok((x = provider_start(a, &call, &ans)) != NULL, "provider_start prepares the transfer");
    curl_multi_add_handle(m, provider_xfer_curl(x));
    for (int i = 0; i < 10; i++) {
        curl_multi_perform(m, &still);
        curl_multi_poll(m, NULL, 0, 20, NULL);
    }
    is_int((long)provider_xfer_received(x), 0, "a silent provider: no bytes received");
    fd = open(flag, O_CREAT | O_WRONLY, 0600);
    close(fd);
    rc = run_until_done(m, 5000);
    is_int(rc, CURLE_OK, "the transfer completes in the multi handle");
    ok(provider_xfer_received(x) > 0, "bytes received once it answered (%zu)",
       provider_xfer_received(x));
    curl_multi_remove_handle(m, provider_xfer_curl(x));
    is_int(provider_finish(x, (CURLcode)rc, &ans), PROVIDER_OK, "provider_finish: ok");
    is_str(ans.text ? ans.text : "", "A better prompt.", "the answer's text");
    ok(ans.tokens_in == 7 && ans.tokens_out == 3, "the provider's token counts");
    is_int(ans.http_status, 200, "HTTP 200");
    waitpid(pid, NULL, 0);
    unlink(flag);
    curl_multi_cleanup(m);
    arena_destroy(a);
}

static void test_abandon(void)
{
    chain_link_t link = {PROVIDER_ANTHROPIC, "anthropic", "claude-3-5-haiku-latest"};
    arena_t *a = arena_create(65536);
    CURLM *m = curl_multi_init();
    provider_call_t call;
    provider_answer_t ans;
    provider_xfer_t *x;
    pid_t pid = -1;
    int port = server(NULL, &pid), st = -1, still;

    call_init(&call, &link, a, port);
    x = provider_start(a, &call, &ans);
    curl_multi_add_handle(m, provider_xfer_curl(x));
    for (int i = 0; i < 10; i++) {
        curl_multi_perform(m, &still);
        curl_multi_poll(m, NULL, 0, 20, NULL);
    }
    is_int(still, 1, "the transfer is in flight");
    curl_multi_remove_handle(m, provider_xfer_curl(x));   /* cancelled: no finish */
    curl_multi_cleanup(m);
    waitpid(pid, &st, 0);
    ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
       "the provider saw its connection closed once the transfer was abandoned");
    arena_destroy(a);
}

static void test_refused(void)
{
    chain_link_t link = {PROVIDER_OPENAI, "openai", "gpt-4o-mini"};
    arena_t *a = arena_create(4096);
    provider_call_t call;
    provider_answer_t ans;

    call_init(&call, &link, a, 1);
    call.base_url = "ftp://127.0.0.1/v1";
    ok(provider_start(a, &call, &ans) == NULL, "a URL the outbound guard refuses: no transfer");
    is_int(ans.outcome, PROVIDER_CONNECT, "  outcome connect_error");
    ok(ans.detail != NULL, "  with a reason (%s)", ans.detail ? ans.detail : "");
    is_str(provider_outcome_name(PROVIDER_CANCELLED), "cancelled", "the cancelled outcome's name");
    ok(!provider_retryable(PROVIDER_CANCELLED) && !provider_breaker_counts(PROVIDER_CANCELLED),
       "a cancelled transfer is neither retried nor held against the provider");
    arena_destroy(a);
}

/* One thread's transfer: its own multi handle, the process's shared DNS
 * and TLS cache (provider.c's CURLSH, under its locks). */
typedef struct job {
    int port;
    enum provider_outcome o;
    char text[64];
} job_t;

static void *thread_call(void *p)
{
    job_t *j = p;
    chain_link_t link = {PROVIDER_OPENAI, "openai", "gpt-4o-mini"};
    arena_t *a = arena_create(65536);
    CURLM *m = curl_multi_init();
    provider_call_t call;
    provider_answer_t ans;
    provider_xfer_t *x;
    int rc;

    call_init(&call, &link, a, j->port);
    call.base_url = arena_printf(a, "http://localhost:%d/v1", j->port);   /* resolved: DNS shared */
    j->o = PROVIDER_CONNECT;
    if ((x = provider_start(a, &call, &ans)) != NULL) {
        curl_multi_add_handle(m, provider_xfer_curl(x));
        rc = run_until_done(m, 5000);
        curl_multi_remove_handle(m, provider_xfer_curl(x));
        j->o = provider_finish(x, (CURLcode)rc, &ans);
        snprintf(j->text, sizeof j->text, "%s", ans.text ? ans.text : "");
    }
    curl_multi_cleanup(m);
    arena_destroy(a);
    return NULL;
}

static void test_threads(void)
{
    enum { N = 6 };
    char flag[] = "/tmp/promptd-provider-multi-XXXXXX";
    pthread_t t[N];
    pid_t pid[N];
    job_t jobs[N];
    int fd = mkstemp(flag), good = 0;

    close(fd);                         /* exists: the servers answer at once */
    for (int i = 0; i < N; i++)
        jobs[i].port = server(flag, &pid[i]);
    for (int i = 0; i < N; i++)
        pthread_create(&t[i], NULL, thread_call, &jobs[i]);
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        waitpid(pid[i], NULL, 0);
        good += jobs[i].o == PROVIDER_OK && strcmp(jobs[i].text, "A better prompt.") == 0;
    }
    is_int(good, N, "%d threads, each with its own multi handle, all answered", N);
    unlink(flag);
}

int main(void)
{
    outbound_init();
    test_answer();
    test_abandon();
    test_refused();
    test_threads();
    return done_testing();
}
