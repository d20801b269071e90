#!/usr/bin/perl
# 220-jwks.t: ES256 / RS256 tokens verified against PROMPTD_JWKS (a URL served on loopback, and a file).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP;
use POSIX ();
use Promptd::Test;
use Promptd::JWT qw(sign_jwt b64u jwt_secret);

plan skip_all => 'openssl CLI not found' if system('openssl version >/dev/null 2>&1') != 0;

my $dir = tempdir('promptd-jwks-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $dir;    # the workers (promptd when root) read the file JWKS
my $JSON = JSON::PP->new->canonical;

sub slurp { local $/; open my $fh, '<:raw', $_[0] or die "$_[0]: $!"; my $d = <$fh>; $d }
sub spew  { open my $fh, '>:raw', $_[0] or die "$_[0]: $!"; print $fh $_[1]; close $fh; chmod 0644, $_[0] }
sub run   { system(@_) == 0 or die "@_ failed\n" }

# Keys made with the openssl CLI: an EC P-256 pair and an RSA-2048 pair.
run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $dir/ec.pem 2>/dev/null");
run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out $dir/rsa.pem 2>/dev/null");
run("openssl pkey -in $dir/ec.pem -pubout -out $dir/ec.pub.pem 2>/dev/null");
run("openssl pkey -in $dir/ec.pem -pubout -outform DER -out $dir/ec.pub.der 2>/dev/null");
my $point = substr(slurp("$dir/ec.pub.der"), -65);    # 04 || x || y
die "no uncompressed point\n" unless substr($point, 0, 1) eq "\x04";
my ($modulus) = `openssl rsa -in $dir/rsa.pem -noout -modulus 2>/dev/null` =~ /Modulus=([0-9A-F]+)/;
die "no RSA modulus\n" unless $modulus;

my %jwk_ec = (kty => 'EC', crv => 'P-256', kid => 'k-ec', use => 'sig', alg => 'ES256',
              x => b64u(substr($point, 1, 32)), y => b64u(substr($point, 33, 32)));
my %jwk_rsa = (kty => 'RSA', kid => 'k-rsa', alg => 'RS256', n => b64u(pack('H*', $modulus)), e => 'AQAB');
my $jwks = $JSON->encode({ keys => [ \%jwk_ec, \%jwk_rsa ] });
spew("$dir/jwks.json", $jwks);

# DER ECDSA-Sig-Value -> raw R || S (32 bytes each).
sub der_to_raw {
    my ($der) = @_;
    my $p = 2;
    my @ints;
    for (1 .. 2) {
        die "not DER\n" unless substr($der, $p, 1) eq "\x02";
        my $len = ord substr($der, $p + 1, 1);
        my $v = substr($der, $p + 2, $len);
        $v =~ s/^\x00+//;
        push @ints, ("\x00" x (32 - length $v)) . $v;
        $p += 2 + $len;
    }
    return join '', @ints;
}

# sign($alg, \%header, \%claims | $payload, raw => 0) -> token, signed by
# the CLI: ES256 as raw R||S (or DER with raw => 0), RS256 PKCS#1 v1.5.
sub sign {
    my ($key, $header, $claims, %o) = @_;
    my $payload = ref $claims
        ? $JSON->encode({ aud => 'authenticated', role => 'authenticated', iat => time,
                          exp => time + 600, %$claims })
        : $claims;
    my $input = b64u($JSON->encode($header)) . '.' . b64u($payload);
    spew("$dir/in", $input);
    run("openssl dgst -sha256 -sign $dir/$key.pem -out $dir/sig $dir/in");
    my $sig = slurp("$dir/sig");
    $sig = der_to_raw($sig) if $key eq 'ec' && !$o{der};
    return "$input." . b64u($sig);
}

# The JWKS endpoint: a forked loopback server that counts its hits.
my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 16,
                                   Proto => 'tcp', ReuseAddr => 1) or die "listen: $!";
my $port = $listen->sockport;
my $hits = "$dir/hits";
spew($hits, '');
my $server = fork // die "fork: $!";
if ($server == 0) {
    $SIG{$_} = sub { POSIX::_exit(0) } for qw(TERM INT HUP);
    while (my $c = $listen->accept) {
        my $req = '';
        while ($req !~ /\r\n\r\n/) {
            my $n = sysread($c, $req, 4096, length $req);
            last unless $n;
        }
        my ($path) = $req =~ m{^GET (\S+) HTTP/};
        open my $fh, '>>', $hits; print $fh (($path // '?') . "\n"); close $fh;
        my ($status, $body) = ($path // '') eq '/jwks.json'
            ? ('200 OK', slurp("$dir/jwks.json")) : ('404 Not Found', '{}');
        print $c "HTTP/1.1 $status\r\nContent-Type: application/json\r\n"
               . 'Content-Length: ' . length($body) . "\r\nConnection: close\r\n\r\n$body";
        close $c;
    }
    POSIX::_exit(0);
}
close $listen;
END { if ($server) { local $?; kill 'TERM', $server; waitpid $server, 0 } }
sub hit_count { scalar grep { length } split /\n/, slurp($hits) }

my $s = Promptd::Test->new(PROMPTD_JWKS => "http://127.0.0.1:$port/jwks.json",
                           PROMPTD_WORKERS => 1);
my $alice = $s->user_create('alice@example.com');
my $P = '/api/v1/prompts';
sub get_with { $s->request(GET => $P, { token => $_[0] }) }

my $es = sign('ec', { alg => 'ES256', typ => 'JWT', kid => 'k-ec' }, { sub => $alice });
my $r = get_with($es);
is($r->{status}, 200, 'ES256 token from the URL JWKS -> 200') or diag $r->{body};
is_deeply($r->{json}{items}, [], '  an empty list for alice');
is(hit_count(), 1, '  the JWKS was fetched once');

$r = $s->request(POST => $P, { token => $es, json => { title => 'via ES256', content => 'x' } });
is($r->{status}, 201, 'ES256 token can create a prompt') or diag $r->{body};
is($s->psql("select user_id from prompts where title = 'via ES256'")->[0][0], $alice,
   '  the row belongs to the token subject');

my $rs = sign('rsa', { alg => 'RS256', kid => 'k-rsa' }, { sub => $alice });
$r = get_with($rs);
is($r->{status}, 200, 'RS256 token -> 200') or diag $r->{body};
is(scalar @{ $r->{json}{items} }, 1, '  and sees the prompt');
is(hit_count(), 1, '  served from the cache');

my $secret = jwt_secret($s);
is(get_with(sign_jwt($secret, { sub => $alice }))->{status}, 200, 'HS256 with the secret still works');

my $pem = slurp("$dir/ec.pub.pem");
my @bad = (
    [ sign('ec', { alg => 'ES256', kid => 'nope' }, { sub => $alice }), 'unknown kid', qr/no key/ ],
    [ sign('ec', { alg => 'ES256', kid => 'nope2' }, { sub => $alice }), 'another unknown kid', qr/no key/ ],
    [ sign('ec', { alg => 'ES256', kid => 'k-rsa' }, { sub => $alice }), 'ES256 under the RSA key kid', qr/no key/ ],
    [ sign('rsa', { alg => 'RS256', kid => 'k-ec' }, { sub => $alice }), 'RS256 under the EC key kid', qr/no key/ ],
    [ sign('ec', { alg => 'ES256', kid => 'k-ec' }, { sub => $alice }, der => 1), 'DER signature', qr/bad signature/ ],
    [ sign('ec', { alg => 'ES256', kid => 'k-ec' }, { sub => $alice, exp => time - 10 }), 'expired ES256', qr/expired/ ],
    [ sign('ec', { alg => 'ES256', kid => 'k-ec' }, { sub => $alice, aud => 'other' }), 'wrong audience', qr/audience/ ],
    [ sign('rsa', { alg => 'RS256', kid => 'k-rsa' }, { sub => $alice, role => 'service_role' }), 'RS256 service_role', qr/role/ ],
    [ sign_jwt($pem, { sub => $alice }, header => { alg => 'HS256', kid => 'k-ec' }), 'HS256 keyed with the PEM', qr/bad signature/ ],
    [ sign_jwt($jwks, { sub => $alice }, header => { alg => 'HS256', kid => 'k-ec' }), 'HS256 keyed with the JWKS', qr/bad signature/ ],
    [ sign_jwt($secret, { sub => $alice }, header => { alg => 'none', kid => 'k-ec' }), 'alg none', qr/algorithm/ ],
    [ sign_jwt($secret, { sub => $alice }, header => { alg => 'ES384', kid => 'k-ec' }), 'alg ES384', qr/algorithm/ ],
);
for my $b (@bad) {
    $r = get_with($b->[0]);
    is($r->{status}, 401, "$b->[1] -> 401");
    like($r->{json}{detail} // '', $b->[2], "  $b->[1]: detail");
    like($r->{headers}{'www-authenticate'} // '', qr/^Bearer /, "  $b->[1]: WWW-Authenticate");
}
is(hit_count(), 1, 'unknown kids within the minute did not refetch the JWKS');
is($s->psql('select count(*) from prompts')->[0][0], 1, 'no rejected token wrote anything');
$s->stop;

# A file JWKS.
$s = Promptd::Test->new(PROMPTD_JWKS => "$dir/jwks.json", PROMPTD_WORKERS => 1);
$alice = $s->user_create('alice@example.com');
$r = get_with(sign('ec', { alg => 'ES256', kid => 'k-ec' }, { sub => $alice }));
is($r->{status}, 200, 'file JWKS: ES256 -> 200') or diag $r->{body};
$r = get_with(sign('rsa', { alg => 'RS256', kid => 'k-rsa' }, { sub => $alice }));
is($r->{status}, 200, 'file JWKS: RS256 -> 200') or diag $r->{body};
$r = get_with(sign('ec', { alg => 'ES256', kid => 'nope' }, { sub => $alice }));
is($r->{status}, 401, 'file JWKS: unknown kid -> 401');
is(hit_count(), 1, 'the URL server was not asked');
$s->stop;

done_testing;
