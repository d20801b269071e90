#!/usr/bin/perl
# 020-failover.t: three nodes behind HAProxy under load: a node killed with kill -9 loses no acknowledged write and HAProxy routes around it; a rolling restart fails no request; a PostgreSQL restart answers only 503 with Retry-After, then recovers.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Time::HiRes qw(sleep time);
use Promptd::Cluster;
use Promptd::Test qw(db1);

my $c = Promptd::Cluster->new(nodes => 3);
my ($walt, $tw) = $c->users('walt');
my $prompts = qr{^/api/v1/prompts$};

# seen(@results) -> {status => count} summed over the clients.
sub seen { my %n; for my $r (@_) { $n{$_} += $r->{seen}{$_} for keys %{ $r->{seen} || {} } } \%n }
sub tally { my %n = %{ $_[0] }; join ' ', map { "$_ x$n{$_}" } sort keys %n }

# reader -> a client: GET /api/v1/prompts?limit=5 until told to stop.
# Result: {seen => {status => n}, bad => [a 200 without items, another
# status, a 503 without Retry-After, ...]}.
sub reader {
    return sub {
        my ($i, $stopping) = @_;
        my (%seen, @bad);
        for (1 .. 1_000_000) {
            last if $stopping->();
            my $r = $c->request(GET => '/api/v1/prompts?limit=5', { token => $tw });
            $seen{ $r->{status} }++;
            push @bad, "$r->{status}: " . substr($r->{body} // '', 0, 120)
                if $r->{status} != 200 && !($r->{status} == 503 && ($r->{headers}{'retry-after'} // '') =~ /^\d+$/);
            push @bad, 'a 200 without its items' if $r->{status} == 200 && ref(($r->{json} // {})->{items}) ne 'ARRAY';
            sleep 0.01;
        }
        return { seen => \%seen, bad => \@bad };
    };
}

sub rows_like { db1("select count(*) from prompts where user_id = '$walt' and title like '$_[0]-%'") }

# ------------------------------------------------ kill -9 of a whole node under writes
my $h = $c->clients_start(4, $c->writer($tw, 'kill', retry_for => 30));
ok($c->wait_for(sub { rows_like('kill') >= 20 }, timeout => 60), 'the write load runs');
my @pids = $c->node_pids(2);
my @killed = $c->kill_node(2);
ok(@killed >= @pids && @pids >= 5, 'kill -9 of every process of node 2 (' . scalar(@killed) . ')');
my @left = $c->node_pids(2);
is(scalar @left, 0, '  none left');
ok($c->wait_status(2, 'DOWN', 10), 'HAProxy marks node 2 DOWN');
my $n0 = rows_like('kill');
ok($c->wait_for(sub { rows_like('kill') >= $n0 + 40 }, timeout => 60), 'writes go on without it');
my $res = $c->clients_wait($h);
is(scalar(grep { $_->{error} } @$res), 0, 'every client ran to the end') or diag explain $res;
is(scalar(map { @{ $_->{failed} || [] } } @$res), 0, 'every write was acknowledged in the end (retried with its key)');
diag('statuses seen by the writers: ' . tally(seen(@$res)));
$c->acked_once_ok($walt, 'kill', $res);

my $before = $c->access_counts($prompts);
for my $k (1 .. 12) {
    my $r = $c->request(GET => '/api/v1/prompts?limit=1', { token => $tw });
    is($r->{status}, 200, "request $k with node 2 down -> 200");
}
my $after = $c->access_counts($prompts);
is($after->[1] - $before->[1], 0, 'node 2 served none of them');
is($after->[0] - $before->[0] + $after->[2] - $before->[2], 12, 'nodes 1 and 3 served them all');

$c->restart_node(2);
ok($c->wait_status(2, 'UP', 10), 'node 2 restarted: UP again');
$before = $c->access_counts($prompts);
is($c->request(GET => '/api/v1/prompts?limit=1', { token => $tw })->{status}, 200, "request $_ -> 200") for 1 .. 9;
$after = $c->access_counts($prompts);
cmp_ok($after->[1] - $before->[1], '>', 0, 'node 2 serves again');

# ------------------------------------------------ rolling restart under reads and writes
$h = $c->clients_start(4, sub { $_[0] < 2 ? $c->writer($tw, 'roll')->(@_) : reader()->(@_) });
ok($c->wait_for(sub { rows_like('roll') >= 10 }, timeout => 60), 'the read and write load runs');
my %after_enable;
for my $i (1 .. 3) {
    ok($c->drain_node($i), "node $i drained (maint, no request in flight)");
    $c->restart_node($i);
    ok($c->enable_node($i), "node $i restarted and UP again");
    $after_enable{$i} = $c->access_counts($prompts)->[ $i - 1 ];
}
ok($c->wait_for(sub { $c->access_counts($prompts)->[2] > $after_enable{3} }, timeout => 10), 'node 3 serves again');
$res = $c->clients_wait($h);
is(scalar(grep { $_->{error} } @$res), 0, 'every client ran to the end') or diag explain $res;
my %seen = %{ seen(@$res) };
diag('statuses seen during the rolling restart: ' . tally(\%seen));
is(join(' ', grep { $_ ne '200' && $_ ne '201' } sort keys %seen), '', 'zero failed requests');
is(scalar(map { @{ $_->{failed} || [] } } @$res[0, 1]), 0, 'every write acknowledged at once');
is(join("\n", map { @{ $_->{bad} || [] } } @$res[2, 3]), '', 'every read answered its items');
cmp_ok($seen{200} // 0, '>', 0, 'reads answered');
$c->acked_once_ok($walt, 'roll', [ @$res[0, 1] ]);
my $counts = $c->access_counts($prompts);
ok(!grep({ $counts->[ $_ - 1 ] <= $after_enable{$_} } 1 .. 2), 'nodes 1 and 2 served after their restart');

# ------------------------------------------------ PostgreSQL restart: 503 + Retry-After, then back
$h = $c->clients_start(2, reader());
sleep 0.5;
$c->stack('pg-stop');
ok($c->wait_for(sub { $c->request(GET => '/api/v1/prompts?limit=1', { token => $tw })->{status} == 503 }, timeout => 5),
   'PostgreSQL down: 503');
my $r = $c->request(GET => '/api/v1/prompts?limit=1', { token => $tw });
is($r->{status}, 503, '  again 503');
like($r->{headers}{'retry-after'} // '', qr/^\d+$/, '  with Retry-After');
like($r->{headers}{'content-type'} // '', qr{^application/problem\+json}, '  as problem+json');
sleep 1;
$c->stack('pg-start');
my ($back, $deadline) = (0, time + 2);
while (!$back && time < $deadline) {    # bounded: 2 s after PostgreSQL is up
    $back = $c->request(GET => '/api/v1/prompts?limit=1', { token => $tw })->{status} == 200;
    sleep 0.05 unless $back;
}
ok($back, 'PostgreSQL up: a request succeeds within the 2-s loop');
$res = $c->clients_wait($h);
%seen = %{ seen(@$res) };
diag('statuses seen by the readers across the restart: ' . tally(\%seen));
is(join(' ', grep { $_ ne '200' && $_ ne '503' } sort keys %seen), '', 'only 200 and 503 answered');
is(join("\n", map { @{ $_->{bad} || [] } } @$res), '', 'every 503 carried Retry-After');
cmp_ok($seen{503} // 0, '>', 0, 'the readers saw the outage');
$r = $c->request(POST => '/api/v1/prompts', { token => $tw, json => { title => 'after pg', content => 'x' } });
is($r->{status}, 201, 'writes work again');
is(db1("select count(*) from prompts where title = 'after pg'"), 1, '  stored');

$c->stop;
done_testing;
