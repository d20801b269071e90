#!/usr/bin/perl
# 801-quota-sql.t: the quota functions below the API: reserve/settle/release of enrich_per_day and tokens_per_month (success, failure, timeout), per-key counters, windows from the database clock, and the quota.purge job.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX ();
use Promptd::Test qw(db1);

my $s = Promptd::Test->new(PROMPTD_WORKERS => 1, quotas => 1);
my ($alice, $ta, $bob, $tb) = $s->users(qw(alice bob));
my $K1 = '11111111-1111-1111-1111-111111111111';
my $K2 = '22222222-2222-2222-2222-222222222222';

# $sql as the workers' login role (the only role granted the functions).
sub app { my ($sql) = @_; my $rows = $s->psql("set role promptd_app; $sql"); return @$rows ? $rows->[0] : [''] }  # a lone NULL prints no line
sub app_err { my ($sql) = @_; return eval { app($sql); 1 } ? '' : $@ }
sub counter {
    my ($user, $res, $key) = @_;
    $key //= '00000000-0000-0000-0000-000000000000';
    return join '/', @{ $s->psql("select used, reserved from promptd.quota_counters where user_id = '$user' "
        . "and resource = '$res' and key_id = '$key' and window_start = "
        . "(select window_start from promptd.quota_window('$res', now()))")->[0] || ['-', '-'] };
}
sub reserve { my ($u, $res, $n, $key) = @_; $key = $key ? "'$key'" : 'null';
              app("select reservation_id, quota, remaining, window_s, reset_s from "
                . "promptd.quota_reserve('$u', $key, '$res', $n)") }

# ------------------------------------------------ windows
is(db1("select window_start || ' ' || window_end from promptd.quota_window('enrich_per_day', '2026-03-05 17:20:01+00')"),
   '2026-03-05 00:00:00+00 2026-03-06 00:00:00+00', 'a day is a UTC day');
is(db1("select window_start || ' ' || window_end from promptd.quota_window('tokens_per_month', '2026-02-10 01:00+00')"),
   '2026-02-01 00:00:00+00 2026-03-01 00:00:00+00', 'a month is a UTC calendar month');
is(db1("select window_start || ' ' || window_end from promptd.quota_window('requests_per_minute', '2026-02-10 01:00:59.9+00')"),
   '2026-02-10 01:00:00+00 2026-02-10 01:01:00+00', 'a minute');
is(db1("select count(*) from promptd.quota_window('prompts', now())"), 1, 'a counted resource has no window (one null row)');

# ------------------------------------------------ enrich_per_day: reserve, settle, release
$s->promptctl('quota', 'set', $alice, 'enrich_per_day=3');
my @h = map { reserve($alice, 'enrich_per_day', 1) } 1 .. 3;
is_deeply([map { $_->[2] } @h], [2, 1, 0], 'three holds: remaining 2, 1, 0');
is($h[0][1], 3, 'quota 3');
is($h[0][3], 86400, 'window 86400 s');
cmp_ok($h[0][4], '<=', 86400, 'reset within the day');
is(counter($alice, 'enrich_per_day'), '0/3', 'three held, none used');
my $e = app_err("select promptd.quota_reserve('$alice', null, 'enrich_per_day', 1)");
like($e, qr/quota exceeded: enrich_per_day/, 'a fourth is refused');
like($e, qr/"limit": 3/, 'the refusal names the limit');
like($e, qr/"upgrade_tier": "pro"/, '... and the plan that raises it');
is(db1("select count(*) from promptd.quota_reservations where user_id = '$alice'"), 3, 'no hold for the refusal');
# success: settle with the real usage
is(app("select promptd.quota_settle('$h[0][0]', 1)")->[0], 1, 'settle (the provider answered)');
is(counter($alice, 'enrich_per_day'), '1/2', 'one used, two held');
is(app("select promptd.quota_settle('$h[0][0]', 1)")->[0], '', 'settling twice does nothing (null)');
is(counter($alice, 'enrich_per_day'), '1/2', 'unchanged');
# failure: release
is(app("select promptd.quota_release('$h[1][0]')")->[0], 't', 'release (the provider failed)');
is(app("select promptd.quota_release('$h[1][0]')")->[0], 'f', 'a second release does nothing');
is(app("select promptd.quota_settle('$h[1][0]', 1)")->[0], '', 'nor can a released hold be settled');
is(counter($alice, 'enrich_per_day'), '1/1', 'the hold is given back');
my $h4 = reserve($alice, 'enrich_per_day', 1);
is($h4->[2], 0, 'so one more fits');
like(app_err("select promptd.quota_reserve('$alice', null, 'enrich_per_day', 1)"), qr/PDQ29|quota exceeded/,
     'and then none');
# timeout: a hold never settled expires and the purge gives it back
$s->psql("update promptd.quota_reservations set expires_at = now() - interval '1 second' where id = '$h[2][0]'");
my $purged = $s->psql("select promptd.quota_purge(100)")->[0][0];
like($purged, qr/"released": 1/, 'purge releases the expired hold');
is(db1("select state from promptd.quota_reservations where id = '$h[2][0]'"), 'expired', 'marked expired');
is(counter($alice, 'enrich_per_day'), '1/1', 'its amount is free again');
is(app("select promptd.quota_settle('$h[2][0]', 1)")->[0], '', 'a late settle of an expired hold does nothing');

# ------------------------------------------------ tokens_per_month
$s->promptctl('quota', 'set', $alice, 'tokens_per_month=2500');
my $t1 = reserve($alice, 'tokens_per_month', 1000);
my $t2 = reserve($alice, 'tokens_per_month', 1000);
is($t2->[2], 500, 'two holds of 1000: 500 left');
like(app_err("select promptd.quota_reserve('$alice', null, 'tokens_per_month', 1000)"), qr/tokens_per_month/,
     'a third hold of 1000 does not fit');
my $t0 = reserve($alice, 'tokens_per_month', 0);
is($t0->[2], 500, 'the local engine reserves 0 tokens: always fits');
is(app("select promptd.quota_settle('$t0->[0]', 0)")->[0], 0, '... and settles 0');
is(app("select promptd.quota_settle('$t1->[0]', 1200)")->[0], 1200, 'settle above the hold (usage 1200)');
is(counter($alice, 'tokens_per_month'), '1200/1000', 'used 1200, 1000 held');
is(app("select promptd.quota_settle('$t2->[0]', 300)")->[0], 300, 'settle below the hold');
is(counter($alice, 'tokens_per_month'), '1500/0', 'used 1500, nothing held');
like(app_err("select promptd.quota_reserve('$alice', null, 'tokens_per_month', 1001)"), qr/tokens_per_month/,
     '1001 does not fit in the 1000 left');
is(reserve($alice, 'tokens_per_month', 1000)->[2], 0, '1000 fits exactly');

# unlimited: holds recorded for usage, never refused
$s->promptctl('quota', 'set', $bob, 'tokens_per_month=null');
my $u2 = reserve($bob, 'tokens_per_month', 10 ** 9);
is_deeply([@$u2[1, 2]], ['', ''], 'unlimited: quota and remaining null');
is(app("select promptd.quota_settle('$u2->[0]', 5)")->[0], 5, 'settled');

# ------------------------------------------------ per API key where the plan says so
$s->promptctl('quota', 'set', $bob, 'enrich_per_day=1', 'per_key=enrich_per_day');
ok(reserve($bob, 'enrich_per_day', 1, $K1), 'key 1: one');
ok(reserve($bob, 'enrich_per_day', 1, $K2), 'key 2: its own one');
like(app_err("select promptd.quota_reserve('$bob', '$K1', 'enrich_per_day', 1)"), qr/enrich_per_day/, 'key 1: spent');
is(counter($bob, 'enrich_per_day', $K1), '0/1', 'a counter per key');
$s->promptctl('quota', 'set', $bob, 'requests_per_minute=2', 'per_key=requests_per_minute');
is(app("select remaining from promptd.quota_hit('$bob', '$K1', false)")->[0], 1, 'hit per key 1');
is(app("select remaining from promptd.quota_hit('$bob', '$K2', false)")->[0], 1, 'hit per key 2');
is(app("select remaining from promptd.quota_hit('$bob', null, false)")->[0], 1, 'a session has its own');

# ------------------------------------------------ a change of limits while a window's counter is made
# The counter quota_hit makes (still uncommitted) is out of sight of the
# change's UPDATE; without waiting for each other it would keep the old
# limit for its minute.
my ($cora) = $s->users('cora');
$s->promptctl('quota', 'set', $cora, 'requests_per_minute=5');
$s->at_second(0, 44);
my $kid = fork // die "fork: $!";
if (!$kid) {    # the window's first hit, in a transaction that lasts
    eval { $s->psql("set role promptd_app; select quota from promptd.quota_hit('$cora', null, false); "
                  . "select pg_sleep(1.5)") };
    POSIX::_exit($@ ? 1 : 0);
}
ok($s->wait_for(sub { db1("select count(*) from pg_stat_activity where wait_event = 'PgSleep' "
                        . "and query like '%quota_hit(''$cora''%'") }, timeout => 10),
   "cora's counter made, not yet committed");
$s->promptctl('quota', 'set', $cora, 'requests_per_minute=2');
is(waitpid($kid, 0) == $kid && $?, 0, 'the hit committed');
is(db1("select coalesce(lim::text, 'cleared') from promptd.quota_counters where user_id = '$cora' "
     . "and resource = 'requests_per_minute' and window_start = date_trunc('minute', now(), 'UTC')"),
   'cleared', 'the change waited for it, then cleared its limit');
is(app("select quota || '/' || remaining from promptd.quota_hit('$cora', null, false)")->[0], '2/0',
   'the next hit counts against the new limit (2, with one used)');

# ------------------------------------------------ bad input
like(app_err("select promptd.quota_reserve('$bob', null, 'prompts', 1)"), qr/cannot be reserved/, 'a counted resource cannot be reserved');
like(app_err("select promptd.quota_reserve('$bob', null, 'enrich_per_day', -1)"), qr/amount >= 0/, 'a negative amount');
like(app_err("select promptd.quota_settle('$u2->[0]', -1)"), qr/actual must be >= 0/, 'a negative settle');
is(app("select promptd.quota_release('00000000-0000-0000-0000-000000000009')")->[0], 'f', 'an unknown hold');
is(app("select coalesce(quota::text, 'none') from promptd.quota_hit(null, null, true)")->[0], 'none', 'no user: nothing counted');

# ------------------------------------------------ the purge job: roll-up and retention
$s->psql(qq{
    insert into promptd.quota_counters (user_id, resource, window_start, used) values
      ('$alice', 'requests_per_minute', date_trunc('day', now(), 'UTC') - interval '2 days' + interval '5 minutes', 7),
      ('$alice', 'requests_per_minute', date_trunc('day', now(), 'UTC') - interval '2 days' + interval '6 minutes', 4),
      ('$alice', 'enrich_per_day', now() - interval '500 days', 3);
    update promptd.quota_reservations set finished_at = now() - interval '8 days' where state <> 'held';
});
my $settled_old = db1("select count(*) from promptd.quota_reservations where state <> 'held'");
my $id = ($s->promptctl('jobs', 'enqueue', 'quota.purge', '--payload', '{"batch": 1}') =~ /"first_id": (\d+)/)[0];
my $pid = $s->start_jobs_daemon(PROMPTD_JOBS_POLL => 200, PROMPTD_JOBS_SCHEDULES => 0);
ok($s->wait_for(sub { (db1("select state from background_jobs where id = $id") // '') eq 'succeeded' },
                timeout => 30), 'the quota.purge job succeeded');
$s->stop_ok($pid, 'daemon stopped');
my $res = db1("select result::text from background_jobs where id = $id");
like($res, qr/"rolled_up": 2\b/, 'two minute counters rolled up (in batches of 1)') or diag $res;
like($res, qr/"reservations": $settled_old\b/, 'old finished holds deleted');
is(db1("select used from promptd.quota_daily where user_id = '$alice' and resource = 'requests_per_minute' "
     . "and day = (now() at time zone 'UTC')::date - 2"), 11, 'the day holds their sum');
is(db1("select count(*) from promptd.quota_counters where user_id = '$alice' and window_start < now() - interval '400 days'"),
   0, 'counters past retention deleted');
is(db1("select count(*) from promptd.quota_reservations where state = 'held'"),
   db1("select count(*) from promptd.quota_reservations where state = 'held' and expires_at > now()"), 'live holds kept');
my $hist = db1("select promptd.quota_usage('$alice', 30)::text");
like($hist, qr/"used": 11, "resource": "requests_per_minute"/, 'usage history reads the roll-up');
is(db1("select count(*) from promptd.schedules where task = 'quota.purge' and every = '1 hour'"), 1, 'scheduled hourly');

$s->stop;
done_testing;
