-- 0006_auth_sessions.sql: built-in GoTrue-compatible auth: passwords, sessions, rotating refresh tokens, sign-in throttling.
--
-- auth.users gains the Supabase columns the auth family needs, only where
-- absent (a Supabase database has them all).  Sessions, refresh tokens and
-- the throttle live in schema promptd, not in Supabase's auth.sessions /
-- auth.refresh_tokens (whose columns and semantics belong to GoTrue): on a
-- Supabase database both can coexist, each server using its own.
--
-- Every table here has RLS enabled and forced with no policy and no grant:
-- only the SECURITY DEFINER functions below touch them.  The functions a
-- caller without a token may reach (sign-up, password grant, refresh) are
-- granted to promptd_auth, a NOLOGIN role that only the worker role can
-- SET ROLE to (on Supabase, PostgREST's authenticator cannot), so the
-- hash-returning lookup is never callable as anon.  The functions acting
-- on the caller's own account use auth.uid() and are granted to
-- authenticated.

do $$
begin
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'promptd_auth') then
        create role promptd_auth nologin noinherit;
    end if;
end
$$;
grant promptd_auth to promptd_app;
grant usage on schema promptd to promptd_auth;

-- auth.users columns used here (Supabase has them; 0001 created a subset).
do $$
declare
    c record;
begin
    for c in select * from (values
        ('encrypted_password', 'text'),
        ('email_confirmed_at', 'timestamptz'),
        ('last_sign_in_at', 'timestamptz'),
        ('raw_app_meta_data', 'jsonb'),
        ('raw_user_meta_data', 'jsonb'),
        ('is_anonymous', 'boolean not null default false'),
        ('aud', 'text'),
        ('role', 'text'),
        ('phone', 'text'),
        ('deleted_at', 'timestamptz')) as v(name, type)
    loop
        if not exists (select 1 from information_schema.columns
                       where table_schema = 'auth' and table_name = 'users'
                         and column_name = c.name) then
            execute format('alter table auth.users add column %I %s', c.name, c.type);
        end if;
    end loop;
end
$$;

-- One row per sign-in (GoTrue's session); a refresh keeps the session.
create table promptd.sessions (
    id           uuid primary key default gen_random_uuid(),
    user_id      uuid not null references auth.users (id) on delete cascade,
    created_at   timestamptz not null default now(),
    refreshed_at timestamptz,
    not_after    timestamptz,          -- hard end of the session, or none
    revoked_at   timestamptz,          -- logout or refresh-token reuse
    user_agent   text,
    ip           text
);
create index sessions_user_idx on promptd.sessions (user_id);

-- Refresh tokens: only the SHA-256 of the random token is stored.  A token
-- is spent (revoked) when it is exchanged; its child is the next token of
-- the same session.
create table promptd.refresh_tokens (
    id          bigserial primary key,
    token_hash  bytea not null unique check (octet_length(token_hash) = 32),
    session_id  uuid not null references promptd.sessions (id) on delete cascade,
    user_id     uuid not null references auth.users (id) on delete cascade,
    parent      bigint references promptd.refresh_tokens (id) on delete set null,
    revoked     boolean not null default false,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now()
);
create index refresh_tokens_session_idx on promptd.refresh_tokens (session_id);

-- Sign-in attempts per account (normalised email, whether or not a user
-- has it) and per client address.
create table promptd.auth_throttle (
    kind            text not null check (kind in ('account', 'address')),
    key             text not null,
    failures        int not null default 0,
    last_failure_at timestamptz,
    locked_until    timestamptz,
    primary key (kind, key)
);

alter table promptd.sessions enable row level security;
alter table promptd.sessions force row level security;
alter table promptd.refresh_tokens enable row level security;
alter table promptd.refresh_tokens force row level security;
alter table promptd.auth_throttle enable row level security;
alter table promptd.auth_throttle force row level security;
revoke all on table promptd.sessions, promptd.refresh_tokens, promptd.auth_throttle
    from public, anon, authenticated, service_role, promptd_app, promptd_auth;
revoke all on sequence promptd.refresh_tokens_id_seq
    from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- The GoTrue user object of a user, or NULL.
create function promptd.auth_user_json(p_user uuid) returns jsonb
language sql stable security definer set search_path = ''
as $$
    select jsonb_build_object(
        'id', u.id,
        'aud', coalesce(u.aud, 'authenticated'),
        'role', coalesce(u.role, 'authenticated'),
        'email', coalesce(u.email, ''),
        'email_confirmed_at', u.email_confirmed_at,
        'phone', coalesce(u.phone, ''),
        'confirmed_at', u.email_confirmed_at,
        'last_sign_in_at', u.last_sign_in_at,
        'app_metadata', coalesce(u.raw_app_meta_data,
            '{"provider":"email","providers":["email"]}'::jsonb),
        'user_metadata', coalesce(u.raw_user_meta_data, '{}'::jsonb),
        'identities', jsonb_build_array(jsonb_build_object(
            'identity_id', u.id, 'id', u.id, 'user_id', u.id,
            'identity_data', jsonb_build_object('email', u.email, 'sub', u.id::text,
                'email_verified', u.email_confirmed_at is not null,
                'phone_verified', false),
            'provider', 'email', 'email', u.email,
            'last_sign_in_at', u.last_sign_in_at,
            'created_at', u.created_at, 'updated_at', u.updated_at)),
        'created_at', u.created_at,
        'updated_at', u.updated_at,
        'is_anonymous', coalesce(u.is_anonymous, false))
    from auth.users u
    where u.id = p_user and u.deleted_at is null
$$;

-- A new session with its first refresh token (internal).
create function promptd.auth_session_open(p_user uuid, p_refresh bytea,
                                          p_user_agent text, p_ip text)
returns uuid
language plpgsql volatile security definer set search_path = ''
as $$
declare
    sid uuid;
begin
    insert into promptd.sessions (user_id, user_agent, ip)
    values (p_user, p_user_agent, p_ip) returning id into sid;
    insert into promptd.refresh_tokens (token_hash, session_id, user_id)
    values (p_refresh, sid, p_user);
    return sid;
end
$$;

-- Revoke a session and every refresh token of it (internal).
create function promptd.auth_session_revoke(p_session uuid) returns void
language sql volatile security definer set search_path = ''
as $$
    update promptd.sessions set revoked_at = coalesce(revoked_at, now())
    where id = p_session;
    update promptd.refresh_tokens set revoked = true, updated_at = now()
    where session_id = p_session and not revoked;
$$;

-- Sign-up with autoconfirm: no row when the email is taken.
create function promptd.auth_signup(p_email text, p_hash text, p_data jsonb,
                                    p_refresh bytea, p_user_agent text, p_ip text)
returns table (user_json jsonb, session_id uuid, user_id uuid)
language plpgsql volatile security definer set search_path = ''
as $$
declare
    uid uuid;
begin
    if exists (select 1 from auth.users u where lower(u.email) = p_email) then
        return;
    end if;
    insert into auth.users (id, aud, role, email, encrypted_password,
                            email_confirmed_at, last_sign_in_at,
                            raw_app_meta_data, raw_user_meta_data, is_anonymous)
    values (gen_random_uuid(), 'authenticated', 'authenticated', p_email, p_hash,
            now(), now(), '{"provider":"email","providers":["email"]}',
            coalesce(p_data, '{}'), false)
    on conflict do nothing
    returning id into uid;
    if uid is null then
        return;
    end if;
    session_id := promptd.auth_session_open(uid, p_refresh, p_user_agent, p_ip);
    user_json := promptd.auth_user_json(uid);
    user_id := uid;
    return next;
end
$$;

-- Password grant, step 1: refuse while the account or the address is
-- locked (locked_seconds > 0), else count this attempt as a failure (undone
-- by step 2 on success) and return the stored hash (NULL for an unknown
-- email or a user without a password).  Counting before the check means
-- this function alone cannot be used to test passwords faster than the
-- throttle allows.  Policy: an account locks after 5 failures, an address
-- after 20, for 30 s doubling with each further failure, at most 1 hour;
-- counters restart after an hour without failures.
create function promptd.auth_password_begin(p_email text, p_address text)
returns table (locked_seconds int, user_id uuid, hash text)
language plpgsql volatile security definer set search_path = ''
as $$
declare
    wait_s int := 0;
    k record;
begin
    for k in select * from (values ('account', p_email, 5), ('address', p_address, 20))
             as v(kind, key, threshold)
    loop
        insert into promptd.auth_throttle as t (kind, key) values (k.kind, k.key)
        on conflict (kind, key) do nothing;
        perform 1 from promptd.auth_throttle t
          where t.kind = k.kind and t.key = k.key for update;
        select greatest(wait_s, coalesce(max(
                   ceil(extract(epoch from t.locked_until - now()))::int), 0))
          into wait_s
          from promptd.auth_throttle t
         where t.kind = k.kind and t.key = k.key and t.locked_until > now();
    end loop;
    if wait_s > 0 then
        locked_seconds := wait_s;
        return next;
        return;
    end if;
    for k in select * from (values ('account', p_email, 5), ('address', p_address, 20))
             as v(kind, key, threshold)
    loop
        update promptd.auth_throttle t set
            failures = case when t.last_failure_at < now() - interval '1 hour'
                            then 1 else t.failures + 1 end,
            last_failure_at = now()
        where t.kind = k.kind and t.key = k.key;
        update promptd.auth_throttle t set
            locked_until = case when t.failures >= k.threshold
                then now() + make_interval(secs => least(3600,
                    30 * power(2, least(t.failures - k.threshold, 20))))
                end
        where t.kind = k.kind and t.key = k.key;
    end loop;
    locked_seconds := 0;
    select u.id, u.encrypted_password into user_id, hash
      from auth.users u
     where lower(u.email) = p_email and u.deleted_at is null
     order by u.created_at
     limit 1;
    return next;
end
$$;

-- Password grant, step 2 (the password verified): clear the account's
-- counter, take this attempt back from the address's, open a session.
create function promptd.auth_password_ok(p_user uuid, p_email text, p_address text,
                                         p_refresh bytea, p_user_agent text)
returns table (user_json jsonb, session_id uuid)
language plpgsql volatile security definer set search_path = ''
as $$
begin
    delete from promptd.auth_throttle t where t.kind = 'account' and t.key = p_email;
    update promptd.auth_throttle t set
        failures = greatest(t.failures - 1, 0),
        locked_until = case when t.failures - 1 >= 20 then t.locked_until end
    where t.kind = 'address' and t.key = p_address;
    update auth.users u set last_sign_in_at = now() where u.id = p_user;
    session_id := promptd.auth_session_open(p_user, p_refresh, p_user_agent, p_address);
    user_json := promptd.auth_user_json(p_user);
    return next;
end
$$;

-- Refresh-token grant: exchange p_old for p_new (single use, rotation).
-- status: ok | not_found (unknown, expired, or its session ended) |
-- reused (p_old was already spent: the whole session is revoked).
-- p_ttl: seconds a refresh token stays usable after it was issued.
create function promptd.auth_refresh(p_old bytea, p_new bytea, p_ttl int)
returns table (status text, user_json jsonb, session_id uuid, user_id uuid)
language plpgsql volatile security definer set search_path = ''
as $$
declare
    t promptd.refresh_tokens;
    s promptd.sessions;
begin
    select * into t from promptd.refresh_tokens r where r.token_hash = p_old for update;
    if not found then
        status := 'not_found';
        return next;
        return;
    end if;
    select * into s from promptd.sessions x where x.id = t.session_id for update;
    session_id := s.id;
    user_id := s.user_id;
    if t.revoked then
        perform promptd.auth_session_revoke(s.id);
        status := case when s.revoked_at is null then 'reused' else 'not_found' end;
        return next;
        return;
    end if;
    if s.revoked_at is not null or (s.not_after is not null and s.not_after <= now())
       or t.created_at + make_interval(secs => p_ttl) <= now() then
        status := 'not_found';
        return next;
        return;
    end if;
    update promptd.refresh_tokens r set revoked = true, updated_at = now() where r.id = t.id;
    insert into promptd.refresh_tokens (token_hash, session_id, user_id, parent)
    values (p_new, s.id, s.user_id, t.id);
    update promptd.sessions x set refreshed_at = now() where x.id = s.id;
    user_json := promptd.auth_user_json(s.user_id);
    status := case when user_json is null then 'not_found' else 'ok' end;
    return next;
end
$$;

-- The caller's user object; NULL when p_session names a session of the
-- caller that is revoked or absent (tokens without session_id, e.g. from
-- promptctl, skip that check).
create function promptd.auth_current_user(p_session uuid) returns jsonb
language sql stable security definer set search_path = ''
as $$
    select promptd.auth_user_json(auth.uid())
    where p_session is null
       or exists (select 1 from promptd.sessions s
                  where s.id = p_session and s.user_id = auth.uid()
                    and s.revoked_at is null)
$$;

-- PUT /auth/v1/user: merge p_data into user_metadata (a null member
-- removes the key); a new password hash revokes the caller's other
-- sessions.  NULL when the session is gone.
create function promptd.auth_update_user(p_session uuid, p_data jsonb, p_hash text)
returns jsonb
language plpgsql volatile security definer set search_path = ''
as $$
begin
    if promptd.auth_current_user(p_session) is null then
        return null;
    end if;
    if p_data is not null then
        update auth.users u set raw_user_meta_data = (
            select coalesce(jsonb_object_agg(e.key, e.value), '{}'::jsonb)
            from jsonb_each(coalesce(u.raw_user_meta_data, '{}') || p_data) e
            where e.value <> 'null'::jsonb),
            updated_at = now()
        where u.id = auth.uid();
    end if;
    if p_hash is not null then
        update auth.users u set encrypted_password = p_hash, updated_at = now()
        where u.id = auth.uid();
        perform promptd.auth_session_revoke(s.id) from promptd.sessions s
        where s.user_id = auth.uid() and s.revoked_at is null
          and s.id is distinct from p_session;
    end if;
    return promptd.auth_user_json(auth.uid());
end
$$;

-- Logout: scope local (this session), others (all but this), global (all).
-- Returns the number of sessions revoked.
create function promptd.auth_logout(p_session uuid, p_scope text) returns int
language plpgsql volatile security definer set search_path = ''
as $$
declare
    n int := 0;
    sid uuid;
begin
    for sid in select s.id from promptd.sessions s
               where s.user_id = auth.uid() and s.revoked_at is null
                 and case p_scope
                       when 'local' then s.id = p_session
                       when 'others' then s.id is distinct from p_session
                       else true end
    loop
        perform promptd.auth_session_revoke(sid);
        n := n + 1;
    end loop;
    return n;
end
$$;

revoke all on function promptd.auth_user_json(uuid) from public;
revoke all on function promptd.auth_session_open(uuid, bytea, text, text) from public;
revoke all on function promptd.auth_session_revoke(uuid) from public;
revoke all on function promptd.auth_signup(text, text, jsonb, bytea, text, text) from public;
revoke all on function promptd.auth_password_begin(text, text) from public;
revoke all on function promptd.auth_password_ok(uuid, text, text, bytea, text) from public;
revoke all on function promptd.auth_refresh(bytea, bytea, int) from public;
revoke all on function promptd.auth_current_user(uuid) from public;
revoke all on function promptd.auth_update_user(uuid, jsonb, text) from public;
revoke all on function promptd.auth_logout(uuid, text) from public;
grant execute on function promptd.auth_signup(text, text, jsonb, bytea, text, text),
    promptd.auth_password_begin(text, text),
    promptd.auth_password_ok(uuid, text, text, bytea, text),
    promptd.auth_refresh(bytea, bytea, int) to promptd_auth;
grant execute on function promptd.auth_current_user(uuid),
    promptd.auth_update_user(uuid, jsonb, text),
    promptd.auth_logout(uuid, text) to authenticated;

-- The audit log (0005), when present, must accept rows written as promptd_auth.
do $$
begin
    if exists (select 1 from pg_catalog.pg_proc p
               join pg_catalog.pg_namespace n on n.oid = p.pronamespace
               where n.nspname = 'promptd' and p.proname = 'audit') then
        execute 'grant execute on function promptd.audit(text, text, text, jsonb, uuid) to promptd_auth';
    end if;
end
$$;
