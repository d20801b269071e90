-- 0038_byname_speed.sql: the fetch by name in one statement, membership joined in, answering json; personal_workspace and default_workspace in PL/pgSQL (PostgreSQL plans a SQL function with SET search_path again at every call; PL/pgSQL keeps its plans for the session).

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

drop function promptd.prompt_by_name(uuid,text,text,integer,integer);
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
