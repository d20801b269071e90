#!/usr/bin/perl
# 601-enrich-providers.t: OpenAI and Anthropic through loopback fakes: wire formats and keys,
# fallback order, retries (Retry-After, backoff), timeouts, answer validation, the circuit
# breaker (open, half-open probe, close, re-open), cache isolation between primary and fallback.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Promptd::FakeLLM;
use Promptd::Test qw(db1);

my $llm = Promptd::FakeLLM->new;
# Two workers: the breaker's state must hold across processes.
my $s = Promptd::Test->new(
    PROMPTD_WORKERS => 2,
    PROMPTD_ENRICH_PROVIDERS => 'openai:gpt-4o-mini,anthropic:claude-3-5-haiku-latest,local',
    PROMPTD_OPENAI_BASE_URL => $llm->openai_url,
    PROMPTD_OPENAI_API_KEY => 'sk-server-openai',
    PROMPTD_ANTHROPIC_BASE_URL => $llm->anthropic_url,
    PROMPTD_ANTHROPIC_API_KEY => 'sk-ant-server',
    PROMPTD_ENRICH_TIMEOUT_MS => 1500,
    PROMPTD_ENRICH_RETRIES => 2,
    PROMPTD_ENRICH_BACKOFF_MS => 10,
    PROMPTD_ENRICH_BACKOFF_MAX_MS => 2000,
    PROMPTD_ENRICH_BREAKER_THRESHOLD => 3,
    PROMPTD_ENRICH_BREAKER_COOLDOWN => 300,
);
my ($alice, $ta, $bob, $tb) = $s->users(qw(alice bob));

my $n = 0;
# enrich(%opt): a fresh prompt each time (unless given), cache bypassed unless cache => 1.
sub enrich {
    my (%o) = @_;
    my $prompt = delete $o{prompt} // 'Summarise the quarterly report for {{team}} in 5 bullet points #' . ++$n;
    my $tok = delete $o{token} // $ta;
    my %h = delete $o{cache} ? () : ('Cache-Control' => 'no-cache');
    return $s->request(POST => '/api/v1/enrich', { token => $tok, headers => \%h,
                                                   json => { prompt => $prompt, %o } });
}
sub fresh { $llm->reset; $s->psql('delete from public.enrich_breakers') }
sub outcomes { join ',', map { "$_->{provider}:$_->{outcome}" } @{ $_[0]{json}{attempts} || [] } }

# --- the primary answers: OpenAI wire format, server key
fresh();
my $r = enrich();
is($r->{status}, 200, 'openai answers -> 200') or diag explain $r;
is($r->{json}{provider}, 'openai', 'provider openai');
is($r->{json}{model}, 'gpt-4o-mini', 'model gpt-4o-mini');
like($r->{json}{enriched}, qr/^\[fake-openai\]/, 'the fake\'s answer');
like($r->{json}{enriched}, qr/\{\{team\}\}/, 'variable kept');
is(outcomes($r), 'openai:ok', 'one attempt');
is($r->{json}{attempts}[0]{key}, 'server', "the server's key");
my ($q) = $llm->requests('openai');
is($q->{path}, '/v1/chat/completions', 'POST /v1/chat/completions');
is($q->{headers}{authorization}, 'Bearer sk-server-openai', 'Authorization: Bearer <server key>');
is($q->{json}{model}, 'gpt-4o-mini', 'request names the model');
is($q->{json}{messages}[0]{role}, 'system', 'system message: the instructions');
is($q->{json}{messages}[1]{role}, 'user', 'user message');
like($q->{json}{messages}[1]{content}, qr/^Summarise the quarterly report for \{\{team\}\}/, 'user message is the prompt');
ok(!$q->{json}{stream}, 'not streamed');
ok($r->{json}{usage}{tokens_in} > 0 && $r->{json}{usage}{tokens_out} > 0, 'usage from the provider');
my $want = ($r->{json}{usage}{tokens_in} * 0.15 + $r->{json}{usage}{tokens_out} * 0.60) / 1e6;
ok(abs($r->{json}{usage}{cost_usd} - $want) < 1e-7, 'cost from the price table (gpt-4o-mini 0.15/0.60)');
is(db1("select provider || ' ' || model || ' ' || tokens_in || ' ' || (cost_usd > 0)::text "
       . "from public.enrichments where id = '$r->{json}{id}'"),
   "openai gpt-4o-mini $r->{json}{usage}{tokens_in} true", 'record: provider, model, tokens, cost');

# --- fallback order: openai 5xx x3 (retried) -> anthropic
fresh();
$llm->script(openai => [{ status => 500 }, { status => 502 }, { status => 503 }]);
$r = enrich();
is($r->{status}, 200, '5xx then fallback -> 200');
is(outcomes($r), 'openai:server_error,openai:server_error,openai:server_error,anthropic:ok',
   'three openai attempts (two retries), then anthropic');
is($r->{json}{provider}, 'anthropic', 'anthropic answered');
is($r->{json}{model}, 'claude-3-5-haiku-latest', 'anthropic model');
like($r->{json}{enriched}, qr/^\[fake-anthropic\]/, "anthropic's text");
ok($r->{json}{usage}{tokens_in} > 0 && $r->{json}{usage}{tokens_out} > 0,
   "anthropic's usage (input_tokens, output_tokens)");
is_deeply([map { $_->{http_status} } @{ $r->{json}{attempts} }[0 .. 2]], [500, 502, 503], 'statuses recorded');
($q) = $llm->requests('anthropic');
is($q->{path}, '/v1/messages', 'POST /v1/messages');
is($q->{headers}{'x-api-key'}, 'sk-ant-server', 'x-api-key: <server key>');
is($q->{headers}{'anthropic-version'}, '2023-06-01', 'anthropic-version header');
is($q->{json}{model}, 'claude-3-5-haiku-latest', 'model');
ok(length($q->{json}{system}) > 0, 'instructions in system');
is(db1("select jsonb_array_length(attempts) || ' ' || provider from public.enrichments where id = '$r->{json}{id}'"),
   '4 anthropic', 'record keeps every attempt');

# --- 429 + Retry-After honoured; over the cap -> next provider at once
fresh();
$llm->script(openai => [{ status => 429, retry_after => 1 }, {}]);
$r = enrich();
is(outcomes($r), 'openai:rate_limited,openai:ok', '429 then retried');
is($r->{json}{attempts}[0]{retry_in_ms}, 1000, 'waited the Retry-After (1 s)');
fresh();
$llm->script(openai => [{ status => 429, retry_after => 120 }]);
$r = enrich();
is(outcomes($r), 'openai:rate_limited,anthropic:ok', 'Retry-After beyond the cap: next provider');
is(scalar(() = $llm->requests('openai')), 1, 'openai asked once');

# --- timeout, dropped, truncated, garbage, refusal, lost variable, client error
fresh();
$llm->script(openai => [{ hang => 1 }, {}]);
$r = enrich();
is(outcomes($r), 'openai:timeout,openai:ok', 'a hung provider times out and is retried');
fresh();
$llm->script(openai => [{ drop => 1 }, {}]);
$r = enrich();
is(outcomes($r), 'openai:dropped,openai:ok', 'a dropped connection is retried');
for my $case (['truncated', { truncated => 1 }],
              ['refused', { refusal => 1 }], ['invalid', { answer => 'A better prompt without the variable.' }],
              ['client_error', { status => 401, body => '{"error":{"message":"bad key"}}' }]) {
    my ($name, $step) = @$case;
    fresh();
    $llm->script(openai => [$step]);
    $r = enrich();
    is($r->{status}, 200, "$name -> still 200 (fallback)");
    is(outcomes($r), "openai:$name,anthropic:ok", "$name is a failure, not retried, next provider");
}
# an unparseable or empty answer is a glitch: the same provider again
for my $case (['garbage', { garbage => 1 }], ['empty', { answer => "  \n" }]) {
    my ($name, $step) = @$case;
    fresh();
    $llm->script(openai => [$step]);
    $r = enrich();
    is($r->{status}, 200, "$name -> 200");
    is(outcomes($r), "openai:$name,openai:ok", "$name is retried on the same provider");
    fresh();
    $llm->script(openai => [$step, $step, $step]);
    $r = enrich();
    is(outcomes($r), "openai:$name,openai:$name,openai:$name,anthropic:ok",
       "$name every time: the retries, then the next provider");
}

# --- every remote provider failing -> the local engine is the last resort
fresh();
$llm->default(openai => { status => 500 }, anthropic => { status => 500 });
$r = enrich();
is($r->{status}, 200, 'all remote fail -> 200 from local');
is($r->{json}{provider}, 'local', 'local engine answered');
like(outcomes($r), qr/^openai:server_error,openai:server_error,openai:server_error,anthropic:server_error,anthropic:server_error,anthropic:server_error,local:ok$/,
     'every attempt listed, local last');

# --- the caller's providers: exact chain, local excluded -> 502 with the attempts, still recorded
fresh();
$llm->default(openai => { status => 500 });
my $before = db1("select count(*) from public.enrichments where outcome = 'failed'");
$r = enrich(providers => ['openai']);
is($r->{status}, 502, 'only a failing provider -> 502');
like($r->{headers}{'content-type'}, qr{^application/problem\+json}, 'problem+json');
is(scalar @{ $r->{json}{attempts} }, 3, 'with the attempts');
is(db1("select count(*) from public.enrichments where outcome = 'failed'"), $before + 1, 'the failure is recorded');
fresh();
$r = enrich(providers => ['anthropic']);
is(outcomes($r), 'anthropic:ok', 'providers: [anthropic] asks only anthropic');
is(scalar(() = $llm->requests('openai')), 0, 'openai not called');
$r = enrich(providers => ['openai:llama-3.1-8b', 'local']);
is($r->{json}{model}, 'llama-3.1-8b', 'an OpenAI-compatible model by name');
is(($llm->requests('openai'))[-1]{json}{model}, 'llama-3.1-8b', 'sent as the model');

# --- circuit breaker: a step failing every retry counts; open after the threshold, skip,
# half-open probe, close / re-open
fresh();
$llm->script(openai => [{ status => 500 }, { status => 500 }, {}]);
$r = enrich();
is(outcomes($r), 'openai:server_error,openai:server_error,openai:ok', 'failed attempts rescued by a retry');
is(db1("select count(*) from public.enrich_breakers where failures > 0"), 0, 'do not count against the breaker');
$llm->default(openai => { status => 500 });
for my $i (1 .. 3) {
    $r = enrich();
    is(outcomes($r), 'openai:server_error,openai:server_error,openai:server_error,anthropic:ok',
       "request $i: openai fails every retry");
    is(db1("select state || ' ' || failures from public.enrich_breakers where provider = 'openai'"),
       ($i < 3 ? 'closed' : 'open') . " $i", $i < 3 ? "closed after $i" : 'the breaker is open (state in PostgreSQL)');
}
$llm->default(openai => {});
my $asked = () = $llm->requests('openai');
$r = enrich();
is(outcomes($r), 'openai:breaker_open,anthropic:ok', 'open: openai skipped');
is(scalar(() = $llm->requests('openai')), $asked, 'and not called');
for (1 .. 6) {    # spread over both workers
    $r = enrich(token => $tb);
    is(outcomes($r), 'openai:breaker_open,anthropic:ok', 'shared by every caller and worker');
}
$s->psql("update public.enrich_breakers set opened_at = now() - interval '1 hour' where provider = 'openai'");
$llm->script(openai => [{ status => 500 }]);
$r = enrich();
is(outcomes($r), 'openai:server_error,anthropic:ok', 'after the cool-down: one probe, no retries');
ok($r->{json}{attempts}[0]{probe}, 'the attempt is marked as the probe');
is(db1("select state from public.enrich_breakers where provider = 'openai'"), 'open', 'a failed probe re-opens');
$r = enrich();
is(outcomes($r), 'openai:breaker_open,anthropic:ok', 're-opened from now');
$s->psql("update public.enrich_breakers set opened_at = now() - interval '1 hour' where provider = 'openai'");
is(db1("select promptd.enrich_breaker_allow('openai', 300)"), 'probe', 'one caller wins the probe');
is(db1("select promptd.enrich_breaker_allow('openai', 300)"), 'skip', 'others skip while it is in flight');
$s->psql("update public.enrich_breakers set probe_started = now() - interval '1 hour' where provider = 'openai'");
$r = enrich();
is(outcomes($r), 'openai:ok', 'a stale probe is taken over; success');
is(db1("select state || ' ' || failures from public.enrich_breakers where provider = 'openai'"), 'closed 0',
   'a successful probe closes the breaker');
is(db1("select promptd.enrich_breaker_allow('openai', 300)"), 'clean', 'closed, nothing counted: clean');
is(db1("select promptd.enrich_breaker_allow('nobody', 300)"), 'clean', 'no row: clean');
$s->psql("update public.enrich_breakers set failures = 2 where provider = 'openai'");
is(db1("select promptd.enrich_breaker_allow('openai', 300)"), 'call', 'closed with failures counted: call');
$r = enrich();
is(outcomes($r), 'openai:ok', 'a call after failures');
is(db1("select failures from public.enrich_breakers where provider = 'openai'"), 0,
   'its success is reported: the failures count from zero again');
$r = enrich();
is(outcomes($r), 'openai:ok', 'a call on a clean breaker');
is(db1("select state || ' ' || failures from public.enrich_breakers where provider = 'openai'"), 'closed 0',
   'still closed with nothing counted');

# --- cache: a fallback answer never poses as the primary's
fresh();
$s->psql('delete from public.enrich_cache');
my $p = 'Draft a product announcement for "Nimbus 2" aimed at {{segment}} #cache';
$llm->script(openai => [{ status => 500 }, { status => 500 }, { status => 500 }]);
$r = enrich(prompt => $p, cache => 1);
is($r->{json}{provider}, 'anthropic', 'primary down: anthropic answers');
$s->psql('delete from public.enrich_breakers');
$r = enrich(prompt => $p, cache => 1);
ok(!$r->{json}{cached}, 'primary healthy again: its own (empty) cache entry, not the fallback\'s');
is($r->{json}{provider}, 'openai', 'openai answers');
$r = enrich(prompt => $p, cache => 1);
ok($r->{json}{cached}, 'then cached');
is($r->{json}{provider}, 'openai', 'under the provider that answered');
is(db1("select count(*) from public.enrich_cache where user_id = '$alice'"), 2, 'two entries: one per answering provider');
$llm->default(openai => { status => 500 });
$r = enrich(prompt => $p, cache => 1);
is($r->{json}{provider}, 'openai', 'cache is consulted before the call');
$r = enrich(prompt => $p, cache => 1, token => $tb);
ok(!$r->{json}{cached}, 'bob never gets alice\'s entry');

done_testing;
