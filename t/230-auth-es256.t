#!/usr/bin/perl
# 230-auth-es256.t: PROMPTD_JWT_SIGNING_KEY: /auth/v1 signs access tokens ES256
# (kid = RFC 7638 thumbprint), publishes the public key at jwks.json, and every
# family verifies them; HS256 tokens from the JWT secret stay valid.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(remove_tree);
use File::Temp qw(tempdir);
use JSON::PP;
use MIME::Base64 qw(decode_base64url);
use Digest::SHA qw(sha256);
use Promptd::Test qw(db1);
use Promptd::JWT qw(sign_jwt b64u jwt_secret);

plan skip_all => 'openssl CLI not found' if system('openssl version >/dev/null 2>&1') != 0;

my $dir = tempdir('promptd-es256-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $dir;    # the workers (promptd when root) read the PEM
my $JSON = JSON::PP->new->canonical;
my $PW = 'correct horse battery';
my $UUID = $Promptd::Test::UUID;

sub slurp { local $/; open my $fh, '<:raw', $_[0] or die "$_[0]: $!"; my $d = <$fh>; $d }
sub spew  { open my $fh, '>:raw', $_[0] or die "$_[0]: $!"; print $fh $_[1]; close $fh; chmod 0644, $_[0] }
sub run   { system(@_) == 0 or die "@_ failed\n" }
sub part  { $JSON->decode(decode_base64url((split /\./, $_[0])[$_[1]])) }

# The signing key, made with the CLI; x / y from its DER public key, and the
# RFC 7638 thumbprint computed here, independently of promptd.
run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $dir/ec.pem 2>/dev/null");
chmod 0644, "$dir/ec.pem";
run("openssl pkey -in $dir/ec.pem -pubout -out $dir/ec.pub.pem 2>/dev/null");
run("openssl pkey -in $dir/ec.pem -pubout -outform DER -out $dir/ec.pub.der 2>/dev/null");
my $point = substr(slurp("$dir/ec.pub.der"), -65);    # 04 || x || y
die "no uncompressed point\n" unless substr($point, 0, 1) eq "\x04";
my ($x, $y) = (b64u(substr($point, 1, 32)), b64u(substr($point, 33, 32)));
my $thumb = b64u(sha256(qq({"crv":"P-256","kty":"EC","x":"$x","y":"$y"})));
like($thumb, qr/^[A-Za-z0-9_-]{43}$/, 'thumbprint computed in the test');

# Raw R||S (64 bytes) -> DER ECDSA-Sig-Value, for openssl dgst -verify.
sub raw_to_der {
    my ($raw) = @_;
    my $der = '';
    for my $i (substr($raw, 0, 32), substr($raw, 32, 32)) {
        (my $v = $i) =~ s/^\x00+//;
        $v = "\x00$v" if !length $v || ord($v) & 0x80;
        $der .= "\x02" . chr(length $v) . $v;
    }
    return "\x30" . chr(length $der) . $der;
}
# True when the CLI verifies token's ES256 signature with the public PEM.
sub cli_verifies {
    my ($token) = @_;
    my ($h, $p, $sig) = split /\./, $token;
    spew("$dir/in", "$h.$p");
    spew("$dir/sig", raw_to_der(decode_base64url($sig)));
    return system("openssl dgst -sha256 -verify $dir/ec.pub.pem -signature $dir/sig $dir/in >/dev/null 2>&1") == 0;
}
# The token with its header replaced (signature kept).
sub reheader {
    my ($token, %h) = @_;
    my (undef, $p, $sig) = split /\./, $token;
    return b64u($JSON->encode(\%h)) . ".$p.$sig";
}

my $s = Promptd::Test->new(PROMPTD_JWT_SIGNING_KEY => "$dir/ec.pem");

like($s->log_tail('auth', 200), qr/PROMPTD_JWT_SIGNING_KEY .*ES256 with kid \Q$thumb\E/,
     'auth.log names the signing key and its kid');

# Sign-up: an ES256 access token under the thumbprint kid.
my $r = $s->request(POST => '/auth/v1/signup', { json => { email => 'alice@example.com', password => $PW } });
is($r->{status}, 200, 'signup -> 200') or diag $r->{body};
my $tok = $r->{json}{access_token} // '';
my $refresh = $r->{json}{refresh_token};
my $alice = $r->{json}{user}{id} // '';
like($alice, $UUID, 'signup: user id');
is_deeply(part($tok, 0), { alg => 'ES256', typ => 'JWT', kid => $thumb },
          'access token header: ES256, typ JWT, kid = RFC 7638 thumbprint');
is(part($tok, 1)->{sub}, $alice, '  sub is the new user');
is(length(decode_base64url((split /\./, $tok)[2])), 64, '  signature is raw R||S (64 bytes)');
ok(cli_verifies($tok), '  openssl dgst -verify accepts it with the public key');
ok(!cli_verifies(reheader($tok, alg => 'ES256', typ => 'JWT', kid => 'x')), '  (and rejects a changed header)');

# The JWKS: exactly that public key, cacheable.
$r = $s->request(GET => '/auth/v1/.well-known/jwks.json');
is($r->{status}, 200, 'jwks.json -> 200');
like($r->{headers}{'content-type'} // '', qr{^application/json}, '  JSON');
is($r->{headers}{'cache-control'}, 'public, max-age=600', '  one Cache-Control: public, max-age=600');
is_deeply($r->{json}, { keys => [ { kty => 'EC', crv => 'P-256', x => $x, y => $y, kid => $thumb,
                                    alg => 'ES256', use => 'sig', key_ops => ['verify'] } ] },
          '  exactly the public JWK (x, y from openssl), no private part');
unlike($r->{body}, qr/"d"/, '  no "d" member anywhere');

# The token works everywhere.
$r = $s->request(GET => '/api/v1/prompts', { token => $tok });
is($r->{status}, 200, 'ES256 token: GET /api/v1/prompts -> 200') or diag $r->{body};
is_deeply($r->{json}{items}, [], '  an empty list');
$r = $s->request(POST => '/api/v1/prompts', { token => $tok, json => { title => 'via ES256', content => 'x' } });
is($r->{status}, 201, 'ES256 token: POST /api/v1/prompts -> 201') or diag $r->{body};
is(db1("select user_id from prompts where title = 'via ES256'"), $alice, '  the row belongs to alice');
$r = $s->request(GET => '/auth/v1/user', { token => $tok });
is($r->{status}, 200, 'ES256 token: GET /auth/v1/user -> 200') or diag $r->{body};
is($r->{json}{id}, $alice, '  the user');
is($r->{json}{email}, 'alice@example.com', '  the email');

# Tampered tokens: 401 on the API (problem+json), 403 bad_jwt on /auth/v1/user.
my $pay = part($tok, 1);
my @bad = (
    # (another first character: the thumbprint may itself start with 'A')
    [ 'kid changed', reheader($tok, alg => 'ES256', typ => 'JWT',
                              kid => (substr($thumb, 0, 1) eq 'A' ? 'B' : 'A') . substr($thumb, 1)), qr/no key/ ],
    [ 'kid removed', reheader($tok, alg => 'ES256', typ => 'JWT'), qr/no key/ ],
    [ 'alg HS256, same signature', reheader($tok, alg => 'HS256', typ => 'JWT', kid => $thumb), qr/bad signature/ ],
    [ 'payload changed', join('.', (split /\./, $tok)[0], b64u($JSON->encode({ %$pay, sub => '00000000-0000-4000-8000-000000000000' })),
                              (split /\./, $tok)[2]), qr/bad signature/ ],
    [ 'HS256 keyed with the public PEM', sign_jwt(slurp("$dir/ec.pub.pem"), { sub => $alice }, header => { alg => 'HS256', kid => $thumb }),
      qr/bad signature/ ],
);
for my $b (@bad) {
    my ($name, $t, $detail) = @$b;
    $r = $s->request(GET => '/api/v1/prompts', { token => $t });
    is($r->{status}, 401, "$name -> 401");
    like($r->{json}{detail} // '', $detail, "  $name: detail");
    like($r->{headers}{'www-authenticate'} // '', qr/^Bearer /, "  $name: WWW-Authenticate");
    $r = $s->request(GET => '/auth/v1/user', { token => $t });
    is($r->{status}, 403, "$name on /auth/v1/user -> 403");
    is($r->{json}{error_code}, 'bad_jwt', "  $name: bad_jwt");
}
is(db1('select count(*) from prompts'), 1, 'no rejected token wrote anything');

# HS256 tokens (promptctl token, the JWT secret) stay valid.
my $hs = $s->token($alice);
is(part($hs, 0)->{alg}, 'HS256', 'promptctl token is HS256');
$r = $s->request(GET => '/api/v1/prompts', { token => $hs });
is($r->{status}, 200, '  and works on /api/v1/prompts') or diag $r->{body};
is(scalar @{ $r->{json}{items} // [] }, 1, '  sees the prompt');
$r = $s->request(GET => '/api/v1/prompts', { token => sign_jwt(jwt_secret($s), { sub => $alice }) });
is($r->{status}, 200, 'HS256 signed with PROMPTD_JWT_SECRET -> 200');

# Refresh: a new ES256 token under the same kid.
$r = $s->request(POST => '/auth/v1/token?grant_type=refresh_token', { json => { refresh_token => $refresh } });
is($r->{status}, 200, 'refresh -> 200') or diag $r->{body};
my $tok2 = $r->{json}{access_token} // '';
is_deeply(part($tok2, 0), { alg => 'ES256', typ => 'JWT', kid => $thumb }, '  refreshed token: ES256 under the kid');
ok(cli_verifies($tok2), '  openssl verifies it');
is($s->request(GET => '/api/v1/prompts', { token => $tok2 })->{status}, 200, '  and it works');

# Password sign-in too.
$r = $s->request(POST => '/auth/v1/token?grant_type=password',
                 { json => { email => 'alice@example.com', password => $PW } });
is($r->{status}, 200, 'password grant -> 200') or diag $r->{body};
is(part($r->{json}{access_token} // '', 0)->{alg}, 'ES256', '  ES256 token');
$s->stop;

# Without the setting: HS256 and an empty JWKS, as before (t/200 covers more).
# A key that is not EC P-256, or missing: the workers refuse to start, the
# stack's readiness fails, and auth.log says why.
run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out $dir/rsa.pem 2>/dev/null");
run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out $dir/p384.pem 2>/dev/null");
chmod 0644, "$dir/rsa.pem", "$dir/p384.pem";
for my $case ([ "$dir/rsa.pem", qr/not an EC P-256/, 'an RSA key' ],
              [ "$dir/p384.pem", qr/not an EC P-256/, 'a P-384 key' ],
              [ "$dir/missing.pem", undef, 'a missing file' ]) {
    my ($path, $why, $name) = @$case;
    my $t = eval { Promptd::Test->new(PROMPTD_JWT_SIGNING_KEY => $path, PROMPTD_WORKERS => 1,
                                      PROMPTD_START_TIMEOUT => 8) };
    my $err = $@;
    ok(!$t, "$name: the stack does not start");
    $t->stop if $t;
    if (!defined $why) {    # promptd-stack checks the file before starting anything
        like($err, qr/error: the PROMPTD_JWT_SIGNING_KEY file \Q$path\E does not exist/,
             "$name: promptd-stack names it");
    } else {
        like($err, qr/--- auth\.log \(last lines\)\n(?:.*\n)*?.*PROMPTD_JWT_SIGNING_KEY \Q$path\E: .*$why.*refuses to start/,
             "$name: auth.log says why");
    }
    remove_tree($1) if $err =~ /\(stack directory kept: (\S+)\)/;
}

done_testing;
