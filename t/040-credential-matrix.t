#!/usr/bin/perl
# 040-credential-matrix.t: every route of every family (read from `prog --routes`)
# against an API key of every scope and against no credential: refused (401/403,
# in the family's error dialect) wherever the row does not accept that kind or
# scope, before the handler runs (no database effect).  Then the account-takeover
# exploit by name (a prompts:read key on /auth/v1/user and /auth/v1/logout), and
# authentication before the body is parsed.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Spec;
use Test::More;
use Promptd::Test qw(db1 req);

my @SCOPES = qw(prompts:read prompts:write enrich share admin webhooks:write storage);   # sql/0007_api_keys.sql
my $build = $ENV{PROMPTD_BUILD_DIR} || File::Spec->rel2abs("$FindBin::Bin/..");
my $PW = 'correct horse battery';

# --- the tables: "METHOD PATTERN creds=KINDS[ scope=SCOPE]" per row
my @routes;
for my $prog (sort glob("$build/cgi-bin/*.fcgi")) {
    my ($family) = $prog =~ m{/(\w+)\.fcgi$};
    open(my $fh, '-|', $prog, '--routes') or die "$prog: $!\n";
    while (my $line = <$fh>) {
        chomp $line;
        my ($m, $p, $creds, $scope) = $line =~ m{^([A-Z]+) (/\S*) creds=(\S+)(?: scope=(\S+))?$}
            or die "$prog --routes: unexpected line '$line'\n";
        push @routes, { family => $family, method => $m, pattern => $p,
                        creds => { map { $_ => 1 } split /,/, $creds }, scope => $scope };
    }
    close($fh) or die "$prog --routes failed (status $?)\n";
}
ok(@routes >= 40, scalar(@routes) . ' routes in ' . scalar(glob("$build/cgi-bin/*.fcgi")) . ' families')
    or BAIL_OUT('build first: make -j2');
for my $rt (@routes) {
    ok(!$rt->{creds}{apikey} || ($rt->{scope} && grep { $_ eq $rt->{scope} } @SCOPES),
       "$rt->{method} $rt->{pattern}: accepts API keys only with a known scope");
}
my %want = (
    'GET /auth/v1/user' => 'session', 'PUT /auth/v1/user' => 'session',
    'POST /auth/v1/logout' => 'session',
    map({ ("$_->[0] $_->[1]" => 'session') }
        [GET => '/api/v1/me'], [PATCH => '/api/v1/me'], [DELETE => '/api/v1/me'],
        [GET => '/api/v1/me/audit'], [GET => '/api/v1/me/export'],
        [GET => '/api/v1/keys'], [POST => '/api/v1/keys'], [GET => '/api/v1/keys/{id:uuid}'],
        [DELETE => '/api/v1/keys/{id:uuid}']),
);
for my $rt (@routes) {
    my $k = "$rt->{method} $rt->{pattern}";
    next unless $want{$k};
    is(join(',', sort keys %{ $rt->{creds} }), $want{$k}, "$k accepts session tokens only");
    delete $want{$k};
}
is_deeply([sort keys %want], [], 'every account route was found in the tables');

# --- a stack with a signed-up user (password, sessions) owning one of each thing
my $s = Promptd::Test->new;

my $r = req(POST => '/auth/v1/signup', json => { email => 'alice@example.com', password => $PW });
is($r->{status}, 200, 'alice signs up') or BAIL_OUT($r->{body});
my $alice = $r->{json}{user}{id};
my $tok = $r->{json}{access_token};
my $refresh = $r->{json}{refresh_token};
$s->promptctl('user', 'admin', $alice, 'on');
$r = req(POST => '/api/v1/prompts', token => $tok, json => { title => 't', content => 'hello {{x}}' });
is($r->{status}, 201, 'a prompt') or diag explain $r;
my $pid = $r->{json}{id};
$r = req(POST => "/api/v1/prompts/$pid/shares", token => $tok, json => {});
is($r->{status}, 201, 'a share') or diag explain $r;
my ($share_id, $share_token) = @{ $r->{json} }{qw(id token)};
$r = req(POST => '/storage/v1/bucket', token => $tok, json => { id => 'matrix' });
is($r->{status}, 200, 'a bucket') or diag explain $r;
$r = req(POST => '/storage/v1/object/matrix/a/b.txt', token => $tok, body => "b\n",
         headers => { 'Content-Type' => 'text/plain' });
is($r->{status}, 200, 'an object in it') or diag explain $r;
my %key;
for my $sc (@SCOPES) {
    $r = req(POST => '/api/v1/keys', token => $tok, json => { name => $sc, scopes => [$sc] });
    is($r->{status}, 201, "a key with scope $sc") or diag explain $r;
    $key{$sc} = $r->{json};
}
my %param = (id => $pid, token => $share_token, version => 1, provider => 'openai', tier => 'free',
             user_id => $alice, invitation_id => '00000000-0000-4000-8000-000000000001',
             name => 'support/triage', label => 'staging', cr_id => '00000000-0000-4000-8000-000000000002',
             bucket => 'matrix', path => 'a/b.txt');
sub path_of {
    my ($rt) = @_;
    my $p = $rt->{pattern};
    $p =~ s{/shares/\{id:uuid\}}{/shares/$share_id};
    $p =~ s{/keys/\{id:uuid\}}{/keys/$key{admin}{id}};
    $p =~ s{/admin/jobs/\{id\}}{/admin/jobs/1};
    $p =~ s{\{(\w+)(?::\w+)?\}}{$param{$1} // die "no value for {$1}"}ge;
    return $p;
}

# What a handler could change: users (password, email, metadata), sessions and
# refresh tokens, and every table a route writes.  Not api_keys.last_used_at:
# authenticating a key touches it before the route is checked.
my %FP = (
    users => "select string_agg(concat_ws(':', id, encrypted_password, email, raw_user_meta_data, "
             . "updated_at), ',' order by id) from auth.users",
    sessions => "select string_agg(concat_ws(':', id, revoked_at, refreshed_at), ',' order by id) "
                . "from promptd.sessions",
    refresh_tokens => "select string_agg(concat_ws(':', id, revoked), ',' order by id) from promptd.refresh_tokens",
    prompts => "select string_agg(p::text, ',' order by id) from public.prompts p",
    prompt_versions => 'select count(*) from public.prompt_versions',
    shares => "select string_agg(concat_ws(':', id, revoked_at, public, expires_at), ',' order by id) "
              . "from public.shares",
    api_keys => "select string_agg(concat_ws(':', id, name, revoked_at), ',' order by id) from public.api_keys",
    profiles => "select string_agg(p::text, ',' order by id) from public.profiles p",
    map({ ($_ => "select count(*) from public.$_") }
        qw(audit_log idempotency_keys user_secrets enrichments usage_tracking workspaces
           workspace_members workspace_invitations prompt_labels prompt_label_moves
           prompt_change_requests)),
    buckets => "select string_agg(b::text, ',' order by id) from storage.buckets b",
    objects => "select string_agg(o::text, ',' order by id) from storage.objects o",
    # jobs a request enqueues carry its user (schedules enqueue others meanwhile)
    background_jobs => "select count(*) from public.background_jobs where payload ? 'user_id'",
);
my $FP = 'select concat_ws(\' \', '
    . join(', ', map { "'$_=' || md5(coalesce(($FP{$_})::text, ''))" } sort keys %FP) . ')';
my $fp_reader = $s->db1_reader;    # asked after every request: one connection
sub fp { $fp_reader->($FP) }

# A refusal in the family's dialect: GoTrue's {code, error_code, msg} for
# /auth/v1, problem+json elsewhere.
sub refused_ok {
    my ($r, $rt, $name) = @_;
    ok($r->{status} == 401 || $r->{status} == 403, "$name -> 401/403 ($r->{status})")
        or diag $r->{body};
    if ($rt->{family} eq 'auth') {
        is($r->{json}{code}, $r->{status}, "$name: GoTrue error body");
    } else {
        my $ct = $r->{headers}{'content-type'} // '';
        like($ct, qr{^application/problem\+json}, "$name: problem+json");
        is($r->{json}{status}, $r->{status}, "$name: problem status");
    }
}

sub send_route {
    my ($rt, %o) = @_;
    my %body = $rt->{method} =~ /^(POST|PUT|PATCH)$/ ? (json => {}) : ();
    return req($rt->{method}, path_of($rt), %body, %o);
}

# --- the matrix: every route x every key scope, and no credential at all
my $before = fp();
for my $rt (@routes) {
    my $name0 = "$rt->{method} $rt->{pattern}";
    for my $sc (@SCOPES) {
        my $admitted = $rt->{creds}{apikey} && $rt->{scope} eq $sc;
        if ($admitted) {
            next unless $rt->{method} eq 'GET';   # read-only: shows the key is let in
            $r = send_route($rt, token => $key{$sc}{key});
            ok($r->{status} != 401 && $r->{status} != 403, "$name0 with a $sc key: admitted ($r->{status})")
                or diag $r->{body};
            next;
        }
        $r = send_route($rt, token => $key{$sc}{key});
        refused_ok($r, $rt, "$name0 with a $sc key");
        is(fp(), $before, "$name0 with a $sc key: no database effect");
    }
    # metrics: this loopback caller is admitted without one (t/980 checks that row's access)
    next if $rt->{creds}{none} || $rt->{creds}{share} || $rt->{creds}{metrics};
    $r = send_route($rt);
    is($r->{status}, 401, "$name0 without a credential -> 401") or diag $r->{body};
    refused_ok($r, $rt, "$name0 without a credential");
    is(fp(), $before, "$name0 without a credential: no database effect");
}

# --- the exploit: a prompts:read key cannot read or take over the account
my $rk = $key{'prompts:read'}{key};
my $hash = db1("select encrypted_password from auth.users where id = '$alice'");
my $sessions = db1("select count(*) from promptd.sessions where user_id = '$alice' and revoked_at is null");
ok($sessions >= 1, "alice has $sessions live session(s)");
for my $via ([Bearer => sub { (token => $_[0]) }], ['X-API-Key' => sub { (headers => { 'X-API-Key' => $_[0] }) }]) {
    my ($how, $cred) = @$via;
    $r = req(GET => '/auth/v1/user', $cred->($rk));
    is($r->{status}, 403, "$how prompts:read key: GET /auth/v1/user -> 403");
    is($r->{json}{error_code}, 'bad_jwt', '  GoTrue bad_jwt');
    unlike($r->{body}, qr/alice\@example\.com/, '  the email is not disclosed');
    $r = req(PUT => '/auth/v1/user', $cred->($rk), json => { password => 'pwned by a key 123' });
    is($r->{status}, 403, "$how prompts:read key: PUT /auth/v1/user {password} -> 403");
    $r = req(PUT => '/auth/v1/user', $cred->($rk), json => { email => 'mallory@example.com' });
    is($r->{status}, 403, "$how prompts:read key: PUT /auth/v1/user {email} -> 403");
    $r = req(POST => '/auth/v1/logout', $cred->($rk));
    is($r->{status}, 403, "$how prompts:read key: POST /auth/v1/logout -> 403");
}
is(db1("select encrypted_password from auth.users where id = '$alice'"), $hash, 'password unchanged');
is(db1("select email from auth.users where id = '$alice'"), 'alice@example.com', 'email unchanged');
is(db1("select count(*) from promptd.sessions where user_id = '$alice' and revoked_at is null"), $sessions,
   'no session revoked');
$r = req(POST => '/auth/v1/token?grant_type=password', json => { email => 'alice@example.com', password => $PW });
is($r->{status}, 200, 'alice still signs in with her password');
$r = req(POST => '/auth/v1/token?grant_type=refresh_token', json => { refresh_token => $refresh });
is($r->{status}, 200, 'her refresh token still works');

# --- authenticate before parsing: no credential + malformed JSON is 401, not 400
for my $c (['/api/v1/prompts', 'POST'], ["/api/v1/prompts/$pid", 'PATCH'], ['/api/v1/keys', 'POST'],
           ['/api/v1/me', 'PATCH']) {
    my ($p, $m) = @$c;
    $r = req($m, $p, body => '{"title":', headers => { 'Content-Type' => 'application/json' });
    is($r->{status}, 401, "$m $p: no credential, malformed JSON -> 401 (not 400)") or diag $r->{body};
    $r = req($m, $p, body => '{"title":', token => 'not.a.jwt', headers => { 'Content-Type' => 'application/json' });
    is($r->{status}, 401, "$m $p: invalid token, malformed JSON -> 401");
    $r = req($m, $p, body => '{"title":', token => $tok, headers => { 'Content-Type' => 'application/json' });
    is($r->{status}, 400, "$m $p: with a session, the same body -> 400");
}
$r = req(PUT => '/auth/v1/user', body => '{"password":', headers => { 'Content-Type' => 'application/json' });
is($r->{status}, 401, 'PUT /auth/v1/user: no credential, malformed JSON -> 401');
is($r->{json}{error_code}, 'no_authorization', '  GoTrue no_authorization');
$r = req(PUT => '/auth/v1/user', body => '{"password":', token => $tok, headers => { 'Content-Type' => 'application/json' });
is($r->{status}, 400, 'PUT /auth/v1/user: with a session -> 400');
is($r->{json}{error_code}, 'bad_json', '  GoTrue bad_json');
# a prompts:read key on a prompts:write route with a malformed body: the scope first
$r = req(POST => '/api/v1/prompts', body => '{"title":', token => $rk, headers => { 'Content-Type' => 'application/json' });
is($r->{status}, 403, 'a key without the scope, malformed JSON -> 403 (not 400)');
is(fp() ne '', 1, 'fingerprint still computes');

done_testing;
