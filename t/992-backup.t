#!/usr/bin/env perl
# 992-backup.t: promptctl backup / restore: a dump of a stack with data restores into a fresh database that passes promptctl audit verify, and a stack on it serves the same prompts to the same token.
use strict;
use warnings;
use File::Temp qw(tempdir);
use Test::More;
use lib 't/lib';
use Promptd::Test;

my %light = (PROMPTD_WORKERS => 1, PROMPTD_JOBS_DAEMONS => 0, PROMPTD_GATEWAY => 0,
             PROMPTD_MEDIA => 0);
my $s = Promptd::Test->new(%light);
my $var = $s->var_dir;
my $tmp = tempdir('promptd-992-XXXXXX', TMPDIR => 1, CLEANUP => 1);
sub slurp { open(my $fh, '<', $_[0]) or return undef; local $/; my $d = <$fh>; $d }
sub secret { my $v = slurp("$var/secrets/$_[0]") // ''; $v =~ s/\s+\z//; $v }

# Data made through the HTTP API: a user signs up, writes two prompts (one
# updated, one with an Idempotency-Key), and creates an API key.
my $r = $s->request(POST => '/auth/v1/signup',
    { json => { email => 'backup@example.com', password => 'correct horse battery 992' } });
is($r->{status}, 200, 'signup') or diag($r->{body});
my $token = $r->{json}{access_token};
my $uid = $r->{json}{user}{id};
my @ids;
for my $p (['Kept', 'survives the backup'], ['Edited', 'first version']) {
    $r = $s->request(POST => '/api/v1/prompts', { token => $token,
        json => { title => $p->[0], content => $p->[1] } });
    is($r->{status}, 201, "prompt $p->[0] created") or diag($r->{body});
    push @ids, $r->{json}{id};
}
$r = $s->request(PATCH => "/api/v1/prompts/$ids[1]", { token => $token,
    json => { content => 'second version' } });
is($r->{status}, 200, 'prompt Edited updated') or diag($r->{body});
$r = $s->request(POST => '/api/v1/keys', { token => $token, json => { name => 'backup-key', scopes => ['prompts:read'] } });
is($r->{status}, 201, 'API key created') or diag($r->{body});
my $apikey = $r->{json}{key};
ok($apikey, 'the key shown once');
my $before = $s->request(GET => "/api/v1/prompts/$ids[1]", { token => $token });
is($before->{status}, 200, 'the prompt read before the backup');
my ($audit_rows) = $s->promptctl('audit', 'verify') =~ /^ok (\d+) rows/m;
ok($audit_rows, "audit log before the backup: $audit_rows rows (verified)");
is($s->db1("select string_agg(action, ',' order by id) from public.audit_log"),
   'auth.signup,key.create', '  the signup and the key');

# promptctl backup: a custom-format dump, 0600, no .partial left behind.
my $dump = "$tmp/promptd.dump";
like($s->promptctl('backup', $dump), qr/^backup \Q$dump\E$/m, 'promptctl backup FILE');
ok(-s $dump, 'the dump exists');
is((stat $dump)[2] & 0777, 0600, 'mode 0600 (it holds hashed keys and sealed secrets)');
ok(!-e "$dump.partial", 'no .partial left');
is(substr(slurp($dump) // '', 0, 5), 'PGDMP', "pg_dump's custom format");
my ($rc, $out, $err) = $s->_run([$s->{promptctl}, 'backup', "$tmp/no/such/dir/x.dump"], separate => 1);
isnt($rc, 0, 'backup into a missing directory fails');
ok(!-e "$tmp/no/such/dir/x.dump", '  and writes nothing');
($rc, undef, $err) = $s->_run([$s->{promptctl}, 'backup'], separate => 1);
is($rc, 2, 'backup without FILE: usage (exit 2)');
like($err, qr/expected: backup FILE/, '  says what it expects');

# A later write, not in the backup.
$r = $s->request(POST => '/api/v1/prompts', { token => $token,
    json => { title => 'After', content => 'written after the backup' } });
is($r->{status}, 201, 'a prompt written after the backup');

# Restore into a fresh database of the same cluster.
my $pw = secret('pg_superuser_password');
my $url = "host=$var/run port=" . $s->pg_port . " dbname=restored user=postgres password=$pw";
$s->psql('create database restored', db => 'postgres');
my %to = (env => { PROMPTD_DATABASE_URL => $url }, separate => 1);
($rc, $out, $err) = $s->_run([$s->{promptctl}, 'restore', "$tmp/missing.dump"], %to);
is($rc, 1, 'restore of a missing file fails');
like($err, qr/missing\.dump: No such file/, '  naming it');
($rc, $out, $err) = $s->_run([$s->{promptctl}, 'restore', $dump], %to);
is($rc, 0, 'promptctl restore FILE into the fresh database') or diag($err);
like($out, qr/^restored /m, '  says so');
($rc, $out, $err) = $s->_run([$s->{promptctl}, 'restore', $dump], %to);
is($rc, 1, 'a second restore into the same database is refused');
like($err, qr/already holds a promptd schema/, '  because it is not empty');
($rc, $out, $err) = $s->_run([$s->{promptctl}, 'restore', $dump], separate => 1);
is($rc, 1, 'restore into the live database is refused');

sub restored { $s->psql($_[0], db => 'restored') }
is(restored("select title || '|' || content from public.prompts where id = '$ids[1]'")->[0][0],
   'Edited|second version', 'restored: the updated prompt');
is(restored("select count(*) from public.prompts where user_id = '$uid'")->[0][0], 2,
   'restored: the two prompts of the backup, not the later one');
is(restored('select count(*) from public.schema_migrations')->[0][0],
   $s->db1('select count(*) from public.schema_migrations'), 'restored: schema_migrations');
($rc, $out, $err) = $s->_run([$s->{promptctl}, 'audit', 'verify'], %to);
is($rc, 0, 'promptctl audit verify passes on the restored database') or diag($err);
like($out, qr/^ok \Q$audit_rows\E rows head [0-9a-f]{64}$/m, "  the $audit_rows rows of the backup");
($rc, $out, $err) = $s->_run([$s->{promptctl}, 'migrate'], %to);
is($rc, 0, 'promptctl migrate on the restored database: nothing to do') or diag($err);
is($out, '', '  no migration applied');

# A second stack on the restored database, with the first one's secrets
# (a restore brings the data; the secrets are backed up apart): the same
# token and API key read the same prompts.
my %secrets = (PROMPTD_JWT_SECRET => secret('jwt_secret'),
               PROMPTD_API_KEY_PEPPER => secret('api_key_pepper'),
               PROMPTD_SECRETS_KEYS => secret('secrets_keys'));
# (quotas => 1: the harness leaves the restored quota settings alone)
my $b = Promptd::Test->new(%light, quotas => 1, PROMPTD_DATABASE_URL => $url, %secrets);
my $after = $b->request(GET => "/api/v1/prompts/$ids[1]", { token => $token });
is($after->{status}, 200, 'restored stack: GET the prompt with the old token') or diag($after->{body});
is_deeply([@{ $after->{json} }{qw(id title content created_at updated_at)}],
          [@{ $before->{json} }{qw(id title content created_at updated_at)}],
          '  the same prompt, field for field');
$r = $b->request(GET => '/api/v1/prompts', { headers => { Authorization => "Bearer $apikey" } });
is($r->{status}, 200, 'restored stack: the API key works') or diag($r->{body});
my $list = $r->{json}{items};
is_deeply([sort map { $_->{title} } @{ $list // [] }], ['Edited', 'Kept'],
          '  and lists the backup\'s prompts only');
$r = $b->request(POST => '/api/v1/prompts', { token => $token,
    json => { title => 'On the restore', content => 'writes work' } });
is($r->{status}, 201, 'restored stack: writes work') or diag($r->{body});
($rc, $out, $err) = $s->_run([$s->{promptctl}, 'audit', 'verify'], %to);
is($rc, 0, 'audit verify still passes after a write on the restored database') or diag($err);
$b->stop;

done_testing();
