-- 0012_jobs_lease_index.sql: the lease index keyed on locked_until alone (outcomes stay primary-key lookups); half-empty pages for the queue's updates.
--
-- 0010's background_jobs_lease was partial on state = 'running'.  Every
-- completion says "state = 'running'" too, so with statistics that counted
-- few running jobs (a queue's contents change wholesale between two
-- ANALYZEs) the planner walked that index for each completed job instead of
-- the primary key: a batch of n outcomes cost n x (running jobs).  The same
-- rows are indexed by "locked_until is not null" (a job holds a lease iff
-- it is running: every way out of 'running' clears locked_until), which no
-- completion implies.  The reaper and the lease renewal name the condition.

drop index public.background_jobs_lease;
create index background_jobs_lease on public.background_jobs (locked_until)
    where locked_until is not null;

-- A job's row is written three times (enqueue, claim, outcome), and neither
-- update can be HOT (state is in every partial index's predicate).  With
-- half of each page left free at insert, both new versions usually land on
-- the row's own page: smaller WAL records and one buffer per update.
-- Measured with bench/jobs: 10-30% less PostgreSQL CPU per job than 80.
-- The price: finished rows kept for the retention period take about twice
-- the space.
alter table public.background_jobs set (fillfactor = 50);
