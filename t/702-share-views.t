#!/usr/bin/perl
# 702-share-views.t: share analytics: page loads counted from nginx's view log (cached loads
# included, link-preview bots, HEAD, errors and password forms excluded) by the share.views job;
# unique viewers by salted hash (no raw address stored); referrer hosts; daily series; forks;
# the cursor makes ingestion incremental; stats and list endpoints show it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA qw(sha256_hex);
use JSON::PP;
use Time::HiRes qw(time sleep);
use Promptd::Test qw(db1 api);

my $s = Promptd::Test->new;
my ($alice, $ta, $bob, $tb) = $s->users(qw(alice bob));
my $T = JSON::PP::true;

sub visit {
    my ($path, $ua, %h) = @_;
    return $s->request(GET => $path, { headers => { 'User-Agent' => $ua, %h } });
}
# Run the ingestion job now (the schedule would within 10 s) and wait for it.
# nginx logs a request after answering it, but reads the next request on a
# kept-alive connection only after that: one more round trip on the same
# connection first makes sure every earlier view is in the log.
sub ingest {
    $s->request(GET => '/healthz');
    my $out = $s->promptctl('jobs', 'enqueue', 'share.views');
    my ($id) = $out =~ /"first_id"\s*:\s*(\d+)/ or die "enqueue: $out";
    my $ok = $s->wait_for(sub {
        db1("select state from background_jobs where id = $id") eq 'succeeded' }, timeout => 20);
    ok($ok, "share.views job $id succeeded")
        or diag explain $s->psql("select state, last_error from background_jobs where id = $id");
}

my $p = api($ta, POST => '/api/v1/prompts', json => { title => 'viewed', content => 'count me' });
my $sh = api($ta, POST => "/api/v1/prompts/$p->{json}{id}/shares", json => { public => $T })->{json};
my $page = "/s/$sh->{token}";
my $pw = api($ta, POST => "/api/v1/prompts/$p->{json}{id}/shares", json => { password => 'secret!!' })->{json};

# Two people (A three times, B once from a news site), link-preview bots,
# a HEAD, a password form, an unknown link.
my @cache;
push @cache, (visit($page, 'Mozilla/5.0 (X11; Linux) viewer-A')->{headers}{'x-cache-status'} // '') for 1 .. 3;
my $b = visit($page, 'Mozilla/5.0 (Macintosh) viewer-B', Referer => 'https://News.Example.com:8443/item?id=1');
is($b->{status}, 200, 'page served');
ok((grep { $_ eq 'HIT' } @cache, $b->{headers}{'x-cache-status'}), 'some of the views were served from the edge cache')
    or diag "@cache";
for my $bot ('Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)', 'Twitterbot/1.0',
             'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)',
             'Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)',
             'WhatsApp/2.23.20.0', 'TelegramBot (like TwitterBot)', 'LinkedInBot/1.0') {
    is(visit($page, $bot)->{status}, 200, "bot '$bot' gets the page");
}
is($s->request(HEAD => $page, { headers => { 'User-Agent' => 'Mozilla/5.0 viewer-C' } })->{status}, 200, 'HEAD');
is(visit("/s/$pw->{token}", 'Mozilla/5.0 viewer-D')->{status}, 200, 'password form shown');
is(visit('/s/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'Mozilla/5.0 viewer-E')->{status}, 404, 'unknown link');

ingest();
is(db1("select views from shares where id = '$sh->{id}'"), 4, '4 views: A x3 + B; bots, HEAD not counted');
is(db1("select unique_viewers from shares where id = '$sh->{id}'"), 2, '2 unique viewers');
ok(db1("select last_viewed_at is not null from shares where id = '$sh->{id}'") eq 't', 'last_viewed_at');
is(db1("select views from shares where id = '$pw->{id}'"), 0, 'the password form is not a view');
is(db1("select views || '/' || uniques from share_daily where share_id = '$sh->{id}'"), '4/2', 'daily row');
is(db1("select host || '=' || views from share_referrers where share_id = '$sh->{id}'"),
   'news.example.com=1', 'referrer host recorded (lower-cased, no port, no path)');

# privacy: no raw address or agent anywhere; viewer hashes are salted
is(db1("select count(*) from promptd.share_viewers v where v::text ~ '127\\.0\\.0\\.1|Mozilla|viewer-'"), 0,
   'no address or agent in viewer rows');
is(db1("select count(*) from share_daily d where d::text like '%127.0.0.1%'")
   + db1("select count(*) from share_referrers r where r::text like '%127.0.0.1%'"), 0, 'nor in the counts');
my $unsalted = sha256_hex("127.0.0.1\0Mozilla/5.0 (X11; Linux) viewer-A");
is(db1("select count(*) from promptd.share_viewers where viewer = '$unsalted'"), 0, 'hashes are salted');
is(db1("select count(*) from promptd.share_salts where day = (now() at time zone 'utc')::date"), 1,
   "today's salt exists");
is(db1("select count(*) from promptd.share_salts where day < (now() at time zone 'utc')::date - 1"), 0,
   'no salt older than yesterday');

# incremental: a second run counts nothing twice, new lines once
ingest();
is(db1("select views from shares where id = '$sh->{id}'"), 4, 'a second run adds nothing');
visit($page, 'Mozilla/5.0 (X11; Linux) viewer-A') for 1 .. 2;
ingest();
is(db1("select views || '/' || unique_viewers from shares where id = '$sh->{id}'"), '6/2',
   'two more views by A: 6 views, still 2 unique');

# two daemons cannot count a batch twice: the cursor moves only from where
# the caller read it
my ($ino, $pos) = @{ $s->psql('select inode, pos from promptd.share_view_cursor')->[0] };
ok($pos > 0, 'the cursor advanced');
is(db1("select promptd.share_views_ingest($ino, 0, $ino, $pos, "
       . "'[{\"s\":\"$sh->{id}\",\"d\":\"2000-01-01\",\"t\":1}]')"), 'f',
   'a batch read from a stale cursor is refused');
is(db1("select views from shares where id = '$sh->{id}'"), 6, 'and counts nothing');

# rotate_view_log(): rename the view log to .1 and send nginx USR1; true once
# every nginx worker writes the new file.  (The master creates the new file
# first; each worker reopens on its own turn and until then still appends
# to the renamed one.)
my $vlog = $s->var_dir . '/log/share-views.log';
my $ngx = do { open(my $f, '<', $s->var_dir . '/run/nginx.pid') or die; my $x = <$f>; $x =~ s/\D//g; $x };
sub nginx_workers {
    my @w;
    for my $pid (map { m{/proc/(\d+)$} ? $1 : () } glob '/proc/[0-9]*') {
        open(my $st, '<', "/proc/$pid/stat") or next;
        my $line = <$st> // next;
        push @w, $pid if $line =~ /\)\s+\S+\s+(\d+)/ && $1 == $ngx;   # field 4: the parent
    }
    return @w;
}
sub rotate_view_log {
    rename($vlog, "$vlog.1") or die "rename: $!";
    kill 'USR1', $ngx;
    return $s->wait_for(sub {
        return 0 unless -e $vlog;
        my @w = nginx_workers() or return 0;
        for my $w (@w) {
            return 0 if grep { (readlink($_) // '') eq "$vlog.1" } glob "/proc/$w/fd/*";
        }
        return 1;
    }, timeout => 10);
}
sub logged { my ($ua) = @_; $s->wait_for(sub { (Promptd::Test::_slurp($vlog) // '') =~ /\Q$ua\E/ }) }

# rotation: a view not yet ingested is in the file when it is renamed ->
# the rest of the renamed file first, then the new file
visit($page, 'Mozilla/5.0 (X11; Linux) viewer-H');
ok(logged('viewer-H'), 'the view is logged before the rotation');
ok(rotate_view_log(), 'nginx reopened its logs');
visit($page, 'Mozilla/5.0 (X11; Linux) viewer-G');
ok(logged('viewer-G'), '  the next view goes to the new file');
ingest();
is(db1("select views || '/' || unique_viewers from shares where id = '$sh->{id}'"), '8/4',
   'after rotation: the view left in the renamed file and the new one both counted');
ingest();
is(db1("select views from shares where id = '$sh->{id}'"), 8, '  a second run counts neither again');

# a renamed file ending in a torn line: the torn tail is skipped, the new
# file still read
{ open(my $f, '>>', $vlog) or die "$vlog: $!"; print $f '{"s":"torn'; close $f; }
ok(rotate_view_log(), 'nginx reopened its logs again');
visit($page, 'Mozilla/5.0 (X11; Linux) viewer-A');
ok(logged('viewer-A'), '  the view is in the new file');
ingest();
is(db1("select views from shares where id = '$sh->{id}'"), 9, 'torn tail skipped, the new view counted');
my ($ino2, $pos2) = @{ $s->psql('select inode, pos from promptd.share_view_cursor')->[0] };
is($ino2, (stat $vlog)[1], '  the cursor is on the new file');
is($pos2, -s $vlog, '  at its end');

# the owner's view of it
my $r = api($ta, GET => '/api/v1/shares');
my ($item) = grep { $_->{id} eq $sh->{id} } @{ $r->{json}{items} };
is($item->{views}, 9, 'GET /api/v1/shares: views');
is($item->{unique_viewers}, 4, 'GET /api/v1/shares: unique viewers');
ok($item->{last_viewed_at}, 'GET /api/v1/shares: last viewed');
is(api($tb, POST => "/api/v1/shared/$sh->{token}/fork")->{status}, 201, 'bob forks');
$r = api($ta, GET => "/api/v1/shares/$sh->{id}/stats?days=7");
is($r->{status}, 200, 'stats -> 200');
is($r->{json}{forks}, 1, 'fork counted at fork time');
my $today = $r->{json}{daily}[-1];
is($today->{views}, 9, 'daily series: today 9 views');
is($today->{unique_viewers}, 4, 'daily series: today 4 unique');
is_deeply($r->{json}{referrers}, [{ host => 'news.example.com', views => 1 }], 'top referrers');
is(api($tb, GET => "/api/v1/shares/$sh->{id}/stats")->{status}, 404, "bob cannot read alice's stats");

# a view line for a link deleted meanwhile is skipped, not an error
my $p2 = api($ta, POST => '/api/v1/prompts', json => { title => 'brief', content => 'gone soon' });
my $sh2 = api($ta, POST => "/api/v1/prompts/$p2->{json}{id}/shares", json => {})->{json};
visit("/s/$sh2->{token}", 'Mozilla/5.0 viewer-F');
$s->psql("delete from shares where id = '$sh2->{id}'");
ingest();
is(db1("select views from shares where id = '$sh->{id}'"), 9, 'other counts unchanged');

done_testing;
