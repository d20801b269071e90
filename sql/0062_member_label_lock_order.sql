-- 0062_member_label_lock_order.sql: changes of a workspace's members lock the workspace first, and label moves lock the prompt first.  workspace_member_set and workspace_member_remove locked the member's row and then (for an owner) every owner's row, so two owners demoted or leaving at once deadlocked; prompt_label_set, prompt_label_delete and change_request_decide locked the label and then (their history row's foreign key) the prompt, while deleting a version (and the Langfuse API's create) locks the prompt and then its labels.  The losing request answered 503.  The current definitions are in sql/functions/workspaces.sql and sql/functions/labels.sql.

create or replace function promptd.workspace_members_lock(p_ws uuid)
 returns void
 language plpgsql
 security definer
 set search_path to ''
as $function$
begin
    perform 1 from public.workspaces w where w.id = p_ws for no key update;
end
$function$;
revoke all on function promptd.workspace_members_lock(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

create or replace function promptd.workspace_owner_keep(p_ws uuid)
 returns void
 language plpgsql
 security definer
 set search_path to ''
as $function$
begin
    perform 1 from public.workspace_members m
     where m.workspace_id = p_ws and m.role = 'owner' for update;
    if (select count(*) from public.workspace_members m
         where m.workspace_id = p_ws and m.role = 'owner') <= 1 then
        raise exception 'A workspace keeps at least one owner.' using errcode = 'PW409';
    end if;
end
$function$;
revoke all on function promptd.workspace_owner_keep(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

create or replace function promptd.workspace_member_set(p_ws uuid, p_user uuid, p_role text)
 returns jsonb
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    v_mine text := promptd.workspace_need(p_ws, 'admin');
    v_old text;
begin
    perform promptd.workspace_members_lock(p_ws);
    if p_role not in ('owner', 'admin', 'editor', 'viewer') then
        raise exception 'role must be owner, admin, editor or viewer' using errcode = '22023';
    end if;
    select m.role into v_old from public.workspace_members m
     where m.workspace_id = p_ws and m.user_id = p_user for update;
    if v_old is null then
        raise exception 'No such member.' using errcode = 'PW404';
    end if;
    if v_mine <> 'owner' and (p_role in ('owner', 'admin') and p_role <> v_old
                              or v_old in ('owner', 'admin') and p_user <> auth.uid()) then
        raise exception 'Only an owner changes owners and admins.' using errcode = 'PW403';
    end if;
    if v_old = 'owner' and p_role <> 'owner' then
        perform promptd.workspace_owner_keep(p_ws);
    end if;
    update public.workspace_members m set role = p_role
     where m.workspace_id = p_ws and m.user_id = p_user;
    perform promptd.audit('workspace.member.role', 'workspace:' || p_ws, 'success',
        jsonb_build_object('member', 'user:' || promptd.audit_subject(p_user),
                           'from', v_old, 'to', p_role));
    return (select jsonb_build_object('user_id', m.user_id, 'role', m.role, 'created_at', m.created_at)
              from public.workspace_members m where m.workspace_id = p_ws and m.user_id = p_user);
end
$function$;

create or replace function promptd.workspace_member_remove(p_ws uuid, p_user uuid)
 returns void
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    v_mine text := promptd.workspace_need(p_ws, case when p_user = auth.uid() then 'viewer' else 'admin' end);
    v_old text;
begin
    perform promptd.workspace_members_lock(p_ws);
    select m.role into v_old from public.workspace_members m
     where m.workspace_id = p_ws and m.user_id = p_user for update;
    if v_old is null then
        raise exception 'No such member.' using errcode = 'PW404';
    end if;
    if p_user <> auth.uid() and v_mine <> 'owner' and v_old in ('owner', 'admin') then
        raise exception 'Only an owner removes owners and admins.' using errcode = 'PW403';
    end if;
    if v_old = 'owner' then
        perform promptd.workspace_owner_keep(p_ws);
    end if;
    delete from public.workspace_members m where m.workspace_id = p_ws and m.user_id = p_user;
    perform promptd.audit('workspace.member.remove', 'workspace:' || p_ws, 'success',
        jsonb_build_object('member', 'user:' || promptd.audit_subject(p_user), 'role', v_old));
end
$function$;

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
    -- the prompt first, as its writes, its versions' deletion and the
    -- Langfuse API lock it before its labels (and the audit chain last)
    perform 1 from public.prompts x where x.id = p_prompt for no key update;
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
    -- the prompt first, as its writes, its versions' deletion and the
    -- Langfuse API lock it before its labels (and the audit chain last)
    perform 1 from public.prompts x where x.id = p_prompt for no key update;
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
    -- the prompt first, as its writes, its versions' deletion and the
    -- Langfuse API lock it before its labels (and the audit chain last)
    perform 1 from public.prompts x where x.id = p_prompt for no key update;
    select * into c from public.prompt_change_requests x where x.id = p_id and x.prompt_id = p_prompt for update;
    v_role := promptd.workspace_role(c.workspace_id);
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
