-- 0063_account_delete_audit_last.sql: an account's deletion writes its audit row after the deletion, so that the audit chain's head (held until commit) is its last lock.  DELETE /api/v1/me audited before promptd.delete_account(), whose cascade changes rows (the user's memberships, prompts in team workspaces, labels and change requests they touched, webhook endpoints and invitations they made) that other requests lock before they audit: such a request and the deletion deadlocked, and one of them answered 503.  promptd.audit_append writes a row under a pseudonym given (the deletion reads the user's before it, as the deletion then forgets it); promptd.audit now calls it.  The current definitions are in sql/functions/audit.sql.

CREATE OR REPLACE FUNCTION promptd.audit_append(p_pseudo uuid, p_action text, p_target text, p_outcome text, p_detail jsonb)
 RETURNS bigint
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v_pseudo uuid := p_pseudo;
    v_key    uuid;
    v_addr   inet;
    v_claims text := nullif(current_setting('request.jwt.claims', true), '');
    v_head   promptd.audit_head;
    v_at     timestamptz := now();
    v_id     bigint;
    v_rid    text := left(nullif(current_setting('request.id', true), ''), 128);
    v_ua     text := left(nullif(current_setting('request.user_agent', true), ''), 512);
    v_detail jsonb := coalesce(p_detail, '{}'::jsonb);
    v_hash   text;
begin
    begin
        v_key := (v_claims::jsonb ->> 'key_id')::uuid;
    exception when others then
        v_key := null;
    end;
    begin
        v_addr := nullif(current_setting('request.address', true), '')::inet;
    exception when others then
        v_addr := null;
    end;
    if jsonb_typeof(v_detail) <> 'object' then
        v_detail := jsonb_build_object('value', v_detail);
    end if;
    -- microsecond precision round-trips through the hash's epoch form
    v_at := date_trunc('microseconds', v_at);
    select * into v_head from promptd.audit_head h where h.id = 1 for update;
    v_id := v_head.last_id + 1;
    v_hash := promptd.audit_row_hash(v_id, v_at, v_pseudo, v_key, p_action,
        left(p_target, 512), p_outcome, v_rid, v_addr, v_ua, v_detail,
        v_head.last_hash);
    insert into public.audit_log (id, at, actor_user, actor_key, action, target,
        outcome, request_id, address, user_agent, detail, prev_hash, hash)
    values (v_id, v_at, v_pseudo, v_key, p_action, left(p_target, 512),
        p_outcome, v_rid, v_addr, v_ua, v_detail, v_head.last_hash, v_hash);
    update promptd.audit_head set last_id = v_id, last_hash = v_hash where id = 1;
    return v_id;
end
$function$;
revoke all on function promptd.audit_append(uuid,text,text,text,jsonb) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.audit_append(uuid,text,text,text,jsonb) to service_role, promptd_app;

CREATE OR REPLACE FUNCTION promptd.audit(p_action text, p_target text, p_outcome text, p_detail jsonb, p_actor uuid DEFAULT NULL::uuid)
 RETURNS bigint
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v_actor uuid := coalesce(p_actor, auth.uid());
begin
    return promptd.audit_append(case when v_actor is not null then promptd.audit_subject(v_actor) end,
                                p_action, p_target, p_outcome, p_detail);
end
$function$;
revoke all on function promptd.audit(text,text,text,jsonb,uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.audit(text,text,text,jsonb,uuid) to service_role, promptd_app;

grant execute on function promptd.audit_subject(uuid) to service_role, promptd_app;
