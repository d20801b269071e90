# Promptd::FakeSMTP: a loopback SMTP server (RFC 5321: EHLO, STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA) that keeps what it receives, for the mail tests.
package Promptd::FakeSMTP;

# Usage:
#   my $smtp = Promptd::FakeSMTP->new;                       # plain SMTP
#   my $smtp = Promptd::FakeSMTP->new(tls => { cert => $pem, key => $key },
#                                     auth => ['user', 'secret']);
#   PROMPTD_SMTP_URL => $smtp->url                           # smtp://127.0.0.1:PORT
#   $smtp->script([{ at => 'RCPT', code => 451 }, { at => 'DATA', code => 554 }]);
#       # the next sessions' answers at that step, one row per session, then normal
#   my @m = $smtp->wait_messages(1, 30);  # at least 1 (bounded wait), or what there is
#   # each: {from, rcpt => [...], data (dot-unstuffed), tls (0/1), auth (user or undef),
#   #        headers => {lc name => value (unfolded)}, parts => {'text/plain' => decoded, ...}}
#   my @s = $smtp->sessions;              # every session: {tls, auth, commands => [...]},
#                                         # on record before QUIT's 221 (or at hang-up)
#   $smtp->clear;                         # forget messages and sessions
#
# STARTTLS is offered only with tls; without tls a STARTTLS is 502 (a
# client that requires it must then give up).  With auth, MAIL before a
# successful AUTH PLAIN is 530 and a wrong password 535.  State lives in
# files under a lock, so the forked children share it.
use strict;
use warnings;
use Fcntl qw(:flock);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP;
use MIME::Base64 qw(decode_base64);
use POSIX ();
use Time::HiRes ();

my $JSON = JSON::PP->new->canonical->utf8;

sub new {
    my ($class, %opt) = @_;
    my $dir = tempdir('promptd-fakesmtp-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $self = bless { dir => $dir, owner => $$, tls => $opt{tls}, auth => $opt{auth} }, $class;
    $self->clear;
    $self->script([]);
    my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
        Listen => 64, ReuseAddr => 1, Proto => 'tcp') or die "FakeSMTP listen: $!";
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

sub port   { $_[0]{port} }
sub url    { "smtp://127.0.0.1:$_[0]{port}" }
sub errors { open(my $fh, '<', "$_[0]{dir}/errors.log") or return ''; local $/; return <$fh> }

sub script { my ($self, $rows) = @_; $self->_update(sub { $_[0]{script} = $rows }) }
sub clear  { $_[0]->_update(sub { @{ $_[0] }{qw(messages sessions)} = ([], []) }) }

sub messages { @{ $_[0]->_update(sub { $_[0]{messages} }) // [] } }
sub sessions { @{ $_[0]->_update(sub { $_[0]{sessions} }) // [] } }

# wait_messages($n, $seconds = 30): the messages once there are $n (or the
# time is up: then what there is).
sub wait_messages {
    my ($self, $n, $secs) = @_;
    my $deadline = Time::HiRes::time() + ($secs // 30);
    my @m;
    while (1) {
        @m = $self->messages;
        return @m if @m >= $n || Time::HiRes::time() > $deadline;
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
# $fn returned.
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

# The headers and decoded parts of a message.
sub _parse {
    my ($data) = @_;
    my ($head, $body) = split /\r\n\r\n/, $data, 2;
    $head =~ s/\r\n[ \t]+/ /g;
    my %h = map { /^([^:]+):\s*(.*)$/ ? (lc $1 => $2) : () } split /\r\n/, $head;
    my %parts;
    if (($h{'content-type'} // '') =~ /boundary="([^"]+)"/) {
        for my $p (split /--\Q$1\E(?:--)?\r\n/, $body // '') {
            my ($ph, $pb) = split /\r\n\r\n/, $p, 2;
            next unless defined $pb && $ph =~ m{Content-Type:\s*([\w/]+)}i;
            my $type = lc $1;
            $parts{$type} = $ph =~ /Content-Transfer-Encoding:\s*base64/i ? decode_base64($pb) : $pb;
        }
    }
    return (\%h, \%parts);
}

sub _serve {
    my ($self, $c) = @_;
    my $rule = $self->_update(sub { shift @{ $_[0]{script} } }) // {};
    my %s = (tls => 0, auth => undef, commands => [], from => undef, rcpt => []);
    my $recorded;
    my $record = sub {    # the session, once
        return if $recorded++;
        my %rec = (tls => $s{tls}, auth => $s{auth}, commands => $s{commands});
        $self->_update(sub { push @{ $_[0]{sessions} }, \%rec });
    };
    my $say = sub { print $c "$_[0]\r\n"; $c->flush };
    my $fail = sub {    # the scripted answer at this step, if any
        my ($step) = @_;
        return 0 unless ($rule->{at} // '') eq $step;
        $say->("$rule->{code} " . ($rule->{text} // 'scripted failure'));
        return 1;
    };
    $c->autoflush(1);
    $say->('220 127.0.0.1 FakeSMTP ESMTP') unless $fail->('GREETING');
    while (defined(my $line = <$c>)) {
        $line =~ s/\r?\n\z//;
        push @{ $s{commands} }, $line =~ /^AUTH PLAIN \S/i ? 'AUTH PLAIN ***' : $line;
        my ($verb, $arg) = $line =~ /^(\S+)\s*(.*)$/;
        $verb = uc($verb // '');
        if ($verb eq 'EHLO') {
            my @ext = ('8BITMIME', 'SIZE 10485760');
            push @ext, 'STARTTLS' if $self->{tls} && !$s{tls};
            push @ext, 'AUTH PLAIN' if $self->{auth};
            $say->("250-127.0.0.1 greets $arg");
            $say->(($_ eq $ext[-1] ? '250 ' : '250-') . $_) for @ext;
        } elsif ($verb eq 'HELO') {
            $say->('250 127.0.0.1');
        } elsif ($verb eq 'STARTTLS') {
            if (!$self->{tls} || $s{tls}) { $say->('502 5.5.1 STARTTLS not offered'); next }
            $say->('220 2.0.0 go ahead');
            require IO::Socket::SSL;
            IO::Socket::SSL->start_SSL($c, SSL_server => 1, SSL_cert_file => $self->{tls}{cert},
                SSL_key_file => $self->{tls}{key}) or die "start_SSL: " . IO::Socket::SSL::errstr();
            $s{tls} = 1;
            @s{qw(auth from)} = (undef, undef);
        } elsif ($verb eq 'AUTH') {
            my ($mech, $ir) = split ' ', $arg, 2;
            if (uc($mech // '') ne 'PLAIN' || !$self->{auth}) { $say->('504 5.5.4 unsupported'); next }
            if (!defined $ir) {
                $say->('334 ');
                $ir = <$c> // last;
                $ir =~ s/\r?\n\z//;
            }
            my (undef, $user, $pass) = split /\0/, decode_base64($ir), 3;
            if (defined $pass && $user eq $self->{auth}[0] && $pass eq $self->{auth}[1]) {
                $s{auth} = $user;
                $say->('235 2.7.0 authenticated');
            } else {
                $say->('535 5.7.8 authentication failed');
            }
        } elsif ($verb eq 'MAIL') {
            next if $fail->('MAIL');
            if ($self->{auth} && !defined $s{auth}) { $say->('530 5.7.0 authentication required'); next }
            ($s{from}) = $arg =~ /^FROM:\s*<([^>]*)>/i;
            $s{rcpt} = [];
            $say->(defined $s{from} ? '250 2.1.0 ok' : '501 5.5.4 syntax');
        } elsif ($verb eq 'RCPT') {
            next if $fail->('RCPT');
            my ($to) = $arg =~ /^TO:\s*<([^>]*)>/i;
            if (!defined $s{from} || !defined $to) { $say->('503 5.5.1 bad sequence'); next }
            push @{ $s{rcpt} }, $to;
            $say->('250 2.1.5 ok');
        } elsif ($verb eq 'DATA') {
            if (!@{ $s{rcpt} }) { $say->('503 5.5.1 no recipients'); next }
            $say->('354 end with <CRLF>.<CRLF>');
            my $data = '';
            while (defined(my $l = <$c>)) {
                last if $l eq ".\r\n";
                $l =~ s/^\.//;
                $data .= $l;
            }
            next if $fail->('DATA');
            my ($h, $parts) = _parse($data);
            my %m = (from => $s{from}, rcpt => $s{rcpt}, data => $data, tls => $s{tls},
                     auth => $s{auth}, headers => $h, parts => $parts);
            $self->_update(sub { push @{ $_[0]{messages} }, \%m });
            @s{qw(from rcpt)} = (undef, []);
            $say->('250 2.0.0 queued');
        } elsif ($verb eq 'RSET') {
            @s{qw(from rcpt)} = (undef, []);
            $say->('250 2.0.0 ok');
        } elsif ($verb eq 'NOOP') {
            $say->('250 2.0.0 ok');
        } elsif ($verb eq 'QUIT') {
            $record->();      # before the answer: a client that saw 221 finds it
            $say->('221 2.0.0 bye');
            last;
        } else {
            $say->('500 5.5.2 unknown command');
        }
    }
    $record->();
    close $c;
}

1;
