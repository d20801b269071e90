# Promptd::WebhookReceiver: a loopback HTTP/1.1 server that records the webhook deliveries it receives and answers them as scripted, for the webhook tests.
package Promptd::WebhookReceiver;

# Usage:
#   my $rx = Promptd::WebhookReceiver->new;                  # 127.0.0.1, a free port
#   my $rx = Promptd::WebhookReceiver->new(host => '::1');   # IPv6 loopback (dies if unavailable)
#   $rx->url('/hook')                                        # http://127.0.0.1:PORT/hook ('/hook' by default)
#   $rx->script('/hook', [{ status => 503, retry_after => 7 }, { drop => 1 },
#                         { delay_ms => 2000, status => 200, body => 'late' }]);
#       # the next requests to /hook get these answers, one row per request, in
#       # arrival order; then the path's default; then 200 "ok"
#   $rx->default('/gone', { status => 410 });                # every later request to /gone
#   $rx->default('/gone', undef);                            # back to 200 "ok"
#   my @r = $rx->wait_requests(3, 30, '/hook');  # at least 3 (bounded wait), or what there is
#   my @r = $rx->requests('/hook');               # or ->requests for every path
#   # each, in arrival order: {path (no query), query (after '?', or ''), method,
#   #   headers => {lc name => value (repeats joined by ', ')}, body (raw bytes),
#   #   at (Time::HiRes time the request was fully read), status (answered status,
#   #   0 for a drop, undef while pending), done_at (time the answer was written or
#   #   the connection dropped, undef while pending; both are set just before, so
#   #   a client that has its answer finds them)}
#   $rx->clear;                                   # forget the requests (scripts and defaults stay)
#   $rx->release('slow');                         # answer the requests held by {hold => 'slow'}, and later ones
#   $rx->stop;                                    # also on DESTROY, in the process that made it
#
# A row: {status => 200, body => 'ok', retry_after => SECONDS (a Retry-After
# header), headers => {Name => value}, delay_ms => MS (sleep before answering,
# or before dropping), drop => 1 (read the request, then close without any
# answer), hold => NAME (answer only once release(NAME) was called, at most
# 60 s after arrival: a slow endpoint whose slowness no load can outlast)}.
# Missing keys mean 200, "ok", no delay.
#
# Each connection is served by its own forked child, so deliveries overlap
# freely; a request is on record (with done_at undef) as soon as it is read,
# before any delay, and gets status and done_at just before it is answered.
# The body is exactly Content-Length bytes (or the decoded chunks); "Expect:
# 100-continue" is answered at once.  One request per connection: every answer
# carries Connection: close.  State lives in files under a lock, so the forked
# children share it.
use strict;
use warnings;
use Fcntl qw(:flock);
use File::Temp qw(tempdir);
use IO::Socket::IP;
use JSON::PP;
use POSIX ();
use Time::HiRes ();

my $JSON = JSON::PP->new->canonical->utf8;
my %REASON = (200 => 'OK', 201 => 'Created', 202 => 'Accepted', 204 => 'No Content',
    301 => 'Moved Permanently', 302 => 'Found', 307 => 'Temporary Redirect', 308 => 'Permanent Redirect',
    400 => 'Bad Request', 401 => 'Unauthorized', 403 => 'Forbidden', 404 => 'Not Found',
    408 => 'Request Timeout', 409 => 'Conflict', 410 => 'Gone', 413 => 'Payload Too Large',
    429 => 'Too Many Requests', 500 => 'Internal Server Error', 502 => 'Bad Gateway',
    503 => 'Service Unavailable', 504 => 'Gateway Timeout');

sub new {
    my ($class, %opt) = @_;
    my $host = $opt{host} // '127.0.0.1';
    my $dir = tempdir('promptd-webhookrx-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $self = bless { dir => $dir, owner => $$, host => $host }, $class;
    $self->_update(sub { %{ $_[0] } = (requests => [], scripts => {}, defaults => {}) });
    my $listen = IO::Socket::IP->new(LocalHost => $host, LocalPort => 0, Listen => 128,
        ReuseAddr => 1, Proto => 'tcp') or die "WebhookReceiver listen on $host: $@";
    $self->{port} = $listen->sockport;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        setpgrp(0, 0);
        $SIG{CHLD} = 'IGNORE';
        $SIG{TERM} = sub { kill 'KILL', -$$; POSIX::_exit(0) };
        while (1) {
            my $c = $listen->accept or next;
            my $child = fork;
            if (defined $child && $child == 0) {
                close $listen;
                eval { $self->_serve($c) };
                if ($@ && open(my $e, '>>', "$self->{dir}/errors.log")) { print $e $@; close $e }
                POSIX::_exit(0);
            }
            close $c;
        }
    }
    close $listen;
    $self->{pid} = $pid;
    return $self;
}

sub port { $_[0]{port} }

# url($path = '/hook'): the address to register as the webhook endpoint.
sub url {
    my ($self, $path) = @_;
    my $h = $self->{host} =~ /:/ ? "[$self->{host}]" : $self->{host};
    return "http://$h:$self->{port}" . ($path // '/hook');
}

# What the children died of (a parse error, a write to a closed socket), or ''.
sub errors { open(my $fh, '<', "$_[0]{dir}/errors.log") or return ''; local $/; return <$fh> }

# script($path, [rows]): replaces that path's script (an empty list clears it).
sub script {
    my ($self, $path, $rows) = @_;
    $self->_update(sub { $_[0]{scripts}{$path} = [ @{ $rows // [] } ] });
}

# default($path, $row): the answer to that path once its script is used up;
# undef restores 200 "ok".
sub default {
    my ($self, $path, $row) = @_;
    $self->_update(sub { defined $row ? ($_[0]{defaults}{$path} = $row) : delete $_[0]{defaults}{$path} });
}

sub release {
    my ($self, $name) = @_;
    die "WebhookReceiver: a hold's name is a word\n" unless $name =~ /^\w+$/;
    open(my $fh, '>', "$self->{dir}/release-$name") or die "WebhookReceiver: release: $!";
    close $fh;
}

sub clear {
    my ($self) = @_;
    my @gone = @{ $self->_update(sub { my $r = $_[0]{requests}; $_[0]{requests} = []; $r }) // [] };
    unlink map { "$self->{dir}/$_->{body_file}" } @gone;
}

# requests($path): the recorded requests to $path (every path without it), in
# arrival order.
sub requests {
    my ($self, $path) = @_;
    my @r = @{ $self->_update(sub { $_[0]{requests} }) // [] };
    @r = grep { $_->{path} eq $path } @r if defined $path;
    for my $r (@r) {
        my $file = "$self->{dir}/" . delete $r->{body_file};
        open(my $fh, '<:raw', $file) or die "WebhookReceiver: $file: $!";
        local $/;
        $r->{body} = <$fh> // '';
    }
    return @r;
}

# wait_requests($n, $seconds = 30, $path): the requests (as requests($path))
# once there are $n, polling every 50 ms; when the time is up, what there is.
sub wait_requests {
    my ($self, $n, $secs, $path) = @_;
    my $deadline = Time::HiRes::time() + ($secs // 30);
    my @r;
    while (1) {
        @r = $self->requests($path);
        return @r if @r >= $n || Time::HiRes::time() > $deadline;
        Time::HiRes::sleep(0.05);
    }
}

sub stop {
    my ($self) = @_;
    return unless $self->{pid} && $$ == $self->{owner};
    kill 'TERM', $self->{pid};
    waitpid($self->{pid}, 0);
    delete $self->{pid};
}

sub DESTROY { local ($?, $@); $_[0]->stop }

# ------------------------------------------------------------------ internals

# Run $fn on the state (a hashref) under the lock and store it; returns what
# $fn returned.  Bodies are kept in files of their own (body_file in the state):
# JSON::PP takes seconds to decode a large non-ASCII string, on every update.
sub _update {
    my ($self, $fn) = @_;
    open(my $lock, '>>', "$self->{dir}/lock") or die "lock: $!";
    flock($lock, LOCK_EX) or die "flock: $!";
    my $st = {};
    if (open(my $fh, '<', "$self->{dir}/state.json")) {
        local $/;
        my $txt = <$fh>;
        $st = $JSON->decode($txt) if length $txt;
    }
    my $ret = $fn->($st);
    open(my $out, '>', "$self->{dir}/state.json.tmp") or die "state: $!";
    print $out $JSON->encode($st);
    close $out;
    rename("$self->{dir}/state.json.tmp", "$self->{dir}/state.json") or die "rename: $!";
    close $lock;
    return $ret;
}

# One request off $c: (method, target, {lc header => value}, body), or () when
# the client hung up first.  Dies after 30 s without the whole request.
sub _read_request {
    my ($c) = @_;
    local $SIG{ALRM} = sub { die "WebhookReceiver: timed out reading a request\n" };
    alarm 30;
    my $line = <$c>;
    if (!defined $line) { alarm 0; return }
    $line =~ s/\r?\n\z//;
    my ($method, $target) = $line =~ m{^(\S+)\s+(\S+)\s+HTTP/\d\.\d$}
        or die "WebhookReceiver: bad request line: $line\n";
    my %h;
    while (defined(my $l = <$c>)) {
        $l =~ s/\r?\n\z//;
        last if $l eq '';
        my ($k, $v) = $l =~ /^([^:]+):[ \t]*(.*?)[ \t]*$/ or die "WebhookReceiver: bad header: $l\n";
        $k = lc $k;
        $h{$k} = exists $h{$k} ? "$h{$k}, $v" : $v;
    }
    if (lc($h{expect} // '') eq '100-continue') { print $c "HTTP/1.1 100 Continue\r\n\r\n"; $c->flush }
    my $body = '';
    if (lc($h{'transfer-encoding'} // '') =~ /chunked/) {
        while (1) {
            my $size = <$c> // die "WebhookReceiver: eof in chunked body\n";
            $size = hex(($size =~ /^([0-9a-fA-F]+)/)[0] // die "WebhookReceiver: bad chunk size\n");
            if ($size == 0) {    # trailers, up to the blank line
                while (defined(my $t = <$c>)) { last if $t =~ /^\r?\n\z/ }
                last;
            }
            my $got = read($c, my $chunk, $size) // die "read: $!";
            die "WebhookReceiver: short chunk\n" if $got != $size;
            $body .= $chunk;
            <$c>;    # the CRLF after the chunk
        }
    } elsif (my $len = $h{'content-length'}) {
        die "WebhookReceiver: bad Content-Length: $len\n" unless $len =~ /^\d+$/;
        my $got = read($c, $body, $len) // die "read: $!";
        die "WebhookReceiver: short body ($got of $len bytes)\n" if $got != $len;
    }
    alarm 0;
    return ($method, $target, \%h, $body);
}

sub _serve {
    my ($self, $c) = @_;
    binmode $c;
    $c->autoflush(1);
    my ($method, $target, $h, $body) = _read_request($c) or return;
    my $at = Time::HiRes::time();
    my ($path, $query) = $target =~ /^([^?]*)(?:\?(.*))?$/s;
    my $body_file = sprintf 'body-%d-%.6f', $$, $at;    # unique: one request per child
    open(my $bf, '>:raw', "$self->{dir}/$body_file") or die "WebhookReceiver: $body_file: $!";
    print $bf $body;
    close $bf or die "WebhookReceiver: $body_file: $!";
    # Take the answer and go on record in one step, so arrival order and
    # script order agree.
    my ($i, $row) = @{ $self->_update(sub {
        my $st = shift;
        my $row = shift(@{ $st->{scripts}{$path} // [] }) // $st->{defaults}{$path} // {};
        push @{ $st->{requests} }, { path => $path, query => $query // '', method => $method,
            headers => $h, body_file => $body_file, at => $at, status => undef, done_at => undef };
        return [ $#{ $st->{requests} }, $row ];
    }) };
    Time::HiRes::sleep($row->{delay_ms} / 1000) if $row->{delay_ms};
    if (defined(my $hold = $row->{hold})) {
        for (1 .. 3000) { last if -e "$self->{dir}/release-$hold"; Time::HiRes::sleep(0.02) }
    }
    my $status = $row->{drop} ? 0 : $row->{status} // 200;
    # On record before the answer goes out (or the connection is dropped), so
    # a client that has its answer finds status and done_at.  Only this child
    # touches entry $i after it is pushed; after a clear the entry is gone (or
    # another one: its at differs, as stored) and the answer goes unrecorded.
    my $done = Time::HiRes::time();
    $self->_update(sub {
        my $r = $_[0]{requests}[$i] or return;
        @$r{qw(status done_at)} = ($status, $done) if "$r->{at}" eq "$at" && !defined $r->{done_at};
    });
    if (!$row->{drop}) {
        my $out = $row->{body} // 'ok';
        my %hdr = ('Content-Type' => 'text/plain', %{ $row->{headers} // {} },
                   'Content-Length' => length($out), Connection => 'close');
        $hdr{'Retry-After'} = $row->{retry_after} if defined $row->{retry_after};
        print $c "HTTP/1.1 $status " . ($REASON{$status} // 'Status') . "\r\n",
            (map { "$_: $hdr{$_}\r\n" } sort keys %hdr), "\r\n", $out;
    }
    close $c;
}

1;
