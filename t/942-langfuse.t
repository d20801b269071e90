#!/usr/bin/perl
# 942-langfuse.t: Langfuse's prompt API at /api/public/v2/prompts: the official @langfuse/client, unchanged, with a promptd API key as Basic auth (create text and chat, get by label and version, update labels, compile, list, delete a version and a prompt); one model under both APIs; every bad input and credential.
#
# Installs @langfuse/client 5.11.1 (pinned) with npm into $PROMPTD_BUILD_DIR/t/.npm
# unless ./bootstrap did; the client part is skipped when node/npm are missing.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use Test::More;
use Promptd::Test qw(db1 api problem_ok);

my $s = Promptd::Test->new(PROMPTD_JOBS_DAEMONS => 0);
my %U;
for my $n (qw(alice bob)) {
    my $id = $s->user_create("$n\@example.com");
    $U{$n} = { id => $id, token => $s->token($id) };
}
sub tok { $U{$_[0]}{token} }
sub key_for {
    my ($who, @scopes) = @_;
    my $r = api(tok($who), POST => '/api/v1/keys', json => { name => "lf-$who", scopes => \@scopes });
    die "key: $r->{body}" unless $r->{status} == 201;
    return $r->{json};
}
my $ak = key_for('alice', 'prompts:read', 'prompts:write');
my $bk = key_for('bob', 'prompts:read', 'prompts:write');
my $aws = db1("select id from public.workspaces where personal_of = '$U{alice}{id}'");
sub basic { 'Basic ' . encode_base64("$_[0]:$_[1]", '') }
sub lf {
    my ($k, $method, $path, %o) = @_;
    my $h = delete $o{headers} || {};
    return $s->request($method, $path, { headers => { Authorization => basic($k->{id}, $k->{key}), %$h }, %o });
}
sub count_prompts { db1("select count(*) from public.prompts where workspace_id = '$aws'") }

# ------------------------------------------------------------- the official client
my $build = $ENV{PROMPTD_BUILD_DIR} || "$FindBin::Bin/..";
my $prefix = "$build/t/.npm";
sub have { my $c = shift; system("command -v $c >/dev/null 2>&1") == 0 }
my $why_not;
my $npm_lock = Promptd::Test::npm_lock($build);
if (!have('node') || !have('npm')) {
    $why_not = 'node and npm are required (not found)';
} elsif (!-d "$prefix/node_modules/\@langfuse/client") {
    mkdir "$build/t"; mkdir $prefix;
    if (!-e "$prefix/package.json") {
        open my $fh, '>', "$prefix/package.json" or die "$prefix/package.json: $!";
        print $fh qq({"name":"promptd-tests","private":true}\n);
        close $fh;
    }
    my $log = `cd '$prefix' && npm install --no-audit --no-fund --loglevel=error \@langfuse/client\@5.11.1 2>&1`;
    $why_not = 'npm install @langfuse/client failed: ' . substr($log, 0, 200)
        if $? != 0 || !-d "$prefix/node_modules/\@langfuse/client";
}
close $npm_lock;
SKIP: {
    skip $why_not, 1 if $why_not;
    system('cp', "$FindBin::Bin/js/langfuse-flow.mjs", "$prefix/langfuse-flow.mjs") == 0 or die "cp: $?";
    my $out = `cd '$prefix' && node langfuse-flow.mjs '@{[ $s->url('') ]}' '$ak->{id}' '$ak->{key}' '$bk->{id}' '$bk->{key}' 2>&1`;
    is($?, 0, 'the Langfuse client script ran') or diag $out;
    my %st;
    for (split /\n/, $out) {
        my $j = eval { decode_json($_) } or next;
        $st{ $j->{step} } = $j;
    }
    my $t = $st{create_text};
    is_deeply([ @$t{qw(name version type prompt commitMessage)} ], ['lf/greeting', 1, 'text', 'Hello {{name}}!', 'first cut'],
              'prompt.create: a text prompt');
    is_deeply($t->{config}, { model => 'gpt-4o', temperature => 0.3 }, '... with its config');
    is_deeply([ sort @{ $t->{labels} } ], [qw(latest production)], '... its labels');
    is_deeply($t->{tags}, ['greet'], '... and tags');
    is_deeply([ $st{create_text_v2}{version}, [ sort @{ $st{create_text_v2}{labels} } ] ], [2, [qw(latest staging)]],
              'creating the same name again: version 2');
    is_deeply($st{create_text_v2}{tags}, ['greet'], '... tags belong to the prompt: kept');
    is_deeply([ @{ $st{get} }{qw(version compiled)} ], [1, 'Hello Ada!'], 'prompt.get(name): production, compiled');
    is_deeply([ @{ $st{get_latest} }{qw(version compiled)} ], [2, 'Hi Bo, welcome.'], 'get by label latest');
    is($st{get_staging}{version}, 2, 'get by label staging');
    is_deeply([ $st{get_version}{version}, $st{get_version}{config}{model} ], [1, 'gpt-4o'], 'get by version: its own config');
    is_deeply([ sort @{ $st{update}{labels} } ], [qw(latest production staging)], 'prompt.update moves production to version 2');
    is_deeply([ @{ $st{after_update} }{qw(version compiled)} ], [2, 'Hi Cy, welcome.'], '... and get(name) follows it');

    my $c = $st{chat_compile};
    is($c->{type}, 'chat', 'a chat prompt');
    is_deeply($c->{compiled}, [ { role => 'system', content => 'You are a pirate.' },
        { role => 'user', content => 'Ahoy' }, { role => 'assistant', content => 'Arr' },
        { role => 'user', content => 'Where to?' } ], '... compile() fills variables and the placeholder');
    is_deeply([ map { $_->{role} // $_->{type} } @{ $st{create_chat}{prompt} } ], [qw(system placeholder user)],
              '... created with its placeholder');

    my %listed = map { $_->{name} => $_ } @{ $st{list}{data} };
    is_deeply([ sort keys %listed ], ['lf/chat', 'lf/greeting'], 'api.prompts.list: both');
    is_deeply($listed{'lf/greeting'}{versions}, [1, 2], '... with versions');
    is_deeply([ sort @{ $listed{'lf/greeting'}{labels} } ], [qw(latest production staging)], '... labels');
    is_deeply($st{list}{meta}, { page => 1, limit => 50, totalItems => 2, totalPages => 1 }, '... and meta');
    is_deeply([ map { $_->{name} } @{ $st{list_tag}{data} } ], ['lf/chat'], '... filtered by tag');

    is_deeply([ @{ $st{other_get} }{qw(ok status)} ], [JSON::PP::false, 404], "another account's key: get 404");
    is($st{other_update}{status}, 404, '... update 404');
    is($st{other_delete}{status}, 404, '... delete 404');
    is($st{wrong_pair}{status}, 401, 'a key id with another key: 401');

    is($st{delete_version}{status}, 404, 'prompt.delete of version 1: gone');
    is_deeply([ $st{after_delete_version}{version}, [ sort @{ $st{after_delete_version}{labels} } ] ],
              [2, [qw(latest production staging)]], '... version 2 stays');
    is($st{delete_prompt}{status}, 404, 'prompt.delete of the whole chat prompt');
    is(db1("select count(*) from public.prompts where name = 'lf/chat'"), 0, '... (database)');
    is(db1("select string_agg(v.version::text, ',' order by v.version) from public.prompt_versions v "
         . "join public.prompts p on p.id = v.prompt_id where p.name = 'lf/greeting'"), '2', '... and of version 1 (database)');
    is(db1("select count(*) from public.audit_log where action = 'prompt.version.delete'"), 1, 'the version deletion is audited');
}

# ------------------------------------------------------------- one model under both APIs
my $r = lf($ak, POST => '/api/public/v2/prompts', json => { name => 'both/ways', prompt => 'v1 {{x}}', labels => ['production'] });
is($r->{status}, 201, 'created through Langfuse') or diag $r->{body};
is_deeply([ @{ $r->{json} }{qw(name version type createdBy)} ], ['both/ways', 1, 'text', 'API'], '... in its shape');
is($r->{json}{projectId}, $aws, '... in the key\'s workspace');
my $pid = $r->{json}{id};
$r = api(tok('alice'), GET => "/api/v1/prompts/by-name/both/ways");
is_deeply([ @{ $r->{json} }{qw(id version content)} ], [$pid, 1, 'v1 {{x}}'], 'seen through promptd\'s API');
api(tok('alice'), PATCH => "/api/v1/prompts/$pid", json => { content => 'v2 {{x}}', commit_message => 'from promptd' });
api(tok('alice'), PUT => "/api/v1/prompts/$pid/labels/production", json => { version => 2 });
$r = lf($ak, GET => '/api/public/v2/prompts/both%2Fways');
is_deeply([ @{ $r->{json} }{qw(version prompt commitMessage)} ], [2, 'v2 {{x}}', 'from promptd'],
          "promptd's new version and label, seen through Langfuse (name percent-encoded)");
$r = lf($ak, GET => '/api/public/v2/prompts/both/ways?version=1');
is($r->{json}{prompt}, 'v1 {{x}}', '... the name with a plain slash too');
is(lf($ak, POST => '/api/public/v2/prompts', json => { name => 'both/ways', prompt => 'v2 {{x}}' })->{json}{version}, 2,
   'creating what is already the current version makes no new one');

# a version deleted through promptd's API: the newest one rewinds the prompt
$r = api(tok('alice'), DELETE => "/api/v1/prompts/$pid/versions/2");
is($r->{status}, 204, 'DELETE /api/v1/prompts/{id}/versions/2 (the newest)') or diag $r->{body};
is(db1("select version || ':' || content from public.prompts where id = '$pid'"), '1:v1 {{x}}', '... the prompt is back at version 1');
is(db1("select string_agg(label || '=' || version, ',' order by label) from public.prompt_labels where prompt_id = '$pid'"),
   'latest=1', '... latest moved back; production (on version 2) went with it');
is(db1("select count(*) from public.prompt_label_moves where prompt_id = '$pid' and reason = 'Version 2 deleted'"), 2,
   '... both moves in the label history');
$r = api(tok('alice'), PATCH => "/api/v1/prompts/$pid", json => { content => 'v3 {{x}}' });
is($r->{json}{version}, 2, 'the next edit is version 2 again');
problem_ok(api(tok('bob'), DELETE => "/api/v1/prompts/$pid/versions/1"), 404, 'deleting a version of a prompt one cannot see');
problem_ok(api(tok('alice'), DELETE => "/api/v1/prompts/$pid/versions/9"), 404, 'deleting a version that does not exist', qr/no version 9/);
problem_ok(api(tok('alice'), DELETE => "/api/v1/prompts/$pid/versions/x"), 400, 'deleting version x');
is(api(tok('alice'), DELETE => "/api/v1/prompts/$pid/versions/1")->{status}, 204, 'deleting an older version');
is(api(tok('alice'), DELETE => "/api/v1/prompts/$pid/versions/2")->{status}, 204, 'deleting the only one left');
is(db1("select count(*) from public.prompts where id = '$pid'"), 0, '... deletes the prompt');

# ------------------------------------------------------------- credentials
$r = $s->request(GET => '/api/public/v2/prompts');
is($r->{status}, 401, 'no credential: 401');
$r = $s->request(GET => '/api/public/v2/prompts', { token => tok('alice') });
is($r->{status}, 403, 'a session token: 403 (API keys only)');
$r = $s->request(GET => '/api/public/v2/prompts', { headers => { Authorization => basic($ak->{id}, 'pmtd_wrong') } });
is($r->{status}, 401, 'Basic with a malformed key: 401');
for my $bad ('Basic', 'Basic !!!', 'Basic ' . encode_base64('no-colon', ''), 'Basic ' . encode_base64(":$ak->{key}", ''),
             'Basic ' . encode_base64("$ak->{id}:$ak->{key}" . ('x' x 1000), '')) {
    $r = $s->request(GET => '/api/public/v2/prompts', { headers => { Authorization => $bad } });
    is($r->{status}, 401, 'Authorization: ' . substr($bad, 0, 40) . ' -> 401') or diag $r->{body};
    like($r->{headers}{'content-type'} // '', qr{problem\+json}, '... problem+json');
}
$r = $s->request(GET => '/api/public/v2/prompts', { headers => { Authorization => basic(uc $ak->{id}, $ak->{key}) } });
is($r->{status}, 200, 'the key id in upper case: the same id');
my $rk = key_for('alice', 'prompts:read');
problem_ok(lf($rk, POST => '/api/public/v2/prompts', json => { name => 'ro', prompt => 'x' }), 403, 'a prompts:read key creates');
my $ek = key_for('alice', 'enrich');
problem_ok(lf($ek, GET => '/api/public/v2/prompts'), 403, 'an enrich key lists');

# ------------------------------------------------------------- bad input
my $n0 = count_prompts();
for my $case (
    [{ prompt => 'x' }, 422, qr/name/, 'no name'],
    [{ name => 'x' }, 422, qr/prompt/, 'no prompt'],
    [{ name => 'Upper Case', prompt => 'x' }, 422, qr/name/, 'a name promptd cannot hold'],
    [{ name => 'ok/1', prompt => 'x', type => 'image' }, 422, qr/type/, 'an unknown type'],
    [{ name => 'ok/2', prompt => [ { role => 'user', content => 'x' } ] }, 422, qr/chat/, 'messages without type chat'],
    [{ name => 'ok/3', prompt => 'x', type => 'chat' }, 422, qr/content/, 'a string as a chat prompt'],
    [{ name => 'ok/4', type => 'chat', prompt => [ { role => 'wizard', content => 'x' } ] }, 422, qr/message 0/, 'an unknown role'],
    [{ name => 'ok/5', type => 'chat', prompt => [ { role => 'user' } ] }, 422, qr/message 0/, 'a message without content'],
    [{ name => 'ok/6', prompt => 'x', config => [1] }, 422, qr/config/, 'config not an object'],
    [{ name => 'ok/7', prompt => 'x', config => { big => 'y' x 70000 } }, 413, qr/64 KiB/, 'config too big'],
    [{ name => 'ok/8', prompt => 'x', labels => 'production' }, 422, qr/labels/, 'labels not an array'],
    [{ name => 'ok/9', prompt => 'x', labels => ['Prod!'] }, 422, qr/labels/, 'a bad label'],
    [{ name => 'ok/10', prompt => 'x', tags => 'a' }, 422, qr/tags/, 'tags not an array'],
    [{ name => 'ok/11', prompt => 'x', commitMessage => 'c' x 501 }, 422, qr/commit_message/, 'a long commit message'],
    [{ name => 'ok/12', prompt => 'x' x 102401 }, 422, qr/content/, 'a prompt over 100 KiB'],
) {
    my ($body, $status, $detail, $name) = @$case;
    problem_ok(lf($ak, POST => '/api/public/v2/prompts', json => $body), $status, "create: $name", $detail);
}
problem_ok(lf($ak, POST => '/api/public/v2/prompts', body => '{"name":', headers => { 'Content-Type' => 'application/json' }), 400,
           'create: malformed JSON');
is(count_prompts(), $n0, 'no bad create left a prompt');
lf($ak, POST => '/api/public/v2/prompts', json => { name => 'kind/text', prompt => 'x' });
problem_ok(lf($ak, POST => '/api/public/v2/prompts', json => { name => 'kind/text', type => 'chat',
           prompt => [ { role => 'user', content => 'x' } ] }), 422, 'a chat version of a text prompt', qr/type text/);
$r = lf($ak, POST => '/api/public/v2/prompts', json => { name => 'kind/text', prompt => 'y', labels => ['latest', 'production'] });
is($r->{status}, 201, 'labels naming latest: created (latest is promptd\'s to move)');
is_deeply([ sort @{ $r->{json}{labels} } ], [qw(latest production)], '... on the new version');

problem_ok(lf($ak, GET => '/api/public/v2/prompts/no/such'), 404, 'get: an unknown name', qr/named no\/such/);
problem_ok(lf($ak, GET => '/api/public/v2/prompts/Upper'), 404, 'get: a name promptd cannot hold');
problem_ok(lf($ak, GET => '/api/public/v2/prompts/kind/text?label=nope'), 404, 'get: a label nobody set', qr/label nope/);
problem_ok(lf($ak, GET => '/api/public/v2/prompts/kind/text?version=9'), 404, 'get: no such version');
problem_ok(lf($ak, GET => '/api/public/v2/prompts/kind/text?version=0'), 422, 'get: version 0');
problem_ok(lf($ak, GET => '/api/public/v2/prompts/kind/text?label=Bad!'), 422, 'get: a bad label');
problem_ok(lf($ak, GET => '/api/public/v2/prompts/kind/text?label=latest&version=1'), 422, 'get: label and version');

my $moves = db1('select count(*) from public.prompt_label_moves');
problem_ok(lf($ak, PATCH => '/api/public/v2/prompts/kind/text/versions/1', json => { newLabels => ['latest'] }), 422,
           'update: moving latest', qr/latest/);
problem_ok(lf($ak, PATCH => '/api/public/v2/prompts/kind/text/versions/9', json => { newLabels => ['staging'] }), 404,
           'update: a version that does not exist');
problem_ok(lf($ak, PATCH => '/api/public/v2/prompts/kind/text/versions/1', json => { labels => ['staging'] }), 422,
           'update: no newLabels', qr/newLabels/);
problem_ok(lf($ak, PATCH => '/api/public/v2/prompts/kind/text/versions/1', json => { newLabels => [1] }), 422,
           'update: a label that is no string');
problem_ok(lf($ak, PATCH => '/api/public/v2/prompts/kind/text', json => { newLabels => ['staging'] }), 404,
           'update: not a version path', qr/versions/);
problem_ok(lf($ak, PATCH => '/api/public/v2/prompts/kind/text/versions/x', json => { newLabels => ['staging'] }), 404,
           'update: version x');
is(db1('select count(*) from public.prompt_label_moves'), $moves, 'no refused update moved a label');
$r = lf($ak, PATCH => '/api/public/v2/prompts/kind/text/versions/1', json => { newLabels => ['staging', 'production'] });
is($r->{status}, 200, 'update: two labels at once') or diag $r->{body};
is_deeply([ sort @{ $r->{json}{labels} } ], [qw(production staging)], '... both on version 1');

problem_ok(lf($ak, DELETE => '/api/public/v2/prompts/kind/text?label=nope'), 404, 'delete: a label nobody set');
problem_ok(lf($ak, DELETE => '/api/public/v2/prompts/kind/text?version=x'), 422, 'delete: version x');
problem_ok(lf($ak, DELETE => '/api/public/v2/prompts/kind/text?version=1&label=staging'), 422, 'delete: version and label');
problem_ok(lf($ak, DELETE => '/api/public/v2/prompts/no/such'), 404, 'delete: an unknown name');
is(lf($ak, DELETE => '/api/public/v2/prompts/kind/text?label=staging')->{status}, 204, 'delete: the version a label is on');
is(db1("select string_agg(v.version::text, ',') from public.prompt_versions v join public.prompts p on p.id = v.prompt_id "
     . "where p.name = 'kind/text' and p.workspace_id = '$aws'"), '2', '... version 1 is gone');

problem_ok(lf($ak, GET => '/api/public/v2/prompts?limit=0'), 422, 'list: limit 0');
problem_ok(lf($ak, GET => '/api/public/v2/prompts?limit=101'), 422, 'list: limit 101');
problem_ok(lf($ak, GET => '/api/public/v2/prompts?page=x'), 422, 'list: page x');
problem_ok(lf($ak, GET => '/api/public/v2/prompts?fromUpdatedAt=yesterday'), 422, 'list: a bad time');
problem_ok(lf($ak, GET => '/api/public/v2/prompts?toUpdatedAt=2026-13-45T99:00:00Z'), 422, 'list: an impossible time');
$r = lf($ak, GET => '/api/public/v2/prompts?limit=1&page=2');
is_deeply([ scalar @{ $r->{json}{data} }, $r->{json}{meta}{page}, $r->{json}{meta}{limit} ], [1, 2, 1], 'list: pages');
$r = lf($ak, GET => '/api/public/v2/prompts?fromUpdatedAt=2999-01-01T00:00:00Z');
is_deeply($r->{json}{data}, [], 'list: updated after a future time: none');
$r = lf($bk, GET => '/api/public/v2/prompts');
ok(!(grep { $_->{name} eq 'kind/text' } @{ $r->{json}{data} }), "list: another account's key sees none of them");

# a team workspace's editor key: creates, moves unprotected labels, cannot move production nor delete
my $ws = api(tok('alice'), POST => '/api/v1/workspaces', json => { name => 'Team' })->{json}{id};
$s->psql("insert into public.workspace_members (workspace_id, user_id, role) values ('$ws', '$U{bob}{id}', 'editor')");
$r = api(tok('bob'), POST => '/api/v1/keys', json => { name => 'team', scopes => ['prompts:read', 'prompts:write'], workspace_id => $ws });
my $tk = $r->{json};
$r = lf($tk, POST => '/api/public/v2/prompts', json => { name => 'team/p', prompt => 'x', labels => ['staging'] });
is($r->{status}, 201, "an editor's key creates in the team workspace") or diag $r->{body};
is($r->{json}{projectId}, $ws, '... there');
problem_ok(lf($tk, POST => '/api/public/v2/prompts', json => { name => 'team/q', prompt => 'x', labels => ['production'] }), 403,
           "an editor's key labels production", qr/admin/);
is(db1("select count(*) from public.prompts where name = 'team/q'"), 0, '... and nothing was made');
problem_ok(lf($tk, DELETE => '/api/public/v2/prompts/team/p'), 403, "an editor's key deletes", qr/admin/);
problem_ok(lf($tk, DELETE => '/api/public/v2/prompts/team/p?version=1'), 403, "... or deletes a version", qr/admin/);

done_testing;
