-- langfuse.sql: the prompt part of Langfuse's public API (/api/public/v2/prompts) over promptd's prompts, versions and labels, in Langfuse's JSON shapes.

-- promptd.langfuse_prompt(ws, name, label, version, max) -> a Langfuse
-- Prompt: {id, name, version, type, prompt, config, labels, tags,
-- commitMessage, createdAt, updatedAt, createdBy, projectId, isActive,
-- resolutionGraph}.  The version as promptd.prompt_by_name picks it
-- (includes resolved); tags are the prompt's (in Langfuse they belong to
-- the prompt, not a version).  PW404 as prompt_by_name.
create or replace function promptd.langfuse_prompt(p_ws uuid, p_name text, p_label text, p_version integer,
                                                   p_max integer)
 returns jsonb
 language plpgsql
 stable
 set search_path to ''
as $function$
declare
    d jsonb := promptd.prompt_by_name(p_ws, p_name, p_label, p_version, p_max)::jsonb;
begin
    return jsonb_build_object('id', d->'id', 'name', d->'name', 'version', d->'version',
        'type', d->'type', 'prompt', d->'content', 'config', d->'config', 'labels', d->'labels',
        'tags', (select to_jsonb(p.tags) from public.prompts p where p.id = (d->>'id')::uuid),
        'commitMessage', d->'commit_message', 'createdAt', d->'created_at',
        'updatedAt', d->'created_at', 'createdBy', 'API', 'projectId', d->'workspace_id',
        'isActive', null, 'resolutionGraph', null);
end
$function$;
revoke all on function promptd.langfuse_prompt(uuid,text,text,integer,integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.langfuse_prompt(uuid,text,text,integer,integer) to authenticated;

-- promptd.langfuse_prompt_create(ws, name, type, content, config, labels,
-- tags, commit_message, max) -> the Langfuse Prompt made: the prompt
-- named, or a new version of it (its type must match: PW422).  A version
-- identical to the current one in content, config and tags is no new
-- version.  tags null keeps the prompt's.  labels are set on the version
-- (latest is promptd's and skipped; protected ones need admin: PW403).
-- Editors and above (PW403; PW404 for a non-member).
create or replace function promptd.langfuse_prompt_create(p_ws uuid, p_name text, p_type text, p_content text,
                                                          p_config jsonb, p_labels text[], p_tags text[],
                                                          p_commit_message text, p_max integer)
 returns jsonb
 language plpgsql
 set search_path to ''
as $function$
declare
    p public.prompts;
    l text;
begin
    perform promptd.workspace_need(p_ws, 'editor');
    select * into p from public.prompts x where x.workspace_id = p_ws and x.name = p_name for update;
    if p.id is null then
        insert into public.prompts (workspace_id, name, type, title, content, config, tags, commit_message)
        values (p_ws, p_name, p_type, p_name, p_content, coalesce(p_config, '{}'), coalesce(p_tags, '{}'),
                p_commit_message)
        returning * into p;
    elsif p.type <> p_type then
        raise exception 'The prompt % is of type %; a new version must be too.', p_name, p.type
            using errcode = 'PW422';
    else
        update public.prompts x set content = p_content, config = coalesce(p_config, '{}'),
               tags = coalesce(p_tags, x.tags), commit_message = p_commit_message
         where x.id = p.id returning * into p;
    end if;
    foreach l in array coalesce(p_labels, '{}') loop
        if l <> 'latest' then
            perform promptd.prompt_label_set(p.id, l, p.version, 'Langfuse API');
        end if;
    end loop;
    return promptd.langfuse_prompt(p_ws, p_name, null, p.version, p_max);
end
$function$;
revoke all on function promptd.langfuse_prompt_create(uuid,text,text,text,jsonb,text[],text[],text,integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.langfuse_prompt_create(uuid,text,text,text,jsonb,text[],text[],text,integer) to authenticated;

-- promptd.langfuse_prompt_id(ws, name) -> the id of the prompt named in ws;
-- PW404 when there is none the caller may see.
create or replace function promptd.langfuse_prompt_id(p_ws uuid, p_name text)
 returns uuid
 language plpgsql
 stable
 set search_path to ''
as $function$
declare
    v_id uuid;
begin
    select x.id into v_id from public.prompts x where x.workspace_id = p_ws and x.name = p_name;
    if v_id is null then
        raise exception 'No prompt is named %.', p_name using errcode = 'PW404';
    end if;
    return v_id;
end
$function$;
revoke all on function promptd.langfuse_prompt_id(uuid,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.langfuse_prompt_id(uuid,text) to authenticated;

-- promptd.langfuse_prompt_labels(ws, name, version, labels, max) -> the
-- Langfuse Prompt at version after each label is set on it (moved from
-- where it was).  latest: PW422; PW404 for an unknown name or version.
create or replace function promptd.langfuse_prompt_labels(p_ws uuid, p_name text, p_version integer,
                                                          p_labels text[], p_max integer)
 returns jsonb
 language plpgsql
 set search_path to ''
as $function$
declare
    v_id uuid := promptd.langfuse_prompt_id(p_ws, p_name);
    l text;
begin
    foreach l in array coalesce(p_labels, '{}') loop
        perform promptd.prompt_label_set(v_id, l, p_version, 'Langfuse API');
    end loop;
    return promptd.langfuse_prompt(p_ws, p_name, null, p_version, p_max);
end
$function$;
revoke all on function promptd.langfuse_prompt_labels(uuid,text,integer,text[],integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.langfuse_prompt_labels(uuid,text,integer,text[],integer) to authenticated;

-- promptd.langfuse_prompt_delete(ws, name, version, label): the prompt
-- (neither given), one version, or the version the label is on (PW404 when
-- none is); admins and owners (PW403).
create or replace function promptd.langfuse_prompt_delete(p_ws uuid, p_name text, p_version integer, p_label text)
 returns void
 language plpgsql
 set search_path to ''
as $function$
declare
    v_id uuid := promptd.langfuse_prompt_id(p_ws, p_name);
    v_version integer := p_version;
begin
    if p_version is null and p_label is null then
        perform promptd.workspace_need(p_ws, 'admin');
        delete from public.prompts x where x.id = v_id;
        return;
    end if;
    if v_version is null then
        select l.version into v_version from public.prompt_labels l where l.prompt_id = v_id and l.label = p_label;
        if v_version is null then
            raise exception 'No version of % has the label %.', p_name, p_label using errcode = 'PW404';
        end if;
    end if;
    perform promptd.prompt_version_delete(v_id, v_version);
end
$function$;
revoke all on function promptd.langfuse_prompt_delete(uuid,text,integer,text) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.langfuse_prompt_delete(uuid,text,integer,text) to authenticated;

-- promptd.langfuse_prompt_list(ws, name, label, tag, page, limit, from,
-- to) -> {data: [{name, type, versions, labels, tags, lastUpdatedAt,
-- lastConfig}], meta: {page, limit, totalItems, totalPages}}: the
-- workspace's prompts by name, filtered (a label some version carries, a
-- tag, updated in [from, to)), page 1 first.
create or replace function promptd.langfuse_prompt_list(p_ws uuid, p_name text, p_label text, p_tag text,
                                                        p_page integer, p_limit integer,
                                                        p_from timestamptz, p_to timestamptz)
 returns jsonb
 language plpgsql
 stable
 set search_path to ''
as $function$
declare
    v_total integer;
    v_data jsonb;
begin
    perform promptd.workspace_need(p_ws, 'viewer');
    with f as (select p.* from public.prompts p
                where p.workspace_id = p_ws and (p_name is null or p.name = p_name)
                  and (p_tag is null or p.tags @> array[p_tag])
                  and (p_label is null or exists (select 1 from public.prompt_labels l
                                                   where l.prompt_id = p.id and l.label = p_label))
                  and (p_from is null or p.updated_at >= p_from) and (p_to is null or p.updated_at < p_to))
    select (select count(*) from f),
           (select coalesce(jsonb_agg(jsonb_build_object('name', g.name, 'type', g.type,
                'versions', (select jsonb_agg(v.version order by v.version) from public.prompt_versions v
                              where v.prompt_id = g.id),
                'labels', (select coalesce(jsonb_agg(distinct l.label), '[]'::jsonb) from public.prompt_labels l
                            where l.prompt_id = g.id),
                'tags', to_jsonb(g.tags), 'lastUpdatedAt', g.updated_at, 'lastConfig', g.config)
                order by g.name), '[]'::jsonb)
              from (select * from f order by f.name limit p_limit offset (p_page - 1) * p_limit) g)
      into v_total, v_data;
    return jsonb_build_object('data', v_data, 'meta', jsonb_build_object('page', p_page, 'limit', p_limit,
        'totalItems', v_total, 'totalPages', (v_total + p_limit - 1) / p_limit));
end
$function$;
revoke all on function promptd.langfuse_prompt_list(uuid,text,text,text,integer,integer,timestamptz,timestamptz) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.langfuse_prompt_list(uuid,text,text,text,integer,integer,timestamptz,timestamptz) to authenticated;
