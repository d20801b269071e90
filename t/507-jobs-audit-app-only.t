#!/usr/bin/perl
# 507-jobs-audit-app-only.t: promptd.enqueue() and promptd.audit() are the application's: raw SQL under
# a request role (anon, authenticated, as PostgREST runs it) cannot enqueue a job the daemon would
# trust (e.g. an "enrich" job naming another user) nor forge audit rows; the worker still enqueues
# and audits in the request's transaction (as its own role, with the caller's claims).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use Promptd::Test qw(db1 as_role);

# no job runner: the async job below must stay queued to be looked at
my $s = Promptd::Test->new(PROMPTD_WORKERS => 1, PROMPTD_JOBS_DAEMONS => 0, PROMPTD_GATEWAY => 0,
                           PROMPTD_ENRICH_PROVIDERS => 'local');
my ($alice, $ta, $bob, $tb) = $s->users(qw(alice bob));

# --- request roles cannot call them
my $jobs = db1('select count(*) from public.background_jobs');
my $audits = db1('select count(*) from public.audit_log');
my $forged = qq({"enrichment_id":"00000000-0000-4000-8000-000000000000","user_id":"$bob","prompt":"x","mode":"improve"});
for my $c (['authenticated', $alice], ['anon', undef]) {
    my ($role, $sub) = @$c;
    ok(!eval { as_role($role, $sub, "select promptd.enqueue('enrich', '$forged')"); 1 },
       "$role cannot enqueue an enrich job naming another user");
    like($@, qr/permission denied for function enqueue/, "$role: permission denied");
    ok(!eval { as_role($role, $sub, "select promptd.enqueue('maintenance.purge')"); 1 },
       "$role cannot enqueue any job type");
    ok(!eval { as_role($role, $sub, "select promptd.audit('admin.grant', 'user:x', 'success', '{}', '$bob')"); 1 },
       "$role cannot write an audit row naming another actor");
    like($@, qr/permission denied for function audit/, "$role: permission denied");
    ok(!eval { as_role($role, $sub, "select promptd.audit('account.delete', 'account', 'success', '{}')"); 1 },
       "$role cannot write an audit row as itself either");
}
is(db1('select count(*) from public.background_jobs'), $jobs, 'no job was added');
is(db1('select count(*) from public.audit_log'), $audits, 'no audit row was added');
is_deeply([map { $_->[0] } @{ $s->psql(
    "select r.rolname from pg_roles r where has_function_privilege(r.oid, "
    . "'promptd.enqueue(text, jsonb, text, timestamptz, int, int, text)', 'execute') "
    . "and r.rolname in ('anon', 'authenticated', 'service_role', 'promptd_app', 'promptd_auth') order by 1") }],
    [qw(promptd_app service_role)], 'enqueue: promptd_app and service_role only');
is_deeply([map { $_->[0] } @{ $s->psql(
    "select r.rolname from pg_roles r where has_function_privilege(r.oid, "
    . "'promptd.audit(text, text, text, jsonb, uuid)', 'execute') "
    . "and r.rolname in ('anon', 'authenticated', 'service_role', 'promptd_app', 'promptd_auth') order by 1") }],
    [qw(promptd_app service_role)], 'audit: promptd_app and service_role only');

# --- the application still enqueues in the request's transaction, for the caller
my $r = $s->request(POST => '/api/v1/enrich', { token => $ta,
    json => { prompt => 'Draft a release note for {{product}}', async => JSON::PP::true } });
is($r->{status}, 202, 'async enrichment -> 202') or diag explain $r;
my $job = $s->psql("select job_type, payload->>'user_id', payload->>'enrichment_id' from public.background_jobs "
                   . "where id = " . ($r->{json}{job_id} // 0));
is_deeply($job, [['enrich', $alice, $r->{json}{id}]], 'the job exists, for alice, naming her record');
is(db1("select status from public.enrichments where id = '$r->{json}{id}'"), 'pending', 'her pending record');

# --- and audits as before, with the caller as actor (also during sign-in)
$r = $s->request(POST => '/api/v1/keys', { token => $ta, json => { name => 'ci', scopes => ['prompts:read'] } });
is($r->{status}, 201, 'an API key created') or diag explain $r;
is(db1("select count(*) from public.audit_log where action = 'key.create' "
       . "and actor_user = promptd.audit_subject('$alice')"), 1, 'audited key.create with alice as actor');
$r = $s->request(POST => '/auth/v1/signup', { json => { email => 'carol@example.com', password => 'a long passphrase 42' } });
is($r->{status}, 200, 'sign-up (the sign-in role) -> 200') or diag explain $r;
is(db1("select count(*) from public.audit_log where action = 'auth.signup'"), 1, 'audited auth.signup');
my ($rc, $out, $err) = $s->_run([$s->{promptctl}, 'audit', 'verify'], separate => 1);
is($rc, 0, 'the audit chain still verifies') or diag "$out $err";

done_testing;
