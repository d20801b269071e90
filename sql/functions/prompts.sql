-- prompts.sql: prompts and their versions: variables, write triggers, immutability; policies.
--
-- The one current definition of each; promptctl migrate re-applies this
-- file after the numbered migrations, every run: edit here, never in
-- sql/NNNN_*.sql (see README, "promptctl").

-- promptd.prompt_variables(content): distinct {{ name }} placeholders in
-- first-appearance order.  plpgsql (0055): every prompt write's trigger
-- calls it, and PostgreSQL plans a SQL function that it cannot inline (one
-- with its own search_path) at every call.
CREATE OR REPLACE FUNCTION promptd.prompt_variables(p_content text)
 RETURNS text[]
 LANGUAGE plpgsql
 IMMUTABLE PARALLEL SAFE STRICT
 SET search_path TO ''
AS $function$
begin
    return (select coalesce(array_agg(v.name order by v.first_at), '{}'::text[])
              from (select m.match[1] as name, min(m.ord) as first_at
                      from pg_catalog.regexp_matches(
                               p_content,
                               '\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}', 'g')
                           with ordinality as m(match, ord)
                     group by m.match[1]) v);
end
$function$;
revoke all on function promptd.prompt_variables(text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.prompt_variables(text) to public, anon, authenticated, service_role;

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
-- The name test is planned at each call (EXECUTE), from the table's size
-- then: a plan kept by the session would be the one made when the table
-- was small (a scan of every prompt), and a statement inserting many
-- prompts without names would scan the table once per row.
create or replace function promptd.prompt_name_free(p_ws uuid, p_title text, p_id uuid)
 returns text
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
declare
    v_base  text := left(coalesce(nullif(btrim(regexp_replace(lower(coalesce(p_title, '')),
                         '[^a-z0-9_-]+', '-', 'g'), '-.'), ''), 'prompt'), 180);
    v_name  text := v_base;
    v_taken boolean;
    i int := 1;
begin
    if auth.uid() is not null and promptd.workspace_role(p_ws) is null then
        raise exception 'No such workspace.' using errcode = 'PW404';
    end if;
    loop
        execute 'select exists (select 1 from public.prompts p where p.workspace_id = $1 '
                'and p.name = $2 and p.id is distinct from $3)'
           into v_taken using p_ws, v_name, p_id;
        exit when not v_taken;
        i := i + 1;
        v_name := v_base || '-' || i;
    end loop;
    return v_name;
end
$function$;
revoke all on function promptd.prompt_name_free(uuid,text,uuid) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.prompt_name_free(uuid,text,uuid) to authenticated, service_role;

-- BEFORE INSERT OR UPDATE: derive variables and (when none is given) the
-- name; an insert starts at version 1; an update that changes title,
-- content, tags, metadata, folder or config bumps version and updated_at
-- and keeps its commit_message, any other update keeps all three.  The
-- type is fixed at creation (22023).  While promptd.rewind is on (set by
-- promptd.prompt_version_delete for its own update) the row takes the
-- older version it is given as it is.
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
    if current_setting('promptd.rewind', true) = 'on' then
        -- promptd.prompt_version_delete puts back an older, recorded version
        new.variables := promptd.prompt_variables(new.content);
        return new;
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
-- and move the label latest to it (with its history row); nothing while
-- promptd.rewind is on.
-- SECURITY DEFINER: the history is written whatever the caller may do.
CREATE OR REPLACE FUNCTION promptd.prompts_record_version()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    if tg_op = 'UPDATE' and current_setting('promptd.rewind', true) = 'on' then
        return null;   -- an older version put back: recorded already
    end if;
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

-- History is append-only.
CREATE OR REPLACE FUNCTION promptd.prompt_versions_immutable()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
    raise exception 'prompt_versions rows are immutable'
        using errcode = 'restrict_violation';
end
$function$;
revoke all on function promptd.prompt_versions_immutable() from public, anon, authenticated, service_role, promptd_app, promptd_auth;

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

-- promptd.prompt_version_delete(prompt, version) -> the prompt's version
-- now (null: the prompt is gone).  Admins and owners (PW403; PW404 for a
-- non-member or no such prompt or version).  The labels on the version go
-- with it (each removal in its history); deleting the newest version puts
-- the prompt back to the newest left, and latest with it; deleting the only
-- one deletes the prompt.  Audited prompt.version.delete.
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
