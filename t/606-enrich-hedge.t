#!/usr/bin/perl
# 606-enrich-hedge.t: hedged provider calls (PROMPTD_ENRICH_HEDGE_MS: a silent provider is raced by the next,
# the loser cancelled and never billed or retried), one streamed transfer (never two providers' text),
# the run's deadline (PROMPTD_ENRICH_DEADLINE_MS -> 504, the record failed), bad values of both refused.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use Cwd qw(abs_path);
use JSON::PP;
use POSIX ();
use Promptd::FakeLLM;
use Promptd::Test qw(db1 sse_events);

my $JSON = JSON::PP->new->utf8;
my $build = $ENV{PROMPTD_BUILD_DIR} || abs_path("$FindBin::Bin/..");

# --- bad values refuse the configuration: the enrich worker does not start, naming the variable
my $var = tempdir('promptd-hedge-XXXXXX', TMPDIR => 1, CLEANUP => 1);
sub run_worker {
    my (%env) = @_;
    my $err = "$var/stderr";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        $ENV{PROMPTD_VAR_DIR} = $var;
        $ENV{$_} = $env{$_} for keys %env;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', $err;
        exec "$build/cgi-bin/enrich.fcgi" or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    my $rc = $? >> 8;
    open my $fh, '<', $err or die "$err: $!";
    local $/;
    return ($rc, scalar <$fh> // '');
}
for my $case (['PROMPTD_ENRICH_HEDGE_MS', '-1'], ['PROMPTD_ENRICH_HEDGE_MS', 'soon'],
              ['PROMPTD_ENRICH_HEDGE_MS', '700000'], ['PROMPTD_ENRICH_DEADLINE_MS', '0'],
              ['PROMPTD_ENRICH_DEADLINE_MS', '50'], ['PROMPTD_ENRICH_DEADLINE_MS', '3s']) {
    my ($name, $value) = @$case;
    my ($rc, $err) = run_worker($name => $value);
    isnt($rc, 0, "$name=$value: the enrich worker refuses to start");
    like($err, qr/\Q$name\E/, '  its message names the variable') or diag $err;
}

my $llm = Promptd::FakeLLM->new;
my $s = Promptd::Test->new(
    PROMPTD_WORKERS => 1,
    PROMPTD_ENRICH_PROVIDERS => 'openai,anthropic,local',
    PROMPTD_OPENAI_BASE_URL => $llm->openai_url,
    PROMPTD_OPENAI_API_KEY => 'sk-server-openai',
    PROMPTD_ANTHROPIC_BASE_URL => $llm->anthropic_url,
    PROMPTD_ANTHROPIC_API_KEY => 'sk-ant-server',
    PROMPTD_ENRICH_TIMEOUT_MS => 20000,     # a hung call is never waited out: the hedge or the deadline ends it
    PROMPTD_ENRICH_RETRIES => 2,
    PROMPTD_ENRICH_BACKOFF_MS => 10,
    PROMPTD_ENRICH_HEDGE_MS => 300,
    PROMPTD_ENRICH_DEADLINE_MS => 4000,
);
my ($alice, $ta) = $s->users(qw(alice));

my $n = 0;
sub prompt { 'Summarise the quarterly report for {{team}} in 5 bullet points #' . ++$n }
sub enrich {
    my (%o) = @_;
    my $h = delete $o{headers} // {};
    return $s->request(POST => '/api/v1/enrich', { token => $ta,
        headers => { 'Cache-Control' => 'no-cache', %$h }, json => { prompt => prompt(), %o } });
}
sub fresh { $llm->reset; $s->psql('delete from public.enrich_breakers') }
# "provider:outcome" of every attempt, sorted (concurrent attempts end in any order)
sub outcomes { join ',', sort map { "$_->{provider}:$_->{outcome}" } @{ $_[0]{attempts} || [] } }
sub attempt_of { my ($j, $p, $o) = @_; (grep { $_->{provider} eq $p && $_->{outcome} eq $o } @{ $j->{attempts} })[0] }
# The fake's token counts for a request body and an answer (t/lib/Promptd/FakeLLM.pm).
sub fake_tokens { (int(length($_[0]) / 4) + 1, int(length($_[1]) / 4) + 1) }

# --- (a) hedging: openai silent, anthropic starts after the hedge delay and wins
fresh();
$llm->script(openai => [{ hang => 1 }]);
my $r = enrich();
is($r->{status}, 200, 'a silent primary, hedged -> 200') or diag explain $r->{json};
my $j = $r->{json};
is($j->{provider}, 'anthropic', 'the hedge (anthropic) answered');
like($j->{enriched}, qr/^\[fake-anthropic\]/, "anthropic's text");
is(outcomes($j), 'anthropic:ok,openai:cancelled', 'attempts: anthropic ok, openai cancelled');
my $lost = attempt_of($j, 'openai', 'cancelled');
is($lost->{key}, 'server', 'the cancelled attempt names its key');
ok(!defined $lost->{http_status}, 'the cancelled attempt had no HTTP answer');
ok($lost->{latency_ms} < 20000, 'the silent attempt was not waited out (its timeout is 20 s)');
my ($qa) = $llm->requests('anthropic');
my ($tin, $tout) = fake_tokens($qa->{body}, $j->{enriched});
is_deeply([$j->{usage}{tokens_in}, $j->{usage}{tokens_out}], [$tin, $tout],
          "tokens: the winner's alone (as the fake counted anthropic's call)");
my $cost = ($tin * 0.80 + $tout * 4.00) / 1e6;
ok(abs($j->{usage}{cost_usd} - $cost) < 1e-7, "cost: the winner's alone (claude-3-5-haiku 0.80/4.00)");
is(db1("select concat_ws(' ', status, outcome, provider, tokens_in, tokens_out, "
       . "round(cost_usd * 1e8)::bigint, jsonb_array_length(attempts), "
       . "(select string_agg(a->>'provider' || ':' || (a->>'outcome'), ',' order by a->>'provider') "
       . "from jsonb_array_elements(attempts) a)) from public.enrichments where id = '$j->{id}'"),
   join(' ', 'done success anthropic', $tin, $tout, sprintf('%.0f', $cost * 1e8), 2,
        'anthropic:ok,openai:cancelled'),
   'the record agrees: anthropic, its tokens and cost, openai cancelled');

# --- (b) the loser really was cancelled: openai asked once (never retried), anthropic once
is(scalar(() = $llm->requests('openai')), 1, 'the hung openai call was not retried');
is(scalar(() = $llm->requests('anthropic')), 1, 'anthropic asked once');
is(db1("select count(*) from public.enrich_breakers where provider = 'openai' and failures > 0"), 0,
   "a cancelled attempt does not count against openai's breaker");

# --- a failure beside a running hedge: anthropic 500 is retried (backoff) while openai stays
# cancelled at the end; the hung attempt is still never repeated
fresh();
$llm->script(openai => [{ hang => 1 }], anthropic => [{ status => 500 }, {}]);
$r = enrich();
is($r->{status}, 200, 'hedge fails once, retried -> 200');
is(outcomes($r->{json}), 'anthropic:ok,anthropic:server_error,openai:cancelled',
   'anthropic: 500 then ok; openai cancelled');
ok(defined attempt_of($r->{json}, 'anthropic', 'server_error')->{retry_in_ms}, 'the 500 waited its backoff');
is(scalar(() = $llm->requests('openai')), 1, 'openai asked once');

# the hedge fails for good while the primary is still silent: the primary races again (no
# remote link is left, so a second attempt of its own); the silent attempt is cancelled, not retried
fresh();
$llm->script(openai => [{ hang => 1 }, {}], anthropic => [{ status => 500 }, { status => 500 }, { status => 500 }]);
$r = enrich();
is($r->{status}, 200, 'hedge exhausted, primary raced again -> 200');
is(outcomes($r->{json}), 'anthropic:server_error,anthropic:server_error,anthropic:server_error,'
   . 'openai:cancelled,openai:ok', 'anthropic failed its step; openai attempt 2 won, attempt 1 cancelled');
is(attempt_of($r->{json}, 'openai', 'ok')->{attempt}, 2, 'the winner is openai attempt 2');
is(scalar(() = $llm->requests('openai')), 2, 'openai asked twice');

# --- no next remote link: the hedge is a second attempt of the same provider
fresh();
$llm->script(openai => [{ hang => 1 }, {}]);
$r = enrich(providers => ['openai']);
is($r->{status}, 200, 'one provider, hedged by itself -> 200');
is(outcomes($r->{json}), 'openai:cancelled,openai:ok', 'the second attempt won, the first cancelled');
is(attempt_of($r->{json}, 'openai', 'ok')->{attempt}, 2, 'the winner is attempt 2');
is(attempt_of($r->{json}, 'openai', 'cancelled')->{attempt}, 1, 'attempt 1 cancelled');
is(scalar(() = $llm->requests('openai')), 2, 'two calls, no third');

# the hedge fails while the silent attempt still hangs: it is retried (the silent one is given up)
fresh();
$llm->script(openai => [{ hang => 1 }, { status => 500 }, {}]);
$r = enrich(providers => ['openai']);
is($r->{status}, 200, 'a failed self-hedge beside a silent attempt -> retried -> 200');
is(outcomes($r->{json}), 'openai:cancelled,openai:ok,openai:server_error',
   'attempt 2 failed, attempt 3 won, the silent attempt 1 cancelled');
is(attempt_of($r->{json}, 'openai', 'ok')->{attempt}, 3, 'the winner is attempt 3');
is(scalar(() = $llm->requests('openai')), 3, 'three calls, within the retry budget');

# --- (c) the deadline: every provider silent -> 504 problem+json, the record failed
# (openai silent; anthropic hedges it, silent too; with no next link, anthropic races itself once)
fresh();
$llm->default(openai => { hang => 1 }, anthropic => { hang => 1 });
$r = enrich(providers => ['openai', 'anthropic']);
is($r->{status}, 504, 'nothing before the deadline -> 504') or diag explain $r->{json};
like($r->{headers}{'content-type'}, qr{^application/problem\+json}, 'problem+json');
$j = $r->{json};
is($j->{type}, 'about:blank', 'type');
is($j->{title}, 'Gateway Timeout', 'title');
is($j->{status}, 504, 'status 504');
like($j->{detail}, qr/deadline/, 'detail names the deadline');
like($j->{request_id}, qr/\S/, 'request_id');
is(outcomes($j), 'anthropic:timeout,anthropic:timeout,openai:timeout', 'attempts: all three cut by the deadline');
is(scalar(grep { ($_->{detail} // '') =~ /deadline/ } @{ $j->{attempts} }), 3, 'each attempt says the deadline cut it');
is(scalar(() = $llm->requests('openai')), 1, 'openai asked once');
is(scalar(() = $llm->requests('anthropic')), 2, 'anthropic twice (the hedge and its own hedge), no more');
is(db1("select status || ' ' || outcome || ' ' || jsonb_array_length(attempts) || ' ' || (error ~ 'deadline')::text "
       . "from public.enrichments where id = '$j->{id}'"), 'failed failed 3 true', 'stored as failed, with the reason');
is(db1("select count(*) from public.enrich_breakers where failures > 0"), 0, 'the deadline says nothing to the breaker');

# the same deadline streamed: an error event with status 504
fresh();
$llm->default(openai => { hang => 1 }, anthropic => { hang => 1 });
$r = enrich(providers => ['openai', 'anthropic'], stream => JSON::PP::true);
my $ev = sse_events($r->{body});
is($ev->[-1][0], 'error', 'streamed: the last event is error');
is($ev->[-1][1]{status}, 504, 'error status 504');
like($ev->[-1][1]{detail}, qr/deadline/, 'error detail names the deadline');

# --- (d) streaming with a hedge: one provider's text only
fresh();
$llm->script(openai => [{ hang => 1 }]);
$r = enrich(stream => JSON::PP::true);
is($r->{status}, 200, 'stream, silent primary -> 200');
$ev = sse_events($r->{body});
my $done = $ev->[-1][1];
is($ev->[-1][0], 'done', 'the stream ends with done');
is($done->{provider}, 'anthropic', 'the hedge answered');
is(join('', map { $_->[1]{text} } grep { $_->[0] eq 'delta' } @$ev), $done->{enriched},
   'the deltas add up to the winner\'s text');
ok(!grep({ $_->[0] eq 'fallback' } @$ev), 'no fallback event');
is(outcomes($done), 'anthropic:ok,openai:cancelled', 'openai cancelled');

# both answer, the primary late: whichever speaks first is the only one heard
fresh();
$llm->script(openai => [{ delay_ms => 900 }], anthropic => [{ chunk_ms => 100 }]);
$r = enrich(stream => JSON::PP::true);
$ev = sse_events($r->{body});
$done = $ev->[-1][1];
is($ev->[-1][0], 'done', 'two live streams -> done');
my $text = join('', map { $_->[1]{text} } grep { $_->[0] eq 'delta' } @$ev);
is($text, $done->{enriched}, 'the deltas are exactly the winner\'s text');
like($text, qr/^\[fake-\Q$done->{provider}\E\]/, 'the text is the winner\'s');
my $other = $done->{provider} eq 'openai' ? 'anthropic' : 'openai';
unlike($text, qr/\[fake-$other\]/, "nothing of the other provider's text");
is(outcomes($done), join(',', sort("$done->{provider}:ok", "$other:cancelled")), 'the other was cancelled');

# the streamed hedge drops mid-stream: withdrawn, then the chain goes on (local), never spliced
fresh();
$llm->script(openai => [{ hang => 1 }], anthropic => [{ drop => 1 }]);
$r = enrich(stream => JSON::PP::true);
$ev = sse_events($r->{body});
$done = $ev->[-1][1];
is($ev->[-1][0], 'done', 'after a dropped stream -> done');
my @fb = grep { $_->[0] eq 'fallback' } @$ev;
is(scalar @fb, 1, 'one fallback event');
is($fb[0][1]{from}, 'anthropic', 'it withdraws anthropic\'s text');
ok($fb[0][1]{discard}, 'discard: true');
my $after = '';
for (@$ev) { $after = '' if $_->[0] eq 'fallback'; $after .= $_->[1]{text} if $_->[0] eq 'delta' }
is($after, $done->{enriched}, 'after the fallback: the new answer alone');
is($done->{provider}, 'local', 'the chain went on to the local engine');
is(outcomes($done), 'anthropic:dropped,local:ok,openai:cancelled', 'attempts');

done_testing;
