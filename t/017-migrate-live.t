#!/usr/bin/perl
# 017-migrate-live.t: promptctl migrate on a database that is serving: reads and writes go on
# while migrate runs again and again, and neither side fails (no deadlock, no 5xx, every
# migrate run exits 0); a migrate with nothing new takes no lock a request could wait on.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use Promptd::Test qw(db1 api);

my $s = Promptd::Test->new(PROMPTD_WORKERS => 2, PROMPTD_RATE_API => '100000r/s', PROMPTD_BURST_API => 100000,
                           PROMPTD_RATE_CREDENTIAL => '100000r/s', PROMPTD_BURST_CREDENTIAL => 100000);
my @users = $s->users(map { "load$_" } 1 .. 4);
my $tmp = tempdir(CLEANUP => 1);
my @pairs;
while (my ($id, $tok) = splice @users, 0, 2) {
    for (1 .. 3) {
        my $p = api($tok, POST => '/api/v1/prompts', json => { title => "seed $_", content => "read me {{x}}" });
        $p->{status} == 201 or BAIL_OUT("seeding: $p->{status}");
        push @pairs, "$tok $p->{json}{id}";
    }
}
open my $fh, '>', "$tmp/pairs" or die $!;
print $fh map { "$_\n" } @pairs;
close $fh;

# wrk_bg($script, $seconds) -> a pid whose output goes to $tmp/<script>.out
sub wrk_bg {
    my ($script, $secs) = @_;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDOUT, '>', "$tmp/$script.out" or die $!;
        open STDERR, '>&', \*STDOUT or die $!;
        $ENV{PAIRS} = "$tmp/pairs";
        $ENV{KEYS} = "live-$$";
        exec 'wrk', '-t1', '-c4', "-d${secs}s", '-s', "$FindBin::Bin/../bench/$script.lua", $s->url('')
            or die "wrk: $!";
    }
    return $pid;
}
sub wrk_result {
    my ($script) = @_;
    open my $in, '<', "$tmp/$script.out" or return {};
    my %r = (join '', <$in>) =~ /(\w+)=(\d+(?:\.\d+)?)/g;
    return \%r;
}

my $deadlocks = sub { scalar grep { /deadlock detected/ } split /\n/, $s->log_tail('postgresql', 100000) };
my $applied_at = sub { db1("select coalesce(max(applied_at)::text, 'none') from public.schema_functions") };
my $checksum = db1('select checksum from public.schema_functions');
like($checksum, qr/^[0-9a-f]{64}$/, 'the stack\'s migrate recorded the sql/functions checksum');

# Under load: migrate again and again, with nothing new ($forced 0: its
# functions skipped, no lock taken), then with sql/functions applied each
# time ($forced 1: the checksum forgotten first, as when a release changes
# them), which takes every table's lock.
for my $forced (0, 1) {
    my $what = $forced ? 'sql/functions applied each time' : 'nothing new';
    my $before = $deadlocks->();
    my $prompts = db1('select count(*) from public.prompts');
    my $at = $applied_at->();
    my @kids = (wrk_bg('get', 10), wrk_bg('post', 10));
    sleep 1;
    my ($runs, $fails, $err) = (0, 0, '');
    my $until = time + 8;
    while (time < $until && $runs < 40) {
        $runs++;
        db1('delete from public.schema_functions') if $forced;
        my ($rc, $out, $e) = $s->_run([$s->{promptctl}, 'migrate'], separate => 1);
        if ($rc != 0) { $fails++; $err .= $e }
        note "run $runs: $e" if $e ne '';    # the attempts it took
    }
    waitpid $_, 0 for @kids;
    my ($get, $post) = (wrk_result('get'), wrk_result('post'));
    # (a forced run may take seconds of attempts on a loaded machine)
    cmp_ok($runs, '>=', $forced ? 1 : 2, "$what: migrate ran $runs times under load");
    is($fails, 0, '... and every run exited 0') or diag $err;
    if ($forced) {
        isnt($applied_at->(), $at, '... sql/functions were applied');
    } else {
        is($applied_at->(), $at, '... sql/functions were skipped (the checksum matched)');
    }
    is(db1('select checksum from public.schema_functions'), $checksum, '... the checksum recorded is the files\'');
    cmp_ok($get->{rps} // 0, '>', 0, "... reads went on ($get->{rps} rps)");
    is($get->{non2xx}, 0, '... every read answered 2xx') or diag explain $get;
    is($get->{errors}, 0, '... no connection errors');
    cmp_ok($post->{requests} // 0, '>', 0, "... writes went on ($post->{requests} requests)");
    is($post->{not201}, 0, '... every write answered 201') or diag explain $post;
    is($deadlocks->() - $before, 0, '... PostgreSQL logged no deadlock');
    my $added = db1('select count(*) from public.prompts') - $prompts;
    ok($added >= $post->{requests} && $added <= $post->{requests} + 4,
       "... every answered write is a prompt ($added added; up to 4 more were in flight when wrk stopped)");
}

# Bad configuration: a clear refusal, nothing done.
for my $bad ('soon', '-1', '86401', '5s') {
    my ($rc, $out, $err) = $s->_run([$s->{promptctl}, 'migrate'], separate => 1,
                                    env => { PROMPTD_MIGRATE_LOCK_WAIT => $bad });
    is($rc, 1, "PROMPTD_MIGRATE_LOCK_WAIT='$bad': migrate exits 1");
    like($err, qr/PROMPTD_MIGRATE_LOCK_WAIT must be an integer in 0\.\.86400, not '\Q$bad\E'/, '... saying why');
    unlike($err, qr/applied|waiting/, '... before touching the database');
}

# A table held by a long transaction: migrate waits its PROMPTD_MIGRATE_LOCK_WAIT,
# then gives up with a clear message, having changed nothing.
{
    my $kid = $s->hold_tx('lock table public.prompts in access share mode', 4);
    db1('delete from public.schema_functions');
    my ($rc, $out, $err) = $s->_run([$s->{promptctl}, 'migrate'], separate => 1,
                                    env => { PROMPTD_MIGRATE_LOCK_WAIT => 1 });
    is($rc, 1, 'a table held past PROMPTD_MIGRATE_LOCK_WAIT=1: migrate exits 1');
    like($err, qr/sql\/functions: waiting for live requests' locks \(SQLSTATE 55P03\); trying again/, '... saying it waited');
    like($err, qr/sql\/functions: gave up after \d+ attempts: live requests held its locks \(SQLSTATE 55P03\)/,
         '... and why it gave up');
    is(db1('select count(*) from public.schema_functions'), 0, '... nothing recorded');
    waitpid $kid, 0;
    ($rc, $out, $err) = $s->_run([$s->{promptctl}, 'migrate'], separate => 1);
    is($rc, 0, 'the table free: migrate applies') or diag $err;
    is($err, '', '... without waiting');
    is(db1('select checksum from public.schema_functions'), $checksum, '... and records the checksum');
}

$s->stop;
done_testing;
