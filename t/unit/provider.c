/* provider.c: unit tests for the enrichment chain parser, price table, answer validation, breaker outcomes, the stream reader's memory cap and the request bodies with images. */
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "enrich/provider.h"
#include "enrich/settings.h"
#include "tap.h"

static void test_chain(void)
{
    static const char *const bad[] = {
        "", ",", "local,", ",local", "gemini", "openai:", "local:x", "openai:a b",
        "openai,openai", "local,local", "openai:\"x\"",
        "local,openai,anthropic,openai:a,openai:b,openai:c,openai:d,openai:e,openai:f",
        NULL};
    chain_t c;

    ok(settings_chain_parse("local", &c) == NULL && c.n == 1 &&
       c.links[0].kind == PROVIDER_LOCAL, "local");
    ok(settings_chain_parse("openai:gpt-4o-mini, anthropic ,local", &c) == NULL && c.n == 3,
       "three links, spaces allowed");
    is_str(c.links[0].model, "gpt-4o-mini", "openai model given");
    is_str(c.links[1].name, "anthropic", "anthropic");
    is_str(c.links[1].model, "claude-3-5-haiku-latest", "anthropic default model");
    ok(settings_chain_parse("openai", &c) == NULL, "openai alone");
    is_str(c.links[0].model, "gpt-4o-mini", "openai default model");
    ok(settings_chain_parse("openai:llama3.1:8b", &c) == NULL, "a model name with a colon");
    is_str(c.links[0].model, "llama3.1:8b", "kept whole");
    ok(settings_chain_parse("openai:a,openai:b", &c) == NULL && c.n == 2,
       "one kind with two models");
    for (const char *const *b = bad; *b; b++)
        ok(settings_chain_parse(*b, &c) != NULL, "refused: '%s'", *b);
}

static void test_prices(void)
{
    const price_t *p;

    ok((p = settings_price("gpt-4o-mini")) && p->in_per_m == 0.15 && p->out_per_m == 0.60,
       "gpt-4o-mini 0.15/0.60");
    ok((p = settings_price("gpt-4o-mini-2024-07-18")) && !strcmp(p->model, "gpt-4o-mini"),
       "a dated snapshot matches its family (longest prefix)");
    ok((p = settings_price("gpt-4o")) && p->in_per_m == 2.5, "gpt-4o is not gpt-4o-mini");
    ok((p = settings_price("claude-3-5-haiku-latest")) && p->out_per_m == 4.0, "claude haiku");
    ok(settings_price("llama-3.1-8b") == NULL, "an unknown model has no price");
    ok(settings_price("gpt-4ox") == NULL, "a prefix must end at a dash");
}

static void test_validate(void)
{
    const char *why;

    is_int(provider_validate("write {{x}}", "Write about {{x}} clearly.", &why), PROVIDER_OK,
           "a good answer");
    ok(why == NULL, "no reason");
    is_int(provider_validate("a", "   \n\t", &why), PROVIDER_EMPTY, "blank -> empty");
    is_int(provider_validate("a", "I'm sorry, but I can't help with that.", &why),
           PROVIDER_REFUSED, "refusal");
    is_int(provider_validate("a", "\"I cannot do this\"", &why), PROVIDER_REFUSED,
           "quoted refusal");
    is_int(provider_validate("a", "As an AI language model, ...", &why), PROVIDER_REFUSED,
           "as an AI");
    is_int(provider_validate("Use {{name}} and {{ topic }}", "Use {{name}} only", &why),
           PROVIDER_INVALID, "a lost variable");
    is_int(provider_validate("Use {{name}} and {{ topic }}", "{{ topic }} then {{name}}", &why),
           PROVIDER_OK, "every variable kept, any order");
    is_int(provider_validate("Unclosed {{name", "Anything", &why), PROVIDER_OK,
           "an unclosed brace is not a variable");
    is_int(provider_validate("x", "Sorry-free: cannot is fine mid-sentence.", &why),
           PROVIDER_OK, "refusal words only count at the start");
}

static void test_outcomes(void)
{
    ok(provider_retryable(PROVIDER_TIMEOUT) && provider_retryable(PROVIDER_RATE_LIMITED) &&
       provider_retryable(PROVIDER_SERVER) && provider_retryable(PROVIDER_CONNECT) &&
       provider_retryable(PROVIDER_DROPPED), "transient outcomes are retried");
    ok(provider_retryable(PROVIDER_GARBAGE) && provider_retryable(PROVIDER_EMPTY) &&
       !provider_breaker_counts(PROVIDER_GARBAGE) && !provider_breaker_counts(PROVIDER_EMPTY),
       "an unparseable or empty answer is retried, and the breaker does not count it");
    ok(!provider_retryable(PROVIDER_CLIENT) && !provider_retryable(PROVIDER_TRUNCATED) &&
       !provider_retryable(PROVIDER_REFUSED) && !provider_retryable(PROVIDER_INVALID) &&
       !provider_retryable(PROVIDER_CANCELLED) && !provider_retryable(PROVIDER_OK),
       "other answers, client errors and cancelled transfers are not");
    is_str(provider_outcome_name(PROVIDER_RATE_LIMITED), "rate_limited", "outcome names");
    is_str(provider_outcome_name(PROVIDER_DROPPED), "dropped", "dropped");
}

static void test_breaker_outcomes(void)
{
    ok(provider_breaker_counts(PROVIDER_TIMEOUT) && provider_breaker_counts(PROVIDER_CONNECT) &&
       provider_breaker_counts(PROVIDER_SERVER) && provider_breaker_counts(PROVIDER_RATE_LIMITED) &&
       provider_breaker_counts(PROVIDER_DROPPED),
       "transport, timeout, 5xx, 429, dropped stream: the provider's health");
    ok(!provider_breaker_counts(PROVIDER_OK) && !provider_breaker_counts(PROVIDER_CLIENT) &&
       !provider_breaker_counts(PROVIDER_TRUNCATED) && !provider_breaker_counts(PROVIDER_REFUSED) &&
       !provider_breaker_counts(PROVIDER_EMPTY) && !provider_breaker_counts(PROVIDER_INVALID) &&
       !provider_breaker_counts(PROVIDER_GARBAGE),
       "bad answers and client errors never count against the shared breaker");
}

/* A one-shot loopback HTTP server: answers the first connection with a
 * 200 text/event-stream whose body is `repeat` copies of chunk, then tail,
 * then closes.  Returns the port; *pid is the child's. */
static int stream_server(const char *chunk, long repeat, const char *tail, pid_t *pid)
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
        static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                                   "Connection: close\r\n\r\n";
        char req[65536];
        int c = accept(ls, NULL, NULL);
        size_t cl = strlen(chunk);

        signal(SIGPIPE, SIG_IGN);
        (void)!read(c, req, sizeof req);
        if (write(c, head, sizeof head - 1) < 0)
            _exit(0);
        for (long i = 0; i < repeat; i++)
            if (write(c, chunk, cl) != (ssize_t)cl)
                _exit(0);
        (void)!write(c, tail, strlen(tail));
        close(c);
        _exit(0);
    }
    close(ls);
    return ntohs(sa.sin_port);
}

static void count_delta(void *ctx, const char *text, size_t len)
{
    (void)text;
    *(size_t *)ctx += len;
}

/* Stream body through provider_call; the outcome, detail and bytes streamed. */
static enum provider_outcome stream_through(const char *chunk, long repeat, const char *tail,
                                            const char **detail, size_t *streamed)
{
    chain_link_t link = {PROVIDER_OPENAI, "openai", "gpt-4o-mini"};
    arena_t *a = arena_create(65536);
    provider_call_t call;
    provider_answer_t ans;
    pid_t pid = -1;
    int port = stream_server(chunk, repeat, tail, &pid);
    enum provider_outcome o;

    memset(&call, 0, sizeof call);
    call.link = &link;
    call.base_url = arena_printf(a, "http://127.0.0.1:%d/v1", port);
    call.origin = OUTBOUND_OPERATOR_URL;   /* loopback: the operator's URL */
    call.system = "s";
    call.user = "u";
    call.max_tokens = 10;
    call.timeout_ms = 20000;
    call.connect_timeout_ms = 5000;
    call.on_delta = count_delta;
    *streamed = 0;
    call.ctx = streamed;
    o = provider_call(a, &call, &ans);
    *detail = ans.detail ? strdup(ans.detail) : NULL;
    if (pid > 0) {
        kill(pid, SIGTERM);   /* still in accept() if the call never connected */
        waitpid(pid, NULL, 0);
    }
    arena_destroy(a);
    return o;
}

static void test_stream_cap(void)
{
    char delta[1200], line[1100];
    const char *detail;
    size_t streamed;
    enum provider_outcome o;

    /* many small events: no one buffer is big, but the text they add up to is */
    memset(line, 'x', 1000);
    line[1000] = '\0';
    snprintf(delta, sizeof delta, "data: {\"choices\":[{\"delta\":{\"content\":\"%s\"}}]}\n\n", line);
    o = stream_through(delta, 5000, "data: [DONE]\n\n", &detail, &streamed);
    is_int(o, PROVIDER_GARBAGE, "5 MB of answer text in 1 KB events -> garbage");
    is_str(detail ? detail : "", "the answer is larger than 4194304 bytes", "refused as too large");
    ok(streamed <= 4u << 20, "no more than 4 MiB handed on (%zu bytes)", streamed);
    free((void *)detail);

    /* one event of many data lines: the event's buffer grows, the line's does not */
    snprintf(delta, sizeof delta, "data: %s\n", line);
    o = stream_through(delta, 5000, "\ndata: [DONE]\n\n", &detail, &streamed);
    is_int(o, PROVIDER_GARBAGE, "one event of 5 MB in 1 KB data lines -> garbage");
    is_str(detail ? detail : "", "the answer is larger than 4194304 bytes", "refused as too large, before parsing");
    free((void *)detail);

    /* under the cap, the same shape is an answer */
    snprintf(delta, sizeof delta, "data: {\"choices\":[{\"delta\":{\"content\":\"%s\"}}]}\n\n", line);
    o = stream_through(delta, 100, "data: [DONE]\n\n", &detail, &streamed);
    is_int(o, PROVIDER_OK, "100 KB of text in 1 KB events -> ok");
    ok(streamed == 100000, "all of it streamed (%zu bytes)", streamed);
    free((void *)detail);
}

/* The request bodies: a prompt alone keeps its string content; with
 * images, OpenAI's text part then image_url parts, Anthropic's image
 * blocks then the text block. */
static void test_bodies(void)
{
    static const provider_image_t img[2] = {
        {"image/png", "data:image/png;base64,iVBORw==", "data:image/png;base64,iVBORw==" + 22},
        {"image/jpeg", "data:image/jpeg;base64,/9j/", "data:image/jpeg;base64,/9j/" + 23},
    };
    chain_t c;
    provider_call_t call = {.system = "S", .user = "Describe {{x}}", .max_tokens = 10};
    arena_t *a = arena_create(4096);
    cJSON *o, *m;
    char *out;

    settings_chain_parse("openai,anthropic", &c);
    call.link = &c.links[0];
    o = cJSON_Parse(provider_body(a, &call));
    m = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "messages"), 1);
    ok(cJSON_IsString(cJSON_GetObjectItem(m, "content")), "openai, no images: string content");
    cJSON_Delete(o);
    call.images = img;
    call.nimages = 2;
    o = cJSON_Parse(provider_body(a, &call));
    m = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "messages"), 1);
    out = cJSON_PrintUnformatted(cJSON_GetObjectItem(m, "content"));
    is_str(out, "[{\"type\":\"text\",\"text\":\"Describe {{x}}\"},"
           "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBORw==\"}},"
           "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/jpeg;base64,/9j/\"}}]",
           "openai: the text part, then an image_url part per image");
    free(out);
    cJSON_Delete(o);
    call.link = &c.links[1];
    o = cJSON_Parse(provider_body(a, &call));
    m = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "messages"), 0);
    out = cJSON_PrintUnformatted(cJSON_GetObjectItem(m, "content"));
    is_str(out, "[{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\","
           "\"data\":\"iVBORw==\"}},{\"type\":\"image\",\"source\":{\"type\":\"base64\","
           "\"media_type\":\"image/jpeg\",\"data\":\"/9j/\"}},{\"type\":\"text\",\"text\":\"Describe {{x}}\"}]",
           "anthropic: an image block per image, then the text block");
    free(out);
    cJSON_Delete(o);
    call.nimages = 0;
    o = cJSON_Parse(provider_body(a, &call));
    m = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "messages"), 0);
    ok(cJSON_IsString(cJSON_GetObjectItem(m, "content")), "anthropic, no images: string content");
    cJSON_Delete(o);
    arena_destroy(a);
}

int main(void)
{
    unsetenv("PROMPTD_ENRICH_PRICES");
    test_chain();
    test_prices();
    test_validate();
    test_outcomes();
    test_breaker_outcomes();
    test_stream_cap();
    test_bodies();
    return done_testing();
}
