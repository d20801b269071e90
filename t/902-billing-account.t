#!/usr/bin/perl
# 902-billing-account.t: the account lifecycle with billing (and a configured webhook tolerance): DELETE /api/v1/me cancels the Stripe subscription first (and refuses, deleting nothing, while Stripe fails); the export includes the billing records.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use Promptd::Test qw(db1 req);
use Promptd::FakeStripe;

my $PW = 'correct horse battery';
my $st = Promptd::FakeStripe->new(key => 'sk_test_acct');
my $s = Promptd::Test->new(PROMPTD_WORKERS => 1,
    PROMPTD_STRIPE_SECRET_KEY => 'sk_test_acct', PROMPTD_STRIPE_API_BASE => $st->base_url,
    PROMPTD_STRIPE_WEBHOOK_SECRET => 'whsec_acct', PROMPTD_STRIPE_WEBHOOK_TOLERANCE => 600);
$s->promptctl(qw(plans price pro monthly price_pro_m));

# A signed-up user with a live pro subscription (as the webhooks left it).
sub subscriber {
    my ($name) = @_;
    my $email = "$name\@example.com";
    my $r = req(POST => '/auth/v1/signup', json => { email => $email, password => $PW });
    my $tok = req(POST => '/auth/v1/token?grant_type=password', json => { email => $email, password => $PW })->{json}{access_token};
    my $uid = claims($tok)->{sub};
    my $sub = $st->subscription(customer => "cus_$name", price => 'price_pro_m', status => 'active',
                                metadata => { promptd_user_id => $uid });
    for my $ev ($st->event('customer.subscription.created', $sub),
                $st->event('invoice.payment_failed', $st->invoice(customer => "cus_$name", subscription => $sub->{id}, status => 'open'))) {
        is($st->deliver($s, $ev, secret => 'whsec_acct')->{status}, 200, "$name: $ev->{type} delivered");
        ok($s->wait_for(sub { db1("select processed_at is not null from promptd.stripe_events where id = '$ev->{id}'") eq 't' }, timeout => 30),
           "$name: $ev->{type} applied");
    }
    return ($uid, $tok, $sub);
}
sub claims { Promptd::Test::claims(@_) }

# the tolerance is the operator's: 600 s here (300 by default, t/900)
{
    my $ev = $st->event('customer.updated', { id => 'cus_none', object => 'customer' });
    my $r = $st->deliver($s, $ev, secret => 'whsec_acct', t => time - 400);
    is($r->{status}, 200, 'PROMPTD_STRIPE_WEBHOOK_TOLERANCE=600: signed 400 s ago is accepted');
    $ev = $st->event('customer.updated', { id => 'cus_none', object => 'customer' });
    $r = $st->deliver($s, $ev, secret => 'whsec_acct', t => time - 700);
    is($r->{status}, 400, '... 700 s ago is not');
    is(db1("select count(*) from promptd.stripe_events where id = '$ev->{id}'"), 0, '... and is not stored');
}

my ($u1, $t1, $sub1) = subscriber('leaver');
is(db1("select subscription_tier from public.profiles where id = '$u1'"), 'pro', 'the subscriber is pro');

# --- export includes the billing records
my $r = req(GET => '/api/v1/me/export', token => $t1);
is($r->{status}, 200, 'export: 200');
my $b = $r->{json}{billing};
is(scalar @{ $b->{customers} }, 1, 'export: the customer');
is($b->{customers}[0]{customer_id}, 'cus_leaver', '... its id');
is($b->{subscriptions}[0]{id}, $sub1->{id}, 'export: the subscription');
is($b->{subscriptions}[0]{status}, 'past_due', '... as Stripe said');
is(scalar @{ $b->{invoices} }, 1, 'export: the invoice');
is($b->{notices}[0]{kind}, 'billing.payment_failed', 'export: the dunning notice');
is_deeply([ map { $_->{type} } @{ $b->{events} } ], ['customer.subscription.created', 'invoice.payment_failed'],
          'export: the events applied to the account');
ok(!exists $b->{customers}[0]{user_id}, 'no internal user ids in the records');

# --- Stripe fails: refused, nothing deleted
$st->script([{ status => 500 }, { status => 500 }, { status => 500 }]);
$r = req(DELETE => '/api/v1/me', token => $t1);
is($r->{status}, 503, 'Stripe down: DELETE /api/v1/me is 503');
like($r->{json}{detail}, qr/could not be canceled at the payment provider, so the account was not deleted/, '... saying why');
is(db1("select count(*) from auth.users where id = '$u1'"), 1, 'the user is still there');
is($st->object($sub1->{id})->{status}, 'active', 'and the subscription too');
is(db1("select count(*) from public.audit_log where action = 'account.delete' and outcome = 'success'"), 0, 'no deletion audited');

# --- Stripe answers: canceled first, then deleted
# (against a slow Stripe: the cancellation runs with no transaction open)
$st->clear_requests;
$st->latency(800);
my ($status, $most) = $s->open_tx_during(sub { req(DELETE => '/api/v1/me', token => $t1) });
$st->latency(0);
is($status, 204, 'DELETE /api/v1/me: 204');
is($most, 0, '... with no transaction open while Stripe canceled the subscription');
my @req = $st->requests;
is("$req[0]{method} $req[0]{path}", "DELETE /v1/subscriptions/$sub1->{id}", 'the subscription was canceled at Stripe');
is($req[0]{headers}{'stripe-version'}, '2024-06-20', '... with the pinned version');
is($st->object($sub1->{id})->{status}, 'canceled', 'Stripe has it canceled');
is(db1("select count(*) from auth.users where id = '$u1'"), 0, 'the user is gone');
is(db1("select count(*) from promptd.billing_subscriptions where user_id = '$u1'"), 0, 'with the billing rows');
# the cancellation's webhook arrives after the account is gone
my $ev = $st->event('customer.subscription.deleted', $st->object($sub1->{id}));
is($st->deliver($s, $ev, secret => 'whsec_acct')->{status}, 200, 'the late customer.subscription.deleted: 200');
ok($s->wait_for(sub { db1("select outcome from promptd.stripe_events where id = '$ev->{id}' and processed_at is not null") }, timeout => 30),
   'applied');
is(db1("select outcome from promptd.stripe_events where id = '$ev->{id}'"), 'unknown user', '... to nobody');

# --- a subscription Stripe no longer has does not block deletion
my ($u2, $t2, $sub2) = subscriber('gone');
$st->_update(sub { delete $_[0]{objects}{ $sub2->{id} } });
$r = req(DELETE => '/api/v1/me', token => $t2);
is($r->{status}, 204, 'subscription unknown to Stripe (resource_missing): deleted anyway');
is(db1("select count(*) from auth.users where id = '$u2'"), 0, 'gone');

# --- a user without billing deletes as before
my $email = 'plain@example.com';
req(POST => '/auth/v1/signup', json => { email => $email, password => $PW });
my $t3 = req(POST => '/auth/v1/token?grant_type=password', json => { email => $email, password => $PW })->{json}{access_token};
$st->clear_requests;
is(req(DELETE => '/api/v1/me', token => $t3)->{status}, 204, 'no subscription: 204');
is(scalar($st->requests), 0, 'without a call to Stripe');

$s->stop;
done_testing;
