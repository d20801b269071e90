#!/usr/bin/perl
# 986-admin-api.t: the admin dashboard's own API: the user search (?q, paginated), a user's audit trail (keyset, newest first), the enrichment breakers' state, each with bad input and every wrong credential kind; and the rollups' retention run by the analytics.partitions job.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use Promptd::Test qw(db1 req problem_ok);

my $s = Promptd::Test->new(PROMPTD_JOBS_DAEMONS => 0, PROMPTD_WORKERS => 1,
                           PROMPTD_ENRICH_PROVIDERS => 'openai:gpt-4o-mini,local',
                           PROMPTD_OPENAI_API_KEY => 'sk-test-986',
                           PROMPTD_ENRICH_BREAKER_COOLDOWN => 300);

my ($admin, $atok, $alice, $ltok, $bob) = $s->users(qw(admin alice bob));
$s->promptctl('user', 'admin', $admin, 'on');
my @carols = map { $s->user_create("carol$_\@example.com") } 1 .. 5;

# API keys: the admin's with scope admin and with another scope, alice's with admin
my %key;
for ([admin => $atok, 'admin'], [admin_read => $atok, 'prompts:read'], [alice => $ltok, 'admin']) {
    my ($name, $tok, $scope) = @$_;
    my $r = req(POST => '/api/v1/keys', token => $tok, json => { name => $name, scopes => [$scope] });
    is($r->{status}, 201, "API key $name ($scope)") or diag explain $r;
    $key{$name} = $r->{json}{key} // $r->{json}{token} // $r->{json}{secret};
}
ok($key{$_}, "the $_ key's secret") for sort keys %key;

# every_wrong_credential($path): anonymous 401, a non-admin session 403, a
# non-admin's admin key 403, an admin's key without the admin scope 403;
# the admin's admin key 200.
sub every_wrong_credential {
    my ($path) = @_;
    problem_ok(req(GET => $path), 401, "$path anonymous");
    problem_ok(req(GET => $path, token => $ltok), 403, "$path non-admin session");
    problem_ok(req(GET => $path, token => $key{alice}), 403, "$path non-admin's admin key");
    problem_ok(req(GET => $path, token => $key{admin_read}), 403, "$path admin's prompts:read key");
    is(req(GET => $path, token => $key{admin})->{status}, 200, "$path admin's admin key -> 200");
}

# ---------------------------------------------------------------- user search
my $r = req(GET => '/api/v1/admin/users?q=alice', token => $atok);
is($r->{status}, 200, 'q=alice -> 200') or diag explain $r;
is_deeply([ map { $_->{id} } @{ $r->{json}{items} } ], [$alice], '  alice only');
is($r->{json}{items}[0]{email}, 'alice@example.com', '  with her email');
is($r->{json}{next_cursor}, undef, '  one page');
$r = req(GET => '/api/v1/admin/users?q=ALI', token => $atok);
is_deeply([ map { $_->{id} } @{ $r->{json}{items} } ], [$alice], 'q=ALI: an email prefix in any case');
$r = req(GET => '/api/v1/admin/users?q=' . substr($bob, 0, 8), token => $atok);
is_deeply([ map { $_->{id} } @{ $r->{json}{items} } ], [$bob], 'q=the first 8 characters of bob\'s id: bob');
$r = req(GET => "/api/v1/admin/users?q=$bob", token => $atok);
is_deeply([ map { $_->{id} } @{ $r->{json}{items} } ], [$bob], 'q=bob\'s whole id: bob');
$r = req(GET => '/api/v1/admin/users?q=lice', token => $atok);
is_deeply($r->{json}{items}, [], 'q=lice: a prefix, not a substring: nobody');
$r = req(GET => '/api/v1/admin/users?q=%25', token => $atok);
is_deeply($r->{json}{items}, [], 'q=%: no wildcard');
# pages of two over the five carols: their ids in id order, each once
my @want = @{ $s->psql(q{select id from public.profiles where email like 'carol%' order by id}) };
my (@got, $cursor, $pages);
for (1 .. 5) {
    $r = req(GET => '/api/v1/admin/users?q=carol&limit=2' . ($cursor ? "&cursor=$cursor" : ''), token => $atok);
    is($r->{status}, 200, "q=carol page $_ -> 200") or last;
    push @got, map { $_->{id} } @{ $r->{json}{items} };
    $pages++;
    last unless $cursor = $r->{json}{next_cursor};
}
is_deeply(\@got, [ map { $_->[0] } @want ], 'q=carol in pages of 2: the five carols in id order');
is($pages, 3, '  three pages');
$r = req(GET => '/api/v1/admin/users?limit=100', token => $atok);
is(scalar @{ $r->{json}{items} }, db1('select count(*) from public.profiles'), 'no q: every profile');
for my $bad (['q=', 'q', 'empty q'], ['q=' . ('a' x 255), 'q', 'q of 255 bytes'], ['q=%FF', 'q', 'q not UTF-8'],
             ['cursor=nope', 'cursor', 'a bad cursor'], ['limit=0', 'limit', 'limit 0'], ['limit=101', 'limit', 'limit 101']) {
    my ($query, $field, $name) = @$bad;
    $r = req(GET => "/api/v1/admin/users?$query", token => $atok);
    problem_ok($r, 422, "users: $name");
    is($r->{json}{errors}[0]{field}, $field, "  names $field") or diag $r->{body};
}
is(req(GET => '/api/v1/admin/users?q=' . ('a' x 254), token => $atok)->{status}, 200, 'q of 254 bytes -> 200');
every_wrong_credential('/api/v1/admin/users?q=alice');

# ---------------------------------------------------------------- audit trail
for my $n (1 .. 3) {
    is(req(PATCH => '/api/v1/me', token => $ltok, json => { display_name => "Alice $n" })->{status}, 200,
       "alice updates her profile ($n): audited");
}
is(req(PATCH => '/api/v1/me', token => $atok, json => { display_name => 'Admin' })->{status}, 200,
   'the admin updates theirs (not in alice\'s trail)');
my @ids = map { $_->[0] } @{ $s->psql(qq{select a.id from public.audit_log a join promptd.audit_subjects s
    on s.pseudonym = a.actor_user where s.user_id = '$alice' order by a.id desc}) };
cmp_ok(scalar @ids, '>=', 3, 'alice has ' . @ids . ' audit rows');
$r = req(GET => "/api/v1/admin/users/$alice/audit?limit=2", token => $atok);
is($r->{status}, 200, 'audit limit=2 -> 200') or diag explain $r;
is_deeply([ map { $_->{id} } @{ $r->{json}{items} } ], [ @ids[0, 1] ], '  her two newest rows, newest first');
is($r->{json}{items}[0]{action}, 'profile.update', '  the action');
is_deeply($r->{json}{items}[0]{detail}, { fields => ['display_name'] }, '  the detail');
is($r->{json}{items}[0]{hash}, db1("select hash from public.audit_log where id = $ids[0]"), '  the hash');
is($r->{json}{next_cursor}, $ids[1], '  next_cursor: the last id');
my @all = map { $_->{id} } @{ $r->{json}{items} };
for (1 .. 10) {
    $r = req(GET => "/api/v1/admin/users/$alice/audit?limit=2&before=$r->{json}{next_cursor}", token => $atok);
    is($r->{status}, 200, "audit before= page -> 200") or last;
    push @all, map { $_->{id} } @{ $r->{json}{items} };
    last unless defined $r->{json}{next_cursor};
}
is_deeply(\@all, \@ids, 'every page together: each of her rows once, newest first');
$r = req(GET => "/api/v1/admin/users/$alice/audit?before=$ids[0]", token => $atok);
is_deeply([ map { $_->{id} } @{ $r->{json}{items} } ], [ @ids[1 .. $#ids] ], 'before=the newest id: the older rows');
$r = req(GET => "/api/v1/admin/users/$carols[0]/audit", token => $atok);
is($r->{status}, 200, 'a user never audited -> 200');
is_deeply($r->{json}, { items => [], next_cursor => undef }, '  no rows');
problem_ok(req(GET => '/api/v1/admin/users/00000000-0000-4000-8000-000000000986/audit', token => $atok), 404,
           'audit of an unknown user', qr/No such user/);
problem_ok(req(GET => '/api/v1/admin/users/not-a-uuid/audit', token => $atok), 400, 'audit of a non-uuid id');
for my $bad (['before=abc', 'before'], ['before=0', 'before'], ['before=-1', 'before'],
             ['before=1234567890123456789', 'before'], ['limit=0', 'limit'], ['limit=x', 'limit'], ['limit=101', 'limit']) {
    $r = req(GET => "/api/v1/admin/users/$alice/audit?$bad->[0]", token => $atok);
    problem_ok($r, 422, "audit $bad->[0]");
    is($r->{json}{errors}[0]{field}, $bad->[1], "  names $bad->[1]") or diag $r->{body};
}
every_wrong_credential("/api/v1/admin/users/$alice/audit");
is(req(POST => "/api/v1/admin/users/$alice/audit", token => $atok)->{status}, 405, 'POST audit -> 405');

# ---------------------------------------------------------------- breakers
$s->psql('delete from public.enrich_breakers');
$r = req(GET => '/api/v1/admin/enrich/breakers', token => $atok);
is($r->{status}, 200, 'breakers -> 200') or diag explain $r;
is_deeply($r->{json}, { cooldown_s => 300, providers => [ { provider => 'openai', configured => JSON::PP::true,
    state => 'closed', failures => 0, opened_at => undef, retry_at => undef, probe_started => undef,
    updated_at => undef } ] }, '  no row: the configured remote provider, closed (local has no breaker)');
$s->psql(q{insert into public.enrich_breakers (provider, state, failures, opened_at) values
    ('openai', 'open', 3, now() - interval '10 seconds');
    insert into public.enrich_breakers (provider, state, failures, opened_at, probe_started) values
    ('anthropic', 'half_open', 5, now() - interval '1 hour', now() - interval '5 seconds')});
$r = req(GET => '/api/v1/admin/enrich/breakers', token => $atok);
is($r->{status}, 200, 'breakers, one open and one half open -> 200');
my %b = map { $_->{provider} => $_ } @{ $r->{json}{providers} };
is_deeply([ map { $_->{provider} } @{ $r->{json}{providers} } ], ['anthropic', 'openai'], '  by provider');
is($b{openai}{state}, 'open', '  openai open');
is($b{openai}{failures}, 3, '  3 failures');
my $epoch = sub { db1("select extract(epoch from '$_[0]'::timestamptz)::bigint") };
is($epoch->($b{openai}{opened_at}), db1(q{select extract(epoch from opened_at)::bigint from public.enrich_breakers
    where provider = 'openai'}), '  opened_at as the table');
is($epoch->($b{openai}{retry_at}) - $epoch->($b{openai}{opened_at}), 300, '  retry_at: the cool-down later');
is($b{anthropic}{state}, 'half_open', '  anthropic half open');
is($b{anthropic}{configured}, JSON::PP::false, '  not configured here');
is($b{anthropic}{retry_at}, undef, '  no retry time (its probe is out)');
ok($b{anthropic}{probe_started}, '  its probe start');
every_wrong_credential('/api/v1/admin/enrich/breakers');
is(req(DELETE => '/api/v1/admin/enrich/breakers', token => $atok)->{status}, 405, 'DELETE breakers -> 405');
is(req(GET => '/api/v1/admin/enrich/nope', token => $atok)->{status}, 404, 'an unknown admin enrich route -> 404');
ok(eval { $s->psql(qq{set role authenticated; select set_config('request.jwt.claims', '{"sub":"$alice","role":"authenticated"}', false);
    select promptd.admin_enrich_breakers('{}', 30)}); 0 } || $@ =~ /admin/,
   'admin_enrich_breakers as a non-admin raises');

# ---------------------------------------------------------------- rollup retention
$s->psql(qq{delete from promptd.analytics_rollup_hourly; delete from promptd.analytics_rollup_daily;
    delete from promptd.analytics_daily_users;
    insert into promptd.analytics_rollup_hourly (bucket, source, event_type, dimension, value, events) values
        (date_trunc('hour', now()) - interval '100 days', 'server', 'old.hourly', '', '', 1),
        (date_trunc('hour', now()) - interval '89 days', 'server', 'kept.hourly', '', '', 1),
        (date_trunc('hour', now()) - interval '40 days', 'server', 'mid.hourly', '', '', 1);
    insert into promptd.analytics_rollup_daily (day, source, event_type, dimension, value, events) values
        (current_date - 900, 'server', 'old.daily', '', '', 1),
        (current_date - 799, 'server', 'kept.daily', '', '', 1),
        (current_date - 200, 'server', 'mid.daily', '', '', 1);
    insert into promptd.analytics_daily_users (day, user_id) values
        (current_date - 900, '$alice'), (current_date - 799, '$alice'), (current_date - 200, '$bob')});
# (recent user-days the daemon's rollup may add are not counted below: days older than 100 only)
my $rows = sub {
    # the seeded rows only: the daemon's analytics.rollup adds today's events meanwhile
    join ' ', map { $_->[0] } @{ $s->psql(q{select event_type from promptd.analytics_rollup_hourly where event_type ~ '[.]hourly$'
        union all select event_type from promptd.analytics_rollup_daily where event_type ~ '[.]daily$'
        union all select 'users-' || (current_date - day) from promptd.analytics_daily_users where day < current_date - 100
        order by 1}) };
};
# run_job(%env) -> the job's row after promptd-jobs ran it once with these settings
sub run_job {
    my (%env) = @_;
    my $out = $s->promptctl('jobs', 'enqueue', 'analytics.partitions');
    my ($jid) = $out =~ /"first_id"\s*:\s*(\d+)/;
    my $pid = $s->start_jobs_daemon(%env);
    $s->wait_for(sub { db1("select state <> 'pending' or last_error is not null from background_jobs where id = $jid") eq 't' },
                 timeout => 30);
    $s->stop_ok($pid, 'promptd-jobs stops');
    return $s->psql("select state, result::text, last_error from background_jobs where id = $jid")->[0];
}
my $job = run_job(PROMPTD_ANALYTICS_ROLLUP_HOURLY_DAYS => 200, PROMPTD_ANALYTICS_ROLLUP_DAILY_DAYS => 100);
like($job->[2] // '', qr/PROMPTD_ANALYTICS_ROLLUP_HOURLY_DAYS/, 'hourly days above daily days: the job fails, naming the setting');
is($rows->(), 'kept.daily kept.hourly mid.daily mid.hourly old.daily old.hourly users-200 users-799 users-900',
   '  nothing deleted');
$s->psql("delete from background_jobs where job_type = 'analytics.partitions'");
$job = run_job();
is($job->[0], 'succeeded', 'the analytics.partitions job with the default retention succeeds') or diag explain $job;
is_deeply(decode_json($job->[1])->{rollups}, { hourly => 1, daily => 1, daily_users => 1 },
          '  result: one row of each deleted');
is($rows->(), 'kept.daily kept.hourly mid.daily mid.hourly users-200 users-799',
   '  hourly older than 90 days and daily older than 800 days gone, the rest kept');
$job = run_job(PROMPTD_ANALYTICS_ROLLUP_HOURLY_DAYS => 30, PROMPTD_ANALYTICS_ROLLUP_DAILY_DAYS => 365);
is($job->[0], 'succeeded', 'the job with 30 / 365 days succeeds') or diag explain $job;
is_deeply(decode_json($job->[1])->{rollups}, { hourly => 2, daily => 1, daily_users => 1 }, '  result: 2 hourly, 1 daily, 1 user-day');
is($rows->(), 'mid.daily users-200', '  only the rows inside the shorter retention remain');
for my $bad (['0, 10'], ['10, 0'], ['20, 10']) {
    ok(!eval { $s->psql("select promptd.analytics_rollup_purge($bad->[0])"); 1 } && $@ =~ /hourly <= daily/,
       "analytics_rollup_purge($bad->[0]) raises");
}

done_testing;
