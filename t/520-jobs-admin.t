#!/usr/bin/perl
# 520-jobs-admin.t: promptctl jobs (every subcommand, bad input) and the
# admin job routes (403 vs 200, retry/cancel state changes, bad ids), with
# database effects.  No daemon runs: job states change only by these tools.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use Promptd::Test qw(db1);

my $s = Promptd::Test->new(PROMPTD_JOBS_DAEMONS => 0);
my $J = JSON::PP->new->canonical;
sub ctl { my ($rc, $out, $err) = $s->_run([$s->{promptctl}, 'jobs', @_], separate => 1); ($rc, $out, $err) }

# --- enqueue: N jobs in one statement
my ($rc, $out, $err) = ctl('enqueue', 'noop', '--count', '5', '--payload', '{"a":1}');
is($rc, 0, 'enqueue --count 5 -> 0') or diag $err;
my $e = eval { $J->decode($out) } || {};
is($e->{enqueued}, 5, 'reports 5 enqueued');
is($e->{last_id} - $e->{first_id}, 4, 'consecutive ids');
is(db1("select count(*) from background_jobs where job_type = 'noop' and payload = '{\"a\":1}' and state = 'pending'"),
   5, '5 pending noop rows with the payload');
is(db1("select count(distinct xmin::text) from background_jobs"), 1, 'one transaction (one statement)');
($rc, $out) = ctl('enqueue', 'noop');
is($rc, 0, 'enqueue with defaults -> 0');
is(db1("select count(*) from background_jobs where payload = '{}' and queue = 'default'"), 1, 'default payload and queue');
($rc, $out, $err) = ctl('enqueue', 'noop', '--queue=mail', '--count=2');
is($rc, 0, '--queue=mail --count=2');
is(db1("select count(*) from background_jobs where queue = 'mail'"), 2, 'queue stored');
($rc, $out, $err) = ctl('enqueue', 'no.such.type');
is($rc, 0, 'unregistered type still enqueued');
like($err, qr/no handler for type 'no\.such\.type'/, '  with a warning');
my $total = db1('select count(*) from background_jobs');
is($total, 9, '9 jobs so far');

my @bad = (
    [['enqueue', 'noop', '--count', '0'], qr/--count takes 1 to 1000000, not '0'/, 'count 0'],
    [['enqueue', 'noop', '--count', '-1'], qr/--count takes .* not '-1'/, 'count -1'],
    [['enqueue', 'noop', '--count', 'abc'], qr/--count takes .* not 'abc'/, 'count abc'],
    [['enqueue', 'noop', '--count', '1000001'], qr/--count takes/, 'count too large'],
    [['enqueue', 'noop', '--count'], qr/--count takes .* not ''/, 'count missing'],
    [['enqueue', 'noop', '--payload', '{bad'], qr/--payload must be a JSON object, not '\{bad'/, 'bad JSON'],
    [['enqueue', 'noop', '--payload', '[1]'], qr/--payload must be a JSON object/, 'payload array'],
    [['enqueue', 'noop', '--payload', '"x"'], qr/--payload must be a JSON object/, 'payload string'],
    [['enqueue', 'Bad Type!'], qr/invalid job type 'Bad Type!'/, 'bad type'],
    [['enqueue'], qr/enqueue takes a job TYPE/, 'no type'],
    [['enqueue', 'noop', '--frob'], qr/unexpected argument '--frob'/, 'unknown option'],
    [['enqueue', 'noop', '--queue', ''], qr/invalid queue name/, 'empty queue'],
    [['list', '--state', 'bogus'], qr/unknown state 'bogus'/, 'list bad state'],
    [['list', '--limit', '0'], qr/--limit takes/, 'list limit 0'],
    [['list', 'extra'], qr/unexpected argument 'extra'/, 'list extra arg'],
    [['show'], qr/show takes one job ID/, 'show without id'],
    [['show', 'abc'], qr/invalid job ID 'abc'/, 'show abc'],
    [['show', '0'], qr/invalid job ID '0'/, 'show 0'],
    [['retry', '-3'], qr/invalid job ID '-3'/, 'retry -3'],
    [['cancel', '1', '2'], qr/cancel takes one job ID/, 'cancel two ids'],
    [['cancel', '9999999999999999999'], qr/invalid job ID/, 'cancel overlong id'],
    [['stats', 'x'], qr/stats takes no arguments/, 'stats extra'],
    [['frob'], qr/unknown subcommand 'frob'/, 'unknown subcommand'],
);
for my $b (@bad) {
    my ($args, $re, $name) = @$b;
    ($rc, $out, $err) = ctl(@$args);
    is($rc, 2, "bad input: $name -> exit 2");
    like($err, $re, "  message") or diag $err;
}
($rc, $out, $err) = $s->_run([$s->{promptctl}, 'jobs'], separate => 1);
is($rc, 2, 'jobs without subcommand -> 2');
like($err, qr/expected: jobs list/, '  usage');
is(db1('select count(*) from background_jobs'), $total, 'bad input enqueued nothing');

# --- list / show
($rc, $out) = ctl('list');
is($rc, 0, 'list -> 0');
my @lines = split /\n/, $out;
is($lines[0], "ID\tSTATE\tQUEUE\tTYPE\tATTEMPT\tRUN_AT\tLAST_ERROR", 'header');
is(scalar(@lines), 1 + $total, 'one line per job');
like($lines[1], qr/^$e->{last_id}\b|^\d+\tpending\t/, 'newest first');
($rc, $out) = ctl('list', '--queue', 'mail', '--state', 'pending');
is(scalar(split /\n/, $out), 3, 'list --queue mail --state pending: 2 jobs');
($rc, $out) = ctl('list', '--limit', '2');
is(scalar(split /\n/, $out), 3, 'list --limit 2');
my $id = $e->{first_id};
($rc, $out) = ctl('show', $id);
is($rc, 0, 'show -> 0');
my $job = eval { $J->decode($out) } || {};
is($job->{id}, $id, 'show: id');
is($job->{state}, 'pending', 'show: state');
is_deeply($job->{payload}, { a => 1 }, 'show: payload');
($rc, $out, $err) = ctl('show', '987654321');
is($rc, 1, 'show unknown id -> 1');
like($err, qr/no job 987654321/, '  message');

# --- cancel / retry
($rc, $out, $err) = ctl('cancel', $id);
is($rc, 0, 'cancel pending -> 0') or diag $err;
is(db1("select state || ' ' || (finished_at is not null)::text from background_jobs where id = $id"),
   'cancelled true', 'cancelled in the database');
($rc, $out, $err) = ctl('cancel', $id);
is($rc, 1, 'cancel again -> 1');
like($err, qr/cannot cancel job $id: it is cancelled/, '  message');
($rc, $out, $err) = ctl('retry', $id);
is($rc, 0, 'retry cancelled -> 0') or diag $err;
is(db1("select state || ' ' || (finished_at is null)::text from background_jobs where id = $id"),
   'pending true', 'pending again');
my $dead = $id + 1;
$s->psql("update background_jobs set state = 'dead', attempt = 5, max_attempts = 5, "
         . "last_error = 'boom', finished_at = now() where id = $dead");
($rc, $out) = ctl('retry', $dead);
is($rc, 0, 'retry dead -> 0');
is(db1("select state || ' ' || max_attempts from background_jobs where id = $dead"), 'pending 6',
   'dead job pending with one more attempt');
my $done = $id + 2;
$s->psql("update background_jobs set state = 'succeeded', finished_at = now() where id = $done");
($rc, $out, $err) = ctl('retry', $done);
is($rc, 1, 'retry succeeded -> 1');
like($err, qr/cannot retry job $done: it is succeeded/, '  message');
($rc, $out, $err) = ctl('retry', '987654321');
is($rc, 1, 'retry unknown -> 1');
like($err, qr/no job 987654321/, '  message');
($rc, $out, $err) = ctl('cancel', '987654321');
is($rc, 1, 'cancel unknown -> 1');

# --- stats
($rc, $out) = ctl('stats');
is($rc, 0, 'stats -> 0');
my $st = eval { $J->decode($out) } || {};
is($st->{states}{pending}, $total - 1, 'stats: pending');
is($st->{states}{succeeded}, 1, 'stats: succeeded');
is($st->{total}, $total, 'stats: total');
my ($mail) = grep { $_->{queue} eq 'mail' } @{ $st->{queues} || [] };
is($mail->{pending}, 2, 'stats: per queue');
ok(defined $mail->{oldest_pending_age_s} && $mail->{oldest_pending_age_s} >= 0, 'stats: oldest pending age');

# --- admin routes
my $alice = $s->user_create('alice@example.com');
my $atok = $s->token($alice);
sub req { my ($m, $p, %o) = @_; $s->request($m, $p, { token => $atok, %o }) }
is(req(GET => '/api/v1/admin/jobs')->{status}, 403, 'non-admin GET jobs -> 403');
is(req(GET => '/api/v1/admin/jobs/stats')->{status}, 403, 'non-admin GET stats -> 403');
is(req(POST => "/api/v1/admin/jobs/$id/cancel")->{status}, 403, 'non-admin cancel -> 403');
is(req(POST => "/api/v1/admin/jobs/$id/retry")->{status}, 403, 'non-admin retry -> 403');
is(db1("select state from background_jobs where id = $id"), 'pending', 'non-admin changed nothing');
is($s->request(GET => '/api/v1/admin/jobs')->{status}, 401, 'no token -> 401');
# The SQL functions check too, whatever the route does.
ok(!eval { $s->psql("set role authenticated; select set_config('request.jwt.claims', '{\"sub\":\"$alice\",\"role\":\"authenticated\"}', false); "
       . "select promptd.admin_job_cancel($id)"); 1 }, 'admin_job_cancel as a non-admin raises');
ok(!eval { $s->psql("set role authenticated; select promptd.jobs_cancel($id)"); 1 },
   'internal jobs_cancel not executable by authenticated');

$s->promptctl('user', 'admin', 'alice@example.com', 'on');
my $r = req(GET => '/api/v1/admin/jobs?limit=3');
is($r->{status}, 200, 'admin GET jobs -> 200') or diag explain $r;
is(scalar @{ $r->{json}{items} || [] }, 3, '3 items');
ok($r->{json}{items}[0]{id} > $r->{json}{items}[1]{id}, 'newest first');
ok($r->{json}{next_cursor}, 'next_cursor');
my $r2 = req(GET => "/api/v1/admin/jobs?limit=100&cursor=$r->{json}{next_cursor}");
is(scalar @{ $r2->{json}{items} }, $total - 3, 'second page: the rest');
is($r2->{json}{next_cursor}, undef, 'no further page');
$r = req(GET => '/api/v1/admin/jobs?state=pending&queue=mail');
is(scalar @{ $r->{json}{items} }, 2, 'filter by state and queue');
$r = req(GET => '/api/v1/admin/jobs?state=succeeded');
is_deeply([map { $_->{id} } @{ $r->{json}{items} }], [$done], 'filter succeeded');
for my $q ('state=bogus', 'limit=0', 'limit=abc', 'cursor=x', 'cursor=0', 'queue=') {
    $r = req(GET => "/api/v1/admin/jobs?$q");
    is($r->{status}, 422, "GET jobs?$q -> 422");
}
$r = req(GET => '/api/v1/admin/jobs/stats');
is($r->{status}, 200, 'admin GET stats -> 200');
is($r->{json}{states}{pending}, $total - 1, 'stats pending');
($mail) = grep { $_->{queue} eq 'mail' } @{ $r->{json}{queues} };
is($mail->{pending}, 2, 'stats per queue');
ok(defined $mail->{oldest_pending_age_s}, 'oldest pending age');

$r = req(POST => "/api/v1/admin/jobs/$id/cancel");
is($r->{status}, 200, 'admin cancel -> 200') or diag explain $r;
is($r->{json}{state}, 'cancelled', 'body: cancelled');
is(db1("select state from background_jobs where id = $id"), 'cancelled', 'cancelled in the database');
is(db1("select count(*) from audit_log where action = 'job.cancel' and target = 'job:$id'"), 1, 'audited job.cancel');
$r = req(POST => "/api/v1/admin/jobs/$id/cancel");
is($r->{status}, 409, 'cancel a cancelled job -> 409');
like($r->{json}{detail} // '', qr/cancelled/, '  detail says why');
$r = req(POST => "/api/v1/admin/jobs/$id/retry");
is($r->{status}, 200, 'admin retry -> 200');
is($r->{json}{state}, 'pending', 'body: pending');
is(db1("select state from background_jobs where id = $id"), 'pending', 'pending in the database');
is(db1("select count(*) from audit_log where action = 'job.retry' and target = 'job:$id'"), 1, 'audited job.retry');
$r = req(POST => "/api/v1/admin/jobs/$done/retry");
is($r->{status}, 409, 'retry a succeeded job -> 409');
is(db1("select state from background_jobs where id = $done"), 'succeeded', '  unchanged');
for my $bad ('abc', '0', '-1', '1.5', '12345678901234567890') {
    for my $op ('retry', 'cancel') {
        $r = req(POST => "/api/v1/admin/jobs/$bad/$op");
        is($r->{status}, 400, "POST jobs/$bad/$op -> 400");
    }
}
$r = req(POST => '/api/v1/admin/jobs/987654321/retry');
is($r->{status}, 404, 'retry unknown id -> 404');
$r = req(POST => '/api/v1/admin/jobs/987654321/cancel');
is($r->{status}, 404, 'cancel unknown id -> 404');
is(req(DELETE => "/api/v1/admin/jobs/$id/cancel")->{status}, 405, 'wrong method -> 405');

done_testing();
