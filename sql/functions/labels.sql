-- labels.sql: deployment labels (issue 21): who may move which label, setting, removing and their history; fetching a prompt by name.
--
-- The one current definition of each; promptctl migrate re-applies this
-- file after the numbered migrations, every run: edit here, never in
-- sql/NNNN_*.sql (see README, "Deploying prompts").

-- promptd.prompt_label_valid(label): [a-z0-9][a-z0-9._-]{0,35}.
create or replace function promptd.prompt_label_valid(p_label text)
 returns boolean
 language sql
 immutable parallel safe
 set search_path to ''
as $function$
    select p_label is not null and p_label ~ '^[a-z0-9][a-z0-9._-]{0,35}$'
$function$;
revoke all on function promptd.prompt_label_valid(text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.prompt_label_valid(text) to public, anon, authenticated, service_role;

-- promptd.prompt_label_need(prompt, label) -> the prompt's workspace, or
-- raises: not a member PW404, a viewer PW403, a protected label (the
-- workspace's protected_labels, production by default) below admin PW403,
-- latest (moved only by promptd) or a bad label PW422.
create or replace function promptd.prompt_label_need(p_prompt uuid, p_label text)
 returns uuid
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
declare
    v_ws uuid;
    v_role text;
begin
    select p.workspace_id into v_ws from public.prompts p where p.id = p_prompt;
    v_role := promptd.workspace_role(v_ws);
    if v_ws is null or v_role is null then
        raise exception 'No such prompt.' using errcode = 'PW404';
    end if;
    if not promptd.prompt_label_valid(p_label) then
        raise exception 'A label is 1 to 36 of a-z, 0-9, ".", "_", "-", starting with a letter or digit.'
            using errcode = 'PW422';
    end if;
    if p_label = 'latest' then
        raise exception 'The label latest always points to the newest version; promptd moves it.'
            using errcode = 'PW422';
    end if;
    if promptd.workspace_role_rank(v_role) < 2 then
        raise exception 'Moving a label needs the editor role or higher; you are %.', v_role
            using errcode = 'PW403';
    end if;
    if promptd.workspace_role_rank(v_role) < 3 and exists (select 1 from public.workspaces w
            where w.id = v_ws and p_label = any (w.protected_labels)) then
        raise exception 'The label % is protected in this workspace: only admins and owners move it; open a change request (POST /api/v1/prompts/%/change-requests).', p_label, p_prompt
            using errcode = 'PW403';
    end if;
    return v_ws;
end
$function$;
revoke all on function promptd.prompt_label_need(uuid,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.prompt_labels_lock(prompt): lock the prompt's row before any of
-- its labels, as its writes, its versions' deletion and the Langfuse API
-- do (and the audit chain last), so that label moves and those never wait
-- for each other in opposite orders.  Call it after the caller's
-- permission check: a caller who may not act on the prompt holds nothing.
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

-- promptd.prompt_label_set(prompt, label, version, reason) -> {label,
-- version, from_version, updated_at}: set or move a label (audited, with
-- its history row).  A version that does not exist is PW404.
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

-- promptd.prompt_label_delete(prompt, label, reason) -> whether it existed.
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

-- promptd.prompt_label_history(prompt, label) -> {items: [{from_version,
-- to_version (null: removed), moved_by, moved_at, reason, change_request}]},
-- newest first.
-- Any member; PW404 otherwise.
create or replace function promptd.prompt_label_history(p_prompt uuid, p_label text)
 returns jsonb
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
begin
    if promptd.workspace_role((select p.workspace_id from public.prompts p where p.id = p_prompt)) is null then
        raise exception 'No such prompt.' using errcode = 'PW404';
    end if;
    return (select jsonb_build_object('items', coalesce(jsonb_agg(jsonb_build_object(
                'from_version', m.from_version, 'to_version', m.to_version,
                'moved_by', m.moved_by, 'moved_at', m.moved_at, 'reason', m.reason,
                'change_request', m.change_request_id)
              order by m.id desc), '[]'::jsonb))
              from public.prompt_label_moves m where m.prompt_id = p_prompt and m.label = p_label);
end
$function$;
revoke all on function promptd.prompt_label_history(uuid,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.prompt_label_history(uuid,text) to authenticated;

-- promptd.prompt_by_name(workspace, name, label, version, max) -> the
-- prompt as an application fetches it: the version named (version), or the
-- one the label points to (label; neither: production), with its labels,
-- its includes resolved (content; includes: the versions used, see
-- promptd.prompt_compose).  workspace null: promptd.default_workspace().
-- PW404 when the workspace is not the caller's, the name unknown, or no
-- version carries the label.  The hot path of deployed applications: one
-- statement, the membership test (promptd.workspace_role) joined in, json
-- not jsonb; the lookups run again only to say what is missing.
create or replace function promptd.prompt_by_name(p_ws uuid, p_name text, p_label text, p_version integer,
                                                  p_max integer)
 returns json
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
declare
    v_uid uuid := auth.uid();
    v_claims text := current_setting('request.jwt.claims', true);
    v_key_ws uuid := case when strpos(v_claims, 'workspace_id') > 0
                          then (v_claims::jsonb ->> 'workspace_id')::uuid end;
    v_ws uuid := coalesce(p_ws, v_key_ws);   -- null: the personal workspace
    r json;
    v_type text;
    v_content text;
    c jsonb;
begin
    select json_build_object('id', p.id, 'workspace_id', p.workspace_id, 'name', p.name,
               'type', p.type, 'version', v.version, 'title', v.title,
               'content', case when p.type = 'chat' then v.content::json else to_json(v.content) end,
               'includes', '[]'::json,
               'config', v.config, 'tags', v.tags, 'variables', v.variables,
               'commit_message', v.commit_message, 'created_at', v.created_at,
               'labels', array_to_json(array(select l.label from public.prompt_labels l
                                              where l.prompt_id = p.id and l.version = v.version
                                              order by l.label))),
           p.type, case when strpos(v.content, '{{>') > 0 then v.content end
      into r, v_type, v_content
      from public.prompts p
      join public.workspace_members m on m.workspace_id = p.workspace_id and m.user_id = v_uid
      join public.prompt_versions v on v.prompt_id = p.id
       and v.version = coalesce(p_version, (select l.version from public.prompt_labels l
                                             where l.prompt_id = p.id and l.label = coalesce(p_label, 'production')))
     where p.workspace_id = coalesce(v_ws, (select w.id from public.workspaces w where w.personal_of = v_uid))
       and p.name = p_name and (v_key_ws is null or v_key_ws = p.workspace_id);
    if v_content is null and r is not null then
        return r;
    end if;
    v_ws := coalesce(v_ws, promptd.personal_workspace(v_uid));
    if v_content is not null then   -- includes: resolved here, off the common path
        c := promptd.prompt_compose(v_ws, p_name, v_type, v_content, p_max);
        return (r::jsonb || jsonb_build_object('includes', c->'includes', 'content',
                case when v_type = 'chat' then (c->>'content')::jsonb else c->'content' end))::json;
    end if;
    if promptd.workspace_role(v_ws) is null then
        raise exception 'No such prompt.' using errcode = 'PW404';
    end if;
    if not exists (select 1 from public.prompts x where x.workspace_id = v_ws and x.name = p_name) then
        raise exception 'No prompt is named %.', p_name using errcode = 'PW404';
    end if;
    if p_version is null then
        raise exception 'No version of % has the label %.', p_name, coalesce(p_label, 'production')
            using errcode = 'PW404';
    end if;
    raise exception 'The prompt % has no version %.', p_name, p_version using errcode = 'PW404';
end
$function$;
revoke all on function promptd.prompt_by_name(uuid,text,text,integer,integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.prompt_by_name(uuid,text,text,integer,integer) to authenticated;

-- promptd.prompt_deployed: the labelled versions of the prompts in the
-- caller's workspaces, one row per prompt and label, as GET
-- /api/v1/prompts/by-name/{name}?label= answers them (prompt: the answer,
-- includes not resolved; composed: the content has an include, which
-- promptd.prompt_by_name resolves).  default_ws: where a fetch naming no
-- workspace looks (an API key's own workspace, else the caller's personal
-- one).  The fetch's common path is one statement on this view, sent as the
-- request role: the view reads the tables as its owner, as the security
-- definer prompt_by_name does, and applies the same test,
-- promptd.workspace_role's joined once (a member of the prompt's workspace;
-- a request by API key only in its key's workspace), where RLS on the
-- tables would test it once per table read.  security_barrier: a caller's
-- conditions run only on rows that passed it, unless leakproof.
create or replace view promptd.prompt_deployed with (security_barrier) as
select p.workspace_id, p.name, l.label,
       coalesce(c.key_ws, (select w.id from public.workspaces w where w.personal_of = c.uid)) as default_ws,
       json_build_object('id', p.id, 'workspace_id', p.workspace_id, 'name', p.name,
           'type', p.type, 'version', v.version, 'title', v.title,
           'content', case when p.type = 'chat' then v.content::json else to_json(v.content) end,
           'includes', '[]'::json,
           'config', v.config, 'tags', v.tags, 'variables', v.variables,
           'commit_message', v.commit_message, 'created_at', v.created_at,
           'labels', array_to_json(array(select x.label from public.prompt_labels x
                                          where x.prompt_id = p.id and x.version = v.version
                                          order by x.label))) as prompt,
       strpos(v.content, '{{>') > 0 as composed
  from (select auth.uid() as uid,
               (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'workspace_id')::uuid
               as key_ws) c
  join public.workspace_members m on m.user_id = c.uid
  join public.prompts p on p.workspace_id = m.workspace_id
  join public.prompt_labels l on l.prompt_id = p.id
  join public.prompt_versions v on v.prompt_id = p.id and v.version = l.version
 where c.key_ws is null or c.key_ws = p.workspace_id;
revoke all on table promptd.prompt_deployed from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant select on table promptd.prompt_deployed to authenticated;

-- promptd.change_request_json(request) -> the API's view of a change request.
create or replace function promptd.change_request_json(p_c public.prompt_change_requests)
 returns jsonb
 language sql
 stable
 set search_path to ''
as $function$
    select jsonb_build_object('id', p_c.id, 'workspace_id', p_c.workspace_id,
        'prompt_id', p_c.prompt_id, 'label', p_c.label, 'version', p_c.version,
        'from_version', p_c.from_version, 'note', p_c.note, 'author', p_c.author,
        'state', p_c.state, 'decided_by', p_c.decided_by, 'decided_at', p_c.decided_at,
        'decision_note', p_c.decision_note, 'created_at', p_c.created_at)
$function$;
revoke all on function promptd.change_request_json(public.prompt_change_requests) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.change_request_json(public.prompt_change_requests) to authenticated;

-- promptd.change_request_open(prompt, label, version, note) -> the request:
-- an editor (or anyone above) asks for label to move to version.  It
-- remembers where the label is now; approving moves it only from there.
create or replace function promptd.change_request_open(p_prompt uuid, p_label text, p_version integer,
                                                       p_note text)
 returns jsonb
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    v_ws uuid;
    v_role text;
    c public.prompt_change_requests;
begin
    select p.workspace_id into v_ws from public.prompts p where p.id = p_prompt;
    v_role := promptd.workspace_role(v_ws);
    if v_ws is null or v_role is null then
        raise exception 'No such prompt.' using errcode = 'PW404';
    end if;
    if promptd.workspace_role_rank(v_role) < 2 then
        raise exception 'Opening a change request needs the editor role or higher; you are %.', v_role
            using errcode = 'PW403';
    end if;
    if not promptd.prompt_label_valid(p_label) or p_label = 'latest' then
        raise exception 'A change request moves a label other than latest (a-z, 0-9, ".", "_", "-").'
            using errcode = 'PW422';
    end if;
    if not exists (select 1 from public.prompt_versions v where v.prompt_id = p_prompt and v.version = p_version) then
        raise exception 'The prompt has no version %.', p_version using errcode = 'PW404';
    end if;
    insert into public.prompt_change_requests (workspace_id, prompt_id, label, version, from_version, note, author)
    values (v_ws, p_prompt, p_label, p_version,
            (select l.version from public.prompt_labels l where l.prompt_id = p_prompt and l.label = p_label),
            p_note, auth.uid())
    returning * into c;
    perform promptd.audit('prompt.change_request.open', 'prompt:' || p_prompt, 'success',
        jsonb_build_object('change_request', c.id, 'label', p_label, 'to', p_version));
    return promptd.change_request_json(c);
end
$function$;
revoke all on function promptd.change_request_open(uuid,text,integer,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.change_request_open(uuid,text,integer,text) to authenticated;

-- promptd.change_request_decide(prompt, request, approve, note) -> the
-- request, approved (the label moved, atomically, in the same statement)
-- or rejected.  Admins and owners only (PW403), never the author (PW403);
-- a request no longer open is PW409, and so is approving one whose label
-- has moved since it was opened (it stays open: reject it or open another).
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

-- promptd.change_request_list(workspace, state) -> {items}: the
-- workspace's requests in that state (null: all), newest first (members).
create or replace function promptd.change_request_list(p_ws uuid, p_state text)
 returns jsonb
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
begin
    perform promptd.workspace_need(p_ws, 'viewer');
    return (select jsonb_build_object('items', coalesce(jsonb_agg(promptd.change_request_json(c)
                order by c.created_at desc, c.id), '[]'::jsonb))
              from public.prompt_change_requests c
             where c.workspace_id = p_ws and (p_state is null or c.state = p_state));
end
$function$;
revoke all on function promptd.change_request_list(uuid,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.change_request_list(uuid,text) to authenticated;
