-- compose.sql: composition: {{> name}}, {{> name@label}}, {{> name@3}} include another text prompt of the same workspace.

-- promptd.prompt_compose_text(ws, text, max, stack, includes) -> the text
-- with every include replaced by the included version's content, itself
-- composed.  stack holds the names being composed, outermost first (a name
-- met again is a cycle; more than 5 nested includes is too deep: PW422).
-- includes gains {name, label|version asked, version used} per include
-- met.  PW413 when the result would exceed max bytes.  The caller has
-- checked that ws is the caller's.  At most 100 includes in all (PW422),
-- so that a composition's cost is bounded as well as its size.
create or replace function promptd.prompt_compose_text(p_ws uuid, p_text text, p_max integer,
                                                       p_stack text[], inout p_includes jsonb,
                                                       out p_result text)
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
declare
    re constant text := '\{\{>\s*([a-z0-9._/-]+)(?:@([a-z0-9][a-z0-9._-]*))?\s*\}\}';
    rest text := p_text;
    at integer;
    tag text;
    m text[];
    p public.prompts;
    v_version integer;
    v_content text;
    v_inner text;
begin
    p_result := '';
    loop
        at := regexp_instr(rest, re);
        exit when at = 0;
        tag := regexp_substr(rest, re);
        m := regexp_match(tag, re);
        if m[1] = any(p_stack) then
            raise exception 'The prompt includes itself: % -> %.', array_to_string(p_stack, ' -> '), m[1]
                using errcode = 'PW422';
        end if;
        if jsonb_array_length(p_includes) >= 100 then
            raise exception 'The prompt makes more than 100 includes.' using errcode = 'PW422';
        end if;
        if cardinality(p_stack) > 5 then
            raise exception 'Includes nest more than 5 deep: % -> %.', array_to_string(p_stack, ' -> '), m[1]
                using errcode = 'PW422';
        end if;
        select * into p from public.prompts x where x.workspace_id = p_ws and x.name = m[1];
        if p.id is null then
            raise exception 'The included prompt % does not exist in this workspace.', m[1]
                using errcode = 'PW422';
        end if;
        if p.type <> 'text' then
            raise exception 'The included prompt % is a chat prompt; only text prompts can be included.', m[1]
                using errcode = 'PW422';
        end if;
        if m[2] ~ '^[0-9]{1,9}$' then
            v_version := m[2]::integer;
        else
            select l.version into v_version from public.prompt_labels l
             where l.prompt_id = p.id and l.label = coalesce(m[2], 'production');
            if v_version is null then
                raise exception 'No version of the included prompt % has the label %.', m[1],
                    coalesce(m[2], 'production') using errcode = 'PW422';
            end if;
        end if;
        select v.content into v_content from public.prompt_versions v
         where v.prompt_id = p.id and v.version = v_version;
        if v_content is null then
            raise exception 'The included prompt % has no version %.', m[1], v_version
                using errcode = 'PW422';
        end if;
        p_includes := p_includes || jsonb_build_object('name', m[1], 'version', v_version,
            'label', case when m[2] is null then 'production'
                          when m[2] !~ '^[0-9]{1,9}$' then m[2] end);
        if strpos(v_content, '{{>') > 0 then
            select c.p_includes, c.p_result into p_includes, v_inner
              from promptd.prompt_compose_text(p_ws, v_content, p_max, p_stack || m[1], p_includes) c;
        else
            v_inner := v_content;
        end if;
        p_result := p_result || left(rest, at - 1) || v_inner;
        if octet_length(p_result) > p_max then
            raise exception 'The composed prompt would exceed % bytes (the render limit).', p_max
                using errcode = 'PW413';
        end if;
        rest := substr(rest, at + length(tag));
    end loop;
    p_result := p_result || rest;
    if octet_length(p_result) > p_max then
        raise exception 'The composed prompt would exceed % bytes (the render limit).', p_max
            using errcode = 'PW413';
    end if;
end
$function$;
revoke all on function promptd.prompt_compose_text(uuid,text,integer,text[],jsonb) from public, anon, authenticated, service_role, promptd_app, promptd_auth;

-- promptd.prompt_compose(ws, name, type, content, max) -> {content,
-- includes}: a version's content with its includes resolved (for a chat
-- prompt, in every message's content; content stays JSON text), and the
-- versions it used.  PW404 unless the caller is a member of ws; PW422 for
-- a cycle, a missing or chat include, more than 5 nested includes; PW413
-- past max bytes.  Content without "{{>" comes back as it is.
create or replace function promptd.prompt_compose(p_ws uuid, p_name text, p_type text, p_content text,
                                                  p_max integer)
 returns jsonb
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
declare
    v_includes jsonb := '[]';
    v_text text;
    v_msgs jsonb := '[]';
    m jsonb;
begin
    if strpos(p_content, '{{>') = 0 then
        return jsonb_build_object('content', p_content, 'includes', v_includes);
    end if;
    if promptd.workspace_role(p_ws) is null then
        raise exception 'No such prompt.' using errcode = 'PW404';
    end if;
    if p_type = 'text' then
        select c.p_includes, c.p_result into v_includes, v_text
          from promptd.prompt_compose_text(p_ws, p_content, p_max, array[p_name], v_includes) c;
        return jsonb_build_object('content', v_text, 'includes', v_includes);
    end if;
    for m in select * from jsonb_array_elements(p_content::jsonb) loop
        if jsonb_typeof(m->'content') = 'string' and strpos(m->>'content', '{{>') > 0 then
            select c.p_includes, c.p_result into v_includes, v_text
              from promptd.prompt_compose_text(p_ws, m->>'content', p_max, array[p_name], v_includes) c;
            m := jsonb_set(m, '{content}', to_jsonb(v_text));
        end if;
        v_msgs := v_msgs || jsonb_build_array(m);
    end loop;
    if octet_length(v_msgs::text) > p_max then
        raise exception 'The composed prompt would exceed % bytes (the render limit).', p_max
            using errcode = 'PW413';
    end if;
    return jsonb_build_object('content', v_msgs::text, 'includes', v_includes);
end
$function$;
revoke all on function promptd.prompt_compose(uuid,text,text,text,integer) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.prompt_compose(uuid,text,text,text,integer) to authenticated;
