-- quota.sql: quotas (issue 13): effective limits, windows, reserve/settle/release, counted limits, usage, admin changes, purge (the request rate: requestquota.sql).
--
-- The one current definition of each; promptctl migrate re-applies this
-- file after the numbered migrations, every run: edit here, never in
-- sql/NNNN_*.sql (see README, "promptctl" and "Quotas").
--
-- Every counter is keyed by the database clock (now(), UTC windows), so a
-- clock skew between hosts cannot open a second window.  Exactness comes
-- from row locks: a conditional upsert or update on the one counter row
-- (windowed resources) or a transaction advisory lock per (resource, user)
-- taken before counting (counted resources), so any number of workers on
-- any number of hosts admit exactly the limit; the request rate counts on
-- sequences (requestquota.sql).

-- promptd.quota_resources(): every resource a plan may limit: its kind
-- ('window': a counter per window; 'count': rows that exist now), its
-- unit and its window in seconds (null for counted ones; a month varies).
create or replace function promptd.quota_resources()
 returns table(resource text, kind text, unit text, window_name text)
 language sql
 immutable
 set search_path to ''
as $function$
    values ('requests_per_minute', 'window', 'requests', 'minute'),
           ('enrich_per_day', 'window', 'enrichments', 'day'),
           ('tokens_per_month', 'window', 'tokens', 'month'),
           ('prompts', 'count', 'prompts', null),
           ('versions_per_prompt', 'count', 'versions', null),
           ('api_keys', 'count', 'keys', null),
           ('shares', 'count', 'links', null),
           ('storage_bytes', 'count', 'bytes', null)
$function$;
revoke all on function promptd.quota_resources() from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.quota_resources() to authenticated, service_role, promptd_app;

-- promptd.quota_enabled(): false only while an operator has switched
-- enforcement off (promptd.quota_settings); counting goes on regardless.
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
revoke all on function promptd.quota_enabled() from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.quota_limits(user) -> (tier, limits): the plan's limits with the
-- user's overrides on top (a JSON null or a missing key: unlimited).
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
revoke all on function promptd.quota_limits(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.quota_num(limits, resource): the limit as a number, null when
-- unlimited.
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
revoke all on function promptd.quota_num(jsonb, text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.quota_window(resource, at) -> the UTC window holding at.
create or replace function promptd.quota_window(p_resource text, p_at timestamp with time zone, out window_start timestamp with time zone, out window_end timestamp with time zone)
 returns record
 language sql
 stable
 set search_path to ''
as $function$
    select s, s + case w when 'minute' then interval '1 minute'
                         when 'day' then interval '1 day'
                         else interval '1 month' end
      from (select r.window_name as w,
                   date_trunc(r.window_name, p_at, 'UTC') as s
              from promptd.quota_resources() r
             where r.resource = p_resource and r.kind = 'window') x
$function$;
revoke all on function promptd.quota_window(text, timestamp with time zone) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.quota_upgrade(tier, resource, limit): the first plan above tier
-- whose limit for resource is larger (or unlimited); null when none.
create or replace function promptd.quota_upgrade(p_tier text, p_resource text, p_limit bigint)
 returns text
 language sql
 stable
 security definer
 set search_path to ''
as $function$
    select pl.tier
      from public.plans pl, public.plans cur
     where cur.tier = p_tier and pl.sort_order > cur.sort_order
       and (promptd.quota_num(pl.limits, p_resource) is null
            or promptd.quota_num(pl.limits, p_resource) > p_limit)
     order by pl.sort_order
     limit 1
$function$;
revoke all on function promptd.quota_upgrade(text, text, bigint) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.quota_refuse(...): raise the refusal the workers turn into an
-- answer: SQLSTATE PDQ29 (a window is spent: 429, Retry-After) or PDQ09 (a
-- counted limit is reached: 409); the DETAIL is one line of JSON.
create or replace function promptd.quota_refuse(p_user uuid, p_tier text, p_resource text, p_limit bigint, p_used bigint, p_window_end timestamp with time zone)
 returns void
 language plpgsql
 stable
 security definer
 set search_path to ''
as $function$
declare
    v_w record;
begin
    select r.* into v_w from promptd.quota_resources() r where r.resource = p_resource;
    raise exception 'quota exceeded: %', p_resource
        using errcode = case when p_window_end is null then 'PDQ09' else 'PDQ29' end,
              detail = jsonb_build_object(
                  'resource', p_resource, 'kind', v_w.kind, 'unit', v_w.unit,
                  'limit', p_limit, 'used', p_used, 'window', v_w.window_name,
                  'window_seconds', case when p_window_end is null then null
                      else extract(epoch from p_window_end - promptd.quota_window_start(p_resource, p_window_end))::bigint end,
                  'resets_at', p_window_end,
                  'retry_after', case when p_window_end is null then null
                      else greatest(1, ceil(extract(epoch from p_window_end - now())))::bigint end,
                  'tier', p_tier,
                  'upgrade_tier', promptd.quota_upgrade(p_tier, p_resource, p_limit))::text;
end
$function$;
revoke all on function promptd.quota_refuse(uuid, text, text, bigint, bigint, timestamp with time zone) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.quota_window_start(resource, window_end): the start of the
-- window that ends at window_end.
create or replace function promptd.quota_window_start(p_resource text, p_end timestamp with time zone)
 returns timestamp with time zone
 language sql
 stable
 set search_path to ''
as $function$
    select w.window_start from promptd.quota_window(p_resource, p_end - interval '1 microsecond') w
$function$;
revoke all on function promptd.quota_window_start(text, timestamp with time zone) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.quota_reserve(user, key, resource, amount, ttl) -> (reservation,
-- quota, remaining, window_s, reset_s): hold amount of a windowed
-- resource (enrich_per_day, tokens_per_month) before the work that spends
-- it; used + reserved + amount never passes the limit (PDQ29 otherwise,
-- nothing held).  quota and remaining are null when unlimited (the hold is
-- still recorded, for usage).  Settle or release it; a hold not settled
-- within ttl is released by the purge job.  The local engine reserves 0
-- tokens.
create or replace function promptd.quota_reserve(p_user uuid, p_key uuid, p_resource text, p_amount bigint, p_ttl interval default '00:15:00'::interval)
 returns table(reservation_id uuid, quota bigint, remaining bigint, window_s integer, reset_s integer)
 language plpgsql
 volatile
 security definer
 set search_path to ''
as $function$
declare
    v_tier   text;
    v_limits jsonb;
    v_lim    bigint;
    v_w      record;
    v_key    uuid := '00000000-0000-0000-0000-000000000000';
    v_used   bigint;
    v_id     uuid;
begin
    if p_resource not in ('enrich_per_day', 'tokens_per_month') then
        raise exception 'quota_reserve: % cannot be reserved', p_resource using errcode = '22023';
    end if;
    if p_user is null or p_amount is null or p_amount < 0 or p_ttl is null or p_ttl <= interval '0' then
        raise exception 'quota_reserve: a user, an amount >= 0 and a positive ttl are required'
            using errcode = '22023';
    end if;
    select l.tier, l.limits into v_tier, v_limits from promptd.quota_limits(p_user) l;
    v_lim := case when promptd.quota_enabled() then promptd.quota_num(v_limits, p_resource) end;
    select * into v_w from promptd.quota_window(p_resource, now());
    if p_key is not null and coalesce(v_limits -> 'per_key' ? p_resource, false) then
        v_key := p_key;
    end if;
    insert into promptd.quota_counters (user_id, key_id, resource, window_start, used)
    values (p_user, v_key, p_resource, v_w.window_start, 0)
    on conflict (user_id, resource, window_start, key_id) do nothing;
    update promptd.quota_counters c set reserved = c.reserved + p_amount
     where c.user_id = p_user and c.key_id = v_key and c.resource = p_resource
       and c.window_start = v_w.window_start
       and (v_lim is null or c.used + c.reserved + p_amount <= v_lim)
    returning c.used + c.reserved into v_used;
    if v_used is null then
        select c.used + c.reserved into v_used from promptd.quota_counters c
         where c.user_id = p_user and c.key_id = v_key and c.resource = p_resource
           and c.window_start = v_w.window_start;
        perform promptd.quota_refuse(p_user, v_tier, p_resource, v_lim, v_used, v_w.window_end);
    end if;
    insert into promptd.quota_reservations (user_id, key_id, resource, window_start, amount, expires_at)
    values (p_user, v_key, p_resource, v_w.window_start, p_amount, now() + p_ttl)
    returning id into v_id;
    return query select v_id, v_lim, v_lim - v_used,
        extract(epoch from v_w.window_end - v_w.window_start)::int,
        greatest(1, ceil(extract(epoch from v_w.window_end - now())))::int;
end
$function$;
revoke all on function promptd.quota_reserve(uuid, uuid, text, bigint, interval) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.quota_reserve(uuid, uuid, text, bigint, interval) to service_role, promptd_app;

-- promptd.quota_settle(reservation, actual) -> actual, or null when the
-- hold is no longer held (settled, released or expired: idempotent).  The
-- real usage (provider usage) is counted in the window the hold was
-- taken in, even when it exceeds the hold (the work is done).
create or replace function promptd.quota_settle(p_id uuid, p_actual bigint)
 returns bigint
 language plpgsql
 volatile
 security definer
 set search_path to ''
as $function$
declare
    v record;
begin
    if p_actual is null or p_actual < 0 then
        raise exception 'quota_settle: actual must be >= 0' using errcode = '22023';
    end if;
    update promptd.quota_reservations r set state = 'settled', actual = p_actual, finished_at = now()
     where r.id = p_id and r.state = 'held'
    returning r.* into v;
    if v.id is null then
        return null;
    end if;
    update promptd.quota_counters c
       set reserved = greatest(c.reserved - v.amount, 0), used = c.used + p_actual
     where c.user_id = v.user_id and c.key_id = v.key_id and c.resource = v.resource
       and c.window_start = v.window_start;
    return p_actual;
end
$function$;
revoke all on function promptd.quota_settle(uuid, bigint) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.quota_settle(uuid, bigint) to service_role, promptd_app;

-- promptd.quota_release(reservation) -> true when a held reservation was
-- released (the work failed or timed out), false when it was not held.
create or replace function promptd.quota_release(p_id uuid)
 returns boolean
 language plpgsql
 volatile
 security definer
 set search_path to ''
as $function$
declare
    v record;
begin
    update promptd.quota_reservations r set state = 'released', finished_at = now()
     where r.id = p_id and r.state = 'held'
    returning r.* into v;
    if v.id is null then
        return false;
    end if;
    update promptd.quota_counters c set reserved = greatest(c.reserved - v.amount, 0)
     where c.user_id = v.user_id and c.key_id = v.key_id and c.resource = v.resource
       and c.window_start = v.window_start;
    return true;
end
$function$;
revoke all on function promptd.quota_release(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.quota_release(uuid) to service_role, promptd_app;

-- promptd.quota_count_used(user, resource): how much of a counted
-- resource the user holds now.  Prompts, their versions and links count in
-- every workspace whose plan is the user's (promptd.workspaces_paid_by: the
-- personal one and the team workspaces they pay for); API keys are the
-- user's own.  versions_per_prompt: the most versions of any one prompt;
-- storage_bytes: the sizes of the objects the user owns plus the uploads
-- they hold unsettled (promptd.storage_reserve).
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
revoke all on function promptd.quota_count_used(uuid, text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- BEFORE INSERT on prompts, api_keys, shares (TG_ARGV[0] the resource) and
-- prompt_versions ('versions_per_prompt'): refuse (PDQ09) the row that
-- would pass the payer's limit, in the inserting transaction: for an API
-- key its creator, for a prompt, version or link the payer of its
-- workspace (promptd.workspace_payer).  The advisory lock per (resource,
-- payer) is held to commit, so concurrent inserts against one plan count
-- one after another, whatever worker or host sends them.
create or replace function promptd.quota_count_check()
 returns trigger
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    v_res    text := tg_argv[0];
    v_user   uuid;
    v_tier   text;
    v_limits jsonb;
    v_lim    bigint;
    v_used   bigint;
begin
    if not promptd.quota_enabled() then
        return new;
    end if;
    -- one branch per table: a branch names only its table's columns
    if v_res = 'prompts' then
        v_user := promptd.workspace_payer(new.workspace_id);
    elsif v_res <> 'api_keys' then
        v_user := promptd.workspace_payer((select p.workspace_id from public.prompts p
                                            where p.id = new.prompt_id));
    end if;
    v_user := coalesce(v_user, new.user_id);
    select l.tier, l.limits into v_tier, v_limits from promptd.quota_limits(v_user) l;
    v_lim := promptd.quota_num(v_limits, v_res);
    if v_lim is null then
        return new;
    end if;
    if v_res = 'versions_per_prompt' then
        if new.version > v_lim then
            perform promptd.quota_refuse(v_user, v_tier, v_res, v_lim, new.version - 1, null);
        end if;
        return new;
    end if;
    perform pg_advisory_xact_lock(hashtextextended('promptd.quota:' || v_res || ':' || v_user::text, 0));
    v_used := promptd.quota_count_used(v_user, v_res);
    if v_used >= v_lim then
        perform promptd.quota_refuse(v_user, v_tier, v_res, v_lim, v_used, null);
    end if;
    return new;
end
$function$;
revoke all on function promptd.quota_count_check() from public, anon, authenticated, service_role, promptd_app, promptd_auth;

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

-- promptd.quota_check_limits(limits): raise 22023 naming the first member
-- that is not a known resource with null or an integer >= 0, or "per_key"
-- with an array of windowed resource names.
create or replace function promptd.quota_check_limits(p_limits jsonb)
 returns void
 language plpgsql
 immutable
 set search_path to ''
as $function$
declare
    k text;
    v jsonb;
begin
    if jsonb_typeof(p_limits) is distinct from 'object' then
        raise exception 'limits must be an object' using errcode = '22023';
    end if;
    for k, v in select * from jsonb_each(p_limits) loop
        if k = 'per_key' then
            if jsonb_typeof(v) <> 'array' or exists (
                   select 1 from jsonb_array_elements(v) e
                    where jsonb_typeof(e) <> 'string' or not exists (
                        select 1 from promptd.quota_resources() r
                         where r.kind = 'window' and r.resource = e #>> '{}')) then
                raise exception 'limits.per_key must be an array of windowed resource names'
                    using errcode = '22023';
            end if;
        elsif not exists (select 1 from promptd.quota_resources() r where r.resource = k) then
            raise exception 'limits.% is not a known resource', k using errcode = '22023';
        elsif jsonb_typeof(v) <> 'null' and (jsonb_typeof(v) <> 'number'
                or (v #>> '{}')::numeric <> trunc((v #>> '{}')::numeric)
                or (v #>> '{}')::numeric < 0 or (v #>> '{}')::numeric > 1e15) then
            raise exception 'limits.% must be null (unlimited) or an integer from 0 to 10^15', k
                using errcode = '22023';
        end if;
    end loop;
end
$function$;
revoke all on function promptd.quota_check_limits(jsonb) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.quota_plan_set(tier, limits) -> the plan {tier, name, limits}:
-- merge limits into the plan's (null: unlimited), effective at once for
-- every worker; null when no such plan.  Admins (the API, through the
-- worker role) or the operator (promptctl, no claims); audited plan.update.
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

-- promptd.quota_override_set(user, limits) -> the user's overrides: replace
-- them as a whole ({} removes every override); null when no such user.
-- Admins or the operator; audited quota.override.
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
