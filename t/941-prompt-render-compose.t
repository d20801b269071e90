#!/usr/bin/perl
# 941-prompt-render-compose.t: chat prompts rendered (variables in every message, placeholders from the request); composition {{> name[@label|@n]}} by render and by the fetch by name: depth, cycles, the render limit, the versions used; every bad input.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Promptd::Test qw(db1 api);

my $s = Promptd::Test->new(PROMPTD_JOBS_DAEMONS => 0, PROMPTD_RENDER_MAX_BYTES => 4096);
my %U;
for my $n (qw(alice bob)) {
    my $id = $s->user_create("$n\@example.com");
    $U{$n} = { id => $id, token => $s->token($id) };
}
sub tok { $U{$_[0]}{token} }
my $ws = api(tok('alice'), POST => '/api/v1/workspaces', json => { name => 'Team' })->{json}{id};

sub problem_ok {
    my ($r, $status, $name, $detail) = @_;
    is($r->{status}, $status, "$name -> $status") or diag $r->{body};
    like($r->{headers}{'content-type'} // '', qr{^application/problem\+json}, "$name: problem+json");
    like($r->{body} // '', $detail, "$name: says why") if $detail;
}
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

done_testing;
