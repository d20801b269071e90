#!/usr/bin/perl
# 400-api-keys.t: API keys: create (shown once, stored as HMAC only), list, show,
# revoke; authenticating with a key; scopes; expiry; RLS; last_used_at throttling;
# malformed keys refused before any database lookup.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Compress::Zlib ();
use Digest::SHA qw(hmac_sha256_hex);
use Promptd::Test qw(db1);

my $s = Promptd::Test->new;
my ($alice, $ta, $bob, $tb) = $s->users(qw(alice bob));
my $UUID = $Promptd::Test::UUID;

sub jwt { my ($tok, $m, $p, %o) = @_; $s->request($m, $p, { token => $tok, %o }) }
sub withkey { my ($key, $m, $p, %o) = @_; $s->request($m, $p, { token => $key, %o }) }
sub xkey {
    my ($key, $m, $p, %o) = @_;
    $s->request($m, $p, { %o, headers => { 'X-API-Key' => $key, %{ $o{headers} || {} } } });
}
sub new_key {
    my ($tok, %body) = @_;
    my $r = jwt($tok, POST => '/api/v1/keys', json => { name => 'k', %body });
    is($r->{status}, 201, "create key '$body{name}'") or diag explain $r;
    return $r->{json};
}

# A key in the promptd format built independently: crc32 in 6 base62 digits.
sub make_key {
    my ($rnd) = @_;
    my @a = ('0' .. '9', 'A' .. 'Z', 'a' .. 'z');
    my $c = Compress::Zlib::crc32($rnd);
    my $sum = '';
    for (1 .. 6) { $sum = $a[$c % 62] . $sum; $c = int($c / 62) }
    return "pmtd_$rnd$sum";
}
is(make_key('0123456789ABCDEFGHIJabcdefghij'), 'pmtd_0123456789ABCDEFGHIJabcdefghij4Us3aw',
   'the test\'s key builder agrees with the unit test vector');

my $pepper = do { local (@ARGV, $/) = ($s->var_dir . '/secrets/api_key_pepper'); <> };
chomp $pepper;

# --- create: the key is shown once, the database holds only its HMAC
my $r = jwt($ta, POST => '/api/v1/keys',
            json => { name => 'ci', scopes => ['prompts:read', 'prompts:write'] });
is($r->{status}, 201, 'POST /api/v1/keys -> 201') or diag explain $r;
my $k = $r->{json};
my $key = $k->{key};
like($key, qr/^pmtd_[0-9A-Za-z]{36}$/, 'key has the pmtd_ format');
like($k->{id}, $UUID, 'id is a UUID');
is($r->{headers}{location}, "/api/v1/keys/$k->{id}", 'Location');
is($k->{name}, 'ci', 'name');
is($k->{prefix}, substr($key, 0, 13), 'prefix = pmtd_ + 8 characters');
is($k->{last_four}, substr($key, -4), 'last four');
is_deeply($k->{scopes}, ['prompts:read', 'prompts:write'], 'scopes');
is($k->{expires_at}, undef, 'no expiry by default');
ok($k->{created_at}, 'created_at');
is(db1("select key_hash from api_keys where id = '$k->{id}'"), hmac_sha256_hex($key, $pepper),
   'stored: HMAC-SHA256(pepper, key)');
my $rnd = substr($key, 5);
is(db1("select count(*) from api_keys a where a::text like '%$rnd%' or a::text like '%"
       . substr($key, 13, 20) . "%'"), 0, 'no column holds the key or its secret part');
is(db1("select user_id from api_keys where id = '$k->{id}'"), $alice, 'owned by the caller');
is(db1("select count(*) from audit_log where action = 'key.create' and target = '$k->{id}'"),
   1, 'audited: key.create');

# --- never shown again
$r = jwt($ta, GET => '/api/v1/keys');
is($r->{status}, 200, 'list -> 200');
is(scalar @{ $r->{json}{items} }, 1, 'one key listed');
my $item = $r->{json}{items}[0];
is($item->{id}, $k->{id}, 'listed key');
ok(!exists $item->{key} && !exists $item->{key_hash}, 'list carries no secret');
is("$item->{prefix}...$item->{last_four}", substr($key, 0, 13) . '...' . substr($key, -4),
   'list shows prefix and last four');
unlike($r->{body}, qr/\Q$rnd\E/, 'list body does not contain the key');
$r = jwt($ta, GET => "/api/v1/keys/$k->{id}");
is($r->{status}, 200, 'show -> 200');
ok(!exists $r->{json}{key}, 'show carries no secret');
unlike($r->{body}, qr/\Q$rnd\E/, 'show body does not contain the key');

# --- using the key (Authorization: Bearer and X-API-Key)
$r = withkey($key, POST => '/api/v1/prompts', json => { title => 'via key', content => 'hello' });
is($r->{status}, 201, 'Bearer key: create a prompt -> 201') or diag explain $r;
my $pid = $r->{json}{id};
is(db1("select user_id from prompts where id = '$pid'"), $alice, 'the prompt belongs to the key owner');
$r = xkey($key, GET => '/api/v1/prompts');
is($r->{status}, 200, 'X-API-Key: list prompts -> 200');
is_deeply([ map { $_->{id} } @{ $r->{json}{items} } ], [$pid], 'sees the owner\'s prompts');
isnt(db1("select last_used_at from api_keys where id = '$k->{id}'"), '', 'last_used_at written');

# --- scopes: a read-only key (the default scope)
my $ro = new_key($ta, name => 'reader');
is_deeply($ro->{scopes}, ['prompts:read'], 'default scope prompts:read');
$r = withkey($ro->{key}, GET => "/api/v1/prompts/$pid");
is($r->{status}, 200, 'read-only key reads');
my $before = db1('select count(*) from prompts');
$r = withkey($ro->{key}, POST => '/api/v1/prompts', json => { title => 'no', content => 'no' });
is($r->{status}, 403, 'read-only key cannot POST -> 403');
like($r->{json}{detail} // '', qr/prompts:write/, '403 names the missing scope');
is($r->{json}{status}, 403, '403 is problem+json');
is(db1('select count(*) from prompts'), $before, 'nothing written');
for my $c ([PATCH => "/api/v1/prompts/$pid", { title => 'x' }], [DELETE => "/api/v1/prompts/$pid", undef]) {
    $r = withkey($ro->{key}, $c->[0], $c->[1], defined $c->[2] ? (json => $c->[2]) : ());
    is($r->{status}, 403, "read-only key: $c->[0] -> 403");
}
is(db1("select title from prompts where id = '$pid'"), 'via key', 'prompt untouched');

# --- key management takes a user's session token only: no API key, not even
# one with the admin scope, can list, create or revoke keys
$r = withkey($key, GET => '/api/v1/keys');
is($r->{status}, 403, 'a key cannot list keys');
like($r->{json}{detail} // '', qr/API keys cannot be used here/, '403 says keys are not accepted');
my $adm = new_key($ta, name => 'admin', scopes => ['admin', 'prompts:read']);
my $nkeys_before = db1("select count(*) from api_keys where user_id = '$alice'");
for my $c ([GET => '/api/v1/keys'], [GET => "/api/v1/keys/$k->{id}"],
           [POST => '/api/v1/keys', { name => 'escalate', scopes => ['admin'] }],
           [DELETE => "/api/v1/keys/$k->{id}"]) {
    $r = withkey($adm->{key}, $c->[0], $c->[1], $c->[2] ? (json => $c->[2]) : ());
    is($r->{status}, 403, "an admin-scoped key on $c->[0] $c->[1] -> 403");
    is($r->{json}{status}, 403, '  problem+json');
}
is(db1("select count(*) from api_keys where user_id = '$alice'"), $nkeys_before, 'no key created by a key');
is(db1("select revoked_at is null from api_keys where id = '$k->{id}'"), 't', 'no key revoked by a key');

# Routes that name no scope (account: /api/v1/me...) take user tokens only.
for my $c ([GET => '/api/v1/me'], [GET => '/api/v1/me/export'], [DELETE => '/api/v1/me']) {
    $r = withkey($adm->{key}, @$c);
    is($r->{status}, 403, "a key (even admin-scoped) on $c->[0] $c->[1] -> 403");
    like($r->{json}{detail} // '', qr/API keys cannot be used here/, '  user tokens only');
}
is(db1("select count(*) from auth.users where id = '$alice'"), 1, 'the account is still there');

# --- another user's key is not found; RLS holds with keys
my $bk = new_key($tb, name => 'bob', scopes => ['prompts:read', 'prompts:write', 'admin']);
for my $m (qw(GET DELETE)) {
    $r = jwt($tb, $m => "/api/v1/keys/$k->{id}");
    is($r->{status}, 404, "bob: $m alice's key -> 404");
    $r = withkey($bk->{key}, $m => "/api/v1/keys/$k->{id}");
    is($r->{status}, 403, "bob's key: $m alice's key -> 403 (keys cannot manage keys)");
}
is(db1("select revoked_at is null from api_keys where id = '$k->{id}'"), 't', 'alice\'s key not revoked');
$r = jwt($tb, GET => '/api/v1/keys');
is_deeply([ map { $_->{id} } @{ $r->{json}{items} } ], [$bk->{id}], 'bob lists only his keys');
$r = withkey($bk->{key}, GET => '/api/v1/prompts');
is_deeply($r->{json}{items}, [], "bob's key: no alice prompts in the list");
$r = withkey($bk->{key}, GET => "/api/v1/prompts/$pid");
is($r->{status}, 404, "bob's key: alice's prompt -> 404");
$r = withkey($bk->{key}, PATCH => "/api/v1/prompts/$pid", json => { title => 'pwned' });
is($r->{status}, 404, "bob's key: PATCH alice's prompt -> 404");
$r = withkey($bk->{key}, DELETE => "/api/v1/prompts/$pid");
is($r->{status}, 404, "bob's key: DELETE alice's prompt -> 404");
is(db1("select title from prompts where id = '$pid'"), 'via key', 'alice\'s prompt intact');

# --- last_used_at: written at most once per five minutes
my $lu = new_key($ta, name => 'lu');
is(db1("select last_used_at is null from api_keys where id = '$lu->{id}'"), 't', 'unused: null');
withkey($lu->{key}, GET => '/api/v1/prompts');
my ($t1, $x1) = @{ $s->psql("select last_used_at, xmin from api_keys where id = '$lu->{id}'")->[0] };
ok($t1, 'first use writes last_used_at');
withkey($lu->{key}, GET => '/api/v1/prompts') for 1 .. 3;
my ($t2, $x2) = @{ $s->psql("select last_used_at, xmin from api_keys where id = '$lu->{id}'")->[0] };
is("$t2 $x2", "$t1 $x1", 'three more uses at once: no further write (same value, same row version)');
$s->psql("update api_keys set last_used_at = now() - interval '6 minutes' where id = '$lu->{id}'");
withkey($lu->{key}, GET => '/api/v1/prompts');
is(db1("select last_used_at > now() - interval '1 minute' from api_keys where id = '$lu->{id}'"),
   't', 'older than five minutes: written again');

# --- revoke
$r = jwt($ta, DELETE => "/api/v1/keys/$ro->{id}");
is($r->{status}, 204, 'DELETE -> 204');
is($r->{body}, '', '204 has no body');
my $rev = db1("select revoked_at from api_keys where id = '$ro->{id}'");
ok($rev, 'revoked_at set');
$r = withkey($ro->{key}, GET => '/api/v1/prompts');
is($r->{status}, 401, 'revoked key -> 401');
like($r->{json}{detail} // '', qr/revoked/, '401 says revoked');
like($r->{headers}{'www-authenticate'} // '', qr/^Bearer/, 'WWW-Authenticate: Bearer');
$r = jwt($ta, DELETE => "/api/v1/keys/$ro->{id}");
is($r->{status}, 204, 'revoking again -> 204');
is(db1("select revoked_at from api_keys where id = '$ro->{id}'"), $rev, 'revoked_at kept');
is(db1("select count(*) from audit_log where action = 'key.revoke' and target = '$ro->{id}'"),
   1, 'audited once: key.revoke');
$r = jwt($ta, GET => "/api/v1/keys/$ro->{id}");
ok($r->{json}{revoked_at}, 'show reports revoked_at');
$r = jwt($ta, DELETE => '/api/v1/keys/00000000-0000-4000-8000-000000000000');
is($r->{status}, 404, 'unknown id -> 404');

# --- expiry
my $ex = new_key($ta, name => 'exp', expires_in => 3600);
ok($ex->{expires_at}, 'expires_in sets expires_at');
is(db1("select expires_at between now() + interval '59 minutes' and now() + interval '61 minutes' "
       . "from api_keys where id = '$ex->{id}'"), 't', 'an hour from now');
$r = withkey($ex->{key}, GET => '/api/v1/prompts');
is($r->{status}, 200, 'unexpired key works');
$s->psql("update api_keys set expires_at = now() - interval '1 second' where id = '$ex->{id}'");
$r = withkey($ex->{key}, GET => '/api/v1/prompts');
is($r->{status}, 401, 'expired key -> 401');
like($r->{json}{detail} // '', qr/expired/, '401 says expired');
my $ea = new_key($ta, name => 'exp-at', expires_at => '2099-01-01T00:00:00Z');
like($ea->{expires_at} // '', qr/^2099-01-01/, 'expires_at stored');

# --- malformed create bodies: 422 with a field, nothing stored
my $nkeys = db1('select count(*) from api_keys');
my @bad = (
    [{}, 'name'],
    [{ name => '' }, 'name'],
    [{ name => 'x' x 101 }, 'name'],
    [{ name => 7 }, 'name'],
    [{ name => undef }, 'name'],
    [{ name => 'a', scopes => [] }, 'scopes'],
    [{ name => 'a', scopes => ['nope'] }, 'scopes'],
    [{ name => 'a', scopes => ['prompts:read', 'prompts:read'] }, 'scopes'],
    [{ name => 'a', scopes => 'admin' }, 'scopes'],
    [{ name => 'a', scopes => [1] }, 'scopes'],
    [{ name => 'a', expires_in => 10 }, 'expires_in'],
    [{ name => 'a', expires_in => '3600' }, 'expires_in'],
    [{ name => 'a', expires_in => 1.5 }, 'expires_in'],
    [{ name => 'a', expires_in => 1e12 }, 'expires_in'],
    [{ name => 'a', expires_at => 'tomorrow' }, 'expires_at'],
    [{ name => 'a', expires_at => '2099-01-01' }, 'expires_at'],
    [{ name => 'a', expires_at => '2020-01-01T00:00:00Z' }, 'expires_at'],
    [{ name => 'a', expires_at => '2099-01-01T00:00:00Z', expires_in => 3600 }, 'expires_at'],
    [{ name => 'a', key => 'pmtd_mine' }, 'key'],
);
for my $c (@bad) {
    my $desc = JSON::PP->new->canonical->allow_nonref->encode($c->[0]);
    $r = jwt($ta, POST => '/api/v1/keys', json => $c->[0]);
    is($r->{status}, 422, "create $desc -> 422");
    ok((grep { $_->{field} =~ /^\Q$c->[1]\E(?:\[|$)/ } @{ $r->{json}{errors} || [] }), "  names field $c->[1]")
        or diag explain $r->{json};
}
$r = jwt($ta, POST => '/api/v1/keys', json => { name => 'a', expires_at => '2099-13-45T00:00:00Z' });
is($r->{status}, 422, 'impossible date -> 422');
for my $c (['not json', 400], ['[1]', 400], ['{"name":"a","name":"b"}', 400]) {
    $r = jwt($ta, POST => '/api/v1/keys', body => $c->[0], headers => { 'Content-Type' => 'application/json' });
    is($r->{status}, $c->[1], "body '$c->[0]' -> $c->[1]");
}
$r = jwt($ta, GET => '/api/v1/keys/not-a-uuid');
is($r->{status}, 400, 'bad uuid -> 400');
$r = $s->request(GET => '/api/v1/keys');
is($r->{status}, 401, 'no credentials -> 401');
is(db1('select count(*) from api_keys'), $nkeys, 'no key stored by any bad request');

# --- malformed keys: 401 (the unit test t/unit/apikey.c covers the format)
(my $badsum = $key) =~ s/(.)$/$1 eq 'a' ? 'b' : 'a'/e;
my $unknown = make_key('A' x 30);   # well-formed, checksum right, never issued
my @badkeys = (
    ['bad checksum', $badsum, qr/malformed/],
    ['truncated', substr($key, 0, 40), qr/malformed/],
    ['too long', "${key}x", qr/malformed/],
    ['prefix only', 'pmtd_', qr/malformed/],
    ['non-base62', substr($key, 0, 20) . '-' . substr($key, 21), qr/malformed/],
    ['not a key at all', 'hello', qr/malformed/],
);
for my $c (@badkeys) {
    for my $via (['Bearer', \&withkey], ['X-API-Key', \&xkey]) {
        next if $via->[0] eq 'Bearer' && $c->[1] !~ /^pmtd_/;
        $r = $via->[1]->($c->[1], GET => '/api/v1/prompts');
        is($r->{status}, 401, "$c->[0] via $via->[0] -> 401");
        like($r->{json}{detail} // '', $c->[2], '  detail');
    }
}

# A bad checksum is refused with the database down (so without a lookup);
# a well-formed key needs the database.
$s->stack('pg-stop');
$r = withkey($badsum, GET => '/api/v1/prompts');
is($r->{status}, 401, 'database down: bad checksum still -> 401 (no lookup)');
$r = xkey($badsum, GET => '/api/v1/prompts');
is($r->{status}, 401, 'database down: bad checksum via X-API-Key -> 401');
$r = withkey($key, GET => '/api/v1/prompts');
is($r->{status}, 503, 'database down: a well-formed key -> 503');
$s->stack('pg-start');
ok($s->wait_for(sub { withkey($key, GET => '/api/v1/prompts')->{status} == 200 }, timeout => 20),
   'database back: the key works again');
$r = withkey($unknown, GET => '/api/v1/prompts');
is($r->{status}, 401, 'well-formed but unknown key -> 401');
like($r->{json}{detail} // '', qr/not valid/, '  detail');

done_testing;
