#!/usr/bin/perl
# 602-enrich-stream.t: server-sent events through nginx: start, delta, done; unbuffered (chunks
# reach the client before the provider finishes); a provider dropping mid-stream -> fallback
# event then the next provider, or an error event when none is left; never a clean end.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use IO::Select;
use JSON::PP;
use Promptd::FakeLLM;
use Promptd::Test qw(db1 sse_events);

my $llm = Promptd::FakeLLM->new;
my $s = Promptd::Test->new(
    PROMPTD_WORKERS => 1,
    PROMPTD_ENRICH_PROVIDERS => 'openai,anthropic,local',
    PROMPTD_OPENAI_BASE_URL => $llm->openai_url,
    PROMPTD_OPENAI_API_KEY => 'sk-server-openai',
    PROMPTD_ANTHROPIC_BASE_URL => $llm->anthropic_url,
    PROMPTD_ANTHROPIC_API_KEY => 'sk-ant-server',
    PROMPTD_ENRICH_TIMEOUT_MS => 5000,
    PROMPTD_ENRICH_BACKOFF_MS => 10,
);
my $alice = $s->user_create('alice@example.com');
my $ta = $s->token($alice);
my $JSON = JSON::PP->new->utf8;

my $n = 0;
sub body { my (%o) = @_; { prompt => 'Explain {{concept}} to new engineers in 3 short paragraphs #' . ++$n, %o } }

sub names { join ' ', map { $_->[0] } @{ $_[0] } }
sub compact { my $t = names($_[0]); $t =~ s/(delta )+delta/delta*/g; $t =~ s/^(start) delta (\w)/$1 delta* $2/; $t }
sub text_after {
    my ($ev, $from) = @_;
    my $t = '';
    for (@$ev) {
        $t = '' if $_->[0] eq 'fallback';
        $t .= $_->[1]{text} if $_->[0] eq 'delta';
    }
    return $t;
}
sub stream {
    my ($json, %h) = @_;
    my $r = $s->request(POST => '/api/v1/enrich', { token => $ta, json => $json,
        headers => { 'Cache-Control' => 'no-cache', %h } });
    return ($r, sse_events($r->{body}));
}

# --- local engine, stream: true
my ($r, $ev) = stream(body(stream => JSON::PP::true, providers => ['local']));
is($r->{status}, 200, 'stream -> 200');
like($r->{headers}{'content-type'}, qr{^text/event-stream}, 'text/event-stream');
like($r->{headers}{'cache-control'} // '', qr/no-store/, 'Cache-Control: no-store');
ok(!defined $r->{headers}{'content-length'}, 'no Content-Length (streamed)');
is($ev->[0][0], 'start', 'first event: start');
like($ev->[0][1]{id}, qr/^[0-9a-f-]{36}$/, 'start carries the id');
is($ev->[-1][0], 'done', 'last event: done');
ok((grep { $_->[0] eq 'delta' } @$ev) >= 2, 'several delta events');
my $done = $ev->[-1][1];
is(text_after($ev), $done->{enriched}, 'the deltas add up to the enriched text');
is($done->{provider}, 'local', 'done: provider');
is($done->{id}, $ev->[0][1]{id}, 'done: the same id');
ok($done->{score}{after}{total} >= 0, 'done: the full result');
is(db1("select outcome from public.enrichments where id = '$done->{id}'"), 'success', 'recorded and committed before done');

# --- Accept: text/event-stream
($r, $ev) = stream(body(providers => ['local']), Accept => 'text/event-stream');
like($r->{headers}{'content-type'}, qr{^text/event-stream}, 'Accept: text/event-stream streams');
is($ev->[-1][0], 'done', 'ends with done');

# --- OpenAI and Anthropic streams
$llm->reset;
($r, $ev) = stream(body(stream => JSON::PP::true));
is($ev->[-1][0], 'done', 'openai stream ends with done') or diag $r->{body};
is($ev->[-1][1]{provider}, 'openai', 'provider openai');
like(text_after($ev), qr/^\[fake-openai\]/, 'deltas are the provider\'s chunks');
is(text_after($ev), $ev->[-1][1]{enriched}, 'deltas add up');
ok((grep { $_->[0] eq 'delta' } @$ev) > 3, 'chunk by chunk');
ok(($llm->requests('openai'))[0]{json}{stream}, 'asked the provider to stream');
ok($ev->[-1][1]{usage}{tokens_in} > 0, 'usage from the stream');
($r, $ev) = stream(body(stream => JSON::PP::true, providers => ['anthropic']));
is($ev->[-1][0], 'done', 'anthropic stream ends with done') or diag $r->{body};
is($ev->[-1][1]{provider}, 'anthropic', 'provider anthropic');
is(text_after($ev), $ev->[-1][1]{enriched}, 'deltas add up');
ok($ev->[-1][1]{usage}{tokens_in} > 0, 'usage: input tokens from message_start');
ok($ev->[-1][1]{usage}{tokens_out} > 1, 'usage: output tokens from message_delta (message_start says 1)');

# --- a provider drops mid-stream: fallback event, then the next provider
$llm->reset;
$llm->script(openai => [{ drop => 1 }]);
($r, $ev) = stream(body(stream => JSON::PP::true));
my @names = map { $_->[0] } @$ev;
my ($fb) = grep { $_->[0] eq 'fallback' } @$ev;
ok($fb, 'a fallback event') or diag $r->{body};
is($fb->[1]{from}, 'openai', 'from openai');
is($fb->[1]{reason}, 'dropped', 'because it dropped');
ok($fb->[1]{discard}, 'the text so far is withdrawn');
ok((grep { $_ eq 'delta' } @names[0 .. (grep { $names[$_] eq 'fallback' } 0 .. $#names)[0]]), 'deltas had been sent before it');
is($ev->[-1][0], 'done', 'then done');
is($ev->[-1][1]{provider}, 'anthropic', 'from anthropic');
is(text_after($ev), $ev->[-1][1]{enriched}, 'deltas after the fallback add up');
is(join(',', map { "$_->{provider}:$_->{outcome}" } @{ $ev->[-1][1]{attempts} }), 'openai:dropped,anthropic:ok',
   'attempts say so');

# --- nothing left: an error event, never a clean end
$llm->reset;
$llm->script(openai => [{ drop => 1 }]);
($r, $ev) = stream(body(stream => JSON::PP::true, providers => ['openai']));
is($r->{status}, 200, 'the stream had started (200)');
is($ev->[-1][0], 'error', 'it ends with an error event') or diag $r->{body};
is($ev->[-1][1]{status}, 502, 'error: 502');
ok(!(grep { $_->[0] eq 'done' } @$ev), 'no done event');
ok((grep { $_->[0] eq 'fallback' } @$ev), 'the partial text was withdrawn first');
is(db1("select outcome from public.enrichments where id = '$ev->[0][1]{id}'"), 'failed', 'recorded as failed');
$llm->reset;
$llm->default(openai => { status => 500 });
($r, $ev) = stream(body(stream => JSON::PP::true, providers => ['openai']));
is(names($ev), 'start error', 'failing before any byte: start, error');
$llm->reset;

# --- unbuffered: the client sees chunks while the provider is still answering
my $gate = $s->var_dir . '/stream-gate';
$llm->script(openai => [{ wait_file => $gate }]);
my $payload = $JSON->encode(body(stream => JSON::PP::true));
my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->http_port, Proto => 'tcp')
    or die "connect: $!";
print $sock "POST /api/v1/enrich HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: Bearer $ta\r\n"
    . "Content-Type: application/json\r\nCache-Control: no-cache\r\nContent-Length: " . length($payload)
    . "\r\nConnection: close\r\n\r\n$payload";
my $sel = IO::Select->new($sock);
my $got = '';
for (1 .. 400) {    # bounded: up to ~20 s of 50 ms waits
    last if $got =~ /event: delta\ndata: [^\n]*\n\n.*event: delta\ndata:[^\n]*\n\n/s;
    if ($sel->can_read(0.05)) { sysread($sock, my $buf, 65536) or last; $got .= $buf }
}
like($got, qr/event: start/, 'start arrived while the provider is mid-answer');
like($got, qr/event: delta/, 'deltas arrived while the provider is mid-answer (nginx does not buffer)');
unlike($got, qr/event: done/, 'and no done yet');
open(my $fh, '>', $gate) or die;
close $fh;
for (1 .. 400) {    # until the server closes (bounded)
    next unless $sel->can_read(0.05);
    sysread($sock, my $buf, 65536) or last;
    $got .= $buf;
}
like($got, qr/event: done/, 'released: done arrives');

# --- bad input is a plain 4xx, not a stream
$r = $s->request(POST => '/api/v1/enrich', { token => $ta, json => { prompt => '', stream => JSON::PP::true } });
is($r->{status}, 422, 'bad input with stream -> 422');
like($r->{headers}{'content-type'}, qr{^application/problem\+json}, 'problem+json, not SSE');

done_testing;
