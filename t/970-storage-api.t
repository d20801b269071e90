#!/usr/bin/perl
# 970-storage-api.t: the storage family (/storage/v1, Supabase Storage's API): buckets, uploads (raw and multipart, upsert, update), downloads (ETag, Range, 304), info, list, move, copy, remove, signed download and upload URLs, sniffed types, limits, dedup in chunks, other users' objects by every path, bad input.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(sha256_hex);
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use Test::More;
use Promptd::Test qw(db1 api req problem_ok);
use Promptd::Image qw(png);

my $MAX = 3 * 1024 * 1024;
my $s = Promptd::Test->new(PROMPTD_WORKERS => 2, PROMPTD_STORAGE_MAX_FILE => $MAX);
my ($alice, $ta, $bob, $tb) = $s->users(qw(alice bob));

# storage_ok($response, $status, $name, $error_re): the status, problem+json
# with Supabase Storage's statusCode/error/message beside RFC 9457's members.
sub storage_ok {
    my ($r, $status, $name, $re) = @_;
    problem_ok($r, $status, $name, $re);
    is($r->{json}{statusCode}, "$status", "$name: statusCode");
    ok(defined $r->{json}{error} && $r->{json}{message} eq $r->{json}{detail}, "$name: error and message");
}
sub upload {
    my ($tok, $path, $body, %h) = @_;
    my $method = delete $h{method} // 'POST';
    $h{'Content-Type'} //= 'application/octet-stream';
    return api($tok, $method => "/storage/v1/object/$path", body => $body, headers => \%h);
}
sub objects { db1("select count(*) from storage.objects where bucket_id = '$_[0]'") }
sub blobs { db1("select count(*) from promptd.storage_blobs where bucket_id = '$_[0]'") }

# ---------------------------------------------------------------- buckets
my $r = api($ta, POST => '/storage/v1/bucket', json => { id => 'docs', name => 'docs', public => JSON::PP::false,
                                                         file_size_limit => '2MB' });
is($r->{status}, 200, 'create a bucket') or diag $r->{body};
is_deeply($r->{json}, { name => 'docs' }, '... answers {name}');
is_deeply($s->psql("select owner, public::text, file_size_limit from storage.buckets where id = 'docs'"),
          [[ $alice, 'false', 2000000 ]], '... owned by the caller, limit "2MB" = 2000000 bytes');
storage_ok(api($ta, POST => '/storage/v1/bucket', json => { id => 'docs' }), 409, 'the same id again', qr/exists/);
is(api($ta, POST => '/storage/v1/bucket', json => { id => 'pics', public => JSON::PP::true,
                                                    allowed_mime_types => ['image/*'] })->{status}, 200,
   'a public bucket for images');
my $nb = db1('select count(*) from storage.buckets');
for my $c ([ { id => 'a/b' }, 400, 'a slash' ], [ { id => 'public' }, 400, 'a route word' ],
           [ { id => 'x' x 101 }, 400, '101 characters' ], [ { id => ' x' }, 400, 'a leading space' ],
           [ { id => 42 }, 422, 'a number' ], [ {}, 422, 'no id' ],
           [ { id => 'ok1', public => 'yes' }, 422, 'public not a boolean' ],
           [ { id => 'ok2', file_size_limit => 'lots' }, 422, 'a size that is not one' ],
           [ { id => 'ok3', file_size_limit => 10 * $MAX }, 422, 'a limit over the server\'s' ],
           [ { id => 'ok4', allowed_mime_types => ['png'] }, 422, 'a type without a slash' ],
           [ { id => 'ok5', allowed_mime_types => 'image/png' }, 422, 'types not an array' ],
           [ { id => 'ok6', colour => 'red' }, 422, 'an unknown member' ]) {
    storage_ok(api($ta, POST => '/storage/v1/bucket', json => $c->[0]), $c->[1], "bucket: $c->[2]");
}
storage_ok(api($ta, POST => '/storage/v1/bucket', body => '{"id":', headers => { 'Content-Type' => 'application/json' }),
           400, 'bucket: malformed JSON');
is(db1('select count(*) from storage.buckets'), $nb, '... no bucket was made by any of them');
my $l = api($ta, GET => '/storage/v1/bucket');
is_deeply([ map { $_->{id} } @{ $l->{json} } ], [qw(docs pics)], 'list: the caller\'s buckets');
is_deeply([ @{ $l->{json}[1] }{qw(public type)} ], [ JSON::PP::true, 'STANDARD' ], '... with their settings');
is_deeply(api($tb, GET => '/storage/v1/bucket')->{json}, [], 'bob sees none of them');
is(api($ta, GET => '/storage/v1/bucket/pics')->{json}{allowed_mime_types}[0], 'image/*', 'get one');
storage_ok(api($tb, GET => '/storage/v1/bucket/pics'), 404, 'bob gets alice\'s bucket', qr/Bucket not found/);
storage_ok(api($tb, PUT => '/storage/v1/bucket/pics', json => { public => JSON::PP::false }), 404, 'bob updates it');
is(db1("select public::text from storage.buckets where id = 'pics'"), 'true', '... unchanged');
is(api($ta, PUT => '/storage/v1/bucket/docs', json => { file_size_limit => 2500000 })->{json}{message},
   'Successfully updated', 'update a bucket');
is(db1("select file_size_limit from storage.buckets where id = 'docs'"), 2500000, '... stored');
storage_ok(req(GET => '/storage/v1/bucket', headers => { 'X-API-Key' => 'pmtd_nope' }), 401, 'a bad API key');
storage_ok(req(GET => '/storage/v1/bucket'), 401, 'no credential');
storage_ok(req(GET => '/storage/v1/bucket', headers => { Authorization => 'Bearer not.a.jwt' }), 401, 'a bad token');

# ---------------------------------------------------------------- uploads
my $text = "hello, storage\n";
$r = upload($ta, 'docs/notes/hello.txt', $text, 'Content-Type' => 'text/plain;charset=UTF-8',
            'Cache-Control' => 'max-age=60', 'x-metadata' => encode_base64('{"a":1}', ''));
is($r->{status}, 200, 'upload a raw body') or diag $r->{body};
like($r->{json}{Id}, qr/^[0-9a-f-]{36}$/, '... answers Id');
is($r->{json}{Key}, 'docs/notes/hello.txt', '... and Key');
my $meta = decode_json(db1("select metadata from storage.objects where id = '$r->{json}{Id}'"));
is_deeply([ @$meta{qw(size mimetype cacheControl eTag)} ],
          [ length $text, 'text/plain', 'max-age=60', '"' . sha256_hex($text) . '"' ],
          '... metadata: size, the sniffed type, cache control, ETag = SHA-256');
is(db1("select user_metadata->>'a' from storage.objects where id = '$r->{json}{Id}'"), 1, '... user metadata (x-metadata)');
is(db1("select encode(sha256, 'hex') from promptd.storage_blobs b join storage.objects o on o.blob_id = b.id "
     . "where o.id = '$r->{json}{Id}'"), sha256_hex($text), '... its blob is addressed by the SHA-256');
storage_ok(upload($ta, 'docs/notes/hello.txt', 'other'), 409, 'the same name again', qr/already exists/);
$r = upload($ta, 'docs/notes/hello.txt', "v2\n", 'x-upsert' => 'true');
is($r->{status}, 200, 'x-upsert replaces it') or diag $r->{body};
is(api($ta, GET => '/storage/v1/object/docs/notes/hello.txt')->{body}, "v2\n", '... the new bytes are served');
is(upload($ta, 'docs/notes/hello.txt', $text, method => 'PUT')->{status}, 200, 'PUT updates an object');
is(api($ta, GET => '/storage/v1/object/docs/notes/hello.txt')->{body}, $text, '... the bytes are back');
storage_ok(upload($ta, 'docs/none.txt', 'x', method => 'PUT'), 404, 'PUT on no object', qr/not found/);
storage_ok(upload($ta, 'nobucket/a.txt', 'x'), 404, 'upload into no bucket', qr/Bucket not found/);

# multipart/form-data as storage-js sends a Blob: cacheControl, metadata, the file as part "".
my $png = png(40, 30);
my $bd = '----formdata-undici-0123456789';
my $form = "--$bd\r\nContent-Disposition: form-data; name=\"cacheControl\"\r\n\r\n3600\r\n"
         . "--$bd\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n{\"k\":\"v\"}\r\n"
         . "--$bd\r\nContent-Disposition: form-data; name=\"\"; filename=\"blob\"\r\n"
         . "Content-Type: image/png\r\n\r\n$png\r\n--$bd--\r\n";
$r = upload($ta, 'pics/a.png', $form, 'Content-Type' => "multipart/form-data; boundary=$bd");
is($r->{status}, 200, 'a multipart upload') or diag $r->{body};
is_deeply($s->psql("select metadata->>'mimetype', (metadata->>'size')::int, metadata->>'cacheControl', "
                 . "user_metadata->>'k' from storage.objects where bucket_id = 'pics' and name = 'a.png'"),
          [[ 'image/png', length $png, 'max-age=3600', 'v' ]], '... the file part, its fields');
is(api($ta, GET => '/storage/v1/object/pics/a.png')->{body}, $png, '... the PNG comes back whole');
for my $c (["--$bd\r\nContent-Disposition: form-data; name=\"cacheControl\"\r\n\r\n3600\r\n--$bd--\r\n", 'no file part'],
           ["--$bd\r\nContent-Disposition: form-data; name=\"\"; filename=\"b\"\r\n\r\nabc", 'truncated'],
           ["--$bd\r\nContent-Disposition: form-data; name=\"cacheControl\"\r\n\r\nsoon\r\n--$bd\r\n"
            . "Content-Disposition: form-data; name=\"\"; filename=\"b\"\r\n\r\nabc\r\n--$bd--\r\n", 'a bad cacheControl']) {
    storage_ok(upload($ta, 'docs/form.bin', $c->[0], 'Content-Type' => "multipart/form-data; boundary=$bd"),
               400, "multipart: $c->[1]");
}
storage_ok(upload($ta, 'docs/form.bin', 'x', 'Content-Type' => 'multipart/form-data'), 400, 'multipart: no boundary');
is(db1("select count(*) from storage.objects where name = 'form.bin'"), 0, '... none stored');

# ------------------------------------------------------------ chunks, dedup
my $big = join '', map { pack('N', $_ * 2654435761 % 4294967296) } 1 .. 600_000;   # 2.4 MB
$r = upload($ta, 'docs/big.bin', $big);
is($r->{status}, 200, 'a 2.4 MB file') or diag $r->{body};
is(db1("select chunks from promptd.storage_blobs b join storage.objects o on o.blob_id = b.id where o.name = 'big.bin'"),
   3, '... stored in three 1 MiB chunks');
is(db1("select max(octet_length(data)) from promptd.storage_chunks"), 1048576, '... none larger');
my $b0 = blobs('docs');
is(upload($ta, 'docs/copy-of-big.bin', $big)->{status}, 200, 'the same bytes under another name');
is(blobs('docs'), $b0, '... deduplicated: no new blob');
is(db1("select count(distinct blob_id) from storage.objects where name in ('big.bin', 'copy-of-big.bin')"), 1,
   '... both objects name one blob');
my $d = api($ta, GET => '/storage/v1/object/docs/big.bin');
ok($d->{body} eq $big, 'downloaded whole, across chunks');
is($d->{headers}{'content-length'}, length $big, '... Content-Length');
is($d->{headers}{etag}, '"' . sha256_hex($big) . '"', '... ETag = SHA-256');
like($d->{headers}{'cache-control'}, qr/^private/, '... private: never in a shared cache');
is($d->{headers}{'x-cache-status'}, undef, '... not through the cache');

# ------------------------------------------------------- ranges, conditional
$r = api($ta, GET => '/storage/v1/object/docs/big.bin', headers => { Range => 'bytes=1048570-1048589' });
is($r->{status}, 206, 'a range across a chunk edge -> 206');
is($r->{body}, substr($big, 1048570, 20), '... the bytes');
is($r->{headers}{'content-range'}, "bytes 1048570-1048589/" . length $big, '... Content-Range');
is(api($ta, GET => '/storage/v1/object/docs/big.bin', headers => { Range => 'bytes=-10' })->{body},
   substr($big, -10), 'a suffix range');
is(api($ta, GET => '/storage/v1/object/docs/big.bin', headers => { Range => 'bytes=2399990-' })->{body},
   substr($big, 2399990), 'an open range');
storage_ok(api($ta, GET => '/storage/v1/object/docs/big.bin', headers => { Range => 'bytes=9999999-' }), 416,
           'a range past the end');
$r = api($ta, GET => '/storage/v1/object/docs/big.bin', headers => { 'If-None-Match' => $d->{headers}{etag} });
is($r->{status}, 304, 'If-None-Match -> 304');
is($r->{body}, '', '... no body');
$r = api($ta, HEAD => '/storage/v1/object/docs/big.bin');
is($r->{status}, 200, 'HEAD -> 200 (exists)');
is($r->{headers}{'content-length'}, length $big, '... the length, no body');
storage_ok(api($ta, GET => '/storage/v1/object/docs/none.bin'), 404, 'a missing object', qr/not found/i);

# --------------------------------------------------------------- info, list
$r = api($ta, GET => '/storage/v1/object/info/docs/big.bin');
is($r->{status}, 200, 'info');
is_deeply([ @{ $r->{json} }{qw(name bucket_id size content_type)} ],
          [ 'big.bin', 'docs', length $big, 'application/octet-stream' ], '... name, bucket, size, type');
is(api($ta, GET => '/storage/v1/object/info/authenticated/docs/big.bin')->{json}{etag}, $d->{headers}{etag},
   'info/authenticated: the ETag');
is(upload($ta, 'docs/notes/sub/deep.txt', "deep\n")->{status}, 200, 'a deeper object');
$l = api($ta, POST => '/storage/v1/object/list/docs', json => { prefix => '', limit => 100, offset => 0,
                                                                sortBy => { column => 'name', order => 'asc' } });
is($l->{status}, 200, 'list the top level');
is_deeply([ map { [ $_->{name}, defined $_->{id} ? 'file' : 'folder' ] } @{ $l->{json} } ],
          [ [ 'big.bin', 'file' ], [ 'copy-of-big.bin', 'file' ], [ 'notes', 'folder' ] ],
          '... files and the folder (id null)');
is($l->{json}[0]{metadata}{size}, length $big, '... with metadata');
$l = api($ta, POST => '/storage/v1/object/list/docs', json => { prefix => 'notes' });
is_deeply([ map { $_->{name} } @{ $l->{json} } ], [qw(hello.txt sub)], 'list a folder');
is_deeply([ map { $_->{name} } @{ api($ta, POST => '/storage/v1/object/list/docs',
                                      json => { prefix => '', search => 'COPY' })->{json} } ],
          ['copy-of-big.bin'], 'search (a prefix, any case)');
is_deeply([ map { $_->{name} } @{ api($ta, POST => '/storage/v1/object/list/docs',
                                      json => { limit => 1, offset => 1,
                                                sortBy => { column => 'name', order => 'desc' } })->{json} } ],
          ['copy-of-big.bin'], 'limit, offset, descending');
storage_ok(api($ta, POST => '/storage/v1/object/list/docs', json => { limit => 'ten' }), 422, 'list: a bad limit');
storage_ok(api($ta, POST => '/storage/v1/object/list/docs', json => { sortBy => { column => 'size' } }), 422,
           'list: a bad sort column');

# ----------------------------------------------------- move, copy, remove
$r = api($ta, POST => '/storage/v1/object/move', json => { bucketId => 'docs', sourceKey => 'notes/sub/deep.txt',
                                                           destinationKey => 'deep.txt' });
is($r->{json}{message}, 'Successfully moved', 'move');
is(db1("select count(*) from storage.objects where bucket_id = 'docs' and name = 'deep.txt'"), 1, '... renamed');
storage_ok(api($ta, POST => '/storage/v1/object/move', json => { bucketId => 'docs', sourceKey => 'nope',
                                                                 destinationKey => 'x' }), 404, 'move a missing object');
storage_ok(api($ta, POST => '/storage/v1/object/move', json => { bucketId => 'docs', sourceKey => 'deep.txt',
                                                                 destinationKey => 'big.bin' }), 409,
           'move onto an existing name');
$r = api($ta, POST => '/storage/v1/object/copy', json => { bucketId => 'docs', sourceKey => 'deep.txt',
                                                           destinationKey => 'deep2.txt' });
is($r->{json}{Key}, 'docs/deep2.txt', 'copy');
is(db1("select count(distinct blob_id) from storage.objects where name in ('deep.txt', 'deep2.txt')"), 1,
   '... names the same blob: no bytes copied');
storage_ok(api($ta, POST => '/storage/v1/object/copy', json => { bucketId => 'docs', sourceKey => 5 }), 422,
           'copy: wrong types');
$r = api($ta, DELETE => '/storage/v1/object/docs', json => { prefixes => ['deep2.txt', 'nothing.txt'] });
is($r->{status}, 200, 'remove many');
is_deeply([ map { $_->{name} } @{ $r->{json} } ], ['deep2.txt'], '... answers the objects removed');
is(db1("select count(*) from storage.objects where name = 'deep2.txt'"), 0, '... gone');
storage_ok(api($ta, DELETE => '/storage/v1/object/docs', json => { prefixes => [] }), 422, 'remove: no names');

# ------------------------------------------------------------ other users
my $n = objects('docs');
for my $c ([ GET => '/storage/v1/object/docs/big.bin' ], [ GET => '/storage/v1/object/authenticated/docs/big.bin' ],
           [ GET => '/storage/v1/object/info/docs/big.bin' ], [ GET => '/storage/v1/object/public/docs/big.bin' ],
           [ GET => '/storage/v1/render/image/authenticated/pics/a.png?width=10' ],
           [ POST => '/storage/v1/object/sign/docs/big.bin', json => { expiresIn => 60 } ],
           [ POST => '/storage/v1/object/upload/sign/docs/evil.bin', json => {} ],
           [ POST => '/storage/v1/object/list/docs', json => {} ],
           [ POST => '/storage/v1/object/move', json => { bucketId => 'docs', sourceKey => 'big.bin', destinationKey => 'x' } ],
           [ POST => '/storage/v1/object/copy', json => { bucketId => 'docs', sourceKey => 'big.bin', destinationKey => 'x' } ],
           [ POST => '/storage/v1/bucket/docs/empty' ], [ DELETE => '/storage/v1/bucket/docs' ]) {
    my ($m, $p, @o) = @$c;
    my $x = api($tb, $m => $p, @o);
    is($x->{status}, 404, "bob: $m $p -> 404") or diag $x->{body};
}
is(upload($tb, 'docs/evil.bin', 'x')->{status}, 404, 'bob uploads into alice\'s bucket -> 404');
storage_ok(api($tb, DELETE => '/storage/v1/object/docs', json => { prefixes => ['big.bin'] }), 404,
           'bob removes alice\'s object: no such bucket for him');
is(objects('docs'), $n, '... alice\'s objects are all there');
is(api($tb, POST => '/storage/v1/object/sign/docs', json => { expiresIn => 60, paths => ['big.bin'] })->{json}[0]{signedURL},
   undef, 'bob signs alice\'s object in a batch: no URL');
is($s->psql("begin; set local role authenticated; select set_config('request.jwt.claims', '{\"sub\":\"$bob\",\"role\":\"authenticated\"}', true); "
          . "select count(*) from storage.objects; rollback;")->[-1][0], 0, 'raw SQL as bob sees none of her objects (RLS)');

# -------------------------------------------------------- types and limits
storage_ok(upload($ta, 'docs/fake.png', "<html><script>alert(1)</script></html>\n" x 3, 'Content-Type' => 'image/png'),
           415, 'HTML claimed as a PNG', qr{text/html});
storage_ok(upload($ta, 'pics/page.html', "<html><body>x</body></html>\n", 'Content-Type' => 'text/html'), 415,
           'HTML into an image-only bucket', qr{not supported});
storage_ok(upload($ta, 'pics/notes.txt', "plain\n"), 415, 'text into an image-only bucket');
is(upload($ta, 'docs/page.html', "<!DOCTYPE html><html><body><script>x()</script></body></html>\n",
          'Content-Type' => 'text/html')->{status}, 200, 'an HTML file where any type is allowed');
$r = api($ta, GET => '/storage/v1/object/docs/page.html');
is($r->{headers}{'content-type'}, 'text/html', '... served as text/html');
like($r->{headers}{'content-disposition'}, qr/^attachment; filename="page.html"/, '... as an attachment');
like($r->{headers}{'content-security-policy'}, qr/sandbox/, '... sandboxed');
is($r->{headers}{'x-content-type-options'}, 'nosniff', '... nosniff');
is(upload($ta, 'docs/empty.txt', '')->{status}, 200, 'a 0-byte file');
$r = api($ta, GET => '/storage/v1/object/docs/empty.txt');
is_deeply([ $r->{status}, $r->{headers}{'content-length'}, $r->{body} ], [ 200, 0, '' ], '... served empty');
storage_ok(upload($ta, 'docs/huge.bin', 'x' x 2_600_000), 413, 'over the bucket\'s limit', qr/2500000/);
storage_ok(upload($ta, 'pics/huge.png', "\x89PNG" . ('x' x ($MAX + 10))), 413, 'over PROMPTD_STORAGE_MAX_FILE');
my $over = req(POST => '/storage/v1/object/pics/huge.png', headers => { Authorization => "Bearer $ta" },
               body => 'x' x ($MAX + 70000));
is($over->{status}, 413, 'over nginx\'s body limit -> 413 before a worker');
is(db1("select count(*) from storage.objects where name like 'huge%'"), 0, '... nothing stored');

# ------------------------------------------------- media: strip, active types
sub fixture { my $f = "$FindBin::Bin/unit/data/storage/$_[0]"; open my $fh, '<:raw', $f or die "$f: $!"; local $/; <$fh> }
sub jpeg_dims {   # the first SOFn's height and width
    my ($b) = @_;
    my $i = 2;
    while ($i + 9 < length $b) {
        my ($ff, $m, $len) = unpack('CCn', substr($b, $i, 4));
        return [ unpack('nn', substr($b, $i + 5, 4)) ] if $m >= 0xC0 && $m <= 0xC3;
        $i += 2 + $len;
    }
    return [];
}
my $gps = fixture('gps.jpg');
like($gps, qr/GPS|promptd/, 'the fixture JPEG carries EXIF (Make, GPS)');
is(upload($ta, 'pics/where.jpg', $gps, 'Content-Type' => 'image/jpeg')->{status}, 200, 'upload a JPEG with EXIF GPS');
$r = api($ta, GET => '/storage/v1/object/pics/where.jpg');
is($r->{headers}{'content-type'}, 'image/jpeg', '... served as a JPEG');
unlike($r->{body}, qr/Exif\0\0|promptd/, '... its EXIF is gone (no Exif block, no Make)');
is_deeply(jpeg_dims($r->{body}), [16, 8], '... turned upright first (orientation 6: 8 wide, 16 high)');
is(db1("select (metadata->>'size')::int from storage.objects where name = 'where.jpg'"), length $r->{body},
   '... size and ETag are those of the bytes stored');
storage_ok(upload($ta, 'pics/trick.png', fixture('png-then-html.png'), 'Content-Type' => 'image/png'), 422,
           'a PNG header on an HTML body', qr/cannot be read/);
is(db1("select count(*) from storage.objects where name = 'trick.png'"), 0, '... not stored');
is(upload($ta, 'docs/icon.svg', fixture('icon.svg'), 'Content-Type' => 'image/svg+xml')->{status}, 200,
   'an SVG with a script');
$r = api($ta, GET => '/storage/v1/object/docs/icon.svg');
is($r->{headers}{'content-type'}, 'image/svg+xml', '... served as SVG');
like($r->{headers}{'content-disposition'} // '', qr/^attachment/, '... as an attachment');
like($r->{headers}{'content-security-policy'} // '', qr/sandbox/, '... sandboxed');

# --------------------------------------------------------------- bad names
for my $c ([ 'docs/a/%2e%2e/b.txt', 'an encoded .. segment' ], [ 'docs/a/./b.txt', 'a . segment' ],
           [ 'docs/a%00b.txt', 'a NUL' ], [ 'docs/a%01b.txt', 'a control character' ],
           [ 'docs/' . ('n' x 1030), 'a 1030-byte name' ]) {
    problem_ok(upload($ta, $c->[0], 'x'), 400, "bad name: $c->[1]");
}
is(db1("select count(*) from storage.objects where bucket_id = 'docs' and (name like '%..%' or name like 'a/%')"), 0,
   '... none stored');

# ------------------------------------------------------------ signed URLs
$r = api($ta, POST => '/storage/v1/object/sign/docs/big.bin', json => { expiresIn => 60 });
is($r->{status}, 200, 'sign one');
like($r->{json}{signedURL}, qr{^/object/sign/docs/big\.bin\?token=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$}, '... a signedURL');
my $signed = "/storage/v1$r->{json}{signedURL}";
$r = req(GET => $signed);
ok($r->{status} == 200 && $r->{body} eq $big, 'the signed URL serves the file, no credential');
like($r->{headers}{'cache-control'}, qr/^public, max-age=([0-9]+)$/, '... public, for the URL\'s life at most');
like(req(GET => $signed)->{headers}{'x-cache-status'}, qr/^(HIT|REVALIDATED)$/,
     '... the second read comes from the cache (HIT, or REVALIDATED past the second)');
(my $tampered = $signed) =~ s/\.([A-Za-z0-9_-])/'.' . ($1 eq 'A' ? 'B' : 'A')/e;
storage_ok(req(GET => $tampered), 400, 'a tampered token', qr/signature/i);
(my $other = $signed) =~ s{big\.bin}{copy-of-big.bin};
storage_ok(req(GET => $other), 400, 'a token for another object');
$r = api($ta, POST => '/storage/v1/object/sign/docs', json => { expiresIn => 60, paths => ['big.bin', 'gone.bin'] });
is($r->{status}, 200, 'sign many');
ok($r->{json}[0]{signedURL} && !defined $r->{json}[0]{error}, '... a URL for the object');
ok(!defined $r->{json}[1]{signedURL} && $r->{json}[1]{error}, '... an error for the missing one');
storage_ok(api($ta, POST => '/storage/v1/object/sign/docs/big.bin', json => { expiresIn => 0 }), 422, 'sign: expiresIn 0');
storage_ok(api($ta, POST => '/storage/v1/object/sign/docs/big.bin', json => { expiresIn => 'soon' }), 422,
           'sign: expiresIn not a number');
my $short = req(GET => '/storage/v1' . api($ta, POST => '/storage/v1/object/sign/docs/deep.txt',
                                            json => { expiresIn => 1 })->{json}{signedURL});
is($short->{status}, 200, 'a one-second URL works at once');
sleep 2;
$r = api($ta, POST => '/storage/v1/object/sign/docs/deep.txt', json => { expiresIn => 1 });
sleep 2;
storage_ok(req(GET => "/storage/v1$r->{json}{signedURL}"), 400, 'an expired signed URL', qr/expired/);

# revoke: gone within 2 s even though the cache held it
$r = api($ta, POST => '/storage/v1/object/sign/docs/copy-of-big.bin', json => { expiresIn => 3600 });
my $rv = "/storage/v1$r->{json}{signedURL}";
is(req(GET => $rv)->{status}, 200, 'a signed URL to revoke');
like(req(GET => $rv)->{headers}{'x-cache-status'}, qr/^(HIT|REVALIDATED)$/, '... cached');
is(api($ta, DELETE => '/storage/v1/object/sign/docs/copy-of-big.bin')->{json}{revoked}, 1, 'revoke its URLs');
my $t0 = time;
ok($s->wait_for(sub { req(GET => $rv)->{status} == 404 }, timeout => 5), '... the URL answers 404');
cmp_ok(time - $t0, '<=', 3, '... within 2 s (whole seconds)');

# signed upload URLs
$r = api($ta, POST => '/storage/v1/object/upload/sign/docs/dropped.txt', json => {});
is($r->{status}, 200, 'a signed upload URL');
like($r->{json}{url}, qr{^/object/upload/sign/docs/dropped\.txt\?token=}, '... url');
ok($r->{json}{token}, '... token');
my $up = req(PUT => "/storage/v1$r->{json}{url}", body => "dropped\n", headers => { 'Content-Type' => 'text/plain' });
is($up->{status}, 200, 'upload through it, no credential') or diag $up->{body};
is($up->{json}{Key}, 'docs/dropped.txt', '... Key');
is(db1("select owner from storage.objects where name = 'dropped.txt'"), $alice, '... owned by the signer');
storage_ok(req(PUT => "/storage/v1$r->{json}{url}", body => "again\n"), 409, 'the URL again (no upsert)');
(my $bad_up = $r->{json}{url}) =~ s/dropped/other/;
storage_ok(req(PUT => "/storage/v1$bad_up", body => "x"), 400, 'its token on another path');
storage_ok(req(PUT => '/storage/v1/object/upload/sign/docs/x.txt?token=abc.def', body => 'x'), 400, 'a forged token');
storage_ok(api($ta, POST => '/storage/v1/object/upload/sign/docs/big.bin', json => {}), 409,
           'an upload URL for an existing object (no upsert)');

# ---------------------------------------------------------- bucket delete
storage_ok(api($ta, DELETE => '/storage/v1/bucket/docs'), 409, 'delete a bucket that is not empty', qr/not empty/);
is(api($ta, POST => '/storage/v1/bucket/docs/empty')->{json}{message}, 'Successfully emptied', 'empty it');
is(objects('docs'), 0, '... no objects left');
is(api($ta, DELETE => '/storage/v1/bucket/docs')->{json}{message}, 'Successfully deleted', 'then delete it');
is(db1("select count(*) from storage.buckets where id = 'docs'"), 0, '... gone');

done_testing;
