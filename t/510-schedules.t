#!/usr/bin/perl
# 510-schedules.t: recurring tasks fire each slot once with 3 daemons;
# after downtime only the latest missed slot fires, once; the maintenance
# handlers (jobs.purge, maintenance.purge) delete what they should.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use Promptd::Test qw(db1);

my $s = Promptd::Test->new(PROMPTD_JOBS_DAEMONS => 0);
sub daemons { map { $s->start_jobs_daemon(PROMPTD_JOBS_POLL => 200) } 1 .. $_[0] }
sub stop_all { $s->stop_ok($_, "daemon $_ exits 0 on SIGTERM") for @_ }

is(db1("select string_agg(task || '=' || every::text, ',' order by task) from promptd.schedules"),
   'analytics.partitions=01:00:00,analytics.rollup=00:01:00,billing.grace=00:05:00,jobs.purge=00:10:00,maintenance.purge=01:00:00,quota.purge=01:00:00,share.views=00:00:10,storage.gc=01:00:00,webhooks.purge=01:00:00', 'built-in schedules');
# Off for this test (a 1- or 10-minute boundary could fall inside it); the
# tasks below stand in for them.
$s->psql(q{update promptd.schedules set enabled = false where task in ('billing.grace', 'jobs.purge', 'maintenance.purge', 'quota.purge', 'share.views',
                                                                    'analytics.rollup')});

# --- 3 daemons, a 1-second schedule: each slot fires once.
$s->psql(q{insert into promptd.schedules (task, job_type, every, payload)
           values ('t.every', 'noop', '1 second', '{"t":"every"}')});
my @pids = daemons(3);
ok($s->wait_for(sub { db1("select count(*) from promptd.schedule_runs where task = 't.every'") >= 5 },
                timeout => 20), 'slots fired within 20 s');
$s->psql(q{update promptd.schedules set enabled = false where task = 't.every'});
sleep 1.5;    # a tick in flight finishes
ok($s->wait_for(sub { db1(q{select count(*) from background_jobs where payload = '{"t":"every"}'
                            and state <> 'succeeded'}) == 0 }, timeout => 20), 'all their jobs ran');
stop_all(@pids);
my $runs = db1("select count(*) from promptd.schedule_runs where task = 't.every'");
cmp_ok($runs, '>=', 5, "$runs slots fired");
is(db1("select count(distinct scheduled_for) from promptd.schedule_runs where task = 't.every'"),
   $runs, 'no slot twice');
is(db1(q{select count(*) from background_jobs where payload = '{"t":"every"}'}), $runs,
   'one job per slot');
is(db1(q{select count(distinct r.job_id) from promptd.schedule_runs r
         join background_jobs j on j.id = r.job_id where r.task = 't.every'}), $runs,
   'each slot names its own job');
is(db1(q{select count(*) from promptd.schedule_runs where task = 't.every'
         and scheduled_for <> date_trunc('second', scheduled_for)}), 0, 'slots on whole seconds');
is(db1(q{select count(*) from background_jobs where payload = '{"t":"every"}' and attempt <> 1}), 0,
   'each job ran once');
my $fired_by = join ' ', map { $s->log_tail("jobs-$_", 1000) =~ /t\.every slot/ ? 1 : 0 } @pids;
diag("daemons that fired slots: $fired_by");

# --- catch-up after downtime: only the latest missed slot, once.
$s->psql(q{
    insert into promptd.schedules (task, job_type, every, payload, created_at) values
        ('t.weekly', 'noop', '7 days', '{"t":"weekly"}', now() - interval '60 days');
    insert into promptd.schedules (task, job_type, cron, payload, created_at) values
        ('t.yearly', 'noop', '0 0 1 1 *', '{"t":"yearly"}', '2019-01-01'),
        ('t.badcron', 'noop', '61 * * * *', '{"t":"bad"}', '2019-01-01');
    insert into promptd.schedules (task, job_type, every, payload) values
        ('t.new', 'noop', '7 days', '{"t":"new"}');
    insert into promptd.schedules (task, job_type, every, payload, enabled, created_at) values
        ('t.off', 'noop', '1 second', '{"t":"off"}', false, '2019-01-01');
    insert into promptd.schedule_runs (task, scheduled_for) values
        ('t.weekly', now() - interval '50 days'), ('t.yearly', '2020-01-01');
});
@pids = daemons(3);
ok($s->wait_for(sub { db1(q{select count(*) from promptd.schedule_runs
                            where task in ('t.weekly', 't.yearly')}) >= 4 }, timeout => 20),
   'both overdue tasks fired');
sleep 3;    # every daemon ticks a few more times
stop_all(@pids);
is(db1("select count(*) from promptd.schedule_runs where task = 't.weekly'"), 2, 'weekly: one catch-up run');
is(db1(q{select count(*) from promptd.schedule_runs where task = 't.weekly'
         and scheduled_for = to_timestamp(floor(extract(epoch from now()) / 604800) * 604800)}), 1,
   'weekly: the latest slot (epoch-aligned)');
is(db1("select count(*) from promptd.schedule_runs where task = 't.yearly'"), 2, 'yearly cron: one catch-up run');
is(db1(q{select count(*) from promptd.schedule_runs where task = 't.yearly'
         and scheduled_for = date_trunc('year', now() at time zone 'utc') at time zone 'utc'}), 1,
   'yearly cron: this year\'s 1 January 00:00 UTC');
is(db1(q{select count(*) from background_jobs where payload in ('{"t":"weekly"}', '{"t":"yearly"}')}), 2,
   'one job per catch-up');
is(db1(q{select count(*) from promptd.schedule_runs where task in ('t.new', 't.off', 't.badcron')}), 0,
   'no run for a new task (slot before created_at), a disabled one, an invalid cron');
like(join('', map { $s->log_tail("jobs-$_", 1000) } @pids), qr/t\.badcron: invalid schedule/,
     'invalid cron logged');
is(db1(q{select count(*) from promptd.schedule_runs where task in ('jobs.purge', 'maintenance.purge')
         and scheduled_for < (select min(created_at) from promptd.schedules)}), 0,
   'built-ins never fire slots before they existed');

# --- a disabled switch
$s->psql(q{update promptd.schedules set enabled = true, created_at = '2019-01-01' where task = 't.off'});
@pids = map { $s->start_jobs_daemon(PROMPTD_JOBS_SCHEDULES => 0) } 1 .. 2;
sleep 2.5;
stop_all(@pids);
is(db1("select count(*) from promptd.schedule_runs where task = 't.off'"), 0,
   'PROMPTD_JOBS_SCHEDULES=0: no ticks');
$s->psql(q{update promptd.schedules set enabled = false where task = 't.off'});

# --- jobs.purge: finished jobs past retention, in batches.
$s->psql(q{
    update background_jobs set finished_at = now() - interval '8 days' where state = 'succeeded';
    insert into background_jobs (job_type, state, finished_at) values
        ('noop', 'dead', now() - interval '9 days'), ('noop', 'cancelled', now() - interval '9 days'),
        ('noop', 'succeeded', now() - interval '1 day'), ('noop', 'pending', null);
    update background_jobs set run_at = now() + interval '1 hour' where state = 'pending';
});
my $old = db1(q{select count(*) from background_jobs where state in ('succeeded', 'dead', 'cancelled')
                and finished_at < now() - interval '7 days'});
my $keep = db1('select count(*) from background_jobs') - $old;
cmp_ok($old, '>=', 7, "$old old finished jobs");
my $id = ($s->promptctl('jobs', 'enqueue', 'jobs.purge', '--payload', '{"batch": 2}') =~ /"first_id": (\d+)/)[0];
@pids = daemons(1);
ok($s->wait_for(sub { db1("select state from background_jobs where id = $id") eq 'succeeded' },
                timeout => 20), 'jobs.purge succeeded');
stop_all(@pids);
is(db1("select result ->> 'deleted' from background_jobs where id = $id"), $old, 'result: deleted count');
is(db1('select count(*) from background_jobs'), $keep + 1, 'only the old finished jobs are gone');
is(db1(q{select count(*) from background_jobs where state = 'pending' and job_type = 'noop'}), 1,
   'pending job kept');

# --- maintenance.purge: idempotency keys, throttle rows, ended sessions, old slots,
# expired enrichment cache entries, Stripe events processed over 90 days ago,
# mail in a final state after 30 days.
my $u = $s->user_create('m@example.com');
$s->psql(qq{
    insert into idempotency_keys (user_id, key, request_hash, created_at) values
        ('$u', 'old1', 'h', now() - interval '25 hours'), ('$u', 'old2', 'h', now() - interval '3 days'),
        ('$u', 'new', 'h', now() - interval '1 hour');
    insert into promptd.auth_throttle (kind, key, failures, last_failure_at, locked_until) values
        ('account', 'idle\@example.com', 2, now() - interval '2 hours', null),
        ('account', 'locked\@example.com', 9, now() - interval '2 hours', now() + interval '1 hour'),
        ('address', '192.0.2.1', 1, now() - interval '5 minutes', null),
        ('share_address', '192.0.2.9', 3, now() - interval '2 hours', null),
        ('share_link', 'a-share', 4, now() - interval '3 hours', null);
    insert into promptd.sessions (user_id, revoked_at, not_after) values
        ('$u', now() - interval '8 days', null), ('$u', null, now() - interval '10 days'),
        ('$u', now() - interval '1 day', null), ('$u', null, null);
    insert into promptd.schedule_runs (task, scheduled_for) values
        ('jobs.purge', now() - interval '30 days'), ('jobs.purge', now() - interval '31 days');
    insert into enrich_cache (user_id, key, provider, model, result, expires_at) values
        ('$u', repeat('a', 64), 'local', 'local-2', '{}', now() - interval '1 minute'),
        ('$u', repeat('b', 64), 'local', 'local-2', '{}', now() - interval '2 days'),
        ('$u', repeat('c', 64), 'local', 'local-2', '{}', now() + interval '1 hour');
    insert into promptd.stripe_events (id, type, created, payload, received_at, processed_at) values
        ('evt_old1', 'invoice.paid', 1, '{}', now() - interval '100 days', now() - interval '99 days'),
        ('evt_old2', 'invoice.paid', 1, '{}', now() - interval '95 days', now() - interval '91 days'),
        ('evt_recent', 'invoice.paid', 1, '{}', now() - interval '10 days', now() - interval '10 days'),
        ('evt_pending', 'invoice.paid', 1, '{}', now() - interval '100 days', null);
    insert into promptd.mail_outbox (kind, to_addr, state, created_at) values
        ('recovery', 'sent-old\@example.com', 'sent', now() - interval '31 days'),
        ('recovery', 'rejected-old\@example.com', 'rejected', now() - interval '40 days'),
        ('recovery', 'pending-old\@example.com', 'pending', now() - interval '40 days'),
        ('recovery', 'sent-new\@example.com', 'sent', now() - interval '29 days');
    insert into promptd.auth_codes (user_id, kind, email, code_hash, link_hash, expires_at) values
        ('$u', 'recovery', 'm\@example.com', 'c1', 'l1', now() - interval '2 days'),
        ('$u', 'magiclink', 'm\@example.com', 'c2', 'l2', now() - interval '1 hour');
    insert into promptd.sso_flows (state_hash, provider, nonce, verifier, redirect_to, expires_at) values
        ('s1', 'acme', 'n', 'v', 'http://x', now() - interval '2 hours'),
        ('s2', 'acme', 'n', 'v', 'http://x', now() + interval '5 minutes');
});
$id = ($s->promptctl('jobs', 'enqueue', 'maintenance.purge', '--payload', '{"batch": 1}') =~ /"first_id": (\d+)/)[0];
@pids = daemons(1);
ok($s->wait_for(sub { db1("select state from background_jobs where id = $id") eq 'succeeded' },
                timeout => 20), 'maintenance.purge succeeded');
stop_all(@pids);
is(db1("select result::text from background_jobs where id = $id"),
   '{"sessions": 2, "sso_flows": 1, "auth_codes": 1, "mail_outbox": 2, "enrich_cache": 2, "auth_throttle": 3, "schedule_runs": 3, "stripe_events": 2, "idempotency_keys": 2}',
   'result counts');
is(db1("select string_agg(split_part(to_addr, '\@', 1), ',' order by to_addr) from promptd.mail_outbox"),
   'pending-old,sent-new', 'mail: final rows over 30 days deleted; pending and recent kept');
is(db1("select string_agg(left(key, 1), ',') from enrich_cache"), 'c', 'live enrichment cache entry kept');
is(db1("select string_agg(kind, ',') from promptd.auth_codes"), 'magiclink',
   'one-time codes: a day past their expiry deleted; the one within kept');
is(db1("select string_agg(encode(state_hash, 'escape'), ',') from promptd.sso_flows"), 's2',
   'sign-in flows: an hour past their expiry deleted; the live one kept');
is(db1("select string_agg(id, ',' order by id) from promptd.stripe_events"), 'evt_pending,evt_recent',
   'Stripe events: processed over 90 days ago deleted; recent and unprocessed kept');
is(db1("select string_agg(key, ',') from idempotency_keys"), 'new', 'recent idempotency key kept');
is(db1("select string_agg(key, ',' order by key) from promptd.auth_throttle"),
   '192.0.2.1,locked@example.com', 'recent and locked throttle rows kept');
is(db1("select count(*) from promptd.sessions"), 2, 'live and recently revoked sessions kept');
is(db1(q{select string_agg(task || ' ' || to_char(scheduled_for at time zone 'utc', 'YYYY-MM-DD'), ','
          order by task) from promptd.schedule_runs where task in ('jobs.purge', 't.yearly')}),
   join(',', 'jobs.purge ' . db1(q{select to_char((now() - interval '30 days') at time zone 'utc', 'YYYY-MM-DD')}),
        't.yearly ' . db1(q{select to_char(now() at time zone 'utc', 'YYYY') || '-01-01'})),
   'old slots purged, each task\'s latest kept');

done_testing();
