#!/usr/bin/perl
# 410-secrets.t: secrets at rest (user_secrets, AES-256-GCM): promptctl secrets
# set/get/check/rotate, fresh nonces, rotation under a new key id, row-swap and
# tampering detected, RLS on the table.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Promptd::Test qw(db1 api);

my $s = Promptd::Test->new(PROMPTD_WORKERS => 1, PROMPTD_OUTBOUND_ALLOW => '127.0.0.9/32',
                           PROMPTD_WEBHOOKS_ALLOW_HTTP => 1);
my $alice = $s->user_create('alice@example.com');
my $bob = $s->user_create('bob@example.com');


# ctl({stdin => ..., keys => ...}, @args) -> ($rc, $stdout, $stderr)
sub ctl {
    my ($o, @args) = @_;
    my %env = (SECRET_IN => $o->{stdin} // '');
    $env{PROMPTD_SECRETS_KEYS} = $o->{keys} if defined $o->{keys};
    return $s->_run(['/bin/sh', '-c', 'printf "%s" "$SECRET_IN" | "$0" "$@"',
                     $s->{promptctl}, 'secrets', @args], separate => 1, env => \%env);
}
sub set_secret {
    my ($user, $name, $value, %o) = @_;
    my ($rc, $out, $err) = ctl({ stdin => $value, %o }, 'set', $user, $name);
    is($rc, 0, "set $name for $user") or diag $err;
    chomp $out;
    return $out;
}
sub get_secret {
    my ($user, $name, %o) = @_;
    my ($rc, $out, $err) = ctl({%o}, 'get', $user, $name);
    chomp $out;
    return $rc == 0 ? $out : "ERROR: $err";
}

my $ring = do { local (@ARGV, $/) = ($s->var_dir . '/secrets/secrets_keys'); <> };
chomp $ring;
like($ring, qr/^k1:[0-9a-f]{64}$/, 'a generated ring: k1');
my $k2 = 'k2:' . ('5a' x 32);
my $k3 = 'k3:' . ('c3' x 32);

# --- set / get: encrypted under k1, no plaintext stored
my %id;
$id{a_openai} = set_secret($alice, 'openai', 'sk-alice-openai-1');
$id{a_anth}   = set_secret('alice@example.com', 'anthropic', "sk-ant-\x{1}multi\nline");
$id{b_openai} = set_secret($bob, 'openai', 'sk-bob-openai-3');
$id{a_same}   = set_secret($alice, 'same', 'identical');
$id{b_same}   = set_secret($bob, 'same', 'identical');
like($id{a_openai}, qr/^[0-9a-f-]{36}$/, 'set prints the row id');
is(db1('select count(*) from user_secrets'), 5, 'five rows');
is(db1(q{select count(*) from user_secrets where key_id = 'k1' and value_enc like 'v1:k1:%'}), 5,
   'all under k1, stored form v1:k1:...');
is(db1(q{select count(*) from user_secrets s where s::text like '%sk-%' or s::text like '%identical%'}),
   0, 'no plaintext in any column');
isnt(db1("select value_enc from user_secrets where id = '$id{a_same}'"),
     db1("select value_enc from user_secrets where id = '$id{b_same}'"),
     'the same plaintext twice: different ciphertexts');
my %nonces = map { (split /:/, $_->[0])[2] => 1 } @{ $s->psql('select value_enc from user_secrets') };
is(scalar keys %nonces, 5, 'five distinct nonces');
is(get_secret($alice, 'openai'), 'sk-alice-openai-1', 'get decrypts');
is(get_secret($alice, 'anthropic'), "sk-ant-\x{1}multi\nline", 'binary-ish, multi-line value intact');
is(set_secret($alice, 'openai', 'sk-alice-openai-2'), $id{a_openai}, 'set again replaces in place (same id)');
is(get_secret($alice, 'openai'), 'sk-alice-openai-2', 'new value');
my ($rc, $out, $err) = ctl({}, 'check');
is($rc, 0, 'check -> 0');
like($out, qr/checked 5 secrets, 0 failed/, 'check reports 5 ok');

# --- a webhook endpoint whose secret was rotated once: two more sealed values
my $wtok = $s->token($alice);
my $hook = api($wtok, POST => '/api/v1/webhooks', json => { url => 'http://127.0.0.9:9/h', events => ['*'] })->{json};
ok($hook->{id}, 'a webhook endpoint (its secret sealed by the webhooks worker under k1)');
is(api($wtok, POST => "/api/v1/webhooks/$hook->{id}/rotate")->{status}, 200, '... rotated once');
is(db1(qq{select count(*) from webhook_endpoints where secret_sealed like 'v1:k1:%' and previous_secret_sealed like 'v1:k1:%'}),
   1, '... both its secrets under k1');

# --- rotate to k2 (k1 kept for decryption)
my %before = map { $_->[0] => $_->[1] } @{ $s->psql('select id, value_enc from user_secrets') };
($rc, $out, $err) = ctl({ keys => "$k2,$ring" }, 'rotate');
is($rc, 0, 'rotate -> 0') or diag $err;
like($out, qr/rotated 7 of 7 secrets to key k2/, 'reports the count and key (5 user secrets, 2 webhook secrets)');
is(db1(qq{select count(*) from webhook_endpoints where secret_sealed like 'v1:k2:%' and previous_secret_sealed like 'v1:k2:%'}),
   1, 'the webhook secrets are under k2 too');
is(db1(q{select count(*) from user_secrets where key_id = 'k2' and value_enc like 'v1:k2:%'}), 5,
   'every row now under k2');
my %after = map { $_->[0] => $_->[1] } @{ $s->psql('select id, value_enc from user_secrets') };
is(scalar(grep { $before{$_} ne $after{$_} } keys %before), 5, 'every ciphertext changed');
is(get_secret($alice, 'openai', keys => "$k2,$ring"), 'sk-alice-openai-2', 'plaintext preserved (alice openai)');
is(get_secret($bob, 'openai', keys => $k2), 'sk-bob-openai-3', 'plaintext preserved, k2 alone suffices');
is(get_secret($alice, 'anthropic', keys => $k2), "sk-ant-\x{1}multi\nline", 'plaintext preserved (anthropic)');
($rc, $out, $err) = ctl({ keys => $ring }, 'check');
is($rc, 1, 'check with only the old key -> 1');
like($err, qr/unknown key id/, '  unknown key id');
($rc, $out) = ctl({ keys => "$k2,$ring" }, 'rotate');
like($out, qr/rotated 0 of 7 secrets to key k2/, 'rotate again: nothing to do');

# --- row swap: copy alice's value into bob's row
$s->psql("update user_secrets set value_enc = (select value_enc from user_secrets where id = '$id{a_openai}') "
         . "where id = '$id{b_openai}'");
($rc, $out, $err) = ctl({ keys => $k2 }, 'check');
is($rc, 1, 'check after a row swap -> 1');
like($out, qr/checked 5 secrets, 1 failed/, '  one failure');
like($err, qr/\Q$id{b_openai}\E: authentication failed/, '  names the swapped row');
like(get_secret($bob, 'openai', keys => $k2), qr/^ERROR: .*authentication failed/,
     'get of the swapped row refuses to decrypt');
my $state = db1('select string_agg(value_enc, \',\' order by id) from user_secrets');
($rc, $out, $err) = ctl({ keys => "$k3,$k2" }, 'rotate');
is($rc, 1, 'rotate refuses while a row does not decrypt');
like($err, qr/nothing rotated/, '  and says so');
is(db1('select string_agg(value_enc, \',\' order by id) from user_secrets'), $state,
   'rotation rolled back: no row changed');
is(db1(q{select count(*) from user_secrets where key_id = 'k3'}), 0, 'no row under k3');

# --- tampering: ciphertext byte, kid relabel, garbage
$id{t} = set_secret($alice, 'tamper', 'tamper-me', keys => $k2);
my $v = db1("select value_enc from user_secrets where id = '$id{t}'");
my @p = split /:/, $v;
my @tampers = (
    ['flipped ciphertext', join(':', @p[0 .. 2], (substr($p[3], 0, 1) eq 'A' ? 'B' : 'A') . substr($p[3], 1)), qr/authentication failed/],
    ['kid relabelled',     join(':', 'v1', 'k1', @p[2, 3]), qr/authentication failed/],
    ['unknown kid',        join(':', 'v1', 'k9', @p[2, 3]), qr/unknown key id/],
    ['nonce changed',      join(':', @p[0, 1], 'AAAAAAAAAAAAAAAA', $p[3]), qr/authentication failed/],
    ['short box',          join(':', @p[0 .. 2], 'AAAA'), qr/malformed/],
);
for my $t (@tampers) {
    $s->psql("update user_secrets set value_enc = '$t->[1]' where id = '$id{t}'");
    like(get_secret($alice, 'tamper', keys => "$k2,$ring"), $t->[2], "$t->[0]: refused");
}
$s->psql("update user_secrets set value_enc = '$v' where id = '$id{t}'");
is(get_secret($alice, 'tamper', keys => $k2), 'tamper-me', 'original restored: decrypts');

# --- RLS: the request role sees only its own rows, and no one else's
for my $u ([$alice, 4], [$bob, 2]) {
    my $n = $s->psql("begin; set local role authenticated; "
                . "select set_config('request.jwt.claims', '{\"sub\":\"$u->[0]\",\"role\":\"authenticated\"}', true); "
                . "select count(*) from public.user_secrets; rollback")->[-1][0];
    is($n, $u->[1], "as authenticated $u->[0]: own rows only ($u->[1])");
}
ok(!eval { db1("begin; set local role anon; select count(*) from public.user_secrets; rollback"); 1 }
   && $@ =~ /permission denied/, 'anon: permission denied');

# --- bad usage and configuration
for my $c (
    [[], 2, 'no subcommand'],
    [['frobnicate'], 2, 'unknown subcommand'],
    [['set', $alice], 2, 'set without NAME'],
    [['set', 'nobody@example.com', 'x'], 1, 'unknown user'],
    [['set', $alice, 'n' x 101], 1, 'name too long'],
    [['get', $alice, 'nope'], 1, 'get a missing secret'],
) {
    ($rc) = ctl({ stdin => 'v', keys => $k2 }, @{ $c->[0] });
    is($rc, $c->[1], "secrets @{ $c->[0] } -> exit $c->[1] ($c->[2])");
}
for my $bad ('bogus', 'k1:abcd', "k1:" . ('zz' x 32), "$k2,$k2") {
    ($rc, $out, $err) = ctl({ keys => $bad }, 'check');
    is($rc, 1, "PROMPTD_SECRETS_KEYS '" . substr($bad, 0, 12) . "...' refused");
    like($err, qr/PROMPTD_SECRETS_KEYS/, '  with a reason');
}

done_testing;
