-- 0020_breaker_share_password.sql: hand back a breaker probe that proved nothing; share passwords written only through a definer function, at the server's argon2 cost.
--
-- The enrichment circuit breaker (0013) is shared by every tenant.  The
-- worker reports to it only what says a provider is unwell (transport
-- errors, timeouts, 5xx, 429 on the server's key); a step that failed for
-- another reason (a bad answer to one prompt, a user's own key) reports
-- nothing.  If that step was the half-open probe, promptd.enrich_breaker_release()
-- hands the probe back so the next caller probes at once, instead of every
-- caller skipping the provider until the probe goes stale.
--
-- Share passwords (0014): request roles could insert any '$argon2id$...'
-- string into shares.password_hash (raw SQL or PostgREST, as on Supabase),
-- and every anonymous unlock then ran argon2 at the writer's chosen cost.
-- Now no request role writes the column; promptd.share_set_password() does,
-- for the link's owner, and only a hash with exactly the server's
-- parameters (src/auth/password.h: argon2id v=19, m=65536 KiB, t=3, p=1,
-- 16-byte salt, 32-byte hash; keep the two in step).  The worker also
-- refuses to verify any stored hash with other parameters (rows written
-- before this migration), without running argon2.

create function promptd.enrich_breaker_release(p_provider text)
returns text
language plpgsql volatile security definer set search_path = ''
as $$
begin
    -- open again with the old opened_at: its cool-down is already over, so
    -- the next enrich_breaker_allow() hands out a fresh probe
    update public.enrich_breakers
       set state = 'open', probe_started = null, updated_at = now()
     where provider = p_provider and state = 'half_open';
    return (select b.state from public.enrich_breakers b where b.provider = p_provider);
end
$$;
revoke all on function promptd.enrich_breaker_release(text) from public;
grant execute on function promptd.enrich_breaker_release(text) to promptd_app, service_role;

-- True when p_hash is an argon2id PHC string with this server's parameters.
create function promptd.share_password_hash_ok(p_hash text) returns boolean
language sql immutable set search_path = ''
as $$
    select p_hash ~ '^\$argon2id\$v=19\$m=65536,t=3,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$'
$$;
revoke all on function promptd.share_password_hash_ok(text) from public;

revoke insert (password_hash) on table public.shares from authenticated;
revoke update (password_hash) on table public.shares from authenticated;

-- Set (p_hash) or clear (NULL) the password of the caller's link p_share.
-- False when the caller owns no such live link; 22023 for a hash with
-- other parameters than the server's.
create function promptd.share_set_password(p_share uuid, p_hash text)
returns boolean
language plpgsql volatile security definer set search_path = ''
as $$
begin
    if p_hash is not null and not promptd.share_password_hash_ok(p_hash) then
        raise exception 'a share password hash must use the server''s argon2id parameters'
            using errcode = '22023';
    end if;
    update public.shares s set password_hash = p_hash
     where s.id = p_share and s.user_id = (select auth.uid()) and s.revoked_at is null;
    return found;
end
$$;
revoke all on function promptd.share_set_password(uuid, text) from public;
grant execute on function promptd.share_set_password(uuid, text) to authenticated;
