-- 0004_usage_and_idempotency.sql: per-user usage counters and Idempotency-Key replay store.

create table public.usage_tracking (
    id          bigserial primary key,
    user_id     uuid not null references auth.users (id) on delete cascade,
    action      text not null,
    resource_id uuid,
    quantity    int not null default 1,
    created_at  timestamptz not null default now()
);
create index usage_tracking_user_created on public.usage_tracking (user_id, created_at);

alter table public.usage_tracking enable row level security;
alter table public.usage_tracking force row level security;

create policy usage_tracking_select_own on public.usage_tracking
    for select to authenticated
    using (user_id = (select auth.uid()));
create policy usage_tracking_insert_own on public.usage_tracking
    for insert to authenticated
    with check (user_id = (select auth.uid()));

revoke all on table public.usage_tracking from public, anon, authenticated, service_role;
revoke all on sequence public.usage_tracking_id_seq from public, anon, authenticated, service_role;
grant select, insert on table public.usage_tracking to authenticated;
grant usage on sequence public.usage_tracking_id_seq to authenticated;

-- One row per (user, Idempotency-Key): the request's hash and the stored
-- answer to replay.  Rows go with their user.
create table public.idempotency_keys (
    user_id      uuid not null default auth.uid()
        references auth.users (id) on delete cascade,
    key          text not null,
    request_hash text not null,
    status       int,
    location     text,
    etag         text,
    body         text,
    created_at   timestamptz default now(),
    primary key (user_id, key)
);
create index idempotency_keys_created on public.idempotency_keys (created_at);

alter table public.idempotency_keys enable row level security;
alter table public.idempotency_keys force row level security;

create policy idempotency_keys_select_own on public.idempotency_keys
    for select to authenticated
    using (user_id = (select auth.uid()));
create policy idempotency_keys_insert_own on public.idempotency_keys
    for insert to authenticated
    with check (user_id = (select auth.uid()));
create policy idempotency_keys_update_own on public.idempotency_keys
    for update to authenticated
    using (user_id = (select auth.uid()))
    with check (user_id = (select auth.uid()));

revoke all on table public.idempotency_keys from public, anon, authenticated, service_role;
grant select, insert, update on table public.idempotency_keys to authenticated;
