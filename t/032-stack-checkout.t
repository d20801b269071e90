#!/usr/bin/env perl
# 032-stack-checkout.t: the stack runs from a checkout inside a 0700 directory (root's home), and refuses to start on a file its workers cannot read.
use strict;
use warnings;
use Test::More;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Copy qw(copy);
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use lib 't/lib';
use Promptd::Test;

plan skip_all => 'needs root: the workers then run as another user' if $> != 0;

my $TOP   = abs_path(dirname(abs_path(__FILE__)) . '/..');
my $src   = $ENV{PROMPTD_SRC_DIR}   || $TOP;
my $build = $ENV{PROMPTD_BUILD_DIR} || $TOP;

# A home directory as root has it (0700), holding a checkout: the sources
# the stack reads (its script, sql/, nginx/) and the built programs.
my $home = tempdir('promptd-home-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0700, $home;
my $co = "$home/promptd";
sub copy_tree {
    my ($from, $to) = @_;
    system('cp', '-R', $from, $to) == 0 or die "cp -R $from $to failed\n";
}
make_path("$co/src/cmd", "$co/cgi-bin");
copy_tree("$src/sql", "$co/sql");
copy_tree("$src/nginx", "$co/nginx");
copy("$src/src/cmd/promptd-stack", "$co/src/cmd/promptd-stack") or die "copy: $!";
chmod 0755, "$co/src/cmd/promptd-stack";
for my $p (glob("$build/cgi-bin/*.fcgi"), "$build/src/cmd/promptctl", "$build/src/cmd/promptd-jobs",
           "$build/src/cmd/promptd-gateway", "$build/src/cmd/promptd-media") {
    my $to = $p =~ m{/cgi-bin/} ? "$co/cgi-bin/" : "$co/src/cmd/";
    copy($p, $to) or die "copy $p: $!";
    chmod 0755, $to . ($p =~ m{([^/]+)$})[0];
}
isnt(system('runuser', '-u', 'promptd', '--', 'test', '-r', "$co/sql") , 0,
     'the checkout is out of the service user\'s reach') if getpwnam('promptd');
isnt(system('runuser', '-u', 'postgres', '--', 'test', '-x', $co), 0,
     "the checkout is out of postgres's reach");

local $ENV{PROMPTD_SRC_DIR}   = $co;
local $ENV{PROMPTD_BUILD_DIR} = $co;
my %fast = (PROMPTD_WORKERS => 1, PROMPTD_PG_TEMPLATE => "$build/var/pg-template");

# ------------------------------------------------------------ it runs
my $s = Promptd::Test->new(%fast);
my $r = $s->request(GET => '/readyz');
is($r->{status}, 200, 'GET /readyz -> 200 (the workers read the staged SQL)') or diag explain $r;
is($r->{json}{status} // '', 'ready', '  status ready') or diag explain $r->{json};
my $m = $r->{json}{migrations} || {};
ok(($m->{expected} // 0) > 0 && ($m->{applied} // -1) == $m->{expected},
   "  every migration found in the SQL directory is applied ($m->{applied}/$m->{expected})");

my ($alice, $ta) = $s->users('alice');
$r = $s->request(POST => '/api/v1/prompts', { token => $ta, json => { title => 't', content => 'from a 0700 checkout' } });
is($r->{status}, 201, 'a signed-in request: prompt created') or diag explain $r;
is($s->db1("select content from prompts where id = '" . ($r->{json}{id} // '') . "'"),
   'from a 0700 checkout', '  stored');

my ($w) = $s->worker_pids('status');
my $exe = readlink("/proc/$w/exe") // '';
is($exe, $s->var_dir . '/libexec/status.fcgi', 'workers run a staged copy of their program');
my %env = map { /^([^=]*)=(.*)$/s ? ($1 => $2) : () } split /\0/, do {
    open(my $fh, '<', "/proc/$w/environ") or die; local $/; <$fh> };
is($env{PROMPTD_SQL_DIR}, $s->var_dir . '/share/sql', 'and read the staged SQL directory');
$s->stop;

# ------------------------------------------------------------ refusals
# A file a worker needs, in a place its user cannot read: no start, and the
# message names the file (before: the stack started and every ES256 token
# was refused).
sub refused {
    my ($name, $over, $re) = @_;
    my $t = eval { Promptd::Test->new(%fast, PROMPTD_START_TIMEOUT => 10, %$over) };
    my $err = $@;
    ok(!$t, "$name: the stack refuses to start");
    $t->stop if $t;
    like($err, $re, "$name: the message names the file");
    unlike($err, qr/readiness/, "$name: refused before starting the workers");
    remove_tree($1) if $err =~ /\(stack directory kept: (\S+)\)/;
}
open(my $fh, '>', "$home/jwks.json") or die;
print $fh '{"keys":[]}';
close $fh;
chmod 0644, "$home/jwks.json";
refused('a JWKS file in a 0700 directory', { PROMPTD_JWKS => "$home/jwks.json" },
        qr/error: the PROMPTD_JWKS file \Q$home\E\/jwks\.json is not readable by the workers' user promptd/);
refused('a missing JWKS file', { PROMPTD_JWKS => "/nonexistent/jwks.json" },
        qr{error: the PROMPTD_JWKS file /nonexistent/jwks\.json does not exist});
refused('a signing key in a 0700 directory', { PROMPTD_JWT_SIGNING_KEY => "$home/jwks.json" },
        qr/error: the PROMPTD_JWT_SIGNING_KEY file \Q$home\E\/jwks\.json is not readable by the workers' user promptd/);

done_testing;
