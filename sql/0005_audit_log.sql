-- 0005_audit_log.sql: the append-only, hash-chained audit log.
--
-- Design (README "Audit log"):
-- * Rows are written only by promptd.audit() (SECURITY DEFINER).  Nobody is
--   granted INSERT/UPDATE/DELETE/TRUNCATE; triggers refuse UPDATE, DELETE
--   and TRUNCATE even for the owner.  A superuser can still disable the
--   triggers: that is what `promptctl audit verify` is for.
-- * The chain: promptd.audit_head is a one-row table locked FOR UPDATE by
--   every insert, so rows are appended one at a time; ids are contiguous
--   (head.last_id + 1), and hash = sha256(canonical text of the row's fields
--   || prev_hash) where prev_hash is the previous row's hash.  The head also
--   records the last id and hash, so a removed last row is detected too.
-- * Pseudonyms: actor_user is never the user's id but a random pseudonym
--   from promptd.audit_subjects (user_id -> pseudonym).  Deleting the user
--   deletes the mapping (trigger on auth.users), which leaves the user's
--   audit rows in place, unchanged and still verifiable, but no longer
--   linkable to the person: erasure without ever updating the log.

-- user -> pseudonym.  No foreign key: an audit row may name a user that
-- auth.users does not hold yet (tokens issued by another Supabase Auth).
create table promptd.audit_subjects (
    user_id   uuid primary key,
    pseudonym uuid not null unique default gen_random_uuid()
);
revoke all on table promptd.audit_subjects from public, anon, authenticated, service_role;

-- The chain head: one row, locked by every append.
create table promptd.audit_head (
    id        int primary key check (id = 1),
    last_id   bigint not null,
    last_hash text not null
);
revoke all on table promptd.audit_head from public, anon, authenticated, service_role;
insert into promptd.audit_head values (1, 0, '');

create table public.audit_log (
    id          bigint primary key,
    at          timestamptz not null default now(),
    actor_user  uuid,            -- pseudonym (promptd.audit_subjects), not a user id
    actor_key   uuid,            -- API key id (request.jwt.claims ->> 'key_id')
    action      text not null check (action ~ '^[a-z_]+(\.[a-z_]+)+$' and length(action) <= 64),
    target      text check (length(target) <= 512),
    outcome     text not null check (outcome in ('success', 'failure', 'denied')),
    request_id  text check (length(request_id) <= 128),
    address     inet,
    user_agent  text check (length(user_agent) <= 512),
    detail      jsonb not null default '{}' check (jsonb_typeof(detail) = 'object'),
    prev_hash   text not null,
    hash        text not null
);
create index audit_log_actor_user_id on public.audit_log (actor_user, id);

alter table public.audit_log enable row level security;
alter table public.audit_log force row level security;

-- The caller's pseudonym, or NULL when they have none yet (never audited).
create function promptd.audit_pseudonym() returns uuid
language sql stable security definer set search_path = ''
as $$
    select s.pseudonym from promptd.audit_subjects s where s.user_id = auth.uid()
$$;
revoke all on function promptd.audit_pseudonym() from public;
grant execute on function promptd.audit_pseudonym() to anon, authenticated, service_role, promptd_app;

-- The pseudonym of any user (created on first use), for audit targets that
-- name a user ("user:<pseudonym>"): e.g. an admin changing someone's tier.
create function promptd.audit_subject(p_user uuid) returns uuid
language plpgsql volatile security definer set search_path = ''
as $$
declare
    v uuid;
begin
    insert into promptd.audit_subjects (user_id) values (p_user)
    on conflict (user_id) do nothing;
    select s.pseudonym into v from promptd.audit_subjects s where s.user_id = p_user;
    return v;
end
$$;
revoke all on function promptd.audit_subject(uuid) from public;
-- Not granted to request roles: knowing a user id must not reveal its
-- pseudonym.  Definer functions (admin actions) call it.
grant execute on function promptd.audit_subject(uuid) to service_role;

create policy audit_log_select_own on public.audit_log
    for select to authenticated
    using (actor_user = (select promptd.audit_pseudonym()));

revoke all on table public.audit_log from public, anon, authenticated, service_role;
grant select on table public.audit_log to authenticated;

-- The canonical text a row's hash covers: a JSON array of every field but
-- the hash, in a fixed order.  jsonb's text form is independent of session
-- settings; the time is in integer microseconds since the epoch.
create function promptd.audit_row_hash(
    p_id bigint, p_at timestamptz, p_actor_user uuid, p_actor_key uuid,
    p_action text, p_target text, p_outcome text, p_request_id text,
    p_address inet, p_user_agent text, p_detail jsonb, p_prev_hash text)
returns text
language sql immutable set search_path = ''
as $$
    select encode(pg_catalog.sha256(convert_to(
        pg_catalog.jsonb_build_array(
            p_id,
            (extract(epoch from p_at) * 1000000)::bigint,
            p_actor_user::text, p_actor_key::text, p_action, p_target,
            p_outcome, p_request_id, host(p_address), p_user_agent,
            p_detail)::text || p_prev_hash, 'UTF8')), 'hex')
$$;
revoke all on function promptd.audit_row_hash(bigint, timestamptz, uuid, uuid, text, text, text, text, inet, text, jsonb, text) from public;

-- Append-only: UPDATE and DELETE (row triggers) and TRUNCATE (statement
-- trigger) are refused for everyone, the owner included.
create function promptd.audit_log_refuse() returns trigger
language plpgsql set search_path = ''
as $$
begin
    raise exception 'audit_log is append-only (% refused)', tg_op
        using errcode = '42501';
end
$$;
revoke all on function promptd.audit_log_refuse() from public;

create trigger audit_log_no_update before update on public.audit_log
    for each row execute function promptd.audit_log_refuse();
create trigger audit_log_no_delete before delete on public.audit_log
    for each row execute function promptd.audit_log_refuse();
create trigger audit_log_no_truncate before truncate on public.audit_log
    for each statement execute function promptd.audit_log_refuse();

-- promptd.audit(): append one row.  Actor = coalesce(p_actor, auth.uid()),
-- stored as its pseudonym; API key from the claims; request id, address and
-- user agent from the transaction-local settings request.id,
-- request.address, request.user_agent.  Returns the new row's id.
create function promptd.audit(p_action text, p_target text, p_outcome text,
                              p_detail jsonb, p_actor uuid default null)
returns bigint
language plpgsql volatile security definer set search_path = ''
as $$
declare
    v_actor  uuid := coalesce(p_actor, auth.uid());
    v_pseudo uuid;
    v_key    uuid;
    v_addr   inet;
    v_claims text := nullif(current_setting('request.jwt.claims', true), '');
    v_head   promptd.audit_head;
    v_at     timestamptz := now();
    v_id     bigint;
    v_rid    text := left(nullif(current_setting('request.id', true), ''), 128);
    v_ua     text := left(nullif(current_setting('request.user_agent', true), ''), 512);
    v_detail jsonb := coalesce(p_detail, '{}'::jsonb);
    v_hash   text;
begin
    if v_actor is not null then
        v_pseudo := promptd.audit_subject(v_actor);
    end if;
    begin
        v_key := (v_claims::jsonb ->> 'key_id')::uuid;
    exception when others then
        v_key := null;
    end;
    begin
        v_addr := nullif(current_setting('request.address', true), '')::inet;
    exception when others then
        v_addr := null;
    end;
    if jsonb_typeof(v_detail) <> 'object' then
        v_detail := jsonb_build_object('value', v_detail);
    end if;
    -- microsecond precision round-trips through the hash's epoch form
    v_at := date_trunc('microseconds', v_at);
    select * into v_head from promptd.audit_head h where h.id = 1 for update;
    v_id := v_head.last_id + 1;
    v_hash := promptd.audit_row_hash(v_id, v_at, v_pseudo, v_key, p_action,
        left(p_target, 512), p_outcome, v_rid, v_addr, v_ua, v_detail,
        v_head.last_hash);
    insert into public.audit_log (id, at, actor_user, actor_key, action, target,
        outcome, request_id, address, user_agent, detail, prev_hash, hash)
    values (v_id, v_at, v_pseudo, v_key, p_action, left(p_target, 512),
        p_outcome, v_rid, v_addr, v_ua, v_detail, v_head.last_hash, v_hash);
    update promptd.audit_head set last_id = v_id, last_hash = v_hash where id = 1;
    return v_id;
end
$$;
revoke all on function promptd.audit(text, text, text, jsonb, uuid) from public;
grant execute on function promptd.audit(text, text, text, jsonb, uuid)
    to anon, authenticated, service_role, promptd_app;

-- Erasure: deleting a user forgets their pseudonym (the rows stay).
create function promptd.audit_forget_subject() returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
    delete from promptd.audit_subjects where user_id = old.id;
    return null;
end
$$;
revoke all on function promptd.audit_forget_subject() from public;

create trigger promptd_on_auth_user_deleted_audit
    after delete on auth.users
    for each row execute function promptd.audit_forget_subject();

-- promptd.audit_verify(): every row with its recomputed hash and the
-- previous row's hash, for `promptctl audit verify` (superuser only).
create function promptd.audit_verify()
returns table (id bigint, prev_hash text, hash text, expected_prev text,
               computed text)
language sql stable set search_path = ''
as $$
    select a.id, a.prev_hash, a.hash,
           coalesce(lag(a.hash) over (order by a.id), ''),
           promptd.audit_row_hash(a.id, a.at, a.actor_user, a.actor_key,
               a.action, a.target, a.outcome, a.request_id, a.address,
               a.user_agent, a.detail, a.prev_hash)
    from public.audit_log a
    order by a.id
$$;
revoke all on function promptd.audit_verify() from public;
