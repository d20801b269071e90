#!/usr/bin/perl
# 920-mail.t: the mail outbox and promptd-jobs' mail.send: STARTTLS + AUTH with staged secrets, retries with nothing lost, final rejections, no clear-text fallback, the log without a server, template overrides, bad input.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP;
use Test::More;
use Promptd::Test;
use Promptd::FakeSMTP;

# A self-signed certificate for 127.0.0.1: the fake's, and the CA promptd trusts.
my $tmp = tempdir('promptd-mail-XXXXXX', TMPDIR => 1, CLEANUP => 1);
system('openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
       '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
       '-keyout', "$tmp/key.pem", '-out', "$tmp/cert.pem") == 0 or die "openssl req failed";
system("chmod 0644 $tmp/key.pem $tmp/cert.pem; chmod 0755 $tmp");
my $tls = { cert => "$tmp/cert.pem", key => "$tmp/key.pem" };

my $smtp = Promptd::FakeSMTP->new(tls => $tls, auth => ['mailer', 'pa55 word']);
my $FROM = 'promptd <no-reply@promptd.test>';
my $s = Promptd::Test->new(
    PROMPTD_SMTP_URL => 'smtp+starttls://127.0.0.1:' . $smtp->port,
    PROMPTD_SMTP_CA_FILE => $tls->{cert}, PROMPTD_SMTP_FROM => $FROM,
    PROMPTD_SMTP_USERNAME => 'mailer', PROMPTD_SMTP_PASSWORD => 'pa55 word',
    PROMPTD_JOBS_POLL => 100, PROMPTD_JOBS_BACKOFF => 200);

# enqueue($kind, $to, \%vars) -> outbox id, as the service (a flow's function would).
sub enqueue {
    my ($st, $kind, $to, $vars) = @_;
    my $json = JSON::PP->new->canonical->encode($vars // {});
    $json =~ s/'/''/g;
    return $st->db1("select promptd.mail_enqueue('$kind', '$to', '$json'::jsonb)");
}

sub row {
    my ($st, $id) = @_;
    my $r = $st->psql("select o.state, coalesce(o.vars::text, 'NULL'), o.attempts, "
                    . "coalesce(o.last_error, ''), o.sent_at is not null, j.state, "
                    . "coalesce(j.result::text, '') from promptd.mail_outbox o "
                    . "join public.background_jobs j on j.id = o.job_id where o.id = $id")->[0];
    return { state => $r->[0], vars => $r->[1], attempts => $r->[2], error => $r->[3],
             sent => $r->[4] eq 't', job => $r->[5], result => $r->[6] };
}

sub wait_state {
    my ($st, $id, $want, $secs) = @_;
    $st->wait_for(sub { row($st, $id)->{state} eq $want }, timeout => $secs // 30);
    return row($st, $id);
}

# -------------------------------------------------- delivered, STARTTLS + AUTH
{
    my $id = enqueue($s, 'invitation', 'ada@example.test', { code => '482913',
        link => 'https://app.example.com/invite?t=abc&x=1', workspace => '<Acme & Co>',
        inviter => 'Grace', role => 'editor' });
    my ($m) = $smtp->wait_messages(1);
    ok($m, 'the invitation reached the mail server') or diag $smtp->errors;
    is($m->{from}, 'no-reply@promptd.test', 'envelope sender: the bare From address');
    is_deeply($m->{rcpt}, ['ada@example.test'], 'one recipient');
    is($m->{tls}, 1, 'sent after STARTTLS');
    is($m->{auth}, 'mailer', 'after AUTH with the staged credentials');
    is($m->{headers}{from}, $FROM, 'From header');
    is($m->{headers}{to}, 'ada@example.test', 'To header');
    like($m->{headers}{subject}, qr/^Grace invited you to <Acme & Co> on promptd$/, 'subject rendered');
    like($m->{headers}{'message-id'}, qr/^<promptd\.$id\.[0-9a-f]{12}\@promptd\.test>$/, 'Message-ID names the outbox row');
    like($m->{headers}{date}, qr/^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000$/, 'Date');
    like($m->{parts}{'text/plain'}, qr/482913/, 'text part: the code');
    like($m->{parts}{'text/plain'}, qr{\Qhttps://app.example.com/invite?t=abc&x=1\E}, 'text part: the link');
    like($m->{parts}{'text/html'}, qr/<b>482913<\/b>/, 'HTML part: the code');
    like($m->{parts}{'text/html'}, qr{href="https://app.example.com/invite\?t=abc&amp;x=1"}, 'HTML part: the link, escaped');
    like($m->{parts}{'text/html'}, qr/&lt;Acme &amp; Co&gt;/, 'HTML part: values are escaped');
    unlike($m->{parts}{'text/html'}, qr/<Acme/, '... never raw');
    my $r = wait_state($s, $id, 'sent');
    is($r->{state}, 'sent', 'outbox: sent');
    ok($r->{sent}, '... with sent_at');
    is($r->{vars}, 'NULL', '... and its values (the code) cleared');
    is($r->{attempts}, 1, '... in one attempt');
    $s->wait_for(sub { row($s, $id)->{job} eq 'succeeded' });
    like(row($s, $id)->{result}, qr/"outcome": "sent"/, 'the job succeeded: outcome sent');
    my ($sess) = grep { grep { /^MAIL FROM/ } @{ $_->{commands} } } $smtp->sessions;
    my @cmds = map { (split ' ', $_)[0] } @{ $sess->{commands} };
    is("@cmds[0..2]", 'EHLO STARTTLS EHLO', 'STARTTLS before anything else');
    ok(!(grep { /pa55/ } @{ $sess->{commands} }), 'the password never appears in clear');
    my $env = '';
    for my $pid (grep { $_ } map { s/\D//gr } map { `cat $_ 2>/dev/null` } glob($s->var_dir . '/run/jobs*.pid')) {
        $env .= `cat /proc/$pid/environ 2>/dev/null`;
    }
    ok(length $env, 'the jobs daemon\'s environment is readable');
    unlike($env, qr/pa55/, 'the SMTP password is not in the daemon\'s environment (a secret file)');
    $smtp->clear;
}

# -------------------------------------------------- a 4xx: retried, then delivered once
{
    $smtp->script([{ at => 'RCPT', code => 451, text => '4.3.0 try later' }]);
    my $id = enqueue($s, 'recovery', 'bob@example.test', { code => '111222', link => 'https://x.test/r' });
    my @m = $smtp->wait_messages(1);
    is(scalar @m, 1, '451 on the first attempt: delivered by the retry') or diag $smtp->errors;
    like($m[0]{parts}{'text/plain'} // '', qr/111222/, '... with its code (kept for the retry)');
    my $r = wait_state($s, $id, 'sent');
    is($r->{attempts}, 2, 'two attempts');
    is($r->{error}, '', 'no error left after the delivery');
    is($r->{vars}, 'NULL', 'values cleared once sent');
    sleep 1;
    is(scalar $smtp->messages, 1, 'delivered exactly once');
    $smtp->clear;
}

# -------------------------------------------------- a 5xx: final, not retried
{
    $smtp->script([{ at => 'RCPT', code => 550, text => '5.1.1 no such user' }]);
    my $id = enqueue($s, 'magic_link', 'nobody@example.test', { code => '333444', link => 'https://x.test/m' });
    my $r = wait_state($s, $id, 'rejected');
    is($r->{state}, 'rejected', '550: the row is rejected');
    like($r->{error}, qr/550/, '... with the server\'s answer');
    is($r->{vars}, 'NULL', '... and its values cleared');
    is($r->{attempts}, 1, '... after one attempt');
    $s->wait_for(sub { row($s, $id)->{job} eq 'succeeded' });
    like(row($s, $id)->{result}, qr/"outcome": "rejected"/, 'the job ends (nothing to retry): outcome rejected');
    is(scalar $smtp->messages, 0, 'nothing delivered');
    $smtp->clear;
}

# -------------------------------------------------- bad input to the outbox
{
    my $before = $s->db1('select count(*) from promptd.mail_outbox');
    for my $case (["'nonesuch', 'a\@example.test', '{}'", 'an unknown kind'],
                  ["'recovery', E'a\@example.test\\r\\nBcc: x\@evil.test', '{}'", 'CR LF in the address'],
                  ["'recovery', 'no-at-sign', '{}'", 'an address without @'],
                  ["'recovery', 'a\@example.test', '[1]'", 'vars not an object'],
                  ["'recovery', repeat('a', 250) || '\@example.test', '{}'", 'an address over 254 bytes']) {
        my $err = eval { $s->psql("select promptd.mail_enqueue($case->[0])"); '' } // $@;
        like($err, qr/not a mail address|unknown mail kind|must be an object/, "$case->[1]: refused");
    }
    is($s->db1('select count(*) from promptd.mail_outbox'), $before, '... and no row written');
    for my $role (qw(authenticated anon)) {
        my $err = eval { $s->as_role($role, undef, "select promptd.mail_enqueue('test', 'a\@example.test', '{}')"); '' } // $@;
        like($err, qr/permission denied/, "$role cannot queue mail");
        $err = eval { $s->as_role($role, undef, 'select count(*) from promptd.mail_outbox'); '' } // $@;
        like($err, qr/permission denied/, "$role cannot read the outbox");
    }
    is($s->db1("select promptd.mail_recent('recovery', 'BOB\@example.test', '1 hour')"), 1,
       'mail_recent counts an address\'s mails of a kind, case-insensitively');
    is($s->db1("select promptd.mail_recent('recovery', 'bob\@example.test', '0 seconds')"), 0,
       '... within the window only');
}

# ============================================ daemons with other settings
my $s2 = Promptd::Test->new(PROMPTD_JOBS_DAEMONS => 0);
my %fast = (PROMPTD_JOBS_POLL => 100, PROMPTD_JOBS_BACKOFF => 200, PROMPTD_JOBS_BACKOFF_MAX => 1000,
            PROMPTD_SMTP_FROM => $FROM);

# -------------------------------------------------- the server down: nothing lost
{
    my $dead = do { my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1);
                    my $p = $l->sockport; close $l; $p };
    my $d = $s2->start_jobs_daemon(%fast, PROMPTD_SMTP_URL => "smtp://127.0.0.1:$dead");
    my $id = enqueue($s2, 'confirmation', 'cy@example.test', { code => '777888', link => 'https://x.test/c' });
    ok($s2->wait_for(sub { row($s2, $id)->{attempts} >= 2 }, timeout => 30), 'no server: attempts go on');
    my $r = row($s2, $id);
    is($r->{state}, 'pending', '... the row stays pending');
    like($r->{error}, qr/connect|refused/i, '... saying why');
    like($r->{vars}, qr/777888/, '... with its values kept');
    $s2->stop_ok($d, 'daemon (server down)');
    my $up = Promptd::FakeSMTP->new;
    $s2->psql("update public.background_jobs set run_at = now() where id = (select job_id from promptd.mail_outbox where id = $id)");
    $d = $s2->start_jobs_daemon(%fast, PROMPTD_SMTP_URL => $up->url);
    my @m = $up->wait_messages(1);
    is(scalar @m, 1, 'the server back: the queued mail is delivered') or diag $up->errors;
    like($m[0]{parts}{'text/plain'} // '', qr/777888/, '... with its code');
    is(wait_state($s2, $id, 'sent')->{state}, 'sent', '... and the row is sent');
    $s2->stop_ok($d, 'daemon (server back)');
    $up->stop;
}

# -------------------------------------------------- STARTTLS required, not offered
{
    my $plain = Promptd::FakeSMTP->new;
    my $d = $s2->start_jobs_daemon(%fast, PROMPTD_SMTP_URL => 'smtp+starttls://127.0.0.1:' . $plain->port);
    my $id = enqueue($s2, 'recovery', 'dee@example.test', { code => '999000', link => 'https://x.test/r' });
    ok($s2->wait_for(sub { row($s2, $id)->{attempts} >= 1 && row($s2, $id)->{error} ne '' }, timeout => 30),
       'a server without STARTTLS: the attempt fails');
    like(row($s2, $id)->{error}, qr/STARTTLS|SSL|TLS/i, '... saying it was TLS');
    is(row($s2, $id)->{state}, 'pending', '... and is retried later');
    $s2->stop_ok($d, 'daemon (no STARTTLS)');
    # a session is recorded when the client has hung up
    ok($s2->wait_for(sub { scalar $plain->sessions }, timeout => 30), 'the attempt is on record');
    my @cmds = map { @{ $_->{commands} } } $plain->sessions;
    ok((grep { /^EHLO/ } @cmds), '... it said EHLO');
    ok(!(grep { /^(MAIL|AUTH|DATA)/ } @cmds), 'nothing was sent in clear: no AUTH, MAIL or DATA')
        or diag "@cmds";
    is(scalar $plain->messages, 0, 'no message');
    $s2->psql("update promptd.mail_outbox set state = 'rejected' where id = $id");   # out of the way
}

# -------------------------------------------------- no server configured: the log
{
    my $d = $s2->start_jobs_daemon(%fast, PROMPTD_SMTP_URL => '');
    my $id = enqueue($s2, 'magic_link', 'eve@example.test', { code => '246810', link => 'https://x.test/m' });
    my $r = wait_state($s2, $id, 'logged');
    is($r->{state}, 'logged', 'no PROMPTD_SMTP_URL: logged');
    ok($r->{sent}, '... with sent_at');
    is($r->{vars}, 'NULL', '... values cleared');
    like($s2->log_tail("jobs-$d", 50), qr/mail magic_link .*eve\@example\.test.*\\n.*246810/,
         'the daemon\'s log holds the mail, with its code');
    $s2->stop_ok($d, 'daemon (log)');
}

# -------------------------------------------------- template overrides
{
    my $dir = tempdir('promptd-mail-tpl-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    chmod 0755, $dir;
    open(my $fh, '>', "$dir/recovery.txt") or die $!;
    print $fh "Subject: {{site_name}}: reset for {{email}}\n\nCODE={{code}} LINK={{link}}\n";
    close $fh;
    open($fh, '>', "$dir/recovery.html") or die $!;
    print $fh "<p>{{code}} {{ note }}</p>\n";
    close $fh;
    my $box = Promptd::FakeSMTP->new;
    my $d = $s2->start_jobs_daemon(%fast, PROMPTD_SMTP_URL => $box->url, PROMPTD_MAIL_TEMPLATES => $dir,
                                   PROMPTD_MAIL_SITE_NAME => 'Acme Prompts');
    my $id = enqueue($s2, 'recovery', 'fay@example.test', { code => '135790', link => 'https://x.test/r',
                                                            note => 'a<b' });
    my ($m) = $box->wait_messages(1);
    is($m->{headers}{subject}, 'Acme Prompts: reset for fay@example.test', 'the override\'s subject, site name and email');
    is($m->{parts}{'text/plain'}, "CODE=135790 LINK=https://x.test/r\n", 'the override\'s text');
    is($m->{parts}{'text/html'}, "<p>135790 a&lt;b</p>\n", 'the override\'s HTML, escaped');
    is(wait_state($s2, $id, 'sent')->{state}, 'sent', 'sent');

    open($fh, '>', "$dir/recovery.txt") or die $!;
    print $fh "no subject\n";
    close $fh;
    $id = enqueue($s2, 'recovery', 'gus@example.test', { code => '1', link => 'x' });
    ok($s2->wait_for(sub { row($s2, $id)->{error} =~ /Subject/ }, timeout => 30),
       'a broken override: the attempt fails, naming the problem');
    is(row($s2, $id)->{state}, 'pending', '... the mail waits for the fix');
    unlink "$dir/recovery.txt";
    $s2->psql("update public.background_jobs set run_at = now() where id = (select job_id from promptd.mail_outbox where id = $id)");
    is(wait_state($s2, $id, 'sent')->{state}, 'sent', 'fixed (override removed): sent with the built-in');
    $s2->stop_ok($d, 'daemon (templates)');
}

done_testing;
