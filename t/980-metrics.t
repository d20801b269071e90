#!/usr/bin/perl
# 980-metrics.t: GET /metrics sums every worker's metrics file: exact request counter deltas by route pattern and status, consistent histograms, the database's gauges (and promptd_up 0 with it stopped), enrichment attempts and cache lookups, nginx's stub_status counters, access by loopback or the metrics token (a wrong one 401), and promtool's checks of a scrape and of deploy/prometheus.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempfile);
use Test::More;
use Promptd::Test qw(req problem_ok db1 api);
use Promptd::WebhookReceiver;

my $token = 'metrics-test-token-0123456789';
my $rx = Promptd::WebhookReceiver->new;
END { local $?; $rx->stop if $rx; }
# The stack's promptd-jobs serves the default queue only: the jobs the
# gauges count below (queue metrics-test) stay as they are.
my $s = Promptd::Test->new(PROMPTD_WORKERS => 2, PROMPTD_METRICS_TOKEN => $token,
                           PROMPTD_JOBS_QUEUES => 'default',
                           PROMPTD_OUTBOUND_ALLOW => '127.0.0.1/32', PROMPTD_WEBHOOKS_ALLOW_HTTP => 1,
                           PROMPTD_WEBHOOKS_RETRY_SCHEDULE => '0,600');

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
# Other kinds of credential (even from loopback): 403, as on every route
# that does not take them.
my ($carol, $tc) = $s->users(qw(carol));
my $key = api($tc, POST => '/api/v1/keys', json => { name => 'metrics-kind' });
is($key->{status}, 201, 'an API key to present') or diag $key->{body};
for my $cred (['a session JWT', { Authorization => "Bearer $tc" }],
              ['an API key as Bearer', { Authorization => "Bearer $key->{json}{key}" }],
              ['an API key as X-API-Key', { 'X-API-Key' => $key->{json}{key} }],
              ['Basic credentials', { Authorization => 'Basic Zm9vOmJhcg==' }]) {
    my $r = req(GET => '/metrics', headers => $cred->[1]);
    problem_ok($r, 403, "$cred->[0] on /metrics", qr/metrics token/);
    unlike($r->{body}, qr/promptd_http_requests_total/, "... and no metrics for $cred->[0]");
}

# ------------------------------------------------------------- database gauges
# Known rows, then the gauges equal them (promptd.metrics_gauges()).
$s->psql("insert into public.background_jobs (queue, job_type, state, run_at) values "
       . "('metrics-test', 'metrics.test', 'pending', now() - interval '90 seconds'), "
       . "('metrics-test', 'metrics.test', 'pending', now()), "
       . "('metrics-test', 'metrics.test', 'pending', now() + interval '1 hour'), "
       . "('metrics-test', 'metrics.test', 'dead', now()), ('metrics-test', 'metrics.test', 'succeeded', now())");
$s->psql("insert into public.enrich_breakers (provider, state, failures, opened_at) "
       . "values ('metrics-test', 'open', 5, now())");
my (undef, $g) = scrape();
is(val($g, 'promptd_up{component="database"}'), 1, 'promptd_up: the database answered');
is(val($g, 'promptd_background_jobs{type="metrics.test",state="pending"}'), 3, 'pending jobs by type (due or not)');
is(val($g, 'promptd_background_jobs{type="metrics.test",state="dead"}'), 1, 'dead jobs');
ok(!exists $g->{'promptd_background_jobs{type="metrics.test",state="succeeded"}'}, 'finished jobs are not a gauge');
my $age = val($g, 'promptd_background_jobs_oldest_due_seconds');
ok($age >= 90 && $age < 600, "the oldest due job's age ($age s; the one due in an hour is not due)");
is(val($g, 'promptd_enrich_breaker_state{state="open",provider="metrics-test"}'), 1, "a breaker's state");
my $conns = 0;
$conns += $g->{$_} for grep { /^promptd_pg_connections\{/ } keys %$g;
my $db = db1("select count(*) from pg_stat_activity where datname = current_database() "
           . "and backend_type = 'client backend'");
ok($conns >= 1 && abs($conns - $db) <= 2, "connections by state ($conns; pg_stat_activity: $db)");

# ------------------------------------------------------------- jobs and webhook attempts
# promptd-jobs keeps its own file: two noop jobs run -> +2 succeeded attempts.
my $noop = 'promptd_jobs_total{type="noop",outcome="succeeded"}';
my (undef, $j0) = scrape();
$s->psql("insert into public.background_jobs (job_type) values ('noop'), ('noop'); notify promptd_jobs");
my $j1;
ok($s->wait_for(sub { (undef, $j1) = scrape(); val($j1, $noop) - val($j0, $noop) >= 2 }, timeout => 30),
   'two noop jobs run: promptd_jobs_total{type="noop",outcome="succeeded"} +2');
is(val($j1, $noop) - val($j0, $noop), 2, '... exactly 2');
ok(val($j1, 'promptd_job_duration_seconds_count{type="noop"}') >= 2, '... and timed');

# The sender (a thread of promptd-jobs): one attempt answered 200, one 500.
my ($alice, $ta) = $s->users(qw(alice));
$rx->default('/broken', { status => 500 });
my %ep;
for my $path ('/ok', '/broken') {
    my $r = api($ta, POST => '/api/v1/webhooks', json => { url => $rx->url($path), events => ['prompt.created'] });
    is($r->{status}, 201, "an endpoint at $path") or diag $r->{body};
    $ep{$path} = $r->{json}{id};
}
my ($w0, $w1);
(undef, $w0) = scrape();
is(api($ta, POST => "/api/v1/webhooks/$ep{$_}/test")->{status}, 202, "a test event to $_") for sort keys %ep;
my %att = map { $_ => "promptd_webhook_attempts_total{result=\"$_\"}" } qw(success http_error);
ok($s->wait_for(sub { (undef, $w1) = scrape();
                      val($w1, $att{success}) > val($w0, $att{success})
                      && val($w1, $att{http_error}) > val($w0, $att{http_error}) }, timeout => 30),
   'webhook attempts counted by result: a success and an http_error')
    or diag explain [ map { $_ => [val($w0, $att{$_}), val($w1, $att{$_})] } keys %att ];
is(val($w1, $att{success}) - val($w0, $att{success}), 1, '... one success');
is(val($w1, $att{http_error}) - val($w0, $att{http_error}), 1, '... one http_error (the retry waits 600 s)');

# ------------------------------------------------------------- enrichment attempts and cache
# The local engine: one attempt that ran, then the same question from the cache.
my %en = (ok => 'promptd_enrich_attempts_total{provider="local",outcome="ok"}',
          hit => 'promptd_enrich_attempts_total{provider="local",outcome="cache_hit"}',
          timed => 'promptd_enrich_attempt_duration_seconds_count{provider="local"}',
          lookup_hit => 'promptd_enrich_cache_lookups_total{result="hit"}',
          lookup_miss => 'promptd_enrich_cache_lookups_total{result="miss"}');
my (undef, $e0) = scrape();
my $ask = { prompt => 'Write a haiku about {{season}} for a metrics dashboard.' };
my $e = api($ta, POST => '/api/v1/enrich', json => $ask);
is($e->{status}, 200, 'an enrichment by the local engine') or diag $e->{body};
$e = api($ta, POST => '/api/v1/enrich', json => $ask);
is($e->{status}, 200, 'the same question again');
ok($e->{json}{cached}, '... answered from the cache');
my (undef, $e1) = scrape();
is(val($e1, $en{$_}) - val($e0, $en{$_}), 1, "$en{$_} +1") for sort keys %en;

# ------------------------------------------------------------- nginx (stub_status)
# Between two scrapes: 4 healthz requests, the second scrape and its read
# of the status page (nginx counts its own status requests too).
my $nreq = 'promptd_nginx_http_requests_total';
my (undef, $n0) = scrape();
is(val($n0, 'promptd_up{component="nginx"}'), 1, 'promptd_up: nginx answered');
is(req(GET => '/healthz')->{status}, 200, "healthz for nginx's count $_") for 1 .. 4;
my (undef, $n1) = scrape();
is(val($n1, $nreq) - val($n0, $nreq), 6, "$nreq: +6 (4 healthz, a scrape and its status read)");
ok(val($n1, 'promptd_nginx_connections{state="active"}') >= 1, "nginx's active connections (the scrape's own at least)");
ok(val($n1, 'promptd_nginx_connections_accepted_total') >= val($n1, 'promptd_nginx_connections_handled_total')
   && val($n1, 'promptd_nginx_connections_handled_total') > 0, 'accepted >= handled > 0');
is(req(GET => '/nginx_status')->{status}, 404, 'stub_status is not on the public listener');
# Its socket gone: the scrape still answers, without nginx's series.
my $nsock = $s->var_dir . '/run/nginx-status.sock';
ok(-S $nsock, 'nginx listens on the run directory\'s status socket');
rename $nsock, "$nsock.aside" or die "rename $nsock: $!";
my $nd = req(GET => '/metrics');
rename "$nsock.aside", $nsock or die "rename back: $!";
is($nd->{status}, 200, 'no nginx status socket: GET /metrics still 200');
like($nd->{body}, qr/^promptd_up\{component="nginx"\} 0$/m, '... promptd_up{component="nginx"} 0');
unlike($nd->{body}, qr/^promptd_nginx_/m, '... and no nginx series');

# The database down: the scrape still answers, with the files' series.
$s->stack('pg-stop');
my $down = req(GET => '/metrics');
is($down->{status}, 200, 'the database stopped: GET /metrics still 200');
like($down->{body}, qr/^promptd_up\{component="database"\} 0$/m, '... promptd_up 0');
like($down->{body}, qr/^promptd_http_requests_total\{family="status"/m, '... with the request counters');
unlike($down->{body}, qr/^promptd_background_jobs\{/m, '... and no database gauge');
$s->stack('pg-start');
ok($s->wait_for(sub { req(GET => '/metrics')->{body} =~ /^promptd_up\{component="database"\} 1$/m }, timeout => 15),
   'the database back: promptd_up 1 again');
$good = req(GET => '/metrics', headers => { Authorization => "Bearer $token" });

# ------------------------------------------------------------- promtool
SKIP: {
    my $promtool = `command -v promtool 2>/dev/null`;
    chomp $promtool;
    skip 'promtool is not installed (./bootstrap installs the prometheus package)', 4 unless $promtool;
    my ($fh, $file) = tempfile(UNLINK => 1);
    print $fh $good->{body};
    close $fh;
    my $out = `$promtool check metrics < $file 2>&1`;
    is($?, 0, 'promtool check metrics accepts a live scrape') or diag $out;
    my $dir = "$FindBin::Bin/../deploy/prometheus";
    $out = `$promtool check rules $dir/alerts.yml 2>&1`;
    is($?, 0, 'promtool check rules: deploy/prometheus/alerts.yml') or diag $out;
    $out = `$promtool check config $dir/prometheus.yml 2>&1`;
    is($?, 0, 'promtool check config: deploy/prometheus/prometheus.yml') or diag $out;
    # each alert fires on the series that should raise it, and only then
    $out = `cd $dir && $promtool test rules alerts_test.yml 2>&1`;
    is($?, 0, 'promtool test rules: every alert on its cause (alerts_test.yml)') or diag $out;
}

done_testing();
