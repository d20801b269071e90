#!/usr/bin/perl
# 903-billing-stripe-js.t: the official stripe-node client: against the fake Stripe (it speaks the real wire format: objects, errors, Idempotency-Key replays), and signing a webhook event that promptd accepts (and promptd's fake signs as Stripe does).
#
# Installs stripe 23.2.0 (pinned) with npm into $PROMPTD_BUILD_DIR/t/.npm on first
# run (the npm registry is the only network it uses); skipped when node/npm are
# missing or the install fails.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempfile);
use JSON::PP;
use Test::More;
use Promptd::Test qw(db1);
use Promptd::FakeStripe;

my $build = $ENV{PROMPTD_BUILD_DIR} || "$FindBin::Bin/..";
my $prefix = "$build/t/.npm";
sub have { my $c = shift; system("command -v $c >/dev/null 2>&1") == 0 }
plan skip_all => 'node and npm are required (not found)' unless have('node') && have('npm');
my ($major) = (`node --version` // '') =~ /^v(\d+)/;
plan skip_all => 'node >= 18 is required (stripe 23)' unless $major && $major >= 18;
my $npm_lock = Promptd::Test::npm_lock($build);
unless (-d "$prefix/node_modules/stripe") {
    mkdir "$build/t"; mkdir $prefix;
    if (!-e "$prefix/package.json") {
        open my $fh, '>', "$prefix/package.json" or die "$prefix/package.json: $!";
        print $fh qq({"name":"promptd-tests","private":true}\n);
        close $fh;
    }
    my $log = `cd '$prefix' && npm install --no-audit --no-fund --loglevel=error stripe\@23.2.0 2>&1`;
    plan skip_all => "npm install stripe failed: " . substr($log, 0, 200)
        if $? != 0 || !-d "$prefix/node_modules/stripe";
}
close $npm_lock;

my $WH = 'whsec_js_secret';
my $st = Promptd::FakeStripe->new(key => 'sk_test_js');
my $s = Promptd::Test->new(PROMPTD_WORKERS => 1,
    PROMPTD_STRIPE_SECRET_KEY => 'sk_test_js', PROMPTD_STRIPE_API_BASE => $st->base_url,
    PROMPTD_STRIPE_WEBHOOK_SECRET => $WH);
$s->promptctl(qw(plans price pro monthly price_pro_m));
my ($uid) = $s->users('jsbuyer');

my $sub = $st->subscription(customer => 'cus_js', price => 'price_pro_m', status => 'active',
                            metadata => { promptd_user_id => $uid });
my $ev = $st->event('customer.subscription.created', $sub);
my $payload = JSON::PP->new->canonical->encode($ev);
my ($fh, $file) = tempfile(UNLINK => 1);
print $fh $payload;
close $fh;
system('cp', "$FindBin::Bin/js/stripe-fake.mjs", "$prefix/stripe-fake.mjs") == 0 or die "cp: $?";
my $out = `cd '$prefix' && node stripe-fake.mjs '@{[ $st->port ]}' sk_test_js '$WH' '$file' '@{[ $st->sign($payload, $WH) ]}' 2>&1`;
is($?, 0, 'node script ran') or diag $out;
my %step;
for (split /\n/, $out) {
    my $j = eval { decode_json($_) } or next;
    $step{ $j->{step} } = $j;
}

like($step{customer}{id}, qr/^cus_/, 'stripe-node: customers.create');
is($step{customer}{metadata}{promptd_user_id}, 'u-js', '... metadata round-trips the form encoding');
is($step{customer_replay}{id}, $step{customer}{id}, 'same Idempotency-Key: the same customer');
is($step{idempotency_conflict}{type}, 'StripeIdempotencyError', 'same key, other params: StripeIdempotencyError');
like($step{checkout}{url}, qr{^https://checkout\.stripe\.com/}, 'checkout.sessions.create');
is($step{checkout}{object}, 'checkout.session', '... a checkout.session');
is($step{portal}{object}, 'billing_portal.session', 'billingPortal.sessions.create');
is($step{missing}{type}, 'StripeInvalidRequestError', 'a missing customer: StripeInvalidRequestError');
is($step{missing}{code}, 'resource_missing', '... resource_missing');
is($step{missing}{statusCode}, 404, '... 404');
is($step{bad_key}{type}, 'StripeAuthenticationError', 'a wrong key: StripeAuthenticationError');
is($step{list}{object}, 'list', 'subscriptions.list: a list');
is($step{verify_fake}{id}, $ev->{id}, "stripe-node's constructEvent accepts the fake's signature");

# promptd accepts what stripe-node signs
my $r = $st->deliver($s, $payload, header => $step{sign}{header});
is($r->{status}, 200, 'promptd accepts a generateTestHeaderString signature') or diag $r->{body};
ok($s->wait_for(sub { db1("select processed_at is not null from promptd.stripe_events where id = '$ev->{id}'") eq 't' }, timeout => 30),
   'the event was applied');
is(db1("select subscription_tier from public.profiles where id = '$uid'"), 'pro', 'and the tier followed');
$r = $st->deliver($s, $payload =~ s/"active"/"canceled"/r, header => $step{sign}{header});
is($r->{status}, 400, 'the same header over a changed body: 400');

$s->stop;
done_testing;
