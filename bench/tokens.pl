#!/usr/bin/env perl
# tokens.pl: "<user id> <prompt id>" lines on stdin -> "<jwt> <prompt id>" lines on stdout.
#
# usage: tokens.pl SECRET_FILE [TTL_SECONDS]
# HS256 over the stack's secret (the hex string itself is the key, as
# promptd and Supabase use it); claims sub, role, aud, email, iat, exp.
# One token per user, reused for all of that user's prompts.
use strict;
use warnings;
use Digest::SHA qw(hmac_sha256);
use MIME::Base64 qw(encode_base64url);
use JSON::PP;

my ($secret_file, $ttl) = @ARGV;
die "usage: $0 SECRET_FILE [TTL_SECONDS]\n" unless defined $secret_file;
$ttl //= 7200;
open my $fh, '<', $secret_file or die "$0: $secret_file: $!\n";
my $secret = <$fh>;
close $fh;
die "$0: $secret_file is empty\n" unless defined $secret;
chomp $secret;

my $json = JSON::PP->new->canonical;
my $header = encode_base64url('{"alg":"HS256","typ":"JWT"}');
my $now = time;
my (%tok, $n);
while (my $line = <STDIN>) {
    my ($user, $prompt) = $line =~ /^\s*([0-9a-f-]{36})\s*\|?\s*([0-9a-f-]{36})\s*$/i or next;
    $tok{$user} //= do {
        my $payload = encode_base64url($json->encode({
            sub => $user, role => 'authenticated', aud => 'authenticated',
            email => "$user\@example.test", iat => $now, exp => $now + $ttl,
        }));
        my $input = "$header.$payload";
        "$input." . encode_base64url(hmac_sha256($input, $secret));
    };
    print "$tok{$user} $prompt\n";
    $n++;
}
die "$0: no \"<user id> <prompt id>\" lines on stdin\n" unless $n;
