#!/usr/bin/perl
# 987-analytics-stats.t: the statistics API (GET /api/v1/admin/analytics/* and /api/v1/me/stats) over a seeded dataset with known answers: every statistic's numbers, every bad parameter (422 naming it), access control (admin 200, user 403, anonymous 401) and that one's /me/stats never holds another user's rows.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Promptd::Test qw(db1 problem_ok);

# No jobs daemon: the rollups hold only the rows this suite writes.
my $s = Promptd::Test->new(PROMPTD_JOBS_DAEMONS => 0);
my ($admin, $atok, $alice, $altok, $bob, $btok, $carol) = $s->users('admin', 'alice', 'bob', 'carol');
$s->promptctl('user', 'admin', 'admin@example.com', 'on');
my $R = 'from=2025-03-01&to=2025-03-31';   # [2025-03-01, 2025-04-01)

# --- the dataset (March 2025, UTC)
$s->psql(<<"SQL");
update auth.users set created_at = case id when '$alice' then '2025-03-03T10:00Z'::timestamptz
    when '$bob' then '2025-03-03T15:00Z' when '$carol' then '2025-03-10T09:00Z' else created_at end;
update public.profiles set subscription_tier = 'pro' where id = '$bob';
insert into public.prompts (id, user_id, workspace_id, title, content, tags, created_at) values
    ('00000000-0000-4000-8000-00000000000a', '$alice', promptd.personal_workspace('$alice'), 'a1', 'x', '{x,y}', '2025-03-05T12:00Z'),
    ('00000000-0000-4000-8000-00000000000b', '$alice', promptd.personal_workspace('$alice'), 'a2', 'x', '{y}', '2025-03-05T13:00Z'),
    ('00000000-0000-4000-8000-00000000000c', '$bob', promptd.personal_workspace('$bob'), 'b1', 'x', '{y,z}', '2025-03-05T12:00Z'),
    ('00000000-0000-4000-8000-00000000000d', '$bob', promptd.personal_workspace('$bob'), 'b2', 'x', '{z}', '2025-04-02T12:00Z');
insert into public.enrichments (user_id, input_hash, input, mode, tokens_in, tokens_out, prompt_id, created_at) values
    ('$alice', repeat('a', 64), 'x', 'improve', 100, 50, '00000000-0000-4000-8000-00000000000a', '2025-03-05T12:00Z'),
    ('$alice', repeat('a', 64), 'x', 'improve', 7, 7, '00000000-0000-4000-8000-00000000000b', '2025-04-02T12:00Z'),
    ('$bob', repeat('b', 64), 'x', 'improve', 999, 999, '00000000-0000-4000-8000-00000000000c', '2025-03-05T12:00Z'),
    ('$bob', repeat('b', 64), 'x', 'improve', 1, 1, '00000000-0000-4000-8000-00000000000c', '2025-03-06T12:00Z');
insert into promptd.billing_subscriptions (id, user_id, status, tier) values
    ('sub_bob', '$bob', 'active', 'pro'), ('sub_alice_old', '$alice', 'canceled', 'pro');
insert into public.shares (id, user_id, workspace_id, prompt_id, token_hash, token_sealed) values
    ('00000000-0000-4000-8000-0000000000a1', '$alice', promptd.personal_workspace('$alice'),
     '00000000-0000-4000-8000-00000000000a', repeat('1', 64), 'sealed'),
    ('00000000-0000-4000-8000-0000000000b1', '$bob', promptd.personal_workspace('$bob'),
     '00000000-0000-4000-8000-00000000000c', repeat('2', 64), 'sealed');
insert into public.share_daily (share_id, day, views) values
    ('00000000-0000-4000-8000-0000000000a1', '2025-03-07', 5),
    ('00000000-0000-4000-8000-0000000000a1', '2025-03-08', 2),
    ('00000000-0000-4000-8000-0000000000b1', '2025-03-08', 1),
    ('00000000-0000-4000-8000-0000000000b1', '2025-04-02', 50);
-- the server events the inserts above caused are not part of the dataset
delete from promptd.analytics_pending;
delete from promptd.analytics_rollup_hourly;
delete from promptd.analytics_rollup_daily;
delete from promptd.analytics_daily_users;
insert into promptd.analytics_daily_users (day, user_id) values
    ('2025-02-28', '$alice'), ('2025-03-01', '$admin'), ('2025-03-03', '$alice'),
    ('2025-03-04', '$alice'), ('2025-03-31', '$alice'), ('2025-03-03', '$bob'),
    ('2025-03-20', '$bob'), ('2025-03-31', '$carol');
insert into promptd.analytics_rollup_daily
    (day, source, event_type, dimension, value, events, tokens_in, tokens_out, latency_ms, cost_usd) values
    ('2025-03-05', 'server', 'enrichment.completed', '', '', 8, 800, 400, 8400, 0.08),
    ('2025-03-05', 'server', 'enrichment.failed', '', '', 2, 0, 0, 1000, 0),
    ('2025-03-05', 'server', 'enrichment.completed', 'provider', 'openai', 6, 600, 300, 6000, 0.06),
    ('2025-03-05', 'server', 'enrichment.completed', 'provider', 'anthropic', 2, 200, 100, 2400, 0.02),
    ('2025-03-05', 'server', 'enrichment.failed', 'provider', 'openai', 2, 0, 0, 1000, 0),
    ('2025-03-05', 'server', 'enrichment.completed', 'model', 'gpt-x', 6, 600, 300, 6000, 0.06),
    ('2025-03-05', 'server', 'enrichment.completed', 'model', 'claude-y', 2, 200, 100, 2400, 0.02),
    ('2025-03-05', 'server', 'enrichment.failed', 'model', 'gpt-x', 2, 0, 0, 1000, 0),
    ('2025-04-02', 'server', 'enrichment.completed', '', '', 100, 1, 1, 1, 1),
    ('2025-04-02', 'server', 'enrichment.completed', 'provider', 'openai', 100, 1, 1, 1, 1),
    ('2025-03-05', 'client', 'enrichment.completed', '', '', 7, 0, 0, 0, 0),
    ('2025-03-07', 'server', 'share.viewed', '', '', 5, 0, 0, 0, 0),
    ('2025-03-08', 'server', 'share.viewed', '', '', 3, 0, 0, 0, 0),
    ('2025-03-08', 'server', 'share.forked', '', '', 1, 0, 0, 0, 0),
    ('2025-03-04', 'server', 'plan.changed', '', '', 2, 0, 0, 0, 0),
    ('2025-04-04', 'server', 'plan.changed', '', '', 9, 0, 0, 0, 0);
insert into promptd.analytics_rollup_hourly
    (bucket, source, event_type, dimension, value, events, tokens_in, tokens_out, latency_ms, cost_usd) values
    ('2025-03-05T10:00Z', 'server', 'enrichment.completed', 'provider', 'openai', 6, 600, 300, 6000, 0.06),
    ('2025-03-05T10:00Z', 'server', 'enrichment.completed', 'provider', 'anthropic', 2, 200, 100, 2400, 0.02),
    ('2025-03-05T11:00Z', 'server', 'enrichment.failed', 'provider', 'openai', 2, 0, 0, 1000, 0);
SQL

sub get { my ($tok, $path) = @_; $s->request(GET => $path, $tok ? { token => $tok } : {}) }
sub ok200 {
    my ($tok, $path) = @_;
    my $r = get($tok, $path);
    is($r->{status}, 200, "GET $path -> 200") or diag $r->{body};
    return $r->{json} || {};
}
sub by { my ($key, $list) = @_; return { map { ($_->{$key} => $_) } @{ $list || [] } } }

# --- overview
my $o = ok200($atok, "/api/v1/admin/analytics/overview?$R");
is_deeply({ map { ($_ => 0 + $o->{$_}) } qw(signups paid_users dau wau mau enrichments
    enrichments_failed success_rate tokens_in tokens_out cost_usd share_views share_forks) },
    { signups => 3, paid_users => 1, dau => 2, wau => 2, mau => 3, enrichments => 10,
      enrichments_failed => 2, success_rate => 0.8, tokens_in => 800, tokens_out => 400,
      cost_usd => 0.08, share_views => 8, share_forks => 1 },
    'overview: every headline number (server events only, the range only)');
is_deeply([ @$o{qw(requests p95_ms error_rate)} ], [0, undef, undef],
          'overview: no endpoint statistics in March 2025 (requests 0, p95_ms and error_rate null)');
is_deeply([ sort keys %$o ], [ sort qw(from to signups paid_users dau wau mau enrichments enrichments_failed
    success_rate tokens_in tokens_out cost_usd share_views share_forks requests p95_ms error_rate) ],
          'overview: exactly these keys');
is($o->{from}, '2025-03-01T00:00:00Z', 'overview: from');
is($o->{to}, '2025-04-01T00:00:00Z', 'overview: a date `to` is the end of that day');

# --- sign-ups
my $su = ok200($atok, "/api/v1/admin/analytics/signups?$R");
is($su->{total}, 3, 'signups: total');
is(scalar @{ $su->{items} }, 31, 'signups: 31 daily buckets');
my %su = map { ($_->{bucket} => $_->{signups}) } @{ $su->{items} };
is($su{'2025-03-03T00:00:00Z'}, 2, 'signups: 2 on 03-03');
is($su{'2025-03-10T00:00:00Z'}, 1, 'signups: 1 on 03-10');
is((grep { $_ } values %su), 2, 'signups: no other day');
$su = ok200($atok, "/api/v1/admin/analytics/signups?$R&granularity=week");
is_deeply([ map { [ $_->{bucket}, $_->{signups} ] } @{ $su->{items} } ],
    [ ['2025-02-24T00:00:00Z', 0], ['2025-03-03T00:00:00Z', 2], ['2025-03-10T00:00:00Z', 1],
      ['2025-03-17T00:00:00Z', 0], ['2025-03-24T00:00:00Z', 0], ['2025-03-31T00:00:00Z', 0] ],
    'signups: weeks from Monday');
$su = ok200($atok, '/api/v1/admin/analytics/signups?from=2025-03-03T09:30:00Z&to=2025-03-03T16:00Z&granularity=hour');
is(scalar @{ $su->{items} }, 7, 'signups: hours 09..15');
is_deeply([ map { $_->{bucket} } grep { $_->{signups} } @{ $su->{items} } ],
    ['2025-03-03T10:00:00Z', '2025-03-03T15:00:00Z'], 'signups: by the hour');
$su = ok200($atok, "/api/v1/admin/analytics/signups?$R&granularity=month");
is_deeply($su->{items}, [ { bucket => '2025-03-01T00:00:00Z', signups => 3 } ], 'signups: one month');

# --- active users
my $au = ok200($atok, "/api/v1/admin/analytics/active-users?$R");
my $d = by('bucket', $au->{items});
is(scalar @{ $au->{items} }, 31, 'active-users: 31 days');
is_deeply($d->{'2025-03-01T00:00:00Z'}, { bucket => '2025-03-01T00:00:00Z', active => 1, dau => 1, wau => 2, mau => 2 },
          'active-users 03-01 (alice on 02-28 counts in WAU/MAU)');
is_deeply($d->{'2025-03-03T00:00:00Z'}, { bucket => '2025-03-03T00:00:00Z', active => 2, dau => 2, wau => 3, mau => 3 },
          'active-users 03-03');
is_deeply($d->{'2025-03-31T00:00:00Z'}, { bucket => '2025-03-31T00:00:00Z', active => 2, dau => 2, wau => 2, mau => 3 },
          'active-users 03-31 (admin on 03-01 is out of the 30 days)');
$au = ok200($atok, "/api/v1/admin/analytics/active-users?$R&granularity=month");
is_deeply($au->{items}, [ { bucket => '2025-03-01T00:00:00Z', active => 4, dau => 2, wau => 2, mau => 3 } ],
          'active-users by month: distinct in the month, DAU/WAU/MAU on its last day');
$au = ok200($atok, "/api/v1/admin/analytics/active-users?$R&granularity=week");
is_deeply($au->{items}[0], { bucket => '2025-02-24T00:00:00Z', active => 1, dau => 0, wau => 2, mau => 2 },
          'active-users by week: the first week clipped to the range (ends 03-02)');

# --- enrichments by provider
my $en = ok200($atok, "/api/v1/admin/analytics/enrichments?$R");
is(scalar @{ $en->{items} }, 2, 'enrichments: two provider rows');
my $p = by('provider', $en->{items});
is_deeply([ map { 0 + $_ } @{ $p->{openai} }{qw(completed failed success_rate latency_ms_mean)} ],
          [6, 2, 0.75, 875], 'enrichments: openai (out-of-range day excluded)');
is_deeply([ map { 0 + $_ } @{ $p->{anthropic} }{qw(completed failed success_rate latency_ms_mean)} ],
          [2, 0, 1, 1200], 'enrichments: anthropic');
is($p->{openai}{bucket}, '2025-03-05T00:00:00Z', 'enrichments: bucket');
$en = ok200($atok, "/api/v1/admin/analytics/enrichments?from=2025-03-05&to=2025-03-05&granularity=hour");
is_deeply([ map { [ $_->{bucket}, $_->{provider}, 0 + $_->{completed}, 0 + $_->{failed} ] } @{ $en->{items} } ],
    [ ['2025-03-05T10:00:00Z', 'anthropic', 2, 0], ['2025-03-05T10:00:00Z', 'openai', 6, 0],
      ['2025-03-05T11:00:00Z', 'openai', 0, 2] ], 'enrichments by hour (the hourly rollup)');

# --- costs
my $c = ok200($atok, "/api/v1/admin/analytics/costs?$R");
is_deeply([ map { [ $_->{provider}, map { 0 + $_ } @$_{qw(enrichments tokens_in tokens_out cost_usd)} ] } @{ $c->{by_provider} } ],
    [ ['openai', 8, 600, 300, 0.06], ['anthropic', 2, 200, 100, 0.02] ], 'costs by provider, dearest first');
is_deeply([ map { [ $_->{model}, map { 0 + $_ } @$_{qw(enrichments tokens_in tokens_out cost_usd)} ] } @{ $c->{by_model} } ],
    [ ['gpt-x', 8, 600, 300, 0.06], ['claude-y', 2, 200, 100, 0.02] ], 'costs by model');

# --- sharing
my $sh = ok200($atok, "/api/v1/admin/analytics/sharing?$R");
my $b = by('bucket', $sh->{items});
is(scalar @{ $sh->{items} }, 31, 'sharing: 31 days');
is_deeply([ @{ $b->{'2025-03-07T00:00:00Z'} }{qw(views forks)} ], [5, 0], 'sharing: 03-07');
is_deeply([ @{ $b->{'2025-03-08T00:00:00Z'} }{qw(views forks)} ], [3, 1], 'sharing: 03-08');
is_deeply($sh->{top_shares}, [
    { share_id => '00000000-0000-4000-8000-0000000000a1', prompt_id => '00000000-0000-4000-8000-00000000000a', views => 7 },
    { share_id => '00000000-0000-4000-8000-0000000000b1', prompt_id => '00000000-0000-4000-8000-00000000000c', views => 1 } ],
    'sharing: top shares by views in the range');

# --- conversion
my $cv = ok200($atok, "/api/v1/admin/analytics/conversion?$R&granularity=week");
is_deeply({ map { ($_ => 0 + $cv->{$_}) } qw(signups paid rate plan_changes paid_users_now live_subscriptions) },
    { signups => 3, paid => 1, rate => 0.3333, plan_changes => 2, paid_users_now => 1, live_subscriptions => 1 },
    'conversion: totals (the cohort of the range; plan changes in the range; live subscriptions now)');
my $cw = by('bucket', $cv->{items});
is_deeply([ map { 0 + $_ } @{ $cw->{'2025-03-03T00:00:00Z'} }{qw(signups paid rate)} ], [2, 1, 0.5], 'conversion: the week of 03-03');
is_deeply([ map { 0 + $_ } @{ $cw->{'2025-03-10T00:00:00Z'} }{qw(signups paid rate)} ], [1, 0, 0], 'conversion: the week of 03-10');
is($cw->{'2025-03-17T00:00:00Z'}{rate}, undef, 'conversion: no sign-ups, rate null');

# --- retention
my $rt = ok200($atok, "/api/v1/admin/analytics/retention?$R");
my $co = by('week', $rt->{cohorts});
is(scalar @{ $rt->{cohorts} }, 6, 'retention: six weekly cohorts');
is($co->{'2025-03-03T00:00:00Z'}{size}, 2, 'retention: cohort 03-03 size');
is_deeply([ map { [ $_->{week}, $_->{active}, 0 + ($_->{share} // -1) ] } @{ $co->{'2025-03-03T00:00:00Z'}{weeks} } ],
    [ [0, 2, 1], [1, 0, 0], [2, 1, 0.5], [3, 0, 0], [4, 1, 0.5] ], 'retention: cohort 03-03, weeks 0..4');
is($co->{'2025-03-10T00:00:00Z'}{size}, 1, 'retention: cohort 03-10 size');
is_deeply([ map { [ $_->{week}, $_->{active} ] } @{ $co->{'2025-03-10T00:00:00Z'}{weeks} } ],
    [ [0, 0], [1, 0], [2, 0], [3, 1] ], 'retention: cohort 03-10, weeks 0..3 (carol back on 03-31)');
is($co->{'2025-02-24T00:00:00Z'}{size}, 0, 'retention: the clipped first week is empty');
is($co->{'2025-02-24T00:00:00Z'}{weeks}[0]{share}, undef, '... share null');

# --- top prompts and tags
my $tp = ok200($atok, "/api/v1/admin/analytics/top-prompts?$R");
is_deeply($tp->{by_share_views}, [ { prompt_id => '00000000-0000-4000-8000-00000000000a', views => 7 },
    { prompt_id => '00000000-0000-4000-8000-00000000000c', views => 1 } ], 'top-prompts: by share views');
is_deeply($tp->{by_enrichments}, [ { prompt_id => '00000000-0000-4000-8000-00000000000c', enrichments => 2 },
    { prompt_id => '00000000-0000-4000-8000-00000000000a', enrichments => 1 } ], 'top-prompts: by enrichments (04-02 excluded)');
is_deeply($tp->{tags}, [ { tag => 'y', prompts => 3 }, { tag => 'x', prompts => 1 }, { tag => 'z', prompts => 1 } ],
    'top-prompts: tags of prompts created in the range');

# --- /me/stats: one's own rows only
my $m = ok200($altok, "/api/v1/me/stats?$R&granularity=month");
is_deeply($m->{items}, [ { bucket => '2025-03-01T00:00:00Z', prompts => 2, enrichments => 1,
    tokens_in => 100, tokens_out => 50, share_views => 7 } ], "me/stats: alice's month, none of bob's rows");
$m = ok200($btok, "/api/v1/me/stats?$R&granularity=month");
is_deeply($m->{items}, [ { bucket => '2025-03-01T00:00:00Z', prompts => 1, enrichments => 2,
    tokens_in => 1000, tokens_out => 1000, share_views => 1 } ], "me/stats: bob's month (his 04-02 prompt and views out of range)");
$m = ok200($altok, "/api/v1/me/stats?$R");
my $md = by('bucket', $m->{items});
is(scalar @{ $m->{items} }, 31, 'me/stats: 31 days');
is($md->{'2025-03-05T00:00:00Z'}{prompts}, 2, 'me/stats: prompts on 03-05');
is($md->{'2025-03-08T00:00:00Z'}{share_views}, 2, 'me/stats: share views on 03-08 (bob\'s 1 absent)');
$m = ok200($altok, '/api/v1/me/stats');
is(scalar @{ $m->{items} }, 31, 'me/stats: the default range is the last 30 days (31 day buckets)');

# --- bad parameters: 422 naming each
my @bad = (
    ['from=yesterday', 'from'], ['from=2025-02-30', 'from'], ['to=2025-13-01', 'to'],
    ['from=2025-03-01T25:00:00Z', 'from'], ['from=2025-03-01T10:00:00%2B01:00', 'from'],
    ['to=2025-03-01%20', 'to'], ['from=2025-03-10&to=2025-03-01', 'from'],
    ['from=2025-03-01T10:00Z&to=2025-03-01T10:00Z', 'from'],
    ['from=2024-01-01&to=2025-03-01', 'to'], ['granularity=year', 'granularity'],
    ['granularity=', 'granularity'], ['granularity=DAY', 'granularity'],
);
for my $path (map { "/api/v1/admin/analytics/$_" } qw(active-users signups enrichments sharing conversion)) {
    for (@bad) {
        my ($q, $field) = @$_;
        my $r = get($atok, "$path?$q");
        is($r->{status}, 422, "$path?$q -> 422") or diag $r->{body};
        ok((grep { $_->{field} eq $field } @{ $r->{json}{errors} || [] }), "$path?$q: names $field");
    }
}
for my $path (map { "/api/v1/admin/analytics/$_" } qw(overview costs retention top-prompts)) {
    for (grep { $_->[1] ne 'granularity' } @bad) {
        my ($q, $field) = @$_;
        my $r = get($atok, "$path?$q");
        is($r->{status}, 422, "$path?$q -> 422");
        ok((grep { $_->{field} eq $field } @{ $r->{json}{errors} || [] }), "$path?$q: names $field");
    }
}
for my $q ('granularity=hour', 'granularity=year', 'from=nope') {
    my ($field) = $q =~ /^(\w+)/;
    for my $t ([$altok, '/api/v1/me/stats'], [$atok, '/api/v1/admin/analytics/active-users']) {
        my $r = get($t->[0], "$t->[1]?$q");
        is($r->{status}, 422, "$t->[1]?$q -> 422");
        ok((grep { $_->{field} eq $field } @{ $r->{json}{errors} || [] }), "$t->[1]?$q: names $field");
    }
}
is(get($atok, '/api/v1/admin/analytics/signups?from=2024-01-01&to=2024-12-31')->{status}, 200,
   'a range of 366 days (the leap year 2024) is allowed');
my $r367 = get($atok, '/api/v1/admin/analytics/signups?from=2024-01-01&to=2025-01-01');
is($r367->{status}, 422, 'a range of 367 days -> 422');
like($r367->{json}{errors}[0]{message} // '', qr/at most 366 days/, '... saying the limit');

# --- access control
for my $path (map { "/api/v1/admin/analytics/$_" } qw(overview active-users signups enrichments costs sharing
                                                       conversion retention top-prompts endpoints)) {
    problem_ok(get($altok, $path), 403, "$path as a user");
    problem_ok(get(undef, $path), 401, "$path anonymous");
}
problem_ok(get(undef, '/api/v1/me/stats'), 401, '/me/stats anonymous');
ok(!eval { $s->psql("set role authenticated; select set_config('request.jwt.claims', '{\"sub\":\"$alice\",\"role\":\"authenticated\"}', false); "
       . "select promptd.admin_analytics_overview(now() - interval '1 day', now())"); 1 },
   'admin_analytics_overview as a non-admin raises (the SQL checks too)');
ok(!eval { $s->psql("set role authenticated; select promptd.analytics_stats_active(current_date)"); 1 },
   'the internal helpers are not executable by authenticated');

done_testing();
