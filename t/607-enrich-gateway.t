#!/usr/bin/perl
# 607-enrich-gateway.t: the hand-off to promptd-gateway: enrich workers are free while models
# think, the gateway's database pool bounds its connections and holds no transaction meanwhile,
# per-user (429) and per-node (503) caps with Retry-After, a client that leaves mid-way (the run
# is still stored, everything freed), events through the new path, the internal location closed
# to clients, a gateway that is down (503) and the sweep of what it left behind.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use IO::Socket::UNIX;
use JSON::PP;
use POSIX ();
use Promptd::FakeLLM;
use Promptd::Test qw(db1);

my $JSON = JSON::PP->new->utf8->canonical;
my $llm = Promptd::FakeLLM->new;
my $s = Promptd::Test->new(
    PROMPTD_WORKERS => 1,             # one enrich worker: it must never wait for a model
    PROMPTD_GATEWAY => 0,             # started below with small caps
    PROMPTD_ENRICH_PROVIDERS => 'openai,local',
    PROMPTD_OPENAI_BASE_URL => $llm->openai_url,
    PROMPTD_OPENAI_API_KEY => 'sk-server-openai',
    PROMPTD_ENRICH_TIMEOUT_MS => 25000,
    PROMPTD_ENRICH_MAX_INFLIGHT_USER => 4,
    # counts how often PostgreSQL plans each statement (prepared or not)
    PROMPTD_PG_SETTINGS => "shared_preload_libraries = 'pg_stat_statements';"
                         . " pg_stat_statements.track_planning = on",
);
my ($alice, $ta, $bob, $tb, $carol, $tc, $dave, $td) = $s->users(qw(alice bob carol dave));
my %gw_env = (PROMPTD_GATEWAY_DB_CONNS => 2, PROMPTD_ENRICH_MAX_INFLIGHT => 6);
my $gw = $s->start_gateway(%gw_env);

# GET path on the gateway's own socket -> decoded JSON (or undef).
sub gw_get {
    my ($path) = @_;
    my $c = IO::Socket::UNIX->new(Peer => $s->gateway_socket, Type => SOCK_STREAM) or return undef;
    print $c "GET $path HTTP/1.0\r\nHost: t\r\n\r\n";
    local $/;
    my $raw = <$c> // '';
    my ($body) = $raw =~ /\r\n\r\n(.*)\z/s;
    return eval { $JSON->decode($body // '') };
}
ok($s->wait_for(sub { gw_get('/status') }, timeout => 10), 'the gateway answers on its socket')
    or diag $s->log_tail("gateway-$gw", 20);

my $n = 0;
sub prompt { 'Draft a release note for {{product}} covering the fixes #' . ++$n }
sub enrich {
    my ($tok, %o) = @_;
    my $h = delete $o{headers} || {};
    return $s->request(POST => '/api/v1/enrich', { token => $tok, headers => $h,
                                                   json => { prompt => prompt(), %o } });
}
# In a child: one enrichment; its status and body land in a file.  -> [pid, file]
sub enrich_bg {
    my ($tok, %o) = @_;
    my $file = $s->var_dir . "/bg-" . ++$n . ".json";
    my $prompt = prompt();
    my $timeout = delete $o{timeout} // 30;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        my $http = HTTP::Tiny->new(timeout => $timeout);
        my $res = $http->request(POST => $s->url('/api/v1/enrich'), {
            headers => { authorization => "Bearer $tok", 'content-type' => 'application/json' },
            content => $JSON->encode({ prompt => $prompt, %o }) });
        open my $fh, '>', $file or POSIX::_exit(1);
        print $fh $JSON->encode({ status => $res->{status}, body => $res->{content} // '' });
        close $fh;
        POSIX::_exit(0);
    }
    return [$pid, $file];
}
sub bg_result {
    my ($bg) = @_;
    waitpid($bg->[0], 0);
    open my $fh, '<', $bg->[1] or return {};
    local $/;
    my $r = $JSON->decode(<$fh>);
    $r->{json} = eval { $JSON->decode($r->{body}) };
    return $r;
}
# The burst's checks must all run while the model thinks: asked over one
# kept connection (no psql start and login each), which a loaded machine
# would stretch past the model's 12 s.
my $q = $s->db1_reader;
sub gw_conns {
    $q->("select count(*) from pg_stat_activity where application_name = 'promptd-gateway'"
        . " and backend_type = 'client backend'");
}
sub idle_in_tx {
    $q->("select count(*) from pg_stat_activity where application_name = 'promptd-gateway'"
        . " and state like 'idle in transaction%'");
}
sub records { $q->("select count(*) from public.enrichments where user_id = '$_[0]'") }

# --- a burst while the model thinks: workers free, the pool bounds connections
# (the model takes 12 s: the checks below all run while the six are in flight,
# however slow the machine)
$llm->default(openai => { delay_ms => 12000 });
my @bg = ((map { enrich_bg($ta) } 1 .. 4), (map { enrich_bg($tb) } 1 .. 2));
ok($s->wait_for(sub { (gw_get('/status') || {})->{inflight} == 6 }, timeout => 10),
   'six enrichments in flight on the gateway') or diag explain gw_get('/status');
ok($s->wait_for(sub { $q->("select count(*) from public.enrichments where status = 'running' "
                          . "and not async") == 6 }, timeout => 10),
   'their records are running (each taken up once its slot is)');
my $h = $s->request(GET => '/api/v1/enrichments', { token => $ta });
is($h->{status}, 200, 'meanwhile the one enrich worker answers another request');
is(scalar(grep { $_->{status} eq 'running' } @{ $h->{json}{items} || [] }), 4,
   "... listing alice's four running enrichments");
my $peak = 0;
my $idle_tx = 0;
for (1 .. 10) {
    my $c = gw_conns();
    $peak = $c if $c > $peak;
    $idle_tx += idle_in_tx();
    select(undef, undef, undef, 0.1);
}
ok($peak >= 2 && $peak <= 3, "the gateway holds its pool's 2 connections and its listener, "
   . "no more, during the burst (saw $peak)");
is($idle_tx, 0, 'and no transaction stays open while the models think');
my $st = gw_get('/status');
is($st->{db_lent}, 0, 'no pooled connection is lent while the models think');

# per user: alice has 4 in flight, her limit
my $before = records($alice);
my $r = enrich($ta);
is($r->{status}, 429, "alice's fifth -> 429") or diag explain $r;
like($r->{headers}{'content-type'}, qr{^application/problem\+json}, '429 is problem+json');
is($r->{headers}{'retry-after'}, '1', '429 has Retry-After');
like($r->{json}{detail}, qr/4 enrichments in flight.*limit is 4/, '429 says why');
is(records($alice), $before, '429 leaves no record');
my $jobs = $q->("select count(*) from public.background_jobs where job_type = 'enrich'");
$r = enrich($ta, async => JSON::PP::true);
is($r->{status}, 429, "alice's fifth, async -> 429 too") or diag explain $r;
is($r->{headers}{'retry-after'}, '1', '... with Retry-After');
is(records($alice), $before, '... no record');
is($q->("select count(*) from public.background_jobs where job_type = 'enrich'"), $jobs, '... and no job queued');

# per node: six in flight, the gateway's cap
$r = enrich($tc);
is($r->{status}, 503, "carol's at the node's cap -> 503") or diag explain $r;
like($r->{headers}{'content-type'}, qr{^application/problem\+json}, '503 is problem+json');
is($r->{headers}{'retry-after'}, '1', '503 has Retry-After');
like($r->{json}{detail}, qr/as many enrichments as it may/, '503 says why');
is(records($carol), 0, 'the refused hand-off left no record');

my @res = map { bg_result($_) } @bg;
is(scalar(grep { $_->{status} == 200 } @res), 6, 'all six answered 200')
    or diag explain [map { $_->{body} } @res];
is(scalar(grep { ($_->{json}{provider} // '') eq 'openai' } @res), 6, 'each from the model');
is($q->("select count(*) from public.enrichments where status = 'done' and provider = 'openai'"
       . " and result->>'enriched' is not null"), 6, 'six records stored, done, with the result');
my ($one) = grep { $_->{json}{id} } @res;
is(db1("select result->>'id' from public.enrichments where id = '$one->{json}{id}'"), $one->{json}{id},
   "the answer's id is the stored record's");
ok($s->wait_for(sub { (gw_get('/status') || {})->{inflight} == 0 }, timeout => 15), 'slots given back');

# --- the cache answers in the worker, with no hand-off
$llm->default(openai => {});
my $p = 'Cache me for {{team}} please';
$r = $s->request(POST => '/api/v1/enrich', { token => $td, json => { prompt => $p } });
is($r->{status}, 200, 'first call (through the gateway) -> 200');
my $served = gw_get('/status')->{served};
$r = $s->request(POST => '/api/v1/enrich', { token => $td, json => { prompt => $p } });
is($r->{status}, 200, 'the same again -> 200');
ok($r->{json}{cached}, '... from the cache');
is(gw_get('/status')->{served}, $served + 1, '... answered by the worker (the gateway saw only the status call)');

# --- the pool's connections prepare each statement once: 30 runs, each
# statement planned at most a few times per connection (text: every run)
$s->psql('create extension if not exists pg_stat_statements');
$s->psql('select pg_stat_statements_reset()');
for my $i (1 .. 30) {
    $r = $s->request(POST => '/api/v1/enrich', { token => $td, headers => { 'Cache-Control' => 'no-cache' },
                                                 json => { prompt => "Plan sprint $i for {{team}}" } });
    last unless $r->{status} == 200;
}
is($r->{status}, 200, '30 enrichments through the gateway') or diag explain $r;
my ($calls, $plans) = split /\|/, db1("select calls || '|' || plans from pg_stat_statements "
                                      . "where query like 'update public.enrichments set outcome%'");
is($calls, 30, "the gateway's record statement ran 30 times");
ok(defined $plans && $plans <= 14, "... and was planned $plans times: prepared on each of the 2 "
   . "connections, its generic plan kept (SQL text is planned at every run)");

# --- a client that leaves mid-way: the run is stored, everything freed
$llm->default(openai => { delay_ms => 2500 });
my $before_d = records($dave);
my $gone = enrich_bg($td, timeout => 0.5);
my $gr = bg_result($gone);
is($gr->{status}, 599, 'the client gave up before the model answered');
ok($s->wait_for(sub { db1("select count(*) from public.enrichments where user_id = '$dave' "
                          . "and status = 'done'") == $before_d + 1 }, timeout => 15),
   'its enrichment was still stored, done');
is(db1("select provider from public.enrichments where user_id = '$dave' order by created_at desc limit 1"),
   'openai', '... with the model\'s answer');
ok($s->wait_for(sub { my $x = gw_get('/status'); $x->{inflight} == 0 && $x->{db_lent} == 0 }, timeout => 15),
   'its slot and connections are free');

# --- the prompt deleted while the model thinks: 404, the run stored as failed, no version
$llm->default(openai => { delay_ms => 2000 });
my $pp = $s->request(POST => '/api/v1/prompts', { token => $td, json => { title => 'D', content => 'Plan a {{trip}}' } });
is($pp->{status}, 201, "dave's prompt");
my $pbg = enrich_bg($td, prompt_id => $pp->{json}{id});
ok($s->wait_for(sub { db1("select count(*) from public.enrichments where prompt_id = '$pp->{json}{id}' "
                          . "and status = 'running'") == 1 }, timeout => 10), 'its enrichment is running');
is($s->request(DELETE => "/api/v1/prompts/$pp->{json}{id}", { token => $td })->{status}, 204,
   'the prompt deleted meanwhile');
my $pres = bg_result($pbg);
is($pres->{status}, 404, 'the enrichment answers 404') or diag explain $pres;
like($pres->{json}{detail} // '', qr/No such prompt/, '... saying so');
is(db1("select status || ' ' || error || ' ' || (prompt_version is null)::text from public.enrichments "
       . "where user_id = '$dave' order by created_at desc limit 1"),
   'failed The prompt no longer exists. true', 'the run is stored as failed, with no version');

# --- events through the hand-off
$llm->default(openai => {});
$r = enrich($tb, headers => { Accept => 'text/event-stream' });
is($r->{status}, 200, 'stream -> 200');
like($r->{headers}{'content-type'}, qr{^text/event-stream}, 'text/event-stream');
my @ev = $r->{body} =~ /^event: (\w+)$/mg;
is($ev[0], 'start', 'start first');
is($ev[-1], 'done', 'done last');
ok((grep { $_ eq 'delta' } @ev) > 0, 'deltas between');
my ($start) = $r->{body} =~ /^event: start\ndata: (.*)$/m;
my ($done) = $r->{body} =~ /^event: done\ndata: (.*)$/m;
my $sid = $JSON->decode($start)->{id};
is($JSON->decode($done)->{id}, $sid, 'start and done name one enrichment');
is(db1("select status || ' ' || (options->>'stream') from public.enrichments where id = '$sid'"),
   'done true', 'the record is stored under that id');
my $text = join '', map { $JSON->decode($_)->{text} } $r->{body} =~ /^event: delta\ndata: (.*)$/mg;
is($text, $JSON->decode($done)->{enriched}, 'the deltas add up to the answer');

# --- the internal location is not a client's
my $rid = db1("select id from public.enrichments where user_id = '$bob' limit 1");
$r = $s->request(GET => "/_gateway/enrich/$rid", { token => $tb });
is($r->{status}, 404, 'GET /_gateway/... from a client -> 404');

# --- the gateway down: 503, and the sweep of the record it never took up
$s->stop_ok($gw, 'the gateway stops cleanly');
$r = enrich($tb);
is($r->{status}, 503, 'gateway down -> 503') or diag explain $r;
like($r->{headers}{'content-type'}, qr{^application/problem\+json}, '... problem+json');
is($r->{headers}{'retry-after'}, '1', '... with Retry-After');
like($r->{json}{detail}, qr/gateway is unavailable/, '... saying so');
my $left = db1("select id from public.enrichments where user_id = '$bob' and status = 'pending'");
ok($left, 'its record was left pending');
$gw = $s->start_gateway(%gw_env, PROMPTD_ENRICH_DEADLINE_MS => 1000);
ok($s->wait_for(sub { db1("select status from public.enrichments where id = '$left'") eq 'failed' },
                timeout => 30), 'a restarted gateway sweeps it: failed');
like(db1("select error from public.enrichments where id = '$left'"), qr/interrupted/, '... as interrupted');
$s->stop_ok($gw, 'the gateway stops cleanly again');

# --- bad settings refuse to start
for my $bad ([PROMPTD_ENRICH_MAX_INFLIGHT => 0], [PROMPTD_GATEWAY_DB_CONNS => 'x'],
             [PROMPTD_ENRICH_DEADLINE_MS => -5]) {
    my $pid = $s->start_gateway(@$bad);
    my $rc = $s->stop_pid($pid, 0, timeout => 10);     # no signal: its own exit
    is(defined $rc ? $rc >> 8 : 'running', 1, "$bad->[0]=$bad->[1]: the gateway refuses to start");
}

done_testing;
