-- core.sql: schema-wide functions: migration state for /readyz, the updated_at trigger.
--
-- The one current definition of each; promptctl migrate re-applies this
-- file after the numbered migrations, every run: edit here, never in
-- sql/NNNN_*.sql (see README, "promptctl").

-- promptd.migration_state(): what `promptctl migrate` has applied, for
-- /readyz.  plpgsql so the body binds at call time.
CREATE OR REPLACE FUNCTION promptd.migration_state()
 RETURNS TABLE(applied integer, latest text)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    return query
        select count(*)::int, max(m.version)
        from public.schema_migrations m;
end
$function$;
revoke all on function promptd.migration_state() from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.migration_state() to anon, authenticated, service_role;

-- promptd.touch_updated_at(): BEFORE UPDATE trigger keeping updated_at.
CREATE OR REPLACE FUNCTION promptd.touch_updated_at()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
    new.updated_at := now();
    return new;
end
$function$;
revoke all on function promptd.touch_updated_at() from public, anon, authenticated, service_role, promptd_app, promptd_auth;
