-- 0023_enrich_inflight.sql: enrichments in flight (pending or running) per user, counted at every POST /api/v1/enrich for the per-user cap; and the gateway's sweep of interrupted ones.
create index enrichments_inflight on public.enrichments (user_id, created_at)
    where status in ('pending', 'running');
-- promptd-gateway (service_role) takes up a handed-off record (pending ->
-- running), forgets one it refused at its cap, and marks failed the ones an
-- interrupted gateway left; the run's own statements go as the owner (RLS).
grant select, update (status, outcome, error, finished_at), delete
    on table public.enrichments to service_role;
