#!/usr/bin/perl
# 045-reauthentication.t: changing the password or the email (PUT /auth/v1/user)
# and deleting the account (DELETE /api/v1/me) need the current password or a
# session signed in within 5 minutes, measured from the session's sign-in time
# (kept across refreshes, and carried in the token's amr), never from the
# token's iat; status, body and database effect.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Promptd::Test qw(db1 req claims);

my $PW = 'correct horse battery';
my $s = Promptd::Test->new;
sub signup {
    my ($email) = @_;
    my $r = req(POST => '/auth/v1/signup', json => { email => $email, password => $PW });
    is($r->{status}, 200, "$email signs up") or BAIL_OUT($r->{body});
    return $r->{json};
}
sub signin {
    my ($email, $pw) = @_;
    return req(POST => '/auth/v1/token?grant_type=password', json => { email => $email, password => $pw // $PW });
}
sub refresh {
    my ($sess) = @_;
    my $r = req(POST => '/auth/v1/token?grant_type=refresh_token', json => { refresh_token => $sess->{refresh_token} });
    is($r->{status}, 200, 'refresh -> 200') or diag $r->{body};
    return $r->{json};
}
# An old sign-in, as if it happened 10 minutes ago, then a refresh: the new
# access token is fresh (iat now) but its session is not.
sub aged_session {
    my ($email, $pw) = @_;
    my $sess = signin($email, $pw)->{json};
    my $sid = claims($sess->{access_token})->{session_id};
    $s->psql("update promptd.sessions set created_at = now() - interval '10 minutes' where id = '$sid'");
    my $new = refresh($sess);
    ok(time - claims($new->{access_token})->{iat} < 30, 'the refreshed token has a fresh iat');
    return $new;
}
sub gotrue_err {
    my ($r, $status, $code, $name) = @_;
    is($r->{status}, $status, "$name -> $status") or diag $r->{body};
    is($r->{json}{error_code}, $code, "$name: error_code $code");
}
sub hash_of { db1("select encrypted_password from auth.users where email = '$_[0]'") }
sub denials { db1("select count(*) from audit_log where action = '$_[0]' and outcome = 'denied'") }

# --- amr: the sign-in time, kept across refreshes
my $bob = signup('bob@example.com');
my $sid = claims($bob->{access_token})->{session_id};
my $signed_in = db1("select floor(extract(epoch from created_at))::bigint from promptd.sessions where id = '$sid'");
my $amr = claims($bob->{access_token})->{amr};
is($amr->[0]{method}, 'password', 'amr method password');
ok(abs($amr->[0]{timestamp} - $signed_in) <= 1, 'amr timestamp = the session\'s sign-in time');
$s->psql("update promptd.sessions set created_at = created_at - interval '1 hour' where id = '$sid'");
my $bob2 = refresh($bob);
is(int(claims($bob2->{access_token})->{amr}[0]{timestamp}), $signed_in - 3600,
   'after a refresh, amr keeps the session\'s sign-in time (not the refresh time)');
ok(claims($bob2->{access_token})->{iat} > $signed_in - 60, '... while iat is the refresh time');

# --- password: a fresh session may change it
my $carol = signup('carol@example.com');
my $h0 = hash_of('carol@example.com');
my $r = req(PUT => '/auth/v1/user', token => $carol->{access_token}, json => { password => 'a fresh new secret' });
is($r->{status}, 200, 'password change with a session signed in just now -> 200') or diag $r->{body};
isnt(hash_of('carol@example.com'), $h0, 'password changed');
is(signin('carol@example.com', 'a fresh new secret')->{status}, 200, 'the new password signs in');
my $CPW = 'a fresh new secret';

# --- password: a refreshed but old session may not (the iat check let it)
my $old = aged_session('carol@example.com', $CPW);
my $h1 = hash_of('carol@example.com');
my $live = db1("select count(*) from promptd.sessions s join auth.users u on u.id = s.user_id "
               . "where u.email = 'carol\@example.com' and s.revoked_at is null");
$r = req(PUT => '/auth/v1/user', token => $old->{access_token}, json => { password => 'taken over 12345' });
gotrue_err($r, 400, 'reauthentication_needed', 'password change with an old (refreshed) session');
is(hash_of('carol@example.com'), $h1, '  password unchanged');
is(db1("select count(*) from promptd.sessions s join auth.users u on u.id = s.user_id "
       . "where u.email = 'carol\@example.com' and s.revoked_at is null"), $live, '  no session revoked');
is(denials('auth.reauthenticate'), 1, '  the denial is audited');
is(signin('carol@example.com', 'taken over 12345')->{status}, 400, '  the attacker\'s password does not sign in');

# ... unless the current password comes with it
$r = req(PUT => '/auth/v1/user', token => $old->{access_token},
         json => { password => 'taken over 12345', current_password => 'wrong password!!' });
gotrue_err($r, 400, 'current_password_mismatch', 'a wrong current password');
is(hash_of('carol@example.com'), $h1, '  password unchanged');
is(denials('auth.reauthenticate'), 2, '  audited');
$r = req(PUT => '/auth/v1/user', token => $old->{access_token},
         json => { password => 'changed knowingly 1', current_password => $CPW });
is($r->{status}, 200, 'the current password re-authenticates an old session -> 200') or diag $r->{body};
isnt(hash_of('carol@example.com'), $h1, '  password changed');
is(signin('carol@example.com', 'changed knowingly 1')->{status}, 200, '  and signs in');
$CPW = 'changed knowingly 1';
$r = req(PUT => '/auth/v1/user', token => $old->{access_token}, json => { data => { theme => 'dark' } });
is($r->{status}, 200, 'metadata alone needs no re-authentication');

# --- email: the same rule
$old = aged_session('carol@example.com', $CPW);
$r = req(PUT => '/auth/v1/user', token => $old->{access_token}, json => { email => 'mallory@example.com' });
gotrue_err($r, 400, 'reauthentication_needed', 'email change with an old (refreshed) session');
is(db1("select count(*) from auth.users where email = 'mallory\@example.com'"), 0, '  email unchanged');
$r = req(PUT => '/auth/v1/user', token => $old->{access_token},
         json => { email => 'mallory@example.com', current_password => 'not it at all' });
gotrue_err($r, 400, 'current_password_mismatch', 'email change with a wrong current password');
is(db1("select count(*) from auth.users where email = 'mallory\@example.com'"), 0, '  email unchanged');
$r = req(PUT => '/auth/v1/user', token => $old->{access_token},
         json => { email => 'Carol.New@Example.com', current_password => $CPW });
is($r->{status}, 200, 'email change with the current password -> 200') or diag $r->{body};
is($r->{json}{email}, 'carol.new@example.com', '  the user object has the new address');
is(db1("select email from auth.users where email like 'carol%'"), 'carol.new@example.com', '  auth.users');
is(db1("select p.email from profiles p join auth.users u on u.id = p.id where u.email = 'carol.new\@example.com'"),
   'carol.new@example.com', '  the profile follows');
is(signin('carol.new@example.com', $CPW)->{status}, 200, '  the new address signs in');
is(signin('carol@example.com', $CPW)->{status}, 400, '  the old one does not');
is(db1("select count(*) from audit_log where action = 'auth.email_change' and outcome = 'success'"), 1, '  audited');
my $fresh = signin('carol.new@example.com', $CPW)->{json};
$r = req(PUT => '/auth/v1/user', token => $fresh->{access_token}, json => { email => 'bob@example.com' });
gotrue_err($r, 422, 'email_exists', 'an address another user has');
$r = req(PUT => '/auth/v1/user', token => $fresh->{access_token}, json => { email => 'carol2@example.com' });
is($r->{status}, 200, 'a fresh session changes the email without the password') or diag $r->{body};
is(db1("select count(*) from auth.users where email = 'carol2\@example.com'"), 1, '  changed');

# --- DELETE /api/v1/me: the session's sign-in time, not the refreshed token's iat
my $dave = signup('dave@example.com');
my $dave_id = $dave->{user}{id};
$old = aged_session('dave@example.com');
$r = req(DELETE => '/api/v1/me', token => $old->{access_token});
is($r->{status}, 403, 'delete with an old (refreshed) session -> 403') or diag $r->{body};
is($r->{json}{status}, 403, '  problem+json');
is(db1("select count(*) from auth.users where id = '$dave_id'"), 1, '  dave still there');
$r = req(DELETE => '/api/v1/me', token => $old->{access_token}, json => { password => 'not my password' });
is($r->{status}, 403, 'delete with a wrong password -> 403');
is(db1("select count(*) from auth.users where id = '$dave_id'"), 1, '  dave still there');
$r = req(DELETE => '/api/v1/me', token => $old->{access_token}, json => { password => $PW });
is($r->{status}, 204, 'delete with the password -> 204') or diag $r->{body};
is(db1("select count(*) from auth.users where id = '$dave_id'"), 0, '  dave deleted');

my $erin = signup('erin@example.com');
$r = req(DELETE => '/api/v1/me', token => signin('erin@example.com')->{json}{access_token});
is($r->{status}, 204, 'delete with a session signed in just now -> 204') or diag $r->{body};
is(db1("select count(*) from auth.users where id = '$erin->{user}{id}'"), 0, '  erin deleted');

# --- the SQL behind these routes is the workers' alone: raw SQL under
# authenticated (PostgREST on Supabase) cannot skip re-authentication
my $frank = signup('frank@example.com');
my $fid = $frank->{user}{id};
my $fsid = claims($frank->{access_token})->{session_id};
my $hash_before = db1("select encrypted_password from auth.users where id = '$fid'");
for my $c (["select promptd.auth_update_user('$fsid', null, '\$argon2id\$v=19\$m=8,t=1,p=1\$c2FsdHNhbHQ\$aGFzaGhhc2g')",
            'auth_update_user', 'set a password hash'],
           ["select promptd.auth_change_email('$fsid', 'mallory\@example.com')", 'auth_change_email', 'change the email'],
           ["select promptd.delete_account()", 'delete_account', 'delete the account']) {
    my ($sql, $fn, $what) = @$c;
    ok(!eval { $s->as_role('authenticated', $fid, $sql); 1 }, "raw SQL as authenticated cannot $what");
    like($@, qr/permission denied for function $fn/, "  $fn: permission denied");
}
is(db1("select encrypted_password from auth.users where id = '$fid'"), $hash_before, '  password hash unchanged');
is(db1("select email from auth.users where id = '$fid'"), 'frank@example.com', '  email unchanged');
$r = req(PUT => '/auth/v1/user', token => $frank->{access_token}, json => { data => { plan => 'x' } });
is($r->{status}, 200, 'the worker still updates the user (as its own role, with the caller\'s claims)') or diag $r->{body};
is(db1("select raw_user_meta_data->>'plan' from auth.users where id = '$fid'"), 'x', '  metadata written');

done_testing;
