#!/usr/bin/perl
# 112-render-limits.t: POST /api/v1/prompts/{id}/render refuses, with 413
# problem+json and before building it, a text larger than
# PROMPTD_RENDER_MAX_BYTES (1 MiB by default; configurable); up to the
# limit it renders exactly.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Promptd::Test;

# prompt($s, $token, $content) -> id
sub prompt {
    my ($s, $tok, $content) = @_;
    my $r = $s->request(POST => '/api/v1/prompts', { token => $tok, json => { title => 'T', content => $content } });
    $r->{status} == 201 or BAIL_OUT("cannot create a prompt: $r->{status} " . substr($r->{body}, 0, 200));
    return $r->{json}{id};
}

sub render {
    my ($s, $tok, $id, $vars) = @_;
    return $s->request(POST => "/api/v1/prompts/$id/render", { token => $tok, json => { variables => $vars } });
}

# too_big($r, $limit, $name): a 413 problem+json naming the limit.
sub too_big {
    my ($r, $limit, $name) = @_;
    is($r->{status}, 413, "$name -> 413") or diag substr($r->{body}, 0, 300);
    like($r->{headers}{'content-type'} // '', qr{^application/problem\+json}, '  problem+json');
    like($r->{json}{detail} // '', qr/rendered text would exceed $limit bytes/, '  the detail names the limit');
    like($r->{json}{request_id} // '', qr/^[0-9a-f]{32}$/, '  request_id');
    ok(length($r->{body}) < 1000, '  and the answer is short');
}

{
    my $s = Promptd::Test->new;
    my (undef, $tok) = $s->users('alice');
    my $usage = sub { $s->db1("select count(*) from usage_tracking where action = 'prompt.render'") };

    # The issue's request: 20,000 x {{a}} with a 200 KB value is 4 GB of text.
    my $amp = prompt($s, $tok, '{{a}}' x 20_000);
    my $before = $usage->();
    too_big(render($s, $tok, $amp, { a => 'x' x 200_000 }), 1048576, '20,000 x {{a}} with a 200 KB value');
    is($usage->(), $before, '  nothing recorded (the transaction rolled back)');

    # Exactly at the limit, and one byte over (literal text counts too).
    my $at = prompt($s, $tok, '{{ a }}' x 16);
    my $r = render($s, $tok, $at, { a => 'y' x 65536 });
    is($r->{status}, 200, '16 x 64 KiB = exactly 1 MiB -> 200') or diag substr($r->{body}, 0, 300);
    is(length($r->{json}{text} // ''), 1048576, '  the whole text');
    ok(($r->{json}{text} // '') eq 'y' x 1048576, '  every byte the value');
    is_deeply($r->{json}{variables}, ['a'], '  variables used');
    is($usage->(), $before + 1, '  recorded once');
    too_big(render($s, $tok, prompt($s, $tok, ('{{a}}' x 16) . '!'), { a => 'y' x 65536 }), 1048576,
            'one literal byte over');
    too_big(render($s, $tok, $at, { a => 'y' x 65537 }), 1048576, 'one value byte over');

    # Numbers render as their JSON text, and count with their length.
    $r = render($s, $tok, prompt($s, $tok, 'n={{n}}, b={{b}}, n={{n}}'), { n => 12.5, b => JSON::PP::true, unused => 'x' });
    is($r->{status}, 200, 'numbers and booleans -> 200');
    is($r->{json}{text}, 'n=12.5, b=true, n=12.5', '  rendered');
    is_deeply($r->{json}{variables}, ['n', 'b'], '  in first-use order');

    # Errors still come first: one per missing variable, in order, once each;
    # a bad value once however often it is used.
    my $miss = prompt($s, $tok, '{{a}} {{m}} {{a}} {{ m }} {{z}} {{bad}} {{bad}} {{ {{not one}}');
    $r = render($s, $tok, $miss, { a => 'x' x 200_000, bad => [1] });
    is($r->{status}, 422, 'missing variables -> 422 (before the size)');
    is_deeply([ map { "$_->{field}: $_->{message}" } @{ $r->{json}{errors} || [] } ],
              ['variables.bad: must be a string, number or boolean',
               'variables.m: is required by the prompt', 'variables.z: is required by the prompt'],
              '  each missing or bad variable once, missing ones in order of appearance')
        or diag $r->{body};

    # 10,000 distinct missing names (sorted, not compared pairwise); the
    # answer lists the first 100 and says there are more.
    my $names = prompt($s, $tok, join ' ', map { "{{v$_}}" } 1 .. 10_000);
    $r = render($s, $tok, $names, {});
    is($r->{status}, 422, '10,000 distinct missing variables -> 422');
    my @e = @{ $r->{json}{errors} || [] };
    is(scalar @e, 101, '  100 errors and one more');
    is_deeply([ map { $_->{field} } @e[0 .. 99] ], [ map { "variables.v$_" } 1 .. 100 ], '  the first 100, in order');
    is($e[100]{field}, 'body', '  then the body');
    like($e[100]{message}, qr/only the first 100 are listed/, '  saying more were left out');

    # JSON escapes in the text and in the values, written in place.
    $r = render($s, $tok, prompt($s, $tok, qq(Say "{{q}}"\tand\n{{q}}\x01)), { q => qq(a\\b"\x{e9}\x02) });
    is($r->{status}, 200, 'escapes -> 200') or diag $r->{body};
    is($r->{json}{text}, qq(Say "a\\b"\x{e9}\x02"\tand\na\\b"\x{e9}\x02\x01), '  round-trips exactly');
}

{
    my $s = Promptd::Test->new(PROMPTD_RENDER_MAX_BYTES => 1000);
    my (undef, $tok) = $s->users('bob');
    my $id = prompt($s, $tok, '{{a}}' x 10);
    my $r = render($s, $tok, $id, { a => 'z' x 100 });
    is($r->{status}, 200, 'PROMPTD_RENDER_MAX_BYTES=1000: 1000 bytes -> 200');
    is(length($r->{json}{text} // ''), 1000, '  the whole text');
    too_big(render($s, $tok, $id, { a => 'z' x 101 }), 1000, 'PROMPTD_RENDER_MAX_BYTES=1000: 1010 bytes');
    $r = render($s, $tok, $id, { a => "\x{e9}" x 50 });
    is($r->{status}, 200, '  the limit counts bytes: 50 x U+00E9 x 10 = 1000 bytes -> 200');
    too_big(render($s, $tok, $id, { a => "\x{e9}" x 51 }), 1000, '  51 x U+00E9 x 10 = 1020 bytes');
}

done_testing;
