#!/usr/bin/perl
# 951-auth-mfa.t: the TOTP second factor (GoTrue's /auth/v1/factors): the official supabase-js auth.mfa client end to end, then every bad input in GoTrue's error shape (wrong, reused, expired and exhausted codes, unknown and foreign factors, bodies), aal1 refused and aal2 admitted on each sensitive route, refresh keeping aal2, and the secret sealed at rest; status, body and database effect.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(hmac_sha1 sha256_hex);
use JSON::PP;
use Test::More;
use Promptd::Test qw(db1 claims problem_ok);

my $KEY = 'anon-key-for-mfa';
my $PW = 'correct horse battery';
my $s = Promptd::Test->new(PROMPTD_ANON_KEY => $KEY, PROMPTD_JOBS_DAEMONS => 0);

# ------------------------------------------------------------- helpers
# au($token, METHOD, path, %opt): a request with the anon key (and the token).
sub au {
    my ($tok, $method, $path, %o) = @_;
    my $h = delete $o{headers} || {};
    return $s->request($method, $path, { headers => { apikey => $KEY, %$h },
                                         (defined $tok ? (token => $tok) : ()), %o });
}
sub gotrue_err {
    my ($r, $status, $code, $name, $msg) = @_;
    is($r->{status}, $status, "$name -> $status") or diag $r->{body};
    is($r->{json}{error_code}, $code, "$name: error_code $code");
    is($r->{json}{code}, $status, "$name: GoTrue's body (code = status)");
    like($r->{json}{msg} // '', $msg, "$name: msg") if $msg;
}
sub b32d {
    my ($s) = @_;
    my $abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    my $bits = join '', map { sprintf '%05b', index($abc, $_) } split //, $s;
    return pack 'B*', substr($bits, 0, 8 * int(length($bits) / 8));
}
# totp($base32, $step): RFC 6238 (SHA-1, 6 digits), computed here.
sub totp {
    my ($secret, $step) = @_;
    my $mac = hmac_sha1(pack('NN', int($step / 2**32), $step % 2**32), b32d($secret));
    my $off = ord(substr($mac, -1)) & 15;
    return sprintf '%06d', (unpack('N', substr($mac, $off, 4)) & 0x7fffffff) % 1000000;
}
sub step_now { int(time / 30) }
sub signup {
    my ($email) = @_;
    my $r = au(undef, POST => '/auth/v1/signup', json => { email => $email, password => $PW });
    is($r->{status}, 200, "$email signs up") or BAIL_OUT($r->{body});
    return $r->{json};
}
sub signin {
    my ($email) = @_;
    my $r = au(undef, POST => '/auth/v1/token?grant_type=password', json => { email => $email, password => $PW });
    is($r->{status}, 200, "$email signs in") or diag $r->{body};
    return $r->{json};
}
sub refresh { au(undef, POST => '/auth/v1/token?grant_type=refresh_token', json => { refresh_token => $_[0] }) }
sub enroll { au($_[0], POST => '/auth/v1/factors', json => { factor_type => 'totp', %{ $_[1] || {} } }) }
sub challenge { au($_[0], POST => "/auth/v1/factors/$_[1]/challenge") }
sub verify { au($_[0], POST => "/auth/v1/factors/$_[1]/verify", json => { challenge_id => $_[2], code => $_[3] }) }
# A verified factor for $sess: (factor id, secret, the aal2 session).
sub enrolled {
    my ($sess, $name) = @_;
    my $e = enroll($sess->{access_token}, { friendly_name => $name });
    is($e->{status}, 200, "enrol $name") or diag $e->{body};
    my $c = challenge($sess->{access_token}, $e->{json}{id});
    my $v = verify($sess->{access_token}, $e->{json}{id}, $c->{json}{id}, totp($e->{json}{totp}{secret}, step_now()));
    is($v->{status}, 200, "verify $name") or diag $v->{body};
    return ($e->{json}{id}, $e->{json}{totp}{secret}, $v->{json});
}

# ------------------------------------------------------------- the official client
my $build = $ENV{PROMPTD_BUILD_DIR} || "$FindBin::Bin/..";
my $prefix = "$build/t/.npm";
sub have { my $c = shift; system("command -v $c >/dev/null 2>&1") == 0 }
my ($major) = have('node') ? (`node --version` // '') =~ /^v(\d+)/ : ();
my $npm_lock = Promptd::Test::npm_lock($build);    # not while another suite installs
my $why_not = !have('node') ? 'node is required (not found)'
            : !($major && $major >= 20) ? 'node >= 20 is required (supabase-js 2.109)'
            : !-d "$prefix/node_modules/\@supabase/supabase-js" ? "\@supabase/supabase-js is not installed in $prefix (./bootstrap)"
            : undef;
close $npm_lock;
SKIP: {
    skip $why_not, 1 if $why_not;
    system('cp', "$FindBin::Bin/js/auth-mfa.mjs", "$prefix/auth-mfa.mjs") == 0 or die "cp: $?";
    my $out = `cd '$prefix' && node auth-mfa.mjs '@{[ $s->url('') ]}' '$KEY' 'js.mfa\@example.com' '$PW' 2>&1`;
    is($?, 0, 'the supabase-js script ran') or diag $out;
    my %st;
    for (split /\n/, $out) { my $j = eval { decode_json($_) } or next; $st{ $j->{step} } = $j }
    my $uid = db1("select id from auth.users where email = 'js.mfa\@example.com'");
    is($st{signUp}{error}, undef, 'signUp');
    is_deeply([ @{ $st{aal_before} }{qw(currentLevel nextLevel)} ], [qw(aal1 aal1)], 'getAuthenticatorAssuranceLevel before: aal1 -> aal1');
    my $e = $st{enroll};
    is($e->{error}, undef, 'mfa.enroll') or diag explain $e;
    is_deeply([ @$e{qw(type friendly_name)} ], [qw(totp phone)], 'enroll: type and friendly_name');
    like($e->{qr_code}, qr{^data:image/svg\+xml;utf-8,<svg xmlns="http://www.w3.org/2000/svg".*<path fill="#000" d="M\d+ \d+h\d+v1h-\d+z}s,
         'enroll: qr_code, an SVG data URI (the client adds the prefix to our SVG)');
    like($e->{secret}, qr/^[A-Z2-7]{32}$/, 'enroll: a base32 secret of 160 bits');
    is($e->{uri}, "otpauth://totp/promptd-test:js.mfa%40example.com?algorithm=SHA1&digits=6&issuer=promptd-test&period=30&secret=$e->{secret}",
       'enroll: the otpauth:// URI');
    is($st{enroll_same_name}{error}{code}, 'mfa_factor_name_conflict', 'a second factor of the same name: mfa_factor_name_conflict');
    is($st{enroll_same_name}{error}{status}, 422, '... 422');
    is_deeply([ $st{list_unverified}{all}, $st{list_unverified}{totp} ], [['unverified'], 0], 'listFactors: one unverified factor, no totp yet');
    is($st{challenge}{type}, 'totp', 'mfa.challenge: type');
    ok(abs($st{challenge}{expires_at} - (time + 300)) < 30, 'mfa.challenge: expires_at in 5 minutes');
    is($st{verify_wrong}{error}{code}, 'mfa_verification_failed', 'mfa.verify with a wrong code: mfa_verification_failed');
    my $v = $st{verify};
    is($v->{error}, undef, 'mfa.verify') or diag explain $v;
    is($v->{aal}, 'aal2', 'verify: the new access token says aal2');
    is_deeply($v->{amr}, [qw(totp password)], 'verify: amr lists totp first, then the password');
    is_deeply([ @{ $st{aal_after} }{qw(currentLevel nextLevel)} ], [qw(aal2 aal2)], 'getAuthenticatorAssuranceLevel after: aal2');
    is_deeply($st{aal_after}{methods}, [qw(totp password)], '... with currentAuthenticationMethods');
    is_deeply([ $st{list_verified}{all}, $st{list_verified}{totp} ], [['verified'], 1], 'listFactors: one verified totp factor');
    is($st{refresh}{aal}, 'aal2', 'refreshSession keeps aal2');
    is($st{signIn2}{error}, undef, 'a second sign-in');
    is_deeply([ @{ $st{aal_signin2} }{qw(currentLevel nextLevel)} ], [qw(aal1 aal2)], 'its level: aal1, next aal2 (the user has a verified factor)');
    is($st{unenroll_aal1}{error}{code}, 'insufficient_aal', 'unenroll a verified factor at aal1: insufficient_aal');
    is($st{unenroll_aal1}{error}{status}, 422, '... 422 as GoTrue');
    is($st{reused_code}{error}{code}, 'mfa_verification_failed', 'the code already used, on a new challenge: refused');
    is($st{challengeAndVerify}{aal}, 'aal2', 'challengeAndVerify with the next step\'s code: aal2');
    is_deeply([ $st{unenroll}{error}, $st{unenroll}{id} ], [undef, $e->{id}], 'unenroll at aal2: {id}');
    is(db1("select count(*) from promptd.mfa_factors where user_id = '$uid'"), 0, 'unenroll: the factor is gone');
    is($st{list_after}{all}, 0, 'listFactors: none');
    is($st{refresh_after}{aal}, 'aal1', 'the session it raised is aal1 again after a refresh');
    is_deeply($st{refresh_after}{amr}, ['password'], '... and its amr lost totp');
    is_deeply([ @{ $st{aal_end} }{qw(currentLevel nextLevel)} ], [qw(aal1 aal1)], 'getAuthenticatorAssuranceLevel at the end: aal1 -> aal1');
    my $actions = join ',', map { $_->[0] } @{ $s->psql("select action || ':' || outcome from audit_log where action like 'auth.mfa%' order by id") };
    like($actions, qr/^auth\.mfa_enroll:success,.*auth\.mfa_verify:failure,auth\.mfa_verify:success,.*auth\.mfa_unenroll:success$/,
         'the audit chain records enrolment, failures, verification and unenrolment');
}

# ------------------------------------------------------------- bad inputs
my $carol = signup('carol@example.com');
my $ct = $carol->{access_token};
my $old_aal1 = signin('carol@example.com');       # revoked when carol reaches aal2
my $dave = signup('dave@example.com');
my $dt = $dave->{access_token};
my $cid = db1("select id from auth.users where email = 'carol\@example.com'");

gotrue_err(au($ct, POST => '/auth/v1/factors', body => '{"factor_type":', headers => { 'Content-Type' => 'application/json' }),
           400, 'bad_json', 'malformed JSON');
gotrue_err(enroll($ct, { factor_type => 5 }), 400, 'bad_json', 'factor_type a number', qr/factor_type must be a string/);
gotrue_err(enroll($ct, { friendly_name => ['x'] }), 400, 'bad_json', 'friendly_name an array');
gotrue_err(enroll($ct, { factor_type => 'sms' }), 400, 'validation_failed', 'an unknown factor_type',
           qr/factor_type needs to be totp, phone, or webauthn/);
gotrue_err(au($ct, POST => '/auth/v1/factors', json => {}), 400, 'validation_failed', 'no factor_type');
gotrue_err(enroll($ct, { factor_type => 'phone' }), 422, 'mfa_phone_enroll_not_enabled', 'a phone factor');
gotrue_err(enroll($ct, { issuer => 'a:b' }), 400, 'validation_failed', 'an issuer with a colon');
gotrue_err(au(undef, POST => '/auth/v1/factors', json => { factor_type => 'totp' }), 401, 'no_authorization', 'no token');
is(db1("select count(*) from promptd.mfa_factors"), 0, 'refused enrolments store nothing');

my $e = enroll($ct, { friendly_name => 'laptop' });
is($e->{status}, 200, 'enrol') or diag $e->{body};
my ($fid, $secret) = ($e->{json}{id}, $e->{json}{totp}{secret});
like($e->{json}{totp}{qr_code}, qr{^<svg .*</svg>$}s, 'the qr_code is the SVG itself (GoTrue\'s wire form)');
like($e->{json}{totp}{uri}, qr{^otpauth://totp/127\.0\.0\.1:carol%40example\.com\?.*&issuer=127\.0\.0\.1&}, 'no issuer: PROMPTD_SITE_URL\'s host, without its port');
is(db1("select status from promptd.mfa_factors where id = '$fid'"), 'unverified', 'a new factor is unverified');
my $stored = db1("select secret from promptd.mfa_factors where id = '$fid'");
like($stored, qr/^v1:[A-Za-z0-9_-]+:[A-Za-z0-9+\/=]+:[A-Za-z0-9+\/=]+$/, 'the secret column holds a secretbox envelope');
my $raw_hex = unpack 'H*', b32d($secret);
ok(index($stored, $secret) < 0 && index(lc $stored, $raw_hex) < 0, 'neither the base32 nor the raw key is in the column');
is(db1("select count(*) from promptd.mfa_factors where secret like '%$secret%'"), 0, 'nor anywhere in the factors table');
my $u = au($ct, GET => '/auth/v1/user')->{json};
is_deeply([ map { [ @$_{qw(id friendly_name factor_type status)} ] } @{ $u->{factors} } ],
          [[ $fid, 'laptop', 'totp', 'unverified' ]], 'the user object lists the factor as GoTrue does');
ok($u->{factors}[0]{created_at} && $u->{factors}[0]{updated_at}, '... with created_at and updated_at');
ok(!exists au($dt, GET => '/auth/v1/user')->{json}{factors}, 'a user without factors has no factors member (GoTrue omits it)');

# unknown and foreign factors
my $nope = '00000000-0000-4000-8000-000000000000';
gotrue_err(challenge($ct, $nope), 404, 'mfa_factor_not_found', 'challenge an unknown factor', qr/^Factor not found$/);
gotrue_err(challenge($ct, 'not-a-uuid'), 404, 'mfa_factor_not_found', 'challenge a malformed factor id');
gotrue_err(challenge($dt, $fid), 404, 'mfa_factor_not_found', 'challenge another user\'s factor');
gotrue_err(verify($dt, $fid, $nope, '123456'), 404, 'mfa_factor_not_found', 'verify another user\'s factor');
gotrue_err(au($dt, DELETE => "/auth/v1/factors/$fid"), 404, 'mfa_factor_not_found', 'unenrol another user\'s factor');
is(db1("select count(*) from promptd.mfa_factors where id = '$fid'"), 1, 'the factor is untouched');

my $ch = challenge($ct, $fid);
is($ch->{status}, 200, 'challenge') or diag $ch->{body};
is_deeply([ $ch->{json}{type}, db1("select factor_id from promptd.mfa_challenges where id = '$ch->{json}{id}'") ],
          ['totp', $fid], 'challenge: a row for the factor');
my $chid = $ch->{json}{id};
gotrue_err(au($ct, POST => "/auth/v1/factors/$fid/verify", json => { challenge_id => $chid }), 400, 'validation_failed',
           'verify without a code', qr/Code needs to be non-empty/);
gotrue_err(au($ct, POST => "/auth/v1/factors/$fid/verify", json => { challenge_id => $chid, code => 123456 }), 400, 'bad_json',
           'a code that is a number');
gotrue_err(verify($ct, $fid, 'nope', '123456'), 400, 'validation_failed', 'a challenge_id that is not a UUID');
gotrue_err(verify($ct, $fid, $nope, '123456'), 422, 'mfa_factor_not_found', 'an unknown challenge',
           qr/challenge ID not found/);
my $wrong = totp($secret, step_now() + 10);
gotrue_err(verify($ct, $fid, $chid, $wrong), 422, 'mfa_verification_failed', 'a wrong code', qr/^Invalid TOTP code entered$/);
gotrue_err(verify($ct, $fid, $chid, 'abcdef'), 422, 'mfa_verification_failed', 'a code that is not digits');
is(db1("select failed_attempts from promptd.mfa_factors where id = '$fid'"), 2, 'each wrong code is counted (and committed)');
is(db1("select status from promptd.mfa_factors where id = '$fid'"), 'unverified', 'still unverified');

# an unverified factor does not raise the bar yet
is(au($ct, POST => '/api/v1/keys', json => { name => 'before', scopes => ['prompts:read'] })->{status}, 201,
   'no verified factor: an aal1 token still creates API keys');

# verification
my $step = step_now();
my $v = verify($ct, $fid, $chid, totp($secret, $step));
is($v->{status}, 200, 'verify the right code') or diag $v->{body};
my $c2 = claims($v->{json}{access_token});
is_deeply([ $c2->{aal}, $c2->{amr}[0]{method}, $c2->{amr}[1]{method}, $c2->{session_id} ],
          [ 'aal2', 'totp', 'password', claims($ct)->{session_id} ], 'a new token for the same session: aal2, amr totp then password');
ok(abs($c2->{amr}[0]{timestamp} - time) < 30, 'the totp entry is timestamped now');
is($v->{json}{user}{factors}[0]{status}, 'verified', 'the session\'s user lists the factor verified');
is(db1("select failed_attempts from promptd.mfa_factors where id = '$fid'"), 0, 'success clears the count');
is(db1("select verified_at is not null from promptd.mfa_challenges where id = '$chid'"), 't', 'the challenge is spent');
is(db1("select revoked from promptd.refresh_tokens where token_hash = decode('" . sha256_hex($carol->{refresh_token}) . "', 'hex')"), 't',
   'the session\'s previous refresh token is spent');
is(db1("select count(*) from promptd.refresh_tokens where not revoked and session_id = '" . claims($ct)->{session_id} . "'"), 1,
   'the session has one live refresh token, the new one');
gotrue_err(refresh($old_aal1->{refresh_token}), 400, 'refresh_token_not_found', 'the user\'s other aal1 session is revoked (as GoTrue)');
my $sess2 = signin('carol@example.com');      # aal1, revoked by the next verification
$v = $v->{json};

gotrue_err(verify($ct, $fid, $chid, totp($secret, $step + 1)), 422, 'mfa_ip_address_mismatch', 'a spent challenge again');
my $ch2 = challenge($v->{access_token}, $fid)->{json}{id};
gotrue_err(verify($v->{access_token}, $fid, $ch2, totp($secret, $step)), 422, 'mfa_verification_failed', 'the same code again (reused)');
like(db1("select detail::text from audit_log where action = 'auth.mfa_verify' and outcome = 'failure' order by id desc limit 1"),
     qr/reused_code/, 'the reuse is audited as such');
my $ch3 = challenge($v->{access_token}, $fid)->{json}{id};
$s->psql("update promptd.mfa_challenges set created_at = now() - interval '301 seconds' where id = '$ch3'");
gotrue_err(verify($v->{access_token}, $fid, $ch3, totp($secret, $step + 1)), 422, 'mfa_challenge_expired', 'an expired challenge',
           qr/MFA challenge \Q$ch3\E has expired/);
is(db1("select count(*) from promptd.mfa_challenges where id = '$ch3'"), 0, 'the expired challenge is dropped');

# too many tries: the fifth wrong code locks the factor for 5 minutes
$s->psql("update promptd.mfa_factors set failed_attempts = 0 where id = '$fid'");
my $ch4 = challenge($v->{access_token}, $fid)->{json}{id};
gotrue_err(verify($v->{access_token}, $fid, $ch4, '000000'), 422, 'mfa_verification_failed', "wrong code $_") for 1 .. 5;
my $r = verify($v->{access_token}, $fid, $ch4, totp($secret, step_now() + 1));
gotrue_err($r, 429, 'over_request_rate_limit', 'then even the right code', qr/Too many/);
ok(($r->{headers}{'retry-after'} // 0) > 0 && $r->{headers}{'retry-after'} <= 300, 'with Retry-After');
is(db1("select failed_attempts from promptd.mfa_factors where id = '$fid'"), 5, 'the lock is in the database');
$s->psql("update promptd.mfa_factors set last_failed_at = now() - interval '301 seconds' where id = '$fid'");
my $sv = verify($v->{access_token}, $fid, $ch4, totp($secret, step_now() + 1));
is($sv->{status}, 200, 'after five minutes the right code passes') or diag $sv->{body};
$v = $sv->{json};

# refresh keeps aal2
my $rf = refresh($v->{refresh_token});
is($rf->{status}, 200, 'refresh the aal2 session') or diag $rf->{body};
is_deeply([ claims($rf->{json}{access_token})->{aal}, claims($rf->{json}{access_token})->{amr}[0]{method} ], ['aal2', 'totp'],
          'the refreshed token keeps aal2 and amr totp');
my $a2 = $rf->{json}{access_token};
gotrue_err(refresh($sess2->{refresh_token}), 400, 'refresh_token_not_found', 'each verification revokes the other aal1 sessions');
my $a1 = signin('carol@example.com')->{access_token};
is(claims($a1)->{aal}, 'aal1', 'a password sign-in is aal1');

# ------------------------------------------------------------- sensitive routes: aal1 403, aal2 passes
sub aal_refused {
    my ($r, $name) = @_;
    problem_ok($r, 403, "$name at aal1", qr/AAL2/);
}
my $key = au($a2, POST => '/api/v1/keys', json => { name => 'k', scopes => ['prompts:read'] });
is($key->{status}, 201, 'aal2: create an API key') or diag $key->{body};
my $nkeys = db1("select count(*) from public.api_keys");
aal_refused(au($a1, POST => '/api/v1/keys', json => { name => 'k1', scopes => ['prompts:read'] }), 'create an API key');
aal_refused(au($a1, DELETE => "/api/v1/keys/$key->{json}{id}"), 'revoke an API key');
is(db1("select count(*) from public.api_keys"), $nkeys, 'no key was created');
is(db1("select revoked_at is null from public.api_keys where id = '$key->{json}{id}'"), 't', 'nor revoked');
is(au($a1, GET => '/api/v1/keys')->{status}, 200, 'listing keys is not sensitive');
is(au($a2, DELETE => "/api/v1/keys/$key->{json}{id}")->{status}, 204, 'aal2: revoke the key');

my $hash = db1("select encrypted_password from auth.users where id = '$cid'");
gotrue_err(au($a1, PUT => '/auth/v1/user', json => { password => 'another long password' }), 403, 'insufficient_aal',
           'change the password at aal1', qr/AAL2/);
gotrue_err(au($a1, PUT => '/auth/v1/user', json => { email => 'carol2@example.com' }), 403, 'insufficient_aal', 'change the email at aal1');
is(db1("select encrypted_password || ' ' || email from auth.users where id = '$cid'"), "$hash carol\@example.com", 'neither changed');
is(au($a1, PUT => '/auth/v1/user', json => { data => { theme => 'dark' } })->{status}, 200, 'metadata at aal1 is fine');
gotrue_err(enroll($a1, { friendly_name => 'second' }), 403, 'insufficient_aal', 'enrol another factor at aal1');
gotrue_err(au($a1, DELETE => "/auth/v1/factors/$fid"), 422, 'insufficient_aal', 'unenrol the verified factor at aal1',
           qr/AAL2 required to unenroll verified factor/);
is(db1("select count(*) from promptd.mfa_factors where id = '$fid'"), 1, 'the factor stays');
my $spare = enroll($a2, { friendly_name => 'spare' });
is($spare->{status}, 200, 'aal2: enrol a second (unverified) factor') or diag $spare->{body};
gotrue_err(au($a1, DELETE => "/auth/v1/factors/$spare->{json}{id}"), 422, 'insufficient_aal',
           'unenrol even an unverified factor at aal1 (the user has a verified one)');
is(au($a2, DELETE => "/auth/v1/factors/$spare->{json}{id}")->{status}, 200, 'aal2: unenrol it');
is(db1("select count(*) from promptd.mfa_factors where user_id = '$cid'"), 1, 'one factor left');
$r = au($a2, PUT => '/auth/v1/user', json => { password => 'another long password' });
is($r->{status}, 200, 'aal2: change the password') or diag $r->{body};
isnt(db1("select encrypted_password from auth.users where id = '$cid'"), $hash, 'the hash changed');

# workspace ownership: the owner makes a member owner
my $ws = au($a2, POST => '/api/v1/workspaces', json => { name => 'Team' })->{json}{id};
my $inv = au($a2, POST => "/api/v1/workspaces/$ws/invitations", json => { email => 'dave@example.com', role => 'editor' });
is($inv->{status}, 201, 'invite dave') or diag $inv->{body};
is(au($dt, POST => "/api/v1/invitations/$inv->{json}{token}/accept")->{status}, 200, 'dave joins');
my $did = db1("select id from auth.users where email = 'dave\@example.com'");
aal_refused(au($a1, PATCH => "/api/v1/workspaces/$ws/members/$did", json => { role => 'owner' }), 'make dave owner');
is(db1("select role from public.workspace_members where workspace_id = '$ws' and user_id = '$did'"), 'editor', 'dave is still an editor');
$r = au($a2, PATCH => "/api/v1/workspaces/$ws/members/$did", json => { role => 'owner' });
is($r->{status}, 200, 'aal2: make dave owner') or diag $r->{body};
is(db1("select role from public.workspace_members where workspace_id = '$ws' and user_id = '$did'"), 'owner', 'dave owns it');
is(au($dt, PATCH => "/api/v1/workspaces/$ws/members/$cid", json => { role => 'editor' })->{status}, 200,
   'a user without a second factor needs no aal2');

# account deletion
aal_refused(au($a1, DELETE => '/api/v1/me'), 'delete the account');
is(db1("select count(*) from auth.users where id = '$cid' and deleted_at is null"), 1, 'carol still exists');

# unenrol at aal2, then aal1 is enough again
$r = au($a2, DELETE => "/auth/v1/factors/$fid");
is($r->{status}, 200, 'aal2: unenrol') or diag $r->{body};
is_deeply($r->{json}, { id => $fid }, '... {id}');
is(db1("select count(*) from promptd.mfa_factors where user_id = '$cid'"), 0, 'no factor left');
is(db1("select aal from promptd.sessions where id = '" . claims($a2)->{session_id} . "'"), 'aal1', 'the session it raised is aal1 again');
is(au($a1, POST => '/api/v1/keys', json => { name => 'k2', scopes => ['prompts:read'] })->{status}, 201,
   'without a verified factor aal1 creates keys again');

# account deletion at aal2 (erin: a verified factor, a fresh aal2 session)
my $erin = signup('erin@example.com');
my (undef, undef, $ev) = enrolled($erin, 'erin-phone');
my $eid = db1("select id from auth.users where email = 'erin\@example.com'");
aal_refused(au(signin('erin@example.com')->{access_token}, DELETE => '/api/v1/me'), 'erin deletes her account');
$r = au($ev->{access_token}, DELETE => '/api/v1/me');
is($r->{status}, 204, 'aal2: delete the account') or diag $r->{body};
is(db1("select count(*) from auth.users where id = '$eid' and deleted_at is null"), 0, 'erin is gone');

# a raw SQL caller (PostgREST's role) can neither read factors nor raise its session
my $err = eval { $s->as_role('authenticated', $did, 'select * from promptd.mfa_factors'); 1 } ? '' : $@;
like($err, qr/permission denied/, 'authenticated cannot read promptd.mfa_factors');
$err = eval { $s->as_role('authenticated', $did, "select promptd.mfa_verify_ok('$nope', '$nope', 1, '$nope', '\\x00')"); 1 } ? '' : $@;
like($err, qr/permission denied/, 'nor call mfa_verify_ok');

$s->stop;
done_testing;
