#!/usr/bin/perl
# 300-me.t: /api/v1/me (profile, tier, plan), /me/audit, /me/export,
# DELETE /me, and the admin routes (403 vs 200), with database effects.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Promptd::Test qw(db1 api);

my $s = Promptd::Test->new;
my $alice = $s->user_create('alice@example.com');
my $bob = $s->user_create('bob@example.com');
my $atok = $s->token($alice);
my $btok = $s->token($bob);

# --- GET /me
my $r = api($atok, GET => '/api/v1/me');
is($r->{status}, 200, 'GET /me -> 200') or diag explain $r;
is($r->{json}{id}, $alice, 'own id');
is($r->{json}{email}, 'alice@example.com', 'email');
is($r->{json}{subscription_tier}, 'free', 'tier free');
is($r->{json}{plan}{limits}{prompts}, 100, 'plan limits');
is($r->{json}{is_admin}, JSON::PP::false, 'not an admin');
is_deeply($r->{json}{preferences}, {}, 'preferences {}');
is(api(undef, GET => '/api/v1/me')->{status}, 401, 'no token -> 401');

# --- PATCH /me
$r = api($atok, PATCH => '/api/v1/me', json => {
    display_name => 'Alice A.', avatar_url => 'https://img.example.com/a.png',
    preferences => { theme => 'dark', n => 3 } });
is($r->{status}, 200, 'PATCH /me -> 200') or diag explain $r;
is($r->{json}{display_name}, 'Alice A.', 'display_name returned');
is_deeply($r->{json}{preferences}, { theme => 'dark', n => 3 }, 'preferences returned');
is(db1("select display_name || ' ' || avatar_url || ' ' || (preferences->>'theme') from profiles where id = '$alice'"),
   'Alice A. https://img.example.com/a.png dark', 'stored');
is(db1("select count(*) from audit_log where action = 'profile.update' and detail = "
       . "'{\"fields\":[\"display_name\",\"avatar_url\",\"preferences\"]}'"), 1, 'audited profile.update');
$r = api($atok, PATCH => '/api/v1/me', json => { avatar_url => undef });
is($r->{status}, 200, 'null clears avatar_url');
is(db1("select count(*) from profiles where id = '$alice' and avatar_url is null and display_name = 'Alice A.'"),
   1, 'only avatar_url cleared');

my $long = 'x' x 2100;
my @bad = (
    [{ subscription_tier => 'pro' }, 422, 'subscription_tier', 'tier not user-writable'],
    [{ is_admin => JSON::PP::true }, 422, 'is_admin', 'admin flag not user-writable'],
    [{ email => 'x@y.z' }, 422, 'email', 'email not writable'],
    [{}, 422, 'body', 'empty patch'],
    [{ display_name => '' }, 422, 'display_name', 'empty name'],
    [{ display_name => 'n' x 101 }, 422, 'display_name', 'name too long'],
    [{ display_name => 7 }, 422, 'display_name', 'name not a string'],
    [{ avatar_url => 'ftp://x.example/a' }, 422, 'avatar_url', 'not http(s)'],
    [{ avatar_url => 'javascript:alert(1)' }, 422, 'avatar_url', 'javascript: URL'],
    [{ avatar_url => 'https://' }, 422, 'avatar_url', 'no host'],
    [{ avatar_url => 'https://a.example/ b' }, 422, 'avatar_url', 'space'],
    [{ avatar_url => "https://a.example/$long" }, 422, 'avatar_url', 'over 2048'],
    [{ preferences => [1] }, 422, 'preferences', 'preferences array'],
    [{ preferences => 'dark' }, 422, 'preferences', 'preferences string'],
    [{ preferences => { big => 'p' x 17000 } }, 422, 'preferences', 'preferences over 16 KB'],
);
for my $b (@bad) {
    my ($body, $st, $field, $name) = @$b;
    $r = api($atok, PATCH => '/api/v1/me', json => $body);
    is($r->{status}, $st, "PATCH bad: $name -> $st");
    ok((grep { $_->{field} eq $field } @{ $r->{json}{errors} || [] }), "  error names $field")
        or diag explain $r->{json};
}
$r = api($atok, PATCH => '/api/v1/me', body => '{"display_name":', headers => { 'Content-Type' => 'application/json' });
is($r->{status}, 400, 'malformed JSON -> 400');
$r = api($atok, PATCH => '/api/v1/me', body => '[1]', headers => { 'Content-Type' => 'application/json' });
is($r->{status}, 400, 'non-object -> 400');
is(db1("select subscription_tier || is_admin::text from profiles where id = '$alice'"), 'freefalse',
   'tier and admin flag unchanged');
is(db1("select count(*) from audit_log where action = 'profile.update'"), 2, 'bad inputs not audited');

# Column grants: even with SQL, the request role cannot set tier/admin.
for my $col ("subscription_tier = 'team'", 'is_admin = true') {
    eval { $s->psql("begin; set local role authenticated; select set_config('request.jwt.claim.sub', '$alice', true); "
                    . "update profiles set $col where id = '$alice'; commit") };
    like($@, qr/permission denied/, "authenticated cannot set $col");
}

# --- plans readable
is(db1("select count(*) from plans"), 4, 'four plans seeded');
eval { $s->psql("begin; set local role authenticated; select count(*) from plans; commit") };
is($@, '', 'authenticated may read plans');

# --- GET /me/audit: own entries only, keyset pagination
api($btok, PATCH => '/api/v1/me', json => { display_name => 'Bob' });
$r = api($atok, GET => '/api/v1/me/audit?limit=1');
is($r->{status}, 200, 'GET /me/audit -> 200') or diag explain $r;
is(scalar @{ $r->{json}{items} }, 1, 'limit 1');
is($r->{json}{items}[0]{action}, 'profile.update', 'action');
ok($r->{json}{next_cursor}, 'next_cursor');
my $r2 = api($atok, GET => "/api/v1/me/audit?limit=1&cursor=$r->{json}{next_cursor}");
is(scalar @{ $r2->{json}{items} }, 1, 'second page');
ok($r2->{json}{items}[0]{id} < $r->{json}{items}[0]{id}, 'older entry');
is($r2->{json}{next_cursor}, undef, 'last page');
$r = api($btok, GET => '/api/v1/me/audit');
is(scalar @{ $r->{json}{items} }, 1, 'bob sees only his one entry');
for my $q ('limit=0', 'limit=101', 'limit=x', 'cursor=abc', 'cursor=') {
    is(api($atok, GET => "/api/v1/me/audit?$q")->{status}, 422, "/me/audit?$q -> 422");
}
eval { $s->psql("begin; set local role authenticated; select set_config('request.jwt.claim.sub', '$bob', true); "
                . "select count(*) from audit_log; commit") };
is($s->psql("begin; set local role authenticated; select set_config('request.jwt.claim.sub', '$bob', true); "
            . "select count(*) from audit_log; commit")->[-1][0], 1, 'RLS: bob selects only his rows');

# --- GET /me/export
my $pr = api($atok, POST => '/api/v1/prompts', json => { title => 'T', content => 'Hello {{name}}' });
is($pr->{status}, 201, 'alice has a prompt');
api($btok, POST => '/api/v1/prompts', json => { title => 'Bob secret', content => 'bob only' });
$r = api($atok, GET => '/api/v1/me/export');
is($r->{status}, 200, 'GET /me/export -> 200') or diag explain $r;
my $x = $r->{json};
is($x->{profile}{id}, $alice, 'export: profile');
is(scalar @{ $x->{prompts} }, 1, 'export: one prompt');
is($x->{prompts}[0]{title}, 'T', 'export: her prompt');
is(scalar @{ $x->{prompt_versions} }, 1, 'export: versions');
ok(scalar @{ $x->{usage_tracking} } >= 1, 'export: usage');
ok((grep { $_->{action} eq 'account.export' } @{ $x->{audit_log} }), 'export: audit includes account.export');
unlike($r->{body}, qr/Bob secret|bob\@example/, 'export: nothing of bob');
like($r->{headers}{'content-disposition'} // '', qr/attachment/, 'export: attachment');

# --- admin routes: 403 vs 200
is(api($atok, GET => '/api/v1/admin/users')->{status}, 403, 'non-admin GET admin/users -> 403');
is(api($atok, PATCH => "/api/v1/admin/users/$bob", json => { subscription_tier => 'pro' })->{status},
   403, 'non-admin PATCH -> 403');
is(db1("select subscription_tier from profiles where id = '$bob'"), 'free', 'tier unchanged');
$s->promptctl('user', 'admin', 'alice@example.com', 'on');
is(db1("select is_admin::text from profiles where id = '$alice'"), 'true', 'promptctl user admin on');
is(db1("select count(*) from audit_log where action = 'admin.grant'"), 1, 'audited admin.grant');
$r = api($atok, GET => '/api/v1/me');
is($r->{json}{is_admin}, JSON::PP::true, 'GET /me says admin');
$r = api($atok, GET => '/api/v1/admin/users?limit=1');
is($r->{status}, 200, 'admin GET admin/users -> 200') or diag explain $r;
is(scalar @{ $r->{json}{items} }, 1, 'one per page');
$r2 = api($atok, GET => "/api/v1/admin/users?limit=5&cursor=$r->{json}{next_cursor}");
is(scalar @{ $r2->{json}{items} }, 1, 'second page has the other user');
$r = api($atok, PATCH => "/api/v1/admin/users/$bob", json => { subscription_tier => 'pro' });
is($r->{status}, 200, 'admin PATCH tier -> 200') or diag explain $r;
is($r->{json}{subscription_tier}, 'pro', 'returned');
is(db1("select subscription_tier from profiles where id = '$bob'"), 'pro', 'stored');
is(db1("select detail->>'from' || '>' || (detail->>'to') from audit_log where action = 'tier.change'"),
   'free>pro', 'audited tier.change');
is(api($btok, GET => '/api/v1/me')->{json}{plan}{limits}{prompts}, 5000, 'bob sees pro limits');
my @abad = (
    [{ subscription_tier => 'gold' }, 422], [{}, 422], [{ subscription_tier => 1 }, 422],
    [{ subscription_tier => 'pro', is_admin => JSON::PP::true }, 422],
);
for my $b (@abad) {
    is(api($atok, PATCH => "/api/v1/admin/users/$bob", json => $b->[0])->{status}, $b->[1],
       'admin PATCH bad body -> 422');
}
is(api($atok, PATCH => '/api/v1/admin/users/00000000-0000-0000-0000-000000000000',
       json => { subscription_tier => 'pro' })->{status}, 404, 'unknown user -> 404');
is(api($atok, PATCH => '/api/v1/admin/users/nope', json => { subscription_tier => 'pro' })->{status},
   400, 'bad uuid -> 400');
is(api($atok, GET => '/api/v1/admin/users?cursor=zz')->{status}, 422, 'bad admin cursor -> 422');
$s->promptctl('user', 'admin', $alice, 'off');
is(api($atok, GET => '/api/v1/admin/users')->{status}, 403, 'revoked: 403 again');

# --- DELETE /me
my $old = $s->token($bob, ttl => 3600);
# a token issued 10 minutes ago is not a recent sign-in
my $stale = do {
    require Digest::SHA; require MIME::Base64;
    my $b64 = sub { (my $e = MIME::Base64::encode_base64url($_[0])) =~ s/=+$//; $e };
    my $secret = do { local $/; open my $f, '<', $s->var_dir . '/secrets/jwt_secret' or die; <$f> };
    chomp $secret;
    my $now = time;
    my $h = $b64->('{"alg":"HS256","typ":"JWT"}');
    my $p = $b64->(JSON::PP->new->canonical->encode({ sub => $bob, role => 'authenticated',
        aud => 'authenticated', iat => $now - 600, exp => $now + 3000, email => 'bob@example.com' }));
    "$h.$p." . $b64->(Digest::SHA::hmac_sha256("$h.$p", $secret));
};
$r = api($stale, DELETE => '/api/v1/me');
is($r->{status}, 403, 'stale sign-in -> 403') or diag explain $r;
is(db1("select count(*) from auth.users where id = '$bob'"), 1, 'bob still there');
is(db1("select count(*) from audit_log where action = 'account.delete' and outcome = 'denied'"), 1,
   'denied deletion audited');
$r = api($stale, DELETE => '/api/v1/me', json => { password => 'wrong' });
is($r->{status}, 403, 'wrong password (no password set) -> 403');
is(api($stale, DELETE => '/api/v1/me', json => { password => 5 })->{status}, 422, 'password not a string -> 422');
is(api($stale, DELETE => '/api/v1/me', json => { nope => 1 })->{status}, 422, 'unknown member -> 422');
is(api($stale, DELETE => '/api/v1/me', body => 'x', headers => { 'Content-Type' => 'application/json' })->{status},
   400, 'malformed body -> 400');
my $pseudo = db1("select pseudonym from promptd.audit_subjects where user_id = '$bob'");
my $bob_rows = db1("select count(*) from audit_log where actor_user = '$pseudo'");
ok($bob_rows >= 3, "bob has $bob_rows audit rows");
$r = api($old, DELETE => '/api/v1/me');
is($r->{status}, 204, 'recent sign-in -> 204') or diag explain $r;
for my $t (qw(auth.users profiles prompts prompt_versions usage_tracking idempotency_keys)) {
    my $col = $t =~ /users|profiles/ ? 'id' : 'user_id';
    is(db1("select count(*) from $t where $col = '$bob'"), 0, "deleted from $t");
}
is(db1("select count(*) from promptd.audit_subjects where user_id = '$bob'"), 0, 'pseudonym mapping forgotten');
is(db1("select count(*) from audit_log where actor_user = '$pseudo'"), $bob_rows + 1,
   'audit rows stay (plus account.delete), under the pseudonym');
is(db1("select count(*) from audit_log where action = 'account.delete' and outcome = 'success' and actor_user = '$pseudo'"),
   1, 'account.delete audited');
my ($rc, $out) = $s->_run([$s->{promptctl}, 'audit', 'verify'], separate => 1);
is($rc, 0, 'chain still verifies after deletion') or diag $out;
$r = api($old, GET => '/api/v1/me');
ok($r->{status} == 403 || $r->{status} == 404, "deleted user's token does not resurrect the account ($r->{status})");
is(db1("select count(*) from auth.users where id = '$bob'"), 0, 'not recreated');
is(api($atok, GET => '/api/v1/me')->{status}, 200, 'alice unaffected');
is(db1("select count(*) from prompts where user_id = '$alice'"), 1, 'alice keeps her prompt');

done_testing;
