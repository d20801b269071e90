#!/usr/bin/perl
# 020-auth.t: strict JWT verification at the edge of every authenticated route.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Promptd::Test;
use Promptd::JWT qw(sign_jwt b64u jwt_secret);

my $s = Promptd::Test->new;
my $secret = jwt_secret($s);
my $alice = $s->user_create('alice@example.com');
my $P = '/api/v1/prompts';

sub get_with { $s->request(GET => $P, { headers => { Authorization => $_[0] } }) }

my $r = $s->request(GET => $P);
is($r->{status}, 401, 'no Authorization -> 401');
is($r->{headers}{'www-authenticate'}, 'Bearer realm="promptd"', 'WWW-Authenticate without error');
is($r->{json}{status}, 401, 'problem+json status');

$r = get_with('Bearer ' . $s->token($alice));
is($r->{status}, 200, 'promptctl token works') or diag $r->{body};
$r = get_with('bearer ' . sign_jwt($secret, { sub => $alice }));
is($r->{status}, 200, 'scheme is case-insensitive; hand-signed token works');

my $now = time;
my @bad = (
    ['Basic abc', 'not a Bearer scheme'],
    ['Bearer ', 'empty token'],
    ['Bearer ' . sign_jwt('wrong-secret-wrong-secret-wrong-secret', { sub => $alice }), 'forged signature'],
    ['Bearer ' . sign_jwt($secret, { sub => $alice }, header => '{"alg":"none","typ":"JWT"}'), 'alg none'],
    ['Bearer ' . b64u('{"alg":"none"}') . '.' . b64u(qq({"sub":"$alice","aud":"authenticated","exp":) . ($now + 60) . '}') . '.', 'alg none, empty signature'],
    ['Bearer ' . sign_jwt($secret, { sub => $alice }, header => '{"alg":"HS512","typ":"JWT"}'), 'alg HS512'],
    ['Bearer ' . sign_jwt($secret, { sub => $alice, exp => $now - 5 }), 'expired'],
    ['Bearer ' . sign_jwt($secret, { sub => $alice, exp => undef }), 'no exp'],
    ['Bearer ' . sign_jwt($secret, { sub => $alice, nbf => $now + 300 }), 'nbf in the future'],
    ['Bearer ' . sign_jwt($secret, { sub => $alice, iat => $now + 300 }), 'iat in the future'],
    ['Bearer ' . sign_jwt($secret, { sub => $alice, aud => 'someone-else' }), 'wrong audience'],
    ['Bearer ' . sign_jwt($secret, { sub => $alice, role => 'service_role' }), 'service_role claimed'],
    ['Bearer ' . sign_jwt($secret, { sub => $alice, role => 'postgres' }), 'superuser role claimed'],
    ['Bearer ' . sign_jwt($secret, { sub => 'not-a-uuid' }), 'sub not a UUID'],
    ['Bearer ' . sign_jwt($secret, qq({"sub":"$alice","sub":"$alice","aud":"authenticated","exp":) . ($now + 60) . '}'), 'duplicate keys'],
    ['Bearer ' . sign_jwt($secret, { sub => $alice }) . '=', 'padded signature'],
    ['Bearer ' . ('a' x 7000), 'long garbage token'],
);
for my $b (@bad) {
    $r = get_with($b->[0]);
    is($r->{status}, 401, "$b->[1] -> 401");
    like($r->{headers}{'www-authenticate'} // '', qr/^Bearer realm="promptd"/, "  $b->[1]: WWW-Authenticate");
}
# A header beyond nginx's buffers never reaches a worker (the worker's own
# JWT_MAX_LEN cap is covered by the C unit tests).
$r = get_with('Bearer ' . ('a' x 9000));
is($r->{status}, 431, 'oversized Authorization header -> 431 from nginx');
like($r->{headers}{'content-type'} // '', qr{problem\+json}, '  as problem+json');

$r = get_with('Bearer ' . sign_jwt($secret, { sub => $alice, nbf => $now + 10, iat => $now + 10 }));
is($r->{status}, 200, 'nbf/iat within the 30 s leeway -> 200');

# A valid token for a user this database has never seen: user and profile
# are created on first use, as Supabase's sign-up trigger would.
my $newcomer = '5f0c6a8e-1b2d-4c3e-8f9a-0b1c2d3e4f5a';
is($s->psql("select count(*) from profiles where id = '$newcomer'")->[0][0], 0, 'no profile yet');
$r = get_with('Bearer ' . sign_jwt($secret, { sub => $newcomer, email => 'new@example.com' }));
is($r->{status}, 200, 'first use -> 200');
is_deeply($r->{json}, { items => [], next_cursor => undef }, 'with an empty list');
is_deeply($s->psql("select email, subscription_tier from profiles where id = '$newcomer'"),
          [['new@example.com', 'free']], 'profile created on first use, free tier');
$r = $s->request(POST => $P, { headers => { Authorization => 'Bearer ' . sign_jwt($secret, { sub => $newcomer }) },
                               json => { title => 't', content => 'c' } });
is($r->{status}, 201, 'and the newcomer can create prompts');

# The verified claims, re-serialised, are what PostgreSQL sees.
my $log = $s->wait_for(sub { $s->log_tail('prompts', 200) =~ /"user":"$newcomer"/ });
ok($log, 'the request log names the user');

done_testing;
