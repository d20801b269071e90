-- 0040_email_flows.sql: one-time codes for the account flows by mail (confirmation, recovery, sign-in by code, email change; issue 22) and their purge.

create table promptd.auth_codes (
    id          bigint generated always as identity primary key,
    user_id     uuid not null references auth.users (id) on delete cascade,
    kind        text not null check (kind in ('signup', 'recovery', 'magiclink', 'email_change')),
    email       text not null,           -- where it went (email_change: the new address), lower case
    code_hash   bytea not null,          -- HMAC-SHA256 of the 6-digit code (the auth family's key)
    link_hash   bytea not null unique,   -- SHA-256 of the link's token
    tries       int not null default 0,  -- wrong codes so far
    expires_at  timestamptz not null,
    created_at  timestamptz not null default now(),
    unique (user_id, kind)               -- a new code replaces the last
);
create index auth_codes_email on promptd.auth_codes (email, kind);
-- only the definer functions below touch it
revoke all on table promptd.auth_codes from public;

-- promptd.auth_code_issue(user, kind, email, code_hash, link_hash, ttl,
-- rate, mail_kind, vars) -> 0 when a fresh code of kind for the user is
-- stored (replacing any earlier one) and its mail queued to email, else the
-- seconds to wait: a mail of mail_kind went to the address less than rate
-- seconds ago (nothing is written then).  The code and link token arrive
-- hashed (code_hash: HMAC of the code, link_hash: SHA-256 of the token);
-- vars (the mail's code and link in clear) live in the outbox only until
-- delivery.  Internal: the flows below call it.
create or replace function promptd.auth_code_issue(p_user uuid, p_kind text, p_email text,
                                                   p_code_hash bytea, p_link_hash bytea,
                                                   p_ttl integer, p_rate integer,
                                                   p_mail_kind text, p_vars jsonb)
 returns integer
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    v_last timestamptz;
begin
    perform pg_advisory_xact_lock(hashtextextended('promptd.mail:' || lower(p_email), 0));
    select max(o.created_at) into v_last from promptd.mail_outbox o
     where o.kind = p_mail_kind and lower(o.to_addr) = lower(p_email)
       and o.created_at > now() - make_interval(secs => p_rate);
    if v_last is not null then
        return greatest(1, ceil(extract(epoch from v_last + make_interval(secs => p_rate) - now())))::integer;
    end if;
    insert into promptd.auth_codes (user_id, kind, email, code_hash, link_hash, expires_at)
    values (p_user, p_kind, lower(p_email), p_code_hash, p_link_hash,
            now() + make_interval(secs => p_ttl))
    on conflict (user_id, kind) do update
       set email = excluded.email, code_hash = excluded.code_hash,
           link_hash = excluded.link_hash, expires_at = excluded.expires_at,
           tries = 0, created_at = now();
    perform promptd.mail_enqueue(p_mail_kind, p_email, p_vars, p_user);
    return 0;
end
$function$;
revoke all on function promptd.auth_code_issue(uuid,text,text,bytea,bytea,integer,integer,text,jsonb) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.auth_code_user(email) -> (user_id, confirmed, pending_email):
-- the live account of an address, whether it is confirmed, and the new
-- address of a pending email change; no row for an unknown address.
create or replace function promptd.auth_code_user(p_email text)
 returns table (user_id uuid, confirmed boolean, pending_email text)
 language sql
 stable security definer
 set search_path to ''
as $function$
    select u.id, u.email_confirmed_at is not null,
           (select c.email from promptd.auth_codes c
             where c.user_id = u.id and c.kind = 'email_change' and c.expires_at > now())
      from auth.users u
     where lower(u.email) = lower(p_email) and u.deleted_at is null
     order by u.created_at
     limit 1;
$function$;
revoke all on function promptd.auth_code_user(text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.auth_code_user(text) to promptd_auth;

-- promptd.auth_code_send(email, kind, code_hash, link_hash, ttl, rate,
-- vars) -> (status, wait): the unauthenticated flows' mail.  kind:
--   signup    a confirmation to an unconfirmed account (resend)
--   recovery  a recovery code to a live account
--   magiclink a sign-in code to a live account
--   email_change  the pending change's code again, to the new address
-- status: sent | wait (seconds in wait) | unknown (no such account, or
-- nothing pending: nothing is sent) | confirmed (signup: already done).
create or replace function promptd.auth_code_send(p_email text, p_kind text, p_code_hash bytea,
                                                  p_link_hash bytea, p_ttl integer,
                                                  p_rate integer, p_vars jsonb)
 returns table (status text, wait integer)
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    u record;
    v_to text := p_email;
    v_mail text := case p_kind when 'signup' then 'confirmation' when 'magiclink' then 'magic_link'
                               else p_kind end;
begin
    select * into u from promptd.auth_code_user(p_email);
    if u.user_id is null or (p_kind = 'email_change' and u.pending_email is null) then
        status := 'unknown';
        return next;
        return;
    end if;
    if p_kind = 'signup' and u.confirmed then
        status := 'confirmed';
        return next;
        return;
    end if;
    if p_kind = 'email_change' then
        v_to := u.pending_email;
    end if;
    wait := promptd.auth_code_issue(u.user_id, p_kind, v_to, p_code_hash, p_link_hash, p_ttl,
                                    p_rate, v_mail, p_vars || jsonb_build_object('email', v_to));
    status := case when wait > 0 then 'wait' else 'sent' end;
    return next;
end
$function$;
revoke all on function promptd.auth_code_send(text,text,bytea,bytea,integer,integer,jsonb) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.auth_code_send(text,text,bytea,bytea,integer,integer,jsonb) to promptd_auth;

-- promptd.auth_signup_confirm(email, hash, data, code_hash, link_hash,
-- ttl, rate, vars) -> (status, user_json, user_id, wait): sign-up when
-- addresses must be proven.  status: created (a new unconfirmed account,
-- its confirmation queued) | resent (the address's account is still
-- unconfirmed: a new code, unless wait > 0) | confirmed (taken and
-- proven: nothing written; the caller answers as for a new account).
create or replace function promptd.auth_signup_confirm(p_email text, p_hash text, p_data jsonb,
                                                       p_code_hash bytea, p_link_hash bytea,
                                                       p_ttl integer, p_rate integer, p_vars jsonb)
 returns table (status text, user_json jsonb, user_id uuid, wait integer)
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    u record;
begin
    perform pg_advisory_xact_lock(hashtextextended('promptd.email:' || p_email, 0));
    select * into u from promptd.auth_code_user(p_email);
    if u.user_id is not null and u.confirmed then
        status := 'confirmed';
        return next;
        return;
    end if;
    status := 'resent';
    user_id := u.user_id;
    if user_id is null then
        insert into auth.users (id, aud, role, email, encrypted_password, email_confirmed_at,
                                raw_app_meta_data, raw_user_meta_data, is_anonymous)
        values (gen_random_uuid(), 'authenticated', 'authenticated', p_email, p_hash, null,
                '{"provider":"email","providers":["email"]}', coalesce(p_data, '{}'), false)
        returning id into user_id;
        status := 'created';
    end if;
    wait := promptd.auth_code_issue(user_id, 'signup', p_email, p_code_hash, p_link_hash, p_ttl,
                                    p_rate, 'confirmation', p_vars || jsonb_build_object('email', p_email));
    user_json := promptd.auth_user_json(user_id);
    return next;
end
$function$;
revoke all on function promptd.auth_signup_confirm(text,text,jsonb,bytea,bytea,integer,integer,jsonb) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.auth_signup_confirm(text,text,jsonb,bytea,bytea,integer,integer,jsonb) to promptd_auth;

-- promptd.auth_otp_user(email, create, data) -> (status, user_id): the
-- account a sign-in code goes to.  status: ok | created (create: a new,
-- unconfirmed account without a password) | unknown (not create).
create or replace function promptd.auth_otp_user(p_email text, p_create boolean, p_data jsonb)
 returns table (status text, user_id uuid)
 language plpgsql
 security definer
 set search_path to ''
as $function$
begin
    perform pg_advisory_xact_lock(hashtextextended('promptd.email:' || p_email, 0));
    select u.user_id into user_id from promptd.auth_code_user(p_email) u;
    status := 'ok';
    if user_id is null and not p_create then
        status := 'unknown';
    elsif user_id is null then
        insert into auth.users (id, aud, role, email, email_confirmed_at,
                                raw_app_meta_data, raw_user_meta_data, is_anonymous)
        values (gen_random_uuid(), 'authenticated', 'authenticated', p_email, null,
                '{"provider":"email","providers":["email"]}', coalesce(p_data, '{}'), false)
        returning id into user_id;
        status := 'created';
    end if;
    return next;
end
$function$;
revoke all on function promptd.auth_otp_user(text,boolean,jsonb) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.auth_otp_user(text,boolean,jsonb) to promptd_auth;

-- promptd.auth_code_verify(kinds, email, code_hash, link_hash, max_tries,
-- refresh, user_agent, ip) -> (status, user_json, session_id, user_id,
-- kind, level): spend a code, by address and code (email, code_hash) or by
-- its link (link_hash; email null), of one of kinds.  status:
--   ok            the code's effect applied (the address confirmed; for
--                 email_change the account's address replaced) and a
--                 session opened, its amr the kind's method
--   invalid       no such live code, expired, or a wrong code (counted:
--                 the max_tries-th wrong one deletes the code); the
--                 caller commits so that the count stays
--   email_exists  email_change to an address another account took since
-- A code is single use: it is deleted when it succeeds.
create or replace function promptd.auth_code_verify(p_kinds text[], p_email text, p_code_hash bytea,
                                                    p_link_hash bytea, p_max_tries integer,
                                                    p_refresh bytea, p_user_agent text, p_ip text)
 returns table (status text, user_json jsonb, session_id uuid, user_id uuid, kind text, level jsonb)
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    c promptd.auth_codes;
    v_old text;
begin
    status := 'invalid';
    if p_link_hash is not null then
        select * into c from promptd.auth_codes x
         where x.link_hash = p_link_hash and x.kind = any(p_kinds) for update;
    else
        select * into c from promptd.auth_codes x
         where x.email = lower(p_email) and x.kind = any(p_kinds)
         order by x.created_at desc limit 1 for update;
    end if;
    if c.id is null then
        return next;
        return;
    end if;
    user_id := c.user_id;
    kind := c.kind;
    if c.expires_at <= now() then
        delete from promptd.auth_codes x where x.id = c.id;
        return next;
        return;
    end if;
    if p_link_hash is null and c.code_hash <> p_code_hash then
        if c.tries + 1 >= p_max_tries then
            delete from promptd.auth_codes x where x.id = c.id;
        else
            update promptd.auth_codes x set tries = x.tries + 1 where x.id = c.id;
        end if;
        return next;
        return;
    end if;
    delete from promptd.auth_codes x where x.id = c.id;
    if c.kind = 'email_change' then
        perform pg_advisory_xact_lock(hashtextextended('promptd.email:' || c.email, 0));
        if exists (select 1 from auth.users u where lower(u.email) = c.email and u.id <> c.user_id) then
            status := 'email_exists';
            return next;
            return;
        end if;
        select u.email into v_old from auth.users u where u.id = c.user_id;
        update auth.users u set email = c.email, email_confirmed_at = now(), updated_at = now()
         where u.id = c.user_id;
        update public.profiles p set email = c.email where p.id = c.user_id;
        perform promptd.audit('auth.email_change', 'user:' || c.user_id, 'success',
                              jsonb_build_object('from', v_old, 'to', c.email), c.user_id);
    end if;
    update auth.users u set email_confirmed_at = coalesce(u.email_confirmed_at, now()),
                            last_sign_in_at = now()
     where u.id = c.user_id;
    session_id := promptd.auth_session_open(c.user_id, p_refresh, p_user_agent, p_ip);
    level := jsonb_build_object('aal', 'aal1', 'amr', jsonb_build_array(jsonb_build_object(
                 'method', case c.kind when 'signup' then 'otp' when 'magiclink' then 'otp'
                                       else c.kind end,
                 'timestamp', extract(epoch from now())::bigint)));
    update promptd.sessions s set amr = level->'amr' where s.id = session_id;
    user_json := promptd.auth_user_json(c.user_id);
    status := 'ok';
    return next;
end
$function$;
revoke all on function promptd.auth_code_verify(text[],text,bytea,bytea,integer,bytea,text,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.auth_code_verify(text[],text,bytea,bytea,integer,bytea,text,text) to promptd_auth;

-- promptd.auth_email_change_begin(session, email, code_hash, link_hash,
-- ttl, rate, vars) -> (status, wait): PUT /auth/v1/user {email} when
-- addresses must be proven: a code to the new address (kind email_change,
-- vars with it) and a notice to the old one.  The caller has
-- re-authenticated.  status: sent | wait | session_not_found |
-- email_exists (another account has it).
create or replace function promptd.auth_email_change_begin(p_session uuid, p_email text,
                                                           p_code_hash bytea, p_link_hash bytea,
                                                           p_ttl integer, p_rate integer,
                                                           p_vars jsonb)
 returns table (status text, wait integer)
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    v_old text;
begin
    if promptd.auth_current_user(p_session) is null then
        status := 'session_not_found';
        return next;
        return;
    end if;
    if exists (select 1 from auth.users u where lower(u.email) = p_email and u.id <> auth.uid()) then
        status := 'email_exists';
        return next;
        return;
    end if;
    select u.email into v_old from auth.users u where u.id = auth.uid();
    wait := promptd.auth_code_issue(auth.uid(), 'email_change', p_email, p_code_hash, p_link_hash,
                                    p_ttl, p_rate, 'email_change',
                                    p_vars || jsonb_build_object('new_email', p_email));
    status := case when wait > 0 then 'wait' else 'sent' end;
    if wait = 0 and v_old is not null and v_old <> '' then
        perform promptd.mail_enqueue('email_change_notice', v_old,
                                     jsonb_build_object('new_email', p_email), auth.uid());
    end if;
    return next;
end
$function$;
revoke all on function promptd.auth_email_change_begin(uuid,text,bytea,bytea,integer,integer,jsonb) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.auth_email_change_begin(uuid,text,bytea,bytea,integer,integer,jsonb) to service_role, promptd_app;

-- promptd.auth_email_confirmed(user) -> whether the account's address is
-- proven: password sign-in refuses an unconfirmed one.
create or replace function promptd.auth_email_confirmed(p_user uuid)
 returns boolean
 language sql
 stable security definer
 set search_path to ''
as $function$
    select coalesce((select u.email_confirmed_at is not null from auth.users u where u.id = p_user), false);
$function$;
revoke all on function promptd.auth_email_confirmed(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.auth_email_confirmed(uuid) to promptd_auth;

-- promptd.maintenance_purge
CREATE OR REPLACE FUNCTION promptd.maintenance_purge(p_batch integer)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    n_idem int;
    n_throttle int;
    n_sessions int;
    n_runs int;
    n_cache int;
    n_stripe int;
    n_mail int;
    n_codes int;
begin
    delete from public.idempotency_keys k
    where k.ctid = any (array(
        select x.ctid from public.idempotency_keys x
        where x.created_at < now() - interval '24 hours' limit p_batch));
    get diagnostics n_idem = row_count;

    delete from promptd.auth_throttle t
    where (t.kind, t.key) in (
        select x.kind, x.key from promptd.auth_throttle x
        where coalesce(x.last_failure_at, '-infinity') < now() - interval '1 hour'
          and coalesce(x.locked_until, '-infinity') < now()
        limit p_batch);
    get diagnostics n_throttle = row_count;

    delete from promptd.sessions s
    where s.id in (
        select x.id from promptd.sessions x
        where least(x.revoked_at, x.not_after) < now() - interval '7 days'
        limit p_batch);
    get diagnostics n_sessions = row_count;

    delete from promptd.schedule_runs r
    where (r.task, r.scheduled_for) in (
        select x.task, x.scheduled_for from promptd.schedule_runs x
        where x.scheduled_for < now() - interval '7 days'
          and x.scheduled_for < (select max(y.scheduled_for) from promptd.schedule_runs y
                                 where y.task = x.task)
        limit p_batch);
    get diagnostics n_runs = row_count;

    delete from public.enrich_cache c
    where (c.user_id, c.key) in (
        select x.user_id, x.key from public.enrich_cache x
        where x.expires_at < now()
        limit p_batch);
    get diagnostics n_cache = row_count;

    -- Stripe keeps an event 30 days; a processed one is kept 90 here (an
    -- event not yet processed stays until it is)
    delete from promptd.stripe_events e
    where e.id in (
        select x.id from promptd.stripe_events x
        where x.processed_at < now() - interval '90 days'
        limit p_batch);
    get diagnostics n_stripe = row_count;

    -- a mail in a final state is kept 30 days (its values are already
    -- cleared); a pending one stays until it is delivered
    delete from promptd.mail_outbox o
    where o.id in (
        select x.id from promptd.mail_outbox x
        where x.state <> 'pending' and x.created_at < now() - interval '30 days'
        limit p_batch);
    get diagnostics n_mail = row_count;

    -- one-time codes of the account flows, a day after they expired
    delete from promptd.auth_codes c
    where c.id in (
        select x.id from promptd.auth_codes x
        where x.expires_at < now() - interval '1 day'
        limit p_batch);
    get diagnostics n_codes = row_count;

    return jsonb_build_object('idempotency_keys', n_idem, 'auth_throttle', n_throttle,
                              'sessions', n_sessions, 'schedule_runs', n_runs,
                              'enrich_cache', n_cache, 'stripe_events', n_stripe,
                              'mail_outbox', n_mail, 'auth_codes', n_codes);
end
$function$;
revoke all on function promptd.maintenance_purge(integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.maintenance_purge(integer) to service_role;
