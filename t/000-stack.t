#!/usr/bin/perl
# 000-stack.t: the edge works: nginx + status workers, TLS, headers, CORS, limits, problem+json, access log.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Promptd::Test;

my $s = Promptd::Test->new(PROMPTD_MAX_BODY => 4096);
my $allowed = 'https://app.example.com';

# /healthz over HTTP: JSON, a request id, the edge's security headers, no HSTS.
my $r = $s->request(GET => '/healthz');
is($r->{status}, 200, 'GET /healthz -> 200');
like($r->{headers}{'content-type'}, qr{^application/json}, 'healthz is JSON');
is($r->{json}{status}, 'ok', 'healthz body {"status":"ok"}');
my $rid = $r->{headers}{'x-request-id'};
like($rid // '', qr/^[0-9a-f]{32}$/, 'X-Request-Id present');
is($r->{headers}{'x-content-type-options'}, 'nosniff', 'X-Content-Type-Options');
is($r->{headers}{'x-frame-options'}, 'DENY', 'X-Frame-Options');
like($r->{headers}{'referrer-policy'} // '', qr/^(no-referrer|strict-origin-when-cross-origin)$/, 'Referrer-Policy');
ok(!exists $r->{headers}{'strict-transport-security'}, 'no HSTS over plain HTTP');
ok(!exists $r->{headers}{'access-control-allow-origin'}, 'no CORS without an Origin');

my $r2 = $s->request(GET => '/healthz');
isnt($r2->{headers}{'x-request-id'}, $rid, 'each request gets its own id');

# The request id reaches the access log, one JSON object per line.
my $line = $s->wait_for(sub {
    (grep { ($_->{request_id} // '') eq $rid } @{ $s->access_log })[0];
});
ok($line, 'access log has the request id') or diag $s->log_tail('nginx-access');
is($line->{status}, 200, 'access log: status');
is($line->{method}, 'GET', 'access log: method');
is($line->{uri}, '/healthz', 'access log: uri');
like($line->{request_time} // '', qr/^\d+(?:\.\d+)?$/, 'access log: request_time (seconds)');
ok(exists $line->{upstream_response_time}, 'access log: upstream_response_time');

# /readyz answers from the status family (DB reachable after migrations).
$r = $s->request(GET => '/readyz');
is($r->{status}, 200, 'GET /readyz -> 200') or diag $r->{body};
is($r->{json}{status}, 'ready', 'readyz body status ready');

# HTTPS: same answers plus HSTS.
$r = $s->request(GET => '/healthz', { tls => 1 });
is($r->{status}, 200, 'GET /healthz over TLS -> 200') or diag $r->{error} // $r->{body};
like($r->{headers}{'strict-transport-security'} // '', qr/max-age=\d+/, 'HSTS over TLS');
like($r->{headers}{'x-request-id'} // '', qr/^[0-9a-f]{32}$/, 'X-Request-Id over TLS');
is($r->{headers}{'x-content-type-options'}, 'nosniff', 'security headers over TLS');

# CORS preflight from an allowed origin: 204 from nginx, never a worker.
my %pre = ('Origin' => $allowed, 'Access-Control-Request-Method' => 'PATCH',
           'Access-Control-Request-Headers' => 'authorization, content-type, if-match');
$r = $s->request(OPTIONS => '/api/v1/prompts', { headers => \%pre });
is($r->{status}, 204, 'preflight -> 204');
is($r->{headers}{'access-control-allow-origin'}, $allowed, 'preflight echoes the allowed origin');
is($r->{headers}{'access-control-allow-credentials'}, 'true', 'preflight allows credentials');
like($r->{headers}{'access-control-allow-methods'} // '', qr/\bPATCH\b/, 'Allow-Methods has PATCH');
for my $h (qw(Authorization Content-Type If-Match If-None-Match Idempotency-Key apikey X-Client-Info)) {
    like($r->{headers}{'access-control-allow-headers'} // '', qr/\b\Q$h\E\b/i, "Allow-Headers has $h");
}
like($r->{headers}{'access-control-max-age'} // '', qr/^\d+$/, 'preflight Max-Age');
like(join(',', $r->{headers}{vary} // ''), qr/\bOrigin\b/, 'Vary: Origin');

$r = $s->request(OPTIONS => '/api/v1/prompts/00000000-0000-0000-0000-000000000000',
    { headers => { %pre, Origin => 'https://evil.example.net' } });
ok(!exists $r->{headers}{'access-control-allow-origin'}, 'disallowed origin: no Allow-Origin');
ok(!exists $r->{headers}{'access-control-allow-credentials'}, 'disallowed origin: no Allow-Credentials');

# A simple request from an allowed origin exposes the API's headers.
$r = $s->request(GET => '/healthz', { headers => { Origin => $allowed } });
is($r->{headers}{'access-control-allow-origin'}, $allowed, 'GET from an allowed origin: Allow-Origin');
like($r->{headers}{'access-control-expose-headers'} // '', qr/\bETag\b.*\bX-Request-Id\b/, 'Expose-Headers');
ok(!exists $r->{headers}{'access-control-allow-methods'}, 'no preflight headers on a simple request');

# Body over PROMPTD_MAX_BODY: 413 problem+json from nginx.
$r = $s->request(POST => '/api/v1/prompts',
    { body => '{"title":"' . ('x' x 8192) . '"}', headers => { 'Content-Type' => 'application/json' } });
is($r->{status}, 413, 'oversized body -> 413');
like($r->{headers}{'content-type'} // '', qr{^application/problem\+json}, '413 is problem+json');
is($r->{json}{status}, 413, '413 problem status');
is($r->{json}{request_id}, $r->{headers}{'x-request-id'}, '413 problem carries the request id');

# Unknown path: 404 problem+json without a worker.
$r = $s->request(GET => '/no/such/thing');
is($r->{status}, 404, 'unknown path -> 404');
like($r->{headers}{'content-type'} // '', qr{^application/problem\+json}, '404 is problem+json');
is($r->{json}{status}, 404, '404 problem status');
ok($r->{json}{title}, '404 problem title');
is($r->{json}{request_id}, $r->{headers}{'x-request-id'}, '404 problem carries the request id');
is($r->{headers}{'x-frame-options'}, 'DENY', 'security headers on nginx errors too');

# Workers run under multiwatch, which respawns a killed one.
my @before = $s->worker_pids('status');
ok(@before >= 1, 'status workers running');
kill 'KILL', $before[0];
my $respawned = $s->wait_for(sub {
    my @now = $s->worker_pids('status');
    @now == @before && !grep { $_ == $before[0] } @now;
});
ok($respawned, 'a killed worker is respawned');
is($s->request(GET => '/healthz')->{status}, 200, 'healthz after the respawn');

# A family with no workers at all: 502 problem+json from nginx.
open(my $fh, '<', $s->var_dir . '/run/status.pid') or die $!;
chomp(my $mw = <$fh>);
kill 'TERM', $mw;
$s->wait_for(sub { !$s->worker_pids('status') && !running($mw) });
$r = $s->request(GET => '/healthz');
is($r->{status}, 502, 'no workers -> 502');
like($r->{headers}{'content-type'} // '', qr{^application/problem\+json}, '502 is problem+json');
is($r->{json}{status}, 502, '502 problem status');

$s->stop;
ok(!-e $s->var_dir . '/run/nginx.pid', 'stop removes the nginx pid file');

# Rate limiting: the api zone answers 429 problem+json with Retry-After.
my $lim = Promptd::Test->new(PROMPTD_RATE_API => '1r/s', PROMPTD_BURST_API => 1);
my @st = map { $lim->request(GET => '/api/v1/prompts') } 1 .. 6;
my ($limited) = grep { $_->{status} == 429 } @st;
ok($limited, 'a burst over the api rate gets 429') or diag join ' ', map { $_->{status} } @st;
like($limited->{headers}{'content-type'} // '', qr{^application/problem\+json}, '429 is problem+json');
is($limited->{json}{status}, 429, '429 problem status');
like($limited->{headers}{'retry-after'} // '', qr/^\d+$/, '429 has Retry-After');
is($lim->request(GET => '/healthz')->{status}, 200, 'health probes are not rate limited');
$lim->stop;

done_testing;

# running($pid): the process exists and is not a zombie.
sub running {
    my ($pid) = @_;
    open(my $st, '<', "/proc/$pid/stat") or return 0;
    return <$st> !~ /\)\s+Z/;
}
