#!/usr/bin/perl
# 600-enrich.t: POST /api/v1/score and POST /api/v1/enrich with the local engine: the result
# object, records, cache (per user, no-cache bypass), modes, history, prompt_id versions, bad input.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA qw(sha256_hex);
use Promptd::Test qw(db1);

# OpenAI points at a closed loopback port: a request that names it fails
# over to the local engine at once.
my $s = Promptd::Test->new(PROMPTD_WORKERS => 1,
                           PROMPTD_ENRICH_MODELS => 'gpt-4o-mini',
                           PROMPTD_OPENAI_BASE_URL => 'http://127.0.0.1:9/v1',
                           PROMPTD_ENRICH_RETRIES => 0);
my ($alice, $ta, $bob, $tb) = $s->users(qw(alice bob));
my $UUID = $Promptd::Test::UUID;
my @DIMS = qw(clarity specificity context structure output_format constraints examples);

sub post { my ($tok, $path, $json, %o) = @_; $s->request(POST => $path, { token => $tok, json => $json, %o }) }
sub get { my ($tok, $path) = @_; $s->request(GET => $path, { token => $tok }) }

sub score_ok {
    my ($sc, $what) = @_;
    ok($sc->{total} =~ /^\d+$/ && $sc->{total} <= 100, "$what: total 0..100");
    like($sc->{kind} // '', qr/^(task|question|image)$/, "$what: kind is task, question or image");
    for my $d (@DIMS) {
        my $x = $sc->{dimensions}{$d};
        ok(ref $x eq 'HASH' && $x->{value} =~ /^\d+$/ && $x->{value} <= 100
           && length($x->{reason} // '') > 0, "$what: $d has a value and a reason")
            or diag explain $x;
    }
}

# --- POST /api/v1/score: deterministic, explained, no provider
my $weak = 'write something about dogs';
my $r = post($ta, '/api/v1/score', { prompt => $weak });
is($r->{status}, 200, 'score -> 200') or diag explain $r;
score_ok($r->{json}, 'score');
is($r->{json}{kind}, 'task', 'score: a writing request is judged as a task');
is(post($ta, '/api/v1/score', { prompt => 'a photo of a red fox in the snow, golden light' })->{json}{kind},
   'image', 'score: an image prompt is judged as an image');
is(ref $r->{json}{suggestions}, 'ARRAY', 'score has suggestions[]');
ok(@{ $r->{json}{suggestions} } > 0, 'a weak prompt gets suggestions');
my $again = post($ta, '/api/v1/score', { prompt => $weak });
is($again->{body}, $r->{body}, 'score is deterministic (same input, same bytes)');

# --- POST /api/v1/enrich with the local engine
my $prompt = 'Write a poem about {{topic}} for "Alice" in 3 stanzas. Use `rhyme_scheme` AABB.';
$r = post($ta, '/api/v1/enrich', { prompt => $prompt });
is($r->{status}, 200, 'enrich -> 200') or diag explain $r;
my $e = $r->{json};
like($e->{id}, $UUID, 'id of the stored enrichment');
is($e->{provider}, 'local', 'provider local');
like($e->{model}, qr/^local-/, 'model is the engine version');
is($e->{mode}, 'improve', 'mode defaults to improve');
ok(!$e->{cached}, 'first time: not cached');
for my $keep ('{{topic}}', '"Alice"', '3', '`rhyme_scheme`', 'AABB') {
    ok(index($e->{enriched}, $keep) >= 0, "enriched keeps $keep");
}
score_ok($e->{score}{before}, 'score.before');
score_ok($e->{score}{after}, 'score.after');
is(ref $e->{suggestions}, 'ARRAY', 'suggestions[]');
is(scalar @{ $e->{attempts} }, 1, 'one attempt');
is($e->{attempts}[0]{provider}, 'local', 'attempt: local');
is($e->{attempts}[0]{outcome}, 'ok', 'attempt: ok');
ok(exists $e->{attempts}[0]{latency_ms}, 'attempt: latency');
ok(defined $e->{usage}{tokens_in} && defined $e->{usage}{tokens_out}, 'usage tokens');
is($e->{usage}{cost_usd}, 0, 'the local engine costs nothing');

my $row = $s->psql("select user_id, input_hash, mode, provider, outcome, status, cached::text, "
                   . "jsonb_array_length(attempts), tokens_in is not null, cost_usd, "
                   . "result->>'enriched' = '" . ($e->{enriched} =~ s/'/''/gr) . "' "
                   . "from public.enrichments where id = '$e->{id}'")->[0];
is($row->[0], $alice, 'record: user');
is($row->[1], sha256_hex("s$prompt\0"), 'record: input hash (SHA-256 of the normalised input)');
is_deeply([@$row[2 .. 6]], ['improve', 'local', 'success', 'done', 'false'], 'record: mode, provider, outcome');
is($row->[7], 1, 'record: attempts');
is($row->[8], 't', 'record: tokens');
is($row->[10], 't', 'record: the result');

# --- cache: same user hits, no-cache bypasses, another user never shares
my $c = post($ta, '/api/v1/enrich', { prompt => "  $prompt\n" });
is($c->{status}, 200, 'again -> 200');
ok($c->{json}{cached}, 'same user, same (normalised) input: cached');
is($c->{json}{enriched}, $e->{enriched}, 'cached answer is the same text');
is($c->{json}{attempts}[0]{outcome}, 'cache_hit', 'attempts say cache_hit');
isnt($c->{json}{id}, $e->{id}, 'a cached answer is a new record');
is(db1("select cached::text from public.enrichments where id = '$c->{json}{id}'"), 'true',
   'record says cached');
$c = post($ta, '/api/v1/enrich', { prompt => $prompt }, headers => { 'Cache-Control' => 'no-cache' });
ok(!$c->{json}{cached}, 'Cache-Control: no-cache bypasses the cache');
$c = post($tb, '/api/v1/enrich', { prompt => $prompt });
is($c->{status}, 200, 'bob -> 200');
ok(!$c->{json}{cached}, "bob never gets alice's cached result");
is(db1("select count(*) from public.enrich_cache where user_id = '$bob'"), 1, 'bob has his own cache entry');
$c = post($ta, '/api/v1/enrich', { prompt => $prompt, mode => 'concise' });
ok(!$c->{json}{cached}, 'another mode is another cache key');
$c = post($ta, '/api/v1/enrich', { prompt => $prompt, goal => 'a birthday card' });
ok(!$c->{json}{cached}, 'another goal is another cache key');

# --- TTL: an expired entry is never served, and the user's expired entries are dropped
ok(db1("select count(*) from public.enrich_cache where user_id = '$alice'") > 1, 'alice has several entries');
$s->psql("update public.enrich_cache set expires_at = now() - interval '1 second' where user_id = '$alice'");
$c = post($ta, '/api/v1/enrich', { prompt => $prompt });
ok(!$c->{json}{cached}, 'an expired entry is not served');
is(db1("select count(*) from public.enrich_cache where user_id = '$alice'"), 1,
   'the expired entries are gone; the fresh answer is cached');
ok(post($ta, '/api/v1/enrich', { prompt => $prompt })->{json}{cached}, 'and served again');

# --- every mode
for my $mode (qw(improve structure clarify expand concise)) {
    my $m = post($ta, '/api/v1/enrich', { prompt => "Summarise the attached report of 12 pages for the board.", mode => $mode });
    is($m->{status}, 200, "mode $mode -> 200") or diag explain $m;
    is($m->{json}{mode}, $mode, "mode $mode echoed");
    ok(index($m->{json}{enriched}, '12') >= 0, "mode $mode keeps the number");
}

# --- history
my $n_alice = db1("select count(*) from public.enrichments where user_id = '$alice'");
$r = get($ta, '/api/v1/enrichments?limit=100');
is($r->{status}, 200, 'history -> 200');
is(scalar @{ $r->{json}{items} }, $n_alice, "history lists all of alice's enrichments");
ok((grep { ($_->{input} // '') eq $prompt } @{ $r->{json}{items} }), 'items carry the input (preview)');
ok(!(grep { $_->{id} eq $c->{json}{id} } @{ get($tb, '/api/v1/enrichments')->{json}{items} }),
   "alice's records are not in bob's history");
my @seen;
my $cursor;
for (1 .. 50) {
    my $p = get($ta, '/api/v1/enrichments?limit=3' . ($cursor ? "&cursor=$cursor" : ''));
    is($p->{status}, 200, 'page') or last;
    push @seen, map { $_->{id} } @{ $p->{json}{items} };
    $cursor = $p->{json}{next_cursor} or last;
}
is(scalar @seen, $n_alice, 'paging with limit=3 visits every record once');
my %u = map { $_ => 1 } @seen;
is(scalar keys %u, $n_alice, 'no record twice');
is($seen[-1], db1("select id from public.enrichments where user_id = '$alice' order by created_at, id limit 1"),
   'oldest last');
$r = get($ta, "/api/v1/enrichments/$e->{id}");
is($r->{status}, 200, 'one enrichment -> 200');
is($r->{json}{input}, $prompt, 'with its input');
is($r->{json}{result}{enriched}, $e->{enriched}, 'and its result');
is(get($tb, "/api/v1/enrichments/$e->{id}")->{status}, 404, "bob cannot see alice's enrichment");
is(scalar @{ get($tb, '/api/v1/enrichments')->{json}{items} }, 1, "bob's history has his one record");
is(get($ta, '/api/v1/enrichments/00000000-0000-4000-8000-000000000000')->{status}, 404, 'unknown id -> 404');
is(get($ta, '/api/v1/enrichments?cursor=nope')->{status}, 400, 'bad cursor -> 400');

# --- prompt_id: a new version of the caller's prompt; another user's -> 404
$r = post($ta, '/api/v1/prompts', { title => 'Poem', content => $prompt });
is($r->{status}, 201, 'create a prompt') or diag explain $r;
my $pid = $r->{json}{id};
$r = post($ta, '/api/v1/enrich', { prompt => $prompt, prompt_id => $pid });
is($r->{status}, 200, 'enrich with prompt_id -> 200') or diag explain $r;
is($r->{json}{prompt_version}, 2, 'saved as version 2');
is(db1("select version from public.prompts where id = '$pid'"), 2, 'the prompt is at version 2');
is(db1("select p.content = e.result->>'enriched' from public.prompts p, public.enrichments e "
       . "where p.id = '$pid' and e.id = '$r->{json}{id}'"), 't', 'its content is the enriched text');
is(db1("select count(*) from public.prompt_versions where prompt_id = '$pid'"), 2, 'two versions');
is(db1("select prompt_version from public.enrichments where id = '$r->{json}{id}'"), 2, 'record names the version');
my $before_bob = db1("select count(*) from public.enrichments where user_id = '$bob'");
$r = post($tb, '/api/v1/enrich', { prompt => $prompt, prompt_id => $pid });
is($r->{status}, 404, "bob enriching into alice's prompt -> 404");
like($r->{headers}{'content-type'}, qr{application/problem\+json}, '404 is problem+json');
is(db1("select version from public.prompts where id = '$pid'"), 2, "alice's prompt unchanged");
is(db1("select count(*) from public.enrichments where user_id = '$bob'"), $before_bob, 'no record for the refused request');
is(post($ta, '/api/v1/enrich', { prompt => $prompt, prompt_id => '00000000-0000-4000-8000-000000000000' })->{status},
   404, 'unknown prompt_id -> 404');

# --- bad input: 4xx problem+json, never 5xx, no record
my $count = db1('select count(*) from public.enrichments');
my $big = 'x' x (200 * 1024);
my @bad = (
    ['malformed JSON', 400, { body => '{"prompt": "a",', headers => { 'Content-Type' => 'application/json' } }],
    ['array body', 400, { body => '["a"]', headers => { 'Content-Type' => 'application/json' } }],
    ['not JSON', 415, { body => 'prompt=a', headers => { 'Content-Type' => 'application/x-www-form-urlencoded' } }],
    ['no prompt', 422, { json => { mode => 'improve' } }],
    ['empty prompt', 422, { json => { prompt => '' } }],
    ['blank prompt', 422, { json => { prompt => " \n\t " } }],
    ['prompt a number', 422, { json => { prompt => 42 } }],
    ['prompt null', 422, { json => { prompt => undef } }],
    ['200 KB prompt', 413, { json => { prompt => $big } }],
    ['unknown mode', 422, { json => { prompt => 'a b c', mode => 'shout' } }],
    ['mode a number', 422, { json => { prompt => 'a b c', mode => 1 } }],
    ['unknown provider', 422, { json => { prompt => 'a b c', providers => ['gemini'] } }],
    ['providers a string', 422, { json => { prompt => 'a b c', providers => 'local' } }],
    ['providers empty', 422, { json => { prompt => 'a b c', providers => [] } }],
    ['two providers in one entry', 422, { json => { prompt => 'a b c', providers => ['local,openai'] } }],
    ['provider twice', 422, { json => { prompt => 'a b c', providers => ['local', 'local'] } }],
    ['provider model not offered', 422, { json => { prompt => 'a b c', providers => ['openai:gpt-4o', 'local'] } }],
    ['provider default model not offered', 422, { json => { prompt => 'a b c', providers => ['anthropic', 'local'] } }],
    ['stream a string', 422, { json => { prompt => 'a b c', stream => 'yes' } }],
    ['async a number', 422, { json => { prompt => 'a b c', async => 1 } }],
    ['stream and async', 422, { json => { prompt => 'a b c', stream => JSON::PP::true, async => JSON::PP::true } }],
    ['prompt_id not a UUID', 422, { json => { prompt => 'a b c', prompt_id => 'x' } }],
    ['goal an object', 422, { json => { prompt => 'a b c', goal => {} } }],
    ['unknown field', 422, { json => { prompt => 'a b c', temperature => 2 } }],
    ['no token', 401, { json => { prompt => 'a b c' }, token => undef }],
    ['bad token', 401, { json => { prompt => 'a b c' }, token => 'not.a.jwt' }],
);
for my $b (@bad) {
    my ($name, $want, $o) = @$b;
    my %opt = (token => $ta, %$o);
    delete $opt{token} unless defined $opt{token};
    for my $path ('/api/v1/enrich', '/api/v1/score') {
        next if $path eq '/api/v1/score' && $name =~ /mode|provider|stream|async|prompt_id|goal/;
        my $x = $s->request(POST => $path, \%opt);
        my $w = $path eq '/api/v1/score' && $name eq 'unknown field' ? 422 : $want;
        is($x->{status}, $w, "$path $name -> $w") or diag explain $x;
        like($x->{headers}{'content-type'} // '', qr{^application/problem\+json}, "$path $name: problem+json");
    }
}
is(db1('select count(*) from public.enrichments'), $count, 'no record for any bad request');
my $x = post($ta, '/api/v1/enrich', { prompt => 'a b c', mode => 'shout' });
ok((grep { $_->{field} eq 'mode' } @{ $x->{json}{errors} || [] }), 'the 422 names the field')
    or diag explain $x->{json};
$x = post($ta, '/api/v1/enrich', { prompt => 'a b c', providers => ['openai:gpt-4o', 'local'] });
ok((grep { $_->{field} eq 'providers' && $_->{message} =~ /does not offer/ } @{ $x->{json}{errors} || [] }),
   'a model outside PROMPTD_ENRICH_MODELS: the 422 says so') or diag explain $x->{json};
$x = post($ta, '/api/v1/enrich', { prompt => 'list three colours', providers => ['openai:gpt-4o-mini', 'local'] });
is($x->{status}, 200, 'a model PROMPTD_ENRICH_MODELS lists is accepted') or diag explain $x->{json};
my @tried = map { "$_->{provider}:$_->{model}" } @{ $x->{json}{attempts} || [] };
is($tried[0], 'openai:gpt-4o-mini', '... and tried first') or diag explain $x->{json}{attempts};
is($x->{json}{provider}, 'local', '... the local engine answered');

done_testing;
