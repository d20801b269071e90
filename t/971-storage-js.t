#!/usr/bin/perl
# 971-storage-js.t: the official @supabase/storage-js client, unchanged, pointed at promptd: buckets (create, list, get, update, empty, delete), upload (string, Blob as multipart, upsert), update, list, info, exists, download, signed URLs (one, many, upload), public URL, move, copy, remove, and its errors.
#
# Uses @supabase/storage-js from $PROMPTD_BUILD_DIR/t/.npm (a dependency of
# @supabase/supabase-js 2.109.0, which ./bootstrap installs there; installed
# here on first run when absent); skipped when node/npm are missing.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Copy qw(copy);
use JSON::PP;
use Test::More;
use Promptd::Test qw(db1);

my $build = $ENV{PROMPTD_BUILD_DIR} || "$FindBin::Bin/..";
my $prefix = "$build/t/.npm";
sub have { my $c = shift; system("command -v $c >/dev/null 2>&1") == 0 }
plan skip_all => 'node and npm are required (not found)' unless have('node') && have('npm');
my $npm_lock = Promptd::Test::npm_lock($build);
unless (-d "$prefix/node_modules/\@supabase/storage-js") {
    mkdir "$build/t"; mkdir $prefix;
    my $log = `cd '$prefix' && npm install --no-audit --no-fund --loglevel=error \@supabase/supabase-js\@2.109.0 2>&1`;
    plan skip_all => 'npm install @supabase/supabase-js failed: ' . substr($log, 0, 200)
        if $? != 0 || !-d "$prefix/node_modules/\@supabase/storage-js";
}
close $npm_lock;
copy("$FindBin::Bin/js/storage-flow.mjs", "$prefix/storage-flow.mjs") or die "copy: $!";

my $s = Promptd::Test->new(PROMPTD_WORKERS => 1);
my ($alice, $ta) = $s->users(qw(alice));
my $base = $s->url('');
my $out = `cd '$prefix' && node storage-flow.mjs '$base' '$ta' anon 2>&1`;
is($?, 0, 'the storage-js script ran') or diag $out;
my $o = eval { JSON::PP->new->decode((split /\n/, $out)[-1]) } || {};
ok(%$o, 'it printed its steps') or diag $out;

sub ok_step { my ($n) = @_; ok($o->{$n} && !$o->{$n}{error}, "storage-js $n: no error") or diag explain $o->{$n} }

ok_step($_) for qw(createBucket createPublic listBuckets getBucket updateBucket uploadString uploadBlob
                   uploadUpsert update list listRoot info exists download createSignedUrl createSignedUrls
                   createSignedUploadUrl uploadToSignedUrl uploadPublic move copy remove emptyBucket deleteBucket);
is($o->{createBucket}{data}{name}, 'js-files', 'createBucket: {name}');
is_deeply([ sort map { $_->{id} } @{ $o->{listBuckets}{data} } ], [qw(js-files js-public)], 'listBuckets');
is($o->{getBucket}{data}{file_size_limit}, 1000000, 'getBucket: fileSizeLimit "1MB" stored as bytes');
is_deeply($o->{getUpdated}{data}{allowed_mime_types}, ['text/plain', 'image/png'], 'updateBucket: allowedMimeTypes stored');
is($o->{uploadString}{data}{fullPath}, 'js-files/folder/hello.txt', 'upload: fullPath (Key)');
like($o->{uploadString}{data}{id}, qr/^[0-9a-f-]{36}$/, 'upload: id (Id)');
is($o->{uploadDuplicate}{error}{statusCode}, '409', 'upload again: StorageApiError statusCode 409');
is($o->{uploadDuplicate}{error}{name}, 'StorageApiError', '... a StorageApiError');
like($o->{uploadDuplicate}{error}{message}, qr/already exists/, '... with the message');
is_deeply([ map { $_->{name} } @{ $o->{list}{data} } ], [qw(blob.txt hello.txt)], 'list a folder');
is($o->{list}{data}[1]{metadata}{size}, length "hello again\n", '... metadata.size');
is_deeply([ map { [$_->{name}, defined $_->{id} ? 1 : 0] } @{ $o->{listRoot}{data} } ], [[ 'folder', 0 ]],
          'list the root: the folder (id null)');
is($o->{info}{data}{bucketId}, 'js-files', 'info (camelCased by the client)');
is($o->{info}{data}{size}, length "hello again\n", '... size');
is($o->{exists}{data}, JSON::PP::true, 'exists: true');
is($o->{existsNot}{data}, JSON::PP::false, 'exists of a missing object: false');
is($o->{download}{text}, "hello again\n", 'download: the upserted bytes');
is($o->{downloadMissing}{error}{status}, 404, 'download of a missing object: status 404');
is_deeply($o->{fetchSigned}, { status => 200, text => "hello again\n" }, 'the signed URL fetches the file');
is($o->{createSignedUrls}{data}[0]{error}, undef, 'createSignedUrls: a URL for the object');
ok($o->{createSignedUrls}{data}[1]{error}, '... an error for the missing one');
is($o->{uploadToSignedUrl}{data}{fullPath}, 'js-files/folder/dropped.txt', 'uploadToSignedUrl: fullPath');
like($o->{publicUrl}{publicUrl}, qr{/storage/v1/object/public/js-public/p\.txt$}, 'getPublicUrl');
is_deeply($o->{fetchPublic}, { status => 200, text => "public words\n" }, '... it serves the file');
is($o->{move}{data}{message}, 'Successfully moved', 'move');
is($o->{copy}{data}{path}, 'js-files/copied/blob.txt', 'copy: its Key');
is(scalar @{ $o->{remove}{data} }, 3, 'remove: the three objects');
is_deeply($o->{listAfter}{data}, [], '... gone');
is($o->{wrongType}{error}{statusCode}, '415', 'a type the bucket does not allow: 415');
is($o->{deleteBucket}{data}{message}, 'Successfully deleted', 'deleteBucket');
is($o->{getDeleted}{error}{status}, 404, 'getBucket after delete: 404');
is(db1("select count(*) from storage.buckets where id = 'js-files'"), 0, '... gone from the database');

done_testing;
