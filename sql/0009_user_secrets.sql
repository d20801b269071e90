-- 0009_user_secrets.sql: users' recoverable secrets (their own LLM provider keys), encrypted at rest.
--
-- value_enc is "v1:<kid>:<b64 nonce>:<b64 ciphertext+tag>" made by
-- src/crypto/secretbox.c (AES-256-GCM) with the AAD
-- "user_secrets.value:<id>": a value copied into another row does not
-- decrypt.  The master keys live in configuration, never here; key_id
-- names the one that encrypted the row (`promptctl secrets rotate`
-- re-encrypts every row under the current key).

create table public.user_secrets (
    id         uuid primary key default gen_random_uuid(),
    user_id    uuid not null default auth.uid()
        references auth.users (id) on delete cascade,
    name       text not null
        check (char_length(name) between 1 and 100),
    value_enc  text not null
        check (value_enc ~ '^v1:[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$'),
    key_id     text not null
        check (key_id ~ '^[A-Za-z0-9_-]{1,32}$'),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (user_id, name)
);

alter table public.user_secrets enable row level security;
alter table public.user_secrets force row level security;

create policy user_secrets_select_own on public.user_secrets
    for select to authenticated
    using (user_id = (select auth.uid()));
create policy user_secrets_insert_own on public.user_secrets
    for insert to authenticated
    with check (user_id = (select auth.uid()));
create policy user_secrets_update_own on public.user_secrets
    for update to authenticated
    using (user_id = (select auth.uid()))
    with check (user_id = (select auth.uid()));
create policy user_secrets_delete_own on public.user_secrets
    for delete to authenticated
    using (user_id = (select auth.uid()));

-- The id is chosen by the writer: it is part of the AAD, so it must be
-- known before encrypting.
revoke all on table public.user_secrets from public, anon, authenticated, service_role;
grant select, delete on table public.user_secrets to authenticated;
grant insert (id, name, value_enc, key_id) on table public.user_secrets to authenticated;
grant update (name, value_enc, key_id, updated_at) on table public.user_secrets to authenticated;
