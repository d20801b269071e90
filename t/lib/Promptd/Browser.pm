# Browser.pm: headless Chromium over WebDriver for the browser tests: Debian's chromium and chromium-driver, the driver on a free loopback port, one session, the WebDriver call.
package Promptd::Browser;
use strict;
use warnings;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use POSIX ();

my $JSON = JSON::PP->new->utf8->canonical;

# (chromium, chromedriver) paths, or () when either is not installed.
sub programs {
    my ($chromium) = grep { -x } map { ("/usr/bin/$_", "/usr/lib/chromium/$_") } qw(chromium chromium-browser);
    my ($driver) = grep { -x } qw(/usr/bin/chromedriver /usr/lib/chromium/chromedriver);
    return $chromium && $driver ? ($chromium, $driver) : ();
}

# Why a browser test cannot run here (for plan skip_all), or undef.
sub missing {
    return programs() ? undef
        : 'chromium and chromium-driver are not installed (Debian packages chromium, '
        . 'chromium-driver; ./bootstrap installs them)';
}

# Promptd::Browser->new($stack, args => [...]): chromedriver started (its
# log in the stack's log directory) and one headless session with a fresh
# profile, the browser console logged; extra chromium args appended.  Dies
# with the driver log's tail when either fails.  The driver and the session
# end with the object (or at exit).
sub new {
    my ($class, $s, %o) = @_;
    my ($chromium, $driver) = programs() or die "Promptd::Browser: no chromium\n";
    my $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1) or die $!;
    my $port = $sock->sockport;
    close $sock;
    my $self = bless { http => HTTP::Tiny->new(timeout => 60), wd => "http://127.0.0.1:$port",
                       log => $s->var_dir . '/log/chromedriver.log', owner => $$ }, $class;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open(STDIN, '<', '/dev/null');
        open(STDOUT, '>>', $self->{log});
        open(STDERR, '>&', \*STDOUT);
        exec { $driver } $driver, "--port=$port", '--allowed-ips=127.0.0.1' or POSIX::_exit(127);
    }
    $self->{pid} = $pid;
    my $ready = $s->wait_for(sub {
        my $r = $self->{http}->get("$self->{wd}/status");
        $r->{success} && eval { $JSON->decode($r->{content})->{value}{ready} };
    }, timeout => 30);
    die "chromedriver did not start:\n" . $self->log_tail unless $ready;
    my $profile = tempdir('promptd-chromium-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my ($st, $session) = $self->wd(POST => '/session', { capabilities => { alwaysMatch => {
        browserName => 'chrome',
        'goog:chromeOptions' => {
            binary => $chromium,
            args => ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
                     '--no-first-run', '--disable-extensions', @{ $o{args} || [] },
                     "--user-data-dir=$profile"],
        },
        'goog:loggingPrefs' => { browser => 'ALL' },
    } } });
    die 'no WebDriver session: ' . $JSON->encode($session // {}) . "\n" . $self->log_tail
        unless $st == 200 && $session->{sessionId};
    $self->{sid} = $session->{sessionId};
    return $self;
}

sub session_id { $_[0]{sid} }
sub log_tail { my $f = $_[0]{log}; -f $f ? `tail -n 20 '$f'` : '' }

# wd(METHOD, PATH, BODY?): one WebDriver call; (status, value) in list
# context, the value alone in scalar context.
sub wd {
    my ($self, $method, $path, $body) = @_;
    my $res = $self->{http}->request($method, "$self->{wd}$path", {
        headers => { 'Content-Type' => 'application/json' },
        defined $body ? (content => $JSON->encode($body)) : () });
    my $json = eval { $JSON->decode($res->{content}) } // {};
    return wantarray ? ($res->{status}, $json->{value}) : $json->{value};
}

# Ends the session and the driver (idempotent; only in the process that
# started them).
sub stop {
    my ($self) = @_;
    return unless $self->{pid} && $self->{owner} == $$;
    local ($?, $@);
    eval { $self->wd(DELETE => "/session/$self->{sid}") } if $self->{sid};
    kill 'TERM', $self->{pid};
    waitpid($self->{pid}, 0);
    delete @$self{qw(pid sid)};
}

sub DESTROY { $_[0]->stop }

1;
