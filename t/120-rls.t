#!/usr/bin/perl
# 120-rls.t: row level security holds in the database itself, whatever SQL runs.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Promptd::Test;

my $s = Promptd::Test->new;
my $a = $s->user_create('alice@example.com');
my $b = $s->user_create('bob@example.com');
my $r = $s->request(POST => '/api/v1/prompts', { token => $s->token($a), json => { title => 'A1', content => 'secret of alice' } });
my $pid = $r->{json}{id} or BAIL_OUT("create failed: $r->{body}");
sub q1 { $s->psql($_[0])->[0][0] }

# Every table in public has RLS enabled and forced.
my $rows = $s->psql("select c.relname, c.relrowsecurity, c.relforcerowsecurity from pg_class c "
                  . "join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public' and c.relkind = 'r' order by 1");
ok(@$rows >= 6, 'public tables found: ' . join(',', map { $_->[0] } @$rows));
for (@$rows) {
    is("$_->[1]$_->[2]", 'tt', "$_->[0]: RLS enabled and forced");
}
my $policies = q1("select count(distinct tablename) from pg_policies where schemaname = 'public'");
ok($policies >= 5, "policies exist on $policies tables");

# The worker role: LOGIN NOINHERIT, no BYPASSRLS, not superuser, owns nothing.
is_deeply($s->psql("select rolcanlogin, rolinherit, rolbypassrls, rolsuper, rolcreaterole, rolcreatedb "
                 . "from pg_roles where rolname = 'promptd_app'"),
          [[qw(t f f f f f)]], 'promptd_app is LOGIN NOINHERIT NOBYPASSRLS and nothing more');
is(q1("select count(*) from pg_class c join pg_roles r on r.oid = c.relowner where r.rolname = 'promptd_app'"),
   0, 'promptd_app owns no relation');
is_deeply([ map { $_->[0] } @{ $s->psql("select g.rolname from pg_auth_members m join pg_roles g on g.oid = m.roleid "
                                      . "join pg_roles u on u.oid = m.member where u.rolname = 'promptd_app' order by 1") } ],
          [qw(anon authenticated promptd_auth service_role)],
          'promptd_app may switch only to the API roles and promptd_auth (sign-in, 0006)');

# Raw SQL under bob's claims cannot see or touch alice's rows.
sub as_role {
    my ($role, $sub, $sql) = @_;
    my $claims = $sub ? qq({"sub":"$sub","role":"$role"}) : qq({"role":"$role"});
    $s->psql("begin; do \$\$ begin perform set_config('role', '$role', true); "
           . "perform set_config('request.jwt.claims', '$claims', true); end \$\$; $sql; commit;");
}
sub as_bob { as_role('authenticated', $b, @_) }
is(as_bob("select count(*) from prompts")->[0][0], 0, 'bob sees no prompts, even without a WHERE');
is(as_bob("select count(*) from prompts where id = '$pid'")->[0][0], 0, "bob cannot select alice's prompt by id");
is(as_bob("select count(*) from prompt_versions where prompt_id = '$pid'")->[0][0], 0, "bob cannot read alice's versions");
is(as_bob("with u as (update prompts set title = 'pwned' where id = '$pid' returning 1) select count(*) from u")->[0][0],
   0, "bob's UPDATE touches no row");
is(as_bob("with d as (delete from prompts where id = '$pid' returning 1) select count(*) from d")->[0][0],
   0, "bob's DELETE touches no row");
ok(!eval { as_bob("insert into prompts (user_id, title, content) values ('$a', 'forged', 'x')"); 1 },
   "bob cannot INSERT a prompt owned by alice");
ok(!eval { as_bob("update prompt_versions set title = 'x'"); 1 }, 'authenticated has no UPDATE on prompt_versions');
ok(!eval { $s->psql("update prompt_versions set title = 'x' where prompt_id = '$pid'"); 1 },
   'prompt_versions rows are immutable even for the owner of the table');
is(as_bob("select count(*) from profiles")->[0][0], 1, 'bob sees only his own profile');
ok(!eval { as_bob("update profiles set subscription_tier = 'enterprise' where id = '$b'"); 1 },
   'bob cannot raise his own subscription tier');
is(q1("select title from prompts where id = '$pid'"), 'A1', "alice's prompt is intact");
is(q1("select subscription_tier from profiles where id = '$b'"), 'free', "bob's tier is unchanged");

# Anonymous: no grant on prompts at all.
ok(!eval { as_role('anon', undef, 'select count(*) from prompts'); 1 }, 'anon cannot read prompts');
like($@, qr/permission denied/, '  permission denied');
done_testing;
