-- 0001_roles_and_auth.sql: Supabase-compatible roles, auth schema and the promptd schema.
--
-- Runs on a plain PostgreSQL 15 and on a Supabase database.  Everything
-- Supabase already provides (roles anon/authenticated/service_role, schema
-- auth, auth.users, auth.uid()/role()/jwt()) is reused as is and created
-- here only when absent.  Applied by `promptctl migrate` inside one
-- transaction; the migrating role must be a superuser or have BYPASSRLS,
-- because the SECURITY DEFINER functions below act on tables whose row
-- level security is FORCED.

do $$
begin
    if not exists (select 1 from pg_catalog.pg_roles
                   where rolname = current_user and (rolsuper or rolbypassrls)) then
        raise exception 'promptd migrations must run as a superuser or a BYPASSRLS role (current_user %)',
            current_user;
    end if;
end
$$;

-- The PostgREST/Supabase request roles.  NOLOGIN: they are only ever
-- entered with SET ROLE by a login role that was granted them.
do $$
begin
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'anon') then
        create role anon nologin noinherit;
    end if;
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'authenticated') then
        create role authenticated nologin noinherit;
    end if;
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'service_role') then
        create role service_role nologin noinherit bypassrls;
    end if;
end
$$;

-- The worker login role: owns nothing, bypasses nothing, inherits nothing;
-- it can only SET ROLE to the three request roles.  Its password is set by
-- `promptctl migrate` (never stored in a migration).
do $$
begin
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'promptd_app') then
        create role promptd_app login noinherit nobypassrls;
    elsif exists (select 1 from pg_catalog.pg_roles where rolname = 'promptd_app'
                  and (rolsuper or rolbypassrls or rolcreaterole or rolcreatedb)) then
        raise exception 'role promptd_app exists with SUPERUSER, BYPASSRLS, CREATEROLE or CREATEDB: refusing to use it as the worker role';
    else
        -- needs only CREATEROLE (no superuser), as on Supabase
        alter role promptd_app login noinherit;
    end if;
end
$$;
grant anon, authenticated, service_role to promptd_app;

-- Schema auth and auth.users, as on Supabase (a subset of its columns).
-- Grants are made only on objects created here: Supabase's own are
-- already granted (and not ours to grant).
do $$
begin
    if not exists (select 1 from pg_catalog.pg_namespace where nspname = 'auth') then
        create schema auth;
        grant usage on schema auth to anon, authenticated, service_role;
    end if;
end
$$;

do $$
begin
    if not exists (select 1 from pg_catalog.pg_class c
                   join pg_catalog.pg_namespace n on n.oid = c.relnamespace
                   where n.nspname = 'auth' and c.relname = 'users') then
        create table auth.users (
            id                 uuid primary key,
            aud                text,
            role               text,
            email              text unique,
            email_confirmed_at timestamptz,
            phone              text unique,
            last_sign_in_at    timestamptz,
            raw_app_meta_data  jsonb,
            raw_user_meta_data jsonb default '{}'::jsonb,
            is_anonymous       boolean not null default false,
            created_at         timestamptz not null default now(),
            updated_at         timestamptz not null default now(),
            deleted_at         timestamptz
        );
        -- Only definer functions and the operator touch it.
        revoke all on table auth.users from public;
    end if;
end
$$;

-- auth.uid(), auth.role(), auth.jwt(): Supabase's definitions, reading the
-- claims PostgREST-style from request.jwt.claim.* or request.jwt.claims.
do $$
begin
    if not exists (select 1 from pg_catalog.pg_proc p
                   join pg_catalog.pg_namespace n on n.oid = p.pronamespace
                   where n.nspname = 'auth' and p.proname = 'uid') then
        execute $fn$
            create function auth.uid() returns uuid
            language sql stable
            as $body$
                select coalesce(
                    nullif(current_setting('request.jwt.claim.sub', true), ''),
                    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
                )::uuid
            $body$
        $fn$;
        revoke all on function auth.uid() from public;
        grant execute on function auth.uid() to anon, authenticated, service_role;
    end if;
    if not exists (select 1 from pg_catalog.pg_proc p
                   join pg_catalog.pg_namespace n on n.oid = p.pronamespace
                   where n.nspname = 'auth' and p.proname = 'role') then
        execute $fn$
            create function auth.role() returns text
            language sql stable
            as $body$
                select coalesce(
                    nullif(current_setting('request.jwt.claim.role', true), ''),
                    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
                )::text
            $body$
        $fn$;
        revoke all on function auth.role() from public;
        grant execute on function auth.role() to anon, authenticated, service_role;
    end if;
    if not exists (select 1 from pg_catalog.pg_proc p
                   join pg_catalog.pg_namespace n on n.oid = p.pronamespace
                   where n.nspname = 'auth' and p.proname = 'jwt') then
        execute $fn$
            create function auth.jwt() returns jsonb
            language sql stable
            as $body$
                select coalesce(
                    nullif(current_setting('request.jwt.claim', true), ''),
                    nullif(current_setting('request.jwt.claims', true), '')
                )::jsonb
            $body$
        $fn$;
        revoke all on function auth.jwt() from public;
        grant execute on function auth.jwt() to anon, authenticated, service_role;
    end if;
end
$$;

-- Schema promptd: internal functions, callable only where granted.
create schema promptd;
revoke all on schema promptd from public;
grant usage on schema promptd to anon, authenticated, service_role;
-- The worker prepares its statements once per connection, before any
-- role switch, and resolves promptd.ensure_profile() in the statement that
-- switches role: it must be able to look names up in these schemas.  USAGE
-- alone grants nothing on the objects inside them.
grant usage on schema auth, public, promptd to promptd_app;

-- The request roles read and write the public tables (each under RLS).
grant usage on schema public to anon, authenticated, service_role;

-- promptd.migration_state(): what `promptctl migrate` has applied, for
-- /readyz.  plpgsql so the body binds at call time.
create function promptd.migration_state()
returns table (applied int, latest text)
language plpgsql stable security definer set search_path = ''
as $$
begin
    return query
        select count(*)::int, max(m.version)
        from public.schema_migrations m;
end
$$;
revoke all on function promptd.migration_state() from public;
grant execute on function promptd.migration_state() to anon, authenticated, service_role;

-- promptd.touch_updated_at(): BEFORE UPDATE trigger keeping updated_at.
create function promptd.touch_updated_at() returns trigger
language plpgsql set search_path = ''
as $$
begin
    new.updated_at := now();
    return new;
end
$$;
revoke all on function promptd.touch_updated_at() from public;
