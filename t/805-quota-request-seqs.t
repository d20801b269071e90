#!/usr/bin/perl
# 805-quota-request-seqs.t: the request quota counted on pooled sequences: a read-only request writes no row, the pool is taken back and grows to its size, a full pool falls back to UPDATE counting, limit changes (tier, enforcement) take effect at once, promptctl quota seqs, per-key limits (each key and the sessions apart), what promptd_app may touch.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use Promptd::Test qw(db1);
use Promptd::SF qw(sf_param);

my $s = Promptd::Test->new(PROMPTD_WORKERS => 2, quotas => 1,
                           # counts each statement when it ends (failed ones not)
                           PROMPTD_PG_SETTINGS => "shared_preload_libraries = 'pg_stat_statements'");
my ($alice, $ta, $bob, $tb, $carol, $tc, $dave, $td, $erin, $te, $frank, $tf, $grace, $tg,
    $heidi, $th, $ivan, $ti) = $s->users(qw(alice bob carol dave erin frank grace heidi ivan));

# The RateLimit-Policy quota (q) of requests_per_minute, or undef.
sub policy_q { sf_param($_[0]{headers}{'ratelimit-policy'}, 'requests_per_minute', 'q') }
sub get { $s->request(GET => '/api/v1/prompts', { token => $_[0] }) }
sub counter {    # "seq-or-none used-column counted"
    my ($user) = @_;
    return db1("select case when seq is null then 'none' else 'seq' end || ' ' || used || ' ' "
        . "|| promptd.quota_counter_used(used, seq, base, lim) from promptd.quota_counters "
        . "where user_id = '$user' and resource = 'requests_per_minute' "
        . "and window_start = date_trunc('minute', now(), 'UTC')");
}
sub fresh_minute {    # the rest of a burst stays in one window
    my ($before) = @_;   # the second of the minute to start before (default 40)
    $s->at_second(0, ($before // 40) - 1);
}
sub pool { db1("select count(*) from promptd.quota_seqs") }

# ------------------------------------------------ the hot path writes no row
$s->psql("create extension if not exists pg_stat_statements");
$s->promptctl('quota', 'set', $alice, 'requests_per_minute=5');
$s->psql("select pg_stat_statements_reset()");
fresh_minute();
is(get($ta)->{status}, 200, 'first request of the window');
my $xmin = db1("select xmin::text from promptd.quota_counters where user_id = '$alice' "
             . "and resource = 'requests_per_minute'");
my @st = map { get($ta)->{status} } 1 .. 5;
is_deeply(\@st, [200, 200, 200, 200, 429], 'four more admitted, the sixth refused');
sub calls {
    my ($like) = @_;
    return db1("select coalesce(sum(calls), 0) from pg_stat_statements where query like '$like'");
}
# a worker looks the counter up until it has counted on it, then sends
# only its nextval (src/http/quotaseq.c).  Each of the two workers spends
# at most two requests before that: its first confirms alice's profile
# (the lookup without the claims), its second looks up and keeps the
# counter; so at least 6 - 2 x 2 requests count on the kept counter, and
# none would without it
my ($looked, $without) = (calls('with h as (select c.lim, case when c.lim >= %nextval(c.seq)%'),
                      calls('select nullif($6::bigint, -1)%nextval($5::regclass)%'));
is($looked + $without, 6,
   'the one-statement hot path ran for all six (found no counter for the first, a spent one for the last)');
cmp_ok($without, '>=', 2, "the workers counted on the counter they held ($looked lookups, $without without)");
is(calls('select quota, remaining, window_s, reset_s, % from promptd.quota_hit(%'), 1,
   'quota_hit completed once: it made the counter (the refusal it raised is not counted)');
is(counter($alice), 'seq 0 5', 'counted on a sequence: 5 (refusals take values, not quota)');
is(db1("select xmin::text from promptd.quota_counters where user_id = '$alice' "
     . "and resource = 'requests_per_minute'"), $xmin, 'the counter row was never rewritten');
is(db1("select count(*) from promptd.quota_seqs where user_id = '$alice' "
     . "and window_start = date_trunc('minute', now(), 'UTC')"), 1, 'its sequence is held for the window');
is(db1("select r->>'used' || ' ' || (r->>'remaining') from jsonb_array_elements("
     . "promptd.quota_usage('$alice', 1)->'resources') r where r->>'resource' = 'requests_per_minute'"),
   '5 0', 'usage: 5 used, 0 remaining');

# ------------------------------------------------ what promptd_app may touch
my $app_err = sub { my ($sql) = @_; eval { $s->psql("set role promptd_app; $sql"); 1 } ? '' : $@ };
like($app_err->("select used from promptd.quota_counters limit 1"), qr/permission denied/,
     'promptd_app: used is not readable');
like($app_err->("update promptd.quota_counters set base = 0"), qr/permission denied/,
     'promptd_app: counters are not writable');
like($app_err->("select 1 from promptd.quota_seqs"), qr/permission denied/, 'promptd_app: the pool is not readable');
$s->psql("select promptd.quota_reserve('$alice', null, 'enrich_per_day', 1)");
is($s->psql("set role promptd_app; select count(*) from promptd.quota_counters "
          . "where resource <> 'requests_per_minute'")->[0][0], 0, 'promptd_app sees request counters only');

# ------------------------------------------------ a tier change takes effect at once
fresh_minute();
my $r = get($tb);
is(policy_q($r), 600, 'bob on free: 600 a minute');
$s->psql("update public.profiles set subscription_tier = 'pro' where id = '$bob'");
is(db1("select count(*) from promptd.quota_counters where user_id = '$bob' and lim is not null "
     . "and window_start = date_trunc('minute', now(), 'UTC')"), 0, 'the tier change cleared the limit');
$r = get($tb);
is(policy_q($r), 3000, 'the next request counts against pro (3000)');
like($r->{headers}{ratelimit} // '', qr/;r=2998\b/, 'the same window: 2 used');

# ------------------------------------------------ enforcement off and on
# alice's window spent in this block's own minute (the blocks above may
# have waited into a new one).
fresh_minute(45);
get($ta) for 1 .. 5;
problem_refused(get($ta), "alice's window is spent");
$s->promptctl('quota', 'enforce', 'off');
$r = get($ta);
is($r->{status}, 200, 'enforcement off: the spent window admits');
ok(!defined $r->{headers}{'ratelimit-policy'}, 'and announces no policy');
$s->promptctl('quota', 'enforce', 'on');
problem_refused(get($ta), 'enforcement on again: the window is spent again');
sub problem_refused {
    my ($res, $name) = @_;
    is($res->{status}, 429, $name);
    is($res->{json}{type}, 'https://promptd.dev/problems/quota/requests_per_minute', "$name: type");
}

# ------------------------------------------------ unlimited: one call a window, then the one statement
$s->promptctl('quota', 'set', $frank, 'requests_per_minute=null');
fresh_minute();
my $before = calls('select quota, remaining, window_s, reset_s, % from promptd.quota_hit(%');
my @r = map { get($tf) } 1 .. 3;
is_deeply([map { $_->{status} } @r], [200, 200, 200], 'unlimited: admitted');
ok(!(grep { defined $_->{headers}{'ratelimit-policy'} || defined $_->{headers}{ratelimit} } @r),
   'no RateLimit fields');
is(calls('select quota, remaining, window_s, reset_s, % from promptd.quota_hit(%') - $before, 1,
   'quota_hit ran once, to mark the window unlimited');
# The window the burst ran in (its newest: a slow machine may have crossed
# into the next minute since), waited for, bounded.
my $mark_sql = "select lim || ' ' || coalesce(seq::text, 'none') from promptd.quota_counters where user_id = '$frank' "
             . "and resource = 'requests_per_minute' order by window_start desc limit 1";
$s->wait_for(sub { defined db1($mark_sql) }, timeout => 10);
is(db1($mark_sql), '-1 none', 'the mark: lim -1, no sequence');
$s->promptctl('quota', 'clear', $frank);

# ------------------------------------------------ the counters a worker holds (src/http/quotaseq.c)
# A worker that has counted on a window's counter sends only its nextval;
# a change of limits reaches it at once (NOTIFY promptd_quota), and so
# does one made while it had no connection.
sub seq_calls { calls('select nullif($6::bigint, -1)%nextval($5::regclass)%') }
sub lookups { calls('with h as (select c.lim, case when c.lim >= %nextval(c.seq)%') }
sub hits { calls('select quota, remaining, window_s, reset_s, % from promptd.quota_hit(%') }
sub statuses { my ($tok, $n) = @_; [map { get($tok)->{status} } 1 .. $n] }
sub workers {    # the FastCGI workers' backends, "pid pid ...", or ''
    db1("select coalesce(string_agg(pid::text, ' ' order by pid), '') from pg_stat_activity "
        . "where usename = 'promptd_app' and application_name = 'promptd'");
}
$s->promptctl('quota', 'set', $grace, 'requests_per_minute=100');
fresh_minute(20);
my ($c0, $l0, $h0) = (seq_calls(), lookups(), hits());
is_deeply(statuses($tg, 8), [(200) x 8], 'grace: 8 of 100 admitted');
cmp_ok(seq_calls() - $c0, '>=', 4, 'the workers counted on the counter they held: nextval only')
    or diag('lookups ' . (lookups() - $l0) . ', quota_hit ' . (hits() - $h0) . ', the workers\' warnings: '
            . join('', grep { /"level":"warn/ } split /^/, $s->log_tail('prompts', 200)));
$s->promptctl('quota', 'set', $grace, 'requests_per_minute=3');
$r = get($tg);
is($r->{status}, 429, 'lowered to 3 with 8 used: refused at once');
is($r->{json}{limit}, 3, 'by the new limit');
is_deeply(statuses($tg, 4), [(429) x 4], 'by every worker');
# a notification between requests is heard, not taken for a hang-up
my $pids = workers();
$s->psql("select pg_notify('promptd_quota', '00000000-0000-0000-0000-000000000000')");
sleep 0.2;
is_deeply(statuses($th, 4), [(200) x 4], 'heidi admitted after a notification reached the idle workers');
is(workers(), $pids, 'and the workers kept their connections');
# the plan's limit: every user of it
is_deeply(statuses($th, 4), [(200) x 4], 'heidi: 8 of the free plan\'s 600');
$s->promptctl('plans', 'set', 'free', 'requests_per_minute=5');
is_deeply(statuses($th, 4), [(429) x 4], 'the free plan lowered to 5: heidi refused at once');
$s->promptctl('plans', 'set', 'free', 'requests_per_minute=600');
is_deeply(statuses($th, 2), [200, 200], 'raised again: admitted');
# a change while the workers had no connection: lost to them, so a new
# connection forgets every counter it held
$s->promptctl('quota', 'set', $grace, 'requests_per_minute=100');
is_deeply(statuses($tg, 4), [(200) x 4], 'grace raised to 100: admitted');
$s->psql("select pg_terminate_backend(pid) from pg_stat_activity "
       . "where usename = 'promptd_app' and application_name = 'promptd'");
$s->wait_for(sub { (workers() // '') eq '' }, timeout => 10);
$s->promptctl('quota', 'set', $grace, 'requests_per_minute=3');
is_deeply(statuses($tg, 4), [(429) x 4], 'lowered while they were away: refused after they reconnect');
$s->promptctl('quota', 'clear', $grace);

# ------------------------------------------------ taken back a minute after its window
# (a longer block, with two programs started: 45 s of the minute for it)
fresh_minute(15);
get($tc) for 1 .. 3;
is(counter($carol), 'seq 0 3', 'carol: 3 on a sequence');
my $seq = db1("select seq::text from promptd.quota_counters where user_id = '$carol' "
            . "and resource = 'requests_per_minute'");
# three minutes pass for carol's window (only hers: the others stay held)
$s->psql("update promptd.quota_counters set window_start = window_start - interval '3 minutes' "
       . "where user_id = '$carol' and resource = 'requests_per_minute'; "
       . "update promptd.quota_seqs set window_start = window_start - interval '3 minutes' "
       . "where user_id = '$carol'");
my $n = pool();
like($s->promptctl('quota', 'seqs', $n), qr/"pool": $n\b/, "promptctl quota seqs $n: no new sequence");
is(get($td)->{status}, 200, 'dave: first request of his window');
is(db1("select seq::text from promptd.quota_counters where user_id = '$dave' "
     . "and resource = 'requests_per_minute'"), $seq, "dave's counter took carol's old sequence");
is(db1("select coalesce(seq::text, 'none') || ' ' || used from promptd.quota_counters "
     . "where user_id = '$carol' and resource = 'requests_per_minute'"), 'none 3',
   "carol's old window keeps its count (3) in used");
is(pool(), $n, 'the pool did not grow');
get($td) for 1 .. 2;
is(counter($dave), 'seq 0 3', "dave's count starts from his own base (3)");

# ------------------------------------------------ a full pool counts by UPDATE
$s->promptctl('quota', 'set', $erin, 'requests_per_minute=3');
@st = map { get($te)->{status} } 1 .. 4;
is_deeply(\@st, [200, 200, 200, 429], 'pool full: erin admitted 3, refused the 4th');
is(counter($erin), 'none 3 3', 'counted in the row (no sequence free)');
is(pool(), $n, 'the pool stayed at its size');

# ------------------------------------------------ promptctl quota seqs
like($s->promptctl('quota', 'seqs', $n + 2), qr/"pool": @{[$n + 2]}\b/, 'quota seqs N+2: two made');
is(db1("select request_seqs from promptd.quota_settings"), $n + 2, 'the size is kept');
is(db1("select count(*) from promptd.quota_seqs where user_id is null"), 2, 'both free');
is(db1("select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace "
     . "where n.nspname = 'promptd' and c.relkind = 'S' and c.relname ~ '^quota_seq_[0-9]+\$'"),
   $n + 2, 'one sequence each');
for my $bad ('-1', 'abc', '', '12345678') {
    ok(!eval { $s->promptctl('quota', 'seqs', $bad); 1 }, "quota seqs '$bad' refused");
}
like((eval { $s->promptctl('quota', 'seqs', '2000000'); 1 } ? '' : $@), qr/from 0 to 1000000/,
     'quota seqs 2000000: out of range, said why');
is(db1("select request_seqs from promptd.quota_settings"), $n + 2, 'a refused size changes nothing');

# ------------------------------------------------ per key: each key and the sessions count apart
# Under "per_key", a key's request must not find the sessions' counter
# (nor a session a key's): each kind has its own limit.
my @keys = map { $s->request(POST => '/api/v1/keys', { token => $ti, json => { name => "k$_" } })->{json}{key} } 1 .. 2;
ok(defined $keys[0] && defined $keys[1], 'ivan: two API keys');
$s->promptctl('quota', 'set', $ivan, 'requests_per_minute=3', 'per_key=requests_per_minute');
fresh_minute();
# status/RateLimit r (remaining) of each of $n requests with $tok
sub ivan_gets {
    my ($tok, $n) = @_;
    return [map { my $r = get($tok);
                  $r->{status} . '/' . (sf_param($r->{headers}{ratelimit}, 'requests_per_minute', 'r') // '-') } 1 .. $n];
}
is_deeply(ivan_gets($ti, 2), ['200/2', '200/1'], 'sessions: 2 of their 3');
is_deeply(ivan_gets($keys[0], 4), ['200/2', '200/1', '200/0', '429/0'],
          'key 1: its own 3, not what the sessions left, then refused');
is_deeply(ivan_gets($ti, 2), ['200/0', '429/0'], 'sessions: their third, then refused: key 1 spent none of theirs');
is_deeply(ivan_gets($keys[1], 1), ['200/2'], 'key 2: its own 3');
is(db1("select string_agg(k, ' ' order by k) from (select case key_id "
     . "when '00000000-0000-0000-0000-000000000000' then 'user' "
     . "when 'ffffffff-ffff-ffff-ffff-ffffffffffff' then 'sessions' else 'key' end || ':' "
     . "|| promptd.quota_counter_used(used, seq, base, lim) as k from promptd.quota_counters "
     . "where user_id = '$ivan' and resource = 'requests_per_minute' and lim is not null "
     . "and window_start = date_trunc('minute', now(), 'UTC')) c"),
   'key:1 key:3 sessions:3', "the window's counters: each key's and the sessions', none shared");

$s->stop;
done_testing;
