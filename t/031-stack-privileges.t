#!/usr/bin/env perl
# 031-stack-privileges.t: the workers, promptd-jobs and promptd-gateway run as their own system user, each family holds only its secrets, in files, never in an environment.
use strict;
use warnings;
use HTTP::Tiny;
use Test::More;
use lib 't/lib';
use Promptd::Test;

my $ROOT = $> == 0;
my $OPENAI = 'sk-test-openai-' . join('', map { ('a'..'z')[rand 26] } 1 .. 24);
my $ANTHROPIC = 'sk-ant-test-' . join('', map { ('a'..'z')[rand 26] } 1 .. 24);
my $STRIPE = 'sk_test_stripe' . join('', map { ('a'..'z')[rand 26] } 1 .. 24);
my $STRIPE_WH = 'whsec_' . join('', map { ('a'..'z')[rand 26] } 1 .. 24);

my $s = Promptd::Test->new(PROMPTD_WORKERS => 1,
                           PROMPTD_OPENAI_API_KEY => $OPENAI,
                           PROMPTD_ANTHROPIC_API_KEY => $ANTHROPIC,
                           PROMPTD_STRIPE_SECRET_KEY => $STRIPE,
                           PROMPTD_STRIPE_WEBHOOK_SECRET => $STRIPE_WH);
my $var = $s->var_dir;

sub slurp { open(my $fh, '<:raw', $_[0]) or return undef; local $/; my $d = <$fh>; $d // '' }
sub chomped { my $v = slurp($_[0]); defined $v ? ($v =~ s/\s+\z//r) : undef }
sub uids { my ($st) = (slurp("/proc/$_[0]/status") // '') =~ /^Uid:\s+(.*)$/m; split ' ', $st // '' }
sub environ { my $e = slurp("/proc/$_[0]/environ"); defined $e ? [ split /\0/, $e ] : undef }
sub children {
    my ($ppid) = @_;
    my @kids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        my ($state, $pp) = (slurp($stat) // next) =~ /\)\s+(\S)\s+(\d+)/ or next;
        push @kids, ($stat =~ m{/proc/(\d+)/})[0] if $pp == $ppid && $state ne 'Z';
    }
    return @kids;
}
sub pidfile { my $p = slurp("$var/run/$_[0]") // ''; ($p =~ /(\d+)/)[0] }

# Every secret value a process could leak, by name.
my %secret = (
    jwt_secret       => chomped("$var/secrets/jwt_secret"),
    api_key_pepper   => chomped("$var/secrets/api_key_pepper"),
    share_cookie_key => chomped("$var/secrets/share_cookie_key"),
    secrets_keys     => chomped("$var/secrets/secrets_keys"),
    app_db_password  => chomped("$var/secrets/app_db_password"),
    pg_superuser     => chomped("$var/secrets/pg_superuser_password"),
    openai_api_key   => $OPENAI,
    anthropic_api_key => $ANTHROPIC,
    stripe_secret_key => $STRIPE,
    stripe_webhook_secret => $STRIPE_WH,
);
ok(length($secret{$_} // ''), "master secret $_ exists") for sort keys %secret;

# What each process's environment must not hold: any secret value, or any
# variable that names one.
sub env_clean {
    my ($pid, $name) = @_;
    my $env = environ($pid);
    ok($env, "$name ($pid): environment readable") or return;
    my @bad = grep { my $e = $_; grep { index($e, $secret{$_}) >= 0 } keys %secret } @$env;
    is_deeply(\@bad, [], "$name ($pid): no secret value in /proc/$pid/environ");
    my @names = grep { /^(?:PROMPTD_(?:JWT_SECRET|API_KEY_PEPPER|SECRETS_KEYS|SHARE_COOKIE_KEY|OPENAI_API_KEY|ANTHROPIC_API_KEY|STRIPE_SECRET_KEY|STRIPE_WEBHOOK_SECRET|DATABASE_URL|APP_DATABASE_URL)|PGPASSWORD)=/ } @$env;
    is_deeply(\@names, [], "$name ($pid): no secret variable");
    return { map { /^([^=]*)=(.*)$/s ? ($1 => $2) : () } @$env };
}

my ($svc_uid, $svc_gid) = $ROOT ? (getpwnam('promptd'))[2, 3] : ($>, $) + 0);
ok(defined $svc_uid, 'the service user exists') or BAIL_OUT('no promptd user');
my ($nginx_uid) = $ROOT ? (getpwnam('nobody'))[2] : ($>);
isnt($svc_uid, $nginx_uid, "the service user is not nginx's") if $ROOT;
isnt($svc_uid, 0, 'the service user is not root') if $ROOT;

# ------------------------------------------------------------ workers
my @families = sort map { m{/run/([a-z-]+)\.pid$} ? $1 : () }
    grep { !m{/(?:nginx|nginx-session|jobs(?:-\d+)?|gateway)\.pid$} } glob "$var/run/*.pid";
ok(scalar(grep { $_ eq 'share' } @families) && scalar(grep { $_ eq 'status' } @families),
   "the families run: @families");
my %fam_env;
for my $fam (@families) {
    my $mw = pidfile("$fam.pid");
    my @pids = ($mw, $s->worker_pids($fam));
    ok(@pids >= 2, "$fam: multiwatch and its workers");
    for my $pid (@pids) {
        my @u = uids($pid);
        is_deeply(\@u, [($svc_uid) x 4], "$fam ($pid) runs as the service user (real, effective, saved, fs)");
        $fam_env{$fam} = env_clean($pid, $fam);
    }
    my $dir = $fam_env{$fam}{PROMPTD_SECRETS_DIR} // '';
    is($dir, "$var/secrets/family/$fam", "$fam: PROMPTD_SECRETS_DIR is its own directory");
    my @st = stat $dir;
    is($st[4], $svc_uid, "$fam: secrets directory owned by the service user");
    is(sprintf('%04o', $st[2] & 07777), '0700', "$fam: secrets directory 0700");
    for my $f (glob "$dir/*") {
        my @fs = stat $f;
        is($fs[4], $svc_uid, "$f: owned by the service user");
        like(sprintf('%04o', $fs[2] & 07777), qr/^06[04]0$/, "$f: mode 0600/0640");
    }
}

# What each family holds: only what its code uses.
sub held { my $d = "$var/secrets/family/$_[0]"; [ sort map { m{([^/]+)$} } glob "$d/*" ] }
is_deeply(held('status'), ['app_database_url'], 'status: only the database URL');
is_deeply(held('share'), [qw(api_key_pepper app_database_url jwt_secret secrets_keys share_cookie_key storage_signing_key)],
          'share: the URL signing key (attachments), no provider key');
is_deeply(held('enrich'), [qw(anthropic_api_key api_key_pepper app_database_url jwt_secret openai_api_key secrets_keys)],
          'enrich: the provider keys');
is_deeply(held('prompts'), [qw(api_key_pepper app_database_url jwt_secret)],
          'prompts: no provider key, no cookie key, no key ring');
is_deeply(held('billing'), [qw(api_key_pepper app_database_url jwt_secret stripe_secret_key stripe_webhook_secret)],
          'billing: the Stripe keys');
is_deeply(held('webhooks'), [qw(api_key_pepper app_database_url jwt_secret secrets_keys)],
          'webhooks: the key ring (it seals endpoint secrets), no provider or Stripe key');
is_deeply(held('analytics'), [qw(api_key_pepper app_database_url jwt_secret)],
          'analytics: only what verifies callers, no key ring, provider or Stripe key');
is_deeply(held('me'), [qw(api_key_pepper app_database_url jwt_secret storage_signing_key stripe_secret_key)],
          'me: the Stripe API key (account deletion cancels the subscription), the URL signing key (export), no webhook secret');
is(chomped("$var/secrets/family/billing/stripe_webhook_secret"), $STRIPE_WH, "billing's webhook secret is the operator's");
is(chomped("$var/secrets/family/enrich/openai_api_key"), $OPENAI, "enrich's OpenAI key is the operator's");
is(chomped("$var/secrets/family/share/share_cookie_key"), $secret{share_cookie_key},
   "share's cookie key is the master one");
for my $fam (qw(share status)) {
    my @leak = grep { /OPENAI|ANTHROPIC/ && /KEY/ } keys %{ $fam_env{$fam} || {} };
    is_deeply(\@leak, [], "$fam: no provider key variable in its environment");
}

# The master copies stay root's: the service user cannot read them.
if ($ROOT) {
    for my $f (qw(jwt_secret pg_superuser_password secrets_keys)) {
        my @fs = stat "$var/secrets/$f";
        is(sprintf('%04o', $fs[2] & 07777), '0600', "master $f: 0600");
        isnt(system('runuser', '-u', 'promptd', '--', 'test', '-r', "$var/secrets/$f"), 0,
             "master $f: unreadable by the service user");
    }
    is(system('runuser', '-u', 'promptd', '--', 'test', '-r', "$var/secrets/family/share/share_cookie_key"), 0,
         "share's own copy readable by the service user");
}

# ------------------------------------------------------------ jobs, nginx, PostgreSQL
my $jobs = pidfile('jobs.pid');
ok($jobs, 'promptd-jobs runs');
is_deeply([uids($jobs)], [($svc_uid) x 4], 'promptd-jobs runs as the service user');
my $je = env_clean($jobs, 'promptd-jobs');
is($je->{PROMPTD_SECRETS_DIR}, "$var/secrets/family/jobs", 'promptd-jobs: its own secrets directory');
is_deeply(held('jobs'), [qw(anthropic_api_key app_database_url openai_api_key secrets_keys)],
          'promptd-jobs: no token or cookie secret');
my $gw = pidfile('gateway.pid');
ok($gw, 'promptd-gateway runs');
is_deeply([uids($gw)], [($svc_uid) x 4], 'promptd-gateway runs as the service user');
my $ge = env_clean($gw, 'promptd-gateway');
is($ge->{PROMPTD_SECRETS_DIR}, "$var/secrets/family/gateway", 'promptd-gateway: its own secrets directory');
is_deeply(held('gateway'), [qw(anthropic_api_key app_database_url openai_api_key secrets_keys)],
          'promptd-gateway: no token or cookie secret');
{
    my @d = stat "$var/run/gateway";
    my @k = stat "$var/run/gateway/gateway.sock";
    if ($ROOT) {
        is(sprintf('%04o', $d[2] & 07777), '2750', "the gateway's socket directory: setgid, none for others");
        is($d[4], $svc_uid, '... owned by the service user');
        is($d[5], scalar getgrnam('nogroup'), "... in nginx's group");
    }
    is(sprintf('%04o', $k[2] & 0777), '0660', 'gateway.sock: mode 0660');
    is($k[4], $svc_uid, 'gateway.sock: owned by the service user') if $ROOT;
}

my $master = pidfile('nginx.pid');
ok($master, 'nginx runs');
env_clean($master, 'nginx master');
my @nw = children($master);
ok(@nw >= 1, 'nginx workers');
for my $pid (@nw) {
    my @u = uids($pid);
    isnt($u[1], $svc_uid, "nginx worker ($pid) is not the service user");
}
my ($pm) = (slurp("$var/pg/postmaster.pid") // '') =~ /^(\d+)/;
env_clean($pm, 'postgres') if $ROOT && $pm;

# nginx reaches the sockets through their group; other users cannot.
# promptd-media's is the workers' alone: nginx never talks to it.
for my $fam (@families) {
    my @st = stat "$var/run/$fam.sock";
    my $mode = $fam eq 'media' ? '0600' : '0660';
    is(sprintf('%04o', $st[2] & 0777), $mode, "$fam.sock: mode $mode");
    is($st[4], $svc_uid, "$fam.sock: owned by the service user") if $ROOT;
}
ok(scalar(grep { $_ eq 'media' } @families), 'promptd-media runs, as the families do');

# ------------------------------------------------------------ still works
my ($alice, $ta) = $s->users('alice');
my $r = $s->request(POST => '/api/v1/prompts', { token => $ta, json => { title => 'p', content => 'hello' } });
is($r->{status}, 201, 'a signed-in request: prompt created') or diag explain $r;
my $pid = $r->{json}{id};
is($s->db1("select user_id from prompts where id = '$pid'"), $alice, '  stored for its owner');

# The API key pepper from prompts' and keys' files agree.
$r = $s->request(POST => '/api/v1/keys', { token => $ta, json => { name => 'k', scopes => ['prompts:read'] } });
is($r->{status}, 201, 'API key created') or diag explain $r;
my $key = $r->{json}{key} // '';
$r = $s->request(GET => "/api/v1/prompts/$pid", { headers => { Authorization => "Bearer $key" } });
is($r->{status}, 200, 'the API key reads the prompt (pepper from the files)') or diag explain $r;
is($r->{json}{content}, 'hello', '  its content');

# Share links point at the port the stack listens on (no PROMPTD_SITE_URL).
$r = $s->request(POST => "/api/v1/prompts/$pid/shares", { token => $ta, json => { password => 'open sesame' } });
is($r->{status}, 201, 'share created') or diag explain $r;
my $sh = $r->{json} || {};
is($sh->{url}, 'http://127.0.0.1:' . $s->http_port . "/s/$sh->{token}", 'share url uses the stack port');
is($s->db1("select count(*) from shares where id = '$sh->{id}'"), 1, '  share stored');
my $http = HTTP::Tiny->new(max_redirect => 0, timeout => 30);
my $res = $http->request(POST => $s->url("/s/$sh->{token}"), {
    headers => { 'Content-Type' => 'application/x-www-form-urlencoded' }, content => 'password=open%20sesame' });
is($res->{status}, 303, 'the share password unlocks (cookie key from its file)');
like($res->{headers}{'set-cookie'} // '', qr/^pd_share_[0-9a-f]{16}=\d+\.[0-9a-f]{64};/, '  a signed cookie');

$s->stop;
done_testing;
