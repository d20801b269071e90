-- 0035_prompt_diff.sql: the fields that changed between two versions of a prompt, for GET /api/v1/prompts/{id}/diff.

-- promptd.prompt_version_changes(a, b) -> [{field, change, from, to}]: the
-- fields of version b that differ from version a, in a fixed order: title,
-- tags, folder, commit_message, then config and metadata key by key
-- ("config.temperature").  change is added (absent in a), removed (absent
-- in b) or modified.  The content is not compared here.
create or replace function promptd.prompt_version_changes(p_a public.prompt_versions, p_b public.prompt_versions)
 returns jsonb
 language sql
 immutable
 set search_path to ''
as $function$
    select coalesce(jsonb_agg(jsonb_build_object('field', f.field,
               'change', case when f.old is null then 'added' when f.new is null then 'removed'
                              else 'modified' end,
               'from', f.old, 'to', f.new) order by f.ord, f.field), '[]'::jsonb)
      from (select 1 as ord, 'title' as field, to_jsonb(p_a.title) as old, to_jsonb(p_b.title) as new
            union all select 2, 'tags', to_jsonb(p_a.tags), to_jsonb(p_b.tags)
            union all select 3, 'folder', to_jsonb(p_a.folder), to_jsonb(p_b.folder)
            union all select 4, 'commit_message', to_jsonb(p_a.commit_message), to_jsonb(p_b.commit_message)
            union all select 5, 'config.' || k, p_a.config -> k, p_b.config -> k
                        from jsonb_object_keys(p_a.config || p_b.config) k
            union all select 6, 'metadata.' || k, p_a.metadata -> k, p_b.metadata -> k
                        from jsonb_object_keys(p_a.metadata || p_b.metadata) k) f
     where f.old is distinct from f.new
$function$;
revoke all on function promptd.prompt_version_changes(public.prompt_versions,public.prompt_versions) from public, anon, authenticated, service_role, promptd_app, promptd_auth;
grant execute on function promptd.prompt_version_changes(public.prompt_versions,public.prompt_versions) to authenticated;
