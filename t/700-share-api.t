#!/usr/bin/perl
# 700-share-api.t: share links: owner API (create, list, show, patch, revoke, stats), the shared JSON,
# the HTML page (escaping, meta tags, CSP), password unlock, fork, pinning, expiry, revocation,
# the public gallery, other users' links invisible, bad input and token guessing.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA qw(sha256_hex);
use JSON::PP;
use MIME::Base64 qw(encode_base64url);
use Time::HiRes qw(time sleep);
use Promptd::Test qw(db1 api);

my $s = Promptd::Test->new;
my ($alice, $ta, $bob, $tb) = $s->users(qw(alice bob));
my $UUID = $Promptd::Test::UUID;
my $T = JSON::PP::true;
my $F = JSON::PP::false;

# These assertions see the worker's answer of the moment: no request header
# bypasses the share micro-cache (t/701 tests it), so this stack's nginx
# serves the share locations without it (share-cache.conf emptied, reload).
{
    my $conf = $s->var_dir . '/nginx/share-cache.conf';
    open(my $fh, '>', $conf) or die "$conf: $!";
    print $fh "# 700-share-api.t: no micro-cache\n";
    close $fh;
    my $ngx = do { open(my $f, '<', $s->var_dir . '/run/nginx.pid') or die $!; my $x = <$f>; $x =~ s/\D//g; $x };
    kill 'HUP', $ngx or die "HUP nginx: $!";
    ok($s->wait_for(sub { !defined $s->request(GET => '/api/v1/public/prompts')->{headers}{'x-cache-status'} },
                    timeout => 10), 'this stack serves the share locations without the micro-cache');
}
sub fresh { my ($m, $p, %o) = @_; $s->request($m, $p, {%o}) }
sub prompt {
    my ($tok, %b) = @_;
    my $r = api($tok, POST => '/api/v1/prompts', json => { title => 't', content => 'c', %b });
    is($r->{status}, 201, "prompt '$b{title}' created") or diag explain $r;
    return $r->{json}{id};
}
sub share {
    my ($tok, $pid, %b) = @_;
    my $r = api($tok, POST => "/api/v1/prompts/$pid/shares", json => {%b});
    is($r->{status}, 201, 'share created') or diag explain $r;
    return $r->{json};
}
# Form posts without following the 303 (the cookie is what we check).
my $noredir = HTTP::Tiny->new(max_redirect => 0, timeout => 30, agent => 'promptd-test/1');
sub form_post {
    my ($token, $body) = @_;
    my $res = $noredir->request(POST => $s->url("/s/$token"), {
        headers => { 'Content-Type' => 'application/x-www-form-urlencoded' }, content => $body });
    return { status => $res->{status}, headers => $res->{headers}, body => $res->{content} // '' };
}
sub rand_token { my $b = ''; $b .= chr(int rand 256) for 1 .. 32; encode_base64url($b) }
sub problem_ok {
    my ($r, $status, $name) = @_;
    is($r->{status}, $status, "$name -> $status") or diag explain $r;
    like($r->{headers}{'content-type'} // '', qr{^application/problem\+json}, "$name: problem+json");
}

my $xss_title = q{<script>alert("t")</script> & 'quotes'};
my $xss_content = qq{Summarise {{topic}}.\n<img src=x onerror="alert(1)"></pre><script>alert(2)</script>\n"attr" 'single' &amp;};
my $pa = prompt($ta, title => $xss_title, content => $xss_content, tags => ['<b>bold</b>', 'writing']);
my $pb = prompt($tb, title => 'bob private', content => 'bob secret');

# --------------------------------------------------------------- create
my $r = api($ta, POST => "/api/v1/prompts/$pa/shares", json => { public => $T });
is($r->{status}, 201, 'POST /api/v1/prompts/{id}/shares -> 201') or diag explain $r;
my $sh = $r->{json};
like($sh->{id}, $UUID, 'id is a UUID');
like($sh->{token}, qr/^[A-Za-z0-9_-]{43}$/, 'token: 43 base64url characters (256 bits)');
like($sh->{url}, qr{/s/\Q$sh->{token}\E$}, 'url ends with /s/{token}');
is($r->{headers}{location}, "/api/v1/shares/$sh->{id}", 'Location');
is($sh->{expires_at}, undef, 'no expiry by default');
ok($sh->{public} && $sh->{allow_fork} && !$sh->{has_password}, 'public, forks allowed, no password');
is($sh->{status}, 'active', 'status active');
is(db1("select token_hash from shares where id = '$sh->{id}'"), sha256_hex($sh->{token}),
   'stored: SHA-256 of the token');
is(db1("select count(*) from shares s where s::text like '%$sh->{token}%'"), 0,
   'no column holds the token in clear');
is(db1("select user_id from shares where id = '$sh->{id}'"), $alice, 'owned by the caller');
is(db1("select count(*) from audit_log where action = 'share.create' and target = '$sh->{id}'"), 1,
   'audited: share.create');
my $tok = $sh->{token};

# other tokens are unrelated
my $sh2 = share($ta, $pa, allow_fork => $F);
isnt($sh2->{token}, $tok, 'a second link has another token');

# ------------------------------------------------------------- bad input
problem_ok(api($ta, POST => "/api/v1/prompts/$pa/shares", body => '{"public":',
               headers => { 'Content-Type' => 'application/json' }), 400, 'malformed JSON');
problem_ok(api($ta, POST => "/api/v1/prompts/$pa/shares", body => 'public=1',
               headers => { 'Content-Type' => 'application/x-www-form-urlencoded' }), 415, 'not JSON');
for my $case (
    [{ public => 'yes' }, 'public', 'public not a boolean'],
    [{ allow_fork => 1 }, 'allow_fork', 'allow_fork not a boolean'],
    [{ expires_in => 0 }, 'expires_in', 'expires_in 0'],
    [{ expires_in => 'soon' }, 'expires_in', 'expires_in a string'],
    [{ expires_at => 'tomorrow' }, 'expires_at', 'expires_at not RFC 3339'],
    [{ expires_at => '2001-01-01T00:00:00Z' }, 'expires_at', 'expires_at in the past'],
    [{ expires_at => '2999-01-01T00:00:00Z', expires_in => 60 }, 'expires_at', 'both expiries'],
    [{ password => 'abc' }, 'password', 'password too short'],
    [{ password => 12345678 }, 'password', 'password not a string'],
    [{ pin_version => 99 }, 'pin_version', 'pin_version that does not exist'],
    [{ pin_version => 0 }, 'pin_version', 'pin_version 0'],
    [{ colour => 'red' }, 'colour', 'unknown member'],
) {
    my ($body, $field, $name) = @{$case};
    $r = api($ta, POST => "/api/v1/prompts/$pa/shares", json => $body);
    problem_ok($r, 422, $name);
    ok((grep { $_->{field} eq $field } @{ $r->{json}{errors} || [] }), "$name: error names $field")
        or diag explain $r->{json};
}
problem_ok(api($ta, POST => "/api/v1/prompts/$pa/shares", json => { password => 'x' x 300_000 }),
           413, 'oversize body');
problem_ok($s->request(POST => "/api/v1/prompts/$pa/shares", { json => {} }), 401, 'no token');
problem_ok(api('not.a.jwt', POST => "/api/v1/prompts/$pa/shares", json => {}), 401, 'bad token');
problem_ok(api($ta, POST => '/api/v1/prompts/nope/shares', json => {}), 400, 'prompt id not a UUID');
problem_ok(api($tb, POST => "/api/v1/prompts/$pa/shares", json => {}), 404,
           "sharing another user's prompt");
problem_ok(api($ta, POST => '/api/v1/prompts/00000000-0000-4000-8000-000000000000/shares', json => {}),
           404, 'sharing a prompt that does not exist');
is(db1("select count(*) from shares"), 2, 'no share was created by the refused requests');

# ---------------------------------------------------- list / show / RLS
$r = api($ta, GET => '/api/v1/shares');
is($r->{status}, 200, 'GET /api/v1/shares -> 200');
is(scalar @{ $r->{json}{items} }, 2, 'alice sees her two links');
is($r->{json}{items}[1]{token}, $tok, 'the owner sees the token again (sealed at rest)');
ok(exists $r->{json}{items}[0]{$_}, "list item has $_")
    for qw(views unique_viewers forks last_viewed_at url status);
$r = api($ta, GET => '/api/v1/shares?limit=1');
is(scalar @{ $r->{json}{items} }, 1, 'limit=1: one item');
my $next = $r->{json}{next_cursor};
like($next, $UUID, 'next_cursor');
$r = api($ta, GET => "/api/v1/shares?limit=1&cursor=$next");
is($r->{json}{items}[0]{id}, $sh->{id}, 'the second page has the older link');
is($r->{json}{next_cursor}, undef, 'and no further page');
problem_ok(api($ta, GET => '/api/v1/shares?cursor=zzz'), 422, 'bad cursor');
problem_ok(api($ta, GET => '/api/v1/shares?limit=0'), 422, 'limit 0');
$r = api($tb, GET => '/api/v1/shares');
is(scalar @{ $r->{json}{items} }, 0, "bob sees none of alice's links");
$r = api($ta, GET => "/api/v1/shares/$sh->{id}");
is($r->{status}, 200, 'GET /api/v1/shares/{id} -> 200');
is($r->{json}{token}, $tok, 'with its token');
problem_ok(api($tb, GET => "/api/v1/shares/$sh->{id}"), 404, "bob reading alice's link");
problem_ok(api($tb, PATCH => "/api/v1/shares/$sh->{id}", json => { public => $F }), 404,
           "bob changing alice's link");
problem_ok(api($tb, DELETE => "/api/v1/shares/$sh->{id}"), 404, "bob revoking alice's link");
problem_ok(api($tb, GET => "/api/v1/shares/$sh->{id}/stats"), 404, "bob reading alice's stats");
is(db1("select revoked_at is null and public from shares where id = '$sh->{id}'"), 't',
   "alice's link untouched by bob");
problem_ok(api($ta, GET => '/api/v1/shares/not-a-uuid'), 400, 'share id not a UUID');

# --------------------------------------------------------------- patch
$r = api($ta, PATCH => "/api/v1/shares/$sh2->{id}", json => { allow_fork => $T, expires_in => 3600 });
is($r->{status}, 200, 'PATCH -> 200') or diag explain $r;
ok($r->{json}{allow_fork}, 'allow_fork changed');
ok($r->{json}{expires_at}, 'expiry set');
$r = api($ta, PATCH => "/api/v1/shares/$sh2->{id}", json => { expires_at => undef, allow_fork => $F });
is($r->{status}, 200, 'PATCH expires_at null -> 200');
is($r->{json}{expires_at}, undef, 'expiry cleared');
problem_ok(api($ta, PATCH => "/api/v1/shares/$sh2->{id}", json => {}), 422, 'PATCH without fields');
problem_ok(api($ta, PATCH => "/api/v1/shares/$sh2->{id}", json => { expires_in => -5 }), 422,
           'PATCH negative expiry');
problem_ok(api($ta, PATCH => "/api/v1/shares/$sh2->{id}", json => { password => 'abcdefgh' }), 422,
           'PATCH password (not changeable)');

# ---------------------------------------------------------- shared JSON
$r = fresh(GET => "/api/v1/shared/$tok");
is($r->{status}, 200, 'GET /api/v1/shared/{token} -> 200') or diag explain $r;
is($r->{json}{title}, $xss_title, 'title');
is($r->{json}{content}, $xss_content, 'content');
is_deeply($r->{json}{tags}, ['<b>bold</b>', 'writing'], 'tags');
is($r->{json}{author}, 'a promptd user', 'author (no display name set; never the email)');
ok(!grep({ defined && !ref && /alice\@example/ } values %{ $r->{json} }), 'no email in the answer');
like($r->{json}{updated_at}, qr/^\d{4}-\d\d-\d\dT/, 'updated_at in ISO 8601');
for my $i (1 .. 10) {
    my $g = rand_token();
    $r = fresh(GET => "/api/v1/shared/$g");
    next if $r->{status} == 404;
    fail("guessed token $g -> $r->{status}");
}
pass('ten guessed tokens -> 404');
problem_ok(fresh(GET => '/api/v1/shared/short'), 404, 'malformed token');
problem_ok(fresh(GET => '/api/v1/shared/' . substr($tok, 0, 42) . (substr($tok, 42) eq 'A' ? 'B' : 'A')),
           404, 'token off by one character');

# ----------------------------------------------------------- HTML page
$r = fresh(GET => "/s/$tok");
is($r->{status}, 200, 'GET /s/{token} -> 200');
like($r->{headers}{'content-type'}, qr{^text/html; charset=utf-8}, 'text/html');
my $csp = $r->{headers}{'content-security-policy'} // '';
like($csp, qr/default-src 'none'/, 'CSP default-src none');
like($csp, qr/script-src 'self'(;|$)/, 'CSP: scripts only from self (no inline)');
my $html = $r->{body};
unlike($html, qr/<script>alert/, 'no executable <script> from the prompt');
unlike($html, qr/<img src=x/, 'no raw <img> from the prompt');
unlike($html, qr/onerror="alert/, 'no raw event-handler attribute');
like($html, qr/&lt;script&gt;alert\(&quot;t&quot;\)&lt;\/script&gt; &amp; &#39;quotes&#39;/, 'title escaped');
like($html, qr{<pre id="prompt-content" class="content">Summarise \{\{topic\}\}\.\n&lt;img src=x onerror=&quot;alert\(1\)&quot;&gt;&lt;/pre&gt;},
     'content escaped (including a closing </pre>)');
like($html, qr{&amp;amp;}, 'an entity in the content is shown literally');
like($html, qr{<li>&lt;b&gt;bold&lt;/b&gt;</li>}, 'tags escaped');
like($html, qr{<meta property="og:title" content="&lt;script&gt;alert\(&quot;t&quot;\)}, 'og:title escaped');
like($html, qr{<meta property="og:description" content="Summarise \{\{topic\}\}\. &lt;img}, 'og:description: escaped excerpt');
like($html, qr{<meta property="og:url" content="[^"]*/s/\Q$tok\E">}, 'og:url');
like($html, qr{<meta name="twitter:card" content="summary">}, 'twitter card');
unlike($html, qr/name="robots"/, 'a public link may be indexed');
my @scripts = $html =~ /<script([^>]*)>/g;
is(scalar @scripts, 1, 'one script element');
like($scripts[0], qr{src="/static/share/[0-9a-z]+/share\.js"}, 'the copy script is a static file');
like($html, qr{<a class="fork" href="[^"]*\?fork=\Q$tok\E">}, 'fork offered (allowed)');
like($html, qr{<button type="button" id="copy" class="copy" hidden>}, 'copy button (shown by the script)');
is($r->{headers}{'x-share-id'}, $sh->{id}, 'X-Share-Id (the view log key)');
$r = fresh(GET => "/s/$sh2->{token}");
like($r->{body}, qr{<meta name="robots" content="noindex, nofollow">}, 'unlisted link: noindex');
is($r->{headers}{'x-robots-tag'}, 'noindex', 'unlisted link: X-Robots-Tag');
unlike($r->{body}, qr/class="fork"/, 'no fork link when forks are not allowed');
$r = fresh(GET => '/s/' . rand_token());
is($r->{status}, 404, 'unknown token: 404 page');
like($r->{headers}{'content-type'}, qr{^text/html}, 'as HTML');
like($r->{body}, qr/Link not found/, 'saying so');

# static assets
for my $f (['share.css', qr{^text/css}], ['share.js', qr{^text/javascript}], ['icon.svg', qr{^image/svg\+xml}]) {
    $r = $s->request(GET => "/static/share/1/$f->[0]");
    is($r->{status}, 200, "static $f->[0] -> 200");
    like($r->{headers}{'content-type'}, $f->[1], "$f->[0] content type");
    like($r->{headers}{'cache-control'}, qr/max-age=31536000, immutable/, "$f->[0]: cached for a year");
}
is($s->request(GET => '/static/share/1/../share.conf')->{status}, 404, 'no path escape from static');

# ------------------------------------------------------------------ fork
$r = api($tb, POST => "/api/v1/shared/$tok/fork");
is($r->{status}, 201, 'POST /api/v1/shared/{token}/fork -> 201') or diag explain $r;
my $fork = $r->{json};
is($fork->{forked_from}, $pa, 'forked_from the shared prompt');
is($fork->{content}, $xss_content, 'content copied');
is($r->{headers}{location}, "/api/v1/prompts/$fork->{id}", 'Location of the new prompt');
is(db1("select user_id from prompts where id = '$fork->{id}'"), $bob, "the fork is bob's");
is(db1("select forks from shares where id = '$sh->{id}'"), 1, 'fork counted');
$r = api($tb, GET => "/api/v1/prompts/$fork->{id}");
is($r->{status}, 200, 'bob reads his fork');
is($r->{json}{forked_from}, $pa, '... and the prompt shows forked_from');
is(api($ta, GET => "/api/v1/prompts/$pa")->{json}{forked_from}, undef, 'an original has forked_from null');
problem_ok(api($tb, POST => "/api/v1/shared/$sh2->{token}/fork"), 403, 'fork of a link that forbids it');
problem_ok($s->request(POST => "/api/v1/shared/$tok/fork"), 401, 'fork without signing in');
problem_ok(api($tb, POST => '/api/v1/shared/' . rand_token() . '/fork'), 404, 'fork of an unknown link');
is(db1("select count(*) from prompts where user_id = '$bob'"), 2, 'refused forks created nothing');

# ------------------------------------------------------- pinned version
$r = api($ta, PATCH => "/api/v1/prompts/$pa", json => { content => 'version two' });
is($r->{status}, 200, 'prompt updated to version 2');
my $pin = share($ta, $pa, pin_version => 1);
is($pin->{pin_version}, 1, 'pinned to version 1');
is(fresh(GET => "/api/v1/shared/$pin->{token}")->{json}{content}, $xss_content, 'pinned link shows version 1');
is(fresh(GET => "/api/v1/shared/$tok")->{json}{content}, 'version two', 'unpinned link follows the prompt');

# -------------------------------------------------------------- password
my $pw = share($ta, $pa, password => 'open sesame');
ok($pw->{has_password}, 'has_password');
like(db1("select password_hash from shares where id = '$pw->{id}'"), qr/^\$argon2id\$/, 'argon2id hash stored');
$r = fresh(GET => "/s/$pw->{token}");
is($r->{status}, 200, 'password link: the form');
like($r->{body}, qr{<form method="post" action="/s/\Q$pw->{token}\E">}, 'a form posting to the page');
unlike($r->{body}, qr/version two/, 'no content before the password');
like($r->{headers}{'cache-control'}, qr/no-store/, 'the form is never stored');
like($r->{body}, qr{name="robots" content="noindex}, 'never indexed');
problem_ok(fresh(GET => "/api/v1/shared/$pw->{token}"), 401, 'JSON of a locked link');
$r = form_post($pw->{token}, 'password=wrong');
is($r->{status}, 401, 'wrong password -> 401');
like($r->{body}, qr/Wrong password/, 'the form again, saying so');
ok(!$r->{headers}{'set-cookie'}, 'no cookie');
$r = form_post($pw->{token}, 'password=');
is($r->{status}, 401, 'empty password -> 401');
$r = form_post($pw->{token}, 'password=open%20sesame');
is($r->{status}, 303, 'right password -> 303');
is($r->{headers}{location}, "/s/$pw->{token}", 'back to the page');
my $set = $r->{headers}{'set-cookie'} // '';
like($set, qr/^pd_share_[0-9a-f]{16}=\d+\.[0-9a-f]{64}; Path=\/; Max-Age=3600; HttpOnly; SameSite=Lax$/,
     'a short-lived signed HttpOnly cookie');
my ($cookie) = $set =~ /^([^;]+)/;
$r = $s->request(GET => "/s/$pw->{token}", { headers => { Cookie => "other=1; $cookie" } });
is($r->{status}, 200, 'with the cookie -> 200');
like($r->{body}, qr/version two/, 'the content');
like($r->{headers}{'cache-control'}, qr/private, no-store/, 'unlocked page: private, no-store');
isnt($r->{headers}{'x-cache-status'} // '', 'HIT', 'not served by the edge cache (t/701: never stored)');
$r = $s->request(GET => "/api/v1/shared/$pw->{token}", { headers => { Cookie => $cookie } });
is($r->{status}, 200, 'JSON with the cookie -> 200');
(my $forged = $cookie) =~ s/[0-9a-f](?=[0-9a-f]{3}$)/$& eq 'a' ? 'b' : 'a'/e;
$r = $s->request(GET => "/s/$pw->{token}", { headers => { Cookie => $forged } });
unlike($r->{body}, qr/version two/, 'a forged cookie unlocks nothing');
$r = $s->request(GET => "/s/$tok", { headers => { Cookie => $cookie } });
is($r->{status}, 200, 'the cookie of one link on another: harmless');
problem_ok(api($tb, POST => "/api/v1/shared/$pw->{token}/fork"), 403, 'fork of a locked link without the cookie');
$r = $s->request(POST => "/api/v1/shared/$pw->{token}/fork",
                 { token => $tb, headers => { Cookie => $cookie } });
is($r->{status}, 201, 'fork with the unlock cookie -> 201');

# throttle: a link locks after 10 wrong passwords
my $pw2 = share($ta, $pa, password => 'another secret');
my @st;
push @st, form_post($pw2->{token}, 'password=nope')->{status}
    for 1 .. 11;
is_deeply([@st[0 .. 9]], [(401) x 10], 'ten wrong passwords -> 401 each');
is($st[10], 429, 'the eleventh attempt -> 429 (locked)');
$r = form_post($pw2->{token}, 'password=another%20secret');
is($r->{status}, 429, 'locked even for the right password');
ok($r->{headers}{'retry-after'} > 0, 'Retry-After');

# ------------------------------------------------------------ expiry
my $ex = share($ta, $pa, expires_in => 1);
ok($ex->{expires_at}, 'expires_in 1 -> expires_at');
is(fresh(GET => "/api/v1/shared/$ex->{token}")->{status}, 200, 'live before expiry');
my $st = 0;
for (1 .. 60) {   # bounded: at most ~6 s
    $st = fresh(GET => "/api/v1/shared/$ex->{token}")->{status};
    last if $st != 200;
    sleep 0.1;
}
is($st, 410, 'expired -> 410');
is(fresh(GET => "/s/$ex->{token}")->{status}, 410, 'expired page -> 410');
problem_ok(api($tb, POST => "/api/v1/shared/$ex->{token}/fork"), 410, 'fork of an expired link');
is(api($ta, GET => "/api/v1/shares/$ex->{id}")->{json}{status}, 'expired', 'owner sees status expired');

# ------------------------------------------------------------ revoke
$r = api($ta, DELETE => "/api/v1/shares/$sh2->{id}");
is($r->{status}, 204, 'DELETE -> 204');
is(api($ta, DELETE => "/api/v1/shares/$sh2->{id}")->{status}, 204, 'again: still 204');
ok(db1("select revoked_at from shares where id = '$sh2->{id}'"), 'revoked_at set');
is(db1("select count(*) from audit_log where action = 'share.revoke' and target = '$sh2->{id}'"), 2,
   'audited');
problem_ok(fresh(GET => "/api/v1/shared/$sh2->{token}"), 410, 'revoked JSON');
is(fresh(GET => "/s/$sh2->{token}")->{status}, 410, 'revoked page -> 410');
like(fresh(GET => "/s/$sh2->{token}")->{body}, qr/revoked or has expired/, 'saying so');
$r = api($ta, PATCH => "/api/v1/shares/$sh2->{id}", json => { public => $T });
is($r->{json}{status}, 'revoked', 'a revocation is never undone');

# deleting a prompt revokes its links
my $pd = prompt($ta, title => 'doomed', content => 'soon gone');
my $dl = share($ta, $pd, public => $T);
is(api($ta, DELETE => "/api/v1/prompts/$pd")->{status}, 204, 'prompt deleted');
ok(db1("select revoked_at from shares where id = '$dl->{id}'"), "its link is revoked");
problem_ok(fresh(GET => "/api/v1/shared/$dl->{token}"), 410, "the deleted prompt's link -> 410");

# ------------------------------------------------------------ gallery
my $g1 = prompt($ta, title => 'Gallery haiku writer', content => 'write a haiku about {{thing}}', tags => ['poetry']);
my $gs = share($ta, $g1, public => $T);
$r = fresh(GET => '/api/v1/public/prompts');
is($r->{status}, 200, 'GET /api/v1/public/prompts -> 200');
my @titles = map { $_->{title} } @{ $r->{json}{items} };
is_deeply(\@titles, ['Gallery haiku writer', $xss_title], 'public live links only, newest first')
    or diag explain \@titles;
like($r->{json}{items}[0]{url}, qr{/s/\Q$gs->{token}\E$}, 'with their url');
ok(!exists $r->{json}{items}[0]{content}, 'an excerpt, not the content');
$r = fresh(GET => '/api/v1/public/prompts?q=haiku');
is(scalar @{ $r->{json}{items} }, 1, 'q=haiku: one match');
$r = fresh(GET => '/api/v1/public/prompts?tag=poetry&sort=popular');
is($r->{json}{items}[0]{title}, 'Gallery haiku writer', 'tag filter + sort=popular');
$r = fresh(GET => '/api/v1/public/prompts?limit=1');
is($r->{json}{next_cursor}, '1', 'limit=1: next_cursor');
$r = fresh(GET => '/api/v1/public/prompts?limit=1&cursor=1');
is($r->{json}{items}[0]{title}, $xss_title, 'second page');
problem_ok(fresh(GET => '/api/v1/public/prompts?sort=random'), 422, 'bad sort');
problem_ok(fresh(GET => '/api/v1/public/prompts?cursor=-1'), 422, 'bad cursor');
problem_ok(fresh(GET => '/api/v1/public/prompts?limit=1000'), 422, 'limit too large');

# -------------------------------------------------------------- stats
$r = api($ta, GET => "/api/v1/shares/$sh->{id}/stats");
is($r->{status}, 200, 'GET /api/v1/shares/{id}/stats -> 200') or diag explain $r;
is(scalar @{ $r->{json}{daily} }, 1, 'a daily series from the creation day');
like($r->{json}{daily}[0]{views}, qr/^\d+$/, 'views per day');
like($r->{json}{daily}[0]{unique_viewers}, qr/^\d+$/, 'unique viewers per day');
is($r->{json}{forks}, 1, 'forks');
is_deeply($r->{json}{referrers}, [], 'no referrers yet');
problem_ok(api($ta, GET => "/api/v1/shares/$sh->{id}/stats?days=0"), 422, 'days=0');

# ------------------------------------------------------------ API keys
my $kshare = api($ta, POST => '/api/v1/keys', json => { name => 'sharer', scopes => ['share'] })->{json}{key};
my $kread = api($ta, POST => '/api/v1/keys', json => { name => 'reader', scopes => ['prompts:read'] })->{json}{key};
$r = api($kshare, POST => "/api/v1/prompts/$g1/shares", json => {});
is($r->{status}, 201, 'an API key with the share scope creates a link');
is(api($kshare, GET => '/api/v1/shares')->{status}, 200, 'and lists links');
problem_ok(api($kread, POST => "/api/v1/prompts/$g1/shares", json => {}), 403, 'a key without the share scope');
problem_ok(api($kread, GET => '/api/v1/shares'), 403, 'a key without the share scope listing');

# live links stay out of the logs
my $logs = join '', map { local (@ARGV, $/) = ($s->var_dir . "/log/$_"); <> } qw(nginx-access.log share.log);
unlike($logs, qr/\Q$tok\E/, 'no token in the access log or the worker log');
my $masked = quotemeta('"/s/' . substr($tok, 0, 6) . '***"');
like($logs, qr/$masked/, 'the token masked to 6 characters');

# no 5xx anywhere
my $five = grep { $_->{status} >= 500 } @{ $s->access_log };
is($five, 0, 'no 5xx in the access log');

done_testing;
