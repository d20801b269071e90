-- mail.sql: the mail outbox (issue 22's transport, used by invitations and the account flows): queue, rate-limit reading, the delivery job's take and finish.
--
-- The one current definition of each; promptctl migrate re-applies this
-- file after the numbered migrations, every run: edit here, never in
-- sql/NNNN_*.sql (see README, "Mail").

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
