#!/usr/bin/env perl
# 994-nginx-host.t: promptd-stack nginx-config renders a systemd host's nginx (sockets in the run directory, logs, caches, TLS, the units' promptd.env) that nginx -t accepts and a real nginx serves a stack through; bad options fail clearly; the installed copy renders its installed templates for its installed workers.
use strict;
use warnings;
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use JSON::PP;
use POSIX ();
use Test::More;
use lib 't/lib';
use Promptd::Test qw(db1);

my $BUILD = $ENV{PROMPTD_BUILD_DIR} // '.';
my $SRC = $ENV{PROMPTD_SRC_DIR} // $BUILD;
my $STACK = "$SRC/src/cmd/promptd-stack";
my $NGINX = $ENV{NGINX} || 'nginx';
# Only the settings this suite passes reach the command.
delete $ENV{$_} for grep { /^PROMPTD_/ && !/^PROMPTD_(BUILD_DIR|SRC_DIR|KEEP)$/ } keys %ENV;

my $tmp = tempdir('promptd-994-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $tmp;    # nginx's workers (nobody as root) traverse it
sub slurp { open(my $fh, '<:raw', $_[0]) or return undef; local $/; my $d = <$fh>; $d // '' }
sub spew { open(my $fh, '>', $_[0]) or die "$_[0]: $!"; print $fh $_[1]; close $fh or die }
# stack(ARGS...) -> (exit status, stdout, stderr) of promptd-stack ARGS.
sub stack { Promptd::Test::_capture([$STACK, @_], {}, 1) }
# files(DIR) -> every file under DIR.
sub files { grep { length } split /\n/, `find '$_[0]' -type f` }
sub placeholders { my @f = files($_[0]); grep { slurp($_) =~ /@[A-Z_]+@/ } @f }
# upstreams(DIR) -> {name => server} of DIR/upstreams.conf.
sub upstreams {
    my %u = slurp("$_[0]/upstreams.conf") =~ /upstream\s+(\S+)\s*\{\s*server\s+(\S+);/g;
    return \%u;
}
sub nginx_t {
    my ($dir) = @_;
    my $out = `'$NGINX' -t -p '$dir' -c '$dir/nginx.conf' 2>&1`;
    return ($? >> 8, $out);
}

my @families = sort map { m{/([^/]+)\.fcgi\z} } glob("$BUILD/cgi-bin/*.fcgi");
ok(scalar(@families) > 5, 'the build has its families (' . scalar(@families) . ')') or BAIL_OUT('run make');
my $root = $> == 0;
my $worker_user = $root ? 'nobody:nogroup' : scalar(getpwuid($>));

# A self-signed certificate, as an operator's TLS directory.
my $tls = "$tmp/tls";
make_path($tls);
system("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
       . "-subj /CN=localhost -keyout '$tls/key.pem' -out '$tls/cert.pem' >/dev/null 2>&1") == 0
    or BAIL_OUT('openssl req failed');

# The units' settings: promptd.env (quotes, export, a line that must not
# run) and one family's own prompts.env.
my $etc = "$tmp/etc";
make_path($etc);
spew("$etc/promptd.env", join("\n",
    '# settings every unit reads',
    'PROMPTD_MAX_BODY=131072',
    'export PROMPTD_RATE_API="7r/s"',
    "PROMPTD_CORS_ORIGINS='https://app.t994.example'",
    "PROMPTD_NGINX_STATUS_SOCKET=$tmp/nginx-status.sock",
    "NOT_A_SETTING=\$(touch $tmp/ran)",
    "#PROMPTD_BURST_API=1", ''));
spew("$etc/prompts.env", "PROMPTD_WORKERS=3\n");

# ---------------------------------------------------------------- bad options
my $bad = "$tmp/bad";
make_path("$tmp/foreign");
spew("$tmp/foreign/nginx.conf", "events {}\n");
for my $case (
    [[], 2, qr/--out DIR is required/],
    [['--out', $bad, '--bogus'], 2, qr/unknown option '--bogus'/],
    [['--out', $bad, '--run-dir'], 2, qr/--run-dir needs a value/],
    [['--out', $bad, '--run-dir', 'run/promptd'], 1, qr/--run-dir must be an absolute path/],
    [['--out', $bad, '--log-dir', '/var/log/pro mptd'], 1, qr/--log-dir .* must not contain spaces/],
    [['--out', $bad, '--tls-dir', "$tmp/no-tls"], 1, qr{TLS is on but \Q$tmp\E/no-tls/cert\.pem or .*key\.pem is missing.*--no-tls}],
    [['--out', $bad, '--no-tls', '--listen', 'localhost'], 1, qr/--listen must be an IPv4 address/],
    [['--out', $bad, '--no-tls', '--http-port', '70000'], 1, qr/must be ports, 1\.\.65535/],
    [['--out', $bad, '--no-tls', '--user', 'www data'], 1, qr/--user must be USER or USER:GROUP/],
    [['--out', $bad, '--no-tls', '--env', "$tmp/missing.env"], 1, qr/--env \Q$tmp\E\/missing\.env: no such readable file/],
    [['--out', "$tmp/foreign", '--no-tls'], 1, qr/foreign\/nginx\.conf exists and is not one promptd-stack wrote/],
) {
    my ($args, $want, $re) = @$case;
    my ($rc, $out, $err) = stack('nginx-config', @$args);
    my $name = 'nginx-config ' . join(' ', @$args);
    is($rc, $want, "$name: exit $want");
    like($err, $re, '  saying why');
}
ok(!-e $bad, 'no bad invocation wrote anything');
is(slurp("$tmp/foreign/nginx.conf"), "events {}\n", "another program's nginx.conf is left alone");

# ---------------------------------------------------------------- a host's files
# Defaults but for what nginx -t must reach (ports, logs, caches, pid):
# the sockets are the units' /run/promptd.
my ($http, $https) = Promptd::Test::_free_ports(2, '127.0.0.1');
my $host = "$tmp/host";
my @common = ('--log-dir', "$tmp/log", '--cache-dir', "$tmp/cache", '--pid-file', "$tmp/nginx.pid",
              '--listen', '127.0.0.1', '--http-port', $http, '--https-port', $https, '--env', "$etc/promptd.env");
my ($rc, $out, $err) = stack('nginx-config', '--out', $host, '--tls-dir', $tls, @common);
is($rc, 0, 'nginx-config --out DIR (run directory: the default)') or diag($err);
like($out, qr{wrote \Q$host\E/nginx\.conf}, '  says what it wrote');
like($out, qr{PROMPTD_SHARE_VIEW_LOG=\Q$tmp\E/log/share-views\.log}, '  and the settings the units need to match it');
ok(-f "$host/$_", "  $_") for qw(nginx.conf upstreams.conf headers.conf fastcgi.conf problem.conf
    admin.conf admin-headers.conf static/admin/config.json);
is_deeply([sort map { m{/([^/]+)\.conf\z} } glob("$host/families/*.conf")], \@families, '  families/: one per family');
ok(-f "$host/http.d/status.conf" && -f "$host/http.d/share.conf", '  http.d/: the families\' http-level pieces');
ok(-d "$tmp/cache/tmp" && -d "$tmp/cache/cache", '  the cache directory\'s tmp/ and cache/ made');
is_deeply([placeholders($host)], [], '  no placeholder left in any file');
my $u = upstreams($host);
is_deeply($u, { gateway => 'unix:/run/promptd/gateway/gateway.sock',
                map { ($_ => "unix:/run/promptd/$_.sock") } @families },
          '  every upstream on the units\' socket: /run/promptd/FAMILY.sock, the gateway\'s');
my $conf = slurp("$host/nginx.conf");
like($conf, qr/^user www-data www-data;$/m, '  nginx\'s workers: www-data (the sockets\' group)');
like($conf, qr{^pid \Q$tmp\E/nginx\.pid;$}m, '  the pid file');
like($conf, qr{^error_log \Q$tmp\E/log/nginx-error\.log warn;$}m, '  the error log');
like($conf, qr{client_body_temp_path \Q$tmp\E/cache/tmp/body;}, '  temp files in the cache directory');
like($conf, qr{^\s+listen 127\.0\.0\.1:$https ssl http2 default_server;$}m, '  TLS listener');
like($conf, qr{^\s+ssl_certificate \Q$tls\E/cert\.pem;$}m, '  with the certificate of --tls-dir');
like($conf, qr/client_max_body_size 131072;/, '  promptd.env: PROMPTD_MAX_BODY');
like($conf, qr{zone=api:10m rate=7r/s;}, '  promptd.env: PROMPTD_RATE_API (quoted, export)');
like($conf, qr{"https://app\.t994\.example" \$http_origin;}, '  promptd.env: PROMPTD_CORS_ORIGINS');
like(slurp("$host/http.d/status.conf"), qr{listen unix:\Q$tmp\E/nginx-status\.sock;}, '  promptd.env: PROMPTD_NGINX_STATUS_SOCKET');
like(slurp("$host/upstreams.conf"), qr/upstream prompts \{\s*server \S+;\s*keepalive 48;/, '  prompts.env: 3 workers, 48 kept connections');
like(slurp("$host/upstreams.conf"), qr/upstream auth \{\s*server \S+;\s*keepalive 64;/, '  others: the units\' 4 workers, 64');
unlike(slurp("$host/upstreams.conf"), qr/upstream billing \{[^}]*keepalive/, '  billing: a connection per request');
ok(!-e "$tmp/ran", '  nothing in promptd.env is run');
my ($trc, $tout) = nginx_t($host);
is($trc, 0, 'nginx -t accepts it') or diag($tout);

# Rendered again into the same directory: allowed (its own nginx.conf).
($rc, $out, $err) = stack('nginx-config', '--out', $host, '--no-tls', @common);
is($rc, 0, 'again into the same directory, --no-tls') or diag($err);
$conf = slurp("$host/nginx.conf");
unlike($conf, qr/^\s+listen \S+ ssl/m, '  no TLS listener');
unlike($conf, qr/^\s+ssl_certificate/m, '  no certificate');
is_deeply([placeholders($host)], [], '  no placeholder left');
($trc, $tout) = nginx_t($host);
is($trc, 0, '  nginx -t accepts it') or diag($tout);

# ---------------------------------------------------------------- served
# A running stack's sockets as the run directory: a real nginx on the
# rendered files answers through them.
my $s = Promptd::Test->new(PROMPTD_WORKERS => 1, PROMPTD_JOBS_DAEMONS => 0, PROMPTD_MEDIA => 0);
my $run = $s->var_dir . '/run';
my $live = "$tmp/live";
($http, $https) = Promptd::Test::_free_ports(2, '127.0.0.1');
my @live = ('nginx-config', '--out', $live, '--run-dir', $run, '--tls-dir', $tls, '--user', $worker_user,
    '--log-dir', "$tmp/live-log", '--cache-dir', "$tmp/live-cache", '--pid-file', "$tmp/live-nginx.pid",
    '--listen', '127.0.0.1', '--http-port', $http, '--https-port', $https, '--env', "$etc/promptd.env");
($rc, $out, $err) = Promptd::Test::_capture([$STACK, @live], { PROMPTD_VAR_DIR => $s->var_dir }, 1);
is($rc, 0, 'nginx-config --run-dir <a running stack\'s run directory>') or diag($err);
is_deeply(upstreams($live), { gateway => "unix:$run/gateway/gateway.sock",
                              map { ($_ => "unix:$run/$_.sock") } @families },
          '  every upstream on that directory\'s sockets');
($trc, $tout) = nginx_t($live);
is($trc, 0, '  nginx -t accepts it') or diag($tout);

my $pid = fork // die "fork: $!";
if (!$pid) {
    open(STDIN, '<', '/dev/null');
    open(STDOUT, '>', "$tmp/live-nginx.out");
    open(STDERR, '>&', \*STDOUT);
    exec $NGINX, '-p', $live, '-c', "$live/nginx.conf", '-g', 'daemon off;' or POSIX::_exit(127);
}
my $ua = HTTP::Tiny->new(timeout => 10);
my $base = "http://127.0.0.1:$http";
my $r;
for (1 .. 200) {
    $r = $ua->get("$base/healthz");
    last if $r->{status} != 599;
    last if waitpid($pid, POSIX::WNOHANG()) == $pid;
    select(undef, undef, undef, 0.05);
}
$r = $ua->get("$base/readyz");
is($r->{status}, 200, 'GET /readyz through the rendered nginx: 200') or diag(slurp("$tmp/live-nginx.out"), slurp("$tmp/live-log/nginx-error.log"));
is(eval { decode_json($r->{content})->{status} }, 'ready', '  {"status":"ready"}');
ok($r->{headers}{'x-request-id'}, '  with X-Request-Id (headers.conf)');

my ($alice, $tok) = $s->users('alice');
$r = $ua->request(POST => "$base/api/v1/prompts", {
    headers => { Authorization => "Bearer $tok", 'Content-Type' => 'application/json' },
    content => encode_json({ title => 'Through the host nginx', content => 'Hello {{name}}' }) });
is($r->{status}, 201, 'POST /api/v1/prompts with a token: 201') or diag($r->{content});
my $id = eval { decode_json($r->{content})->{id} } // '';
is(db1("select title from prompts where id = '$id' and user_id = '$alice'"), 'Through the host nginx',
   '  the row is in the database, owned by the caller');
$r = $ua->get("$base/api/v1/prompts/$id", { headers => { Authorization => "Bearer $tok" } });
is($r->{status}, 200, 'GET /api/v1/prompts/{id} with the token: 200');
is(eval { decode_json($r->{content})->{content} }, 'Hello {{name}}', '  its content');
$r = $ua->get("$base/api/v1/prompts/$id");
is($r->{status}, 401, '  without a token: 401');
SKIP: {
    skip 'curl not installed', 1 unless `command -v curl 2>/dev/null`;
    my $st = `curl -ks -o /dev/null -w '%{http_code}' -m 10 'https://127.0.0.1:$https/readyz'`;
    is($st, '200', 'GET /readyz over TLS (--tls-dir\'s certificate): 200');
}
my @lines = grep { /"uri":"\/readyz"/ } split /\n/, slurp("$tmp/live-log/nginx-access.log") // '';
ok(scalar(@lines) >= 1, 'the requests are in --log-dir\'s access log (they went through this nginx)');

# A placeholder no setting fills: the render stops naming it, and stops
# nothing of the stack whose run directory and VAR it was given (the
# stack's fail() would).
my $src2 = "$tmp/src";
make_path("$src2/nginx");
system('cp', '-R', "$SRC/nginx/.", "$src2/nginx/") == 0 or die 'cp nginx failed';
spew("$src2/nginx/headers.conf", slurp("$SRC/nginx/headers.conf") . "add_header X-T994 \@NO_SUCH_NAME\@;\n");
($rc, $out, $err) = Promptd::Test::_capture([$STACK, @live, '--out', "$tmp/unknown"],
    { PROMPTD_SRC_DIR => $src2, PROMPTD_VAR_DIR => $s->var_dir }, 1);
is($rc, 1, 'a template with an unknown placeholder: exit 1');
like($err, qr/rendering \Q$src2\E\/nginx\/headers\.conf: unknown \@NO_SUCH_NAME\@/, '  naming the template and the placeholder');
is($s->request(GET => '/readyz')->{status}, 200, '  the stack on that run directory still answers (nginx-config stops nothing)');
is($ua->get("$base/readyz")->{status}, 200, '  and so does the rendered nginx');

kill 'TERM', $pid;
my $gone;
for (1 .. 200) {
    if (waitpid($pid, POSIX::WNOHANG()) == $pid) { $gone = 1; last }
    select(undef, undef, undef, 0.05);
}
if (!$gone) { kill 'KILL', $pid; waitpid($pid, 0) }
ok($gone, 'the rendered nginx stops on SIGTERM');
$s->stop;

# ---------------------------------------------------------------- installed
# make install puts promptd-stack in bin/; a copy of the tree moved
# elsewhere renders the templates and workers installed beside it (a
# marker only the installed template has; a family removed from it).
my $dest = "$tmp/dest";
my $mo = `make -s -C '$BUILD' install DESTDIR='$dest' 2>&1`;
is($? >> 8, 0, 'make install DESTDIR=...') or diag($mo);
my ($inst) = grep { length } split /\n/, `find '$dest' -path '*/bin/promptd-stack'`;
ok($inst && -x $inst, 'bin/promptd-stack installed') or BAIL_OUT('not installed');
(my $prefix = $inst) =~ s{/bin/promptd-stack\z}{};
my $moved = "$tmp/moved";
system('cp', '-a', $prefix, $moved) == 0 or die 'cp failed';
spew("$moved/share/promptd/nginx/headers.conf",
     slurp("$moved/share/promptd/nginx/headers.conf") . "# t994: the installed copy's template\n");
unlink("$moved/libexec/promptd/analytics.fcgi") or die "analytics.fcgi: $!";
($rc, $out, $err) = Promptd::Test::_capture(['env', '-u', 'PROMPTD_BUILD_DIR', '-u', 'PROMPTD_SRC_DIR',
    "$moved/bin/promptd-stack", 'nginx-config', '--out', "$tmp/installed", '--no-tls', @common], {}, 1);
is($rc, 0, 'the installed promptd-stack, moved, renders') or diag($err);
like(slurp("$tmp/installed/headers.conf"), qr/# t994: the installed copy's template/, '  from the templates beside it');
my @inst = grep { $_ ne 'analytics' } @families;
is_deeply(upstreams("$tmp/installed"), { gateway => 'unix:/run/promptd/gateway/gateway.sock',
                                         map { ($_ => "unix:/run/promptd/$_.sock") } @inst },
          '  for the workers beside it (analytics removed: no upstream)');
is_deeply([placeholders("$tmp/installed")], [], '  no placeholder left');
($trc, $tout) = nginx_t("$tmp/installed");
is($trc, 0, '  nginx -t accepts it') or diag($tout);

done_testing();
