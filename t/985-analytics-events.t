#!/usr/bin/perl
# 985-analytics-events.t: the analytics family: POST /api/v1/events (limits, every bad input with status, body and no row written, credentials, anonymous vs signed in, DNT/GPC, no address stored, the visitor hash), server events fired by their real causes, rollups equal to the raw counts (twice, concurrently, after new events), account deletion and export, monthly partitions ahead, the default partition and retention.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use POSIX qw(strftime);
use Test::More;
use Promptd::Test qw(db1 api problem_ok);

my $ANON = 'anon-key-for-analytics-tests';
my $s = Promptd::Test->new(PROMPTD_WORKERS => 1, PROMPTD_ANON_KEY => $ANON,
                           PROMPTD_ANALYTICS_COUNTRY_HEADER => 'CF-IPCountry');
my ($alice, $ta, $bob, $tb) = $s->users(qw(alice bob));
my $T = JSON::PP::true;
my $UA = 'Mozilla/5.0 (X11; Linux) analytics-test';

sub events {
    my (%o) = @_;
    my %h = ('User-Agent' => $UA, %{ $o{headers} || {} });
    $h{apikey} = $ANON unless exists $o{headers}{apikey} || $o{token};
    delete $h{apikey} unless defined $h{apikey};
    my %opt = (headers => \%h);
    $opt{token} = $o{token} if $o{token};
    if (exists $o{body}) { $opt{body} = $o{body}; $h{'Content-Type'} = 'application/json' }
    else { $opt{json} = $o{json} }
    return $s->request(POST => '/api/v1/events', \%opt);
}
sub nrows { db1("select count(*) from promptd.analytics_events where source = 'client'") }
sub iso { strftime('%Y-%m-%dT%H:%M:%SZ', gmtime($_[0])) }

# ------------------------------------------------------------ anonymous
my $r = events(json => { events => [
    { event => 'page.view', properties => { path => '/pricing', n => 3, ok => $T, none => undef },
      session_id => 'sess-1', anonymous_id => 'anon-1' },
    { event => 'button:click', anonymous_id => 'anon-1' } ] },
    headers => { 'CF-IPCountry' => 'DE' });
is($r->{status}, 202, 'anonymous batch with the anon key -> 202') or diag $r->{body};
is_deeply($r->{json}, { accepted => 2, stored => 2 }, '... {accepted: 2, stored: 2}');
my $rows = $s->psql("select event_type, coalesce(user_id::text, '-'), country, session_id, "
                  . "event_data::text, length(visitor_hash) from promptd.analytics_events "
                  . "where anonymous_id = 'anon-1' order by event_type");
is_deeply($rows, [ [ 'button:click', '-', 'DE', '', '{}', 64 ],
                   [ 'page.view', '-', 'DE', 'sess-1', '{"n": 3, "ok": true, "none": null, "path": "/pricing"}', 64 ] ],
          'stored without a user, with the country, properties and a visitor hash');
my $want = db1("select encode(sha256(s.salt || convert_to('127.0.0.1', 'UTF8') || '\\x00'::bytea "
             . "|| convert_to('$UA', 'UTF8')), 'hex') from promptd.share_salts s "
             . "where s.day = (now() at time zone 'utc')::date");
is(db1("select distinct visitor_hash from promptd.analytics_events where anonymous_id = 'anon-1'"), $want,
   "the visitor hash: SHA-256 under the share views' salt of the day (address, NUL, agent)");
is(db1(q{select count(*) from promptd.analytics_events e where e::text like '%127.0.0.1%'
           or e::text like '%analytics-test%'}), 0, 'no address and no user agent stored');
$r = events(json => { events => [ { event => 'page.view', anonymous_id => 'anon-2' } ] },
            headers => { 'CF-IPCountry' => 'XX' });
is($r->{status}, 202, 'an unknown CDN country (XX)');
is(db1("select coalesce(country, '-') from promptd.analytics_events where anonymous_id = 'anon-2'"), '-',
   '... stores no country');

# ------------------------------------------------------------ signed in
my $ts = time - 3600;
$r = events(token => $ta, json => { events => [ { event => 'editor.open', timestamp => iso($ts),
                                                   properties => { prompt => 'x' } } ] });
is($r->{status}, 202, 'a signed-in event -> 202') or diag $r->{body};
is_deeply($r->{json}, { accepted => 1, stored => 1 }, '... stored');
is_deeply($s->psql("select user_id, extract(epoch from created_at)::bigint, source from promptd.analytics_events "
                 . "where event_type = 'editor.open'"), [ [ $alice, $ts, 'client' ] ],
          "... with alice's id and the client's timestamp");
$r = events(token => $ta, json => { events => [ { event => 'editor.tz', timestamp =>
    strftime('%Y-%m-%dT%H:%M:%S.250+02:00', gmtime($ts + 7200)) } ] });
is($r->{status}, 202, 'a timestamp with an offset and a fraction');
is(db1("select extract(epoch from created_at)::numeric(14,2) from promptd.analytics_events where event_type = 'editor.tz'"),
   "$ts.25", '... normalized to UTC');

# ------------------------------------------------------------ DNT / GPC
my $before = nrows();
for my $h (['DNT', 'DNT'], ['Sec-GPC', 'Sec-GPC']) {
    $r = events(json => { events => [ { event => 'page.view' } ] }, headers => { $h->[0] => '1' });
    is($r->{status}, 202, "anonymous with $h->[0]: 1 -> 202");
    is_deeply($r->{json}, { accepted => 1, stored => 0, not_stored => $h->[1] }, '... says it was not stored');
}
is(nrows(), $before, 'nothing stored for DNT / GPC');
$r = events(token => $tb, json => { events => [ { event => 'page.view' } ] }, headers => { DNT => '1' });
is_deeply($r->{json}, { accepted => 1, stored => 1 }, "a signed-in user's DNT: stored (their account covers it)");
$before = nrows();

# ------------------------------------------------------------ credentials
my $key = api($ta, POST => '/api/v1/keys', json => { name => 'k', scopes => ['prompts:read'] })->{json}{key};
ok($key, 'an API key');
$r = events(json => { events => [ { event => 'a' } ] }, headers => { apikey => undef });
problem_ok($r, 401, 'anonymous without the anon key', qr/anon key/);
$r = events(json => { events => [ { event => 'a' } ] }, headers => { apikey => 'wrong' });
problem_ok($r, 401, 'a wrong anon key', qr/anon key/);
$r = $s->request(POST => '/api/v1/events', { token => $key, json => { events => [ { event => 'a' } ] } });
problem_ok($r, 403, 'an API key (not accepted here)', qr/API keys cannot be used here/);
$r = events(token => 'not.a.jwt', json => { events => [ { event => 'a' } ] });
problem_ok($r, 401, 'a bad session token');
# supabase-js signed out: the anon key as apikey and as the Bearer token
$r = events(token => $ANON, headers => { apikey => $ANON }, json => { events => [ { event => 'signed.out' } ] });
is($r->{status}, 202, 'the anon key as apikey and Bearer (supabase-js signed out) -> 202') or diag $r->{body};
is(db1("select count(*) || ':' || count(user_id) from promptd.analytics_events where event_type = 'signed.out'"),
   '1:0', '... stored as an anonymous event');
$r = events(token => 'wrong', headers => { apikey => 'wrong' }, json => { events => [ { event => 'signed.out' } ] });
problem_ok($r, 401, 'a wrong anon key in both headers', qr/anon key/);
$before = nrows();
$r = $s->request(GET => '/api/v1/events', {});
is($r->{status}, 405, 'GET /api/v1/events -> 405');
is(nrows(), $before, 'nothing stored by refused callers');

# ------------------------------------------------------------ bad input
my $long = 'x' x 65;
my %many = map { ("k$_" => 1) } 1 .. 33;
my %big = map { ("k$_" => 'v' x 200) } 1 .. 12;
my @bad = (
    [ {}, 'events', 'events missing' ],
    [ { events => 'x' }, 'events', 'events not an array' ],
    [ { events => [] }, 'events', 'no events' ],
    [ { events => [ map { { event => 'a' } } 1 .. 101 ] }, 'events', '101 events' ],
    [ { events => [ { event => 'a' } ], extra => 1 }, 'extra', 'an unknown member' ],
    [ { events => [ 5 ] }, 'events[0]', 'an event not an object' ],
    [ { events => [ {} ] }, 'events[0].event', 'event missing' ],
    [ { events => [ { event => undef } ] }, 'events[0].event', 'event null' ],
    [ { events => [ { event => 5 } ] }, 'events[0].event', 'event not a string' ],
    [ { events => [ { event => 'Page View' } ] }, 'events[0].event', 'event name outside the pattern' ],
    [ { events => [ { event => '' } ] }, 'events[0].event', 'event name empty' ],
    [ { events => [ { event => $long } ] }, 'events[0].event', 'event name of 65 characters' ],
    [ { events => [ { event => 'prompt.created' } ] }, 'events[0].event', 'a server event name' ],
    [ { events => [ { event => 'a', colour => 'red' } ] }, 'events[0].colour', 'an unknown event field' ],
    [ { events => [ { event => 'a', properties => [] } ] }, 'events[0].properties', 'properties an array' ],
    [ { events => [ { event => 'a', properties => 'x' } ] }, 'events[0].properties', 'properties a string' ],
    [ { events => [ { event => 'a', properties => \%many } ] }, 'events[0].properties', '33 properties' ],
    [ { events => [ { event => 'a', properties => { $long => 1 } } ] }, 'events[0].properties', 'a 65-byte key' ],
    [ { events => [ { event => 'a', properties => { o => { b => 1 } } } ] }, 'events[0].properties.o', 'a nested object' ],
    [ { events => [ { event => 'a', properties => { l => [1] } } ] }, 'events[0].properties.l', 'an array value' ],
    [ { events => [ { event => 'a', properties => { s => 'v' x 257 } } ] }, 'events[0].properties.s', 'a 257-byte string' ],
    [ { events => [ { event => 'a', properties => \%big } ] }, 'events[0].properties', 'properties over 2048 bytes' ],
    [ { events => [ { event => 'a', timestamp => 'yesterday' } ] }, 'events[0].timestamp', 'timestamp not a date-time' ],
    [ { events => [ { event => 'a', timestamp => 5 } ] }, 'events[0].timestamp', 'timestamp a number' ],
    [ { events => [ { event => 'a', timestamp => '2026-02-30T00:00:00Z' } ] }, 'events[0].timestamp', 'February 30th' ],
    [ { events => [ { event => 'a', timestamp => '2026-01-01T00:00:00' } ] }, 'events[0].timestamp', 'no offset' ],
    [ { events => [ { event => 'a', timestamp => iso(time - 73 * 3600) } ] }, 'events[0].timestamp', '73 hours ago' ],
    [ { events => [ { event => 'a', timestamp => iso(time + 600) } ] }, 'events[0].timestamp', '10 minutes ahead' ],
    [ { events => [ { event => 'a', session_id => '' } ] }, 'events[0].session_id', 'session_id empty' ],
    [ { events => [ { event => 'a', session_id => 'a b' } ] }, 'events[0].session_id', 'session_id with a space' ],
    [ { events => [ { event => 'a', session_id => 'x' x 129 } ] }, 'events[0].session_id', 'session_id of 129' ],
    [ { events => [ { event => 'a', anonymous_id => 5 } ] }, 'events[0].anonymous_id', 'anonymous_id a number' ],
    [ { events => [ ({ event => 'ok' }) x 3, { event => 'a', properties => 7 }, { event => 'ok' } ] },
      'events[3].properties', 'one bad event among good ones' ],
);
for my $c (@bad) {
    my ($body, $field, $name) = @$c;
    for my $tok (undef, $ta) {
        my $who = $tok ? 'signed in' : 'anonymous';
        $r = events(json => $body, $tok ? (token => $tok) : ());
        is($r->{status}, 422, "$name ($who) -> 422") or diag $r->{body};
        like($r->{headers}{'content-type'} // '', qr{^application/problem\+json}, "$name: problem+json");
        ok((grep { $_->{field} eq $field } @{ $r->{json}{errors} || [] }), "$name: names $field")
            or diag $r->{body};
    }
}
is(nrows(), $before, 'no bad batch stored a row (all or nothing)');
$r = events(body => '{"events": [');
problem_ok($r, 400, 'malformed JSON');
$r = events(body => '[1]');
ok($r->{status} >= 400 && $r->{status} < 500, "a JSON array body -> $r->{status}");
$r = events(body => '{"events": [{"event": "a", "properties": {"x": 1e400}}]}');
ok($r->{status} == 422 || $r->{status} == 400, "an infinite number -> $r->{status}") or diag $r->{body};
$r = events(body => '{"events": [{"event": "a", "event": "b"}]}');
is($r->{status}, 400, 'a duplicate key -> 400');
$r = events(body => '{"events": [' . join(',', ('{"event":"a","properties":{"s":"' . ('v' x 250) . '"}}') x 1100) . ']}');
problem_ok($r, 413, 'a body over 256 KiB');
is(nrows(), $before, 'nothing stored by malformed or oversize bodies');

# ------------------------------------------------------------ server events
sub server_events {
    my ($type, $where) = @_;
    return $s->psql("select coalesce(user_id::text, '-'), event_data::text from promptd.analytics_events "
                  . "where source = 'server' and event_type = '$type'" . ($where ? " and $where" : '')
                  . ' order by id');
}
is_deeply([ map { $_->[0] } @{ server_events('user.signed_up') } ], [ $alice, $bob ],
          'user.signed_up for each user created');
$r = $s->request(POST => '/auth/v1/signup', { headers => { apikey => $ANON },
                  json => { email => 'carol@example.com', password => 'correct horse battery 9' } });
is($r->{status}, 200, 'carol signs up through /auth/v1/signup') or diag $r->{body};
my $carol = $r->{json}{user}{id};
is(scalar @{ server_events('user.signed_up', "user_id = '$carol'") }, 1, '... user.signed_up for her');

my $p = api($ta, POST => '/api/v1/prompts', json => { title => 'tracked', content => 'Hello there' })->{json};
ok($p->{id}, 'alice creates a prompt');
is_deeply(server_events('prompt.created', "event_data->>'prompt_id' = '$p->{id}'"),
          [ [ $alice, qq({"prompt_id": "$p->{id}", "workspace_id": "$p->{workspace_id}"}) ] ],
          '... prompt.created in the same transaction');

$r = api($ta, POST => '/api/v1/enrich', json => { prompt => 'Write a haiku about autumn leaves.' });
is($r->{status}, 200, 'alice enriches') or diag $r->{body};
my $eid = $r->{json}{id};
my $en = $s->psql("select provider, model, coalesce(latency_ms::text, '') from public.enrichments where id = '$eid'")->[0];
my $ev = server_events('enrichment.completed', "event_data->>'enrichment_id' = '$eid'");
is(scalar @$ev, 1, '... enrichment.completed once');
my $d = decode_json($ev->[0][1] // '{}');
is_deeply([ $ev->[0][0], $d->{provider}, $d->{model}, $d->{latency_ms} // '' ],
          [ $alice, @$en[0, 1], $en->[2] eq '' ? '' : $en->[2] + 0 ],
          '... with the provider, model and latency the enrichment stored');

my $sh = api($ta, POST => "/api/v1/prompts/$p->{id}/shares", json => { public => $T })->{json};
ok($sh->{token}, 'alice shares it');
is(api($tb, POST => "/api/v1/shared/$sh->{token}/fork")->{status}, 201, 'bob forks it');
is_deeply(server_events('share.forked'), [ [ $bob, qq({"share_id": "$sh->{id}", "prompt_id": "$p->{id}"}) ] ],
          '... share.forked for bob');
is(scalar @{ server_events('prompt.created', "user_id = '$bob'") }, 1, '... and his fork is a prompt.created');

$r = $s->request(GET => "/s/$sh->{token}", { headers => { 'User-Agent' => $UA } });
is($r->{status}, 200, 'an anonymous visitor views the link');
$s->request(GET => '/healthz');
my $out = $s->promptctl('jobs', 'enqueue', 'share.views');
my ($jid) = $out =~ /"first_id"\s*:\s*(\d+)/;
ok($s->wait_for(sub { db1("select state from background_jobs where id = $jid") eq 'succeeded' }, timeout => 20),
   'the share.views job ingests the view');
$ev = server_events('share.viewed');
is(scalar @$ev, 1, '... share.viewed once, per view');
is($ev->[0][0], '-', '... anonymous');
is(decode_json($ev->[0][1])->{share_id}, $sh->{id}, '... naming the link');
is(db1("select visitor_hash from promptd.analytics_events where event_type = 'share.viewed'"), $want,
   "... with the viewer's hash of the day (the same visitor as its events)");

$s->promptctl('user', 'admin', 'alice@example.com', 'on');
$r = api($ta, PATCH => "/api/v1/admin/users/$bob", json => { subscription_tier => 'pro' });
is($r->{status}, 200, 'an admin moves bob to pro') or diag $r->{body};
is_deeply(server_events('plan.changed'), [ [ $bob, '{"to": "pro", "from": "free"}' ] ], '... plan.changed');
is(db1(q{select e.xmin::text = p.xmin::text from promptd.analytics_events e, public.profiles p
          where e.event_type = 'plan.changed' and p.id = e.user_id}), 't',
   '... written by the transaction that changed the tier');
api($ta, PATCH => "/api/v1/admin/users/$bob", json => { subscription_tier => 'pro' });
is(scalar @{ server_events('plan.changed') }, 1, '... not again when the tier stays');
is(db1(qq{select e.xmin::text = p.xmin::text from promptd.analytics_events e, public.prompts p
          where e.event_type = 'prompt.created' and p.id = '$p->{id}' and e.event_data->>'prompt_id' = '$p->{id}'}), 't',
   'prompt.created: written by the transaction that created the prompt');
$s->psql(qq{begin; update public.profiles set subscription_tier = 'team' where id = '$alice'; rollback});
is(scalar @{ server_events('plan.changed', "user_id = '$alice'") }, 0, 'a rolled-back tier change records nothing');

# ------------------------------------------------------------ rollups
sub rollups_match {
    my ($name) = @_;
    my $diff = sub {
        my ($sql) = @_;
        my $rows = $s->psql($sql);
        is_deeply($rows, [], "$name: " . ($sql =~ /-- (.*)$/m)[0]) or diag explain $rows;
    };
    for my $g (['hourly', 'bucket', "date_trunc('hour', created_at at time zone 'utc') at time zone 'utc'"],
               ['daily', 'day', "(created_at at time zone 'utc')::date"]) {
        my ($t, $k, $expr) = @$g;
        $diff->(qq{with raw as (
            select $expr as k, source, event_type, '' as dimension, '' as value, count(*) as n
              from promptd.analytics_events group by 1, 2, 3
            union all select $expr, '*', '*', '', '', count(*) from promptd.analytics_events group by 1
            union all select $expr, source, event_type, 'provider', event_data->>'provider', count(*)
              from promptd.analytics_events where source = 'server' and event_data ? 'provider' group by 1, 2, 3, 5
            union all select $expr, source, event_type, 'model', event_data->>'model', count(*)
              from promptd.analytics_events where source = 'server' and event_data ? 'model' group by 1, 2, 3, 5),
          r as (select $k as k, source, event_type, dimension, value, events as n
                  from promptd.analytics_rollup_$t)
          (select * from raw except select * from r) union all (select * from r except select * from raw)
          -- $t rollups equal the counts over the raw events});
    }
    $diff->(q{(select distinct (created_at at time zone 'utc')::date, user_id from promptd.analytics_events
                where user_id is not null
               except select day, user_id from promptd.analytics_daily_users)
              union all
              (select day, user_id from promptd.analytics_daily_users
               except select distinct (created_at at time zone 'utc')::date, user_id
                 from promptd.analytics_events where user_id is not null)
              -- daily active users equal the raw distinct (day, user)});
}
sub rollup { decode_json(db1('select promptd.analytics_rollup(100000)::text'))->{rolled} }

my $n = rollup();
cmp_ok($n, '>=', 0, "a rollup ran ($n rows; the jobs daemon may have taken others)");
is(db1('select count(*) from promptd.analytics_pending'), 0, 'the queue is empty');
rollups_match('after one rollup');
is(rollup(), 0, 'a second rollup counts nothing');
rollups_match('after a second rollup (no double count)');
is(db1(q{select events from promptd.analytics_rollup_daily where source = 'server'
           and event_type = 'enrichment.completed' and dimension = 'provider'}), 1,
   'the provider dimension of enrichments');

$r = events(token => $tb, json => { events => [ map { { event => 'later', properties => { i => $_ } } } 1 .. 50 ] });
is($r->{json}{stored}, 50, '50 new events');
db1("select promptd.analytics_record('prompt.created', null, '{}'::jsonb, null, now() - interval '1 hour' * (g % 48)) "
  . "from generate_series(1, 3000) g");
# two takers at once (besides the jobs daemon), small batches, bounded loops
my @kids;
for (1 .. 2) {
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        for (1 .. 200) { last if decode_json(db1('select promptd.analytics_rollup(50)::text'))->{rolled} == 0 }
        POSIX::_exit(0);
    }
    push @kids, $pid;
}
waitpid($_, 0) for @kids;
rollup();
is(db1('select count(*) from promptd.analytics_pending'), 0, 'two concurrent takers drained the queue');
rollups_match('after new events and concurrent rollups');

# ------------------------------------------------------------ export, deletion
$r = api($ta, GET => '/api/v1/me/export');
is($r->{status}, 200, 'alice exports her account');
my $x = $r->{json}{analytics_events} || [];
is(scalar @$x, db1("select count(*) from promptd.analytics_events where user_id = '$alice'"),
   '... with every event of hers');
ok((grep { $_->{event} eq 'editor.open' && $_->{source} eq 'client' } @$x), '... her client events');
ok((grep { $_->{event} eq 'enrichment.completed' && $_->{source} eq 'server' } @$x), '... and server events');
ok(!(grep { exists $_->{visitor_hash} } @$x), '... without the visitor hash');
unlike($r->{body}, qr/"later"/, "... and none of bob's");

ok(db1("select count(*) from promptd.analytics_events where user_id = '$bob'") > 0, 'bob has events');
$r = api($s->token($bob), DELETE => '/api/v1/me');
is($r->{status}, 204, 'bob deletes his account') or diag $r->{body};
is(db1("select count(*) from promptd.analytics_events where user_id = '$bob'"), 0, '... his events are gone');
is(db1("select count(*) from promptd.analytics_daily_users where user_id = '$bob'"), 0, '... and his active days');

# ------------------------------------------------------------ partitions
sub parts { [ map { $_->[0] } @{ $s->psql(q{select c.relname from pg_inherits h join pg_class c on c.oid = h.inhrelid
    where h.inhparent = 'promptd.analytics_events'::regclass order by 1}) } ] }
my @months = split ' ', db1(q{select string_agg('analytics_events_' || to_char(date_trunc('month', now() at time zone 'utc')
    + make_interval(months => i), 'YYYYMM'), ' ') from generate_series(0, 3) i});
my %have = map { $_ => 1 } @{ parts() };
ok(!(grep { !$have{$_} } @months), "the current month and three ahead exist (@months)");
ok($have{analytics_events_default}, 'and the default partition');
is(db1(q{select count(*) from pg_index i join pg_class c on c.oid = i.indexrelid join pg_am a on a.oid = c.relam
          join pg_inherits h on h.inhrelid = i.indrelid
          where h.inhparent = 'promptd.analytics_events'::regclass and a.amname = 'brin'}), scalar(@{ parts() }),
   'every partition has the BRIN index on time');
is(db1(q{select promptd.analytics_partitions(3, 400)::text}), '{"purged": 0, "created": 0, "dropped": 0}',
   'the partitions job: nothing to do');

# an old month (past the retention), a far-future row with no partition, a
# very old row with none either
ok(db1(q{select promptd.analytics_partition_ensure((now() - interval '500 days')::date)}) eq 't',
   'a partition 500 days back');
db1(q{select promptd.analytics_record('old.event', null, '{}'::jsonb, null, now() - interval '500 days')});
db1(q{select promptd.analytics_record('future.event', null, '{}'::jsonb, null, now() + interval '2 years')});
db1(q{select promptd.analytics_record('ancient.event', null, '{}'::jsonb, null, now() - interval '900 days')});
is_deeply($s->psql(q{select event_type from promptd.analytics_events_default order by 1}),
          [ ['ancient.event'], ['future.event'] ], 'rows with no partition land in the default one');
my $res = decode_json(db1(q{select promptd.analytics_partitions(3, 400)::text}));
is_deeply($res, { created => 0, dropped => 1, purged => 1 }, 'retention: the old month dropped, the ancient row purged');
is(db1(q{select count(*) from promptd.analytics_events where event_type in ('old.event', 'ancient.event')}), 0,
   '... their rows are gone');
my $future = db1(q{select to_char(now() + interval '2 years', 'YYYYMM')});
ok(db1(q{select promptd.analytics_partition_ensure((now() + interval '2 years')::date)}) eq 't',
   "creating the partition of $future");
is(db1("select count(*) from promptd.analytics_events_$future where event_type = 'future.event'"), 1,
   '... moved its waiting row out of the default partition');
is(db1('select count(*) from promptd.analytics_events_default'), 0, '... which is empty');
$out = $s->promptctl('jobs', 'enqueue', 'analytics.partitions');
($jid) = $out =~ /"first_id"\s*:\s*(\d+)/;
ok($s->wait_for(sub { db1("select state from background_jobs where id = $jid") eq 'succeeded' }, timeout => 20),
   'the analytics.partitions job runs in promptd-jobs')
    or diag explain $s->psql("select state, last_error from background_jobs where id = $jid");
my $result = decode_json(db1("select result::text from background_jobs where id = $jid"));
my $rollups = delete $result->{rollups};
is_deeply($result, { purged => 0, created => 0, dropped => 0 }, '... with no partition left to do');
# the old rows recorded above reach the rollups when the daemon's
# analytics.rollup ran first: then this job deleted them
is_deeply([ sort keys %{ $rollups || {} } ], [qw(daily daily_users hourly)], '... and the rollups\' retention ran');
is(db1(q{select (select count(*) from promptd.analytics_rollup_hourly where bucket < now() - interval '90 days')
              + (select count(*) from promptd.analytics_rollup_daily where day < current_date - 800)}), 0,
   '... leaving no rollup row older than the defaults (90 days hourly, 800 daily)');

done_testing();
