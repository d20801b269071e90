#!/usr/bin/perl
# 250-auth-refresh-reuse.t: the refresh-token grace window
# (PROMPTD_REFRESH_REUSE_INTERVAL): two tabs refreshing with one token both
# get a session; replays outside the window, or of an older token, still
# revoke the session.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use MIME::Base64 qw(decode_base64url);
use Time::HiRes qw(sleep time);
use Promptd::Test qw(db1);

my $WINDOW = 2;
my $s = Promptd::Test->new(PROMPTD_REFRESH_REUSE_INTERVAL => $WINDOW);
sub sid { JSON::PP->new->decode(decode_base64url((split /\./, $_[0])[1]))->{session_id} }
sub refresh {
    $s->request(POST => '/auth/v1/token?grant_type=refresh_token',
                { json => { refresh_token => $_[0] } });
}
sub signin {
    my $r = $s->request(POST => '/auth/v1/signup',
                        { json => { email => $_[0], password => 'a long test secret' } });
    die "signup $_[0]: $r->{status} $r->{body}" unless $r->{status} == 200;
    return $r->{json};
}
sub revoked { db1("select revoked_at is not null from promptd.sessions where id = '$_[0]'") eq 't' }

# --- two tabs race with the same token: both get a session
my $a = signin('tabs@example.com');
my $sid = sid($a->{access_token});
my $t1 = refresh($a->{refresh_token});
is($t1->{status}, 200, 'tab 1 refreshes') or diag $t1->{body};
my $t2 = refresh($a->{refresh_token});
is($t2->{status}, 200, 'tab 2 refreshes with the same (now spent) token inside the window')
    or diag $t2->{body};
is(sid($t2->{json}{access_token}), $sid, '... in the same session');
isnt($t2->{json}{refresh_token}, $t1->{json}{refresh_token}, '... with its own new refresh token');
ok(!revoked($sid), 'the session is not revoked');
is(db1("select count(*) from promptd.refresh_tokens c join promptd.refresh_tokens p on p.id = c.parent "
       . "where c.session_id = '$sid' and not c.revoked"), 2, 'two live siblings, one parent');
is(refresh($t1->{json}{refresh_token})->{status}, 200, "tab 1's token works");

# --- an older token (its child already rotated) is reuse, even inside the window
my $b = signin('older@example.com');
my $bsid = sid($b->{access_token});
my $b1 = refresh($b->{refresh_token});
my $b2 = refresh($b1->{json}{refresh_token});
is($b2->{status}, 200, 'a second rotation');
my $replay = refresh($b->{refresh_token});
is($replay->{status}, 400, 'the first token again (its child is spent) -> 400');
is($replay->{json}{error_code}, 'refresh_token_already_used', '... refresh_token_already_used');
ok(revoked($bsid), '... and the session is revoked');

# --- past the window, the spent token is reuse
my $c = signin('late@example.com');
my $csid = sid($c->{access_token});
my $c1 = refresh($c->{refresh_token});
is($c1->{status}, 200, 'rotated');
my $rotated = time;
sleep 0.1 while time - $rotated < $WINDOW + 0.5;   # the window is a lower bound: wait it out
my $late = refresh($c->{refresh_token});
is($late->{status}, 400, 'the spent token after the window -> 400');
is($late->{json}{error_code}, 'refresh_token_already_used', '... refresh_token_already_used');
ok(revoked($csid), '... and the session is revoked');
is(refresh($c1->{json}{refresh_token})->{status}, 400, "the session's newest token stops working");

# --- a logged-out session's token is not revived by the window
my $d = signin('logout@example.com');
my $d1 = refresh($d->{refresh_token});
my $out = $s->request(POST => '/auth/v1/logout', { token => $d1->{json}{access_token} });
is($out->{status}, 204, 'logout');
my $after = refresh($d->{refresh_token});
is($after->{status}, 400, 'a spent token of a logged-out session -> 400 inside the window');
is($after->{json}{error_code}, 'refresh_token_not_found', '... refresh_token_not_found');

done_testing();
