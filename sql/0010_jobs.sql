-- 0010_jobs.sql: the background job queue (public.background_jobs), promptd.enqueue() and the wake-up NOTIFY.
--
-- A job is claimed by a promptd-jobs daemon with FOR UPDATE SKIP LOCKED
-- (state running, attempt + 1, a lease in locked_by/locked_until) and
-- completed only where id and attempt still match, so a run whose lease
-- expired (and was rescued) cannot overwrite the newer attempt.  The table
-- is internal: RLS with no policy for anon/authenticated; the daemon works
-- as service_role (BYPASSRLS); requests enqueue through promptd.enqueue().

create table public.background_jobs (
    id           bigint generated always as identity primary key,
    queue        text not null default 'default'
        check (length(queue) between 1 and 100),
    job_type     text not null check (length(job_type) between 1 and 200),
    payload      jsonb not null default '{}',
    priority     int not null default 0,            -- lower runs first
    run_at       timestamptz not null default now(),
    state        text not null default 'pending'
        check (state in ('pending', 'running', 'succeeded', 'dead', 'cancelled')),
    attempt      int not null default 0 check (attempt >= 0),
    max_attempts int not null default 5 check (max_attempts between 1 and 1000),
    locked_by    text,
    locked_until timestamptz,
    dedup_key    text check (dedup_key is null or length(dedup_key) between 1 and 500),
    last_error   text,
    result       jsonb,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now(),
    started_at   timestamptz,
    finished_at  timestamptz
);

-- One active job per (queue, dedup key); finished ones do not count.
create unique index background_jobs_dedup on public.background_jobs (queue, dedup_key)
    where dedup_key is not null and state in ('pending', 'running');
-- The claim: per queue, and across all queues.
create index background_jobs_claim on public.background_jobs (queue, priority, run_at, id)
    where state = 'pending';
create index background_jobs_claim_any on public.background_jobs (priority, run_at, id)
    where state = 'pending';
-- The reaper: expired leases.
create index background_jobs_lease on public.background_jobs (locked_until)
    where state = 'running';
-- Retention purge and the operator's listings.
create index background_jobs_finished on public.background_jobs (finished_at)
    where state in ('succeeded', 'dead', 'cancelled');

-- Queue churn: every job is inserted, updated twice and deleted.  Vacuum
-- early and often so dead tuples do not pile up in the claim index.
alter table public.background_jobs set (
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_insert_scale_factor = 0.05,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_cost_delay = 0,
    fillfactor = 80
);

alter table public.background_jobs enable row level security;
alter table public.background_jobs force row level security;

revoke all on table public.background_jobs from public, anon, authenticated, service_role;
grant select, insert, update, delete on table public.background_jobs to service_role;

-- promptd.enqueue: add a job in the caller's transaction (it exists iff the
-- caller commits).  With a dedup key that an active (pending or running)
-- job of the queue already holds, no row is added and that job's id is
-- returned.  Invalid arguments raise 22023 / check violations (23514).
create function promptd.enqueue(
    p_type text,
    p_payload jsonb default '{}',
    p_queue text default 'default',
    p_run_at timestamptz default now(),
    p_priority int default 0,
    p_max_attempts int default 5,
    p_dedup_key text default null
) returns bigint
language plpgsql volatile security definer set search_path = ''
as $$
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
$$;
revoke all on function promptd.enqueue(text, jsonb, text, timestamptz, int, int, text) from public;
grant execute on function promptd.enqueue(text, jsonb, text, timestamptz, int, int, text)
    to authenticated, service_role, promptd_app;

-- Wake the daemons once per inserting statement (payload: the queue), at
-- the inserting transaction's commit.
create function promptd.jobs_notify() returns trigger
language plpgsql security definer set search_path = ''
as $$
declare
    q text;
begin
    for q in select distinct n.queue from new_jobs n loop
        perform pg_catalog.pg_notify('promptd_jobs', q);
    end loop;
    return null;
end
$$;
revoke all on function promptd.jobs_notify() from public;

create trigger background_jobs_notify
    after insert on public.background_jobs
    referencing new table as new_jobs
    for each statement execute function promptd.jobs_notify();

-- Test-only record of handler executions (the "trace", "sleep" and "fail"
-- handlers, registered only with PROMPTD_JOBS_TEST_HANDLERS=1): one row per
-- run, with the daemon that ran it and when.
create table promptd.job_trace (
    job_id      bigint not null,
    attempt     int not null,
    daemon      text not null,
    started_at  timestamptz not null,
    finished_at timestamptz not null default clock_timestamp()
);
create index job_trace_job on promptd.job_trace (job_id, attempt);
revoke all on table promptd.job_trace from public, anon, authenticated, service_role;
grant select, insert on table promptd.job_trace to service_role;
