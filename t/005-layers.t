#!/usr/bin/perl
# 005-layers.t: the include graph points one way (core <- db <- http <- families); make check-layers runs it too.
use strict;
use warnings;
use File::Find;
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use FindBin;
use Test::More;

# Which layers a file may include, by the folder it lives in (the first
# matching row wins).  A layer is an include path's first component
# ("db/db.h" -> db); an include without a folder is the file's own layer.
# allow: only these; deny: anything but these.
my @RULES = (
    [ 'src/crypto' => { allow => [qw(crypto)] } ],
    [ 'src/core'   => { allow => [qw(core crypto)] } ],
    [ 'src/net'    => { allow => [qw(net core crypto)] } ],
    [ 'src/db'     => { allow => [qw(db core crypto)] } ],
    [ 'src/auth'   => { allow => [qw(auth core crypto db net)] } ],
    [ 'src/jobs'   => { allow => [qw(jobs core crypto db)] } ],   # names no module
    [ 'src/http'   => { deny  => [qw(enrich jobs share prompts cmd cgi-bin)] } ],
    [ 'src/enrich' => { deny  => [qw(http share cmd gateway cgi-bin)] } ],
    [ 'src/mail'   => { allow => [qw(mail jobs core crypto db)] } ],
    [ 'src/gateway' => { deny => [qw(share prompts cmd cgi-bin)] } ],   # one program's
    [ 'src/cmd'    => { deny  => [qw(cgi-bin)] } ],
    [ 'src'        => { deny  => [qw(cgi-bin cmd)] } ],   # every library folder
    [ 'cgi-bin'    => { deny  => [qw(cmd)] } ],
);

# Known violations, each "file => include", to delete as their fix lands.
# None today; an entry needs a comment saying why and when it goes.
my %ALLOWED = (
);

# Every #include "..." under src/ and cgi-bin/ of root breaking a rule:
# a list of "file:line: message".
sub violations {
    my ($root, $allowed) = @_;
    my @files;
    for my $top (grep { -d "$root/$_" } qw(src cgi-bin)) {
        find({ no_chdir => 1, wanted => sub {
            push @files, $File::Find::name if /\.[ch]\z/ && -f $_;
        } }, "$root/$top");
    }
    my @bad;
    for my $path (sort @files) {
        (my $file = $path) =~ s{^\Q$root\E/}{};
        my ($dir) = $file =~ m{^(.*)/[^/]+\z};
        my ($rule) = map { $_->[1] } grep { $dir eq $_->[0] || index($dir, "$_->[0]/") == 0 } @RULES
            or next;
        my $own = $dir =~ m{^src/([^/]+)} ? $1 : $dir;
        open(my $fh, '<', $path) or die "$path: $!";
        while (my $line = <$fh>) {
            my ($inc) = $line =~ /^\s*#\s*include\s+"([^"]+)"/ or next;
            my $layer = $inc =~ m{^([^/]+)/} ? $1 : $own;
            next if ($allowed->{$file} // '') eq $inc;
            my $ok = $rule->{allow} ? (grep { $_ eq $layer } @{ $rule->{allow} })
                                    : !(grep { $_ eq $layer } @{ $rule->{deny} });
            next if $ok;
            push @bad, sprintf('%s:%d: includes "%s" (%s %s: %s)', $file, $.,
                $inc, $dir, $rule->{allow} ? 'may include only' : 'may not include',
                join(', ', @{ $rule->{allow} // $rule->{deny} }));
        }
        close $fh;
    }
    return @bad;
}

# The tree itself.
my $root = "$FindBin::Bin/..";
my @bad = violations($root, \%ALLOWED);
diag($_) for @bad;
is(scalar @bad, 0, 'no include crosses a layer the wrong way');

# The checker catches a violation of each rule in a synthetic tree.
my $tmp = tempdir(CLEANUP => 1);
my %tree = (
    'src/core/ok.c'      => qq{#include "core/arena.h"\n#include "crypto/hash.h"\n#include "ok.h"\n},
    'src/core/bad.c'     => qq{#include "core/arena.h"\n#include "http/request.h"\n},
    'src/core/config.c'  => qq{#include "net/outbound.h"\n},
    'src/crypto/bad.c'   => qq{#include "core/arena.h"\n},
    'src/db/bad.c'       => qq{#include "core/log.h"\n\n#include "http/response.h"\n},
    'src/db/ok.c'        => qq{#include "core/log.h"\n#include "db/db.h"\n},
    'src/jobs/bad.c'     => qq{#include "cmd/promptctl.h"\n},
    'src/enrich/bad.h'   => qq{#include "cgi-bin/x.h"\n},
    'src/cmd/ok.c'       => qq{#include "cmd/migrate.h"\n#include "http/server.h"\n},
    'cgi-bin/ok.c'       => qq{#include "http/server.h"\n},
);
for my $f (keys %tree) {
    my ($d) = "$tmp/$f" =~ m{^(.*)/};
    make_path($d);
    open(my $fh, '>', "$tmp/$f") or die "$tmp/$f: $!";
    print $fh $tree{$f};
    close $fh;
}
my @got = map { /^([^:]+:\d+):/ ? $1 : $_ } violations($tmp, \%ALLOWED);
is_deeply(\@got, [qw(src/core/bad.c:2 src/core/config.c:1 src/crypto/bad.c:1 src/db/bad.c:3
                     src/enrich/bad.h:1 src/jobs/bad.c:1)],
          'a synthetic tree: each rule reports file:line')
    or diag(explain \@got);
my @excused = violations($tmp, {'src/core/config.c' => 'net/outbound.h'});
ok(!(grep { /^src\/core\/config\.c:/ } @excused) && @excused == @got - 1,
   'an allow-list entry excuses that one include and nothing else');

done_testing();
