-- 0018_signin_throttle_shared.sql: sign-in counts attempts with the throttle
-- functions of 0014 (the same policy it had inline since 0006).

create or replace function promptd.auth_password_begin(p_email text, p_address text)
returns table (locked_seconds int, user_id uuid, hash text)
language plpgsql volatile security definer set search_path = ''
as $$
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
$$;

create or replace function promptd.auth_password_ok(p_user uuid, p_email text, p_address text,
                                                    p_refresh bytea, p_user_agent text)
returns table (user_json jsonb, session_id uuid)
language plpgsql volatile security definer set search_path = ''
as $$
begin
    perform promptd.throttle_success('account', p_email, 'address', p_address, 20);
    update auth.users u set last_sign_in_at = now() where u.id = p_user;
    session_id := promptd.auth_session_open(p_user, p_refresh, p_user_agent, p_address);
    user_json := promptd.auth_user_json(p_user);
    return next;
end
$$;
