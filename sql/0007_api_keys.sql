-- 0007_api_keys.sql: API keys (stored only as HMAC-SHA256 with a server pepper) and their lookup.
--
-- The key itself never reaches the database: the worker sends
-- HMAC-SHA256(pepper, key) in hex.  prefix ("pmtd_" + 8 characters) and
-- last_four are kept so a user can tell keys apart; the other 22 random
-- characters (~131 bits) stay secret.  Authentication runs before any role
-- switch, as the worker role, through promptd.api_key_auth() (SECURITY
-- DEFINER); everything else goes through RLS as the owner.

create table public.api_keys (
    id           uuid primary key default gen_random_uuid(),
    user_id      uuid not null default auth.uid()
        references auth.users (id) on delete cascade,
    name         text not null
        check (char_length(name) between 1 and 100),
    key_hash     text not null unique
        check (key_hash ~ '^[0-9a-f]{64}$'),
    prefix       text not null
        check (prefix ~ '^pmtd_[0-9A-Za-z]{8}$'),
    last_four    text not null
        check (last_four ~ '^[0-9A-Za-z]{4}$'),
    scopes       text[] not null default '{prompts:read}'
        check (cardinality(scopes) between 1 and 5
               and scopes <@ array['prompts:read', 'prompts:write', 'enrich',
                                   'share', 'admin']::text[]),
    created_at   timestamptz not null default now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);

create index api_keys_user_created on public.api_keys (user_id, created_at desc, id desc);

alter table public.api_keys enable row level security;
alter table public.api_keys force row level security;

create policy api_keys_select_own on public.api_keys
    for select to authenticated
    using (user_id = (select auth.uid()));
create policy api_keys_insert_own on public.api_keys
    for insert to authenticated
    with check (user_id = (select auth.uid()));
create policy api_keys_update_own on public.api_keys
    for update to authenticated
    using (user_id = (select auth.uid()))
    with check (user_id = (select auth.uid()));

-- No DELETE (revocation keeps the row); the hash is not even readable by
-- the request roles; only revoked_at may change.
revoke all on table public.api_keys from public, anon, authenticated, service_role;
grant select (id, user_id, name, prefix, last_four, scopes, created_at,
              expires_at, revoked_at, last_used_at)
    on table public.api_keys to authenticated;
grant insert (name, key_hash, prefix, last_four, scopes, expires_at)
    on table public.api_keys to authenticated;
grant update (revoked_at) on table public.api_keys to authenticated;

-- The key behind an HMAC, for the worker before it knows who is calling:
-- no row when unknown; revoked / expired flags otherwise (the caller
-- refuses those).  last_used_at is written only when it is older than
-- five minutes: a busy key costs one row update per five minutes, and two
-- concurrent requests re-check the condition under the row lock (READ
-- COMMITTED re-evaluation), so only one of them writes.
create function promptd.api_key_auth(p_hash text)
returns table (key_id uuid, user_id uuid, scopes text[], revoked boolean,
               expired boolean)
language plpgsql volatile security definer set search_path = ''
as $$
declare
    k record;
begin
    select a.id, a.user_id, a.scopes, a.revoked_at, a.expires_at, a.last_used_at
      into k
      from public.api_keys a
     where a.key_hash = p_hash;
    if not found then
        return;
    end if;
    key_id := k.id;
    user_id := k.user_id;
    scopes := k.scopes;
    revoked := k.revoked_at is not null;
    expired := k.expires_at is not null and k.expires_at <= now();
    if not revoked and not expired
       and (k.last_used_at is null or k.last_used_at < now() - interval '5 minutes') then
        update public.api_keys a
           set last_used_at = now()
         where a.id = k.id
           and (a.last_used_at is null or a.last_used_at < now() - interval '5 minutes');
    end if;
    return next;
end
$$;
revoke all on function promptd.api_key_auth(text) from public;
grant execute on function promptd.api_key_auth(text) to promptd_app;
