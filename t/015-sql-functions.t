#!/usr/bin/perl
# 015-sql-functions.t: sql/functions/*.sql hold the one current definition of every function and policy, applied by promptctl migrate when they changed.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Copy qw(copy);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use Test::More;
use Promptd::Test;

my $s = Promptd::Test->new(PROMPTD_WORKERS => 1);
my $SQL = "$FindBin::Bin/../sql";
my $pw = do { local (@ARGV, $/) = ($s->var_dir . '/secrets/pg_superuser_password'); <> };
chomp $pw;

# A copy of sql/ under a temp dir: the numbered migrations, and functions/
# either empty (the old way: migrations only) or copied.
sub sql_copy {
    my (%opt) = @_;
    my $dir = tempdir('sql-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    make_path("$dir/functions");
    copy($_, $dir) or die "copy $_: $!" for glob "$SQL/*.sql";
    if ($opt{functions}) {
        copy($_, "$dir/functions") or die "copy $_: $!" for glob "$SQL/functions/*.sql";
    }
    return $dir;
}

# migrate($db, $sqldir) -> ($rc, $stdout, $stderr) of promptctl migrate.
sub migrate {
    my ($db, $dir) = @_;
    my $url = 'host=' . $s->var_dir . "/run port=" . $s->pg_port
            . " user=postgres password=$pw dbname=$db";
    return $s->_run([$s->{promptctl}, 'migrate'], separate => 1, env => {
        PROMPTD_DATABASE_URL => $url, PROMPTD_SQL_DIR => $dir,
        # the worker password is the stack's business, not this test's
        PROMPTD_APP_DATABASE_URL => 'host=/nonexistent dbname=none' });
}

# pg_dump --schema-only of $db, without its random \restrict key lines.
sub schema {
    my ($db) = @_;
    my ($rc, $out, $err) = $s->_run(["$s->{pg_bindir}/pg_dump", '--schema-only',
        '-h', $s->var_dir . '/run', '-p', $s->pg_port, '-U', 'postgres', $db],
        separate => 1, env => { PGPASSWORD => $pw });
    die "pg_dump $db failed: $err" if $rc != 0;
    return join '', grep { !/^\\(?:un)?restrict\b/ } split /^/, $out;
}

# The first lines of a unified diff of two dumps.
sub schema_diff {
    my ($a, $b) = @_;
    my $dir = tempdir('dump-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    for (['a', $a], ['b', $b]) { open(my $fh, '>', "$dir/$_->[0]") or die $!; print $fh $_->[1]; close $fh }
    my @d = split /\n/, `diff -u $dir/a $dir/b`;
    return join "\n", grep { defined } @d[0 .. 60];
}

sub slurp { my ($f) = @_; open(my $fh, '<', $f) or die "$f: $!"; local $/; return <$fh> }

$s->psql('create database t_old', db => 'postgres');

# (a) the old way (migrations only), then sql/functions re-applied: the
# schema does not change, so the files match what the migrations built.
my ($rc, $out, $err) = migrate('t_old', sql_copy());
is($rc, 0, 'migrations alone apply') or diag $err;
like($out, qr/^applied 0001_/m, 'every migration was applied');
my $old = schema('t_old');
like($old, qr/CREATE FUNCTION promptd\.maintenance_purge/, 'the dump holds the functions');
($rc, $out, $err) = migrate('t_old', sql_copy(functions => 1));
is($rc, 0, 'sql/functions re-applied on a migrated database') or diag $err;
is($out, '', 'nothing new to report');
my $new = schema('t_old');
ok($new eq $old, 'the schema is identical after re-applying sql/functions')
    or diag schema_diff($old, $new);
ok(schema('promptd') eq $old, 'the stack (migrated with sql/functions from the start) has the same schema');

# (b) running migrate again changes nothing.
($rc, $out, $err) = migrate('t_old', sql_copy(functions => 1));
is($rc, 0, 'migrate again: exit 0') or diag $err;
is($out, '', 'migrate again: applies nothing new');
is($err, '', 'migrate again: no notice or warning');
is(schema('t_old'), $old, 'migrate again: the schema is unchanged');

# (c) every function, policy and view of the promptd-owned schemas has
# exactly one definition under sql/functions, and each definition names one
# that exists.  auth.uid()/role()/jwt() are Supabase's (0001 creates them
# only when absent), so schema auth is not ours.
my %text = map { ($_ => slurp($_)) } glob "$SQL/functions/*.sql";
my $all = join "\n", values %text;
my @objects = (
    (map { [ 'function', $_->[0], qr/^create\s+or\s+replace\s+function\s+\Q$_->[0]\E\s*\(/im ] }
     @{ $s->psql(q{select n.nspname || '.' || p.proname from pg_proc p
                   join pg_namespace n on n.oid = p.pronamespace
                   where n.nspname in ('promptd', 'public')
                     and not exists (select 1 from pg_depend d where d.objid = p.oid
                                     and d.classid = 'pg_proc'::regclass and d.deptype = 'e')
                   order by 1}) }),
    (map { [ 'policy', "$_->[0] on $_->[1]", qr/^create\s+policy\s+\Q$_->[0]\E\s+on\s+\Q$_->[1]\E\b/im ] }
     @{ $s->psql(q{select policyname, schemaname || '.' || tablename from pg_policies
                   where schemaname in ('promptd', 'public', 'auth') order by 1, 2}) }),
    (map { [ 'view', $_->[0], qr/^create\s+or\s+replace\s+view\s+\Q$_->[0]\E\b/im ] }
     @{ $s->psql(q{select schemaname || '.' || viewname from pg_views
                   where schemaname in ('promptd', 'public') order by 1}) }),
);
cmp_ok(scalar @objects, '>', 50, 'functions and policies found (' . @objects . ')');
my @bad = grep { my $re = $_->[2]; my $n = () = $all =~ /$re/g; $n != 1 } @objects;
is_deeply([ map { "$_->[0] $_->[1]" } @bad ], [], 'each has exactly one definition under sql/functions');
my $defs = () = $all =~ /^(?:create\s+or\s+replace\s+(?:function|view)|create\s+policy)\b/img;
is($defs, scalar @objects, 'and sql/functions defines nothing else (no stale definition)');
my @drops = $all =~ /^drop\s+policy\s+if\s+exists\s+(\S+\s+on\s+\S+);/img;
my @creates = $all =~ /^create\s+policy\s+(\S+\s+on\s+\S+)/img;
is_deeply(\@drops, \@creates, 'each policy is dropped (if it exists) right before it is created');

# (d) an edited function file takes effect on the next migrate; a failing
# file rolls every function file back.
my $edit = sql_copy(functions => 1);
my $core = slurp("$edit/functions/core.sql");
ok($core =~ s/new\.updated_at := now\(\);/new.updated_at := now();  -- edited by t\/015/,
   'core.sql edited (touch_updated_at)');
open(my $fh, '>', "$edit/functions/core.sql") or die $!;
print $fh $core;
close $fh;
# 'edited' when touch_updated_at()'s body carries the edit, else 'original'.
my $body = sub { $s->psql(q{select case when prosrc like '%edited by t/015%' then 'edited by t/015'
                                   else 'original' end from pg_proc
                            where oid = 'promptd.touch_updated_at()'::regprocedure},
                          db => 't_old')->[0][0] };
open($fh, '>', "$edit/functions/zz-broken.sql") or die $!;
print $fh "create or replace function promptd.broken() returns int language sql as 'select nope';\n";
close $fh;
($rc, $out, $err) = migrate('t_old', $edit);
is($rc, 1, 'a broken function file fails migrate');
like($err, qr{functions/zz-broken\.sql failed}, 'naming the file');
is($body->(), 'original', 'and no function file was applied (one transaction)');
unlink "$edit/functions/zz-broken.sql";
($rc, $out, $err) = migrate('t_old', $edit);
is($rc, 0, 'the edited file applies') or diag $err;
is($body->(), 'edited by t/015', 'the edit took effect');
($rc, $out, $err) = migrate('t_old', sql_copy(functions => 1));
is($body->(), 'original', 'and the next migrate with the original files restores it');
is(schema('t_old'), $old, 'the schema is back to what the migrations built');

$s->stop;
done_testing;
