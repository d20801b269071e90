#!/usr/bin/perl
# 603-enrich-async.t: async enrichment: 202 with a job enqueued in the request's transaction
# (the job row exists iff the request committed), GET /api/v1/enrich/jobs/{id} pending -> done
# or failed once promptd-gateway runs it (the "enrich" queue is the gateway's: promptd-jobs
# leaves it alone), prompt_id versions saved by the job, isolation.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Promptd::FakeLLM;
use Promptd::Test qw(db1);

my $llm = Promptd::FakeLLM->new;
my $s = Promptd::Test->new(
    PROMPTD_WORKERS => 1,
    PROMPTD_JOBS_DAEMONS => 0,
    PROMPTD_GATEWAY => 0,      # started below, once the queue holds work
    PROMPTD_ENRICH_PROVIDERS => 'openai,local',
    PROMPTD_OPENAI_BASE_URL => $llm->openai_url,
    PROMPTD_OPENAI_API_KEY => 'sk-server-openai',
    # nothing listens there: every call is refused
    PROMPTD_ANTHROPIC_BASE_URL => 'http://127.0.0.1:9',
    PROMPTD_ANTHROPIC_API_KEY => 'sk-ant-server',
    PROMPTD_ENRICH_BACKOFF_MS => 10,
);
my ($alice, $ta, $bob, $tb) = $s->users(qw(alice bob));
my $UUID = $Promptd::Test::UUID;

sub post { my ($tok, $json) = @_; $s->request(POST => '/api/v1/enrich', { token => $tok, json => $json }) }
sub job { my ($tok, $id) = @_; $s->request(GET => "/api/v1/enrich/jobs/$id", { token => $tok }) }
my $T = JSON::PP::true;

# --- 202, a pending record and its job, nothing run yet
my $jobs0 = db1("select count(*) from public.background_jobs where job_type = 'enrich'");
my $r = post($ta, { prompt => 'List 5 risks of migrating {{service}} to "Postgres 15"', async => $T });
is($r->{status}, 202, 'async -> 202') or diag explain $r;
my $id = $r->{json}{id};
like($id, $UUID, 'id');
like($r->{json}{job_id}, qr/^\d+$/, 'job_id');
is($r->{json}{status}, 'pending', 'pending');
is($r->{json}{status_url}, "/api/v1/enrich/jobs/$id", 'status_url');
is($r->{headers}{location}, "/api/v1/enrich/jobs/$id", 'Location');
is(db1("select job_type || ' ' || queue || ' ' || state || ' ' || (payload->>'enrichment_id') "
       . "from public.background_jobs where id = $r->{json}{job_id}"), "enrich enrich pending $id",
   "the job row, pending on the gateway's queue, naming the record");
is(db1("select status || ' ' || async::text || ' ' || job_id from public.enrichments where id = '$id'"),
   "pending true $r->{json}{job_id}", 'the record, pending');
is(scalar(() = $llm->requests), 0, 'no provider called by the request');
$r = job($ta, $id);
is($r->{status}, 200, 'GET job -> 200');
is($r->{json}{status}, 'pending', 'still pending without a daemon');
ok(!defined $r->{json}{result}, 'no result yet');
is(job($tb, $id)->{status}, 404, "bob cannot see alice's job");
is(job($ta, '00000000-0000-4000-8000-000000000000')->{status}, 404, 'unknown job -> 404');
is(job($ta, 'nope')->{status}, 400, 'not a UUID -> 400');

# --- the job exists iff the request committed: a refused request leaves none
my $pr = $s->request(POST => '/api/v1/prompts', { token => $tb, json => { title => 'B', content => 'bob prompt' } });
is($pr->{status}, 201, "bob's prompt");
my $jobs1 = db1("select count(*) from public.background_jobs where job_type = 'enrich'");
my $recs1 = db1('select count(*) from public.enrichments');
$r = post($ta, { prompt => 'Improve me please', async => $T, prompt_id => $pr->{json}{id} });
is($r->{status}, 404, "async into bob's prompt -> 404 (after the job was enqueued)");
is(db1("select count(*) from public.background_jobs where job_type = 'enrich'"), $jobs1, 'its job was rolled back with the request');
is(db1('select count(*) from public.enrichments'), $recs1, 'and its record');
is($jobs1, $jobs0 + 1, 'only the committed request left a job');

# --- more queued work: a prompt version, and one whose providers all fail
my $ap = $s->request(POST => '/api/v1/prompts', { token => $ta, json => { title => 'A', content => 'Write a haiku about {{season}}' } });
my $vr = post($ta, { prompt => 'Write a haiku about {{season}}', async => $T, prompt_id => $ap->{json}{id}, mode => 'expand' });
is($vr->{status}, 202, 'async with prompt_id -> 202');
my $fr = post($ta, { prompt => 'This one will fail everywhere', async => $T, providers => ['anthropic'] });
is($fr->{status}, 202, 'async failing later -> 202 now');

# --- promptd-jobs leaves the gateway's queue alone
my $jd = $s->start_jobs_daemon(PROMPTD_JOBS_POLL => 100);
ok($s->wait_for(sub { db1("select count(*) from public.background_jobs where queue = 'default' "
                          . "and state = 'pending'") == 0 }, timeout => 10), 'promptd-jobs is up');
sleep 1;
is(db1("select count(*) from public.background_jobs where queue = 'enrich' and state = 'pending'"), 3,
   'promptd-jobs claimed none of the enrich queue');
$s->stop_ok($jd, 'promptd-jobs stops cleanly');

# --- the gateway runs them
my $d = $s->start_gateway;
my $done = $s->wait_for(sub {
    my @st = map { job($ta, $_)->{json}{status} // '' } $id, $vr->{json}{id}, $fr->{json}{id};
    return (grep { $_ eq 'done' || $_ eq 'failed' } @st) == 3;
}, timeout => 60);
ok($done, 'the gateway finished all three') or diag $s->log_tail("gateway-$d", 40);
$r = job($ta, $id);
is($r->{json}{status}, 'done', 'done');
is($r->{json}{result}{provider}, 'openai', 'result: provider');
like($r->{json}{result}{enriched}, qr/\{\{service\}\}.*"Postgres 15"|"Postgres 15".*\{\{service\}\}/s, 'result: enriched, facts kept');
is($r->{json}{result}{id}, $id, 'result: the same id');
ok($r->{json}{result}{score}{after}{total} >= 0, 'result: scores');
ok($r->{json}{finished_at}, 'finished_at');
is(db1("select outcome || ' ' || provider || ' ' || (tokens_in > 0)::text from public.enrichments where id = '$id'"),
   'success openai true', 'the record is complete');
is(db1("select state || ' ' || (result->>'enrichment_id') from public.background_jobs where id = "
       . db1("select job_id from public.enrichments where id = '$id'")), "succeeded $id", 'the job succeeded');
my ($q) = grep { ($_->{json}{messages}[1]{content} // '') =~ /migrating/ } $llm->requests('openai');
is($q->{headers}{authorization}, 'Bearer sk-server-openai', 'the job called the provider with the key');

$r = job($ta, $vr->{json}{id});
is($r->{json}{status}, 'done', 'prompt_id job done');
is($r->{json}{result}{prompt_version}, 2, 'saved as version 2');
is(db1("select version from public.prompts where id = '$ap->{json}{id}'"), 2, 'the prompt moved to version 2');
is(db1("select p.content = e.result->>'enriched' from public.prompts p, public.enrichments e "
       . "where p.id = '$ap->{json}{id}' and e.id = '$vr->{json}{id}'"), 't', 'with the enriched text');

$r = job($ta, $fr->{json}{id});
is($r->{json}{status}, 'failed', 'every provider failing -> failed');
like($r->{json}{error}, qr/provider/i, 'with an error');
is(scalar @{ $r->{json}{result}{attempts} }, 4, 'and the attempts (the first and 3 retries)');
is(db1("select state from public.background_jobs where id = $fr->{json}{job_id}"), 'succeeded',
   'the job itself completed (no pointless retries)');

# --- history shows async records too
$r = $s->request(GET => '/api/v1/enrichments', { token => $ta });
is(scalar(grep { $_->{async} } @{ $r->{json}{items} }), 3, 'history lists the async enrichments');
$s->stop_ok($d, 'the gateway stops cleanly');

done_testing;
