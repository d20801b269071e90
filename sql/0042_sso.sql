-- 0042_sso.sql: single sign-on (issue 22): sign-in flows (state, nonce, PKCE both ways), identities linked to accounts, listed in the user object; their purge.

create table promptd.sso_flows (
    id               bigint generated always as identity primary key,
    state_hash       bytea unique,          -- SHA-256 of the state; null once called back
    provider         text not null,
    nonce            text not null,
    verifier         text not null,         -- our PKCE verifier towards the provider
    challenge        text,                  -- the client's PKCE challenge (GoTrue's flow)
    challenge_method text check (challenge_method in ('s256', 'plain')),
    redirect_to      text not null,
    user_id          uuid references auth.users (id) on delete cascade,  -- set at the callback
    code_hash        bytea unique,          -- SHA-256 of the code handed to the client
    created_at       timestamptz not null default now(),
    expires_at       timestamptz not null
);
revoke all on table promptd.sso_flows from public;

create table promptd.identities (
    provider        text not null,
    subject         text not null,          -- the provider's id of the person
    user_id         uuid not null references auth.users (id) on delete cascade,
    email           text,
    data            jsonb not null default '{}',   -- the provider's claims
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    last_sign_in_at timestamptz,
    primary key (provider, subject)
);
create index identities_user on promptd.identities (user_id);
revoke all on table promptd.identities from public;

-- The GoTrue user object of a user, or NULL.
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

-- promptd.sso_flow_begin(state_hash, provider, nonce, verifier, challenge,
-- method, redirect_to, ttl): remember one sign-in leaving for the
-- provider: the SHA-256 of its state, its nonce, our PKCE verifier towards
-- the provider, the client's PKCE challenge (GoTrue's flow) and where to
-- send the client back.  It lives ttl seconds.
create or replace function promptd.sso_flow_begin(p_state_hash bytea, p_provider text, p_nonce text,
                                                  p_verifier text, p_challenge text, p_method text,
                                                  p_redirect_to text, p_ttl integer)
 returns void
 language sql
 security definer
 set search_path to ''
as $function$
    insert into promptd.sso_flows (state_hash, provider, nonce, verifier, challenge,
                                   challenge_method, redirect_to, expires_at)
    values (p_state_hash, p_provider, p_nonce, p_verifier, p_challenge, p_method,
            p_redirect_to, now() + make_interval(secs => p_ttl));
$function$;
revoke all on function promptd.sso_flow_begin(bytea,text,text,text,text,text,text,integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.sso_flow_begin(bytea,text,text,text,text,text,text,integer) to promptd_auth;

-- promptd.sso_flow_take(state_hash) -> (id, provider, nonce, verifier,
-- redirect_to): the flow a callback's state names, once: a flow already
-- called back, expired or unknown gives no row (an expired one is
-- deleted).
create or replace function promptd.sso_flow_take(p_state_hash bytea)
 returns table (id bigint, provider text, nonce text, verifier text, redirect_to text)
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    f promptd.sso_flows;
begin
    select * into f from promptd.sso_flows x
     where x.state_hash = p_state_hash and x.user_id is null for update;
    if f.id is null then
        return;
    end if;
    if f.expires_at <= now() then
        delete from promptd.sso_flows x where x.id = f.id;
        return;
    end if;
    -- called back: the state cannot be used again
    update promptd.sso_flows x set state_hash = null where x.id = f.id;
    id := f.id; provider := f.provider; nonce := f.nonce; verifier := f.verifier;
    redirect_to := f.redirect_to;
    return next;
end
$function$;
revoke all on function promptd.sso_flow_take(bytea) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.sso_flow_take(bytea) to promptd_auth;

-- promptd.sso_sign_in(flow, provider, subject, email, email_verified,
-- data, code_hash) -> (status, user_id): the account of a provider's
-- identity, and the flow's code for the client (its SHA-256).  status:
--   ok       the identity was known
--   linked   new identity, its email verified by the provider and an
--            account with that address: linked to it (an unconfirmed
--            account is confirmed, loses its password and its sessions:
--            whoever signed it up did not prove the address)
--   created  a new account (confirmed when the provider verified the
--            address)
--   email_exists  an account has the address, but the provider does not
--            vouch for it: nothing is linked, no code
create or replace function promptd.sso_sign_in(p_flow bigint, p_provider text, p_subject text,
                                               p_email text, p_verified boolean, p_data jsonb,
                                               p_code_hash bytea)
 returns table (status text, user_id uuid)
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    v_email text := lower(nullif(p_email, ''));
    u record;
begin
    select i.user_id into user_id from promptd.identities i
     where i.provider = p_provider and i.subject = p_subject;
    status := 'ok';
    if user_id is null and v_email is not null then
        perform pg_advisory_xact_lock(hashtextextended('promptd.email:' || v_email, 0));
        select x.id, x.email_confirmed_at is not null as confirmed into u
          from auth.users x where lower(x.email) = v_email and x.deleted_at is null;
        if u.id is not null and not p_verified then
            status := 'email_exists';
            return next;
            return;
        end if;
        if u.id is not null then
            user_id := u.id;
            status := 'linked';
            if not u.confirmed then
                update auth.users x set encrypted_password = null, email_confirmed_at = now()
                 where x.id = u.id;
                perform promptd.auth_session_revoke(s.id) from promptd.sessions s
                 where s.user_id = u.id and s.revoked_at is null;
            end if;
        end if;
    end if;
    if user_id is null then
        insert into auth.users (id, aud, role, email, email_confirmed_at, raw_app_meta_data,
                                raw_user_meta_data, is_anonymous)
        values (gen_random_uuid(), 'authenticated', 'authenticated', v_email,
                case when p_verified and v_email is not null then now() end,
                jsonb_build_object('provider', p_provider, 'providers', jsonb_build_array(p_provider)),
                jsonb_strip_nulls(jsonb_build_object('name', p_data->>'name',
                    'avatar_url', coalesce(p_data->>'picture', p_data->>'avatar_url'))), false)
        returning id into user_id;
        status := 'created';
    end if;
    insert into promptd.identities (provider, subject, user_id, email, data, last_sign_in_at)
    values (p_provider, p_subject, user_id, v_email, coalesce(p_data, '{}'), now())
    on conflict (provider, subject) do update
       set email = excluded.email, data = excluded.data, last_sign_in_at = now(), updated_at = now();
    update auth.users x
       set raw_app_meta_data = jsonb_set(coalesce(x.raw_app_meta_data, '{"provider":"email"}'),
               '{providers}', (select jsonb_agg(distinct p) from jsonb_array_elements_text(
                   coalesce(x.raw_app_meta_data->'providers', '[]') || jsonb_build_array(p_provider)) p)),
           last_sign_in_at = now()
     where x.id = user_id;
    update promptd.sso_flows f set user_id = sso_sign_in.user_id, code_hash = p_code_hash
     where f.id = p_flow;
    perform promptd.audit('auth.sso', 'user:' || user_id, 'success',
                          jsonb_build_object('provider', p_provider, 'outcome', status), user_id);
    return next;
end
$function$;
revoke all on function promptd.sso_sign_in(bigint,text,text,text,boolean,jsonb,bytea) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.sso_sign_in(bigint,text,text,text,boolean,jsonb,bytea) to promptd_auth;

-- promptd.sso_code_exchange(code_hash, s256, verifier, refresh,
-- user_agent, ip) -> (status, user_json, session_id, user_id, level): the
-- client's code (GoTrue's PKCE grant) for a session, once.  s256 is
-- base64url(SHA-256(verifier)), compared with a challenge of method s256;
-- verifier itself with one of method plain.  status: ok | invalid (no such
-- live code) | mismatch (the verifier is not the challenge's: the code is
-- spent all the same).
create or replace function promptd.sso_code_exchange(p_code_hash bytea, p_s256 text, p_verifier text,
                                                     p_refresh bytea, p_user_agent text, p_ip text)
 returns table (status text, user_json jsonb, session_id uuid, user_id uuid, level jsonb)
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    f promptd.sso_flows;
begin
    status := 'invalid';
    delete from promptd.sso_flows x where x.code_hash = p_code_hash returning * into f;
    if f.id is null or f.expires_at <= now() or f.user_id is null then
        return next;
        return;
    end if;
    user_id := f.user_id;
    if f.challenge is null
       or f.challenge <> (case when f.challenge_method = 'plain' then p_verifier else p_s256 end) then
        status := 'mismatch';
        return next;
        return;
    end if;
    session_id := promptd.auth_session_open(f.user_id, p_refresh, p_user_agent, p_ip);
    level := jsonb_build_object('aal', 'aal1', 'amr', jsonb_build_array(jsonb_build_object(
                 'method', 'oauth', 'timestamp', floor(extract(epoch from now()))::bigint)));
    update promptd.sessions s set amr = level->'amr' where s.id = session_id;
    user_json := promptd.auth_user_json(f.user_id);
    status := 'ok';
    return next;
end
$function$;
revoke all on function promptd.sso_code_exchange(bytea,text,text,bytea,text,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.sso_code_exchange(bytea,text,text,bytea,text,text) to promptd_auth;

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
    n_flows int;
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

    -- single sign-on flows, an hour after they expired
    delete from promptd.sso_flows f
    where f.id in (
        select x.id from promptd.sso_flows x
        where x.expires_at < now() - interval '1 hour'
        limit p_batch);
    get diagnostics n_flows = row_count;

    return jsonb_build_object('idempotency_keys', n_idem, 'auth_throttle', n_throttle,
                              'sessions', n_sessions, 'schedule_runs', n_runs,
                              'enrich_cache', n_cache, 'stripe_events', n_stripe,
                              'mail_outbox', n_mail, 'auth_codes', n_codes,
                              'sso_flows', n_flows);
end
$function$;
revoke all on function promptd.maintenance_purge(integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.maintenance_purge(integer) to service_role;
