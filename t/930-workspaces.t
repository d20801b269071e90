#!/usr/bin/perl
# 930-workspaces.t: team workspaces: create/list/rename/delete, members and roles (the last owner), invitations mailed and accepted, the role matrix over every prompt and share route, API keys bound to one workspace, audit rows.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(sha256_hex);
use Test::More;
use Promptd::Test qw(db1 api);
use Promptd::FakeSMTP;

my $smtp = Promptd::FakeSMTP->new;
my $s = Promptd::Test->new(PROMPTD_SMTP_URL => $smtp->url, PROMPTD_JOBS_POLL => 100,
                           PROMPTD_SMTP_FROM => 'promptd <no-reply@promptd.test>');
my %U;    # name -> {id, token}
for my $n (qw(alice bob carol dave eve frank)) {
    my $id = $s->user_create("$n\@example.com");
    $U{$n} = { id => $id, token => $s->token($id) };
}
$s->psql("update auth.users set email_confirmed_at = now() where email <> 'frank\@example.com'");
sub tok { $U{$_[0]}{token} }

sub problem_ok {
    my ($r, $status, $name, $detail) = @_;
    is($r->{status}, $status, "$name -> $status") or diag $r->{body};
    like($r->{headers}{'content-type'} // '', qr{^application/problem\+json}, "$name: problem+json");
    like($r->{json}{detail} // '', $detail, "$name: says why") if $detail;
}

# ------------------------------------------------------------- personal workspaces
my $r = api(tok('alice'), GET => '/api/v1/workspaces');
is($r->{status}, 200, 'list workspaces');
is(scalar @{ $r->{json}{items} }, 1, 'a new user has one workspace');
my $personal = $r->{json}{items}[0];
ok($personal->{personal} && $personal->{role} eq 'owner' && $personal->{name} eq 'Personal',
   '... personal, owned by them') or diag explain $personal;
is(db1("select count(*) from public.workspaces where personal_of is not null"), 6,
   'every user has exactly one personal workspace');
$r = api(tok('alice'), POST => '/api/v1/prompts', json => { title => 'mine', content => 'x' });
is($r->{json}{workspace_id}, $personal->{id}, 'a prompt without workspace_id goes to the personal workspace');
my $alice_private = $r->{json}{id};
problem_ok(api(tok('alice'), DELETE => "/api/v1/workspaces/$personal->{id}"), 409,
           'deleting the personal workspace', qr/personal/);
problem_ok(api(tok('alice'), POST => "/api/v1/workspaces/$personal->{id}/invitations",
               json => { email => 'bob@example.com', role => 'editor' }), 409,
           'inviting into a personal workspace', qr/personal/);

# ------------------------------------------------------------- create, bad input
$r = api(tok('alice'), POST => '/api/v1/workspaces', json => { name => 'Acme' });
is($r->{status}, 201, 'create a team workspace') or diag $r->{body};
my $ws = $r->{json}{id};
is($r->{headers}{location}, "/api/v1/workspaces/$ws", 'Location');
is_deeply([ @{ $r->{json} }{qw(name personal role)} ], ['Acme', JSON::PP::false, 'owner'], 'body');
is(db1("select role from public.workspace_members where workspace_id = '$ws' and user_id = '$U{alice}{id}'"),
   'owner', 'the creator is its owner (database)');
is(db1("select count(*) from public.audit_log where action = 'workspace.create' and target = 'workspace:$ws'"),
   1, 'audited');
for my $case ([{}, 'no name'], [{ name => '   ' }, 'a blank name'], [{ name => 'x' x 101 }, 'a name over 100'],
              [{ name => 7 }, 'a number'], [{ name => 'a', colour => 'red' }, 'an unknown field']) {
    problem_ok(api(tok('alice'), POST => '/api/v1/workspaces', json => $case->[0]), 422, "create with $case->[1]");
}
problem_ok(api(tok('alice'), POST => '/api/v1/workspaces', body => '{"name":',
               headers => { 'Content-Type' => 'application/json' }), 400, 'malformed JSON');
is(db1("select count(*) from public.workspaces where personal_of is null"), 1, 'no workspace from bad input');

# ------------------------------------------------------------- invitations
sub invite {
    my ($who, $email, $role) = @_;
    return api(tok($who), POST => "/api/v1/workspaces/$ws/invitations", json => { email => $email, role => $role });
}
my %inv;
for ([bob => 'editor'], [carol => 'viewer'], [dave => 'admin']) {
    my ($n, $role) = @$_;
    $r = invite('alice', "$n\@Example.com", $role);
    is($r->{status}, 201, "invite $n as $role") or diag $r->{body};
    like($r->{json}{token} // '', qr/^pwi_[A-Za-z0-9_-]{43}$/, '... a token, shown once');
    is($r->{json}{state}, 'pending', '... pending');
    is($r->{json}{email}, "$n\@example.com", '... the address in lower case');
    $inv{$n} = $r->{json};
    is(db1("select token_hash from public.workspace_invitations where id = '$r->{json}{id}'"),
       sha256_hex($r->{json}{token}), '... stored as its SHA-256 only');
}
my @mail = $smtp->wait_messages(3);
is(scalar @mail, 3, 'three invitation mails') or diag $smtp->errors;
my ($bobmail) = grep { $_->{rcpt}[0] eq 'bob@example.com' } @mail;
like($bobmail->{headers}{subject} // '', qr/invited you to Acme/, 'the mail names the workspace');
like($bobmail->{parts}{'text/plain'} // '', qr/\Q$inv{bob}{token}\E/, 'the mail states the token');
like($bobmail->{parts}{'text/plain'} // '', qr{/invite#token=\Q$inv{bob}{token}\E}, '... and the link');
like($bobmail->{parts}{'text/plain'} // '', qr/as editor/, '... and the role');
# (the server has the mail before the daemon has its 250 and updates the row)
ok($s->wait_for(sub { db1("select count(*) from promptd.mail_outbox where kind = 'invitation' "
                        . "and state = 'sent' and vars is null") == 3 }, timeout => 30),
   'the outbox rows are sent, their tokens cleared');

problem_ok(invite('alice', 'not-an-address', 'viewer'), 422, 'invite a bad address');
problem_ok(invite('alice', 'x@example.com', 'king'), 422, 'invite with a bad role');
problem_ok(invite('alice', ('a' x 250) . '@example.com', 'viewer'), 422, 'invite an address over 254 bytes');
problem_ok(api(tok('alice'), POST => "/api/v1/workspaces/$ws/invitations", json => { email => 'x@example.com' }),
           422, 'invite without a role');
problem_ok(api(tok('alice'), POST => "/api/v1/workspaces/$ws/invitations",
               json => { email => 'x@example.com', role => 'viewer', note => 'hi' }), 422, 'invite with an unknown field');
problem_ok(invite('eve', 'x@example.com', 'viewer'), 404, 'a non-member invites');
$r = api(tok('alice'), GET => "/api/v1/workspaces/$ws/invitations");
is(scalar @{ $r->{json}{items} }, 3, 'admins list invitations');
ok(!(grep { exists $_->{token} } @{ $r->{json}{items} }), '... never with the token');

sub accept_inv { api(tok($_[0]), POST => "/api/v1/invitations/$_[1]/accept") }
problem_ok(accept_inv('eve', $inv{carol}{token}), 403, 'another address accepts', qr/another email/);
$r = accept_inv('bob', $inv{bob}{token});
is($r->{status}, 200, 'bob accepts') or diag $r->{body};
is_deeply([ @{ $r->{json} }{qw(id role)} ], [$ws, 'editor'], '... and joins as editor');
problem_ok(accept_inv('bob', $inv{bob}{token}), 410, 'the same invitation again', qr/already used/);
is(accept_inv('carol', $inv{carol}{token})->{status}, 200, 'carol joins as viewer');
is(accept_inv('dave', $inv{dave}{token})->{status}, 200, 'dave joins as admin');
problem_ok(accept_inv('eve', 'pwi_' . ('A' x 43)), 404, 'an unknown token');
problem_ok(accept_inv('eve', 'garbage'), 404, 'a malformed token');

# editors cannot invite; admins cannot invite owners; revoked and expired are 410
problem_ok(invite('bob', 'eve@example.com', 'viewer'), 403, 'an editor invites');
problem_ok(invite('dave', 'eve@example.com', 'owner'), 403, 'an admin invites an owner');
$r = invite('dave', 'eve@example.com', 'viewer');
is($r->{status}, 201, 'an admin invites a viewer');
my $eve_inv = $r->{json};
$r = api(tok('dave'), DELETE => "/api/v1/workspaces/$ws/invitations/$eve_inv->{id}");
is($r->{status}, 200, 'revoke it');
is($r->{json}{state}, 'revoked', '... revoked');
problem_ok(accept_inv('eve', $eve_inv->{token}), 410, 'a revoked invitation', qr/revoked/);
$r = invite('alice', 'eve@example.com', 'viewer');
$s->psql("update public.workspace_invitations set expires_at = now() - interval '1 second' where id = '$r->{json}{id}'");
problem_ok(accept_inv('eve', $r->{json}{token}), 410, 'an expired invitation', qr/expired/);
problem_ok(api(tok('alice'), DELETE => "/api/v1/workspaces/$ws/invitations/$inv{bob}{id}"), 409,
           'revoking an accepted invitation');
$r = invite('alice', 'frank@example.com', 'viewer');
problem_ok(accept_inv('frank', $r->{json}{token}), 403, 'an unconfirmed address accepts', qr/confirmed/);
is(db1("select count(*) from public.workspace_members where workspace_id = '$ws' and user_id in ('$U{eve}{id}', '$U{frank}{id}')"),
   0, 'refused acceptances add no member');
is(db1("select count(*) from public.audit_log where action = 'workspace.invitation.accept' and target = 'workspace:$ws'"),
   3, 'acceptances are audited');

# ------------------------------------------------------------- API keys per workspace
$r = api(tok('bob'), POST => '/api/v1/keys', json => { name => 'ci', scopes => ['prompts:read', 'prompts:write'],
                                                        workspace_id => $ws });
is($r->{status}, 201, 'bob makes a key for Acme') or diag $r->{body};
is($r->{json}{workspace_id}, $ws, '... bound to it');
my $bobkey = $r->{json}{key};
$r = api(tok('carol'), POST => '/api/v1/keys', json => { name => 'ro', scopes => ['prompts:read', 'prompts:write'],
                                                          workspace_id => $ws });
my $carolkey = $r->{json}{key};
problem_ok(api(tok('eve'), POST => '/api/v1/keys', json => { name => 'x', workspace_id => $ws }), 404,
           'a key for a workspace one is not in');
problem_ok(api(tok('eve'), POST => '/api/v1/keys', json => { name => 'x', workspace_id => 'nope' }), 422,
           'a key with a bad workspace_id');
sub key_req {
    my ($key, $method, $path, %o) = @_;
    return $s->request($method, $path, { headers => { 'X-API-Key' => $key }, %o });
}

# ------------------------------------------------------------- the role matrix
$r = api(tok('alice'), POST => '/api/v1/prompts', json => { title => 'team', content => 'hi {{who}}', workspace_id => $ws });
is($r->{status}, 201, 'a team prompt') or diag $r->{body};
my $tp = $r->{json}{id};
api(tok('alice'), PATCH => "/api/v1/prompts/$tp", json => { content => 'hello {{who}}' });

# Each route with what each caller gets: [name, method, path, body, statuses by role]
# roles: none (not a member), viewer, editor, admin, owner.
my @ROUTES = (
    ['get', GET => "/api/v1/prompts/$tp", undef, { none => 404, viewer => 200, editor => 200, admin => 200, owner => 200 }],
    ['versions', GET => "/api/v1/prompts/$tp/versions", undef, { none => 404, viewer => 200, editor => 200, admin => 200, owner => 200 }],
    ['version', GET => "/api/v1/prompts/$tp/versions/1", undef, { none => 404, viewer => 200, editor => 200, admin => 200, owner => 200 }],
    ['render', POST => "/api/v1/prompts/$tp/render", { variables => { who => 'x' } }, { none => 404, viewer => 200, editor => 200, admin => 200, owner => 200 }],
    ['patch', PATCH => "/api/v1/prompts/$tp", { tags => ['t'] }, { none => 404, viewer => 403, editor => 200, admin => 200, owner => 200 }],
    ['restore', POST => "/api/v1/prompts/$tp/versions/1/restore", undef, { none => 404, viewer => 403, editor => 200, admin => 200, owner => 200 }],
    ['create in', POST => '/api/v1/prompts', { title => 'n', content => 'c', workspace_id => $ws }, { none => 404, viewer => 403, editor => 201, admin => 201, owner => 201 }],
    ['share', POST => "/api/v1/prompts/$tp/shares", {}, { none => 404, viewer => 403, editor => 201, admin => 201, owner => 201 }],
    ['members', GET => "/api/v1/workspaces/$ws/members", undef, { none => 404, viewer => 200, editor => 200, admin => 200, owner => 200 }],
    ['workspace', GET => "/api/v1/workspaces/$ws", undef, { none => 404, viewer => 200, editor => 200, admin => 200, owner => 200 }],
    ['invitations', GET => "/api/v1/workspaces/$ws/invitations", undef, { none => 404, viewer => 403, editor => 403, admin => 200, owner => 200 }],
    ['rename', PATCH => "/api/v1/workspaces/$ws", { name => 'Acme' }, { none => 404, viewer => 403, editor => 403, admin => 403, owner => 200 }],
);
my %WHO = (none => 'eve', viewer => 'carol', editor => 'bob', admin => 'dave', owner => 'alice');
for my $rt (@ROUTES) {
    my ($name, $method, $path, $body, $want) = @$rt;
    for my $role (qw(none viewer editor admin owner)) {
        my $before = db1("select md5(string_agg(p::text, ',' order by id)) from public.prompts p");
        my $res = api(tok($WHO{$role}), $method, $path, defined $body ? (json => $body) : ());
        is($res->{status}, $want->{$role}, "$name as $role -> $want->{$role}") or diag $res->{body};
        if ($want->{$role} >= 400) {
            like($res->{headers}{'content-type'} // '', qr{problem\+json}, "$name as $role: problem+json");
            is(db1("select md5(string_agg(p::text, ',' order by id)) from public.prompts p"), $before,
               "$name as $role: no prompt changed");
        }
    }
}
# delete: editors may not, admins may
$r = api(tok('bob'), POST => '/api/v1/prompts', json => { title => 'd', content => 'd', workspace_id => $ws });
my $doomed = $r->{json}{id};
problem_ok(api(tok('eve'), DELETE => "/api/v1/prompts/$doomed"), 404, 'delete as a non-member');
problem_ok(api(tok('carol'), DELETE => "/api/v1/prompts/$doomed"), 403, 'delete as a viewer');
problem_ok(api(tok('bob'), DELETE => "/api/v1/prompts/$doomed"), 403, 'delete as an editor', qr/admin/);
is(api(tok('dave'), DELETE => "/api/v1/prompts/$doomed")->{status}, 204, 'delete as an admin');
# lists: members see the workspace's prompts, others do not
$r = api(tok('carol'), GET => "/api/v1/prompts?workspace_id=$ws");
ok((grep { $_->{id} eq $tp } @{ $r->{json}{items} }), 'a viewer lists the team prompts');
$r = api(tok('eve'), GET => "/api/v1/prompts?workspace_id=$ws");
is_deeply($r->{json}{items}, [], 'a non-member lists nothing there');
problem_ok(api(tok('eve'), GET => '/api/v1/prompts?workspace_id=x'), 422, 'a bad workspace_id filter');
$r = api(tok('bob'), GET => '/api/v1/prompts');
ok(!(grep { $_->{id} eq $alice_private } @{ $r->{json}{items} }), "nobody sees alice's personal prompts");
# API keys: at most the creator's role, only in their workspace
$r = key_req($bobkey, POST => '/api/v1/prompts', json => { title => 'by key', content => 'k' });
is($r->{status}, 201, "bob's Acme key creates a prompt") or diag $r->{body};
is($r->{json}{workspace_id}, $ws, '... in Acme by default');
is(key_req($bobkey, GET => "/api/v1/prompts/$tp")->{status}, 200, '... reads Acme');
my $bob_private = api(tok('bob'), POST => '/api/v1/prompts', json => { title => 'p', content => 'p' })->{json}{id};
is(key_req($bobkey, GET => "/api/v1/prompts/$bob_private")->{status}, 404, "... but not bob's personal prompts");
problem_ok(key_req($bobkey, POST => '/api/v1/prompts', json => { title => 'p', content => 'p',
           workspace_id => db1("select id from public.workspaces where personal_of = '$U{bob}{id}'") }),
           404, '... nor create in them');
problem_ok(key_req($carolkey, PATCH => "/api/v1/prompts/$tp", json => { title => 'z' }), 403,
           "a viewer's key with prompts:write cannot write");

# ------------------------------------------------------------- members and owners
$r = api(tok('carol'), GET => "/api/v1/workspaces/$ws/members");
is_deeply([ map { $_->{role} } @{ $r->{json}{items} } ], [qw(owner admin editor viewer)], 'members, owners first');
problem_ok(api(tok('bob'), PATCH => "/api/v1/workspaces/$ws/members/$U{carol}{id}", json => { role => 'editor' }),
           403, 'an editor changes a role');
$r = api(tok('dave'), PATCH => "/api/v1/workspaces/$ws/members/$U{carol}{id}", json => { role => 'editor' });
is($r->{status}, 200, 'an admin makes a viewer an editor') or diag $r->{body};
is(db1("select role from public.workspace_members where workspace_id = '$ws' and user_id = '$U{carol}{id}'"),
   'editor', '... (database)');
problem_ok(api(tok('dave'), PATCH => "/api/v1/workspaces/$ws/members/$U{carol}{id}", json => { role => 'owner' }),
           403, 'an admin makes an owner');
problem_ok(api(tok('dave'), DELETE => "/api/v1/workspaces/$ws/members/$U{alice}{id}"), 403, 'an admin removes the owner');
problem_ok(api(tok('dave'), PATCH => "/api/v1/workspaces/$ws/members/$U{carol}{id}", json => { role => 'god' }),
           422, 'a bad role');
problem_ok(api(tok('dave'), PATCH => "/api/v1/workspaces/$ws/members/not-a-uuid", json => { role => 'viewer' }),
           400, 'a member id that is no UUID');
problem_ok(api(tok('dave'), PATCH => "/api/v1/workspaces/$ws/members/$U{eve}{id}", json => { role => 'viewer' }),
           404, 'a non-member is no member');
problem_ok(api(tok('alice'), PATCH => "/api/v1/workspaces/$ws/members/$U{alice}{id}", json => { role => 'admin' }),
           409, 'the last owner steps down', qr/at least one owner/);
problem_ok(api(tok('alice'), DELETE => "/api/v1/workspaces/$ws/members/$U{alice}{id}"), 409, 'the last owner leaves');
is(api(tok('alice'), PATCH => "/api/v1/workspaces/$ws/members/$U{dave}{id}", json => { role => 'owner' })->{status},
   200, 'the owner makes dave an owner');
$r = api(tok('alice'), PATCH => "/api/v1/workspaces/$ws/members/$U{alice}{id}", json => { role => 'admin' });
is($r->{status}, 200, 'now alice may step down to admin');
is(db1("select string_agg(role, ',' order by role) from public.workspace_members where workspace_id = '$ws' and role = 'owner'"),
   'owner', 'one owner: dave');
# leaving: bob's key stops working
is(api(tok('bob'), DELETE => "/api/v1/workspaces/$ws/members/$U{bob}{id}")->{status}, 204, 'bob leaves');
problem_ok(key_req($bobkey, GET => "/api/v1/prompts/$tp"), 401, "bob's Acme key stops working");
is(api(tok('bob'), GET => "/api/v1/prompts/$tp")->{status}, 404, 'bob no longer sees Acme prompts');
is(db1("select count(*) from public.audit_log where action in ('workspace.member.role', 'workspace.member.remove') "
     . "and target = 'workspace:$ws'"), 4, 'role changes and removals are audited');

# ------------------------------------------------------------- quotas: the payer's plan
# A team workspace consumes its longest-standing owner's plan (alice made Acme,
# but dave is its only owner now: dave pays); a personal one its user's.
{
    $s->psql('update promptd.quota_settings set enforce = true');
    my $used = db1("select promptd.quota_count_used('$U{dave}{id}', 'prompts')");
    is($used, db1("select count(*) from public.prompts where workspace_id = '$ws' "
                . "or workspace_id = (select id from public.workspaces where personal_of = '$U{dave}{id}')"),
       "dave's prompt count covers Acme's prompts, whoever wrote them");
    is(db1("select promptd.workspace_payer('$ws')"), $U{dave}{id}, 'the payer of Acme is its owner dave');
    $s->promptctl('quota', 'set', $U{dave}{id}, 'prompts=' . ($used + 1));
    my $c1 = api(tok('carol'), POST => '/api/v1/prompts', json => { title => 'q1', content => 'q', workspace_id => $ws });
    is($c1->{status}, 201, "carol (an editor) writes into Acme within dave's limit") or diag $c1->{body};
    my $c2 = api(tok('carol'), POST => '/api/v1/prompts', json => { title => 'q2', content => 'q', workspace_id => $ws });
    problem_ok($c2, 409, "the next one passes dave's limit");
    is(db1("select count(*) from public.prompts where title = 'q2'"), 0, '... nothing written');
    is(api(tok('carol'), POST => '/api/v1/prompts', json => { title => 'mine', content => 'q' })->{status}, 201,
       "carol's own plan is untouched: her personal workspace still takes prompts");
    $s->promptctl('quota', 'clear', $U{dave}{id});
    $s->psql('update promptd.quota_settings set enforce = false');
}

# ------------------------------------------------------------- deleting an account
# carol wrote prompts in Acme; she goes, they stay (passed to the owner dave).
# dave, Acme's last owner with members, cannot go until he hands it over.
{
    my $carols = db1("select count(*) from public.prompts where workspace_id = '$ws' and user_id = '$U{carol}{id}'");
    cmp_ok($carols, '>', 0, 'carol wrote prompts in Acme');
    my $total = db1("select count(*) from public.prompts where workspace_id = '$ws'");
    my $daves = db1("select count(*) from public.prompts where workspace_id = '$ws' and user_id = '$U{dave}{id}'");
    $r = api(tok('carol'), DELETE => '/api/v1/me', json => {});
    is($r->{status}, 204, 'carol deletes her account') or diag $r->{body};
    is(db1("select count(*) from public.prompts where workspace_id = '$ws'"), $total, "Acme keeps every prompt she wrote");
    is(db1("select count(*) from public.prompts where workspace_id = '$ws' and user_id = '$U{dave}{id}'"), $daves + $carols,
       '... hers now held by its owner');
    is(db1("select count(*) from public.workspace_members where user_id = '$U{carol}{id}'"), 0, 'her memberships are gone');
    $r = api(tok('dave'), DELETE => '/api/v1/me', json => {});
    problem_ok($r, 409, 'the last owner of a shared workspace deletes his account', qr/last owner of the workspace "Acme"/);
    is(db1("select count(*) from auth.users where id = '$U{dave}{id}'"), 1, '... and stays');
}

# ------------------------------------------------------------- rename and delete
problem_ok(api(tok('alice'), DELETE => "/api/v1/workspaces/$ws"), 403, 'an admin deletes the workspace');
$r = api(tok('dave'), PATCH => "/api/v1/workspaces/$ws", json => { name => 'Acme Corp' });
is($r->{json}{name}, 'Acme Corp', 'the owner renames it');
is(api(tok('dave'), DELETE => "/api/v1/workspaces/$ws")->{status}, 204, 'the owner deletes it');
is(db1("select count(*) from public.prompts where workspace_id = '$ws'"), 0, '... with its prompts');
is(db1("select count(*) from public.api_keys where workspace_id = '$ws'"), 0, '... and its keys');
is(api(tok('dave'), GET => "/api/v1/workspaces/$ws")->{status}, 404, 'gone');
is(api(tok('alice'), GET => "/api/v1/prompts/$alice_private")->{status}, 200, "alice's personal prompt stays");

done_testing;
