-- 0016_password_rehash.sql: upgrade a password hash after a successful sign-in.
--
-- Accounts moved from Supabase keep GoTrue's bcrypt hashes; the built-in auth
-- verifies them and, once a password is known to be right, replaces the hash
-- with argon2id (the same for argon2id hashes of older parameters).  The swap
-- happens only while the stored hash is still the one that was verified, so a
-- password changed meanwhile is never overwritten.

create function promptd.auth_password_rehash(p_user uuid, p_old text, p_new text)
returns boolean
language plpgsql volatile security definer set search_path = ''
as $$
begin
    if p_new is null or p_new !~ '^\$argon2id\$' then
        raise exception 'promptd.auth_password_rehash: not an argon2id hash'
            using errcode = '22023';
    end if;
    update auth.users u set encrypted_password = p_new
    where u.id = p_user and u.encrypted_password = p_old;
    return found;
end
$$;
revoke all on function promptd.auth_password_rehash(uuid, text, text) from public;
grant execute on function promptd.auth_password_rehash(uuid, text, text) to promptd_auth;
