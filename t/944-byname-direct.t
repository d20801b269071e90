#!/usr/bin/perl
# 944-byname-direct.t: the by-name fetch's common path (promptd.prompt_deployed, sent as the request role) keeps the security of promptd.prompt_by_name: workspaces, sessions and API keys, labels, bad names; the answer is the function's.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Promptd::Test qw(db1 api problem_ok);

my $s = Promptd::Test->new(PROMPTD_JOBS_DAEMONS => 0);
my %U;
for my $n (qw(alice bob carol eve)) {
    my $id = $s->user_create("$n\@example.com");
    $U{$n} = { id => $id, token => $s->token($id) };
}
sub tok { $U{$_[0]}{token} }
my %WS = (alice => db1("select id from public.workspaces where personal_of = '$U{alice}{id}'"),
          bob => db1("select id from public.workspaces where personal_of = '$U{bob}{id}'"));
$WS{team} = api(tok('alice'), POST => '/api/v1/workspaces', json => { name => 'Team' })->{json}{id};
$s->psql("insert into public.workspace_members (workspace_id, user_id, role) values "
       . "('$WS{team}', '$U{carol}{id}', 'viewer')");

# The same name in three workspaces, each with its own text; production on
# version 1, staging on version 2 (alice's personal one only).
my %P;
for my $w (['alice', 'alice'], ['bob', 'bob'], ['alice', 'team']) {
    my ($who, $ws) = @$w;
    my $r = api(tok($who), POST => '/api/v1/prompts', json => { workspace_id => $WS{$ws}, name => 'app/main',
        title => 'Main', content => "$ws v1" });
    is($r->{status}, 201, "app/main in $ws") or diag $r->{body};
    $P{$ws} = $r->{json}{id};
    is(api(tok($who), PUT => "/api/v1/prompts/$P{$ws}/labels/production", json => { version => 1 })->{status},
       200, "... production on version 1");
}
api(tok('alice'), PATCH => "/api/v1/prompts/$P{alice}", json => { content => 'alice v2' });
api(tok('alice'), PUT => "/api/v1/prompts/$P{alice}/labels/staging", json => { version => 2 });
api(tok('alice'), POST => '/api/v1/prompts', json => { name => 'app/draft', title => 'Draft', content => 'no label' });

# API keys: alice's of her personal workspace, alice's of the team, bob's,
# and one of alice's without prompts:read.
sub key { my ($who, $ws, @scopes) = @_;
          my $r = api(tok($who), POST => '/api/v1/keys', json => { name => "k-$ws", scopes => [ @scopes ? @scopes : 'prompts:read' ],
                                                                    workspace_id => $WS{$ws} });
          $r->{json}{key} // die "key: $r->{body}" }
my %K = (alice => key('alice', 'alice'), team => key('alice', 'team'), bob => key('bob', 'bob'),
         write => key('alice', 'alice', 'prompts:write'));

sub fetch {
    my ($cred, $query) = @_;
    my $path = "/api/v1/prompts/by-name/app/main" . (defined $query ? "?$query" : '');
    return $cred =~ /^key:(\w+)$/ ? $s->request(GET => $path, { headers => { 'X-API-Key' => $K{$1} } })
                                  : api(tok($cred), GET => $path);
}

# (credential, query, status, content or problem text)
for my $case (
    ['alice', undef, 200, 'alice v1', 'a session: the personal workspace by default'],
    ['bob', undef, 200, 'bob v1', "another user's session: the same name is their own prompt"],
    ['alice', "workspace_id=$WS{team}", 200, 'team v1', 'a session naming its team'],
    ['carol', "workspace_id=$WS{team}", 200, 'team v1', 'a viewer of the team'],
    ['alice', "workspace_id=$WS{bob}", 404, qr/No such prompt/, "a session naming another's workspace"],
    ['bob', "workspace_id=$WS{alice}", 404, qr/No such prompt/, '... the other way round'],
    ['bob', "workspace_id=$WS{team}", 404, qr/No such prompt/, 'a non-member naming the team'],
    ['eve', "workspace_id=$WS{team}", 404, qr/No such prompt/, 'a user of no workspace but their own'],
    ['eve', undef, 404, qr/named app\/main/, 'a user without the name in their workspace'],
    ['carol', undef, 404, qr/named app\/main/, "a viewer's personal workspace does not see the team's"],
    ['key:alice', undef, 200, 'alice v1', "an API key: its workspace by default"],
    ['key:team', undef, 200, 'team v1', "the team's key"],
    ['key:bob', undef, 200, 'bob v1', "another user's key"],
    ['key:alice', "workspace_id=$WS{team}", 404, qr/No such prompt/, "a key naming its creator's other workspace"],
    ['key:team', "workspace_id=$WS{alice}", 404, qr/No such prompt/, "the team's key naming its creator's personal one"],
    ['key:alice', "workspace_id=$WS{bob}", 404, qr/No such prompt/, "a key naming another user's workspace"],
    ['key:bob', "workspace_id=$WS{alice}", 404, qr/No such prompt/, '... the other way round'],
    ['key:bob', "workspace_id=$WS{team}", 404, qr/No such prompt/, "a key naming a workspace its creator is not in"],
    ['key:write', undef, 403, qr/scope|prompts:read/, 'a key without prompts:read'],
    ['alice', 'label=staging', 200, 'alice v2', 'label=staging'],
    ['alice', 'label=latest', 200, 'alice v2', 'label=latest'],
    ['alice', 'version=1', 200, 'alice v1', 'version=1 (the function)'],
    ['alice', 'label=nope', 404, qr/label nope/, 'a label no version has'],
    ['bob', 'label=staging', 404, qr/label staging/, "a label only another workspace's prompt has"],
    ['alice', "workspace_id=$WS{team}&label=staging", 404, qr/label staging/, "... or the same name's in another"],
    ['key:team', 'label=staging', 404, qr/label staging/, '... by key'],
    ['alice', 'label=Prod', 422, qr/label/, 'a bad label'],
    ['alice', 'label=a&version=1', 422, qr/label/, 'label and version'],
    ['alice', 'workspace_id=nope', 422, qr/workspace_id/, 'a bad workspace id'],
) {
    my ($cred, $query, $status, $want, $name) = @$case;
    my $r = fetch($cred, $query);
    if ($status == 200) {
        is($r->{status}, 200, "$name -> 200") or diag $r->{body};
        is($r->{json}{content}, $want, "$name: $want");
    } else {
        problem_ok($r, $status, $name, $want);
    }
}

# bad names (the path as the handler gets it, after nginx), and a name
# without production
for my $case (['Bad..Name', 422], ['a%20b', 422], ['app/main!', 422], ['x' x 201, 422], ['APP/main', 422],
              ['app/nothing', 404, qr/named app\/nothing/]) {
    my ($name, $status, $why) = @$case;
    problem_ok(api(tok('alice'), GET => "/api/v1/prompts/by-name/$name"), $status, "the name '"
               . substr($name, 0, 20) . "'", $why);
}
problem_ok(api(tok('alice'), GET => '/api/v1/prompts/by-name/app/draft'), 404, 'no production label',
           qr/label production/);
problem_ok($s->request(GET => '/api/v1/prompts/by-name/app/main'), 401, 'no credential');

# The view's answer is the function's, byte for byte (same ETag).
my $fast = fetch('alice');
my $func = fetch('alice', 'version=1');
is($fast->{body}, $func->{body}, 'the label fetch answers exactly what the function answers');
is($fast->{headers}{etag}, $func->{headers}{etag}, '... with the same ETag');
is_deeply($fast->{json}{labels}, ['production'], '... with the labels of that version');

# Includes: resolved (by the function) on the label path too.
api(tok('alice'), POST => '/api/v1/prompts', json => { name => 'app/outer', title => 'Outer',
    content => 'Before. {{> app/main}} After.' });
my $outer = db1("select id from public.prompts where name = 'app/outer' and workspace_id = '$WS{alice}'");
api(tok('alice'), PUT => "/api/v1/prompts/$outer/labels/production", json => { version => 1 });
my $r = api(tok('alice'), GET => '/api/v1/prompts/by-name/app/outer');
is($r->{status}, 200, 'a prompt with an include, by label') or diag $r->{body};
is($r->{json}{content}, 'Before. alice v1 After.', '... its include resolved');
is($r->{json}{includes}[0]{name}, 'app/main', '... and named');

# A member who leaves: their session and their key of that workspace see
# nothing there any more.
$s->psql("delete from public.workspace_members where workspace_id = '$WS{team}' and user_id = '$U{carol}{id}'");
problem_ok(fetch('carol', "workspace_id=$WS{team}"), 404, 'a former member', qr/No such prompt/);

# The view itself, as the request roles (PostgREST's raw SQL): a user sees
# the labelled versions of their own workspaces' prompts only, a key's
# claims narrow that to its workspace, anon and promptd_app read nothing.
sub seen { my ($user, $extra) = @_;
           my $claims = qq({"sub":"$U{$user}{id}","role":"authenticated") . ($extra // '') . '}';
           my $rows = $s->psql("begin; do \$\$ begin perform set_config('role', 'authenticated', true); "
               . "perform set_config('request.jwt.claims', '$claims', true); end \$\$; "
               . "select string_agg(distinct workspace_id::text || ':' || label, ' ' order by workspace_id::text || ':' || label) "
               . "from promptd.prompt_deployed; commit;");
           return $rows->[0][0] // '' }
my %name = reverse %WS;
sub named { join ' ', sort map { my ($w, $l) = split /:/; "$name{$w}:$l" } split / /, $_[0] }
is(named(seen('alice')), join(' ', sort map { "$name{$WS{$_->[0]}}:$_->[1]" }
     ['alice', 'latest'], ['alice', 'production'], ['alice', 'staging'], ['team', 'latest'], ['team', 'production']),
   "alice's rows: her two workspaces");
is(named(seen('bob')), 'bob:latest bob:production', "bob's rows: his own");
is(seen('eve'), '', 'eve (only her empty workspace): none');
is(seen('carol'), '', 'carol, who left: none');
is(named(seen('alice', qq(,"workspace_id":"$WS{team}"))), 'team:latest team:production', "a key's claims: its workspace only");
is(seen('alice', qq(,"workspace_id":"$WS{bob}")), '', "claims naming another's workspace: none");
for my $role (qw(anon promptd_app)) {
    my $err = eval { $s->psql("begin; set local role $role; select count(*) from promptd.prompt_deployed; commit;"); 1 }
              ? '' : $@;
    like($err, qr/permission denied/, "$role may not read the view");
}
is(db1(q{select array_to_string(reloptions, ',') from pg_class where oid = 'promptd.prompt_deployed'::regclass}),
   'security_barrier=true', 'the view is a security barrier');

$s->stop;
done_testing;
