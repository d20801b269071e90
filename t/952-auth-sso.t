#!/usr/bin/perl
# 952-auth-sso.t: single sign-on through the official auth client (signInWithOAuth + exchangeCodeForSession, PKCE) against a loopback OpenID provider and GitHub's OAuth: linking only through a verified email, and every forged or wrong part (state, audience, nonce, signature, issuer, expiry, verifier).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use HTTP::Tiny;
use JSON::PP;
use Test::More;
use Promptd::Test qw(db1 req);

my $build = $ENV{PROMPTD_BUILD_DIR} || "$FindBin::Bin/..";
my $prefix = "$build/t/.npm";
sub have { my $c = shift; system("command -v $c >/dev/null 2>&1") == 0 }
plan skip_all => 'node is required (not found)' unless have('node');
my $npm_lock = Promptd::Test::npm_lock($build);    # not while another suite installs
plan skip_all => '@supabase/supabase-js is not installed in t/.npm (./bootstrap installs it)'
    unless -d "$prefix/node_modules/\@supabase/supabase-js";
close $npm_lock;

my ($CLIENT, $SECRET) = ('promptd-client', 'a-client-secret');
my $fake_pid = open(my $fake, '-|', 'node', "$FindBin::Bin/js/fake-oidc.mjs", $CLIENT, $SECRET)
    or die "fake-oidc: $!";
my ($port) = (scalar(<$fake>) // '') =~ /"port":(\d+)/ or die 'fake-oidc gave no port';
my $idp = "http://127.0.0.1:$port";

my $KEY = 'anon-key-for-sso';
my $s = Promptd::Test->new(PROMPTD_ANON_KEY => $KEY, PROMPTD_SSO_PROVIDERS => 'acme,github',
                           PROMPTD_SSO_ACME_ISSUER => $idp, PROMPTD_SSO_ACME_CLIENT_ID => $CLIENT,
                           PROMPTD_SSO_ACME_CLIENT_SECRET => $SECRET,
                           PROMPTD_SSO_GITHUB_CLIENT_ID => $CLIENT, PROMPTD_SSO_GITHUB_CLIENT_SECRET => $SECRET,
                           PROMPTD_SSO_GITHUB_URL => $idp, PROMPTD_SSO_GITHUB_API_URL => $idp,
                           PROMPTD_REDIRECT_ALLOW => 'http://app.test:3000');
my $site = $s->url('');
# the stack first, then the provider, and reap it (an exit with the
# provider's pipe still open waits for it)
END { local $?; $s->stop if $s; if ($fake_pid) { kill 'TERM', $fake_pid; close $fake } }
system('cp', "$FindBin::Bin/js/auth-sso.mjs", "$prefix/auth-sso.mjs") == 0 or die "cp: $?";
my $JSON = JSON::PP->new->canonical;
my $http = HTTP::Tiny->new(timeout => 30, max_redirect => 0);

sub control { $http->post("$idp/_control", { content => $JSON->encode($_[0] // {}) }) }
sub idp_log { $JSON->decode($http->get("$idp/_log")->{content}) }
sub sso {
    my ($provider, $redirect, $tamper) = @_;
    my $out = `cd '$prefix' && node auth-sso.mjs '$site' '$KEY' $provider '$redirect' @{[ $tamper // '' ]} 2>&1`;
    my ($line) = grep { /^\{/ } split /\n/, $out;
    my $r = eval { $JSON->decode($line // '') };
    diag "auth-sso: $out" unless $r;
    return $r || {};
}
sub refused {
    my ($r, $code, $why, $name) = @_;
    is($r->{back}{error_code}, $code, "$name: back to the app with $code") or diag explain $r;
    like($r->{back}{error_description} // '', $why, "$name: says why");
    ok(!$r->{exchange}, "$name: no code, no session");
}
my $APP = 'http://app.test:3000/cb';

# ------------------------------------------------------------- discovery is checked
control({ issuer => 'http://127.0.0.1:1/elsewhere' });
my $r = sso(acme => $APP);
is($r->{authorize}{status}, 502, 'a discovery document naming another issuer: 502');
like($r->{authorize}{body} // '', qr/"error_code":"unexpected_failure"/, '... GoTrue-shaped');
control({});

# ------------------------------------------------------------- a new account
$r = sso(acme => $APP);
is($r->{start}{error}, undef, 'signInWithOAuth builds the authorize URL');
like($r->{start}{url} // '', qr{/auth/v1/authorize\?provider=acme&.*code_challenge=.*code_challenge_method=s256},
     '... with the PKCE challenge');
is($r->{authorize}{status}, 302, 'authorize: 302 to the provider');
like($r->{authorize}{location}, qr{^\Q$idp\E/authorize\?response_type=code&client_id=\Q$CLIENT\E&redirect_uri=\Q@{[ $site =~ s/([:\/])/sprintf('%%%02X', ord $1)/ger ]}\E%2Fauth%2Fv1%2Fcallback&scope=openid%20email%20profile&state=[A-Za-z0-9_-]{43}&nonce=[A-Za-z0-9_-]{43}&code_challenge=[A-Za-z0-9_-]{43}&code_challenge_method=S256$},
     '... with state, nonce and our own PKCE challenge');
is($r->{callback}{status}, 303, 'callback: 303');
is($r->{back}{origin}, $APP, '... back to the allowed redirect');
is($r->{exchange}{error}, undef, 'exchangeCodeForSession') or diag explain $r;
is($r->{exchange}{email}, 'sso.user@example.com', '... signs the provider\'s user in');
is_deeply($r->{exchange}{identities}, ['acme'], '... whose identities list the provider');
is($r->{exchange}{amr}[0]{method}, 'oauth', '... amr oauth');
is($r->{getUser}{email}, 'sso.user@example.com', 'the session works (getUser)');
my $sso_user = $r->{exchange}{user_id};
is(db1("select user_id from promptd.identities where provider = 'acme' and subject = 'acme-user-1'"), $sso_user,
   'the identity is stored (database)');
is(db1("select email_confirmed_at is not null from auth.users where id = '$sso_user'"), 't',
   '... the verified address confirmed');
is(db1("select count(*) from promptd.sso_flows"), 0, 'the flow is spent (database)');
is(db1("select count(*) from public.audit_log where action = 'auth.sso' and outcome = 'success'"), 1, 'audited');
my ($tok) = grep { $_->{path} eq '/token' } @{ idp_log() };
like($tok->{body}, qr/code_verifier=[A-Za-z0-9_-]{43}/, 'the token request carries our verifier');
is($tok->{client_auth}, 'basic', '... and authenticates with client_secret_basic');

$r = sso(acme => $APP);
is($r->{exchange}{user_id}, $sso_user, 'signing in again: the same account');
is(db1("select count(*) from auth.users where email = 'sso.user\@example.com'"), 1, '... and no second one');

# ------------------------------------------------------------- linking
my $pw = req(POST => '/auth/v1/signup', headers => { apikey => $KEY },
             json => { email => 'linkme@example.com', password => 'a long link password' });
my $linkme = $pw->{json}{user}{id};
control({ id_token => { sub => 'acme-user-2', email => 'LinkMe@example.com' } });
$r = sso(acme => $APP);
is($r->{exchange}{user_id}, $linkme, 'a verified email links to the existing account');
is_deeply([ sort @{ $r->{exchange}{identities} } ], ['acme', 'email'], '... which lists both identities');
control({ id_token => { sub => 'acme-user-3', email => 'linkme@example.com', email_verified => JSON::PP::false } });
refused(sso(acme => $APP), 'email_exists', qr/does not say the address is verified/,
        'an unverified email of an existing account');
is(db1("select count(*) from promptd.identities where subject = 'acme-user-3'"), 0, '... links nothing (database)');

$s->psql("insert into auth.users (id, aud, role, email, encrypted_password, raw_app_meta_data)
          values (gen_random_uuid(), 'authenticated', 'authenticated', 'squat\@example.com', 'x',
                  '{\"provider\":\"email\",\"providers\":[\"email\"]}')");
control({ id_token => { sub => 'acme-user-4', email => 'squat@example.com' } });
$r = sso(acme => $APP);
is($r->{exchange}{email}, 'squat@example.com', 'a verified email links to an unconfirmed account too');
is(db1("select (encrypted_password is null)::text || (email_confirmed_at is not null)::text from auth.users where email = 'squat\@example.com'"),
   'truetrue', '... which loses the unproven password and is confirmed (database)');

# ------------------------------------------------------------- a bad ID token
my $now = time;
for my $case ([{ id_token => { aud => 'another-client' } }, qr/audience/i, 'the wrong audience'],
              [{ id_token => { nonce => 'not-this-sign-in' } }, qr/nonce/, 'the wrong nonce'],
              [{ sign_with_other_key => JSON::PP::true }, qr/does not verify/, 'a signature by another key'],
              [{ id_token => { iss => 'http://127.0.0.1:1' } }, qr/issuer/, 'another issuer'],
              [{ id_token => { exp => $now - 10 } }, qr/does not verify/, 'an expired ID token'],
              [{ id_token => { sub => 'acme-bad', nonce => undef } }, qr/nonce/, 'no nonce'],
              [{ deny => JSON::PP::true }, qr/refused: The user said no/, 'the provider refusing']) {
    control($case->[0]);
    refused(sso(acme => $APP), 'bad_oauth_callback', $case->[1], $case->[2]);
}
is(db1("select count(*) from promptd.identities where subject in ('acme-bad')"), 0, 'no identity from a bad token');
is(db1("select count(*) from public.audit_log where action = 'auth.sso' and outcome = 'failure'"), 6,
   'the failed checks are audited');
control({});

# ------------------------------------------------------------- state, verifier, redirect
refused(sso(acme => $APP, 'forge_state'), 'bad_oauth_state', qr/state is invalid/, 'a forged state');
$r = sso(acme => $APP, 'wrong_verifier');
is($r->{exchange}{status}, 403, 'the code with another verifier: 403');
is($r->{exchange}{body}{error_code}, 'bad_code_verifier', '... bad_code_verifier');
$r = sso(acme => $APP, 'replay');
is($r->{exchange}{error}, undef, 'a good exchange');
is($r->{replay}{status}, 404, '... and the code again: 404');
is($r->{replay}{body}{error_code}, 'flow_state_not_found', '... flow_state_not_found');
$r = sso(acme => 'https://evil.test/cb');
is($r->{back}{origin}, "$site/", 'a redirect outside the allow-list goes to the site URL');

my $res = $http->get($s->url('/auth/v1/authorize?provider=nope&code_challenge=' . ('a' x 43) . '&code_challenge_method=s256'));
is($res->{status}, 400, 'an unknown provider: 400');
like($res->{content}, qr/"error_code":"validation_failed"/, '... validation_failed');
$res = $http->get($s->url('/auth/v1/authorize?provider=acme'));
is($res->{status}, 400, 'authorize without PKCE: 400');
$res = $http->get($s->url('/auth/v1/callback?code=x'));
like($res->{headers}{location} // '', qr{^\Q$site\E/?\?error=invalid_request&error_code=bad_oauth_state}, 'a callback without state');
sub pkce { req(POST => '/auth/v1/token?grant_type=pkce', headers => { apikey => $KEY, 'Content-Type' => 'application/json' }, body => $_[0]) }
$res = pkce('{"auth_code":');
is($res->{status}, 400, 'the PKCE grant with malformed JSON: 400');
is($res->{json}{error_code}, 'bad_json', '... bad_json');
$res = pkce('{"auth_code":"x"}');
is($res->{json}{error_code}, 'validation_failed', 'the PKCE grant without a verifier: validation_failed');
$res = pkce('{"auth_code":7,"code_verifier":"' . ('a' x 43) . '"}');
is($res->{json}{error_code}, 'bad_json', '... a number for the code: bad_json');
$res = pkce('{"auth_code":"unknown","code_verifier":"' . ('a' x 43) . '"}');
is($res->{status}, 404, 'an unknown code: 404');

# ------------------------------------------------------------- no transaction waits on the provider
{
    my $res = $http->get($s->url('/auth/v1/authorize?provider=acme&code_challenge=' . ('p' x 43)
                                 . '&code_challenge_method=plain&redirect_to=' . $APP));
    my $at_idp = $http->get($res->{headers}{location} // '');
    (my $cb = $at_idp->{headers}{location} // '') =~ s{^\Q$site\E}{};
    like($cb, qr{^/auth/v1/callback\?code=.*state=}, 'the provider sends the browser back');
    control({ token_delay_ms => 800 });
    my ($status, $most) = $s->open_tx_during(sub { $http->get($s->url($cb)) });
    is($status, 303, 'a callback whose provider takes 800 ms: 303');
    is($most, 0, '... and no database transaction stays open while the provider answers');
    is(db1("select count(*) from promptd.sso_flows where code_hash is not null"), 1,
       '... the flow holds the client\'s code (database)');
    control({});
}

# ------------------------------------------------------------- GitHub
$r = sso(github => $APP);
like($r->{authorize}{location} // '', qr{^\Q$idp\E/login/oauth/authorize\?response_type=code&client_id=.*&scope=read%3Auser%20user%3Aemail&state=.*&code_challenge=},
     'GitHub: authorize at github.com\'s path');
is($r->{exchange}{error}, undef, 'GitHub: exchangeCodeForSession') or diag explain $r;
is($r->{exchange}{email}, 'octo@example.com', '... the primary verified email');
is(db1("select count(*) from promptd.identities where provider = 'github' and subject = '4242'"), 1,
   '... the identity by GitHub\'s user id (database)');
control({ github_id => 777, github_email => 'linkme@example.com', github_verified => JSON::PP::false });
refused(sso(github => $APP), 'email_exists', qr/verified/, 'GitHub: an unverified primary email of an existing account');
control({});

done_testing;
