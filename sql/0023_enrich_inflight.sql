-- 0023_enrich_inflight.sql: enrichments in flight (pending or running) per user, counted at every POST /api/v1/enrich for the per-user cap; the gateway taking up a handed-off run (with its owner's keys) and sweeping interrupted ones.
create index enrichments_inflight on public.enrichments (user_id, created_at)
    where status in ('pending', 'running');
-- promptd-gateway (service_role) takes up a handed-off record (pending ->
-- running), forgets one it refused at its cap, and marks failed the ones an
-- interrupted gateway left; the run's own statements go as the owner (RLS).
grant select, update (status, outcome, error, finished_at), delete
    on table public.enrichments to service_role;

-- promptd.enrich_handoff_take(id) -> the handed-off record, now running, and
-- its owner's stored provider keys (still encrypted): one row per key, or
-- one row with null key columns; no row when id is not a pending
-- synchronous record.  promptd-gateway's first statement of a run, one round
-- trip (service_role only: it may not read user_secrets itself).
CREATE OR REPLACE FUNCTION promptd.enrich_handoff_take(p_id uuid)
 RETURNS TABLE(user_id uuid, input text, mode text, options text, prompt_id uuid, secret_id uuid, secret_name text, value_enc text)
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
    with t as (
        update public.enrichments e set status = 'running'
         where e.id = p_id and e.status = 'pending' and not e.async
        returning e.user_id, e.input, e.mode, e.options::text as options, e.prompt_id)
    select t.user_id, t.input, t.mode, t.options, t.prompt_id, s.id, s.name, s.value_enc
      from t left join public.user_secrets s
        on s.user_id = t.user_id and s.name in ('openai_api_key', 'anthropic_api_key')
$function$;
revoke all on function promptd.enrich_handoff_take(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.enrich_handoff_take(uuid) to service_role;
