#!/usr/bin/perl
# 961-webhooks-delivery.t: outbound webhook delivery: each event type fired by its real cause, the outbox under rollback and across a stopped sender, the retry schedule, Retry-After, dropped connections and timeouts, 410 and long failure disabling endpoints, and a slow endpoint neither delaying a fast one nor getting more than its share of connections.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use List::Util qw(max min);
use Test::More;
use Promptd::Test qw(db1 api);
use Promptd::WebhookReceiver;
use Promptd::StandardWebhooks qw(verify);
use Promptd::FakeLLM;
use Promptd::FakeStripe;

my $JSON = JSON::PP->new->canonical->utf8;
my $rx = Promptd::WebhookReceiver->new;
my $llm = Promptd::FakeLLM->new;
my $WH = 'whsec_stripe_for_961';
my $st = Promptd::FakeStripe->new(key => 'sk_test_961');
my $s = Promptd::Test->new(PROMPTD_WORKERS => 1,
    PROMPTD_OUTBOUND_ALLOW => '127.0.0.1/32', PROMPTD_WEBHOOKS_ALLOW_HTTP => 1,
    PROMPTD_WEBHOOKS_RETRY_SCHEDULE => '0,1,2', PROMPTD_WEBHOOKS_TIMEOUT => 10,
    PROMPTD_WEBHOOKS_PER_ENDPOINT => 2,
    PROMPTD_ENRICH_PROVIDERS => 'openai:gpt-4o-mini,local',
    PROMPTD_OPENAI_BASE_URL => $llm->openai_url, PROMPTD_OPENAI_API_KEY => 'sk-server-openai',
    PROMPTD_ENRICH_RETRIES => 0, PROMPTD_ENRICH_TIMEOUT_MS => 1500,
    PROMPTD_STRIPE_SECRET_KEY => 'sk_test_961', PROMPTD_STRIPE_API_BASE => $st->base_url,
    PROMPTD_STRIPE_WEBHOOK_SECRET => $WH);
END { local $?; $rx->stop if $rx; }
$s->promptctl(qw(plans price pro monthly price_pro_m));

my ($alice, $ta, $bob, $tb) = $s->users(qw(alice bob));
is(db1('select coalesce(promptd.webhook_next_due(4)::text, \'null\')'), 'null',
   'nothing due: webhook_next_due is null (an idle sender sleeps, it does not claim in a loop)');
my $ws = db1("select promptd.personal_workspace('$alice')");

sub hook {
    my ($path, @events) = @_;
    my $r = api($ta, POST => '/api/v1/webhooks', json => { url => $rx->url($path), events => \@events });
    die "create $path: $r->{body}" unless $r->{status} == 201;
    return $r->{json};
}
# The bodies received on $path of type $type (decoded), waiting for $n.
sub received {
    my ($path, $type, $n) = @_;
    my @got;
    $s->wait_for(sub {
        @got = grep { $_->{type} eq $type } map { $JSON->decode($_->{body}) } $rx->requests($path);
        @got >= ($n // 1) }, timeout => 30);
    return @got;
}
sub state_of {
    my ($ep) = @_;
    my $r = $s->psql("select state, attempts, coalesce(last_status::text, ''), coalesce(last_error, '') "
                   . "from promptd.webhook_deliveries where endpoint_id = '$ep' order by created_at desc limit 1")->[0];
    return $r ? "$r->[0] $r->[1] $r->[2]" : '';
}
sub wait_state { my ($ep, $want) = @_; $s->wait_for(sub { state_of($ep) =~ /^$want/ }, timeout => 30); state_of($ep) }

# ------------------------------------------------------------ every event type, by its cause
my $all = hook('/all', '*');

my $p = api($ta, POST => '/api/v1/prompts', json => { title => 'Cause', content => 'Write {{thing}}' })->{json};
my ($created) = received('/all', 'prompt.created');
is($created->{data}{id}, $p->{id}, 'prompt.created: by POST /api/v1/prompts');
is($created->{data}{title}, 'Cause', '... with its title');
api($ta, PATCH => "/api/v1/prompts/$p->{id}", json => { content => 'Write {{thing}} well' });
my ($updated) = received('/all', 'prompt.updated');
is_deeply([ $updated->{data}{id}, $updated->{data}{version} ], [ $p->{id}, 2 ], 'prompt.updated: by PATCH, version 2');

my $e = api($ta, POST => '/api/v1/enrich', json => { prompt => 'Summarise the report in 3 bullets', providers => ['local'] },
            headers => { 'Cache-Control' => 'no-cache' });
is($e->{status}, 200, 'an enrichment') or diag $e->{body};
my ($ec) = received('/all', 'enrichment.completed');
is($ec->{data}{provider}, 'local', 'enrichment.completed: by POST /api/v1/enrich, the provider that answered');
is($ec->{data}{user_id}, $alice, '... and whose it is');
$llm->default(openai => { status => 500 });
my $ef = api($ta, POST => '/api/v1/enrich', json => { prompt => 'This one fails', providers => ['openai'] },
             headers => { 'Cache-Control' => 'no-cache' });
is($ef->{status}, 502, 'an enrichment whose only provider fails') or diag $ef->{body};
my ($efail) = received('/all', 'enrichment.failed');
ok($efail, 'enrichment.failed');
ok($efail->{data}{error}, '... with the error');

my $sh = api($ta, POST => "/api/v1/prompts/$p->{id}/shares", json => { public => JSON::PP::true })->{json};
my ($sc) = received('/all', 'share.created');
is($sc->{data}{id}, $sh->{id}, 'share.created: by POST .../shares');
is(api($tb, POST => "/api/v1/shared/$sh->{token}/fork")->{status}, 201, 'bob forks it');
my ($sf) = received('/all', 'share.forked');
is_deeply([ $sf->{data}{id}, $sf->{data}{forked_by}, $sf->{data}{forks} ], [ $sh->{id}, $bob, 1 ],
          'share.forked: to the owner, naming who forked');
for my $ua ('Mozilla/5.0 viewer-1', 'Mozilla/5.0 viewer-2', 'Mozilla/5.0 viewer-2') {
    is($s->request(GET => "/s/$sh->{token}", { headers => { 'User-Agent' => $ua } })->{status}, 200, "a view ($ua)");
}
$s->request(GET => '/healthz');
my ($vj) = $s->promptctl('jobs', 'enqueue', 'share.views') =~ /"first_id"\s*:\s*(\d+)/;
ok($s->wait_for(sub { db1("select state from background_jobs where id = $vj") eq 'succeeded' }, timeout => 30),
   'the views job folded them in');
my ($sv) = received('/all', 'share.viewed');
is_deeply([ $sv->{data}{id}, $sv->{data}{views}, $sv->{data}{total_views} ], [ $sh->{id}, 3, 3 ],
          'share.viewed: one event for the batch of 3 views');
sleep 1;
is(scalar(grep { $JSON->decode($_->{body})->{type} eq 'share.viewed' } $rx->requests('/all')), 1, '... not one per view');

# Billing, from Stripe's own events (signed, stored, applied by billing.event).
sub stripe {
    my ($ev) = @_;
    my $r = $st->deliver($s, $ev, secret => $WH);
    is($r->{status}, 200, "Stripe $ev->{type}: 200") or diag $r->{body};
    $s->wait_for(sub { db1("select processed_at is not null from promptd.stripe_events where id = '$ev->{id}'") eq 't' }, timeout => 30);
}
my $T = time - 100;
stripe($st->event('checkout.session.completed', { id => 'cs_961', object => 'checkout.session', mode => 'subscription',
    customer => 'cus_961', subscription => 'sub_961', client_reference_id => $alice, status => 'complete' }, created => $T));
stripe($st->event('customer.subscription.created',
    $st->subscription(id => 'sub_961', customer => 'cus_961', price => 'price_pro_m', status => 'active'), created => $T + 1));
my @sc = received('/all', 'billing.subscription_changed', 2);
my ($active) = grep { $_->{data}{status} eq 'active' } @sc;
ok($active, 'billing.subscription_changed: the subscription became active') or diag explain \@sc;
is_deeply([ @{ $active->{data} }{qw(user_id tier subscription)} ], [ $alice, 'pro', 'sub_961' ], '... pro, for alice');
stripe($st->event('invoice.payment_failed',
    $st->invoice(customer => 'cus_961', subscription => 'sub_961', status => 'open'), created => $T + 2));
my ($pf) = received('/all', 'billing.payment_failed');
ok($pf, 'billing.payment_failed: by Stripe\'s invoice.payment_failed');
like($pf->{data}{invoice} // '', qr/^in_/, '... naming the invoice');
is($pf->{data}{user_id}, $alice, '... for alice');
my ($pd) = grep { $_->{data}{status} eq 'past_due' } received('/all', 'billing.subscription_changed', 3);
is($pd->{data}{previous}{status}, 'active', 'and the subscription went past_due (from active)');

my $del = api($ta, DELETE => "/api/v1/prompts/$p->{id}");
is($del->{status}, 204, 'the prompt is deleted');
my ($deleted) = received('/all', 'prompt.deleted');
is($deleted->{data}{id}, $p->{id}, 'prompt.deleted: by DELETE');

for my $d ($rx->requests('/all')) {
    my ($ok, $why) = verify($all->{secret}, $d->{headers}, $d->{body});
    ok($ok, 'signed: ' . $JSON->decode($d->{body})->{type}) or diag $why;
}

# ------------------------------------------------------------ the outbox and transactions
$rx->clear;
my $events = db1('select count(*) from promptd.webhook_events');
$s->psql("begin; insert into public.prompts (user_id, workspace_id, title, content) "
       . "values ('$alice', '$ws', 'rolled back', 'x'); rollback;");
is(db1('select count(*) from promptd.webhook_events'), $events, 'a rolled-back change leaves no event');
is(api($ta, POST => '/api/v1/prompts', json => { title => '', content => 'x' })->{status}, 422, 'a refused request ...');
is(db1('select count(*) from promptd.webhook_events'), $events, '... records no event');
$s->psql("begin; insert into public.prompts (user_id, workspace_id, title, content) "
       . "values ('$alice', '$ws', 'committed', 'x'); commit;");
is(db1('select count(*) from promptd.webhook_events'), $events + 1, 'a committed one records one');
my ($committed) = received('/all', 'prompt.created');
is($committed->{data}{title}, 'committed', '... and it is delivered');
is(scalar(grep { $JSON->decode($_->{body})->{data}{title} eq 'rolled back' } $rx->requests('/all')), 0,
   'the rolled-back one never is');

# No sender running: the committed event waits in the outbox; the next sender sends it.
my $jobs_pid = do { open(my $fh, '<', $s->var_dir . '/run/jobs.pid') or die $!; my $x = <$fh>; chomp $x; $x };
kill 'TERM', $jobs_pid;
ok($s->wait_for(sub { !kill 0, $jobs_pid }, timeout => 30), 'the stack\'s promptd-jobs stopped');
$rx->clear;
api($ta, POST => '/api/v1/prompts', json => { title => 'while down', content => 'x' });
sleep 1;
is(scalar $rx->requests('/all'), 0, 'nothing is sent while no sender runs');
is(db1("select count(*) from promptd.webhook_events where not fanned_out"), 1, '... the event waits in the outbox');
my $d2 = $s->start_jobs_daemon;
my ($late) = received('/all', 'prompt.created');
is($late->{data}{title}, 'while down', 'a new promptd-jobs delivers it');

# ------------------------------------------------------------ retries
sub fire { api($ta, POST => '/api/v1/prompts', json => { title => $_[0], content => 'x' }) }
my $r1 = hook('/retry', 'prompt.created');
$rx->script('/retry', [ { status => 500 }, { status => 502 } ]);
fire('retry');
is(wait_state($r1->{id}, 'succeeded'), 'succeeded 3 200', 'two failures, then 200: succeeded at the third attempt');
my @tries = $rx->requests('/retry');
is(scalar @tries, 3, 'three requests');
my %ids = map { $_->{headers}{'webhook-id'} => 1 } @tries;
is(scalar keys %ids, 1, 'one webhook-id across the retries');
cmp_ok($tries[1]{at} - $tries[0]{at}, '>=', 0.85, 'the second attempt waited the schedule (1 s, 10 % jitter)');
cmp_ok($tries[2]{at} - $tries[1]{at}, '>=', 1.75, 'the third waited 2 s');
isnt($tries[0]{headers}{'webhook-timestamp'} . $tries[0]{headers}{'webhook-signature'},
     $tries[2]{headers}{'webhook-timestamp'} . $tries[2]{headers}{'webhook-signature'},
     'each attempt is signed afresh');

my $r2 = hook('/always500', 'prompt.created');
$rx->default('/always500', { status => 500 });
fire('exhaust');
is(wait_state($r2->{id}, 'failed'), 'failed 3 500', 'always 500: failed after the schedule (3 attempts)');
is(db1("select next_attempt_at is null from promptd.webhook_deliveries where endpoint_id = '$r2->{id}'"), 't',
   '... no next attempt');
is(api($ta, GET => "/api/v1/webhooks/$r2->{id}")->{json}{status}, 'failing', 'the endpoint shows it is failing');

my $r3 = hook('/later', 'prompt.created');
$rx->script('/later', [ { status => 503, retry_after => 3 } ]);
fire('retry-after');
is(wait_state($r3->{id}, 'succeeded'), 'succeeded 2 200', '503 with Retry-After, then 200');
my @ra = $rx->requests('/later');
cmp_ok($ra[1]{at} - $ra[0]{at}, '>=', 2.9, 'the retry waited Retry-After (3 s), not the schedule (1 s)');

my $r3b = hook('/later429', 'prompt.created');
my @days = qw(Sun Mon Tue Wed Thu Fri Sat);
my @mons = qw(Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec);
my @g = gmtime(time + 4);
my $date = sprintf('%s, %02d %s %d %02d:%02d:%02d GMT', $days[$g[6]], $g[3], $mons[$g[4]], $g[5] + 1900, @g[2, 1, 0]);
$rx->script('/later429', [ { status => 429, headers => { 'Retry-After' => $date } } ]);
fire('retry-after date');
is(wait_state($r3b->{id}, 'succeeded'), 'succeeded 2 200', '429 with Retry-After as an HTTP date, then 200');
my @rd = $rx->requests('/later429');
cmp_ok($rd[1]{at} - $rd[0]{at}, '>=', 2.5, 'the retry waited for the date, not the schedule (1 s)');

my $r4 = hook('/drop', 'prompt.created');
$rx->script('/drop', [ { drop => 1 } ]);
fire('drop');
is(wait_state($r4->{id}, 'succeeded'), 'succeeded 2 200', 'a dropped connection is retried');

my $r5 = hook('/slowonce', 'prompt.created');
$rx->script('/slowonce', [ { delay_ms => 12000 } ]);
fire('timeout');
is(wait_state($r5->{id}, 'succeeded'), 'succeeded 2 200', 'a timed-out attempt (10 s) is retried');
like(db1("select string_agg(coalesce(last_error, ''), '') from promptd.webhook_deliveries where endpoint_id = '$r5->{id}'"),
     qr/^$/, 'the success clears the error');

# ------------------------------------------------------------ disabling
my $watch = hook('/watch', 'webhook.disabled');
my $gone = hook('/gone', 'prompt.created');
$rx->default('/gone', { status => 410 });
fire('gone');
is(wait_state($gone->{id}, 'failed'), 'failed 1 410', '410 Gone: one attempt');
my $g = api($ta, GET => "/api/v1/webhooks/$gone->{id}")->{json};
is_deeply([ $g->{enabled}, $g->{status} ], [ JSON::PP::false, 'disabled' ], 'the endpoint is disabled at once');
like($g->{disabled_reason}, qr/410/, '... saying why');
my ($wd) = received('/watch', 'webhook.disabled');
is_deeply([ $wd->{data}{endpoint_id}, $wd->{data}{url} ], [ $gone->{id}, $rx->url('/gone') ],
          'webhook.disabled told the workspace\'s other endpoint');
$rx->clear;
fire('after gone');
sleep 1;
is(scalar $rx->requests('/gone'), 0, 'a disabled endpoint gets nothing');

my $long = hook('/long', 'prompt.created');
$rx->default('/long', { status => 500 });
fire('failing a while');
wait_state($long->{id}, 'failed');
$s->psql("update public.webhook_endpoints set failing_since = now() - interval '5 days 1 minute' where id = '$long->{id}'");
fire('failing for 5 days');
$s->wait_for(sub { db1("select enabled::text from public.webhook_endpoints where id = '$long->{id}'") eq 'false' }, timeout => 30);
my $lg = api($ta, GET => "/api/v1/webhooks/$long->{id}")->{json};
is($lg->{status}, 'disabled', 'failing every attempt for 5 days: disabled');
like($lg->{disabled_reason}, qr/every delivery failed since/, '... saying since when');
# One webhook.disabled since $rx->clear above (the /gone one went before
# it): waiting for two would only wait out received's 30 s.
ok((grep { $_->{data}{endpoint_id} eq $long->{id} } received('/watch', 'webhook.disabled')), '... and the owner is told');
is(db1("select count(*) from promptd.webhook_deliveries where endpoint_id = '$long->{id}' and state = 'pending'"), 0,
   'its waiting deliveries end (failed)');
api($ta, PATCH => "/api/v1/webhooks/$long->{id}", json => { enabled => JSON::PP::true });
is(db1("select failing_since is null from public.webhook_endpoints where id = '$long->{id}'"), 't',
   're-enabling clears the failure streak');
$rx->default('/long', undef);

# ------------------------------------------------------------ a slow endpoint
# The deliveries of the sections above end first (their retries would share
# the sender with the burst below and hold up the fast endpoint's).
ok($s->wait_for(sub { db1("select count(*) from promptd.webhook_deliveries where state in ('pending', 'sending')") == 0 },
                timeout => 30), 'no delivery left pending before the burst');
$rx->clear;
my $slow = hook('/slow', 'prompt.created');
my $fast = hook('/fast', 'prompt.created');
# the slow endpoint answers nothing until the fast one has had all six
$rx->default('/slow', { hold => 'slow' });
# six events in one transaction: all due at once
$s->psql("insert into public.prompts (user_id, workspace_id, title, content) "
       . "select '$alice', '$ws', 'burst ' || i, 'x' from generate_series(1, 6) i");
$s->wait_for(sub { (grep { defined $_->{done_at} } $rx->requests('/fast')) >= 6
                   && $rx->requests('/slow') >= 2 }, timeout => 30);
my @fast = $rx->requests('/fast');
my @held = $rx->requests('/slow');
$rx->release('slow');
$s->wait_for(sub { (grep { defined $_->{done_at} } $rx->requests('/slow')) >= 6 }, timeout => 60);
my @slow = $rx->requests('/slow');
my %fast_ids = map { $_->{headers}{'webhook-id'} => 1 } @fast;
my %slow_ids = map { $_->{headers}{'webhook-id'} => 1 } @slow;
is(scalar keys %fast_ids, 6, 'the fast endpoint got all six while the slow one answered none');
is(scalar(grep { defined $_->{done_at} } @held) . '/' . scalar(@held), '0/2',
   '... which meanwhile held two (PROMPTD_WEBHOOKS_PER_ENDPOINT), unanswered');
is(scalar keys %slow_ids, 6, 'the slow one got all six once it answered');
cmp_ok(max(map { $_->{done_at} // 9e9 } @fast), '<', min(map { $_->{done_at} // 0 } @slow),
       'every fast delivery was answered before the slow endpoint answered once');
my $most = max(map { my $t = $_->{at}; scalar grep { $_->{at} <= $t && ($_->{done_at} // 9e9) > $t } @slow } @slow);
is($most, 2, 'the slow endpoint never had more than PROMPTD_WEBHOOKS_PER_ENDPOINT (2) at once');
$s->wait_for(sub { db1("select count(*) from promptd.webhook_deliveries where endpoint_id = '$slow->{id}' and state = 'succeeded'") == 6 }, timeout => 30);
is(db1("select count(*) from promptd.webhook_deliveries where endpoint_id = '$slow->{id}' and state = 'succeeded'"), 6,
   'all six slow deliveries succeeded');

$s->stop_ok($d2, 'promptd-jobs (and its sender) stops cleanly');
done_testing;
