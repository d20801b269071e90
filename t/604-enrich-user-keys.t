#!/usr/bin/perl
# 604-enrich-user-keys.t: users' own provider keys: stored encrypted (PUT/GET/DELETE
# /api/v1/enrich/keys, or promptctl secrets set), used for their enrichments (sync and async)
# instead of the server's; other users keep the server's key; bad input; API keys refused.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Promptd::FakeLLM;
use Promptd::Test qw(db1 api);

my $llm = Promptd::FakeLLM->new;
my $s = Promptd::Test->new(
    PROMPTD_WORKERS => 1,
    PROMPTD_JOBS_DAEMONS => 0,
    PROMPTD_ENRICH_PROVIDERS => 'openai,anthropic,local',
    PROMPTD_OPENAI_BASE_URL => $llm->openai_url,
    PROMPTD_OPENAI_API_KEY => 'sk-server-openai',
    PROMPTD_ANTHROPIC_BASE_URL => $llm->anthropic_url,
    PROMPTD_ANTHROPIC_API_KEY => 'sk-ant-server',
);
my $alice = $s->user_create('alice@example.com');
my $bob = $s->user_create('bob@example.com');
my $carol = $s->user_create('carol@example.com');
my $ta = $s->token($alice);
my $tb = $s->token($bob);
my $tc = $s->token($carol);

my $n = 0;
sub enrich { my ($tok, %o) = @_; api($tok, POST => '/api/v1/enrich', json => { prompt => 'Classify {{ticket}} by urgency #' . ++$n, %o }) }

# --- store alice's OpenAI key through the API
my $r = api($ta, PUT => '/api/v1/enrich/keys/openai', json => { api_key => 'sk-alice-0000001234' });
is($r->{status}, 200, 'PUT key -> 200') or diag explain $r;
is($r->{json}{provider}, 'openai', 'provider');
is($r->{json}{last_four}, '1234', 'last four only');
unlike($r->{body}, qr/sk-alice/, 'the key is never echoed');
my $enc = db1("select value_enc from public.user_secrets where user_id = '$alice' and name = 'openai_api_key'");
like($enc, qr/^v1:/, 'stored encrypted');
unlike($enc, qr/sk-alice/, 'not in clear');
is(db1("select count(*) from promptd.audit_log where action = 'enrich.key.set'"), 1, 'audited')
    if db1("select to_regclass('promptd.audit_log') is not null") eq 't';
$r = api($ta, GET => '/api/v1/enrich/keys');
is_deeply([map { "$_->{provider}:$_->{last_four}" } @{ $r->{json}{items} }], ['openai:1234'], 'GET lists it');
is(scalar @{ api($tb, GET => '/api/v1/enrich/keys')->{json}{items} }, 0, 'bob has none');

# --- used for alice's requests, not bob's
$r = enrich($ta);
is($r->{json}{provider}, 'openai', 'alice: openai answers');
is($r->{json}{attempts}[0]{key}, 'user', "attempt says the user's key");
is(($llm->requests('openai'))[-1]{headers}{authorization}, 'Bearer sk-alice-0000001234', "sent with alice's key");
$r = enrich($tb);
is($r->{json}{attempts}[0]{key}, 'server', "bob: the server's key");
is(($llm->requests('openai'))[-1]{headers}{authorization}, 'Bearer sk-server-openai', "sent with the server's key");
$r = enrich($ta, providers => ['anthropic']);
is(($llm->requests('anthropic'))[-1]{headers}{'x-api-key'}, 'sk-ant-server', 'no anthropic key stored: the server\'s');

# --- replacing keeps one row; promptctl-stored keys work the same
$r = api($ta, PUT => '/api/v1/enrich/keys/openai', json => { api_key => 'sk-alice-new-5678' });
is($r->{json}{last_four}, '5678', 'replaced');
is(db1("select count(*) from public.user_secrets where user_id = '$alice'"), 1, 'still one row');
enrich($ta);
is(($llm->requests('openai'))[-1]{headers}{authorization}, 'Bearer sk-alice-new-5678', 'the new key is used');
my ($rc, $out, $err) = $s->_run(['/bin/sh', '-c', 'printf "%s" "sk-ant-carol-9999" | "$0" secrets set carol@example.com anthropic_api_key',
                                 $s->{promptctl}], separate => 1);
is($rc, 0, 'promptctl secrets set') or diag $err;
enrich($tc, providers => ['anthropic']);
is(($llm->requests('anthropic'))[-1]{headers}{'x-api-key'}, 'sk-ant-carol-9999', "carol's stored anthropic key is used");

# --- async jobs use the user's key too
$r = enrich($ta, async => JSON::PP::true);
is($r->{status}, 202, 'async -> 202');
ok($s->wait_for(sub { (api($ta, GET => $r->{json}{status_url})->{json}{status} // '') eq 'done' }, timeout => 30),
   'async done (the gateway runs the enrich queue)');
is(($llm->requests('openai'))[-1]{headers}{authorization}, 'Bearer sk-alice-new-5678', "the job used alice's key");

# --- a key that no longer decrypts is ignored (the server's is used)
$s->psql("update public.user_secrets set value_enc = (select value_enc from public.user_secrets "
         . "where user_id = '$carol') where user_id = '$alice'");
$r = enrich($ta);
is($r->{status}, 200, 'a swapped (undecryptable) key: still 200');
is($r->{json}{attempts}[0]{key}, 'server', "falls back to the server's key");
$r = api($ta, GET => '/api/v1/enrich/keys');
ok(!defined $r->{json}{items}[0]{last_four}, 'listed without last four (unusable)');

# --- delete
is(api($ta, DELETE => '/api/v1/enrich/keys/openai')->{status}, 204, 'DELETE -> 204');
is(api($ta, DELETE => '/api/v1/enrich/keys/openai')->{status}, 404, 'again -> 404');
is(db1("select count(*) from public.user_secrets where user_id = '$alice'"), 0, 'gone');

# --- bad input
for my $b (['unknown provider', 'PUT', '/api/v1/enrich/keys/gemini', { api_key => 'abcdefghij' }, 404],
           ['no api_key', 'PUT', '/api/v1/enrich/keys/openai', {}, 422],
           ['short key', 'PUT', '/api/v1/enrich/keys/openai', { api_key => 'abc' }, 422],
           ['key with spaces', 'PUT', '/api/v1/enrich/keys/openai', { api_key => 'abc def ghi jkl' }, 422],
           ['key a number', 'PUT', '/api/v1/enrich/keys/openai', { api_key => 12345678 }, 422],
           ['unknown field', 'PUT', '/api/v1/enrich/keys/openai', { api_key => 'abcdefghij', x => 1 }, 422],
           ['delete unknown provider', 'DELETE', '/api/v1/enrich/keys/gemini', undef, 404]) {
    my ($name, $m, $p, $json, $want) = @$b;
    my $x = api($ta, $m, $p, defined $json ? (json => $json) : ());
    is($x->{status}, $want, "$name -> $want");
    like($x->{headers}{'content-type'} // '', qr{^application/problem\+json}, "$name: problem+json");
}
is(api(undef, GET => '/api/v1/enrich/keys')->{status}, 401, 'no token -> 401');
my $k = api($ta, POST => '/api/v1/keys', json => { name => 'ci', scopes => ['enrich'] });
is($k->{status}, 201, 'an API key with the enrich scope');
is(api($k->{json}{key}, GET => '/api/v1/enrich/keys')->{status}, 403, 'API keys cannot manage provider keys');
is(api($k->{json}{key}, POST => '/api/v1/score', json => { prompt => 'hello there' })->{status}, 200,
   'but can score');
my $k2 = api($ta, POST => '/api/v1/keys', json => { name => 'ro', scopes => ['prompts:read'] });
is(api($k2->{json}{key}, POST => '/api/v1/enrich', json => { prompt => 'hello there' })->{status}, 403,
   'an API key without the enrich scope -> 403');

done_testing;
