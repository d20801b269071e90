# BenchStats: the percentile the Perl benchmarks report (bench/enrich, bench/chaos).
package BenchStats;
use strict;
use warnings;
use Exporter 'import';
our @EXPORT_OK = qw(pct);

# pct($p, @values) -> the $p-th percentile of @values (nearest rank, 0 for none).
sub pct {
    my ($p, @v) = @_;
    return 0 unless @v;
    my @s = sort { $a <=> $b } @v;
    return $s[int($p / 100 * $#s + 0.5)];
}

1;
