#!/usr/bin/perl
# 100-prompts-crud.t: create, read, update, delete, versions, restore, render,
# ETag / If-None-Match / If-Match and Idempotency-Key, with database effects.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Promptd::Test qw(db1);

my $s = Promptd::Test->new;
my $alice = $s->user_create('alice@example.com');
my $tok = $s->token($alice);
my $UUID = $Promptd::Test::UUID;

sub req { my ($m, $p, %o) = @_; $s->request($m, $p, { token => $tok, %o }) }

# --- create
my $r = req(POST => '/api/v1/prompts', json => {
    title => 'Summarise', content => 'Summarise {{ text }} for {{audience}}; keep {{text}} short.',
    tags => ['work', 'summary'], metadata => { model => 'gpt-4o' }, folder => '/team/ops' });
is($r->{status}, 201, 'POST -> 201') or diag explain $r;
my $p = $r->{json};
like($p->{id}, $UUID, 'id is a UUID');
is($r->{headers}{location}, "/api/v1/prompts/$p->{id}", 'Location points at it');
is($r->{headers}{etag}, '"v1"', 'ETag is the version');
is($p->{version}, 1, 'version 1');
is_deeply($p->{variables}, ['text', 'audience'], 'variables detected in order, once each');
is_deeply($p->{tags}, ['work', 'summary'], 'tags stored');
is_deeply($p->{metadata}, { model => 'gpt-4o' }, 'metadata stored');
is($p->{folder}, '/team/ops', 'folder stored');
ok($p->{created_at} && $p->{updated_at}, 'timestamps present');
is(db1("select count(*) from prompts where id = '$p->{id}' and user_id = '$alice'"), 1,
   'row owned by the caller');
is(db1("select count(*) from prompt_versions where prompt_id = '$p->{id}'"), 1, 'version 1 recorded');
is(db1("select count(*) from profiles where id = '$alice'"), 1, 'the user has a profile');
is(db1("select count(*) from usage_tracking where user_id = '$alice' and action = 'prompt.create'"),
   1, 'usage tracked');

# --- read, ETag, 304
$r = req(GET => "/api/v1/prompts/$p->{id}");
is($r->{status}, 200, 'GET -> 200');
is($r->{json}{title}, 'Summarise', 'GET returns the prompt');
is($r->{headers}{etag}, '"v1"', 'GET ETag');
$r = req(GET => "/api/v1/prompts/$p->{id}", headers => { 'If-None-Match' => '"v1"' });
is($r->{status}, 304, 'If-None-Match current -> 304');
is($r->{body}, '', '304 has no body');
$r = req(GET => "/api/v1/prompts/$p->{id}", headers => { 'If-None-Match' => '"v0", W/"v1"' });
is($r->{status}, 304, 'weak match in a list -> 304');
$r = req(GET => "/api/v1/prompts/$p->{id}", headers => { 'If-None-Match' => '"v9"' });
is($r->{status}, 200, 'stale If-None-Match -> 200');
$r = req(HEAD => "/api/v1/prompts/$p->{id}");
is($r->{status}, 200, 'HEAD -> 200');
is($r->{body}, '', 'HEAD has no body');

# --- update with If-Match
$r = req(PATCH => "/api/v1/prompts/$p->{id}", json => { title => 'Stale' },
         headers => { 'If-Match' => '"v7"' });
is($r->{status}, 412, 'If-Match mismatch -> 412');
is($r->{headers}{etag}, '"v1"', '412 tells the current ETag');
is(db1("select title from prompts where id = '$p->{id}'"), 'Summarise', '412 changed nothing');
$r = req(PATCH => "/api/v1/prompts/$p->{id}", json => { content => 'Rewrite {{x}}', tags => [] },
         headers => { 'If-Match' => '"v1"' });
is($r->{status}, 200, 'PATCH with matching If-Match -> 200') or diag explain $r->{json};
is($r->{json}{version}, 2, 'version 2');
is($r->{headers}{etag}, '"v2"', 'new ETag');
is($r->{json}{title}, 'Summarise', 'untouched fields kept');
is_deeply($r->{json}{tags}, [], 'tags cleared');
is_deeply($r->{json}{variables}, ['x'], 'variables re-detected');
$r = req(PATCH => "/api/v1/prompts/$p->{id}", json => { folder => '/archive' });
is($r->{status}, 200, 'PATCH without If-Match -> 200');
is($r->{json}{version}, 3, 'version 3');
is(db1("select count(*) from prompt_versions where prompt_id = '$p->{id}'"), 3, 'three versions');

# --- versions
$r = req(GET => "/api/v1/prompts/$p->{id}/versions");
is($r->{status}, 200, 'versions -> 200');
is_deeply([ map { $_->{version} } @{ $r->{json}{items} } ], [3, 2, 1], 'newest first');
is($r->{json}{next_cursor}, undef, 'single page');
$r = req(GET => "/api/v1/prompts/$p->{id}/versions?limit=2");
is(scalar @{ $r->{json}{items} }, 2, 'limit=2');
ok(defined $r->{json}{next_cursor}, 'next_cursor given');
$r = req(GET => "/api/v1/prompts/$p->{id}/versions?limit=2&cursor=$r->{json}{next_cursor}");
is_deeply([ map { $_->{version} } @{ $r->{json}{items} } ], [1], 'second page');
$r = req(GET => "/api/v1/prompts/$p->{id}/versions/1");
is($r->{status}, 200, 'version 1 -> 200');
like($r->{json}{content}, qr/^Summarise \{\{ text \}\}/, 'version 1 content is the original');
$r = req(GET => "/api/v1/prompts/$p->{id}/versions/99");
is($r->{status}, 404, 'missing version -> 404');
$r = req(GET => "/api/v1/prompts/$p->{id}/versions/abc");
is($r->{status}, 400, 'non-integer version -> 400');

# --- restore makes a new version
$r = req(POST => "/api/v1/prompts/$p->{id}/versions/1/restore");
is($r->{status}, 200, 'restore -> 200') or diag explain $r->{json};
is($r->{json}{version}, 4, 'restore creates version 4');
like($r->{json}{content}, qr/^Summarise \{\{ text \}\}/, 'content restored');
is($r->{json}{folder}, '/team/ops', 'folder restored');
is(db1("select count(*) from prompt_versions where prompt_id = '$p->{id}'"), 4, 'four versions');
$r = req(POST => "/api/v1/prompts/$p->{id}/versions/42/restore");
is($r->{status}, 404, 'restore of a missing version -> 404');

# --- render
$r = req(POST => "/api/v1/prompts/$p->{id}/render",
         json => { variables => { text => 'the report', audience => 42 } });
is($r->{status}, 200, 'render -> 200') or diag explain $r->{json};
is($r->{json}{text}, 'Summarise the report for 42; keep the report short.', 'render fills every placeholder');
is_deeply($r->{json}{variables}, ['text', 'audience'], 'render lists the variables used');
$r = req(POST => "/api/v1/prompts/$p->{id}/render", json => { variables => {} });
is($r->{status}, 422, 'render with missing variables -> 422');
is_deeply([ sort map { $_->{field} } @{ $r->{json}{errors} } ],
          ['variables.audience', 'variables.text'], 'each missing variable named once');
$r = req(POST => "/api/v1/prompts/$p->{id}/render", json => { variables => { text => [], audience => 'x' } });
is($r->{status}, 422, 'render with a non-scalar value -> 422');
is($r->{json}{errors}[0]{field}, 'variables.text', 'naming it');

# --- Idempotency-Key
my %idem = (headers => { 'Idempotency-Key' => 'create-1' });
$r = req(POST => '/api/v1/prompts', json => { title => 'Once', content => 'only once' }, %idem);
is($r->{status}, 201, 'first POST with a key -> 201');
my $first = $r;
$r = req(POST => '/api/v1/prompts', json => { title => 'Once', content => 'only once' }, %idem);
is($r->{status}, 201, 'replay -> 201');
is($r->{json}{id}, $first->{json}{id}, 'replay returns the first prompt');
is($r->{headers}{location}, $first->{headers}{location}, 'and its Location');
is($r->{headers}{'idempotent-replayed'}, 'true', 'marked as replayed');
is(db1("select count(*) from prompts where title = 'Once'"), 1, 'only one row created');
$r = req(POST => '/api/v1/prompts', json => { title => 'Twice', content => 'different' }, %idem);
is($r->{status}, 422, 'same key, different body -> 422');
is(db1("select count(*) from prompts where title = 'Twice'"), 0, 'nothing created');
my $bob = $s->token($s->user_create('bob@example.com'));
$r = $s->request(POST => '/api/v1/prompts', { token => $bob, json => { title => 'Once', content => 'bob' }, %idem });
is($r->{status}, 201, 'keys are per user');
isnt($r->{json}{id}, $first->{json}{id}, 'bob gets his own prompt');

# --- delete with If-Match
$r = req(DELETE => "/api/v1/prompts/$p->{id}", headers => { 'If-Match' => '"v1"' });
is($r->{status}, 412, 'DELETE with stale If-Match -> 412');
$r = req(DELETE => "/api/v1/prompts/$p->{id}", headers => { 'If-Match' => '"v4"' });
is($r->{status}, 204, 'DELETE -> 204');
is(db1("select count(*) from prompts where id = '$p->{id}'"), 0, 'row gone');
is(db1("select count(*) from prompt_versions where prompt_id = '$p->{id}'"), 0, 'versions gone with it');
$r = req(GET => "/api/v1/prompts/$p->{id}");
is($r->{status}, 404, 'GET after delete -> 404');
is($r->{headers}{'content-type'}, 'application/problem+json', 'as problem+json');
$r = req(DELETE => "/api/v1/prompts/$p->{id}");
is($r->{status}, 404, 'second DELETE -> 404');

done_testing;
