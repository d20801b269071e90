#!/usr/bin/perl
# 981-prometheus.t: PROMPTD_PROMETHEUS=1 starts Debian's Prometheus beside the stack, on loopback, as the service user: it scrapes GET /metrics (target up, the stack's series queryable), loads deploy/prometheus/alerts.yml, and stops with the stack.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use HTTP::Tiny;
use JSON::PP;
use Test::More;
use Promptd::Test qw(req);

plan skip_all => 'prometheus is not installed (./bootstrap installs the prometheus package)'
    unless `command -v prometheus 2>/dev/null`;

my ($port) = Promptd::Test::_free_ports(1);
my $s = Promptd::Test->new(PROMPTD_PROMETHEUS => 1, PROMPTD_PROMETHEUS_PORT => $port,
                           PROMPTD_WORKERS => 1, PROMPTD_JOBS_DAEMONS => 0);
my $http = HTTP::Tiny->new(timeout => 5);
my $base = "http://127.0.0.1:$port";

# api($path) -> the decoded "data" of a Prometheus HTTP API answer, or undef
sub api {
    my $r = $http->get("$base$_[0]");
    return undef unless $r->{success};
    my $j = eval { decode_json($r->{content}) } or return undef;
    return ($j->{status} // '') eq 'success' ? $j->{data} : undef;
}

my $pidfile = $s->var_dir . '/run/prometheus.pid';
ok(-s $pidfile, 'its pid file');
open(my $fh, '<', $pidfile) or die "$pidfile: $!";
my ($pid) = <$fh> =~ /(\d+)/;
close $fh;
ok(kill(0, $pid), "prometheus runs ($pid)");
is((stat "/proc/$pid")[4], (getpwnam($s->env->{PROMPTD_USER} // 'promptd'))[2] // $<,
   '... as the service user') if $< == 0;
is($http->get("$base/-/ready")->{status}, 200, 'ready on 127.0.0.1');

is(req(GET => '/healthz')->{status}, 200, 'some traffic') for 1 .. 3;
my $up;
ok($s->wait_for(sub {
    my $t = api('/api/v1/targets') or return 0;
    ($up) = grep { ($_->{labels}{job} // '') eq 'promptd' } @{ $t->{activeTargets} || [] };
    $up && $up->{health} eq 'up';
}, timeout => 30), 'the promptd target is scraped and up') or diag explain $up;
is($up->{scrapeUrl}, 'http://127.0.0.1:' . $s->http_port . '/metrics', "... this stack's GET /metrics");

my $q;
ok($s->wait_for(sub {
    $q = api('/api/v1/query?query=' . 'promptd_http_requests_total%7Bfamily%3D%22status%22%2Croute%3D%22%2Fhealthz%22%7D');
    $q && @{ $q->{result} } && $q->{result}[0]{value}[1] >= 3;
}, timeout => 30), 'the healthz requests are in Prometheus') or diag explain $q;
$q = api('/api/v1/query?query=promptd_up');
is($q && $q->{result}[0]{value}[1], '1', 'promptd_up 1 (the database answers)');

my $rules = api('/api/v1/rules');
my @names = map { $_->{name} } map { @{ $_->{rules} } } @{ $rules->{groups} || [] };
ok((grep { $_ eq 'PromptdDatabaseDown' } @names) && (grep { $_ eq 'PromptdHighErrorRate' } @names),
   'the alert rules of deploy/prometheus are loaded (' . scalar(@names) . ')');

$s->stop;
ok(!kill(0, $pid) || !-e "/proc/$pid" || (`ps -o stat= -p $pid` =~ /Z/), 'stopped with the stack');
ok(!$http->get("$base/-/ready")->{success}, '... and no longer answers');

done_testing();
