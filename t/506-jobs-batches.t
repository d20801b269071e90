# 506-jobs-batches.t: promptd-jobs batching: queue-filtered claims in priority order across queues, batch growth for fast jobs, outcomes of a grown batch, stale statistics.
use strict;
use warnings;

use Test::More;
use Promptd::Test qw(db1);

my $s = Promptd::Test->new(PROMPTD_WORKERS => 1, PROMPTD_JOBS_DAEMONS => 0);
my %D = (PROMPTD_JOBS_TEST_HANDLERS => 1, PROMPTD_JOBS_POLL => 100, PROMPTD_JOBS_LEASE => 5);


# ------------------------------------------------------------ queue filter
# Enqueued before any daemon runs: qa at priority 5, qb at 1, qc (not served) at 0.
$s->psql("select promptd.enqueue('trace', '{}', q, now(), p) from "
         . "(values ('qa', 5), ('qb', 1), ('qc', 0)) v(q, p), generate_series(1, 3)");
my $d = $s->start_jobs_daemon(%D, PROMPTD_JOBS_QUEUES => 'qa, qb', PROMPTD_JOBS_BATCH => 4);
ok($s->wait_for(sub { db1("select count(*) from public.background_jobs where queue in ('qa', 'qb') "
                          . "and state = 'succeeded'") == 6 }, timeout => 20),
   'a daemon serving qa and qb ran their 6 jobs');
is_deeply($s->psql("select j.queue from promptd.job_trace t join public.background_jobs j on j.id = t.job_id "
                   . "order by t.started_at"),
          [map { [$_] } qw(qb qb qb qa qa qa)], 'in priority order across the two queues (qb first)');
is(db1("select count(*) from public.background_jobs where queue = 'qc' and state = 'pending' and attempt = 0"), 3,
   'the queue it does not serve was not touched');
like($s->log_tail("jobs-$d", 20), qr/batch 4 to 1000\b/, 'the log names the batch range (4 growing to 1000)');
$s->stop_ok($d, 'the daemon stops', timeout => 10);

# ------------------------------------------------------------ growth and outcomes of big batches
# Statistics that count no running job (the case in which a custom plan
# once scanned the table per outcome), then 3,000 fast jobs, every 7th of
# which fails: batches grow from 10 to 500, each outcome is recorded once.
$s->psql("analyze public.background_jobs");
$s->psql("select promptd.enqueue(case when g % 7 = 0 then 'fail' else 'noop' end, '{}', 'bulk', now(), 0, 1) "
         . "from generate_series(1, 3000) g");
$s->psql("analyze public.background_jobs");
$d = $s->start_jobs_daemon(%D, PROMPTD_JOBS_BATCH => 10, PROMPTD_JOBS_BATCH_MAX => 500);
ok($s->wait_for(sub { db1("select count(*) from public.background_jobs where queue = 'bulk' "
                          . "and state in ('pending', 'running')") == 0 }, timeout => 60),
   '3,000 jobs drained');
is_deeply($s->psql("select state, count(*), min(attempt), max(attempt), count(locked_by), count(finished_at) "
                   . "from public.background_jobs where queue = 'bulk' group by 1 order by 1"),
          [['dead', 428, 1, 1, 0, 428], ['succeeded', 2572, 1, 1, 0, 2572]],
          'every outcome recorded once: 2,572 succeeded, 428 failed (dead after their one attempt), leases released');
is(db1("select count(*) from public.background_jobs where queue = 'bulk' and state = 'dead' "
       . "and last_error not like 'failed on purpose (attempt 1)'"), 0, 'the failures carry their error');
my $log = $s->log_tail("jobs-$d", 200);
unlike($log, qr/stale|expired lease/, 'no outcome was stale and no lease expired');
$s->stop_ok($d, 'the daemon stops', timeout => 10);

done_testing();
