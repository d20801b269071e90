-- mfa.sql: the TOTP second factor (GoTrue's /auth/v1/factors): enrolment, challenges, verification to aal2, unenrolment, and the aal2 check of sensitive routes.
--
-- The one current definition of each; promptctl migrate re-applies this
-- file after the numbered migrations, every run: edit here, never in
-- sql/NNNN_*.sql (see README, "promptctl").  The worker checks codes (it
-- alone can open a factor's secret); these functions keep the state, and
-- all but the aal checks are the worker role's only (db_exec_app).

-- promptd.mfa_session_aal2(): the caller's token says aal2 and, when its
-- session is one this server keeps, that session still does (a factor's
-- unenrolment downgrades it before the token expires).
CREATE OR REPLACE FUNCTION promptd.mfa_session_aal2()
 RETURNS boolean
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    select coalesce(auth.jwt() ->> 'aal', 'aal1') = 'aal2'
       and coalesce((select s.aal = 'aal2' and s.revoked_at is null
                     from promptd.sessions s
                     where s.id::text = auth.jwt() ->> 'session_id'
                       and s.user_id = auth.uid()), true)
$function$;
revoke all on function promptd.mfa_session_aal2() from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.mfa_session_aal2() to authenticated, promptd_app;

-- promptd.mfa_aal_ok(): the caller may use a route that needs aal2 (route
-- flag R_AAL2, PUT /auth/v1/user's password and email): it has no verified
-- factor, or its session is at aal2.
CREATE OR REPLACE FUNCTION promptd.mfa_aal_ok()
 RETURNS boolean
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    select not exists (select 1 from promptd.mfa_factors f
                       where f.user_id = auth.uid() and f.status = 'verified')
        or promptd.mfa_session_aal2()
$function$;
revoke all on function promptd.mfa_aal_ok() from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.mfa_aal_ok() to authenticated, promptd_app;

-- The caller's factors as GoTrue lists them in its user object.
CREATE OR REPLACE FUNCTION promptd.mfa_factors_json(p_user uuid)
 RETURNS jsonb
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    select jsonb_agg(jsonb_build_object(
               'id', f.id, 'friendly_name', coalesce(f.friendly_name, ''),
               'factor_type', f.factor_type, 'status', f.status,
               'created_at', f.created_at, 'updated_at', f.updated_at)
           order by f.created_at, f.id)
    from promptd.mfa_factors f where f.user_id = p_user
$function$;
revoke all on function promptd.mfa_factors_json(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- POST /auth/v1/factors: a new unverified TOTP factor p_id of the caller
-- in session p_session, its secret sealed by the worker (secretbox, bound
-- to p_id).  Unverified factors older than a day are dropped first.
-- 'ok' | 'session_not_found' | 'name_conflict' | 'too_many' (p_max factors)
-- | 'insufficient_aal' (a verified factor exists and the session is aal1).
CREATE OR REPLACE FUNCTION promptd.mfa_enroll(p_session uuid, p_id uuid, p_name text, p_secret text, p_max integer)
 RETURNS text
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    if not exists (select 1 from promptd.sessions s where s.id = p_session
                   and s.user_id = auth.uid() and s.revoked_at is null) then
        return 'session_not_found';
    end if;
    perform 1 from auth.users u where u.id = auth.uid() for update;
    delete from promptd.mfa_factors f where f.user_id = auth.uid()
        and f.status = 'unverified' and f.created_at < now() - interval '1 day';
    if coalesce(p_name, '') <> '' and exists (select 1 from promptd.mfa_factors f
            where f.user_id = auth.uid() and f.friendly_name = p_name) then
        return 'name_conflict';
    end if;
    if (select count(*) from promptd.mfa_factors f where f.user_id = auth.uid()) >= p_max then
        return 'too_many';
    end if;
    if not promptd.mfa_aal_ok() then
        return 'insufficient_aal';
    end if;
    insert into promptd.mfa_factors (id, user_id, friendly_name, secret)
    values (p_id, auth.uid(), nullif(p_name, ''), p_secret);
    return 'ok';
end
$function$;
revoke all on function promptd.mfa_enroll(uuid,uuid,text,text,integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.mfa_enroll(uuid,uuid,text,text,integer) to promptd_app;

-- POST /auth/v1/factors/{id}/challenge: a challenge of the caller's factor
-- from address p_ip, valid p_ttl seconds; no row when the factor is not
-- the caller's.
CREATE OR REPLACE FUNCTION promptd.mfa_challenge(p_factor uuid, p_ip text, p_ttl integer)
 RETURNS TABLE(id uuid, factor_type text, expires_at bigint)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    c promptd.mfa_challenges;
begin
    if not exists (select 1 from promptd.mfa_factors f
                   where f.id = p_factor and f.user_id = auth.uid()) then
        return;
    end if;
    delete from promptd.mfa_challenges x where x.factor_id = p_factor
        and x.created_at < now() - make_interval(secs => p_ttl) - interval '1 hour';
    insert into promptd.mfa_challenges (factor_id, ip) values (p_factor, p_ip)
    returning * into c;
    id := c.id;
    factor_type := 'totp';
    expires_at := extract(epoch from c.created_at + make_interval(secs => p_ttl))::bigint;
    return next;
end
$function$;
revoke all on function promptd.mfa_challenge(uuid,text,integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.mfa_challenge(uuid,text,integer) to promptd_app;

-- POST /auth/v1/factors/{id}/verify, first half: lock the caller's factor
-- (verifications of one factor run one at a time, so a code is used once)
-- and check the challenge.  status: 'ok' (secret, last_step set) |
-- 'factor_not_found' | 'challenge_not_found' | 'ip_mismatch' (verified
-- already, or from another address) | 'expired' (the challenge is dropped)
-- | 'locked' (p_max_tries wrong codes in the last p_lock seconds;
-- retry_after seconds left).
CREATE OR REPLACE FUNCTION promptd.mfa_verify_begin(p_factor uuid, p_challenge uuid, p_ip text, p_ttl integer, p_max_tries integer, p_lock integer)
 RETURNS TABLE(status text, secret text, last_step bigint, retry_after integer)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    f promptd.mfa_factors;
    c promptd.mfa_challenges;
begin
    select * into f from promptd.mfa_factors x
    where x.id = p_factor and x.user_id = auth.uid() for update;
    if not found then
        status := 'factor_not_found';
        return next;
        return;
    end if;
    if f.failed_attempts >= p_max_tries
       and f.last_failed_at > now() - make_interval(secs => p_lock) then
        status := 'locked';
        retry_after := greatest(1, ceil(extract(epoch from
            f.last_failed_at + make_interval(secs => p_lock) - now()))::int);
        return next;
        return;
    end if;
    select * into c from promptd.mfa_challenges x
    where x.id = p_challenge and x.factor_id = p_factor;
    if not found then
        status := 'challenge_not_found';
    elsif c.verified_at is not null or c.ip is distinct from p_ip then
        status := 'ip_mismatch';
    elsif c.created_at + make_interval(secs => p_ttl) <= now() then
        delete from promptd.mfa_challenges x where x.id = c.id;
        status := 'expired';
    else
        status := 'ok';
        secret := f.secret;
        last_step := f.last_step;
    end if;
    return next;
end
$function$;
revoke all on function promptd.mfa_verify_begin(uuid,uuid,text,integer,integer,integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.mfa_verify_begin(uuid,uuid,text,integer,integer,integer) to promptd_app;

-- A wrong (or reused) code for the caller's factor: counted toward the
-- lock of mfa_verify_begin (a count older than p_lock seconds starts
-- over).  Returns the count.
CREATE OR REPLACE FUNCTION promptd.mfa_verify_failed(p_factor uuid, p_lock integer)
 RETURNS integer
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
    update promptd.mfa_factors f
    set failed_attempts = case when f.last_failed_at > now() - make_interval(secs => p_lock)
                               then f.failed_attempts + 1 else 1 end,
        last_failed_at = now()
    where f.id = p_factor and f.user_id = auth.uid()
    returning f.failed_attempts
$function$;
revoke all on function promptd.mfa_verify_failed(uuid,integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.mfa_verify_failed(uuid,integer) to promptd_app;

-- POST /auth/v1/factors/{id}/verify, second half, after the worker matched
-- the code at TOTP time step p_step: the factor is verified and remembers
-- p_step (a later step only from now on), the challenge is spent, session
-- p_session goes to aal2 with totp first in its amr, its refresh tokens
-- are replaced by p_refresh, the user's other aal1 sessions are revoked
-- and other unverified factors dropped (as GoTrue does).  No row when
-- p_step is not after the last step used, or the session is not the
-- caller's live one.
CREATE OR REPLACE FUNCTION promptd.mfa_verify_ok(p_factor uuid, p_challenge uuid, p_step bigint, p_session uuid, p_refresh bytea)
 RETURNS TABLE(user_json jsonb, level jsonb)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    s promptd.sessions;
    parent_id bigint;
begin
    select * into s from promptd.sessions x where x.id = p_session
        and x.user_id = auth.uid() and x.revoked_at is null for update;
    if not found then
        return;
    end if;
    update promptd.mfa_factors f set status = 'verified', last_step = p_step,
        failed_attempts = 0, last_failed_at = null, updated_at = now()
    where f.id = p_factor and f.user_id = auth.uid()
      and (f.last_step is null or f.last_step < p_step);
    if not found then
        return;
    end if;
    update promptd.mfa_challenges c set verified_at = now() where c.id = p_challenge;
    update promptd.sessions x set aal = 'aal2', factor_id = p_factor,
        amr = jsonb_build_array(jsonb_build_object('method', 'totp',
                  'timestamp', extract(epoch from now())::bigint))
              || coalesce((select jsonb_agg(e order by n) from jsonb_array_elements(
                               coalesce(s.amr, jsonb_build_array(jsonb_build_object(
                                   'method', 'password',
                                   'timestamp', extract(epoch from s.created_at)::bigint))))
                               with ordinality as a(e, n)
                           where e ->> 'method' <> 'totp'), '[]'::jsonb)
    where x.id = p_session;
    select max(t.id) into parent_id from promptd.refresh_tokens t where t.session_id = p_session;
    update promptd.refresh_tokens t set revoked = true, updated_at = now()
    where t.session_id = p_session and not t.revoked;
    insert into promptd.refresh_tokens (token_hash, session_id, user_id, parent)
    values (p_refresh, p_session, auth.uid(), parent_id);
    perform promptd.auth_session_revoke(x.id) from promptd.sessions x
    where x.user_id = auth.uid() and x.revoked_at is null and x.aal = 'aal1'
      and x.id <> p_session;
    delete from promptd.mfa_factors f where f.user_id = auth.uid()
        and f.status = 'unverified' and f.id <> p_factor;
    user_json := promptd.auth_user_json(auth.uid());
    level := promptd.auth_session_level(p_session);
    return next;
end
$function$;
revoke all on function promptd.mfa_verify_ok(uuid,uuid,bigint,uuid,bytea) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.mfa_verify_ok(uuid,uuid,bigint,uuid,bytea) to promptd_app;

-- DELETE /auth/v1/factors/{id}: 'ok' | 'not_found' (not the caller's) |
-- 'insufficient_aal' (any factor, from an aal1 session of a user with a
-- verified one: GoTrue asks only for a verified factor).  The
-- sessions it raised to aal2 go back to aal1 and lose its totp entry.
CREATE OR REPLACE FUNCTION promptd.mfa_unenroll(p_factor uuid)
 RETURNS text
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    f promptd.mfa_factors;
begin
    select * into f from promptd.mfa_factors x
    where x.id = p_factor and x.user_id = auth.uid() for update;
    if not found then
        return 'not_found';
    end if;
    if not promptd.mfa_aal_ok() then
        return 'insufficient_aal';
    end if;
    update promptd.sessions x set aal = 'aal1', factor_id = null,
        amr = (select jsonb_agg(e order by n) from jsonb_array_elements(x.amr)
                   with ordinality as a(e, n) where e ->> 'method' <> 'totp')
    where x.factor_id = p_factor;
    delete from promptd.mfa_factors x where x.id = p_factor;
    return 'ok';
end
$function$;
revoke all on function promptd.mfa_unenroll(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.mfa_unenroll(uuid) to promptd_app;
