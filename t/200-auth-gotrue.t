#!/usr/bin/perl
# 200-auth-gotrue.t: the GoTrue-compatible /auth/v1 family: sign-up, password
# and refresh grants, user, logout, JWKS, apikey, throttling; status, body
# shape and database effect.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use Digest::SHA qw(sha256);
use Promptd::Test qw(db1 claims);
use Time::HiRes ();

my $UUID = $Promptd::Test::UUID;
my $PW = 'correct horse battery';

# Reuse of a spent refresh token is tested without the grace window here
# (t/250-auth-refresh-reuse.t tests the window).
my $s = Promptd::Test->new(PROMPTD_REFRESH_REUSE_INTERVAL => 0);
sub post { my ($p, $j, %o) = @_; $s->request(POST => $p, { json => $j, %o }) }
sub gotrue_err {
    my ($r, $status, $code, $name) = @_;
    is($r->{status}, $status, "$name -> $status") or diag $r->{body};
    is($r->{json}{error_code}, $code, "$name: error_code $code");
    is($r->{json}{code}, $status, "$name: code $status");
    ok(defined $r->{json}{msg} && length $r->{json}{msg}, "$name: msg");
}
sub session_ok {
    my ($r, $email, $name) = @_;
    is($r->{status}, 200, "$name -> 200") or diag $r->{body};
    my $j = $r->{json} || {};
    is($j->{token_type}, 'bearer', "$name: token_type bearer");
    is($j->{expires_in}, 3600, "$name: expires_in");
    ok(abs($j->{expires_at} - time - 3600) < 30, "$name: expires_at");
    like($j->{refresh_token}, qr/^[A-Za-z0-9_-]{43}$/, "$name: refresh token");
    my $u = $j->{user} || {};
    like($u->{id}, $UUID, "$name: user.id");
    is($u->{email}, $email, "$name: user.email normalised");
    is($u->{aud}, 'authenticated', "$name: user.aud");
    is($u->{role}, 'authenticated', "$name: user.role");
    ok($u->{email_confirmed_at} && $u->{confirmed_at}, "$name: autoconfirmed");
    is_deeply($u->{app_metadata}, { provider => 'email', providers => ['email'] },
              "$name: app_metadata");
    is(ref $u->{identities}, 'ARRAY', "$name: identities");
    ok(JSON::PP::is_bool($u->{is_anonymous}) && !$u->{is_anonymous}, "$name: is_anonymous false");
    my $c = claims($j->{access_token});
    is($c->{sub}, $u->{id}, "$name: sub");
    is($c->{role}, 'authenticated', "$name: role claim");
    is($c->{aud}, 'authenticated', "$name: aud claim");
    is($c->{aal}, 'aal1', "$name: aal");
    is($c->{email}, $email, "$name: email claim");
    like($c->{session_id}, $UUID, "$name: session_id");
    is($c->{amr}[0]{method}, 'password', "$name: amr");
    like($c->{iss}, qr{/auth/v1$}, "$name: iss");
    is($c->{exp} - $c->{iat}, 3600, "$name: exp = iat + ttl");
    ok(JSON::PP::is_bool($c->{is_anonymous}), "$name: is_anonymous claim");
    is_deeply($c->{app_metadata}, $u->{app_metadata}, "$name: app_metadata claim");
    return $j;
}

# --- sign-up
my $r = post('/auth/v1/signup', { email => '  Alice@Example.COM ', password => $PW,
                                  data => { name => 'Alice' } });
my $a1 = session_ok($r, 'alice@example.com', 'signup');
my $alice = $a1->{user}{id};
is_deeply($a1->{user}{user_metadata}, { name => 'Alice' }, 'signup data -> user_metadata');
is(db1("select count(*) from auth.users where id = '$alice' and email = 'alice\@example.com' "
       . "and email_confirmed_at is not null and encrypted_password like '\$argon2id\$v=19\$m=65536,t=3,p=1\$%'"),
   1, 'user stored with an argon2id hash (m=64 MiB, t=3, p=1)');
is(db1("select count(*) from profiles where id = '$alice'"), 1, 'profile created');
is(db1("select count(*) from promptd.sessions where user_id = '$alice' and revoked_at is null"), 1,
   'one session');
is(db1("select encode(token_hash, 'hex') from promptd.refresh_tokens where user_id = '$alice'"),
   unpack('H*', sha256($a1->{refresh_token})), 'only the SHA-256 of the refresh token is stored');
is(db1("select count(*) from public.audit_log where action = 'auth.signup'"), 1, 'audit auth.signup');

# --- the token works on the API
$r = $s->request(POST => '/api/v1/prompts', { token => $a1->{access_token},
    json => { title => 'From signup', content => 'hello' } });
is($r->{status}, 201, 'signup access token works on /api/v1/prompts') or diag $r->{body};

# --- bad inputs (GoTrue-shaped)
my @bad = (
    ['signup malformed JSON', '/auth/v1/signup', '{"email":', 400, 'bad_json'],
    ['signup array body', '/auth/v1/signup', '[]', 400, 'bad_json'],
    ['signup empty body', '/auth/v1/signup', '', 400, 'bad_json'],
    ['signup email not a string', '/auth/v1/signup', { email => 5, password => $PW }, 400, 'bad_json'],
    ['signup missing email', '/auth/v1/signup', { password => $PW }, 400, 'validation_failed'],
    ['signup bad email', '/auth/v1/signup', { email => 'not-an-email', password => $PW }, 400, 'validation_failed'],
    ['signup email two @', '/auth/v1/signup', { email => 'a@b@example.com', password => $PW }, 400, 'validation_failed'],
    ['signup email no tld', '/auth/v1/signup', { email => 'a@localhost', password => $PW }, 400, 'validation_failed'],
    ['signup missing password', '/auth/v1/signup', { email => 'x@example.com' }, 422, 'validation_failed'],
    ['signup short password', '/auth/v1/signup', { email => 'x@example.com', password => 'abc12' }, 422, 'weak_password'],
    ['signup common password', '/auth/v1/signup', { email => 'x@example.com', password => 'Password123' }, 422, 'weak_password'],
    ['signup one repeated char', '/auth/v1/signup', { email => 'x@example.com', password => 'aaaaaaaaaaaa' }, 422, 'weak_password'],
    ['signup data not object', '/auth/v1/signup', { email => 'x@example.com', password => $PW, data => [1] }, 400, 'bad_json'],
    ['signup duplicate', '/auth/v1/signup', { email => 'ALICE@example.com', password => $PW }, 422, 'user_already_exists'],
    ['token no grant_type', '/auth/v1/token', { email => 'alice@example.com', password => $PW }, 400, 'validation_failed'],
    ['token unknown grant_type', '/auth/v1/token?grant_type=magic', { email => 'alice@example.com', password => $PW }, 400, 'validation_failed'],
    ['password grant malformed JSON', '/auth/v1/token?grant_type=password', '{', 400, 'bad_json'],
    ['password grant missing email', '/auth/v1/token?grant_type=password', { password => $PW }, 400, 'validation_failed'],
    ['password grant missing password', '/auth/v1/token?grant_type=password', { email => 'alice@example.com' }, 400, 'validation_failed'],
    ['password grant wrong password', '/auth/v1/token?grant_type=password', { email => 'alice@example.com', password => 'wrong password!' }, 400, 'invalid_credentials'],
    ['password grant unknown email', '/auth/v1/token?grant_type=password', { email => 'nobody@example.com', password => $PW }, 400, 'invalid_credentials'],
    ['refresh grant missing token', '/auth/v1/token?grant_type=refresh_token', {}, 400, 'refresh_token_not_found'],
    ['refresh grant unknown token', '/auth/v1/token?grant_type=refresh_token', { refresh_token => 'nope' }, 400, 'refresh_token_not_found'],
);
for my $c (@bad) {
    my ($name, $path, $body, $status, $code) = @$c;
    my $res = ref $body ? post($path, $body)
        : $s->request(POST => $path, { body => $body, headers => { 'Content-Type' => 'application/json' } });
    gotrue_err($res, $status, $code, $name);
}
is_deeply($s->request(POST => '/auth/v1/signup', { json => { email => 'w@example.com', password => 'short' } })
          ->{json}{weak_password}, { reasons => ['length'] }, 'weak_password.reasons');
is(db1("select count(*) from auth.users where email in ('x\@example.com', 'w\@example.com')"), 0,
   'refused sign-ups stored nothing');

# wrong password and unknown email: the same answer, byte for byte
my $wrong = post('/auth/v1/token?grant_type=password', { email => 'alice@example.com', password => 'not it at all' });
my $unknown = post('/auth/v1/token?grant_type=password', { email => 'ghost@example.com', password => 'not it at all' });
is($wrong->{body}, $unknown->{body}, 'unknown email and wrong password answer alike');
is(db1("select count(*) from public.audit_log where action = 'auth.signin_failed'"), 4,
   'failed sign-ins audited (kept although the answer is 400)');

# --- password grant
$r = post('/auth/v1/token?grant_type=password', { email => 'ALICE@example.com', password => $PW });
my $a2 = session_ok($r, 'alice@example.com', 'password grant');
is($a2->{user}{id}, $alice, 'same user');
isnt(claims($a2->{access_token})->{session_id}, claims($a1->{access_token})->{session_id}, 'a new session');
is(db1("select count(*) from promptd.auth_throttle where kind = 'account' and key = 'alice\@example.com'"),
   0, 'success clears the account counter');
is(db1("select count(*) from public.audit_log where action = 'auth.signin'"), 1, 'audit auth.signin');
ok(db1("select last_sign_in_at is not null from auth.users where id = '$alice'") eq 't', 'last_sign_in_at set');

# --- GET/PUT user
$r = $s->request(GET => '/auth/v1/user', { token => $a2->{access_token} });
is($r->{status}, 200, 'GET user -> 200') or diag $r->{body};
is($r->{json}{id}, $alice, 'GET user: id');
is($r->{json}{email}, 'alice@example.com', 'GET user: email');
gotrue_err($s->request(GET => '/auth/v1/user'), 401, 'no_authorization', 'GET user without token');
gotrue_err($s->request(GET => '/auth/v1/user', { token => 'abc.def.ghi' }), 403, 'bad_jwt', 'GET user with a bad token');
$r = $s->request(GET => '/auth/v1/user', { token => $s->token($alice) });
is($r->{status}, 200, 'GET user with a promptctl token (no session_id) -> 200');

$r = $s->request(PUT => '/auth/v1/user', { token => $a2->{access_token},
    json => { data => { name => undef, theme => 'dark' } } });
is($r->{status}, 200, 'PUT user data -> 200') or diag $r->{body};
is_deeply($r->{json}{user_metadata}, { theme => 'dark' }, 'metadata merged, null removes a key');
gotrue_err($s->request(PUT => '/auth/v1/user', { token => $a2->{access_token},
    json => { password => 'qwertyuiop' } }), 422, 'weak_password', 'PUT user weak password');
gotrue_err($s->request(PUT => '/auth/v1/user', { token => $a2->{access_token},
    json => { email => 'not an address' } }), 400, 'validation_failed', 'PUT user invalid email');
# (changing the email, and re-authentication for it: t/045-reauthentication.t)
gotrue_err($s->request(PUT => '/auth/v1/user', { token => $a2->{access_token}, body => '{',
    headers => { 'Content-Type' => 'application/json' } }), 400, 'bad_json', 'PUT user malformed JSON');

# --- refresh: rotation, single use, reuse revokes the family
$r = post('/auth/v1/token?grant_type=refresh_token', { refresh_token => $a2->{refresh_token} });
my $a3 = session_ok($r, 'alice@example.com', 'refresh grant');
isnt($a3->{refresh_token}, $a2->{refresh_token}, 'rotated refresh token');
is(claims($a3->{access_token})->{session_id}, claims($a2->{access_token})->{session_id}, 'same session');
is(db1("select count(*) from promptd.refresh_tokens t join promptd.refresh_tokens p on p.id = t.parent "
       . "where p.revoked and not t.revoked and t.user_id = '$alice'"), 1, 'old token spent, child recorded');
$r = post('/auth/v1/token?grant_type=refresh_token', { refresh_token => $a2->{refresh_token} });
gotrue_err($r, 400, 'refresh_token_already_used', 'spent refresh token replayed');
my $sid2 = claims($a2->{access_token})->{session_id};
ok(db1("select revoked_at is not null from promptd.sessions where id = '$sid2'") eq 't',
   'reuse revoked the session');
is(db1("select count(*) from public.audit_log where action = 'auth.refresh_reuse'"), 1, 'audit auth.refresh_reuse');
gotrue_err(post('/auth/v1/token?grant_type=refresh_token', { refresh_token => $a3->{refresh_token} }),
           400, 'refresh_token_not_found', 'the newest token of the revoked family stops working too');
gotrue_err($s->request(GET => '/auth/v1/user', { token => $a3->{access_token} }),
           403, 'session_not_found', 'GET user of a revoked session');
is($s->request(GET => '/api/v1/prompts', { token => $a3->{access_token} })->{status}, 200,
   'access tokens of a revoked session stay valid for the API until exp (GoTrue behaviour)');
# the first session (signup) is untouched
$r = post('/auth/v1/token?grant_type=refresh_token', { refresh_token => $a1->{refresh_token} });
my $a1b = session_ok($r, 'alice@example.com', 'other session still refreshes');

# --- password change revokes the other sessions
my $second = post('/auth/v1/token?grant_type=password', { email => 'alice@example.com', password => $PW })->{json};
$r = $s->request(PUT => '/auth/v1/user', { token => $second->{access_token}, json => { password => 'a new long secret' } });
is($r->{status}, 200, 'PUT user password -> 200') or diag $r->{body};
is(db1("select count(*) from public.audit_log where action = 'auth.password_change'"), 1, 'audit auth.password_change');
gotrue_err(post('/auth/v1/token?grant_type=refresh_token', { refresh_token => $a1b->{refresh_token} }),
           400, 'refresh_token_not_found', 'password change revoked the other session');
gotrue_err(post('/auth/v1/token?grant_type=password', { email => 'alice@example.com', password => $PW }),
           400, 'invalid_credentials', 'old password no longer works');
$PW = 'a new long secret';

# --- logout scopes
my @sess = map { post('/auth/v1/token?grant_type=password', { email => 'alice@example.com', password => $PW })->{json} } 1 .. 3;
ok((grep { $_->{access_token} } @sess) == 3, 'three sessions');
gotrue_err($s->request(POST => '/auth/v1/logout?scope=sideways', { token => $sess[0]{access_token} }),
           400, 'validation_failed', 'logout with an unknown scope');
gotrue_err($s->request(POST => '/auth/v1/logout'), 401, 'no_authorization', 'logout without token');
$r = $s->request(POST => '/auth/v1/logout?scope=local', { token => $sess[0]{access_token} });
is($r->{status}, 204, 'logout local -> 204');
is($r->{body}, '', '204 has no body');
my @sid = map { claims($_->{access_token})->{session_id} } @sess;
is(db1("select string_agg((revoked_at is not null)::text, ',' order by array_position(array['$sid[0]','$sid[1]','$sid[2]']::uuid[], id)) "
       . "from promptd.sessions where id in ('$sid[0]','$sid[1]','$sid[2]')"), 'true,false,false', 'local: only this session');
is(db1("select count(*) from public.audit_log where action = 'auth.signout'"), 1, 'audit auth.signout');
$r = $s->request(POST => '/auth/v1/logout?scope=others', { token => $sess[1]{access_token} });
is($r->{status}, 204, 'logout others -> 204');
is(db1("select string_agg((revoked_at is not null)::text, ',' order by array_position(array['$sid[0]','$sid[1]','$sid[2]']::uuid[], id)) "
       . "from promptd.sessions where id in ('$sid[0]','$sid[1]','$sid[2]')"), 'true,false,true', 'others: all but this');
$r = $s->request(GET => '/auth/v1/user', { token => $sess[1]{access_token} });
is($r->{status}, 200, 'the remaining session still reads its user');
$r = $s->request(POST => '/auth/v1/logout', { token => $sess[1]{access_token} });
is($r->{status}, 204, 'logout (global by default) -> 204');
is(db1("select count(*) from promptd.sessions where user_id = '$alice' and revoked_at is null"), 0,
   'global: no session left');
gotrue_err(post('/auth/v1/token?grant_type=refresh_token', { refresh_token => $sess[1]{refresh_token} }),
           400, 'refresh_token_not_found', 'refresh after logout');

# --- JWKS
$r = $s->request(GET => '/auth/v1/.well-known/jwks.json');
is($r->{status}, 200, 'jwks -> 200');
is_deeply($r->{json}, { keys => [] }, 'no public keys for HS256');

# --- 404 / 405 from the dispatcher
is($s->request(GET => '/auth/v1/nothing')->{status}, 404, 'unknown auth path -> 404');
is($s->request(GET => '/auth/v1/signup')->{status}, 405, 'GET signup -> 405');

# --- brute force: the account locks after 5 failures, even for the right password
post('/auth/v1/signup', { email => 'bob@example.com', password => 'bobs long secret' });
my @st = map { post('/auth/v1/token?grant_type=password',
                    { email => 'bob@example.com', password => "guess number $_" })->{status} } 1 .. 6;
is_deeply(\@st, [400, 400, 400, 400, 400, 429], '5 wrong passwords -> 400, then 429');
$r = post('/auth/v1/token?grant_type=password', { email => 'bob@example.com', password => 'bobs long secret' });
gotrue_err($r, 429, 'over_request_rate_limit', 'the right password within the backoff');
ok($r->{headers}{'retry-after'} > 0, 'Retry-After given');
ok(db1("select locked_until > now() from promptd.auth_throttle where kind = 'account' and key = 'bob\@example.com'") eq 't',
   'backoff stored in PostgreSQL');
# an unknown account locks the same way (nothing reveals whether it exists)
@st = map { post('/auth/v1/token?grant_type=password',
                 { email => 'carol@example.com', password => "guess number $_" })->{status} } 1 .. 6;
is_deeply(\@st, [400, 400, 400, 400, 400, 429], 'unknown account: same throttling');
# after the lock expires the right password works (simulate the clock)
$s->psql("update promptd.auth_throttle set locked_until = now() - interval '1 second' where key = 'bob\@example.com'");
$r = post('/auth/v1/token?grant_type=password', { email => 'bob@example.com', password => 'bobs long secret' });
is($r->{status}, 200, 'after the backoff the right password works') or diag $r->{body};

# --- the worker role cannot reach the tables or the sign-in functions as anon
for my $sql ("select count(*) from promptd.sessions", "select * from promptd.auth_password_begin('a\@b.co', '1')") {
    my $ok = eval { $s->psql("set role anon; $sql"); 1 };
    ok(!$ok, "anon refused: $sql");
}

$s->stop;

# --- a second stack with an anon key (apikey required on /auth/v1) and a
# tight nginx auth zone (burst 30, then 1 request a minute per address)
my $k = Promptd::Test->new(PROMPTD_ANON_KEY => 'anon-key-for-tests',
                           PROMPTD_RATE_AUTH => '1r/m', PROMPTD_BURST_AUTH => 30);
my %cases = (
    'no apikey' => {},
    'wrong apikey' => { apikey => 'nope' },
    'wrong Bearer' => { Authorization => 'Bearer nope' },
);
for my $name (sort keys %cases) {
    $r = $k->request(POST => '/auth/v1/signup', { json => { email => 'd@example.com', password => $PW },
                                                  headers => $cases{$name} });
    is($r->{status}, 401, "anon key set, $name -> 401");
    is_deeply($r->{json}, { message => 'Invalid API key' }, "$name: Kong-shaped body");
}
is($k->psql("select count(*) from auth.users")->[0][0], 0, 'nothing created without the key');
$r = $k->request(POST => '/auth/v1/signup', { json => { email => 'd@example.com', password => $PW },
                                              headers => { apikey => 'anon-key-for-tests' } });
is($r->{status}, 200, 'matching apikey -> 200') or diag $r->{body};
$r = $k->request(POST => '/auth/v1/token?grant_type=password', { json => { email => 'd@example.com', password => $PW },
                 headers => { Authorization => 'Bearer anon-key-for-tests' } });
is($r->{status}, 200, 'Bearer equal to the anon key -> 200');
my $tok = $r->{json}{access_token};
is($k->request(GET => '/auth/v1/user', { token => $tok })->{status}, 401, 'user token without apikey -> 401');
is($k->request(GET => '/auth/v1/user', { token => $tok, headers => { apikey => 'anon-key-for-tests' } })->{status},
   200, 'user token with apikey -> 200');
my ($limited) = grep { $k->request(GET => '/auth/v1/.well-known/jwks.json')->{status} == 429 } 1 .. 40;
ok($limited, 'nginx auth zone answers 429 once the burst is spent');
is($k->request(GET => '/auth/v1/.well-known/jwks.json')->{json}{status}, 429, 'as problem+json');
is($k->request(GET => '/api/v1/prompts', { token => $tok })->{status}, 200, 'the api zone is separate');
$k->stop;

done_testing;
