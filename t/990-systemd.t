#!/usr/bin/env perl
# 990-systemd.t: the installed systemd units (deploy/systemd) pass systemd-analyze verify with no warning, carry the sandbox, load each family's secrets as credentials, and cover every family.
use strict;
use warnings;
use File::Temp qw(tempdir);
use Test::More;

my $BUILD = $ENV{PROMPTD_BUILD_DIR} // '.';
my $SRC = $ENV{PROMPTD_SRC_DIR} // $BUILD;
my $ANALYZE = `command -v systemd-analyze 2>/dev/null`;
chomp $ANALYZE;
plan skip_all => 'systemd-analyze not installed' unless $ANALYZE;

sub slurp { open(my $fh, '<', $_[0]) or return undef; local $/; my $d = <$fh>; $d }
sub spew { open(my $fh, '>', $_[0]) or die "$_[0]: $!"; print $fh $_[1]; close $fh or die }
# run(CMD...): stdout and stderr together, and the exit status.
sub run {
    my $out = `@{[ join ' ', map { "'$_'" } @_ ]} 2>&1`;
    return ($out, $? >> 8);
}

# make install into a DESTDIR, then the units with every path under the
# prefix moved into it: systemd-analyze verify checks that each ExecStart=
# program exists, and reads the drop-ins beside the unit.
my $tmp = tempdir('promptd-990-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $dest = "$tmp/dest";
my ($out, $rc) = run('make', '-s', '-C', $BUILD, 'install', "DESTDIR=$dest");
is($rc, 0, 'make install DESTDIR=...') or diag($out);
my ($target) = split /\n/, `find '$dest' -name promptd.target -path '*/systemd/system/*'`;
ok($target, 'promptd.target installed') or BAIL_OUT('no units installed');
(my $unitdir = $target) =~ s{/promptd\.target\z}{};
(my $prefix = $unitdir) =~ s{\A\Q$dest\E}{};
$prefix =~ s{/lib/systemd/system\z}{};
my $vdir = "$tmp/units";
mkdir $vdir or die "$vdir: $!";
system("cp", "-a", "$unitdir/.", "$vdir/") == 0 or die "cp $unitdir failed";
for my $f (glob("$vdir/*.service $vdir/*.socket $vdir/*.target $vdir/*.d/*.conf")) {
    (my $t = slurp($f)) =~ s{\Q$prefix\E/}{$dest$prefix/}g;
    spew($f, $t);
}

my @families = sort map { m{/([^/]+)\.fcgi\z} } glob("$BUILD/cgi-bin/*.fcgi");
ok(scalar(@families) >= 11, 'families: ' . join(' ', @families));
my @daemons = qw(promptd-jobs.service promptd-media.socket promptd-media.service
                 promptd-gateway.socket promptd-gateway.service);
my @units = ('promptd.target', @daemons,
             map { ("promptd\@$_.socket", "promptd\@$_.service") } @families);

# 1. systemd-analyze verify: exit 0 and not one line of output (an unknown
#    key or a missing program is only a warning, with exit 0).
for my $u (@units) {
    my ($o, $r) = run($ANALYZE, 'verify', "$vdir/$u");
    ok($r == 0 && $o eq '', "verify $u: clean") or diag($o);
}
# ... and the check can fail: an unknown key in a drop-in, a missing program.
{
    my $bad = "$tmp/bad";
    system('cp', '-a', $vdir, $bad) == 0 or die;
    open(my $fh, '>>', "$bad/promptd\@auth.service.d/credentials.conf") or die;
    print $fh "NoSuchKey=1\n";
    close $fh;
    my ($o) = run($ANALYZE, 'verify', "$bad/promptd\@auth.service");
    like($o, qr/Unknown key 'NoSuchKey'/, 'verify reports an unknown key in a drop-in');
    (my $t = slurp("$bad/promptd-jobs.service")) =~ s{/promptd-jobs$}{/promptd-nosuch}m;
    spew("$bad/promptd-jobs.service", $t);
    ($o) = run($ANALYZE, 'verify', "$bad/promptd-jobs.service");
    like($o, qr/promptd-nosuch.*(not executable|No such file)/, 'verify reports a missing program');
}

# 2. Every family: its program installed, its socket and service wanted by
#    promptd.target, its socket on /run/promptd/FAMILY.sock for nginx's group.
my $tgt = slurp("$vdir/promptd.target");
my %wanted = map { $_ => 1 } map { split ' ' } $tgt =~ /^Wants=(.*)$/mg;
for my $f (@families) {
    ok(-x "$dest$prefix/libexec/promptd/$f.fcgi", "$f.fcgi installed in libexec/promptd");
    ok($wanted{"promptd\@$f.socket"} && $wanted{"promptd\@$f.service"},
       "promptd.target wants promptd\@$f.socket and .service");
}
ok($wanted{$_}, "promptd.target wants $_") for @daemons;
my %fam = map { $_ => 1 } @families;
my @stray = grep { /^promptd\@(.+)\.s/ && !$fam{$1} } keys %wanted;
is_deeply(\@stray, [], 'promptd.target wants no family that is not built');
my $sock = slurp("$vdir/promptd\@.socket");
like($sock, qr{^ListenStream=/run/promptd/%i\.sock$}m, 'family socket: /run/promptd/%i.sock');
like($sock, qr/^SocketGroup=www-data$/m, '  group www-data (nginx)');
like($sock, qr/^SocketMode=0660$/m, '  mode 0660');
like(slurp("$vdir/promptd-media.socket"), qr/^SocketMode=0600$/m, 'media socket: the service user only');

# 3. The sandbox in every service (the template's lines reach each instance).
my @hardening = ('NoNewPrivileges=yes', 'ProtectSystem=strict', 'ProtectHome=yes',
    'PrivateTmp=yes', 'PrivateDevices=yes', 'CapabilityBoundingSet=', 'AmbientCapabilities=',
    'RestrictNamespaces=yes', 'RestrictSUIDSGID=yes', 'LockPersonality=yes',
    'SystemCallFilter=@system-service', 'SystemCallArchitectures=native',
    'User=promptd', 'ProtectKernelTunables=yes', 'ProtectControlGroups=yes', 'UMask=0077');
for my $svc (grep { /\.service\z/ } @units) {
    (my $file = $svc) =~ s/\@[^.]+\./\@./;
    my $text = join "\n", grep { defined } slurp("$vdir/$file"),
        map { slurp($_) } glob("$vdir/$svc.d/*.conf");
    my @missing = grep { $text !~ /^\Q$_\E$/m } @hardening;
    is_deeply(\@missing, [], "$svc: the sandbox directives");
    like($text, qr/^RestrictAddressFamilies=AF_UNIX\b/m, "$svc: RestrictAddressFamilies=");
    like($text, qr/^MemoryMax=\d+[KMG]$/m, "$svc: MemoryMax=");
    like($text, qr/^TasksMax=\d+$/m, "$svc: TasksMax=");
    like($text, qr/^EnvironmentFile=-\Q$dest$prefix\E\/etc\/promptd\/promptd\.env$/m,
         "$svc: EnvironmentFile= the installed promptd.env");
    unlike($text, qr/^Environment=.*(SECRET|PASSWORD|PEPPER|_KEY=)/mi, "$svc: no secret in Environment=");
    my ($o, $r) = run($ANALYZE, 'security', '--offline=yes', '--threshold=20', "$vdir/$svc");
    my ($level) = $o =~ /Overall exposure level for \S+: ([\d.]+)/;
    ok($r == 0 && defined $level && $level <= 2.0,
       "$svc: systemd-analyze security exposure " . ($level // '?') . ' <= 2.0') or diag($o);
}
like(slurp("$vdir/promptd\@.service"), qr/^StandardInput=socket$/m,
     'families take the listening socket on fd 0 (StandardInput=socket)');
like(slurp("$vdir/promptd-media.service"), qr/^StandardInput=socket$/m,
     'promptd-media takes it on fd 0 too');

# 4. Credentials: each process loads exactly the secrets promptd-stack gives
#    it (family_secrets), as files in $CREDENTIALS_DIRECTORY named by id.
sub credentials {
    my ($svc) = @_;
    (my $file = $svc) =~ s/\@[^.]+\./\@./;
    my %ids;
    for my $f (grep { -e } "$vdir/$file", sort glob("$vdir/$svc.d/*.conf")) {
        for my $line (split /\n/, slurp($f)) {
            %ids = () if $line eq 'LoadCredential=';
            $ids{$1} = $2 if $line =~ /^LoadCredential=([a-z_]+):(\S+)$/;
        }
    }
    return \%ids;
}
my %stack_name = ('promptd-jobs.service' => 'jobs', 'promptd-gateway.service' => 'gateway',
                  'promptd-media.service' => 'media', map { ("promptd\@$_.service" => $_) } @families);
for my $svc (sort keys %stack_name) {
    my $ids = credentials($svc);
    my @want = sort split /\n/, `'$SRC/src/cmd/promptd-stack' secrets-of $stack_name{$svc}`;
    is_deeply([sort keys %$ids], \@want, "$svc: credentials = promptd-stack's for $stack_name{$svc}");
    my @bad = grep { $ids->{$_} ne "promptd.$_" } keys %$ids;
    is_deeply(\@bad, [], "$svc: each from the credential store as promptd.<id>");
}

done_testing();
