#!/usr/bin/perl
# 310-audit.t: the audit log is append-only (triggers refuse UPDATE, DELETE,
# TRUNCATE even for the owner), hash-chained, and `promptctl audit verify`
# detects altered, removed, reordered and truncated rows.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Promptd::Test qw(db1);

my $s = Promptd::Test->new;
my $alice = $s->user_create('alice@example.com');
my $tok = $s->token($alice);
sub verify {
    my ($rc, $out, $err) = $s->_run([$s->{promptctl}, 'audit', 'verify'], separate => 1);
    return ($rc, $out . $err);
}

# A few rows through the API (profile.update) and promptctl (admin.grant/revoke).
for my $n (1 .. 4) {
    my $r = $s->request(PATCH => '/api/v1/me', { token => $tok, json => { display_name => "Alice $n" },
        headers => { 'User-Agent' => 'audit-test/1.0' } });
    is($r->{status}, 200, "PATCH /me #$n -> 200") or diag explain $r;
}
$s->promptctl('user', 'admin', 'alice@example.com', 'on');
$s->promptctl('user', 'admin', $alice, 'off');
is(db1('select count(*) from audit_log'), 6, 'six rows appended');
is(db1("select string_agg(action, ',' order by id) from audit_log"),
   'profile.update,profile.update,profile.update,profile.update,admin.grant,admin.revoke',
   'actions in order');
is(db1('select string_agg(id::text, \',\' order by id) from audit_log'), '1,2,3,4,5,6', 'ids contiguous');
is(db1("select count(*) from audit_log where user_agent = 'audit-test/1.0' and request_id is not null "
       . "and address is not null and outcome = 'success'"), 4, 'request id, address, user agent recorded');
is(db1("select count(*) from audit_log a join promptd.audit_subjects s on s.pseudonym = a.actor_user "
       . "where s.user_id = '$alice'"), 4, 'API rows carry the actor pseudonym');
is(db1("select count(*) from audit_log where actor_user = '$alice'"), 0, 'never the raw user id');
is(db1("select count(*) from audit_log a where a.prev_hash = coalesce((select b.hash from audit_log b "
       . "where b.id = a.id - 1), '')"), 6, 'each prev_hash is the previous row\'s hash');

my ($rc, $out) = verify();
is($rc, 0, 'verify: exit 0');
like($out, qr/^ok 6 rows head [0-9a-f]{64}$/m, 'verify: ok 6 rows');

# Append-only, for the owner (the superuser here) and for the request roles.
for my $sql ('update audit_log set outcome = \'failure\' where id = 2',
             'delete from audit_log where id = 2',
             'truncate audit_log') {
    eval { $s->psql($sql) };
    like($@, qr/append-only/, "refused: $sql");
}
for my $role (qw(authenticated anon promptd_app)) {
    for my $sql ("insert into audit_log (id, action, outcome, prev_hash, hash) values (99, 'x.y', 'success', '', '')",
                 'update audit_log set outcome = \'failure\'', 'delete from audit_log') {
        eval { $s->psql("set role $role; $sql") };
        like($@, qr/permission denied|append-only/, "$role refused: " . substr($sql, 0, 22));
    }
}
is(db1('select count(*) from audit_log'), 6, 'still six rows');
($rc) = verify();
is($rc, 0, 'verify still ok');

# Tampering as a superuser with the triggers disabled.
my $TAMPER = 'alter table audit_log disable trigger user; %s; alter table audit_log enable trigger user';
my %snap = map { $_->[0] => $_ } @{ $s->psql('select id, outcome, detail::text from audit_log') };

$s->psql(sprintf $TAMPER, "update audit_log set outcome = 'failure' where id = 3");
($rc, $out) = verify();
is($rc, 1, 'altered row: exit 1');
like($out, qr/row 3: hash mismatch/, 'altered row named (3)');
$s->psql(sprintf $TAMPER, "update audit_log set outcome = 'success' where id = 3");
is((verify())[0], 0, 'restored: ok again');

$s->psql(sprintf $TAMPER, "update audit_log set detail = '{\"fields\":[\"x\"]}' where id = 2");
like((verify())[1], qr/row 2: hash mismatch/, 'altered detail named (2)');
$s->psql(sprintf $TAMPER, "update audit_log set detail = '$snap{2}[2]' where id = 2");
is((verify())[0], 0, 'restored detail: ok');

# Removing a middle row: the next id is out of sequence.
my $row4 = $s->psql('select * from audit_log where id = 4');
$s->psql(sprintf $TAMPER, 'delete from audit_log where id = 4');
($rc, $out) = verify();
is($rc, 1, 'removed row: exit 1');
like($out, qr/row 5: expected id 4/, 'removed row detected at the next row (5)');

# ... and renumbering the rest to hide the gap breaks the chain instead.
$s->psql(sprintf $TAMPER, 'update audit_log set id = id - 1 where id > 4');
($rc, $out) = verify();
is($rc, 1, 'renumbered: exit 1');
like($out, qr/row 4: (hash mismatch|prev_hash)/, 'renumbered row named (4)');

# Reordering: swap two rows' contents (ids kept).
my $s2 = Promptd::Test->new;
my $bob = $s2->user_create('bob@example.com');
my $btok = $s2->token($bob);
$s2->request(PATCH => '/api/v1/me', { token => $btok, json => { display_name => "B$_" } }) for 1 .. 3;
my ($rc2, $o2, $e2) = $s2->_run([$s2->{promptctl}, 'audit', 'verify'], separate => 1);
is($rc2, 0, 'second stack: ok');
$s2->psql(sprintf $TAMPER, 'update audit_log set id = case id when 1 then 2 when 2 then 1 else id end + 100 where id in (1, 2); '
          . 'update audit_log set id = id - 100 where id > 100');
($rc2, $o2, $e2) = $s2->_run([$s2->{promptctl}, 'audit', 'verify'], separate => 1);
is($rc2, 1, 'reordered: exit 1');
like($e2, qr/row 1: /, 'reordered row named (1)');

# Removing the last row: the chain head still names it.
my $s3 = Promptd::Test->new;
my $carol = $s3->user_create('carol@example.com');
my $ctok = $s3->token($carol);
$s3->request(PATCH => '/api/v1/me', { token => $ctok, json => { display_name => "C$_" } }) for 1 .. 3;
$s3->psql(sprintf $TAMPER, 'delete from audit_log where id = 3');
my ($rc3, $o3, $e3) = $s3->_run([$s3->{promptctl}, 'audit', 'verify'], separate => 1);
is($rc3, 1, 'removed tail: exit 1');
like($e3, qr/row 2: the chain head names row 3/, 'removed tail detected');

done_testing;
