#!/usr/bin/perl
# 932-role-matrix.t: every route on a workspace's objects (prompts, versions, labels, change requests, diff, render, Langfuse's API, share links, the workspace, members, invitations) x non-member, viewer, editor, admin, owner, each by session and by API key: the status, a problem+json for each refusal, and no change in the database after one.  Every such route of prompts.fcgi, share.fcgi and workspaces.fcgi must be in the table.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use MIME::Base64 qw(encode_base64);
use Test::More;
use Promptd::Test qw(db1 api);

my $s = Promptd::Test->new(PROMPTD_JOBS_DAEMONS => 0);
my $BUILD = $ENV{PROMPTD_BUILD_DIR} || "$FindBin::Bin/..";
my %WHO = (none => 'eve', viewer => 'carol', editor => 'bob', admin => 'dave', owner => 'alice');
my @ROLES = qw(none viewer editor admin owner);
my %U;
for my $n (qw(alice bob carol dave eve frank)) {
    my $id = $s->user_create("$n\@example.com");
    $U{$n} = { id => $id, token => $s->token($id) };
}
sub tok { $U{$_[0]}{token} }
sub ok_api {   # a setup call that must work
    my $r = api(@_);
    die "setup $_[1] $_[2]: $r->{status} $r->{body}" unless $r->{status} =~ /^20/;
    return $r->{json};
}
# a team workspace with one member per role
sub team {
    my $ws = ok_api(tok('alice'), POST => '/api/v1/workspaces', json => { name => 'Team' })->{id};
    $s->psql("insert into public.workspace_members (workspace_id, user_id, role) values ('$ws', '$U{carol}{id}', 'viewer'), "
           . "('$ws', '$U{bob}{id}', 'editor'), ('$ws', '$U{dave}{id}', 'admin')");
    return $ws;
}
my $ws = team();
# keys: each member's bound to the team, the non-member's to its own workspace
my %KEY;
for my $role (@ROLES) {
    my $k = ok_api(tok($WHO{$role}), POST => '/api/v1/keys', json => { name => "m-$role",
        scopes => ['prompts:read', 'prompts:write', 'share'], ($role eq 'none' ? () : (workspace_id => $ws)) });
    $KEY{$role} = $k;
}

# fixtures (made by the owner)
sub prompt {   # a prompt with two versions, production on 1, staging on 2
    my ($name) = @_;
    my $p = ok_api(tok('alice'), POST => '/api/v1/prompts', json => { workspace_id => $ws, name => $name,
        title => $name, content => 'hi {{who}}' });
    ok_api(tok('alice'), PATCH => "/api/v1/prompts/$p->{id}", json => { content => 'hello {{who}}' });
    ok_api(tok('alice'), PUT => "/api/v1/prompts/$p->{id}/labels/production", json => { version => 1 });
    ok_api(tok('alice'), PUT => "/api/v1/prompts/$p->{id}/labels/staging", json => { version => 2 });
    return $p->{id};
}
my $n = 0;
my $tp = prompt('team/main');
my $share = ok_api(tok('alice'), POST => "/api/v1/prompts/$tp/shares", json => {})->{id};
sub fresh_prompt { prompt('team/fresh-' . ++$n) }
sub fresh_cr {   # an open change request on $tp, authored by someone else than $role's user
    my ($role) = @_;
    my $author = $role eq 'owner' ? 'dave' : 'alice';
    return ok_api(tok($author), POST => "/api/v1/prompts/$tp/change-requests", json => { label => 'production', version => 1 })->{id};
}
sub fresh_member {
    my $f = $U{frank}{id};
    $s->psql("insert into public.workspace_members (workspace_id, user_id, role) values ('$ws', '$f', 'viewer') "
           . "on conflict (workspace_id, user_id) do update set role = 'viewer'");
    return $f;
}

# [route pattern, method, path (or sub($role) -> path), body, statuses by role]
my %R = (read => { none => 404, viewer => 200, editor => 200, admin => 200, owner => 200 });
$R{write} = { none => 404, viewer => 403, editor => 200, admin => 200, owner => 200 };
$R{create} = { none => 404, viewer => 403, editor => 201, admin => 201, owner => 201 };
$R{admin} = { none => 404, viewer => 403, editor => 403, admin => 200, owner => 200 };
$R{admin204} = { none => 404, viewer => 403, editor => 403, admin => 204, owner => 204 };
$R{admin201} = { none => 404, viewer => 403, editor => 403, admin => 201, owner => 201 };
$R{owner} = { none => 404, viewer => 403, editor => 403, admin => 403, owner => 200 };
$R{owner204} = { none => 404, viewer => 403, editor => 403, admin => 403, owner => 204 };
$R{write204} = { none => 404, viewer => 403, editor => 204, admin => 204, owner => 204 };
my $lf = '/api/public/v2/prompts';
my @ROUTES = (
    ['GET /api/v1/prompts/by-name/{name}', GET => "/api/v1/prompts/by-name/team/main?workspace_id=$ws", undef, $R{read}],
    ['POST /api/v1/prompts', POST => '/api/v1/prompts', sub { { workspace_id => $ws, title => 'n', content => 'c', name => 'team/new-' . ++$n } }, $R{create}],
    ['GET /api/v1/prompts/{id}', GET => "/api/v1/prompts/$tp", undef, $R{read}],
    ['PATCH /api/v1/prompts/{id}', PATCH => "/api/v1/prompts/$tp", { tags => ['t'] }, $R{write}],
    ['DELETE /api/v1/prompts/{id}', DELETE => sub { '/api/v1/prompts/' . fresh_prompt() }, undef, $R{admin204}],
    ['GET /api/v1/prompts/{id}/versions', GET => "/api/v1/prompts/$tp/versions", undef, $R{read}],
    ['GET /api/v1/prompts/{id}/versions/{version}', GET => "/api/v1/prompts/$tp/versions/1", undef, $R{read}],
    ['DELETE /api/v1/prompts/{id}/versions/{version}', DELETE => sub { '/api/v1/prompts/' . fresh_prompt() . '/versions/1' }, undef, $R{admin204}],
    ['POST /api/v1/prompts/{id}/versions/{version}/restore', POST => "/api/v1/prompts/$tp/versions/1/restore", undef, $R{write}],
    ['GET /api/v1/prompts/{id}/diff', GET => "/api/v1/prompts/$tp/diff?from=1&to=2", undef, $R{read}],
    ['POST /api/v1/prompts/{id}/render', POST => "/api/v1/prompts/$tp/render", { variables => { who => 'x' } }, $R{read}],
    ['GET /api/v1/prompts/{id}/labels', GET => "/api/v1/prompts/$tp/labels", undef, $R{read}],
    ['PUT /api/v1/prompts/{id}/labels/{label}', PUT => "/api/v1/prompts/$tp/labels/qa", { version => 1 }, $R{write}],
    ['PUT /api/v1/prompts/{id}/labels/{label} (protected)', PUT => "/api/v1/prompts/$tp/labels/production", { version => 1 }, $R{admin}],
    ['DELETE /api/v1/prompts/{id}/labels/{label}', DELETE => sub { '/api/v1/prompts/' . fresh_prompt() . '/labels/staging' }, undef, $R{write204}],
    ['GET /api/v1/prompts/{id}/labels/{label}/history', GET => "/api/v1/prompts/$tp/labels/production/history", undef, $R{read}],
    ['POST /api/v1/prompts/{id}/change-requests', POST => "/api/v1/prompts/$tp/change-requests", { label => 'production', version => 2 }, $R{create}],
    ['POST /api/v1/prompts/{id}/change-requests/{cr_id}/approve', POST => sub { "/api/v1/prompts/$tp/change-requests/" . fresh_cr($_[0]) . '/approve' }, undef, $R{admin}],
    ['POST /api/v1/prompts/{id}/change-requests/{cr_id}/reject', POST => sub { "/api/v1/prompts/$tp/change-requests/" . fresh_cr($_[0]) . '/reject' }, {}, $R{admin}],
    ["GET $lf/{name}", GET => "$lf/team%2Fmain", undef, $R{read}],
    # (the API key's own workspace: a non-member's key creates in its own)
    ["POST $lf", POST => $lf, sub { { name => 'team/lf-' . ++$n, prompt => 'x' } }, { %{ $R{create} }, key_none => 201 }],
    ["PATCH $lf/{name}", PATCH => "$lf/team/main/versions/2", { newLabels => ['qa'] }, $R{write}],
    ["DELETE $lf/{name}", DELETE => sub { my $id = fresh_prompt(); "$lf/" . db1("select name from public.prompts where id = '$id'") }, undef, $R{admin204}],
    ['POST /api/v1/prompts/{id}/shares', POST => "/api/v1/prompts/$tp/shares", {}, $R{create}],
    ['GET /api/v1/shares/{id}', GET => "/api/v1/shares/$share", undef, $R{read}],
    ['PATCH /api/v1/shares/{id}', PATCH => "/api/v1/shares/$share", { public => JSON::PP::false }, $R{write}],
    ['DELETE /api/v1/shares/{id}', DELETE => sub { '/api/v1/shares/' . ok_api(tok('alice'), POST => "/api/v1/prompts/$tp/shares", json => {})->{id} }, undef, $R{write204}],
    ['GET /api/v1/shares/{id}/stats', GET => "/api/v1/shares/$share/stats", undef, $R{read}],
    ['GET /api/v1/workspaces/{id}', GET => "/api/v1/workspaces/$ws", undef, $R{read}],
    ['PATCH /api/v1/workspaces/{id}', PATCH => "/api/v1/workspaces/$ws", { name => 'Acme' }, $R{owner}],
    ['DELETE /api/v1/workspaces/{id}', DELETE => sub { my $w = team(); "/api/v1/workspaces/$w" }, undef, $R{owner204}],
    ['GET /api/v1/workspaces/{id}/members', GET => "/api/v1/workspaces/$ws/members", undef, $R{read}],
    ['PATCH /api/v1/workspaces/{id}/members/{user_id}', PATCH => sub { "/api/v1/workspaces/$ws/members/" . fresh_member() }, { role => 'editor' }, $R{admin}],
    ['DELETE /api/v1/workspaces/{id}/members/{user_id}', DELETE => sub { "/api/v1/workspaces/$ws/members/" . fresh_member() }, undef, $R{admin204}],
    ['POST /api/v1/workspaces/{id}/invitations', POST => "/api/v1/workspaces/$ws/invitations", sub { { email => 'inv' . ++$n . '@example.com', role => 'viewer' } }, $R{admin201}],
    ['GET /api/v1/workspaces/{id}/invitations', GET => "/api/v1/workspaces/$ws/invitations", undef, $R{admin}],
    ['DELETE /api/v1/workspaces/{id}/invitations/{invitation_id}', DELETE => sub {
        "/api/v1/workspaces/$ws/invitations/" . ok_api(tok('alice'), POST => "/api/v1/workspaces/$ws/invitations",
            json => { email => 'rev' . ++$n . '@example.com', role => 'viewer' })->{id} }, undef, $R{admin}],
    ['GET /api/v1/workspaces/{id}/change-requests', GET => "/api/v1/workspaces/$ws/change-requests", undef, $R{read}],
);
# Routes that name no workspace object: listed and tested elsewhere (t/930,
# t/940, t/700s), here only accounted for.
my %ELSEWHERE = map { $_ => 1 } (
    'GET /api/v1/prompts',                          # lists what the caller may see (t/930)
    "GET $lf",                                      # the key's workspace only (t/942)
    'GET /api/v1/shares',                           # ditto (t/700)
    'GET /api/v1/shared/{token}', 'POST /api/v1/shared/{token}/fork', 'GET /api/v1/public/prompts',
    'GET /s/{token}', 'POST /s/{token}',            # public share pages (t/70x)
    'POST /api/v1/workspaces', 'GET /api/v1/workspaces', 'POST /api/v1/invitations/{token}/accept',   # t/930
);

# --- every route of the three families is in the table or accounted for
my %in_table = map { ($_->[0] =~ s/ \(.*\)$//r) => 1 } @ROUTES;
for my $fam (qw(prompts share workspaces)) {
    for my $line (`$BUILD/cgi-bin/$fam.fcgi --routes`) {
        my ($m, $p) = $line =~ m{^([A-Z]+) (\S+)} or next;
        $p =~ s/\{(\w+)(?::\w+)?\}/{$1}/g;
        ok($in_table{"$m $p"} || $ELSEWHERE{"$m $p"}, "$m $p is in the role matrix");
    }
}

my $FP = "select md5(concat_ws('|', (select string_agg(p::text, ',' order by id) from public.prompts p), "
       . "(select count(*) from public.prompt_versions), (select string_agg(l::text, ',' order by prompt_id, label) from public.prompt_labels l), "
       . "(select string_agg(concat_ws(':', id, state), ',' order by id) from public.prompt_change_requests), "
       . "(select string_agg(concat_ws(':', id, revoked_at, public), ',' order by id) from public.shares), "
       . "(select string_agg(w::text, ',' order by id) from public.workspaces w), "
       . "(select string_agg(m::text, ',' order by workspace_id, user_id) from public.workspace_members m), "
       . "(select string_agg(concat_ws(':', id, revoked_at), ',' order by id) from public.workspace_invitations)))";

sub send_as {
    my ($how, $role, $method, $path, $body) = @_;
    my %o = defined $body ? (json => $body) : ();
    return api(tok($WHO{$role}), $method, $path, %o) if $how eq 'session';
    my $k = $KEY{$role};
    return $s->request($method, $path, { headers => { Authorization => 'Basic ' . encode_base64("$k->{id}:$k->{key}", '') }, %o });
}
my %creds = map { my ($m, $p, $c) = /^([A-Z]+) (\S+) creds=(\S+)/; $p =~ s/\{(\w+)(?::\w+)?\}/{$1}/g; ("$m $p" => $c) }
            map { `$BUILD/cgi-bin/$_.fcgi --routes` } qw(prompts share workspaces);
for my $rt (@ROUTES) {
    my ($name, $method, $path, $body, $want) = @$rt;
    (my $pattern = $name) =~ s/ \(.*\)$//;
    my $c = $creds{$pattern} // die "no such route: $pattern";
    for my $how (qw(session key)) {
        for my $role (@ROLES) {
            my $expect = $how eq 'key' && $role eq 'none' && $want->{key_none} ? $want->{key_none} : $want->{$role};
            my $admitted = $how eq 'session' ? $c =~ /session/ : $c =~ /apikey/;
            $expect = 403 unless $admitted;   # the wrong kind of credential
            my $p = ref $path ? $path->($role) : $path;
            my $b = ref $body eq 'CODE' ? $body->() : $body;
            my $before = db1($FP);
            my $r = send_as($how, $role, $method, $p, $b);
            is($r->{status}, $expect, "$name as $role by $how -> $expect") or diag $r->{body};
            next if $expect < 400;
            like($r->{headers}{'content-type'} // '', qr{problem\+json}, "$name as $role by $how: problem+json");
            is(db1($FP), $before, "$name as $role by $how: nothing changed");
        }
    }
}

done_testing;
