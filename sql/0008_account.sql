-- 0008_account.sql: plans, profile fields, the admin flag, account export and deletion.

-- Each tier's limits (read by quotas).  A JSON null limit means unlimited.
create table public.plans (
    tier       text primary key
        check (tier in ('free', 'pro', 'team', 'enterprise')),
    name       text not null,
    limits     jsonb not null default '{}' check (jsonb_typeof(limits) = 'object'),
    sort_order int not null default 0
);
insert into public.plans (tier, name, limits, sort_order) values
    ('free', 'Free', '{"prompts": 100, "enrich_per_day": 20, "api_keys": 2}', 0),
    ('pro', 'Pro', '{"prompts": 5000, "enrich_per_day": 500, "api_keys": 10}', 1),
    ('team', 'Team', '{"prompts": 50000, "enrich_per_day": 5000, "api_keys": 50}', 2),
    ('enterprise', 'Enterprise', '{"prompts": null, "enrich_per_day": null, "api_keys": null}', 3);

alter table public.plans enable row level security;
alter table public.plans force row level security;
create policy plans_select_all on public.plans for select to authenticated using (true);
revoke all on table public.plans from public, anon, authenticated, service_role;
grant select on table public.plans to authenticated;

-- Profile fields.  A user may change display_name, avatar_url and
-- preferences only; the tier and the admin flag are set by definer
-- functions (admins, promptctl).
alter table public.profiles
    add column avatar_url text
        check (length(avatar_url) <= 2048 and avatar_url ~ '^https?://[^[:space:]]+$'),
    add column preferences jsonb not null default '{}'
        check (jsonb_typeof(preferences) = 'object' and length(preferences::text) <= 16384),
    add column is_admin boolean not null default false;
revoke update on table public.profiles from authenticated;
grant update (display_name, avatar_url, preferences) on table public.profiles to authenticated;

-- promptd.is_admin(): the caller is an admin: the profile flag, or the
-- token's app_metadata (role "admin" or admin true, as Supabase projects
-- usually mark them).
create function promptd.is_admin() returns boolean
language sql stable security definer set search_path = ''
as $$
    select coalesce((select p.is_admin from public.profiles p where p.id = auth.uid()), false)
        or coalesce(auth.jwt() -> 'app_metadata' ->> 'role' = 'admin', false)
        or coalesce(auth.jwt() -> 'app_metadata' -> 'admin' = 'true'::jsonb, false)
$$;
revoke all on function promptd.is_admin() from public;
grant execute on function promptd.is_admin() to anon, authenticated, service_role, promptd_app;

-- promptd.set_admin(): `promptctl user admin` (operator only: not granted).
create function promptd.set_admin(p_user uuid, p_on boolean) returns boolean
language plpgsql volatile security definer set search_path = ''
as $$
begin
    update public.profiles set is_admin = p_on where id = p_user;
    if not found then
        insert into public.profiles (id, email, is_admin)
        select u.id, u.email, p_on from auth.users u where u.id = p_user;
    end if;
    perform promptd.audit(case when p_on then 'admin.grant' else 'admin.revoke' end,
        'user:' || promptd.audit_subject(p_user), 'success',
        '{"via": "promptctl"}'::jsonb, null);
    return p_on;
end
$$;
revoke all on function promptd.set_admin(uuid, boolean) from public;

-- promptd.me(): the caller's profile, tier, plan limits and admin flag.
create function promptd.me() returns jsonb
language sql stable set search_path = ''
as $$
    select jsonb_build_object(
        'id', p.id, 'email', p.email, 'display_name', p.display_name,
        'avatar_url', p.avatar_url, 'preferences', p.preferences,
        'subscription_tier', p.subscription_tier,
        'plan', jsonb_build_object('tier', pl.tier, 'name', pl.name, 'limits', pl.limits),
        'is_admin', promptd.is_admin(),
        'created_at', p.created_at, 'updated_at', p.updated_at)
    from public.profiles p
    left join public.plans pl on pl.tier = p.subscription_tier
    where p.id = auth.uid()
$$;
revoke all on function promptd.me() from public;
grant execute on function promptd.me() to authenticated, service_role;

-- promptd.account_export(): everything the caller owns, read with the
-- caller's own rights (RLS and grants apply): the profile, the audit rows
-- under their pseudonym, and every public table with a user_id column the
-- caller may read, minus columns holding hashes or secrets.
create function promptd.account_export() returns jsonb
language plpgsql volatile set search_path = ''
as $$
declare
    v_out  jsonb;
    v_rows jsonb;
    t      record;
    v_cols text;
begin
    v_out := jsonb_build_object(
        'exported_at', now(),
        'profile', promptd.me(),
        'audit_log', (select coalesce(jsonb_agg(jsonb_build_object(
                'id', a.id, 'at', a.at, 'action', a.action, 'target', a.target,
                'outcome', a.outcome, 'request_id', a.request_id,
                'address', host(a.address), 'user_agent', a.user_agent,
                'api_key_id', a.actor_key, 'detail', a.detail) order by a.id), '[]')
            from public.audit_log a));
    for t in
        select c.relname
        from pg_catalog.pg_class c
        join pg_catalog.pg_namespace n on n.oid = c.relnamespace
        join pg_catalog.pg_attribute att on att.attrelid = c.oid
        where n.nspname = 'public' and c.relkind in ('r', 'p')
          and att.attname = 'user_id' and not att.attisdropped
          and c.relname not in ('idempotency_keys', 'audit_log')
          and has_column_privilege(c.oid, att.attnum, 'SELECT')
        order by c.relname
    loop
        select string_agg(format('%I', a.attname), ', ' order by a.attnum) into v_cols
        from pg_catalog.pg_attribute a
        where a.attrelid = ('public.' || quote_ident(t.relname))::regclass
          and a.attnum > 0 and not a.attisdropped
          and a.attname !~ '(hash|secret|cipher|nonce|pepper|token|tsv|^search$)'
          and has_column_privilege(a.attrelid, a.attnum, 'SELECT');
        execute format('select coalesce(jsonb_agg(to_jsonb(x)), ''[]'') from '
                       '(select %s from public.%I where user_id = auth.uid()) x',
                       v_cols, t.relname) into v_rows;
        v_out := v_out || jsonb_build_object(t.relname, v_rows);
    end loop;
    return v_out;
end
$$;
revoke all on function promptd.account_export() from public;
grant execute on function promptd.account_export() to authenticated;

-- The caller's password hash (auth.users.encrypted_password when the
-- built-in auth added that column), for DELETE /api/v1/me.
create function promptd.account_password_hash() returns text
language sql stable security definer set search_path = ''
as $$
    select to_jsonb(u) ->> 'encrypted_password' from auth.users u where u.id = auth.uid()
$$;
revoke all on function promptd.account_password_hash() from public;
grant execute on function promptd.account_password_hash() to authenticated;

-- Tombstones: a still-valid token of a deleted user must not resurrect it
-- through promptd.ensure_profile().  Holds only the random id.
create table promptd.erased_users (
    id        uuid primary key,
    erased_at timestamptz not null default now()
);
revoke all on table promptd.erased_users from public, anon, authenticated, service_role;

create function promptd.refuse_erased_user() returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
    if exists (select 1 from promptd.erased_users e where e.id = new.id) then
        raise exception 'this account was deleted' using errcode = '42501';
    end if;
    return new;
end
$$;
revoke all on function promptd.refuse_erased_user() from public;
create trigger promptd_refuse_erased_user
    before insert on auth.users
    for each row execute function promptd.refuse_erased_user();

-- promptd.delete_account(): delete the caller and everything they own (the
-- auth.users row cascades); their audit pseudonym is forgotten by the
-- audit trigger, so their audit rows stay but are no longer linkable.
create function promptd.delete_account() returns boolean
language plpgsql volatile security definer set search_path = ''
as $$
declare
    v_uid uuid := auth.uid();
begin
    if v_uid is null then
        return false;
    end if;
    insert into promptd.erased_users (id) values (v_uid) on conflict do nothing;
    delete from public.profiles where id = v_uid;
    delete from auth.users where id = v_uid;
    return true;
end
$$;
revoke all on function promptd.delete_account() from public;
grant execute on function promptd.delete_account() to authenticated;

-- Admin functions: each re-checks promptd.is_admin() (the dispatcher's
-- R_ADMIN check is the first gate, this is the second).
create function promptd.admin_list_users(p_limit int, p_after uuid)
returns setof jsonb
language plpgsql stable security definer set search_path = ''
as $$
begin
    if not promptd.is_admin() then
        raise exception 'admin only' using errcode = '42501';
    end if;
    return query
        select jsonb_build_object('id', p.id, 'email', p.email,
            'display_name', p.display_name, 'subscription_tier', p.subscription_tier,
            'is_admin', p.is_admin, 'created_at', p.created_at)
        from public.profiles p
        where p_after is null or p.id > p_after
        order by p.id
        limit p_limit;
end
$$;
revoke all on function promptd.admin_list_users(int, uuid) from public;
grant execute on function promptd.admin_list_users(int, uuid) to authenticated;

-- Returns the updated user, or NULL when there is no such user.
create function promptd.admin_set_tier(p_user uuid, p_tier text) returns jsonb
language plpgsql volatile security definer set search_path = ''
as $$
declare
    v_old text;
    v_out jsonb;
begin
    if not promptd.is_admin() then
        raise exception 'admin only' using errcode = '42501';
    end if;
    select p.subscription_tier into v_old from public.profiles p
    where p.id = p_user for update;
    if not found then
        return null;
    end if;
    update public.profiles p set subscription_tier = p_tier where p.id = p_user
    returning jsonb_build_object('id', p.id, 'email', p.email,
        'display_name', p.display_name, 'subscription_tier', p.subscription_tier,
        'is_admin', p.is_admin, 'created_at', p.created_at) into v_out;
    perform promptd.audit('tier.change', 'user:' || promptd.audit_subject(p_user),
        'success', jsonb_build_object('from', v_old, 'to', p_tier), null);
    return v_out;
end
$$;
revoke all on function promptd.admin_set_tier(uuid, text) from public;
grant execute on function promptd.admin_set_tier(uuid, text) to authenticated;
