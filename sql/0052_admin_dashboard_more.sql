-- 0052_admin_dashboard_more.sql: the admin dashboard's user search, a user's audit trail, the enrichment breakers' state, and the rollups' retention (issue 17); the current definitions are in sql/functions/account.sql, audit.sql, enrich.sql and analytics.sql.

-- promptd.admin_search_users(q, limit, after) -> the profiles whose email
-- starts with q (case-insensitive) or whose id (text) starts with q, every
-- profile when q is null; ordered by id after the cursor.  Beside
-- admin_list_users (0008), which workers of the previous release still call.
CREATE OR REPLACE FUNCTION promptd.admin_search_users(p_q text, p_limit integer, p_after uuid)
 RETURNS SETOF jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    perform promptd.admin_require();
    return query
        select jsonb_build_object('id', p.id, 'email', p.email,
            'display_name', p.display_name, 'subscription_tier', p.subscription_tier,
            'is_admin', p.is_admin, 'created_at', p.created_at)
        from public.profiles p
        where (p_after is null or p.id > p_after)
          and (p_q is null or starts_with(lower(coalesce(p.email, '')), lower(p_q))
               or starts_with(p.id::text, lower(p_q)))
        order by p.id
        limit p_limit;
end
$function$;
revoke all on function promptd.admin_search_users(text,integer,uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.admin_search_users(text,integer,uuid) to authenticated;

-- promptd.admin_user_audit(user, limit, before) -> {items, next_cursor}: the
-- audit rows the user acted in (their pseudonym as actor_user), newest
-- first, ids below before (null: from the newest); next_cursor the last
-- item's id when more follow.  NULL when auth.users has no such user.
CREATE OR REPLACE FUNCTION promptd.admin_user_audit(p_user uuid, p_limit integer, p_before bigint)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v_pseudonym uuid;
    v_items jsonb;
    v_n integer;
begin
    perform promptd.admin_require();
    if not exists (select 1 from auth.users u where u.id = p_user) then
        return null;
    end if;
    select s.pseudonym into v_pseudonym from promptd.audit_subjects s where s.user_id = p_user;
    select coalesce(jsonb_agg(x.o order by x.id desc), '[]'::jsonb), count(*)
      into v_items, v_n
      from (select a.id, jsonb_build_object('id', a.id, 'at', a.at, 'action', a.action,
                       'target', a.target, 'outcome', a.outcome, 'request_id', a.request_id,
                       'address', host(a.address), 'user_agent', a.user_agent,
                       'api_key_id', a.actor_key, 'detail', a.detail, 'hash', a.hash) o
              from public.audit_log a
             where v_pseudonym is not null and a.actor_user = v_pseudonym
               and (p_before is null or a.id < p_before)
             order by a.id desc
             limit p_limit + 1) x;
    if v_n > p_limit then
        v_items := v_items - p_limit;
        return jsonb_build_object('items', v_items,
                                  'next_cursor', (v_items -> (p_limit - 1) ->> 'id'));
    end if;
    return jsonb_build_object('items', v_items, 'next_cursor', null);
end
$function$;
revoke all on function promptd.admin_user_audit(uuid,integer,bigint) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.admin_user_audit(uuid,integer,bigint) to authenticated;

-- promptd.admin_enrich_breakers(providers, cool-down seconds) -> {cooldown_s,
-- providers:[{provider, configured, state, failures, opened_at, retry_at,
-- probe_started, updated_at}]}: every breaker row and every configured
-- provider (closed, no failures, when it has no row), by provider.  retry_at:
-- when an open breaker lets the next call through as the probe.
CREATE OR REPLACE FUNCTION promptd.admin_enrich_breakers(p_providers text[], p_cooldown integer)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    perform promptd.admin_require();
    return jsonb_build_object('cooldown_s', p_cooldown, 'providers', coalesce((
        select jsonb_agg(jsonb_build_object('provider', n.provider,
                   'configured', n.provider = any(coalesce(p_providers, '{}')),
                   'state', coalesce(b.state, 'closed'), 'failures', coalesce(b.failures, 0),
                   'opened_at', b.opened_at,
                   'retry_at', case when b.state = 'open'
                                    then b.opened_at + make_interval(secs => p_cooldown) end,
                   'probe_started', b.probe_started, 'updated_at', b.updated_at)
                   order by n.provider)
          from (select e.provider from public.enrich_breakers e
                union select unnest(coalesce(p_providers, '{}'))) n
          left join public.enrich_breakers b on b.provider = n.provider), '[]'::jsonb));
end
$function$;
revoke all on function promptd.admin_enrich_breakers(text[],integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.admin_enrich_breakers(text[],integer) to authenticated;

-- promptd.analytics_rollup_purge(hourly days, daily days) -> {hourly, daily,
-- daily_users}: rows deleted from the hourly rollup older than the first
-- (by bucket), from the daily rollup and the daily active users older than
-- the second (by day, UTC).  Run by the "analytics.partitions" job.
CREATE OR REPLACE FUNCTION promptd.analytics_rollup_purge(p_hourly integer, p_daily integer)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v_day date;
    v_hourly bigint;
    v_daily bigint;
    v_users bigint;
begin
    if p_hourly < 1 or p_daily < 1 or p_hourly > p_daily then
        raise exception 'analytics_rollup_purge: 1 <= hourly <= daily days' using errcode = '22023';
    end if;
    v_day := (now() at time zone 'utc')::date - p_daily;
    delete from promptd.analytics_rollup_hourly h
     where h.bucket < now() - make_interval(days => p_hourly);
    get diagnostics v_hourly = row_count;
    delete from promptd.analytics_rollup_daily d where d.day < v_day;
    get diagnostics v_daily = row_count;
    delete from promptd.analytics_daily_users u where u.day < v_day;
    get diagnostics v_users = row_count;
    return jsonb_build_object('hourly', v_hourly, 'daily', v_daily, 'daily_users', v_users);
end
$function$;
revoke all on function promptd.analytics_rollup_purge(integer,integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.analytics_rollup_purge(integer,integer) to service_role;
