-- 0064_claim_skip_locked.sql: a webhook claim skips deliveries another transaction holds instead of waiting for them, and label moves, change requests' decisions and a version's deletion check who may act before they lock the prompt.  webhook_claim's lease-expiry reset and its claim locked deliveries in scan order and waited for each, so a claim holding one delivery of an endpoint and waiting for another deadlocked with that endpoint's deletion (its row, then its deliveries by the cascade) or webhook_disable, which held the second and waited for the first: the deletion answered 503 or the claim's batch failed.  change_request_decide and prompt_version_delete locked the prompt before the permission check, so anyone who knew a prompt's id held its row for the length of a failing call; prompt_version_delete also audits last now (the audit chain's head is held until commit).  The three label functions share promptd.prompt_labels_lock.  The current definitions are in sql/functions/webhooks.sql, sql/functions/labels.sql and sql/functions/prompts.sql.

create or replace function promptd.webhook_claim(p_sender text, p_max integer,
                                                 p_per_endpoint integer, p_lease integer)
 returns table(delivery uuid, attempt integer, endpoint uuid, url text, secret text,
               previous_secret text, msg_id text, body text)
 language plpgsql
 security definer
 set search_path to ''
as $function$
begin
    perform pg_advisory_xact_lock(hashtextextended('promptd.webhook_claim', 0));
    with ev as (
        select x.id, x.workspace_id, x.endpoint_id, x.type from promptd.webhook_events x
         where not x.fanned_out order by x.id limit 1000 for update),
    ins as (
        insert into promptd.webhook_deliveries (event_id, endpoint_id, workspace_id)
        select ev.id, e.id, ev.workspace_id from ev
          join public.webhook_endpoints e on e.workspace_id = ev.workspace_id and e.enabled
           and promptd.webhook_wants(e.id, e.events, ev.type, ev.endpoint_id)
        returning 1)
    update promptd.webhook_events x set fanned_out = true from ev where x.id = ev.id;

    update promptd.webhook_deliveries d set state = 'pending', next_attempt_at = now(),
           locked_by = null, locked_until = null, updated_at = now(),
           last_error = 'the sender stopped before an answer (' || coalesce(d.locked_by, '?') || ')'
     where d.id in (select x.id from promptd.webhook_deliveries x
                     where x.state = 'sending' and x.locked_until < now() for update skip locked);

    return query
    with busy as (
        select d.endpoint_id, count(*) as n from promptd.webhook_deliveries d
         where d.state = 'sending' group by d.endpoint_id),
    due as (
        select d.id, row_number() over (partition by d.endpoint_id
                                        order by d.next_attempt_at, d.id) as rn,
               coalesce(b.n, 0) as n, d.next_attempt_at
          from promptd.webhook_deliveries d
          join public.webhook_endpoints e on e.id = d.endpoint_id and e.enabled
          left join busy b on b.endpoint_id = d.endpoint_id
         where d.state = 'pending' and d.next_attempt_at <= now()),
    pick as (
        select due.id from due where due.rn + due.n <= p_per_endpoint
         order by due.next_attempt_at, due.id limit p_max),
    mine as (
        select d.id from promptd.webhook_deliveries d
         where d.id in (select pick.id from pick) and d.state = 'pending'
           for update of d skip locked),
    claimed as (
        update promptd.webhook_deliveries d set state = 'sending', attempts = d.attempts + 1,
               locked_by = p_sender, locked_until = now() + make_interval(secs => p_lease),
               updated_at = now()
          from mine where d.id = mine.id
        returning d.id, d.attempts, d.endpoint_id, d.event_id)
    select c.id, c.attempts, e.id, e.url, e.secret_sealed,
           case when e.previous_secret_until > now() then e.previous_secret_sealed end,
           ev.msg_id, ev.body
      from claimed c
      join public.webhook_endpoints e on e.id = c.endpoint_id
      join promptd.webhook_events ev on ev.id = c.event_id;
end
$function$;
revoke all on function promptd.webhook_claim(text,integer,integer,integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.webhook_claim(text,integer,integer,integer) to service_role;

create or replace function promptd.prompt_labels_lock(p_prompt uuid)
 returns void
 language plpgsql
 security definer
 set search_path to ''
as $function$
begin
    perform 1 from public.prompts x where x.id = p_prompt for no key update;
end
$function$;
revoke all on function promptd.prompt_labels_lock(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

create or replace function promptd.prompt_label_set(p_prompt uuid, p_label text, p_version integer,
                                                    p_reason text)
 returns jsonb
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    v_ws uuid := promptd.prompt_label_need(p_prompt, p_label);
    v_from integer;
    l public.prompt_labels;
begin
    perform promptd.prompt_labels_lock(p_prompt);
    if not exists (select 1 from public.prompt_versions v where v.prompt_id = p_prompt and v.version = p_version) then
        raise exception 'The prompt has no version %.', p_version using errcode = 'PW404';
    end if;
    select x.version into v_from from public.prompt_labels x
     where x.prompt_id = p_prompt and x.label = p_label for update;
    insert into public.prompt_labels (prompt_id, label, version, updated_by)
    values (p_prompt, p_label, p_version, auth.uid())
    on conflict (prompt_id, label) do update
        set version = excluded.version, updated_at = now(), updated_by = excluded.updated_by
    returning * into l;
    if v_from is distinct from p_version then
        insert into public.prompt_label_moves (prompt_id, label, from_version, to_version, moved_by, reason)
        values (p_prompt, p_label, v_from, p_version, auth.uid(), p_reason);
        perform promptd.audit('prompt.label.set', 'prompt:' || p_prompt, 'success',
            jsonb_build_object('workspace', v_ws, 'label', p_label, 'from', v_from, 'to', p_version));
    end if;
    return jsonb_build_object('label', l.label, 'version', l.version, 'from_version', v_from,
                              'updated_at', l.updated_at);
end
$function$;
revoke all on function promptd.prompt_label_set(uuid,text,integer,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.prompt_label_set(uuid,text,integer,text) to authenticated;

create or replace function promptd.prompt_label_delete(p_prompt uuid, p_label text, p_reason text)
 returns boolean
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    v_ws uuid := promptd.prompt_label_need(p_prompt, p_label);
    v_from integer;
begin
    perform promptd.prompt_labels_lock(p_prompt);
    delete from public.prompt_labels x where x.prompt_id = p_prompt and x.label = p_label
    returning x.version into v_from;
    if v_from is null then
        return false;
    end if;
    insert into public.prompt_label_moves (prompt_id, label, from_version, to_version, moved_by, reason)
    values (p_prompt, p_label, v_from, null, auth.uid(), p_reason);
    perform promptd.audit('prompt.label.delete', 'prompt:' || p_prompt, 'success',
        jsonb_build_object('workspace', v_ws, 'label', p_label, 'from', v_from));
    return true;
end
$function$;
revoke all on function promptd.prompt_label_delete(uuid,text,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.prompt_label_delete(uuid,text,text) to authenticated;

create or replace function promptd.change_request_decide(p_prompt uuid, p_id uuid, p_approve boolean,
                                                         p_note text)
 returns jsonb
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    c public.prompt_change_requests;
    v_role text;
    v_now integer;
begin
    -- who may decide, before any lock; then the prompt, then the request
    select * into c from public.prompt_change_requests x where x.id = p_id and x.prompt_id = p_prompt;
    v_role := promptd.workspace_role(c.workspace_id);
    if c.id is not null and v_role is not null then
        perform promptd.prompt_labels_lock(p_prompt);
        select * into c from public.prompt_change_requests x where x.id = p_id and x.prompt_id = p_prompt for update;
    end if;
    if c.id is null or v_role is null then
        raise exception 'No such change request.' using errcode = 'PW404';
    end if;
    if promptd.workspace_role_rank(v_role) < 3 then
        raise exception 'Deciding a change request needs the admin or owner role; you are %.', v_role
            using errcode = 'PW403';
    end if;
    if c.author = auth.uid() then
        raise exception 'The author of a change request cannot decide it; another admin or owner must.'
            using errcode = 'PW403';
    end if;
    if c.state <> 'open' then
        raise exception 'The change request is already %.', c.state using errcode = 'PW409';
    end if;
    if p_approve then
        select l.version into v_now from public.prompt_labels l
         where l.prompt_id = p_prompt and l.label = c.label for update;
        if v_now is distinct from c.from_version then
            raise exception 'The label % has moved since the request was opened (from % to %); it was not moved.',
                c.label, coalesce(c.from_version::text, 'unset'), coalesce(v_now::text, 'unset')
                using errcode = 'PW409';
        end if;
        insert into public.prompt_labels (prompt_id, label, version, updated_by)
        values (p_prompt, c.label, c.version, auth.uid())
        on conflict (prompt_id, label) do update
            set version = excluded.version, updated_at = now(), updated_by = excluded.updated_by;
        insert into public.prompt_label_moves (prompt_id, label, from_version, to_version, moved_by, reason,
                                               change_request_id)
        values (p_prompt, c.label, v_now, c.version, auth.uid(), coalesce(p_note, c.note), c.id);
    end if;
    update public.prompt_change_requests x
       set state = case when p_approve then 'approved' else 'rejected' end,
           decided_by = auth.uid(), decided_at = now(), decision_note = p_note
     where x.id = c.id returning * into c;
    perform promptd.audit(case when p_approve then 'prompt.change_request.approve'
                               else 'prompt.change_request.reject' end,
        'prompt:' || p_prompt, 'success',
        jsonb_build_object('change_request', c.id, 'label', c.label, 'from', v_now, 'to', c.version));
    return promptd.change_request_json(c);
end
$function$;
revoke all on function promptd.change_request_decide(uuid,uuid,boolean,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.change_request_decide(uuid,uuid,boolean,text) to authenticated;

create or replace function promptd.prompt_version_delete(p_prompt uuid, p_version integer)
 returns integer
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    p public.prompts;
    v public.prompt_versions;
    v_now integer;
begin
    -- who may delete, before any lock; then the prompt (before its labels,
    -- as every label move locks it), and the audit chain last
    select * into p from public.prompts x where x.id = p_prompt;
    if p.id is null or promptd.workspace_role(p.workspace_id) is null then
        raise exception 'No such prompt.' using errcode = 'PW404';
    end if;
    perform promptd.workspace_need(p.workspace_id, 'admin');
    -- (a prompt never changes workspace: only its deletion can intervene)
    select * into p from public.prompts x where x.id = p_prompt for update;
    if p.id is null then
        raise exception 'No such prompt.' using errcode = 'PW404';
    end if;
    if not exists (select 1 from public.prompt_versions x where x.prompt_id = p.id and x.version = p_version) then
        raise exception 'The prompt has no version %.', p_version using errcode = 'PW404';
    end if;
    select * into v from public.prompt_versions x where x.prompt_id = p.id and x.version <> p_version
     order by x.version desc limit 1;
    if v.prompt_id is null then
        delete from public.prompts x where x.id = p.id;
    else
        insert into public.prompt_label_moves (prompt_id, label, from_version, to_version, moved_by, reason)
        select l.prompt_id, l.label, l.version, case when l.label = 'latest' then v.version end, auth.uid(),
               'Version ' || p_version || ' deleted'
          from public.prompt_labels l where l.prompt_id = p.id and l.version = p_version;
        delete from public.prompt_versions x where x.prompt_id = p.id and x.version = p_version;
        v_now := p.version;
    end if;
    if p.version = p_version and v_now is not null then
        perform set_config('promptd.rewind', 'on', true);
        update public.prompts x set title = v.title, content = v.content, tags = v.tags,
               metadata = v.metadata, folder = v.folder, config = v.config,
               commit_message = v.commit_message, version = v.version, updated_at = now()
         where x.id = p.id;
        perform set_config('promptd.rewind', 'off', true);
        insert into public.prompt_labels (prompt_id, label, version, updated_by)
        values (p.id, 'latest', v.version, auth.uid())
        on conflict (prompt_id, label) do update
            set version = excluded.version, updated_at = now(), updated_by = excluded.updated_by;
        v_now := v.version;
    end if;
    perform promptd.audit('prompt.version.delete', 'prompt:' || p.id, 'success',
        jsonb_build_object('workspace', p.workspace_id, 'version', p_version));
    return v_now;
end
$function$;
revoke all on function promptd.prompt_version_delete(uuid,integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.prompt_version_delete(uuid,integer) to authenticated;
