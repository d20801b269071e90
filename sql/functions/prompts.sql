-- prompts.sql: prompts and their versions: variables, write triggers, immutability; policies.
--
-- The one current definition of each; promptctl migrate re-applies this
-- file after the numbered migrations, every run: edit here, never in
-- sql/NNNN_*.sql (see README, "promptctl").

-- promptd.prompt_variables(content): distinct {{ name }} placeholders in
-- first-appearance order.
CREATE OR REPLACE FUNCTION promptd.prompt_variables(p_content text)
 RETURNS text[]
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE STRICT
 SET search_path TO ''
AS $function$
    select coalesce(array_agg(v.name order by v.first_at), '{}'::text[])
    from (
        select m.match[1] as name, min(m.ord) as first_at
        from pg_catalog.regexp_matches(
                 p_content,
                 '\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}', 'g')
             with ordinality as m(match, ord)
        group by m.match[1]
    ) v
$function$;
revoke all on function promptd.prompt_variables(text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.prompt_variables(text) to public, anon, authenticated, service_role;

-- BEFORE INSERT OR UPDATE: derive variables; an insert starts at version 1;
-- an update that changes title/content/tags/metadata/folder bumps version
-- and updated_at, any other update keeps both.
CREATE OR REPLACE FUNCTION promptd.prompts_before_write()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
    if tg_op = 'INSERT' then
        new.version := 1;
        new.variables := promptd.prompt_variables(new.content);
        return new;
    end if;
    if new.content is distinct from old.content then
        new.variables := promptd.prompt_variables(new.content);
    else
        new.variables := old.variables;
    end if;
    new.created_at := old.created_at;
    if (new.title, new.content, new.tags, new.metadata, new.folder)
       is distinct from (old.title, old.content, old.tags, old.metadata, old.folder) then
        new.version := old.version + 1;
        new.updated_at := now();
    else
        new.version := old.version;
        new.updated_at := old.updated_at;
    end if;
    return new;
end
$function$;
revoke all on function promptd.prompts_before_write() from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- AFTER INSERT / AFTER UPDATE (when version changed): record the new state.
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
         folder, variables, created_at)
    values
        (new.id, new.version, new.user_id, new.title, new.content, new.tags,
         new.metadata, new.folder, new.variables, now());
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
