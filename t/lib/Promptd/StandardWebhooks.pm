# Promptd::StandardWebhooks: an independent Standard Webhooks (v1, HMAC-SHA256) signer and verifier, to check promptd's deliveries.
package Promptd::StandardWebhooks;

# Usage:
#   use Promptd::StandardWebhooks qw(verify sign);
#   my ($ok, $why) = verify('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', $r->{headers}, $r->{body});
#   my ($ok, $why) = verify($secret, \%headers, $body, tolerance => 300, now => time);
#       # (1, undef), or (0, reason): 'missing header webhook-id' (also -timestamp,
#       # -signature), 'bad secret', 'bad timestamp', 'timestamp too old',
#       # 'timestamp too new', 'no matching signature'
#   my $sig = sign($secret, $msg_id, $unix_seconds, $body);   # 'v1,<base64>'
#
# The secret is "whsec_" + base64 of the HMAC key.  The signed content is
# "<webhook-id>.<webhook-timestamp>.<body>"; header names are matched without
# regard to case; the body is the raw bytes as received.  webhook-signature is
# a space-separated list: it verifies when any "v1,..." entry matches (compared
# in constant time); other versions are ignored.  The timestamp (integer unix
# seconds) must be within tolerance (300 s by default) of now, either way.
use strict;
use warnings;
use Digest::SHA qw(hmac_sha256);
use Exporter 'import';
use MIME::Base64 qw(encode_base64 decode_base64);

our @EXPORT_OK = qw(verify sign);

# The HMAC key of a secret, or undef when it is not "whsec_<base64>".
sub _key {
    my ($secret) = @_;
    return undef unless defined $secret && $secret =~ m{^whsec_([A-Za-z0-9+/]+={0,2})$};
    my $key = decode_base64($1);
    return length $key ? $key : undef;
}

sub sign {
    my ($secret, $id, $ts, $body) = @_;
    my $key = _key($secret) // die "Promptd::StandardWebhooks::sign: bad secret\n";
    return 'v1,' . encode_base64(hmac_sha256("$id.$ts.$body", $key), '');
}

sub verify {
    my ($secret, $headers, $body, %opt) = @_;
    my %h = map { lc($_) => $headers->{$_} } keys %{ $headers // {} };
    for (qw(webhook-id webhook-timestamp webhook-signature)) {
        return (0, "missing header $_") unless defined $h{$_} && length $h{$_};
    }
    my $key = _key($secret) // return (0, 'bad secret');
    my $ts = $h{'webhook-timestamp'};
    return (0, 'bad timestamp') unless $ts =~ /^\d{1,12}$/;
    my $now = $opt{now} // time;
    my $tol = $opt{tolerance} // 300;
    return (0, 'timestamp too old') if $now - $ts > $tol;
    return (0, 'timestamp too new') if $ts - $now > $tol;
    my $want = 'v1,' . encode_base64(hmac_sha256("$h{'webhook-id'}.$ts.$body", $key), '');
    for my $sig (split / /, $h{'webhook-signature'}) {
        next unless $sig =~ /^v1,/ && length $sig == length $want;
        my $diff = 0;
        $diff |= ord(substr($sig, $_, 1)) ^ ord(substr($want, $_, 1)) for 0 .. length($want) - 1;
        return (1, undef) if !$diff;
    }
    return (0, 'no matching signature');
}

1;
