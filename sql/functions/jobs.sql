-- jobs.sql: the job queue and schedules: enqueue, notify, purge, admin views, firing.
--
-- The one current definition of each; promptctl migrate re-applies this
-- file after the numbered migrations, every run: edit here, never in
-- sql/NNNN_*.sql (see README, "promptctl").

-- promptd.enqueue: add a job in the caller's transaction (it exists iff the
-- caller commits).  With a dedup key that an active (pending or running)
-- job of the queue already holds, no row is added and that job's id is
-- returned.  Invalid arguments raise 22023 / check violations (23514).
CREATE OR REPLACE FUNCTION promptd.enqueue(p_type text, p_payload jsonb DEFAULT '{}'::jsonb, p_queue text DEFAULT 'default'::text, p_run_at timestamp with time zone DEFAULT now(), p_priority integer DEFAULT 0, p_max_attempts integer DEFAULT 5, p_dedup_key text DEFAULT NULL::text)
 RETURNS bigint
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v_id bigint;
    i int;
begin
    if p_type is null or p_type = '' then
        raise exception 'job type is required' using errcode = '22023';
    end if;
    if p_dedup_key is null then
        insert into public.background_jobs
            (queue, job_type, payload, priority, run_at, max_attempts)
        values (coalesce(p_queue, 'default'), p_type, coalesce(p_payload, '{}'),
                coalesce(p_priority, 0), coalesce(p_run_at, now()),
                coalesce(p_max_attempts, 5))
        returning id into v_id;
        return v_id;
    end if;
    -- The active holder may finish between the conflict and the lookup:
    -- then try again (bounded).
    for i in 1 .. 5 loop
        insert into public.background_jobs
            (queue, job_type, payload, priority, run_at, max_attempts, dedup_key)
        values (coalesce(p_queue, 'default'), p_type, coalesce(p_payload, '{}'),
                coalesce(p_priority, 0), coalesce(p_run_at, now()),
                coalesce(p_max_attempts, 5), p_dedup_key)
        on conflict (queue, dedup_key)
            where dedup_key is not null and state in ('pending', 'running')
            do nothing
        returning id into v_id;
        if v_id is not null then
            return v_id;
        end if;
        select j.id into v_id from public.background_jobs j
        where j.queue = coalesce(p_queue, 'default') and j.dedup_key = p_dedup_key
          and j.state in ('pending', 'running');
        if v_id is not null then
            return v_id;
        end if;
    end loop;
    raise exception 'enqueue: dedup key % kept changing', p_dedup_key using errcode = '40001';
end
$function$;
revoke all on function promptd.enqueue(text,jsonb,text,timestamp with time zone,integer,integer,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.enqueue(text,jsonb,text,timestamp with time zone,integer,integer,text) to service_role, promptd_app;

-- Wake the daemons once per inserting statement (payload: the queue), at
-- the inserting transaction's commit.
CREATE OR REPLACE FUNCTION promptd.jobs_notify()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    q text;
begin
    for q in select distinct n.queue from new_jobs n loop
        perform pg_catalog.pg_notify('promptd_jobs', q);
    end loop;
    return null;
end
$function$;
revoke all on function promptd.jobs_notify() from public, anon, authenticated, service_role, promptd_app, promptd_auth;

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
    n_codes int;
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

    -- one-time codes of the account flows, a day after they expired
    delete from promptd.auth_codes c
    where c.id in (
        select x.id from promptd.auth_codes x
        where x.expires_at < now() - interval '1 day'
        limit p_batch);
    get diagnostics n_codes = row_count;

    return jsonb_build_object('idempotency_keys', n_idem, 'auth_throttle', n_throttle,
                              'sessions', n_sessions, 'schedule_runs', n_runs,
                              'enrich_cache', n_cache, 'stripe_events', n_stripe,
                              'mail_outbox', n_mail, 'auth_codes', n_codes);
end
$function$;
revoke all on function promptd.maintenance_purge(integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.maintenance_purge(integer) to service_role;

-- One job as JSON (every column).
CREATE OR REPLACE FUNCTION promptd.jobs_json(p_job background_jobs)
 RETURNS jsonb
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO ''
AS $function$ select to_jsonb(p_job) $function$;
revoke all on function promptd.jobs_json(background_jobs) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- Newest first; p_cursor: return ids below it.
CREATE OR REPLACE FUNCTION promptd.jobs_list(p_state text, p_queue text, p_limit integer, p_cursor bigint)
 RETURNS TABLE(job jsonb, id bigint)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    select promptd.jobs_json(j), j.id
    from public.background_jobs j
    where (p_state is null or j.state = p_state)
      and (p_queue is null or j.queue = p_queue)
      and (p_cursor is null or j.id < p_cursor)
    order by j.id desc
    limit p_limit
$function$;
revoke all on function promptd.jobs_list(text,text,integer,bigint) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- Retry: a dead or cancelled job (or a pending one, now) runs again with
-- at least one attempt left.  status: ok | not_found | conflict (running
-- or succeeded); job: the row after the change (or as it is).
CREATE OR REPLACE FUNCTION promptd.jobs_retry(p_id bigint)
 RETURNS TABLE(status text, job jsonb)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    j public.background_jobs;
begin
    select * into j from public.background_jobs b where b.id = p_id for update;
    if not found then
        status := 'not_found';
    elsif j.state not in ('dead', 'cancelled', 'pending') then
        status := 'conflict';
        job := promptd.jobs_json(j);
    else
        update public.background_jobs b set
            state = 'pending', run_at = now(), locked_by = null, locked_until = null,
            finished_at = null, max_attempts = greatest(b.max_attempts, b.attempt + 1),
            updated_at = now()
        where b.id = p_id returning * into j;
        status := 'ok';
        job := promptd.jobs_json(j);
    end if;
    return next;
end
$function$;
revoke all on function promptd.jobs_retry(bigint) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- Cancel: a pending or running job becomes cancelled (a running one's
-- completion then matches nothing).  status as for jobs_retry.
CREATE OR REPLACE FUNCTION promptd.jobs_cancel(p_id bigint)
 RETURNS TABLE(status text, job jsonb)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    j public.background_jobs;
begin
    select * into j from public.background_jobs b where b.id = p_id for update;
    if not found then
        status := 'not_found';
    elsif j.state not in ('pending', 'running') then
        status := 'conflict';
        job := promptd.jobs_json(j);
    else
        update public.background_jobs b set
            state = 'cancelled', locked_by = null, locked_until = null,
            finished_at = now(), updated_at = now()
        where b.id = p_id returning * into j;
        status := 'ok';
        job := promptd.jobs_json(j);
    end if;
    return next;
end
$function$;
revoke all on function promptd.jobs_cancel(bigint) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- {"states": {state: n, ...}, "queues": [{queue, pending, running,
--  succeeded, dead, cancelled, due, oldest_pending_age_s}], "total": n}.
-- oldest_pending_age_s: seconds since the oldest due pending job's run_at
-- (null when none is due).
CREATE OR REPLACE FUNCTION promptd.jobs_stats()
 RETURNS jsonb
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    with per_queue as (
        select j.queue,
               count(*) filter (where j.state = 'pending') as pending,
               count(*) filter (where j.state = 'running') as running,
               count(*) filter (where j.state = 'succeeded') as succeeded,
               count(*) filter (where j.state = 'dead') as dead,
               count(*) filter (where j.state = 'cancelled') as cancelled,
               count(*) filter (where j.state = 'pending' and j.run_at <= now()) as due,
               round(extract(epoch from now() - min(j.run_at)
                   filter (where j.state = 'pending' and j.run_at <= now())), 3)
                   as oldest_pending_age_s
        from public.background_jobs j
        group by j.queue
    )
    select jsonb_build_object(
        'states', jsonb_build_object(
            'pending', coalesce(sum(q.pending), 0),
            'running', coalesce(sum(q.running), 0),
            'succeeded', coalesce(sum(q.succeeded), 0),
            'dead', coalesce(sum(q.dead), 0),
            'cancelled', coalesce(sum(q.cancelled), 0)),
        'queues', coalesce(jsonb_agg(to_jsonb(q) order by q.queue), '[]'),
        'total', coalesce(sum(q.pending + q.running + q.succeeded + q.dead + q.cancelled), 0))
    from per_queue q
$function$;
revoke all on function promptd.jobs_stats() from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- Admin wrappers: 42501 (-> 403) unless promptd.is_admin().
CREATE OR REPLACE FUNCTION promptd.admin_require()
 RETURNS void
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
begin
    if not promptd.is_admin() then
        raise exception 'admin only' using errcode = '42501';
    end if;
end
$function$;
revoke all on function promptd.admin_require() from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.admin_jobs
CREATE OR REPLACE FUNCTION promptd.admin_jobs(p_state text, p_queue text, p_limit integer, p_cursor bigint)
 RETURNS TABLE(job jsonb, id bigint)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    perform promptd.admin_require();
    return query select * from promptd.jobs_list(p_state, p_queue, p_limit, p_cursor);
end
$function$;
revoke all on function promptd.admin_jobs(text,text,integer,bigint) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.admin_jobs(text,text,integer,bigint) to authenticated;

-- promptd.admin_job_retry
CREATE OR REPLACE FUNCTION promptd.admin_job_retry(p_id bigint)
 RETURNS TABLE(status text, job jsonb)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    perform promptd.admin_require();
    return query select * from promptd.jobs_retry(p_id);
end
$function$;
revoke all on function promptd.admin_job_retry(bigint) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.admin_job_retry(bigint) to authenticated;

-- promptd.admin_job_cancel
CREATE OR REPLACE FUNCTION promptd.admin_job_cancel(p_id bigint)
 RETURNS TABLE(status text, job jsonb)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    perform promptd.admin_require();
    return query select * from promptd.jobs_cancel(p_id);
end
$function$;
revoke all on function promptd.admin_job_cancel(bigint) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.admin_job_cancel(bigint) to authenticated;

-- promptd.admin_jobs_stats
CREATE OR REPLACE FUNCTION promptd.admin_jobs_stats()
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    perform promptd.admin_require();
    return promptd.jobs_stats();
end
$function$;
revoke all on function promptd.admin_jobs_stats() from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.admin_jobs_stats() to authenticated;

-- promptd.schedule_fire(task, slot): record the slot and enqueue the
-- task's job, both or neither (one transaction: the caller's, or the
-- statement's in autocommit).  Returns the new job's id, or NULL when the
-- slot had already fired (another daemon got there first) or the task is
-- gone or disabled.
CREATE OR REPLACE FUNCTION promptd.schedule_fire(p_task text, p_slot timestamp with time zone)
 RETURNS bigint
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    s promptd.schedules;
    v_id bigint;
begin
    select * into s from promptd.schedules x where x.task = p_task and x.enabled;
    if not found then
        return null;
    end if;
    insert into promptd.schedule_runs (task, scheduled_for) values (p_task, p_slot)
    on conflict do nothing;
    if not found then
        return null;
    end if;
    v_id := promptd.enqueue(s.job_type, s.payload, s.queue);
    update promptd.schedule_runs r set job_id = v_id
    where r.task = p_task and r.scheduled_for = p_slot;
    return v_id;
end
$function$;
revoke all on function promptd.schedule_fire(text,timestamp with time zone) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.schedule_fire(text,timestamp with time zone) to service_role;
