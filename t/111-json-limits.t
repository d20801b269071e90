#!/usr/bin/perl
# 111-json-limits.t: JSON bodies beyond the members / values / depth limits
# answer 413 problem+json, U+0000 in a string answers 422 naming the field,
# and neither writes anything; ordinary bodies still work.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Promptd::Test;

my $s = Promptd::Test->new;
my ($alice, $tok) = $s->users('alice');
my $P = '/api/v1/prompts';
my $r = $s->request(POST => $P, { token => $tok, json => { title => 'Keep', content => 'Hello {{who}}' } });
my $id = $r->{json}{id} or BAIL_OUT("cannot create a prompt: $r->{body}");

# Bodies as text: the limits are about the text the worker reads.
sub members { my ($n, $extra) = @_; '{' . join(',', ($extra // ()), map { qq("k$_":0) } 1 .. $n) . '}' }
sub nest    { my $d = shift; ('[' x $d) . (']' x $d) }
# 30,000 members with 3-character names in base 36: about 240 KB.
sub b36     { my $n = shift; join '', map { (0 .. 9, 'a' .. 'z')[ int($n / 36 ** $_) % 36 ] } 2, 1, 0 }
my $keys30k = '{' . join(',', map { '"' . b36($_) . '":0' } 1 .. 30_000) . '}';
my $ok = '"title":"t","content":"c"';
my $many_tags = '[' . join(',', ('"t"') x 10_001) . ']';

# [name, method, path, body, status, detail regex | errors[] field]
my @cases = (
    ['1001 members', POST => $P, members(1001), 413, qr/more than 1000 members/],
    ["the issue's 30,000 keys", POST => $P, $keys30k, 413, qr/more than 1000 members/],
    ['1001 members in a nested object', POST => $P, qq({$ok,"metadata":) . members(1001) . '}', 413, qr/more than 1000 members/],
    ['10,001 values', POST => $P, qq({$ok,"tags":$many_tags}), 413, qr/more than 10000 values/],
    ['many small arrays', POST => $P, qq({$ok,"metadata":{"a":[) . join(',', ('[]') x 12_000) . ']}}', 413, qr/more than 10000 values/],
    ['65 levels deep', POST => $P, qq({$ok,"metadata":{"a":) . nest(63) . '}}', 413, qr/more than 64 deep/],
    ['100,000 levels deep', POST => $P, nest(100_000), 413, qr/more than 64 deep/],
    ['1001 members on PATCH', PATCH => "$P/$id", members(1001), 413, qr/more than 1000 members/],
    ['1001 members on PATCH /me', PATCH => '/api/v1/me', qq({"preferences":) . members(1001) . '}', 413, qr/more than 1000 members/],
    ['1001 members on render', POST => "$P/$id/render", qq({"variables":) . members(1001) . '}', 413, qr/more than 1000 members/],
    ['U+0000 in the title', POST => $P, '{"title":"a\u0000b","content":"c"}', 422, 'title'],
    ['U+0000 in the content', POST => $P, '{"title":"t","content":"before\u0000after"}', 422, 'content'],
    ['raw NUL in the content', POST => $P, qq({"title":"t","content":"before\0after"}), 422, 'content'],
    ['U+0000 in a tag', POST => $P, qq({$ok,"tags":["ok","x\\u0000"]}), 422, 'tags[1]'],
    ['U+0000 in metadata', POST => $P, qq({$ok,"metadata":{"k":{"n":"\\u0000"}}}), 422, 'metadata.k.n'],
    ['U+0000 in a member name', POST => $P, qq({$ok,"metadata":{"k\\u0000":1}}), 422, 'metadata'],
    ['U+0000 in a PATCH', PATCH => "$P/$id", '{"title":"Keep\u0000pwned"}', 422, 'title'],
    ['U+0000 in a render variable', POST => "$P/$id/render", '{"variables":{"who":"x\u0000"}}', 422, 'variables.who'],
    ['U+0000 in display_name', PATCH => '/api/v1/me', '{"display_name":"A\u0000"}', 422, 'display_name'],
);

sub snapshot {
    join '|', map { join ',', @$_ } @{ $s->psql(
        "select (select count(*) from prompts), (select count(*) from prompt_versions), "
      . "(select string_agg(title || ':' || content, ',' order by title) from prompts), "
      . "(select count(*) from usage_tracking), "
      . "(select coalesce(display_name, '') || preferences::text from profiles where id = '$alice')") };
}

my $before = snapshot();
for my $c (@cases) {
    my ($name, $method, $path, $body, $status, $want) = @$c;
    my $r = $s->request($method, $path, { token => $tok, body => $body,
        headers => { 'Content-Type' => 'application/json' } });
    is($r->{status}, $status, "$name -> $status") or diag substr($r->{body}, 0, 300);
    like($r->{headers}{'content-type'} // '', qr{^application/problem\+json}, "  $name: problem+json");
    if (ref $want) {
        like($r->{json}{detail} // '', $want, "  $name: detail");
    } else {
        my @f = grep { $_->{field} eq $want } @{ $r->{json}{errors} || [] };
        ok(@f == 1, "  $name: errors[] names $want") or diag $r->{body};
        like($f[0]{message} // '', qr/U\+0000/, "  $name: the message says why");
    }
    like($r->{json}{request_id} // '', qr/^[0-9a-f]{32}$/, "  $name: request_id");
}
is(snapshot(), $before, 'no bad body wrote anything');

# The GoTrue-shaped routes parse with the same limits (their own error shape).
$r = $s->request(POST => '/auth/v1/signup', { body => members(1001, '"email":"mallory@example.com","password":"correct horse battery"'),
    headers => { 'Content-Type' => 'application/json' } });
is($r->{status}, 413, 'signup with 1001 members -> 413 (as every route)');
is($r->{json}{error_code}, 'bad_json', '  in GoTrue\'s dialect');
like($r->{json}{msg} // $r->{body}, qr/more than 1000 members/, '  says why');
$r = $s->request(POST => '/auth/v1/signup', { body => '{"email":"mallory@example.com","password":"correct horse\u0000 battery"}',
    headers => { 'Content-Type' => 'application/json' } });
is($r->{status}, 400, 'signup with U+0000 in the password -> 400');
like($r->{json}{msg} // $r->{body}, qr/password must not contain U\+0000/, '  names the field');
is($s->db1("select count(*) from auth.users where email = 'mallory\@example.com'"), 0, '  no user created');

# Ordinary bodies, and bodies right at the limits, still work.
my $meta = '{' . join(',', map { qq("m$_":$_) } 1 .. 999) . '}';
$r = $s->request(POST => $P, { token => $tok, body => qq({$ok,"metadata":$meta}),
    headers => { 'Content-Type' => 'application/json' } });
is($r->{status}, 201, 'metadata with 999 members -> 201') or diag substr($r->{body}, 0, 300);
is($s->db1("select count(*) from jsonb_object_keys((select metadata from prompts where id = '$r->{json}{id}'))"),
   999, '  stored whole');
my $deep = qq({$ok,"metadata":{"a":) . nest(62) . '}}';
$r = $s->request(POST => $P, { token => $tok, body => $deep, headers => { 'Content-Type' => 'application/json' } });
is($r->{status}, 201, '64 levels deep -> 201') or diag substr($r->{body}, 0, 300);
$r = $s->request(POST => $P, { token => $tok, json => { title => 'Escapes', content => "a\\u0000b \x{1} \x{e9}" } });
is($r->{status}, 201, 'a literal backslash-u0000, U+0001 and U+00E9 -> 201') or diag $r->{body};
is($s->db1("select content from prompts where title = 'Escapes'"), "a\\u0000b \x{1} \xc3\xa9", '  stored exactly');
$r = $s->request(POST => $P, { token => $tok, body => '{"title":"d","content":"c","title":"e"}',
    headers => { 'Content-Type' => 'application/json' } });
is($r->{status}, 400, 'a duplicate key is still 400');
like($r->{json}{detail} // '', qr/repeats a key/, '  says so');

done_testing;
