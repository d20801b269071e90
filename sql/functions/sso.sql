-- sso.sql: single sign-on: a sign-in's flow state (state, nonce, both PKCE sides), linking a provider's identity to an account, and the client's code exchanged for a session.
--
-- The one current definition of each; promptctl migrate re-applies this
-- file after the numbered migrations, every run: edit here, never in
-- sql/NNNN_*.sql (see README, "Single sign-on").

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
