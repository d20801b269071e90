#!/usr/bin/perl
# 101-prompts-list.t: keyset pagination, sorting, full-text search, tag and folder filters.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Promptd::Test;

my $s = Promptd::Test->new;
my $alice = $s->token($s->user_create('alice@example.com'));
my $bob = $s->token($s->user_create('bob@example.com'));

sub create {
    my ($tok, %f) = @_;
    my $r = $s->request(POST => '/api/v1/prompts', { token => $tok, json => \%f });
    die "create failed: $r->{status} $r->{body}" unless $r->{status} == 201;
    return $r->{json};
}
sub list { my ($tok, $q) = @_; $s->request(GET => "/api/v1/prompts$q", { token => $tok }) }
sub ids { [ map { $_->{id} } @{ $_[0]{json}{items} } ] }

my @made;
for my $i (1 .. 25) {
    push @made, create($alice, title => "Prompt $i", content => "Body number $i",
        tags => [ $i % 2 ? 'odd' : 'even' ], folder => $i <= 5 ? '/five' : '/');
}
my $special = create($alice, title => 'Kubernetes deployment checklist',
    content => 'Explain how to roll back a kubernetes deployment safely.', tags => ['ops']);
create($alice, title => 'Cooking', content => 'A recipe that mentions kubernetes once.');
create($bob, title => "Bob's", content => 'kubernetes for bob');

# Default: updated_at desc, 20 per page.
my $r = list($alice, '');
is($r->{status}, 200, 'list -> 200');
is(scalar @{ $r->{json}{items} }, 20, 'default page size 20');
ok($r->{json}{next_cursor}, 'a next_cursor');
my @seen = @{ ids($r) };
my @times = map { $_->{updated_at} } @{ $r->{json}{items} };
is_deeply(\@times, [ sort { $b cmp $a } @times ], 'sorted by updated_at, newest first');
$r = list($alice, "?cursor=$r->{json}{next_cursor}");
is($r->{status}, 200, 'page 2 -> 200');
is(scalar @{ $r->{json}{items} }, 7, 'the remaining 7');
is($r->{json}{next_cursor}, undef, 'no cursor after the last page');
push @seen, @{ ids($r) };
my %uniq = map { $_ => 1 } @seen;
is(scalar keys %uniq, 27, 'every prompt exactly once across pages');
ok(!grep({ $_->{title} eq "Bob's" } @{ $r->{json}{items} }), "bob's prompt never listed for alice");

# Small pages walk the whole set without gaps or repeats.
my ($cursor, @walk) = ('');
for (1 .. 20) {
    $r = list($alice, "?limit=4&sort=created" . ($cursor ? "&cursor=$cursor" : ''));
    push @walk, @{ ids($r) };
    $cursor = $r->{json}{next_cursor} or last;
}
is(scalar @walk, 27, 'limit=4 pages cover all 27');
is(scalar keys %{ { map { $_ => 1 } @walk } }, 27, 'with no repeats');
is($walk[-1], $made[0]{id}, 'sort=created ends with the oldest');

# Search: ranked, only matching rows, only the caller's.
$r = list($alice, '?q=kubernetes');
is($r->{status}, 200, 'search -> 200');
is(scalar @{ $r->{json}{items} }, 2, 'two of alice\'s prompts mention kubernetes');
is($r->{json}{items}[0]{id}, $special->{id}, 'the title match ranks first');
$r = list($alice, '?q=kubernetes&limit=1');
is(scalar @{ $r->{json}{items} }, 1, 'search pages too');
$r = list($alice, "?q=kubernetes&limit=1&cursor=$r->{json}{next_cursor}");
is(scalar @{ $r->{json}{items} }, 1, 'second search page');
isnt($r->{json}{items}[0]{id}, $special->{id}, 'with the other match');
$r = list($bob, '?q=kubernetes');
is(scalar @{ $r->{json}{items} }, 1, 'bob finds only his own');
$r = list($alice, '?q=%22roll%20back%22');
is(scalar @{ $r->{json}{items} }, 1, 'phrase search (websearch syntax)');

# Filters.
$r = list($alice, '?tag=odd&limit=100');
is(scalar @{ $r->{json}{items} }, 13, 'tag=odd');
ok(!grep({ !grep { $_ eq 'odd' } @{ $_->{tags} } } @{ $r->{json}{items} }), 'all tagged odd');
$r = list($alice, '?folder=/five&limit=100');
is(scalar @{ $r->{json}{items} }, 5, 'folder=/five');
$r = list($alice, '?folder=/five&tag=even');
is(scalar @{ $r->{json}{items} }, 2, 'filters combine');

# Bad query parameters.
my @bad = (
    ['?limit=0', 422, 'limit'], ['?limit=101', 422, 'limit'], ['?limit=abc', 422, 'limit'],
    ['?sort=title', 422, 'sort'], ['?folder=no-slash', 422, 'folder'], ['?q=%zz', 422, 'q'],
);
for my $b (@bad) {
    $r = list($alice, $b->[0]);
    is($r->{status}, $b->[1], "$b->[0] -> $b->[1]");
    is($r->{json}{errors}[0]{field}, $b->[2], "  naming $b->[2]");
}
use MIME::Base64 qw(encode_base64url);
my $forged = encode_base64url("u|not-a-time|$made[0]{id}");
for my $c ('garbage', 'AAAA', 'dXxub3R8YXx1dWlk', $forged) {
    $r = list($alice, "?cursor=$c");
    is($r->{status}, 400, "cursor '$c' -> 400");
}
$r = $s->request(GET => "/api/v1/prompts/$made[0]{id}/versions?cursor=99999999999", { token => $alice });
is($r->{status}, 422, 'an out-of-range versions cursor -> 422');
$r = list($alice, '?limit=1');
my $updated_cursor = $r->{json}{next_cursor};
$r = list($alice, "?sort=created&cursor=$updated_cursor");
is($r->{status}, 400, 'a cursor from another sort order -> 400');
is($r->{headers}{'content-type'}, 'application/problem+json', 'as problem+json');

done_testing;
