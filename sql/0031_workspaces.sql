-- 0031_workspaces.sql: workspaces (personal and team), members with roles, invitations; prompts, shares and API keys move into their owner's personal workspace; RLS decides by membership through promptd.workspace_role().

create table public.workspaces (
    id          uuid primary key default gen_random_uuid(),
    name        text not null check (char_length(btrim(name)) between 1 and 100),
    personal_of uuid unique references auth.users (id) on delete cascade,
    created_by  uuid references auth.users (id) on delete set null,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now()
);

create table public.workspace_members (
    workspace_id uuid not null references public.workspaces (id) on delete cascade,
    user_id      uuid not null references auth.users (id) on delete cascade,
    role         text not null check (role in ('owner', 'admin', 'editor', 'viewer')),
    created_at   timestamptz not null default now(),
    primary key (workspace_id, user_id)
);
create index workspace_members_user on public.workspace_members (user_id);

create table public.workspace_invitations (
    id           uuid primary key default gen_random_uuid(),
    workspace_id uuid not null references public.workspaces (id) on delete cascade,
    email        text not null check (char_length(email) between 3 and 254),
    role         text not null check (role in ('owner', 'admin', 'editor', 'viewer')),
    token_hash   text not null unique check (token_hash ~ '^[0-9a-f]{64}$'),
    invited_by   uuid references auth.users (id) on delete set null,
    created_at   timestamptz not null default now(),
    expires_at   timestamptz not null default now() + interval '7 days',
    accepted_at  timestamptz,
    accepted_by  uuid references auth.users (id) on delete set null,
    revoked_at   timestamptz
);
create index workspace_invitations_ws on public.workspace_invitations (workspace_id, created_at desc);

-- Read and written through the promptd.workspace_* functions only.
alter table public.workspaces enable row level security;
alter table public.workspaces force row level security;
alter table public.workspace_members enable row level security;
alter table public.workspace_members force row level security;
alter table public.workspace_invitations enable row level security;
alter table public.workspace_invitations force row level security;
revoke all on table public.workspaces, public.workspace_members, public.workspace_invitations
    from public, anon, authenticated, service_role;
grant select on table public.workspaces, public.workspace_members, public.workspace_invitations
    to service_role;

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
 language sql
 stable security definer
 set search_path to ''
as $function$
    select w.id from public.workspaces w where w.personal_of = p_user
$function$;
revoke all on function promptd.personal_workspace(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.personal_workspace(uuid) to authenticated, service_role;

-- promptd.default_workspace() -> where a new prompt goes when the request
-- names no workspace: an API key's own workspace, else the caller's
-- personal one.
create or replace function promptd.default_workspace()
 returns uuid
 language sql
 stable
 set search_path to ''
as $function$
    select coalesce((nullif(current_setting('request.jwt.claims', true), '')::jsonb
                     ->> 'workspace_id')::uuid, promptd.personal_workspace(auth.uid()))
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

-- promptd.handle_new_user(): AFTER INSERT on auth.users creates the profile
-- and the personal workspace
-- (Supabase's handle_new_user pattern; works for users created by GoTrue,
-- by `promptctl user create` or by promptd.ensure_profile()).
CREATE OR REPLACE FUNCTION promptd.handle_new_user()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    insert into public.profiles (id, email)
    values (new.id, new.email)
    on conflict (id) do nothing;
    perform promptd.workspace_personal_create(new.id);
    return null;
end
$function$;
revoke all on function promptd.handle_new_user() from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- Every user has a personal workspace.
select promptd.workspace_personal_create(u.id) from auth.users u;

-- Prompts (their versions and renders follow the prompt), links and API
-- keys move into their owner's personal workspace.
alter table public.prompts add column workspace_id uuid
    references public.workspaces (id) on delete cascade;
update public.prompts p set workspace_id = promptd.personal_workspace(p.user_id);
alter table public.prompts alter column workspace_id set not null,
    alter column workspace_id set default promptd.default_workspace();
create index prompts_ws_updated on public.prompts (workspace_id, updated_at desc, id desc);
create index prompts_ws_created on public.prompts (workspace_id, created_at desc, id desc);

alter table public.api_keys add column workspace_id uuid
    references public.workspaces (id) on delete cascade;
update public.api_keys k set workspace_id = promptd.personal_workspace(k.user_id);
alter table public.api_keys alter column workspace_id set not null,
    alter column workspace_id set default promptd.personal_workspace(auth.uid());
grant select (workspace_id), insert (workspace_id) on table public.api_keys to authenticated;

alter table public.shares add column workspace_id uuid
    references public.workspaces (id) on delete cascade;
-- (without shares_before_update: the move is not an edit of the link)
alter table public.shares disable trigger shares_before_update;
update public.shares s set workspace_id = coalesce(
    (select p.workspace_id from public.prompts p where p.id = s.prompt_id),
    promptd.personal_workspace(s.user_id));
alter table public.shares enable trigger shares_before_update;
alter table public.shares alter column workspace_id set not null;
create index shares_ws_created on public.shares (workspace_id, created_at desc, id desc);

-- BEFORE INSERT: a link belongs to its prompt's workspace.
CREATE OR REPLACE FUNCTION promptd.shares_before_insert()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    new.workspace_id := (select p.workspace_id from public.prompts p where p.id = new.prompt_id);
    return new;
end
$function$;
revoke all on function promptd.shares_before_insert() from public, anon, authenticated, service_role, promptd_app, promptd_auth;

create trigger shares_before_insert
    before insert on public.shares
    for each row execute function promptd.shares_before_insert();

-- Set (p_hash) or clear (NULL) the password of the caller's link p_share.
-- False when the caller owns no such live link; 22023 for a hash with
-- other parameters than the server's.
CREATE OR REPLACE FUNCTION promptd.share_set_password(p_share uuid, p_hash text)
 RETURNS boolean
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    if p_hash is not null and not promptd.share_password_hash_ok(p_hash) then
        raise exception 'a share password hash must use the server''s argon2id parameters'
            using errcode = '22023';
    end if;
    update public.shares s set password_hash = p_hash
     where s.id = p_share and s.revoked_at is null
       and promptd.workspace_role_rank(promptd.workspace_role(s.workspace_id)) >= 2;
    return found;
end
$function$;
revoke all on function promptd.share_set_password(uuid,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.share_set_password(uuid,text) to authenticated;

drop function promptd.api_key_auth(text);

-- The key behind an HMAC, for the worker before it knows who is calling:
-- no row when unknown; revoked / expired flags otherwise (the caller
-- refuses those).  A key acts in its workspace only, with at most its
-- creator's role there: one whose creator is no longer a member counts as
-- revoked.  last_used_at is written only when it is older than
-- five minutes: a busy key costs one row update per five minutes, and two
-- concurrent requests re-check the condition under the row lock (READ
-- COMMITTED re-evaluation), so only one of them writes.
CREATE OR REPLACE FUNCTION promptd.api_key_auth(p_hash text)
 RETURNS TABLE(key_id uuid, user_id uuid, scopes text[], revoked boolean, expired boolean, workspace_id uuid)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    k record;
begin
    select a.id, a.user_id, a.scopes, a.revoked_at, a.expires_at, a.last_used_at,
           a.workspace_id,
           exists (select 1 from public.workspace_members m
                    where m.workspace_id = a.workspace_id and m.user_id = a.user_id) as member
      into k
      from public.api_keys a
     where a.key_hash = p_hash;
    if not found then
        return;
    end if;
    key_id := k.id;
    user_id := k.user_id;
    scopes := k.scopes;
    revoked := k.revoked_at is not null or not k.member;
    workspace_id := k.workspace_id;
    expired := k.expires_at is not null and k.expires_at <= now();
    if not revoked and not expired
       and (k.last_used_at is null or k.last_used_at < now() - interval '5 minutes') then
        update public.api_keys a
           set last_used_at = now()
         where a.id = k.id
           and (a.last_used_at is null or a.last_used_at < now() - interval '5 minutes');
    end if;
    return next;
end
$function$;
revoke all on function promptd.api_key_auth(text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.api_key_auth(text) to promptd_app;

-- Row level security on public.prompt_versions.
drop policy if exists prompt_versions_select_own on public.prompt_versions;
create policy prompt_versions_select_own on public.prompt_versions for select to authenticated
    using ((EXISTS ( SELECT 1
   FROM prompts p
  WHERE (p.id = prompt_versions.prompt_id))));

-- Row level security on public.prompts.
drop policy if exists prompts_delete_own on public.prompts;
create policy prompts_delete_own on public.prompts for delete to authenticated
    using ((promptd.workspace_role_rank(promptd.workspace_role(workspace_id)) >= 3));

drop policy if exists prompts_insert_own on public.prompts;
create policy prompts_insert_own on public.prompts for insert to authenticated
    with check (((user_id = ( SELECT auth.uid() AS uid)) AND (promptd.workspace_role_rank(promptd.workspace_role(workspace_id)) >= 2)));

drop policy if exists prompts_select_own on public.prompts;
create policy prompts_select_own on public.prompts for select to authenticated
    using ((promptd.workspace_role(workspace_id) IS NOT NULL));

drop policy if exists prompts_update_own on public.prompts;
create policy prompts_update_own on public.prompts for update to authenticated
    using ((promptd.workspace_role_rank(promptd.workspace_role(workspace_id)) >= 2))
    with check ((promptd.workspace_role_rank(promptd.workspace_role(workspace_id)) >= 2));

-- Row level security on public.api_keys.
drop policy if exists api_keys_insert_own on public.api_keys;
create policy api_keys_insert_own on public.api_keys for insert to authenticated
    with check (((user_id = ( SELECT auth.uid() AS uid)) AND (promptd.workspace_role(workspace_id) IS NOT NULL)));

-- Row level security on public.shares.
drop policy if exists shares_insert_own on public.shares;
create policy shares_insert_own on public.shares for insert to authenticated
    with check (((user_id = ( SELECT auth.uid() AS uid)) AND (promptd.workspace_role_rank(promptd.workspace_role(workspace_id)) >= 2) AND (EXISTS ( SELECT 1
   FROM prompts p
  WHERE ((p.id = shares.prompt_id) AND (p.workspace_id = shares.workspace_id))))));

drop policy if exists shares_select_own on public.shares;
create policy shares_select_own on public.shares for select to authenticated
    using ((promptd.workspace_role(workspace_id) IS NOT NULL));

drop policy if exists shares_update_own on public.shares;
create policy shares_update_own on public.shares for update to authenticated
    using ((promptd.workspace_role_rank(promptd.workspace_role(workspace_id)) >= 2))
    with check ((promptd.workspace_role_rank(promptd.workspace_role(workspace_id)) >= 2));

-- promptd.workspace_payer(workspace) -> whose plan the workspace consumes
-- (the one rule, README "Teams and roles"): a personal workspace its
-- user's; a team workspace its longest-standing owner's.
create or replace function promptd.workspace_payer(p_ws uuid)
 returns uuid
 language sql
 stable security definer
 set search_path to ''
as $function$
    select coalesce(w.personal_of, (select m.user_id from public.workspace_members m
                                     where m.workspace_id = w.id and m.role = 'owner'
                                     order by m.created_at, m.user_id limit 1))
      from public.workspaces w where w.id = p_ws
$function$;
revoke all on function promptd.workspace_payer(uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.workspace_payer(uuid) to authenticated, service_role;

-- promptd.workspaces_paid_by(user) -> the workspaces whose prompts and
-- links count against the user's plan.
create or replace function promptd.workspaces_paid_by(p_user uuid)
 returns setof uuid
 language sql
 stable security definer
 set search_path to ''
as $function$
    select w.id from public.workspaces w where w.personal_of = p_user
    union all
    select m.workspace_id from public.workspace_members m
      join public.workspaces w on w.id = m.workspace_id and w.personal_of is null
     where m.user_id = p_user and m.role = 'owner'
       and promptd.workspace_payer(m.workspace_id) = p_user
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

-- promptd.workspace_member_set(workspace, user, role) -> the member.
-- Admins change editors and viewers (to admin, editor or viewer); only an
-- owner grants or takes the owner role or changes an admin or owner.  The
-- last owner cannot be demoted (PW409).
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
        perform 1 from public.workspace_members m
         where m.workspace_id = p_ws and m.role = 'owner' for update;
        if (select count(*) from public.workspace_members m
             where m.workspace_id = p_ws and m.role = 'owner') <= 1 then
            raise exception 'A workspace keeps at least one owner.' using errcode = 'PW409';
        end if;
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
-- API keys for the workspace stop working (api_key_auth).
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
    select m.role into v_old from public.workspace_members m
     where m.workspace_id = p_ws and m.user_id = p_user for update;
    if v_old is null then
        raise exception 'No such member.' using errcode = 'PW404';
    end if;
    if p_user <> auth.uid() and v_mine <> 'owner' and v_old in ('owner', 'admin') then
        raise exception 'Only an owner removes owners and admins.' using errcode = 'PW403';
    end if;
    if v_old = 'owner' then
        perform 1 from public.workspace_members m
         where m.workspace_id = p_ws and m.role = 'owner' for update;
        if (select count(*) from public.workspace_members m
             where m.workspace_id = p_ws and m.role = 'owner') <= 1 then
            raise exception 'A workspace keeps at least one owner.' using errcode = 'PW409';
        end if;
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

-- Quotas: a workspace consumes its payer's plan.
-- promptd.quota_count_used(user, resource): how much of a counted
-- resource the user holds now.  Prompts, their versions and links count in
-- every workspace whose plan is the user's (promptd.workspaces_paid_by: the
-- personal one and the team workspaces they pay for); API keys are the
-- user's own.  versions_per_prompt: the most versions of any one prompt;
-- storage_bytes: 0 until the files issue.
create or replace function promptd.quota_count_used(p_user uuid, p_resource text)
 returns bigint
 language sql
 stable
 security definer
 set search_path to ''
as $function$
    select case p_resource
        when 'prompts' then (select count(*) from public.prompts p
            where p.workspace_id in (select promptd.workspaces_paid_by(p_user)))
        when 'versions_per_prompt' then
            (select coalesce(max(p.version), 0) from public.prompts p
              where p.workspace_id in (select promptd.workspaces_paid_by(p_user)))
        when 'api_keys' then (select count(*) from public.api_keys k where k.user_id = p_user
            and k.revoked_at is null and (k.expires_at is null or k.expires_at > now()))
        when 'shares' then (select count(*) from public.shares s
            where s.workspace_id in (select promptd.workspaces_paid_by(p_user))
              and s.revoked_at is null and (s.expires_at is null or s.expires_at > now()))
        else 0 end::bigint
$function$;
revoke all on function promptd.quota_count_used(uuid, text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- BEFORE INSERT on prompts, api_keys, shares (TG_ARGV[0] the resource) and
-- prompt_versions ('versions_per_prompt'): refuse (PDQ09) the row that
-- would pass the payer's limit, in the inserting transaction: for an API
-- key its creator, for a prompt, version or link the payer of its
-- workspace (promptd.workspace_payer).  The advisory lock per (resource,
-- payer) is held to commit, so concurrent inserts against one plan count
-- one after another, whatever worker or host sends them.
create or replace function promptd.quota_count_check()
 returns trigger
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
    v_res    text := tg_argv[0];
    v_user   uuid;
    v_tier   text;
    v_limits jsonb;
    v_lim    bigint;
    v_used   bigint;
begin
    if not promptd.quota_enabled() then
        return new;
    end if;
    -- one branch per table: a branch names only its table's columns
    if v_res = 'prompts' then
        v_user := promptd.workspace_payer(new.workspace_id);
    elsif v_res <> 'api_keys' then
        v_user := promptd.workspace_payer((select p.workspace_id from public.prompts p
                                            where p.id = new.prompt_id));
    end if;
    v_user := coalesce(v_user, new.user_id);
    select l.tier, l.limits into v_tier, v_limits from promptd.quota_limits(v_user) l;
    v_lim := promptd.quota_num(v_limits, v_res);
    if v_lim is null then
        return new;
    end if;
    if v_res = 'versions_per_prompt' then
        if new.version > v_lim then
            perform promptd.quota_refuse(v_user, v_tier, v_res, v_lim, new.version - 1, null);
        end if;
        return new;
    end if;
    perform pg_advisory_xact_lock(hashtextextended('promptd.quota:' || v_res || ':' || v_user::text, 0));
    v_used := promptd.quota_count_used(v_user, v_res);
    if v_used >= v_lim then
        perform promptd.quota_refuse(v_user, v_tier, v_res, v_lim, v_used, null);
    end if;
    return new;
end
$function$;
revoke all on function promptd.quota_count_check() from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- Deleting an account: team workspaces keep an owner and what the account wrote there.
-- promptd.delete_account_check(): refuse (PW409) to delete the caller
-- while they are the last owner of a team workspace that has other
-- members: the workspace must keep an owner (make one, or delete it).
CREATE OR REPLACE FUNCTION promptd.delete_account_check()
 RETURNS void
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v_name text;
begin
    select w.name into v_name
      from public.workspace_members m
      join public.workspaces w on w.id = m.workspace_id and w.personal_of is null
     where m.user_id = auth.uid() and m.role = 'owner'
       and not exists (select 1 from public.workspace_members o where o.workspace_id = m.workspace_id
                          and o.role = 'owner' and o.user_id <> m.user_id)
       and exists (select 1 from public.workspace_members o where o.workspace_id = m.workspace_id
                      and o.user_id <> m.user_id)
     order by w.name limit 1;
    if v_name is not null then
        raise exception 'You are the last owner of the workspace "%", which has other members: make one of them an owner, or delete it, first.',
            v_name using errcode = 'PW409';
    end if;
end
$function$;
revoke all on function promptd.delete_account_check() from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.delete_account_check() to authenticated, service_role, promptd_app;

-- promptd.delete_account(): delete the caller and everything they own (the
-- auth.users row cascades); their audit pseudonym is forgotten by the
-- audit trigger, so their audit rows stay but are no longer linkable.
-- Team workspaces keep what the caller wrote there (prompts and links pass
-- to the workspace's longest-standing other owner); a team workspace with
-- no other member goes with the caller; the last owner of one with other
-- members is refused first (delete_account_check).
CREATE OR REPLACE FUNCTION promptd.delete_account()
 RETURNS boolean
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v_uid uuid := auth.uid();
begin
    if v_uid is null then
        return false;
    end if;
    perform promptd.delete_account_check();
    delete from public.workspaces w
     where w.personal_of is null
       and exists (select 1 from public.workspace_members m where m.workspace_id = w.id and m.user_id = v_uid)
       and not exists (select 1 from public.workspace_members m where m.workspace_id = w.id and m.user_id <> v_uid);
    update public.prompts p set user_id = (select m.user_id from public.workspace_members m
                                            where m.workspace_id = p.workspace_id and m.role = 'owner'
                                              and m.user_id <> v_uid order by m.created_at, m.user_id limit 1)
     where p.user_id = v_uid and p.workspace_id <> promptd.personal_workspace(v_uid);
    update public.shares s set user_id = (select m.user_id from public.workspace_members m
                                           where m.workspace_id = s.workspace_id and m.role = 'owner'
                                             and m.user_id <> v_uid order by m.created_at, m.user_id limit 1)
     where s.user_id = v_uid and s.workspace_id <> promptd.personal_workspace(v_uid);
    insert into promptd.erased_users (id) values (v_uid) on conflict do nothing;
    delete from public.profiles where id = v_uid;
    delete from auth.users where id = v_uid;
    return true;
end
$function$;
revoke all on function promptd.delete_account() from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.delete_account() to service_role, promptd_app;
