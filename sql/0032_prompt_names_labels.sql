-- 0032_prompt_names_labels.sql: prompts get a name (unique in their workspace; derived from the title for existing ones), a type (text or chat, fixed), a config and a commit message per version; labels point a name at a version (latest moved by promptd), with their history; workspaces name their protected labels.

alter table public.workspaces add column protected_labels text[] not null default '{production}'
    check (cardinality(protected_labels) <= 20);

alter table public.prompts add column name text,
    add column type text not null default 'text',
    add column config jsonb not null default '{}',
    add column commit_message text;
alter table public.prompt_versions add column config jsonb not null default '{}',
    add column commit_message text;

-- promptd.prompt_name_valid(name): path-like, lower case: segments of
-- [a-z0-9._-] joined by '/', at most 200 bytes, no '.' or '..' segment.
create or replace function promptd.prompt_name_valid(p_name text)
 returns boolean
 language sql
 immutable parallel safe
 set search_path to ''
as $function$
    select p_name is not null and octet_length(p_name) between 1 and 200
       and p_name ~ '^[a-z0-9._-]+(/[a-z0-9._-]+)*$'
       and p_name !~ '(^|/)\.\.?(/|$)'
$function$;
revoke all on function promptd.prompt_name_valid(text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.prompt_name_valid(text) to public, anon, authenticated, service_role;

-- promptd.prompt_chat_valid(content): a chat prompt's content is a JSON
-- array of messages {role: system|user|assistant|tool, content: string}
-- and placeholders {type: "placeholder", name: string}, nothing else.
create or replace function promptd.prompt_chat_valid(p_content text)
 returns boolean
 language plpgsql
 immutable parallel safe
 set search_path to ''
as $function$
declare
    v jsonb;
    m jsonb;
begin
    begin
        v := p_content::jsonb;
    exception when others then
        return false;
    end;
    if jsonb_typeof(v) <> 'array' then
        return false;
    end if;
    for m in select * from jsonb_array_elements(v) loop
        if jsonb_typeof(m) <> 'object' then
            return false;
        end if;
        if m ? 'type' then
            if m->>'type' <> 'placeholder' or jsonb_typeof(m->'name') is distinct from 'string'
               or (select count(*) from jsonb_object_keys(m)) <> 2 then
                return false;
            end if;
        elsif (m->>'role') is null or m->>'role' not in ('system', 'user', 'assistant', 'tool')
              or jsonb_typeof(m->'content') is distinct from 'string'
              or (select count(*) from jsonb_object_keys(m)) <> 2 then
            return false;
        end if;
    end loop;
    return true;
end
$function$;
revoke all on function promptd.prompt_chat_valid(text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.prompt_chat_valid(text) to public, anon, authenticated, service_role;

-- promptd.prompt_type_mismatch(type) -> never returns: a PATCH gave content
-- of the other type (PW422).
create or replace function promptd.prompt_type_mismatch(p_type text)
 returns text
 language plpgsql
 volatile
 set search_path to ''
as $function$
begin
    raise exception 'This prompt is of type %: its content is %.', p_type,
        case when p_type = 'chat' then 'an array of messages' else 'a string' end
        using errcode = 'PW422';
end
$function$;
revoke all on function promptd.prompt_type_mismatch(text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.prompt_type_mismatch(text) to authenticated, service_role;

-- promptd.prompt_name_free(workspace, title, prompt): a name for a prompt
-- that has none: the title made a name (lower case, runs of anything else
-- '-'), made unique in the workspace with -2, -3, ... ("prompt" when the
-- title leaves nothing).  Only for a workspace of the caller's (PW404).
create or replace function promptd.prompt_name_free(p_ws uuid, p_title text, p_id uuid)
 returns text
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
declare
    v_base text := left(coalesce(nullif(btrim(regexp_replace(lower(coalesce(p_title, '')),
                        '[^a-z0-9_-]+', '-', 'g'), '-.'), ''), 'prompt'), 180);
    v_name text := v_base;
    i int := 1;
begin
    if auth.uid() is not null and promptd.workspace_role(p_ws) is null then
        raise exception 'No such workspace.' using errcode = 'PW404';
    end if;
    while exists (select 1 from public.prompts p where p.workspace_id = p_ws and p.name = v_name
                     and p.id is distinct from p_id) loop
        i := i + 1;
        v_name := v_base || '-' || i;
    end loop;
    return v_name;
end
$function$;
revoke all on function promptd.prompt_name_free(uuid,text,uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.prompt_name_free(uuid,text,uuid) to authenticated, service_role;

-- Names for the prompts there are, oldest first.
do $$
declare
    r record;
begin
    for r in select p.id, p.workspace_id, p.title from public.prompts p order by p.created_at, p.id loop
        update public.prompts x set name = promptd.prompt_name_free(r.workspace_id, r.title, r.id)
         where x.id = r.id;
    end loop;
end
$$;

alter table public.prompts alter column name set not null,
    add constraint prompts_name_valid check (promptd.prompt_name_valid(name)),
    add constraint prompts_type_valid check (type in ('text', 'chat')),
    add constraint prompts_config_valid
        check (jsonb_typeof(config) = 'object' and octet_length(config::text) <= 65536),
    add constraint prompts_commit_message_valid check (char_length(commit_message) <= 500),
    add constraint prompts_chat_valid check (type = 'text' or promptd.prompt_chat_valid(content));
create unique index prompts_ws_name on public.prompts (workspace_id, name);

-- A label names one version of one prompt.
create table public.prompt_labels (
    prompt_id  uuid not null references public.prompts (id) on delete cascade,
    label      text not null check (label ~ '^[a-z0-9][a-z0-9._-]{0,35}$'),
    version    integer not null,
    updated_at timestamptz not null default now(),
    updated_by uuid references auth.users (id) on delete set null,
    primary key (prompt_id, label),
    foreign key (prompt_id, version) references public.prompt_versions (prompt_id, version)
        on delete cascade
);
create index prompt_labels_version on public.prompt_labels (prompt_id, version);

-- Every move of a label: from one version to another (null: set, removed).
create table public.prompt_label_moves (
    id           bigint generated always as identity primary key,
    prompt_id    uuid not null references public.prompts (id) on delete cascade,
    label        text not null,
    from_version integer,
    to_version   integer,
    moved_by     uuid references auth.users (id) on delete set null,
    moved_at     timestamptz not null default now(),
    reason       text check (char_length(reason) <= 500)
);
create index prompt_label_moves_label on public.prompt_label_moves (prompt_id, label, id desc);

-- latest: every prompt's newest version.
insert into public.prompt_labels (prompt_id, label, version, updated_at)
select p.id, 'latest', p.version, p.updated_at from public.prompts p;
insert into public.prompt_label_moves (prompt_id, label, from_version, to_version, moved_at)
select p.id, 'latest', null, p.version, p.updated_at from public.prompts p;

alter table public.prompt_labels enable row level security;
alter table public.prompt_labels force row level security;
alter table public.prompt_label_moves enable row level security;
alter table public.prompt_label_moves force row level security;
revoke all on table public.prompt_labels, public.prompt_label_moves
    from public, anon, authenticated, service_role;
grant select on table public.prompt_labels, public.prompt_label_moves to authenticated, service_role;

-- Row level security on public.prompt_label_moves.
drop policy if exists prompt_label_moves_select on public.prompt_label_moves;
create policy prompt_label_moves_select on public.prompt_label_moves for select to authenticated
    using ((EXISTS ( SELECT 1
   FROM prompts p
  WHERE (p.id = prompt_label_moves.prompt_id))));

-- Row level security on public.prompt_labels.
drop policy if exists prompt_labels_select on public.prompt_labels;
create policy prompt_labels_select on public.prompt_labels for select to authenticated
    using ((EXISTS ( SELECT 1
   FROM prompts p
  WHERE (p.id = prompt_labels.prompt_id))));

-- BEFORE INSERT OR UPDATE: derive variables and (when none is given) the
-- name; an insert starts at version 1; an update that changes title,
-- content, tags, metadata, folder or config bumps version and updated_at
-- and keeps its commit_message, any other update keeps all three.  The
-- type is fixed at creation (22023).
CREATE OR REPLACE FUNCTION promptd.prompts_before_write()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
    if tg_op = 'INSERT' then
        new.version := 1;
        new.variables := promptd.prompt_variables(new.content);
        new.name := coalesce(new.name, promptd.prompt_name_free(new.workspace_id, new.title, new.id));
        return new;
    end if;
    if new.type is distinct from old.type then
        raise exception 'a prompt''s type is fixed at creation' using errcode = '22023';
    end if;
    if new.content is distinct from old.content then
        new.variables := promptd.prompt_variables(new.content);
    else
        new.variables := old.variables;
    end if;
    new.created_at := old.created_at;
    if (new.title, new.content, new.tags, new.metadata, new.folder, new.config)
       is distinct from (old.title, old.content, old.tags, old.metadata, old.folder, old.config) then
        new.version := old.version + 1;
        new.updated_at := now();
    else
        new.version := old.version;
        new.updated_at := old.updated_at;
        new.commit_message := old.commit_message;
    end if;
    return new;
end
$function$;
revoke all on function promptd.prompts_before_write() from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- AFTER INSERT / AFTER UPDATE (when version changed): record the new state
-- and move the label latest to it (with its history row).
-- SECURITY DEFINER: the history is written whatever the caller may do.
CREATE OR REPLACE FUNCTION promptd.prompts_record_version()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    insert into public.prompt_versions
        (prompt_id, version, user_id, title, content, tags, metadata,
         folder, variables, created_at, config, commit_message)
    values
        (new.id, new.version, new.user_id, new.title, new.content, new.tags,
         new.metadata, new.folder, new.variables, now(), new.config, new.commit_message);
    insert into public.prompt_label_moves (prompt_id, label, from_version, to_version, moved_by)
    values (new.id, 'latest', case when tg_op = 'UPDATE' then old.version end, new.version, auth.uid());
    insert into public.prompt_labels (prompt_id, label, version, updated_by)
    values (new.id, 'latest', new.version, auth.uid())
    on conflict (prompt_id, label) do update
        set version = excluded.version, updated_at = now(), updated_by = excluded.updated_by;
    return null;
end
$function$;
revoke all on function promptd.prompts_record_version() from public, anon, authenticated, service_role, promptd_app, promptd_auth;

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
        raise exception 'The label % is protected in this workspace: only admins and owners move it.', p_label
            using errcode = 'PW403';
    end if;
    return v_ws;
end
$function$;
revoke all on function promptd.prompt_label_need(uuid,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

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
-- to_version (null: removed), moved_by, moved_at, reason}]}, newest first.
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
                'moved_by', m.moved_by, 'moved_at', m.moved_at, 'reason', m.reason)
              order by m.id desc), '[]'::jsonb))
              from public.prompt_label_moves m where m.prompt_id = p_prompt and m.label = p_label);
end
$function$;
revoke all on function promptd.prompt_label_history(uuid,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.prompt_label_history(uuid,text) to authenticated;

-- promptd.prompt_by_name(workspace, name, label, version) -> the prompt as
-- an application fetches it: the version named (version), or the one the
-- label points to (label; neither: production), with its labels.  PW404
-- when the workspace is not the caller's, the name unknown, or no version
-- carries the label.
create or replace function promptd.prompt_by_name(p_ws uuid, p_name text, p_label text, p_version integer)
 returns jsonb
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
declare
    p public.prompts;
    v public.prompt_versions;
    v_version integer := p_version;
begin
    if promptd.workspace_role(p_ws) is null then
        raise exception 'No such prompt.' using errcode = 'PW404';
    end if;
    select * into p from public.prompts x where x.workspace_id = p_ws and x.name = p_name;
    if p.id is null then
        raise exception 'No prompt is named %.', p_name using errcode = 'PW404';
    end if;
    if v_version is null then
        select l.version into v_version from public.prompt_labels l
         where l.prompt_id = p.id and l.label = coalesce(p_label, 'production');
        if v_version is null then
            raise exception 'No version of % has the label %.', p_name, coalesce(p_label, 'production')
                using errcode = 'PW404';
        end if;
    end if;
    select * into v from public.prompt_versions x where x.prompt_id = p.id and x.version = v_version;
    if v.prompt_id is null then
        raise exception 'The prompt % has no version %.', p_name, v_version using errcode = 'PW404';
    end if;
    return jsonb_build_object('id', p.id, 'workspace_id', p.workspace_id, 'name', p.name,
        'type', p.type, 'version', v.version, 'title', v.title,
        'content', case when p.type = 'chat' then v.content::jsonb else to_jsonb(v.content) end,
        'config', v.config, 'tags', v.tags, 'variables', v.variables,
        'commit_message', v.commit_message, 'created_at', v.created_at,
        'labels', (select coalesce(jsonb_agg(l.label order by l.label), '[]'::jsonb)
                     from public.prompt_labels l where l.prompt_id = p.id and l.version = v.version));
end
$function$;
revoke all on function promptd.prompt_by_name(uuid,text,text,integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.prompt_by_name(uuid,text,text,integer) to authenticated;
