# 500-jobs.t: the job queue and promptd-jobs: enqueue in transactions, dedup, exactly-once with 3 daemons, lease rescue after kill -9, retry/backoff/dead, handler delay, SIGTERM.
use strict;
use warnings;

use Test::More;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use Promptd::Test qw(db1);

my $s = Promptd::Test->new(PROMPTD_WORKERS => 1, PROMPTD_JOBS_DAEMONS => 0);

# Every daemon here: test handlers, fast polling, a 2 s lease, 200 ms backoff.
my %D = (PROMPTD_JOBS_TEST_HANDLERS => 1, PROMPTD_JOBS_POLL => 100,
         PROMPTD_JOBS_LEASE => 2, PROMPTD_JOBS_BACKOFF => 200, PROMPTD_JOBS_BATCH => 20);

sub job { my $r = $s->psql("select state, attempt, coalesce(last_error, ''), coalesce(locked_by, '') "
                          . "from public.background_jobs where id = $_[0]");
          return { state => $r->[0][0], attempt => $r->[0][1], error => $r->[0][2], locked_by => $r->[0][3] } }
sub wait_state {
    my ($id, $state, $timeout) = @_;
    return $s->wait_for(sub { db1("select state from public.background_jobs where id = $id") eq $state },
                        timeout => $timeout // 20);
}

# ------------------------------------------------------------ the table
is_deeply($s->psql("select relrowsecurity, relforcerowsecurity from pg_class "
                   . "where oid = 'public.background_jobs'::regclass"), [[qw(t t)]],
          'background_jobs: RLS enabled and forced');
ok(!eval { $s->psql('set role authenticated; select count(*) from public.background_jobs'); 1 },
   'authenticated cannot read the queue directly');

# ------------------------------------------------------------ transactions
$s->psql("begin; select promptd.enqueue('noop', '{\"t\":1}', 'tx'); rollback;");
is(db1("select count(*) from public.background_jobs where queue = 'tx'"), 0,
   'enqueue in a rolled-back transaction leaves no job');
$s->psql("begin; set local role promptd_app; select promptd.enqueue('noop', '{}', 'tx'); commit;");
is(db1("select count(*) from public.background_jobs where queue = 'tx' and state = 'pending' and attempt = 0"), 1,
   'enqueue as the worker role in a committed transaction adds one pending job');
ok(!eval { $s->psql("begin; set local role authenticated; select promptd.enqueue('noop', '{}', 'tx'); commit;"); 1 },
   'a request role cannot enqueue (sql/0021; t/507 walks it)');
ok(!eval { $s->psql("select promptd.enqueue('')"); 1 }, 'an empty job type is refused');

# ------------------------------------------------------------ dedup
my $d1 = db1("select promptd.enqueue('noop', '{}', 'dedup', now(), 0, 5, 'k1')");
my $d2 = db1("select promptd.enqueue('noop', '{\"other\":1}', 'dedup', now(), 0, 5, 'k1')");
is($d2, $d1, 'second enqueue with an active dedup key returns the same id');
is(db1("select count(*) from public.background_jobs where dedup_key = 'k1'"), 1, '... and adds no row');
isnt(db1("select promptd.enqueue('noop', '{}', 'dedup2', now(), 0, 5, 'k1')"), $d1,
     'the same key in another queue is another job');

# ------------------------------------------------------------ 3 daemons, 2,000 jobs
my @daemons = map { $s->start_jobs_daemon(%D) } 1 .. 3;
ok(wait_state($d1, 'succeeded'), 'a daemon ran the deduplicated noop job');
my $d3 = db1("select promptd.enqueue('noop', '{}', 'dedup', now(), 0, 5, 'k1')");
ok($d3 > $d1, 'after completion the same dedup key enqueues a new job');
ok(wait_state($d3, 'succeeded'), '... which runs too');

$s->psql("select promptd.enqueue('trace', '{}', 'bulk') from generate_series(1, 2000)");
ok($s->wait_for(sub { db1("select count(*) from public.background_jobs where queue = 'bulk' and state = 'succeeded'") == 2000 },
                timeout => 90), '2,000 jobs succeeded with 3 daemons');
is_deeply($s->psql("select count(*), count(distinct t.job_id), max(t.attempt) from promptd.job_trace t "
                   . "join public.background_jobs j on j.id = t.job_id where j.queue = 'bulk'"),
          [[2000, 2000, 1]], 'each job ran exactly once, on its first attempt');
is(db1("select count(*) from public.background_jobs where queue = 'bulk' and "
       . "(attempt <> 1 or locked_by is not null or finished_at is null or last_error is not null)"), 0,
   'every job: attempt 1, lease released, finished_at set, no error');
is(db1("select count(*) from promptd.job_trace a join promptd.job_trace b on a.job_id = b.job_id "
       . "and a.ctid < b.ctid and a.started_at < b.finished_at and b.started_at < a.finished_at"), 0,
   'no job ran on two daemons at the same time');
my $spread = db1("select count(distinct t.daemon) from promptd.job_trace t "
                 . "join public.background_jobs j on j.id = t.job_id where j.queue = 'bulk'");
cmp_ok($spread, '>=', 2, "the jobs were shared between daemons ($spread ran some)");

# ------------------------------------------------------------ a job longer than the lease
my $long = db1("select promptd.enqueue('sleep', '{\"ms\":4500}', 'long')");
ok(wait_state($long, 'succeeded', 20), 'a 4.5 s job with a 2 s lease succeeds');
is_deeply($s->psql("select count(*), max(attempt) from promptd.job_trace where job_id = $long"), [[1, 1]],
          '... once, on attempt 1: its lease was renewed, never reaped');

# ------------------------------------------------------------ kill -9 mid-job
my $k = db1("select promptd.enqueue('sleep', '{\"ms\":3000}', 'kill')");
ok($s->wait_for(sub { job($k)->{state} eq 'running' }), 'the sleep job is running');
my ($victim) = job($k)->{locked_by} =~ /:(\d+):[0-9a-f]+$/;
ok($victim && grep({ $_ == $victim } @daemons), "it runs on one of our daemons ($victim)");
my $killed_at = time;
$s->stop_pid($victim, 'KILL', timeout => 5);
@daemons = grep { $_ != $victim } @daemons;
ok(wait_state($k, 'succeeded', 30), 'the job is re-run after its lease expires and succeeds');
my $kj = $s->psql("select attempt, daemon, extract(epoch from started_at) from promptd.job_trace where job_id = $k");
is(scalar @$kj, 1, 'one finished run recorded (the killed one never finished)');
is($kj->[0][0], 2, 'the re-run is attempt 2');
unlike($kj->[0][1], qr/:$victim:/, 'on another daemon');
cmp_ok($kj->[0][2], '>=', $killed_at + 1.0, 'not before the lease expired');
is(job($k)->{attempt}, 2, 'the job row says attempt 2');

# ------------------------------------------------------------ retry, backoff, dead
my $f = db1("select promptd.enqueue('fail', '{}', 'retry', now(), 0, 4)");
ok(wait_state($f, 'dead', 30), 'a job failing every time ends dead');
my $fj = job($f);
is($fj->{attempt}, 4, 'after max_attempts (4) attempts');
like($fj->{error}, qr/^failed on purpose \(attempt 4\)$/, 'with the last error');
is(db1("select count(*) from public.background_jobs where id = $f and finished_at is not null and locked_by is null"), 1,
   'dead: finished_at set, lease released');
my $starts = $s->psql("select attempt, extract(epoch from started_at), extract(epoch from finished_at) "
                      . "from promptd.job_trace where job_id = $f order by attempt");
is_deeply([ map { $_->[0] } @$starts ], [1, 2, 3, 4], 'attempts 1..4 each ran once');
my @gap = map { $starts->[$_][1] - $starts->[$_ - 1][2] } 1 .. 3;
# backoff 200 ms * 2^(n-1), jittered into [d/2, d]: >= 100, 200, 400 ms.
for my $i (0 .. 2) {
    cmp_ok($gap[$i], '>=', 0.1 * 2**$i - 0.02, sprintf('retry %d waited %.3f s (>= %.1f s backoff)', $i + 1, $gap[$i], 0.1 * 2**$i));
}
cmp_ok($gap[2], '>', $gap[0], 'the backoff grows');

# ------------------------------------------------------------ handler-requested delay
my $h = db1("select promptd.enqueue('fail', '{\"retry_after_ms\":1500}', 'delay', now(), 0, 2)");
ok($s->wait_for(sub { my $j = job($h); $j->{state} eq 'pending' && $j->{attempt} == 1 }), 'first attempt failed');
my $delay = db1("select extract(epoch from run_at - updated_at) from public.background_jobs where id = $h");
cmp_ok(abs($delay - 1.5), '<', 0.01, "run_at is now() + the handler's 1.5 s ($delay)");
ok(wait_state($h, 'dead', 20), 'second attempt ran (and failed: dead)');
my $hs = $s->psql("select extract(epoch from started_at), extract(epoch from finished_at) "
                  . "from promptd.job_trace where job_id = $h order by attempt");
cmp_ok($hs->[1][0] - $hs->[0][1], '>=', 1.45, 'the second attempt waited the requested delay');

# ------------------------------------------------------------ SIGTERM
$s->stop_ok($_, "idle daemon $_ exits 0 on SIGTERM", timeout => 10) for @daemons;
my $g = $s->start_jobs_daemon(%D, PROMPTD_JOBS_GRACE => 10, PROMPTD_JOBS_BATCH => 10);
$s->psql("select promptd.enqueue('sleep', '{\"ms\":2500}', 'term') from generate_series(1, 4)");
ok($s->wait_for(sub { db1("select count(*) from promptd.job_trace t join public.background_jobs j "
                          . "on j.id = t.job_id where j.queue = 'term'") == 0
                      && db1("select count(*) from public.background_jobs where queue = 'term' and state = 'running'") == 4 }),
   'one daemon claimed the 4 sleep jobs');
sleep 0.3;
my $t0 = time;
$s->stop_ok($g, 'SIGTERM during a job: exit 0', timeout => 15);
my $t1 = time;
# Ordered by the clock, not timed: the job ends 2.5 s after it starts.
my $fin = db1("select extract(epoch from t.finished_at) from promptd.job_trace t "
              . "join public.background_jobs j on j.id = t.job_id where j.queue = 'term'");
cmp_ok($fin, '>', $t0, 'the job was still running at SIGTERM');
cmp_ok($fin, '<=', $t1, '... and the daemon exited after it finished');
is_deeply($s->psql("select state, attempt, count(*), count(locked_by) from public.background_jobs "
                   . "where queue = 'term' group by 1, 2 order by 1"),
          [['pending', 0, 3, 0], ['succeeded', 1, 1, 0]],
          'the running job completed; the 3 not started went back to pending, attempt undone');

# Past the grace period the daemon gives up: exit 2, the job is left to its lease.
my $g2 = $s->start_jobs_daemon(%D, PROMPTD_JOBS_GRACE => 1, PROMPTD_JOBS_QUEUES => 'late');
my $l = db1("select promptd.enqueue('sleep', '{\"ms\":5000}', 'late')");
ok($s->wait_for(sub { job($l)->{state} eq 'running' }), 'a long job is running');
$t0 = time;
my $st = $s->stop_pid($g2, 'TERM', timeout => 10);
is($st >> 8, 2, 'SIGTERM with a 1 s grace period: exit 2');
is(db1("select count(*) from promptd.job_trace where job_id = $l"), 0,
   '... without waiting for the job (its run never finished)');
is(job($l)->{state}, 'running', 'the job keeps its lease (it will expire and be retried)');

# ------------------------------------------------------------ per-job timeout, stale completion
# A daemon with a 1 s timeout stops renewing the lease of a 9 s job; the
# lease lapses, another daemon reaps and re-runs it (attempt 2), and the first run's
# late outcome (attempt 1) is ignored.  (9 s leaves the rescuer several seconds
# to start and reap, even on a loaded machine.)
my $slow = $s->start_jobs_daemon(%D, PROMPTD_JOBS_TIMEOUT => 1, PROMPTD_JOBS_QUEUES => 'timeout');
my $to = db1("select promptd.enqueue('sleep', '{\"ms\":9000}', 'timeout', now(), 0, 2)");
ok($s->wait_for(sub { job($to)->{state} eq 'running' }), 'the slow daemon runs the job');
like(job($to)->{locked_by}, qr/:$slow:/, '... it holds the lease');
my $rescuer = $s->start_jobs_daemon(%D);
ok($s->wait_for(sub { db1("select count(*) from promptd.job_trace where job_id = $to and attempt = 1") == 1 },
                timeout => 15), 'the timed-out run finished late');
# on a loaded machine the rescuer may reap only after that late finish
ok($s->wait_for(sub { job($to)->{attempt} == 2 }, timeout => 30), 'the rescuer took the job over: attempt 2');
my $tj = job($to);
ok(($tj->{state} eq 'running' && $tj->{attempt} == 2 && $tj->{locked_by} =~ /:$rescuer:/)
   || ($tj->{state} eq 'succeeded' && $tj->{attempt} == 2),
   "its completion did not touch attempt 2 ($tj->{state}, attempt $tj->{attempt})");
ok(wait_state($to, 'succeeded', 30), 'attempt 2 completes the job');
is_deeply($s->psql("select attempt, daemon ~ ':$rescuer:' from promptd.job_trace where job_id = $to order by attempt"),
          [[1, 'f'], [2, 't']], 'attempt 1 on the slow daemon, attempt 2 on the rescuer');
like($s->log_tail("jobs-$slow", 50), qr/passed its 1 s timeout/, 'the timeout is logged');
like($s->log_tail("jobs-$slow", 50), qr/1 of 1 failures were stale/,
     'the late run counts as failed (past its timeout), and that stale outcome is ignored');
$s->stop_ok($_, "daemon $_ stops", timeout => 10) for $slow, $rescuer;

# Nobody rescues it (a 30 s lease): the run that passed its timeout and then
# returned success is recorded as a failure, not a success.
my $late = $s->start_jobs_daemon(%D, PROMPTD_JOBS_TIMEOUT => 1, PROMPTD_JOBS_LEASE => 30,
                                 PROMPTD_JOBS_QUEUES => 'overrun');
my $ov = db1("select promptd.enqueue('sleep', '{\"ms\":2000}', 'overrun', now(), 0, 1)");
ok(wait_state($ov, 'dead', 20), 'a job that returns after its timeout is not a success');
is(job($ov)->{error}, 'passed its 1 s timeout', '... last_error says why');
is(db1("select count(*) from promptd.job_trace where job_id = $ov"), 1, '... its one run did finish');
$s->stop_ok($late, 'that daemon stops', timeout => 10);

# ------------------------------------------------------------ database outage
my $o = $s->start_jobs_daemon(%D);
sleep 0.3;
$s->stack('pg-stop');
sleep 1.5;
is(waitpid($o, WNOHANG), 0, 'the daemon survives a database outage');
$s->stack('pg-start');
my $oj = db1("select promptd.enqueue('noop', '{}', 'outage')");
ok(wait_state($oj, 'succeeded', 20), 'it reconnects and runs jobs again');
$s->stop_ok($o, 'and still stops cleanly', timeout => 10);

done_testing();
