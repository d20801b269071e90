#!/usr/bin/perl
# 901-billing-api.t: the billing family's user routes against the fake Stripe: 503 when unconfigured, plans, checkout (one customer per user, also concurrently; idempotency keys; retries), portal, GET /api/v1/billing, return URL origins, bad input.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use POSIX ();
use Test::More;
use Promptd::Test qw(db1);
use Promptd::FakeStripe;

# --- without a Stripe key: billing answers 503, the rest works
{
    my $s = Promptd::Test->new(PROMPTD_WORKERS => 1, PROMPTD_JOBS_DAEMONS => 0);
    my ($u, $tok) = $s->users('nobill');
    for my $c ([GET => '/api/v1/billing/plans', undef], [GET => '/api/v1/billing', $tok],
               [POST => '/api/v1/billing/checkout', $tok, { plan => 'pro', interval => 'monthly',
                   success_url => 'https://app.example.com/ok', cancel_url => 'https://app.example.com/no' }],
               [POST => '/api/v1/billing/portal', $tok, { return_url => 'https://app.example.com/' }]) {
        my $r = $s->request($c->[0] => $c->[1], { token => $c->[2], ($c->[3] ? (json => $c->[3]) : ()) });
        is($r->{status}, 503, "unconfigured: $c->[0] $c->[1]: 503");
        is($r->{json}{detail}, 'Billing is not configured on this server.', '... saying billing is not configured');
        like($r->{headers}{'content-type'}, qr{application/problem\+json}, '... as problem+json');
    }
    my $r = $s->request(POST => '/webhooks/stripe', { body => '{}', headers => { 'Stripe-Signature' => 't=1,v1=00' } });
    is($r->{status}, 503, 'unconfigured webhook: 503');
    like($r->{json}{detail}, qr/webhooks are not configured/, '... saying so');
    is($s->request(POST => '/api/v1/prompts', { token => $tok, json => { title => 't', content => 'c' } })->{status},
       201, 'the rest of promptd works');
    $s->stop;
}

my $st = Promptd::FakeStripe->new(key => 'sk_test_api');
my $s = Promptd::Test->new(PROMPTD_WORKERS => 2, PROMPTD_JOBS_DAEMONS => 0,
    PROMPTD_STRIPE_SECRET_KEY => 'sk_test_api', PROMPTD_STRIPE_API_BASE => $st->base_url,
    PROMPTD_STRIPE_WEBHOOK_SECRET => 'whsec_api');
$s->promptctl(qw(plans price pro monthly price_pro_m));
$s->promptctl(qw(plans price pro yearly price_pro_y));
$s->promptctl(qw(plans price team monthly price_team_m));
$s->promptctl(qw(plans purchasable pro on));
like($s->promptctl(qw(plans price pro monthly price_pro_m)), qr/"monthly": ?"price_pro_m"/, 'promptctl plans price prints the plan');
ok(!eval { $s->promptctl(qw(plans price pro weekly price_x)); 1 }, 'promptctl plans price: a bad interval fails');
ok(!eval { $s->promptctl(qw(plans price gold monthly price_x)); 1 }, 'promptctl plans price: an unknown tier fails');

# --- the admin API for a plan's prices
my ($root, $troot) = $s->users('billroot');
$s->promptctl('user', 'admin', $root, 'on');
my ($plain, $tplain) = $s->users('billplain');
my $rkey = $s->request(POST => '/api/v1/keys', { token => $troot, json => { name => 'adm', scopes => ['admin'] } })->{json}{key};
my $rkey_ro = $s->request(POST => '/api/v1/keys', { token => $troot, json => { name => 'ro', scopes => ['prompts:read'] } })->{json}{key};
my $pb = '/api/v1/admin/plans/enterprise/billing';
my @admin = (
    ['a user (not admin)', $tplain, { purchasable => JSON::PP::true }, 403, qr/for administrators/],
    ['an API key without admin', $rkey_ro, { purchasable => JSON::PP::true }, 403, qr/lacks the scope 'admin'/],
    ['unknown field', $troot, { weekly => 'price_x' }, 422, qr/"field":"weekly"/],
    ['price not a string', $troot, { monthly => 5 }, 422, qr/"field":"monthly"/],
    ['price with a slash', $troot, { monthly => 'price/../x' }, 422, qr/must be a Stripe price id/],
    ['purchasable a string', $troot, { purchasable => 'yes' }, 422, qr/"field":"purchasable"/],
    ['a price of another plan', $troot, { monthly => 'price_pro_m' }, 409, qr/belongs to another plan/],
);
for my $c (@admin) {
    my $r = $s->request(PATCH => $pb, { token => $c->[1], json => $c->[2] });
    is($r->{status}, $c->[3], "admin plan billing, $c->[0]: $c->[3]");
    like($r->{body}, $c->[4], "admin plan billing, $c->[0]: body");
}
is(db1("select coalesce(stripe_price_monthly, '-') || ' ' || purchasable from public.plans where tier = 'enterprise'"), '- false',
   'none of them changed the plan');
my $r = $s->request(PATCH => '/api/v1/admin/plans/gold/billing', { token => $troot, json => { purchasable => JSON::PP::true } });
is($r->{status}, 404, 'admin plan billing, no such plan: 404');
$r = $s->request(PATCH => $pb, { token => $rkey, json => { monthly => 'price_ent_m', yearly => 'price_ent_y', purchasable => JSON::PP::true } });
is($r->{status}, 200, 'an admin API key sets the prices: 200') or diag $r->{body};
is_deeply($r->{json}, { tier => 'enterprise', purchasable => JSON::PP::true, monthly => 'price_ent_m', yearly => 'price_ent_y' }, '... answering the plan\'s billing');
is(db1("select count(*) from public.audit_log where action = 'plan.billing' and target = 'plan:enterprise'"), 1, 'audited plan.billing');
$r = $s->request(PATCH => $pb, { token => $troot, json => { yearly => undef, purchasable => JSON::PP::false } });
is_deeply([ @{ $r->{json} }{qw(purchasable monthly yearly)} ], [JSON::PP::false, 'price_ent_m', undef], 'null clears a price; off the shelf');
is($s->request(PATCH => '/api/v1/admin/plans/pro', { token => $troot, json => { limits => { prompts => 5000 } } })->{status},
   200, 'PATCH /api/v1/admin/plans/{tier} still reaches the me family');

# --- plans (public)
$r = $s->request(GET => '/api/v1/billing/plans');
is($r->{status}, 200, 'GET /api/v1/billing/plans anonymously: 200');
is_deeply([ map { $_->{tier} } @{ $r->{json}{items} } ], ['pro'], 'only the purchasable plans');
is_deeply($r->{json}{items}[0]{prices}, { monthly => 'price_pro_m', yearly => 'price_pro_y' }, 'with their prices');
is($r->{json}{items}[0]{limits}{prompts}, 5000, 'and limits');

my ($u1, $t1, $u2, $t2) = $s->users('buyer1', 'buyer2');
my $key = $s->request(POST => '/api/v1/keys', { token => $t1, json => { name => 'k', scopes => ['prompts:read'] } })->{json}{key};
my %good = (plan => 'pro', interval => 'monthly', success_url => 'https://app.example.com/billing/ok?s={CHECKOUT_SESSION_ID}',
            cancel_url => 'http://localhost:3000/billing');

# --- bad input: status, body, and nothing at Stripe or in the database
my @bad = (
    ['no token', { json => \%good }, 401, qr/Bearer token is required/],
    ['an API key', { json => \%good, headers => { Authorization => "Bearer $key" } }, 403, qr/API keys cannot be used here/],
    ['a bad token', { json => \%good, token => 'x.y.z' }, 401, qr/"status":401/],
    ['not JSON', { token => $t1, body => 'plan=pro', headers => { 'Content-Type' => 'application/x-www-form-urlencoded' } }, 415, qr/must be application\/json/],
    ['malformed JSON', { token => $t1, body => '{"plan":', headers => { 'Content-Type' => 'application/json' } }, 400, qr/Malformed JSON/],
    ['an array', { token => $t1, body => '[]', headers => { 'Content-Type' => 'application/json' } }, 400, qr/must be a JSON object/],
    ['no plan', { token => $t1, json => { %good, plan => undef } }, 422, qr/"field":"plan"/],
    ['plan a number', { token => $t1, json => { %good, plan => 5 } }, 422, qr/"field":"plan"/],
    ['no interval', { token => $t1, json => { map { $_ => $good{$_} } qw(plan success_url cancel_url) } }, 422, qr/"field":"interval","message":"is required"/],
    ['weekly', { token => $t1, json => { %good, interval => 'weekly' } }, 422, qr/must be monthly or yearly/],
    ['unknown field', { token => $t1, json => { %good, coupon => 'X' } }, 422, qr/"field":"coupon"/],
    ['foreign origin', { token => $t1, json => { %good, success_url => 'https://evil.example.net/ok' } }, 422, qr/"field":"success_url","message":"must be on an allowed origin/],
    ['userinfo trick', { token => $t1, json => { %good, cancel_url => 'https://app.example.com@evil.example.net/' } }, 422, qr/"field":"cancel_url","message":"must be an absolute http\(s\) URL/],
    ['other port', { token => $t1, json => { %good, success_url => 'https://app.example.com:8443/ok' } }, 422, qr/allowed origin/],
    ['javascript:', { token => $t1, json => { %good, success_url => 'javascript:alert(1)' } }, 422, qr/absolute http\(s\) URL/],
    ['relative', { token => $t1, json => { %good, success_url => '/ok' } }, 422, qr/absolute http\(s\) URL/],
    ['url not a string', { token => $t1, json => { %good, success_url => ['x'] } }, 422, qr/"field":"success_url"/],
    ['not on sale', { token => $t1, json => { %good, plan => 'team' } }, 422, qr/'team' is not on sale monthly/],
    ['no such plan', { token => $t1, json => { %good, plan => 'gold' } }, 422, qr/'gold' is not on sale/],
);
for my $c (@bad) {
    my ($name, $opt, $status, $body) = @$c;
    $opt->{json} = { map { defined $opt->{json}{$_} ? ($_ => $opt->{json}{$_}) : () } keys %{ $opt->{json} } } if $opt->{json};
    my $r = $s->request(POST => '/api/v1/billing/checkout', $opt);
    is($r->{status}, $status, "checkout, $name: $status");
    like($r->{body}, $body, "checkout, $name: body");
}
is(scalar(grep { $_->{method} eq 'POST' } $st->requests), 0, 'bad input never reached Stripe');
is(db1('select count(*) from promptd.billing_customers'), 0, 'and stored no customer');

# --- a good checkout, the client's Idempotency-Key carried to Stripe
$r = $s->request(POST => '/api/v1/billing/checkout', { token => $t1, json => \%good, headers => { 'Idempotency-Key' => 'click-1' } });
is($r->{status}, 200, 'checkout: 200') or diag $r->{body};
like($r->{json}{url}, qr{^https://checkout\.stripe\.com/c/pay/cs_test_}, 'answers the Checkout URL');
my $cus = db1("select customer_id from promptd.billing_customers where user_id = '$u1'");
like($cus, qr/^cus_/, 'the customer is stored');
my @req = $st->requests;
is(scalar @req, 2, 'two calls: customer, session');
is("$req[0]{method} $req[0]{path}", 'POST /v1/customers', 'first the customer');
is($req[0]{form}{metadata}{promptd_user_id}, $u1, 'with metadata.promptd_user_id');
is($req[0]{headers}{'idempotency-key'}, "promptd-customer-$u1", "the customer's key is the user's");
is("$req[1]{method} $req[1]{path}", 'POST /v1/checkout/sessions', 'then the session');
is($req[1]{headers}{'idempotency-key'}, "promptd-checkout-$u1-click-1", "the session's key carries the client's");
is($req[1]{headers}{'stripe-version'}, '2024-06-20', 'Stripe-Version pinned');
is($req[1]{headers}{authorization}, 'Bearer sk_test_api', 'the secret key');
like($req[1]{headers}{'content-type'}, qr{^application/x-www-form-urlencoded}, 'form encoded');
is($req[1]{form}{mode}, 'subscription', 'subscription mode');
is($req[1]{form}{customer}, $cus, 'for the customer');
is($req[1]{form}{line_items}[0]{price}, 'price_pro_m', 'the plan\'s monthly price');
is($req[1]{form}{client_reference_id}, $u1, 'client_reference_id');
is($req[1]{form}{success_url}, $good{success_url}, 'success_url round-trips the encoding');
is($req[1]{form}{subscription_data}{metadata}{promptd_user_id}, $u1, 'subscription metadata');

# promptd keeps no answer of its own (it would hold a transaction open
# across the Stripe call): Stripe's replay of the forwarded key is the
# route's idempotency.
$st->clear_requests;
my $again = $s->request(POST => '/api/v1/billing/checkout', { token => $t1, json => \%good, headers => { 'Idempotency-Key' => 'click-1' } });
is($again->{status}, 200, 'the same Idempotency-Key again: 200');
is($again->{json}{id}, $r->{json}{id}, '... the same session, replayed by Stripe');
@req = $st->requests;
is(join(' ', map { "$_->{method} $_->{path}" } @req), 'POST /v1/checkout/sessions', '... asked once more, for the session only');
is($req[0]{headers}{'idempotency-key'}, "promptd-checkout-$u1-click-1", '... with the same key');
is(scalar $st->objects('cs_test_'), 1, '... and still one session at Stripe');
$again = $s->request(POST => '/api/v1/billing/checkout', { token => $t1, json => { %good, interval => 'yearly' }, headers => { 'Idempotency-Key' => 'click-1' } });
is($again->{status}, 422, 'the same Idempotency-Key for another body: 422');
like($again->{json}{detail}, qr/Idempotency-Key was already used for another request/, '... saying so');
is(scalar $st->objects('cs_test_'), 1, '... and no second session');
$again = $s->request(POST => '/api/v1/billing/checkout', { token => $t1, json => { %good, interval => 'yearly' } });
is($again->{status}, 200, 'yearly checkout: 200');
isnt($again->{json}{id}, $r->{json}{id}, 'a new session');
@req = $st->requests;
is(scalar(grep { $_->{path} eq '/v1/customers' } @req), 0, 'the customer was reused: not asked for again');
is($req[-1]{form}{line_items}[0]{price}, 'price_pro_y', 'the yearly price');

# --- retries: 500 then 429 then success, one key
$st->clear_requests;
$st->script([{ status => 500 }, { status => 429 }]);
$r = $s->request(POST => '/api/v1/billing/checkout', { token => $t1, json => \%good });
is($r->{status}, 200, 'after a 500 and a 429: 200');
@req = grep { $_->{path} eq '/v1/checkout/sessions' } $st->requests;
is(scalar @req, 3, 'three attempts');
is(scalar(keys %{{ map { $_->{headers}{'idempotency-key'} => 1 } @req }}), 1, 'all with one Idempotency-Key');
$st->clear_requests;
$st->script([{ close => 1 }]);
$r = $s->request(POST => '/api/v1/billing/checkout', { token => $t1, json => \%good });
is($r->{status}, 200, 'after a connection closed without an answer: 200');
@req = grep { $_->{path} eq '/v1/checkout/sessions' } $st->requests;
is(scalar @req, 2, '... two attempts');
is($req[0]{headers}{'idempotency-key'}, $req[1]{headers}{'idempotency-key'}, '... with one Idempotency-Key');
$st->script([{ status => 503 }, { status => 502 }, { status => 500 }]);
$r = $s->request(POST => '/api/v1/billing/checkout', { token => $t1, json => \%good });
is($r->{status}, 503, 'Stripe down three times: 503');
like($r->{json}{detail}, qr/payment provider is unreachable/, '... saying so');
my $busy = { status => 409, body => { error => { type => 'invalid_request_error', code => 'idempotency_key_in_use',
    message => 'There is currently another in-progress request using this Idempotent Key.' } } };
$st->clear_requests;
$st->script([ ($busy) x 5 ]);
$r = $s->request(POST => '/api/v1/billing/checkout', { token => $t1, json => \%good });
is($r->{status}, 503, 'the key in flight at Stripe five times: 503');
like($r->{json}{detail}, qr/payment provider is unreachable; retry shortly/, '... retryable');
is(scalar(grep { $_->{path} eq '/v1/checkout/sessions' } $st->requests), 5, '... after five attempts');
$st->script([{ status => 400, body => { error => { type => 'invalid_request_error', message => 'No such price: price_pro_m', code => 'resource_missing' } } }]);
$r = $s->request(POST => '/api/v1/billing/checkout', { token => $t1, json => \%good });
is($r->{status}, 502, 'Stripe refuses: 502');
like($r->{json}{detail}, qr/No such price: price_pro_m/, "... with Stripe's message");

# checkouts($token, $n) -> how many of $n concurrent checkouts answered 200
sub checkouts {
    my ($tok, $n) = @_;
    my @kids = map {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my $r = $s->request(POST => '/api/v1/billing/checkout', { token => $tok, json => \%good });
            POSIX::_exit($r->{status} == 200 ? 0 : 1);
        }
        $pid;
    } 1 .. $n;
    my $ok = 0;
    for (@kids) { waitpid($_, 0); $ok++ if $? == 0 }
    return $ok;
}

# --- concurrent checkouts of a new user: one customer
$st->clear_requests;
my $ok = checkouts($t2, 6);
is($ok, 6, 'six concurrent checkouts: all 200');
my @cr = grep { $_->{path} eq '/v1/customers' } $st->requests;
ok(@cr >= 1, 'the customer was asked for (' . scalar(@cr) . ' time(s): the others found it linked)');
is_deeply([ sort keys %{{ map { $_->{headers}{'idempotency-key'} => 1 } @cr }} ], ["promptd-customer-$u2"],
          '... always under the one key of the user (Stripe makes them one customer)');
is(scalar(grep { ($_->{metadata}{promptd_user_id} // '') eq $u2 } $st->objects('cus_')), 1, 'one customer object for the user');
is(db1("select count(*) from promptd.billing_customers where user_id = '$u2'"), 1, 'one stored');

# --- slow Stripe: two checkouts of a new user at once meet at Stripe with
# the same customer key; the later one is Stripe's 409 while the first is in
# flight, retries, and gets the same customer.  (The first is held until the
# second has had its 409, so they meet however slowly the clients start.)
my ($u5, $t5) = $s->users('racer');
$st->hold_until_repeated('/v1/customers', 30_000);
$st->clear_requests;
$ok = checkouts($t5, 2);
is($ok, 2, 'two checkouts at once against a slow Stripe: both 200');
@cr = grep { $_->{path} eq '/v1/customers' } $st->requests;
ok(@cr >= 3, 'the customer key was sent again after a 409 (' . scalar(@cr) . ' customer requests)');
is(scalar(grep { ($_->{metadata}{promptd_user_id} // '') eq $u5 } $st->objects('cus_')), 1, '... one customer object');
is(db1("select count(*) from promptd.billing_customers where user_id = '$u5'"), 1, '... one stored');
$st->hold_until_repeated(undef);

# --- no transaction is held while Stripe works: the request's reads are
# committed before each call (a slow Stripe must not pin rows or locks)
my ($u6, $t6) = $s->users('patient');
$st->latency(800);
my ($status, $most) = $s->open_tx_during(sub {
    $s->request(POST => '/api/v1/billing/checkout', { token => $t6, json => \%good }) });
is($status, 200, 'a checkout that creates the customer against a slow Stripe: 200');
is($most, 0, '... with no transaction open while Stripe was called');
($status, $most) = $s->open_tx_during(sub {
    $s->request(POST => '/api/v1/billing/portal', { token => $t6, json => { return_url => 'https://app.example.com/' } }) });
is($status, 200, 'a portal session against a slow Stripe: 200');
is($most, 0, '... with no transaction open while Stripe was called');
$st->latency(0);

# --- a customer Stripe deleted (customer.deleted): the next checkout
# makes and links a new one, under a key of its own
my $old = db1("select customer_id from promptd.billing_customers where user_id = '$u6'");
$s->psql("update promptd.billing_customers set deleted_at = now() where user_id = '$u6'");
$st->clear_requests;
$r = $s->request(POST => '/api/v1/billing/portal', { token => $t6, json => { return_url => 'https://app.example.com/' } });
is($r->{status}, 409, 'portal while the customer is deleted: 409');
like($r->{json}{detail}, qr/no billing account yet/, '... saying so');
is(scalar(my @asked = $st->requests), 0, '... without calling Stripe');
$r = $s->request(POST => '/api/v1/billing/checkout', { token => $t6, json => \%good });
is($r->{status}, 200, 'checkout after the customer was deleted: 200') or diag $r->{body};
@req = $st->requests;
is($req[0]{headers}{'idempotency-key'}, "promptd-customer-$u6-$old", '... a new customer under a key naming the deleted one');
my $new = db1("select customer_id || ' ' || (deleted_at is null) from promptd.billing_customers where user_id = '$u6'");
like($new, qr/^cus_\S+ true$/, '... linked, live');
isnt((split ' ', $new)[0], $old, '... and not the deleted one');
is($req[1]{form}{customer}, (split ' ', $new)[0], '... the session is for it');

# --- portal
my ($u3, $t3) = $s->users('noportal');
$r = $s->request(POST => '/api/v1/billing/portal', { token => $t3, json => { return_url => 'https://app.example.com/' } });
is($r->{status}, 409, 'portal without a customer: 409');
like($r->{json}{detail}, qr/no billing account yet/, '... saying so');
$r = $s->request(POST => '/api/v1/billing/portal', { token => $t1, json => { return_url => 'https://evil.example.net/' } });
is($r->{status}, 422, 'portal, foreign return_url: 422');
like($r->{body}, qr/"field":"return_url"/, '... naming the field');
$r = $s->request(POST => '/api/v1/billing/portal', { token => $t1, json => {} });
is($r->{status}, 422, 'portal, no return_url: 422');
$st->clear_requests;
$r = $s->request(POST => '/api/v1/billing/portal', { token => $t1, json => { return_url => 'https://app.example.com/account' },
                                                     headers => { 'Idempotency-Key' => 'p-1' } });
is($r->{status}, 200, 'portal: 200') or diag $r->{body};
like($r->{json}{url}, qr{^https://billing\.stripe\.com/p/session/}, 'the portal URL');
@req = $st->requests;
is("$req[0]{method} $req[0]{path}", 'POST /v1/billing_portal/sessions', 'one call');
is($req[0]{form}{customer}, $cus, 'for the user\'s customer');
is($req[0]{form}{return_url}, 'https://app.example.com/account', 'the return URL');
is($req[0]{headers}{'idempotency-key'}, "promptd-portal-$u1-p-1", 'with an Idempotency-Key');

$r = $s->request(POST => '/api/v1/billing/portal', { token => $t1, json => { return_url => $s->url('/account') } });
is($r->{status}, 200, 'portal, return_url on the site URL (not in PROMPTD_CORS_ORIGINS): 200') or diag $r->{body};

# --- already subscribed: no second subscription
$s->psql("insert into promptd.billing_subscriptions (id, user_id, customer_id, status, tier, event_created) values ('sub_live', '$u1', '$cus', 'active', 'pro', 1)");
$st->clear_requests;
$r = $s->request(POST => '/api/v1/billing/checkout', { token => $t1, json => \%good });
is($r->{status}, 409, 'checkout while subscribed: 409');
like($r->{json}{detail}, qr/already have a subscription; change it in the billing portal/, '... pointing to the portal');
is(scalar(my @none = $st->requests), 0, '... without calling Stripe');
$s->psql("update promptd.billing_subscriptions set status = 'canceled' where id = 'sub_live'");
is($s->request(POST => '/api/v1/billing/checkout', { token => $t1, json => \%good })->{status}, 200,
   'once it is canceled: checkout again');

# --- GET /api/v1/billing
$r = $s->request(GET => '/api/v1/billing', { token => $t3 });
is($r->{status}, 200, 'GET /api/v1/billing: 200');
is_deeply($r->{json}, { tier => 'free', customer => undef, subscription => undef, invoices => [], notices => [] },
          'a new user: free, nothing else');
is($s->request(GET => '/api/v1/billing')->{status}, 401, 'GET /api/v1/billing anonymously: 401');
is($s->request(GET => '/api/v1/billing', { headers => { Authorization => "Bearer $key" } })->{status}, 403,
   'GET /api/v1/billing with an API key: 403');

$s->stop;
done_testing;
