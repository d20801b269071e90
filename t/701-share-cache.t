#!/usr/bin/perl
# 701-share-cache.t: the share edge micro-cache: a second request within the TTL is a HIT,
# 200 concurrent requests for a cold link reach the worker once, revocation and expiry are
# seen through the cache within 2 s, no request header (Authorization, a cookie) bypasses it,
# answers that depend on the caller (password form, unlocked content) are never stored, and
# browsers revalidate against the cache (304).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Select;
use IO::Socket::INET;
use HTTP::Tiny;
use JSON::PP;
use Time::HiRes qw(time sleep);
use Promptd::Test qw(api);

my $s = Promptd::Test->new;
my $alice = $s->user_create('alice@example.com');
my $ta = $s->token($alice);
my $T = JSON::PP::true;
my $JSON = JSON::PP->new;

sub new_share {
    my (%b) = @_;
    my $p = api($ta, POST => '/api/v1/prompts', json => { title => 'cached', content => 'hello cache' });
    my $r = api($ta, POST => "/api/v1/prompts/$p->{json}{id}/shares", json => { public => $T, %b });
    is($r->{status}, 201, 'share created') or diag explain $r;
    return $r->{json};
}
# Requests the share worker answered for path (its JSON request log, where
# the token is masked to its first 6 characters).
sub worker_hits {
    my ($path) = @_;
    $path =~ s{^(/s/|/api/v1/shared/)([^/]{1,6})[^/]*}{$1$2***};
    open(my $fh, '<', $s->var_dir . '/log/share.log') or return 0;
    my $n = 0;
    while (my $line = <$fh>) {
        next unless $line =~ /"request_id"/;
        my $o = eval { $JSON->decode($line) } or next;
        $n++ if ($o->{path} // '') eq $path;
    }
    return $n;
}
# The worker logs a request after answering it: wait (bounded) until the
# count reaches $want, then return the count (a settled count for == checks).
sub worker_hits_settled {
    my ($path, $want) = @_;
    $s->wait_for(sub { worker_hits($path) >= $want }, timeout => 5);
    sleep 0.3;
    return worker_hits($path);
}
sub cache_status { $_[0]{headers}{'x-cache-status'} // '-' }

# ------------------------------------------------------------ HIT within the TTL
my $sh = new_share();
my $page = "/s/$sh->{token}";
my ($first, $second);
for (1 .. 5) {   # two requests inside one second; retried if the machine stalls
    $first = $s->request(GET => $page);
    $second = $s->request(GET => $page);
    last if cache_status($second) eq 'HIT';
    sleep 1.1;
}
is($first->{status}, 200, 'page -> 200');
like(cache_status($first), qr/^(MISS|EXPIRED)$/, 'first request: MISS');
is(cache_status($second), 'HIT', 'second request within the TTL: HIT');
is($second->{body}, $first->{body}, 'same page from the cache');
like($second->{headers}{'cache-control'}, qr/s-maxage=1/, 'Cache-Control for shared caches: 1 s');
like($second->{headers}{'cache-control'}, qr/max-age=0/, 'browsers revalidate');
ok(!exists $second->{headers}{'x-accel-expires'}, 'X-Accel-Expires stays between worker and nginx');
my $etag = $second->{headers}{etag};
like($etag, qr/^"[0-9a-f]+"$/, 'ETag');
is($second->{headers}{'x-share-id'}, $sh->{id}, 'cached responses keep X-Share-Id (view log key)');

# cache-busting query strings share the one entry
my $bust;
for (1 .. 5) {
    $s->request(GET => $page);
    $bust = $s->request(GET => "$page?nocache=" . int(rand 1e9));
    last if cache_status($bust) eq 'HIT';
    sleep 1.1;
}
is(cache_status($bust), 'HIT', 'a cache-busting query string still HITs') or diag explain $bust->{status};

# revalidation answered by the cache
my $hits = worker_hits($page);
my $nm;
for (1 .. 5) {
    $s->request(GET => $page);   # (re)fill
    $nm = $s->request(GET => $page, { headers => { 'If-None-Match' => $etag } });
    last if cache_status($nm) eq 'HIT';
    sleep 1.1;
}
is($nm->{status}, 304, 'If-None-Match -> 304');
is(cache_status($nm), 'HIT', 'answered from the cache');

for my $path ("/api/v1/shared/$sh->{token}", '/api/v1/public/prompts?sort=recent') {
    my ($a, $b);
    for (1 .. 5) {
        $a = $s->request(GET => $path);
        $b = $s->request(GET => $path);
        last if cache_status($b) eq 'HIT';
        sleep 1.1;
    }
    is($a->{status}, 200, "$path -> 200");
    is(cache_status($b), 'HIT', "$path: second request HIT");
}

# stale copies are bounded: after two idle seconds the entry is refetched
$s->request(GET => $page);
sleep 2.2;
my $idle = $s->request(GET => $page);
is($idle->{status}, 200, 'after two idle seconds -> 200');
is(cache_status($idle), 'EXPIRED', 'refetched, not served stale');

# ------------------------------------------------------------ no header bypasses the cache
# An Authorization header (a signed-in app, or anyone adding one) or a cookie does not push a
# public link past the cache: the answer is the same for every caller.
# hit_with(path, %request) -> the request's answer once it is a HIT (the entry filled by an
# anonymous request just before; retried if the machine stalls across a second).
sub hit_with {
    my ($path, %o) = @_;
    my ($a, $b);
    for (1 .. 5) {
        $a = $s->request(GET => $path);
        $b = $s->request(GET => $path, {%o});
        last if cache_status($b) eq 'HIT';
        sleep 1.1;
    }
    return ($a, $b);
}
my $irrelevant = [
    ['a user access token', token => $ta],
    ['a malformed Authorization header', headers => { Authorization => 'Bearer x' }],
    ['a forged unlock cookie', headers => { Cookie => 'pd_share_0123456789abcdef=1.x' }],
];
for my $path ($page, "/api/v1/shared/$sh->{token}", '/api/v1/public/prompts?sort=recent') {
    for my $c (@$irrelevant) {
        my ($name, %o) = @$c;
        my ($anon, $r) = hit_with($path, %o);
        is($r->{status}, 200, "$path with $name -> 200");
        is(cache_status($r), 'HIT', "$path with $name: served from the cache");
        is($r->{body}, $anon->{body}, "$path with $name: the same answer as anyone's");
    }
}
my $before_hits = worker_hits_settled($page, 0);
$s->request(GET => $page);
my @auth = map { $s->request(GET => $page, { token => $ta }) } 1 .. 5;
ok(worker_hits_settled($page, $before_hits) <= $before_hits + 3,
   'five requests with Authorization within the TTL: the worker saw at most the refills');

# ------------------------------------------------------------ what depends on the caller is never stored
my $pw = new_share(password => 'letmein!');
my $form = "/s/$pw->{token}";
my @st = map { cache_status($s->request(GET => $form)) } 1 .. 3;
is_deeply(\@st, [qw(MISS MISS MISS)], 'password form: never stored (MISS every time)');
is(worker_hits_settled($form, 3), 3, 'every password form request reached the worker');
my $r = $s->request(GET => "/api/v1/shared/$pw->{token}");
is($r->{status}, 401, 'locked JSON -> 401');
isnt(cache_status($s->request(GET => "/api/v1/shared/$pw->{token}")), 'HIT', 'a 401 is not cached');
# unlock: the visitor's cookie reaches the worker every time, and its answer is never stored
my $noredir = HTTP::Tiny->new(max_redirect => 0, timeout => 30, agent => 'promptd-test/1');
my $un = $noredir->request(POST => $s->url($form), {
    headers => { 'Content-Type' => 'application/x-www-form-urlencoded' }, content => 'password=letmein%21' });
is($un->{status}, 303, 'unlocked -> 303');
my ($cookie) = ($un->{headers}{'set-cookie'} // '') =~ /^(pd_share_[^;]+)/;
ok($cookie, 'with an unlock cookie');
my $seen = worker_hits_settled($form, 3);
for my $i (1 .. 3) {
    my $u = $s->request(GET => $form, { headers => { Cookie => $cookie } });
    is($u->{status}, 200, "with the unlock cookie ($i) -> 200");
    like($u->{body}, qr/hello cache/, "($i) the content");
    isnt(cache_status($u), 'HIT', "($i) never from the cache");
    like($u->{headers}{'cache-control'} // '', qr/private, no-store/, "($i) private, no-store");
    my $f = $s->request(GET => $form);
    unlike($f->{body}, qr/hello cache/, "($i) right after, without the cookie: no content");
    like($f->{body}, qr/<form method="post"/, "($i) the form");
}
is(worker_hits_settled($form, $seen + 6), $seen + 6, 'every request for the locked link reached the worker');
my $j = $s->request(GET => "/api/v1/shared/$pw->{token}", { headers => { Cookie => $cookie } });
is($j->{status}, 200, 'JSON with the unlock cookie -> 200');
isnt(cache_status($j), 'HIT', 'not from the cache');
is($s->request(GET => "/api/v1/shared/$pw->{token}")->{status}, 401, 'and without it still 401');

# ------------------------------------------------------------ 200 concurrent cold requests
my $cold = new_share();
my $cpath = "/s/$cold->{token}";
is(worker_hits($cpath), 0, 'the new link is cold');
my $port = $s->http_port;
my (@socks, %buf);
for my $i (1 .. 200) {
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp',
                                     Timeout => 10) or last;
    push @socks, $sock;
}
is(scalar @socks, 200, '200 connections open');
# nginx expires entries at whole seconds: start the burst early in one so
# the lock's waiters (woken every 0.5 s) read the entry within its second.
sleep 0.01 until time - int(time) > 0.1 && time - int(time) < 0.2;
syswrite($_, "GET $cpath HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: promptd-test/1\r\nConnection: close\r\n\r\n")
    for @socks;
my $sel = IO::Select->new(@socks);
my $deadline = time + 30;
while ($sel->count && time < $deadline) {
    for my $sock ($sel->can_read(1)) {
        my $n = sysread($sock, my $chunk, 65536);
        if ($n) { $buf{fileno $sock} .= $chunk } else { $sel->remove($sock); close $sock }
    }
}
my @statuses = map { /^HTTP\/1\.1 (\d{3})/ ? $1 : 0 } values %buf;
is(scalar(grep { $_ == 200 } @statuses), 200, 'all 200 requests answered 200');
is(worker_hits_settled($cpath, 1), 1, 'the worker saw exactly one of them (cache lock)');

# ------------------------------------------------------------ revocation within 2 s
my $rv = new_share();
my $rpath = "/s/$rv->{token}";
for (1 .. 5) {
    $s->request(GET => $rpath);
    last if cache_status($s->request(GET => $rpath)) eq 'HIT';
}
is(api($ta, DELETE => "/api/v1/shares/$rv->{id}")->{status}, 204, 'revoked');
my $revoked_at = time;
my @seen;
while (time - $revoked_at < 2.05) {   # what visitors see meanwhile: old page or 410
    push @seen, $s->request(GET => $rpath)->{status};
    sleep 0.1;
}
ok(!(grep { $_ != 200 && $_ != 410 } @seen), 'meanwhile: the cached page or 410, nothing else');
$r = $s->request(GET => $rpath);
is($r->{status}, 410, 'two seconds after revocation: 410 through the cache');
$r = $s->request(GET => "/api/v1/shared/$rv->{token}");
is($r->{status}, 410, 'and the JSON: 410');
my $gone;
for (1 .. 5) {   # a viral revoked link is cached too (it costs what a live one does)
    $s->request(GET => $rpath);
    $gone = $s->request(GET => $rpath);
    last if cache_status($gone) eq 'HIT';
    sleep 1.1;
}
is($gone->{status}, 410, 'revoked page again');
is(cache_status($gone), 'HIT', 'the 410 is served from the cache');

# ------------------------------------------------------------ expiry within 2 s
my $ex = new_share(expires_in => 1);
my $epath = "/s/$ex->{token}";
$s->request(GET => $epath);
my $expires = time + 1;
my $est = 0;
for (1 .. 80) {   # bounded: 8 s
    $est = $s->request(GET => $epath)->{status};
    last if $est == 410;
    sleep 0.1;
}
is($est, 410, 'expired link -> 410 through the cache');

my $five = grep { $_->{status} >= 500 } @{ $s->access_log };
is($five, 0, 'no 5xx in the access log');

done_testing;
