-- 0017_refresh_reuse.sql: a grace window for refresh tokens spent moments ago.
--
-- Two browser tabs that refresh with the same token at once: the first
-- rotates it, the second arrives with a token that is already spent.  As
-- GoTrue's refresh_token_reuse_interval does, a spent token still refreshes
-- for p_reuse seconds after its rotation, provided its child is still live
-- (it was the session's newest token); the answer is a new sibling token.
-- Outside the window, or for an older token, reuse revokes the session as
-- before (0006).  p_reuse = 0 turns the window off.

drop function promptd.auth_refresh(bytea, bytea, int);

create function promptd.auth_refresh(p_old bytea, p_new bytea, p_ttl int, p_reuse int)
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
$$;
revoke all on function promptd.auth_refresh(bytea, bytea, int, int) from public;
grant execute on function promptd.auth_refresh(bytea, bytea, int, int) to promptd_auth;
