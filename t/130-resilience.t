#!/usr/bin/perl
# 130-resilience.t: a killed worker is replaced; a lost database gives 503 + Retry-After, then recovers;
# a COMMIT refused by the server or cut by a lost connection answers 422 / 503, not 500.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use POSIX ':sys_wait_h';
use HTTP::Tiny;
use Promptd::Test;

my $s = Promptd::Test->new;
my $tok = $s->token($s->user_create('alice@example.com'));
my $r = $s->request(POST => '/api/v1/prompts', { token => $tok, json => { title => 't', content => 'c' } });
my $id = $r->{json}{id} or BAIL_OUT("create failed: $r->{body}");
my $path = "/api/v1/prompts/$id";

# --- kill -9 a worker while a bounded load runs against the family.
my @before = $s->worker_pids('prompts');
is(scalar @before, 2, 'two prompts workers');
my $url = $s->url($path);
my $load = fork // die "fork: $!";
if ($load == 0) {
    my $http = HTTP::Tiny->new(timeout => 10);
    my %count;
    for (1 .. 400) {
        my $res = $http->get($url, { headers => { Authorization => "Bearer $tok" } });
        $count{ $res->{status} }++;
    }
    # Report: every status must be 200 or a 502 for the one cut-off request.
    my $bad = grep { $_ != 200 && $_ != 502 } keys %count;
    exit($bad ? 1 : 0);
}
sleep 0.3;
kill 'KILL', $before[0];
waitpid($load, 0);
is($? >> 8, 0, 'during the kill every answer was 200 (or 502 for the cut-off request)');
my @after = @{ $s->wait_for(sub {
    my @p = $s->worker_pids('prompts');
    @p == 2 && !grep({ $_ == $before[0] } @p) ? \@p : undef;
}) || [] };
is(scalar @after, 2, 'multiwatch respawned the killed worker with a new process');
my $ok = grep { $s->request(GET => $path, { token => $tok })->{status} == 200 } 1 .. 20;
is($ok, 20, 'the next 20 requests all succeed');

# --- the database goes away: 503 + Retry-After, workers stay up.
my @pids = $s->worker_pids('prompts');
$s->stack('pg-stop');
for my $try (1 .. 3) {
    $r = $s->request(GET => $path, { token => $tok });
    is($r->{status}, 503, "database down, request $try -> 503");
    like($r->{headers}{'retry-after'} // '', qr/^\d+$/, '  with Retry-After');
    is($r->{json}{status}, 503, '  as problem+json');
}
$r = $s->request(POST => '/api/v1/prompts', { token => $tok, json => { title => 'during outage', content => 'x' } });
is($r->{status}, 503, 'writes too -> 503');
$r = $s->request(GET => '/readyz');
is($r->{status}, 503, '/readyz -> 503');
is($s->request(GET => '/healthz')->{status}, 200, '/healthz still 200 (no database)');
is_deeply([ $s->worker_pids('prompts') ], \@pids, 'no worker crashed');

$s->stack('pg-start');
my $back = $s->wait_for(sub { $s->request(GET => $path, { token => $tok })->{status} == 200 }, timeout => 15);
ok($back, 'after the database returns, requests succeed again');
is($s->request(GET => '/readyz')->{status}, 200, '/readyz -> 200 again');
is($s->psql("select count(*) from prompts where title = 'during outage'")->[0][0], 0,
   'nothing half-written during the outage');

# --- a backend killed under a worker (e.g. by an operator) is survived too.
# pg_terminate_backend only signals: wait until those backends are gone, so
# that every worker's connection is really dead when the requests start.
my $killed = $s->psql("select coalesce(string_agg(pid::text, ','), '') from "
    . "(select pid, pg_terminate_backend(pid) from pg_stat_activity where usename = 'promptd_app') t")->[0][0];
ok($s->wait_for(sub { $killed eq '' || $s->psql("select count(*) from pg_stat_activity "
    . "where pid = any('{$killed}'::int[])")->[0][0] == 0 }, timeout => 10),
   'the terminated backends are gone');
# A worker checks its idle connection before each request: one the server
# closed is replaced first, so not one request fails.
my @st = map { $s->request(GET => $path, { token => $tok })->{status} } 1 .. 6;
is("@st", '200 200 200 200 200 200', 'connections the server closed are replaced before use: every request 200');

# --- a COMMIT that fails.  Deferred triggers act at COMMIT, on one title each.
$s->psql(q{create function public.t130_at_commit() returns trigger language plpgsql as $$
    begin
        if new.title = 'slow commit' then perform pg_sleep(10); end if;
        if new.title = 'refused at commit' then
            raise exception 'refused at commit' using errcode = '23514';
        end if;
        return null;
    end $$;
  create constraint trigger t130_at_commit after insert on public.prompts
    deferrable initially deferred for each row execute function public.t130_at_commit()});
my $stored = sub { $s->psql("select count(*) from prompts where title = '$_[0]'")->[0][0] };

# The server's refusal at COMMIT is answered like the same refusal of a statement.
$r = $s->request(POST => '/api/v1/prompts', { token => $tok, json => { title => 'refused at commit', content => 'c' } });
is($r->{status}, 422, 'a deferred constraint refusing the COMMIT -> 422, not 500') or diag $r->{body};
like($r->{headers}{'content-type'} // '', qr{^application/problem\+json}, '  as problem+json');
is($stored->('refused at commit'), 0, '  nothing stored');

# The connection lost during the COMMIT (a server stop, a failover): the
# worker cannot know whether the write landed, so it answers 503 +
# Retry-After, for the client to retry with its Idempotency-Key.
my $killer = fork // die "fork: $!";
if (!$killer) {
    my $ok = $s->wait_for(sub { $s->psql("select count(pg_terminate_backend(pid)) from pg_stat_activity "
        . "where query = 'COMMIT' and wait_event = 'PgSleep'")->[0][0] > 0 }, timeout => 20);
    POSIX::_exit($ok ? 0 : 1);
}
my %post = (token => $tok, json => { title => 'slow commit', content => 'c' },
            headers => { 'Idempotency-Key' => 't130-commit' });
$r = $s->request(POST => '/api/v1/prompts', \%post);
ok(waitpid($killer, 0) == $killer && $? == 0, 'the backend was ended during the COMMIT');
is($r->{status}, 503, 'the connection lost during the COMMIT -> 503, not 500') or diag $r->{body};
like($r->{headers}{'retry-after'} // '', qr/^\d+$/, '  with Retry-After');
like($r->{headers}{'content-type'} // '', qr{^application/problem\+json}, '  as problem+json');
is($stored->('slow commit'), 0, '  nothing stored');
$s->psql('drop trigger t130_at_commit on public.prompts; drop function public.t130_at_commit()');
$r = $s->request(POST => '/api/v1/prompts', \%post);
is($r->{status}, 201, 'the retry with the same key -> 201') or diag $r->{body};
is($stored->('slow commit'), 1, '  stored once');

done_testing;
