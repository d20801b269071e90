#!/usr/bin/perl
# 705-share-password-hash.t: share password hashes: request roles cannot write shares.password_hash
# (raw SQL as authenticated, as through PostgREST); promptd.share_set_password() takes only the
# server's argon2id parameters and only for the owner; a hash of other parameters planted in the
# table is refused at unlock without running argon2; normal share passwords still work.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use Promptd::Test qw(db1 as_role api);

my $s = Promptd::Test->new(PROMPTD_WORKERS => 1, PROMPTD_JOBS_DAEMONS => 0);
my ($alice, $ta, $bob, $tb) = $s->users(qw(alice bob));
my $noredir = HTTP::Tiny->new(max_redirect => 0, timeout => 60, agent => 'promptd-test/1');
sub unlock {
    my ($token, $pw) = @_;
    my $res = $noredir->request(POST => $s->url("/s/$token"), {
        headers => { 'Content-Type' => 'application/x-www-form-urlencoded' }, content => "password=$pw" });
    return { status => $res->{status}, reason => $res->{reason}, headers => $res->{headers},
             body => $res->{content} // '' };
}
sub refused { my ($sql, $who) = @_; my $ok = eval { as_role('authenticated', $who // $alice, $sql); 1 }; return (!$ok, $@) }

my $SERVER = qr/^\$argon2id\$v=19\$m=65536,t=3,p=1\$[A-Za-z0-9+\/]{22}\$[A-Za-z0-9+\/]{43}$/;
# a real argon2id hash of "cheap-pass" at m=8 KiB, t=1: what an attacker would plant to make
# unlocking cheap (or, with m and t raised, ruinously expensive for every visitor)
my $CHEAP = '$argon2id$v=19$m=8,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AV+Y+3ijXry8mEFwG8oxMMbPTbjganTZoTdorAxkIWY';
my $COSTLY = '$argon2id$v=19$m=4194304,t=1000,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AV+Y+3ijXry8mEFwG8oxMMbPTbjganTZoTdorAxkIWY';

# --- a normal password link still works
my $p = api($ta, POST => '/api/v1/prompts', json => { title => 'locked', content => 'the secret prompt' });
is($p->{status}, 201, 'prompt created');
my $r = api($ta, POST => "/api/v1/prompts/$p->{json}{id}/shares", json => { password => 'open sesame' });
is($r->{status}, 201, 'password link created') or diag explain $r;
ok($r->{json}{has_password}, 'has_password in the answer');
my $sh = $r->{json};
like(db1("select password_hash from public.shares where id = '$sh->{id}'"), $SERVER,
     "stored with the server's argon2id parameters");
$r = unlock($sh->{token}, 'wrong');
is($r->{status}, 401, 'wrong password -> 401');
$r = unlock($sh->{token}, 'open%20sesame');
is($r->{status}, 303, 'right password -> 303');
is($r->{reason}, 'See Other', 'the status line reads "303 See Other"');
my ($cookie) = ($r->{headers}{'set-cookie'} // '') =~ /^(pd_share_[^;]+)/;
ok($cookie, 'unlock cookie set');
$r = $s->request(GET => "/s/$sh->{token}", { headers => { Cookie => $cookie } });
like($r->{body}, qr/the secret prompt/, 'the cookie shows the content');

# --- request roles cannot write the column
my $before = db1("select password_hash from public.shares where id = '$sh->{id}'");
my ($no, $err) = refused("update public.shares set password_hash = '$CHEAP' where id = '$sh->{id}'");
ok($no, 'authenticated: UPDATE of password_hash on her own link is refused');
like($err, qr/permission denied/, 'permission denied');
is(db1("select password_hash from public.shares where id = '$sh->{id}'"), $before, 'the hash is unchanged');
($no, $err) = refused("insert into public.shares (id, prompt_id, token_hash, token_sealed, password_hash) "
                    . "values (gen_random_uuid(), '$p->{json}{id}', repeat('a', 64), 'x', '$CHEAP')");
ok($no, 'authenticated: INSERT with a password_hash is refused');
like($err, qr/permission denied/, 'permission denied');
($no) = refused("select password_hash from public.shares");
ok($no, 'authenticated cannot read password hashes either');
is(as_role('authenticated', $alice, "select count(*) from public.shares where id = '$sh->{id}' and has_password")->[0][0],
   1, 'but sees has_password of her link');

# --- the definer function: the owner, the server's parameters only
($no, $err) = refused("select promptd.share_set_password('$sh->{id}', '$CHEAP')");
ok($no, 'share_set_password refuses a cheaper hash');
like($err, qr/server's argon2id parameters/, 'saying why');
($no) = refused("select promptd.share_set_password('$sh->{id}', '$COSTLY')");
ok($no, 'and a costlier one');
is(db1("select password_hash from public.shares where id = '$sh->{id}'"), $before, 'the hash is unchanged');
my $other = '$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g';
is(as_role('authenticated', $bob, "select promptd.share_set_password('$sh->{id}', '$other')")->[0][0], 'f',
   "bob cannot set the password of alice's link");
is(db1("select password_hash from public.shares where id = '$sh->{id}'"), $before, 'unchanged');
ok(!eval { as_role('anon', undef, "select promptd.share_set_password('$sh->{id}', null)"); 1 },
   'anon cannot call it');

# --- hashes of other parameters planted in the table (e.g. before this fix): refused unverified
for my $case (['cheaper', $CHEAP, 'cheap-pass'], ['costlier', $COSTLY, 'cheap-pass']) {
    my ($name, $hash, $pw) = @$case;
    $s->psql("update public.shares set password_hash = '$hash' where id = '$sh->{id}'");
    $r = unlock($sh->{token}, $pw);
    is($r->{status}, 409, "$name hash planted: unlock -> 409, without hashing") or diag explain $r;
    is($r->{reason}, 'Conflict', "$name: 409 Conflict");
    like($r->{body}, qr/cannot be unlocked/, "$name: says the link cannot be unlocked");
    ok(!$r->{headers}{'set-cookie'}, "$name: no unlock cookie");
    $r = $s->request(GET => "/s/$sh->{token}");
    unlike($r->{body}, qr/the secret prompt/, "$name: the content stays locked");
    is(api(undef, GET => "/api/v1/shared/$sh->{token}")->{status}, 401, "$name: the JSON stays locked");
}
my $log = $s->log_tail('share', 200);
like($log, qr/foreign argon2 parameters/, 'the refusal is logged');

# --- the owner sets it again through the definer function: it works once more
$r = api($ta, POST => "/api/v1/prompts/$p->{json}{id}/shares", json => { password => 'second one' });
my $h2 = db1("select password_hash from public.shares where id = '$r->{json}{id}'");
like($h2, $SERVER, 'a new link: server parameters');
is(as_role('authenticated', $alice, "select promptd.share_set_password('$sh->{id}', '$h2')")->[0][0], 't',
   'the owner sets a server-parameter hash through the function');
$r = unlock($sh->{token}, 'second%20one');
is($r->{status}, 303, 'and the link unlocks again');

done_testing;
