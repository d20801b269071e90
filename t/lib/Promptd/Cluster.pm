# Promptd::Cluster: app nodes behind HAProxy on one PostgreSQL primary with a streaming replica, all on loopback, for t/cluster/*.t.
package Promptd::Cluster;

use strict;
use warnings;

use parent 'Promptd::Test';

use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::UNIX;
use JSON::PP;
use Scalar::Util ();
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

# Layout (README "Many nodes"): the cluster object is the database host
# (a Promptd::Test with pg_only: PostgreSQL, migrations, the master copy of
# the secrets), so psql, db1, promptctl, users and token act on the
# primary; request, url and http_port go through HAProxy.
#   $c->{replica}     a Promptd::Test streaming from the primary (standby_of)
#   $c->{nodes}[i]    Promptd::Test app nodes (database => $c), node i+1 on
#                     127.0.0.(i+2): its own VAR, nginx, workers, promptd-jobs
#   HAProxy           127.0.0.1:<free port>, deploy/haproxy/haproxy.cfg.in,
#                     its admin socket in VAR/haproxy/admin.sock
#
# Usage:
#   my $c = Promptd::Cluster->new(nodes => 3, quotas => 1, %node_env);
#   $c->request(GET => '/readyz');           # through HAProxy
#   $c->node(2)->request(...);               # straight to node 2's nginx
#   $c->kill_node(2); $c->restart_node(2);   # kill -9 every process; start again
#   $c->drain_node(2); $c->enable_node(2);   # HAProxy maint / ready
#   $c->restart_pg;                          # promptd-stack pg-stop + pg-start
#   my $new = $c->promote_replica;           # pg_ctl promote, nodes restarted on it at once
#   $c->clients_start(4, $c->writer($tok, 'tag', retry_for => 30)); ...
#   $c->acked_once_ok($uid, 'tag', $c->clients_wait($h));
# Everything is stopped at the end (stop, DESTROY, END), even when a test dies.

# The settings every node gets unless the suite overrides them: one process
# per family (three nodes share two cores), no promptd-media (no storage
# suite here), the test job handlers (trace) for the jobs daemons.
# The database host applied the migrations: a node starting (or restarting
# under load) does not apply them again.  Each node's workers reach the
# primary through the node's own PgBouncer in transaction pooling mode (4
# server connections for its dozen workers), so with unnamed statements
# (README "PgBouncer"); promptd-jobs and promptd-gateway connect directly.
my %NODE_DEFAULTS = (PROMPTD_WORKERS => 1, PROMPTD_MEDIA => 0, PROMPTD_JOBS_TEST_HANDLERS => 1,
                     PROMPTD_JOBS_POLL => 200, PROMPTD_MIGRATE => 0,
                     PROMPTD_PGBOUNCER => 1, PROMPTD_PGBOUNCER_POOL_SIZE => 4,
                     PROMPTD_DB_STATEMENTS => 'unnamed');

# The primary's and the replica's settings (a standby refuses to run with
# fewer connections than its primary): room for every node's workers.
my %DB_ENV = (PROMPTD_PG_MAX_CONNECTIONS => 300);

sub new {
    my ($class, %opt) = @_;
    my $n = delete $opt{nodes} // 3;
    my $quotas = delete $opt{quotas};
    my $replica = delete $opt{replica} // 1;
    die "Promptd::Cluster: nodes must be 1 to 8\n" unless $n =~ /^[1-8]$/;
    my $self = $class->SUPER::new(pg_only => 1, quotas => $quotas, %DB_ENV);
    $self->{node_env} = { %NODE_DEFAULTS, %opt };
    $self->{nodes} = [];
    $self->{replica} = Promptd::Test->new(standby_of => $self, %DB_ENV) if $replica;
    push @{ $self->{nodes} }, $self->_node_new($_) for 1 .. $n;
    $self->_haproxy_start;
    for my $i (1 .. $n) {
        $self->wait_status($i, 'UP', 20) or die "Promptd::Cluster: node $i not UP in HAProxy\n";
    }
    return $self;
}

# ------------------------------------------------------------------ accessors

sub nodes     { @{ $_[0]{nodes} } }
sub node      { $_[0]{nodes}[ $_[1] - 1 ] }    # 1-based
sub replica   { $_[0]{replica} }
sub http_port { $_[0]{lb_port} }

# url($path): through HAProxy (plain HTTP; TLS ends at each node's nginx).
sub url { "http://127.0.0.1:$_[0]{lb_port}$_[1]" }

# The HTTP client of request(), for a client process forked off a test
# (each keeps its own connection to HAProxy).
sub fresh_http { $_[0]{http} = HTTP::Tiny->new(timeout => 30, keep_alive => 1, agent => 'promptd-test/1') }

sub _node_new {
    my ($self, $i) = @_;
    return Promptd::Test->new(database => $self, listen => '127.0.0.' . ($i + 1), %{ $self->{node_env} });
}

# ------------------------------------------------------------------ nodes

# node_pids($i) -> every live process of node $i: the sessions of the
# processes its VAR/run/*.pid name (promptd-stack starts each with setsid),
# so a worker multiwatch just forked or an nginx worker is found too.
sub node_pids {
    my ($self, $i) = @_;
    my $run = $self->node($i)->var_dir . '/run';
    my %leader;
    for my $f (glob "$run/*.pid") {
        my $p = Promptd::Test::_slurp($f) // next;
        $p =~ s/\D//g;
        $leader{$p} = 1 if $p;
    }
    my @pids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        my $s = Promptd::Test::_slurp($stat) // next;
        my ($pid, $state, $sid) = $s =~ /^(\d+) \(.*\) (\S) \d+ \d+ (\d+) /s or next;
        push @pids, $pid if $leader{$sid} && $state ne 'Z';
    }
    return sort { $a <=> $b } @pids;
}

# kill_node($i) -> the pids killed: SIGKILL to every process of node $i, by
# pid, again until none is left (a supervisor may fork once more in between).
sub kill_node {
    my ($self, $i) = @_;
    my %killed;
    for (1 .. 50) {
        my @p = $self->node_pids($i) or last;
        kill 'KILL', @p;
        $killed{$_} = 1 for @p;
        sleep 0.02;
    }
    die "Promptd::Cluster: node $i still has processes: @{[ $self->node_pids($i) ]}\n" if $self->node_pids($i);
    return sort { $a <=> $b } keys %killed;
}

# restart_node($i): promptd-stack stop (nothing to stop after kill_node),
# then start with the node's settings; returns once its /readyz answers.
sub restart_node {
    my ($self, $i) = @_;
    my $node = $self->node($i);
    $node->stack('stop');
    $node->stack('start');
}

# restart_pg: stop the primary (fast shutdown) and start it again.
sub restart_pg {
    my ($self) = @_;
    $self->stack('pg-stop');
    $self->stack('pg-start');
}

# ------------------------------------------------------------------ HAProxy

sub _haproxy_start {
    my ($self) = @_;
    my $dir = "$self->{var}/haproxy";
    mkdir $dir, 0755;
    ($self->{lb_port}) = Promptd::Test::_free_ports(1);
    my $servers = join "\n", map {
        my $n = $self->node($_);
        "    server n$_ " . $n->env->{PROMPTD_LISTEN_ADDR} . ':' . $n->http_port . ' check'
    } 1 .. @{ $self->{nodes} };
    my $src = "$self->{src}/deploy/haproxy";
    my %v = (ADMIN_SOCKET => "$dir/admin.sock", BIND => "127.0.0.1:$self->{lb_port}",
             ERRORFILE_DIR => $src, SERVERS => $servers);
    my $cfg = Promptd::Test::_slurp("$src/haproxy.cfg.in") // die "$src/haproxy.cfg.in: $!\n";
    $cfg =~ s/\@([A-Z_]+)\@/$v{$1} \/\/ die "haproxy.cfg.in: unknown \@$1\@\n"/ge;
    Promptd::Test::_spew("$dir/haproxy.cfg", $cfg);
    $self->{haproxy_sock} = "$dir/admin.sock";
    my $bin = $ENV{HAPROXY} || (-x '/usr/sbin/haproxy' ? '/usr/sbin/haproxy' : 'haproxy');
    my ($rc, $out) = Promptd::Test::_capture([$bin, '-c', '-q', '-f', "$dir/haproxy.cfg"], {});
    die "haproxy -c $dir/haproxy.cfg failed (exit $rc): $out\n" if $rc != 0;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open(STDIN, '<', '/dev/null');
        open(STDOUT, '>>', "$self->{var}/log/haproxy.log");
        open(STDERR, '>&', \*STDOUT);
        exec { $bin } $bin, '-db', '-f', "$dir/haproxy.cfg" or POSIX::_exit(127);
    }
    $self->{haproxy_pid} = $pid;
    $self->wait_for(sub { -S $self->{haproxy_sock} || waitpid($pid, WNOHANG) == $pid }, timeout => 10);
    die "haproxy did not start:\n" . $self->log_tail('haproxy') unless -S $self->{haproxy_sock};
}

sub _haproxy_stop {
    my ($self) = @_;
    my $pid = delete $self->{haproxy_pid} or return;
    $self->stop_pid($pid, 'TERM', timeout => 10);
}

# admin($command) -> HAProxy's answer on its admin socket.
sub admin {
    my ($self, $cmd) = @_;
    my $s = IO::Socket::UNIX->new(Peer => $self->{haproxy_sock}) or die "haproxy admin socket: $!\n";
    print $s "$cmd\n";
    local $/;
    my $out = <$s> // '';
    close $s;
    return $out;
}

# server_stats -> { n1 => {status => 'UP', scur => 0, ...}, ... }: `show stat`
# of the nodes backend.
sub server_stats {
    my ($self) = @_;
    my @lines = split /\n/, $self->admin('show stat');
    my @head = split /,/, (shift(@lines) // '') =~ s/^# //r;
    my %by;
    for (@lines) {
        my %row;
        @row{@head} = split /,/, $_, -1;
        next unless ($row{pxname} // '') eq 'nodes' && ($row{svname} // '') =~ /^n\d+$/;
        $by{ $row{svname} } = \%row;
    }
    return \%by;
}

# wait_status($i, $re, $timeout) -> true once HAProxy's status of node $i
# matches $re ('UP', 'DOWN', 'MAINT') within $timeout seconds.
sub wait_status {
    my ($self, $i, $re, $timeout) = @_;
    return $self->wait_for(sub { (($self->server_stats->{"n$i"} // {})->{status} // '') =~ /^$re/ },
                           timeout => $timeout // 10);
}

# drain_node($i): no new request goes to node $i (maint); returns once the
# requests it was serving are answered (10 s at most).
sub drain_node {
    my ($self, $i) = @_;
    $self->admin("set server nodes/n$i state maint");
    $self->wait_status($i, 'MAINT', 5) or die "node $i not in MAINT\n";
    return $self->wait_for(sub { ($self->server_stats->{"n$i"}{scur} // 1) == 0 }, timeout => 10);
}

# enable_node($i): node $i back in rotation; returns once its check passed.
sub enable_node {
    my ($self, $i) = @_;
    $self->admin("set server nodes/n$i state ready");
    return $self->wait_status($i, 'UP', 10);
}

# access_counts($re) -> [count on node 1, node 2, ...] of the nginx access
# log lines whose "uri" matches $re.
sub access_counts {
    my ($self, $re) = @_;
    return [ map { scalar grep { ($_->{uri} // '') =~ $re } @{ $_->access_log } } $self->nodes ];
}

# ------------------------------------------------------------------ clients

# clients_start($n, sub { my ($i, $stopping) = @_; ...; return $result }) ->
# a handle: $n client processes, each with its own connection to HAProxy
# ($c->request in the sub), all released at once; $stopping->() turns true
# once clients_wait was called (for a load that runs until then).  The sub's
# result must be JSON-encodable.
sub clients_start {
    my ($self, $n, $code) = @_;
    my $dir = tempdir('clients-XXXXXX', DIR => $self->{var}, CLEANUP => 0);
    my @pids;
    for my $i (0 .. $n - 1) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            $self->fresh_http;
            for (1 .. 500) { last if -e "$dir/go"; sleep 0.01 }    # bounded: 5 s
            my $res = eval { $code->($i, sub { -e "$dir/stop" }) };
            $res = { error => "$@" } if $@;
            Promptd::Test::_spew("$dir/out-$i.tmp", JSON::PP->new->utf8->encode({ r => $res }));
            rename "$dir/out-$i.tmp", "$dir/out-$i";
            POSIX::_exit(0);    # no END: the cluster is the parent's
        }
        push @pids, $pid;
    }
    sleep 0.2;
    Promptd::Test::_spew("$dir/go", '');
    return { dir => $dir, pids => \@pids };
}

# clients_wait($handle, timeout => 300) -> [the result of each client]: tells
# them to stop and waits for them (killed, by pid, after the timeout).
sub clients_wait {
    my ($self, $h, %opt) = @_;
    Promptd::Test::_spew("$h->{dir}/stop", '');
    my $deadline = time + ($opt{timeout} // 300);
    my %left = map { $_ => 1 } @{ $h->{pids} };
    while (%left && time < $deadline) {
        for (keys %left) { delete $left{$_} if waitpid($_, WNOHANG) == $_ }
        sleep 0.05 if %left;
    }
    for (keys %left) { kill 'KILL', $_; waitpid($_, 0) }
    return [ map {
        my $t = Promptd::Test::_slurp("$h->{dir}/out-$_");
        defined $t ? JSON::PP->new->utf8->decode($t)->{r} : { error => 'no result' }
    } 0 .. $#{ $h->{pids} } ];
}

# clients($n, $code) -> the results: clients_start, then clients_wait once
# each has returned on its own.
sub clients {
    my ($self, $n, $code) = @_;
    my $h = $self->clients_start($n, $code);
    my $deadline = time + 300;
    sleep 0.05 while time < $deadline && grep { !-e "$h->{dir}/out-$_" } 0 .. $n - 1;
    return $self->clients_wait($h);
}

# writer($token, $tag, retry_for => 0) -> a client sub for clients_start: it
# POSTs prompts titled "$tag-<client>-<k>", that also being the
# Idempotency-Key, until told to stop; with retry_for, a connection error,
# 502, 503 or 504 is sent again with the same key for up to that many
# seconds.  Its result: {acked => {key => id}, seen => {status => n},
# failed => [keys never acknowledged]}.
sub writer {
    my ($self, $tok, $tag, %opt) = @_;
    my $retry_for = $opt{retry_for} // 0;
    return sub {
        my ($i, $stopping) = @_;
        my (%acked, %seen, @failed);
        for my $k (1 .. 100_000) {
            last if $stopping->();
            my $key = "$tag-$i-$k";
            my $until = time + $retry_for;
            for my $try (1 .. 10_000) {
                my $r = $self->request(POST => '/api/v1/prompts', { token => $tok,
                    headers => { 'Idempotency-Key' => $key }, json => { title => $key, content => 'x' } });
                $seen{ $r->{status} }++;
                if ($r->{status} == 201 && ($r->{json}{title} // '') eq $key) {
                    $acked{$key} = $r->{json}{id};
                    last;
                }
                last unless $r->{status} =~ /^(?:599|502|503|504)$/ && time < $until;
                sleep 0.05;
            }
            push @failed, $key unless $acked{$key};
            sleep 0.01;
        }
        return { acked => \%acked, seen => \%seen, failed => \@failed };
    };
}

# acked_once_ok($user_id, $tag, $results, db => $c): the tests that each
# write a writer saw acknowledged is one row with the id its 201 named,
# stored once, and that no row exists that no writer saw acknowledged.
sub acked_once_ok {
    my ($self, $uid, $tag, $res, %opt) = @_;
    my $db = $opt{db} // $self;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my %acked = map { %{ $_->{acked} || {} } } @$res;
    my %rows;
    push @{ $rows{ $_->[0] } }, $_->[1]
        for @{ $db->psql("select title, id::text from prompts where user_id = '$uid' and title like '$tag-%'") };
    my @lost = grep { !$rows{$_} } sort keys %acked;
    my @dup = grep { @{ $rows{$_} } != 1 } sort keys %rows;
    my @other = grep { $rows{$_} && $rows{$_}[0] ne $acked{$_} } sort keys %acked;
    my @unacked = grep { !exists $acked{$_} } sort keys %rows;
    Test::More::ok(keys %acked > 0, "$tag: writes were acknowledged (" . scalar(keys %acked) . ')');
    Test::More::is("@lost", '', "$tag: no acknowledged write lost");
    Test::More::is("@dup", '', "$tag: none stored twice");
    Test::More::is("@other", '', "$tag: each row has the id its 201 named");
    Test::More::is("@unacked", '', "$tag: no row without its acknowledgement");
}

# promote_replica -> the new primary: the replica is promoted (pg_ctl
# promote) and every node restarts on it, all at once: none can serve
# before its restart (its database is gone), so one after the other would
# only make the outage longer.
sub promote_replica {
    my ($self) = @_;
    my $new = $self->{replica} or die "Promptd::Cluster: no replica\n";
    $new->stack('pg-promote');
    for my $node ($self->nodes) {
        my %db = $new->_node_env;
        @{ $node->env }{ keys %db } = values %db;
        $node->{database} = $new;
        Scalar::Util::weaken($node->{database});
    }
    $self->_at_once(map { my $i = $_; sub { $self->restart_node($i) } } 1 .. @{ $self->{nodes} });
    return $new;
}

# _at_once(@subs): each sub in a process of its own, all started at once
# (a sub only runs commands: what it changes in its process is lost);
# returns once every one has, dying with their errors if any died.  Each
# is bounded by what it runs (promptd-stack start: PROMPTD_START_TIMEOUT).
sub _at_once {
    my ($self, @subs) = @_;
    my $dir = tempdir('at-once-XXXXXX', DIR => $self->{var}, CLEANUP => 0);
    my @pids;
    for my $k (0 .. $#subs) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            eval { $subs[$k]->(); 1 } or Promptd::Test::_spew("$dir/err-$k", "$@");
            File::Temp::cleanup();    # this process's temporary files: no END runs
            POSIX::_exit(0);          # no END: the cluster is the parent's
        }
        push @pids, $pid;
    }
    waitpid($_, 0) for @pids;
    my $err = join '', map { Promptd::Test::_slurp("$dir/err-$_") // '' } 0 .. $#subs;
    die $err if length $err;
}

# ------------------------------------------------------------------ stop

sub stop {
    my ($self) = @_;
    return if $self->{stopped} || ($self->{owner} // 0) != $$;
    $self->_haproxy_stop;
    $_->stop for grep { defined } @{ $self->{nodes} || [] }, $self->{replica};
    $self->SUPER::stop;
}

1;
