# WorkerBench: a seeded stack, one prompts worker pool under a wrapper (valgrind), and fixed batches of requests, for bench/callgrind, bench/syscalls and bench/rss.
package WorkerBench;

use strict;
use warnings;

use POSIX ();
use Time::HiRes qw(sleep);
use Promptd::Test;

# new(%env) -> a bench: a stack (Promptd::Test, kept-alive FastCGI
# connections as in production) with BENCH_USERS users x BENCH_PROMPTS
# prompts each, a token per user.  %env overrides the stack's settings;
# on_start => sub { my ($stack) = @_; ... } runs before any request.
# The bench owns the stack: it stops with the object (or at exit).
sub new {
    my ($class, %env) = @_;
    my $on_start = delete $env{on_start};
    my $users   = $ENV{BENCH_USERS}   || 20;
    my $prompts = $ENV{BENCH_PROMPTS} || 5;
    my $s = Promptd::Test->new(PROMPTD_JOBS_DAEMONS => 0, PROMPTD_FCGI_KEEPALIVE => 1,
        PROMPTD_RATE_API => '100000r/s', PROMPTD_BURST_API => 100000,
        PROMPTD_RATE_CREDENTIAL => '100000r/s', PROMPTD_BURST_CREDENTIAL => 100000, %env);
    $s->{keep} = 1 if $ENV{BENCH_KEEP};
    my $self = bless { s => $s, pairs => [], pools => [] }, $class;
    $on_start->($s) if $on_start;
    my @ut = $s->users(map { "bench$_" } 1 .. $users);
    while (my ($uid, $tok) = splice @ut, 0, 2) {
        push @{ $self->{tokens} }, $tok;
        for my $n (1 .. $prompts) {
            my $r = $s->request(POST => '/api/v1/prompts', { token => $tok,
                json => { title => "Bench $n", content => "Summarise {{topic}} in $n sentences.",
                          tags => ['bench'] } });
            die "WorkerBench: POST /api/v1/prompts answered $r->{status}: $r->{body}\n"
                unless $r->{status} == 201;
            push @{ $self->{pairs} }, [$tok, $r->{json}{id}];
        }
    }
    return $self;
}

sub stack  { $_[0]{s} }
sub pairs  { @{ $_[0]{pairs} } }
sub tokens { @{ $_[0]{tokens} } }

# get_ok($prefix, $i): GET prompt i (cycling over the pairs) at
# $prefix/api/v1/prompts/{id}; dies unless 200 with its own id.  Every
# request is a different user/prompt until the pairs run out.
sub get_ok {
    my ($self, $prefix, $i) = @_;
    my $p = $self->{pairs}[$i % @{ $self->{pairs} }];
    my $r = $self->{s}->request(GET => "$prefix/api/v1/prompts/$p->[1]", { token => $p->[0] });
    die "WorkerBench: GET $prefix/api/v1/prompts/$p->[1] answered $r->{status}: $r->{body}\n"
        unless $r->{status} == 200 && $r->{body} =~ /\Q$p->[1]\E/;
    return $r;
}

# mixed($prefix, $i, $tag): the i-th request of the mixed load, in turn GET
# prompt, list, POST with an Idempotency-Key (every 16th a replay of the one
# before), and a 404 (another user's prompt); dies on an unexpected status.
sub mixed {
    my ($self, $prefix, $i, $tag) = @_;
    my $s = $self->{s};
    my @p = @{ $self->{pairs} };
    my $p = $p[$i % @p];
    my $kind = $i % 4;
    my ($r, $want);
    if ($kind == 0) {
        ($r, $want) = ($s->request(GET => "$prefix/api/v1/prompts/$p->[1]", { token => $p->[0] }), 200);
    } elsif ($kind == 1) {
        ($r, $want) = ($s->request(GET => "$prefix/api/v1/prompts?limit=5", { token => $p->[0] }), 200);
    } elsif ($kind == 2) {
        my $n = $i % 64 == 2 && $i > 2 ? $i - 4 : $i;   # a replay of an earlier key
        ($r, $want) = ($s->request(POST => "$prefix/api/v1/prompts", { token => $p->[0],
            headers => { 'Idempotency-Key' => "rss-$tag-$n" },
            json => { title => "Mixed $n", content => "Load {{n}} $n", tags => ['rss'] } }), 201);
    } else {
        my $other = $p[($i + 7) % @p];   # another user's prompt (7 is not a multiple of the prompts per user)
        $other = $p[($i + 13) % @p] if $other->[0] eq $p->[0];
        ($r, $want) = ($s->request(GET => "$prefix/api/v1/prompts/$other->[1]", { token => $p->[0] }), 404);
    }
    die "WorkerBench: mixed request $i (kind $kind) answered $r->{status}, not $want: "
        . substr($r->{body}, 0, 200) . "\n" unless $r->{status} == $want;
    return $r;
}

# pool_start($name, \@wrapper, %env) -> pid of the one worker: a dedicated
# prompts pool of one process on RUN/$name.sock, the stack's program, user
# and environment (read from a running worker) plus %env, started as
# `@wrapper program` (e.g. valgrind), reached at /bench/$name/ over kept
# connections behind the same edge config as the prompts family.
sub pool_start {
    my ($self, $name, $wrap, %env) = @_;
    my $s = $self->{s};
    my $var = $s->var_dir;
    my $run = "$var/run";
    my ($child) = $s->worker_pids('prompts');
    die "WorkerBench: no prompts worker to copy\n" unless $child;
    my $exe = readlink "/proc/$child/exe" or die "WorkerBench: /proc/$child/exe: $!\n";
    open my $ef, '<', "/proc/$child/environ" or die "WorkerBench: /proc/$child/environ: $!\n";
    my @penv = grep { length } split /\0/, do { local $/; <$ef> };
    my @own;
    if ($> == 0) {
        my $uid = (stat "/proc/$child")[4];
        my $user = getpwuid($uid);
        my $group = getgrgid((getpwnam $user)[3]);
        @own = (-u => $user, -g => $group, -U => 'nobody', -G => 'nogroup');
    }
    my $spawn = $ENV{SPAWN_FCGI} || 'spawn-fcgi';
    my @wrap = @$wrap;
    if (@wrap && $wrap[0] !~ m{/}) {   # the worker's PATH may not have it
        my ($abs) = grep { -x "$_/$wrap[0]" } split /:/, $ENV{PATH} // '/usr/bin';
        $wrap[0] = "$abs/$wrap[0]" if $abs;
    }
    my $pid = fork // die "WorkerBench: fork: $!\n";
    if (!$pid) {
        POSIX::setsid();
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', "$var/log/$name.log";
        open STDERR, '>&', \*STDOUT;
        exec 'env', '-i', @penv, map({ "$_=$env{$_}" } sort keys %env),
            $spawn, '-n', '-s', "$run/$name.sock", '-M', '0660', @own, '--', @wrap, $exe;
        exit 127;
    }
    push @{ $self->{pools} }, $pid;
    for (1 .. 600) { last if -S "$run/$name.sock"; sleep 0.05 }
    die "WorkerBench: the $name pool: no socket (see $var/log/$name.log)\n" unless -S "$run/$name.sock";
    mkdir "$var/nginx/extra";
    chmod 0755, "$var/nginx/extra";
    _spew("$var/nginx/http.d/bench-$name.conf",
        "# WorkerBench: the $name pool.\nupstream bench_$name {\n    server unix:$run/$name.sock;\n    keepalive 16;\n}\n");
    _spew("$var/nginx/extra/bench-$name.conf", <<EOF);
# WorkerBench: GET /api/v1/prompts/{id} on the $name pool.
location /bench/$name/ {
    limit_req zone=api burst=100000 nodelay;
    limit_req zone=credential burst=100000 nodelay;
    rewrite ^/bench/$name(/.*)\$ \$1 break;
    include $var/nginx/fastcgi.conf;
    fastcgi_keep_conn on;
    fastcgi_pass bench_$name;
}
EOF
    open my $np, '<', "$run/nginx.pid" or die "WorkerBench: nginx.pid: $!\n";
    my ($npid) = <$np> =~ /(\d+)/;
    kill 'HUP', $npid or die "WorkerBench: nginx reload failed\n";
    my $st = 0;
    for (1 .. 1200) {   # valgrind starts slowly
        $st = $s->request(GET => "/bench/$name/api/v1/prompts/00000000-0000-0000-0000-000000000000")->{status};
        last if $st == 401 || waitpid($pid, POSIX::WNOHANG()) != 0;
        sleep 0.1;
    }
    die "WorkerBench: /bench/$name/ answered $st (see $var/log/$name.log)\n" unless $st == 401;
    return $pid;   # spawn-fcgi -n execs the program: the worker itself
}

# rss($pid) -> (VmRSS kB, VmHWM kB) from /proc/PID/status.
sub rss {
    my ($pid) = @_;
    open my $f, '<', "/proc/$pid/status" or return;
    my %v = map { /^(VmRSS|VmHWM):\s+(\d+)/ ? ($1 => $2) : () } <$f>;
    return ($v{VmRSS}, $v{VmHWM});
}

sub median { my @v = sort { $a <=> $b } @_; @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2 }

sub _spew {
    my ($path, $text) = @_;
    open my $f, '>', $path or die "WorkerBench: $path: $!\n";
    print $f $text;
    close $f or die "WorkerBench: $path: $!\n";
    chmod 0644, $path;
}

sub stop {
    my ($self) = @_;
    for my $pid (@{ $self->{pools} }) {
        kill 'TERM', $pid;
        for (1 .. 100) { last if waitpid($pid, POSIX::WNOHANG()) != 0; sleep 0.1 }
        kill 'KILL', -$pid;
        waitpid($pid, 0);
    }
    $self->{pools} = [];
    $self->{s}->stop if $self->{s};
}

sub DESTROY { local ($?, $@); $_[0]->stop }

1;
