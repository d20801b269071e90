#!/usr/bin/perl
# 950-auth-email.t: the account flows by mail through the official auth client (signUp confirmation, verifyOtp, resend, resetPasswordForEmail, signInWithOtp, updateUser email change), the mailed links and their redirect allow-list, and every bad code.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use HTTP::Tiny;
use JSON::PP;
use Test::More;
use Promptd::Test qw(db1 req);
use Promptd::FakeSMTP;

my $build = $ENV{PROMPTD_BUILD_DIR} || "$FindBin::Bin/..";
my $prefix = "$build/t/.npm";
sub have { my $c = shift; system("command -v $c >/dev/null 2>&1") == 0 }
plan skip_all => 'node is required (not found)' unless have('node');
my $npm_lock = Promptd::Test::npm_lock($build);    # not while another suite installs
plan skip_all => '@supabase/supabase-js is not installed in t/.npm (./bootstrap installs it)'
    unless -d "$prefix/node_modules/\@supabase/supabase-js";
close $npm_lock;

my $KEY = 'anon-key-for-mail-flows';
my $smtp = Promptd::FakeSMTP->new;
my $s = Promptd::Test->new(PROMPTD_ANON_KEY => $KEY, PROMPTD_SMTP_URL => $smtp->url,
                           PROMPTD_JOBS_POLL => 100,
                           PROMPTD_SMTP_FROM => 'promptd <no-reply@promptd.test>',
                           PROMPTD_REDIRECT_ALLOW => 'http://app.test:3000/welcome, https://*.promptd.test');
my $site = $s->url('');
system('cp', "$FindBin::Bin/js/auth-email.mjs", "$prefix/auth-email.mjs") == 0 or die "cp: $?";
my $JSON = JSON::PP->new->canonical;

# js($step, {args}) -> the step's JSON line from auth-email.mjs.
sub js {
    my ($step, $args) = @_;
    my $a = $JSON->encode($args);
    $a =~ s/'/'\\''/g;
    my $out = `cd '$prefix' && node auth-email.mjs '$site' '$KEY' $step '$a' 2>&1`;
    my ($line) = grep { /^\{/ } split /\n/, $out;
    my $r = eval { $JSON->decode($line // '') };
    diag "js $step: $out" unless $r;
    return $r || { error => { message => $out } };
}

# mail($to, $subject_re) -> the newest mail to $to whose subject matches,
# as {code, link, subject}; waits up to 30 s for one not seen before.
my %seen;
sub mail {
    my ($to, $re) = @_;
    for (1 .. 600) {
        my @m = grep { (join ',', @{ $_->{rcpt} }) =~ /\Q$to\E/i && ($_->{headers}{subject} // '') =~ $re }
                $smtp->messages;
        my ($new) = grep { !$seen{ $_->{headers}{'message-id'} } } reverse @m;
        if ($new) {
            $seen{ $new->{headers}{'message-id'} } = 1;
            my $text = $new->{parts}{'text/plain'} // '';
            my ($code) = $text =~ /\b(\d{6})\b/;
            my ($link) = $text =~ m{(https?://\S+/auth/v1/verify\?\S+)};
            return { code => $code, link => $link, subject => $new->{headers}{subject}, text => $text };
        }
        select undef, undef, undef, 0.05;
    }
    return {};
}
sub mails_to { my $to = shift; scalar grep { (join ',', @{ $_->{rcpt} }) =~ /\Q$to\E/i } $smtp->messages }
sub outbox { db1("select count(*) from promptd.mail_outbox where lower(to_addr) = lower('$_[0]')") }
sub err_is {
    my ($r, $status, $code, $name) = @_;
    is($r->{error}{status}, $status, "$name: $status") or diag explain $r;
    is($r->{error}{code}, $code, "$name: $code");
}

# ------------------------------------------------------------- sign-up confirmation
my $r = js(signUp => { email => 'alice@example.com', password => 'a long alice password',
                       redirect => 'http://app.test:3000/welcome' });
is($r->{error}, undef, 'signUp with mail configured: no error') or diag explain $r;
is($r->{session}, undef, '... no session before the address is proven');
is($r->{user}, 'alice@example.com', '... the user');
is($r->{confirmed}, undef, '... not confirmed');
is(db1("select email_confirmed_at is null from auth.users where email = 'alice\@example.com'"), 't',
   'the account is unconfirmed (database)');
my $m = mail('alice@example.com', qr/Confirm your email/);
like($m->{code} // '', qr/^\d{6}$/, 'the confirmation mail states a 6-digit code');
like($m->{link} // '', qr{^\Q$site\E/auth/v1/verify\?token=[A-Za-z0-9_-]{43}&type=signup&redirect_to=http%3A%2F%2Fapp\.test%3A3000%2Fwelcome$},
     '... and the link, with the allowed redirect');
is(db1("select count(*) from promptd.auth_codes c join auth.users u on u.id = c.user_id
        where u.email = 'alice\@example.com' and c.kind = 'signup'
          and c.code_hash <> convert_to('$m->{code}', 'UTF8') and length(c.code_hash) = 32"),
   1, 'one code at rest, hashed');
is(db1("select count(*) from promptd.auth_codes where encode(code_hash, 'escape') like '%$m->{code}%'"), 0,
   'the code is nowhere in clear');

err_is(js(signIn => { email => 'alice@example.com', password => 'a long alice password' }),
       400, 'email_not_confirmed', 'password sign-in before confirmation');
my $wrong = $m->{code} eq '000000' ? '111111' : '000000';
err_is(js(verifyOtp => { email => 'alice@example.com', token => $wrong, type => 'signup' }),
       403, 'otp_expired', 'a wrong code');
is(db1("select tries from promptd.auth_codes c join auth.users u on u.id = c.user_id where u.email = 'alice\@example.com'"),
   1, '... counted (database)');
$r = js(verifyOtp => { email => 'alice@example.com', token => $m->{code}, type => 'signup' });
is($r->{error}, undef, 'verifyOtp signup with the code') or diag explain $r;
ok($r->{session}{access_token} && $r->{session}{refresh_token}, '... returns a session');
is($r->{amr}[0]{method}, 'otp', '... its amr says otp');
is(db1("select email_confirmed_at is not null from auth.users where email = 'alice\@example.com'"), 't',
   'the address is confirmed (database)');
is(db1("select count(*) from promptd.auth_codes c join auth.users u on u.id = c.user_id where u.email = 'alice\@example.com'"),
   0, 'the code is spent (database)');
err_is(js(verifyOtp => { email => 'alice@example.com', token => $m->{code}, type => 'signup' }),
       403, 'otp_expired', 'the same code again');
$r = js(signIn => { email => 'alice@example.com', password => 'a long alice password' });
is($r->{error}, undef, 'password sign-in after confirmation');
my $alice = $r->{session};

my $n_users = db1('select count(*) from auth.users');
my $n_mail = mails_to('alice@example.com');
$r = js(signUp => { email => 'Alice@Example.com', password => 'another long password' });
is($r->{error}, undef, 'signUp with a proven address answers as for a new one');
is($r->{session}, undef, '... without a session');
is(db1('select count(*) from auth.users'), $n_users, '... and creates nobody');
is(outbox('alice@example.com'), 1, '... and queues no mail');

# ------------------------------------------------------------- the mailed link, redirects
my $raw = HTTP::Tiny->new(max_redirect => 0, timeout => 30);
sub location {
    my ($path) = @_;
    my $res = $raw->get($s->url($path));
    return ($res->{status}, $res->{headers}{location} // '');
}
$r = js(signUp => { email => 'bob@example.com', password => 'a long bob password',
                    redirect => 'https://evil.test/steal' });
$m = mail('bob@example.com', qr/Confirm your email/);
like($m->{link} // '', qr{&redirect_to=\Q@{[ $site =~ s/([:\/])/sprintf('%%%02X', ord $1)/ger ]}\E$},
     'a redirect outside the allow-list: the link goes to the site URL');
(my $path = $m->{link}) =~ s{^\Q$site\E}{};
my ($st, $loc) = location($path);
is($st, 303, 'opening the link: 303');
like($loc, qr{^\Q$site\E#access_token=[^&]+&expires_at=\d+&expires_in=\d+&refresh_token=[^&]+&token_type=bearer&type=signup$},
     '... to the site URL with the session in the fragment');
is(db1("select email_confirmed_at is not null from auth.users where email = 'bob\@example.com'"), 't',
   '... and the address is confirmed (database)');
($st, $loc) = location($path);
is($st, 303, 'the link again: 303');
like($loc, qr{^\Q$site\E#error=access_denied&error_code=otp_expired&error_description=}, '... with otp_expired');
for my $case (['http://app.test:3000/welcome', 'http://app.test:3000/welcome'],
              ['http://app.test:3000/welcome/next?x=1', 'http://app.test:3000/welcome/next?x=1'],
              ['https://a.promptd.test/cb', 'https://a.promptd.test/cb'],
              ['https://evil.test/', $site], ['http://app.test:3000/welcomeX', $site],
              ['http://app.test:3000@evil.test/welcome', $site],
              ['https://evil.test/.promptd.test/x', $site], ['javascript:alert(1)', $site]) {
    my ($want, $to) = @$case;
    my $enc = $want =~ s/([^A-Za-z0-9._~-])/sprintf('%%%02X', ord $1)/ger;
    ($st, $loc) = location("/auth/v1/verify?token=nothing&type=signup&redirect_to=$enc");
    is($st, 303, "a bad link redirecting to $want: 303");
    like($loc, qr{^\Q$to\E#error=access_denied&error_code=otp_expired}, "... goes to $to");
}
($st, $loc) = location('/auth/v1/verify?token=x&type=invite');
like($loc, qr{#error=access_denied&error_code=validation_failed}, 'a link of an unknown type');

# ------------------------------------------------------------- resend, rate limit
js(signUp => { email => 'carol@example.com', password => 'a long carol password' });
mail('carol@example.com', qr/Confirm your email/);
$r = js(resend => { type => 'signup', email => 'carol@example.com' });
err_is($r, 429, 'over_email_send_rate_limit', 'resend within 60 s');
like($r->{error}{message}, qr/only request this after \d+ seconds/, '... says when');
is(outbox('carol@example.com'), 1, '... and queues nothing');
$s->psql("update promptd.mail_outbox set created_at = created_at - interval '2 minutes' where to_addr = 'carol\@example.com'");
$r = js(resend => { type => 'signup', email => 'carol@example.com' });
is($r->{error}, undef, 'resend after the interval');
my $m2 = mail('carol@example.com', qr/Confirm your email/);
like($m2->{code} // '', qr/^\d{6}$/, '... mails a new code');
is(db1("select count(*) from promptd.auth_codes c join auth.users u on u.id = c.user_id where u.email = 'carol\@example.com'"),
   1, '... which replaces the first (database)');
is(js(resend => { type => 'signup', email => 'nobody@example.com' })->{error}, undef,
   'resend to an unknown address answers the same');
is(js(resend => { type => 'signup', email => 'alice@example.com' })->{error}, undef,
   'resend to a confirmed address answers the same');
is(outbox('nobody@example.com') + outbox('alice@example.com'), 1, '... and mails neither');

# ------------------------------------------------------------- recovery
$r = js(reset => { email => 'alice@example.com', redirect => 'http://app.test:3000/welcome' });
is($r->{error}, undef, 'resetPasswordForEmail for a known address');
is(js(reset => { email => 'nobody@example.com' })->{error}, undef, '... and an unknown one answers the same');
$m = mail('alice@example.com', qr/Reset your/);
like($m->{code} // '', qr/^\d{6}$/, 'the recovery mail states a code');
is(outbox('nobody@example.com'), 0, 'nothing went to the unknown address');
err_is(js(reset => { email => 'alice@example.com' }), 429, 'over_email_send_rate_limit', 'a second reset at once');
$r = js(verifyOtp => { email => 'alice@example.com', token => $m->{code}, type => 'recovery' });
is($r->{error}, undef, 'verifyOtp recovery');
is($r->{amr}[0]{method}, 'recovery', '... a session whose amr says recovery');
my $rec = $r->{session};
$r = js(updateUser => { %$rec, attrs => { password => 'a brand new password' } });
is($r->{error}, undef, 'the recovery session may set a new password') or diag explain $r;
is(js(signIn => { email => 'alice@example.com', password => 'a brand new password' })->{error}, undef,
   'signing in with it works');
err_is(js(signIn => { email => 'alice@example.com', password => 'a long alice password' }),
       400, 'invalid_credentials', 'the old password no longer does');

# ------------------------------------------------------------- sign-in by code
err_is(js(otp => { email => 'dave@example.com', create => JSON::PP::false }), 422, 'otp_disabled',
       'signInWithOtp, shouldCreateUser false, an unknown address');
is(db1("select count(*) from auth.users where email = 'dave\@example.com'"), 0, '... creates nobody');
is(js(otp => { email => 'dave@example.com', create => JSON::PP::true })->{error}, undef,
   'signInWithOtp creating the account');
is(db1("select email_confirmed_at is null and encrypted_password is null from auth.users where email = 'dave\@example.com'"),
   't', '... unconfirmed, without a password (database)');
$m = mail('dave@example.com', qr/sign-in code/);
$r = js(verifyOtp => { email => 'dave@example.com', token => $m->{code}, type => 'email' });
is($r->{error}, undef, 'verifyOtp type email');
is($r->{session}{email}, 'dave@example.com', '... signs dave in');
is(db1("select email_confirmed_at is not null from auth.users where email = 'dave\@example.com'"), 't',
   '... and proves the address');
is(js(otp => { email => 'bob@example.com', create => JSON::PP::false })->{error}, undef,
   'signInWithOtp for an existing account');
$m = mail('bob@example.com', qr/sign-in code/);
is(js(verifyOtp => { email => 'bob@example.com', token => $m->{code}, type => 'magiclink' })->{error}, undef,
   '... verifyOtp type magiclink');

# exhausted and expired codes
js(otp => { email => 'erin@example.com', create => JSON::PP::true });
$m = mail('erin@example.com', qr/sign-in code/);
$wrong = $m->{code} eq '000000' ? '111111' : '000000';
for my $i (1 .. 5) {
    err_is(js(verifyOtp => { email => 'erin@example.com', token => $wrong, type => 'email' }),
           403, 'otp_expired', "wrong code $i");
}
is(db1("select count(*) from promptd.auth_codes c join auth.users u on u.id = c.user_id where u.email = 'erin\@example.com'"),
   0, 'the fifth wrong code spends the code (database)');
err_is(js(verifyOtp => { email => 'erin@example.com', token => $m->{code}, type => 'email' }),
       403, 'otp_expired', 'the right code after five wrong ones');
js(otp => { email => 'frank@example.com', create => JSON::PP::true });
$m = mail('frank@example.com', qr/sign-in code/);
$s->psql("update promptd.auth_codes set expires_at = now() - interval '1 second' where email = 'frank\@example.com'");
err_is(js(verifyOtp => { email => 'frank@example.com', token => $m->{code}, type => 'email' }),
       403, 'otp_expired', 'an expired code');
is(db1("select email_confirmed_at is null from auth.users where email = 'frank\@example.com'"), 't',
   '... proves nothing');
err_is(js(verifyOtp => { email => 'bob@example.com', token => '123456', type => 'recovery' }),
       403, 'otp_expired', 'a code of a kind never sent');

# ------------------------------------------------------------- email change
$r = js(signIn => { email => 'alice@example.com', password => 'a brand new password' });
$alice = $r->{session};
$r = js(updateUser => { %$alice, attrs => { email => 'alice.new@example.com' } });
is($r->{error}, undef, 'updateUser email with mail configured') or diag explain $r;
is($r->{email}, 'alice@example.com', '... keeps the old address until proven');
$m = mail('alice.new@example.com', qr/Confirm your new email/);
like($m->{code} // '', qr/^\d{6}$/, 'a code goes to the new address');
like(mail('alice@example.com', qr/is changing/)->{text} // '', qr/alice\.new\@example\.com/,
     'a notice goes to the old one');
is(db1("select email from auth.users where id = (select user_id from promptd.auth_codes where kind = 'email_change')"),
   'alice@example.com', 'the address is unchanged so far (database)');
err_is(js(updateUser => { %$alice, attrs => { email => 'bob@example.com' } }), 422, 'email_exists',
       'changing to a taken address');
$r = js(verifyOtp => { email => 'alice.new@example.com', token => $m->{code}, type => 'email_change' });
is($r->{error}, undef, 'verifyOtp email_change');
is($r->{session}{email}, 'alice.new@example.com', '... the session has the new address');
is(db1("select u.email || ' ' || p.email from auth.users u join public.profiles p on p.id = u.id
        where u.email like 'alice%'"), 'alice.new@example.com alice.new@example.com',
   'the account and profile changed (database)');
is(db1("select count(*) from public.audit_log where action = 'auth.email_change'"), 1,
   'the audit chain records the change');
is(js(signIn => { email => 'alice.new@example.com', password => 'a brand new password' })->{error}, undef,
   'signing in with the new address');

# ------------------------------------------------------------- bad input (raw)
sub post {
    my ($path, $body, %h) = @_;
    return req(POST => $path, body => $body,
               headers => { 'Content-Type' => 'application/json', apikey => $KEY, %h });
}
sub gotrue_ok {
    my ($r, $status, $code, $name) = @_;
    is($r->{status}, $status, "$name -> $status") or diag $r->{body};
    is($r->{json}{error_code}, $code, "$name: $code");
}
gotrue_ok(post('/auth/v1/verify', '{"type":'), 400, 'bad_json', 'verify: malformed JSON');
gotrue_ok(post('/auth/v1/verify', '{"email":"a@example.com","token":"123456"}'), 400, 'validation_failed',
          'verify: no type');
gotrue_ok(post('/auth/v1/verify', '{"type":7,"email":"a@example.com","token":"123456"}'), 400, 'bad_json',
          'verify: a number for type');
gotrue_ok(post('/auth/v1/verify', '{"type":"invite","email":"a@example.com","token":"123456"}'), 400,
          'validation_failed', 'verify: an unsupported type');
gotrue_ok(post('/auth/v1/verify', '{"type":"signup","email":"a@example.com"}'), 400, 'validation_failed',
          'verify: no token');
gotrue_ok(post('/auth/v1/verify', '{"type":"signup","email":"a@example.com","token":"12ab56"}'), 403,
          'otp_expired', 'verify: a token that is not 6 digits');
gotrue_ok(post('/auth/v1/verify', '{"type":"signup","token_hash":"' . ('x' x 200) . '"}'), 403,
          'otp_expired', 'verify: an over-long token_hash');
gotrue_ok(post('/auth/v1/verify', '{"type":"signup","email":"not an address","token":"123456"}'), 400,
          'validation_failed', 'verify: a bad address');
gotrue_ok(post('/auth/v1/otp', '{"email":"x@example.com","create_user":"yes"}'), 400, 'bad_json',
          'otp: create_user not a boolean');
gotrue_ok(post('/auth/v1/recover', '{}'), 400, 'validation_failed', 'recover: no email');
gotrue_ok(post('/auth/v1/recover', '{"email":["a"]}'), 400, 'bad_json', 'recover: email not a string');
gotrue_ok(post('/auth/v1/resend', '{"type":"recovery","email":"a@example.com"}'), 400, 'validation_failed',
          'resend: a type it does not send');
$r = post('/auth/v1/verify', '{"type":"signup","email":"a@example.com","token":"123456"}', apikey => 'wrong');
is($r->{status}, 401, 'verify with a wrong apikey: 401');
$r = post('/auth/v1/recover', '{"email":"' . ('a' x 300000) . '@example.com"}');
is($r->{status}, 413, 'an oversize body: 413');
is(db1("select count(*) from promptd.auth_codes where email like 'x@%' or email like 'a@%'"), 0,
   'no code from bad input (database)');

done_testing;
