-- 0047_prompt_name_free.sql: promptd.prompt_name_free plans its name test at each call, so that one statement inserting many prompts without names no longer scans the whole prompts table once per row (a plan the session kept from when the table was small).

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
