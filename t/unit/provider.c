/* provider.c: unit tests for the enrichment chain parser, price table and provider answer validation. */
#include <stdlib.h>
#include <string.h>

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
    ok(!provider_retryable(PROVIDER_CLIENT) && !provider_retryable(PROVIDER_TRUNCATED) &&
       !provider_retryable(PROVIDER_REFUSED) && !provider_retryable(PROVIDER_GARBAGE) &&
       !provider_retryable(PROVIDER_INVALID) && !provider_retryable(PROVIDER_OK),
       "answers and client errors are not");
    is_str(provider_outcome_name(PROVIDER_RATE_LIMITED), "rate_limited", "outcome names");
    is_str(provider_outcome_name(PROVIDER_DROPPED), "dropped", "dropped");
}

int main(void)
{
    unsetenv("PROMPTD_ENRICH_PRICES");
    test_chain();
    test_prices();
    test_validate();
    test_outcomes();
    return done_testing();
}
