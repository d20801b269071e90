-- 0027_quota_request_seqs.sql: the request quota counted on pooled sequences (nextval: no transaction id, no row version per request), read by the workers' one-statement hot path; limits cleared at once when enforcement or a user's tier changes.
--
-- A requests_per_minute counter row may hold a sequence from the pool
-- (seq) and the value it had when the window began (base): the window's
-- hits are nextval(seq) - base.  nextval is not rolled back, so a hit is
-- counted whatever becomes of the request's transaction; the values are
-- unique, so any number of workers on any number of hosts admit exactly
-- the limit.  A sequence is taken from promptd.quota_seqs when a window's
-- first hit creates the counter and given to another counter once its
-- window has been over for a minute, when that counter's count is written
-- into used.  When the pool is full (quota_settings.request_seqs), counters
-- count by UPDATE as before.
alter table promptd.quota_counters add column seq regclass, add column base bigint;

create table promptd.quota_seqs (
    seq          regclass primary key,
    user_id      uuid,           -- the counter holding it (null: free)
    key_id       uuid,
    window_start timestamptz
);
create index quota_seqs_window on promptd.quota_seqs (window_start nulls first);
create sequence promptd.quota_seq_names;
alter table promptd.quota_seqs enable row level security;
alter table promptd.quota_seqs force row level security;
revoke all on table promptd.quota_seqs from public, anon, authenticated, service_role;
revoke all on sequence promptd.quota_seq_names from public, anon, authenticated, service_role;

-- The pool's size: sequences at most (each is a relation of one page).
alter table promptd.quota_settings add column request_seqs integer not null default 10000
    check (request_seqs >= 0);

-- The hot path reads the counter (never writes it) as promptd_app; the row
-- policy (sql/functions/requestquota.sql) limits it to requests_per_minute.
grant select (user_id, key_id, resource, window_start, lim, seq, base)
    on table promptd.quota_counters to promptd_app;

-- The functions as of this migration (sql/functions/quota.sql and
-- requestquota.sql keep the current definitions).

-- promptd.quota_counter_used(used, seq, base, lim): a counter's count:
-- used, or for a counter on a pooled sequence the values taken since base
-- (no more than its limit: a refused hit takes a value too).
create or replace function promptd.quota_counter_used(p_used bigint, p_seq regclass, p_base bigint, p_lim bigint)
 returns bigint
 language sql
 volatile
 set search_path to ''
as $function$
    select case when p_seq is null then p_used
                else greatest(0, least(coalesce(pg_catalog.pg_sequence_last_value(p_seq), p_base) - p_base,
                                       coalesce(p_lim, 9223372036854775807))) end
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
    update promptd.quota_settings s set request_seqs = p_n where s.id;
    select count(*) into v_have from promptd.quota_seqs;
    for i in v_have + 1 .. p_n loop
        perform promptd.quota_seq_new();
    end loop;
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
-- reset_s), all null when the caller's plan has no request rate limit (or
-- enforcement is off): one request against requests_per_minute, counted
-- per API key when the effective "per_key" array names the resource and
-- key is given.  Raises PDQ29 when the window is spent.  The workers send
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
-- by UPDATE below its limit.
create or replace function promptd.quota_hit(p_user uuid, p_key uuid, p_async boolean, out quota bigint, out remaining bigint, out window_s integer, out reset_s integer)
 returns record
 language plpgsql
 volatile
 security definer
 set search_path to ''
as $function$
declare
    v_zero   constant uuid := '00000000-0000-0000-0000-000000000000';
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
       and c.key_id in (coalesce(p_key, v_zero), v_zero) and c.lim is not null
     order by c.key_id = v_zero limit 1;
    if not found then
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
            end if;    -- else no account (deleted, not yet made): the request's own checks answer
            return;
        end if;
        if v_lim::bigint <= 0 then
            perform promptd.quota_refuse(p_user, v_tier, 'requests_per_minute', 0, 0,
                                         v_start + interval '1 minute');
        end if;
        select * into v_c from promptd.quota_request_counter(p_user,
            case when v_perkey and p_key is not null then p_key else v_zero end, v_start, v_lim::bigint);
    end if;
    if v_c.lim < 0 then
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
    window_s := 60;
    reset_s := greatest(1, ceil(extract(epoch from v_start + interval '1 minute' - now())))::int;
end
$function$;
revoke all on function promptd.quota_hit(uuid, uuid, boolean) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.quota_hit(uuid, uuid, boolean) to promptd_app;

-- promptd.quota_usage(user, days) -> {user_id, tier, plan, limits,
-- overrides, enforced, resources: [...], history: [{day, resource, used}]}:
-- every resource with its limit, use, holds, remaining, window and reset;
-- history per UTC day for the last days days (counters, their daily
-- roll-up and usage_tracking actions).  A caller other than the user must
-- be an admin (42501); null when the user does not exist.
create or replace function promptd.quota_usage(p_user uuid, p_days integer)
 returns jsonb
 language plpgsql
 stable
 security definer
 set search_path to ''
as $function$
declare
    v_tier   text;
    v_limits jsonb;
begin
    if auth.uid() is not null and auth.uid() is distinct from p_user and not promptd.is_admin() then
        raise exception 'quota_usage: not allowed' using errcode = '42501';
    end if;
    if not exists (select 1 from auth.users u where u.id = p_user) then
        return null;
    end if;
    select l.tier, l.limits into v_tier, v_limits from promptd.quota_limits(p_user) l;
    return jsonb_build_object(
        'user_id', p_user, 'tier', v_tier,
        'plan', (select jsonb_build_object('tier', pl.tier, 'name', pl.name, 'limits', pl.limits)
                   from public.plans pl where pl.tier = v_tier),
        'overrides', coalesce((select o.limits from promptd.quota_overrides o where o.user_id = p_user), '{}'::jsonb),
        'limits', v_limits, 'enforced', promptd.quota_enabled(), 'now', now(),
        'resources', (select jsonb_agg(x.o order by x.n) from (
            select r.n, jsonb_build_object(
                'resource', r.resource, 'kind', r.kind, 'unit', r.unit, 'window', r.window_name,
                'window_seconds', extract(epoch from w.window_end - w.window_start)::bigint,
                'window_start', w.window_start, 'resets_at', w.window_end,
                'limit', promptd.quota_num(v_limits, r.resource),
                'used', u.used, 'reserved', u.reserved,
                'remaining', greatest(promptd.quota_num(v_limits, r.resource) - u.used - u.reserved, 0),
                'per_key', coalesce(v_limits -> 'per_key' ? r.resource, false),
                'upgrade_tier', case when promptd.quota_num(v_limits, r.resource) is not null
                    then promptd.quota_upgrade(v_tier, r.resource,
                                               promptd.quota_num(v_limits, r.resource)) end) as o
              from (select q.*, row_number() over () as n from promptd.quota_resources() q) r
              left join lateral promptd.quota_window(r.resource, now()) w on true
              cross join lateral (
                  select case when r.kind = 'window' then
                              (select coalesce(sum(promptd.quota_counter_used(c.used, c.seq, c.base, c.lim)), 0)
                                 from promptd.quota_counters c
                                where c.user_id = p_user and c.resource = r.resource
                                  and c.window_start = w.window_start)
                         else promptd.quota_count_used(p_user, r.resource) end::bigint as used,
                         case when r.kind = 'window' then
                              (select coalesce(sum(c.reserved), 0) from promptd.quota_counters c
                                where c.user_id = p_user and c.resource = r.resource
                                  and c.window_start = w.window_start)
                         else 0 end::bigint as reserved) u) x),
        'history', coalesce((select jsonb_agg(jsonb_build_object('day', h.day, 'resource', h.resource, 'used', h.used)
                                order by h.day desc, h.resource)
            from (select d.day, d.resource, sum(d.used)::bigint as used from (
                      select (c.window_start at time zone 'UTC')::date as day, c.resource,
                             promptd.quota_counter_used(c.used, c.seq, c.base, c.lim) as used
                        from promptd.quota_counters c
                       where c.user_id = p_user and c.resource <> 'tokens_per_month'
                         and c.window_start >= now() - make_interval(days => p_days)
                      union all
                      select q.day, q.resource, q.used from promptd.quota_daily q
                       where q.user_id = p_user and q.day >= (now() at time zone 'UTC')::date - p_days
                      union all
                      select (t.created_at at time zone 'UTC')::date, 'action:' || t.action, t.quantity
                        from public.usage_tracking t
                       where t.user_id = p_user and t.created_at >= now() - make_interval(days => p_days)) d
                  group by d.day, d.resource) h), '[]'::jsonb));
end
$function$;
revoke all on function promptd.quota_usage(uuid, integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.quota_usage(uuid, integer) to service_role, promptd_app;

-- promptd.quota_purge(batch) -> {"released": n, "rolled_up": n,
-- "reservations": n, "counters": n}: one batch of each: holds past their
-- ttl released; minute counters of finished days rolled up into
-- quota_daily; finished reservations older than 7 days and day/month
-- counters older than 400 days deleted.  The "quota.purge" schedule calls
-- it until every count is below batch.
create or replace function promptd.quota_purge(p_batch integer)
 returns jsonb
 language plpgsql
 volatile
 security definer
 set search_path to ''
as $function$
declare
    v_released bigint := 0;
    v_rolled   bigint := 0;
    v_res      bigint := 0;
    v_cnt      bigint := 0;
    v_id       uuid;
begin
    for v_id in select r.id from promptd.quota_reservations r
                 where r.state = 'held' and r.expires_at < now()
                 order by r.expires_at limit p_batch
                 for update skip locked loop
        perform promptd.quota_release(v_id);
        update promptd.quota_reservations r set state = 'expired' where r.id = v_id;
        v_released := v_released + 1;
    end loop;
    with gone as (
        delete from promptd.quota_counters c
         where (c.user_id, c.key_id, c.resource, c.window_start) in (
               select x.user_id, x.key_id, x.resource, x.window_start from promptd.quota_counters x
                where x.resource = 'requests_per_minute'
                  and x.window_start < date_trunc('day', now(), 'UTC')
                limit p_batch)
        returning c.user_id, c.resource, c.window_start,
                  promptd.quota_counter_used(c.used, c.seq, c.base, c.lim) as used),
    ins as (
        insert into promptd.quota_daily as q (user_id, day, resource, used)
        select g.user_id, (g.window_start at time zone 'UTC')::date, g.resource, sum(g.used)
          from gone g group by 1, 2, 3
        on conflict (user_id, day, resource) do update set used = q.used + excluded.used
        returning 1)
    select count(*) into v_rolled from gone;
    delete from promptd.quota_reservations r where r.id in (
        select x.id from promptd.quota_reservations x
         where x.state <> 'held' and x.finished_at < now() - interval '7 days' limit p_batch);
    get diagnostics v_res = row_count;
    delete from promptd.quota_counters c
     where (c.user_id, c.key_id, c.resource, c.window_start) in (
           select x.user_id, x.key_id, x.resource, x.window_start from promptd.quota_counters x
            where x.resource <> 'requests_per_minute'
              and x.window_start < now() - interval '400 days'
              and x.reserved = 0
            limit p_batch);
    get diagnostics v_cnt = row_count;
    delete from promptd.quota_daily q where q.day < (now() at time zone 'UTC')::date - 400;
    return jsonb_build_object('released', v_released, 'rolled_up', v_rolled,
                              'reservations', v_res, 'counters', v_cnt);
end
$function$;
revoke all on function promptd.quota_purge(integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.quota_purge(integer) to service_role;

-- Row level security on promptd.quota_counters: the workers' hot path of
-- the request quota (src/http/quota.c, quota_hit_direct) reads
-- requests_per_minute counters as promptd_app (column grants: 0027);
-- everything else goes through the definer functions.
drop policy if exists quota_counters_app_requests on promptd.quota_counters;
create policy quota_counters_app_requests on promptd.quota_counters for select to promptd_app
    using (resource = 'requests_per_minute');

-- The purge's index: BRIN on the window (counters are written in window
-- order), in place of the btree on (resource, window_start), which the
-- planner took for the hot path's lookup whenever the statistics had not
-- yet seen the current window (one row expected there; the whole window
-- scanned in fact).
drop index promptd.quota_counters_window;
create index quota_counters_window on promptd.quota_counters using brin (window_start);

-- Limits follow at once: a change of enforcement or of a user's tier
-- clears the limit the current minute's counters carry.
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
    update promptd.quota_counters c set lim = null
     where c.resource = 'requests_per_minute' and c.lim is not null
       and c.window_start >= date_trunc('minute', now(), 'UTC')
       and (v_user is null or c.user_id = v_user);
    return null;
end
$function$;
revoke all on function promptd.quota_limits_changed() from public, anon, authenticated, service_role, promptd_app, promptd_auth;

create trigger quota_settings_changed after update on promptd.quota_settings
    for each statement execute function promptd.quota_limits_changed();
create trigger quota_tier_changed after update of subscription_tier on public.profiles
    for each row when (old.subscription_tier is distinct from new.subscription_tier)
    execute function promptd.quota_limits_changed();
