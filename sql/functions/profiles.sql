-- profiles.sql: profiles: the new-user trigger and ensure_profile(); their policies.
--
-- The one current definition of each; promptctl migrate re-applies this
-- file after the numbered migrations, every run: edit here, never in
-- sql/NNNN_*.sql (see README, "promptctl").

-- promptd.handle_new_user(): AFTER INSERT on auth.users creates the profile
-- and the personal workspace
-- (Supabase's handle_new_user pattern; works for users created by GoTrue,
-- by `promptctl user create` or by promptd.ensure_profile()).
CREATE OR REPLACE FUNCTION promptd.handle_new_user()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    insert into public.profiles (id, email)
    values (new.id, new.email)
    on conflict (id) do nothing;
    perform promptd.workspace_personal_create(new.id);
    return null;
end
$function$;
revoke all on function promptd.handle_new_user() from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.ensure_profile(): called by the workers first thing in an
-- authenticated transaction.  A token may name a user this database has
-- never seen (issued by Supabase Auth elsewhere): create auth.users (id,
-- email from the claims) and the profile.  No-op without a subject or when
-- the profile exists.
CREATE OR REPLACE FUNCTION promptd.ensure_profile()
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v_uid    uuid := auth.uid();
    v_claims jsonb;
    v_email  text;
begin
    if v_uid is null then
        return;
    end if;
    if exists (select 1 from public.profiles p where p.id = v_uid) then
        return;
    end if;
    v_claims := nullif(current_setting('request.jwt.claims', true), '')::jsonb;
    v_email := lower(nullif(v_claims ->> 'email', ''));
    if not exists (select 1 from auth.users u where u.id = v_uid) then
        insert into auth.users (id, email) values (v_uid, v_email)
        on conflict do nothing;
        if not found then
            -- the email belongs to another id (or a concurrent insert won):
            -- keep the subject, drop the email
            insert into auth.users (id, email) values (v_uid, null)
            on conflict do nothing;
        end if;
    end if;
    insert into public.profiles (id, email)
    select u.id, u.email from auth.users u where u.id = v_uid
    on conflict (id) do nothing;
end
$function$;
revoke all on function promptd.ensure_profile() from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.ensure_profile() to anon, authenticated, promptd_app;

-- Row level security on public.profiles.
drop policy if exists profiles_select_own on public.profiles;
create policy profiles_select_own on public.profiles for select to authenticated
    using ((id = ( SELECT auth.uid() AS uid)));

drop policy if exists profiles_update_own on public.profiles;
create policy profiles_update_own on public.profiles for update to authenticated
    using ((id = ( SELECT auth.uid() AS uid)))
    with check ((id = ( SELECT auth.uid() AS uid)));
