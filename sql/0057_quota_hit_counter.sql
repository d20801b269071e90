-- 0057_quota_hit_counter.sql: quota_hit also answers the counter it counted on (its sequence, base and window), so that the worker whose hit fell back to it keeps that counter as it keeps a lookup's (src/http/quotaseq.c), quota_counter_used becomes PL/pgSQL, whose plan a session keeps (as SQL it was planned at every lone call, the sequence's taking back among them), and a change of limits (quota_counters_clear) and the making of a window's counter (quota_hit) wait for each other, so that a counter made while limits change cannot keep the old limit for its minute (quota_seqs_size changes the pool's size last, its trigger's wait then as short as the rest of its transaction).  The current definitions are in sql/functions/requestquota.sql.

-- more OUT columns: a new return type, so the old function goes first
drop function promptd.quota_hit(uuid, uuid, boolean);

create or replace function promptd.quota_hit(p_user uuid, p_key uuid, p_async boolean, out quota bigint, out remaining bigint, out window_s integer, out reset_s integer, out counter_seq oid, out counter_base bigint, out counter_window bigint)
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
            case when v_perkey and p_key is not null then p_key else v_zero end, v_start, v_lim::bigint);
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
