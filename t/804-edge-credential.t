#!/usr/bin/perl
# 804-edge-credential.t: nginx's per-credential rate zone (issue 13, layer 1): keyed by an API key's display prefix or a bearer token's signature, unverified, beside the per-address zone; a refusal is nginx's 429 problem before any worker (no quota counted); requests without a credential are not counted there.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Promptd::Test qw(db1 api);

# 1 request a minute with a burst of 2: the first three pass at once, the
# fourth within the minute is refused however slow the machine.
my $s = Promptd::Test->new(PROMPTD_WORKERS => 1, quotas => 1,
                           PROMPTD_RATE_CREDENTIAL => '1r/m', PROMPTD_BURST_CREDENTIAL => 2);
my ($alice, $ta, $bob, $tb) = $s->users(qw(alice bob));
my $k = $s->request(POST => '/api/v1/keys', { token => $tb, json => { name => 'k', scopes => ['prompts:read'] } });
is($k->{status}, 201, "bob's API key (his token's first request)") or diag explain $k;
my $key = $k->{json}{key};
like($key // '', qr/^pmtd_/, '... in the pmtd_ format');

sub hits { db1("select coalesce(sum(promptd.quota_counter_used(used, seq, base, lim)), 0) from promptd.quota_counters "
               . "where user_id = '$_[0]' and resource = 'requests_per_minute'") }

my @st = map { api($ta, GET => '/api/v1/prompts')->{status} } 1 .. 3;
is_deeply(\@st, [200, 200, 200], "alice's token: three requests pass");
my $counted = hits($alice);
my $r = api($ta, GET => '/api/v1/prompts');
is($r->{status}, 429, 'the fourth within the minute -> 429');
like($r->{headers}{'content-type'} // '', qr{^application/problem\+json}, '... problem+json');
like($r->{json}{detail} // '', qr/rate limit/, '... saying rate limit');
is($r->{headers}{'retry-after'}, '1', '... with Retry-After');
is(hits($alice), $counted, '... refused by nginx: no worker counted it');

is(api($tb, GET => '/api/v1/prompts')->{status}, 200, "bob's token from the same address still passes");
@st = map { api($key, GET => '/api/v1/prompts')->{status} } 1 .. 3;
is_deeply(\@st, [200, 200, 200], "bob's API key is a credential of its own: three pass");
is(api($key, GET => '/api/v1/prompts')->{status}, 429, '... then 429');
is(api($ta, GET => '/api/v1/prompts')->{status}, 429, 'her token is still refused');

@st = map { api(undef, GET => '/api/v1/prompts')->{status} } 1 .. 6;
is_deeply(\@st, [(401) x 6], 'no credential: not counted by this zone (401 each time, never 429)');
@st = map { $s->request(GET => '/api/v1/prompts', { headers => { Authorization => 'Bearer x' } })->{status} } 1 .. 6;
is_deeply(\@st, [(401) x 6], 'a bearer that is neither a key nor a JWT: not counted either');

done_testing;
