package Promptd::JWT;
# Promptd::JWT: sign test tokens by hand (good and deliberately bad ones).
use strict;
use warnings;
use Exporter 'import';
use Digest::SHA qw(hmac_sha256);
use MIME::Base64 qw(encode_base64url);
use JSON::PP;

our @EXPORT_OK = qw(sign_jwt b64u jwt_secret);

sub b64u { encode_base64url($_[0]) }

# The stack's HS256 secret: from its environment or its secrets file.
sub jwt_secret {
    my ($s) = @_;
    return $s->env->{PROMPTD_JWT_SECRET} if $s->env->{PROMPTD_JWT_SECRET};
    open my $fh, '<', $s->var_dir . '/secrets/jwt_secret' or die "jwt_secret: $!";
    my $k = <$fh>;
    chomp $k;
    return $k;
}

# sign_jwt($secret, \%claims | $raw_payload_json, header => \%h | $raw,
#          alg => 'HS256') -> token.  Claims get sane defaults unless
# given: aud authenticated, role authenticated, iat now, exp now + 600.
sub sign_jwt {
    my ($secret, $claims, %o) = @_;
    my $json = JSON::PP->new->canonical;
    my %c = ref $claims ? (aud => 'authenticated', role => 'authenticated',
                           iat => time, exp => time + 600, %$claims) : ();
    delete @c{ grep { !defined $c{$_} } keys %c };   # undef drops a claim
    my $payload = ref $claims ? $json->encode(\%c) : $claims;
    my $header = ref $o{header} ? $json->encode($o{header})
               : $o{header} // '{"alg":"HS256","typ":"JWT"}';
    my $input = b64u($header) . '.' . b64u($payload);
    return "$input." . b64u(hmac_sha256($input, $secret));
}

1;
