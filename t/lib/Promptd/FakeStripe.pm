# Promptd::FakeStripe: a loopback fake of Stripe's API (form-encoded requests, Stripe objects and errors, Idempotency-Key replays) that also signs and sends webhook events.
package Promptd::FakeStripe;

# Usage:
#   my $st = Promptd::FakeStripe->new(key => 'sk_test_x');
#   PROMPTD_STRIPE_API_BASE => $st->base_url, PROMPTD_STRIPE_SECRET_KEY => 'sk_test_x'
#   $st->script([{ status => 500 }, { status => 429 }]);   # the next answers, then normal
#   $st->script([{ close => 1 }]);                          # close without answering
#   $st->latency(300);          # every answer 300 ms late (same key meanwhile: 409)
#   $st->hold_until_repeated('/v1/customers', 30_000);  # POSTs there held until their key is sent again (or 30 s)
#   my @reqs = $st->requests;   # [{method, path, headers (lower-case), body, form}]
#   $st->clear_requests;        # forget them (objects stay); $st->reset: all
#   my $sub = $st->subscription(customer => 'cus_1', price => 'price_pro_m', status => 'active');
#   my $ev  = $st->event('customer.subscription.updated', $sub, created => 1700000000);
#   my $hdr = $st->sign($body, $secret, $t);      # "t=...,v1=..."
#
# Routes (Authorization: Bearer <key> required, else Stripe's 401):
#   POST /v1/customers, GET /v1/customers/{id}, DELETE /v1/customers/{id}
#   POST /v1/checkout/sessions (mode, line_items[0][price], success_url required)
#   POST /v1/billing_portal/sessions (customer required)
#   GET /v1/subscriptions/{id}, DELETE /v1/subscriptions/{id} (cancel)
#   GET /v1/subscriptions?customer=..., GET /v1/invoices?customer=...
# Every POST must carry Idempotency-Key (this fake insists, so a client
# that forgets is caught): the same key with the same parameters replays
# the first answer (Idempotent-Replayed: true); with other parameters it
# is Stripe's 400 idempotency_error; while the first is still running, it
# is Stripe's 409 idempotency_key_in_use.  Objects are kept in a state file
# under a lock, so the forked children share them.
use strict;
use warnings;
use Digest::SHA qw(hmac_sha256_hex);
use Fcntl qw(:flock);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use POSIX ();
use Time::HiRes ();

my $JSON = JSON::PP->new->canonical->utf8;

sub new {
    my ($class, %opt) = @_;
    my $dir = tempdir('promptd-fakestripe-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $self = bless { dir => $dir, owner => $$, key => $opt{key} // 'sk_test_promptd' }, $class;
    $self->reset;
    my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
        Listen => 64, ReuseAddr => 1, Proto => 'tcp') or die "FakeStripe listen: $!";
    $self->{port} = $listen->sockport;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        setpgrp(0, 0);
        $SIG{CHLD} = 'IGNORE';
        $SIG{TERM} = sub { kill 'KILL', -$$; POSIX::_exit(0) };
        while (1) {
            my $c = $listen->accept or next;
            my $child = fork;
            if (defined $child && $child == 0) {
                close $listen;
                eval { $self->_serve($c) };
                if ($@ && open(my $e, '>>', "$self->{dir}/errors.log")) { print $e $@; close $e }
                POSIX::_exit(0);
            }
            close $c;
        }
    }
    close $listen;
    $self->{pid} = $pid;
    return $self;
}

sub port     { $_[0]{port} }
# errors() -> what the fake itself died of (a bug in the fake, not in promptd).
sub errors { open(my $fh, '<', "$_[0]{dir}/errors.log") or return ''; local $/; return <$fh> }
sub base_url { "http://127.0.0.1:$_[0]{port}" }
sub key      { $_[0]{key} }

# latency($ms): every request not scripted takes $ms before its answer
# (a POST's Idempotency-Key is in flight meanwhile: the same key is 409).
sub latency {
    my ($self, $ms) = @_;
    $self->_update(sub { $_[0]{latency_ms} = $ms });
}

# hold_until_repeated($path, $ms): a POST to $path (not scripted) is
# answered only once another request with its Idempotency-Key has had the
# 409 of a key in flight, or after $ms: a race of two requests with one key
# made certain, whatever the machine's load.  hold_until_repeated(undef)
# ends it.
sub hold_until_repeated {
    my ($self, $path, $ms) = @_;
    $self->_update(sub { $_[0]{hold} = defined $path ? { path => $path, ms => $ms } : undef });
}

# script([{status, body?, delay_ms?}, ...]): the next answers, in order.
sub script {
    my ($self, $steps) = @_;
    $self->_update(sub { push @{ $_[0]{queue} }, @$steps });
}

# reset(): forget everything but the id sequence (ids are never reused).
sub reset {
    my ($self) = @_;
    $self->_update(sub { %{ $_[0] } = (queue => [], objects => {}, idem => {}, seq => $_[0]{seq} // 0) });
    $self->clear_requests;
}

# clear_requests(): forget the requests seen (objects and keys stay).
sub clear_requests {
    my ($self) = @_;
    open(my $fh, '>', "$self->{dir}/requests.jsonl") or die $!;
    close $fh;
}

# requests() -> every request seen, oldest first.
sub requests {
    my ($self) = @_;
    open(my $fh, '<', "$self->{dir}/requests.jsonl") or return ();
    flock($fh, LOCK_SH);
    my @r = map { $JSON->decode($_) } <$fh>;
    close $fh;
    return @r;
}

# objects($prefix) -> the stored objects whose id starts with $prefix.
sub objects {
    my ($self, $prefix) = @_;
    my @o;
    $self->_update(sub { @o = map { $_[0]{objects}{$_} } sort grep { index($_, $prefix) == 0 } keys %{ $_[0]{objects} } });
    return @o;
}

sub object {
    my ($self, $id) = @_;
    my $o;
    $self->_update(sub { $o = $_[0]{objects}{$id} });
    return $o;
}

# subscription(customer, price, status, ...) -> a stored Stripe subscription.
sub subscription {
    my ($self, %o) = @_;
    my $sub;
    $self->_update(sub {
        my $st = shift;
        my $id = $o{id} // _id($st, 'sub');
        my $now = time;
        $sub = {
            id => $id, object => 'subscription', customer => $o{customer},
            status => $o{status} // 'active', created => $o{created} // $now,
            cancel_at_period_end => $o{cancel_at_period_end} ? JSON::PP::true : JSON::PP::false,
            current_period_start => $now, current_period_end => $o{current_period_end} // $now + 30 * 86400,
            default_payment_method => { id => 'pm_1', object => 'payment_method',
                card => { brand => 'visa', last4 => '4242', exp_month => 12, exp_year => 2030 } },
            items => { object => 'list', data => [ { id => "si_$id", object => 'subscription_item',
                price => { id => $o{price}, object => 'price', recurring => { interval => 'month' } },
                quantity => 1 } ] },
            metadata => $o{metadata} // {}, livemode => JSON::PP::false,
        };
        $st->{objects}{$id} = $sub;
    });
    return $sub;
}

# invoice(customer, subscription, status, amount) -> a Stripe invoice object.
sub invoice {
    my ($self, %o) = @_;
    my $inv;
    $self->_update(sub {
        my $st = shift;
        my $id = _id($st, 'in');
        $inv = { id => $id, object => 'invoice', customer => $o{customer},
                 subscription => $o{subscription}, status => $o{status} // 'paid',
                 number => 'PRMT-' . sprintf('%04d', $st->{seq}), currency => 'usd',
                 amount_due => $o{amount} // 1500, amount_paid => ($o{status} // 'paid') eq 'paid' ? $o{amount} // 1500 : 0,
                 hosted_invoice_url => "https://invoice.stripe.com/i/$id", created => $o{created} // time,
                 next_payment_attempt => $o{next_payment_attempt}, livemode => JSON::PP::false };
        $st->{objects}{$id} = $inv;
    });
    return $inv;
}

# event(type, object, created => T, id => ID) -> a Stripe event (hash).
sub event {
    my ($self, $type, $obj, %o) = @_;
    my $id = $o{id};
    $self->_update(sub { $id //= _id($_[0], 'evt') });
    return { id => $id, object => 'event', api_version => '2024-06-20',
             created => $o{created} // time, type => $type, livemode => JSON::PP::false,
             pending_webhooks => 1, request => { id => undef, idempotency_key => undef },
             data => { object => $obj } };
}

# sign($payload, $secret, $t) -> a Stripe-Signature header value.
sub sign {
    my ($self, $payload, $secret, $t) = @_;
    $t //= time;
    return "t=$t,v1=" . hmac_sha256_hex("$t.$payload", $secret);
}

# deliver($stack, $event, secret => S, t => T, header => H) -> the stack's
# response to POST /webhooks/stripe with the event signed as Stripe does.
sub deliver {
    my ($self, $s, $ev, %o) = @_;
    my $body = ref $ev ? $JSON->encode($ev) : $ev;
    my $hdr = $o{header} // $self->sign($body, $o{secret}, $o{t});
    return $s->request(POST => '/webhooks/stripe', { body => $body,
        headers => { 'Content-Type' => 'application/json; charset=utf-8',
                     'Stripe-Signature' => $hdr, 'User-Agent' => 'Stripe/1.0 (+https://stripe.com/docs/webhooks)' } });
}

sub stop {
    my ($self) = @_;
    return unless $self->{pid} && $$ == $self->{owner};
    kill 'TERM', $self->{pid};
    waitpid($self->{pid}, 0);
    delete $self->{pid};
}

sub DESTROY { local ($?, $@); $_[0]->stop }

# ------------------------------------------------------------------ internals

sub _id {
    my ($st, $prefix) = @_;
    $st->{seq}++;
    return sprintf('%s_%s%06d', $prefix, 'Fk', $st->{seq});
}

sub _update {
    my ($self, $fn) = @_;
    open(my $lk, '>>', "$self->{dir}/lock") or die $!;
    flock($lk, LOCK_EX);
    my $state = {};
    if (open(my $fh, '<', "$self->{dir}/state.json")) {
        local $/;
        my $t = <$fh>;
        $state = $JSON->decode($t) if defined $t && length $t;
    }
    my @r = $fn->($state);
    open(my $out, '>', "$self->{dir}/state.json.tmp") or die $!;
    print $out $JSON->encode($state);
    close $out;
    rename "$self->{dir}/state.json.tmp", "$self->{dir}/state.json" or die $!;
    close $lk;
    return @r;
}

sub _unescape { my $s = shift // ''; $s =~ tr/+/ /; $s =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge; return $s }

# Stripe's form encoding: a[b][0][c]=v -> {a => {b => [{c => v}]}}.
sub _form {
    my ($text) = @_;
    my %top;
    for my $pair (grep { length } split /&/, $text // '') {
        my ($k, $v) = map { _unescape($_) } split /=/, $pair, 2;
        my ($head, $rest) = $k =~ /^([^\[]+)((?:\[[^\]]*\])*)$/ ? ($1, $2) : ($k, '');
        my @path = $rest =~ /\[([^\]]*)\]/g;
        my $ref = \$top{$head};
        for my $p (@path) {
            if ($p =~ /^\d+$/) { $$ref //= []; $ref = \$$ref->[$p] }
            else { $$ref //= {}; $ref = \$$ref->{$p} }
        }
        $$ref = $v;
    }
    return \%top;
}

sub _read_request {
    my ($c) = @_;
    my $head = '';
    while ($head !~ /\r\n\r\n/) {
        my $n = sysread($c, my $buf, 8192);
        return unless $n;
        $head .= $buf;
        return if length $head > 1 << 20;
    }
    my ($h, $body) = split /\r\n\r\n/, $head, 2;
    my ($line, @lines) = split /\r\n/, $h;
    my ($method, $path) = split / /, $line;
    my %hdr;
    for (@lines) {
        my ($k, $v) = split /:\s*/, $_, 2;
        $hdr{ lc $k } = $v;
    }
    my $len = $hdr{'content-length'} // 0;
    while (length $body < $len) {
        my $n = sysread($c, my $buf, $len - length $body);
        last unless $n;
        $body .= $buf;
    }
    return ($method, $path, \%hdr, $body);
}

sub _send {
    my ($c, $status, $obj, %h) = @_;
    my $body = ref $obj ? $JSON->encode($obj) : $obj;
    my $out = "HTTP/1.1 $status Status\r\nContent-Type: application/json\r\n"
            . "Request-Id: req_fake" . int(rand(1e9)) . "\r\nStripe-Version: 2024-06-20\r\n";
    $out .= "$_: $h{$_}\r\n" for sort keys %h;
    $out .= "Content-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body";
    syswrite($c, $out);
}

sub _error {
    my ($status, $type, $message, %o) = @_;
    return ($status, { error => { type => $type, message => $message, %o } });
}

sub _serve {
    my ($self, $c) = @_;
    my ($method, $target, $hdr, $body) = _read_request($c) or return;
    my ($path, $query) = split /\?/, $target, 2;
    my $form = $method eq 'POST' ? _form($body) : _form($query);
    my $step;
    $self->_update(sub {
        my $st = shift;
        $step = shift @{ $st->{queue} };
        open(my $fh, '>>', "$self->{dir}/requests.jsonl") or die $!;
        print $fh $JSON->encode({ method => $method, path => $path, headers => $hdr,
                                  body => $body, form => $form }), "\n";
        close $fh;
    });
    if ($step) {
        Time::HiRes::sleep($step->{delay_ms} / 1000) if $step->{delay_ms};
        return if $step->{close};    # a network error: no answer at all
        return _send($c, $step->{status}, $step->{body} // { error => {
            type => 'api_error', message => 'Scripted failure.' } });
    }
    my ($status, $out, %h);
    if (($hdr->{authorization} // '') ne "Bearer $self->{key}") {
        ($status, $out) = _error(401, 'invalid_request_error',
            'Invalid API Key provided: ' . substr(($hdr->{authorization} // '') =~ s/^Bearer //r, 0, 8) . '****');
        return _send($c, $status, $out);
    }
    if ($method eq 'POST' && !defined $hdr->{'idempotency-key'}) {
        return _send($c, _error(400, 'invalid_request_error',
            'This fake requires an Idempotency-Key on every POST.'));
    }
    # A POST's key is claimed first (in flight), answered after the
    # latency, then kept: the same key meanwhile is Stripe's 409.
    my ($replay, $latency, $hold);
    my $k = $method eq 'POST' ? $hdr->{'idempotency-key'} : undef;
    $self->_update(sub {
        my $st = shift;
        $latency = $st->{latency_ms};
        $hold = $st->{hold} if defined $k && $st->{hold} && $st->{hold}{path} eq $path;
        return unless defined $k;
        if (my $prev = $st->{idem}{$k}) {
            if ($prev->{path} ne $path || $prev->{body} ne $body) {
                ($status, $out) = _error(400, 'idempotency_error',
                    "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '$k' if you meant to execute a different request.");
            } elsif ($prev->{inflight}) {
                $prev->{repeated} = 1;
                ($status, $out) = _error(409, 'invalid_request_error',
                    'There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): ' . $k . '. Please try again later.',
                    code => 'idempotency_key_in_use');
            } else {
                ($status, $out, $replay) = ($prev->{status}, $prev->{out}, 1);
            }
            return;
        }
        $st->{idem}{$k} = { path => $path, body => $body, inflight => 1 };
    });
    if (!defined $status) {
        my $end = Time::HiRes::time() + ($hold ? $hold->{ms} / 1000 : 0);
        while (Time::HiRes::time() < $end) {
            my $repeated;
            $self->_update(sub { $repeated = $_[0]{idem}{$k}{repeated} });
            last if $repeated;
            Time::HiRes::sleep(0.02);
        }
        Time::HiRes::sleep($latency / 1000) if $latency;
        $self->_update(sub {
            my $st = shift;
            ($status, $out) = $self->_route($st, $method, $path, $form);
            return unless defined $k;
            if ($status < 500) { $st->{idem}{$k} = { path => $path, body => $body, status => $status, out => $out } }
            else { delete $st->{idem}{$k} }
        });
    }
    %h = ('Idempotent-Replayed' => 'true') if $replay;
    $h{'Idempotency-Key'} = $hdr->{'idempotency-key'} if $method eq 'POST';
    return _send($c, $status, $out, %h);
}

# The answer to one request: (status, object).
sub _route {
    my ($self, $st, $method, $path, $f) = @_;
    my $obj = $st->{objects};
    if ($method eq 'POST' && $path eq '/v1/customers') {
        my $id = _id($st, 'cus');
        return (200, $obj->{$id} = { id => $id, object => 'customer', created => time,
            email => $f->{email}, metadata => $f->{metadata} // {}, livemode => JSON::PP::false });
    }
    if ($path =~ m{^/v1/customers/([^/]+)$}) {
        my $c = $obj->{$1} or return _error(404, 'invalid_request_error', "No such customer: '$1'",
                                            code => 'resource_missing', param => 'id');
        return (200, $c) if $method eq 'GET';
        if ($method eq 'DELETE') {
            delete $obj->{$1};
            return (200, { id => $1, object => 'customer', deleted => JSON::PP::true });
        }
    }
    if ($method eq 'POST' && $path eq '/v1/checkout/sessions') {
        for my $p (qw(mode success_url)) {
            return _error(400, 'invalid_request_error', "Missing required param: $p.",
                          code => 'parameter_missing', param => $p) unless defined $f->{$p};
        }
        my $price = eval { $f->{line_items}[0]{price} };
        return _error(400, 'invalid_request_error', "No such price: '" . ($price // '') . "'",
                      code => 'resource_missing', param => 'line_items[0][price]')
            unless defined $price && $price =~ /^price_/;
        return _error(400, 'invalid_request_error', "No such customer: '$f->{customer}'",
                      code => 'resource_missing', param => 'customer')
            if defined $f->{customer} && !$obj->{ $f->{customer} };
        my $id = _id($st, 'cs_test');
        return (200, $obj->{$id} = { id => $id, object => 'checkout.session', mode => $f->{mode},
            customer => $f->{customer}, client_reference_id => $f->{client_reference_id},
            success_url => $f->{success_url}, cancel_url => $f->{cancel_url},
            metadata => $f->{metadata} // {}, status => 'open', payment_status => 'unpaid',
            subscription => undef, url => "https://checkout.stripe.com/c/pay/$id",
            line_items_form => $f->{line_items}, subscription_data => $f->{subscription_data},
            livemode => JSON::PP::false, created => time });
    }
    if ($method eq 'POST' && $path eq '/v1/billing_portal/sessions') {
        return _error(400, 'invalid_request_error', 'Missing required param: customer.',
                      code => 'parameter_missing', param => 'customer') unless defined $f->{customer};
        return _error(400, 'invalid_request_error', "No such customer: '$f->{customer}'",
                      code => 'resource_missing', param => 'customer') unless $obj->{ $f->{customer} };
        my $id = _id($st, 'bps');
        return (200, { id => $id, object => 'billing_portal.session', customer => $f->{customer},
            return_url => $f->{return_url}, url => "https://billing.stripe.com/p/session/test_$id",
            livemode => JSON::PP::false, created => time });
    }
    if ($method eq 'GET' && $path =~ m{^/v1/(subscriptions|invoices)$}) {
        my $kind = $1 eq 'subscriptions' ? 'subscription' : 'invoice';
        my @d = grep { $_->{object} eq $kind && (!defined $f->{customer} || ($_->{customer} // '') eq $f->{customer})
                       && ($kind ne 'subscription' || ($f->{status} // '') eq 'all' || $_->{status} ne 'canceled') }
                map { $obj->{$_} } sort keys %$obj;
        return (200, { object => 'list', url => $path, has_more => JSON::PP::false, data => \@d });
    }
    if ($path =~ m{^/v1/subscriptions/([^/]+)$}) {
        my $s = $obj->{$1} or return _error(404, 'invalid_request_error', "No such subscription: '$1'",
                                            code => 'resource_missing', param => 'id');
        return (200, $s) if $method eq 'GET';
        if ($method eq 'DELETE') {
            $s->{status} = 'canceled';
            $s->{canceled_at} = time;
            return (200, $s);
        }
    }
    return _error(404, 'invalid_request_error', "Unrecognized request URL ($method: $path). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.");
}

1;
