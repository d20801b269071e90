#!/usr/bin/perl
# 900-billing-webhook.t: POST /webhooks/stripe: exact signature checks (rotation, tolerance, v0, tampering), store-once, every handled event type applied by the billing.event job, out-of-order pairs, the past_due grace, tier audits and quotas following.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use Promptd::Test qw(db1);
use Promptd::FakeStripe;
use Promptd::JWT qw(sign_jwt jwt_secret);

my $JSON = JSON::PP->new->canonical->utf8;
my $st = Promptd::FakeStripe->new(key => 'sk_test_hook');
my ($OLD, $NEW) = ('whsec_old_secret', 'whsec_new_secret');
my $s = Promptd::Test->new(PROMPTD_WORKERS => 1,
    PROMPTD_STRIPE_SECRET_KEY => 'sk_test_hook', PROMPTD_STRIPE_API_BASE => $st->base_url,
    PROMPTD_STRIPE_WEBHOOK_SECRET => "$OLD, $NEW", PROMPTD_BILLING_GRACE => 3600);
$s->promptctl(qw(plans price pro monthly price_pro_m));
$s->promptctl(qw(plans price team monthly price_team_m));
$s->promptctl(qw(plans purchasable pro on));

my ($u1, $tok1, $u2, undef, $u3, undef, $u4, undef) = $s->users(qw(bill1 bill2 bill3 bill4));
my $stored = sub { db1("select count(*) from promptd.stripe_events where id = '$_[0]'") };
my $tier = sub { db1("select subscription_tier from public.profiles where id = '$_[0]'") };
# Deliver an event and wait until its job applied it; -> (response, outcome).
sub apply_event {
    my ($ev, %o) = @_;
    my $r = $st->deliver($s, $ev, secret => $o{secret} // $OLD);
    is($r->{status}, 200, "$ev->{type} $ev->{id}: 200") or diag $r->{body};
    my $out = $s->wait_for(sub { db1("select outcome from promptd.stripe_events where id = '$ev->{id}' and processed_at is not null") }, timeout => 30);
    return ($r, $out);
}

# --- signatures: a table of (header builder, body change, status, detail, stored?)
my $now = time;
my @cases = (
    ['valid, first secret',      sub { $st->sign($_[0], $OLD, $now) },                 undef, 200, qr/"received":true/, 1],
    ['valid, rotated secret',    sub { $st->sign($_[0], $NEW, $now) },                 undef, 200, qr/"duplicate":false/, 1],
    ['two v1 during rotation',   sub { my $h = $st->sign($_[0], 'whsec_other', $now); $h . ',v1=' . ($st->sign($_[0], $NEW, $now) =~ /v1=(\w+)/)[0] }, undef, 200, qr/"received":true/, 1],
    ['within tolerance (290 s)', sub { $st->sign($_[0], $OLD, $now - 290) },           undef, 200, qr/"received":true/, 1],
    ['tampered body',            sub { $st->sign($_[0], $OLD, $now) },                 sub { $_[0] =~ s/"livemode":false/"livemode":true/r }, 400, qr/no v1 signature matches/, 0],
    ['wrong secret',             sub { $st->sign($_[0], 'whsec_wrong', $now) },        undef, 400, qr/no v1 signature matches/, 0],
    ['old timestamp (301 s)',    sub { $st->sign($_[0], $OLD, $now - 301) },           undef, 400, qr/outside the tolerance/, 0],
    ['future timestamp (400 s)', sub { $st->sign($_[0], $OLD, $now + 400) },           undef, 400, qr/outside the tolerance/, 0],
    ['v0 only is ignored',       sub { $st->sign($_[0], $OLD, $now) =~ s/v1=/v0=/r },  undef, 400, qr/no v1 signature matches/, 0],
    ['no timestamp',             sub { ($st->sign($_[0], $OLD, $now) =~ s/^t=\d+,//r) }, undef, 400, qr/no timestamp/, 0],
    ['timestamp not a number',   sub { $st->sign($_[0], $OLD, $now) =~ s/^t=\d+/t=12ab/r }, undef, 400, qr/no timestamp/, 0],
    ['garbage header',           sub { 'garbage' },                                    undef, 400, qr/no timestamp/, 0],
    ['v1 of the wrong length',   sub { "t=$now,v1=abc" },                              undef, 400, qr/no v1 signature matches/, 0],
);
for my $c (@cases) {
    my ($name, $hdr, $change, $status, $detail, $keep) = @$c;
    my $ev = $st->event('customer.updated', { id => 'cus_none', object => 'customer' });
    my $body = $JSON->encode($ev);
    my $h = $hdr->($body);
    $body = $change->($body) if $change;
    my $r = $st->deliver($s, $body, header => $h);
    is($r->{status}, $status, "$name: $status");
    like($r->{body}, $detail, "$name: body");
    is($stored->($ev->{id}), $keep, "$name: " . ($keep ? 'stored once' : 'nothing stored'));
}

# Verified, but not an event, or not JSON: 400 and nothing stored.
for my $bad (['not JSON', '{"id": "evt_x1", '], ['an array', '[1,2]'],
             ['no id', '{"type":"invoice.paid","created":1,"data":{"object":{}}}'],
             ['id not a string', '{"id":5,"type":"invoice.paid","created":1,"data":{"object":{}}}'],
             ['created a string', '{"id":"evt_x2","type":"invoice.paid","created":"1","data":{"object":{}}}'],
             ['no data.object', '{"id":"evt_x3","type":"invoice.paid","created":1,"data":{}}']) {
    my $r = $st->deliver($s, $bad->[1], secret => $OLD);
    is($r->{status}, 400, "signed $bad->[0]: 400");
    like($r->{body}, qr/not a Stripe event object/, "signed $bad->[0]: says why");
}
is(db1("select count(*) from promptd.stripe_events where id like 'evt_x%'"), 0, 'none of them stored');

# Missing header; the wrong kinds of credential.
{
    my $ev = $st->event('customer.updated', { id => 'cus_none', object => 'customer' });
    my $body = $JSON->encode($ev);
    my $r = $s->request(POST => '/webhooks/stripe', { body => $body, headers => { 'Content-Type' => 'application/json' } });
    is($r->{status}, 401, 'no Stripe-Signature: 401');
    like($r->{body}, qr/credential is required/, 'no Stripe-Signature: says so');
    $r = $s->request(POST => '/webhooks/stripe', { body => $body, token => $tok1,
        headers => { 'Content-Type' => 'application/json', 'Stripe-Signature' => $st->sign($body, $OLD) } });
    is($r->{status}, 403, 'a user token (even with a good signature): 403');
    like($r->{body}, qr/user access token cannot be used here/, 'user token: says so');
    my $key = $s->request(POST => '/api/v1/keys', { token => $tok1, json => { name => 'k', scopes => ['prompts:read'] } })->{json}{key};
    $r = $s->request(POST => '/webhooks/stripe', { body => $body,
        headers => { 'Content-Type' => 'application/json', 'X-API-Key' => $key, Authorization => "Bearer $key",
                     'Stripe-Signature' => $st->sign($body, $OLD) } });
    is($r->{status}, 403, 'an API key: 403');
    like($r->{body}, qr/API keys cannot be used here/, 'API key: says so');
    is($stored->($ev->{id}), 0, 'nothing stored for any of them');
}

# --- duplicate delivery: 200, duplicate, one row, one job
{
    my $ev = $st->event('customer.updated', { id => 'cus_none', object => 'customer' });
    my $r1 = $st->deliver($s, $ev, secret => $OLD);
    my $r2 = $st->deliver($s, $ev, secret => $NEW);
    is($r1->{json}{duplicate}, JSON::PP::false, 'first delivery: not a duplicate');
    is($r2->{status}, 200, 'second delivery: 200');
    is($r2->{json}{duplicate}, JSON::PP::true, 'second delivery: duplicate');
    is($stored->($ev->{id}), 1, 'stored once');
    is(db1("select count(*) from public.background_jobs where job_type = 'billing.event' and payload->>'event_id' = '$ev->{id}'"),
       1, 'one job for it');
    ok($s->wait_for(sub { db1("select outcome from promptd.stripe_events where id = '$ev->{id}' and processed_at is not null") }, timeout => 30),
       'the job ran');
    is(db1("select outcome from promptd.stripe_events where id = '$ev->{id}'"), 'ignored type', 'an unhandled type is recorded as ignored');
}

# --- every handled type, in the order Stripe sends them, for user 1
my $T = time - 1000;
my ($out, $r);
my $session = { id => 'cs_test_1', object => 'checkout.session', mode => 'subscription',
                customer => 'cus_U1', subscription => 'sub_U1', client_reference_id => $u1, status => 'complete' };
(undef, $out) = apply_event($st->event('checkout.session.completed', $session, created => $T));
is($out, 'applied', 'checkout.session.completed applied');
is(db1("select user_id from promptd.billing_customers where customer_id = 'cus_U1'"), $u1, 'the customer is linked to the user');
is(db1("select status from promptd.billing_subscriptions where id = 'sub_U1'"), 'incomplete', 'the subscription is known, incomplete');
is($tier->($u1), 'free', 'still free before the subscription is active');

my $sub = $st->subscription(id => 'sub_U1', customer => 'cus_U1', price => 'price_pro_m', status => 'active');
my $ev = $st->event('customer.subscription.created', $sub, created => $T + 1);
(undef, $out) = apply_event($ev);
is($out, 'applied', 'customer.subscription.created applied');
is($tier->($u1), 'pro', 'active pro subscription: tier pro');
is(db1("select tier from promptd.quota_limits('$u1')"), 'pro', 'quotas follow at once');
is(db1("select count(*) from public.audit_log where action = 'billing.tier' and detail->>'event_id' = '$ev->{id}' and detail->>'to' = 'pro'"),
   1, 'the tier change is audited with the event id');
my $g = $s->request(GET => '/api/v1/billing', { token => $tok1 });
is($g->{status}, 200, 'GET /api/v1/billing: 200');
is($g->{json}{subscription}{plan}, 'pro', 'shows the plan');
is($g->{json}{subscription}{status}, 'active', 'and the status');
is($g->{json}{subscription}{payment_method}{last4}, '4242', 'and the card');

my $inv = $st->invoice(customer => 'cus_U1', subscription => 'sub_U1', status => 'paid');
(undef, $out) = apply_event($st->event('invoice.paid', $inv, created => $T + 2));
is($out, 'applied', 'invoice.paid applied');
is(db1("select status || ' ' || amount_paid from promptd.billing_invoices where id = '$inv->{id}'"), 'paid 1500', 'the invoice is kept');

my $failed = $st->invoice(customer => 'cus_U1', subscription => 'sub_U1', status => 'open');
$ev = $st->event('invoice.payment_failed', $failed, created => $T + 3);
(undef, $out) = apply_event($ev);
is($out, 'applied', 'invoice.payment_failed applied');
is(db1("select status from promptd.billing_subscriptions where id = 'sub_U1'"), 'past_due', 'the subscription is past_due');
is($tier->($u1), 'pro', 'within the grace the tier stays');
is(db1("select kind from promptd.account_activity where event_id = '$ev->{id}'"), 'billing.payment_failed',
   'dunning: a notice in the account activity');
$g = $s->request(GET => '/api/v1/billing', { token => $tok1 });
is($g->{json}{notices}[0]{kind}, 'billing.payment_failed', 'GET /api/v1/billing shows the notice');
is(scalar @{ $g->{json}{invoices} }, 2, 'and both invoices');

# grace expiry: the clock is the row's (past_due_since), the sweep a job
$s->psql("update promptd.billing_subscriptions set past_due_since = now() - interval '2 hours' where id = 'sub_U1'");
my $job = db1("select promptd.enqueue('billing.grace')");
ok($s->wait_for(sub { db1("select state = 'succeeded' from public.background_jobs where id = $job") eq 't' }, timeout => 30),
   'billing.grace ran');
is($tier->($u1), 'free', 'grace over: free');
is(db1("select count(*) from public.audit_log where action = 'billing.tier' and detail->>'event_id' = 'grace-expired' and target = '$u1'"),
   1, 'audited');

$ev = $st->event('invoice.paid', { %$failed, status => 'paid', amount_paid => 1500 }, created => $T + 4);
(undef, $out) = apply_event($ev);
is($tier->($u1), 'pro', 'invoice.paid after dunning: pro again');
is(db1("select status from promptd.billing_subscriptions where id = 'sub_U1'"), 'active', 'active again');

$ev = $st->event('invoice.payment_action_required', $st->invoice(customer => 'cus_U1', subscription => 'sub_U1', status => 'open'), created => $T + 5);
(undef, $out) = apply_event($ev);
is(db1("select kind from promptd.account_activity where event_id = '$ev->{id}'"), 'billing.payment_action_required',
   'invoice.payment_action_required: a notice');
is($tier->($u1), 'pro', 'and no tier change');

$sub->{items}{data}[0]{price}{id} = 'price_team_m';
(undef, $out) = apply_event($st->event('customer.subscription.updated', $sub, created => $T + 6));
is($tier->($u1), 'team', 'upgrade to team');
$sub->{cancel_at_period_end} = JSON::PP::true;
(undef, $out) = apply_event($st->event('customer.subscription.updated', $sub, created => $T + 7));
is($tier->($u1), 'team', 'cancel at period end: kept until then');
is(db1("select cancel_at_period_end from promptd.billing_subscriptions where id = 'sub_U1'"), 't', 'flag stored');
$ev = $st->event('customer.subscription.deleted', { %$sub, status => 'canceled' }, created => $T + 8);
(undef, $out) = apply_event($ev);
is($tier->($u1), 'free', 'customer.subscription.deleted: free');
is(db1("select detail->>'from' || '>' || (detail->>'to') from public.audit_log where action = 'billing.tier' and detail->>'event_id' = '$ev->{id}'"),
   'team>free', 'audited team > free');

# --- out of order: updated before created
my $s2 = $st->subscription(customer => 'cus_U2', price => 'price_pro_m', status => 'active', metadata => { promptd_user_id => $u2 });
apply_event($st->event('customer.subscription.updated', $s2, created => $T + 10));
apply_event($st->event('customer.subscription.created', { %$s2, status => 'incomplete' }, created => $T + 5));
is(db1("select status from promptd.billing_subscriptions where id = '$s2->{id}'"), 'active', 'updated before created: stays active');
is($tier->($u2), 'pro', 'and pro');
# same second: the later lifecycle state wins
apply_event($st->event('customer.subscription.updated', { %$s2, status => 'past_due' }, created => $T + 11));
apply_event($st->event('customer.subscription.updated', { %$s2, status => 'active' }, created => $T + 11));
is(db1("select status from promptd.billing_subscriptions where id = '$s2->{id}'"), 'past_due', 'a tie keeps the later status in the lifecycle');

# deleted before updated
my $s3 = $st->subscription(customer => 'cus_U3', price => 'price_pro_m', status => 'active', metadata => { promptd_user_id => $u3 });
apply_event($st->event('customer.subscription.created', $s3, created => $T + 1));
is($tier->($u3), 'pro', 'u3 pro');
apply_event($st->event('customer.subscription.deleted', { %$s3, status => 'canceled' }, created => $T + 20));
apply_event($st->event('customer.subscription.updated', { %$s3, status => 'active' }, created => $T + 10));
is(db1("select status from promptd.billing_subscriptions where id = '$s3->{id}'"), 'canceled', 'deleted before updated: stays canceled');
is($tier->($u3), 'free', 'and free');

# customer.deleted
my $s4 = $st->subscription(customer => 'cus_U4', price => 'price_pro_m', status => 'trialing', metadata => { promptd_user_id => $u4 });
apply_event($st->event('customer.subscription.created', $s4, created => $T + 1));
is($tier->($u4), 'pro', 'trialing: paid tier');
(undef, $out) = apply_event($st->event('customer.deleted', { id => 'cus_U4', object => 'customer', deleted => JSON::PP::true }, created => $T + 2));
is($tier->($u4), 'free', 'customer.deleted: free');
ok(db1("select deleted_at is not null from promptd.billing_customers where customer_id = 'cus_U4'") eq 't', 'the customer link is marked deleted');

# an event for a customer nobody owns
(undef, $out) = apply_event($st->event('customer.subscription.created',
    $st->subscription(customer => 'cus_nobody', price => 'price_pro_m'), created => $T));
is($out, 'unknown user', 'unknown customer: recorded, nothing changed');

# a Supabase-migrated user: a token whose subject promptd first sees now
{
    my $sub_id = 'a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d';
    my $tok = sign_jwt(jwt_secret($s), { sub => $sub_id, email => 'migrated@example.com' });
    my $r = $s->request(GET => '/api/v1/billing', { token => $tok });
    is($r->{status}, 200, 'a Supabase user: GET /api/v1/billing 200') or diag $r->{body};
    is($r->{json}{tier}, 'free', '... free');
    apply_event($st->event('customer.subscription.created',
        $st->subscription(customer => 'cus_migrated', price => 'price_pro_m', status => 'active',
                          metadata => { promptd_user_id => $sub_id }), created => $T));
    is($tier->($sub_id), 'pro', 'a Supabase user subscribes: pro');
    is($s->request(GET => '/api/v1/billing', { token => $tok })->{json}{subscription}{status}, 'active', '... and sees it');
    # known to auth.users only (no profile yet): the tier still lands
    my $bare = '0f1e2d3c-4b5a-4968-8776-655443322110';
    $s->psql("insert into auth.users (id, email) values ('$bare', 'bare\@example.com')");
    $s->psql("delete from public.profiles where id = '$bare'");
    apply_event($st->event('customer.subscription.created',
        $st->subscription(customer => 'cus_bare', price => 'price_pro_m', status => 'active',
                          metadata => { promptd_user_id => $bare }), created => $T));
    is($tier->($bare), 'pro', 'a user without a profile row gets one, with the tier');
}

# every statuses' tier
for my $c (['unpaid', 'free'], ['paused', 'free'], ['incomplete_expired', 'free'], ['incomplete', 'free'], ['active', 'pro']) {
    my ($u) = $s->users("st_$c->[0]");
    apply_event($st->event('customer.subscription.updated',
        $st->subscription(customer => "cus_st_$c->[0]", price => 'price_pro_m', status => $c->[0], metadata => { promptd_user_id => $u }), created => $T));
    is($tier->($u), $c->[1], "status $c->[0]: $c->[1]");
}

$s->stop;
done_testing;
