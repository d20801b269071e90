#!/usr/bin/perl
# 988-admin-dashboard.t: the admin dashboard (/admin/) in a real headless Chromium over WebDriver: sign-in through its form, every page's numbers against the seeded database, a tier change and a job retry landing in the database, "admins only" for a non-admin, the CSP and cache headers, no console errors, numbers without Chart.js; screenshots in BUILD/t/out/admin-*.png.
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
insert into public.prompts (id, user_id, workspace_id, title, content, created_at) values
    ('00000000-0000-4000-8000-00000000000a', '$alice', promptd.personal_workspace('$alice'), 'a1', 'x', now() - interval '3 days');
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
    (current_date - 3, '$id{admin}'), (current_date - 3, '$alice'), (current_date - 2, '$alice');
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
screenshot('overview');

# --- users: the list, search, a tier change in the database
open_page('users');
my $nusers = db1('select count(*) from public.profiles');
is(js(q{return document.querySelectorAll('#users tbody tr[data-user-id]').length}), $nusers, "users: $nusers rows, as profiles");
js(q{var i = document.getElementById('user-search'); i.value = 'alice'; i.dispatchEvent(new Event('input')); return 1});
is(js(q{return Array.from(document.querySelectorAll('#users tbody tr')).filter(function (r) { return !r.hidden }).length}), 1,
   'users: the search "alice" leaves one row');
js(q{var s = document.querySelector('select[data-user-tier="' + arguments[0] + '"]'); s.value = 'pro';
     s.dispatchEvent(new Event('change')); return 1}, $alice);
ok(until_js(q{return /now pro/.test(document.getElementById('status').textContent)}), 'users: "tier is now pro" shown');
is(db1("select subscription_tier from public.profiles where id = '$alice'"), 'pro', 'users: the tier changed in the database');
is(db1("select count(*) from public.audit_log where action = 'tier.change'"), 1, 'users: the change is audited');

# --- enrichment
open_page('enrichment');
is(stat_of('completed'), 8, 'enrichment: 8 completed');
is(stat_of('failed'), 2, 'enrichment: 2 failed');
is(stat_of('cost_usd'), '0.08', 'enrichment: cost 0.08');
is_deeply(js(q{return Array.from(document.querySelectorAll('#costs-provider tbody td[data-col=provider]')).map(function (t) { return t.textContent })}),
          ['openai', 'anthropic'], 'enrichment: costs by provider, dearest first');
is(js(q{return document.querySelectorAll('#enrichments tbody tr').length}), 2, 'enrichment: one row per day and provider');
is(js(q{return document.querySelectorAll('#view canvas').length}), 1, 'enrichment: a chart');

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
open_page('system');
is(stat_of('paid_users_now'), db1("select count(*) from public.profiles where subscription_tier <> 'free'"),
   'system: paid users now, as profiles (alice, pro)');
is(stat_of('dead'), 0, 'system: dead jobs');
like(js(q{return document.getElementById('prometheus').textContent}), qr/PROMPTD_PROMETHEUS=1/,
     'system: Prometheus off: says how to turn it on');

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
@errors = grep { ($_->{message} // '') !~ /status of 403/ } console_errors();
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
