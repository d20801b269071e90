-- 0019_reauthentication.sql: a session's sign-in time for re-authentication, and email change.
--
-- A session's sign-in time is promptd.sessions.created_at (0006): a refresh
-- rotates the refresh token but keeps the session row, so the time stays
-- that of the password sign-in.  Access tokens carry it as amr[].timestamp
-- (as GoTrue's do) and the routes that change the password or the email,
-- or delete the account, ask for it here instead of trusting a token's iat
-- (which every refresh renews).

-- The caller's own session: its sign-in time (epoch seconds) and whether
-- it has ended.  No row for a session that is not the caller's or that
-- promptd does not keep (a token Supabase's GoTrue issued).
create function promptd.session_signed_in_at(p_session uuid)
returns table (signed_in_at double precision, revoked boolean)
language sql stable security definer set search_path = ''
as $$
    select extract(epoch from s.created_at)::double precision,
           s.revoked_at is not null
    from promptd.sessions s
    where s.id = p_session and s.user_id = auth.uid()
$$;

-- The same for the sign-in phase (role promptd_auth, no auth.uid()): the
-- refresh grant puts the session's sign-in time into the new token's amr.
create function promptd.auth_session_signed_in_at(p_session uuid)
returns double precision
language sql stable security definer set search_path = ''
as $$
    select extract(epoch from s.created_at)::double precision
    from promptd.sessions s where s.id = p_session
$$;

-- PUT /auth/v1/user {email}: the caller's new address, confirmed at once
-- (sign-up is autoconfirm too, as GoTrue with MAILER_AUTOCONFIRM).  The
-- caller has re-authenticated (checked by the auth family).  status: ok |
-- session_not_found | email_exists.  The profile's copy follows.
create function promptd.auth_change_email(p_session uuid, p_email text)
returns text
language plpgsql volatile security definer set search_path = ''
as $$
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
$$;

revoke all on function promptd.session_signed_in_at(uuid) from public;
revoke all on function promptd.auth_session_signed_in_at(uuid) from public;
revoke all on function promptd.auth_change_email(uuid, text) from public;
grant execute on function promptd.session_signed_in_at(uuid),
    promptd.auth_change_email(uuid, text) to authenticated;
grant execute on function promptd.auth_session_signed_in_at(uuid) to promptd_auth;
