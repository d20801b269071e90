#!/usr/bin/perl
# 988-admin-dashboard.t: the admin dashboard (/admin/) in a real headless Chromium over WebDriver: sign-in through its form, every page's numbers against the seeded database (a user's usage and audit trail, the breakers, retention cohorts, top prompts, per-endpoint requests where served), the date range kept in the URL hash across a reload, a server-side user search, a tier change and a job retry landing in the database, "admins only" for a non-admin, the CSP and cache headers, no console errors, numbers without Chart.js; screenshots in BUILD/t/out/admin-*.png.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use HTTP::Tiny;
use JSON::PP;
use MIME::Base64 qw(decode_base64);
use Promptd::Browser;
use Promptd::Test qw(db1);

plan skip_all => Promptd::Browser->missing if Promptd::Browser->missing;

my $ANON = 'anon-key-988';
my $PW = 'correct horse battery 988';
# No jobs daemon: the rollups and the job queue hold only what this suite writes.
my $s = Promptd::Test->new(PROMPTD_JOBS_DAEMONS => 0, PROMPTD_ANON_KEY => $ANON);
my $out = ($ENV{PROMPTD_BUILD_DIR} || "$FindBin::Bin/..") . '/t/out';
make_path($out);

# --- accounts with passwords (the page signs in with one), admin made by promptctl
my %id;
for my $name (qw(admin alice)) {
    my $r = $s->request(POST => '/auth/v1/signup', { headers => { apikey => $ANON },
        json => { email => "$name\@example.com", password => $PW } });
    is($r->{status}, 200, "$name signed up") or diag $r->{body};
    $id{$name} = $r->{json}{user}{id};
}
$s->promptctl('user', 'admin', 'admin@example.com', 'on');
my $atok = $s->token($id{admin});

# --- the dataset: three days ago (inside the pages' default 30 days)
my $alice = $id{alice};
$s->psql(<<"SQL");
insert into public.prompts (id, user_id, workspace_id, title, content, tags, created_at) values
    ('00000000-0000-4000-8000-00000000000a', '$alice', promptd.personal_workspace('$alice'), 'a1', 'x', '{alpha,beta}', now() - interval '3 days'),
    ('00000000-0000-4000-8000-00000000000b', '$alice', promptd.personal_workspace('$alice'), 'a2', 'y', '{alpha}', now() - interval '3 days');
insert into public.enrichments (user_id, input_hash, input, mode, prompt_id, created_at) values
    ('$alice', repeat('a', 64), 'x', 'improve', '00000000-0000-4000-8000-00000000000b', now() - interval '3 days'),
    ('$alice', repeat('a', 64), 'x', 'improve', '00000000-0000-4000-8000-00000000000b', now() - interval '3 days'),
    ('$alice', repeat('a', 64), 'x', 'improve', '00000000-0000-4000-8000-00000000000a', now() - interval '3 days');
insert into public.enrich_breakers (provider, state, failures, opened_at) values ('openai', 'open', 5, now() - interval '10 seconds');
insert into public.shares (id, user_id, workspace_id, prompt_id, token_hash, token_sealed) values
    ('00000000-0000-4000-8000-0000000000a1', '$alice', promptd.personal_workspace('$alice'),
     '00000000-0000-4000-8000-00000000000a', repeat('1', 64), 'sealed');
insert into public.share_daily (share_id, day, views) values
    ('00000000-0000-4000-8000-0000000000a1', current_date - 3, 5);
delete from promptd.analytics_pending;
delete from promptd.analytics_rollup_hourly;
delete from promptd.analytics_rollup_daily;
delete from promptd.analytics_daily_users;
insert into promptd.analytics_daily_users (day, user_id) values
    (current_date - 3, '$id{admin}'), (current_date - 3, '$alice'), (current_date - 2, '$alice'), (current_date, '$alice');
insert into promptd.analytics_rollup_daily
    (day, source, event_type, dimension, value, events, tokens_in, tokens_out, latency_ms, cost_usd) values
    (current_date - 3, 'server', 'enrichment.completed', '', '', 8, 800, 400, 8400, 0.08),
    (current_date - 3, 'server', 'enrichment.failed', '', '', 2, 0, 0, 1000, 0),
    (current_date - 3, 'server', 'enrichment.completed', 'provider', 'openai', 6, 600, 300, 6000, 0.06),
    (current_date - 3, 'server', 'enrichment.completed', 'provider', 'anthropic', 2, 200, 100, 2400, 0.02),
    (current_date - 3, 'server', 'enrichment.failed', 'provider', 'openai', 2, 0, 0, 1000, 0),
    (current_date - 3, 'server', 'enrichment.completed', 'model', 'gpt-x', 6, 600, 300, 6000, 0.06),
    (current_date - 3, 'server', 'enrichment.completed', 'model', 'claude-y', 2, 200, 100, 2400, 0.02),
    (current_date - 3, 'server', 'enrichment.failed', 'model', 'gpt-x', 2, 0, 0, 1000, 0),
    (current_date - 3, 'server', 'share.viewed', '', '', 5, 0, 0, 0, 0),
    (current_date - 3, 'server', 'share.forked', '', '', 1, 0, 0, 0, 0);
insert into public.background_jobs (queue, job_type, state, attempt, max_attempts, last_error, finished_at)
    values ('default', 'test.dead', 'dead', 5, 5, 'boom 988', now());
SQL
my $dead_id = db1("select id from background_jobs where job_type = 'test.dead'");
# alice's audit trail: 22 profile updates (the page shows 20, then the rest)
my $ltok = $s->token($alice);
for my $n (1 .. 22) {
    $s->request(PATCH => '/api/v1/me', { token => $ltok, json => { display_name => "Alice $n" } })->{status} == 200
        or BAIL_OUT("alice's profile update $n failed");
}
my @audit_ids = map { $_->[0] } @{ $s->psql(qq{select a.id from public.audit_log a join promptd.audit_subjects s
    on s.pseudonym = a.actor_user where s.user_id = '$alice' order by a.id desc}) };
cmp_ok(scalar @audit_ids, '>=', 22, 'alice has ' . @audit_ids . ' audit rows');

# --- headers, without a browser
my $h = $s->request(GET => '/admin/');
is($h->{status}, 200, 'GET /admin/ -> 200');
like($h->{headers}{'content-type'}, qr{^text/html}, '/admin/: text/html');
my $csp = $h->{headers}{'content-security-policy'} // '';
like($csp, qr/(?:^|; )$_(?:;|$)/, "/admin/ CSP: $_") for
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "connect-src 'self'",
    "img-src 'self' data:", "frame-ancestors 'none'";
unlike($csp, qr/unsafe-inline|unsafe-eval/, '/admin/ CSP: nothing unsafe');
is($h->{headers}{'x-frame-options'}, 'DENY', '/admin/: X-Frame-Options DENY');
is($h->{headers}{'cache-control'}, 'no-store', '/admin/: HTML not cached');
unlike($h->{body}, qr/<script>|<style|\sstyle=|\son[a-z]+=/i, 'index.html: no inline script, style or handler');
my $cfg = $s->request(GET => '/admin/config.json');
is($cfg->{status}, 200, 'config.json -> 200');
is_deeply($cfg->{json}, { anon_key => $ANON, prometheus => undef }, 'config.json: the anon key, no Prometheus');
my $cj = $s->request(GET => '/admin/vendor/chart.js');
is($cj->{status}, 200, 'chart.js served from the Debian package');
like($cj->{headers}{'content-type'}, qr{^text/javascript}, 'chart.js: text/javascript');
is($s->request(GET => '/admin/nope.html')->{status}, 404, 'an unknown file -> 404');
my $redir = HTTP::Tiny->new(max_redirect => 0)->get($s->url('/admin'));
is($redir->{status}, 301, '/admin -> 301');
is($redir->{headers}{location}, '/admin/', '/admin -> /admin/');

# ---------------------------------------------------------------- chromedriver
my $browser = eval { Promptd::Browser->new($s, args => ['--window-size=1280,1000']) };
ok($browser, 'chromedriver is ready and a WebDriver session is open') or BAIL_OUT($@);
my $sid = $browser->session_id;
END { local $?; $browser->stop if $browser }
sub wd { $browser->wd(@_) }

sub js { my ($code, @args) = @_; scalar wd(POST => "/session/$sid/execute/sync", { script => $code, args => \@args }) }
sub until_js { my ($code, @args) = @_; $s->wait_for(sub { js($code, @args) }, timeout => 20) }
sub stat_of { js(q{var e = document.querySelector('[data-stat="' + arguments[0] + '"]'); return e ? e.textContent : null}, $_[0]) }
sub console_errors {
    my ($lst, $entries) = wd(POST => "/session/$sid/se/log", { type => 'browser' });
    ($lst, $entries) = wd(POST => "/session/$sid/log", { type => 'browser' }) if $lst != 200;
    return grep { ($_->{level} // '') =~ /^(SEVERE|ERROR)$/ } @{ $entries || [] };
}
sub screenshot {
    my ($name) = @_;
    my ($sst, $png) = wd(GET => "/session/$sid/screenshot");
    return unless $sst == 200 && $png;
    open(my $fh, '>:raw', "$out/admin-$name.png") or die "$out/admin-$name.png: $!";
    print $fh decode_base64($png);
    close $fh;
}
# open_page(name): the hash route, then wait until admin.js says it is drawn.
sub open_page {
    my ($page) = @_;
    js(q{location.hash = '#/' + arguments[0]; return 1}, $page);
    my $ok = until_js(q{return document.getElementById('view').getAttribute('data-ready') === arguments[0]}, $page);
    ok($ok, "page $page drawn") or diag js(q{return document.body.innerText});
    screenshot($page);
}
sub sign_in {
    my ($email, $password) = @_;
    js(q{document.getElementById('email').value = arguments[0];
         document.getElementById('password').value = arguments[1];
         document.getElementById('signin-form').requestSubmit(); return 1}, $email, $password);
}

# --- the sign-in form
wd(POST => "/session/$sid/url", { url => $s->url('/admin/') });
ok(until_js(q{return !document.getElementById('signin').hidden}), 'signed out: the sign-in form is shown');
is(js(q{return document.getElementById('view').hidden}), JSON::PP::true, 'signed out: no page');
is(js(q{return document.getElementById('charts-note').hidden}), JSON::PP::true, 'Chart.js loaded: no "charts unavailable" note');
sign_in('admin@example.com', 'wrong password');
ok(until_js(q{return !document.getElementById('signin-error').hidden}), 'a wrong password: an error is shown');
like(js(q{return document.getElementById('signin-error').textContent}), qr/Sign-in failed/, '  "Sign-in failed"');
is(js(q{return sessionStorage.length}), 0, '  no token kept');
my @failed = console_errors();   # read (and so cleared): the refused sign-in only
is_deeply([ map { $_->{message} =~ m{/auth/v1/token\S* - .*status of 400} ? 1 : $_->{message} } @failed ], [1],
          '  the console shows only the refused sign-in (400)');
screenshot('signin');
sign_in('admin@example.com', $PW);
ok(until_js(q{return document.getElementById('view').getAttribute('data-ready') === 'overview'}), 'admin signed in: overview drawn')
    or diag js(q{return document.body.innerText});
like(js(q{return sessionStorage.getItem('promptd.admin.access_token')}), qr/^[\w-]+\.[\w-]+\.[\w-]+$/, 'the access token is in sessionStorage');
is(js(q{return document.cookie}), '', 'no cookie');

# --- overview: the seeded numbers (and the API's for the moving ones)
my $ov = $s->request(GET => '/api/v1/admin/analytics/overview', { token => $atok })->{json};
my $signups = db1("select count(*) from auth.users where created_at >= now() - interval '30 days'");
is(stat_of('signups'), $signups, "overview: sign-ups = $signups, auth.users of the last 30 days");
my %want = (enrichments => 10, enrichments_failed => 2, success_rate => '0.8', tokens_in => 800, tokens_out => 400,
            cost_usd => '0.08', share_views => 5, share_forks => 1, paid_users => 0);
is(stat_of($_), $want{$_}, "overview: $_ = $want{$_}") for sort keys %want;
is(stat_of($_), $ov->{$_}, "overview: $_ as the API says ($ov->{$_})") for qw(dau wau mau);
is(js(q{return document.querySelectorAll('#view canvas').length}), 2, 'overview: two sparklines (active users, sign-ups)');
sub cells { js(q{return Array.from(document.querySelectorAll(arguments[0])).map(function (t) { return t.textContent })}, $_[0]) }
# retention: the cohort of this week (everyone signed up in it) as the database has it
my ($size, $active) = @{ $s->psql(q{select count(*), count(*) filter (where exists (select 1 from promptd.analytics_daily_users d
    where d.user_id = u.id and d.day >= date_trunc('week', now() at time zone 'utc')::date))
    from auth.users u where u.created_at >= date_trunc('week', now() at time zone 'utc') at time zone 'utc'})->[0] };
my @sizes = @{ cells('#retention tbody td[data-col=size]') };
is($sizes[-1], $size, "overview: retention: this week's cohort has $size users, as auth.users");
is(cells('#retention tbody td[data-col=w0]')->[-1], sprintf('%d%% (%d)', $active / $size * 100 + 0.5, $active),
   "overview: retention: $active of them active this week, as analytics_daily_users");
my $cohorts = $s->request(GET => '/api/v1/admin/analytics/retention', { token => $atok })->{json}{cohorts};
is(scalar @sizes, scalar @$cohorts, 'overview: one retention row per cohort week of the range');
is_deeply(cells('#top-shared tbody td'), ['00000000-0000-4000-8000-00000000000a', 5], 'overview: top prompt by share views (5, share_daily)');
is_deeply(cells('#top-enriched tbody td'), ['00000000-0000-4000-8000-00000000000b', 2, '00000000-0000-4000-8000-00000000000a', 1],
          'overview: top prompts by enrichments (2 and 1, as public.enrichments)');
is_deeply(cells('#top-tags tbody td'), ['alpha', 2, 'beta', 1], 'overview: top tags (alpha on 2 prompts, beta on 1)');
screenshot('overview');

# --- users: the list, search, a tier change in the database
open_page('users');
my $nusers = db1('select count(*) from public.profiles');
is(js(q{return document.querySelectorAll('#users tbody tr[data-user-id]').length}), $nusers, "users: $nusers rows, as profiles");
is(js(q{return document.getElementById('users-box').getAttribute('data-ready-q')}), '', 'users: the list without a search');
js(q{var i = document.getElementById('user-search'); i.value = 'ALI'; i.dispatchEvent(new Event('input')); return 1});
ok(until_js(q{return document.getElementById('users-box').getAttribute('data-ready-q') === 'ALI'}), 'users: the search "ALI" answered');
is_deeply(js(q{return Array.from(document.querySelectorAll('#users tbody tr[data-user-id]')).map(function (r) { return r.getAttribute('data-user-id') })}),
          [$alice], 'users: the server found alice (an email prefix, any case)');
js(q{var i = document.getElementById('user-search'); i.value = 'nobody-988'; i.dispatchEvent(new Event('input')); return 1});
ok(until_js(q{return document.getElementById('users-box').getAttribute('data-ready-q') === 'nobody-988'}), 'users: the search "nobody-988" answered');
is(js(q{return document.querySelectorAll('#users tbody tr[data-user-id]').length}), 0, '  no row');
like(js(q{return document.querySelector('#users tbody').textContent}), qr/no user matches/, '  "no user matches"');
js(q{var i = document.getElementById('user-search'); i.value = 'alice'; i.dispatchEvent(new Event('input')); return 1});
ok(until_js(q{return document.getElementById('users-box').getAttribute('data-ready-q') === 'alice'}), 'users: the search "alice" answered');
is(js(q{return document.querySelectorAll('#users tbody tr[data-user-id]').length}), 1, 'users: the search "alice" leaves one row');
js(q{var s = document.querySelector('select[data-user-tier="' + arguments[0] + '"]'); s.value = 'pro';
     s.dispatchEvent(new Event('change')); return 1}, $alice);
ok(until_js(q{return /now pro/.test(document.getElementById('status').textContent)}), 'users: "tier is now pro" shown');
is(db1("select subscription_tier from public.profiles where id = '$alice'"), 'pro', 'users: the tier changed in the database');
is(db1("select count(*) from public.audit_log where action = 'tier.change'"), 1, 'users: the change is audited');
# alice's details: plan, usage against limits, audit trail
js(q{document.querySelector('button[data-user-detail="' + arguments[0] + '"]').click(); return 1}, $alice);
ok(until_js(q{return document.getElementById('user-detail').getAttribute('data-ready') === arguments[0]}, $alice), 'users: alice\'s details drawn')
    or diag js(q{return document.getElementById('user-detail').textContent});
my $usage = decode_json(db1("select promptd.quota_usage('$alice', 30)::text"));
like(stat_of('user_plan'), qr/\(pro\)$/, 'users: her plan: pro (the tier just set)');
is_deeply(js(q{return Array.from(document.querySelectorAll('#user-usage tbody tr')).map(function (r) {
              return ['resource', 'used', 'limit'].map(function (c) { return r.querySelector('td[data-col=' + c + ']').textContent }) })}),
          [ map { [ $_->{resource}, "$_->{used}", defined $_->{limit} ? "$_->{limit}" : 'unlimited' ] } @{ $usage->{resources} } ],
          'users: her usage against limits, as promptd.quota_usage() says (' . @{ $usage->{resources} } . ' resources)');
is_deeply(cells('#user-audit td[data-col=id]'), [ @audit_ids[0 .. 19] ], 'users: her 20 newest audit rows, newest first, as audit_log');
is(cells('#user-audit td[data-col=action]')->[0], 'profile.update', '  the action');
screenshot('user-detail');
js(q{document.getElementById('audit-older').click(); return 1});
ok(until_js(q{return document.querySelectorAll('#user-audit td[data-col=id]').length === arguments[0]}, scalar @audit_ids),
   'users: "Older" loads the rest');
is_deeply(cells('#user-audit td[data-col=id]'), \@audit_ids, '  every audit row of hers, each once, newest first');
is(js(q{return document.getElementById('audit-older').hidden}), JSON::PP::true, '  and "Older" goes away');

# --- enrichment
open_page('enrichment');
is(stat_of('completed'), 8, 'enrichment: 8 completed');
is(stat_of('failed'), 2, 'enrichment: 2 failed');
is(stat_of('cost_usd'), '0.08', 'enrichment: cost 0.08');
is_deeply(js(q{return Array.from(document.querySelectorAll('#costs-provider tbody td[data-col=provider]')).map(function (t) { return t.textContent })}),
          ['openai', 'anthropic'], 'enrichment: costs by provider, dearest first');
is(js(q{return document.querySelectorAll('#enrichments tbody tr').length}), 2, 'enrichment: one row per day and provider');
is(js(q{return document.querySelectorAll('#view canvas').length}), 1, 'enrichment: a chart');
my $br = $s->psql(q{select provider, state, failures from public.enrich_breakers order by provider});
is_deeply(js(q{return Array.from(document.querySelectorAll('#breakers tbody tr')).map(function (r) {
              return ['provider', 'state', 'failures'].map(function (c) { return r.querySelector('td[data-col=' + c + ']').textContent }) })}),
          [ map { [ $_->[0], $_->[1] =~ s/_/-/r, $_->[2] ] } @$br ], 'enrichment: the breakers as enrich_breakers (openai open, 5 failures)');
is(stat_of('breakers_open'), 1, 'enrichment: one breaker open');
like(js(q{return document.querySelector('#breakers td[data-col=retry_at]').textContent}), qr/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/,
     'enrichment: when the open breaker lets a probe through');
screenshot('enrichment');

# --- sharing
open_page('sharing');
is(stat_of('views'), 5, 'sharing: 5 views');
is(stat_of('forks'), 1, 'sharing: 1 fork');
is(js(q{return document.querySelector('#top-shares td[data-col=share_id]').textContent}), '00000000-0000-4000-8000-0000000000a1',
   'sharing: the most viewed share');
is(js(q{return document.querySelector('#top-shares td[data-col=views]').textContent}), 5, '  its 5 views');

# --- jobs: counts as the table, the dead job retried
open_page('jobs');
for my $state (qw(pending running succeeded dead cancelled)) {
    my $n = db1("select count(*) from background_jobs where state = '$state'");
    is(stat_of($state), $n, "jobs: $state = $n, as background_jobs");
}
is(stat_of('dead'), 1, 'jobs: the seeded dead job counted');
is(js(q{return document.querySelector('#dead-jobs td[data-col=last_error]').textContent}), 'boom 988', 'jobs: its last error');
js(q{document.querySelector('button[data-retry="' + arguments[0] + '"]').click(); return 1}, $dead_id);
ok(until_js(q{return /pending again/.test(document.getElementById('status').textContent)
                  && document.getElementById('view').getAttribute('data-ready') === 'jobs'}), 'jobs: "pending again" shown');
is(db1("select state from background_jobs where id = $dead_id"), 'pending', 'jobs: the retry landed in the database');
ok(until_js(q{return document.querySelector('[data-stat=dead]') && document.querySelector('[data-stat=dead]').textContent === '0'}),
   'jobs: the page redrawn, no dead job left');
screenshot('jobs');

# --- system
# The endpoint statistics get rows: a baseline snapshot of the metrics files,
# five GET /healthz through nginx (waited for in the files, which a worker
# writes just after answering), then a second snapshot.
sub snapshot {
    my ($rc, $out, $err) = $s->_run([$s->{promptctl}, 'reqstats', 'snapshot'], separate => 1,
        env => { PROMPTD_NODE_NAME => 'dash', PROMPTD_METRICS_DIR => $s->var_dir . '/run/metrics' });
    die "promptctl reqstats snapshot failed ($rc): $err$out" if $rc;
}
sub healthz_seen {
    my ($n) = $s->request(GET => '/metrics')->{body} =~
        m{^promptd_http_requests_total\{family="status",route="/healthz",method="GET",status="200"\} (\d+)$}m;
    return $n // 0;
}
snapshot();
my $h0 = healthz_seen();
is($s->request(GET => '/healthz')->{status}, 200, "GET /healthz $_") for 1 .. 5;
ok($s->wait_for(sub { healthz_seen() >= $h0 + 5 }, timeout => 20), 'the five requests are in the metrics files');
snapshot();
open_page('system');
is(stat_of('paid_users_now'), db1("select count(*) from public.profiles where subscription_tier <> 'free'"),
   'system: paid users now, as profiles (alice, pro)');
is(stat_of('dead'), 0, 'system: dead jobs');
like(js(q{return document.getElementById('prometheus').textContent}), qr/PROMPTD_PROMETHEUS=1/,
     'system: Prometheus off: says how to turn it on');
# per-endpoint requests: the table, as the API and the database have them
my $ep = $s->request(GET => '/api/v1/admin/analytics/endpoints', { token => $atok });
is($ep->{status}, 200, 'system: the endpoints statistic answers');
my ($hz) = grep { $_->{family} eq 'status' && $_->{route} eq '/healthz' } @{ $ep->{json}{endpoints} || [] };
is($hz && $hz->{requests}, db1(q{select sum(requests) from promptd.request_stats_minute
    where node = 'dash' and family = 'status' and route = '/healthz'}), '  /healthz: its requests, as request_stats_minute');
cmp_ok($hz && $hz->{requests}, '>=', 5, '  at least the five just made');
is_deeply(cells('#endpoints tbody td[data-col=route]'), [ map { $_->{route} } @{ $ep->{json}{endpoints} } ],
          'system: one row per endpoint, as the API');
is_deeply(cells('#endpoints tbody td[data-col=requests]'), [ map { $_->{requests} } @{ $ep->{json}{endpoints} } ],
          '  their requests');
is(js(q{return document.getElementById('endpoints-na')}), undef, '  no "not available" note');
screenshot('system');

# --- the date range: kept in the hash, applied to every page, kept by a reload
open_page('overview');
my ($d3, $d10, $d5) = @{ $s->psql(q{select current_date - 3, current_date - 10, current_date - 5})->[0] };
sub set_range {
    my ($from, $to, $g) = @_;
    js(q{document.getElementById('range-from').value = arguments[0]; document.getElementById('range-to').value = arguments[1];
         document.getElementById('range-granularity').value = arguments[2];
         document.getElementById('range').requestSubmit(); return 1}, $from, $to, $g);
}
set_range($d3, $d3, 'week');
ok(until_js(q{return location.hash === arguments[0] && document.getElementById('view').getAttribute('data-ready') === 'overview'},
            "#/overview?from=$d3&to=$d3&granularity=week"), "range $d3..$d3 per week: in the hash, overview redrawn")
    or diag js(q{return location.hash});
is(stat_of('enrichments'), 10, '  the seeded day: 10 enrichments');
like(js(q{return document.querySelector('#view .note').textContent}), qr/^From ${d3}T00:00:00Z to .*T00:00:00Z/, '  the overview says the range');
set_range($d10, $d5, 'day');
ok(until_js(q{return location.hash === arguments[0] && document.getElementById('view').getAttribute('data-ready') === 'overview'},
            "#/overview?from=$d10&to=$d5"), "range $d10..$d5: overview redrawn");
is(stat_of($_), 0, "  before the seeded day: $_ 0") for qw(enrichments share_views);
wd(POST => "/session/$sid/refresh", {});
ok(until_js(q{return document.getElementById('view').getAttribute('data-ready') === 'overview'}), 'a reload: overview drawn');
is(js(q{return location.hash}), "#/overview?from=$d10&to=$d5", '  the hash kept the range');
is(js(q{return document.getElementById('range-from').value + ' ' + document.getElementById('range-to').value}), "$d10 $d5",
   '  the form shows it');
is(stat_of('enrichments'), 0, '  and the numbers are the range\'s');
js(q{document.querySelector('#nav a[data-page=enrichment]').click(); return 1});
ok(until_js(q{return document.getElementById('view').getAttribute('data-ready') === 'enrichment'}), 'the nav link to enrichment');
is(js(q{return location.hash}), "#/enrichment?from=$d10&to=$d5", '  carries the range');
is(stat_of('completed'), 0, '  enrichment over the range: 0 completed');
js(q{document.querySelector('#nav a[data-page=sharing]').click(); return 1});
ok(until_js(q{return document.getElementById('view').getAttribute('data-ready') === 'sharing'}), 'sharing over the range');
is(stat_of('views'), 0, '  0 views');
set_range($d3, $d3, 'month');
ok(until_js(q{return document.getElementById('view').getAttribute('data-ready') === 'sharing' && /granularity=month/.test(location.hash)}),
   'sharing per month');
is(stat_of('views'), 5, '  the seeded day: 5 views');
like(js(q{return document.querySelector('[data-chart]').getAttribute('data-chart')}), qr/per month$/, '  drawn per month');
set_range($d3, $d3, 'hour');
ok(until_js(q{return document.getElementById('view').getAttribute('data-ready') === 'sharing' && /granularity=hour/.test(location.hash)}),
   'sharing per hour');
my $hourly = $s->request(GET => "/api/v1/admin/analytics/sharing?from=$d3&to=$d3&granularity=hour", { token => $atok })->{json};
is(stat_of('views'), (eval { my $n = 0; $n += $_->{views} for @{ $hourly->{items} }; $n }),
   '  views as the API counts them per hour (the hourly rollup: none seeded)');
is(js(q{return document.querySelectorAll('#sharing-days tbody tr td[data-col=bucket]').length}), scalar @{ $hourly->{items} },
   '  one row per hour');
like(js(q{return document.querySelector('[data-chart]').getAttribute('data-chart')}), qr/per hour$/, '  drawn per hour');
screenshot('range');
js(q{document.getElementById('range-reset').click(); return 1});
ok(until_js(q{return location.hash === '#/sharing' && document.getElementById('view').getAttribute('data-ready') === 'sharing'}),
   '"Last 30 days": the range leaves the hash');
is(stat_of('views'), 5, '  the default range again');
open_page('system');

my @errors = console_errors();
is(scalar @errors, 0, 'no errors in the browser console') or diag explain \@errors;
is_deeply(js(q{return window.__adminErrors}), [], 'no script error collected by the page');

# --- sign out, then a non-admin: "admins only"
js(q{document.getElementById('signout').click(); return 1});
ok(until_js(q{return !document.getElementById('signin').hidden}), 'signed out: the form again');
is(js(q{return sessionStorage.getItem('promptd.admin.access_token')}), undef, 'signed out: the token is gone');
sign_in('alice@example.com', $PW);
ok(until_js(q{return !document.getElementById('denied').hidden}), 'a non-admin: the "admins only" notice')
    or diag js(q{return document.body.innerText});
like(js(q{return document.getElementById('denied').textContent}), qr/admins only/i, '  it says "admins only"');
is(js(q{return document.getElementById('view').hidden}), JSON::PP::true, '  and no page');
screenshot('denied');
# 403 answers show in the console as failed loads; nothing else may.
@errors = grep { ($_->{message} // '') !~ m{status of 403} } console_errors();
is(scalar @errors, 0, 'non-admin: no console errors besides the 403s') or diag explain \@errors;

# the log capture itself works: an error logged on purpose is seen
js(q{console.error('promptd-console-probe'); return 1});
ok((grep { ($_->{message} // '') =~ /promptd-console-probe/ } console_errors()),
   'a console.error is captured (so "no errors" above means none)');

# --- without Chart.js (the package missing: a 404 there): numbers, no charts, a note
js(q{document.getElementById('signout').click(); return 1});
sign_in('admin@example.com', $PW);
ok(until_js(q{return document.getElementById('view').getAttribute('data-ready') === 'system'}),
   'the admin again, on the page the hash names');
my ($bst) = wd(POST => "/session/$sid/goog/cdp/execute", { cmd => 'Network.enable', params => {} });
SKIP: {
    skip 'chromedriver cannot block a URL (no CDP endpoint)', 6 unless $bst == 200;
    wd(POST => "/session/$sid/goog/cdp/execute",
       { cmd => 'Network.setBlockedURLs', params => { urls => ['*/admin/vendor/chart.js'] } });
    wd(POST => "/session/$sid/refresh", {});
    ok(until_js(q{return document.getElementById('view').getAttribute('data-ready') === 'system'}),
       'no Chart.js: the page is drawn');
    open_page('overview');
    is(js(q{return typeof window.Chart}), 'undefined', '  Chart.js did not load');
    is(js(q{return document.getElementById('charts-note').hidden}), JSON::PP::false, '  the "charts are unavailable" note');
    is(js(q{return document.querySelectorAll('#view canvas').length}), 0, '  no chart');
    is(stat_of('enrichments'), 10, '  the numbers are there');
    screenshot('nocharts');
}

# no path escapes from /admin/
is($s->request(GET => '/admin/../admin.conf')->{status}, 404, '/admin/../admin.conf -> 404');
is($s->request(GET => '/admin/%2e%2e/admin.conf')->{status}, 404, '/admin/%2e%2e/admin.conf -> 404');
is($s->request(GET => '/admin/vendor/chart.min.js')->{status}, 404, 'only the one vendor file');

done_testing;
