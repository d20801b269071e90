#!/usr/bin/perl
# 010-shared-state.t: three nodes behind HAProxy on one PostgreSQL: requests spread over the nodes, quotas exact across them, a revoked share link refused by every node within 2 s, jobs run once among three jobs daemons, the replica streams.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Time::HiRes qw(sleep time);
use Promptd::Cluster;
use Promptd::Test qw(db1);

my $c = Promptd::Cluster->new(nodes => 3, quotas => 1);
my ($alice, $ta, $bob, $tb, $carol, $tc) = $c->users(qw(alice bob carol));
my $prompts = qr{^/api/v1/prompts$};

sub tally { my %n; $n{$_}++ for @_; join ' ', map { "$_ x$n{$_}" } sort keys %n }

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

# ------------------------------------------------ the replica streams the writes
ok($c->wait_for(sub { ($c->replica->db1("select count(*) from prompts where user_id = '$bob'") // 0) == 20 }, timeout => 10),
   'the replica holds the rows written through the nodes');
is($c->replica->db1('select pg_is_in_recovery()'), 't', '  and is a standby');

$c->stop;
done_testing;
