-- 0030_mail.sql: the mail outbox: account and workspace flows queue a mail in their own transaction; the jobs daemon's mail.send delivers it over SMTP (or to the log) with retries, so a mail server that is down loses nothing and slows no request.

-- One mail to one address.  state: pending (queued or being retried),
-- sent (the server accepted it), logged (no mail server configured: written
-- to the daemon's log), rejected (the server refused it for good: 5xx).
-- vars are cleared once the state is final.
create table promptd.mail_outbox (
    id bigint generated always as identity primary key,
    kind text not null,
    to_addr text not null check (length(to_addr) <= 254),
    vars jsonb,
    user_id uuid references auth.users (id) on delete set null,
    state text not null default 'pending'
        check (state in ('pending', 'sent', 'logged', 'rejected')),
    attempts int not null default 0,
    last_error text,
    job_id bigint,
    created_at timestamptz not null default now(),
    sent_at timestamptz
);
create index mail_outbox_recent on promptd.mail_outbox (kind, lower(to_addr), created_at);
alter table promptd.mail_outbox enable row level security;
alter table promptd.mail_outbox force row level security;
revoke all on table promptd.mail_outbox from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant select on table promptd.mail_outbox to service_role;

-- promptd.mail_enqueue(kind, to, vars, user): queue one mail of a known
-- kind (its templates: src/mail, README "Mail") to one address, in the
-- caller's transaction: the outbox row and its mail.send job exist iff the
-- caller commits, so a request never waits on the mail server.  vars are
-- the template's values (code, link, ...); they may hold a one-time code
-- and are cleared once the mail is delivered.  Returns the outbox id.  A
-- bad kind or address raises 22023.
create or replace function promptd.mail_enqueue(p_kind text, p_to text, p_vars jsonb,
                                                p_user uuid default null)
 returns bigint
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    v_id bigint;
    v_job bigint;
begin
    if p_kind is null or p_kind not in ('confirmation', 'recovery', 'magic_link',
            'email_change', 'email_change_notice', 'invitation', 'test') then
        raise exception 'unknown mail kind: %', coalesce(p_kind, 'null') using errcode = '22023';
    end if;
    if p_to is null or length(p_to) > 254 or p_to !~ '^[^[:space:][:cntrl:]<>(),;:"@\\]+@[^[:space:][:cntrl:]<>(),;:"@\\]+$' then
        raise exception 'not a mail address: %', coalesce(p_to, 'null') using errcode = '22023';
    end if;
    if p_vars is not null and jsonb_typeof(p_vars) <> 'object' then
        raise exception 'mail vars must be an object' using errcode = '22023';
    end if;
    insert into promptd.mail_outbox (kind, to_addr, vars, user_id)
    values (p_kind, p_to, coalesce(p_vars, '{}'), p_user)
    returning id into v_id;
    v_job := promptd.enqueue('mail.send', jsonb_build_object('outbox_id', v_id), 'mail',
                             now(), 0, 20);
    update promptd.mail_outbox set job_id = v_job where id = v_id;
    return v_id;
end
$function$;
revoke all on function promptd.mail_enqueue(text,text,jsonb,uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.mail_enqueue(text,text,jsonb,uuid) to service_role;

-- promptd.mail_recent(kind, to, within) -> how many mails of kind
-- went to the address (case-insensitive) within the last `within`:
-- the per-address rate limit of the account flows.
create or replace function promptd.mail_recent(p_kind text, p_to text, p_within interval)
 returns bigint
 language sql
 stable security definer
 set search_path to ''
as $function$
    select count(*) from promptd.mail_outbox o
     where o.kind = p_kind and lower(o.to_addr) = lower(p_to)
       and o.created_at > now() - p_within;
$function$;
revoke all on function promptd.mail_recent(text,text,interval) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.mail_recent(text,text,interval) to service_role;

-- promptd.mail_take(id) -> (kind, to_addr, vars, state, attempts): the
-- row the mail.send job delivers; attempts counts this one.  No row: the
-- outbox row is gone (then the job has nothing to do).
create or replace function promptd.mail_take(p_id bigint)
 returns table (kind text, to_addr text, vars jsonb, state text, attempts int)
 language sql
 security definer
 set search_path to ''
as $function$
    update promptd.mail_outbox o set attempts = o.attempts + 1
     where o.id = p_id
    returning o.kind, o.to_addr, o.vars, o.state, o.attempts;
$function$;
revoke all on function promptd.mail_take(bigint) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.mail_take(bigint) to service_role;

-- promptd.mail_finish(id, state, error): the outcome of one delivery
-- attempt.  'sent' (the server accepted it) and 'logged' (no mail server:
-- written to the log) and 'rejected' (a permanent 5xx) are final: the
-- values are cleared.  'pending' keeps them for the next attempt.
create or replace function promptd.mail_finish(p_id bigint, p_state text, p_error text)
 returns void
 language sql
 security definer
 set search_path to ''
as $function$
    update promptd.mail_outbox o
       set state = p_state, last_error = left(p_error, 1000),
           vars = case when p_state = 'pending' then o.vars else null end,
           sent_at = case when p_state in ('sent', 'logged') then now() end
     where o.id = p_id;
$function$;
revoke all on function promptd.mail_finish(bigint,text,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.mail_finish(bigint,text,text) to service_role;

-- maintenance.purge also deletes mail in a final state after 30 days.
-- promptd.maintenance_purge
CREATE OR REPLACE FUNCTION promptd.maintenance_purge(p_batch integer)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    n_idem int;
    n_throttle int;
    n_sessions int;
    n_runs int;
    n_cache int;
    n_stripe int;
    n_mail int;
begin
    delete from public.idempotency_keys k
    where k.ctid = any (array(
        select x.ctid from public.idempotency_keys x
        where x.created_at < now() - interval '24 hours' limit p_batch));
    get diagnostics n_idem = row_count;

    delete from promptd.auth_throttle t
    where (t.kind, t.key) in (
        select x.kind, x.key from promptd.auth_throttle x
        where coalesce(x.last_failure_at, '-infinity') < now() - interval '1 hour'
          and coalesce(x.locked_until, '-infinity') < now()
        limit p_batch);
    get diagnostics n_throttle = row_count;

    delete from promptd.sessions s
    where s.id in (
        select x.id from promptd.sessions x
        where least(x.revoked_at, x.not_after) < now() - interval '7 days'
        limit p_batch);
    get diagnostics n_sessions = row_count;

    delete from promptd.schedule_runs r
    where (r.task, r.scheduled_for) in (
        select x.task, x.scheduled_for from promptd.schedule_runs x
        where x.scheduled_for < now() - interval '7 days'
          and x.scheduled_for < (select max(y.scheduled_for) from promptd.schedule_runs y
                                 where y.task = x.task)
        limit p_batch);
    get diagnostics n_runs = row_count;

    delete from public.enrich_cache c
    where (c.user_id, c.key) in (
        select x.user_id, x.key from public.enrich_cache x
        where x.expires_at < now()
        limit p_batch);
    get diagnostics n_cache = row_count;

    -- Stripe keeps an event 30 days; a processed one is kept 90 here (an
    -- event not yet processed stays until it is)
    delete from promptd.stripe_events e
    where e.id in (
        select x.id from promptd.stripe_events x
        where x.processed_at < now() - interval '90 days'
        limit p_batch);
    get diagnostics n_stripe = row_count;

    -- a mail in a final state is kept 30 days (its values are already
    -- cleared); a pending one stays until it is delivered
    delete from promptd.mail_outbox o
    where o.id in (
        select x.id from promptd.mail_outbox x
        where x.state <> 'pending' and x.created_at < now() - interval '30 days'
        limit p_batch);
    get diagnostics n_mail = row_count;

    return jsonb_build_object('idempotency_keys', n_idem, 'auth_throttle', n_throttle,
                              'sessions', n_sessions, 'schedule_runs', n_runs,
                              'enrich_cache', n_cache, 'stripe_events', n_stripe,
                              'mail_outbox', n_mail);
end
$function$;
revoke all on function promptd.maintenance_purge(integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.maintenance_purge(integer) to service_role;
