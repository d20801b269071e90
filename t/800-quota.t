#!/usr/bin/perl
# 800-quota.t: quotas as a client sees them: RateLimit fields (parsed as structured fields), the request quota (429 + Retry-After), counted limits (409) for prompts, versions, keys and shares, /api/v1/usage, the admin routes and promptctl plans/quota, bad input.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use Promptd::Test qw(db1 api);
use Promptd::SF qw(sf_list sf_param);

my $s = Promptd::Test->new(PROMPTD_WORKERS => 1, quotas => 1);
my ($alice, $ta, $bob, $tb, $root, $tr) = $s->users(qw(alice bob root));
$s->promptctl('user', 'admin', $root, 'on');
my $T = JSON::PP::true;

# The fields of a response as {policy => {q, w}} and {policy => {r, t}}.
sub fields {
    my ($r) = @_;
    my ($pol, $lim) = map { sf_list($r->{headers}{$_}) } 'ratelimit-policy', 'ratelimit';
    return (undef, undef) unless $pol && $lim;
    my %p;
    for my $i (@$pol) {
        return (undef, undef) unless $i->{type} eq 'string';
        $p{$i->{value}} = { map { ($_ => $i->{params}{$_}[1]) } keys %{ $i->{params} } };
    }
    my %l;
    for my $i (@$lim) {
        return (undef, undef) unless $i->{type} eq 'string';
        $l{$i->{value}} = { map { ($_ => $i->{params}{$_}[1]) } keys %{ $i->{params} } };
    }
    return (\%p, \%l);
}

sub problem_ok {
    my ($r, $status, $type, $name) = @_;
    is($r->{status}, $status, "$name -> $status") or diag explain $r;
    like($r->{headers}{'content-type'} // '', qr{^application/problem\+json}, "$name: problem+json");
    is($r->{json}{type}, "https://promptd.dev/problems/quota/$type", "$name: type") if $type;
}

# The database clock in the first 45 s of a minute, so a burst of a few
# requests stays in one window.
sub fresh_minute { $s->at_second(0, 44) }

sub prompt {
    my ($tok, $title) = @_;
    return api($tok, POST => '/api/v1/prompts', json => { title => $title, content => 'x' });
}

# ------------------------------------------------ structured-field parser
is_deeply(sf_list('"a";q=1;w=60, "b";q=2'), [
    { type => 'string', value => 'a', params => { q => ['integer', 1], w => ['integer', 60] } },
    { type => 'string', value => 'b', params => { q => ['integer', 2] } } ], 'sf_list parses a List');
is(sf_param('"a";q=1;w=60, "b";q=2', 'b', 'q'), 2, 'sf_param: an item\'s parameter');
is(sf_param('"a";q=1', 'a', 'w'), undef, 'sf_param: a parameter missing');
is(sf_param('"a";q=1', 'b', 'q'), undef, 'sf_param: an item missing');
is(sf_list('"a";q=1,'), undef, 'sf_list refuses a trailing comma');
is(sf_list('"a;q=1'), undef, 'sf_list refuses an open string');

# ------------------------------------------------ fields on every governed answer
my $r = api($ta, GET => '/api/v1/prompts');
is($r->{status}, 200, 'GET prompts');
my ($pol, $lim) = fields($r);
ok($pol && $lim, 'RateLimit-Policy and RateLimit are valid structured-field Lists') or diag explain $r->{headers};
is_deeply($pol->{requests_per_minute}, { q => 600, w => 60 }, 'free plan: 600 requests per 60 s');
cmp_ok($lim->{requests_per_minute}{r}, '<', 600, 'remaining below the quota');
cmp_ok($lim->{requests_per_minute}{t}, '>=', 1, 'reset in seconds >= 1');
cmp_ok($lim->{requests_per_minute}{t}, '<=', 60, 'reset within the window');
$r = api($ta, POST => '/api/v1/prompts', json => { title => 'one', content => 'c' });
is($r->{status}, 201, 'a write');
ok((fields($r))[0]{requests_per_minute}, 'a write carries the fields too');
$r = $s->request(GET => '/api/v1/public/prompts');
ok(!exists $r->{headers}{ratelimit}, 'an anonymous route is not governed');
$r = $s->request(GET => '/healthz');
ok(!exists $r->{headers}{'ratelimit-policy'}, 'health is not governed');

# ------------------------------------------------ the request quota: exact, 429
$s->promptctl('quota', 'set', $bob, 'requests_per_minute=5');
fresh_minute();
my @r = map { api($tb, GET => '/api/v1/prompts') } 1 .. 7;
is_deeply([map { $_->{status} } @r], [200, 200, 200, 200, 200, 429, 429], 'five requests, then 429');
is_deeply([map { (fields($_))[1]{requests_per_minute}{r} } @r[0 .. 4]], [4, 3, 2, 1, 0],
          'remaining counts down to 0');
$r = $r[5];
problem_ok($r, 429, 'requests_per_minute', 'over the request quota');
like($r->{headers}{'retry-after'} // '', qr/^[1-9]\d*$/, 'Retry-After in seconds');
cmp_ok($r->{headers}{'retry-after'}, '<=', 60, 'Retry-After within the window');
is($r->{json}{limit}, 5, 'body: the limit');
is($r->{json}{window}, 'minute', 'body: the window');
is($r->{json}{window_seconds}, 60, 'body: the window in seconds');
like($r->{json}{resets_at} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:00/, 'body: the reset time');
is($r->{json}{tier}, 'free', 'body: the plan');
is($r->{json}{upgrade_tier}, 'pro', 'body: the plan that raises it');
($pol, $lim) = fields($r);
is_deeply([$pol->{requests_per_minute}{q}, $lim->{requests_per_minute}{r}], [5, 0], 'the 429 carries the fields');
is(db1("select promptd.quota_counter_used(used, seq, base, lim) from promptd.quota_counters where user_id = '$bob' and resource = 'requests_per_minute'"),
   5, 'the counter holds exactly 5 (refusals are not counted)');
# the next window (the database clock's minute rolls over: simulated by
# moving the spent counter back one minute)
$s->psql("update promptd.quota_counters set window_start = window_start - interval '1 minute' "
       . "where user_id = '$bob' and resource = 'requests_per_minute'");
is(api($tb, GET => '/api/v1/prompts')->{status}, 200, 'a new window admits again');
$r = api($tb, POST => '/api/v1/prompts', json => { title => 'x', content => 'y' });
is($r->{status}, 201, 'a write within the quota');
$s->promptctl('quota', 'set', $bob, 'requests_per_minute=0');
$r = api($tb, POST => '/api/v1/prompts', json => { title => 'refused', content => 'y' });
problem_ok($r, 429, 'requests_per_minute', 'a write over the quota');
is(db1("select count(*) from prompts where user_id = '$bob' and title = 'refused'"), 0, 'nothing written');
$s->promptctl('quota', 'clear', $bob);

# ------------------------------------------------ counted limits: 409, nothing written
$s->promptctl('quota', 'set', $alice, 'prompts=3');
my @st = map { prompt($ta, "p$_")->{status} } 1 .. 3;
is_deeply(\@st, [201, 201, 409], 'prompts: up to the limit (one existed), then 409');
$r = prompt($ta, 'p4');
problem_ok($r, 409, 'prompts', 'over the prompt limit');
is($r->{json}{limit}, 3, 'body: limit');
is($r->{json}{used}, 3, 'body: used');
ok(!exists $r->{headers}{'retry-after'}, 'no Retry-After: waiting does not help');
($pol, $lim) = fields($r);
is_deeply([$pol->{prompts}, $lim->{prompts}], [{ q => 3 }, { r => 0 }], 'the prompts policy in the fields');
is(db1("select count(*) from prompts where user_id = '$alice'"), 3, 'three prompts stored');
my $pid = db1("select id from prompts where user_id = '$alice' order by created_at limit 1");
is(api($ta, DELETE => "/api/v1/prompts/$pid")->{status}, 204, 'delete one');
is(prompt($ta, 'again')->{status}, 201, 'room again after a delete');
# a fork counts as a prompt too
my $bp = api($tb, POST => '/api/v1/prompts', json => { title => 'bob', content => 'b' })->{json}{id};
my $share = api($tb, POST => "/api/v1/prompts/$bp/shares", json => { public => $T });
is($share->{status}, 201, 'bob shares a prompt');
problem_ok(api($ta, POST => "/api/v1/shared/$share->{json}{token}/fork"), 409, 'prompts', 'a fork over the limit');

# versions per prompt
$s->promptctl('quota', 'set', $alice, 'versions_per_prompt=2');
$pid = db1("select id from prompts where user_id = '$alice' order by created_at limit 1");
is(api($ta, PATCH => "/api/v1/prompts/$pid", json => { content => 'v2' })->{status}, 200, 'version 2');
$r = api($ta, PATCH => "/api/v1/prompts/$pid", json => { content => 'v3' });
problem_ok($r, 409, 'versions_per_prompt', 'version 3 over the limit');
is(db1("select version || ':' || content from prompts where id = '$pid'"), '2:v2', 'the prompt is unchanged');
is(db1("select count(*) from prompt_versions where prompt_id = '$pid'"), 2, 'two versions kept');
$s->promptctl('quota', 'clear', $alice);

# API keys (free plan: 2 active); revoked keys do not count
my @k = map { api($ta, POST => '/api/v1/keys', json => { name => "k$_" }) } 1 .. 3;
is_deeply([map { $_->{status} } @k], [201, 201, 409], 'api keys: 2 then 409');
problem_ok($k[2], 409, 'api_keys', 'a third key');
is(db1("select count(*) from api_keys where user_id = '$alice'"), 2, 'two keys stored');
is(api($ta, DELETE => "/api/v1/keys/$k[0]{json}{id}")->{status}, 204, 'revoke one');
is(api($ta, POST => '/api/v1/keys', json => { name => 'k4' })->{status}, 201, 'a revoked key frees its place');
$r = $s->request(GET => '/api/v1/prompts', { token => $k[1]{json}{key} });
is($r->{status}, 200, 'an API key caller');
($pol, $lim) = fields($r);
is($pol->{requests_per_minute}{q}, 600, 'an API key caller sees the fields too');
is(db1("select count(*) from promptd.quota_counters where user_id = '$alice' and resource = 'requests_per_minute' "
     . "and key_id <> '00000000-0000-0000-0000-000000000000'"), 0, 'counted per user (the free plan is not per key)');

# share links
$s->promptctl('quota', 'set', $alice, 'shares=1');
$pid = db1("select id from prompts where user_id = '$alice' order by created_at limit 1");
is(api($ta, POST => "/api/v1/prompts/$pid/shares", json => {})->{status}, 201, 'one link');
problem_ok(api($ta, POST => "/api/v1/prompts/$pid/shares", json => {}), 409, 'shares', 'a second link');
is(db1("select count(*) from shares where user_id = '$alice'"), 1, 'one link stored');
$s->promptctl('quota', 'clear', $alice);

# ------------------------------------------------ GET /api/v1/usage
$r = api($ta, GET => '/api/v1/usage');
is($r->{status}, 200, 'usage');
my %u = map { ($_->{resource} => $_) } @{ $r->{json}{resources} };
is_deeply([sort keys %u], [sort qw(requests_per_minute enrich_per_day tokens_per_month prompts
          versions_per_prompt api_keys shares storage_bytes)], 'every resource listed');
is($u{prompts}{used}, db1("select count(*) from prompts where user_id = '$alice'"), 'prompts used');
is($u{prompts}{limit}, 100, 'prompts limit (plan default again)');
is($u{api_keys}{used}, 2, 'active keys');
is($u{api_keys}{remaining}, 0, 'keys remaining');
is($u{requests_per_minute}{window_seconds}, 60, 'request window');
like($u{enrich_per_day}{resets_at}, qr/T00:00:00/, 'a day resets at 00:00 UTC');
is($u{enrich_per_day}{remaining}, 20, 'enrichments left today');
ok(grep({ $_->{resource} eq 'requests_per_minute' && $_->{used} > 0 } @{ $r->{json}{history} }),
   'history per day holds the requests');
problem_ok(api($ta, GET => '/api/v1/usage?days=0'), 422, undef, 'days out of range');
problem_ok(api($ta, GET => '/api/v1/usage?days=x'), 422, undef, 'days not a number');
problem_ok($s->request(GET => '/api/v1/usage'), 401, undef, 'no credential');
my $akey = api($tr, POST => '/api/v1/keys', json => { name => 'adm', scopes => ['admin', 'prompts:read'] })->{json}{key};
problem_ok($s->request(GET => '/api/v1/usage', { token => $akey }), 403, undef, 'an API key on /api/v1/usage (user tokens only)');
$r = $s->request(GET => "/api/v1/admin/users/$alice/usage", { token => $akey });
is($r->{status}, 200, 'an admin-scoped API key reads a user\'s usage');
is($r->{json}{user_id}, $alice, '... that user');

# ------------------------------------------------ admin routes
problem_ok(api($ta, GET => "/api/v1/admin/users/$bob/usage"), 403, undef, 'a user reads another user');
$r = api($tr, GET => "/api/v1/admin/users/$bob/usage");
is($r->{status}, 200, 'an admin reads any user');
is($r->{json}{user_id}, $bob, '... that user');
problem_ok(api($tr, GET => '/api/v1/admin/users/00000000-0000-0000-0000-000000000001/usage'),
           404, undef, 'unknown user');
$r = api($tr, PUT => "/api/v1/admin/users/$bob/limits", json => { limits => { prompts => 2, per_key => ['requests_per_minute'] } });
is($r->{status}, 200, 'admin sets an override') or diag explain $r;
is_deeply($r->{json}{overrides}, { prompts => 2, per_key => ['requests_per_minute'] }, 'the override');
is(db1("select limits->>'prompts' from promptd.quota_overrides where user_id = '$bob'"), 2, 'stored');
is(db1("select count(*) from audit_log where action = 'quota.override' and detail->>'via' = 'api'"), 1, 'audited (via the API)');
is(api($tb, GET => '/api/v1/usage')->{json}{limits}{prompts}, 2, 'bob sees his limit');
my $before = db1("select count(*) from audit_log where action in ('quota.override', 'plan.update')");
for my $bad (
    ['{"limits":', 400, 'malformed JSON'],
    ['[]', 400, 'not an object'],
    ['{"limits": 5}', 422, 'limits not an object'],
    ['{"limits": {"prompts": -1}}', 422, 'a negative limit'],
    ['{"limits": {"prompts": 1.5}}', 422, 'a fractional limit'],
    ['{"limits": {"prompts": "9"}}', 422, 'a string limit'],
    ['{"limits": {"nope": 1}}', 422, 'an unknown resource'],
    ['{"limits": {"per_key": ["prompts"]}}', 422, 'per_key naming a counted resource'],
    ['{"limits": {}, "extra": 1}', 422, 'an unknown member'],
    ['{}', 422, 'limits missing'],
) {
    my ($body, $status, $name) = @$bad;
    $r = $s->request(PUT => "/api/v1/admin/users/$bob/limits",
                     { token => $tr, body => $body, headers => { 'Content-Type' => 'application/json' } });
    problem_ok($r, $status, undef, "override: $name");
    $r = $s->request(PATCH => '/api/v1/admin/plans/free',
                     { token => $tr, body => $body, headers => { 'Content-Type' => 'application/json' } });
    problem_ok($r, $status, undef, "plan: $name");
}
is(db1("select count(*) from audit_log where action in ('quota.override', 'plan.update')"), $before,
   'no bad input was audited');
is(db1("select limits->>'prompts' from promptd.quota_overrides where user_id = '$bob'"), 2, 'override unchanged');
is(db1("select limits->>'prompts' from plans where tier = 'free'"), 100, 'plan unchanged');
problem_ok(api($tr, PUT => '/api/v1/admin/users/00000000-0000-0000-0000-000000000001/limits',
               json => { limits => {} }), 404, undef, 'override of an unknown user');
problem_ok(api($tr, PATCH => '/api/v1/admin/plans/gold', json => { limits => {} }), 404, undef, 'unknown plan');
problem_ok(api($ta, PATCH => '/api/v1/admin/plans/free', json => { limits => { prompts => 1 } }),
           403, undef, 'a user changes a plan');
problem_ok(api($ta, PUT => "/api/v1/admin/users/$alice/limits", json => { limits => { prompts => 1000 } }),
           403, undef, 'a user raises her own limit');
is(db1("select count(*) from promptd.quota_overrides where user_id = '$alice'"), 0, 'nothing written');
$r = api($tr, PATCH => '/api/v1/admin/plans/pro', json => { limits => { shares => 7 } });
is($r->{status}, 200, 'admin changes a plan');
is($r->{json}{limits}{shares}, 7, 'merged');
is($r->{json}{limits}{prompts}, 5000, 'the other limits kept');
is(api($tr, PUT => "/api/v1/admin/users/$bob/limits", json => { limits => {} })->{status}, 200, 'clear');
is(db1("select count(*) from promptd.quota_overrides where user_id = '$bob'"), 0, 'override removed');

# ------------------------------------------------ promptctl
like($s->promptctl('plans', 'set', 'team', 'shares=12', 'api_keys=null'), qr/"shares": 12/, 'plans set');
is(db1("select limits->'api_keys' from plans where tier = 'team'"), 'null', 'null: unlimited');
like($s->promptctl('plans', 'list'), qr/^free \{.*"prompts": 100/m, 'plans list');
my ($rc, $out, $err) = $s->_run([$s->{promptctl}, 'plans', 'set', 'free', 'prompts=-3'], separate => 1);
isnt($rc, 0, 'plans set refuses a negative limit');
($rc, $out, $err) = $s->_run([$s->{promptctl}, 'plans', 'set', 'free', 'bogus=3'], separate => 1);
like($err, qr/bogus is not a known resource/, 'and an unknown resource');
like($s->promptctl('quota', 'show', 'alice@example.com'), qr/"resource": "prompts"/, 'quota show USER');
like($s->promptctl('quota', 'enforce', 'off'), qr/enforce off/, 'enforcement off');
$s->promptctl('quota', 'set', $bob, 'requests_per_minute=0');
$r = api($tb, GET => '/api/v1/prompts');
is($r->{status}, 200, 'not enforced: admitted');
ok(!exists $r->{headers}{ratelimit}, 'not enforced: no fields');
like($s->promptctl('quota', 'enforce', 'on'), qr/enforce on/, 'enforcement on');
is(api($tb, GET => '/api/v1/prompts')->{status}, 429, 'enforced again');

# ------------------------------------------------ grants: only the workers' role
for my $call ("promptd.quota_hit('$bob', null, false)", "promptd.quota_usage('$bob', 1)",
              "promptd.quota_plan_set('free', '{}')", "promptd.quota_override_set('$bob', '{}')",
              "promptd.quota_reserve('$bob', null, 'enrich_per_day', 1)") {
    ok(!eval { $s->as_role('authenticated', $bob, "select $call"); 1 }, "authenticated cannot call $call");
    like($@, qr/permission denied/, '... permission denied');
}
ok(!eval { $s->as_role('authenticated', $bob, 'select * from promptd.quota_counters'); 1 },
   'counters are not readable by a request role');

$s->stop;
done_testing;
