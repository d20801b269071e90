-- workspaces.sql: workspaces (issue 21): the membership test every policy uses, personal workspaces, the workspace, member and invitation operations.
--
-- The one current definition of each; promptctl migrate re-applies this
-- file after the numbered migrations, every run: edit here, never in
-- sql/NNNN_*.sql (see README, "Teams and roles").

-- promptd.workspace_role_rank(role): viewer 1, editor 2, admin 3, owner 4,
-- anything else (a non-member's null) 0.
create or replace function promptd.workspace_role_rank(p_role text)
 returns integer
 language sql
 immutable parallel safe
 set search_path to ''
as $function$
    select case p_role when 'owner' then 4 when 'admin' then 3 when 'editor' then 2
                       when 'viewer' then 1 else 0 end
$function$;
revoke all on function promptd.workspace_role_rank(text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.workspace_role_rank(text) to public, anon, authenticated, service_role;

-- promptd.workspace_role(workspace) -> the caller's role there (owner,
-- admin, editor, viewer) or null: the one membership test every workspace
-- policy and handler uses.  A request by API key (claims.workspace_id)
-- acts only in its key's workspace, with at most its creator's role there.
-- plpgsql, not sql: PL/pgSQL keeps its plan for the session, where a
-- security-definer SQL function is planned again in every statement (five
-- times the cost, on every read of a prompt).
create or replace function promptd.workspace_role(p_ws uuid)
 returns text
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
declare
    v_role text;
begin
    select m.role into v_role from public.workspace_members m
     where m.workspace_id = p_ws and m.user_id = auth.uid()
       and coalesce((nullif(current_setting('request.jwt.claims', true), '')::jsonb
                     ->> 'workspace_id')::uuid = p_ws, true);
    return v_role;
end
$function$;
revoke all on function promptd.workspace_role(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.workspace_role(uuid) to authenticated, service_role;

-- promptd.personal_workspace(user) -> the user's personal workspace: the
-- default workspace of a new prompt or API key.
create or replace function promptd.personal_workspace(p_user uuid)
 returns uuid
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
begin
    return (select w.id from public.workspaces w where w.personal_of = p_user);
end
$function$;
revoke all on function promptd.personal_workspace(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.personal_workspace(uuid) to authenticated, service_role;

-- promptd.default_workspace() -> where a new prompt goes when the request
-- names no workspace: an API key's own workspace, else the caller's
-- personal one.
create or replace function promptd.default_workspace()
 returns uuid
 language plpgsql
 stable
 set search_path to ''
as $function$
begin
    return coalesce((nullif(current_setting('request.jwt.claims', true), '')::jsonb
                     ->> 'workspace_id')::uuid, promptd.personal_workspace(auth.uid()));
end
$function$;
revoke all on function promptd.default_workspace() from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.default_workspace() to authenticated, service_role;

-- promptd.workspace_personal_create(user): the user's personal workspace
-- with the user as its owner, unless it exists; returns its id.
create or replace function promptd.workspace_personal_create(p_user uuid)
 returns uuid
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    v_id uuid;
begin
    insert into public.workspaces (name, personal_of, created_by)
    values ('Personal', p_user, p_user)
    on conflict (personal_of) where personal_of is not null do nothing
    returning id into v_id;
    if v_id is null then
        return promptd.personal_workspace(p_user);
    end if;
    insert into public.workspace_members (workspace_id, user_id, role)
    values (v_id, p_user, 'owner');
    return v_id;
end
$function$;
revoke all on function promptd.workspace_personal_create(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.workspace_payer(workspace) -> whose plan the workspace consumes
-- (the one rule, README "Teams and roles"): a personal workspace its
-- user's; a team workspace its longest-standing owner's.
create or replace function promptd.workspace_payer(p_ws uuid)
 returns uuid
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
begin
    return (select coalesce(w.personal_of, (select m.user_id from public.workspace_members m
                                            where m.workspace_id = w.id and m.role = 'owner'
                                            order by m.created_at, m.user_id limit 1))
              from public.workspaces w where w.id = p_ws);
end
$function$;
revoke all on function promptd.workspace_payer(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.workspace_payer(uuid) to authenticated, service_role;

-- promptd.workspaces_paid_by(user) -> the workspaces whose prompts and
-- links count against the user's plan.
create or replace function promptd.workspaces_paid_by(p_user uuid)
 returns setof uuid
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
begin
    return query
    select w.id from public.workspaces w where w.personal_of = p_user
    union all
    select m.workspace_id from public.workspace_members m
      join public.workspaces w on w.id = m.workspace_id and w.personal_of is null
     where m.user_id = p_user and m.role = 'owner'
       and promptd.workspace_payer(m.workspace_id) = p_user;
end
$function$;
revoke all on function promptd.workspaces_paid_by(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.workspaces_paid_by(uuid) to service_role;

-- promptd.workspace_json(workspace, role) -> the API's view of a workspace.
create or replace function promptd.workspace_json(p_ws public.workspaces, p_role text)
 returns jsonb
 language sql
 stable
 set search_path to ''
as $function$
    select jsonb_build_object('id', p_ws.id, 'name', p_ws.name,
        'personal', p_ws.personal_of is not null, 'role', p_role,
        'created_at', p_ws.created_at, 'updated_at', p_ws.updated_at)
$function$;
revoke all on function promptd.workspace_json(public.workspaces,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.workspace_json(public.workspaces,text) to authenticated;

-- promptd.workspace_need(workspace, least role) -> the caller's role, or
-- raises: not a member -> PW404 (the workspace is not theirs to know of),
-- a lesser role -> PW403.
create or replace function promptd.workspace_need(p_ws uuid, p_least text)
 returns text
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
declare
    v_role text := promptd.workspace_role(p_ws);
begin
    if v_role is null then
        raise exception 'No such workspace.' using errcode = 'PW404';
    end if;
    if promptd.workspace_role_rank(v_role) < promptd.workspace_role_rank(p_least) then
        raise exception 'This needs the % role or higher in the workspace; you are %.',
            p_least, v_role using errcode = 'PW403';
    end if;
    return v_role;
end
$function$;
revoke all on function promptd.workspace_need(uuid,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.workspace_need(uuid,text) to authenticated;

-- promptd.workspace_create(name) -> the new team workspace, the caller its owner.
create or replace function promptd.workspace_create(p_name text)
 returns jsonb
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    w public.workspaces;
begin
    insert into public.workspaces (name, created_by) values (p_name, auth.uid()) returning * into w;
    insert into public.workspace_members (workspace_id, user_id, role)
    values (w.id, auth.uid(), 'owner');
    perform promptd.audit('workspace.create', 'workspace:' || w.id, 'success',
                          jsonb_build_object('name', p_name));
    return promptd.workspace_json(w, 'owner');
end
$function$;
revoke all on function promptd.workspace_create(text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.workspace_create(text) to authenticated;

-- promptd.workspace_list() -> {items: the caller's workspaces with their
-- role}, personal first, then by name.
create or replace function promptd.workspace_list()
 returns jsonb
 language sql
 stable security definer
 set search_path to ''
as $function$
    select jsonb_build_object('items', coalesce(jsonb_agg(promptd.workspace_json(w, m.role)
               order by w.personal_of is null, w.name, w.id), '[]'::jsonb))
      from public.workspace_members m
      join public.workspaces w on w.id = m.workspace_id
     where m.user_id = auth.uid()
       and promptd.workspace_role(w.id) is not null
$function$;
revoke all on function promptd.workspace_list() from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.workspace_list() to authenticated;

-- promptd.workspace_get(workspace) -> the workspace (any member).
create or replace function promptd.workspace_get(p_ws uuid)
 returns jsonb
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
declare
    v_role text := promptd.workspace_need(p_ws, 'viewer');
begin
    return (select promptd.workspace_json(w, v_role) from public.workspaces w where w.id = p_ws);
end
$function$;
revoke all on function promptd.workspace_get(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.workspace_get(uuid) to authenticated;

-- promptd.workspace_rename(workspace, name) -> the workspace (owners).
create or replace function promptd.workspace_rename(p_ws uuid, p_name text)
 returns jsonb
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    v_role text := promptd.workspace_need(p_ws, 'owner');
    w public.workspaces;
begin
    update public.workspaces x set name = p_name, updated_at = now()
     where x.id = p_ws returning * into w;
    perform promptd.audit('workspace.rename', 'workspace:' || p_ws, 'success',
                          jsonb_build_object('name', p_name));
    return promptd.workspace_json(w, v_role);
end
$function$;
revoke all on function promptd.workspace_rename(uuid,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.workspace_rename(uuid,text) to authenticated;

-- promptd.workspace_delete(workspace): a team workspace and everything in
-- it (owners); a personal workspace goes only with its account (PW409).
create or replace function promptd.workspace_delete(p_ws uuid)
 returns void
 language plpgsql
 security definer
 set search_path to ''
as $function$
begin
    perform promptd.workspace_need(p_ws, 'owner');
    if exists (select 1 from public.workspaces w where w.id = p_ws and w.personal_of is not null) then
        raise exception 'A personal workspace is deleted only with its account.' using errcode = 'PW409';
    end if;
    delete from public.workspaces w where w.id = p_ws;
    perform promptd.audit('workspace.delete', 'workspace:' || p_ws, 'success', '{}'::jsonb);
end
$function$;
revoke all on function promptd.workspace_delete(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.workspace_delete(uuid) to authenticated;

-- promptd.workspace_members(workspace) -> {items: [{user_id, email,
-- display_name, role, created_at}]} (any member).
create or replace function promptd.workspace_members(p_ws uuid)
 returns jsonb
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
begin
    perform promptd.workspace_need(p_ws, 'viewer');
    return (select jsonb_build_object('items', coalesce(jsonb_agg(jsonb_build_object(
                'user_id', m.user_id, 'email', u.email, 'display_name', pr.display_name,
                'role', m.role, 'created_at', m.created_at)
              order by promptd.workspace_role_rank(m.role) desc, u.email, m.user_id), '[]'::jsonb))
      from public.workspace_members m
      join auth.users u on u.id = m.user_id
      left join public.profiles pr on pr.id = m.user_id
     where m.workspace_id = p_ws);
end
$function$;
revoke all on function promptd.workspace_members(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.workspace_members(uuid) to authenticated;

-- promptd.workspace_members_lock(workspace): lock the workspace before a
-- change of its members, as its deletion locks it before them: changes of
-- one workspace's members run one at a time, so two owners demoted or
-- leaving at once never lock each other's rows.
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

-- promptd.workspace_owner_keep(workspace): PW409 unless the workspace has
-- an owner besides the one about to be demoted or removed (its owners
-- locked until the transaction ends).
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

-- promptd.workspace_member_set(workspace, user, role) -> the member.
-- Admins change editors and viewers (to admin, editor or viewer); only an
-- owner grants or takes the owner role or changes an admin or owner.  The
-- last owner cannot be demoted (PW409).  Locks the workspace, then the
-- members (workspace_delete's order).
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
revoke all on function promptd.workspace_member_set(uuid,uuid,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.workspace_member_set(uuid,uuid,text) to authenticated;

-- promptd.workspace_member_remove(workspace, user): admins remove editors
-- and viewers, owners anyone; every member may leave.  The last owner
-- cannot go (PW409); a personal workspace keeps its owner.  The member's
-- API keys for the workspace stop working (api_key_auth).  Locks the
-- workspace, then the members (workspace_delete's order).
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
revoke all on function promptd.workspace_member_remove(uuid,uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.workspace_member_remove(uuid,uuid) to authenticated;

-- promptd.invitation_json(invitation) -> the API's view (never the token).
create or replace function promptd.invitation_json(p_i public.workspace_invitations)
 returns jsonb
 language sql
 stable
 set search_path to ''
as $function$
    select jsonb_build_object('id', p_i.id, 'workspace_id', p_i.workspace_id,
        'email', p_i.email, 'role', p_i.role, 'created_at', p_i.created_at,
        'expires_at', p_i.expires_at, 'accepted_at', p_i.accepted_at,
        'revoked_at', p_i.revoked_at,
        'state', case when p_i.accepted_at is not null then 'accepted'
                      when p_i.revoked_at is not null then 'revoked'
                      when p_i.expires_at <= now() then 'expired' else 'pending' end)
$function$;
revoke all on function promptd.invitation_json(public.workspace_invitations) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.invitation_json(public.workspace_invitations) to authenticated;

-- promptd.invitation_create(workspace, email, role, token hash, token,
-- link) -> the invitation (admins; the owner role only by owners).  The
-- token itself is only mailed (outbox, kind invitation), never stored: the
-- row keeps its SHA-256.
create or replace function promptd.invitation_create(p_ws uuid, p_email text, p_role text,
                                                     p_hash text, p_token text, p_link text)
 returns jsonb
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    v_mine text := promptd.workspace_need(p_ws, 'admin');
    i public.workspace_invitations;
begin
    if p_role not in ('owner', 'admin', 'editor', 'viewer') then
        raise exception 'role must be owner, admin, editor or viewer' using errcode = '22023';
    end if;
    if p_role = 'owner' and v_mine <> 'owner' then
        raise exception 'Only an owner invites owners.' using errcode = 'PW403';
    end if;
    if exists (select 1 from public.workspaces w where w.id = p_ws and w.personal_of is not null) then
        raise exception 'A personal workspace has no other members; create a team workspace.'
            using errcode = 'PW409';
    end if;
    insert into public.workspace_invitations (workspace_id, email, role, token_hash, invited_by)
    values (p_ws, lower(p_email), p_role, p_hash, auth.uid()) returning * into i;
    perform promptd.mail_enqueue('invitation', i.email, jsonb_build_object(
        'code', p_token, 'link', p_link, 'role', p_role, 'expires_in', '7 days',
        'workspace', (select w.name from public.workspaces w where w.id = p_ws),
        'inviter', (select coalesce(nullif(btrim(pr.display_name), ''), u.email)
                      from auth.users u left join public.profiles pr on pr.id = u.id
                     where u.id = auth.uid())), auth.uid());
    perform promptd.audit('workspace.invitation.create', 'workspace:' || p_ws, 'success',
        jsonb_build_object('invitation', i.id, 'role', p_role));
    return promptd.invitation_json(i);
end
$function$;
revoke all on function promptd.invitation_create(uuid,text,text,text,text,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.invitation_create(uuid,text,text,text,text,text) to authenticated;

-- promptd.invitation_list(workspace) -> {items}, newest first (admins).
create or replace function promptd.invitation_list(p_ws uuid)
 returns jsonb
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
begin
    perform promptd.workspace_need(p_ws, 'admin');
    return (select jsonb_build_object('items', coalesce(jsonb_agg(promptd.invitation_json(i)
                order by i.created_at desc, i.id), '[]'::jsonb))
              from public.workspace_invitations i where i.workspace_id = p_ws);
end
$function$;
revoke all on function promptd.invitation_list(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.invitation_list(uuid) to authenticated;

-- promptd.invitation_revoke(workspace, invitation) -> the invitation
-- (admins); revoking twice keeps the first time; an accepted one -> PW409.
create or replace function promptd.invitation_revoke(p_ws uuid, p_id uuid)
 returns jsonb
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    i public.workspace_invitations;
begin
    perform promptd.workspace_need(p_ws, 'admin');
    select * into i from public.workspace_invitations x
     where x.id = p_id and x.workspace_id = p_ws for update;
    if i.id is null then
        raise exception 'No such invitation.' using errcode = 'PW404';
    end if;
    if i.accepted_at is not null then
        raise exception 'The invitation was already accepted.' using errcode = 'PW409';
    end if;
    update public.workspace_invitations x set revoked_at = coalesce(x.revoked_at, now())
     where x.id = p_id returning * into i;
    perform promptd.audit('workspace.invitation.revoke', 'workspace:' || p_ws, 'success',
        jsonb_build_object('invitation', p_id));
    return promptd.invitation_json(i);
end
$function$;
revoke all on function promptd.invitation_revoke(uuid,uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.invitation_revoke(uuid,uuid) to authenticated;

-- promptd.invitation_accept(token hash) -> the workspace joined, with the
-- role.  The caller's email must be the invited one and confirmed (PW403);
-- a used, revoked or expired invitation is PW410, an unknown one PW404.
-- A member already keeps the higher of the two roles.
create or replace function promptd.invitation_accept(p_hash text)
 returns jsonb
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    i public.workspace_invitations;
    u auth.users;
    w public.workspaces;
begin
    select * into i from public.workspace_invitations x where x.token_hash = p_hash for update;
    if i.id is null then
        raise exception 'No such invitation.' using errcode = 'PW404';
    end if;
    if i.accepted_at is not null or i.revoked_at is not null or i.expires_at <= now() then
        raise exception 'The invitation was %.', case when i.accepted_at is not null then 'already used'
            when i.revoked_at is not null then 'revoked' else 'expired' end using errcode = 'PW410';
    end if;
    select * into u from auth.users x where x.id = auth.uid();
    if u.id is null or lower(u.email) <> i.email or u.email_confirmed_at is null then
        raise exception 'The invitation is for another email address (or yours is not confirmed).'
            using errcode = 'PW403';
    end if;
    insert into public.workspace_members (workspace_id, user_id, role)
    values (i.workspace_id, u.id, i.role)
    on conflict (workspace_id, user_id) do update set role = excluded.role
     where promptd.workspace_role_rank(excluded.role) > promptd.workspace_role_rank(public.workspace_members.role);
    update public.workspace_invitations x set accepted_at = now(), accepted_by = u.id
     where x.id = i.id;
    perform promptd.audit('workspace.invitation.accept', 'workspace:' || i.workspace_id, 'success',
        jsonb_build_object('invitation', i.id, 'role', i.role));
    select * into w from public.workspaces x where x.id = i.workspace_id;
    return promptd.workspace_json(w, (select m.role from public.workspace_members m
                                       where m.workspace_id = w.id and m.user_id = u.id));
end
$function$;
revoke all on function promptd.invitation_accept(text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.invitation_accept(text) to authenticated;
