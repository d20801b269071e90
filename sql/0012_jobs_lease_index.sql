-- 0012_jobs_lease_index.sql: the lease index keyed on locked_until alone, so promptd-jobs' outcomes stay primary-key lookups.
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
