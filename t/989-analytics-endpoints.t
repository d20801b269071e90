#!/usr/bin/perl
# 989-analytics-endpoints.t: the endpoint statistics: real traffic through nginx, the metrics files' snapshot (promptctl reqstats snapshot, and promptd-jobs' own tick) into request_stats_minute, exact counts per family/route from GET /api/v1/admin/analytics/endpoints and the overview, quantiles inside the right buckets, no double count (no traffic, a worker restart, a counter reset, a removed file), two nodes adding up, retention, bad parameters, access control and the quantile interpolation itself.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Copy qw(copy);
use File::Temp qw(tempdir);
use JSON::PP;
use POSIX qw(strftime);
use Test::More;
use Promptd::Test qw(req db1 problem_ok);

# No jobs daemon: the snapshots are this suite's (one is started on purpose below).
my $s = Promptd::Test->new(PROMPTD_JOBS_DAEMONS => 0, PROMPTD_WORKERS => 2);
my ($admin, $atok, $alice, $altok) = $s->users('admin', 'alice');
$s->promptctl('user', 'admin', 'admin@example.com', 'on');
my $MDIR = $s->var_dir . '/run/metrics';
my @BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10);   # src/core/metrics.c

# snap(node, dir, %env) -> the snapshot's answer (promptctl reqstats snapshot).
sub snap {
    my ($node, $dir, %env) = @_;
    my ($rc, $out, $err) = $s->_run([$s->{promptctl}, 'reqstats', 'snapshot'], separate => 1,
        env => { PROMPTD_NODE_NAME => $node, PROMPTD_METRICS_DIR => $dir // $MDIR, %env });
    die "promptctl reqstats snapshot failed ($rc): $err$out" if $rc;
    return decode_json($out);
}
# The stack's /healthz count over every metrics file (a scrape of /metrics):
# a worker records a request just after answering it, so a suite that
# reads the files itself waits for the count it expects.
sub healthz_count {
    my ($line) = req(GET => '/metrics')->{body} =~
        /^promptd_http_requests_total\{family="status",route="\/healthz",method="GET",status="200"\} (\d+)$/m;
    return $line // 0;
}
sub get { my ($tok, $path) = @_; $s->request(GET => $path, $tok ? { token => $tok } : {}) }
# The range: the current hour and the next (the snapshots' minutes fall in it).
my $t0 = time;
my $FROM = strftime('%Y-%m-%dT%H:00:00Z', gmtime($t0 - 3600));
my $TO = strftime('%Y-%m-%dT%H:00:00Z', gmtime($t0 + 7200));
sub endpoints {
    my $r = get($atok, "/api/v1/admin/analytics/endpoints?from=$FROM&to=$TO&granularity=hour");
    is($r->{status}, 200, 'GET endpoints -> 200') or diag $r->{body};
    return $r->{json} || {};
}
sub route_of { my ($e, $fam, $route) = @_; (grep { $_->{family} eq $fam && $_->{route} eq $route } @{ $e->{endpoints} })[0] }
sub reqs { my $x = route_of(endpoints(), @_); $x ? $x->{requests} : 0 }
sub no_negative {
    is(db1(q{select count(*) from promptd.request_stats_minute m where m.requests < 0 or m.status_4xx < 0
              or m.status_5xx < 0 or exists (select 1 from unnest(m.buckets) n where n < 0)}), 0, "$_[0]: no negative value");
}

# ------------------------------------------------------------ the quantile
my $B = "'{" . join(',', @BOUNDS) . "}'::float8[]";
for (
    ['{0,0,0,0,10,0,0,0,0,0,0,0,0,0}', 0.5, 17.5, 'all in (10, 25] ms: the middle'],
    ['{10,0,0,0,0,0,0,0,0,0,0,0,0,0}', 0.5, 0.5, 'the first bucket interpolates from 0'],
    ['{0,0,0,0,0,0,0,0,0,0,0,0,0,4}', 0.99, 10000, 'a rank in +Inf: the highest finite bound'],
    ['{5,0,0,0,0,0,0,0,0,0,0,0,0,5}', 0.5, 1, 'rank 5 of 10 ends the first bucket'],
    ['{0,0,0,0,0,0,0,0,0,0,0,0,0,0}', 0.5, undef, 'no observations: null'],
    ['{1,1,1,1,1,1,1,1,1,1,1,1,1,1}', 0.95, 10000, '0.95 of 14 is in +Inf'],
    ['{0,0,0,0,0,0,0,0,0,100,0,0,0,0}', 0.95, 975, 'p95 of 100 in (500 ms, 1 s]'],
) {
    my ($b, $q, $want, $name) = @$_;
    my $got = db1("select promptd.request_stats_quantile($q, '$b'::bigint[], $B)");
    if (defined $want) { cmp_ok(abs($got - $want), '<', 0.0005, "quantile: $name ($got)") }
    else { is($got, undef, "quantile: $name") }
}
is(db1(q{select promptd.request_stats_add('{1,2,3}', '{10,20,30}')::text}), '{11,22,33}', 'request_stats_add');

# ------------------------------------------------------------ a baseline, then known traffic
my $b0 = snap('node-a');
ok($b0->{baseline}, "a node's first snapshot is a baseline") or diag explain $b0;
is($b0->{rows}, 0, '... writing no row');
cmp_ok($b0->{series}, '>', 0, "... of the stack's series ($b0->{series})");
is(db1('select count(*) from promptd.request_stats_minute'), 0, 'no minute row yet');
is(db1(q{select count(*) from promptd.request_stats_state where node = 'node-a'}), $b0->{series}, 'the state holds every series');

is(req(GET => '/healthz')->{status}, 200, "healthz $_") for 1 .. 5;
is(req(GET => '/api/v1/keys/no/such/route')->{status}, 404, "an unmatched keys path $_") for 1 .. 3;
is(req(GET => '/api/v1/prompts')->{status}, 401, "prompts without a session $_") for 1 .. 4;

my $s1 = snap('node-a');
ok(!$s1->{baseline}, 'the second snapshot is not a baseline');
is($s1->{requests}, 12, 'it counted the 12 requests') or diag explain $s1;
my $s2 = snap('node-a');
is_deeply([ @$s2{qw(rows requests)} ], [0, 0], 'a snapshot with no traffic in between adds nothing');

my $e = endpoints();
is($e->{granularity}, 'hour', 'granularity echoed');
is_deeply([ map { [ @$_{qw(requests status_4xx status_5xx)} ] } route_of($e, 'status', '/healthz'),
            route_of($e, 'keys', 'unmatched'), route_of($e, 'prompts', '/api/v1/prompts') ],
          [ [5, 0, 0], [3, 3, 0], [4, 4, 0] ], 'exact counts per family and route (4xx by status)');
is(scalar @{ $e->{endpoints} }, 3, 'no other route (the baseline excluded earlier traffic)');
is_deeply([ map { $_->{requests} } @{ $e->{endpoints} } ], [5, 4, 3], 'most requested first');
is(scalar @{ $e->{items} }, 3, 'three hourly buckets, zero-filled');
cmp_ok((grep { $_->{requests} == 0 && !defined $_->{p50_ms} } @{ $e->{items} }), '>=', 1, '... the empty ones with null quantiles');
my %sum;
for my $it (@{ $e->{items} }) { $sum{$_} += $it->{$_} for qw(requests status_4xx status_5xx) }
is_deeply([ @sum{qw(requests status_4xx status_5xx)} ], [12, 7, 0], 'the buckets sum every route');

# Quantiles: the stored buckets' sum equals the requests, and each quantile
# lies inside the bucket its rank falls in.
for my $x (@{ $e->{endpoints} }) {
    my @n = split /,/, db1("select string_agg(z.n::text, ',' order by z.i) from (select u.i, sum(u.n) n "
        . "from promptd.request_stats_minute m, unnest(m.buckets) with ordinality u(n, i) "
        . "where m.family = '$x->{family}' and m.route = '$x->{route}' group by u.i) z");
    my $sum = 0; $sum += $_ for @n;
    is($sum, $x->{requests}, "$x->{family} $x->{route}: the histogram counted every request");
    for my $q ([0.5, 'p50_ms'], [0.95, 'p95_ms'], [0.99, 'p99_ms']) {
        my ($cum, $i) = (0, 0);
        for (; $i < @n; $i++) { $cum += $n[$i]; last if $cum >= $q->[0] * $sum }
        my $lo = $i == 0 ? 0 : 1000 * $BOUNDS[$i - 1];
        my $hi = $i >= @BOUNDS ? 1000 * $BOUNDS[-1] : 1000 * $BOUNDS[$i];
        $lo = $hi if $i >= @BOUNDS;
        my $v = $x->{$q->[1]};
        ok(defined $v && $v >= $lo && $v <= $hi, "$x->{family} $x->{route} $q->[1] $v in [$lo, $hi]");
    }
}

# the overview's request numbers
my $o = get($atok, "/api/v1/admin/analytics/overview?from=$FROM&to=$TO")->{json};
is($o->{requests}, 12, 'overview: requests');
is($o->{error_rate}, 0, 'overview: error_rate (no 5xx)');
ok(defined $o->{p95_ms} && $o->{p95_ms} > 0, "overview: p95_ms ($o->{p95_ms})");

# ------------------------------------------------------------ a worker restart, a reset, a removed file
my @pids = $s->worker_pids('status');
kill 'KILL', @pids;
ok($s->wait_for(sub { my @n = $s->worker_pids('status'); @n == @pids && !grep { my $p = $_; grep { $_ == $p } @pids } @n }, timeout => 30),
   'the status workers were restarted');
ok($s->wait_for(sub { req(GET => '/healthz')->{status} == 200 }, timeout => 30), 'healthz answers again');
is(req(GET => '/healthz')->{status}, 200, "healthz after the restart $_") for 1 .. 2;
my $before = reqs('status', '/healthz');
my $s3 = snap('node-a');
is(reqs('status', '/healthz'), $before + 3, 'a worker restart: exactly the 3 new requests (the files were adopted, not doubled)');
no_negative('after a restart');

# A counter below its previous value (a reset): the new value counts.
my ($file, $cum) = @{ $s->psql(q{select file, requests from promptd.request_stats_state
    where node = 'node-a' and family = 'status' and route = '/healthz' and requests > 0 order by file limit 1})->[0] };
$s->psql("update promptd.request_stats_state set requests = requests + 1000, "
       . "buckets = (select array_agg(n + 1000 order by i) from unnest(buckets) with ordinality u(n, i)) "
       . "where node = 'node-a' and family = 'status' and route = '/healthz' and file = '$file'");
$before = reqs('status', '/healthz');
my $s4 = snap('node-a');
is(reqs('status', '/healthz'), $before + $cum, "a reset counter adds its new value ($cum), never a negative delta");
no_negative('after a reset');

# A removed file: its requests were counted; the process writing into it
# is gone with it (as a worker whose file an operator deleted).
$before = reqs('status', '/healthz');
opendir(my $dh, $MDIR) or die "$MDIR: $!";
my @files = grep { /\.metrics$/ } readdir $dh;
closedir $dh;
my ($gone) = grep { db1("select count(*) from promptd.request_stats_state where node = 'node-a' and file = '$_' and family = 'status'") > 0 } @files;
ok($gone, "a status worker's file ($gone)");
unlink "$MDIR/$gone" or die "unlink $gone: $!";
@pids = $s->worker_pids('status');
kill 'KILL', @pids;
ok($s->wait_for(sub { my @n = $s->worker_pids('status'); @n == @pids && !grep { my $p = $_; grep { $_ == $p } @pids } @n }, timeout => 30),
   'the status workers restarted again');
ok($s->wait_for(sub { req(GET => '/healthz')->{status} == 200 }, timeout => 30), 'healthz answers');
my $s5 = snap('node-a');
my $after = reqs('status', '/healthz');
ok($after > $before, "the new requests counted ($before -> $after)");
cmp_ok($after - $before, '<=', 60, '... and no history counted twice (a handful of probes, not the files\' totals)');
no_negative('after a removed file');
is(db1("select count(*) from promptd.request_stats_state where node = 'node-a' and file = '$gone'"), 0,
   'the removed file left the state');

# ------------------------------------------------------------ two nodes add up
my $bdir = tempdir('node-b-XXXXXX', TMPDIR => 1, CLEANUP => 1);
sub copy_files { for (glob "$MDIR/*.metrics") { (my $n = $_) =~ s{.*/}{}; copy($_, "$bdir/$n") or die "copy $_: $!" } }
copy_files();
ok(snap('node-b', $bdir)->{baseline}, 'node-b: a baseline');
snap('node-a');
$before = reqs('status', '/healthz');
my $h0 = healthz_count();
is(req(GET => '/healthz')->{status}, 200, "healthz for two nodes $_") for 1 .. 4;
ok($s->wait_for(sub { healthz_count() == $h0 + 4 }), 'the files hold the 4 requests');
copy_files();
snap('node-b', $bdir);
is(db1(q{select sum(requests) from promptd.request_stats_minute where node = 'node-b'
         and family = 'status' and route = '/healthz'}), 4, 'node-b counted its 4');
snap('node-a');
is(reqs('status', '/healthz'), $before + 8, 'node-a and node-b add up (4 + 4)');
is(db1(q{select string_agg(distinct node, ',' order by node) from promptd.request_stats_minute}), 'node-a,node-b',
   'rows of both nodes');

# ------------------------------------------------------------ retention
$s->psql(q{insert into promptd.request_stats_minute (minute, node, family, route, bounds_id, requests,
               status_4xx, status_5xx, buckets)
           select now() - interval '6 days', 'node-a', 'old', '/old', id, 1, 0, 0, array_fill(0::bigint, array[14]) from promptd.request_stats_bounds
           union all
           select now() - interval '4 days', 'node-a', 'old', '/recent', id, 1, 0, 0, array_fill(0::bigint, array[14]) from promptd.request_stats_bounds});
my $p = snap('node-a', undef, PROMPTD_REQSTATS_RETENTION_DAYS => 5);
is($p->{purged}, 1, 'the purge deleted the row older than PROMPTD_REQSTATS_RETENTION_DAYS');
is(db1(q{select string_agg(route, ',') from promptd.request_stats_minute where family = 'old'}), '/recent', '... and kept the newer one');
is(snap('node-a')->{purged}, 0, 'the default 30 days keeps it');

# ------------------------------------------------------------ promptd-jobs takes them once a minute (here: each second)
my $jp = $s->start_jobs_daemon(PROMPTD_REQSTATS_INTERVAL => 1, PROMPTD_NODE_NAME => 'node-d',
                               PROMPTD_METRICS_DIR => $MDIR);
ok($s->wait_for(sub { db1(q{select count(*) from promptd.request_stats_nodes where node = 'node-d'}) }, timeout => 30),
   'promptd-jobs took a baseline as node-d') or diag $s->log_tail("jobs-$jp", 20);
is(req(GET => '/healthz')->{status}, 200, "healthz for the daemon $_") for 1 .. 3;
ok($s->wait_for(sub { db1(q{select coalesce(sum(requests), 0) from promptd.request_stats_minute
                            where node = 'node-d' and family = 'status' and route = '/healthz'}) >= 3 }, timeout => 30),
   "promptd-jobs' snapshot counted the requests");
is($s->stop_pid($jp), 0, 'promptd-jobs stops cleanly');
my $bad = $s->start_jobs_daemon(PROMPTD_REQSTATS_INTERVAL => 'often');
isnt($s->stop_pid($bad), 0, 'a malformed PROMPTD_REQSTATS_INTERVAL refuses to start');

# ------------------------------------------------------------ bad parameters, access control
my $P = '/api/v1/admin/analytics/endpoints';
for (['from=yesterday', 'from'], ['from=2025-02-30', 'from'], ['to=2025-13-01', 'to'],
     ['from=2025-03-10&to=2025-03-01', 'from'], ['from=2025-03-01T10:00Z&to=2025-03-01T10:00Z', 'from'],
     ['from=2024-01-01&to=2025-03-01', 'to'], ['granularity=year', 'granularity'],
     ['granularity=minute', 'granularity'], ['granularity=', 'granularity']) {
    my ($q, $field) = @$_;
    my $r = get($atok, "$P?$q");
    problem_ok($r, 422, "$P?$q");
    ok((grep { $_->{field} eq $field } @{ $r->{json}{errors} || [] }), "$P?$q names $field");
}
problem_ok(get($altok, $P), 403, 'a user session -> 403');
problem_ok(get(undef, $P), 401, 'anonymous -> 401');
for my $sc ('admin', 'prompts:read') {
    my $k = $s->request(POST => '/api/v1/keys', { token => $atok, json => { name => "k-$sc", scopes => [$sc] } });
    is($k->{status}, 201, "an admin's key with scope $sc") or diag $k->{body};
    my $ov = get($k->{json}{key}, '/api/v1/admin/analytics/overview')->{status};
    my $ep = get($k->{json}{key}, $P)->{status};
    is($ep, $ov, "scope $sc: endpoints answers as overview ($ep)");
}
ok(!eval { $s->psql("set role authenticated; select set_config('request.jwt.claims', '{\"sub\":\"$alice\",\"role\":\"authenticated\"}', false); "
       . "select promptd.admin_analytics_endpoints(now() - interval '1 day', now(), 'day')"); 1 },
   'admin_analytics_endpoints as a non-admin raises (the SQL checks too)');
for my $role (qw(authenticated service_role anon)) {
    ok(!eval { $s->psql("set role $role; select count(*) from promptd.request_stats_minute"); 1 }, "$role cannot read the table");
}
ok(!eval { $s->psql(q{set role authenticated; select promptd.request_stats_snapshot('x', '{1}', '[]', 30)}); 1 },
   'authenticated cannot take a snapshot (service_role only)');
ok(eval { $s->psql(q{set role service_role; select promptd.request_stats_snapshot('node-x', '{1}', '[]', 30)}); 1 },
   'service_role (promptd-jobs) can') or diag $@;

done_testing();
