#!/usr/bin/env perl
# 991-install.t: make install DESTDIR=... lays out the programs, SQL, nginx templates, units and docs; the installed promptctl, moved elsewhere, migrates a fresh database from its own SQL; make uninstall removes all but the settings file.
use strict;
use warnings;
use File::Temp qw(tempdir);
use POSIX ();
use Socket ();
use Test::More;
use lib 't/lib';
use Promptd::Test;

my $BUILD = $ENV{PROMPTD_BUILD_DIR} // '.';
my $SRC = $ENV{PROMPTD_SRC_DIR} // $BUILD;
my $tmp = tempdir('promptd-991-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $dest = "$tmp/dest";
sub slurp { open(my $fh, '<:raw', $_[0]) or return undef; local $/; my $d = <$fh>; $d // '' }
sub spew { open(my $fh, '>', $_[0]) or die "$_[0]: $!"; print $fh $_[1]; close $fh or die }
sub make { my $o = `make -s -C '$BUILD' @_ 2>&1`; return ($? >> 8, $o) }
sub base { map { m{([^/]+)\z} } @_ }

my ($rc, $out) = make('install', "DESTDIR=$dest");
is($rc, 0, 'make install DESTDIR=...') or diag($out);
my ($ctl) = grep { length } split /\n/, `find '$dest' -path '*/bin/promptctl'`;
ok($ctl, 'promptctl installed') or BAIL_OUT('nothing installed');
(my $prefix = $ctl) =~ s{\A\Q$dest\E(.*)/bin/promptctl\z}{$1};
my $p = "$dest$prefix";
note("prefix $prefix");

# The tree.
ok(-x "$p/bin/$_", "bin/$_") for qw(promptctl promptd-jobs promptd-gateway promptd-media);
my @families = sort map { m{/([^/]+)\.fcgi\z} } glob("$BUILD/cgi-bin/*.fcgi");
ok(-x "$p/libexec/promptd/$_.fcgi", "libexec/promptd/$_.fcgi") for @families;
for my $dir ('sql', 'sql/functions') {
    my @want = base(glob("$SRC/$dir/*.sql"));
    is_deeply([base(glob("$p/share/promptd/$dir/*.sql"))], \@want,
              "share/promptd/$dir: every file (" . scalar(@want) . ')');
    my @differ = grep { slurp("$SRC/$dir/$_") ne slurp("$p/share/promptd/$dir/$_") } @want;
    is_deeply(\@differ, [], "  identical to the source's");
}
is_deeply([base(glob("$p/share/promptd/nginx/*.conf*"))], [base(glob("$SRC/nginx/*.conf*"))],
          'share/promptd/nginx: every template');
is_deeply([sort `cd '$p/share/promptd/nginx/static' && find . -type f`],
          [sort `cd '$SRC/nginx/static' && find . -type f`], '  and the static files');
ok(-f "$p/share/promptd/prometheus/$_", "share/promptd/prometheus/$_")
    for qw(prometheus.yml alerts.yml alerts_test.yml);
ok(-f "$p/share/doc/promptd/$_", "share/doc/promptd/$_") for qw(README.md openapi.json);
my $units = "$p/lib/systemd/system";
ok(-f "$units/$_", "lib/systemd/system/$_") for qw(promptd@.socket promptd@.service
    promptd-media.socket promptd-media.service promptd-gateway.socket promptd-gateway.service
    promptd-jobs.service promptd.target);
ok(-f "$units/promptd\@$_.service.d/credentials.conf", "  drop-in for $_")
    for base(map { m{promptd\@([^/]+)\.service\.d\z} } glob("$SRC/deploy/systemd/promptd\@*.service.d"));
like(slurp("$units/promptd\@.service"), qr{^ExecStart=\S*multiwatch -f \$\{PROMPTD_WORKERS\} -- \Q$prefix\E/libexec/promptd/%i\.fcgi$}m,
     'the template runs the installed workers');
unlike(join('', map { slurp($_) } glob("$units/*.s* $units/*.target")), qr/@[a-zA-Z_]+@/,
       'no @placeholder@ left in the units');
like(slurp("$p/lib/sysusers.d/promptd.conf"), qr/^u promptd /m, 'lib/sysusers.d/promptd.conf');
ok(-f "$p/etc/promptd/promptd.env", 'etc/promptd/promptd.env');
unlike(slurp("$p/etc/promptd/promptd.env"), qr/^[^#]/m, '  every setting commented out');

# A second install keeps the operator's settings.
spew("$p/etc/promptd/promptd.env", "PROMPTD_WORKERS=7\n");
($rc, $out) = make('install', "DESTDIR=$dest");
is($rc, 0, 'make install again') or diag($out);
is(slurp("$p/etc/promptd/promptd.env"), "PROMPTD_WORKERS=7\n", '  leaves promptd.env alone');

# The installed promptctl, moved away from the prefix (as a package
# relocated, or a DESTDIR never moved), finds its SQL beside it:
# <bin>/../share/promptd/sql.  The last migration held back first shows
# it reads that directory and not the source tree's.
my $moved = "$tmp/moved";
system('cp', '-a', $p, $moved) == 0 or die 'cp failed';
my @migrations = base(glob("$moved/share/promptd/sql/*.sql"));
# A migration only the installed copy has (the functions stay the release's:
# holding a real migration back would leave them naming its tables).
my $marker = '9000_t991_installed_copy_only.sql';
spew("$moved/share/promptd/sql/$marker",
     "-- t/991: only the installed copy has this migration\ncreate table public.t991_installed_marker ();\n");

my $s = Promptd::Test->new(PROMPTD_WORKERS => 1, PROMPTD_JOBS_DAEMONS => 0,
                           PROMPTD_GATEWAY => 0, PROMPTD_MEDIA => 0);
my $pw = slurp($s->var_dir . '/secrets/pg_superuser_password');
chomp $pw;
$s->psql('create database installed', db => 'postgres');
my %to = (separate => 1, env => { PROMPTD_SQL_DIR => '',
    PROMPTD_DATABASE_URL => 'host=' . $s->var_dir . '/run port=' . $s->pg_port
                            . " dbname=installed user=postgres password=$pw" });
($rc, $out, my $err) = $s->_run(["$moved/bin/promptctl", 'migrate'], %to);
is($rc, 0, 'the installed promptctl migrates a fresh database') or diag($err, $out);
sub installed { $s->psql($_[0], db => 'installed')->[0][0] }
is(installed('select count(*) from public.schema_migrations'), scalar(@migrations) + 1,
   '  every installed migration applied (' . scalar(@migrations) . ' and the marker)');
is(installed("select count(*) from pg_tables where tablename = 't991_installed_marker'"), 1,
   "  with $marker: it read its own share/promptd/sql, not the source tree's");
($rc, $out, $err) = $s->_run(["$moved/bin/promptctl", 'migrate'], %to);
is($rc, 0, 'migrate again') or diag($err);
unlike($out, qr/\.sql/, '  applies nothing');
($rc, $out, $err) = $s->_run(["$moved/bin/promptctl", 'audit', 'verify'], %to);
is($rc, 0, 'audit verify on the installed schema') or diag($err);
is(installed("select count(*) from pg_proc where proname = 'audit_verify'"), 1,
   'sql/functions applied (promptd.audit_verify)');

# promptctl credstore DIR: the secrets as the units' credentials.
my $store = "$tmp/credstore";
mkdir $store or die;
($rc, $out, $err) = $s->_run(["$moved/bin/promptctl", 'credstore', $store], separate => 1);
is($rc, 0, 'promptctl credstore DIR') or diag($err);
my @made = sort map { m{/promptd\.([a-z_]+)$} } split /\n/, $out;
is_deeply(\@made, [sort qw(app_database_url jwt_secret api_key_pepper secrets_keys
    share_cookie_key storage_signing_key)], '  the application URL and the generated secrets (no unset optional one)');
my @modes = grep { ((stat "$store/promptd.$_")[2] & 0777) != 0600 } @made;
is_deeply(\@modes, [], '  each 0600');
is(slurp("$store/promptd.jwt_secret"), slurp($s->var_dir . '/secrets/jwt_secret'),
   '  promptd.jwt_secret = var/secrets/jwt_secret');
like(slurp("$store/promptd.app_database_url"), qr/user='?promptd_app\b/, '  the URL names promptd_app');
unlike(slurp("$store/promptd.app_database_url"), qr/\Q$pw\E/, '  and not the superuser password');
is_deeply([glob("$store/*.tmp")], [], '  no temporary left');
($rc, $out, $err) = $s->_run(["$moved/bin/promptctl", 'credstore', "$tmp/nodir"], separate => 1);
is($rc, 1, 'credstore into a missing directory fails');
like($err, qr/is not a directory/, '  saying so');

# promptd-gateway under socket activation (what promptd-gateway.socket
# does): systemd-socket-activate holds the socket and hands it over on fd 3
# (LISTEN_FDS) at the first connection, which the gateway then answers;
# stopped, it leaves the socket to its owner.
SKIP: {
    my $activate = `command -v systemd-socket-activate 2>/dev/null`;
    chomp $activate;
    skip 'systemd-socket-activate not installed', 7 unless $activate;
    require IO::Socket::UNIX;
    my $sock = "$tmp/gateway.sock";
    # its credentials as systemd passes them: the ids of
    # promptd-gateway.service (promptd-stack secrets-of gateway), each from
    # the store's promptd.<id>
    my $creds = "$tmp/credentials";
    mkdir $creds or die;
    for my $id (split /\n/, `'$SRC/src/cmd/promptd-stack' secrets-of gateway`) {
        system('cp', "$store/promptd.$id", "$creds/$id") if -e "$store/promptd.$id";
    }
    ok(-s "$creds/app_database_url", 'the gateway\'s credentials hold the database URL');
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open(STDIN, '<', '/dev/null');
        open(STDOUT, '>', "$tmp/gateway.log");
        open(STDERR, '>&', \*STDOUT);
        exec $activate, '-l', $sock,
            '-E', "CREDENTIALS_DIRECTORY=$creds",
            '-E', "PROMPTD_GATEWAY_SOCKET=$sock", '-E', "PROMPTD_VAR_DIR=$tmp",
            '-E', 'PROMPTD_METRICS=off', "$moved/bin/promptd-gateway"
            or POSIX::_exit(127);
    }
    for (1 .. 200) { last if -S $sock; select(undef, undef, undef, 0.05) }
    ok(-S $sock, 'systemd-socket-activate listens on the gateway socket');
    my $c = IO::Socket::UNIX->new(Peer => $sock, Type => IO::Socket::UNIX::SOCK_STREAM());
    my $answer = '';
    if ($c) {
        # bounded: a gateway listening elsewhere would never answer
        setsockopt($c, Socket::SOL_SOCKET(), Socket::SO_RCVTIMEO(), pack('l!l!', 10, 0));
        print $c "GET /status HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n";
        local $/;
        $answer = <$c> // '';
    }
    like($answer, qr{\AHTTP/1\.[01] 200 }, 'the gateway (database URL from CREDENTIALS_DIRECTORY) answers the first connection on the inherited socket')
        or diag(slurp("$tmp/gateway.log"));
    like($answer, qr/"max_inflight":/, '  GET /status');
    like(slurp("$tmp/gateway.log"), qr/listening on \Q$sock\E/, '  it logged its socket');
    kill 'TERM', $pid;
    waitpid($pid, 0);
    is($? & 127 ? 0 : $? >> 8, 0, 'SIGTERM: it stops cleanly');
    ok(-S $sock, '  and leaves the socket to its owner (the socket unit)');
}
$s->stop;

# make uninstall takes away everything but the settings file.
($rc, $out) = make('uninstall', "DESTDIR=$dest");
is($rc, 0, 'make uninstall DESTDIR=...') or diag($out);
my @left = map { s{\A\Q$dest\E}{}r } grep { length } split /\n/, `find '$dest' -type f`;
is_deeply(\@left, ["$prefix/etc/promptd/promptd.env"], 'only etc/promptd/promptd.env is left');

done_testing();
