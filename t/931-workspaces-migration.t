#!/usr/bin/perl
# 931-workspaces-migration.t: a database populated under the schema before workspaces (migrations up to 0030) migrates to workspaces with no row lost or changed: every user gets a personal workspace that holds their prompts, versions, links and API keys, and RLS still shows each user their own.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Copy qw(copy);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use Test::More;
use Promptd::Test;

my $s = Promptd::Test->new(PROMPTD_WORKERS => 1, PROMPTD_JOBS_DAEMONS => 0);
my $SQL = "$FindBin::Bin/../sql";
my $pw = do { local (@ARGV, $/) = ($s->var_dir . '/secrets/pg_superuser_password'); <> };
chomp $pw;

# sql/ copied: the numbered migrations up to $upto (all when undef), and
# sql/functions only with all of them (the functions are the newest ones).
sub sql_copy {
    my ($upto) = @_;
    my $dir = tempdir('sql-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    make_path("$dir/functions");
    for my $f (glob "$SQL/*.sql") {
        my ($n) = $f =~ m{/(\d{4})_[^/]+$} or next;
        copy($f, $dir) or die "copy $f: $!" if !defined $upto || $n <= $upto;
    }
    if (!defined $upto) {
        copy($_, "$dir/functions") or die "copy $_: $!" for glob "$SQL/functions/*.sql";
    }
    return $dir;
}

sub migrate {
    my ($dir) = @_;
    my $url = 'host=' . $s->var_dir . "/run port=" . $s->pg_port . " user=postgres password=$pw dbname=t_mig";
    return $s->_run([$s->{promptctl}, 'migrate'], separate => 1, env => {
        PROMPTD_DATABASE_URL => $url, PROMPTD_SQL_DIR => $dir,
        PROMPTD_APP_DATABASE_URL => 'host=/nonexistent dbname=none' });
}
sub q1 { my $r = $s->psql($_[0], db => 't_mig'); return @$r ? $r->[0][0] : undef }

$s->psql('create database t_mig', db => 'postgres');
my ($rc, $out, $err) = migrate(sql_copy(30));
is($rc, 0, 'the schema before workspaces (0001-0030)') or diag $err;
is(q1("select to_regclass('public.workspaces') is null"), 't', '... has no workspaces');

# A populated database: three users with prompts (edited: several
# versions), links, API keys, usage rows; one user with nothing.
my @users = map { sprintf '00000000-0000-4000-8000-%012d', $_ } 1 .. 4;
my $populate = join(";\n",
    (map { "insert into auth.users (id, email, aud, role, email_confirmed_at) values "
         . "('$users[$_]', 'u$_\@example.com', 'authenticated', 'authenticated', now())" } 0 .. 3),
    (map { my $u = $users[$_ % 3];
           "insert into public.prompts (id, user_id, title, content, tags, folder) values "
         . "('10000000-0000-4000-8000-" . sprintf('%012d', $_) . "', '$u', 'p$_', 'hello {{x$_}}', '{t$_}', '/f$_')" } 1 .. 9),
    (map { "insert into public.prompts (id, user_id, title, content, created_at) values "
         . "('30000000-0000-4000-8000-00000000000$_', '$users[0]', 'Same  Title!', 'c', now() + interval '$_ seconds')" } 1 .. 2),
    "update public.prompts set content = content || ' v2' where title in ('p1', 'p2', 'p4')",
    "update public.prompts set title = title || '!' where title = 'p1 v2' or title = 'p1'",
    (map { "insert into public.shares (id, user_id, prompt_id, token_hash, token_sealed, public) values "
         . "('20000000-0000-4000-8000-" . sprintf('%012d', $_) . "', '$users[$_ - 1]', "
         . "'10000000-0000-4000-8000-" . sprintf('%012d', $_) . "', '" . ('a' x 63) . "$_', 'sealed$_', true)" } 1 .. 3),
    (map { "insert into public.api_keys (user_id, name, key_hash, prefix, last_four, scopes) values "
         . "('$users[$_]', 'k$_', '" . ('b' x 63) . "$_', 'pmtd_AAAAAAA$_', 'ZZZ$_', '{prompts:read}')" } 0 .. 2),
    (map { "insert into public.usage_tracking (user_id, action, resource_id) values "
         . "('$users[$_]', 'prompt.create', gen_random_uuid())" } 0 .. 2));
$s->psql($populate, db => 't_mig');

# Every row of every table a user's data lives in, as jsonb without the new
# columns (0031, 0032), in primary-key order.
my %TABLES = (
    'auth.users' => 'id', 'public.profiles' => 'id', 'public.prompts' => 'id',
    'public.prompt_versions' => 'prompt_id, version', 'public.shares' => 'id',
    'public.api_keys' => 'id', 'public.usage_tracking' => 'id', 'public.audit_log' => 'id',
);
sub snapshot {
    my %snap;
    for my $t (sort keys %TABLES) {
        $snap{$t} = [ map { $_->[0] } @{ $s->psql("select (to_jsonb(t) - '{workspace_id,name,type,config,commit_message}'::text[])::text from $t t order by $TABLES{$t}",
                                                  db => 't_mig') } ];
    }
    return \%snap;
}
my $before = snapshot();
is(scalar @{ $before->{'public.prompts'} }, 11, 'eleven prompts');
cmp_ok(scalar @{ $before->{'public.prompt_versions'} }, '>=', 12, 'with their versions');
is(scalar @{ $before->{'public.shares'} }, 3, 'three links');
is(scalar @{ $before->{'public.api_keys'} }, 3, 'three API keys');

($rc, $out, $err) = migrate(sql_copy());
is($rc, 0, 'migrate to workspaces (0031 and the current functions)') or diag $err;
like($out, qr/^applied 0031_workspaces/m, '... applied 0031');
my $after = snapshot();
for my $t (sort keys %TABLES) {
    is(scalar @{ $after->{$t} }, scalar @{ $before->{$t} }, "$t: no row lost or added");
    is_deeply($after->{$t}, $before->{$t}, "$t: every row unchanged");
}

is(q1("select count(*) from public.workspaces where personal_of is not null"), 4,
   'every user (also one with no data) has a personal workspace');
is(q1("select count(*) from public.workspaces w join public.workspace_members m on m.workspace_id = w.id "
    . "and m.user_id = w.personal_of and m.role = 'owner'"), 4, '... which they own');
is(q1("select count(*) from public.workspace_members"), 4, '... and no one else is in');
is(q1("select count(*) from public.prompts p join public.workspaces w on w.id = p.workspace_id "
    . "and w.personal_of = p.user_id"), 11, "every prompt is in its owner's personal workspace");
is(q1("select count(*) from public.shares s join public.prompts p on p.id = s.prompt_id "
    . "and p.workspace_id = s.workspace_id"), 3, "every link is in its prompt's workspace");
is(q1("select count(*) from public.api_keys k join public.workspaces w on w.id = k.workspace_id "
    . "and w.personal_of = k.user_id"), 3, "every API key is in its owner's personal workspace");

# 0032: names from titles, unique per workspace; latest at every prompt's version.
is(q1("select string_agg(name, ',' order by created_at) from public.prompts where title = 'Same  Title!'"),
   'same-title,same-title-2', 'names come from titles, made unique in the workspace');
is(q1("select name from public.prompts where title = 'p1 v2!' or title = 'p1!'"), 'p1', 'a name drops what a name cannot hold');
is(q1("select count(*) from public.prompts p join public.prompt_labels l on l.prompt_id = p.id "
    . "and l.label = 'latest' and l.version = p.version"), 11, 'every prompt has latest at its current version');
is(q1("select count(*) from public.prompt_labels where label <> 'latest'"), 0, 'and no other label');

# RLS after the move: each user sees exactly their own prompts and versions.
for my $i (0 .. 3) {
    my $claims = qq({"sub":"$users[$i]","role":"authenticated"});
    my $r = $s->psql("begin; set local role authenticated; "
        . "select set_config('request.jwt.claims', '$claims', true); "
        . "select (select count(*) from public.prompts) || ':' || (select count(*) from public.prompt_versions) "
        . "|| ':' || (select count(*) from public.prompts where user_id <> '$users[$i]'); commit;", db => 't_mig');
    my $own = q1("select count(*) from public.prompts where user_id = '$users[$i]'");
    my $vers = q1("select count(*) from public.prompt_versions v join public.prompts p on p.id = v.prompt_id "
                . "where p.user_id = '$users[$i]'");
    is($r->[-1][0], "$own:$vers:0", "user $i sees their $own prompts and $vers versions, no one else's");
}

# Migrating again changes nothing.
($rc, $out, $err) = migrate(sql_copy());
is($rc, 0, 'migrate again');
is($out, '', '... applies nothing');
is_deeply(snapshot(), $after, '... and changes no row');

done_testing;
