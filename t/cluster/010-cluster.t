#!/usr/bin/perl
# 010-cluster.t: one cluster (three nodes behind HAProxy, a PostgreSQL primary and its streaming replica) shared by three parts in turn: shared state, failover, promotion of the replica.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Time::HiRes qw(sleep time);
use Promptd::Cluster;
use Promptd::Test qw(db1);

# The parts run in this order on the one cluster, each as a subtest:
#   shared state  requests spread over the nodes, quotas exact across them, a
#                 revoked share link refused by every node within 2 s, jobs
#                 and a schedule's slots run once among three jobs daemons,
#                 the replica streams
#   failover      under load: a node killed with kill -9 loses no
#                 acknowledged write and HAProxy routes around it; a rolling
#                 restart fails no request; a PostgreSQL restart answers only
#                 503 with Retry-After, then recovers
#   promotion     under writes the primary stops, the replica is promoted and
#                 the nodes restart on it: no acknowledged write lost, none
#                 doubled (last: it replaces the primary for good)
# Each part has its own users and its own title prefixes.  Before a part,
# restored() checks what the one before may have left: every node UP in
# HAProxy and the replica streaming from the primary again.  Starting and
# stopping a cluster takes half a minute or more, most of it starting
# nodes: one cluster for the three parts instead of one each.
my $c = Promptd::Cluster->new(nodes => 3, quotas => 1);
my $prompts = qr{^/api/v1/prompts$};

# restored($part): the cluster as a part expects it (tests, so a part that
# left a node down or the replica disconnected says so before the next).
sub restored {
    my ($part) = @_;
    ok($c->wait_status($_, 'UP', 20), "before $part: node $_ UP in HAProxy") for 1 .. 3;
    ok($c->wait_for(sub { ($c->db1("select count(*) from pg_stat_replication where state = 'streaming'") // 0) == 1 },
                    timeout => 30), "before $part: the replica streams from the primary");
}

# ------------------------------------------------------------------ shared state

sub tally { my %n; $n{$_}++ for @_; join ' ', map { "$_ x$n{$_}" } sort keys %n }

# t/802's burst through HAProxy: 16 clients, each its own connection, released at once.
# $field gets a label unique to each request; %$body is the rest.
sub burst {
    my ($tok, $path, $body, $field, $per) = @_;
    my $res = $c->clients(16, sub {
        my ($i) = @_;
        [ map { $c->request(POST => $path, { token => $tok, json => { %$body, $field => "c$i-$_" } })->{status} } 1 .. $per ];
    });
    return [ map { ref $_ eq 'ARRAY' ? @$_ : 'error' } @$res ];
}

subtest 'shared state' => sub {
    my ($alice, $ta, $bob, $tb, $carol, $tc) = $c->users(qw(alice bob carol));

    # ------------------------------------------------ requests spread over the nodes
    my $before = $c->access_counts($prompts);
    my @ids;
    for my $k (1 .. 30) {
        my $r = $c->request(POST => '/api/v1/prompts', { token => $ta, json => { title => "spread $k", content => 'x' } });
        is($r->{status}, 201, "create $k through HAProxy -> 201") or diag $r->{body};
        is($r->{json}{title}, "spread $k", '  the body is the new prompt');
        push @ids, $r->{json}{id};
    }
    is(db1("select count(*) from prompts where user_id = '$alice' and title like 'spread %'"), 30, '30 rows');
    is(db1("select count(distinct id) from prompts where id in ('" . join("','", grep { defined } @ids) . "')"), 30,
       'each answer names a row of its own');
    my $after = $c->access_counts($prompts);
    my @served = map { $after->[$_] - $before->[$_] } 0 .. 2;
    is($served[0] + $served[1] + $served[2], 30, 'the nodes\' access logs hold the 30 requests');
    ok(!grep({ $_ < 5 } @served), "round robin: every node served some of them (@served)");

    # Each node's workers reach the primary through the node's own PgBouncer
    # (transaction pooling, 4 server connections; Promptd::Cluster).
    for my $i (1 .. 3) {
        my $var = $c->node($i)->var_dir;
        like(Promptd::Test::_slurp("$var/secrets/family/prompts/app_database_url") // '',
             qr{host='?\Q$var\E/run/pgbouncer'?\s}, "node $i: its prompts workers' database is its PgBouncer");
    }
    cmp_ok(db1("select count(*) from pg_stat_activity where usename = 'promptd_app' "
               . "and application_name not like 'promptd-%'"), '<=', 12,
           'PostgreSQL holds at most 4 worker sessions per node');

    # A node answers for every user whatever node created the row.
    for my $i (1 .. 3) {
        my $r = $c->node($i)->request(GET => "/api/v1/prompts/$ids[0]", { token => $ta });
        is($r->{status}, 200, "node $i reads a prompt written through another");
        is($r->{json}{title}, 'spread 1', '  the same row');
    }

    # ------------------------------------------------ quotas exact across the nodes
    $c->promptctl('quota', 'set', $bob, 'prompts=20');
    $before = $c->access_counts($prompts);
    my $st = burst($tb, '/api/v1/prompts', { content => 'x' }, 'title', 4);
    is(scalar @$st, 64, '64 creations attempted over three nodes');
    is(scalar(grep { $_ eq '201' } @$st), 20, 'exactly 20 created') or diag tally(@$st);
    is(scalar(grep { $_ eq '409' } @$st), 44, 'the other 44 refused with 409');
    is(db1("select count(*) from prompts where user_id = '$bob'"), 20, 'exactly 20 rows');
    $after = $c->access_counts($prompts);
    ok(!grep({ $after->[$_] == $before->[$_] } 0 .. 2), 'every node took part in the burst');
    my $r = $c->request(POST => '/api/v1/prompts', { token => $tb, json => { title => 'one more', content => 'x' } });
    is($r->{status}, 409, 'the 21st, later -> 409');
    like($r->{body}, qr/quota|limit/i, '  saying why');

    $c->promptctl('quota', 'set', $carol, 'api_keys=5');
    $st = burst($tc, '/api/v1/keys', {}, 'name', 2);
    is(scalar(grep { $_ eq '201' } @$st), 5, 'exactly 5 API keys created over three nodes') or diag tally(@$st);
    is(scalar(grep { $_ eq '409' } @$st), 27, 'the other 27 refused');
    is(db1("select count(*) from api_keys where user_id = '$carol'"), 5, 'exactly 5 rows');

    # ------------------------------------------------ share-link revocation on every node
    $r = $c->request(POST => "/api/v1/prompts/$ids[1]/shares", { token => $ta, json => { public => JSON::PP::true } });
    is($r->{status}, 201, 'share created') or diag $r->{body};
    my $sh = $r->{json};
    for my $i (1 .. 3) {    # twice: the second may come from the node's micro-cache
        for (1 .. 2) {
            $r = $c->node($i)->request(GET => "/api/v1/shared/$sh->{token}");
            is($r->{status}, 200, "node $i serves the shared prompt");
        }
        like($r->{body}, qr/spread 2/, "  node $i: its title");
    }
    $r = $c->request(DELETE => "/api/v1/shares/$sh->{id}", { token => $ta });
    is($r->{status}, 204, 'revoked through HAProxy -> 204');
    ok(db1("select revoked_at is not null from shares where id = '$sh->{id}'") eq 't', 'revoked_at set');
    my (%gone, %last);
    my $deadline = time + 2;
    while (time < $deadline && keys %gone < 3) {    # bounded: 2 s
        for my $i (grep { !$gone{$_} } 1 .. 3) {
            $last{$i} = $c->node($i)->request(GET => "/api/v1/shared/$sh->{token}");
            $gone{$i} = 1 if $last{$i}{status} == 410;
        }
        sleep 0.05;
    }
    for my $i (1 .. 3) {
        ok($gone{$i}, "node $i answers 410 within the 2-s loop") or diag "last: $last{$i}{status}";
        like($last{$i}{headers}{'content-type'} // '', qr{^application/problem\+json}, '  as problem+json');
    }

    # ------------------------------------------------ jobs run once among three daemons
    my @daemons = map { Promptd::Test::_slurp($_->var_dir . '/run/jobs.pid') =~ s/\D//gr } $c->nodes;
    is(scalar(grep { $_ } @daemons), 3, 'each node runs its promptd-jobs');
    my $one = db1("select promptd.enqueue('trace', '{}', 'cluster-one')");
    ok($c->wait_for(sub { db1("select state from public.background_jobs where id = $one") eq 'succeeded' }, timeout => 30),
       'a job enqueued once succeeded');
    is_deeply($c->psql("select count(*), max(attempt) from promptd.job_trace where job_id = $one"), [[1, 1]],
              '  it ran exactly once, on attempt 1');
    $c->psql("select promptd.enqueue('trace', '{}', 'cluster-bulk') from generate_series(1, 600)");
    ok($c->wait_for(sub { db1("select count(*) from public.background_jobs where queue = 'cluster-bulk' and state = 'succeeded'") == 600 },
                    timeout => 90), '600 jobs succeeded');
    is_deeply($c->psql("select count(*), count(distinct t.job_id), max(t.attempt) from promptd.job_trace t "
                       . "join public.background_jobs j on j.id = t.job_id where j.queue = 'cluster-bulk'"),
              [[600, 600, 1]], 'each ran exactly once, on its first attempt');
    my $by = $c->psql("select t.daemon, count(*) from promptd.job_trace t join public.background_jobs j on j.id = t.job_id "
                      . "where j.queue = 'cluster-bulk' group by 1 order by 1");
    diag('jobs per daemon: ' . join(', ', map { "$_->[0]: $_->[1]" } @$by));
    my $nodes_daemons = join '|', map { quotemeta } @daemons;
    ok(!grep({ $_->[0] !~ /\b(?:$nodes_daemons)\b/ } @$by), 'only the nodes\' daemons ran them');

    # ------------------------------------ a schedule fires each slot once among them
    $c->psql(q{insert into promptd.schedules (task, job_type, every, payload)
               values ('cluster.every', 'trace', '1 second', '{"t":"cluster"}')});
    ok($c->wait_for(sub { db1("select count(*) from promptd.schedule_runs where task = 'cluster.every'") >= 6 },
                    timeout => 30), 'a 1-second schedule fired its slots');
    $c->psql(q{update promptd.schedules set enabled = false where task = 'cluster.every'});
    sleep 1.5;    # a tick in flight finishes
    my $sched = q{from public.background_jobs j where j.payload = '{"t":"cluster"}'};
    ok($c->wait_for(sub { db1("select count(*) $sched and j.state <> 'succeeded'") == 0 }, timeout => 30),
       '  every job it made ran');
    my $runs = db1("select count(*) from promptd.schedule_runs where task = 'cluster.every'");
    # (a slot is the primary key of schedule_runs: a second firing shows as
    # a second job, counted here)
    is(db1("select count(distinct r.job_id) from promptd.schedule_runs r join public.background_jobs j "
           . "on j.id = r.job_id where r.task = 'cluster.every'"), $runs, "  each slot names its own job ($runs slots)");
    is(db1("select count(*) $sched"), $runs, '  one job per slot');
    is_deeply($c->psql("select count(*), count(distinct t.job_id), max(t.attempt) from promptd.job_trace t "
                       . "join public.background_jobs j on j.id = t.job_id where j.payload = '{\"t\":\"cluster\"}'"),
              [[$runs, $runs, 1]], '  each ran exactly once, on its first attempt');

    # ------------------------------------------------ the replica streams the writes
    ok($c->wait_for(sub { ($c->replica->db1("select count(*) from prompts where user_id = '$bob'") // 0) == 20 }, timeout => 10),
       'the replica holds the rows written through the nodes');
    is($c->replica->db1('select pg_is_in_recovery()'), 't', '  and is a standby');
};

# ------------------------------------------------------------------ failover

my ($walt, $tw);    # the failover part's user

# seen(@results) -> {status => count} summed over the clients.
sub seen { my %n; for my $r (@_) { $n{$_} += $r->{seen}{$_} for keys %{ $r->{seen} || {} } } \%n }
sub tally_seen { my %n = %{ $_[0] }; join ' ', map { "$_ x$n{$_}" } sort keys %n }

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

subtest 'failover' => sub {
    restored('failover');
    # The quotas part is over: failover writes far more than the free plan allows.
    like($c->promptctl('quota', 'enforce', 'off'), qr/enforce off/, 'quota enforcement off');
    ($walt, $tw) = $c->users('walt');

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
    diag('statuses seen by the writers: ' . tally_seen(seen(@$res)));
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
    diag('statuses seen during the rolling restart: ' . tally_seen(\%seen));
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
    diag('statuses seen by the readers across the restart: ' . tally_seen(\%seen));
    is(join(' ', grep { $_ ne '200' && $_ ne '503' } sort keys %seen), '', 'only 200 and 503 answered');
    is(join("\n", map { @{ $_->{bad} || [] } } @$res), '', 'every 503 carried Retry-After');
    cmp_ok($seen{503} // 0, '>', 0, 'the readers saw the outage');
    $r = $c->request(POST => '/api/v1/prompts', { token => $tw, json => { title => 'after pg', content => 'x' } });
    is($r->{status}, 201, 'writes work again');
    is(db1("select count(*) from prompts where title = 'after pg'"), 1, '  stored');
};

# ------------------------------------------------------------------ promotion

my ($pat, $tp);    # the promotion part's user

sub promote_rows { my ($db) = @_; $db->db1("select count(*) from prompts where user_id = '$pat' and title like 'promote-%'") }

subtest 'promotion' => sub {
    restored('promotion');
    ($pat, $tp) = $c->users('pat');

    # Writers retry an error with the same key for up to 180 s: the nodes are
    # down from the primary's stop until they run on the promoted replica.
    my $h = $c->clients_start(3, $c->writer($tp, 'promote', retry_for => 180));
    ok($c->wait_for(sub { promote_rows($c) >= 20 }, timeout => 60), 'the write load runs');
    ok($c->wait_for(sub { $c->replica->db1("select count(*) from prompts where user_id = '$pat'") > 0 }, timeout => 10),
       'the replica follows');

    $c->stack('pg-stop');    # the primary is gone (a clean stop: every WAL record sent)
    my $new = $c->promote_replica;
    is($new->db1('select pg_is_in_recovery()'), 'f', 'the replica is promoted: no longer in recovery');
    ok($c->wait_status($_, 'UP', 20), "node $_ runs on the new primary: UP") for 1 .. 3;
    my $n0 = promote_rows($new);
    ok($c->wait_for(sub { promote_rows($new) >= $n0 + 20 }, timeout => 60), 'writes go on, into the new primary');
    my $res = $c->clients_wait($h);
    is(scalar(grep { $_->{error} } @$res), 0, 'every client ran to the end') or diag explain $res;
    is(scalar(map { @{ $_->{failed} || [] } } @$res), 0, 'every write acknowledged in the end (retried with its key)');
    diag('statuses seen by the writers: ' . join ' ', map { my $s = $_; map { "$_ x$s->{seen}{$_}" } sort keys %{ $s->{seen} } } @$res);
    $c->acked_once_ok($pat, 'promote', $res, db => $new);

    my $r = $c->request(POST => '/api/v1/prompts', { token => $tp, json => { title => 'after promote', content => 'x' } });
    is($r->{status}, 201, 'a new write -> 201');
    is($new->db1("select count(*) from prompts where id = '$r->{json}{id}'"), 1, '  stored in the new primary');
};

$c->stop;
done_testing;
