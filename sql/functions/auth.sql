-- auth.sql: GoTrue-compatible auth: sessions, sign-up, passwords, refresh, email; the attempt throttle (sign-in, share passwords).
--
-- The one current definition of each; promptctl migrate re-applies this
-- file after the numbered migrations, every run: edit here, never in
-- sql/NNNN_*.sql (see README, "promptctl").

-- The GoTrue user object of a user, or NULL; "factors" only when it has
-- some (sql/functions/mfa.sql), as GoTrue omits an empty list.
CREATE OR REPLACE FUNCTION promptd.auth_user_json(p_user uuid)
 RETURNS jsonb
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
        'identities', (case when coalesce(u.raw_app_meta_data->>'provider', 'email') = 'email'
            then jsonb_build_array(jsonb_build_object(
            'identity_id', u.id, 'id', u.id, 'user_id', u.id,
            'identity_data', jsonb_build_object('email', u.email, 'sub', u.id::text,
                'email_verified', u.email_confirmed_at is not null,
                'phone_verified', false),
            'provider', 'email', 'email', u.email,
            'last_sign_in_at', u.last_sign_in_at,
            'created_at', u.created_at, 'updated_at', u.updated_at))
            else '[]'::jsonb end)
            || coalesce((select jsonb_agg(jsonb_build_object(
                'identity_id', md5(i.provider || ':' || i.subject)::uuid, 'id', i.subject,
                'user_id', u.id,
                'identity_data', jsonb_build_object('sub', i.subject, 'email', i.email,
                    'email_verified', i.data->'email_verified'),
                'provider', i.provider, 'email', i.email,
                'last_sign_in_at', i.last_sign_in_at,
                'created_at', i.created_at, 'updated_at', i.updated_at) order by i.created_at)
               from promptd.identities i where i.user_id = u.id), '[]'::jsonb),
        'created_at', u.created_at,
        'updated_at', u.updated_at,
        'is_anonymous', coalesce(u.is_anonymous, false))
        || jsonb_strip_nulls(jsonb_build_object('factors', promptd.mfa_factors_json(u.id)))
    from auth.users u
    where u.id = p_user and u.deleted_at is null
$function$;
revoke all on function promptd.auth_user_json(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- A new session with its first refresh token (internal).
CREATE OR REPLACE FUNCTION promptd.auth_session_open(p_user uuid, p_refresh bytea, p_user_agent text, p_ip text)
 RETURNS uuid
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    sid uuid;
begin
    insert into promptd.sessions (user_id, user_agent, ip)
    values (p_user, p_user_agent, p_ip) returning id into sid;
    insert into promptd.refresh_tokens (token_hash, session_id, user_id)
    values (p_refresh, sid, p_user);
    return sid;
end
$function$;
revoke all on function promptd.auth_session_open(uuid,bytea,text,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- Revoke a session and every refresh token of it (internal).
CREATE OR REPLACE FUNCTION promptd.auth_session_revoke(p_session uuid)
 RETURNS void
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
    update promptd.sessions set revoked_at = coalesce(revoked_at, now())
    where id = p_session;
    update promptd.refresh_tokens set revoked = true, updated_at = now()
    where session_id = p_session and not revoked;
$function$;
revoke all on function promptd.auth_session_revoke(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- Sign-up with autoconfirm: no row when the email is taken.
CREATE OR REPLACE FUNCTION promptd.auth_signup(p_email text, p_hash text, p_data jsonb, p_refresh bytea, p_user_agent text, p_ip text)
 RETURNS TABLE(user_json jsonb, session_id uuid, user_id uuid)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
$function$;
revoke all on function promptd.auth_signup(text,text,jsonb,bytea,text,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.auth_signup(text,text,jsonb,bytea,text,text) to promptd_auth;

-- promptd.auth_password_begin
CREATE OR REPLACE FUNCTION promptd.auth_password_begin(p_email text, p_address text)
 RETURNS TABLE(locked_seconds integer, user_id uuid, hash text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    locked_seconds := promptd.throttle_attempt(array['account', 'address'],
                                               array[p_email, p_address], array[5, 20]);
    if locked_seconds = 0 then
        select u.id, u.encrypted_password into user_id, hash
          from auth.users u
         where lower(u.email) = p_email and u.deleted_at is null
         order by u.created_at
         limit 1;
    end if;
    return next;
end
$function$;
revoke all on function promptd.auth_password_begin(text,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.auth_password_begin(text,text) to promptd_auth;

-- promptd.auth_password_ok
CREATE OR REPLACE FUNCTION promptd.auth_password_ok(p_user uuid, p_email text, p_address text, p_refresh bytea, p_user_agent text)
 RETURNS TABLE(user_json jsonb, session_id uuid)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    perform promptd.throttle_success('account', p_email, 'address', p_address, 20);
    update auth.users u set last_sign_in_at = now() where u.id = p_user;
    session_id := promptd.auth_session_open(p_user, p_refresh, p_user_agent, p_address);
    user_json := promptd.auth_user_json(p_user);
    return next;
end
$function$;
revoke all on function promptd.auth_password_ok(uuid,text,text,bytea,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.auth_password_ok(uuid,text,text,bytea,text) to promptd_auth;

-- The caller's user object; NULL when p_session names a session of the
-- caller that is revoked or absent (tokens without session_id, e.g. from
-- promptctl, skip that check).
CREATE OR REPLACE FUNCTION promptd.auth_current_user(p_session uuid)
 RETURNS jsonb
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    select promptd.auth_user_json(auth.uid())
    where p_session is null
       or exists (select 1 from promptd.sessions s
                  where s.id = p_session and s.user_id = auth.uid()
                    and s.revoked_at is null)
$function$;
revoke all on function promptd.auth_current_user(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.auth_current_user(uuid) to authenticated;

-- PUT /auth/v1/user: merge p_data into user_metadata (a null member
-- removes the key); a new password hash revokes the caller's other
-- sessions.  NULL when the session is gone.
CREATE OR REPLACE FUNCTION promptd.auth_update_user(p_session uuid, p_data jsonb, p_hash text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
$function$;
revoke all on function promptd.auth_update_user(uuid,jsonb,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.auth_update_user(uuid,jsonb,text) to service_role, promptd_app;

-- Logout: scope local (this session), others (all but this), global (all).
-- Returns the number of sessions revoked.
CREATE OR REPLACE FUNCTION promptd.auth_logout(p_session uuid, p_scope text)
 RETURNS integer
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
$function$;
revoke all on function promptd.auth_logout(uuid,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.auth_logout(uuid,text) to authenticated;

-- One attempt against the counters (kinds[i], keys[i]) with lock thresholds
-- thresholds[i]: while any is locked, the seconds left (nothing counted);
-- else 0, and the attempt is counted as a failure on each (taken back by
-- throttle_success).  A counter locks at its threshold for 30 s, doubling
-- per further failure, at most an hour; counts restart after an hour
-- without failures.
CREATE OR REPLACE FUNCTION promptd.throttle_attempt(p_kinds text[], p_keys text[], p_thresholds integer[])
 RETURNS integer
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    wait_s int := 0;
    k record;
begin
    for k in select * from unnest(p_kinds, p_keys, p_thresholds) as v(kind, key, threshold)
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
        return wait_s;
    end if;
    for k in select * from unnest(p_kinds, p_keys, p_thresholds) as v(kind, key, threshold)
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
    return 0;
end
$function$;
revoke all on function promptd.throttle_attempt(text[],text[],integer[]) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- The attempt was right: clear the (p_kind, p_key) counter and take the
-- attempt back from the address counter (p_address_kind, p_address), which
-- stays locked only if it is still at or past p_address_threshold.
CREATE OR REPLACE FUNCTION promptd.throttle_success(p_kind text, p_key text, p_address_kind text, p_address text, p_address_threshold integer)
 RETURNS void
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
    delete from promptd.auth_throttle t where t.kind = p_kind and t.key = p_key;
    update promptd.auth_throttle t set
        failures = greatest(t.failures - 1, 0),
        locked_until = case when t.failures - 1 >= p_address_threshold then t.locked_until end
    where t.kind = p_address_kind and t.key = p_address;
$function$;
revoke all on function promptd.throttle_success(text,text,text,text,integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.auth_password_rehash
CREATE OR REPLACE FUNCTION promptd.auth_password_rehash(p_user uuid, p_old text, p_new text)
 RETURNS boolean
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    if p_new is null or p_new !~ '^\$argon2id\$' then
        raise exception 'promptd.auth_password_rehash: not an argon2id hash'
            using errcode = '22023';
    end if;
    update auth.users u set encrypted_password = p_new
    where u.id = p_user and u.encrypted_password = p_old;
    return found;
end
$function$;
revoke all on function promptd.auth_password_rehash(uuid,text,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.auth_password_rehash(uuid,text,text) to promptd_auth;

-- promptd.auth_refresh
CREATE OR REPLACE FUNCTION promptd.auth_refresh(p_old bytea, p_new bytea, p_ttl integer, p_reuse integer)
 RETURNS TABLE(status text, user_json jsonb, session_id uuid, user_id uuid)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
    if t.revoked and not (s.revoked_at is null and p_reuse > 0
                          and t.updated_at + make_interval(secs => p_reuse) > now()
                          and exists (select 1 from promptd.refresh_tokens c
                                      where c.parent = t.id and not c.revoked)) then
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
    -- A token refreshed inside the window keeps the time of its rotation,
    -- so the window is never extended by using it.
    update promptd.refresh_tokens r set revoked = true, updated_at = now()
    where r.id = t.id and not r.revoked;
    insert into promptd.refresh_tokens (token_hash, session_id, user_id, parent)
    values (p_new, s.id, s.user_id, t.id);
    update promptd.sessions x set refreshed_at = now() where x.id = s.id;
    user_json := promptd.auth_user_json(s.user_id);
    status := case when user_json is null then 'not_found' else 'ok' end;
    return next;
end
$function$;
revoke all on function promptd.auth_refresh(bytea,bytea,integer,integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.auth_refresh(bytea,bytea,integer,integer) to promptd_auth;

-- The caller's own session: its sign-in time (epoch seconds) and whether
-- it has ended.  No row for a session that is not the caller's or that
-- promptd does not keep (a token Supabase's GoTrue issued).
CREATE OR REPLACE FUNCTION promptd.session_signed_in_at(p_session uuid)
 RETURNS TABLE(signed_in_at double precision, revoked boolean)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    select extract(epoch from s.created_at)::double precision,
           s.revoked_at is not null
    from promptd.sessions s
    where s.id = p_session and s.user_id = auth.uid()
$function$;
revoke all on function promptd.session_signed_in_at(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.session_signed_in_at(uuid) to authenticated;

-- PUT /auth/v1/user {email}: the caller's new address, confirmed at once
-- (sign-up is autoconfirm too, as GoTrue with MAILER_AUTOCONFIRM).  The
-- caller has re-authenticated (checked by the auth family).  status: ok |
-- session_not_found | email_exists.  The profile's copy follows.
CREATE OR REPLACE FUNCTION promptd.auth_change_email(p_session uuid, p_email text)
 RETURNS text
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    if promptd.auth_current_user(p_session) is null then
        return 'session_not_found';
    end if;
    -- one change (or sign-up) of an address at a time
    perform pg_advisory_xact_lock(hashtextextended('promptd.email:' || p_email, 0));
    if exists (select 1 from auth.users u
               where lower(u.email) = p_email and u.id <> auth.uid()) then
        return 'email_exists';
    end if;
    update auth.users u set email = p_email, email_confirmed_at = now(),
                            updated_at = now()
    where u.id = auth.uid();
    update public.profiles p set email = p_email where p.id = auth.uid();
    return 'ok';
end
$function$;
revoke all on function promptd.auth_change_email(uuid,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.auth_change_email(uuid,text) to service_role, promptd_app;

-- promptd.auth_session_level(session) -> {aal, amr}: what a session's
-- access tokens claim, for the refresh grant (role promptd_auth).  amr:
-- [{method, timestamp}] newest first; a session without one was opened by
-- a password sign-in.  Null when there is no such session.
CREATE OR REPLACE FUNCTION promptd.auth_session_level(p_session uuid)
 RETURNS jsonb
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    select jsonb_build_object('aal', s.aal, 'amr', coalesce(s.amr, jsonb_build_array(
               jsonb_build_object('method', 'password',
                                  'timestamp', floor(extract(epoch from s.created_at))::bigint))))
    from promptd.sessions s where s.id = p_session
$function$;
revoke all on function promptd.auth_session_level(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.auth_session_level(uuid) to promptd_auth;
