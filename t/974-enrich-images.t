#!/usr/bin/perl
# 974-enrich-images.t: POST /api/v1/enrich with images (storage objects): the exact OpenAI
# image_url parts and Anthropic image blocks the providers receive on every path (hand-off to
# the gateway, JSON and events, async jobs on the gateway; the worker itself and promptd-jobs
# with the hand-off off), the cache keyed by the images, the local engine's note, every bad
# input (422/413, never a 5xx, nothing charged), and runs that find an image gone, replaced or
# never readable by their user (a forged job).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(sha256_hex);
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use Test::More;
use Promptd::FakeLLM;
use Promptd::Image qw(png);
use Promptd::Test qw(as_role sse_events);

my $T = JSON::PP::true;
my $llm = Promptd::FakeLLM->new;
my %common = (
    PROMPTD_WORKERS => 1,
    PROMPTD_ENRICH_PROVIDERS => 'openai:gpt-4o-mini,anthropic:claude-3-5-haiku-latest,local',
    PROMPTD_OPENAI_BASE_URL => $llm->openai_url,
    PROMPTD_OPENAI_API_KEY => 'sk-server-openai',
    PROMPTD_ANTHROPIC_BASE_URL => $llm->anthropic_url,
    PROMPTD_ANTHROPIC_API_KEY => 'sk-ant-server',
    PROMPTD_ENRICH_BACKOFF_MS => 10,
    PROMPTD_ENRICH_IMAGE_MAX_BYTES => 200_000,
    PROMPTD_ENRICH_IMAGES_MAX_BYTES => 250_000,
    # the stored bytes are the uploaded ones (no re-encoding), so the test
    # can compare what the provider got with what it uploaded
    PROMPTD_STORAGE_STRIP_METADATA => 0,
);
my $s = Promptd::Test->new(%common);
my ($alice, $ta, $bob, $tb) = $s->users(qw(alice bob));

# ------------------------------------------------------------- the objects
sub bucket { my ($s, $tok, $id) = @_; $s->request(POST => '/storage/v1/bucket', { token => $tok, json => { id => $id } }) }
sub upload {
    my ($s, $tok, $path, $bytes, $type, %h) = @_;
    my $r = $s->request(POST => "/storage/v1/object/$path", { token => $tok, body => $bytes,
                        headers => { 'Content-Type' => $type, %h } });
    is($r->{status}, 200, "upload $path") or diag $r->{body};
    return $r->{json}{Id};
}
is(bucket($s, $ta, 'imgs')->{status}, 200, "alice's bucket");
is(bucket($s, $tb, 'bobs')->{status}, 200, "bob's bucket");
my %png = (a => png(40, 30), b => png(40, 30, 99), mid1 => png(200, 200, 1), mid2 => png(200, 200, 2),
           mid3 => png(200, 200, 3), big => png(400, 400), bob => png(20, 20, 7));
my %id;
$id{$_} = upload($s, $ta, "imgs/$_.png", $png{$_}, 'image/png') for qw(a b mid1 mid2 mid3 big);
$id{bob} = upload($s, $tb, 'bobs/bob.png', $png{bob}, 'image/png');
$id{txt} = upload($s, $ta, 'imgs/notes.txt', "just some words\n", 'text/plain');
is($s->request(GET => '/storage/v1/object/imgs/a.png', { token => $ta })->{body}, $png{a},
   'the stored bytes are the uploaded ones');
my $url_a = 'data:image/png;base64,' . encode_base64($png{a}, '');
my $url_b = 'data:image/png;base64,' . encode_base64($png{b}, '');

# ------------------------------------------------------------- helpers
my $n = 0;
sub prompt { 'Write alt text for the product photo in {{language}}, at most 20 words #' . ++$n }
# enrich($s, $tok, {json}, cache => 1): the cache is skipped unless asked for.
sub enrich {
    my ($s, $tok, $json, %o) = @_;
    return $s->request(POST => '/api/v1/enrich', { token => $tok, json => { prompt => prompt(), %$json },
                       headers => $o{cache} ? {} : { 'Cache-Control' => 'no-cache' } });
}
sub outcomes { join ',', map { "$_->{provider}:$_->{outcome}" } @{ $_[0]{attempts} || [] } }
# The user message's content as the provider received it, for the prompt sent.
sub sent {
    my ($provider, $prompt) = @_;
    my @q = grep { my $c = $_->{json}{messages}[-1]{content};
                   (ref $c ? join('', map { $_->{text} // '' } @$c) : $c // '') eq $prompt } $llm->requests($provider);
    return @q ? $q[-1] : undef;
}
sub openai_parts { [ { type => 'text', text => $_[0] }, map { { type => 'image_url', image_url => { url => $_ } } } @_[1 .. $#_] ] }
sub anthropic_blocks {
    my ($text, @png) = @_;
    return [ (map { { type => 'image', source => { type => 'base64', media_type => 'image/png',
                                                   data => encode_base64($_, '') } } } @png),
             { type => 'text', text => $text } ];
}
sub job_done {
    my ($s, $tok, $id) = @_;
    my $r;
    $s->wait_for(sub { $r = $s->request(GET => "/api/v1/enrich/jobs/$id", { token => $tok });
                       ($r->{json}{status} // '') =~ /^(done|failed)$/ }, timeout => 30);
    return $r->{json};
}

# ------------------------------------------ OpenAI through the gateway, JSON
my $p = prompt();
my $r = enrich($s, $ta, { prompt => $p, providers => ['openai'], images => [{ bucket => 'imgs', path => 'a.png' }] });
is($r->{status}, 200, 'openai with an image -> 200') or diag explain $r->{json};
is($r->{json}{provider}, 'openai', '... openai answered');
is(outcomes($r->{json}), 'openai:ok', '... at once');
is_deeply($r->{json}{notes}, [], '... nothing to note');
my $q = sent('openai', $p);
ok($q, '... the provider was asked');
is_deeply($q->{json}{messages}[1]{content}, openai_parts($p, $url_a),
          '... user content: the text part, then an image_url part with the data URL of the uploaded bytes');
like($q->{json}{messages}[0]{content}, qr/sent 1 image with the prompt/, '... the instructions mention it');
my $rec = $s->request(GET => "/api/v1/enrichments/$r->{json}{id}", { token => $ta })->{json};
is_deeply($rec->{options}{images}, [{ id => $id{a}, bucket => 'imgs', path => 'a.png', mimetype => 'image/png',
                                      size => length $png{a}, sha256 => sha256_hex($png{a}) }],
          '... the record keeps the reference (no bytes): id, bucket, path, type, size, SHA-256');
like($s->log_tail('gateway', 50), qr/enrich $r->{json}{id} .*status 200/, '... run by promptd-gateway');

# ------------------------------------------ Anthropic, two images, one by id
$p = prompt();
$r = enrich($s, $ta, { prompt => $p, providers => ['anthropic:claude-3-5-haiku-latest'],
                       images => [{ id => $id{a} }, { bucket => 'imgs', path => 'b.png' }] });
is($r->{status}, 200, 'anthropic with two images -> 200') or diag explain $r->{json};
is($r->{json}{provider}, 'anthropic', '... anthropic answered');
$q = sent('anthropic', $p);
is_deeply($q->{json}{messages}[0]{content}, anthropic_blocks($p, $png{a}, $png{b}),
          '... content: an image block per image (base64 of the uploaded bytes, in order), then the text');
like($q->{json}{system}, qr/sent 2 images/, '... the instructions mention them');

# ------------------------------------------ streamed through the gateway
$p = prompt();
$r = enrich($s, $ta, { prompt => $p, stream => $T, providers => ['openai'], images => [{ id => $id{b} }] });
my $ev = sse_events($r->{body});
is($ev->[-1][0], 'done', 'streamed with an image: ends with done') or diag $r->{body};
is($ev->[-1][1]{provider}, 'openai', '... from openai');
is_deeply(sent('openai', $p)->{json}{messages}[1]{content}, openai_parts($p, $url_b), '... which got the image');
ok(sent('openai', $p)->{json}{stream}, '... as a stream request');

# ------------------------------------------ async, on the gateway's queue
$p = prompt();
$r = enrich($s, $ta, { prompt => $p, async => $T, providers => ['anthropic'], images => [{ id => $id{b} }] });
is($r->{status}, 202, 'async with an image -> 202');
is_deeply([ map { $_->{sha256} } @{ decode_json($s->psql("select payload from public.background_jobs where id = $r->{json}{job_id}")->[0][0])->{images} } ],
          [ sha256_hex($png{b}) ], '... the job carries the reference, not the bytes');
my $job = job_done($s, $ta, $r->{json}{id});
is($job->{status}, 'done', '... done');
is($job->{result}{provider}, 'anthropic', '... by anthropic');
is_deeply(sent('anthropic', $p)->{json}{messages}[0]{content}, anthropic_blocks($p, $png{b}), '... which got the image');

# ------------------------------------------ the cache is keyed by the images
$p = prompt();
my %c;
for my $case ([none => []], [a => [{ id => $id{a} }]], [b => [{ id => $id{b} }]], [ab => [{ id => $id{a} }, { id => $id{b} }]],
              [ba => [{ id => $id{b} }, { id => $id{a} }]]) {
    my ($name, $img) = @$case;
    $r = enrich($s, $ta, { prompt => $p, providers => ['openai'], @$img ? (images => $img) : () }, cache => 1);
    is($r->{status}, 200, "cache: $name -> 200");
    ok(!$r->{json}{cached}, "cache: the same text with images '$name' is a miss");
    $r = enrich($s, $ta, { prompt => $p, providers => ['openai'], @$img ? (images => $img) : () }, cache => 1);
    ok($r->{json}{cached}, "cache: '$name' again is a hit (answered by the worker)");
    is(outcomes($r->{json}), 'openai:cache_hit', '... without asking openai');
}
is(scalar(() = grep { my $c = $_->{json}{messages}[1]{content}; (ref $c ? $c->[0]{text} : $c) eq $p } $llm->requests('openai')),
   5, 'openai was asked once per set of images');
is($s->psql("select count(distinct key) from public.enrich_cache where user_id = '$alice' "
          . "and result->>'enriched' like '%" . ($p =~ s/.*#//r) . "%'")->[0][0], 5,
   'five cache entries: none, a, b, a+b and b+a');

# ------------------------------------------ the local engine cannot read them
$r = enrich($s, $ta, { providers => ['local'], images => [{ id => $id{a} }, { id => $id{b} }] });
is($r->{status}, 200, 'local with two images -> 200');
is($r->{json}{provider}, 'local', '... the local engine');
is_deeply($r->{json}{notes}, ['2 images were not read by the local engine, which rewrites the text alone.'],
          '... says it read neither');
$p = prompt();
$r = enrich($s, $ta, { prompt => $p, providers => ['local'], images => [{ id => $id{a} }] }, cache => 1);
is_deeply($r->{json}{notes}, ['1 image was not read by the local engine, which rewrites the text alone.'], '... one');
$r = enrich($s, $ta, { prompt => $p, providers => ['local'], images => [{ id => $id{a} }] }, cache => 1);
ok($r->{json}{cached}, '... cached');
is_deeply($r->{json}{notes}, ['1 image was not read by the local engine, which rewrites the text alone.'],
          '... and a cached answer says it too');
$llm->script(openai => [{ status => 400, body => '{"error":{"message":"bad image"}}' }]);
$r = enrich($s, $ta, { providers => ['openai', 'local'], images => [{ id => $id{a} }] });
is(outcomes($r->{json}), 'openai:client_error,local:ok', 'openai refusing the image falls back to local');
is(scalar @{ $r->{json}{notes} }, 1, '... which notes the image it did not read');
$r = enrich($s, $ta, { providers => ['local'] });
is_deeply($r->{json}{notes}, [], 'no images: no note');

# ------------------------------------------ bad input: 422/413, never a 5xx, nothing charged
$llm->reset;
my $recs = $s->psql('select count(*) from public.enrichments')->[0][0];
my $holds = $s->psql('select count(*) from promptd.quota_reservations')->[0][0];
for my $c (
    [{ bucket => 'bobs', path => 'bob.png' }, 422, 'images[0]', qr/not found or not readable/, "bob's object by path"],
    [{ id => $id{bob} }, 422, 'images[0]', qr/not found or not readable/, "bob's object by id"],
    [{ bucket => 'imgs', path => 'none.png' }, 422, 'images[0]', qr/not found or not readable/, 'no such object'],
    [{ id => '00000000-0000-4000-8000-000000000000' }, 422, 'images[0]', qr/not found or not readable/, 'no such id'],
    [{ bucket => 'nobucket', path => 'a.png' }, 422, 'images[0]', qr/not found or not readable/, 'no such bucket'],
    [{ bucket => 'imgs', path => 'notes.txt' }, 422, 'images[0]', qr{is text/plain; only image/jpeg, image/png, image/webp or image/gif}, 'a text file'],
    [{ id => 'nope' }, 422, 'images[0].id', qr/UUID/, 'an id that is no UUID'],
    [{ id => 7 }, 422, 'images[0].id', qr/string/, 'an id that is a number'],
    [{ bucket => 'imgs' }, 422, 'images[0].path', qr/required/, 'no path'],
    [{ path => 'a.png' }, 422, 'images[0].bucket', qr/required/, 'no bucket'],
    [{ bucket => '', path => 'a.png' }, 422, 'images[0].bucket', qr/1 to 100 bytes/, 'an empty bucket'],
    [{ bucket => 'imgs', path => 'x' x 1025 }, 422, 'images[0].path', qr/1 to 1024 bytes/, 'a path too long'],
    [{ id => $id{a}, bucket => 'imgs', path => 'a.png' }, 422, 'images[0]', qr/not both/, 'both an id and a path'],
    [{}, 422, 'images[0]', qr/must be \{bucket, path\} or \{id\}/, 'an empty object'],
    [{ bucket => 'imgs', path => 'a.png', detail => 'high' }, 422, 'images[0].detail', qr/not a known field/, 'an unknown member'],
    ['imgs/a.png', 422, 'images[0]', qr/must be \{bucket, path\} or \{id\}/, 'a string, not an object'],
) {
    my ($img, $status, $field, $re, $name) = @$c;
    $r = enrich($s, $ta, { images => [$img] });
    is($r->{status}, $status, "$name -> $status") or diag $r->{body};
    my ($e) = grep { $_->{field} eq $field } @{ $r->{json}{errors} || [] };
    ok($e, "$name: names $field") or diag $r->{body};
    like($e->{message} // '', $re, "$name: says why");
}
for my $c ([ 'a.png', 422, qr/array/, 'images not an array' ],
           [ [ map { { id => $id{a} } } 1 .. 5 ], 422, qr/at most 4 items/, 'five images (the limit is 4)' ]) {
    $r = enrich($s, $ta, { images => $c->[0] });
    is($r->{status}, $c->[1], "$c->[3] -> $c->[1]");
    like(join(' ', map { "$_->{field}: $_->{message}" } @{ $r->{json}{errors} || [] }), qr/^images: .*$c->[2]/, "$c->[3]: says why");
}
$r = enrich($s, $ta, { images => [{ id => $id{a} }, { id => $id{bob} }, { bucket => 'imgs', path => 'notes.txt' }] });
is_deeply([ map { $_->{field} } @{ $r->{json}{errors} } ], [ 'images[1]', 'images[2]' ], 'each bad image is named');
$r = enrich($s, $ta, { images => [{ id => $id{a} }, { id => $id{big} }] });
is($r->{status}, 413, 'an image over PROMPTD_ENRICH_IMAGE_MAX_BYTES -> 413');
like($r->{json}{detail}, qr/images\[1\] is ${\ length $png{big}} bytes; an image may have at most 200000/, '... says which and the limit');
$r = enrich($s, $ta, { images => [ map { { id => $id{"mid$_"} } } 1 .. 3 ] });
is($r->{status}, 413, 'images over PROMPTD_ENRICH_IMAGES_MAX_BYTES together -> 413');
like($r->{json}{detail}, qr/together; at most 250000/, '... says the limit');
$r = enrich($s, $tb, { images => [{ bucket => 'imgs', path => 'a.png' }] });
is($r->{status}, 422, "bob naming alice's image -> 422");
is($s->psql('select count(*) from public.enrichments')->[0][0], $recs, 'no refused request left a record');
is($s->psql('select count(*) from promptd.quota_reservations')->[0][0], $holds, '... or a quota hold');
is(scalar(() = $llm->requests), 0, '... or asked a provider');
$r = enrich($s, $ta, { images => [ map { { id => $id{"mid$_"} } } 1 .. 2 ], providers => ['local'] });
is($r->{status}, 200, 'two of them are within both limits -> 200');

# ------------------------------------------ an object's metadata is its owner's to edit (RLS)
as_role('authenticated', $alice, qq{update storage.objects set metadata = metadata || '{"size": "lots"}' where id = '$id{mid3}'});
$r = enrich($s, $ta, { images => [{ id => $id{mid3} }] });
is($r->{status}, 422, 'an image whose size metadata is no number -> 422, not a 5xx');
as_role('authenticated', $alice, qq{update storage.objects set metadata = metadata || '{"mimetype": "image/png"}' where id = '$id{txt}'});
$llm->reset;
$r = enrich($s, $ta, { providers => ['openai', 'local'], images => [{ id => $id{txt} }] });
is($r->{status}, 200, 'a text file relabelled image/png passes the request...');
is(outcomes($r->{json}), 'openai:image_unavailable,local:ok', '... but is not sent: its bytes are no PNG');
like($r->{json}{attempts}[0]{detail}, qr{images\[0\]'s bytes are not image/png}, '... says so');
is(scalar(() = $llm->requests), 0, '... openai was not asked');
my $fake = sha256_hex($png{a});
as_role('authenticated', $alice, qq{update storage.objects set metadata = metadata || '{"eTag": "\\"$fake\\""}' where id = '$id{mid1}'});
$r = enrich($s, $ta, { providers => ['anthropic', 'local'], images => [{ id => $id{mid1} }] });
is(outcomes($r->{json}), 'anthropic:image_unavailable,local:ok', "an image whose ETag claims another file's SHA-256 is not sent");
like($r->{json}{attempts}[0]{detail}, qr/do not match its SHA-256/, '... says so');

# ------------------------------------------ a forged job naming bob's image: run as alice, never read
# (raw SQL as the operator: the API refuses it; the gateway looks every image up again as the run's user)
$llm->reset;
my $fid = '7d3c9a52-0000-4000-8000-00000000f0f0';
my $payload = encode_json({ enrichment_id => $fid, user_id => $alice, prompt => 'Describe {{thing}} in the photo',
    mode => 'improve', providers => ['openai:gpt-4o-mini', 'local'],
    images => [{ id => $id{bob}, bucket => 'bobs', path => 'bob.png', mimetype => 'image/png',
                 size => length $png{bob}, sha256 => sha256_hex($png{bob}) }] });
$s->psql("insert into public.enrichments (id, user_id, input_hash, input, mode, options, status, async) "
       . "values ('$fid', '$alice', repeat('0', 64), 'Describe {{thing}} in the photo', 'improve', '{}', 'pending', true)");
$s->psql("select promptd.enqueue('enrich', '$payload'::jsonb, 'enrich', now(), 0, 3, null)");
$job = job_done($s, $ta, $fid);
is($job->{status}, 'done', "a job naming bob's image runs for alice");
is(outcomes($job->{result}), 'openai:image_unavailable,local:ok', '... openai is not asked: the image is not hers to read');
like($job->{result}{attempts}[0]{detail}, qr/images\[0\] was removed or changed/, '... the attempt says why');
is(scalar(() = $llm->requests), 0, "... bob's bytes went nowhere");

# ------------------------------------------ the hand-off off: the worker runs it; async on promptd-jobs
my $s2 = Promptd::Test->new(%common, PROMPTD_ENRICH_HANDOFF => 0, PROMPTD_GATEWAY => 0, PROMPTD_JOBS_DAEMONS => 0);
my ($carol, $tc) = $s2->users('carol');
is(bucket($s2, $tc, 'pics')->{status}, 200, "carol's bucket (hand-off off)");
my $ca = upload($s2, $tc, 'pics/a.png', $png{a}, 'image/png');
my $cb = upload($s2, $tc, 'pics/b.png', $png{b}, 'image/png');
$llm->reset;
$p = prompt();
$r = enrich($s2, $tc, { prompt => $p, providers => ['openai'], images => [{ bucket => 'pics', path => 'a.png' }] });
is($r->{status}, 200, 'the worker runs openai with an image itself -> 200') or diag explain $r->{json};
is_deeply(sent('openai', $p)->{json}{messages}[1]{content}, openai_parts($p, $url_a), '... the provider got it');
$p = prompt();
$r = enrich($s2, $tc, { prompt => $p, stream => $T, providers => ['anthropic'], images => [{ id => $cb }] });
is(sse_events($r->{body})->[-1][0], 'done', '... streamed too');
is_deeply(sent('anthropic', $p)->{json}{messages}[0]{content}, anthropic_blocks($p, $png{b}), '... anthropic got it');
# two queued jobs; then a.png is replaced before promptd-jobs runs them
my $p1 = prompt();
my $j1 = enrich($s2, $tc, { prompt => $p1, async => $T, providers => ['anthropic'], images => [{ id => $cb }] });
my $p2 = prompt();
my $j2 = enrich($s2, $tc, { prompt => $p2, async => $T, providers => ['openai'], images => [{ id => $ca }] });
is("$j1->{status} $j2->{status}", '202 202', 'two async enrichments with images queued');
is($s2->request(POST => '/storage/v1/object/pics/a.png', { token => $tc, body => $png{mid1},
               headers => { 'Content-Type' => 'image/png', 'x-upsert' => 'true' } })->{status}, 200,
   "the second one's image is replaced before it runs");
my $jd = $s2->start_jobs_daemon(PROMPTD_JOBS_POLL => 100);
$job = job_done($s2, $tc, $j1->{json}{id});
is($job->{status}, 'done', 'promptd-jobs ran the first') or diag $s2->log_tail('jobs', 30);
is_deeply(sent('anthropic', $p1)->{json}{messages}[0]{content}, anthropic_blocks($p1, $png{b}),
          '... anthropic got its image from promptd-jobs');
$job = job_done($s2, $tc, $j2->{json}{id});
is($job->{status}, 'failed', 'the second fails: its image changed after the request');
is(outcomes($job->{result}), 'openai:image_unavailable', '... openai was not asked with other bytes');
ok(!sent('openai', $p2), '... at all');
$s2->stop_ok($jd, 'promptd-jobs stops cleanly');

done_testing;
