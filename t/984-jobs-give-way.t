#!/usr/bin/perl
# 984-jobs-give-way.t: the background jobs that share rows with an account's deletion give way to
# it instead of deadlocking with it: analytics_rollup leaves the queued rows of a user whose row is
# locked for deletion (the cascade deletes them), share_views_ingest gives up on a batch whose
# share stays locked (nothing counted, the cursor unmoved) and counts it once the lock is gone;
# the account's deletion and the billing grace sweep lock profiles before the audit chain's head;
# webhook senders recording their attempts, and an endpoint's deletion, lock the endpoint before its
# deliveries, and a claim skips the deliveries others hold; changes of a workspace's members lock the workspace first, label moves the prompt; an
# account's deletion audits after its cascade.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX ();
use Promptd::Test qw(db1 api);

my $s = Promptd::Test->new(PROMPTD_WORKERS => 2, PROMPTD_JOBS_DAEMONS => 0);
my ($alice, $ta, $bob, $tb) = $s->users(qw(alice bob));

# hold_tx's child ended, its transaction having run
sub join_hold { my ($pid) = @_; return waitpid($pid, 0) == $pid && $? == 0 }

# A statement that would wait for the held lock fails here instead of
# hanging the test: the 2 s bound is far above what the jobs' statements take.
sub job { my ($sql) = @_; return db1("set statement_timeout = '2s'; $sql") }

# ------------------------------------------------ analytics_rollup
api($ta, POST => '/api/v1/prompts', json => { title => 'queued', content => 'for the rollup' })->{status} == 201
    or BAIL_OUT('no prompt');
db1("select promptd.analytics_record('test.anonymous', null, '{}', null, null)");
db1("select promptd.analytics_record('test.bob', '$bob', '{}', null, null)");
my $queued = sub { db1("select count(*) from promptd.analytics_pending where $_[0]") };
cmp_ok($queued->("user_id = '$alice'"), '>=', 1, "alice's events are queued");
is($queued->("user_id is null"), 1, 'an anonymous event is queued');
is($queued->("user_id = '$bob'"), 2, "bob's events are queued (his sign-up and one more)");
my $others = $queued->("user_id is distinct from '$alice'");

# alice's row locked as her account's deletion locks it (the cascade to her
# queued rows comes next): the rollup, which used to take her rows and then
# wait for her row (the daily active users' foreign key), leaves them.
my $kid = $s->hold_tx("select 1 from auth.users where id = '$alice' for update");
my $r = eval { job("select promptd.analytics_rollup(100)::text") };
is($@, '', "the rollup does not wait for alice's locked row");
is($r, qq({"rolled": $others}), '... and rolls up everyone else\'s rows');
cmp_ok($queued->("user_id = '$alice'"), '>=', 1, '... leaving hers queued');
is($queued->("user_id is distinct from '$alice'"), 0, '... and no other');
is(db1("select count(*) from promptd.analytics_daily_users where user_id = '$bob'"), 1, 'bob is an active user today');
is(db1("select count(*) from promptd.analytics_daily_users where user_id = '$alice'"), 0, '... alice not yet');
# her deletion's cascade, in the locking transaction, takes her rows at once
ok(join_hold($kid), 'the locking transaction ended');
$r = job("select promptd.analytics_rollup(100)::text");
like($r, qr/^\{"rolled": [1-9]\d*\}$/, 'her row free, the next rollup takes her rows');
is($queued->('true'), 0, '... and the queue is empty');
is(db1("select count(*) from promptd.analytics_daily_users where user_id = '$alice'"), 1, '... she is an active user today');

# The account's deletion itself while a rollup holds the user's row for
# its key share: the deletion waits for the rollup's commit, not a deadlock.
db1("select promptd.analytics_record('test.bob', '$bob', '{}', null, null)");
is($queued->("user_id = '$bob'"), 1, "bob's new event is queued");
$kid = $s->hold_tx("select promptd.analytics_rollup(100)");
is(db1("select count(*) from (select 1 from promptd.analytics_pending where user_id = '$bob' "
     . "for update skip locked) x"), 0, '... taken (locked) by the rollup, not yet committed');
my $del = api($tb, DELETE => '/api/v1/me');
is($del->{status}, 204, 'bob deletes his account while the rollup holds his queued row')
    or diag explain $del->{json};
ok(join_hold($kid), '... the rollup rolled back meanwhile');
is(db1("select count(*) from auth.users where id = '$bob'"), 0, '... he is gone');
is($queued->("user_id = '$bob'"), 0, '... with his queued rows');
is(db1("select count(*) from promptd.analytics_daily_users where user_id = '$bob'"), 0, '... and his active days');

# ------------------------------------------------ share_views_ingest
my $p = api($ta, POST => '/api/v1/prompts', json => { title => 'viewed', content => 'count me' })->{json};
my $sh = api($ta, POST => "/api/v1/prompts/$p->{id}/shares", json => {})->{json};
ok($sh->{id}, 'alice shares a prompt');
my ($inode, $pos) = @{ $s->psql('select coalesce(inode::text, \'null\'), pos from promptd.share_view_cursor_get()')->[0] };
my $viewer = 'ab' x 32;    # a viewer hash, as the job makes them
my $rows = qq([{"s": "$sh->{id}", "d": "2026-01-02", "v": "$viewer", "h": "example.org", "t": 1767312000}]);
my $ingest = sub {
    job("select promptd.share_views_ingest($inode, $pos, 42, " . ($pos + 100) . ", '$rows'::jsonb)");
};
my $counted = sub {
    join '/', @{ $s->psql("select s.views, (select count(*) from public.share_daily d where d.share_id = s.id), "
                        . "(select pos from promptd.share_view_cursor_get()) from public.shares s "
                        . "where s.id = '$sh->{id}'")->[0] };
};
is($counted->(), "0/0/$pos", 'the share has no views yet');

# the share locked (as an account's deletion moves or deletes its shares):
# the ingest used to count the batch's days, then wait on the share's row
$kid = $s->hold_tx("select 1 from public.shares where id = '$sh->{id}' for no key update");
$r = eval { $ingest->() };
is($@, '', 'the ingest does not wait for the locked share');
is($r, 'f', '... it answers "nothing counted"');
is($counted->(), "0/0/$pos", '... and counted nothing: no views, no day, the cursor unmoved');
ok(join_hold($kid), 'the locking transaction ended');
is($ingest->(), 't', 'the share free, the same batch is counted');
is($counted->(), '1/1/' . ($pos + 100), '... once: a view, its day, the cursor moved');
is(db1("select count(*) from public.share_referrers where share_id = '$sh->{id}' and host = 'example.org'"), 1,
   '... with its referrer');
is($ingest->(), 'f', 'the same batch again (the cursor moved): nothing counted');
is($counted->(), '1/1/' . ($pos + 100), '... still one view');

# ------------------------------------------------ billing's retiering and the audit chain
# Billing's jobs lock a profile, then write an audit row (which holds the
# audit chain's head until commit).  An account's deletion audited first
# and then waited for the profile; the grace sweep audited one user and
# then waited for the next one's profile: each deadlocked with a
# transaction that holds a profile and then audits.
my ($carol, $tc, $dave, $td, $erin, $te) = $s->users(qw(carol dave erin));
my $audits = sub { db1("select count(*) from public.audit_log where action = '$_[0]' and $_[1]") };
# hold_profile($user): a transaction that locks the profile, audits 1.5 s
# later (billing_retier's order), and ends
my $hold_profile = sub {
    my ($u) = @_;
    return $s->hold_tx("select 1 from public.profiles where id = '$u' for update; select pg_sleep(1.5); "
                     . "select promptd.audit('test.retier', '$u', 'success', '{}'::jsonb, '$u'::uuid)", 0);
};

my $deleted = $audits->('account.delete', "outcome = 'success'");
$kid = $hold_profile->($carol);
$del = api($tc, DELETE => '/api/v1/me');
is($del->{status}, 204, 'carol deletes her account while a job retiering her holds her profile')
    or diag explain $del->{json};
ok(join_hold($kid), '... the job audited and ended: no deadlock');
is(db1("select count(*) from auth.users where id = '$carol'"), 0, '... she is gone');
is(db1("select count(*) from public.profiles where id = '$carol'"), 0, '... with her profile');
is($audits->('account.delete', "outcome = 'success'"), $deleted + 1, '... her deletion audited');

# the sweep: both graces over; the later profile (by id, the sweep's order) held
my $second = (sort $dave, $erin)[1];
for my $u ($dave, $erin) {
    $s->psql("insert into promptd.billing_subscriptions (id, user_id, status, tier, past_due_since) "
           . "values ('sub_lock_$u', '$u', 'past_due', 'pro', now() - interval '30 days'); "
           . "update public.profiles set subscription_tier = 'pro' where id = '$u'");
}
$kid = $hold_profile->($second);
$r = eval { db1("set statement_timeout = '10s'; select promptd.billing_grace_sweep(86400)") };
is($@, '', 'the grace sweep waits for the held profile, no deadlock');
is($r, 2, '... and retiers both users');
ok(join_hold($kid), '... the holder audited and ended');
is(db1("select string_agg(subscription_tier, ',') from public.profiles where id in ('$dave', '$erin')"),
   'free,free', '... both are free');
is($audits->('billing.tier', "target in ('$dave', '$erin') and detail->>'event_id' = 'grace-expired'"), 2,
   '... each change audited');

# ------------------------------------------------ webhook senders and an endpoint's deletion
# webhook_record_all records a sender's attempts in one transaction; each
# attempt's record locked its delivery and then updated its endpoint (its
# failure streak).  Two senders recording attempts for the same endpoints
# in other orders deadlocked, and so did a record and the endpoint's
# deletion (the endpoint's row, then its deliveries by the cascade): the
# victim's outcomes were lost (the deliveries sent again after their
# lease) or the deletion answered 503.  Records now lock the endpoint
# first, in the endpoints' order.
my $ws = db1("select promptd.personal_workspace('$alice')");
my %id = map { $_ => sprintf('00000000-0000-4000-8000-0000000000%s', $_) } qw(e1 e2 e3 d1 d2 d3 d4 d5);
$s->psql("insert into public.webhook_endpoints (id, workspace_id, created_by, url, events, secret_sealed) "
       . join(', ', 'values', map { "('$id{$_}', '$ws', '$alice', 'https://hooks.example.com/$_', "
                                  . "'{prompt.created}', 'sealed')" } qw(e1 e2 e3)) =~ s/values, /values /r);
my $event = db1("insert into promptd.webhook_events (msg_id, workspace_id, type, body, fanned_out) "
              . "values ('msg_lock_order', '$ws', 'prompt.created', '{}', true) returning id");
# sender A holds d1 (e1), d3 (e2) and d5 (e3); sender B d2 (e2) and d4 (e1)
my %of = (d1 => [qw(e1 sender_a)], d2 => [qw(e2 sender_b)], d3 => [qw(e2 sender_a)],
          d4 => [qw(e1 sender_b)], d5 => [qw(e3 sender_a)]);
$s->psql("insert into promptd.webhook_deliveries (id, event_id, endpoint_id, workspace_id, state, attempts, "
       . "locked_by, locked_until) values "
       . join(', ', map { "('$id{$_}', $event, '$id{$of{$_}[0]}', '$ws', 'sending', 1, '$of{$_}[1]', "
                        . "now() + interval '5 minutes')" } sort keys %of));
# record($sender, @deliveries): webhook_record_all's SQL, each attempt a 500
my $record = sub {
    my ($sender, @d) = @_;
    my $json = '[' . join(',', map { qq({"id":"$id{$_}","attempt":1,"status":500,"latency_ms":3,"error":"HTTP 500"}) } @d) . ']';
    return "set statement_timeout = '10s'; select string_agg(right(delivery::text, 2) || '=' || outcome, ',' "
         . "order by delivery) from promptd.webhook_record_all('$sender', '$json'::jsonb, array[60, 60, 60], 86400)";
};
# in_background($tag, $code): run $code in a child until it waits for a
# lock (a statement whose text holds $tag); -> (pid, file with its answer)
my $bg = 0;
my $in_background = sub {
    my ($tag, $code) = @_;
    my $file = "$s->{var}/bg-" . ++$bg;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $out = eval { $code->() };
        open my $fh, '>', $file or POSIX::_exit(2);
        print $fh defined $out ? $out : "error: $@";
        close $fh;
        POSIX::_exit(defined $out ? 0 : 1);
    }
    $s->wait_for(sub { db1("select count(*) from pg_stat_activity where wait_event_type = 'Lock' "
                         . "and query like '%$tag%'") }, timeout => 10)
        or BAIL_OUT("the background statement ($tag) never waited for its lock");
    return ($pid, $file);
};
my $answer = sub { my ($pid, $file) = @_; waitpid($pid, 0); open my $fh, '<', $file or return undef; local $/; <$fh> };

# A records d1 (e1) and then waits for d3, which another transaction holds;
# B records d2 (e2), then d4 (e1): with the old order A held e1 and B e2,
# and A, given d3, waited for e2
$kid = $s->hold_tx("select 1 from promptd.webhook_deliveries where id = '$id{d3}' for update", 2);
my @a = $in_background->('sender_a', sub { db1($record->('sender_a', qw(d1 d3))) });
$r = eval { db1($record->('sender_b', qw(d2 d4))) };
is($@, '', 'sender B records while sender A waits for a held delivery: no deadlock');
is($r, 'd2=pending,d4=pending', "... B's attempts recorded, both to be tried again");
is($answer->(@a), 'd1=pending,d3=pending', "... and A's, once the delivery is free");
ok(join_hold($kid), '... the holder ended');
is(db1("select count(*) from promptd.webhook_deliveries where id in ('$id{d1}', '$id{d2}', '$id{d3}', '$id{d4}') "
     . "and state = 'pending' and last_status = 500 and locked_by is null and next_attempt_at > now()"), 4,
   '... every delivery waits for its next attempt');
is(db1("select count(*) from public.webhook_endpoints where id in ('$id{e1}', '$id{e2}') and failing_since is not null"),
   2, '... and both endpoints are failing');

# e3 deleted while a transaction holds its row; sender A then records d5
# (e3): with the old order A held d5 and waited for e3 behind the
# deletion, which, given e3, waited for d5 (the cascade)
$kid = $s->hold_tx("select 1 from public.webhook_endpoints where id = '$id{e3}' for no key update", 2);
my @del = $in_background->('delete from public.webhook_endpoints',
                           sub { api($ta, DELETE => "/api/v1/webhooks/$id{e3}")->{status} });
$r = eval { db1($record->('sender_a', 'd5')) };
is($@, '', "sender A records an attempt for an endpoint being deleted: no deadlock");
is($r, 'd5=stale', '... the delivery went with its endpoint: the record is stale');
is($answer->(@del), 204, '... and the deletion succeeds');
ok(join_hold($kid), '... the holder ended');
is(db1("select count(*) from public.webhook_endpoints where id = '$id{e3}'"), 0, '... the endpoint is gone');
is(db1("select count(*) from promptd.webhook_deliveries where id = '$id{d5}'"), 0, '... with its delivery');

# A claim took its deliveries in its own order (the due first) and waited
# for each; an endpoint's deletion takes the endpoint, then its
# deliveries in the cascade's order (the newest first).  dc, dd and de
# made in that order, dc due first, dd in flight; dd held: the deletion
# took e4 and de, and waited for dd; the claim took dc and waited for de;
# given dd, the deletion waited for dc: one of them died.  A claim now
# skips a delivery another transaction holds.
%id = (%id, map { $_ => sprintf('00000000-0000-4000-8000-0000000000%s', $_) } qw(e4 dc dd de));
$s->psql("insert into public.webhook_endpoints (id, workspace_id, created_by, url, events, secret_sealed) "
       . "values ('$id{e4}', '$ws', '$alice', 'https://hooks.example.com/e4', '{prompt.created}', 'sealed')");
for (['dc', "now() - interval '2 minutes'", 'pending', 'null'], ['dd', 'null', 'sending', "'sender_a'"],
     ['de', "now() - interval '1 minute'", 'pending', 'null']) {
    my ($d, $due, $state, $by) = @$_;
    $s->psql("insert into promptd.webhook_deliveries (id, event_id, endpoint_id, workspace_id, state, attempts, "
           . "next_attempt_at, locked_by, locked_until) values ('$id{$d}', $event, '$id{e4}', '$ws', '$state', "
           . "1, $due, $by, case when $by is not null then now() + interval '5 minutes' end)");
}
$kid = $s->hold_tx("select 1 from promptd.webhook_deliveries where id = '$id{dd}' for update", 2);
@del = $in_background->('delete from public.webhook_endpoints',
                        sub { api($ta, DELETE => "/api/v1/webhooks/$id{e4}")->{status} });
$r = eval { db1("set statement_timeout = '10s'; select coalesce(string_agg(right(c.delivery::text, 2), ','), '-') "
              . "from promptd.webhook_claim('sender_c', 10, 10, 60) c where c.endpoint = '$id{e4}'") };
is($@, '', 'a claim while an endpoint is being deleted: no deadlock');
is($r, 'dc', '... it claims the delivery nobody holds and skips the one the deletion holds');
is($answer->(@del), 204, '... and the deletion succeeds');
ok(join_hold($kid), '... the holder ended');
is(db1("select count(*) from promptd.webhook_deliveries where endpoint_id = '$id{e4}'"), 0,
   '... the deliveries went with their endpoint');

# ------------------------------------------------ a workspace's owners
# workspace_member_set and _remove locked the member's row, then (for an
# owner) every owner's row: erin leaving and alice stepping down at once,
# each holding their own row, waited for the other's.  Both lock the
# workspace first now: one goes first, and the other finds the last owner.
my $team = api($ta, POST => '/api/v1/workspaces', json => { name => 'Lock order' })->{json}{id}
    or BAIL_OUT('no team workspace');
$s->psql("insert into public.workspace_members (workspace_id, user_id, role) values ('$team', '$erin', 'owner')");
$kid = $s->hold_tx("select 1 from public.workspace_members where workspace_id = '$team' and user_id = '$erin' "
                 . "for update", 2);
my @leave = $in_background->('workspace_member_remove',
                             sub { api($te, DELETE => "/api/v1/workspaces/$team/members/$erin")->{status} });
my @step = $in_background->('workspace_member_set', sub {
    my $r = api($ta, PATCH => "/api/v1/workspaces/$team/members/$alice", json => { role => 'editor' });
    "$r->{status} " . ($r->{json}{detail} // '') });
is($answer->(@leave), 204, 'erin leaves while alice steps down, both owners: no deadlock');
is($answer->(@step), '409 A workspace keeps at least one owner.', '... and alice, then the last owner, stays one');
ok(join_hold($kid), '... the holder ended');
is(db1("select string_agg(user_id::text || ':' || role, ',') from public.workspace_members "
     . "where workspace_id = '$team'"), "$alice:owner", '... the workspace has alice as its owner');

# ------------------------------------------------ a prompt's labels and versions
# prompt_label_set locked the label and then (its history row's foreign
# key) the prompt, while deleting a version locks the prompt, then the
# labels on it (the cascade): moving production back to version 1 while
# version 2, where it points, is deleted deadlocked.  A label move locks
# the prompt first now.
my $lp = api($ta, POST => '/api/v1/prompts', json => { workspace_id => $team, title => 'labelled', content => 'v1' })->{json};
is(api($ta, PATCH => "/api/v1/prompts/$lp->{id}", json => { content => 'v2' })->{json}{version}, 2, 'a prompt with two versions');
is(api($ta, PUT => "/api/v1/prompts/$lp->{id}/labels/production", json => { version => 2 })->{status}, 200,
   '... production on version 2');
$kid = $s->hold_tx("select 1 from public.prompt_labels where prompt_id = '$lp->{id}' and label = 'production' "
                 . "for update", 2);
my @move = $in_background->('prompt_label_set', sub {
    api($ta, PUT => "/api/v1/prompts/$lp->{id}/labels/production", json => { version => 1 })->{status} });
my @drop = $in_background->('prompt_version_delete',
                            sub { api($ta, DELETE => "/api/v1/prompts/$lp->{id}/versions/2")->{status} });
is($answer->(@move), 200, 'production moves back to version 1 while version 2 is deleted: no deadlock');
is($answer->(@drop), 204, '... and version 2 is deleted');
ok(join_hold($kid), '... the holder ended');
is(db1("select version from public.prompt_labels where prompt_id = '$lp->{id}' and label = 'production'"), 1,
   '... production is on version 1');
is(db1("select string_agg(version::text, ',' order by version) from public.prompt_versions "
     . "where prompt_id = '$lp->{id}'"), '1', '... the only version left');

# A change request's decision and a version's deletion locked the prompt
# before they checked who asked: anyone who knew the prompt's id waited
# for its row, and held it for the length of the failing call.  They check
# first now: grace, no member, is answered at once while alice's transaction
# holds the prompt.
my (undef, $tg) = $s->users('grace');
my $cr = api($ta, POST => "/api/v1/prompts/$lp->{id}/change-requests", json => { label => 'staging', version => 1 });
is($cr->{status}, 201, 'a change request to put staging on version 1') or diag explain $cr->{json};
my $held_prompt = sub { db1("select count(*) from pg_stat_activity where wait_event = 'PgSleep' "
                          . "and query like '%from public.prompts where id = ''$lp->{id}''%'") };
$kid = $s->hold_tx("select 1 from public.prompts where id = '$lp->{id}' for update", 5);
$r = api($tg, POST => "/api/v1/prompts/$lp->{id}/change-requests/$cr->{json}{id}/approve", json => {});
is("$r->{status} " . ($r->{json}{detail} // ''), '404 No such change request.',
   "grace, no member, approves alice's change request: 404");
is($held_prompt->(), 1, '... answered while the prompt is held: she waited for nothing');
$r = api($tg, DELETE => "/api/v1/prompts/$lp->{id}/versions/1");
is("$r->{status} " . ($r->{json}{detail} // ''), '404 No such prompt.', "grace deletes alice's version: 404");
is($held_prompt->(), 1, '... answered while the prompt is held');
ok(join_hold($kid), '... the holder ended');
is(db1("select state from public.prompt_change_requests where id = '$cr->{json}{id}'"), 'open',
   '... the change request is still open');
is(db1("select count(*) from public.prompt_versions where prompt_id = '$lp->{id}'"), 1, '... and the version is there');

# ------------------------------------------------ an account's deletion and the rows it changes
# DELETE /api/v1/me audited (the chain's head, held until commit) before
# its cascade, which deletes the user's memberships: a request that locked
# one of them and then audited (a member's removal) deadlocked with it.
# The deletion audits last now, under the pseudonym it then forgets.
my ($frank, $tf) = $s->users('frank');
$s->psql("insert into public.workspace_members (workspace_id, user_id, role) values ('$team', '$frank', 'editor')");
my $pseudonym = db1("select promptd.audit_subject('$frank')");
$deleted = $audits->('account.delete', "outcome = 'success'");
$kid = $s->hold_tx("select 1 from public.workspace_members where workspace_id = '$team' and user_id = '$frank' "
                 . "for update; select pg_sleep(1.5); "
                 . "select promptd.audit('test.member', 'workspace:$team', 'success', '{}'::jsonb, '$alice'::uuid)", 0);
$del = api($tf, DELETE => '/api/v1/me');
is($del->{status}, 204, 'frank deletes his account while a request holds his membership and then audits')
    or diag explain $del->{json};
ok(join_hold($kid), '... the request audited and ended: no deadlock');
is(db1("select count(*) from public.workspace_members where user_id = '$frank'"), 0, '... his membership is gone');
is($audits->('account.delete', "outcome = 'success'"), $deleted + 1, '... his deletion audited');
is(db1("select actor_user from public.audit_log where action = 'account.delete' order by id desc limit 1"), $pseudonym,
   '... under his pseudonym');
is(db1("select count(*) from promptd.audit_subjects where user_id = '$frank' or pseudonym = '$pseudonym'"), 0,
   '... which is forgotten');
is(db1("select max(id) from public.audit_log where action = 'account.delete'"),
   db1("select max(id) from public.audit_log"), '... the last row of the chain');
is(db1("select count(*) from promptd.audit_verify() v where v.hash is distinct from v.computed "
     . "or v.prev_hash is distinct from v.expected_prev"), 0, '... and the chain verifies');

$s->stop;
done_testing;
