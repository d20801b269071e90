#!/usr/bin/perl
# 980-metrics.t: GET /metrics sums every worker's metrics file: exact request counter deltas by route pattern and status, consistent histograms, access by loopback or the metrics token (a wrong one 401), and promtool's checks.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempfile);
use Test::More;
use Promptd::Test qw(req problem_ok);

my $token = 'metrics-test-token-0123456789';
my $s = Promptd::Test->new(PROMPTD_WORKERS => 2, PROMPTD_METRICS_TOKEN => $token);

# scrape() -> (body, {series => value}); the text must be the 0.0.4 format.
sub scrape {
    my $r = req(GET => '/metrics');
    is($r->{status}, 200, 'GET /metrics from loopback -> 200') or diag $r->{body};
    my %v;
    for (split /\n/, $r->{body}) {
        next if /^#/ || !length;
        my ($k, $val) = /^(\S+(?:\{.*\})?) (\S+)$/ or next;
        $v{$k} = $val;
    }
    return ($r, \%v);
}
sub val { $_[0]{$_[1]} // 0 }

my $hz = 'promptd_http_requests_total{family="status",route="/healthz",method="GET",status="200"}';
my $nf = 'promptd_http_requests_total{family="keys",route="unmatched",method="GET",status="404"}';
my ($r0, $before) = scrape();
like($r0->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4; charset=utf-8$}, 'the exposition content type');
is($r0->{headers}{'cache-control'}, 'no-store', 'never cached');
like($r0->{body}, qr/^# TYPE promptd_metrics_dropped_series_total counter$/m, 'the dropped-series counter is there');

# ------------------------------------------------------------- known traffic
is(req(GET => '/healthz')->{status}, 200, "healthz $_") for 1 .. 5;
is(req(GET => '/api/v1/keys/no/such/route')->{status}, 404, "a path no keys route matches $_") for 1 .. 3;

my ($r1, $after) = scrape();
is(val($after, $hz) - val($before, $hz), 5, '5 more /healthz 200s, by route pattern');
is(val($after, $nf) - val($before, $nf), 3, '3 more unmatched 404s (route "unmatched", not the path)');
ok(!grep({ /no\/such/ } keys %$after), 'the raw path is never a label');

my $h = 'promptd_http_request_duration_seconds';
my $lab = 'family="status",route="/healthz"';
my $count = val($after, "${h}_count{$lab}");
ok($count >= 5, "the histogram counted the healthz requests ($count)");
is(val($after, "${h}_bucket{$lab,le=\"+Inf\"}"), $count, '+Inf bucket equals _count');
my @b = map { val($after, "${h}_bucket{$lab,le=\"$_\"}") }
    qw(0.001 0.0025 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 +Inf);
is_deeply([sort { $a <=> $b } @b], \@b, 'buckets are cumulative');
ok(val($after, "${h}_sum{$lab}") > 0, '_sum is positive');
is($r1->{body} =~ tr/\n// > 0 && scalar(() = $r1->{body} =~ /^# TYPE \Q$h\E histogram$/mg), 1,
   'one # TYPE line per family');

# ------------------------------------------------------------- access
my $bad = req(GET => '/metrics', headers => { Authorization => 'Bearer wrong' });
problem_ok($bad, 401, 'a wrong metrics token', qr/metrics token/);
my $good = req(GET => '/metrics', headers => { Authorization => "Bearer $token" });
is($good->{status}, 200, 'the metrics token -> 200');
like($good->{body}, qr/^promptd_http_requests_total\{/m, 'and the metrics');
my $sess = req(GET => '/metrics', headers => { Authorization => 'Basic Zm9vOmJhcg==' });
problem_ok($sess, 401, 'another kind of credential');

# ------------------------------------------------------------- promtool
SKIP: {
    my $promtool = `command -v promtool 2>/dev/null`;
    chomp $promtool;
    skip 'promtool is not installed (./bootstrap installs the prometheus package)', 1 unless $promtool;
    my ($fh, $file) = tempfile(UNLINK => 1);
    print $fh $good->{body};
    close $fh;
    my $out = `$promtool check metrics < $file 2>&1`;
    is($?, 0, 'promtool check metrics accepts a live scrape') or diag $out;
}

done_testing();
