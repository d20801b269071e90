package Promptd::Image;
# Image.pm: small real PNG files for the storage tests, written with core Perl (Compress::Zlib): a gradient of any size, and a decompression bomb (huge dimensions, a few KB of zeros).
use strict;
use warnings;
use Compress::Zlib qw(crc32 deflateInit Z_OK Z_FINISH Z_BEST_COMPRESSION);
use Exporter 'import';
our @EXPORT_OK = qw(png bomb_png);

sub _chunk {
    my ($type, $data) = @_;
    return pack('N', length $data) . $type . $data . pack('N', crc32($type . $data));
}

# _png($w, $h, $colour_type, $row_fn): rows from $row_fn->($y) (without the
# filter byte), deflated as they come.
sub _png {
    my ($w, $h, $ct, $row) = @_;
    my ($d, $st) = deflateInit(-Level => Z_BEST_COMPRESSION);
    die "deflateInit: $st" unless $st == Z_OK;
    my $idat = '';
    for my $y (0 .. $h - 1) {
        my ($out, $s) = $d->deflate("\0" . $row->($y));
        die "deflate: $s" unless $s == Z_OK;
        $idat .= $out;
    }
    my ($out, $s) = $d->flush(Z_FINISH);
    $idat .= $out;
    return "\x89PNG\r\n\x1a\n"
         . _chunk('IHDR', pack('NNCCCCC', $w, $h, 8, $ct, 0, 0, 0))
         . _chunk('IDAT', $idat) . _chunk('IEND', '');
}

# png($w, $h) -> an RGB PNG, a gradient (every file of a size is the same;
# $seed varies the colours, so two calls can give different bytes).
sub png {
    my ($w, $h, $seed) = @_;
    $seed //= 0;
    return _png($w, $h, 2, sub {
        my ($y) = @_;
        return join '', map { pack('CCC', ($_ * 7 + $seed) % 256, ($y * 5) % 256, ($_ + $y + $seed) % 256) } 0 .. $w - 1;
    });
}

# bomb_png($w, $h) -> a greyscale PNG of zeros: tiny on disk, $w x $h
# pixels when decoded.
sub bomb_png {
    my ($w, $h) = @_;
    my $zero = "\0" x $w;
    return _png($w, $h, 0, sub { $zero });
}

1;
