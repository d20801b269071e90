#!/usr/bin/perl
# 030-edge-real-ip.t: PROMPTD_TRUSTED_PROXIES: behind a trusted proxy the
# client address (access log, audit rows, per-address rate limits) comes from
# X-Forwarded-For; without it the header is ignored; bad settings refuse to
# start before anything runs.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use JSON::PP;
use Promptd::Test qw(db1);

# 1r/m with a burst of 1: two requests pass, a third within the minute is
# limited whatever the machine's speed.
my %slow = (PROMPTD_RATE_API => '1r/m', PROMPTD_BURST_API => 1);

# last_access($s, $agent) -> remote_addr nginx logged for that user agent
# (nginx logs after it answers: wait for the line).
sub last_access {
    my ($s, $agent) = @_;
    my $line = $s->wait_for(sub {
        (grep { index($_, $agent) >= 0 } reverse split /\n/, $s->log_tail('nginx-access', 200))[0] });
    return $line ? JSON::PP->new->decode($line)->{remote_addr} : undef;
}

sub statuses {
    my ($s, $tok, $xff, $n) = @_;
    return map { $s->request(GET => '/api/v1/prompts',
        { token => $tok, headers => { 'X-Forwarded-For' => $xff } })->{status} } 1 .. $n;
}

# ---------------------------------------------------------------- trusted
my $s = Promptd::Test->new(PROMPTD_TRUSTED_PROXIES => ' 127.0.0.1 , ::1/128', %slow);
my $alice = $s->user_create('alice@example.com');
my $tok = $s->token($alice);

my $r = $s->request(GET => '/healthz', { headers => {
    'X-Forwarded-For' => '198.51.100.7, 203.0.113.9', 'User-Agent' => 'realip-test/1' } });
is($r->{status}, 200, 'a request through the proxy -> 200');
is(last_access($s, 'realip-test/1'), '203.0.113.9',
   'access log: the nearest untrusted hop, not the proxy or a client-written hop');

$r = $s->request(PATCH => '/api/v1/me', { token => $tok, json => { display_name => 'Alice' },
    headers => { 'X-Forwarded-For' => '203.0.113.10' } });
is($r->{status}, 200, 'PATCH /me through the proxy -> 200');
is(db1("select host(address) from audit_log where action = 'profile.update'"), '203.0.113.10',
   'the audit row names the client, not the proxy');

my @a = statuses($s, $tok, '192.0.2.1', 3);
is_deeply(\@a, [200, 200, 429], 'client A: the third request within the minute is limited');
my @b = statuses($s, $tok, '192.0.2.2', 1);
is_deeply(\@b, [200], 'client B behind the same proxy has its own limit');
is(db1('select count(*) from prompts'), 0, 'reads only: no rows written');
$s->stop;

# ---------------------------------------------------------------- default
my $d = Promptd::Test->new(%slow);
my $tokd = $d->token($d->user_create('bob@example.com'));
$r = $d->request(GET => '/healthz', { headers => {
    'X-Forwarded-For' => '203.0.113.9', 'User-Agent' => 'realip-test/2' } });
is($r->{status}, 200, 'no trusted proxies: 200');
is(last_access($d, 'realip-test/2'), '127.0.0.1', 'X-Forwarded-For ignored: the peer is the client');
@a = statuses($d, $tokd, '192.0.2.1', 2);
@b = statuses($d, $tokd, '192.0.2.2', 1);
is_deeply([@a, @b], [200, 200, 429], 'a forged header does not buy a fresh limit');

# ---------------------------------------------------------------- bad settings
for my $case (
    ['10.0.0.0/8,evil;', 'PROMPTD_TRUSTED_PROXIES', qr/PROMPTD_TRUSTED_PROXIES: 'evil;' is not an address or CIDR/],
    ['10.0.0.0/8 } server {', 'PROMPTD_TRUSTED_PROXIES', qr/is not an address or CIDR/],
    ['X-Real-IP;', 'PROMPTD_REAL_IP_HEADER', qr/PROMPTD_REAL_IP_HEADER: 'X-Real-IP;' is not a header name/],
) {
    my ($value, $name, $re) = @$case;
    my $var = tempdir('promptd-test-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my %env = (PROMPTD_VAR_DIR => $var, PROMPTD_TRUSTED_PROXIES => '10.0.0.1', $name => $value);
    my ($rc, $out) = $d->_run([$d->{stack}, 'start'], env => \%env);
    is($rc, 1, "$name='$value': start fails");
    like($out, $re, '  saying which setting and why');
    ok(!-e "$var/run/nginx.pid" && !-d "$var/pg", '  before starting anything');
}
$d->stop;

done_testing;
