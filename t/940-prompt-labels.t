#!/usr/bin/perl
# 940-prompt-labels.t: deployable prompts: names, types (chat messages), config and commit messages; labels (latest by promptd, protected production), their history; change requests; fetch by name with ETag; every bad input.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Promptd::Test qw(db1 api problem_ok);

my $s = Promptd::Test->new(PROMPTD_JOBS_DAEMONS => 0);
my %U;
for my $n (qw(alice bob carol dave eve)) {
    my $id = $s->user_create("$n\@example.com");
    $U{$n} = { id => $id, token => $s->token($id) };
}
sub tok { $U{$_[0]}{token} }
my $ws = api(tok('alice'), POST => '/api/v1/workspaces', json => { name => 'Team' })->{json}{id};
$s->psql("insert into public.workspace_members (workspace_id, user_id, role) values "
       . "('$ws', '$U{bob}{id}', 'editor'), ('$ws', '$U{carol}{id}', 'viewer'), ('$ws', '$U{dave}{id}', 'admin')");


# ------------------------------------------------------------- names, types, config
my $r = api(tok('alice'), POST => '/api/v1/prompts', json => { workspace_id => $ws, name => 'support/triage',
    title => 'Triage', content => 'Classify: {{ticket}}', config => { model => 'gpt-4o', temperature => 0.2 },
    commit_message => 'first cut' });
is($r->{status}, 201, 'a named text prompt with config') or diag $r->{body};
my $p = $r->{json};
is_deeply([ @$p{qw(name type commit_message)} ], ['support/triage', 'text', 'first cut'], 'name, type, commit message');
is_deeply($p->{config}, { model => 'gpt-4o', temperature => 0.2 }, 'config');
is(db1("select name || ':' || type from public.prompts where id = '$p->{id}'"), 'support/triage:text', '(database)');
$r = api(tok('alice'), POST => '/api/v1/prompts', json => { workspace_id => $ws, title => 'Hello, World!', content => 'x' });
is($r->{json}{name}, 'hello-world', 'no name: one made from the title');
$r = api(tok('alice'), POST => '/api/v1/prompts', json => { workspace_id => $ws, title => 'Hello world', content => 'x' });
is($r->{json}{name}, 'hello-world-2', '... unique in the workspace');
$r = api(tok('alice'), POST => '/api/v1/prompts', json => { title => 'Hello, World!', content => 'x' });
is($r->{json}{name}, 'hello-world', '... per workspace (the personal one has its own)');

# One statement inserting many prompts without names, from statistics that
# saw a small table (as a first import would): each name's test is planned
# from the table's size at that row, so once the table is a few pages the
# unique index answers it.  A plan kept from the first row scanned every
# prompt once per row (1,000 scans, 499,500 rows read).
my $bulk = $s->psql("analyze public.prompts; insert into public.prompts (user_id, workspace_id, title, content) "
    . "select '$U{eve}{id}', promptd.personal_workspace('$U{eve}{id}'), 'Bulk ' || i, 'x' from generate_series(1, 1000) i; "
    . "select seq_scan, seq_tup_read from pg_stat_xact_user_tables where relid = 'public.prompts'::regclass")->[0];
cmp_ok($bulk->[0], '<', 500, "1,000 prompts without names in one statement: the table is not scanned per row ($bulk->[0] scans)");
cmp_ok($bulk->[1], '<', 100_000, "... nor read once per row ($bulk->[1] rows read)");
is(db1("select count(distinct name) || ' ' || count(*) filter (where name ~ '^bulk-[0-9]+\$') from public.prompts "
       . "where workspace_id = promptd.personal_workspace('$U{eve}{id}')"), '1000 1000', '... each named from its title, unique');

my $chat = api(tok('alice'), POST => '/api/v1/prompts', json => { workspace_id => $ws, name => 'chat/answer',
    type => 'chat', title => 'Answer', content => [ { role => 'system', content => 'You help with {{topic}}.' },
    { type => 'placeholder', name => 'history' }, { role => 'user', content => '{{question}}' } ] });
is($chat->{status}, 201, 'a chat prompt') or diag $chat->{body};
is(ref $chat->{json}{content}, 'ARRAY', 'its content is the messages');
is($chat->{json}{content}[1]{type}, 'placeholder', '... placeholders kept');
problem_ok(api(tok('alice'), POST => "/api/v1/prompts/$chat->{json}{id}/render", json => { variables => {} }),
           422, 'rendering a chat prompt without its variables', qr/variables\.topic.*variables\.question.*placeholders\.history/);

my $before = db1('select count(*) from public.prompts');
for my $case (
    [{ name => 'support/triage', title => 't', content => 'c' }, 409, 'a duplicate name'],
    [{ name => 'Support', title => 't', content => 'c' }, 422, 'an upper-case name'],
    [{ name => 'a//b', title => 't', content => 'c' }, 422, 'an empty segment'],
    [{ name => 'a/../b', title => 't', content => 'c' }, 422, 'a .. segment'],
    [{ name => 'x' x 201, title => 't', content => 'c' }, 422, 'a name over 200 bytes'],
    [{ type => 'yaml', title => 't', content => 'c' }, 422, 'an unknown type'],
    [{ type => 'chat', title => 't', content => 'c' }, 422, 'chat with a string'],
    [{ title => 't', content => [ { role => 'user', content => 'x' } ] }, 422, 'messages for a text prompt'],
    [{ type => 'chat', title => 't', content => [ { role => 'wizard', content => 'x' } ] }, 422, 'an unknown role'],
    [{ type => 'chat', title => 't', content => [ { role => 'user' } ] }, 422, 'a message without content'],
    [{ type => 'chat', title => 't', content => [ { role => 'user', content => 'x', extra => 1 } ] }, 422, 'a message with more'],
    [{ type => 'chat', title => 't', content => [ 'hi' ] }, 422, 'a message that is no object'],
    [{ type => 'chat', title => 't', content => [ { type => 'placeholder' } ] }, 422, 'a placeholder without a name'],
    [{ title => 't', content => 'c', config => [1] }, 422, 'config not an object'],
    [{ title => 't', content => 'c', config => { big => 'x' x 70000 } }, 413, 'config over 64 KiB'],
    [{ title => 't', content => 'c', commit_message => 'm' x 501 }, 422, 'a commit message over 500'],
) {
    my ($body, $status, $name) = @$case;
    problem_ok(api(tok('alice'), POST => '/api/v1/prompts', json => { workspace_id => $ws, %$body }), $status, $name);
}
is(db1('select count(*) from public.prompts'), $before, 'no prompt from bad input');

# ------------------------------------------------------------- versions, config, type fixed
$r = api(tok('bob'), PATCH => "/api/v1/prompts/$p->{id}", json => { content => 'Classify this: {{ticket}}',
    config => { model => 'gpt-4o-mini' }, commit_message => 'shorter' });
is($r->{status}, 200, 'an editor changes content and config') or diag $r->{body};
is($r->{json}{version}, 2, '... version 2');
$r = api(tok('alice'), GET => "/api/v1/prompts/$p->{id}/versions/1");
is_deeply([ $r->{json}{config}{model}, $r->{json}{commit_message} ], ['gpt-4o', 'first cut'], 'version 1 keeps its config and message');
$r = api(tok('alice'), PATCH => "/api/v1/prompts/$p->{id}", json => { config => { model => 'o3' } });
is($r->{json}{version}, 3, 'a config change alone is a version');
is($r->{json}{commit_message}, undef, '... without a message');
problem_ok(api(tok('alice'), PATCH => "/api/v1/prompts/$p->{id}", json => { type => 'chat' }), 422, 'changing the type', qr/fixed/);
problem_ok(api(tok('alice'), PATCH => "/api/v1/prompts/$p->{id}", json => { content => [ { role => 'user', content => 'x' } ] }),
           422, 'messages into a text prompt', qr/type text/);
problem_ok(api(tok('alice'), PATCH => "/api/v1/prompts/$chat->{json}{id}", json => { content => 'plain' }),
           422, 'a string into a chat prompt', qr/type chat/);
is(db1("select version from public.prompts where id = '$p->{id}'"), 3, 'refused changes wrote nothing');

# ------------------------------------------------------------- labels
sub label { my ($who, $label, $ver, %o) = @_;
            api(tok($who), PUT => "/api/v1/prompts/$p->{id}/labels/$label", json => { version => $ver, %o }) }
$r = api(tok('carol'), GET => "/api/v1/prompts/$p->{id}/labels");
is_deeply($r->{json}{items}, [ { label => 'latest', version => 3, updated_at => $r->{json}{items}[0]{updated_at} } ],
          'latest is on the newest version, set by promptd');
problem_ok(label('alice', 'latest', 1), 422, 'moving latest', qr/latest/);
problem_ok(label('alice', 'Prod', 1), 422, 'a bad label');
problem_ok(label('alice', 'production', 9), 404, 'a version that does not exist', qr/no version 9/);
problem_ok(label('carol', 'staging', 1), 403, 'a viewer sets a label');
problem_ok(label('eve', 'staging', 1), 404, 'a non-member sets a label');
problem_ok(label('bob', 'production', 1), 403, 'an editor moves the protected production', qr/protected/);
problem_ok(label('alice', 'staging', 1, reason => 'r' x 501), 422, 'a reason over 500 characters');
problem_ok(label('alice', 'staging', 1, colour => 'red'), 422, 'an unknown field');
problem_ok(api(tok('alice'), PUT => "/api/v1/prompts/$p->{id}/labels/staging", body => '{"version":',
               headers => { 'Content-Type' => 'application/json' }), 400, 'malformed JSON');
problem_ok(api(tok('alice'), GET => "/api/v1/prompts/$p->{id}/labels/Bad!/history"), 422, 'the history of a bad label');
is(db1("select count(*) from public.prompt_labels where prompt_id = '$p->{id}' and label = 'staging'"), 0,
   'refused label writes wrote nothing');
$r = label('bob', 'staging', 2, reason => 'try it');
is($r->{status}, 200, 'an editor sets staging') or diag $r->{body};
is_deeply([ @{ $r->{json} }{qw(label version from_version)} ], ['staging', 2, undef], '... on version 2');
$r = label('alice', 'production', 1, reason => 'ship v1');
is($r->{status}, 200, 'the owner sets production');
$r = label('alice', 'production', 2, reason => 'ship v2');
is($r->{json}{from_version}, 1, '... and moves it forward, from 1');
$r = label('alice', 'production', 1, reason => 'roll back');
is_deeply([ @{ $r->{json} }{qw(version from_version)} ], [1, 2], '... and back');
$r = api(tok('carol'), GET => "/api/v1/prompts/$p->{id}/labels/production/history");
is($r->{status}, 200, 'a viewer reads the history');
is_deeply([ map { [ $_->{from_version}, $_->{to_version}, $_->{reason}, $_->{moved_by} ] } @{ $r->{json}{items} } ],
          [ [2, 1, 'roll back', $U{alice}{id}], [1, 2, 'ship v2', $U{alice}{id}], [undef, 1, 'ship v1', $U{alice}{id}] ],
          'every move, newest first: from, to, why, who');
$r = api(tok('alice'), GET => "/api/v1/prompts/$p->{id}/labels/latest/history");
is_deeply([ map { $_->{to_version} } @{ $r->{json}{items} } ], [3, 2, 1], 'latest has its history too');
is(api(tok('eve'), GET => "/api/v1/prompts/$p->{id}/labels/production/history")->{status}, 404, 'a non-member reads no history');
is(db1("select count(*) from public.audit_log where action = 'prompt.label.set' and target = 'prompt:$p->{id}'"), 4,
   'label moves are audited');

# ------------------------------------------------------------- fetch by name
sub by_name { my ($who, $q) = @_; api(tok($who), GET => "/api/v1/prompts/by-name/support/triage?workspace_id=$ws" . ($q // '')) }
$r = by_name('carol');
is($r->{status}, 200, 'fetch by name (a viewer)') or diag $r->{body};
is_deeply([ @{ $r->{json} }{qw(name version content)} ], ['support/triage', 1, 'Classify: {{ticket}}'], '... production: version 1');
is_deeply($r->{json}{labels}, ['production'], '... with the labels on that version');
is($r->{json}{config}{model}, 'gpt-4o', "... and that version's config");
like($r->{headers}{etag} // '', qr/^"[0-9a-f]{32}"$/, 'ETag');
like($r->{headers}{'cache-control'} // '', qr/private.*no-cache/, 'Cache-Control: private, no-cache');
my $again = api(tok('carol'), GET => "/api/v1/prompts/by-name/support/triage?workspace_id=$ws",
                headers => { 'If-None-Match' => $r->{headers}{etag} });
is($again->{status}, 304, 'If-None-Match -> 304');
is(by_name('carol', '&label=staging')->{json}{version}, 2, 'label=staging');
is(by_name('carol', '&label=latest')->{json}{version}, 3, 'label=latest');
is(by_name('carol', '&version=3')->{json}{commit_message}, undef, 'version=3');
problem_ok(by_name('carol', '&label=nope'), 404, 'a label no version has', qr/label nope/);
problem_ok(by_name('carol', '&version=99'), 404, 'a version that does not exist');
problem_ok(by_name('carol', '&version=x'), 422, 'a bad version');
problem_ok(by_name('carol', '&label=a&version=1'), 422, 'label and version');
problem_ok(by_name('eve'), 404, 'a non-member');
problem_ok(api(tok('carol'), GET => "/api/v1/prompts/by-name/chat/answer?workspace_id=$ws"), 404,
           'no production label', qr/label production/);
$r = api(tok('carol'), GET => "/api/v1/prompts/by-name/chat/answer?workspace_id=$ws&label=latest");
is(ref $r->{json}{content}, 'ARRAY', 'a chat prompt by name: its messages');
problem_ok(api(tok('carol'), GET => "/api/v1/prompts/by-name/no/such?workspace_id=$ws"), 404, 'an unknown name', qr/named no\/such/);
problem_ok(api(tok('carol'), GET => "/api/v1/prompts/by-name/Bad..Name?workspace_id=$ws"), 422, 'a bad name');
# a name that looks like another route's path
api(tok('alice'), POST => '/api/v1/prompts', json => { workspace_id => $ws, name => 'x/versions', title => 'v', content => 'v' });
$r = api(tok('alice'), GET => "/api/v1/prompts/by-name/x/versions?workspace_id=$ws&label=latest");
is($r->{json}{name}, 'x/versions', 'a name like x/versions is still a name');
# an API key of the workspace: its workspace by default
my $key = api(tok('bob'), POST => '/api/v1/keys', json => { name => 'app', scopes => ['prompts:read'], workspace_id => $ws })->{json}{key};
$r = $s->request(GET => '/api/v1/prompts/by-name/support/triage', { headers => { 'X-API-Key' => $key } });
is($r->{json}{version}, 1, "an app's key fetches production from its workspace");

# ------------------------------------------------------------- removing a label
is(api(tok('bob'), DELETE => "/api/v1/prompts/$p->{id}/labels/staging")->{status}, 204, 'an editor removes staging');
problem_ok(api(tok('bob'), DELETE => "/api/v1/prompts/$p->{id}/labels/staging"), 404, 'again');
problem_ok(api(tok('bob'), DELETE => "/api/v1/prompts/$p->{id}/labels/production"), 403, 'an editor removes production');
problem_ok(api(tok('alice'), DELETE => "/api/v1/prompts/$p->{id}/labels/latest"), 422, 'removing latest');
$r = api(tok('alice'), GET => "/api/v1/prompts/$p->{id}/labels/staging/history");
is($r->{json}{items}[0]{to_version}, undef, 'the removal is in the history');

# ------------------------------------------------------------- change requests
# production is on 1; the prompt has versions 1..3.
sub cr_open { my ($who, %b) = @_; api(tok($who), POST => "/api/v1/prompts/$p->{id}/change-requests", json => \%b) }
sub cr_do { my ($who, $id, $what, %b) = @_;
            api(tok($who), POST => "/api/v1/prompts/$p->{id}/change-requests/$id/$what", %b ? (json => \%b) : ()) }
$r = cr_open('bob', label => 'production', version => 3, note => 'v3 is better');
is($r->{status}, 201, 'an editor opens a change request for production') or diag $r->{body};
my $cr = $r->{json};
is_deeply([ @$cr{qw(label version from_version state author)} ], ['production', 3, 1, 'open', $U{bob}{id}],
          '... to 3, from where production is (1), open');
is(db1("select state from public.prompt_change_requests where id = '$cr->{id}'"), 'open', '(database)');
problem_ok(cr_open('carol', label => 'production', version => 3), 403, 'a viewer opens one');
problem_ok(cr_open('eve', label => 'production', version => 3), 404, 'a non-member opens one');
problem_ok(cr_open('bob', label => 'latest', version => 3), 422, 'one for latest');
problem_ok(cr_open('bob', label => 'Bad', version => 3), 422, 'a bad label');
problem_ok(cr_open('bob', label => 'production', version => 99), 404, 'a version that does not exist');
problem_ok(cr_open('bob', label => 'production'), 422, 'no version');
problem_ok(cr_open('bob', label => 'production', version => 3, note => 'n' x 2001), 422, 'a note over 2000 characters');
problem_ok(cr_do('bob', $cr->{id}, 'approve'), 403, 'an editor approves');
problem_ok(cr_do('carol', $cr->{id}, 'approve'), 403, 'a viewer approves');
problem_ok(cr_do('eve', $cr->{id}, 'approve'), 404, 'a non-member approves');
my $own = cr_open('dave', label => 'production', version => 2)->{json};
problem_ok(cr_do('dave', $own->{id}, 'approve'), 403, 'an admin approves their own', qr/author/);
$r = cr_do('dave', $cr->{id}, 'approve', note => 'ok');
is($r->{status}, 200, 'another admin approves') or diag $r->{body};
is_deeply([ @{ $r->{json} }{qw(state decided_by decision_note)} ], ['approved', $U{dave}{id}, 'ok'], '... approved, by whom, why');
is(by_name('carol')->{json}{version}, 3, 'production now serves version 3');
$r = api(tok('alice'), GET => "/api/v1/prompts/$p->{id}/labels/production/history");
is_deeply([ @{ $r->{json}{items}[0] }{qw(from_version to_version change_request moved_by)} ], [1, 3, $cr->{id}, $U{dave}{id}],
          'the move names its change request');
problem_ok(cr_do('alice', $cr->{id}, 'approve'), 409, 'approving again', qr/already approved/);
# stale: the label moved after the request was opened
my $stale = cr_open('bob', label => 'production', version => 2)->{json};
is($stale->{from_version}, 3, 'a request from 3');
label('alice', 'production', 1, reason => 'hotfix');
problem_ok(cr_do('dave', $stale->{id}, 'approve'), 409, 'approving after the label moved', qr/has moved/);
is(by_name('carol')->{json}{version}, 1, '... production stays where the owner put it');
is(db1("select state from public.prompt_change_requests where id = '$stale->{id}'"), 'open', '... and the request stays open');
$r = cr_do('dave', $stale->{id}, 'reject', note => 'stale');
is($r->{json}{state}, 'rejected', 'it is rejected instead');
problem_ok(cr_do('dave', $stale->{id}, 'reject'), 409, 'rejecting again');
problem_ok(api(tok('dave'), POST => "/api/v1/prompts/$p->{id}/change-requests/$stale->{id}/reject",
               body => '[1]', headers => { 'Content-Type' => 'application/json' }), 400, 'a body that is no object');
# the workspace's queue
$r = api(tok('carol'), GET => "/api/v1/workspaces/$ws/change-requests?state=open");
is_deeply([ map { $_->{id} } @{ $r->{json}{items} } ], [ $own->{id} ], 'open requests of the workspace (a viewer reads them)');
$r = api(tok('carol'), GET => "/api/v1/workspaces/$ws/change-requests");
is(scalar @{ $r->{json}{items} }, 3, 'all requests');
problem_ok(api(tok('carol'), GET => "/api/v1/workspaces/$ws/change-requests?state=maybe"), 422, 'a bad state');
problem_ok(api(tok('eve'), GET => "/api/v1/workspaces/$ws/change-requests"), 404, 'a non-member');
is(db1("select count(*) from public.audit_log where action like 'prompt.change_request.%' and target = 'prompt:$p->{id}'"),
   5, 'opening (3), approving and rejecting are audited');

done_testing;
