#!/usr/bin/perl
# 803-quota-enrich.t: enrichments against enrich_per_day and tokens_per_month: held before the run (429 when spent, nothing written), settled with the provider's usage after it, released when it fails; through the gateway (JSON, events, async jobs) and in the worker (the local engine); RateLimit fields on each answer.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Promptd::FakeLLM;
use Promptd::Test qw(db1 api);
use Promptd::SF qw(sf_list);

my $llm = Promptd::FakeLLM->new;
my $s = Promptd::Test->new(
    quotas => 1,
    PROMPTD_ENRICH_PROVIDERS => 'openai,local',
    PROMPTD_OPENAI_BASE_URL => $llm->openai_url,
    PROMPTD_OPENAI_API_KEY => 'sk-server-openai',
    PROMPTD_ENRICH_RETRIES => 0,
);
my ($alice, $ta, $bob, $tb, $carol, $tc, $dave, $td) = $s->users(qw(alice bob carol dave));
$s->promptctl('quota', 'set', $alice, 'enrich_per_day=3');
$s->promptctl('quota', 'set', $bob, 'enrich_per_day=5');
$s->promptctl('quota', 'set', $carol, 'tokens_per_month=10');
$s->promptctl('quota', 'set', $dave, 'enrich_per_day=1');

my $n = 0;
sub enrich {
    my ($tok, %o) = @_;
    my $h = delete $o{headers} || {};
    return $s->request(POST => '/api/v1/enrich', { token => $tok,
        headers => { 'Cache-Control' => 'no-cache', %$h },
        json => { prompt => 'Summarise the incident report for {{team}} #' . ++$n, %o } });
}
# enrich_per_day's fields on an answer: [q, w, r, t] or undef.
sub per_day {
    my ($r) = @_;
    my ($pol) = grep { $_->{value} eq 'enrich_per_day' } @{ sf_list($r->{headers}{'ratelimit-policy'}) || [] };
    my ($lim) = grep { $_->{value} eq 'enrich_per_day' } @{ sf_list($r->{headers}{'ratelimit'}) || [] };
    return undef unless $pol && $lim;
    return [$pol->{params}{q}[1], $pol->{params}{w}[1], $lim->{params}{r}[1], $lim->{params}{t}[1]];
}
# "used reserved" of user's counter for resource (the current window).
sub counter {
    my ($user, $res) = @_;
    return db1("select coalesce(sum(used), 0) || ' ' || coalesce(sum(reserved), 0) "
               . "from promptd.quota_counters where user_id = '$user' and resource = '$res'");
}
sub holds {
    my ($user, $state) = @_;
    return db1("select count(*) from promptd.quota_reservations where user_id = '$user' and state = '$state'");
}
sub records { db1("select count(*) from public.enrichments where user_id = '$_[0]'") }

# --- enrich_per_day: three through the gateway, each counted once its answer is stored
for my $i (1 .. 3) {
    my $r = enrich($ta);
    is($r->{status}, 200, "alice's enrichment $i -> 200") or diag explain $r;
    is($r->{json}{provider}, 'openai', '... from the model');
    my $f = per_day($r);
    is_deeply($f && [@$f[0, 1, 2]], [3, 86400, 3 - $i], "... RateLimit fields: q=3, w=86400, r=" . (3 - $i))
        or diag explain $r->{headers};
    ok($f && $f->[3] > 0 && $f->[3] <= 86400, '... and t, the seconds to the next day');
}
is(counter($alice, 'enrich_per_day'), '3 0', 'three enrichments used, nothing still held');
my $tokens = db1("select sum(tokens_in + tokens_out) from public.enrichments where user_id = '$alice'");
ok($tokens > 0, "the model's usage was recorded ($tokens tokens)");
is(counter($alice, 'tokens_per_month'), "$tokens 0", 'tokens_per_month counts exactly the usage billed');
is(holds($alice, 'settled'), 6, 'six holds settled (a day and a token hold per run)');
my $before = records($alice);
my $r = enrich($ta);
is($r->{status}, 429, 'the fourth -> 429') or diag explain $r;
like($r->{headers}{'content-type'} // '', qr{^application/problem\+json}, '... problem+json');
is($r->{json}{type}, 'https://promptd.dev/problems/quota/enrich_per_day', '... typed enrich_per_day');
is($r->{json}{limit}, 3, '... naming the limit');
ok($r->{headers}{'retry-after'} > 0, '... with Retry-After');
is(records($alice), $before, '... and no record written');
is(counter($alice, 'enrich_per_day'), '3 0', '... nor anything counted');
$r = enrich($ta, async => JSON::PP::true);
is($r->{status}, 429, 'an async one too -> 429');

# --- a failed run gives its holds back
$llm->script(openai => [{ status => 500 }]);
$r = enrich($tb, providers => ['openai']);
is($r->{status}, 502, "bob's enrichment fails at the model -> 502") or diag explain $r;
is(counter($bob, 'enrich_per_day'), '0 0', 'its enrich_per_day hold was released');
is(counter($bob, 'tokens_per_month'), '0 0', '... and its token hold');
is(holds($bob, 'released'), 2, 'two holds released');
is(records($bob), 1, 'the failed run is still recorded');

# --- events through the gateway carry the fields too
$r = enrich($tb, headers => { Accept => 'text/event-stream' });
is($r->{status}, 200, 'a streamed enrichment -> 200');
like($r->{body}, qr/event: done/, '... ending with done');
is_deeply(per_day($r) && [@{ per_day($r) }[0, 2]], [5, 4], '... with enrich_per_day r=4 of 5');
ok($s->wait_for(sub { counter($bob, 'enrich_per_day') eq '1 0' }, timeout => 10), '... counted once stored');

# --- tokens_per_month: the estimate must fit; the local engine costs no tokens
$r = enrich($tc);
is($r->{status}, 429, "carol's 10 tokens cannot hold a model call -> 429") or diag explain $r;
is($r->{json}{type}, 'https://promptd.dev/problems/quota/tokens_per_month', '... typed tokens_per_month');
is(records($carol), 0, '... no record');
$r = enrich($tc, providers => ['local']);
is($r->{status}, 200, 'the local engine still answers her') or diag explain $r;
is($r->{json}{provider}, 'local', '... locally, in the worker');
is(counter($carol, 'tokens_per_month'), '0 0', '... costing no tokens');
is(counter($carol, 'enrich_per_day'), '1 0', '... but one enrichment');

# --- async: held at submission, settled by the gateway's job (the model
# takes 3 s: it is still held when the 202 comes back)
$llm->script(openai => [{ delay_ms => 3000 }]);
$r = enrich($td, async => JSON::PP::true);
is($r->{status}, 202, "dave's async enrichment -> 202") or diag explain $r;
ok(per_day($r), '... with the RateLimit fields');
is(counter($dave, 'enrich_per_day'), '0 1', 'held while queued');
ok($s->wait_for(sub { counter($dave, 'enrich_per_day') eq '1 0' }, timeout => 20), 'settled once done');
is(db1("select status from public.enrichments where user_id = '$dave'"), 'done', '... the job done');
$r = enrich($td);
is($r->{status}, 429, 'his quota of 1 is spent -> 429');

# --- /api/v1/usage shows it
my $u = api($ta, GET => '/api/v1/usage');
my ($day) = grep { $_->{resource} eq 'enrich_per_day' } @{ $u->{json}{resources} || [] };
is($day && $day->{used}, 3, "alice's usage shows 3 enrichments today") or diag explain $u->{json};

done_testing;
