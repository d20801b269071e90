-- account.sql: the account: is_admin(), set_admin(), me, export, deletion, admin listing and tier; plans policy.
--
-- The one current definition of each; promptctl migrate re-applies this
-- file after the numbered migrations, every run: edit here, never in
-- sql/NNNN_*.sql (see README, "promptctl").

-- promptd.is_admin(): the caller is an admin: the profile flag, or the
-- token's app_metadata (role "admin" or admin true, as Supabase projects
-- usually mark them).
CREATE OR REPLACE FUNCTION promptd.is_admin()
 RETURNS boolean
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    select coalesce((select p.is_admin from public.profiles p where p.id = auth.uid()), false)
        or coalesce(auth.jwt() -> 'app_metadata' ->> 'role' = 'admin', false)
        or coalesce(auth.jwt() -> 'app_metadata' -> 'admin' = 'true'::jsonb, false)
$function$;
revoke all on function promptd.is_admin() from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.is_admin() to anon, authenticated, service_role, promptd_app;

-- promptd.set_admin(): `promptctl user admin` (operator only: not granted).
CREATE OR REPLACE FUNCTION promptd.set_admin(p_user uuid, p_on boolean)
 RETURNS boolean
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
$function$;
revoke all on function promptd.set_admin(uuid,boolean) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.me(): the caller's profile, tier, plan limits and admin flag.
CREATE OR REPLACE FUNCTION promptd.me()
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
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
$function$;
revoke all on function promptd.me() from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.me() to authenticated, service_role;

-- promptd.account_export(): everything the caller owns, read with the
-- caller's own rights (RLS and grants apply): the profile, the audit rows
-- under their pseudonym, and every public table with a user_id column the
-- caller may read, minus columns holding hashes or secrets.
CREATE OR REPLACE FUNCTION promptd.account_export()
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
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
$function$;
revoke all on function promptd.account_export() from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.account_export() to authenticated;

-- The caller's password hash (auth.users.encrypted_password when the
-- built-in auth added that column), for DELETE /api/v1/me.
CREATE OR REPLACE FUNCTION promptd.account_password_hash()
 RETURNS text
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    select to_jsonb(u) ->> 'encrypted_password' from auth.users u where u.id = auth.uid()
$function$;
revoke all on function promptd.account_password_hash() from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.account_password_hash() to authenticated;

-- promptd.refuse_erased_user
CREATE OR REPLACE FUNCTION promptd.refuse_erased_user()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    if exists (select 1 from promptd.erased_users e where e.id = new.id) then
        raise exception 'this account was deleted' using errcode = '42501';
    end if;
    return new;
end
$function$;
revoke all on function promptd.refuse_erased_user() from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.delete_account_check(): refuse (PW409) to delete the caller
-- while they are the last owner of a team workspace that has other
-- members: the workspace must keep an owner (make one, or delete it).
CREATE OR REPLACE FUNCTION promptd.delete_account_check()
 RETURNS void
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v_name text;
begin
    select w.name into v_name
      from public.workspace_members m
      join public.workspaces w on w.id = m.workspace_id and w.personal_of is null
     where m.user_id = auth.uid() and m.role = 'owner'
       and not exists (select 1 from public.workspace_members o where o.workspace_id = m.workspace_id
                          and o.role = 'owner' and o.user_id <> m.user_id)
       and exists (select 1 from public.workspace_members o where o.workspace_id = m.workspace_id
                      and o.user_id <> m.user_id)
     order by w.name limit 1;
    if v_name is not null then
        raise exception 'You are the last owner of the workspace "%", which has other members: make one of them an owner, or delete it, first.',
            v_name using errcode = 'PW409';
    end if;
end
$function$;
revoke all on function promptd.delete_account_check() from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.delete_account_check() to authenticated, service_role, promptd_app;

-- promptd.delete_account_lock(): lock the caller's rows that billing's jobs
-- lock, in the jobs' order (the user, whose key share their inserts take;
-- their subscriptions, by id; their profile), for DELETE /api/v1/me before
-- its audit row takes the audit chain's head: a job holding one of them
-- and waiting for the head, while the deletion held the head and waited
-- for the row, was a deadlock.  False for no caller.
CREATE OR REPLACE FUNCTION promptd.delete_account_lock()
 RETURNS boolean
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v_uid uuid := auth.uid();
begin
    if v_uid is null then
        return false;
    end if;
    perform 1 from auth.users u where u.id = v_uid for update;
    perform 1 from promptd.billing_subscriptions s where s.user_id = v_uid order by s.id for update;
    perform 1 from public.profiles p where p.id = v_uid for update;
    return true;
end
$function$;
revoke all on function promptd.delete_account_lock() from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.delete_account_lock() to service_role, promptd_app;

-- promptd.delete_account(): delete the caller and everything they own (the
-- auth.users row cascades; their storage objects and buckets, which name
-- them without a foreign key, are deleted here, with every object in their
-- buckets: the blobs left unnamed are storage.gc's, and the attachments of
-- those objects go with them); their audit pseudonym is forgotten by the
-- audit trigger, so their audit rows stay but are no longer linkable.
-- Team workspaces keep what the caller wrote there (prompts and links pass
-- to the workspace's longest-standing other owner); a team workspace with
-- no other member goes with the caller; the last owner of one with other
-- members is refused first (delete_account_check).
CREATE OR REPLACE FUNCTION promptd.delete_account()
 RETURNS boolean
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v_uid uuid := auth.uid();
begin
    if v_uid is null then
        return false;
    end if;
    perform promptd.delete_account_check();
    delete from public.workspaces w
     where w.personal_of is null
       and exists (select 1 from public.workspace_members m where m.workspace_id = w.id and m.user_id = v_uid)
       and not exists (select 1 from public.workspace_members m where m.workspace_id = w.id and m.user_id <> v_uid);
    update public.prompts p set user_id = (select m.user_id from public.workspace_members m
                                            where m.workspace_id = p.workspace_id and m.role = 'owner'
                                              and m.user_id <> v_uid order by m.created_at, m.user_id limit 1)
     where p.user_id = v_uid and p.workspace_id <> promptd.personal_workspace(v_uid);
    update public.shares s set user_id = (select m.user_id from public.workspace_members m
                                           where m.workspace_id = s.workspace_id and m.role = 'owner'
                                             and m.user_id <> v_uid order by m.created_at, m.user_id limit 1)
     where s.user_id = v_uid and s.workspace_id <> promptd.personal_workspace(v_uid);
    delete from storage.objects o
     where o.owner = v_uid
        or o.bucket_id in (select b.id from storage.buckets b where b.owner = v_uid);
    delete from storage.buckets b where b.owner = v_uid;
    delete from promptd.storage_reservations r where r.user_id = v_uid;
    insert into promptd.erased_users (id) values (v_uid) on conflict do nothing;
    delete from public.profiles where id = v_uid;
    delete from auth.users where id = v_uid;
    return true;
end
$function$;
revoke all on function promptd.delete_account() from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.delete_account() to service_role, promptd_app;

-- Admin functions: each re-checks promptd.is_admin() (the dispatcher's
-- R_ADMIN check is the first gate, this is the second).
CREATE OR REPLACE FUNCTION promptd.admin_list_users(p_limit integer, p_after uuid)
 RETURNS SETOF jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
$function$;
revoke all on function promptd.admin_list_users(integer,uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.admin_list_users(integer,uuid) to authenticated;

-- Returns the updated user, or NULL when there is no such user.
CREATE OR REPLACE FUNCTION promptd.admin_set_tier(p_user uuid, p_tier text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
$function$;
revoke all on function promptd.admin_set_tier(uuid,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.admin_set_tier(uuid,text) to authenticated;

-- Row level security on public.plans.
drop policy if exists plans_select_all on public.plans;
create policy plans_select_all on public.plans for select to authenticated
    using (true);

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
