#!/usr/bin/perl
# 605-enrich-breaker.t: the shared circuit breaker counts only provider health on the server's
# key (transport, timeout, 5xx, 429): bad answers to one user's prompts and failures on a user's
# own key leave it closed for everyone else; a half-open probe that proved nothing is handed back.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Promptd::FakeLLM;
use Promptd::Test;

my $llm = Promptd::FakeLLM->new;
my $s = Promptd::Test->new(
    PROMPTD_WORKERS => 1,
    PROMPTD_JOBS_DAEMONS => 0,
    PROMPTD_ENRICH_PROVIDERS => 'openai:gpt-4o-mini,local',
    PROMPTD_OPENAI_BASE_URL => $llm->openai_url,
    PROMPTD_OPENAI_API_KEY => 'sk-server-openai',
    PROMPTD_ENRICH_TIMEOUT_MS => 1500,
    PROMPTD_ENRICH_RETRIES => 1,
    PROMPTD_ENRICH_BACKOFF_MS => 10,
    PROMPTD_ENRICH_BACKOFF_MAX_MS => 100,
    PROMPTD_ENRICH_BREAKER_THRESHOLD => 3,
    PROMPTD_ENRICH_BREAKER_COOLDOWN => 300,
);
my ($alice, $ta, $bob, $tb) = $s->users(qw(alice bob));

my $n = 0;
sub enrich {
    my ($tok) = @_;
    return $s->request(POST => '/api/v1/enrich', { token => $tok, headers => { 'Cache-Control' => 'no-cache' },
        json => { prompt => 'Summarise the incident report for {{team}} in 3 bullets #' . ++$n } });
}
sub outcomes { join ',', map { "$_->{provider}:$_->{outcome}" } @{ $_[0]{json}{attempts} || [] } }
sub breaker {
    $s->db1("select coalesce((select state || ' ' || failures from public.enrich_breakers "
            . "where provider = 'openai'), 'closed 0')");
}
sub asked { scalar(() = $llm->requests('openai')) }
# bob (server key) still reaches openai, and openai answers him
sub bob_reaches_openai {
    my ($why) = @_;
    $llm->script(openai => [{}]);
    my $before = asked();
    my $r = enrich($tb);
    is($r->{status}, 200, "$why: bob -> 200");
    is(outcomes($r), 'openai:ok', "$why: bob's request is not skipped");
    is($r->{json}{provider}, 'openai', "$why: openai answered bob");
    like($r->{json}{enriched} // '', qr/^\[fake-openai\]/, "$why: with the provider's text");
    is(asked(), $before + 1, "$why: the provider was called");
    is(($llm->requests('openai'))[-1]{headers}{authorization}, 'Bearer sk-server-openai',
       "$why: with the server's key");
}

# --- five bad answers to alice's prompts (server key): content, not health
$s->psql('delete from public.enrich_breakers');
my @bad = (['truncated', { truncated => 1 }], ['refused', { refusal => 1 }],
           ['empty', { answer => "  \n" }], ['invalid', { answer => 'A rewrite that dropped the variable.' }],
           ['garbage', { garbage => 1 }]);
for my $b (@bad) {
    # unparseable and empty answers are retried: bad every time here
    my $tries = $b->[0] =~ /^(?:empty|garbage)$/ ? 2 : 1;   # RETRIES 1
    $llm->script(openai => [($b->[1]) x $tries]);
    my $r = enrich($ta);
    is($r->{status}, 200, "alice, $b->[0] answer -> 200 (local fallback)");
    is(outcomes($r), join(',', ("openai:$b->[0]") x $tries, 'local:ok'),
       "$b->[0]: a failure for this prompt only");
}
is(breaker(), 'closed 0', 'five bad answers: the breaker is closed with no failures counted');
bob_reaches_openai('after five bad answers');

# --- failures on alice's own key, however many, are hers alone
my $k = $s->request(PUT => '/api/v1/enrich/keys/openai', { token => $ta, json => { api_key => 'sk-alice-000000001' } });
is($k->{status}, 200, "alice stores her own OpenAI key") or diag explain $k;
$llm->script(openai => [{ status => 500 }, { status => 500 }, { status => 503 }, { status => 503 },
                        { status => 429 }, { status => 429 }, { status => 401 },
                        { status => 502 }, { status => 502 }]);
for my $i (1 .. 5) {
    my $r = enrich($ta);
    is($r->{json}{provider}, 'local', "alice's key failing ($i): local answers");
    is($r->{json}{attempts}[0]{key}, 'user', "($i) the attempts used her key");
}
is(($llm->requests('openai'))[-1]{headers}{authorization}, 'Bearer sk-alice-000000001', "sent with alice's key");
is($llm->remaining('openai'), 0, 'every scripted failure was served');
is(breaker(), 'closed 0', "five failing steps on a user's key: the breaker counts none");
bob_reaches_openai("after alice's key failed");
is($s->request(DELETE => '/api/v1/enrich/keys/openai', { token => $ta })->{status}, 204, 'alice removes her key');

# --- the server's key failing (5xx, 429): that is the provider's health, and it opens
$llm->script(openai => [{ status => 500 }, { status => 500 }, { status => 503 }, { status => 503 },
                        { status => 429 }, { status => 429 }]);
for my $i (1 .. 3) {
    my $r = enrich($tb);
    is($r->{json}{attempts}[0]{key}, 'server', "server key failing ($i)");
    is(breaker(), ($i < 3 ? 'closed' : 'open') . " $i", "counted ($i of 3)");
}
my $before = asked();
my $r = enrich($ta);
is(outcomes($r), 'openai:breaker_open,local:ok', 'open: alice\'s request skips openai');
is(asked(), $before, 'and the provider is not called');

# --- a probe that proved nothing (a bad answer) is handed back, not counted
$s->psql("update public.enrich_breakers set opened_at = now() - interval '1 hour' where provider = 'openai'");
$llm->script(openai => [{ refusal => 1 }, {}]);
$r = enrich($ta);
is(outcomes($r), 'openai:refused,local:ok', 'after the cool-down: alice\'s request is the probe; a refusal');
ok($r->{json}{attempts}[0]{probe}, 'marked as the probe');
is($s->db1("select state || ' ' || (probe_started is null)::text || ' ' || "
           . "(opened_at < now() - interval '1 minute')::text from public.enrich_breakers where provider = 'openai'"),
   'open true true', 'the probe is handed back: open, its cool-down still over, not re-opened from now');
bob_reaches_openai('the next caller probes at once');
is(breaker(), 'closed 0', "bob's successful probe closes the breaker");

done_testing;
