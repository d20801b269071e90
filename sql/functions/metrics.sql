-- metrics.sql: the database's gauges for GET /metrics (issue 17): jobs by type and state, the oldest due job, the enrichment breakers, webhook deliveries waiting, PostgreSQL's connections and replication lag.
--
-- The one current definition; promptctl migrate re-applies this file after
-- the numbered migrations, every run: edit here, never in sql/NNNN_*.sql.

-- promptd.metrics_gauges() -> (name, labels, value), ordered by name: read
-- at each scrape by the status family (cgi-bin/status.c) as the workers'
-- login role.  Only what is current: jobs pending, running or dead (not the
-- finished ones), deliveries pending or being sent; every breaker's state
-- as 1 on its state label; connections to this database by state (as the
-- functions' owner sees them); the replay lag of each streaming replica.
create or replace function promptd.metrics_gauges()
 returns table(name text, labels jsonb, value double precision)
 language sql
 stable
 security definer
 set search_path to ''
as $function$
    select g.name, g.labels, g.value from (
        select 'promptd_background_jobs' as name,
               jsonb_build_object('type', j.job_type, 'state', j.state) as labels,
               count(*)::float8 as value
          from public.background_jobs j
         where j.state in ('pending', 'running', 'dead')
         group by j.job_type, j.state
        union all
        select 'promptd_background_jobs_oldest_due_seconds', '{}'::jsonb,
               coalesce(extract(epoch from now() - min(j.run_at)), 0)::float8
          from public.background_jobs j
         where j.state = 'pending' and j.run_at <= now()
        union all
        select 'promptd_enrich_breaker_state',
               jsonb_build_object('provider', b.provider, 'state', b.state), 1
          from public.enrich_breakers b
        union all
        select 'promptd_webhook_deliveries', jsonb_build_object('state', d.state), count(*)::float8
          from promptd.webhook_deliveries d
         where d.state in ('pending', 'sending')
         group by d.state
        union all
        select 'promptd_pg_connections', jsonb_build_object('state', coalesce(a.state, 'unknown')),
               count(*)::float8
          from pg_catalog.pg_stat_activity a
         where a.datname = pg_catalog.current_database() and a.backend_type = 'client backend'
         group by coalesce(a.state, 'unknown')
        union all
        select 'promptd_pg_replication_lag_seconds', jsonb_build_object('replica', r.application_name),
               coalesce(extract(epoch from r.replay_lag), 0)::float8
          from pg_catalog.pg_stat_replication r
    ) g
    order by g.name, g.labels::text
$function$;
revoke all on function promptd.metrics_gauges() from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.metrics_gauges() to promptd_app;
