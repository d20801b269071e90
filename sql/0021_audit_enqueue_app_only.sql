-- 0021_audit_enqueue_app_only.sql: promptd.audit() and promptd.enqueue() for the application's own roles only, never a request role.
--
-- Both were granted to request roles (anon, authenticated), so anyone with
-- raw SQL or PostgREST under those roles (as on Supabase) could append
-- audit rows naming any actor, and enqueue any job type with any payload:
-- the jobs daemon trusts a job's payload (the "enrich" job becomes
-- payload.user_id, decrypts that user's provider keys and writes that
-- user's prompt).  Now only the worker's login role (promptd_app, which
-- switches to itself for these calls inside a request's transaction:
-- src/db/db.c db_exec_app, also during sign-in) and service_role
-- (BYPASSRLS: operators, the daemons) may call them.  SECURITY DEFINER functions that call them (admin grants,
-- tier changes, schedules) run as their owner and are unaffected.

revoke execute on function promptd.audit(text, text, text, jsonb, uuid)
    from public, anon, authenticated, promptd_auth;
revoke execute on function promptd.enqueue(text, jsonb, text, timestamptz, int, int, text)
    from public, anon, authenticated;
grant execute on function promptd.audit(text, text, text, jsonb, uuid)
    to service_role, promptd_app;
grant execute on function promptd.enqueue(text, jsonb, text, timestamptz, int, int, text)
    to service_role, promptd_app;
