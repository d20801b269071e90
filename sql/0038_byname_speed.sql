-- 0038_byname_speed.sql: the fetch by name in one statement; personal_workspace and default_workspace in PL/pgSQL (PostgreSQL plans a SQL function with SET search_path again at every call; PL/pgSQL keeps its plans for the session).

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

-- promptd.prompt_by_name(workspace, name, label, version, max) -> the
-- prompt as an application fetches it: the version named (version), or the
-- one the label points to (label; neither: production), with its labels,
-- its includes resolved (content; includes: the versions used, see
-- promptd.prompt_compose).  PW404 when the workspace is not the caller's,
-- the name unknown, or no version carries the label.
create or replace function promptd.prompt_by_name(p_ws uuid, p_name text, p_label text, p_version integer,
                                                  p_max integer)
 returns jsonb
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
declare
    r jsonb;
    v_id uuid;
begin
    -- the answer in one statement; the lookups again only to say what is missing
    select jsonb_build_object('id', p.id, 'workspace_id', p.workspace_id, 'name', p.name,
               'type', p.type, 'version', v.version, 'title', v.title,
               'content', case when p.type = 'chat' then (c.j->>'content')::jsonb else c.j->'content' end,
               'includes', c.j->'includes',
               'config', v.config, 'tags', v.tags, 'variables', v.variables,
               'commit_message', v.commit_message, 'created_at', v.created_at,
               'labels', (select coalesce(jsonb_agg(l.label order by l.label), '[]'::jsonb)
                            from public.prompt_labels l where l.prompt_id = p.id and l.version = v.version))
      into r
      from public.prompts p
      join public.prompt_versions v on v.prompt_id = p.id
       and v.version = coalesce(p_version, (select l.version from public.prompt_labels l
                                             where l.prompt_id = p.id and l.label = coalesce(p_label, 'production')))
      cross join lateral (select case when strpos(v.content, '{{>') = 0
                                      then jsonb_build_object('content', v.content, 'includes', '[]'::jsonb)
                                      else promptd.prompt_compose(p.workspace_id, p.name, p.type, v.content, p_max)
                                 end as j) c
     where p.workspace_id = p_ws and p.name = p_name and promptd.workspace_role(p_ws) is not null;
    if r is not null then
        return r;
    end if;
    if promptd.workspace_role(p_ws) is null then
        raise exception 'No such prompt.' using errcode = 'PW404';
    end if;
    select x.id into v_id from public.prompts x where x.workspace_id = p_ws and x.name = p_name;
    if v_id is null then
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
