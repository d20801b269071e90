#!/usr/bin/perl
# 703-share-browser.t: a real headless Chromium (driven over WebDriver by chromedriver, both Debian
# packages) opens a share page: rendered title, Open Graph tags, escaped content, no injected script
# ran, the static copy script ran under the CSP, and the console has no errors.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use Time::HiRes qw(time sleep);
use Promptd::Browser;
use Promptd::Test;

plan skip_all => Promptd::Browser->missing if Promptd::Browser->missing;

my $s = Promptd::Test->new;
my $alice = $s->user_create('alice@example.com');
my $ta = $s->token($alice);
$s->psql("update profiles set display_name = 'Alice <b>&</b>' where id = '$alice'");

my $title = q{Summarise <script>window.__xss = 1</script> "quoted" & more};
my $content = qq{You are a helpful assistant.\n<img src=x onerror="window.__xss = 2">\n</pre><script>window.__xss = 3</script>\nTopic: {{topic}} & 'friends'};
my $p = $s->request(POST => '/api/v1/prompts', { token => $ta,
    json => { title => $title, content => $content, tags => ['<i>tag</i>'] } });
is($p->{status}, 201, 'prompt created');
my $sh = $s->request(POST => "/api/v1/prompts/$p->{json}{id}/shares",
                     { token => $ta, json => { public => JSON::PP::true } });
is($sh->{status}, 201, 'share created');
my $url = $s->url("/s/$sh->{json}{token}");

# ---------------------------------------------------------------- chromedriver
my $browser = eval { Promptd::Browser->new($s) };
ok($browser, 'chromedriver is ready and a WebDriver session is open') or BAIL_OUT($@);
my $sid = $browser->session_id;
END { local $?; $browser->stop if $browser }
sub wd { $browser->wd(@_) }
sub js { my ($code) = @_; scalar wd(POST => "/session/$sid/execute/sync", { script => $code, args => [] }) }

my ($st) = wd(POST => "/session/$sid/url", { url => $url });
is($st, 200, "navigated to $url");
$s->wait_for(sub { (js('return document.readyState') // '') eq 'complete' }, timeout => 20);

is(scalar wd(GET => "/session/$sid/title"), "$title \x{b7} promptd", 'rendered title is the literal text');
is(js(q{return document.querySelector('meta[property="og:title"]').getAttribute('content')}), $title,
   'og:title');
like(js(q{return document.querySelector('meta[property="og:description"]').getAttribute('content')}),
     qr/^You are a helpful assistant\. <img src=x onerror=/, 'og:description (excerpt, literal)');
like(js(q{return document.querySelector('meta[property="og:url"]').getAttribute('content')}),
     qr{/s/\Q$sh->{json}{token}\E$}, 'og:url');
is(js(q{return document.querySelector('meta[name="twitter:card"]').getAttribute('content')}), 'summary',
   'twitter:card');
is(js(q{return document.getElementById('prompt-content').textContent}), $content,
   'the content is shown as text, byte for byte');
is(js(q{return document.querySelector('h1').textContent}), $title, 'the heading is the literal title');
is(js(q{return document.querySelector('.author').textContent}), 'Alice <b>&</b>', 'author shown literally');
is(js(q{return document.querySelector('.tags li').textContent}), '<i>tag</i>', 'tag shown literally');
is(js(q{return typeof window.__xss}), 'undefined', 'no injected script or handler ran');
is(js(q{return document.querySelectorAll('main img, main i, pre script').length}), 0,
   'no element was injected');
is(js(q{return document.getElementById('copy').hidden}), JSON::PP::false,
   'the static copy script ran under the CSP (button shown)');
is(js(q{return getComputedStyle(document.querySelector('pre.content')).whiteSpace}), 'pre-wrap',
   'the stylesheet applied');

# console: no errors (CSP violations, failed loads, script errors)
my ($lst, $entries) = wd(POST => "/session/$sid/se/log", { type => 'browser' });
($lst, $entries) = wd(POST => "/session/$sid/log", { type => 'browser' }) if $lst != 200;
is($lst, 200, 'browser log fetched');
my @errors = grep { ($_->{level} // '') =~ /^(SEVERE|ERROR)$/ } @{ $entries || [] };
is(scalar @errors, 0, 'no errors in the browser console') or diag explain \@errors;

# the password form renders and works without JavaScript
my $pw = $s->request(POST => "/api/v1/prompts/$p->{json}{id}/shares",
                     { token => $ta, json => { password => 'open sesame' } });
wd(POST => "/session/$sid/url", { url => $s->url("/s/$pw->{json}{token}") });
is(js(q{return document.querySelectorAll('form input[type=password]').length}), 1, 'password form');
js(q{document.getElementById('password').value = 'open sesame'; document.querySelector('form').submit(); return 1});
my $opened = $s->wait_for(sub { (js(q{var e = document.getElementById('prompt-content'); return e ? e.textContent : ''}) // '') eq $content },
                          timeout => 20);
ok($opened, 'the right password opens the prompt (cookie set, redirect followed)');
($lst, $entries) = wd(POST => "/session/$sid/se/log", { type => 'browser' });
($lst, $entries) = wd(POST => "/session/$sid/log", { type => 'browser' }) if $lst != 200;
@errors = grep { ($_->{level} // '') =~ /^(SEVERE|ERROR)$/ } @{ $entries || [] };
is(scalar @errors, 0, 'still no console errors') or diag explain \@errors;

# the log capture itself works: an error logged on purpose is seen
js(q{console.error('promptd-console-probe'); return 1});
($lst, $entries) = wd(POST => "/session/$sid/se/log", { type => 'browser' });
($lst, $entries) = wd(POST => "/session/$sid/log", { type => 'browser' }) if $lst != 200;
ok((grep { ($_->{message} // '') =~ /promptd-console-probe/ && $_->{level} eq 'SEVERE' } @{ $entries || [] }),
   'a console.error is captured (so "no errors" above means none)');

done_testing;
