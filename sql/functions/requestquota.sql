-- requestquota.sql: the request quota (requests_per_minute, issue 13): window counters on pooled sequences, the pool, quota_hit, limits cleared on change, what the workers' hot path may read.
--
-- The one current definition of each; promptctl migrate re-applies this
-- file after the numbered migrations, every run: edit here, never in
-- sql/NNNN_*.sql (see README, "Quotas").
--
-- A window's counter (promptd.quota_counters, requests_per_minute) holds a
-- sequence of the pool and the value it had when the window began (base):
-- its hits are nextval(seq) - base.  nextval writes no row, needs no
-- transaction id (but every 32nd call) and is never rolled back; its
-- values are unique, so any number of workers on any number of hosts admit
-- exactly the limit.  Read-only requests count in one statement of the
-- worker, which also sets their claims (src/http/quota.c,
-- quota_hit_claims), and call quota_hit only when that finds no counter
-- it can use.

-- promptd.quota_counter_used(used, seq, base, lim): a counter's count:
-- used, or for a counter on a pooled sequence the values taken since base
-- (no more than its limit: a refused hit takes a value too).  PL/pgSQL,
-- whose plan the session keeps: as SQL (which cannot be inlined with its
-- own search_path) it was planned again at every call outside a query
-- over many rows, the sequence's taking back among them.
create or replace function promptd.quota_counter_used(p_used bigint, p_seq regclass, p_base bigint, p_lim bigint)
 returns bigint
 language plpgsql
 volatile
 set search_path to ''
as $function$
begin
    if p_seq is null then
        return p_used;
    end if;
    return greatest(0, least(coalesce(pg_catalog.pg_sequence_last_value(p_seq), p_base) - p_base,
                             coalesce(p_lim, 9223372036854775807)));
end
$function$;
revoke all on function promptd.quota_counter_used(bigint, regclass, bigint, bigint) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.quota_seq_new() -> a new sequence in the pool, free; the workers
-- may take its values (the hot path of quota_hit).
create or replace function promptd.quota_seq_new()
 returns regclass
 language plpgsql
 volatile
 security definer
 set search_path to ''
as $function$
declare
    v_name text := 'quota_seq_' || nextval('promptd.quota_seq_names');
begin
    execute format('create sequence promptd.%I', v_name);
    execute format('grant usage on sequence promptd.%I to promptd_app', v_name);
    insert into promptd.quota_seqs (seq) values (('promptd.' || v_name)::regclass);
    return ('promptd.' || v_name)::regclass;
end
$function$;
revoke all on function promptd.quota_seq_new() from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.quota_seqs_size(n) -> {request_seqs, pool}: the pool may hold n
-- sequences, and holds at least n from now on (made here, so that the
-- first minutes of traffic make none; a smaller n drops none).  The
-- operator's (promptctl quota seqs N).
create or replace function promptd.quota_seqs_size(p_n integer)
 returns jsonb
 language plpgsql
 volatile
 security definer
 set search_path to ''
as $function$
declare
    v_have bigint;
begin
    if p_n is null or p_n < 0 or p_n > 1000000 then
        raise exception 'the pool size must be from 0 to 1000000' using errcode = '22023';
    end if;
    select count(*) into v_have from promptd.quota_seqs;
    for i in v_have + 1 .. p_n loop
        perform promptd.quota_seq_new();
    end loop;
    -- last: its trigger (quota_limits_changed) holds up the making of
    -- counters until this transaction ends
    update promptd.quota_settings s set request_seqs = p_n where s.id;
    return jsonb_build_object('request_seqs', p_n,
                              'pool', (select count(*) from promptd.quota_seqs));
end
$function$;
revoke all on function promptd.quota_seqs_size(integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.quota_seq_take(user, key, window) -> a sequence of the pool for
-- that requests_per_minute counter, or null when the pool is full.  A
-- sequence whose counter's window has been over for a minute or more (no
-- hit of it can still be running) is taken back: that counter's count is
-- written into its used first.  A new sequence is made while the pool is
-- smaller than quota_settings.request_seqs (two callers at once may pass
-- it by one each).
create or replace function promptd.quota_seq_take(p_user uuid, p_key uuid, p_start timestamp with time zone)
 returns regclass
 language plpgsql
 volatile
 security definer
 set search_path to ''
as $function$
declare
    v     record;
    v_seq regclass;
begin
    select s.* into v from promptd.quota_seqs s
     where s.window_start is null or s.window_start < p_start - interval '1 minute'
     order by s.window_start nulls first limit 1
     for update skip locked;
    if found then
        if v.window_start is not null then
            update promptd.quota_counters c
               set used = promptd.quota_counter_used(c.used, c.seq, c.base, c.lim), seq = null, base = null
             where c.user_id = v.user_id and c.resource = 'requests_per_minute'
               and c.window_start = v.window_start and c.key_id = v.key_id and c.seq = v.seq;
        end if;
        update promptd.quota_seqs s set user_id = p_user, key_id = p_key, window_start = p_start
         where s.seq = v.seq;
        return v.seq;
    end if;
    if (select count(*) from promptd.quota_seqs) >=
       coalesce((select s.request_seqs from promptd.quota_settings s where s.id), 0) then
        return null;
    end if;
    v_seq := promptd.quota_seq_new();
    update promptd.quota_seqs s set user_id = p_user, key_id = p_key, window_start = p_start
     where s.seq = v_seq;
    return v_seq;
end
$function$;
revoke all on function promptd.quota_seq_take(uuid, uuid, timestamp with time zone) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.quota_request_counter(user, key, window, lim) -> (key_id, lim,
-- seq, base): the requests_per_minute counter of that window, made (on a
-- sequence of the pool when one is free) or given its limit again; lim -1
-- marks the window unlimited (no plan limit, or enforcement off), so that
-- the hot path answers without calling quota_hit.  Its makers are
-- serialized per counter by a transaction advisory lock.
create or replace function promptd.quota_request_counter(p_user uuid, p_key uuid, p_start timestamp with time zone, p_lim bigint, out key_id uuid, out lim bigint, out seq regclass, out base bigint)
 returns record
 language plpgsql
 volatile
 security definer
 set search_path to ''
as $function$
declare
    v_seq regclass;
begin
    perform pg_advisory_xact_lock(hashtextextended(
        'quota_hit:' || p_user || ':' || p_key || ':' || p_start, 0));
    update promptd.quota_counters c set lim = p_lim
     where c.user_id = p_user and c.resource = 'requests_per_minute'
       and c.window_start = p_start and c.key_id = p_key
    returning c.key_id, c.lim, c.seq, c.base into key_id, lim, seq, base;
    if found then
        return;
    end if;
    if p_lim >= 0 then
        v_seq := promptd.quota_seq_take(p_user, p_key, p_start);
    end if;
    insert into promptd.quota_counters as c (user_id, key_id, resource, window_start, used, lim, seq, base)
    values (p_user, p_key, 'requests_per_minute', p_start, 0, p_lim, v_seq,
            case when v_seq is not null then nextval(v_seq) end)
    returning c.key_id, c.lim, c.seq, c.base into key_id, lim, seq, base;
end
$function$;
revoke all on function promptd.quota_request_counter(uuid, uuid, timestamp with time zone, bigint) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.quota_hit(user, key, async) -> (quota, remaining, window_s,
-- reset_s, counter_seq, counter_base, counter_window), the first four null
-- when the caller's plan has no request rate limit (or enforcement is
-- off): one request against requests_per_minute, counted
-- per API key when the effective "per_key" array names the resource: each
-- key on its own counter (key_id the key's), the user's sessions on one
-- of their own (key_id all f: no key's counter, so a key's request never
-- counts on it); otherwise on the user's one counter (key_id all zero),
-- which a key's request counts on too.  Raises PDQ29 when the window is
-- spent.  The workers send
-- it, as their own login role, in the pipeline of a read-write request's
-- first statement as an implicit transaction of its own, and after a
-- read-only request when its hot path (src/http/quota.c) found no counter
-- it could count on; async: that transaction commits without waiting for
-- the WAL flush (a crash may forget the last few hits of an UPDATE-counted
-- window, never grant a second window).
-- The window's counter carries the limit it was made under (lim, -1 for
-- none; cleared by every limit change: quota_plan_set, quota_override_set,
-- quota_limits_changed) and counts on a pooled sequence (nextval: one hit
-- each, refused ones too, never rolled back) or, when the pool was full,
-- by UPDATE below its limit.  The counter counted on, for the worker
-- that called (src/http/quotaseq.c keeps it, as it keeps a lookup's):
-- its sequence (OID) and base, and the window's start in Unix seconds;
-- the start alone for a window marked unlimited, all null for a counter
-- without a sequence.
create or replace function promptd.quota_hit(p_user uuid, p_key uuid, p_async boolean, out quota bigint, out remaining bigint, out window_s integer, out reset_s integer, out counter_seq oid, out counter_base bigint, out counter_window bigint)
 returns record
 language plpgsql
 volatile
 security definer
 set search_path to ''
as $function$
declare
    v_zero   constant uuid := '00000000-0000-0000-0000-000000000000';
    v_sess   constant uuid := 'ffffffff-ffff-ffff-ffff-ffffffffffff';
    v_start  timestamptz := date_trunc('minute', now(), 'UTC');
    v_c      record;
    v_lim    jsonb;
    v_perkey boolean;
    v_tier   text;
    v_used   bigint;
begin
    if p_user is null then
        return;
    end if;
    select c.key_id, c.lim, c.seq, c.base into v_c from promptd.quota_counters c
     where c.user_id = p_user and c.resource = 'requests_per_minute' and c.window_start = v_start
       and c.key_id in (coalesce(p_key, v_sess), v_zero) and c.lim is not null
     order by c.key_id = v_zero limit 1;
    if not found then
        -- the limits are read, and the counter made, while no change of
        -- them can commit (quota_counters_clear waits, then clears it)
        perform pg_advisory_xact_lock_shared(hashtextextended('promptd.quota_limits', 0));
        select case when o.limits ? 'requests_per_minute' then o.limits -> 'requests_per_minute'
                    else pl.limits -> 'requests_per_minute' end,
               coalesce(case when o.limits ? 'per_key' then o.limits -> 'per_key'
                             else pl.limits -> 'per_key' end ? 'requests_per_minute', false),
               pl.tier
          into v_lim, v_perkey, v_tier
          from public.plans pl
          left join public.profiles p on p.id = p_user
          left join promptd.quota_overrides o on o.user_id = p_user
         where pl.tier = coalesce(p.subscription_tier, 'free')
           and coalesce((select s.enforce from promptd.quota_settings s where s.id), true);
        if jsonb_typeof(v_lim) is distinct from 'number' then
            if exists (select 1 from auth.users u where u.id = p_user) then
                perform promptd.quota_request_counter(p_user, v_zero, v_start, -1);
                counter_window := extract(epoch from v_start)::bigint;
            end if;    -- else no account (deleted, not yet made): the request's own checks answer
            return;
        end if;
        if v_lim::bigint <= 0 then
            perform promptd.quota_refuse(p_user, v_tier, 'requests_per_minute', 0, 0,
                                         v_start + interval '1 minute');
        end if;
        select * into v_c from promptd.quota_request_counter(p_user,
            case when v_perkey then coalesce(p_key, v_sess) else v_zero end, v_start, v_lim::bigint);
    end if;
    if v_c.lim < 0 then
        counter_window := extract(epoch from v_start)::bigint;
        return;    -- unlimited this window
    end if;
    quota := v_c.lim;
    if v_c.seq is not null then
        v_used := nextval(v_c.seq) - v_c.base;
    else
        update promptd.quota_counters c set used = c.used + 1
         where c.user_id = p_user and c.resource = 'requests_per_minute'
           and c.window_start = v_start and c.key_id = v_c.key_id and c.used < c.lim
        returning c.used into v_used;
    end if;
    if v_used is null or v_used > quota then
        if v_tier is null then
            select p.subscription_tier into v_tier from public.profiles p where p.id = p_user;
        end if;
        perform promptd.quota_refuse(p_user, coalesce(v_tier, 'free'), 'requests_per_minute',
                                     quota, quota, v_start + interval '1 minute');
    end if;
    if p_async then
        perform set_config('synchronous_commit', 'off', true);
    end if;
    remaining := quota - v_used;
    if v_c.seq is not null then
        counter_seq := v_c.seq;
        counter_base := v_c.base;
        counter_window := extract(epoch from v_start)::bigint;
    end if;
    window_s := 60;
    reset_s := greatest(1, ceil(extract(epoch from v_start + interval '1 minute' - now())))::int;
end
$function$;
revoke all on function promptd.quota_hit(uuid, uuid, boolean) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.quota_hit(uuid, uuid, boolean) to promptd_app;

-- promptd.quota_counters_clear(user): a limit changed for user (null:
-- for every user): the current minute's request counters give up their
-- limit, so the next hit reads the limits again, and the workers hear of
-- it at this transaction's commit (NOTIFY promptd_quota, the user's id or
-- '' for all), so that none counts on a limit it holds (src/http/quotaseq.c).
-- It waits for every quota_hit making a counter under the old limits (and
-- such a hit waits for this transaction): a counter made meanwhile, which
-- this UPDATE could not see, would keep the old limit for its minute.
create or replace function promptd.quota_counters_clear(p_user uuid)
 returns void
 language plpgsql
 volatile
 security definer
 set search_path to ''
as $function$
begin
    perform pg_advisory_xact_lock(hashtextextended('promptd.quota_limits', 0));
    update promptd.quota_counters c set lim = null
     where c.resource = 'requests_per_minute' and c.lim is not null
       and c.window_start >= date_trunc('minute', now(), 'UTC')
       and (p_user is null or c.user_id = p_user);
    perform pg_notify('promptd_quota', coalesce(p_user::text, ''));
end
$function$;
revoke all on function promptd.quota_counters_clear(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.quota_limits_changed(): trigger (0027) on promptd.quota_settings
-- (every user) and on a profile's subscription_tier (that user): the
-- current minute's request counters give up their limit
-- (quota_counters_clear).
create or replace function promptd.quota_limits_changed()
 returns trigger
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    v_user uuid;
begin
    if tg_level = 'ROW' then
        v_user := new.id;
    end if;
    perform promptd.quota_counters_clear(v_user);
    return null;
end
$function$;
revoke all on function promptd.quota_limits_changed() from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- Row level security on promptd.quota_counters: the workers' hot path of
-- the request quota (src/http/quota.c, quota_hit_direct) reads
-- requests_per_minute counters as promptd_app (column grants: 0027);
-- everything else goes through the definer functions.
drop policy if exists quota_counters_app_requests on promptd.quota_counters;
create policy quota_counters_app_requests on promptd.quota_counters for select to promptd_app
    using (resource = 'requests_per_minute');
