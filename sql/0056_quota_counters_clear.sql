-- 0056_quota_counters_clear.sql: a change of limits clears the current minute's request counters through one function, promptd.quota_counters_clear, which also tells the workers (NOTIFY promptd_quota) so that none keeps counting on a limit it holds (src/http/quotaseq.c).  The current definitions are in sql/functions/requestquota.sql and sql/functions/quota.sql.

create or replace function promptd.quota_counters_clear(p_user uuid)
 returns void
 language plpgsql
 volatile
 security definer
 set search_path to ''
as $function$
begin
    update promptd.quota_counters c set lim = null
     where c.resource = 'requests_per_minute' and c.lim is not null
       and c.window_start >= date_trunc('minute', now(), 'UTC')
       and (p_user is null or c.user_id = p_user);
    perform pg_notify('promptd_quota', coalesce(p_user::text, ''));
end
$function$;
revoke all on function promptd.quota_counters_clear(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

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

create or replace function promptd.quota_plan_set(p_tier text, p_limits jsonb)
 returns jsonb
 language plpgsql
 volatile
 security definer
 set search_path to ''
as $function$
declare
    v jsonb;
begin
    if auth.uid() is not null and not promptd.is_admin() then
        raise exception 'quota_plan_set: admins only' using errcode = '42501';
    end if;
    perform promptd.quota_check_limits(p_limits);
    update public.plans pl set limits = pl.limits || p_limits where pl.tier = p_tier
    returning jsonb_build_object('tier', pl.tier, 'name', pl.name, 'limits', pl.limits) into v;
    -- counters of the current minute re-read their limit on the next hit
    perform promptd.quota_counters_clear(null);
    if v is not null then
        perform promptd.audit('plan.update', 'plan:' || p_tier, 'success',
            jsonb_build_object('limits', p_limits,
                'via', case when auth.uid() is null then 'promptctl' else 'api' end), null);
    end if;
    return v;
end
$function$;
revoke all on function promptd.quota_plan_set(text, jsonb) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.quota_plan_set(text, jsonb) to promptd_app;

create or replace function promptd.quota_override_set(p_user uuid, p_limits jsonb)
 returns jsonb
 language plpgsql
 volatile
 security definer
 set search_path to ''
as $function$
begin
    if auth.uid() is not null and not promptd.is_admin() then
        raise exception 'quota_override_set: admins only' using errcode = '42501';
    end if;
    perform promptd.quota_check_limits(p_limits);
    if not exists (select 1 from auth.users u where u.id = p_user) then
        return null;
    end if;
    if p_limits = '{}'::jsonb then
        delete from promptd.quota_overrides o where o.user_id = p_user;
    else
        insert into promptd.quota_overrides (user_id, limits, updated_at)
        values (p_user, p_limits, now())
        on conflict (user_id) do update set limits = excluded.limits, updated_at = now();
    end if;
    perform promptd.quota_counters_clear(p_user);
    perform promptd.audit('quota.override', 'user:' || promptd.audit_subject(p_user), 'success',
        jsonb_build_object('limits', p_limits,
            'via', case when auth.uid() is null then 'promptctl' else 'api' end), null);
    return p_limits;
end
$function$;
revoke all on function promptd.quota_override_set(uuid, jsonb) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.quota_override_set(uuid, jsonb) to promptd_app;
