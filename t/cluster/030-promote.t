#!/usr/bin/perl
# 030-promote.t: two nodes under writes; the primary stops, the streaming replica is promoted (pg_ctl promote) and the nodes restart on it: no acknowledged write lost, none doubled.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Promptd::Cluster;

my $c = Promptd::Cluster->new(nodes => 2);
my ($walt, $tw) = $c->users('walt');
sub rows { my ($db) = @_; $db->db1("select count(*) from prompts where user_id = '$walt' and title like 'promote-%'") }

# Writers retry an error with the same key for up to 180 s: the nodes are
# down from the primary's stop until they run on the promoted replica.
my $h = $c->clients_start(3, $c->writer($tw, 'promote', retry_for => 180));
ok($c->wait_for(sub { rows($c) >= 20 }, timeout => 60), 'the write load runs');
ok($c->wait_for(sub { $c->replica->db1("select count(*) from prompts where user_id = '$walt'") > 0 }, timeout => 10),
   'the replica follows');

$c->stack('pg-stop');    # the primary is gone (a clean stop: every WAL record sent)
my $new = $c->promote_replica;
is($new->db1('select pg_is_in_recovery()'), 'f', 'the replica is promoted: no longer in recovery');
ok($c->wait_status($_, 'UP', 20), "node $_ runs on the new primary: UP") for 1 .. 2;
my $n0 = rows($new);
ok($c->wait_for(sub { rows($new) >= $n0 + 20 }, timeout => 60), 'writes go on, into the new primary');
my $res = $c->clients_wait($h);
is(scalar(grep { $_->{error} } @$res), 0, 'every client ran to the end') or diag explain $res;
is(scalar(map { @{ $_->{failed} || [] } } @$res), 0, 'every write acknowledged in the end (retried with its key)');
diag('statuses seen by the writers: ' . join ' ', map { my $s = $_; map { "$_ x$s->{seen}{$_}" } sort keys %{ $s->{seen} } } @$res);
$c->acked_once_ok($walt, 'promote', $res, db => $new);

my $r = $c->request(POST => '/api/v1/prompts', { token => $tw, json => { title => 'after promote', content => 'x' } });
is($r->{status}, 201, 'a new write -> 201');
is($new->db1("select count(*) from prompts where id = '$r->{json}{id}'"), 1, '  stored in the new primary');

$c->stop;
done_testing;
