# Promptd::FakeLLM: a loopback fake of OpenAI chat completions and Anthropic messages (JSON and SSE), scriptable per test.
package Promptd::FakeLLM;

# Usage:
#   my $llm = Promptd::FakeLLM->new;
#   PROMPTD_OPENAI_BASE_URL => $llm->openai_url, PROMPTD_ANTHROPIC_BASE_URL => $llm->anthropic_url
#   $llm->script(openai => [{ status => 500 }, { status => 429, retry_after => 1 }, {}]);
#   $llm->default(anthropic => { fail_rate => 0.3 });
#   my @reqs = $llm->requests('openai');   # [{path, headers (lower-case), body, json}]
#   $llm->reset;                            # forget scripts, defaults and requests
#   (the user message's content may be an array of parts: OpenAI's text and
#   image_url, Anthropic's image and text blocks, checked as the real APIs
#   check them (400 otherwise); the reply rewrites the text parts)
#
# One forking HTTP/1.1 server on 127.0.0.1 serves both wire formats:
#   POST /v1/chat/completions  (OpenAI; stream:true -> "data: {...}" chunks, "data: [DONE]")
#   POST /v1/messages          (Anthropic; anthropic-version required; stream:true ->
#                               message_start, content_block_start, content_block_delta...,
#                               content_block_stop, message_delta, message_stop)
# Each request takes the next step of its provider's script (else the
# default).  A step is a hash; empty means "answer normally":
#   answer => TEXT        answer this text (default: "[fake-<provider>] " + a
#                         rewrite that keeps the user's prompt verbatim)
#   delay_ms => N         wait before answering
#   hang => 1             accept and never answer (the client must time out)
#   status => N, retry_after => S, body => TEXT   an HTTP error
#   truncated => 1        finish_reason "length" / stop_reason "max_tokens"
#   garbage => 1          a 200 whose body is not the wire format
#   refusal => 1          "I'm sorry, but I can't help with that."
#   drop => 1             stream: a few deltas, then the connection closes
#                         (no end marker); JSON: half a body
#   fail_rate => F        (defaults) answer 500 with probability F
#   chunk_ms => N         stream: pause between chunks
#   wait_file => PATH     stream: after two chunks, wait (up to 30 s) until PATH
#                         exists (proves the client sees chunks before the end)
# State lives in a directory (script.json, requests.jsonl) under a lock, so
# the forked children share it.
use strict;
use warnings;
use Fcntl qw(:flock);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(sleep);

my $JSON = JSON::PP->new->canonical->utf8;

sub new {
    my ($class, %opt) = @_;
    my $dir = tempdir('promptd-fakellm-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $self = bless { dir => $dir, owner => $$ }, $class;
    $self->reset;
    my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
        Listen => 64, ReuseAddr => 1, Proto => 'tcp') or die "FakeLLM listen: $!";
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
                srand();    # each child its own random sequence (fail_rate)
                eval { $self->_serve($c) };
                POSIX::_exit(0);
            }
            close $c;
        }
    }
    close $listen;
    $self->{pid} = $pid;
    return $self;
}

sub port          { $_[0]{port} }
sub base_url      { "http://127.0.0.1:$_[0]{port}" }
sub openai_url    { "http://127.0.0.1:$_[0]{port}/v1" }
sub anthropic_url { "http://127.0.0.1:$_[0]{port}" }

# script($provider => [steps]): replace the provider's queue.
sub script {
    my ($self, %s) = @_;
    $self->_update(sub { $_[0]{$_}{queue} = $s{$_} for keys %s });
}

# default($provider => {step}): what to do once the queue is empty.
sub default {
    my ($self, %s) = @_;
    $self->_update(sub { $_[0]{$_}{default} = $s{$_} for keys %s });
}

# remaining($provider) -> steps of the queue not consumed yet.
sub remaining {
    my ($self, $p) = @_;
    my $n;
    $self->_update(sub { $n = scalar @{ $_[0]{$p}{queue} || [] } });
    return $n;
}

sub reset {
    my ($self) = @_;
    $self->_update(sub { %{ $_[0] } = (openai => {}, anthropic => {}) });
    open(my $fh, '>', "$self->{dir}/requests.jsonl") or die $!;
    close $fh;
}

# requests($provider) -> list of {provider, path, headers, body, json}.
sub requests {
    my ($self, $p) = @_;
    open(my $fh, '<', "$self->{dir}/requests.jsonl") or return ();
    flock($fh, LOCK_SH);
    my @r = map { $JSON->decode($_) } <$fh>;
    close $fh;
    return grep { !defined $p || $_->{provider} eq $p } @r;
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

# _update(sub { my $state = shift; ... }): read-modify-write under the lock.
sub _update {
    my ($self, $fn) = @_;
    open(my $lk, '>>', "$self->{dir}/lock") or die $!;
    flock($lk, LOCK_EX);
    my $state = {};
    if (open(my $fh, '<', "$self->{dir}/script.json")) {
        local $/;
        my $t = <$fh>;
        $state = $JSON->decode($t) if defined $t && length $t;
    }
    $fn->($state);
    open(my $out, '>', "$self->{dir}/script.json.tmp") or die $!;
    print $out $JSON->encode($state);
    close $out;
    rename "$self->{dir}/script.json.tmp", "$self->{dir}/script.json" or die $!;
    close $lk;
}

sub _next_step {
    my ($self, $provider, $record) = @_;
    my $step;
    $self->_update(sub {
        my $p = $_[0]{$provider} ||= {};
        $step = shift @{ $p->{queue} || [] };
        $step //= { %{ $p->{default} || {} } };
        open(my $fh, '>>', "$self->{dir}/requests.jsonl") or die $!;
        print $fh $JSON->encode($record), "\n";
        close $fh;
    });
    return $step;
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

# A whole JSON answer; a "drop" step sends half of it and closes.
sub _answer {
    my ($c, $step, $b) = @_;
    if ($step->{drop}) {
        syswrite($c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                 . length($b) . "\r\nConnection: close\r\n\r\n" . substr($b, 0, length($b) / 2));
        return;
    }
    return _send($c, 200, { 'Content-Type' => 'application/json' }, $b);
}

# The head of a server-sent-events answer.
sub _sse_head {
    syswrite($_[0], "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
             . "Cache-Control: no-cache\r\nConnection: close\r\n\r\n");
}

sub _send {
    my ($c, $status, $headers, $body) = @_;
    my %reason = (200 => 'OK', 400 => 'Bad Request', 401 => 'Unauthorized',
                  404 => 'Not Found', 429 => 'Too Many Requests',
                  500 => 'Internal Server Error', 503 => 'Service Unavailable');
    my $out = "HTTP/1.1 $status " . ($reason{$status} // 'Status') . "\r\n";
    $out .= "$_: $headers->{$_}\r\n" for sort keys %$headers;
    $out .= "Content-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body";
    syswrite($c, $out);
}

sub _wait_file {
    my ($path) = @_;
    for (1 .. 600) { last if -e $path; sleep 0.05 }
}

# _bad_images($provider, $json) -> why the user message's content parts are
# not what the provider takes (400 invalid_request_error), or undef.
# OpenAI: {type: text, text} and {type: image_url, image_url: {url}} with a
# data URL (or http(s)); Anthropic: {type: text, text} and {type: image,
# source: {type: base64, media_type, data}}, the types both document.
my $TYPES = qr{^image/(?:jpeg|png|gif|webp)$};
my $B64 = qr{^[A-Za-z0-9+/]+={0,2}$};
sub _bad_images {
    my ($provider, $json) = @_;
    for my $m (@{ $json->{messages} || [] }) {
        next unless ref $m->{content};
        return 'content must be a string or an array' unless ref $m->{content} eq 'ARRAY';
        for my $p (@{ $m->{content} }) {
            my $t = $p->{type} // '';
            if ($t eq 'text') {
                return 'text part without text' unless defined $p->{text} && !ref $p->{text};
            } elsif ($provider eq 'openai' && $t eq 'image_url') {
                my $url = ref $p->{image_url} eq 'HASH' ? $p->{image_url}{url} // '' : '';
                next if $url =~ m{^https?://};
                my ($type, $data) = $url =~ m{^data:([^;,]+);base64,(.*)\z}s
                    or return 'image_url.url must be a data URL or http(s)';
                return "unsupported image type $type" unless $type =~ $TYPES;
                return 'invalid base64 image data' unless $data =~ $B64;
            } elsif ($provider eq 'anthropic' && $t eq 'image') {
                my $src = $p->{source};
                return 'image source must be {type: base64, media_type, data}'
                    unless ref $src eq 'HASH' && ($src->{type} // '') eq 'base64';
                return 'unsupported media_type' unless ($src->{media_type} // '') =~ $TYPES;
                return 'invalid base64 image data' unless ($src->{data} // '') =~ $B64;
            } else {
                return "unknown content part type '$t'";
            }
        }
    }
    return undef;
}

sub _serve {
    my ($self, $c) = @_;
    my ($method, $path, $hdr, $body) = _read_request($c) or return;
    my $provider = $path eq '/v1/chat/completions' ? 'openai'
                 : $path eq '/v1/messages' ? 'anthropic' : undef;
    my $json = eval { $JSON->decode($body) };
    my $step = $self->_next_step($provider // 'other', {
        provider => $provider // 'other', method => $method, path => $path,
        headers => $hdr, body => $body, json => $json });
    return _send($c, 404, { 'Content-Type' => 'application/json' }, '{"error":"not found"}')
        unless $provider && $method eq 'POST';
    return _send($c, 400, { 'Content-Type' => 'application/json' },
                 '{"type":"error","error":{"type":"invalid_request_error","message":"anthropic-version header is required"}}')
        if $provider eq 'anthropic' && !$hdr->{'anthropic-version'};
    return _send($c, 400, { 'Content-Type' => 'application/json' }, '{"error":"bad json"}')
        unless ref $json eq 'HASH';

    sleep($step->{delay_ms} / 1000) if $step->{delay_ms};
    if ($step->{hang}) { sleep 60; return }
    if ($step->{fail_rate} && rand() < $step->{fail_rate}) {
        $step = { status => 500 };
    }
    if ($step->{status} && $step->{status} != 200) {
        my %h = ('Content-Type' => 'application/json');
        $h{'Retry-After'} = $step->{retry_after} if defined $step->{retry_after};
        return _send($c, $step->{status}, \%h,
                     $step->{body} // '{"error":{"message":"scripted failure","type":"server_error"}}');
    }
    if ($step->{garbage}) {
        return _send($c, 200, { 'Content-Type' => 'application/json' }, '{"choices": [ this is not json');
    }
    if (defined(my $why = _bad_images($provider, $json))) {
        return _send($c, 400, { 'Content-Type' => 'application/json' }, $JSON->encode({
            type => 'error', error => { type => 'invalid_request_error', message => $why } }));
    }
    my $model = $json->{model} // 'unknown';
    my $user = '';
    for my $m (@{ $json->{messages} || [] }) {
        next unless ($m->{role} // '') eq 'user';
        $user = !ref $m->{content} ? $m->{content}
              : join '', map { $_->{text} // '' } grep { ($_->{type} // '') eq 'text' } @{ $m->{content} };
    }
    my $text = $step->{refusal} ? "I'm sorry, but I can't help with that."
             : defined $step->{answer} ? $step->{answer}
             : "[fake-$provider] Task: complete the request below exactly as stated.\n\n"
               . "<prompt>\n$user\n</prompt>\n\nAudience: [[Add: who is the audience?]]\n"
               . "Output format: a short, well-structured answer.";
    my $tin = int(length($body) / 4) + 1;
    my $tout = int(length($text) / 4) + 1;
    my $stream = $json->{stream} ? 1 : 0;
    my @chunks = $text =~ /(.{1,24})/gs;

    if ($provider eq 'openai') {
        my $fin = $step->{truncated} ? 'length' : 'stop';
        if (!$stream) {
            my $b = $JSON->encode({ id => 'chatcmpl-fake', object => 'chat.completion',
                model => $model, choices => [{ index => 0, finish_reason => $fin,
                message => { role => 'assistant', content => $text } }],
                usage => { prompt_tokens => $tin, completion_tokens => $tout,
                           total_tokens => $tin + $tout } });
            return _answer($c, $step, $b);
        }
        _sse_head($c);
        my $i = 0;
        for my $ch (@chunks) {
            syswrite($c, 'data: ' . $JSON->encode({ id => 'chatcmpl-fake', object => 'chat.completion.chunk',
                model => $model, choices => [{ index => 0, finish_reason => undef,
                delta => { ($i == 0 ? (role => 'assistant') : ()), content => $ch } }] }) . "\n\n");
            $i++;
            return if $step->{drop} && $i >= 2;
            _wait_file($step->{wait_file}) if $step->{wait_file} && $i == 2;
            sleep($step->{chunk_ms} / 1000) if $step->{chunk_ms};
        }
        syswrite($c, 'data: ' . $JSON->encode({ id => 'chatcmpl-fake', object => 'chat.completion.chunk',
            model => $model, choices => [{ index => 0, finish_reason => $fin, delta => {} }] }) . "\n\n");
        syswrite($c, 'data: ' . $JSON->encode({ id => 'chatcmpl-fake', object => 'chat.completion.chunk',
            model => $model, choices => [], usage => { prompt_tokens => $tin,
            completion_tokens => $tout, total_tokens => $tin + $tout } }) . "\n\n");
        syswrite($c, "data: [DONE]\n\n");
        return;
    }

    # anthropic
    my $stop = $step->{truncated} ? 'max_tokens' : 'end_turn';
    if (!$stream) {
        my $b = $JSON->encode({ id => 'msg_fake', type => 'message', role => 'assistant',
            model => $model, content => [{ type => 'text', text => $text }],
            stop_reason => $stop, stop_sequence => undef,
            usage => { input_tokens => $tin, output_tokens => $tout } });
        return _answer($c, $step, $b);
    }
    _sse_head($c);
    my $ev = sub { syswrite($c, "event: $_[0]\ndata: " . $JSON->encode({ type => $_[0], %{ $_[1] } }) . "\n\n") };
    $ev->('message_start', { message => { id => 'msg_fake', type => 'message', role => 'assistant',
        model => $model, content => [], stop_reason => undef,
        usage => { input_tokens => $tin, output_tokens => 1 } } });
    $ev->('content_block_start', { index => 0, content_block => { type => 'text', text => '' } });
    my $i = 0;
    for my $ch (@chunks) {
        $ev->('content_block_delta', { index => 0, delta => { type => 'text_delta', text => $ch } });
        $i++;
        return if $step->{drop} && $i >= 2;
        _wait_file($step->{wait_file}) if $step->{wait_file} && $i == 2;
        sleep($step->{chunk_ms} / 1000) if $step->{chunk_ms};
    }
    $ev->('content_block_stop', { index => 0 });
    $ev->('message_delta', { delta => { stop_reason => $stop, stop_sequence => undef },
                             usage => { output_tokens => $tout } });
    $ev->('message_stop', {});
}

1;
