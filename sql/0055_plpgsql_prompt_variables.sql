-- 0055_plpgsql_prompt_variables.sql: promptd.prompt_variables becomes plpgsql, whose statement keeps its plan in a session: as a SQL function with its own search_path PostgreSQL planned it at every prompt write (bench/README.md).  The current definition is in sql/functions/prompts.sql.

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
