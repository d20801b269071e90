#!/usr/bin/perl
# 210-supabase-js.t: the official @supabase/supabase-js client, unchanged, against /auth/v1
# (signUp, signInWithPassword, getUser, refreshSession, signOut).
#
# Installs @supabase/supabase-js 2.109.0 (pinned) with npm into $PROMPTD_BUILD_DIR/t/.npm on first
# run (the npm registry is the only network it uses); skipped when node/npm are
# missing or the install fails.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use Promptd::Test;

my $build = $ENV{PROMPTD_BUILD_DIR} || "$FindBin::Bin/..";
my $prefix = "$build/t/.npm";
my $script = "$FindBin::Bin/js/supabase-flow.mjs";

sub have { my $c = shift; system("command -v $c >/dev/null 2>&1") == 0 }
plan skip_all => 'node and npm are required (not found)' unless have('node') && have('npm');
my ($major) = (`node --version` // '') =~ /^v(\d+)/;
plan skip_all => 'node >= 20 is required (supabase-js 2.109)' unless $major && $major >= 20;
my $npm_lock = Promptd::Test::npm_lock($build);
unless (-d "$prefix/node_modules/\@supabase/supabase-js") {
    mkdir "$build/t"; mkdir $prefix;
    if (!-e "$prefix/package.json") {
        open my $fh, '>', "$prefix/package.json" or die "$prefix/package.json: $!";
        print $fh qq({"name":"promptd-tests","private":true}\n);
        close $fh;
    }
    my $log = `cd '$prefix' && npm install --no-audit --no-fund --loglevel=error \@supabase/supabase-js\@2.109.0 2>&1`;
    plan skip_all => "npm install \@supabase/supabase-js failed: " . substr($log, 0, 200)
        if $? != 0 || !-d "$prefix/node_modules/\@supabase/supabase-js";
}
close $npm_lock;

my $KEY = 'anon-key-for-supabase-js';
my $s = Promptd::Test->new(PROMPTD_ANON_KEY => $KEY);
# The script runs from the npm prefix so that its import resolves there.
system('cp', $script, "$prefix/supabase-flow.mjs") == 0 or die "cp: $?";
my $out = `cd '$prefix' && node supabase-flow.mjs '@{[ $s->url('') ]}' '$KEY' 'js.user\@example.com' 'a long js password' 2>&1`;
is($?, 0, 'node script ran') or diag $out;
my %step;
for (split /\n/, $out) {
    my $j = eval { decode_json($_) } or next;
    $step{ $j->{step} } = $j;
}

is($step{signUp}{error}, undef, 'signUp: no error') or diag explain $step{signUp};
is($step{signUp}{user}, 'js.user@example.com', 'signUp: user');
ok($step{signUp}{session}, 'signUp: session (autoconfirm)');
is_deeply($step{signUp}{meta}, { from => 'js' }, 'signUp: options.data -> user_metadata');
is($step{signUpWeak}{error}{name}, 'AuthWeakPasswordError', 'weak password: AuthWeakPasswordError');
is_deeply($step{signUpWeak}{reasons}, ['length'], 'weak password: reasons');
is($step{signInWrong}{error}{code}, 'invalid_credentials', 'wrong password: invalid_credentials');
is($step{signInWrong}{error}{status}, 400, 'wrong password: 400');
is($step{signIn}{error}, undef, 'signInWithPassword: no error') or diag explain $step{signIn};
is($step{signIn}{token_type}, 'bearer', 'signInWithPassword: bearer session');
ok($step{signIn}{expires_at} > time, 'signInWithPassword: expires_at');
ok($step{getUser}{same}, 'getUser: the signed-in user') or diag explain $step{getUser};
ok($step{refreshSession}{rotated}, 'refreshSession: rotated refresh token') or diag explain $step{refreshSession};
is($step{apiWithToken}{status}, 200, 'refreshed access token works on /api/v1/prompts');
is($step{signOut}{error}, undef, 'signOut: no error');
ok($step{getUserAfterSignOut}{error}, 'getUser after signOut: an error');
is($step{getUserAfterSignOut}{user}, undef, 'getUser after signOut: no user');

my @sent = @{ $step{headers}{sent} || [] };
ok(@sent >= 6, 'requests recorded');
ok(!(grep { ($_->{apikey} // '') ne $KEY } @sent), 'every request carried the apikey');
ok(!(grep { !$_->{client} } @sent), 'every request carried X-Client-Info');
is($s->psql("select count(*) from promptd.sessions s join auth.users u on u.id = s.user_id "
          . "where u.email = 'js.user\@example.com' and s.revoked_at is null")->[0][0], 0,
   'signOut revoked the sessions');

$s->stop;
done_testing;
