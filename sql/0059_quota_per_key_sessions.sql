-- 0059_quota_per_key_sessions.sql: under a "per_key" requests_per_minute limit, a user's sessions count on a counter of their own (key_id all f) and each API key on its own; before, the sessions' counter was the user's all-zero one, which a key's request also found and counted on, so a key was refused once the sessions had spent theirs (and spent theirs for them).  The current minute's counters give up their limits, so that none counts on the old kind.  The current definitions are in sql/functions/requestquota.sql.

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

select promptd.quota_counters_clear(null);
