# Promptd::SF: parse an HTTP Structured Field List (RFC 9651) of bare items with parameters, for the RateLimit fields.
package Promptd::SF;

use strict;
use warnings;
use Exporter qw(import);

our @EXPORT_OK = qw(sf_list sf_param);

my $STRING = qr/"((?:[^"\\\x00-\x1f\x7f]|\\["\\])*)"/;
my $INT    = qr/(-?\d{1,15})(?![.\d])/;
my $TOKEN  = qr/([A-Za-z*][A-Za-z0-9:\/!#\$%&'*+\-.^_`|~]*)/;
my $KEY    = qr/([a-z*][a-z0-9_\-.*]*)/;

# One bare item at pos($$v): [type, value] or undef.
sub _bare {
    my ($v) = @_;
    if ($$v =~ /\G$STRING/gc) { (my $s = $1) =~ s/\\(.)/$1/g; return ['string', $s] }
    return ['integer', $1 + 0] if $$v =~ /\G$INT/gc;
    return ['boolean', $1 + 0] if $$v =~ /\G\?([01])/gc;
    return ['token', $1] if $$v =~ /\G$TOKEN/gc;
    return undef;
}

# sf_list($value or [$line, ...]) -> [{type, value, params => {k => [type, v]}}, ...]
# or undef when the text is not a valid List (several lines are joined with
# ", " as RFC 9110 combines repeated fields).
sub sf_list {
    my ($raw) = @_;
    my $v = ref $raw ? join(', ', @$raw) : $raw;
    my @out;
    pos($v) = 0;
    $v =~ /\G[ ]*/gc;
    return undef if pos($v) == length $v;    # an empty List is not sent
    while (1) {
        my $item = _bare(\$v) or return undef;
        my %p;
        while ($v =~ /\G;[ ]*$KEY/gc) {
            my $k = $1;
            my $pv = ['boolean', 1];
            if ($v =~ /\G=/gc) { $pv = _bare(\$v) or return undef }
            $p{$k} = $pv;
        }
        push @out, { type => $item->[0], value => $item->[1], params => \%p };
        $v =~ /\G[ \t]*/gc;
        last if pos($v) == length $v;
        return undef unless $v =~ /\G,[ \t]*/gc;
        return undef if pos($v) == length $v;  # trailing comma
    }
    return \@out;
}

# sf_param($value, $name, $key) -> the value of parameter $key of the
# List's item $name (a policy name, as "requests_per_minute"), or undef
# when the field, the item or the parameter is missing.
sub sf_param {
    my ($raw, $name, $key) = @_;
    for my $i (@{ sf_list($raw) || [] }) {
        return $i->{params}{$key} ? $i->{params}{$key}[1] : undef if $i->{value} eq $name;
    }
    return undef;
}

1;
