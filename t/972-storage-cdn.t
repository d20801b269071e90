#!/usr/bin/perl
# 972-storage-cdn.t: storage behind nginx's cache (HIT, ranges from the cache, a deleted object gone within 2 s, immutable versioned URLs), image transforms (sizes, WebP, the bad options, a decompression bomb), storage-bytes quotas exact under concurrent uploads, and garbage collection safe under concurrent uploads of the same bytes.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(sha256_hex);
use HTTP::Tiny;
use JSON::PP;
use Time::HiRes qw(time sleep);
use Test::More;
use Promptd::Test qw(db1 api req problem_ok);
use Promptd::Image qw(png bomb_png);

# Stripping off here: the bomb must be stored to reach the transform.
my $s = Promptd::Test->new(PROMPTD_WORKERS => 4, PROMPTD_STORAGE_STRIP_METADATA => 0);
my ($alice, $ta, $carol, $tc) = $s->users(qw(alice carol));
sub upload {
    my ($tok, $path, $body, %h) = @_;
    $h{'Content-Type'} //= 'application/octet-stream';
    return api($tok, POST => "/storage/v1/object/$path", body => $body, headers => \%h);
}
sub png_dims { my ($b) = @_; substr($b, 0, 8) eq "\x89PNG\r\n\x1a\n" ? [ unpack('NN', substr($b, 16, 8)) ] : [] }
is(api($ta, POST => '/storage/v1/bucket', json => { id => 'site', public => JSON::PP::true })->{status}, 200,
   'a public bucket');

# ------------------------------------------------------------------ the CDN
my $body = join '', map { chr(($_ * 31) % 251) } 1 .. 300_000;
is(upload($ta, 'site/app.bin', $body, 'Cache-Control' => 'max-age=600')->{status}, 200, 'a public object');
my $url = '/storage/v1/object/public/site/app.bin';
my $r = req(GET => $url);
is($r->{status}, 200, 'read with no credential');
ok($r->{body} eq $body, '... the bytes');
is($r->{headers}{'x-cache-status'}, 'MISS', '... first read: MISS');
is($r->{headers}{'cache-control'}, 'public, max-age=600', '... Cache-Control from the upload');
is($r->{headers}{etag}, '"' . sha256_hex($body) . '"', '... ETag = SHA-256');
$r = req(GET => $url);
like($r->{headers}{'x-cache-status'}, qr/^(HIT|REVALIDATED)$/, 'second read: from the cache');
ok($r->{body} eq $body, '... the same bytes');
$r = req(GET => $url, headers => { Range => 'bytes=100-199' });
is($r->{status}, 206, 'a range of the cached file -> 206');
is($r->{body}, substr($body, 100, 100), '... the bytes');
is($r->{headers}{'content-range'}, 'bytes 100-199/300000', '... Content-Range');
my $w0 = db1(q{select count(*) from pg_stat_activity where query like '%storage_chunk_read%'});
sleep 1.2;
$r = req(GET => $url);
like($r->{headers}{'x-cache-status'}, qr/^(REVALIDATED|HIT|EXPIRED)$/, 'after a second: revalidated') or diag $r->{headers}{'x-cache-status'};
ok($r->{body} eq $body, '... same bytes');
is(req(GET => $url, headers => { 'If-None-Match' => '"' . sha256_hex($body) . '"' })->{status}, 304,
   'If-None-Match -> 304');
my $v = sha256_hex($body);
is(req(GET => "$url?version=$v")->{headers}{'cache-control'}, 'public, max-age=31536000, immutable',
   'the content-addressed URL (?version=ETag) is immutable');
is(req(GET => "$url?version=0000")->{headers}{'cache-control'}, 'public, max-age=600',
   '... another version: the upload\'s Cache-Control');
is(api($ta, DELETE => '/storage/v1/object/site', json => { prefixes => ['app.bin'] })->{status}, 200, 'delete it');
my $t0 = time;
ok($s->wait_for(sub { req(GET => $url)->{status} == 404 }, timeout => 6), 'the public URL answers 404');
cmp_ok(time - $t0, '<', 2.5, sprintf('... within 2 s of the delete (%.2f s)', time - $t0));
ok($s->wait_for(sub { req(GET => "$url?version=$v")->{status} == 404 }, timeout => 6), '... and the versioned URL');
cmp_ok(time - $t0, '<', 2.5, sprintf('... within 2 s of the delete too (%.2f s)', time - $t0));
problem_ok(req(GET => '/storage/v1/object/public/site/none.bin'), 404, 'a missing public object');
is(req(GET => '/storage/v1/object/public/site/none.bin')->{headers}{'x-cache-status'}, 'MISS', '... 404s are not cached');
is(api($ta, POST => '/storage/v1/bucket', json => { id => 'private' })->{status}, 200, 'a private bucket');
is(upload($ta, 'private/p.txt', "secret\n")->{status}, 200, '... an object in it');
problem_ok(req(GET => '/storage/v1/object/public/private/p.txt'), 404, 'the public path to a private bucket');
$r = api($ta, GET => '/storage/v1/object/private/p.txt');
is($r->{headers}{'x-cache-status'}, undef, 'an authenticated read never passes the cache');
like($r->{headers}{'cache-control'}, qr/^private/, '... and says private');

# --------------------------------------------------------------- transforms
my $img = png(200, 100);
is(upload($ta, 'site/pic.png', $img, 'Content-Type' => 'image/png')->{status}, 200, 'a 200x100 PNG');
$r = req(GET => '/storage/v1/object/info/public/site/pic.png');
is($r->{status}, 200, 'info of a public object, no credential');
is_deeply([ @{ $r->{json} }{qw(name bucket_id size content_type)} ], [ 'pic.png', 'site', length $img, 'image/png' ],
          '... its name, bucket, size and type');
problem_ok(req(GET => '/storage/v1/object/info/public/private/p.txt'), 404, 'info/public of a private bucket\'s object');
for my $c ([ 'width=50&height=50', [50, 50], 'cover (default): the box' ],
           [ 'width=50&height=50&resize=contain', [50, 25], 'contain: fits inside' ],
           [ 'width=50&height=50&resize=fill', [50, 50], 'fill: stretched' ],
           [ 'width=100', [100, 50], 'width only: aspect kept' ]) {
    $r = api($ta, GET => "/storage/v1/render/image/authenticated/site/pic.png?$c->[0]");
    is($r->{status}, 200, "transform $c->[0]") or diag $r->{body};
    is($r->{headers}{'content-type'}, 'image/png', '... PNG (format origin)');
    is_deeply(png_dims($r->{body}), $c->[1], "... $c->[2]");
}
$r = req(GET => '/storage/v1/render/image/public/site/pic.png?width=40&format=webp&quality=60');
is($r->{status}, 200, 'a public transform to WebP');
is($r->{headers}{'content-type'}, 'image/webp', '... image/webp');
like(substr($r->{body}, 0, 12), qr/^RIFF....WEBP$/s, '... WebP bytes');
like(req(GET => '/storage/v1/render/image/public/site/pic.png?width=40&format=webp&quality=60')->{headers}{'x-cache-status'},
     qr/^(HIT|REVALIDATED)$/, '... cached');
for my $c ([ 'width=0', 'width 0' ], [ 'width=3000', 'width over 2500' ], [ 'quality=5', 'quality 5' ],
           [ 'resize=squash', 'an unknown resize' ], [ 'format=gif', 'an unknown format' ], [ 'height=x', 'height not a number' ]) {
    problem_ok(api($ta, GET => "/storage/v1/render/image/authenticated/site/pic.png?$c->[0]"), 422, "transform: $c->[1]");
}
is(upload($ta, 'site/readme.txt', "text\n")->{status}, 200, 'a text object');
problem_ok(api($ta, GET => '/storage/v1/render/image/authenticated/site/readme.txt?width=10'), 415,
           'transform a non-image', qr/not an image/);
my $bomb = bomb_png(20000, 20000);
cmp_ok(length $bomb, '<', 600_000, sprintf('a 20000x20000 PNG bomb of %d bytes', length $bomb));
is(upload($ta, 'site/bomb.png', $bomb, 'Content-Type' => 'image/png')->{status}, 200, '... stored as it is');
problem_ok(api($ta, GET => '/storage/v1/render/image/authenticated/site/bomb.png?width=10'), 422,
           'transforming the bomb: refused from its header', qr/too many pixels/);
is(req(GET => '/healthz')->{status}, 200, '... the server is fine');
my $signed = api($ta, POST => '/storage/v1/object/sign/site/pic.png',
                 json => { expiresIn => 60, transform => { width => 20, height => 10 } })->{json}{signedURL};
like($signed, qr{^/render/image/sign/site/pic\.png\?token=}, 'a signed URL with a transform');
is_deeply(png_dims(req(GET => "/storage/v1$signed")->{body}), [20, 10], '... serves the transformed image');

# --------------------------------------------------- quota, exact under load
my $chunk = 'q' x 100_000;
$s->promptctl('quota', 'set', $carol, 'storage_bytes=1000000', 'requests_per_minute=100000');
$s->psql('update promptd.quota_settings set enforce = true');
is(api($tc, POST => '/storage/v1/bucket', json => { id => 'carol' })->{status}, 200, 'carol\'s bucket');
my @kids;
for my $i (1 .. 16) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my $res = HTTP::Tiny->new(timeout => 60)->request(POST => $s->url("/storage/v1/object/carol/f$i.bin"),
            { headers => { Authorization => "Bearer $tc", 'Content-Type' => 'application/octet-stream' },
              content => $chunk });
        exit($res->{status} == 200 ? 0 : $res->{status} == 409 ? 1 : 2);
    }
    push @kids, $pid;
}
my %rc;
for (@kids) { waitpid($_, 0); $rc{ $? >> 8 }++ }
is($rc{0}, 10, '16 concurrent 100 kB uploads against 1 MB: exactly 10 stored');
is($rc{1}, 6, '... 6 refused with 409 (quota)');
ok(!$rc{2}, '... nothing else');
is(db1("select sum((metadata->>'size')::int) from storage.objects where owner = '$carol'"), 1_000_000,
   '... exactly the limit is used');
is(db1("select count(*) from promptd.storage_reservations where user_id = '$carol'"), 0, '... no hold left');
$r = api($tc, POST => '/storage/v1/object/carol/one-more.bin', body => 'x',
         headers => { 'Content-Type' => 'application/octet-stream' });
problem_ok($r, 409, 'one byte more', qr/storage_bytes|quota/i);
is(api($tc, POST => '/storage/v1/object/copy', json => { bucketId => 'carol', sourceKey => 'f1.bin',
                                                          destinationKey => 'copy.bin' })->{status}, 409,
   'a copy counts too');
is(api($tc, DELETE => '/storage/v1/object/carol', json => { prefixes => ['f1.bin', 'f2.bin', 'f3.bin',
   'f4.bin', 'f5.bin', 'f6.bin', 'f7.bin', 'f8.bin', 'f9.bin', 'f10.bin', 'f11.bin', 'f12.bin', 'f13.bin',
   'f14.bin', 'f15.bin', 'f16.bin'] })->{status}, 200, 'deleting frees the quota');
is(upload($tc, 'carol/again.bin', $chunk)->{status}, 200, '... an upload fits again');
$s->psql('update promptd.quota_settings set enforce = false');

# ------------------------------------------- garbage collection, concurrently
my $same = 'G' x 1_500_000;   # two chunks
is(upload($ta, 'site/g0.bin', $same)->{status}, 200, 'a 1.5 MB object');
my $blob = db1("select blob_id from storage.objects where name = 'g0.bin'");
is(api($ta, DELETE => '/storage/v1/object/site', json => { prefixes => ['g0.bin'] })->{status}, 200, 'deleted');
is(db1("select count(*) from promptd.storage_blobs where id = $blob"), 1, '... its blob waits for the GC');
is(db1('select (promptd.storage_gc(1000, 3600))->>\'blobs\''), 0, 'the GC spares it within the grace period');
# The same bytes uploaded over and over while the GC runs with no grace:
# every upload either reuses the blob under a lock or writes its own, and
# every object stored reads back whole.
my $gc = fork // die;
if ($gc == 0) {
    my $end = time + 4;
    while (time < $end) { eval { $s->psql('select promptd.storage_gc(1000, 0)') }; sleep 0.05 }
    exit 0;
}
my ($ok, $bad) = (0, 0);
for my $i (1 .. 12) {
    my $u = upload($ta, "site/g$i.bin", $same);
    $u->{status} == 200 ? $ok++ : $bad++;
    diag $u->{body} if $u->{status} != 200;
    api($ta, DELETE => '/storage/v1/object/site', json => { prefixes => ["g$i.bin"] }) if $i % 2;
}
waitpid($gc, 0);
is($ok, 12, 'twelve uploads of the same bytes during the GC: all stored');
is($bad, 0, '... none failed');
my @kept = map { "g$_.bin" } grep { $_ % 2 == 0 } 1 .. 12;
my $intact = grep { api($ta, GET => "/storage/v1/object/site/$_")->{body} eq $same } @kept;
is($intact, 6, '... the six kept read back whole');
is(db1("select count(distinct blob_id) from storage.objects where name like 'g%.bin'"), 1, '... naming one blob');
is(db1("select count(*) from promptd.storage_chunks c join storage.objects o on o.blob_id = c.blob_id "
     . "where o.name = 'g2.bin'"), 2, '... with both its chunks');
# the storage.gc job, through the jobs daemon
is(api($ta, DELETE => '/storage/v1/object/site', json => { prefixes => \@kept })->{status}, 200, 'delete the rest');
my $id = ($s->promptctl('jobs', 'enqueue', 'storage.gc', '--payload', '{"grace": 0}') =~ /"first_id": (\d+)/)[0];
ok($s->wait_for(sub { (db1("select state from background_jobs where id = $id") // '') eq 'succeeded' }, timeout => 30),
   'the storage.gc job ran');
cmp_ok(db1("select (result->>'blobs')::int from background_jobs where id = $id"), '>=', 1, '... removing blobs');
is(db1("select count(*) from promptd.storage_blobs b where not exists "
     . "(select 1 from storage.objects o where o.blob_id = b.id)"), 0, '... none unreferenced is left');
is(db1("select count(*) from promptd.storage_chunks c where not exists "
     . "(select 1 from promptd.storage_blobs b where b.id = c.blob_id)"), 0, '... nor any chunk of one');

done_testing;
