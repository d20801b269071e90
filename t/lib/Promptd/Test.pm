# Promptd::Test: a throwaway promptd stack (PostgreSQL, workers, nginx) on free loopback ports, for t/*.t.
package Promptd::Test;

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(remove_tree);
use File::Temp qw(tempdir tempfile);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use Fcntl qw(:flock);
use POSIX qw(WNOHANG);
use Scalar::Util qw(blessed weaken);
use Time::HiRes qw(sleep time);
use Exporter qw(import);
use MIME::Base64 qw(decode_base64url);

# Exported on request (use Promptd::Test qw(db1 api ...)): the wrappers the
# suites used to write themselves.  Called as plain functions they act on
# the suite's stack: the first Promptd::Test->new of the process.
#   db1($sql)                         first column of the first row
#   as_role($role, $user_id, $sql)    raw SQL under a request role (rows)
#   req($method, $path, %opt)         request($method, $path, \%opt)
#   api($token, $method, $path, %opt) the same with a bearer token
#   claims($jwt)                      the decoded payload of a JWT
our @EXPORT_OK = qw(db1 as_role req api claims sse_events problem_ok);
our %EXPORT_TAGS = (all => \@EXPORT_OK);

# Usage:
#   my $s = Promptd::Test->new(PROMPTD_WORKERS => 1);   # env overrides
#   my $s = Promptd::Test->new(PROMPTD_PGBOUNCER => 1,  # PgBouncer, transaction pooling,
#       PROMPTD_PGBOUNCER_POOL_SIZE => 2,                # between workers and PostgreSQL
#       PROMPTD_DB_STATEMENTS => 'unnamed');             # (promptd-stack's header)
#   my $r = $s->request(GET => '/healthz');
#   my $r = $s->request(POST => '/api/v1/prompts', { json => {...}, token => $jwt });
#   $r = { status, headers => {lower-cased name => value (arrayref when repeated)},
#          body, json (decoded for application/json and application/problem+json) }
#
# Options beside the env overrides (Promptd::Cluster builds its hosts with them):
#   listen => '127.0.0.2'   nginx on that loopback address (PROMPTD_LISTEN_ADDR)
#   pg_only => 1            a database host: only PostgreSQL (promptd-stack
#                           pg-start) with the migrations applied; its
#                           VAR/secrets holds the master copy of every secret
#   database => $db         an app node on $db's PostgreSQL (PROMPTD_DATABASE_URL):
#                           its VAR/secrets starts as a copy of $db's, so every
#                           node verifies the same tokens, keys and cookies;
#                           psql, db1 and promptctl act on $db
#   standby_of => $db       a streaming replica of $db's PostgreSQL (promptd-stack
#                           pg-standby), read-only: psql and db1 read it
#
# Environment read (make check passes them; fallbacks relative to this file):
#   PROMPTD_BUILD_DIR PROMPTD_SRC_DIR PG_BINDIR NGINX SPAWN_FCGI MULTIWATCH
#   PROMPTD_KEEP=1  keep the stack's VAR directory (its path is printed)

# A lower-case UUID, whole string (ids in answers).
our $UUID = qr/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

my $TOP = abs_path(dirname(abs_path(__FILE__)) . '/../../..');
my %LIVE;    # every stack not yet stopped, stopped at END even when a test dies
my $FIRST;   # the suite's stack for the exported functions (weak)
my $JSON = JSON::PP->new->utf8->canonical;

# The pristine initdb'd cluster copied for each stack (under var/, so never
# distributed), created by promptd-stack on first use.
sub _template_dir { "$_[0]/var/pg-template" }

sub new {
    my ($class, %over) = @_;
    # Quotas (sql/0025) are enforced only for suites that ask (quotas => 1):
    # the others were written before plans limited anything and create
    # more keys, prompts or requests than the free plan allows.
    my $quotas = delete $over{quotas};
    my $listen = delete $over{listen} // '127.0.0.1';
    my $pg_only = delete $over{pg_only};
    my $db = delete $over{database};
    my $standby = delete $over{standby_of};
    $pg_only ||= $standby;
    my $build = $ENV{PROMPTD_BUILD_DIR} || $TOP;
    my $src   = $ENV{PROMPTD_SRC_DIR}   || $TOP;
    my $pgbin = $ENV{PG_BINDIR} || _default_pg_bindir();

    my $self = bless {
        build => $build, src => $src, pg_bindir => $pgbin,
        stack => "$src/src/cmd/promptd-stack",
        promptctl => "$build/src/cmd/promptctl",
        owner => $$, listen => $listen, pg_only => $pg_only, database => $db,
    }, $class;
    weaken($self->{database}) if $db;    # the cluster holding this node holds $db

    my $err;
    for my $attempt (1 .. 3) {
        $self->{var} = tempdir('promptd-test-XXXXXX', TMPDIR => 1, CLEANUP => 0);
        chmod 0755, $self->{var};    # postgres, nginx and the workers traverse it
        my ($http, $https, $pg) = _free_ports(3, $listen);
        my %env = (
            PROMPTD_BUILD_DIR   => $build,
            PROMPTD_SRC_DIR     => $src,
            PG_BINDIR           => $pgbin,
            PROMPTD_VAR_DIR     => $self->{var},
            PROMPTD_HTTP_PORT   => $http,
            PROMPTD_HTTPS_PORT  => $https,
            PROMPTD_LISTEN_ADDR => $listen,
            PROMPTD_PG_PORT     => $pg,
            PROMPTD_PG_FAST     => 1,
            PROMPTD_PG_TEMPLATE => _template_dir($build),
            PROMPTD_NGINX_WORKERS => 1,
            PROMPTD_WORKERS       => 2,
            PROMPTD_CORS_ORIGINS  => 'https://app.example.com,http://localhost:3000',
            # Tests fire bursts from one address: only rate-limit tests
            # (which override these) should ever see a 429.
            PROMPTD_RATE_API  => '10000r/s', PROMPTD_BURST_API  => 10000,
            PROMPTD_RATE_AUTH => '10000r/s', PROMPTD_BURST_AUTH => 10000,
            PROMPTD_RATE_CREDENTIAL => '10000r/s', PROMPTD_BURST_CREDENTIAL => 10000,
            ($db ? $db->_node_env : ()),
            %over,
        );
        $self->{env} = \%env;
        $self->{http_port}  = $env{PROMPTD_HTTP_PORT};
        $self->{https_port} = $env{PROMPTD_HTTPS_PORT};
        $self->{pg_port}    = $env{PROMPTD_PG_PORT};

        $db->_seed_secrets($self->{var}) if $db;
        $standby->_seed_secrets($self->{var}, 'pg_superuser_password') if $standby;
        my @cmd = $standby ? ('pg-standby', "$standby->{var}/run", $standby->{pg_port})
                : $pg_only ? ('pg-start') : ('start');
        my ($rc, $out) = $self->_run([$self->{stack}, @cmd]);
        ($rc, $out) = $self->_run([$self->{promptctl}, 'migrate'],
            env => { PROMPTD_SQL_DIR => "$src/sql" }) if $pg_only && !$standby && $rc == 0;
        if ($rc == 0) {
            $LIVE{"$self"} = $self;
            weaken($LIVE{"$self"});
            if (!$FIRST) {
                $FIRST = $self;
                weaken($FIRST);
            }
            $self->{http} = HTTP::Tiny->new(timeout => 30, keep_alive => 1,
                agent => 'promptd-test/1', verify_SSL => 0);
            $self->psql('update promptd.quota_settings set enforce = false') unless $quotas || $db || $standby;
            return $self;
        }
        $err = "promptd-stack start failed (exit $rc):\n$out\n" . $self->_log_tails;
        # A port taken by someone else between probe and bind.
        my $busy = join("\n", map { $self->log_tail($_, 50) } qw(nginx-error nginx-test postgresql))
            =~ /Address already in use|could not bind/;
        $self->_run([$self->{stack}, 'stop']);
        $self->{stopped} = 1;
        if ($busy && $attempt < 3) {
            remove_tree($self->{var});
            delete $self->{stopped};
            next;
        }
        last;
    }
    $self->{keep} = 1;
    die "$err\n(stack directory kept: $self->{var})\n";
}

# ------------------------------------------------------------------ accessors

sub var_dir    { $_[0]{var} }
sub http_port  { $_[0]{http_port} }
sub https_port { $_[0]{https_port} }
sub pg_port    { $_[0]{pg_port} }
sub env        { $_[0]{env} }    # the stack's PROMPTD_* settings (hashref)

# url($path, $tls): absolute URL on the HTTP or HTTPS listener.
sub url {
    my ($self, $path, $tls) = @_;
    return $tls ? "https://$self->{listen}:$self->{https_port}$path"
                : "http://$self->{listen}:$self->{http_port}$path";
}

# The secrets a database host hands its nodes (README "Deploying": every
# host gets the same ones), made by its promptctl migrate.
my @SHARED_SECRETS = qw(jwt_secret api_key_pepper secrets_keys secrets_key_k1
                        share_cookie_key storage_signing_key app_db_password);

# _node_env: the settings of a node on this database host.
sub _node_env {
    my ($self) = @_;
    return (PROMPTD_DATABASE_URL => $self->database_url,
            PROMPTD_PGBOUNCER_SERVER => "host=$self->{var}/run port=$self->{pg_port}");
}

# database_url(user => 'postgres'): the conninfo of this stack's PostgreSQL
# (its socket directory), with the user's password.
sub database_url {
    my ($self, %opt) = @_;
    my $user = $opt{user} // 'postgres';
    my $pw = _slurp("$self->{var}/secrets/" . ($user eq 'postgres' ? 'pg_superuser_password' : 'app_db_password'));
    chomp $pw;
    return "host=$self->{var}/run port=$self->{pg_port} dbname=promptd user=$user password=$pw";
}

# _seed_secrets($var, @names): copy the shared secrets (or @names) into a
# new host's VAR/secrets.
sub _seed_secrets {
    my ($self, $var, @names) = @_;
    mkdir "$var/secrets", 0700;
    for my $name (@names ? @names : @SHARED_SECRETS) {
        my $v = _slurp("$self->{var}/secrets/$name") // next;
        _spew("$var/secrets/$name", $v);
        chmod 0600, "$var/secrets/$name";
    }
}

# ------------------------------------------------------------------ HTTP

# request($method, $path, {headers, json | body, token, tls}) -> response hash.
sub request {
    my ($self, $method, $path, $opt) = @_;
    $opt ||= {};
    my %h = map { lc($_) => $opt->{headers}{$_} } keys %{ $opt->{headers} || {} };
    my $body;
    if (exists $opt->{json}) {
        $body = $JSON->encode($opt->{json});
        $h{'content-type'} //= 'application/json';
    } elsif (defined $opt->{body}) {
        $body = $opt->{body};
    }
    $h{authorization} = "Bearer $opt->{token}" if defined $opt->{token};

    my $url = $self->url($path, $opt->{tls});
    my $r;
    if ($opt->{tls} && !HTTP::Tiny->can_ssl) {
        $r = $self->_curl($method, $url, \%h, $body);
    } else {
        my %args = (headers => \%h);
        $args{content} = $body if defined $body;
        my $res = $self->{http}->request($method, $url, \%args);
        $r = { status => $res->{status}, headers => $res->{headers}, body => $res->{content} // '' };
        $r->{error} = $r->{body} if $r->{status} == 599;
    }
    my $ct = $r->{headers}{'content-type'} // '';
    $ct = $ct->[0] if ref $ct;
    if ($ct =~ m{^application/(?:problem\+)?json\b}i && length $r->{body}) {
        $r->{json} = eval { $JSON->decode($r->{body}) };
    }
    return $r;
}

# req($method, $path, %opt) and api($token, $method, $path, %opt): request()
# on the suite's stack (exported functions, not methods).
sub req {
    my ($method, $path, %opt) = @_;
    return _self([])->request($method, $path, \%opt);
}

sub api {
    my ($token, $method, $path, %opt) = @_;
    return _self([])->request($method, $path, { token => $token, %opt });
}

# problem_ok($response, $status, $name, $detail_re): the status, a
# problem+json body, and (when given) its text matching $detail_re.
sub problem_ok {
    my ($r, $status, $name, $detail) = @_;
    Test::More::is($r->{status}, $status, "$name -> $status") or Test::More::diag($r->{body});
    Test::More::like($r->{headers}{'content-type'} // '', qr{^application/problem\+json}, "$name: problem+json");
    Test::More::like($r->{body} // '', $detail, "$name: says why") if $detail;
}

# sse_events($raw) -> [[name, decoded data], ...]: a text/event-stream body.
sub sse_events {
    my ($raw) = @_;
    my @ev;
    for my $block (split /\n\n/, $raw) {
        my ($name, $data);
        for (split /\n/, $block) {
            $name = $1 if /^event: (.*)$/;
            $data .= $1 if /^data: (.*)$/;
        }
        push @ev, [$name, eval { $JSON->decode($data) }] if defined $name;
    }
    return \@ev;
}

# claims($jwt) -> the JWT's payload, decoded (no verification).
sub claims { JSON::PP->new->decode(decode_base64url((split /\./, $_[0])[1])) }

# TLS without IO::Socket::SSL: curl -k, headers of the last response only.
sub _curl {
    my ($self, $method, $url, $h, $body) = @_;
    my (undef, $hdr) = tempfile(DIR => $self->{var}, UNLINK => 1);
    my (undef, $out) = tempfile(DIR => $self->{var}, UNLINK => 1);
    my @cmd = ('curl', '-sk', '-m', '30', '-X', $method, '-D', $hdr, '-o', $out,
               '-H', 'Expect:', '-A', 'promptd-test/1');
    push @cmd, '-H', "$_: $h->{$_}" for sort keys %$h;
    if (defined $body) {
        my (undef, $in) = tempfile(DIR => $self->{var}, UNLINK => 1);
        _spew($in, $body);
        push @cmd, '--data-binary', "\@$in";
    }
    push @cmd, $url;
    my ($rc, $err) = _capture(\@cmd, {});
    return { status => 599, headers => {}, body => $err, error => $err } if $rc != 0;
    my @blocks = split /\r?\n\r?\n/, _slurp($hdr);
    my ($status_line, @lines) = split /\r?\n/, ($blocks[-1] // '');
    my ($status) = ($status_line // '') =~ m{^HTTP/\S+\s+(\d{3})};
    my %headers;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*?)\s*$/ or next;
        $k = lc $k;
        if (exists $headers{$k}) {
            $headers{$k} = [ ref $headers{$k} ? @{ $headers{$k} } : $headers{$k}, $v ];
        } else {
            $headers{$k} = $v;
        }
    }
    $headers{'x-protocol'} = ($status_line =~ m{^(HTTP/\S+)})[0];
    return { status => $status // 599, headers => \%headers, body => _slurp($out) };
}

# ------------------------------------------------------------------ helpers

# user_create($email) -> the new user's id (promptctl user create).
sub user_create {
    my ($self, $email) = @_;
    my $out = $self->promptctl('user', 'create', $email);
    my ($id) = $out =~ /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/i;
    die "promptctl user create $email: no id in output: $out\n" unless $id;
    return $id;
}

# users(@names) -> ($id, $token) for each name, in order: a user
# "<name>@example.com" and a token for it.
sub users {
    my ($self, @names) = @_;
    return map { my $id = $self->user_create("$_\@example.com"); ($id, $self->token($id)) } @names;
}

# db1($sql) -> the first column of the first row (undef when none).
sub db1 {
    my $self = _self(\@_);
    my ($sql) = @_;
    my $rows = $self->psql($sql);
    return @$rows ? $rows->[0][0] : undef;
}

# db1_reader() -> a sub ($sql) -> what db1($sql) returns, asked over one
# psql process and connection kept for the stack: for a read-only query
# asked hundreds of times (a database fingerprint after every request),
# where starting psql and authenticating each time cost more than the
# request under test.  Only for single read-only statements: nothing is
# reset between calls.  Dies with psql's message on an error.
sub db1_reader {
    my ($self) = @_;
    my $r = { pid => 0 };
    push @{ $self->{readers} }, $r;
    return sub {
        my ($sql) = @_;
        $self->_reader_open($r) unless $r->{pid} && $r->{owner} == $$;
        $sql =~ s/[\s;]+\z//;
        my $fh = $r->{to};
        local $SIG{PIPE} = 'IGNORE';    # a psql that died: its EOF says so below
        print $fh "$sql;\n\\echo __promptd_reader_end__\n";
        my ($out, $end) = ('', 0);
        my $from = $r->{from};
        while (defined(my $line = <$from>)) {
            if ($line eq "__promptd_reader_end__\n") { $end = 1; last }
            $out .= $line;
        }
        unless ($end) {
            my $err = _slurp($r->{errfile}) // '';
            $self->_reader_close($r);
            die "psql failed: $err\nSQL: $sql\n";
        }
        my @rows = map { [ split /\t/, $_, -1 ] } grep { length } split /\n/, $out;
        return @rows ? $rows[0][0] : undef;
    };
}

sub _reader_open {
    my ($self, $r) = @_;
    $self = $self->{database} if $self->{database};
    my $pw = _slurp("$self->{var}/secrets/pg_superuser_password");
    chomp $pw;
    $r->{errfile} = "$self->{var}/log/psql-reader-$$.log";
    pipe(my $in_r, my $in_w) or die "pipe: $!";
    pipe(my $out_r, my $out_w) or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        delete @ENV{qw(PROMPTD_DATABASE_URL PROMPTD_APP_DATABASE_URL PROMPTD_DIRECT_DATABASE_URL
            PROMPTD_JWT_SECRET)};
        $ENV{PGPASSWORD} = $pw;
        open(STDIN, '<&', $in_r) or POSIX::_exit(127);
        open(STDOUT, '>&', $out_w) or POSIX::_exit(127);
        open(STDERR, '>', $r->{errfile}) or POSIX::_exit(127);
        close $_ for $in_w, $out_r;
        exec { "$self->{pg_bindir}/psql" } 'psql', '-X', '-q', '-A', '-t', '-F', "\t",
            '-v', 'ON_ERROR_STOP=1', '-h', "$self->{var}/run", '-p', $self->{pg_port},
            '-U', 'postgres', '-d', 'promptd' or POSIX::_exit(127);
    }
    close $_ for $in_r, $out_w;
    $in_w->autoflush(1);
    @$r{qw(pid owner to from)} = ($pid, $$, $in_w, $out_r);
}

sub _reader_close {
    my ($self, $r) = @_;
    return unless $r->{pid} && $r->{owner} == $$;
    close $r->{to};
    close $r->{from};
    waitpid($r->{pid}, 0);
    $r->{pid} = 0;
}

# as_role($role, $user_id, $sql) -> rows: raw SQL under a request role and
# its claims (no sub when $user_id is undef), as PostgREST runs it on
# Supabase.  Dies on error (e.g. "permission denied").
sub as_role {
    my $self = _self(\@_);
    my ($role, $sub, $sql) = @_;
    my $claims = $sub ? qq({"sub":"$sub","role":"$role"}) : qq({"role":"$role"});
    return $self->psql("begin; do \$\$ begin perform set_config('role', '$role', true); "
                     . "perform set_config('request.jwt.claims', '$claims', true); end \$\$; $sql; commit;");
}

# token($user_id_or_email, ttl => SECONDS) -> JWT (promptctl token).
sub token {
    my ($self, $user, %opt) = @_;
    my @args = ('token', $user);
    push @args, '--ttl', $opt{ttl} if defined $opt{ttl};
    my $out = $self->promptctl(@args);
    my ($jwt) = $out =~ /([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)/;
    die "promptctl token $user: no token in output: $out\n" unless $jwt;
    return $jwt;
}

# promptctl(@args) -> stdout; dies with stderr on a non-zero exit.
sub promptctl {
    my ($self, @args) = @_;
    $self = $self->{database} if $self->{database};
    my ($rc, $out, $err) = $self->_run([$self->{promptctl}, @args], separate => 1);
    die "promptctl @args failed (exit $rc): $err$out\n" if $rc != 0;
    return $out;
}

# psql($sql, db => 'promptd') -> [[col, ...], ...] as the superuser over the
# socket.  Values are psql's unaligned text; a NULL is ''.  Dies on error.
sub psql {
    my ($self, $sql, %opt) = @_;
    $self = $self->{database} if $self->{database};
    my $pw = _slurp("$self->{var}/secrets/pg_superuser_password");
    chomp $pw;
    my @cmd = ("$self->{pg_bindir}/psql", '-X', '-q', '-A', '-t', '-F', "\t",
               '-v', 'ON_ERROR_STOP=1', '-h', "$self->{var}/run", '-p', $self->{pg_port},
               '-U', 'postgres', '-d', $opt{db} // 'promptd', '-c', $sql);
    my ($rc, $out, $err) = $self->_run(\@cmd, separate => 1, env => { PGPASSWORD => $pw });
    die "psql failed (exit $rc): $err\nSQL: $sql\n" if $rc != 0;
    return [ map { [ split /\t/, $_, -1 ] } grep { length } split /\n/, $out ];
}

# stack(@args): run promptd-stack with this stack's environment; dies on failure.
sub stack {
    my ($self, @args) = @_;
    my ($rc, $out) = $self->_run([$self->{stack}, @args]);
    die "promptd-stack @args failed (exit $rc): $out\n" if $rc != 0;
    return $out;
}

# worker_pids($family) -> pids of multiwatch's children (the FastCGI processes).
sub worker_pids {
    my ($self, $family) = @_;
    my $pid = _slurp("$self->{var}/run/$family.pid");
    $pid =~ s/\D//g;
    return () unless $pid;
    my @kids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        my $s = _slurp($stat) // next;
        my ($state, $ppid) = $s =~ /\)\s+(\S)\s+(\d+)/ or next;
        next if $state eq 'Z' || $ppid != $pid;
        push @kids, ($stat =~ m{/proc/(\d+)/})[0];
    }
    return sort { $a <=> $b } @kids;
}

# start_jobs_daemon(%env) -> pid, once it is up: one more promptd-jobs with the stack's
# environment plus %env (PROMPTD_JOBS_*), logging to VAR/log/jobs-PID.log.
# Stopped with the stack if the test does not stop it (stop_pid).
sub start_jobs_daemon {
    my ($self, %over) = @_;
    my $name = delete $over{_program} // 'promptd-jobs';
    my $log = delete $over{_log} // 'jobs';
    my %env = (%{ $self->{env} }, %over);
    my $prog = "$self->{build}/src/cmd/$name";
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        delete @ENV{qw(PROMPTD_DATABASE_URL PROMPTD_APP_DATABASE_URL PROMPTD_DIRECT_DATABASE_URL
            PROMPTD_JWT_SECRET)};
        @ENV{ keys %env } = values %env;
        open(STDIN, '<', '/dev/null');
        open(STDOUT, '>>', "$self->{var}/log/$log-$$.log");
        open(STDERR, '>&', \*STDOUT);
        exec { $prog } $prog or POSIX::_exit(127);
    }
    $self->{jobs_pids}{$pid} = 1;
    # Wait (30 s at most) until it is up, so that a SIGTERM sent next finds
    # its handler (and not a process still starting: killed by the signal),
    # or until it has exited (a start refused: stop_pid reads the status).
    my $ready = $name eq 'promptd-gateway' ? qr/listening on/ : qr/started as/;
    my $deadline = time + 30;
    while (time < $deadline && $self->log_tail("$log-$pid", 50) !~ $ready && !_exited($pid)) {
        sleep 0.02;
    }
    return $pid;
}

# npm_lock($build) -> a handle holding BUILD/t/.npm.lock exclusively until it
# is closed or goes out of scope: suites running side by side (make check
# runs several at once) install into one t/.npm, and look at it, one at a time.
sub npm_lock {
    my ($build) = @_;
    mkdir "$build/t";
    open(my $fh, '>>', "$build/t/.npm.lock") or die "$build/t/.npm.lock: $!";
    flock($fh, LOCK_EX) or die "flock $build/t/.npm.lock: $!";
    return $fh;
}

# A child that has exited but is not reaped yet (a zombie): Linux's /proc.
sub _exited {
    my ($pid) = @_;
    my $stat = _slurp("/proc/$pid/stat") // return 1;
    return $stat =~ /^\d+ \(.*\) [ZX] /s;
}

# start_gateway(%env) -> pid, once it listens: a promptd-gateway on the stack's gateway socket
# (for a stack started with PROMPTD_GATEWAY => 0), logging to
# VAR/log/gateway-<pid>.log; stop it with stop_pid.
sub start_gateway {
    my ($self, %over) = @_;
    return $self->start_jobs_daemon(PROMPTD_GATEWAY_SOCKET => $self->gateway_socket,
                                    %over, _program => 'promptd-gateway', _log => 'gateway');
}

# The gateway's unix socket.
sub gateway_socket { "$_[0]{var}/run/gateway/gateway.sock" }

# stop_pid($pid, $signal = 'TERM', timeout => 60) -> the exit status ($?) or
# undef when it did not exit in time (it is then killed).  Only for pids this
# harness started (start_jobs_daemon).
sub stop_pid {
    my ($self, $pid, $sig, %opt) = @_;
    $sig //= 'TERM';
    kill $sig, $pid;
    my $deadline = time + ($opt{timeout} // 60);
    while (time < $deadline) {
        if (waitpid($pid, WNOHANG) == $pid) {
            delete $self->{jobs_pids}{$pid};
            return $?;
        }
        sleep 0.05;
    }
    kill 'KILL', $pid;
    waitpid($pid, 0);
    delete $self->{jobs_pids}{$pid};
    return undef;
}

# stop_ok($pid, $name, sig => 'TERM', timeout => 60): a test that the
# process (a daemon from start_jobs_daemon or start_gateway) stops and exits
# 0; when not, the diagnostics say how it ended and show its log's tail.
sub stop_ok {
    my ($self, $pid, $name, %opt) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $st = $self->stop_pid($pid, $opt{sig}, timeout => $opt{timeout});
    my $ok = Test::More::is($st, 0, $name);
    unless ($ok) {
        my $how = !defined $st ? "still running after the timeout: killed"
                : $st & 127     ? "killed by signal " . ($st & 127)
                :                 "exit status " . ($st >> 8);
        my ($log) = glob("$self->{var}/log/*-$pid.log");
        Test::More::diag("pid $pid: $how\n" . ($log ? "$log:\n" . $self->log_tail($log =~ s{.*/}{}r, 30) : ''));
    }
    return $ok;
}

# open_tx_during(sub { $s->request(...) }) -> ($status, $most): runs the
# request in a child while watching the workers' database sessions; $most
# is the largest number seen at once "idle in transaction" for more than
# 300 ms (a transaction held open while the worker waits on something
# else, e.g. Stripe). Callers make that wait longer than 300 ms; the
# background jobs' transactions, idle between statements for a moment,
# stay under it and are not counted.
sub open_tx_during {
    my ($self, $req) = @_;
    pipe(my $rd, my $wr) or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        close $rd;
        my $r = $req->();
        print $wr $r->{status};
        close $wr;
        POSIX::_exit(0);
    }
    close $wr;
    my $most = 0;
    while (waitpid($pid, WNOHANG) == 0) {
        my $n = $self->db1("select count(*) from pg_stat_activity where usename = 'promptd_app' "
                           . "and state like 'idle in transaction%' "
                           . "and clock_timestamp() - state_change > interval '300 milliseconds'");
        $most = $n if $n > $most;
        sleep 0.02;
    }
    my $status = <$rd>;
    close $rd;
    return ($status, $most);
}

# wait_for(sub { ... }, timeout => 10): poll until the sub returns true.
sub wait_for {
    my ($self, $cond, %opt) = @_;
    my $deadline = time + ($opt{timeout} // 10);
    while (time < $deadline) {
        my $v = $cond->();
        return $v if $v;
        sleep 0.05;
    }
    return;
}

# hold_tx($sql, $secs = 3) -> pid: a psql child that runs $sql in a
# transaction, keeps what it locked for $secs (pg_sleep), then rolls back;
# returns once it is sleeping (dies when that takes over 10 s).  The
# caller waits for it: waitpid($pid, 0), $? 0 when the transaction ran.
sub hold_tx {
    my ($self, $sql, $secs) = @_;
    my $tag = "hold_tx $$ " . ++$self->{holds};
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        eval { $self->psql("begin; $sql; select pg_sleep(" . ($secs // 3) . ") /* $tag */; rollback") };
        POSIX::_exit($@ ? 1 : 0);
    }
    $self->wait_for(sub { $self->db1("select count(*) from pg_stat_activity where wait_event = 'PgSleep' "
                                   . "and query like '%/* $tag */%'") }, timeout => 10)
        or die "hold_tx: the transaction never held its locks: $sql\n";
    return $pid;
}

# at_second($lo, $hi): wait (bounded, two minutes) until the database
# clock's second of the minute is from $lo to $hi (whole seconds), so that
# what follows starts where the test needs it in the minute (a burst in one
# request-quota window, or past its end); dies when it never is.
sub at_second {
    my ($self, $lo, $hi) = @_;
    for (1 .. 240) {
        return 1 if $self->db1("select floor(extract(second from now()))::int between $lo and $hi") eq 't';
        sleep 0.5;
    }
    die "the database clock never reached second $lo-$hi of a minute\n";
}

# log_tail($name, $lines = 20): last lines of VAR/log/$name(.log).
sub log_tail {
    my ($self, $name, $n) = @_;
    $n ||= 20;
    my $f = "$self->{var}/log/$name";
    $f .= '.log' unless -e $f;
    my $text = _slurp($f) // return '';
    my @l = split /\n/, $text;
    splice @l, 0, @l - $n if @l > $n;
    return join('', map { "$_\n" } @l);
}

# The access log as decoded JSON objects, oldest first.
sub access_log {
    my ($self) = @_;
    my $text = _slurp("$self->{var}/log/nginx-access.log") // '';
    # nginx writes a line after the answer has gone out, and a reader can
    # see a write that crosses a page boundary half done: only whole lines
    $text =~ s/[^\n]*\z//;
    return [ map { $JSON->decode($_) } grep { length } split /\n/, $text ];
}

# stop: stop the stack (idempotent); the VAR dir is removed unless
# PROMPTD_KEEP=1 or the test is failing (then its path is printed).
sub stop {
    my ($self) = @_;
    return if $self->{stopped} || ($self->{owner} // 0) != $$;
    $self->{stopped} = 1;
    delete $LIVE{"$self"};
    $self->_reader_close($_) for @{ $self->{readers} || [] };
    $self->stop_pid($_, 'KILL', timeout => 5) for keys %{ $self->{jobs_pids} || {} };
    my ($rc, $out) = $self->_run([$self->{stack}, 'stop']);
    warn "promptd-stack stop failed (exit $rc): $out\n" if $rc != 0;
    my $failing = eval { require Test::More; !Test::More->builder->is_passing };
    if ($ENV{PROMPTD_KEEP} || $self->{keep} || $failing || $rc != 0) {
        print STDERR "# promptd stack directory kept: $self->{var}\n";
    } else {
        remove_tree($self->{var});
    }
}

sub DESTROY { local ($?, $@); $_[0]->stop }

END {
    local $?;
    # Strong copies first: stopping a cluster stops (and forgets) its nodes.
    my @live = grep { defined } values %LIVE;
    $_->stop for @live;
}

# Ctrl-C / kill during a test still stops the stack (END runs on exit).
for my $sig (qw(INT TERM HUP)) {
    $SIG{$sig} = sub { exit 130 } if !defined $SIG{$sig} || $SIG{$sig} eq 'DEFAULT';
}

# ------------------------------------------------------------------ internals

# _self(\@args): the stack a dual method/function was called on, shifted
# off @args; called as a function, the suite's (first) stack.
sub _self {
    my ($args) = @_;
    return shift @$args if blessed($args->[0]) && $args->[0]->isa(__PACKAGE__);
    return $FIRST // die "Promptd::Test: no stack started yet\n";
}

sub _log_tails {
    my ($self) = @_;
    my $s = '';
    opendir(my $d, "$self->{var}/log") or return '';
    for my $f (sort grep { /\.log$/ } readdir $d) {
        my $t = $self->log_tail($f, 15);
        $s .= "--- $f (last lines)\n$t" if length $t;
    }
    return $s;
}

# _run(\@cmd, separate => 0|1, env => {...}) -> ($rc, $stdout[, $stderr]).
# Runs with the stack's environment.  Without separate, stderr is merged.
sub _run {
    my ($self, $cmd, %opt) = @_;
    my %env = (%{ $self->{env} || {} }, %{ $opt{env} || {} });
    return _capture($cmd, \%env, $opt{separate});
}

sub _capture {
    my ($cmd, $env, $separate) = @_;
    my ($efh, $efile) = tempfile(UNLINK => 1);
    my $pid = open(my $fh, '-|');
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        # Inherited settings that would point the stack elsewhere.
        delete @ENV{qw(PROMPTD_DATABASE_URL PROMPTD_APP_DATABASE_URL PROMPTD_DIRECT_DATABASE_URL
            PROMPTD_JWT_SECRET)};
        @ENV{ keys %$env } = values %$env;
        open(STDIN, '<', '/dev/null');
        if ($separate) { open(STDERR, '>', $efile) } else { open(STDERR, '>&', \*STDOUT) }
        exec { $cmd->[0] } @$cmd or do { print STDERR "exec $cmd->[0]: $!\n"; POSIX::_exit(127) };
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    my $rc = $? & 127 ? 128 + ($? & 127) : $? >> 8;
    my $err = _slurp($efile) // '';
    unlink $efile;    # now: a forked caller that leaves by POSIX::_exit skips UNLINK
    return ($rc, $out, $err);
}

# _free_ports($n, $addr) -> $n distinct ports free right now on $addr (127.0.0.1).  All $n
# sockets stay open until every port is chosen, so no two can coincide.
sub _free_ports {
    my ($n, $addr) = @_;
    my @s = map {
        IO::Socket::INET->new(LocalAddr => $addr // '127.0.0.1', LocalPort => 0,
            Proto => 'tcp', Listen => 1, ReuseAddr => 1) or die "no free port: $!"
    } 1 .. $n;
    return map { $_->sockport } @s;
}

sub _default_pg_bindir {
    return '/usr/lib/postgresql/15/bin' if -x '/usr/lib/postgresql/15/bin/initdb';
    my @d = sort { ($a =~ /(\d+)/)[0] <=> ($b =~ /(\d+)/)[0] } glob '/usr/lib/postgresql/*/bin';
    return $d[-1] // '/usr/bin';
}

sub _slurp {
    my ($f) = @_;
    open(my $fh, '<:raw', $f) or return undef;
    local $/;
    my $s = <$fh>;
    return $s // '';
}

sub _spew {
    my ($f, $data) = @_;
    open(my $fh, '>:raw', $f) or die "$f: $!";
    print $fh $data;
    close $fh;
}

1;
