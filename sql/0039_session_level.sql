-- 0039_session_level.sql: a session's authenticator assurance level and its methods (GoTrue's aal and amr claims), kept across refreshes; the auth family's files split (issue 22).

alter table promptd.sessions
    add column if not exists aal text not null default 'aal1' check (aal in ('aal1', 'aal2')),
    -- [{method, timestamp}], newest first, as GoTrue's amr claim; null:
    -- a password sign-in at created_at (sessions opened before this column)
    add column if not exists amr jsonb;

-- the refresh grant reads both through auth_session_level now
drop function if exists promptd.auth_session_signed_in_at(uuid);

CREATE OR REPLACE FUNCTION promptd.auth_session_level(p_session uuid)
 RETURNS jsonb
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    select jsonb_build_object('aal', s.aal, 'amr', coalesce(s.amr, jsonb_build_array(
               jsonb_build_object('method', 'password',
                                  'timestamp', floor(extract(epoch from s.created_at))::bigint))))
    from promptd.sessions s where s.id = p_session
$function$;
revoke all on function promptd.auth_session_level(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.auth_session_level(uuid) to promptd_auth;
