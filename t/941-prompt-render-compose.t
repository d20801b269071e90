#!/usr/bin/perl
# 941-prompt-render-compose.t: chat prompts rendered (variables in every message, placeholders from the request); composition {{> name[@label|@n]}} by render and by the fetch by name: depth, cycles, the render limit, the versions used; the diff of two versions; every bad input.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Promptd::Test qw(db1 api problem_ok);

my $s = Promptd::Test->new(PROMPTD_JOBS_DAEMONS => 0, PROMPTD_RENDER_MAX_BYTES => 4096);
my %U;
for my $n (qw(alice bob)) {
    my $id = $s->user_create("$n\@example.com");
    $U{$n} = { id => $id, token => $s->token($id) };
}
sub tok { $U{$_[0]}{token} }
my $ws = api(tok('alice'), POST => '/api/v1/workspaces', json => { name => 'Team' })->{json}{id};

sub renders { db1("select count(*) from public.usage_tracking where action = 'prompt.render'") }
# mk(name, content, type?) -> the prompt (labelled production at version 1)
sub mk {
    my ($name, $content, $type) = @_;
    my $r = api(tok('alice'), POST => '/api/v1/prompts', json => { workspace_id => $ws, name => $name,
        title => $name, content => $content, ($type ? (type => $type) : ()) });
    die "create $name: $r->{body}" unless $r->{status} == 201;
    my $l = api(tok('alice'), PUT => "/api/v1/prompts/$r->{json}{id}/labels/production", json => { version => 1 });
    die "label $name: $l->{body}" unless $l->{status} == 200;
    return $r->{json};
}
sub render { api(tok($_[2] // 'alice'), POST => "/api/v1/prompts/$_[0]{id}/render", json => $_[1]) }

# ------------------------------------------------------------- chat render
my $chat = mk('chat/answer', [ { role => 'system', content => 'You help with {{topic}}. "Quote" \\ ok' },
    { type => 'placeholder', name => 'history' }, { role => 'user', content => '{{question}} ({{topic}})' } ], 'chat');
my $n0 = renders();
my $r = render($chat, { variables => { topic => 'billing', question => 'Why?' },
    placeholders => { history => [ { role => 'user', content => 'Hi {{topic}}' }, { role => 'assistant', content => 'Hello' } ] } });
is($r->{status}, 200, 'a chat prompt renders') or diag $r->{body};
is_deeply($r->{json}{messages}, [
    { role => 'system', content => 'You help with billing. "Quote" \\ ok' },
    { role => 'user', content => 'Hi {{topic}}' }, { role => 'assistant', content => 'Hello' },
    { role => 'user', content => 'Why? (billing)' } ], '... variables in every message, the placeholder replaced by the messages given (left as they are)');
is_deeply($r->{json}{variables}, ['topic', 'question'], '... the variables used, in order');
is_deeply($r->{json}{includes}, [], '... no includes');
is(renders(), $n0 + 1, '... counted once');
$r = render($chat, { variables => { topic => 'x', question => 'y' }, placeholders => { history => [] } });
is(scalar @{ $r->{json}{messages} }, 2, 'an empty placeholder: no messages in its place');

$n0 = renders();
for my $case (
    [{ variables => { topic => 'x' }, placeholders => { history => [] } }, qr/variables\.question/, 'a missing variable'],
    [{ variables => { topic => 'x', question => 'y' } }, qr/placeholders\.history.*required/, 'a missing placeholder'],
    [{ variables => { topic => 'x', question => 'y' }, placeholders => { history => 'hi' } }, qr/placeholders\.history/, 'a placeholder that is no array'],
    [{ variables => { topic => 'x', question => 'y' }, placeholders => { history => [ { role => 'wizard', content => 'x' } ] } },
     qr/placeholders\.history/, 'a placeholder message with an unknown role'],
    [{ variables => { topic => 'x', question => 'y' }, placeholders => { history => [ { role => 'user' } ] } },
     qr/placeholders\.history/, 'a placeholder message without content'],
    [{ variables => { topic => 'x', question => 'y' }, placeholders => { history => [ 'hi' ] } },
     qr/placeholders\.history/, 'a placeholder message that is no object'],
    [{ variables => { topic => 'x', question => 'y' }, placeholders => [] }, qr/placeholders/, 'placeholders not an object'],
    [{ variables => { topic => [1], question => 'y' }, placeholders => { history => [] } }, qr/variables\.topic/, 'a variable of the wrong type'],
    [{ variables => {}, colour => 1 }, qr/colour/, 'an unknown field'],
) {
    problem_ok(render($chat, $case->[0]), 422, "chat render: $case->[2]", $case->[1]);
}
problem_ok(api(tok('alice'), POST => "/api/v1/prompts/$chat->{id}/render", body => '{"variables":', headers => { 'Content-Type' => 'application/json' }),
           400, 'chat render: malformed JSON');
is(renders(), $n0, 'no bad render counted');
problem_ok(render($chat, { variables => { topic => 'x' x 3000, question => 'y' }, placeholders => { history => [] } }),
           413, 'chat render past the limit', qr/4096 bytes/);
problem_ok(render($chat, { variables => { topic => 'x', question => 'y' },
    placeholders => { history => [ { role => 'user', content => 'z' x 5000 } ] } }), 413, '... placeholder messages count');
problem_ok(render($chat, { variables => { topic => 'x', question => 'y' }, placeholders => { history => [] } }, 'bob'),
           404, 'chat render by a non-member');

# ------------------------------------------------------------- composition
my $tone = mk('shared/tone', 'Be kind, {{name}}.');
api(tok('alice'), PATCH => "/api/v1/prompts/$tone->{id}", json => { content => 'Be brief, {{name}}.' });   # v2, production stays at 1
my $sig = mk('shared/sig', 'Regards. {{> shared/tone@2}}');
my $top = mk('support/reply', "Hello {{name}}.\n{{> shared/tone}}\n{{>shared/tone\@latest}}\n{{> shared/sig }}");
$n0 = renders();
$r = render($top, { variables => { name => 'Ann' } });
is($r->{status}, 200, 'a composed text prompt renders') or diag $r->{body};
is($r->{json}{text}, "Hello Ann.\nBe kind, Ann.\nBe brief, Ann.\nRegards. Be brief, Ann.", '... includes by production, label, version, nested');
is_deeply($r->{json}{includes}, [ { name => 'shared/tone', label => 'production', version => 1 },
    { name => 'shared/tone', label => 'latest', version => 2 }, { name => 'shared/sig', label => 'production', version => 1 },
    { name => 'shared/tone', label => undef, version => 2 } ], '... and says which versions it used');
is_deeply($r->{json}{variables}, ['name'], '... variables of the included text filled too');
is(renders(), $n0 + 1, '... counted once');
problem_ok(render($top, { variables => {} }), 422, 'a variable only an include needs', qr/variables\.name/);

$r = api(tok('alice'), GET => "/api/v1/prompts/by-name/support/reply?workspace_id=$ws");
is($r->{status}, 200, 'the fetch by name resolves includes') or diag $r->{body};
is($r->{json}{content}, "Hello {{name}}.\nBe kind, {{name}}.\nBe brief, {{name}}.\nRegards. Be brief, {{name}}.", '... in its content');
is(scalar @{ $r->{json}{includes} }, 4, '... and lists them');
$r = api(tok('alice'), GET => "/api/v1/prompts/by-name/shared/tone?workspace_id=$ws");
is_deeply($r->{json}{includes}, [], 'a prompt without includes: includes []');

my $cm = mk('chat/composed', [ { role => 'system', content => '{{> shared/tone}}' }, { role => 'user', content => '{{q}}' } ], 'chat');
$r = render($cm, { variables => { name => 'Bo', q => '?' } });
is($r->{status}, 200, 'a chat prompt with an include') or diag $r->{body};
is($r->{json}{messages}[0]{content}, 'Be kind, Bo.', '... composed in its message');
is_deeply($r->{json}{includes}, [ { name => 'shared/tone', label => 'production', version => 1 } ], '... includes listed');
$r = api(tok('alice'), GET => "/api/v1/prompts/by-name/chat/composed?workspace_id=$ws");
is($r->{json}{content}[0]{content}, 'Be kind, {{name}}.', 'by name: the chat message composed');

# depth: a chain of 6 includes below the top is too deep; 5 is fine
mk('deep/l6', 'bottom');
mk("deep/l$_", "{{> deep/l" . ($_ + 1) . "}}") for reverse 1 .. 5;
my $d0 = mk('deep/l0', '{{> deep/l1}}');
my $d1 = api(tok('alice'), GET => "/api/v1/prompts/by-name/deep/l1?workspace_id=$ws");
is($d1->{json}{content}, 'bottom', 'five nested includes: fine');
$n0 = renders();
problem_ok(render($d0, {}), 422, 'six nested includes', qr/more than 5 deep/);
problem_ok(api(tok('alice'), GET => "/api/v1/prompts/by-name/deep/l0?workspace_id=$ws"), 422, '... by name too', qr/5 deep/);
is(renders(), $n0, '... no render counted');

# cycles
my $ca = mk('cycle/a', 'A {{> cycle/b}}');
my $cb = mk('cycle/b', 'B');
api(tok('alice'), PATCH => "/api/v1/prompts/$cb->{id}", json => { content => 'B {{> cycle/a}}' });
api(tok('alice'), PUT => "/api/v1/prompts/$cb->{id}/labels/production", json => { version => 2 });
problem_ok(render($ca, {}), 422, 'a cycle', qr{cycle/a -> cycle/b -> cycle/a});
my $self = mk('cycle/self', 'me {{> cycle/self@latest}}');
problem_ok(render($self, {}), 422, 'a prompt including itself', qr/includes itself/);

# what cannot be included (support/triage exists, but in alice's personal workspace)
api(tok('alice'), POST => '/api/v1/prompts', json => { name => 'support/triage', title => 't', content => 'secret' });
my $nbad = 0;
for my $case (
    ['{{> nosuch/prompt}}', qr/does not exist/, 'an unknown name'],
    ['{{> shared/tone@staging}}', qr/label staging/, 'a label nobody set'],
    ['{{> shared/tone@99}}', qr/no version 99/, 'a version that does not exist'],
    ['{{> chat/answer}}', qr/chat prompt/, 'a chat prompt'],
    ['{{> support/triage}}', qr/does not exist/, 'a prompt of another workspace'],
) {
    my $p = mk('bad/' . ++$nbad, $case->[0]);
    problem_ok(render($p, {}), 422, "including $case->[2]", $case->[1]);
}

# the render limit holds for the composed result
my $big = mk('big/part', 'y' x 1500);
my $huge = mk('big/whole', '{{> big/part}}{{> big/part}}{{> big/part}}');
problem_ok(render($huge, {}), 413, 'a composition past the render limit', qr/4096 bytes/);
problem_ok(api(tok('alice'), GET => "/api/v1/prompts/by-name/big/whole?workspace_id=$ws"), 413, '... by name too');
my $many = mk('big/many', '{{> shared/tone}}' x 101);
problem_ok(render($many, {}), 422, 'more than 100 includes', qr/100 includes/);

# another account cannot reach a workspace's prompts through an include
my $bobs = api(tok('bob'), POST => '/api/v1/prompts', json => { name => 'steal', title => 't', content => '{{> shared/tone}}' })->{json};
problem_ok(render($bobs, {}, 'bob'), 422, "an include names only the prompt's own workspace", qr/does not exist/);

# ------------------------------------------------------------- diff
my $dp = api(tok('alice'), POST => '/api/v1/prompts', json => { workspace_id => $ws, name => 'diff/text', title => 'D',
    content => "one\ntwo\nthree\n", config => { model => 'gpt-4o', temperature => 0.2 }, tags => ['a'] })->{json};
api(tok('alice'), PATCH => "/api/v1/prompts/$dp->{id}", json => { content => "one\n2\nthree\nfour", commit_message => 'numbers',
    config => { model => 'gpt-4o', temperature => 0.7, top_p => 1 }, tags => ['a', 'b'] });
$r = api(tok('alice'), GET => "/api/v1/prompts/$dp->{id}/diff");
is($r->{status}, 200, 'diff: 200') or diag $r->{body};
is_deeply([ @{ $r->{json} }{qw(prompt_id type from to)} ], [ $dp->{id}, 'text', 1, 2 ], '... by default the current version against the one before');
is($r->{json}{content}{diff}, "@@ -1,3 +1,4 @@\n one\n-two\n+2\n three\n+four\n\\ No newline at end of file\n", '... a unified line diff of the content');
is_deeply([ @{ $r->{json}{content} }{qw(additions deletions)} ], [2, 1], '... with its counts');
is_deeply($r->{json}{changes}, [
    { field => 'content', change => 'modified' },
    { field => 'tags', change => 'modified', from => ['a'], to => ['a', 'b'] },
    { field => 'commit_message', change => 'added', from => undef, to => 'numbers' },
    { field => 'config.temperature', change => 'modified', from => 0.2, to => 0.7 },
    { field => 'config.top_p', change => 'added', from => undef, to => 1 } ], '... and the fields that changed, with the kind of change');
$r = api(tok('alice'), GET => "/api/v1/prompts/$dp->{id}/diff?from=2&to=1");
is($r->{json}{content}{diff}, "@@ -1,4 +1,3 @@\n one\n-2\n+two\n three\n-four\n\\ No newline at end of file\n", 'diff backwards');
is($r->{json}{changes}[2]{change}, 'removed', '... a field it lacks is removed');
$r = api(tok('alice'), GET => "/api/v1/prompts/$dp->{id}/diff?from=2&to=2");
is_deeply([ $r->{json}{content}{diff}, $r->{json}{changes} ], ['', []], 'a version against itself: nothing');

my $dc = api(tok('alice'), POST => '/api/v1/prompts', json => { workspace_id => $ws, name => 'diff/chat', title => 'C', type => 'chat',
    content => [ { role => 'system', content => "Be kind.\nBe brief." }, { role => 'user', content => '{{q}}' } ] })->{json};
api(tok('alice'), PATCH => "/api/v1/prompts/$dc->{id}", json => { content => [ { role => 'system', content => "Be kind.\nBe clear." },
    { role => 'user', content => '{{q}}' }, { type => 'placeholder', name => 'history' } ] });
$r = api(tok('alice'), GET => "/api/v1/prompts/$dc->{id}/diff?from=1&to=2");
is($r->{status}, 200, 'chat diff: 200') or diag $r->{body};
my @m = @{ $r->{json}{messages} };
is_deeply([ map { $_->{change} } @m ], [qw(modified unchanged added)], '... message by message');
is($m[0]{diff}, "@@ -1,2 +1,2 @@\n Be kind.\n-Be brief.\n\\ No newline at end of file\n+Be clear.\n\\ No newline at end of file\n",
   '... a line diff of each (as diff -u marks a last line without newline)');
is_deeply([ $m[2]{from_role}, $m[2]{to_role}, $m[1]{diff} ], [ undef, undef, '' ], '... roles (none for a placeholder), nothing for the same message');
like($m[2]{diff}, qr/^\+\{.*"type":\s*"placeholder".*\}$/m, '... a placeholder as its JSON');
like($m[2]{diff}, qr/"name":\s*"history"/, '... with its name');
is($r->{json}{changes}[0]{field}, 'content', '... content changed');
ok(!exists $r->{json}{content}, '... no text diff for a chat prompt');

problem_ok(api(tok('alice'), GET => "/api/v1/prompts/$dp->{id}/diff?from=1&to=9"), 404, 'diff to a version that does not exist', qr/no version 9/);
problem_ok(api(tok('alice'), GET => "/api/v1/prompts/$d0->{id}/diff"), 404, 'diff of a prompt with one version', qr/no version 0/);
problem_ok(api(tok('alice'), GET => "/api/v1/prompts/$dp->{id}/diff?from=x"), 422, 'diff from no number', qr/from/);
problem_ok(api(tok('alice'), GET => "/api/v1/prompts/$dp->{id}/diff?to=0"), 422, 'diff to 0', qr/"to"/);
problem_ok(api(tok('alice'), GET => "/api/v1/prompts/$dp->{id}/diff?to=99999999999"), 422, 'diff to a huge number');
problem_ok(api(tok('bob'), GET => "/api/v1/prompts/$dp->{id}/diff"), 404, 'diff by a non-member');
problem_ok(api(tok('alice'), GET => "/api/v1/prompts/00000000-0000-0000-0000-000000000000/diff"), 404, 'diff of no prompt');

done_testing;
