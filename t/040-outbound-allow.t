#!/usr/bin/perl
# 040-outbound-allow.t: a malformed PROMPTD_OUTBOUND_ALLOW stops every program at start, naming the variable (no stack needed).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use Cwd qw(abs_path);
use POSIX ();

my $build = $ENV{PROMPTD_BUILD_DIR} || abs_path("$FindBin::Bin/..");
my $var = tempdir('promptd-outbound-XXXXXX', TMPDIR => 1, CLEANUP => 1);

# run($allow, @cmd) -> (exit status, stderr)
sub run {
    my ($allow, @cmd) = @_;
    local $ENV{PROMPTD_VAR_DIR} = $var;
    local $ENV{PROMPTD_OUTBOUND_ALLOW} = $allow;
    delete local $ENV{PROMPTD_APP_DATABASE_URL};
    my $err = "$var/stderr";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', $err;
        exec @cmd or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    my $rc = $? >> 8;
    open my $fh, '<', $err or die "$err: $!";
    local $/;
    return ($rc, scalar <$fh> // '');
}

my @programs = (
    [ 'promptctl env', "$build/src/cmd/promptctl", 'env' ],
    [ 'promptd-jobs', "$build/src/cmd/promptd-jobs" ],
    [ 'a FastCGI worker (status)', "$build/cgi-bin/status.fcgi" ],
);
my @bad = ('10.0.0.0/8, bogus', '::1/129', '10.0.0.0/8,', '0x7f.1/8', 'localhost');

for my $p (@programs) {
    my ($name, @cmd) = @$p;
    for my $value (@bad) {
        my ($rc, $err) = run($value, @cmd);
        isnt($rc, 0, "$name refuses to start with PROMPTD_OUTBOUND_ALLOW='$value'");
        like($err, qr/PROMPTD_OUTBOUND_ALLOW: /, '  the message names the variable') or diag $err;
    }
}
my ($rc, $err) = run('10.0.0.0/8, bogus', "$build/src/cmd/promptctl", 'env');
like($err, qr/'bogus'/, 'the message names the bad entry');
($rc, $err) = run(' 127.0.0.0/8 , ::1/128 ', "$build/src/cmd/promptctl", 'env');
unlike($err, qr/PROMPTD_OUTBOUND_ALLOW/, 'a well-formed list is accepted');

done_testing;
