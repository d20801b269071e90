#!/usr/bin/perl
# 976-media.t: promptd-media, the processes that sniff, strip and transform for the storage workers: no worker maps libvips or libmagic, the service holds no secret, its protocol refuses what is malformed, and when it is down, stalled or loses a process an upload answers 503 (nothing written) or goes on.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::UNIX;
use Socket qw(SOCK_STREAM);
use Test::More;
use Promptd::Test qw(db1 api problem_ok);
use Promptd::Image qw(png);

my $s = Promptd::Test->new(PROMPTD_WORKERS => 2, PROMPTD_MEDIA_WORKERS => 2,
                           PROMPTD_MEDIA_TIMEOUT_MS => 1500);
my ($alice, $ta) = $s->users(qw(alice));
my $sock = $s->var_dir . '/run/media.sock';

sub slurp { my $f = shift; open my $fh, '<:raw', $f or return ''; local $/; <$fh> }
sub fixture { slurp("$FindBin::Bin/unit/data/storage/$_[0]") }
sub maps { slurp("/proc/$_[0]/maps") }
sub upload {
    my ($path, $body, $type) = @_;
    return api($ta, POST => "/storage/v1/object/$path", body => $body,
               headers => { 'Content-Type' => $type // 'application/octet-stream' });
}
sub rows { db1("select count(*) from storage.objects where name = '$_[0]'") }
sub unavailable_ok {
    my ($r, $name) = @_;
    problem_ok($r, 503, $name, qr/media service/);
    is($r->{json}{error}, 'ServiceUnavailable', "$name: Supabase's error code");
    is($r->{headers}{'retry-after'}, '1', "$name: Retry-After");
}

is(api($ta, POST => '/storage/v1/bucket', json => { id => 'pics', public => JSON::PP::true })->{status}, 200,
   'a public bucket');

# ------------------------------------------------------------- who maps what
my @workers = $s->worker_pids('storage');
my @media = $s->worker_pids('media');
ok(@workers >= 1, 'storage workers run') or diag 'none';
is(scalar @media, 2, 'PROMPTD_MEDIA_WORKERS media processes run');
is(upload('pics/first.png', png(8, 8), 'image/png')->{status}, 200, 'an upload, sniffed by the service');
for my $p (@workers) {
    unlike(maps($p), qr/libvips|libmagic|magic\.mgc/, "storage worker $p maps neither libvips nor libmagic");
}
for my $p (@media) {
    my $m = maps($p);
    ok($m =~ /libvips/ && $m =~ /libmagic/, "media process $p maps libvips and libmagic");
    my %env = map { split /=/, $_, 2 } split /\0/, slurp("/proc/$p/environ");
    is_deeply([ grep { /KEY|SECRET|PASSWORD|DATABASE_URL/ && $_ ne 'PROMPTD_SECRETS_DIR' } keys %env ], [], '... no secret in its environment');
    my $dir = $env{PROMPTD_SECRETS_DIR} // '';
    ok($dir ne '' && -d $dir, '... its secrets directory exists');
    opendir(my $dh, $dir);
    is_deeply([ grep { !/^\./ } readdir $dh ], [], '... and is empty');
}
like(db1("select coalesce(string_agg(application_name, ','), '') from pg_stat_activity"), qr/^(?!.*media)/,
     'the media service holds no database connection');

# -------------------------------------------------- the work goes through it
my $gps = fixture('gps.jpg');
is(upload('pics/where.jpg', $gps, 'image/jpeg')->{status}, 200, 'a JPEG with EXIF GPS');
my $r = api($ta, GET => '/storage/v1/object/pics/where.jpg');
unlike($r->{body}, qr/Exif\0\0|promptd/, '... stripped by the service');
problem_ok(upload('pics/trick.png', fixture('png-then-html.png'), 'image/png'), 422, 'a PNG header on an HTML body',
           qr/cannot be read/);
$r = api($ta, GET => '/storage/v1/render/image/authenticated/pics/first.png?width=4&format=webp');
is($r->{status}, 200, 'a transform') or diag $r->{body};
is($r->{headers}{'content-type'}, 'image/webp', '... made by the service');

# ---------------------------------------------------------------- down
rename($sock, "$sock.off") or die "rename $sock: $!";
my $nblob = db1('select count(*) from promptd.storage_blobs');
unavailable_ok(upload('pics/down.bin', 'x' x 100), 'no service listening: an upload');
is(rows('down.bin'), 0, '... no object');
is(db1('select count(*) from promptd.storage_blobs'), $nblob, '... no blob');
is(db1('select count(*) from promptd.storage_reservations'), 0, '... no reservation left');
unavailable_ok(api($ta, GET => '/storage/v1/render/image/authenticated/pics/first.png?width=5'),
               'no service listening: a transform');
is(api($ta, GET => '/storage/v1/object/pics/first.png')->{status}, 200, '... a download needs no service');
rename("$sock.off", $sock) or die "rename back: $!";
is(upload('pics/up.bin', 'y' x 100)->{status}, 200, 'back: an upload is stored again');

# ---------------------------------------------------------------- stalled
kill 'STOP', @media;
unavailable_ok(upload('pics/stalled.bin', 'z' x 100), 'no answer within PROMPTD_MEDIA_TIMEOUT_MS');
is(rows('stalled.bin'), 0, '... nothing stored');
kill 'CONT', @media;
is(upload('pics/after.bin', 'w' x 100)->{status}, 200, 'resumed: uploads work');
is_deeply([ $s->worker_pids('media') ], \@media, '... the same processes (the dropped answer was no crash)');

# -------------------------------------------------------------- one killed
kill 'KILL', $media[0];
ok($s->wait_for(sub { my @p = $s->worker_pids('media'); @p == 2 && !grep { $_ == $media[0] } @p }),
   'a killed media process is replaced');
for my $i (1 .. 4) {
    is(upload("pics/again$i.png", png(6, 6, $i), 'image/png')->{status}, 200, "upload $i after the replacement");
}

# ------------------------------------------------------- the wire, abused
# ask($bytes, $close_early) -> (status, mime, body) of one exchange, or () when closed.
# (On a Unix socket an answer written before the service closed stays
# readable even when the rest of our input was never read.)
sub ask {
    my ($bytes, $half) = @_;
    local $SIG{PIPE} = 'IGNORE';   # a refusal may come before all of the input is read
    my $c = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $sock) or die "connect: $!";
    $c->autoflush(1);
    print $c $bytes;
    if ($half) { close $c; return }
    shutdown($c, 1);
    my $head = '';
    read($c, $head, 16);
    return () if length $head < 16;
    my ($magic, $st, $ml, $len) = unpack('a4 l> N N', $head);
    my ($mime, $body) = ('', '');
    read($c, $mime, $ml) if $ml;
    read($c, $body, $len) if $len;
    return ($magic eq 'PDM1' ? $st : "bad magic $magic", $mime, $body);
}
sub req { my ($op, $len, %o) = @_;
          pack('a4 C C C C N N N Q> N', 'PDM1', $op, $o{resize} // 0, $o{format} // 0, 0,
               $o{w} // 0, $o{h} // 0, $o{q} // 0, $o{px} // 40_000_000, $len) }
@media = $s->worker_pids('media');
my ($st, $mime) = ask(req(1, 9) . "%PDF-1.4\n");
is($st, 0, 'sniff on the wire: status 0');
is($mime, 'application/pdf', '... the type');
is((ask('GET / HTTP/1.1' . "\r\n" x 9))[0], -12, 'not the protocol: refused');
is((ask(req(1, 70_000) . ('a' x 70_000)))[0], -12, 'a sniff over 64 KiB: refused');
is((ask(req(9, 1) . 'x'))[0], -12, 'an unknown operation: refused');
is((ask(req(3, 4, w => 99_999) . 'abcd'))[0], -12, 'a width over 2500: refused');
is((ask(req(3, 5, w => 10) . 'hello'))[0], -1, 'a transform of text: unsupported (-1)');
is((ask(req(2, 20) . ('q' x 20)))[0], -1, 'a strip of bytes with no image in them: unsupported (-1)');
ask(req(2, 1000) . 'only a little', 1);
ask(substr(req(1, 5), 0, 10), 1);
is_deeply([ $s->worker_pids('media') ], \@media, 'after all of it the same media processes run');
is(upload('pics/last.png', png(5, 5, 9), 'image/png')->{status}, 200, '... and an upload works');

done_testing();
