-- 0011_schedules.sql: recurring tasks (interval or cron, UTC), their fired slots, maintenance purges, and the admin job functions.
--
-- A daemon's schedules_tick() computes, per enabled task, the latest slot
-- <= now() (intervals are aligned to the Unix epoch; cron slots are UTC
-- minutes), inserts (task, slot) into schedule_runs ON CONFLICT DO NOTHING
-- and enqueues the task's job only when its row went in, in one
-- transaction: several daemons never fire one slot twice, and after
-- downtime only the latest missed slot fires (once).  Slots before the
-- task's created_at never fire.
--
-- Later issues add their own tasks with a row here (in their migration)
-- and a handler in src/jobs/registry.c.

create table promptd.schedules (
    task       text primary key check (task ~ '^[a-z0-9][a-z0-9._:-]{0,99}$'),
    job_type   text not null check (length(job_type) between 1 and 200),
    every      interval check (every >= interval '1 second'),
    cron       text check (length(cron) between 1 and 200),
    payload    jsonb not null default '{}' check (jsonb_typeof(payload) = 'object'),
    queue      text not null default 'default' check (length(queue) between 1 and 100),
    enabled    boolean not null default true,
    created_at timestamptz not null default now(),
    check ((every is null) <> (cron is null))
);

create table promptd.schedule_runs (
    task          text not null references promptd.schedules (task) on delete cascade,
    scheduled_for timestamptz not null,
    job_id        bigint,
    fired_at      timestamptz not null default now(),
    primary key (task, scheduled_for)
);

alter table promptd.schedules enable row level security;
alter table promptd.schedules force row level security;
alter table promptd.schedule_runs enable row level security;
alter table promptd.schedule_runs force row level security;
revoke all on table promptd.schedules, promptd.schedule_runs
    from public, anon, authenticated, service_role;
grant select on table promptd.schedules to service_role;
grant select, insert, update, delete on table promptd.schedule_runs to service_role;

insert into promptd.schedules (task, job_type, every) values
    ('jobs.purge', 'jobs.purge', interval '10 minutes'),
    ('maintenance.purge', 'maintenance.purge', interval '1 hour');

-- promptd.maintenance_purge(p_batch): one batch of each short-lived kind
-- of row; returns {"idempotency_keys": n, ...}.  Called by the
-- "maintenance.purge" handler until every count is below p_batch.
--   idempotency_keys older than 24 h; sign-in throttle rows idle for an
--   hour and not locked; sessions revoked or past not_after for 7 days
--   (their refresh tokens cascade); fired schedule slots older than 7 days
--   except each task's latest (which schedules_tick compares against).
create function promptd.maintenance_purge(p_batch int) returns jsonb
language plpgsql volatile security definer set search_path = ''
as $$
declare
    n_idem int;
    n_throttle int;
    n_sessions int;
    n_runs int;
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

    return jsonb_build_object('idempotency_keys', n_idem, 'auth_throttle', n_throttle,
                              'sessions', n_sessions, 'schedule_runs', n_runs);
end
$$;
revoke all on function promptd.maintenance_purge(int) from public;
grant execute on function promptd.maintenance_purge(int) to service_role;

-- ----------------------------------------------------------------- operator
-- The internal job functions (promptctl jobs, as the migrating role) and
-- their admin wrappers (HTTP, as an authenticated admin).

-- One job as JSON (every column).
create function promptd.jobs_json(p_job public.background_jobs) returns jsonb
language sql immutable set search_path = ''
as $$ select to_jsonb(p_job) $$;

-- Newest first; p_cursor: return ids below it.
create function promptd.jobs_list(p_state text, p_queue text, p_limit int,
                                  p_cursor bigint)
returns table (job jsonb, id bigint)
language sql stable security definer set search_path = ''
as $$
    select promptd.jobs_json(j), j.id
    from public.background_jobs j
    where (p_state is null or j.state = p_state)
      and (p_queue is null or j.queue = p_queue)
      and (p_cursor is null or j.id < p_cursor)
    order by j.id desc
    limit p_limit
$$;

-- Retry: a dead or cancelled job (or a pending one, now) runs again with
-- at least one attempt left.  status: ok | not_found | conflict (running
-- or succeeded); job: the row after the change (or as it is).
create function promptd.jobs_retry(p_id bigint)
returns table (status text, job jsonb)
language plpgsql volatile security definer set search_path = ''
as $$
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
$$;

-- Cancel: a pending or running job becomes cancelled (a running one's
-- completion then matches nothing).  status as for jobs_retry.
create function promptd.jobs_cancel(p_id bigint)
returns table (status text, job jsonb)
language plpgsql volatile security definer set search_path = ''
as $$
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
$$;

-- {"states": {state: n, ...}, "queues": [{queue, pending, running,
--  succeeded, dead, cancelled, due, oldest_pending_age_s}], "total": n}.
-- oldest_pending_age_s: seconds since the oldest due pending job's run_at
-- (null when none is due).
create function promptd.jobs_stats() returns jsonb
language sql stable security definer set search_path = ''
as $$
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
$$;

revoke all on function promptd.jobs_json(public.background_jobs) from public;
revoke all on function promptd.jobs_list(text, text, int, bigint) from public;
revoke all on function promptd.jobs_retry(bigint) from public;
revoke all on function promptd.jobs_cancel(bigint) from public;
revoke all on function promptd.jobs_stats() from public;

-- Admin wrappers: 42501 (-> 403) unless promptd.is_admin().
create function promptd.admin_require() returns void
language plpgsql stable set search_path = ''
as $$
begin
    if not promptd.is_admin() then
        raise exception 'admin only' using errcode = '42501';
    end if;
end
$$;

create function promptd.admin_jobs(p_state text, p_queue text, p_limit int,
                                   p_cursor bigint)
returns table (job jsonb, id bigint)
language plpgsql stable security definer set search_path = ''
as $$
begin
    perform promptd.admin_require();
    return query select * from promptd.jobs_list(p_state, p_queue, p_limit, p_cursor);
end
$$;

create function promptd.admin_job_retry(p_id bigint)
returns table (status text, job jsonb)
language plpgsql volatile security definer set search_path = ''
as $$
begin
    perform promptd.admin_require();
    return query select * from promptd.jobs_retry(p_id);
end
$$;

create function promptd.admin_job_cancel(p_id bigint)
returns table (status text, job jsonb)
language plpgsql volatile security definer set search_path = ''
as $$
begin
    perform promptd.admin_require();
    return query select * from promptd.jobs_cancel(p_id);
end
$$;

create function promptd.admin_jobs_stats() returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
begin
    perform promptd.admin_require();
    return promptd.jobs_stats();
end
$$;

revoke all on function promptd.admin_require() from public;
revoke all on function promptd.admin_jobs(text, text, int, bigint) from public;
revoke all on function promptd.admin_job_retry(bigint) from public;
revoke all on function promptd.admin_job_cancel(bigint) from public;
revoke all on function promptd.admin_jobs_stats() from public;
grant execute on function promptd.admin_jobs(text, text, int, bigint),
    promptd.admin_job_retry(bigint), promptd.admin_job_cancel(bigint),
    promptd.admin_jobs_stats() to authenticated;

-- promptd.schedule_fire(task, slot): record the slot and enqueue the
-- task's job, both or neither (one transaction: the caller's, or the
-- statement's in autocommit).  Returns the new job's id, or NULL when the
-- slot had already fired (another daemon got there first) or the task is
-- gone or disabled.
create function promptd.schedule_fire(p_task text, p_slot timestamptz) returns bigint
language plpgsql volatile security definer set search_path = ''
as $$
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
$$;
revoke all on function promptd.schedule_fire(text, timestamptz) from public;
grant execute on function promptd.schedule_fire(text, timestamptz) to service_role;
