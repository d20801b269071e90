-- audit.sql: the hash-chained audit log: append, pseudonyms, erasure, verification; its policy.
--
-- The one current definition of each; promptctl migrate re-applies this
-- file after the numbered migrations, every run: edit here, never in
-- sql/NNNN_*.sql (see README, "promptctl").

-- The caller's pseudonym, or NULL when they have none yet (never audited).
CREATE OR REPLACE FUNCTION promptd.audit_pseudonym()
 RETURNS uuid
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    select s.pseudonym from promptd.audit_subjects s where s.user_id = auth.uid()
$function$;
revoke all on function promptd.audit_pseudonym() from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.audit_pseudonym() to anon, authenticated, service_role, promptd_app;

-- The pseudonym of any user (created on first use), for audit targets that
-- name a user ("user:<pseudonym>"): e.g. an admin changing someone's tier.
CREATE OR REPLACE FUNCTION promptd.audit_subject(p_user uuid)
 RETURNS uuid
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v uuid;
begin
    insert into promptd.audit_subjects (user_id) values (p_user)
    on conflict (user_id) do nothing;
    select s.pseudonym into v from promptd.audit_subjects s where s.user_id = p_user;
    return v;
end
$function$;
revoke all on function promptd.audit_subject(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.audit_subject(uuid) to service_role, promptd_app;

-- The canonical text a row's hash covers: a JSON array of every field but
-- the hash, in a fixed order.  jsonb's text form is independent of session
-- settings; the time is in integer microseconds since the epoch.
CREATE OR REPLACE FUNCTION promptd.audit_row_hash(p_id bigint, p_at timestamp with time zone, p_actor_user uuid, p_actor_key uuid, p_action text, p_target text, p_outcome text, p_request_id text, p_address inet, p_user_agent text, p_detail jsonb, p_prev_hash text)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO ''
AS $function$
    select encode(pg_catalog.sha256(convert_to(
        pg_catalog.jsonb_build_array(
            p_id,
            (extract(epoch from p_at) * 1000000)::bigint,
            p_actor_user::text, p_actor_key::text, p_action, p_target,
            p_outcome, p_request_id, host(p_address), p_user_agent,
            p_detail)::text || p_prev_hash, 'UTF8')), 'hex')
$function$;
revoke all on function promptd.audit_row_hash(bigint,timestamp with time zone,uuid,uuid,text,text,text,text,inet,text,jsonb,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- Append-only: UPDATE and DELETE (row triggers) and TRUNCATE (statement
-- trigger) are refused for everyone, the owner included.
CREATE OR REPLACE FUNCTION promptd.audit_log_refuse()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
    raise exception 'audit_log is append-only (% refused)', tg_op
        using errcode = '42501';
end
$function$;
revoke all on function promptd.audit_log_refuse() from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.audit_append(pseudonym, action, target, outcome, detail) -> the
-- new row's id: promptd.audit with the actor's pseudonym given (NULL:
-- none), for a row written after its actor is gone (an account's
-- deletion, audited after it so that the audit chain's head, held until
-- commit, is the transaction's last lock).
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

-- promptd.audit(): append one row.  Actor = coalesce(p_actor, auth.uid()),
-- stored as its pseudonym; API key from the claims; request id, address and
-- user agent from the transaction-local settings request.id,
-- request.address, request.user_agent.  Returns the new row's id.
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

-- Erasure: deleting a user forgets their pseudonym (the rows stay).
CREATE OR REPLACE FUNCTION promptd.audit_forget_subject()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    delete from promptd.audit_subjects where user_id = old.id;
    return null;
end
$function$;
revoke all on function promptd.audit_forget_subject() from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.audit_verify(): every row with its recomputed hash and the
-- previous row's hash, for `promptctl audit verify` (superuser only).
CREATE OR REPLACE FUNCTION promptd.audit_verify()
 RETURNS TABLE(id bigint, prev_hash text, hash text, expected_prev text, computed text)
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
    select a.id, a.prev_hash, a.hash,
           coalesce(lag(a.hash) over (order by a.id), ''),
           promptd.audit_row_hash(a.id, a.at, a.actor_user, a.actor_key,
               a.action, a.target, a.outcome, a.request_id, a.address,
               a.user_agent, a.detail, a.prev_hash)
    from public.audit_log a
    order by a.id
$function$;
revoke all on function promptd.audit_verify() from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- Row level security on public.audit_log.
drop policy if exists audit_log_select_own on public.audit_log;
create policy audit_log_select_own on public.audit_log for select to authenticated
    using ((actor_user = ( SELECT promptd.audit_pseudonym() AS audit_pseudonym)));

-- promptd.admin_user_audit(user, limit, before) -> {items, next_cursor}: the
-- audit rows the user acted in (their pseudonym as actor_user), newest
-- first, ids below before (null: from the newest); next_cursor the last
-- item's id when more follow.  NULL when auth.users has no such user.
CREATE OR REPLACE FUNCTION promptd.admin_user_audit(p_user uuid, p_limit integer, p_before bigint)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v_pseudonym uuid;
    v_items jsonb;
    v_n integer;
begin
    perform promptd.admin_require();
    if not exists (select 1 from auth.users u where u.id = p_user) then
        return null;
    end if;
    select s.pseudonym into v_pseudonym from promptd.audit_subjects s where s.user_id = p_user;
    select coalesce(jsonb_agg(x.o order by x.id desc), '[]'::jsonb), count(*)
      into v_items, v_n
      from (select a.id, jsonb_build_object('id', a.id, 'at', a.at, 'action', a.action,
                       'target', a.target, 'outcome', a.outcome, 'request_id', a.request_id,
                       'address', host(a.address), 'user_agent', a.user_agent,
                       'api_key_id', a.actor_key, 'detail', a.detail, 'hash', a.hash) o
              from public.audit_log a
             where v_pseudonym is not null and a.actor_user = v_pseudonym
               and (p_before is null or a.id < p_before)
             order by a.id desc
             limit p_limit + 1) x;
    if v_n > p_limit then
        v_items := v_items - p_limit;
        return jsonb_build_object('items', v_items,
                                  'next_cursor', (v_items -> (p_limit - 1) ->> 'id'));
    end if;
    return jsonb_build_object('items', v_items, 'next_cursor', null);
end
$function$;
revoke all on function promptd.admin_user_audit(uuid,integer,bigint) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.admin_user_audit(uuid,integer,bigint) to authenticated;
