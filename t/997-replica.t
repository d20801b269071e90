#!/usr/bin/perl
# 997-replica.t: PROMPTD_REPLICA_DATABASE_URL: the R_REPLICA routes (gallery, statistics) read a streaming replica, shown by pausing its replay; the request quota still counts on the primary; read-your-writes routes stay on the primary; a replica behind PROMPTD_REPLICA_MAX_LAG, or down, costs no failed request.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp ();
use Promptd::Test qw(problem_ok);

# A database host with quotas, its streaming replica, and two app nodes on
# them: A may read a replica up to an hour behind, B one second.
my $db = Promptd::Test->new(pg_only => 1, quotas => 1);
my $rep = Promptd::Test->new(standby_of => $db);
(my $rep_url = $db->database_url(user => 'promptd_app'))
    =~ s/host=\S+ port=\d+/'host=' . $rep->var_dir . '\/run port=' . $rep->pg_port/e;
my %node = (database => $db, PROMPTD_WORKERS => 1, PROMPTD_JOBS_DAEMONS => 0,
            PROMPTD_REPLICA_DATABASE_URL => $rep_url);
my $a = Promptd::Test->new(%node, PROMPTD_REPLICA_MAX_LAG => 3600);
my $b = Promptd::Test->new(%node, PROMPTD_REPLICA_MAX_LAG => 1);

my ($admin, $atok, $alice, $ltok, $carol, $ctok) = $db->users(qw(admin alice carol));
$db->promptctl('user', 'admin', $admin, 'on');

sub prompt_shared {
    my ($s, $title) = @_;
    my $r = $s->request(POST => '/api/v1/prompts', { token => $ltok, json => { title => $title, content => "$title text" } });
    is($r->{status}, 201, "prompt '$title' -> 201") or diag explain $r;
    $r = $s->request(POST => "/api/v1/prompts/$r->{json}{id}/shares", { token => $ltok, json => { public => JSON::PP::true } });
    is($r->{status}, 201, "  a public link -> 201") or diag explain $r;
}
# The gallery's titles, sorted ('' unless 200).  A query string of its own
# each time: nginx micro-caches the gallery by URL.
my $asked = 0;
sub gallery {
    my ($s) = @_;
    my $r = $s->request(GET => '/api/v1/public/prompts?limit=50&n=' . ++$asked);
    return '' unless $r->{status} == 200;
    return join ',', sort map { $_->{title} } @{ $r->{json}{items} || [] };
}
# The insert position, not pg_current_wal_lsn(): with asynchronous commit
# (the test stacks') the last commit record may not be written out yet.
sub caught_up {
    my $lsn = $db->db1('select pg_current_wal_insert_lsn()');
    ok($db->wait_for(sub { $rep->db1("select pg_last_wal_replay_lsn() >= '$lsn'") eq 't' }, timeout => 20),
       'the replica has replayed everything');
}
sub replica_count {
    my ($s, $fam, $where) = @_;
    my $r = $s->request(GET => '/metrics');
    my ($n) = $r->{body} =~ /^promptd_db_replica_total\{family="\Q$fam\E",db="$where"\} (\d+)/m;
    return $n // 0;
}
sub pause  { $rep->psql('select pg_wal_replay_pause()') }
sub resume { $rep->psql('select pg_wal_replay_resume()') }

# -------------------------------------------------------- the function
is($db->db1('select promptd.replica_lag()'), '0', 'replica_lag() on the primary: 0');
is($db->db1(q{select has_function_privilege('authenticated', 'promptd.replica_lag()', 'execute')}), 'f',
   '  not callable by a request role');
prompt_shared($a, 'first');
caught_up();
is($rep->db1('select promptd.replica_lag()'), '0', 'on a streaming replica that has replayed all: 0');

# ----------------------------------------------- reads from the replica
is(gallery($a), 'first', 'node A: the gallery');
cmp_ok(replica_count($a, 'share', 'replica'), '>=', 1, '  counted as served by the replica');
pause();
prompt_shared($a, 'second');
ok($db->wait_for(sub { $rep->db1('select pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()') eq 't' }, timeout => 20),
   'replay paused: the replica received the new link but does not show it');
is(gallery($a), 'first', 'node A (max lag 1 h): the gallery is read on the replica: without the new link');
my $r = $a->request(GET => '/api/v1/prompts', { token => $ltok });
is(scalar(grep { $_->{title} eq 'second' } @{ $r->{json}{items} || $r->{json} || [] }), 1,
   '  the owner\'s prompt list (read-your-writes) is read on the primary: with it');

# an admin statistic: on the replica, after the admin check there
$db->psql("update public.profiles set subscription_tier = 'pro' where id = '$alice'");
$r = $a->request(GET => '/api/v1/admin/analytics/conversion', { token => $atok });
is($r->{status}, 200, 'admin conversion on node A -> 200') or diag explain $r;
is($r->{json}{paid_users_now}, 0, '  paid_users_now as the paused replica has it (0)');
problem_ok($a->request(GET => '/api/v1/admin/analytics/conversion', { token => $ltok }), 403,
           '  a non-admin still refused there');
$db->psql("update public.profiles set subscription_tier = 'free' where id = '$alice'");

# the lag guard: B allows 1 s; once the replica is further behind, B reads
# the primary while A still reads the replica
ok($db->wait_for(sub { ($rep->db1('select promptd.replica_lag()') || 0) > 2 }, timeout => 20),
   'the paused replica falls more than 2 s behind');
my $b_primary = replica_count($b, 'share', 'primary');
ok($b->wait_for(sub { gallery($b) eq 'first,second' }, timeout => 10),
   'node B (max lag 1 s): the gallery from the primary, with the new link');
cmp_ok(replica_count($b, 'share', 'primary'), '>', $b_primary, '  counted as run on the primary');
is(gallery($a), 'first', 'node A still reads the replica');

# ------------------------------ the request quota counts on the primary
# (carol has made no request yet; the four fall in one minute's window)
$db->promptctl('quota', 'set', $carol, 'requests_per_minute=3');
$db->wait_for(sub { $db->db1("select extract(second from now()) < 45") eq 't' }, timeout => 20);
my $win = q{resource = 'requests_per_minute' and window_start = date_trunc('minute', now(), 'UTC')};
my $me_replica = replica_count($a, 'me', 'replica');
my @st = map { $a->request(GET => '/api/v1/me/stats', { token => $ctok }) } 1 .. 4;
is(replica_count($a, 'me', 'replica'), $me_replica + 4, '  the four ran on the replica');
is_deeply([ map { $_->{status} } @st ], [200, 200, 200, 429],
          'GET /api/v1/me/stats on the replica: 3 per minute, then 429') or diag explain [map { $_->{body} } @st];
like($st[0]{headers}{ratelimit} // '', qr/\br=2\b/, '  RateLimit: 2 remaining after the first');
problem_ok($st[3], 429, '  the 429 is problem+json');
ok($st[3]{headers}{'retry-after'}, '  with Retry-After');
is($db->db1("select count(*) from promptd.quota_counters where user_id = '$carol' and $win"), 1,
   '  the window\'s counter is on the primary');
$db->promptctl('quota', 'clear', $carol);

# -------------------------------------------------- replay resumes
resume();
ok($a->wait_for(sub { gallery($a) eq 'first,second' }, timeout => 20), 'replay resumed: node A sees the new link');

# ------------------------------------------------- the replica is down
$rep->stack('pg-stop');
my $a_primary = replica_count($a, 'share', 'primary');
prompt_shared($a, 'third');
is(gallery($a), 'first,second,third', 'replica down: node A\'s gallery from the primary, current');
$r = $a->request(GET => '/api/v1/admin/analytics/overview', { token => $atok });
is($r->{status}, 200, '  an admin statistic -> 200') or diag explain $r;
cmp_ok(replica_count($a, 'share', 'primary'), '>', $a_primary, '  counted as run on the primary');
my $five = grep { $_->{status} >= 500 } map { @{ $_->access_log } } $a, $b;
is($five, 0, 'no 5xx on either node');

$_->stop for $b, $a, $rep, $db;

# ------------------------------------- a bad PROMPTD_REPLICA_MAX_LAG stops a worker at start
my $var = File::Temp::tempdir('promptd-replica-XXXXXX', TMPDIR => 1, CLEANUP => 1);
for my $bad ('soon', '-1', '86401', '5s') {
    local $ENV{PROMPTD_VAR_DIR} = $var;
    local $ENV{PROMPTD_APP_DATABASE_URL} = 'host=/nonexistent dbname=none';
    local $ENV{PROMPTD_REPLICA_MAX_LAG} = $bad;
    my $err = `$ENV{PROMPTD_BUILD_DIR}/cgi-bin/share.fcgi </dev/null 2>&1 >/dev/null`;
    isnt($? >> 8, 0, "PROMPTD_REPLICA_MAX_LAG='$bad': the worker refuses to start");
    like($err, qr/PROMPTD_REPLICA_MAX_LAG must be an integer in 0\.\.86400/, '  naming the variable and its range');
}
done_testing;
