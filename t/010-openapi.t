#!/usr/bin/perl
# 010-openapi.t: openapi.json documents exactly the routes the workers serve, and is well-formed.
#
# Env: PROMPTD_BUILD_DIR (cgi-bin/*.fcgi), PROMPTD_SRC_DIR (openapi.json);
# both default to this file's dir/..  PROMPTD_OPENAPI overrides the document.
use strict;
use warnings;

use File::Basename qw(dirname);
use File::Spec;
use JSON::PP;
use Test::More;

my $root = dirname(dirname(File::Spec->rel2abs(__FILE__)));
my $build = $ENV{PROMPTD_BUILD_DIR} || $root;
my $src = $ENV{PROMPTD_SRC_DIR} || $root;
my $doc_file = $ENV{PROMPTD_OPENAPI} || File::Spec->catfile($src, 'openapi.json');

my @METHODS = qw(get put post delete options head patch trace);
my %IS_METHOD = map { $_ => 1 } @METHODS;

sub slurp {
    my ($path) = @_;
    open(my $fh, '<:raw', $path) or die "$path: $!\n";
    local $/;
    return scalar <$fh>;
}

# "METHOD PATTERN creds=... scope=..." lines of `prog --routes`, as [method, openapi_path].
sub routes_of {
    my ($prog) = @_;
    open(my $fh, '-|', $prog, '--routes') or die "$prog: $!\n";
    my @routes;
    while (my $line = <$fh>) {
        chomp $line;
        next if $line eq '';
        my ($method, $pattern) = $line =~ m{^([A-Z]+) (/\S*)(?: creds=\S+(?: scope=\S+)?)?$}
            or die "$prog --routes: unexpected line '$line'\n";
        (my $path = $pattern) =~ s/\{(\w+):\w+\}/{$1}/g;   # {id:uuid} -> {id}
        push @routes, [$method, $path];
    }
    close($fh) or die "$prog --routes failed (status $?)\n";
    return @routes;
}

# The value a local "#/a/b" reference points at, or undef.
sub resolve {
    my ($doc, $ref) = @_;
    return undef unless $ref =~ m{^#(/.*)?$};
    my $node = $doc;
    for my $tok (split m{/}, substr($ref, 2), -1) {
        $tok =~ s/~1/\//g;
        $tok =~ s/~0/~/g;
        if (ref $node eq 'HASH' && exists $node->{$tok}) {
            $node = $node->{$tok};
        } elsif (ref $node eq 'ARRAY' && $tok =~ /^\d+$/ && $tok < @$node) {
            $node = $node->[$tok];
        } else {
            return undef;
        }
    }
    return $node;
}

# Every {"$ref": ...} in the tree, as [json_pointer_of_holder, ref].
sub refs_in {
    my ($node, $where, $out) = @_;
    if (ref $node eq 'HASH') {
        for my $k (sort keys %$node) {
            if ($k eq '$ref' && !ref $node->{$k}) {
                push @$out, [$where, $node->{$k}];
            } else {
                (my $tok = $k) =~ s/~/~0/g;
                $tok =~ s{/}{~1}g;
                refs_in($node->{$k}, "$where/$tok", $out);
            }
        }
    } elsif (ref $node eq 'ARRAY') {
        refs_in($node->[$_], "$where/$_", $out) for 0 .. $#$node;
    }
    return $out;
}

# An object with its $ref followed (one level at a time).
sub deref {
    my ($doc, $node) = @_;
    my %seen;
    while (ref $node eq 'HASH' && defined $node->{'$ref'} && !$seen{$node->{'$ref'}}++) {
        my $target = resolve($doc, $node->{'$ref'});
        return $node unless defined $target;
        $node = $target;
    }
    return $node;
}

my $doc = eval { JSON::PP->new->utf8->decode(slurp($doc_file)) };
ok($doc, "$doc_file parses as JSON") or BAIL_OUT("cannot read $doc_file: $@");
is($doc->{openapi}, '3.1.0', 'openapi is 3.1.0');
ok(ref $doc->{paths} eq 'HASH' && %{$doc->{paths}}, 'paths are present');
my $paths = $doc->{paths} || {};

# Routes the programs serve -> each one is documented.
my @progs = sort glob(File::Spec->catfile($build, 'cgi-bin', '*.fcgi'));
ok(scalar @progs, "route programs found in $build/cgi-bin")
    or diag('build first: make -j2');
my %served;   # "get /path" -> "prog"
for my $prog (@progs) {
    my @routes = eval { routes_of($prog) };
    ok(!$@ && @routes, "$prog --routes lists routes") or diag($@);
    for my $r (@routes) {
        my ($method, $path) = @$r;
        $served{lc($method) . " $path"} = $prog;
        ok(ref $paths->{$path} eq 'HASH' && ref $paths->{$path}{lc $method} eq 'HASH',
           "$method $path is documented");
    }
}

# Documented operations -> each one is served (no stale docs), and has sane responses.
my %op_ids;
my $global_security = $doc->{security} || [];
for my $path (sort keys %$paths) {
    my $item = $paths->{$path};
    my @path_params = $path =~ /\{(\w+)\}/g;
    for my $method (grep { $IS_METHOD{$_} } sort keys %$item) {
        my $op = $item->{$method};
        my $name = uc($method) . " $path";

        ok($served{"$method $path"}, "$name is served by a route table");
        ok(defined $op->{operationId} && !$op_ids{$op->{operationId}}++,
           "$name has a unique operationId");

        my $responses = ref $op->{responses} eq 'HASH' ? $op->{responses} : {};
        ok((grep { /^[23](\d\d|XX)$/ } keys %$responses),
           "$name documents a 2xx/3xx response");
        my $security = exists $op->{security} ? $op->{security} : $global_security;
        if (@$security) {
            ok(exists $responses->{401}, "$name (secured) documents 401");
        } else {
            ok(!exists $responses->{401}, "$name (public) documents no 401");
        }

        # Each {name} in the template is declared as a required path parameter.
        my %declared;
        for my $p (@{$item->{parameters} || []}, @{$op->{parameters} || []}) {
            my $d = deref($doc, $p);
            $declared{$d->{name}} = 1
                if ref $d eq 'HASH' && ($d->{in} // '') eq 'path' && $d->{required};
        }
        for my $pp (@path_params) {
            ok($declared{$pp}, "$name declares path parameter {$pp}");
        }
    }
}

# Every $ref resolves inside the document.
my $refs = refs_in($doc, '#', []);
ok(scalar @$refs, 'the document uses $ref');
my @dangling = grep { !defined resolve($doc, $_->[1]) } @$refs;
ok(!@dangling, 'every $ref resolves (' . scalar(@$refs) . ' refs)')
    or diag(join("\n", map { "$_->[0]: $_->[1]" } @dangling));

done_testing();
