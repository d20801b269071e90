#!/usr/bin/perl
# 993-pgbouncer.t: the workers through PgBouncer 1.18 in transaction pooling mode (pool of 2) with PROMPTD_DB_STATEMENTS=unnamed: sign-up/sign-in, prompts under RLS with no claims leak across pooled server connections, the request quota, an enrichment, jobs, share links; the daemons on the direct URL; prepared statements through the same pooler fail.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(sleep);
use Promptd::FakeLLM;
use Promptd::Test qw(db1 api);

my $pgbouncer = $ENV{PGBOUNCER} || (grep { -x } map { "$_/pgbouncer" } split(/:/, $ENV{PATH}), '/usr/sbin')[0];
plan skip_all => 'pgbouncer is not installed (./bootstrap)' unless $pgbouncer && -x $pgbouncer;

my $T = JSON::PP::true;
my $llm = Promptd::FakeLLM->new;
my %pooled = (PROMPTD_PGBOUNCER => 1, PROMPTD_PGBOUNCER_POOL_SIZE => 2,
              PROMPTD_WORKERS => 3);   # more workers than server connections
my $s = Promptd::Test->new(%pooled, PROMPTD_DB_STATEMENTS => 'unnamed', quotas => 1,
    PROMPTD_ENRICH_PROVIDERS => 'openai:gpt-4o-mini,local',
    PROMPTD_OPENAI_BASE_URL => $llm->openai_url,
    PROMPTD_OPENAI_API_KEY => 'sk-server-openai');
my $var = $s->var_dir;

sub slurp { my ($f) = @_; open(my $fh, '<', $f) or return ''; local $/; <$fh> }

# The backends serving the workers: PgBouncer's server connections (the
# daemons name their sessions promptd-jobs, -gateway, -webhooks).
sub worker_backends {
    db1("select count(*) from pg_stat_activity where usename = 'promptd_app' "
        . "and application_name not like 'promptd-%'");
}

# ------------------------------------------------ the wiring
like(slurp("$var/run/pgbouncer/pgbouncer.ini"), qr/^pool_mode = transaction$/m,
     'PgBouncer runs in transaction pooling mode');
like(slurp("$var/run/pgbouncer/pgbouncer.ini"), qr/^default_pool_size = 2$/m, '... with 2 server connections');
ok(kill(0, (slurp("$var/run/pgbouncer.pid") =~ /(\d+)/)[0] // 0), 'PgBouncer is running (its pid file)');
like(slurp("$var/secrets/family/prompts/app_database_url"), qr{host='?\Q$var\E/run/pgbouncer\b},
     "the workers' application URL is PgBouncer's socket");
ok(!-e "$var/secrets/family/prompts/direct_database_url", 'the workers get no direct URL');
like(slurp("$var/secrets/family/$_/direct_database_url"), qr{host='?\Q$var\E/run'? port=},
     "$_ gets the direct URL (PostgreSQL's socket)") for qw(jobs gateway);
ok($s->wait_for(sub { db1("select count(distinct application_name) from pg_stat_activity "
                          . "where application_name in ('promptd-jobs', 'promptd-gateway')") == 2 }),
   'promptd-jobs and promptd-gateway hold their sessions');

# ------------------------------------------------ sign-up and sign-in
my $PW = 'correct horse battery';
my $r = $s->request(POST => '/auth/v1/signup', { json => { email => 'carol@example.com', password => $PW } });
is($r->{status}, 200, 'sign-up -> 200') or diag $r->{body};
my $carol = $r->{json}{user}{id} // '';
is(db1("select count(*) from auth.users where id = '$carol' and email = 'carol\@example.com'"), 1,
   'sign-up stored the user');
$r = $s->request(POST => '/auth/v1/token?grant_type=password',
                 { json => { email => 'carol@example.com', password => $PW } });
is($r->{status}, 200, 'sign-in -> 200') or diag $r->{body};
is($r->{json}{user}{id}, $carol, 'sign-in: the same user');
my $tc = $r->{json}{access_token};
$r = $s->request(POST => '/auth/v1/token?grant_type=password',
                 { json => { email => 'carol@example.com', password => 'wrong horse battery' } });
is($r->{status}, 400, 'sign-in with a wrong password -> 400');
is($r->{json}{error_code}, 'invalid_credentials', '... invalid_credentials');
$r = api($tc, POST => '/api/v1/prompts', json => { title => 'carol', content => 'from sign-in' });
is($r->{status}, 201, "the signed-in token writes a prompt") or diag $r->{body};

# ------------------------------------------------ prompts CRUD under RLS
my ($alice, $ta, $bob, $tb) = $s->users(qw(alice bob));
my (%mine, %title);
for my $u ([$alice, $ta, 'alice'], [$bob, $tb, 'bob']) {
    for my $i (1 .. 3) {
        $r = api($u->[1], POST => '/api/v1/prompts', json => { title => "$u->[2] $i", content => "secret of $u->[2]" });
        is($r->{status}, 201, "$u->[2] creates prompt $i") or diag $r->{body};
        push @{ $mine{$u->[0]} }, $r->{json}{id};
        $title{ $r->{json}{id} } = "$u->[2] $i";
    }
}
my ($pa) = @{ $mine{$alice} };
my ($pb) = @{ $mine{$bob} };
$r = api($ta, PATCH => "/api/v1/prompts/$pa", json => { title => 'alice renamed' });
is($r->{status}, 200, 'update -> 200') or diag $r->{body};
is(db1("select title || ' ' || version from public.prompts where id = '$pa'"), 'alice renamed 2',
   'update stored, version 2');
$title{$pa} = 'alice renamed';
$r = api($tb, PATCH => "/api/v1/prompts/$pa", json => { title => 'bob was here' });
is($r->{status}, 404, "bob cannot update alice's prompt");
is(db1("select title from public.prompts where id = '$pa'"), 'alice renamed', '... it is unchanged');
is(api($tb, DELETE => "/api/v1/prompts/$pa")->{status}, 404, "bob cannot delete alice's prompt");
is(api($ta, GET => "/api/v1/prompts/$pb")->{status}, 404, "alice cannot read bob's prompt");
$r = api($tb, POST => '/api/v1/prompts', json => { title => 'doomed', content => 'x' });
is(api($tb, DELETE => "/api/v1/prompts/$r->{json}{id}")->{status}, 204, 'delete -> 204');
is(db1("select count(*) from public.prompts where id = '$r->{json}{id}'"), 0, '... the row is gone');
is(api(undef, GET => '/api/v1/prompts')->{status}, 401, 'no credential -> 401');

# Many requests from several clients at once, alternating users and anon:
# more clients than workers, more workers than PgBouncer's 2 server
# connections, so every server connection serves every user in turn.  A
# claim or role left on a server connection by a previous transaction
# would show as a foreign prompt in a list, a 200 for the other user's
# prompt, or an anonymous 200.
my @users = ([$alice, $ta], [$bob, $tb]);
my $clients = 4;
my @pipes;
for my $c (1 .. $clients) {
    pipe(my $rd, my $wr) or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        close $rd;
        my @bad;
        for my $n (1 .. 30) {
            my ($me, $tok) = @{ $users[($n + $c) % 2] };
            my ($other) = grep { $_ ne $me } $alice, $bob;
            my $l = api($tok, GET => '/api/v1/prompts?limit=100');
            my @ids = map { $_->{id} } @{ $l->{json}{items} || [] };
            my %own = map { ($_ => 1) } @{ $mine{$me} };
            push @bad, "list $l->{status} for $me: @ids"
                if $l->{status} != 200 || grep { $title{$_} && !$own{$_} } @ids
                || (grep { $own{$_} } @ids) != 3;
            my $g = api($tok, GET => "/api/v1/prompts/$mine{$other}[$n % 3]");
            push @bad, "other's prompt $g->{status} for $me" if $g->{status} != 404;
            my $o = api($tok, GET => "/api/v1/prompts/$mine{$me}[$n % 3]");
            push @bad, "own prompt $o->{status} for $me"
                if $o->{status} != 200 || ($o->{json}{title} // '') ne $title{ $mine{$me}[$n % 3] };
            my $w = api($tok, POST => '/api/v1/prompts', json => { title => "burst $c $n", content => 'x' });
            push @bad, "write $w->{status} for $me" if $w->{status} != 201;
            my $x = api(undef, GET => "/api/v1/prompts/$mine{$me}[0]");
            push @bad, "anonymous $x->{status}" if $x->{status} != 401;
        }
        print $wr join("\n", @bad), "\n";
        close $wr;
        POSIX::_exit(0);
    }
    close $wr;
    push @pipes, [$pid, $rd];
}
my @bad;
for my $p (@pipes) {
    my $fh = $p->[1];
    push @bad, grep { /\S/ } <$fh>;
    waitpid($p->[0], 0);
}
is(scalar(@bad), 0, "$clients clients x 30 rounds of 5 requests: no claims or role leaked between users")
    or diag join('', @bad[0 .. ($#bad < 9 ? $#bad : 9)]);
# "burst C N" was written by $users[(N + C) % 2].
is(db1("select count(*) from public.prompts p join public.workspaces w on w.id = p.workspace_id "
       . "where p.title like 'burst %' and w.personal_of is distinct from case "
       . "(split_part(p.title, ' ', 2)::int + split_part(p.title, ' ', 3)::int) % 2 "
       . "when 0 then '$alice'::uuid else '$bob'::uuid end"), 0,
   "every burst write landed in its writer's own workspace");
is(db1("select count(*) from public.prompts where title like 'burst %'"), $clients * 30,
   'every burst write committed');
my $backends = worker_backends();
cmp_ok($backends, '<=', 2, "the workers' sessions in PostgreSQL: PgBouncer's $backends (pool of 2)");
cmp_ok(scalar(() = slurp("$var/log/pgbouncer.log") =~ /login attempt: db=promptd user=promptd_app/g),
       '>', 2, 'more worker connections than server connections reached PgBouncer');

# ------------------------------------------------ a quota-governed request
# Read-write requests with the request quota send the quota statement in a
# pipeline of its own transaction ahead of BEGIN (src/db/db.c).
$s->at_second(0, 44);
my ($erin, $te) = $s->users('erin');   # no request yet this minute
$s->promptctl('quota', 'set', $erin, 'requests_per_minute=3');
my @st = map { api($te, ($_ % 2 ? 'POST' : 'GET') => '/api/v1/prompts',
                   ($_ % 2 ? (json => { title => "q $_", content => 'x' }) : ()))->{status} } 1 .. 4;
is_deeply(\@st, [201, 200, 201, 429], 'three requests within the quota, then 429');
is(db1("select count(*) from public.prompts where title like 'q %'"), 2, 'the two writes within it committed');
is(db1("select promptd.quota_counter_used(used, seq, base, lim) from promptd.quota_counters "
       . "where user_id = '$erin' and resource = 'requests_per_minute'"), 3, 'the counter holds 3');

# ------------------------------------------------ an enrichment (the fake provider)
$r = api($ta, POST => '/api/v1/enrich', json => { prompt => 'Summarise {{report}} in 3 bullet points' });
is($r->{status}, 200, 'enrich -> 200') or diag $r->{body};
is($r->{json}{provider}, 'openai', '... answered by the fake OpenAI');
is(db1("select outcome || ' ' || provider from public.enrichments where id = '" . ($r->{json}{id} // '') . "'"),
   'success openai', '... recorded');
is(scalar(grep { ($_->{json}{messages}[1]{content} // '') =~ /report/ } $llm->requests('openai')), 1,
   '... one provider call');

# ------------------------------------------------ jobs: enqueued through the pool, run by the daemons
$r = api($ta, POST => '/api/v1/enrich', json => { prompt => 'List 5 risks of {{plan}}', async => $T });
is($r->{status}, 202, 'async enrich -> 202 (its job enqueued in the request transaction)') or diag $r->{body};
my $aid = $r->{json}{id} // '';
ok($s->wait_for(sub { (api($ta, GET => "/api/v1/enrich/jobs/$aid")->{json}{status} // '') eq 'done' }, timeout => 30),
   'promptd-gateway (direct connection, LISTEN) ran it');
my ($jid) = $s->promptctl('jobs', 'enqueue', 'noop') =~ /"first_id": (\d+)/;
ok($jid, 'promptctl jobs enqueue noop');
ok($s->wait_for(sub { db1("select state from public.background_jobs where id = " . ($jid // 0)) eq 'succeeded' },
                timeout => 30), 'promptd-jobs (direct connection) ran it');

# ------------------------------------------------ share links
$r = api($ta, POST => "/api/v1/prompts/$pa/shares", json => { public => $T });
is($r->{status}, 201, 'share link created') or diag $r->{body};
my $sh = $r->{json} || {};
$r = $s->request(GET => "/api/v1/shared/$sh->{token}");
is($r->{status}, 200, 'the shared prompt, anonymously -> 200') or diag $r->{body};
is($r->{json}{title}, 'alice renamed', '... its title');
is(api($tb, DELETE => "/api/v1/shares/$sh->{id}")->{status}, 404, "bob cannot revoke alice's link");
is(api($ta, DELETE => "/api/v1/shares/$sh->{id}")->{status}, 204, 'alice revokes it');
isnt(db1("select revoked_at from public.shares where id = '$sh->{id}'"), undef, '... revoked_at set');
# (nginx's share micro-cache may serve the old answer for a second)
ok($s->wait_for(sub { $s->request(GET => "/api/v1/shared/$sh->{token}")->{status} == 410 }),
   'a revoked link -> 410');

# ------------------------------------------------ the setting itself
my ($rc, $out) = $s->_run([$s->{promptctl}, 'env'], env => { PROMPTD_DB_STATEMENTS => 'named' });
isnt($rc, 0, 'PROMPTD_DB_STATEMENTS=named is refused');
like($out, qr/PROMPTD_DB_STATEMENTS must be prepared or unnamed/, '... saying why');
$s->stop;

# ------------------------------------------------ prepared statements through the same pooler
# Deterministic with one server connection: every worker prepares the same
# names (promptd_claims, ...) when it connects, so the first worker to
# connect takes the names on that connection and every other worker's
# PREPARE fails there (42P05 "already exists"): its requests answer 503.
# Two families' workers (two processes) are asked in turn, so at least one
# of them is such a worker.  (With more server connections the failures are
# as certain but land where PgBouncer lends: "does not exist" as well.)
my $p = Promptd::Test->new(%pooled, PROMPTD_PGBOUNCER_POOL_SIZE => 1, PROMPTD_DB_STATEMENTS => 'prepared');
my ($dave, $td) = $p->users('dave');
my @got = map { $p->request(GET => $_, { token => $td }) } '/api/v1/prompts', '/api/v1/me';
my @failed = grep { $_->{status} != 200 } @got;
ok(@failed >= 1, 'prepared statements behind transaction pooling: requests fail')
    or diag explain [map { $_->{status} } @got];
is_deeply([sort { $a <=> $b } map { $_->{status} } @failed], [(503) x @failed], '... with 503');
like(join('', map { $p->log_tail($_, 400) } qw(prompts me)),
     qr/prepared statement \\?"promptd_\w+\\?" already exists/,
     '... because the names are already taken on the one server connection');
$p->stop;

done_testing();
