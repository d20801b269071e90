-- 0054_plpgsql_hot_functions.sql: the SQL-language functions the writes call in their triggers (quota counting, a workspace's payer) become plpgsql, whose statements keep their plans in a session: PostgreSQL 15 plans a non-inlined SQL function's query at every call (0.1-0.8 ms each on POST /api/v1/prompts, bench/README.md).  The prompts and shares counts take the workspaces as an array, so they use the workspace_id indexes.  The current definitions are in sql/functions/quota.sql and workspaces.sql.

create or replace function promptd.quota_enabled()
 returns boolean
 language plpgsql
 stable
 security definer
 set search_path to ''
as $function$
begin
    return coalesce((select s.enforce from promptd.quota_settings s where s.id), true);
end
$function$;

create or replace function promptd.quota_num(p_limits jsonb, p_resource text)
 returns bigint
 language plpgsql
 immutable
 set search_path to ''
as $function$
begin
    return case when jsonb_typeof(p_limits -> p_resource) = 'number'
                then (p_limits ->> p_resource)::numeric::bigint end;
end
$function$;

create or replace function promptd.quota_limits(p_user uuid)
 returns table(tier text, limits jsonb)
 language plpgsql
 stable
 security definer
 set search_path to ''
as $function$
#variable_conflict use_column
begin
    return query
    select coalesce(p.subscription_tier, 'free'),
           coalesce(pl.limits, '{}'::jsonb) || coalesce(o.limits, '{}'::jsonb)
      from (select p_user as id) u
      left join public.profiles p on p.id = u.id
      left join public.plans pl on pl.tier = coalesce(p.subscription_tier, 'free')
      left join promptd.quota_overrides o on o.user_id = u.id;
end
$function$;

create or replace function promptd.quota_count_used(p_user uuid, p_resource text)
 returns bigint
 language plpgsql
 stable
 security definer
 set search_path to ''
as $function$
begin
    if p_resource = 'prompts' then
        return (select count(*) from public.prompts p
                 where p.workspace_id = any (array(select promptd.workspaces_paid_by(p_user))));
    elsif p_resource = 'versions_per_prompt' then
        return (select coalesce(max(p.version), 0) from public.prompts p
                 where p.workspace_id = any (array(select promptd.workspaces_paid_by(p_user))));
    elsif p_resource = 'api_keys' then
        return (select count(*) from public.api_keys k where k.user_id = p_user
                   and k.revoked_at is null and (k.expires_at is null or k.expires_at > now()));
    elsif p_resource = 'shares' then
        return (select count(*) from public.shares s
                 where s.workspace_id = any (array(select promptd.workspaces_paid_by(p_user)))
                   and s.revoked_at is null and (s.expires_at is null or s.expires_at > now()));
    elsif p_resource = 'storage_bytes' then
        return (select coalesce(sum((o.metadata->>'size')::bigint), 0) from storage.objects o
                 where o.owner = p_user)
             + (select coalesce(sum(r.bytes), 0) from promptd.storage_reservations r
                 where r.user_id = p_user and r.expires_at > now());
    end if;
    return 0;
end
$function$;

create or replace function promptd.workspace_payer(p_ws uuid)
 returns uuid
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
begin
    return (select coalesce(w.personal_of, (select m.user_id from public.workspace_members m
                                            where m.workspace_id = w.id and m.role = 'owner'
                                            order by m.created_at, m.user_id limit 1))
              from public.workspaces w where w.id = p_ws);
end
$function$;

create or replace function promptd.workspaces_paid_by(p_user uuid)
 returns setof uuid
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
begin
    return query
    select w.id from public.workspaces w where w.personal_of = p_user
    union all
    select m.workspace_id from public.workspace_members m
      join public.workspaces w on w.id = m.workspace_id and w.personal_of is null
     where m.user_id = p_user and m.role = 'owner'
       and promptd.workspace_payer(m.workspace_id) = p_user;
end
$function$;
