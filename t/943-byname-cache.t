#!/usr/bin/perl
# 943-byname-cache.t: nginx keeps the fetch by name for PROMPTD_BYNAME_CACHE_SECONDS, per credential and URL: repeated fetches are HITs, another credential is not served the entry, conditional requests stay right, a moved label shows once the entry expires, errors are not kept; 0 turns it off.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Promptd::Test qw(db1 api);

my $s = Promptd::Test->new(PROMPTD_JOBS_DAEMONS => 0, PROMPTD_BYNAME_CACHE_SECONDS => 1);
my $u = $s->user_create('cache@example.com');
my $t1 = $s->token($u);
my $eve = $s->token($s->user_create('eve@example.com'));
my $p = api($t1, POST => '/api/v1/prompts', json => { name => 'cached/one', title => 't', content => 'v1' })->{json};
api($t1, PATCH => "/api/v1/prompts/$p->{id}", json => { content => 'v2' });
api($t1, PUT => "/api/v1/prompts/$p->{id}/labels/production", json => { version => 1 });
my $url = '/api/v1/prompts/by-name/cached/one';
sub fetch { api($_[0], GET => $url, %{ $_[1] // {} }) }

# min_uses 2: the second fetch stores the entry, a later one is served from it
my @st;
for (1 .. 6) {
    my $r = fetch($t1);
    is($r->{status}, 200, "fetch $_: 200") or diag $r->{body};
    push @st, $r->{headers}{'x-cache-status'} // '';
    last if $st[-1] eq 'HIT';
}
is($st[0], 'MISS', 'the first fetch reaches the worker');
is($st[-1], 'HIT', 'a repeated fetch is served by nginx (' . join(' ', @st) . ')');
my $hit = fetch($t1);
is($hit->{json}{version}, 1, '... with the same answer');
unlike(join(',', keys %{ $hit->{headers} }), qr/x-accel-expires/i, '... and without the worker\'s X-Accel-Expires');
my $key = api($t1, POST => '/api/v1/keys', json => { name => 'k', scopes => ['prompts:read'] })->{json}{key};
my $r = $s->request(GET => $url, { headers => { "X-API-Key" => $key } });
is_deeply([ $r->{status}, $r->{headers}{'x-cache-status'} ], [200, 'MISS'],
          "another credential of the same user is not served the entry");
$r = fetch($eve);
is($r->{status}, 404, 'nor is another user: 404 from the worker');
isnt($r->{headers}{'x-cache-status'} // '', 'HIT', '... never a HIT');

# conditional requests: 304 for the current ETag, the body without one
my $etag = $hit->{headers}{etag};
is(fetch($t1, { headers => { 'If-None-Match' => $etag } })->{status}, 304, 'If-None-Match with the ETag: 304');
$r = fetch($t1);
is_deeply([ $r->{status}, $r->{json}{version} ], [200, 1], '... and a plain fetch after it still has the body');

# a moved label shows once the entry expires (1 s), without anyone purging it
api($t1, PUT => "/api/v1/prompts/$p->{id}/labels/production", json => { version => 2 });
ok($s->wait_for(sub { fetch($t1)->{json}{version} == 2 }, timeout => 10), 'the moved label is served within the cache time');

# errors are not kept: a label that does not exist yet, then set
my $q = "$url?label=beta";
is(api($t1, GET => $q)->{status}, 404, 'no beta yet: 404') for 1 .. 2;
api($t1, PUT => "/api/v1/prompts/$p->{id}/labels/beta", json => { version => 2 });
is(api($t1, GET => $q)->{status}, 200, 'beta set: 200 at once (no 404 was kept)');

# the default (PROMPTD_BYNAME_CACHE_SECONDS=0): no cache at all; conditional requests reach the worker
my $s0 = Promptd::Test->new(PROMPTD_JOBS_DAEMONS => 0);
my $u0 = $s0->user_create('nocache@example.com');
my $t0 = $s0->token($u0);
my $p0 = $s0->request(POST => '/api/v1/prompts', { token => $t0, json => { name => 'n/c', title => 't', content => 'x' } })->{json};
$s0->request(PUT => "/api/v1/prompts/$p0->{id}/labels/production", { token => $t0, json => { version => 1 } });
my @seen = map { $s0->request(GET => '/api/v1/prompts/by-name/n/c', { token => $t0 })->{headers}{'x-cache-status'} // '' } 1 .. 4;
ok(!(grep { $_ eq 'HIT' } @seen), 'by default: never a HIT (' . join(' ', @seen) . ')');
$r = $s0->request(GET => '/api/v1/prompts/by-name/n/c', { token => $t0 });
is($s0->request(GET => '/api/v1/prompts/by-name/n/c', { token => $t0, headers => { 'If-None-Match' => $r->{headers}{etag} } })->{status},
   304, '... and If-None-Match still gets 304 (from the worker)');

done_testing;
