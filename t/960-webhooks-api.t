#!/usr/bin/perl
# 960-webhooks-api.t: the webhooks family: endpoints (create with a secret shown once and sealed at rest, list, show, change, delete), bad input, credentials and tenancy, SSRF refusals at creation and at delivery, signed deliveries checked by an independent verifier and by the official standardwebhooks package, rotation signing with both secrets, the test ping, the delivery log, redelivery, purge.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempfile);
use JSON::PP;
use MIME::Base64 qw(decode_base64);
use Test::More;
use Promptd::Test qw(db1 api problem_ok);
use Promptd::WebhookReceiver;
use Promptd::StandardWebhooks qw(verify);

my $JSON = JSON::PP->new->canonical->utf8;
# The receiver the operator allows (PROMPTD_OUTBOUND_ALLOW names it alone),
# and one on 127.0.0.1 that the guard must keep promptd from.
my $rx = Promptd::WebhookReceiver->new(host => '127.0.0.7');
my $lo = Promptd::WebhookReceiver->new;
my $s = Promptd::Test->new(PROMPTD_WORKERS => 1,
    PROMPTD_OUTBOUND_ALLOW => '127.0.0.7/32', PROMPTD_WEBHOOKS_ALLOW_HTTP => 1,
    PROMPTD_WEBHOOKS_RETRY_SCHEDULE => '0,1,1');
END { local $?; $rx->stop if $rx; $lo->stop if $lo; }

my ($alice, $ta, $bob, $tb, $carol, $tc) = $s->users(qw(alice bob carol));
my $ws_a = db1("select promptd.personal_workspace('$alice')");

sub hook { my ($tok, %b) = @_; api($tok, POST => '/api/v1/webhooks', json => \%b) }
sub deliveries_of { my ($ep) = @_; db1("select count(*) from promptd.webhook_deliveries where endpoint_id = '$ep'") }
sub delivery_state {
    my ($ep) = @_;
    my $r = $s->psql("select state, attempts, coalesce(last_status::text, ''), coalesce(last_error, '') "
                   . "from promptd.webhook_deliveries where endpoint_id = '$ep' order by created_at desc limit 1")->[0];
    return $r ? { state => $r->[0], attempts => $r->[1], status => $r->[2], error => $r->[3] } : {};
}
sub wait_done {
    my ($ep, $n) = @_;
    $s->wait_for(sub { db1("select count(*) from promptd.webhook_deliveries where endpoint_id = '$ep' "
                         . "and state in ('succeeded', 'failed')") >= ($n // 1) }, timeout => 30);
}

# ------------------------------------------------------------ create
my $r = hook($ta, url => $rx->url('/a'), events => ['prompt.created', 'prompt.updated'],
             description => 'my integration');
is($r->{status}, 201, 'create -> 201') or diag $r->{body};
my $ep = $r->{json};
like($ep->{secret}, qr{^whsec_[A-Za-z0-9+/]{43}=$}, 'the secret: whsec_ + base64 of 32 bytes');
is(length decode_base64(substr $ep->{secret}, 6), 32, '... 32 random bytes');
is($r->{headers}{location}, "/api/v1/webhooks/$ep->{id}", 'Location');
is_deeply([ @$ep{qw(url enabled status workspace_id description)} ],
          [ $rx->url('/a'), JSON::PP::true, 'active', $ws_a, 'my integration' ], 'the endpoint as stored');
is_deeply($ep->{events}, ['prompt.created', 'prompt.updated'], 'its events');
my $sealed = db1("select secret_sealed from public.webhook_endpoints where id = '$ep->{id}'");
like($sealed, qr/^v1:[^:]+:/, 'stored sealed (AES-GCM, key id)');
unlike($sealed, qr/\Q@{[ substr $ep->{secret}, 6 ]}\E/, '... never in clear');
is(db1("select count(*) from public.audit_log where action = 'webhook.create' and target = '$ep->{id}'"), 1,
   'audited');
my $g = api($ta, GET => "/api/v1/webhooks/$ep->{id}");
is($g->{status}, 200, 'GET one -> 200');
ok(!exists $g->{json}{secret}, '... without the secret');
my $l = api($ta, GET => '/api/v1/webhooks');
is(scalar @{ $l->{json}{items} }, 1, 'list: the one endpoint');
ok(!exists $l->{json}{items}[0]{secret}, '... without the secret');
is(api($ta, GET => "/api/v1/webhooks?workspace_id=$ws_a")->{json}{items}[0]{id}, $ep->{id}, 'list by workspace');
my $types = api($ta, GET => '/api/v1/webhooks/event-types');
is($types->{status}, 200, 'the event catalogue');
is_deeply([ sort map { $_->{name} } @{ $types->{json}{items} } ],
          [ sort qw(prompt.created prompt.updated prompt.deleted enrichment.completed enrichment.failed
                    share.created share.viewed share.forked billing.payment_failed
                    billing.subscription_changed webhook.disabled ping) ], '... every type');

# ------------------------------------------------------------ bad input
my $rows0 = db1('select count(*) from public.webhook_endpoints');
my $long = 'http://127.0.0.7/' . ('x' x 2050);
for my $c (
    [ { events => ['*'] }, 'url', 'url missing' ],
    [ { url => $rx->url }, 'events', 'events missing' ],
    [ { url => 42, events => ['*'] }, 'url', 'url not a string' ],
    [ { url => $rx->url, events => 'prompt.created' }, 'events', 'events not an array' ],
    [ { url => $rx->url, events => [] }, 'events', 'no events' ],
    [ { url => $rx->url, events => ['prompt.exploded'] }, 'events', 'an unknown event type' ],
    [ { url => $rx->url, events => ['ping'] }, 'events', 'ping cannot be subscribed' ],
    [ { url => $rx->url, events => ['*', '*'] }, 'events', 'a repeated type' ],
    [ { url => $rx->url, events => [ ('*') x 65 ] }, 'events', 'too many types' ],
    [ { url => $rx->url, events => ['*'], description => 'd' x 501 }, 'description', 'description too long' ],
    [ { url => $rx->url, events => ['*'], secret => 'mine' }, 'secret', 'an unknown member' ],
    [ { url => $rx->url, events => ['*'], workspace_id => 'nope' }, 'workspace_id', 'workspace_id not a UUID' ],
    [ { url => $long, events => ['*'] }, 'url', 'url over 2048 bytes' ],
    [ { url => 'not a url', events => ['*'] }, 'url', 'not a URL' ],
    [ { url => 'ftp://127.0.0.7/x', events => ['*'] }, 'url', 'ftp' ],
    [ { url => 'http://user:pw@127.0.0.7/x', events => ['*'] }, 'url', 'a user part' ],
) {
    my ($body, $field, $name) = @$c;
    my $x = api($ta, POST => '/api/v1/webhooks', json => $body);
    problem_ok($x, 422, $name);
    ok((grep { $_->{field} eq $field } @{ $x->{json}{errors} || [] }), "$name: names $field")
        or diag $x->{body};
}
problem_ok(api($ta, POST => '/api/v1/webhooks', body => '{"url": ', headers => { 'Content-Type' => 'application/json' }),
           400, 'malformed JSON');
problem_ok(api($ta, POST => '/api/v1/webhooks', body => '[1]', headers => { 'Content-Type' => 'application/json' }),
           400, 'not an object');
problem_ok(api($ta, POST => '/api/v1/webhooks', json => { url => $rx->url, events => ['*'],
           workspace_id => '00000000-0000-4000-8000-000000000000' }), 404, 'a workspace that is not theirs');
is(db1('select count(*) from public.webhook_endpoints'), $rows0, 'no row from any refused create');

# ------------------------------------------------------------ SSRF at creation
for my $c (['http://127.0.0.1/x', 'loopback'], ['http://10.1.2.3/x', 'private'],
           ['http://169.254.169.254/latest/meta-data/', 'link-local'], ['http://[::1]/x', 'loopback'],
           ['http://[::ffff:127.0.0.1]/x', 'IPv4-mapped|loopback'], ['http://0x7f000001/x', 'loopback'],
           ['http://2130706433/x', 'loopback'], ['http://127.1/x', 'loopback'],
           ['http://localhost:8080/x', 'loopback'], ['http://[fd00::1]/x', 'unique local'],
           ['http://0.0.0.0/x', 'this network|unspecified|reserved'],
           ['https://no-such-host.invalid/x', 'resolve']) {
    my ($url, $why) = @$c;
    my $x = hook($ta, url => $url, events => ['*']);
    problem_ok($x, 422, "SSRF: $url");
    my ($e) = grep { $_->{field} eq 'url' } @{ $x->{json}{errors} || [] };
    like($e->{message} // '', qr/$why/i, "SSRF: $url: the reason ($why)") or diag $x->{body};
}
is(db1('select count(*) from public.webhook_endpoints'), $rows0, 'no endpoint was stored');

# ------------------------------------------------------------ credentials, tenancy
problem_ok(api(undef, GET => '/api/v1/webhooks'), 401, 'no credential');
problem_ok(api('not.a.token', GET => '/api/v1/webhooks'), 401, 'a bad token');
my $k_read = api($ta, POST => '/api/v1/keys', json => { name => 'r', scopes => ['prompts:read'] })->{json}{key};
my $k_hook = api($ta, POST => '/api/v1/keys', json => { name => 'w', scopes => ['webhooks:write'] })->{json}{key};
ok($k_hook, 'an API key with webhooks:write');
problem_ok(api($k_read, GET => '/api/v1/webhooks'), 403, 'a key without webhooks:write', qr/webhooks:write/);
problem_ok(hook($k_read, url => $rx->url('/k'), events => ['*']), 403, 'create with that key');
my $kc = hook($k_hook, url => $rx->url('/k'), events => ['share.created']);
is($kc->{status}, 201, 'a webhooks:write key creates') or diag $kc->{body};
is($kc->{json}{workspace_id}, $ws_a, '... in its own workspace');
is(scalar @{ api($k_hook, GET => '/api/v1/webhooks')->{json}{items} }, 2, 'and lists');
for my $c ([GET => ''], [PATCH => '', { enabled => JSON::PP::false }], [DELETE => ''], [POST => '/rotate'],
           [POST => '/test'], [GET => '/deliveries']) {
    my ($m, $suffix, $body) = @$c;
    problem_ok(api($tb, $m => "/api/v1/webhooks/$ep->{id}$suffix", $body ? (json => $body) : ()), 404,
               "another user: $m {id}$suffix");
}
is(scalar @{ api($tb, GET => '/api/v1/webhooks')->{json}{items} }, 0, "another user lists none of alice's");
is(db1("select enabled::text from public.webhook_endpoints where id = '$ep->{id}'"), 'true', '... and changed nothing');

# A team workspace: admins manage its endpoints; an editor neither sees nor makes them.
my $team = api($ta, POST => '/api/v1/workspaces', json => { name => 'Hooks team' })->{json}{id};
ok($team, 'a team workspace');
$s->psql("insert into public.workspace_members (workspace_id, user_id, role) values "
       . "('$team', '$bob', 'editor'), ('$team', '$carol', 'admin')");
my $te = hook($tc, url => $rx->url('/team'), events => ['prompt.created'], workspace_id => $team);
is($te->{status}, 201, 'a team admin creates an endpoint for the team') or diag $te->{body};
problem_ok(hook($tb, url => $rx->url('/team'), events => ['*'], workspace_id => $team), 403,
           'an editor may not', qr/admin/);
problem_ok(api($tb, GET => "/api/v1/webhooks/$te->{json}{id}"), 404, 'nor see one');
is(api($ta, GET => "/api/v1/webhooks/$te->{json}{id}")->{status}, 200, 'the owner sees it');

# ------------------------------------------------------------ PATCH
my $p = api($ta, PATCH => "/api/v1/webhooks/$ep->{id}", json => { events => ['*'], description => undef });
is($p->{status}, 200, 'PATCH -> 200') or diag $p->{body};
is_deeply([ $p->{json}{events}, $p->{json}{description} ], [ ['*'], undef ], 'events and description changed');
problem_ok(api($ta, PATCH => "/api/v1/webhooks/$ep->{id}", json => {}), 422, 'PATCH naming nothing');
for my $c ([ { events => 'prompt.created' }, 'events', 'PATCH events not an array' ],
           [ { events => [1] }, 'events[0]', 'PATCH events not strings' ],
           [ { events => ['prompt.exploded'] }, 'events', 'PATCH an unknown event type' ],
           [ { description => 42 }, 'description', 'PATCH description not a string' ],
           [ { url => undef }, 'url', 'PATCH url null' ],
           [ { url => 'ftp://127.0.0.7/x' }, 'url', 'PATCH url ftp' ],
           [ { secret => 'mine' }, 'secret', 'PATCH an unknown member' ]) {
    my ($body, $field, $name) = @$c;
    my $x = api($ta, PATCH => "/api/v1/webhooks/$ep->{id}", json => $body);
    problem_ok($x, 422, $name);
    ok((grep { $_->{field} eq $field } @{ $x->{json}{errors} || [] }), "$name: names $field") or diag $x->{body};
}
problem_ok(api($ta, PATCH => "/api/v1/webhooks/$ep->{id}", body => '{"enabled": tru',
               headers => { 'Content-Type' => 'application/json' }), 400, 'PATCH malformed JSON');
problem_ok(api($ta, GET => '/api/v1/webhooks?workspace_id=nope'), 422, 'list by a workspace_id that is not a UUID');
problem_ok(api($ta, PATCH => "/api/v1/webhooks/$ep->{id}", json => { enabled => 'yes' }), 422, 'enabled not a boolean');
problem_ok(api($ta, PATCH => "/api/v1/webhooks/$ep->{id}", json => { url => 'http://127.0.0.1:1/x' }), 422,
           'PATCH to a loopback URL', qr/loopback/);
is(db1("select url || ' ' || array_to_string(events, ',') || ' ' || coalesce(description, '-') "
     . "from public.webhook_endpoints where id = '$ep->{id}'"), $rx->url('/a') . ' * -',
   'no refused PATCH changed anything');

# ------------------------------------------------------------ a delivery, verified twice
my $pr = api($ta, POST => '/api/v1/prompts', json => { title => 'Hooked', content => 'Say {{hi}} ü' });
is($pr->{status}, 201, 'a prompt is created');
my ($d) = $rx->wait_requests(1, 30, '/a');
ok($d, 'the endpoint received a delivery') or BAIL_OUT('no delivery: ' . $s->log_tail('jobs', 30));
my $body = $JSON->decode($d->{body});
is($body->{type}, 'prompt.created', 'type prompt.created');
is($body->{data}{id}, $pr->{json}{id}, 'data.id: the prompt');
is($body->{data}{workspace_id}, $ws_a, 'data.workspace_id');
like($body->{timestamp}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/, 'timestamp (RFC 3339, UTC)');
is($d->{method}, 'POST', 'POST');
is($d->{headers}{'content-type'}, 'application/json', 'Content-Type: application/json');
like($d->{headers}{'user-agent'}, qr/^promptd-webhooks\/1/, 'User-Agent names promptd');
like($d->{headers}{'webhook-id'}, qr/^msg_[0-9a-f]{32}$/, 'webhook-id');
is($d->{headers}{'webhook-id'}, db1("select msg_id from promptd.webhook_events where type = 'prompt.created' order by id desc limit 1"),
   '... the event\'s id');
ok(abs($d->{headers}{'webhook-timestamp'} - time) < 60, 'webhook-timestamp: now');
like($d->{headers}{'webhook-signature'}, qr{^v1,[A-Za-z0-9+/]{43}=$}, 'one v1 signature');
my ($ok, $why) = verify($ep->{secret}, $d->{headers}, $d->{body});
ok($ok, 'the signature verifies (independent implementation)') or diag $why;
($ok) = verify($kc->{json}{secret}, $d->{headers}, $d->{body});
ok(!$ok, '... and not with another endpoint\'s secret');
ok(wait_done($ep->{id}), 'the delivery is finished');
is_deeply(delivery_state($ep->{id}), { state => 'succeeded', attempts => 1, status => 200, error => '' },
          'logged: succeeded in one attempt, 200');

# The official verifier (standardwebhooks, npm), when node is here.
my $prefix = ($ENV{PROMPTD_BUILD_DIR} || "$FindBin::Bin/..") . '/t/.npm';
sub node_verify {
    my ($secret, @ds) = @_;
    my ($fh, $file) = tempfile(UNLINK => 1);
    print $fh $JSON->encode({ secret => $secret, deliveries => [ map { { headers => $_->{headers},
        body => do { my $b = $_->{body}; utf8::decode($b); $b } } } @ds ] });
    close $fh;
    system('cp', "$FindBin::Bin/js/webhooks-verify.mjs", "$prefix/webhooks-verify.mjs") == 0 or die "cp: $?";
    my $out = `cd '$prefix' && node webhooks-verify.mjs < '$file' 2>&1`;
    return eval { $JSON->decode($out) } || [ { ok => 0, error => $out } ];
}
SKIP: {
    skip 'node or the standardwebhooks package is missing', 3
        unless -d "$prefix/node_modules/standardwebhooks" && system('command -v node >/dev/null 2>&1') == 0;
    my $res = node_verify($ep->{secret}, $d);
    ok($res->[0]{ok}, 'standardwebhooks verifies the delivery') or diag explain $res;
    is($res->[0]{payload}{data}{id}, $pr->{json}{id}, '... and parses it');
    ok(!node_verify($kc->{json}{secret}, $d)->[0]{ok}, '... and refuses it under another secret');
}

# ------------------------------------------------------------ SSRF at delivery
# The name now resolving elsewhere (here: the stored URL changed under
# promptd's feet): each attempt is checked again, and nothing reaches it.
my $moved = hook($ta, url => $rx->url('/moved'), events => ['prompt.deleted'])->{json};
$s->psql("update public.webhook_endpoints set url = '" . $lo->url('/moved') . "' where id = '$moved->{id}'");
is(api($ta, DELETE => "/api/v1/prompts/$pr->{json}{id}")->{status}, 204, 'a prompt is deleted');
ok(wait_done($moved->{id}), 'the delivery to the moved endpoint ended');
my $ms = delivery_state($moved->{id});
is($ms->{state}, 'failed', 'failed (after the shortened schedule)');
is($ms->{attempts}, 3, '... every attempt made');
like($ms->{error}, qr/loopback/, '... each refused by the guard');
is(scalar $lo->requests, 0, 'nothing reached 127.0.0.1');

# ------------------------------------------------------------ test ping
$rx->clear;
my $t = api($ta, POST => "/api/v1/webhooks/$kc->{json}{id}/test");
is($t->{status}, 202, 'test -> 202') or diag $t->{body};
like($t->{json}{event_id}, qr/^msg_/, '... with the event id');
my ($ping) = $rx->wait_requests(1, 30, '/k');
is($JSON->decode($ping->{body})->{type}, 'ping', 'the endpoint got a ping');
is($ping->{headers}{'webhook-id'}, $t->{json}{event_id}, '... the same id');
ok(wait_done($kc->{json}{id}), 'finished');
is(scalar $rx->requests('/a'), 0, 'the other endpoint (subscribed to *) got no ping');

# ------------------------------------------------------------ rotation
$rx->clear;
my $old = $ep->{secret};
my $rot = api($ta, POST => "/api/v1/webhooks/$ep->{id}/rotate");
is($rot->{status}, 200, 'rotate -> 200') or diag $rot->{body};
my $new = $rot->{json}{secret};
like($new, qr/^whsec_/, 'a new secret');
isnt($new, $old, '... not the old one');
ok($rot->{json}{previous_secret_expires_at}, 'the old one signs until previous_secret_expires_at');
my $exp = db1("select extract(epoch from previous_secret_until - now())::int from public.webhook_endpoints where id = '$ep->{id}'");
ok($exp > 86300 && $exp <= 86400, '... 24 hours') or diag $exp;
api($ta, PATCH => "/api/v1/prompts/" . api($ta, POST => '/api/v1/prompts', json => { title => 'r', content => 'r' })->{json}{id},
    json => { title => 'r2' });
my @two = $rx->wait_requests(2, 30, '/a');
my ($upd) = grep { $JSON->decode($_->{body})->{type} eq 'prompt.updated' } @two;
ok($upd, 'prompt.updated delivered');
my @sigs = split / /, $upd->{headers}{'webhook-signature'} // '';
is(scalar @sigs, 2, 'during the overlap: two signatures, space-separated');
ok((verify($new, $upd->{headers}, $upd->{body}))[0], 'verifies with the new secret');
ok((verify($old, $upd->{headers}, $upd->{body}))[0], 'and with the old one');
SKIP: {
    skip 'node or the standardwebhooks package is missing', 2
        unless -d "$prefix/node_modules/standardwebhooks" && system('command -v node >/dev/null 2>&1') == 0;
    ok(node_verify($new, $upd)->[0]{ok}, 'standardwebhooks: the new secret');
    ok(node_verify($old, $upd)->[0]{ok}, 'standardwebhooks: the old secret');
}
$s->psql("update public.webhook_endpoints set previous_secret_until = now() - interval '1 second' where id = '$ep->{id}'");
$rx->clear;
api($ta, POST => '/api/v1/prompts', json => { title => 'after', content => 'overlap' });
my ($after) = $rx->wait_requests(1, 30, '/a');
is(scalar(split / /, $after->{headers}{'webhook-signature'}), 1, 'after the overlap: one signature');
ok((verify($new, $after->{headers}, $after->{body}))[0], '... the new secret\'s');
ok(!(verify($old, $after->{headers}, $after->{body}))[0], '... the old one no longer verifies');
is(api($ta, GET => "/api/v1/webhooks/$ep->{id}")->{json}{previous_secret_expires_at}, undef,
   'previous_secret_expires_at is gone');

# ------------------------------------------------------------ the delivery log, redelivery
$rx->clear;
$rx->script('/a', [ { status => 500, body => ('E' x 5000) . 'tail' } ]);
my $logged = api($ta, POST => '/api/v1/prompts', json => { title => 'logged', content => 'x' })->{json};
$s->wait_for(sub { db1("select count(*) from promptd.webhook_deliveries where endpoint_id = '$ep->{id}' "
                     . "and state = 'succeeded' and attempts = 2") >= 1 }, timeout => 30);
my $log = api($ta, GET => "/api/v1/webhooks/$ep->{id}/deliveries");
is($log->{status}, 200, 'GET deliveries -> 200');
my ($row) = grep { $_->{attempts} == 2 } @{ $log->{json}{items} };
ok($row, 'the retried delivery is listed') or diag $log->{body};
is_deeply([ @$row{qw(status response_status event_type)} ], [ 'succeeded', 200, 'prompt.created' ],
          '... succeeded at the second attempt, 200');
ok(defined $row->{latency_ms} && $row->{latency_ms} >= 0, '... with its latency');
like($row->{event_id}, qr/^msg_/, '... and its event id');
my $first = (grep { $_->{attempts} == 3 } @{ api($ta, GET => "/api/v1/webhooks/$moved->{id}/deliveries")->{json}{items} })[0];
is($first->{status}, 'failed', 'a failed delivery is listed as failed');
is($first->{next_attempt_at}, undef, '... with no next attempt');
$rx->default('/a', { status => 500, body => ('F' x 5000) });
my $failing = api($ta, POST => '/api/v1/prompts', json => { title => 'failing', content => 'x' })->{json};
$s->wait_for(sub { db1("select count(*) from promptd.webhook_deliveries d join promptd.webhook_events e on e.id = d.event_id "
                     . "where d.endpoint_id = '$ep->{id}' and e.body like '%\"$failing->{id}\"%' and d.state = 'failed'") }, timeout => 30);
my $frow = (grep { $_->{response_status} && $_->{response_status} == 500 && $_->{status} eq 'failed' }
            @{ api($ta, GET => "/api/v1/webhooks/$ep->{id}/deliveries?status=failed")->{json}{items} })[0];
ok($frow, 'status=failed lists the exhausted delivery') or diag explain api($ta, GET => "/api/v1/webhooks/$ep->{id}/deliveries");
is(length $frow->{response_body}, 4096, 'the first 4 KB of the response body');
is($frow->{attempts}, 3, 'three attempts (the schedule 0,1,1)');
my $pg = api($ta, GET => "/api/v1/webhooks/$ep->{id}/deliveries?limit=1");
is(scalar @{ $pg->{json}{items} }, 1, 'limit=1: one');
ok($pg->{json}{next_before}, '... and a cursor');
my $pg2 = api($ta, GET => "/api/v1/webhooks/$ep->{id}/deliveries?limit=1&before=$pg->{json}{next_before}");
isnt($pg2->{json}{items}[0]{id}, $pg->{json}{items}[0]{id}, 'the next page is another delivery');
problem_ok(api($ta, GET => "/api/v1/webhooks/$ep->{id}/deliveries?status=lost"), 422, 'an unknown status filter');
problem_ok(api($ta, GET => "/api/v1/webhooks/$ep->{id}/deliveries?before=x"), 422, 'a bad cursor');
problem_ok(api($ta, GET => "/api/v1/webhooks/$ep->{id}/deliveries?limit=0"), 422, 'limit 0');

$rx->default('/a', undef);
$rx->clear;
my $rd = api($ta, POST => "/api/v1/webhooks/deliveries/$frow->{id}/redeliver");
is($rd->{status}, 202, 'redeliver -> 202') or diag $rd->{body};
is($rd->{json}{redelivery_of}, $frow->{id}, '... a new delivery of the same event');
is($rd->{json}{status}, 'pending', '... pending');
my ($again) = $rx->wait_requests(1, 30, '/a');
is($again->{headers}{'webhook-id'}, $frow->{event_id}, 'sent again with the same webhook-id');
$s->wait_for(sub { db1("select state from promptd.webhook_deliveries where id = '$rd->{json}{id}'") eq 'succeeded' }, timeout => 30);
is(db1("select state from promptd.webhook_deliveries where id = '$rd->{json}{id}'"), 'succeeded', 'the redelivery succeeded');
problem_ok(api($tb, POST => "/api/v1/webhooks/deliveries/$frow->{id}/redeliver"), 404, "another user's delivery");
problem_ok(api($ta, POST => '/api/v1/webhooks/deliveries/00000000-0000-4000-8000-000000000000/redeliver'), 404,
           'an unknown delivery');
problem_ok(api($k_read, POST => "/api/v1/webhooks/deliveries/$frow->{id}/redeliver"), 403, 'a key without the scope');

# disabled through the API: no test ping, no redelivery, nothing sent; re-enabled: afresh
my $off = api($ta, PATCH => "/api/v1/webhooks/$ep->{id}", json => { enabled => JSON::PP::false });
is_deeply([ @{ $off->{json} }{qw(enabled status disabled_reason)} ],
          [ JSON::PP::false, 'disabled', 'disabled through the API' ], 'PATCH enabled=false');
problem_ok(api($ta, POST => "/api/v1/webhooks/$ep->{id}/test"), 409, 'test on a disabled endpoint');
problem_ok(api($ta, POST => "/api/v1/webhooks/deliveries/$frow->{id}/redeliver"), 409, 'redeliver to it');
$rx->clear;
my $evs = db1('select count(*) from promptd.webhook_events');
api($ta, POST => '/api/v1/prompts', json => { title => 'quiet', content => 'x' });
is(db1('select count(*) from promptd.webhook_events'), $evs, 'no event is recorded for a workspace with no enabled endpoint wanting it');
my $on = api($ta, PATCH => "/api/v1/webhooks/$ep->{id}", json => { enabled => JSON::PP::true });
is_deeply([ @{ $on->{json} }{qw(enabled status disabled_reason)} ], [ JSON::PP::true, 'active', undef ],
          're-enabled: active, no reason');

# ------------------------------------------------------------ delete, purge
my $del = api($ta, DELETE => "/api/v1/webhooks/$kc->{json}{id}");
is($del->{status}, 204, 'DELETE -> 204');
is(deliveries_of($kc->{json}{id}), 0, 'its deliveries went with it');
problem_ok(api($ta, GET => "/api/v1/webhooks/$kc->{json}{id}"), 404, 'gone');
problem_ok(api($ta, DELETE => "/api/v1/webhooks/$kc->{json}{id}"), 404, 'DELETE again');

$s->psql("update promptd.webhook_deliveries set updated_at = now() - interval '31 days' where endpoint_id = '$moved->{id}'");
$s->psql("update promptd.webhook_events set created_at = now() - interval '31 days' where id in "
       . "(select event_id from promptd.webhook_deliveries where endpoint_id = '$moved->{id}')");
my $keep_n = db1("select count(*) from promptd.webhook_deliveries where endpoint_id <> '$moved->{id}'");
my $out = $s->promptctl('jobs', 'enqueue', 'webhooks.purge');
my ($jid) = $out =~ /"first_id"\s*:\s*(\d+)/;
ok($s->wait_for(sub { db1("select state from background_jobs where id = $jid") eq 'succeeded' }, timeout => 30),
   'webhooks.purge ran');
is(deliveries_of($moved->{id}), 0, 'deliveries past the retention are purged');
is(db1("select count(*) from promptd.webhook_deliveries where endpoint_id <> '$moved->{id}'"), $keep_n, 'the rest are kept');
like(db1("select result::text from background_jobs where id = $jid"), qr/"webhook_deliveries": 1\b/, 'the job reports the count');
is(db1("select count(*) from promptd.schedules where task = 'webhooks.purge'"), 1, 'and is scheduled');

done_testing;
