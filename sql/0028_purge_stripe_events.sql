-- 0028_purge_stripe_events.sql: maintenance.purge also deletes Stripe events processed more than 90 days ago.

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

    return jsonb_build_object('idempotency_keys', n_idem, 'auth_throttle', n_throttle,
                              'sessions', n_sessions, 'schedule_runs', n_runs,
                              'enrich_cache', n_cache, 'stripe_events', n_stripe);
end
$function$;
revoke all on function promptd.maintenance_purge(integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.maintenance_purge(integer) to service_role;
