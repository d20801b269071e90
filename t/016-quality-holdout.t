#!/usr/bin/perl
# 016-quality-holdout.t: no scorer or engine rule names text found only in the held-out part of t/data/quality/.
use strict;
use warnings;
use FindBin;
use Test::More;

# Why: the held-out sources (t/data/quality/SPLIT) measure how the scorer
# and engine generalise; a rule written from them would make that figure
# meaningless.  A "rule term" is a short string literal of the rule files
# (letters, spaces, apostrophes and hyphens, at most 4 words; a trailing
# '*' matches any word ending, as lexicon.c's tables do).  Each term found
# in a held-out prompt must also occur in a tuning-part prompt, in
# t/unit/data/enrich-pairs.txt or in t/data/quality/wordlist.txt (common
# English words, made without reading the held-out part).  The terms of
# t/data/quality/rules-before-split.txt, already in the rules before the
# set existed, are let be; each of them must be a rule term of src/enrich/
# at commit $BASE (checked with git where the history is there).
# QUALITY_HOLDOUT_LIST=1 prints the held-out-only terms, one a line.

my $BASE = '6f074c2';
my $root = $ENV{PROMPTD_SRC_DIR} || "$FindBin::Bin/..";
my $dir  = "$root/t/data/quality";
my @RULE_FILES = ('src/enrich/lexicon.c', 'src/enrich/score.c',
                  map { s{^\Q$root\E/}{}r } glob("$root/src/enrich/engine*.c"));

sub slurp {
    my ($path) = @_;
    open my $fh, '<:encoding(UTF-8)', $path or die "$path: $!";
    local $/;
    return scalar <$fh>;
}

# The split: id -> 'tune' | 'heldout'.
sub load_split {
    my %side;
    for (split /\n/, slurp("$dir/SPLIT")) {
        next if /^%/ || !/\S/;
        my ($id, $s) = split ' ';
        $side{$id} = $s;
    }
    return \%side;
}

# The prompt texts (worse and better) of one source file.
sub texts_of {
    my ($id) = @_;
    my (@t, $cur);
    for (split /\n/, slurp("$dir/$id.txt")) {
        next if /^% /;
        if (/^=== /) { undef $cur; next }
        if (/^--- (worse|better)/) { push @t, ''; $cur = \$t[-1]; next }
        $$cur .= "$_\n" if $cur;
    }
    return @t;
}

# Rule terms, lower-cased, from the string literals of the rule files.
sub rule_terms {
    my %terms;
    for my $f (@RULE_FILES) {
        my $src = slurp("$root/$f");
        $src =~ s{/\*.*?\*/}{}gs;
        $src =~ s{//[^\n]*}{}g;
        while ($src =~ /"((?:[^"\\\n]|\\.)*)"/g) {
            my $lit = lc $1;
            next unless $lit =~ /^[a-z][a-z' -]*\*?$/;
            next if $lit =~ /^\s|\s$/ || split(' ', $lit) > 4;
            $terms{$lit} //= $f;
        }
    }
    return \%terms;
}

sub term_re {
    my ($term) = @_;
    my $prefix = $term =~ s/\*$//;
    my $re = join '\s+', map { quotemeta } split ' ', $term;
    return $prefix ? qr/(?<![\p{L}\p{N}])$re/i
                   : qr/(?<![\p{L}\p{N}])$re(?![\p{L}\p{N}])/i;
}

# Terms occurring in held-out text but in no tuning, project or wordlist
# text: "term (file)" strings.
sub heldout_only {
    my ($terms, $held, $known) = @_;
    my @bad;
    for my $t (sort keys %$terms) {
        my $re = term_re($t);
        push @bad, "'$t' ($terms->{$t})" if $held =~ $re && $known !~ $re;
    }
    return @bad;
}

my $side = load_split();
my (@held, @tune);
for my $id (sort keys %$side) {
    push @{ $side->{$id} eq 'heldout' ? \@held : \@tune }, texts_of($id);
}
my $project = join "\n", grep { !/^% / } split /\n/,
    slurp("$root/t/unit/data/enrich-pairs.txt");
my $wordlist = join "\n", grep { !/^%/ } split /\n/, slurp("$dir/wordlist.txt");
my $known = join "\n", @tune, $project, $wordlist;
my $held = join "\n", @held;
my $terms = rule_terms();
my @before = grep { !/^%/ && /\S/ } split /\n/,
    slurp("$dir/rules-before-split.txt");
if ($ENV{QUALITY_HOLDOUT_LIST}) {
    print "$_\n" for map { /^'(.*)' / } heldout_only($terms, $held, $known);
}
SKIP: {
    my $old = join "\n",
        map { scalar qx{git -C '$root' show '$BASE:$_' 2>/dev/null} } @RULE_FILES;
    skip "no git history for $BASE", 1 unless length $old;
    my @new = grep { $old !~ /"\Q$_\E\*?"/i } @before;
    is(scalar(@new), 0, "rules-before-split.txt: every term was a rule at $BASE")
        or diag "not a rule at $BASE: @new";
}
delete @$terms{@before};

cmp_ok(scalar(keys %$terms), '>', 100, 'rule terms extracted from ' .
       scalar(@RULE_FILES) . ' files: ' . scalar(keys %$terms));
cmp_ok(scalar(@held), '>', 0, 'held-out texts: ' . scalar(@held));
my @bad = heldout_only($terms, $held, $known);
is(scalar(@bad), 0, 'no rule term occurs only in held-out prompts')
    or diag "held-out only: @bad";

# The check itself: a term made of a held-out-only word is caught.
my ($probe) = grep { $held =~ term_re($_) && $known !~ term_re($_) }
    map { lc } $held =~ /\b([a-z]{6,})\b/gi;
SKIP: {
    skip 'no held-out-only word to probe with', 1 unless $probe;
    my @caught = heldout_only({ %$terms, $probe => 'probe' }, $held, $known);
    ok((grep { /^'\Q$probe\E' / } @caught), "a rule naming '$probe' would fail");
}

done_testing();
