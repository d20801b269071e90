#!/usr/bin/perl
# 806-quota-worker-clock.t: the request counters a worker keeps (src/http/quotaseq.c): the one quota_hit counted on is kept, and a worker whose clock runs 40 s ahead or 25 s behind the database's (libfaketime) admits exactly the limit in each of the database's windows, never a second window.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use Time::HiRes qw(sleep);
use POSIX qw(strftime);
use Promptd::Test qw(db1);
use Promptd::SF qw(sf_param);

my $LIB = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
BAIL_OUT("$LIB is missing: run ./bootstrap (Debian package libfaketime)") unless -r $LIB;

# The workers' clock: an offset in seconds, read at every call (the spec
# file, readable by the service user the workers run as under root).
my $dir = tempdir('promptd-faketime-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $dir;
my $spec = "$dir/spec";
sub skew {
    my ($offset) = @_;
    open(my $fh, '>', "$spec.new") or die "$spec.new: $!";
    print $fh "$offset\n";
    close $fh;
    chmod 0644, "$spec.new";
    rename "$spec.new", $spec or die "rename: $!";
}
skew('+0');

# One prompts worker: which worker answers is then known.
my $s = Promptd::Test->new(PROMPTD_WORKERS => 1, quotas => 1,
    PROMPTD_PG_SETTINGS => "shared_preload_libraries = 'pg_stat_statements'",
    PROMPTD_WORKER_PRELOAD => $LIB,
    FAKETIME_TIMESTAMP_FILE => $spec, FAKETIME_NO_CACHE => 1,
    FAKETIME_ONLY_CMDS => 'prompts.fcgi',
    FAKETIME_DONT_FAKE_MONOTONIC => 1,   # the wall clock only, as a host's skew
    # the library comes before the sanitizers' runtime (make check's ASan stage)
    ASAN_OPTIONS => join(':', grep { length } $ENV{ASAN_OPTIONS} // '', 'verify_asan_link_order=0'));
my ($ann, $ta, $ben, $tb, $cat, $tc) = $s->users(qw(ann ben cat));
$s->psql("create extension if not exists pg_stat_statements");

sub get { $s->request(GET => '/api/v1/prompts', { token => $_[0] }) }
sub statuses { my ($tok, $n) = @_; [map { get($tok)->{status} } 1 .. $n] }
sub calls {
    my ($like) = @_;
    return db1("select coalesce(sum(calls), 0) from pg_stat_statements where query like '$like'");
}
# the RateLimit field's seconds to the window's end
sub reset_t { sf_param($_[0]{headers}{ratelimit}, 'requests_per_minute', 't') }
# "window-start-minute:count ..." of user's request counters, oldest first.
sub windows {
    my ($user) = @_;
    return db1("select string_agg(to_char(window_start, 'HH24:MI') || ':' "
        . "|| promptd.quota_counter_used(used, seq, base, lim), ' ' order by window_start) "
        . "from promptd.quota_counters where user_id = '$user' and resource = 'requests_per_minute'");
}
sub db_minute { db1("select to_char(date_trunc('minute', now()) + make_interval(mins => $_[0]), 'HH24:MI')") }
# The worker's clock as its log shows it, minus this host's: seconds.  The
# worker logs a request after it answered it, so the line of this request
# (its X-Request-Id) is waited for: the last line may be an older one.
sub worker_offset {
    my $id = get($tc)->{headers}{'x-request-id'} or return undef;
    my $ts = $s->wait_for(sub {
        open(my $fh, '<', $s->var_dir . '/log/prompts.log') or return;
        while (<$fh>) {
            return $1 if /^\{"ts":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)[^\n]*"request_id":"\Q$id\E"/;
        }
        return;
    }, timeout => 10) or return undef;
    my $now = strftime('%Y-%m-%dT%H:%M:%S', gmtime);
    return db1("select extract(epoch from '$ts'::timestamp - '$now'::timestamp)::int");
}

# ------------------------------------------------ the counter quota_hit counted on is kept
# The first request finds no counter; quota_hit makes it and answers it,
# and the worker keeps it: every later request sends only its nextval.
$s->promptctl('quota', 'set', $cat, 'requests_per_minute=100');
$s->at_second(0, 40);
$s->psql("select pg_stat_statements_reset()");
is_deeply(statuses($tc, 6), [(200) x 6], 'cat: 6 of 100 admitted');
is(calls('select quota, remaining, window_s, reset_s, % from promptd.quota_hit(%'), 1,
   'quota_hit ran once: it made the counter');
is(calls('with h as (select c.lim, case when c.lim >= %nextval(c.seq)%'), 1,
   'one lookup (the first request), none after quota_hit answered');
is(calls('select nullif($6::bigint, -1)%nextval($5::regclass)%'), 5,
   'the five others counted on the counter kept: nextval only');

# ------------------------------------------------ a worker clock 40 s ahead
skew('+40');
my $off = worker_offset();
ok(defined $off && $off >= 35 && $off <= 45, "the worker's clock runs ahead (" . ($off // 'unknown') . ' s)');
$s->promptctl('quota', 'set', $ann, 'requests_per_minute=3');
$s->at_second(2, 12);    # the worker: second 42-52, its window nearly over
my $w = db_minute(0);
my @r = map { get($ta) } 1 .. 4;
is_deeply([map { $_->{status} } @r], [200, 200, 200, 429], "ann: 3 admitted in the database's window $w, the 4th refused");
cmp_ok(reset_t($r[0]) // 0, '>=', 40, "RateLimit's t counts to the database's window end (" . (reset_t($r[0]) // 'none') . ')');
cmp_ok($r[3]{headers}{'retry-after'} // 0, '>=', 40, 'Retry-After too');
$s->at_second(22, 45);    # the worker: a new minute by its clock
is_deeply(statuses($ta, 3), [(429) x 3], 'a new minute by the worker\'s clock: still refused, no second window');
is(windows($ann), "$w:3", 'one window counted, by the database clock: 3');

# ------------------------------------------------ a worker clock 25 s behind
# (25: within the tokens' 30 s leeway for iat, as minted now)
skew('-25');
$off = worker_offset();
ok(defined $off && $off >= -30 && $off <= -20, "the worker's clock runs behind (" . ($off // 'unknown') . ' s)');
$s->promptctl('quota', 'set', $ben, 'requests_per_minute=5');
$w = db_minute(0);
my $next = db_minute(1);
is_deeply(statuses($tb, 3), [(200) x 3], "ben: 3 in the database's window $w");
$s->at_second(1, 15);    # the database's next minute; the worker: still the last one
is(db_minute(0), $next, 'the database clock moved on a minute');
@r = map { get($tb) } 1 .. 6;
is_deeply([map { $_->{status} } @r], [(200) x 5, 429], "the new window admits 5 again, then refuses: the worker's kept counter stopped at the database's minute");
cmp_ok(reset_t($r[0]) // 0, '>=', 40, 'its RateLimit t counts to the new window\'s end');
is(windows($ben), "$w:3 $next:5", 'the old window kept its 3, the new one counted 5');

skew('+0');
$s->stop;
done_testing;
