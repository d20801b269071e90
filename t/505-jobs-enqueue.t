# 505-jobs-enqueue.t: jobs_enqueue() from C (t/unit/jobs_enqueue.test) on a real stack: the committed row carries every option, a rollback leaves none, dedup, bad input.
use strict;
use warnings;

use Test::More;
use Promptd::Test qw(db1);

my $s = Promptd::Test->new(PROMPTD_WORKERS => 1, PROMPTD_JOBS_DAEMONS => 0);
my $prog = "$s->{build}/t/unit/jobs_enqueue.test";
if (!-x $prog) {
    # make check builds it; a bare prove after make may not have.
    system('make', '-s', '-C', $s->{build}, 't/unit/jobs_enqueue.test') == 0
        or BAIL_OUT("cannot build $prog");
}


my ($rc, $out) = $s->_run([$prog], env => { PROMPTD_TEST_ENQUEUE => 1 });
is($rc, 0, 'the C test program passed') or diag($out);
unlike($out, qr/^not ok/m, '... no failed assertion') or diag($out);
my %id = $out =~ /^# (committed|rolledback|defaults|dedup) (\d+)$/mg;
is(scalar(keys %id), 4, 'it reported the four job ids') or diag($out);

is_deeply($s->psql("select queue, job_type, payload::text, priority, max_attempts, state, attempt, "
                   . "run_at = '2030-01-02T03:04:05Z', dedup_key is null "
                   . "from public.background_jobs where id = $id{committed}"),
          [['c-commit', 'noop', '{"n": 1, "from": "c"}', -3, 7, 'pending', 0, 't', 't']],
          'committed: the row has the queue, type, payload, priority, attempts and run_at given');
is(db1("select count(*) from public.background_jobs where id = $id{rolledback} or queue = 'c-rollback'"), 0,
   'rolled back: no row');
is_deeply($s->psql("select queue, payload::text, priority, max_attempts, state, run_at <= now() "
                   . "from public.background_jobs where id = $id{defaults}"),
          [['default', '{}', 0, 5, 'pending', 't']], 'defaults: queue default, {}, priority 0, 5 attempts, due now');
is_deeply($s->psql("select count(*), min(payload::text) from public.background_jobs where dedup_key = 'c-key'"),
          [[1, '{"first": true}']], 'dedup: one row, the first payload');
is(db1("select count(*) from public.background_jobs where job_type = ''"), 0, 'the failed enqueues left nothing');

done_testing();
