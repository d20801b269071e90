#!/usr/bin/perl
# 973-prompt-attachments.t: files in prompts: attachments on create and update (the caller's objects only, at most 20, well formed, never half written), in every prompt answer and its ETag, kept by a teammate's update, gone with their object; the share page's images and links through signed URLs (fetched, reused, revoked with the link); forks copy them as the forker's objects on the same blobs; the export lists them with signed URLs; account deletion deletes the account's storage.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use HTTP::Tiny;
use JSON::PP;
use MIME::Base64 qw(decode_base64url);
use Test::More;
use Time::HiRes qw(sleep);
use Promptd::Test qw(db1 api req problem_ok);
use Promptd::Image qw(png);

my $s = Promptd::Test->new(PROMPTD_WORKERS => 2);
my ($alice, $ta, $bob, $tb, $carol, $tc) = $s->users(qw(alice bob carol));
my $JSON = JSON::PP->new->canonical;

# The page and the shared JSON as the worker answers them now: this stack's
# nginx serves the share locations without the micro-cache (as t/700).
{
    my $conf = $s->var_dir . '/nginx/share-cache.conf';
    open(my $fh, '>', $conf) or die "$conf: $!";
    print $fh "# 973-prompt-attachments.t: no micro-cache\n";
    close $fh;
    my $ngx = do { open(my $f, '<', $s->var_dir . '/run/nginx.pid') or die $!; my $x = <$f>; $x =~ s/\D//g; $x };
    kill 'HUP', $ngx or die "HUP nginx: $!";
    ok($s->wait_for(sub { !defined $s->request(GET => '/api/v1/public/prompts')->{headers}{'x-cache-status'} },
                    timeout => 10), 'this stack serves the share locations without the micro-cache');
}

# Percent-encode each segment of an object path for a request line.
sub enc { join '/', map { s/([^A-Za-z0-9._~-])/sprintf('%%%02X', ord $1)/ger } split m{/}, $_[0], -1 }
sub upload {
    my ($tok, $bucket, $name, $body, $type) = @_;
    my $r = api($tok, POST => "/storage/v1/object/$bucket/" . enc($name), body => $body,
                headers => { 'Content-Type' => $type });
    is($r->{status}, 200, "upload $bucket/$name") or diag $r->{body};
    return $r->{json}{Id};
}
sub bucket {
    my ($tok, $id) = @_;
    is(api($tok, POST => '/storage/v1/bucket', json => { id => $id })->{status}, 200, "bucket $id");
}
sub rows { db1("select count(*) from public.prompt_attachments where prompt_id = '$_[0]'") }
sub attached {   # [object id, position] of a prompt's rows, in order
    $s->psql("select object_id, position from public.prompt_attachments where prompt_id = '$_[0]' order by position");
}
sub field_errors { [ map { "$_->{field}: $_->{message}" } @{ $_[0]{json}{errors} // [] } ] }
sub html_unescape { my $t = shift; $t =~ s/&quot;/"/g; $t =~ s/&#39;/'/g; $t =~ s/&lt;/</g; $t =~ s/&gt;/>/g; $t =~ s/&amp;/&/g; $t }
sub token_payload { my ($tok) = $_[0] =~ /[?&]token=([^&"]+)/; decode_json(decode_base64url((split /\./, $tok)[0])) }

# ------------------------------------------------------------------ files
bucket($ta, 'pics');
bucket($tb, 'bobs');
my $cat = upload($ta, 'pics', 'cat.png', png(8, 6), 'image/png');
my $odd_name = 'odd "<b>&\'x.png';
my $odd = upload($ta, 'pics', $odd_name, png(4, 4, 9), 'image/png');
my $notes = upload($ta, 'pics', 'notes/readme.txt', "read me\n", 'text/plain');
my $bobs = upload($tb, 'bobs', 'secret.png', png(5, 5, 3), 'image/png');
# the stored bytes (uploads are stripped of metadata, so re-encoded)
my $PNG = api($ta, GET => '/storage/v1/object/pics/cat.png')->{body};
like($PNG, qr/^\x89PNG/, 'the PNG as stored');
my $ODD_SIZE = db1("select metadata->>'size' from storage.objects where id = '$odd'");
my $BOBS_SIZE = db1("select metadata->>'size' from storage.objects where id = '$bobs'");
my $cat_blob = db1("select blob_id from storage.objects where id = '$cat'");

# ------------------------------------------------------------------ create
my $r = api($ta, POST => '/api/v1/prompts', json => { title => 'With files', content => 'Describe the image.',
    attachments => [ { bucket => 'pics', path => 'cat.png' }, { id => $notes } ] });
is($r->{status}, 201, 'create with attachments (by bucket and path, and by id) -> 201') or diag $r->{body};
my $pid = $r->{json}{id};
is_deeply($r->{json}{attachments}, [
    { id => $cat, bucket => 'pics', path => 'cat.png', content_type => 'image/png', size => length $PNG },
    { id => $notes, bucket => 'pics', path => 'notes/readme.txt', content_type => 'text/plain', size => 8 } ],
    '... the answer lists them in order: id, bucket, path, content_type, size');
like($r->{headers}{etag}, qr/^"v1-[0-9a-f]{12}"$/, '... the ETag carries a hash of them');
my $etag1 = $r->{headers}{etag};
is_deeply(attached($pid), [ [ $cat, 0 ], [ $notes, 1 ] ], '... stored: one row per object, in order');
is(db1("select attached_by from public.prompt_attachments where prompt_id = '$pid' and position = 0"), $alice,
   '... attached by the caller');

$r = api($ta, GET => "/api/v1/prompts/$pid");
is($r->{status}, 200, 'GET the prompt');
is_deeply([ map { $_->{id} } @{ $r->{json}{attachments} } ], [ $cat, $notes ], '... with its attachments');
is($r->{headers}{etag}, $etag1, '... and the same ETag');
is(api($ta, GET => "/api/v1/prompts/$pid", headers => { 'If-None-Match' => $etag1 })->{status}, 304,
   '... If-None-Match: 304');
my ($item) = grep { $_->{id} eq $pid } @{ api($ta, GET => '/api/v1/prompts')->{json}{items} };
is(scalar @{ $item->{attachments} }, 2, 'the list shows them too');
$r = api($ta, POST => '/api/v1/prompts', json => { title => 'Plain', content => 'x' });
is_deeply([ $r->{json}{attachments}, $r->{headers}{etag} ], [ [], '"v1"' ],
          'a prompt without attachments: [] and the plain ETag');

# ------------------------------------------------------- refused, unwritten
my $np = db1('select count(*) from public.prompts');
my $na = db1('select count(*) from public.prompt_attachments');
my @many = map { { id => $cat } } 1 .. 21;
for my $c (
    [ [ { id => $bobs } ], qr/^attachments: item 0 \(id \Q$bobs\E\) is not a stored object you can read$/, "someone else's object by id" ],
    [ [ { id => $cat }, { bucket => 'bobs', path => 'secret.png' } ],
      qr{^attachments: item 1 \(bobs/secret\.png\) is not a stored object you can read$}, "someone else's object by path" ],
    [ [ { bucket => 'pics', path => 'nope.png' } ], qr/item 0 \(pics\/nope\.png\) is not a stored object/, 'no such object' ],
    [ [ { id => '00000000-0000-4000-8000-000000000000' } ], qr/is not a stored object/, 'an unknown id' ],
    [ [ { id => $cat }, { bucket => 'pics', path => 'cat.png' } ],
      qr/^attachments: item 1 \(pics\/cat\.png\) names the same object as item 0$/, 'the same object twice' ],
    [ \@many, qr/^attachments: must have at most 20 items$/, '21 items' ],
    [ { id => $cat }, qr/^attachments: must be an array/, 'not an array' ],
    [ undef, qr/^attachments: must be an array/, 'null' ],
    [ [ 'pics/cat.png' ], qr/^attachments: item 0 must be an object/, 'an item not an object' ],
    [ [ { id => 'cat' } ], qr/^attachments: item 0 id must be a UUID$/, 'an id not a UUID' ],
    [ [ { id => $cat, bucket => 'pics', path => 'cat.png' } ], qr/item 0 gives id or bucket and path, not both/, 'both forms' ],
    [ [ { bucket => 'pics' } ], qr/item 0 must name an object/, 'a bucket without a path' ],
    [ [ { bucket => 'pics', path => '' } ], qr/item 0 path must be a string of 1 to 1024 bytes/, 'an empty path' ],
    [ [ { bucket => 'pics', path => 'x' x 1025 } ], qr/item 0 path must be/, 'a path of 1025 bytes' ],
    [ [ { bucket => 7, path => 'cat.png' } ], qr/item 0 bucket must be a string/, 'a bucket not a string' ],
    [ [ { id => $cat, size => 3 } ], qr/item 0 has an unknown member 'size'/, 'an unknown member' ],
) {
    my ($att, $re, $name) = @$c;
    $r = api($ta, POST => '/api/v1/prompts', json => { title => 'Refused', content => 'x', attachments => $att });
    problem_ok($r, 422, "create: $name");
    ok((grep { /$re/ } @{ field_errors($r) }), "create: $name: says which") or diag explain field_errors($r);
    $r = api($ta, PATCH => "/api/v1/prompts/$pid", json => { title => 'Changed', attachments => $att });
    is($r->{status}, 422, "update: $name -> 422");
}
is(db1('select count(*) from public.prompts'), $np, 'no prompt was created by any of them');
is(db1('select count(*) from public.prompt_attachments'), $na, 'no attachment row was written');
is(db1("select title from public.prompts where id = '$pid'"), 'With files', 'the refused updates changed nothing else');
is_deeply(attached($pid), [ [ $cat, 0 ], [ $notes, 1 ] ], '... nor the attachments');

# Twenty is the most.
my @twenty = map { upload($ta, 'pics', "many/$_.txt", "file $_\n", 'text/plain') } 1 .. 20;
$r = api($ta, POST => '/api/v1/prompts', json => { title => 'Twenty', content => 'x',
                                                  attachments => [ map { { id => $_ } } @twenty ] });
is($r->{status}, 201, 'twenty attachments -> 201') or diag $r->{body};
is(rows($r->{json}{id}), 20, '... twenty rows');
ok(!eval { $s->psql("insert into public.prompt_attachments (prompt_id, object_id, position) "
                  . "values ('$r->{json}{id}', '$cat', 20)"); 1 }, '... and the table holds no 21st');

# API keys: attaching needs the storage scope too.
my %key;
for my $scopes ([ 'prompts:write' ], [ 'prompts:write', 'storage' ]) {
    $r = api($ta, POST => '/api/v1/keys', json => { name => "@$scopes", scopes => $scopes });
    $key{"@$scopes"} = $r->{json}{key};
}
sub by_key { my ($k, $m, $p, %o) = @_; $s->request($m, $p, { %o, headers => { 'X-API-Key' => $k } }) }
$np = db1('select count(*) from public.prompts');
$r = by_key($key{'prompts:write'}, POST => '/api/v1/prompts',
            json => { title => 'Key', content => 'x', attachments => [ { id => $cat } ] });
problem_ok($r, 403, 'a key without the storage scope attaches', qr/storage scope/);
is(by_key($key{'prompts:write'}, PATCH => "/api/v1/prompts/$pid", json => { attachments => [ { id => $cat } ] })->{status},
   403, '... nor by an update');
is(db1('select count(*) from public.prompts'), $np, '... nothing written');
$r = by_key($key{'prompts:write storage'}, POST => '/api/v1/prompts',
            json => { title => 'Key', content => 'x', attachments => [ { id => $cat } ] });
is($r->{status}, 201, 'a key with it may') or diag $r->{body};
is($r->{json}{attachments}[0]{id}, $cat, '... attached');
$r = by_key($key{'prompts:write'}, PATCH => "/api/v1/prompts/$r->{json}{id}", json => { attachments => [] });
is_deeply([ $r->{status}, $r->{json}{attachments} ], [ 200, [] ], '... and one without it may remove them');

# ------------------------------------------------------------------ update
$r = api($ta, PATCH => "/api/v1/prompts/$pid", json => { attachments => [ { id => $notes }, { id => $cat } ] });
is($r->{status}, 200, 'PATCH attachments alone: the new order') or diag $r->{body};
is_deeply(attached($pid), [ [ $notes, 0 ], [ $cat, 1 ] ], '... stored');
is($r->{json}{version}, 1, '... no new version: attachments are the prompt\'s, not a version\'s');
isnt($r->{headers}{etag}, $etag1, '... but a new ETag');
is(api($ta, PATCH => "/api/v1/prompts/$pid", json => { attachments => [ { id => $cat } ] },
       headers => { 'If-Match' => $etag1 })->{status}, 412, 'If-Match with the ETag before: 412');
is(rows($pid), 2, '... nothing changed');
$r = api($ta, PATCH => "/api/v1/prompts/$pid", json => { attachments => [ { id => $cat } ], title => 'With a file' },
         headers => { 'If-Match' => $r->{headers}{etag} });
is($r->{status}, 200, 'If-Match with the current ETag: 200') or diag $r->{body};
is_deeply([ map { $_->{id} } @{ $r->{json}{attachments} } ], [ $cat ], '... the set replaced (one left)');
is_deeply([ $r->{json}{version}, $r->{json}{title} ], [ 2, 'With a file' ], '... with the other fields');
is_deeply(attached($pid), [ [ $cat, 0 ] ], '... one row');
$r = api($ta, PATCH => "/api/v1/prompts/$pid", json => { attachments => [] });
is_deeply([ $r->{status}, $r->{json}{attachments}, $r->{headers}{etag} ], [ 200, [], '"v2"' ],
          'PATCH [] removes them all (the plain ETag again)');
is(rows($pid), 0, '... no row');
is(api($tb, PATCH => "/api/v1/prompts/$pid", json => { attachments => [ { id => $bobs } ] })->{status}, 404,
   "bob's update of alice's prompt: 404");
is(rows($pid), 0, '... nothing attached');
$r = api($ta, PATCH => "/api/v1/prompts/$pid",
         json => { attachments => [ { id => $cat }, { bucket => 'pics', path => $odd_name }, { id => $notes } ] });
is($r->{status}, 200, 'three again (one with an odd name)') or diag $r->{body};

# ------------------------------------------------------------- a teammate
$r = api($ta, POST => '/api/v1/workspaces', json => { name => 'Team' });
my $ws = $r->{json}{id};
$s->psql("insert into public.workspace_members (workspace_id, user_id, role) values ('$ws', '$bob', 'editor')");
$r = api($ta, POST => '/api/v1/prompts', json => { title => 'Team', content => 'x', workspace_id => $ws,
                                                  attachments => [ { id => $cat } ] });
my $team = $r->{json}{id};
$r = api($tb, GET => "/api/v1/prompts/$team");
is_deeply([ map { $_->{path} } @{ $r->{json}{attachments} } ], [ 'cat.png' ], 'an editor sees what alice attached');
is(api($tb, GET => '/storage/v1/object/pics/cat.png')->{status}, 404, '... but cannot download its bytes');
$r = api($tb, PATCH => "/api/v1/prompts/$team",
         json => { attachments => [ { bucket => 'pics', path => 'cat.png' }, { id => $bobs } ] });
is($r->{status}, 200, '... keeps it while adding his own') or diag $r->{body};
is_deeply(attached($team), [ [ $cat, 0 ], [ $bobs, 1 ] ], '... stored');
is(db1("select attached_by from public.prompt_attachments where object_id = '$bobs'"), $bob, '... attached by bob');
is(api($tb, PATCH => "/api/v1/prompts/$team", json => { attachments => [ { id => $cat }, { id => $notes } ] })->{status},
   422, '... but cannot attach alice\'s other files');
is($s->as_role('authenticated', $bob, "select count(*) from public.prompt_attachments where prompt_id = '$pid'")->[0][0],
   0, 'raw SQL: bob sees no row of alice\'s personal prompt');
ok(!eval { $s->as_role('authenticated', $bob, "insert into public.prompt_attachments (prompt_id, object_id, position, "
                     . "attached_by) values ('$team', '$notes', 5, '$bob')"); 1 },
   'raw SQL: nor attaches an object he cannot read');

# ------------------------------------------------------- object deleted
my $gone = upload($ta, 'pics', 'gone.png', png(3, 3, 7), 'image/png');
$r = api($ta, POST => '/api/v1/prompts', json => { title => 'Gone', content => 'x', attachments => [ { id => $gone } ] });
my $gpid = $r->{json}{id};
my $getag = $r->{headers}{etag};
$r = api($ta, DELETE => '/storage/v1/object/pics', json => { prefixes => [ 'gone.png' ] });
is($r->{status}, 200, 'the object is deleted through the storage API') or diag $r->{body};
is(rows($gpid), 0, '... its attachment row went with it');
$r = api($ta, GET => "/api/v1/prompts/$gpid");
is_deeply([ $r->{json}{attachments}, $r->{headers}{etag} ], [ [], '"v1"' ], '... the prompt lists none; its ETag changed');

# ------------------------------------------------------------ share page
$r = api($ta, POST => "/api/v1/prompts/$pid/shares", json => { public => JSON::PP::true });
is($r->{status}, 201, 'share the prompt') or diag $r->{body};
my ($sid, $tok) = @{ $r->{json} }{qw(id token)};
$r = req(GET => "/s/$tok");
is($r->{status}, 200, 'the share page');
my $html = $r->{body};
my @imgs = $html =~ m{<img src="([^"]*)" alt="([^"]*)" loading="lazy">}g;
is(scalar @imgs, 4, 'two <img>: the two images') or diag $html;
my %img = reverse @imgs;
like($img{'cat.png'}, qr{^/storage/v1/object/sign/pics/cat\.png\?token=[A-Za-z0-9_.-]+$}, '... cat.png through a signed URL');
ok(exists $img{'odd &quot;&lt;b&gt;&amp;&#39;x.png'}, '... the odd name escaped in alt') or diag explain \%img;
like($html, qr{<figcaption>odd &quot;&lt;b&gt;&amp;&#39;x\.png</figcaption>}, '... and in the caption');
my $odd_src = $img{'odd &quot;&lt;b&gt;&amp;&#39;x.png'};
like($odd_src, qr{^/storage/v1/object/sign/pics/odd%20%22%3Cb%3E%26%27x\.png\?token=}, '... its URL percent-encoded');
like($html, qr{<ul class="files">\n<li><a href="/storage/v1/object/sign/pics/notes/readme\.txt\?token=[^"]+" rel="nofollow">readme\.txt</a> <span class="meta">text/plain, 8 bytes</span></li>},
     'the text file is a link with its type and size');
unlike($html, qr/<img[^>]*readme/, '... not an image');
$r = req(GET => $img{'cat.png'});
is($r->{status}, 200, 'the image URL answers 200') or diag $r->{body};
ok($r->{body} eq $PNG, '... with the PNG\'s bytes');
is($r->{headers}{'content-type'}, 'image/png', '... as image/png');
$r = req(GET => html_unescape($odd_src));
is($r->{status}, 200, 'the odd name\'s URL works too');
my $p1 = token_payload($img{'cat.png'});
is_deeply($s->psql("select object_id, created_by, share_id, revoked_at is null, "
                 . "expires_at between now() + interval '59 minutes' and now() + interval '61 minutes' "
                 . "from promptd.storage_signed_urls where id = '$p1->{jti}'"),
          [ [ $cat, $alice, $sid, 't', 't' ] ],
          '... its record: the object\'s, the owner\'s, naming the link, for an hour');
is(db1("select count(*) from promptd.storage_signed_urls where share_id = '$sid'"), 3, 'one record per attachment');
$html = req(GET => "/s/$tok")->{body};
my ($again) = $html =~ m{<img src="([^"]*)" alt="cat\.png"};
is(token_payload($again)->{jti}, $p1->{jti}, 'the next render uses the same URL record again');
$r = req(GET => "/api/v1/shared/$tok");
is($r->{status}, 200, 'the shared JSON');
is_deeply([ map { [ $_->{path}, $_->{content_type}, $_->{size} ] } @{ $r->{json}{attachments} } ],
          [ [ 'cat.png', 'image/png', length $PNG ], [ $odd_name, 'image/png', $ODD_SIZE ],
            [ 'notes/readme.txt', 'text/plain', 8 ] ], '... lists the attachments');
my $jcat = $r->{json}{attachments}[0];
like($jcat->{url}, qr{^https?://[^/]+/storage/v1/object/sign/pics/cat\.png\?token=}, '... each with an absolute signed URL');
is(token_payload($jcat->{url})->{jti}, $p1->{jti}, '... the same record');
like($jcat->{expires_at}, qr/^\d{4}-\d\d-\d\dT/, '... and when it ends');
is(req(GET => ($jcat->{url} =~ m{^https?://[^/]+(/.*)$})[0])->{body}, $PNG, '... which serves the image');
is(db1("select count(*) from promptd.storage_signed_urls where share_id = '$sid'"), 3, 'still three records');

# A password-protected link shows none until unlocked.
$r = api($ta, POST => "/api/v1/prompts/$pid/shares", json => { password => 'open sesame' });
my ($psid, $ptok) = @{ $r->{json} }{qw(id token)};
$html = req(GET => "/s/$ptok")->{body};
unlike($html, qr/<img|storage\/v1/, 'a password-protected link: no image, no URL');
is(db1("select count(*) from promptd.storage_signed_urls where share_id = '$psid'"), 0, '... no URL made');
is(req(GET => "/api/v1/shared/$ptok")->{status}, 401, '... its JSON: 401');
my $unlock = HTTP::Tiny->new(max_redirect => 0, timeout => 30, agent => 'promptd-test/1')->request(
    POST => $s->url("/s/$ptok"), { headers => { 'Content-Type' => 'application/x-www-form-urlencoded' },
                                   content => 'password=open%20sesame' });
my ($cookie) = ($unlock->{headers}{'set-cookie'} // '') =~ /^([^;]+)/;
ok($cookie, 'unlocked with the password');
$r = $s->request(GET => "/s/$ptok", { headers => { Cookie => $cookie } });
like($r->{body}, qr{<img src="/storage/v1/object/sign/pics/cat\.png\?token=}, '... then the page shows the images');
is(db1("select count(*) from promptd.storage_signed_urls where share_id = '$psid'"), 3, '... through URLs of that link');

# ------------------------------------------------------------------ fork
my $nblobs = db1('select count(*) from promptd.storage_blobs');
# Over her storage quota the fork is refused, whole.
$s->psql("insert into promptd.quota_overrides (user_id, limits) values ('$carol', '{\"storage_bytes\": 100}'); "
       . "update promptd.quota_settings set enforce = true");
$r = api($tc, POST => "/api/v1/shared/$tok/fork");
problem_ok($r, 409, 'a fork whose files would pass the forker\'s storage quota', qr/storage_bytes/);
is(db1("select count(*) from public.prompts where user_id = '$carol'") + db1("select count(*) from storage.objects "
     . "where owner = '$carol'") + db1("select count(*) from storage.buckets where owner = '$carol'"), 0,
   '... no prompt, object or bucket of hers');
$s->psql("delete from promptd.quota_overrides where user_id = '$carol'; update promptd.quota_settings set enforce = false");
$r = api($tc, POST => "/api/v1/shared/$tok/fork");
is($r->{status}, 201, 'carol forks the link') or diag $r->{body};
my $fork = $r->{json};
my $cb = "attachments-$carol";
is(scalar @{ $fork->{attachments} }, 3, '... the fork has the three attachments');
is_deeply([ map { [ $_->{bucket}, $_->{path}, $_->{content_type}, $_->{size} ] } @{ $fork->{attachments} } ],
          [ [ $cb, "$fork->{id}/1-cat.png", 'image/png', length $PNG ],
            [ $cb, "$fork->{id}/2-$odd_name", 'image/png', $ODD_SIZE ],
            [ $cb, "$fork->{id}/3-readme.txt", 'text/plain', 8 ] ],
          '... copies in her attachments bucket, in order');
is_deeply($s->psql("select owner, public::text from storage.buckets where id = '$cb'"), [ [ $carol, 'false' ] ],
          '... a private bucket of hers');
is_deeply($s->psql("select o.owner, o.blob_id from public.prompt_attachments a join storage.objects o on o.id = a.object_id "
                 . "where a.prompt_id = '$fork->{id}' and a.position = 0"), [ [ $carol, $cat_blob ] ],
          '... each object hers, naming the original\'s blob');
is(db1('select count(*) from promptd.storage_blobs'), $nblobs, '... no new blob: no bytes copied');
isnt($fork->{attachments}[0]{id}, $cat, '... new object rows');
$r = api($tc, GET => "/storage/v1/object/$cb/" . enc("$fork->{id}/1-cat.png"));
ok($r->{status} == 200 && $r->{body} eq $PNG, '... which carol downloads');
is_deeply([ map { $_->{id} } @{ api($tc, GET => "/api/v1/prompts/$fork->{id}")->{json}{attachments} } ],
          [ map { $_->{id} } @{ $fork->{attachments} } ], '... and her prompt lists');
$r = api($tc, POST => "/api/v1/shared/$tok/fork");
is($r->{json}{attachments}[0]{bucket}, $cb, 'a second fork uses the same bucket');
is(db1("select count(*) from storage.buckets where owner = '$carol'"), 1, '... one bucket');

# The link revoked: its URLs stop.
is(api($ta, DELETE => "/api/v1/shares/$sid")->{status}, 204, 'the link is revoked');
is(db1("select count(*) from promptd.storage_signed_urls where share_id = '$sid' and revoked_at is null"), 0,
   '... its URL records with it');
sleep 2.2;   # the CDN keeps a signed download at most 2 s
is(req(GET => $img{'cat.png'})->{status}, 404, '... and the image URL answers 404');

# An attachment removed: the link's URL for it ends.
$r = api($ta, POST => "/api/v1/prompts/$pid/shares", json => {});
my ($sid2, $tok2) = @{ $r->{json} }{qw(id token)};
($again) = req(GET => "/s/$tok2")->{body} =~ m{<a href="([^"]*readme[^"]*)"};
ok(defined $again, 'a new link shows the text file');
api($ta, PATCH => "/api/v1/prompts/$pid", json => { attachments => [ { id => $cat } ] });
is(db1("select revoked_at is not null from promptd.storage_signed_urls where id = '" . token_payload($again)->{jti} . "'"),
   't', '... removed from the prompt, its URL record is revoked');

# ---------------------------------------------------------------- export
$r = api($ta, GET => '/api/v1/me/export');
is($r->{status}, 200, 'the export');
my @xa = grep { $_->{prompt_id} eq $team } @{ $r->{json}{prompt_attachments} };
is_deeply([ map { [ $_->{id}, $_->{bucket}, $_->{path}, $_->{content_type}, $_->{size}, defined $_->{url} ? 1 : 0 ] } @xa ],
          [ [ $cat, 'pics', 'cat.png', 'image/png', length $PNG, 1 ], [ $bobs, 'bobs', 'secret.png', 'image/png', $BOBS_SIZE, 0 ] ],
          'lists her prompts\' attachments: a signed URL for her own file, none for bob\'s');
like($xa[0]{url}, qr{^https?://[^/]+/storage/v1/object/sign/pics/cat\.png\?token=}, '... an absolute URL');
like($xa[0]{url_expires_at}, qr/^\d{4}-/, '... with its end');
is(req(GET => ($xa[0]{url} =~ m{^https?://[^/]+(/.*)$})[0])->{body}, $PNG, '... serving the file');
is(db1("select (expires_at - now()) > interval '6 days' from promptd.storage_signed_urls where id = '"
     . token_payload($xa[0]{url})->{jti} . "'"), 't', '... for a week');
ok(!(grep { $_->{prompt_id} eq $fork->{id} } @{ $r->{json}{prompt_attachments} }), '... nothing of carol\'s');
is_deeply([ map { $_->{id} } grep { $_->{prompt_id} eq $fork->{id} }
            @{ api($tc, GET => '/api/v1/me/export')->{json}{prompt_attachments} } ],
          [ map { $_->{id} } @{ $fork->{attachments} } ], 'carol\'s export lists her fork\'s');

# ------------------------------------------------------- account deletion
is(api($tc, DELETE => '/api/v1/me')->{status}, 204, 'carol deletes her account');
is(db1("select count(*) from storage.objects where owner = '$carol'"), 0, '... her objects are gone');
is(db1("select count(*) from storage.buckets where owner = '$carol'"), 0, '... and her bucket');
is(db1("select count(*) from promptd.storage_blobs where id = $cat_blob"), 1, '... the blob stays: alice\'s object names it');
is(api($tb, DELETE => '/api/v1/me')->{status}, 204, 'bob deletes his account');
is(db1("select count(*) from storage.objects where bucket_id = 'bobs'") + db1("select count(*) from storage.buckets where id = 'bobs'"),
   0, '... his bucket and objects are gone');
is(db1("select count(*) from promptd.storage_blobs b where not exists (select 1 from storage.objects o where o.blob_id = b.id) "
     . "and b.bucket_id = 'bobs'"), 1, '... his blob is left for storage.gc');
is_deeply(attached($team), [ [ $cat, 0 ] ], '... the team prompt keeps only alice\'s attachment');
is_deeply([ map { $_->{id} } @{ api($ta, GET => "/api/v1/prompts/$team")->{json}{attachments} } ], [ $cat ],
          '... as its answer says');

$s->stop;
done_testing;
