#!/usr/bin/perl
# 802-quota-exact.t: limits hold exactly under concurrency: 16 clients against 8 workers admit exactly N (counted prompts and keys, the request quota, reservations), and so do two stacks (nginx + workers each) against one database.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempdir);
use HTTP::Tiny;
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep);
use Promptd::Test qw(db1);

my $s = Promptd::Test->new(PROMPTD_WORKERS => 1, PROMPTD_WORKERS_PROMPTS => 8,
                           PROMPTD_WORKERS_KEYS => 8, quotas => 1);
my ($alice, $ta, $bob, $tb, $carol, $tc, $dave, $td, $erin, $te, $frank, $tf) =
    $s->users(qw(alice bob carol dave erin frank));
my $CLIENTS = 16;
my $dir = tempdir('quota-exact-XXXXXX', TMPDIR => 1, CLEANUP => 1);

# burst(\@stacks, $token, $method, $path, $body, $per_client) -> [statuses]:
# $CLIENTS processes (spread over the stacks' ports), each with its own
# connection, wait on one start file, then send $per_client requests.
sub burst {
    my ($stacks, $tok, $method, $path, $body, $per) = @_;
    my $go = "$dir/go-" . rand();
    my @pids;
    for my $c (0 .. $CLIENTS - 1) {
        my $port = $stacks->[$c % @$stacks]->http_port;
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my $http = HTTP::Tiny->new(timeout => 30, keep_alive => 1);
            my @st;
            for (1 .. 500) { last if -e $go; sleep 0.01 }    # bounded: 5 s
            for my $i (1 .. $per) {
                my %h = (headers => { authorization => "Bearer $tok", 'content-type' => 'application/json' });
                if ($body) {    # _label names the member that gets a unique label
                    my %b = %$body;
                    $b{ delete $b{_label} } = "c$c-$i";
                    $h{content} = encode_json(\%b);
                }
                push @st, $http->request($method, "http://127.0.0.1:$port$path", \%h)->{status};
            }
            open(my $fh, '>', "$dir/out-$c-$$") or POSIX::_exit(1);
            print $fh join(',', @st);
            close $fh;
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    sleep 0.3;
    open(my $fh, '>', $go) or die $!;
    close $fh;
    waitpid($_, 0) for @pids;
    my @all;
    for my $f (glob "$dir/out-*") {
        open(my $in, '<', $f) or die $!;
        push @all, split /,/, scalar <$in>;
        close $in;
        unlink $f;
    }
    return \@all;
}
sub count { my ($st, $code) = @_; scalar grep { $_ == $code } @$st }

sub fresh_minute { $s->at_second(0, 39) }

# ------------------------------------------------ counted: prompts, N = 20
$s->promptctl('quota', 'set', $alice, 'prompts=20');
my $st = burst([$s], $ta, POST => '/api/v1/prompts', { content => 'x', _label => 'title' }, 4);
is(scalar @$st, 64, '64 creations attempted');
is(count($st, 201), 20, 'exactly 20 created');
is(count($st, 409), 44, 'the other 44 refused with 409');
is(db1("select count(*) from prompts where user_id = '$alice'"), 20, 'exactly 20 rows');

# ------------------------------------------------ counted: API keys, N = 5
$s->promptctl('quota', 'set', $bob, 'api_keys=5');
$st = burst([$s], $tb, POST => '/api/v1/keys', { _label => 'name' }, 2);
is(count($st, 201), 5, 'exactly 5 keys created');
is(count($st, 409), 27, 'the other 27 refused');
is(db1("select count(*) from api_keys where user_id = '$bob'"), 5, 'exactly 5 rows');

# ------------------------------------------------ the request quota, N = 30
$s->promptctl('quota', 'set', $carol, 'requests_per_minute=30');
fresh_minute();
$st = burst([$s], $tc, GET => '/api/v1/prompts', undef, 4);
is(count($st, 200), 30, 'exactly 30 requests admitted');
is(count($st, 429), 34, 'the other 34 got 429');
is(db1("select sum(promptd.quota_counter_used(used, seq, base, lim)) from promptd.quota_counters where user_id = '$carol' and resource = 'requests_per_minute'"),
   30, 'the counter says 30');

is(db1("select count(*) from promptd.quota_counters where user_id = '$carol' "
     . "and resource = 'requests_per_minute' and seq is not null"), 1, 'counted on a pooled sequence');

# ------------------------------------------------ the same counted by UPDATE (no sequence free), N = 30
$s->psql("update promptd.quota_settings set request_seqs = 0; delete from promptd.quota_seqs");
$s->promptctl('quota', 'set', $erin, 'requests_per_minute=30');
fresh_minute();
$st = burst([$s], $te, GET => '/api/v1/prompts', undef, 4);
is(count($st, 200), 30, 'pool empty: exactly 30 requests admitted');
is(count($st, 429), 34, 'the other 34 got 429');
is(db1("select coalesce(seq::text, 'none') || ' ' || sum(used) from promptd.quota_counters "
     . "where user_id = '$erin' and resource = 'requests_per_minute' group by seq"), 'none 30',
   'the row counted 30');
$s->promptctl('quota', 'seqs', 100);

# ------------------------------------------------ reservations, N = 10 (16 sessions x 2)
$s->promptctl('quota', 'set', $carol, 'enrich_per_day=10');
{
    my @pids;
    my $go = "$dir/go-reserve";
    for my $c (1 .. $CLIENTS) {
        my $pid = fork // die;
        if (!$pid) {
            for (1 .. 500) { last if -e $go; sleep 0.01 }
            my $ok = 0;
            for (1 .. 2) {
                $ok++ if eval { $s->psql("set role promptd_app; select promptd.quota_reserve('$carol', null, 'enrich_per_day', 1)"); 1 };
            }
            open(my $fh, '>', "$dir/res-$c") or POSIX::_exit(1);
            print $fh $ok;
            close $fh;
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    sleep 0.3;
    open(my $fh, '>', $go) or die;
    close $fh;
    waitpid($_, 0) for @pids;
    my $ok = 0;
    for (glob "$dir/res-*") { open(my $in, '<', $_) or die; $ok += <$in>; close $in }
    is($ok, 10, 'exactly 10 of 32 holds granted');
    is(db1("select count(*) from promptd.quota_reservations where user_id = '$carol' and state = 'held'"), 10, '10 rows held');
    is(db1("select reserved from promptd.quota_counters where user_id = '$carol' and resource = 'enrich_per_day'"), 10,
       'the counter holds 10');
}

# ------------------------------------------------ two stacks, one database
my $pw = do { local (@ARGV, $/) = ($s->var_dir . '/secrets/pg_superuser_password'); <> };
my $app = do { local (@ARGV, $/) = ($s->var_dir . '/secrets/app_db_password'); <> };
my $jwt = do { local (@ARGV, $/) = ($s->var_dir . '/secrets/jwt_secret'); <> };
chomp($pw, $app, $jwt);
my $base = 'host=' . $s->var_dir . '/run port=' . $s->pg_port . ' dbname=promptd';
my $s2 = eval { Promptd::Test->new(PROMPTD_WORKERS => 1, PROMPTD_WORKERS_PROMPTS => 8, quotas => 1,
    PROMPTD_DATABASE_URL => "$base user=postgres password=$pw",
    PROMPTD_APP_DATABASE_URL => "$base user=promptd_app password=$app",
    PROMPTD_JWT_SECRET => $jwt) };
SKIP: {
    skip "a second stack did not start: $@", 7 unless $s2;
    is($s2->request(GET => '/api/v1/prompts', { token => $td })->{status}, 200, 'stack 2 serves stack 1\'s users');
    $s->promptctl('quota', 'set', $dave, 'prompts=25');
    $st = burst([$s, $s2], $td, POST => '/api/v1/prompts', { content => 'x', _label => 'title' }, 4);
    is(scalar @$st, 64, '64 creations over two stacks');
    is(count($st, 201), 25, 'exactly 25 created');
    is(count($st, 409), 39, 'the other 39 refused');
    is(db1("select count(*) from prompts where user_id = '$dave'"), 25, 'exactly 25 rows');
    $s->promptctl('quota', 'set', $frank, 'requests_per_minute=30');
    fresh_minute();
    $st = burst([$s, $s2], $tf, GET => '/api/v1/prompts', undef, 4);
    is(count($st, 200), 30, 'two stacks: exactly 30 requests admitted')
        or diag('statuses: ' . do { my %n; $n{$_}++ for @$st; join ' ', map { "$_ x$n{$_}" } sort keys %n }
                . '; counters: ' . db1("select string_agg(coalesce(seq::text, '-') || ' ' || window_start || ' ' || "
                . "promptd.quota_counter_used(used, seq, base, lim) || '/' || coalesce(lim::text, 'null'), '; ') "
                . "from promptd.quota_counters where user_id = '$frank' and resource = 'requests_per_minute'"));
    is(count($st, 429), 34, 'the other 34 got 429');
    $s2->stop;
}

$s->stop;
done_testing;
