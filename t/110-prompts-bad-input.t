#!/usr/bin/perl
# 110-prompts-bad-input.t: every bad request gets the right 4xx problem+json,
# never a 5xx, and leaves the database unchanged.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Promptd::Test;

my $s = Promptd::Test->new(PROMPTD_MAX_BODY => 131072);
my $alice = $s->token($s->user_create('alice@example.com'));
my $bob = $s->token($s->user_create('bob@example.com'));
my $r = $s->request(POST => '/api/v1/prompts',
    { token => $alice, json => { title => 'Mine', content => 'Alice only {{x}}' } });
my $id = $r->{json}{id} or BAIL_OUT("cannot create a prompt: $r->{body}");
my $P = '/api/v1/prompts';
my $ok_body = '{"title":"t","content":"c"}';
my $json = 'application/json';

# [name, method, path, {request opts}, status, detail-or-field regex]
my @cases = (
    ['malformed JSON', POST => $P, { body => '{"title":', ct => $json }, 400, qr/Malformed JSON/],
    ['trailing garbage', POST => $P, { body => "$ok_body x", ct => $json }, 400, qr/trailing/],
    ['duplicate keys', POST => $P, { body => '{"title":"a","title":"b","content":"c"}', ct => $json }, 400, qr/repeats a key/],
    ['array body', POST => $P, { body => '[1,2]', ct => $json }, 400, qr/JSON object/],
    ['string body', POST => $P, { body => '"hi"', ct => $json }, 400, qr/JSON object/],
    ['empty body', POST => $P, { body => '', ct => $json }, 400, qr/required/],
    ['invalid UTF-8', POST => $P, { body => qq({"title":"\xff","content":"c"}), ct => $json }, 400, qr/UTF-8/],
    ['not JSON content type', POST => $P, { body => $ok_body, ct => 'text/plain' }, 415, qr/application\/json/],
    ['no content type', POST => $P, { body => $ok_body }, 415, qr/application\/json/],
    ['oversize body (worker cap)', POST => $P, { body => '{"title":"t","content":"' . ('a' x 140000) . '"}', ct => $json }, 413, qr//],
    ['title missing', POST => $P, { json => { content => 'c' } }, 422, 'title'],
    ['content missing', POST => $P, { json => { title => 't' } }, 422, 'content'],
    ['title wrong type', POST => $P, { json => { title => 5, content => 'c' } }, 422, 'title'],
    ['title null', POST => $P, { json => { title => undef, content => 'c' } }, 422, 'title'],
    ['title too long', POST => $P, { json => { title => 'x' x 201, content => 'c' } }, 422, 'title'],
    ['title empty', POST => $P, { json => { title => '', content => 'c' } }, 422, 'title'],
    ['content too big', POST => $P, { json => { title => 't', content => 'x' x 102401 } }, 422, 'content'],
    ['too many tags', POST => $P, { json => { title => 't', content => 'c', tags => [ map {"t$_"} 1 .. 21 ] } }, 422, 'tags'],
    ['tag not a string', POST => $P, { json => { title => 't', content => 'c', tags => [1] } }, 422, 'tags[0]'],
    ['tags not an array', POST => $P, { json => { title => 't', content => 'c', tags => 'a' } }, 422, 'tags'],
    ['metadata not an object', POST => $P, { json => { title => 't', content => 'c', metadata => [1] } }, 422, 'metadata'],
    ['folder not a path', POST => $P, { json => { title => 't', content => 'c', folder => 'a/b' } }, 422, 'folder'],
    ['folder with ..', POST => $P, { json => { title => 't', content => 'c', folder => '/a/../b' } }, 422, 'folder'],
    ['unknown field', POST => $P, { json => { title => 't', content => 'c', owner => 'x' } }, 422, 'owner'],
    ['read-only field', POST => $P, { json => { title => 't', content => 'c', version => 9 } }, 422, 'version'],
    ['no token', POST => $P, { json => { title => 't', content => 'c' }, token => undef }, 401, qr/Bearer token/],
    ['garbage token', POST => $P, { json => { title => 't', content => 'c' }, token => 'abc' }, 401, qr/invalid/],
    ['empty patch', PATCH => "$P/$id", { json => {} }, 422, 'body'],
    ['patch wrong type', PATCH => "$P/$id", { json => { tags => { a => 1 } } }, 422, 'tags'],
    ['invalid uuid', GET => "$P/not-a-uuid", {}, 400, qr/UUID/],
    ['invalid uuid patch', PATCH => "$P/1234", { json => { title => 'x' } }, 400, qr/UUID/],
    ['unknown route', GET => '/api/v1/prompts/x/y/z/w', {}, 404, qr//],
    ['unknown family path', GET => '/api/v1/nothing', {}, 404, qr//],
    ['wrong method', PUT => "$P/$id", { json => { title => 'x' } }, 405, qr/PUT/],
    ['wrong method on collection', DELETE => $P, {}, 405, qr/DELETE/],
    ["bob reads alice's prompt", GET => "$P/$id", { token => $bob }, 404, qr//],
    ["bob patches alice's prompt", PATCH => "$P/$id", { token => $bob, json => { title => 'pwned' } }, 404, qr//],
    ["bob deletes alice's prompt", DELETE => "$P/$id", { token => $bob }, 404, qr//],
    ["bob lists alice's versions", GET => "$P/$id/versions", { token => $bob }, 404, qr//],
    ["bob reads alice's version", GET => "$P/$id/versions/1", { token => $bob }, 404, qr//],
    ["bob restores alice's version", POST => "$P/$id/versions/1/restore", { token => $bob }, 404, qr//],
    ["bob renders alice's prompt", POST => "$P/$id/render", { token => $bob, json => { variables => { x => 1 } } }, 404, qr//],
    ['render variables not an object', POST => "$P/$id/render", { json => { variables => [] } }, 422, 'variables'],
    ['empty Idempotency-Key', POST => $P, { json => { title => 't', content => 'c' }, headers => { 'Idempotency-Key' => '' } }, 400, qr/Idempotency-Key/],
    ['overlong Idempotency-Key', POST => $P, { json => { title => 't', content => 'c' }, headers => { 'Idempotency-Key' => 'k' x 256 } }, 400, qr/Idempotency-Key/],
);

sub snapshot {
    join '|', map { join ',', @$_ } @{ $s->psql(
        "select (select count(*) from prompts), (select count(*) from prompt_versions), "
      . "(select coalesce(max(version), 0) from prompts), (select count(*) from idempotency_keys), "
      . "(select string_agg(title, ',' order by title) from prompts)") };
}

my $before = snapshot();
for my $c (@cases) {
    my ($name, $method, $path, $o, $status, $want) = @$c;
    my %opt = (token => exists $o->{token} ? $o->{token} : $alice);
    delete $opt{token} unless defined $opt{token};
    $opt{json} = $o->{json} if exists $o->{json};
    $opt{body} = $o->{body} if exists $o->{body};
    $opt{headers} = { %{ $o->{headers} || {} } };
    $opt{headers}{'Content-Type'} = $o->{ct} if $o->{ct};
    my $r = $s->request($method, $path, \%opt);
    is($r->{status}, $status, "$name -> $status") or diag $r->{body};
    like($r->{headers}{'content-type'} // '', qr{^application/problem\+json}, "  $name: problem+json");
    if (ref $want) {
        like($r->{json}{detail} // '', $want, "  $name: detail");
    } else {
        ok((grep { $_->{field} eq $want } @{ $r->{json}{errors} || [] }), "  $name: errors[] names $want")
            or diag $r->{body};
    }
    like($r->{json}{request_id} // '', qr/^[0-9a-f]{32}$/, "  $name: request_id") if $status != 413 || $r->{json}{request_id};
    is($r->{headers}{allow}, $method eq 'PUT' ? 'GET, HEAD, PATCH, DELETE' : 'GET, HEAD, POST', '  Allow header')
        if $status == 405;
    like($r->{headers}{'www-authenticate'} // '', qr/^Bearer/, '  WWW-Authenticate') if $status == 401;
}
is(snapshot(), $before, 'the database is unchanged by every bad request');

# nginx's own body limit answers 413 as problem+json before any worker.
my $big = $s->request(POST => $P, { token => $alice, body => 'x' x 200_000, headers => { 'Content-Type' => $json } });
is($big->{status}, 413, 'body over client_max_body_size -> 413');
like($big->{headers}{'content-type'} // '', qr{problem\+json}, '  as problem+json');
is(snapshot(), $before, 'still unchanged');

done_testing;
