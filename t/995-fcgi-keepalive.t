#!/usr/bin/perl
# 995-fcgi-keepalive.t: nginx keeps its FastCGI connections to the workers (fastcgi_keep_conn, upstream keepalive): 32 concurrent clients on a family of 2 workers all answered right over few connections, bodies left unread do not break a kept connection, a SIGKILLed worker is replaced without a 5xx for GETs, SIGTERM stops a worker cleanly; PROMPTD_FCGI_KEEPALIVE=0 is one connection per request.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use POSIX ':sys_wait_h';
use Promptd::Test qw(db1);

my $s = Promptd::Test->new(PROMPTD_WORKERS => 2);
my $var = $s->var_dir;

sub slurp { open(my $fh, '<', $_[0]) or die "$_[0]: $!"; local $/; <$fh> }
# counters(): the prompts family's accepted connections and answered requests.
sub counters {
    my ($st) = @_;
    my $r = $st->request(GET => '/metrics');
    die "metrics: $r->{status}" unless $r->{status} == 200;
    my ($conns, $reqs) = (0, 0);
    for (split /\n/, $r->{body}) {
        $conns += $1 if /^promptd_fcgi_connections_total\{family="prompts"\} (\d+)$/;
        $reqs += $1 if /^promptd_http_requests_total\{family="prompts",.*\} (\d+)$/;
    }
    return ($conns, $reqs);
}

# ------------------------------------------------------------- configuration
like(slurp("$var/nginx/upstreams.conf"), qr/upstream prompts \{\s*server unix:\S+;\s*keepalive 32;\s*\}/,
     'the prompts upstream keeps 16 idle connections per worker (2 workers)');
like(slurp("$var/nginx/nginx.conf"), qr/^\s*fastcgi_keep_conn on;$/m, 'fastcgi_keep_conn on at the http level');

my $tok = $s->token($s->user_create('keepalive@example.com'));
my @ids = map {
    my $r = $s->request(POST => '/api/v1/prompts', { token => $tok, json => { title => "p$_", content => "c$_" } });
    $r->{status} == 201 or BAIL_OUT("create: $r->{status} $r->{body}");
    $r->{json}{id};
} 1 .. 4;

# ------------------------------------------------------------- more clients than workers
# 32 processes, each with its own keep-alive client: 20 GETs of a prompt,
# a POST (a body the worker reads), a POST to no route (a body it never
# reads: drained before the next request), a malformed JSON body.  Each
# exits with the number of wrong answers; alarm ends a stalled one.
my ($c0, $q0) = counters($s);
my $clients = 32;
my %kids;
for my $k (1 .. $clients) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        alarm 120;
        my $http = HTTP::Tiny->new(timeout => 60, keep_alive => 1);
        my %h = (Authorization => "Bearer $tok");
        my $bad = 0;
        for my $i (1 .. 20) {
            my $id = $ids[($k + $i) % @ids];
            my $r = $http->get($s->url("/api/v1/prompts/$id"), { headers => \%h });
            $bad++ unless $r->{status} == 200 && eval { decode_json($r->{content})->{id} eq $id };
        }
        my $r = $http->post($s->url('/api/v1/prompts'), { headers => { %h, 'Content-Type' => 'application/json' },
                            content => encode_json({ title => "client $k", content => 'x' x 5000 }) });
        $bad++ unless $r->{status} == 201;
        $r = $http->post($s->url('/api/v1/prompts/no/such/route'), { headers => { %h, 'Content-Type' => 'application/json' },
                         content => '{"unread":"' . ('y' x 20000) . '"}' });
        $bad++ unless $r->{status} == 404;
        $r = $http->post($s->url('/api/v1/prompts'), { headers => { %h, 'Content-Type' => 'application/json' },
                         content => '{"title":' });
        $bad++ unless $r->{status} == 400;
        $r = $http->get($s->url("/api/v1/prompts/$ids[0]"), { headers => \%h });
        $bad++ unless $r->{status} == 200;
        POSIX::_exit($bad > 250 ? 250 : $bad);
    }
    $kids{$pid} = 1;
}
my ($failed, $bad) = (0, 0);
for my $pid (keys %kids) {
    waitpid($pid, 0);
    $failed++ if $?;
    $bad += $? & 127 ? 1000 : $? >> 8;
}
is($failed, 0, "$clients concurrent clients on 2 workers: every answer right (wrong or missing: $bad)");
is(db1("select count(*) from public.prompts where title like 'client %'"), $clients,
   'every POST landed once');
my ($c1, $q1) = counters($s);
my $reqs = $q1 - $q0;
my $conns = $c1 - $c0;
is($reqs, $clients * 24, "the workers answered every request ($reqs)");
ok($conns > 0 && $conns * 4 <= $reqs, "nginx reused its connections: $conns accepted for $reqs requests");
unlike($s->log_tail('nginx-error', 200), qr/upstream prematurely closed|Connection reset by peer/,
       'no connection cut under nginx');

# ------------------------------------------------------------- a worker killed
# nginx holds kept connections to both workers; one dies with them open.
my @before = $s->worker_pids('prompts');
is(scalar @before, 2, 'two prompts workers');
kill 'KILL', $before[0];
my @statuses = map { $s->request(GET => "/api/v1/prompts/$ids[0]", { token => $tok })->{status} } 1 .. 30;
is_deeply([grep { $_ != 200 } @statuses], [], 'GETs right after a SIGKILL: no 5xx (nginx retries a dead kept connection)');
my $after = $s->wait_for(sub {
    my @p = $s->worker_pids('prompts');
    @p == 2 && !grep({ $_ == $before[0] } @p) ? \@p : undef;
});
ok($after, 'multiwatch replaced the killed worker');
@statuses = map { $s->request(GET => "/api/v1/prompts/$ids[1]", { token => $tok })->{status} } 1 .. 30;
is_deeply([grep { $_ != 200 } @statuses], [], 'and every GET after it answers 200');

# ------------------------------------------------------------- SIGTERM
my ($victim) = $s->worker_pids('prompts');
my $stops = () = slurp("$var/log/prompts.log") =~ /"worker stopping"/g;
kill 'TERM', $victim;
ok($s->wait_for(sub { !kill(0, $victim) || (slurp("/proc/$victim/stat") =~ /\)\s+Z/ ? 1 : 0) }),
   'a worker given SIGTERM while holding kept connections exits');
ok($s->wait_for(sub { (() = slurp("$var/log/prompts.log") =~ /"worker stopping"/g) > $stops }),
   'through its normal exit path (it logs "worker stopping")');
@statuses = map { $s->request(GET => "/api/v1/prompts/$ids[2]", { token => $tok })->{status} } 1 .. 20;
is_deeply([grep { $_ != 200 } @statuses], [], 'GETs after it: all 200');

# ------------------------------------------------------------- turned off
my $off = Promptd::Test->new(PROMPTD_WORKERS => 1, PROMPTD_FCGI_KEEPALIVE => 0, PROMPTD_JOBS_DAEMONS => 0,
                             PROMPTD_GATEWAY => 0, PROMPTD_MEDIA => 0);
unlike(slurp($off->var_dir . '/nginx/upstreams.conf'), qr/keepalive/, 'PROMPTD_FCGI_KEEPALIVE=0: no upstream keepalive');
like(slurp($off->var_dir . '/nginx/nginx.conf'), qr/^\s*fastcgi_keep_conn off;$/m, 'and fastcgi_keep_conn off');
my $otok = $off->token($off->user_create('off@example.com'));
my ($oc0, $oq0) = counters($off);
my @o = map { $off->request(GET => '/api/v1/prompts', { token => $otok })->{status} } 1 .. 10;
is_deeply([grep { $_ != 200 } @o], [], '10 requests answered');
my ($oc1, $oq1) = counters($off);
is($oc1 - $oc0, $oq1 - $oq0, 'one connection per request');

done_testing;
