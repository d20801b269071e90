#!/usr/bin/perl
# 240-auth-bcrypt.t: accounts moved from Supabase keep their bcrypt password
# hashes; the password grant accepts them and upgrades the hash to argon2id.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Promptd::Test qw(db1);

my $s = Promptd::Test->new;
sub signin {
    my ($email, $pw) = @_;
    return $s->request(POST => '/auth/v1/token?grant_type=password',
                       { json => { email => $email, password => $pw } });
}

# GoTrue writes $2a$ hashes (cost 10); the system's crypt(3) makes the same.
my $PW = 'migrated from supabase';
my $bcrypt = crypt($PW, '$2a$10$' . 'abcdefghijklmnopqrstuu');
like($bcrypt, qr/^\$2a\$10\$[.\/A-Za-z0-9]{53}$/, 'a bcrypt hash to import')
    or BAIL_OUT('crypt(3) does not make bcrypt hashes here');

my $uid = $s->user_create('moved@example.com');
$s->psql("update auth.users set encrypted_password = '$bcrypt', "
         . "email_confirmed_at = coalesce(email_confirmed_at, now()) where id = '$uid'");

# --- a wrong password: refused, the hash untouched
my $r = signin('moved@example.com', 'not the password');
is($r->{status}, 400, 'wrong password on a bcrypt account -> 400');
is($r->{json}{error_code}, 'invalid_credentials', '... invalid_credentials');
is(db1("select encrypted_password from auth.users where id = '$uid'"), $bcrypt,
   '... and the bcrypt hash is untouched');

# --- the right password: signed in, the hash upgraded
$r = signin('moved@example.com', $PW);
is($r->{status}, 200, 'right password on a bcrypt account -> 200') or diag $r->{body};
is($r->{json}{user}{id}, $uid, '... as that user');
ok($r->{json}{access_token}, '... with an access token');
like(db1("select encrypted_password from auth.users where id = '$uid'"),
     qr/^\$argon2id\$v=19\$m=65536,t=3,p=1\$/, 'the hash is now argon2id');

# --- and the password still works with the new hash; the old one is gone
$r = signin('moved@example.com', $PW);
is($r->{status}, 200, 'signing in again (argon2id) -> 200');
is(signin('moved@example.com', 'not the password')->{status}, 400, 'a wrong password still fails');

# --- $2b$ and $2y$ spellings verify too; a damaged hash never does
for my $variant ('2b', '2y') {
    my $h = crypt($PW, "\$$variant\$04\$" . 'ABCDEFGHIJKLMNOPQRSTUu');
    my $u = $s->user_create("v$variant\@example.com");
    $s->psql("update auth.users set encrypted_password = '$h' where id = '$u'");
    is(signin("v$variant\@example.com", $PW)->{status}, 200, "\$$variant\$ hash -> 200");
    like(db1("select encrypted_password from auth.users where id = '$u'"), qr/^\$argon2id\$/,
         "... upgraded to argon2id");
}
my $damaged = $s->user_create('damaged@example.com');
(my $bad = $bcrypt) =~ s/.$/x/;
$s->psql("update auth.users set encrypted_password = '$bad' where id = '$damaged'");
is(signin('damaged@example.com', $PW)->{status}, 400, 'a damaged bcrypt hash -> 400');
is(db1("select encrypted_password from auth.users where id = '$damaged'"), $bad,
   '... left as it was');
my $alien = $s->user_create('alien@example.com');
$s->psql("update auth.users set encrypted_password = '\$1\$abcdefgh\$0123456789abcdefghijkl' "
         . "where id = '$alien'");
is(signin('alien@example.com', $PW)->{status}, 400, 'an unsupported hash kind (md5-crypt) -> 400');

# --- the rehash only replaces the hash it verified
is(db1("select promptd.auth_password_rehash('$uid', 'not the stored hash', '\$argon2id\$x')"),
   'f', 'rehash with a stale old hash changes nothing');
like(db1("select encrypted_password from auth.users where id = '$uid'"), qr/^\$argon2id\$v=19/,
     '... the stored hash stays');
ok(!eval { $s->psql("select promptd.auth_password_rehash('$uid', 'x', 'plain')"); 1 },
   'rehash refuses a value that is not argon2id');
like($@, qr/not an argon2id hash/, '... saying why');

done_testing();
