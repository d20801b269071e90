-- 0002_profiles.sql: one profile per auth.users row, with its subscription tier.

create table public.profiles (
    id                uuid primary key references auth.users (id) on delete cascade,
    email             text,
    display_name      text,
    subscription_tier text not null default 'free'
        check (subscription_tier in ('free', 'pro', 'team', 'enterprise')),
    created_at        timestamptz not null default now(),
    updated_at        timestamptz not null default now()
);

alter table public.profiles enable row level security;
alter table public.profiles force row level security;

create policy profiles_select_own on public.profiles
    for select to authenticated
    using (id = (select auth.uid()));
create policy profiles_update_own on public.profiles
    for update to authenticated
    using (id = (select auth.uid()))
    with check (id = (select auth.uid()));

-- Supabase grants every new public table to anon/authenticated/service_role
-- by default privileges: start from nothing, then grant what is meant.
-- A user may rename themselves but not change their id, email or tier.
revoke all on table public.profiles from public, anon, authenticated, service_role;
grant select on table public.profiles to authenticated;
grant update (display_name) on table public.profiles to authenticated;

create trigger profiles_touch_updated_at
    before update on public.profiles
    for each row execute function promptd.touch_updated_at();

-- promptd.handle_new_user(): AFTER INSERT on auth.users creates the profile
-- (Supabase's handle_new_user pattern; works for users created by GoTrue,
-- by `promptctl user create` or by promptd.ensure_profile()).
create function promptd.handle_new_user() returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
    insert into public.profiles (id, email)
    values (new.id, new.email)
    on conflict (id) do nothing;
    return null;
end
$$;
revoke all on function promptd.handle_new_user() from public;

create trigger promptd_on_auth_user_created
    after insert on auth.users
    for each row execute function promptd.handle_new_user();

-- promptd.ensure_profile(): called by the workers first thing in an
-- authenticated transaction.  A token may name a user this database has
-- never seen (issued by Supabase Auth elsewhere): create auth.users (id,
-- email from the claims) and the profile.  No-op without a subject or when
-- the profile exists.
create function promptd.ensure_profile() returns void
language plpgsql security definer set search_path = ''
as $$
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
$$;
revoke all on function promptd.ensure_profile() from public;
grant execute on function promptd.ensure_profile() to anon, authenticated, promptd_app;
